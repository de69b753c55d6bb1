"""Bridged messages on a signing node: verified, translated, then signed by the node."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ocn_core import signing
from tests.support.node import RunningNode, running_node
from tests.support.parties import PartyServer

CPO23, MSP21 = ("NL", "C23"), ("DE", "M21")
TARIFF_23 = {
    "id": "T1",
    "currency": "EUR",
    "min_price": {"before_taxes": 0.5, "after_taxes": 0.55},
    "elements": [{"price_components": [{"type": "ENERGY", "price": 0.25, "step_size": 1}]}],
    "tax_included": "NO",
    "last_updated": "2026-01-01T00:00:00Z",
}


@pytest.fixture
async def signed(
    tmp_path: Path, core_mode: str
) -> AsyncIterator[tuple[RunningNode, PartyServer, PartyServer, bytes]]:
    cpo_key, msp_key = secrets.token_bytes(32), secrets.token_bytes(32)
    cpo = await PartyServer([("CPO", *CPO23)], version="2.3.0", key=cpo_key).start()
    msp = await PartyServer([("EMSP", *MSP21)], version="2.2.1", key=msp_key).start()
    try:
        async with running_node(tmp_path, core_mode, signatures=True) as node:
            for party, key in ((cpo, cpo_key), (msp, msp_key)):
                role, cc, pid = party.roles[0]
                party_json = {"country_code": cc, "party_id": pid, "roles": [role]}
                party_json["address"] = signing.address_of(key)
                status, body = await node.admin("POST", "/admin/registry/parties", party_json)
                assert status == 200, body
                await node.register(party, listed=True)
            yield node, cpo, msp, cpo_key
    finally:
        await cpo.stop()
        await msp.stop()


async def test_bridged_request_is_verified_then_signed_by_the_node(
    signed: tuple[RunningNode, PartyServer, PartyServer, bytes],
) -> None:
    node, cpo, msp, cpo_key = signed
    headers = cpo.routing_headers(to=MSP21)
    values = signing.request_values({k.lower(): v for k, v in headers.items()}, None, TARIFF_23)
    headers["OCN-Signature"] = signing.sign(values, cpo_key).serialize()
    headers["Content-Type"] = "application/json"
    msp.answer("PUT", "/ocpi/2.2.1/receiver/tariffs/NL/C23/T1", {"echo": True})
    status, answer = await _put_tariff(node, headers)
    assert (status, answer["status_code"]) == (200, 1000), answer
    got = msp.received[-1]
    body: dict[str, Any] = json.loads(got.body)
    assert body["min_price"] == {"excl_vat": 0.5, "incl_vat": 0.55}
    forwarded = signing.Notary.deserialize(got.headers["OCN-Signature"])
    lowered = {k.lower(): v for k, v in got.headers.items()}
    forwarded.verify(signing.request_values(lowered, None, body))
    assert forwarded.signatory == node.engine.ctx.node_address
    assert forwarded.rewrites == []  # a structural change: no value rewrite can restore it
    # a forged sender signature is refused before anything is translated or forwarded
    sent = len(msp.received)
    headers["OCN-Signature"] = signing.sign(values, secrets.token_bytes(32)).serialize()
    status, answer = await _put_tariff(node, headers)
    assert (status, answer["status_code"]) == (400, 2001)
    assert len(msp.received) == sent


async def test_bridged_answer_is_verified_then_signed_by_the_node(
    signed: tuple[RunningNode, PartyServer, PartyServer, bytes],
) -> None:
    node, cpo, msp, _ = signed
    tariff_21 = {**TARIFF_23, "min_price": {"excl_vat": 0.5, "incl_vat": 0.55}}
    del tariff_21["tax_included"]
    cpo.answer("GET", "/ocpi/2.3.0/sender/tariffs/NL/C23/T1", TARIFF_23)
    msp_key = msp.key
    assert msp_key is not None
    headers = msp.routing_headers(to=CPO23)
    values = signing.request_values({k.lower(): v for k, v in headers.items()}, None, None)
    headers["OCN-Signature"] = signing.sign(values, msp_key).serialize()
    async with (
        aiohttp.ClientSession() as http,
        http.get(node.url + "/ocpi/sender/2.2.1/tariffs/NL/C23/T1", headers=headers) as r,
    ):
        answer, got_headers = await r.json(), dict(r.headers)
    assert answer["status_code"] == 1000, answer
    assert answer["data"] == tariff_21
    notary = signing.Notary.deserialize(answer["ocn_signature"])
    notary.verify(signing.response_values({k.lower(): v for k, v in got_headers.items()}, answer))
    assert notary.signatory == node.engine.ctx.node_address
    # an answer whose signature does not verify is not translated and not passed
    cpo.key = secrets.token_bytes(32)
    headers["X-Request-ID"] = "second"
    async with (
        aiohttp.ClientSession() as http,
        http.get(node.url + "/ocpi/sender/2.2.1/tariffs/NL/C23/T1", headers=headers) as r,
    ):
        refused = await r.json()
    assert refused["status_code"] == 3000
    assert "data" not in refused


async def _put_tariff(node: RunningNode, headers: dict[str, str]) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.put(
            node.url + "/ocpi/receiver/2.3.0/tariffs/NL/C23/T1",
            headers=headers,
            data=json.dumps(TARIFF_23).encode(),
        ) as r,
    ):
        return r.status, await r.json()
