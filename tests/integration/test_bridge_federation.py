"""Issue 17 across nodes: parties on different OCPI versions on two federated nodes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.federation import CPO, MSP, Federation, two_nodes

TARIFF_23 = {
    "country_code": "CH",
    "party_id": "CPB",
    "id": "T1",
    "currency": "CHF",
    "min_price": {"before_taxes": 0.5, "after_taxes": 0.55},
    "elements": [{"price_components": [{"type": "ENERGY", "price": 0.25, "step_size": 1}]}],
    "tax_included": "NO",
    "last_updated": "2026-01-01T00:00:00Z",
}
TARIFF_21 = {
    **{k: v for k, v in TARIFF_23.items() if k != "tax_included"},
    "min_price": {"excl_vat": 0.5, "incl_vat": 0.55},
}


@pytest.fixture
async def fed(tmp_path: Path) -> AsyncIterator[Federation]:
    async with two_nodes(
        tmp_path, versions=("2.2.1", "2.3.0")
    ) as f:  # eMSP 2.2.1 on A, CPO 2.3.0 on B
        yield f


async def test_a_push_and_a_read_cross_nodes_and_versions(fed: Federation) -> None:
    path = "/ocpi/receiver/2.3.0/tariffs/CH/CPB/T1"
    status, answer, _ = await fed.call(fed.cpo, fed.b, "PUT", path, MSP, TARIFF_23)
    assert (status, answer["status_code"]) == (200, 1000), answer
    got = fed.msp.received[-1]  # node A translated for its 2.2.1 eMSP
    assert got.path == "/ocpi/2.2.1/receiver/tariffs/CH/CPB/T1"
    assert json.loads(got.body) == TARIFF_21
    # the answer to a read from the 2.2.1 eMSP is translated by the eMSP's node (A)
    fed.cpo.answer("GET", "/ocpi/2.3.0/sender/tariffs/CH/CPB/T1", TARIFF_23)
    status, answer, _ = await fed.call(
        fed.msp, fed.a, "GET", "/ocpi/sender/2.2.1/tariffs/CH/CPB/T1", CPO
    )
    assert (status, answer["status_code"]) == (200, 1000), answer
    assert answer["data"] == TARIFF_21


async def test_a_221_push_reaches_the_230_cpo_and_same_shapes_pass_untouched(
    fed: Federation,
) -> None:
    session = {"id": "S1", "total_cost": {"excl_vat": 8.5, "incl_vat": 9.35}}
    path = "/ocpi/sender/2.2.1/sessions/S1/charging_preferences"
    status, answer, _ = await fed.call(fed.msp, fed.a, "PUT", path, CPO, {"profile_type": "FAST"})
    assert (status, answer["status_code"]) == (200, 1000), answer
    assert json.loads(fed.cpo.received[-1].body) == {"profile_type": "FAST"}
    fed.cpo.answer("GET", "/ocpi/2.3.0/sender/sessions", [
        {"id": "S1", "total_cost": {"before_taxes": 8.5, "taxes": [{"name": "VAT", "amount": 0.85}]}}
    ])  # fmt: skip
    status, answer, _ = await fed.call(fed.msp, fed.a, "GET", "/ocpi/sender/2.2.1/sessions", CPO)
    assert (status, answer["status_code"]) == (200, 1000), answer
    assert answer["data"] == [session]


async def test_an_optional_230_module_crosses_nodes(tmp_path: Path) -> None:
    async with two_nodes(tmp_path, versions=("2.3.0", "2.3.0")) as fed:
        path = "/ocpi/sender/2.3.0/payments/terminals/T1"
        status, answer, _ = await fed.call(fed.msp, fed.a, "GET", path, CPO)
        assert (status, answer["status_code"]) == (200, 1000), answer
        got = fed.cpo.received[-1]
        assert got.path == "/ocpi/2.3.0/sender/payments/terminals/T1"
