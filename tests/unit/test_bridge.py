"""The version bridge: golden cases from the OCPI spec's examples and properties (hypothesis).

Golden pairs are the spec repository's examples (``ocpi/ocpi``, ``examples/*.json``) at tag
``v2.2.1-d2`` and ``v2.3.0``, transcribed with the members the bridge reads; where the two tags
changed unrelated values (dates) both sides use the 2.3.0 value.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ocn_core import bridge, telemetry
from ocn_core.bridge import Refused
from ocn_core.bridge.notes import Notes
from ocn_core.bridge.objects import (
    cdr_down,
    cdr_up,
    session_down,
    session_up,
    tariff_down,
    tariff_up,
)
from ocn_core.bridge.price import price_down, price_up

OLD, NEW = "2.2.1", "2.3.0"

# --- golden cases ------------------------------------------------------------------------------

SESSION_PATCH_TOTAL_COST = (  # session_patch_example_total_cost.json
    {"total_cost": {"excl_vat": 0.60, "incl_vat": 0.66}, "last_updated": "2019-06-23T08:11:00Z"},
    {
        "total_cost": {"before_taxes": 0.60, "taxes": [{"name": "VAT", "amount": 0.06}]},
        "last_updated": "2019-06-23T08:11:00Z",
    },
)
SESSION_SHORT_FINISHED = (  # session_example_2_short_finished.json (cost part)
    {
        "id": "101",
        "kwh": 15.342,
        "currency": "EUR",
        "total_cost": {"excl_vat": 8.50, "incl_vat": 9.35},
        "status": "COMPLETED",
        "last_updated": "2015-06-29T23:50:17Z",
    },
    {
        "id": "101",
        "kwh": 15.342,
        "currency": "EUR",
        "total_cost": {"before_taxes": 8.50, "taxes": [{"name": "VAT", "amount": 0.85}]},
        "status": "COMPLETED",
        "last_updated": "2015-06-29T23:50:17Z",
    },
)


def _tariff(version: str, **prices: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"country_code": "DE", "party_id": "ALL", "id": "20", "currency": "EUR"}
    body.update(prices)
    body["elements"] = [
        {"price_components": [{"type": "ENERGY", "price": 0.25, "vat": 10.0, "step_size": 1}]}
    ]
    if version == NEW:
        body["tax_included"] = "NO"
    body["last_updated"] = "2018-12-17T16:45:21Z"
    return body


TARIFF_MIN_PRICE = (  # tariff_12_025kwh_min_price.json
    _tariff(OLD, min_price={"excl_vat": 0.50, "incl_vat": 0.55}),
    _tariff(NEW, min_price={"before_taxes": 0.50, "after_taxes": 0.55}),
)
TARIFF_MAX_PRICE = (  # tariff_6_025kwh_start_max_price.json (price part)
    _tariff(OLD, max_price={"excl_vat": 10.00, "incl_vat": 11.00}),
    _tariff(NEW, max_price={"before_taxes": 10.00, "after_taxes": 11.00}),
)
FREE = {"type": "FLAT", "price": 0.00, "step_size": 0}
TARIFF_FREE = (  # tariff_5_free_of_charge.json: no vat at all, still "NO" in 2.3.0
    {
        "id": "15",
        "currency": "EUR",
        "elements": [{"price_components": [FREE]}],
        "last_updated": "x",
    },
    {
        "id": "15",
        "currency": "EUR",
        "elements": [{"price_components": [FREE]}],
        "tax_included": "NO",
        "last_updated": "x",
    },
)
NORTH_AMERICAN = {  # tariff_19 (NO) / tariff_20 (YES) simple_north_american_*.json
    "country_code": "CA",
    "party_id": "FLO",
    "id": "12",
    "currency": "CAD",
    "elements": [{"price_components": [{"type": "TIME", "price": 2.10, "step_size": 1}]}],
    "tax_included": "YES",
    "last_updated": "2024-12-05T18:30:14Z",
}


def _cdr(version: str) -> dict[str, Any]:
    """cdr_example.json: 2.2.1-d2 and 2.3.0 differ in the two cost Prices (and in dates)."""
    cost: dict[str, Any] = (
        {"excl_vat": 4.00, "incl_vat": 4.40}
        if version == OLD
        else {"before_taxes": 4.00, "taxes": [{"name": "VAT", "amount": 0.40}]}
    )
    return {
        "country_code": "BE",
        "party_id": "BEC",
        "id": "12345",
        "start_date_time": "2024-12-05T17:39:09Z",
        "cdr_token": {"country_code": "DE", "party_id": "TNM", "uid": "012345678", "type": "RFID"},
        "currency": "EUR",
        "tariffs": [
            {
                "country_code": "BE",
                "party_id": "BEC",
                "id": "12",
                "currency": "EUR",
                "elements": [
                    {
                        "price_components": [
                            {"type": "TIME", "price": 2.00, "vat": 10.0, "step_size": 300}
                        ]
                    }
                ],
                "last_updated": "2024-05-02T14:15:01Z",
            }
        ],
        "total_cost": dict(cost),
        "total_energy": 15.342,
        "total_time": 1.973,
        "total_time_cost": dict(cost),
        "last_updated": "2024-12-05T20:02:13Z",
    }


GOLDEN = [
    ("sessions", *SESSION_PATCH_TOTAL_COST),
    ("sessions", *SESSION_SHORT_FINISHED),
    ("tariffs", *TARIFF_MIN_PRICE),
    ("tariffs", *TARIFF_MAX_PRICE),
    ("tariffs", *TARIFF_FREE),
]


@pytest.mark.parametrize(("module", "old", "new"), GOLDEN)
def test_spec_examples_translate_both_ways(module: str, old: Any, new: Any) -> None:
    up, notes = bridge.translate_object(module, old, OLD, NEW)
    assert orjson.dumps(up) == orjson.dumps(new)  # same members, same order, same values
    assert notes.changes
    assert not notes.losses
    down, notes = bridge.translate_object(module, new, NEW, OLD)
    assert orjson.dumps(down) == orjson.dumps(old)
    assert not notes.losses


def test_spec_cdr_example_both_ways() -> None:
    up, _ = bridge.translate_object("cdrs", _cdr(OLD), OLD, NEW)
    expected = _cdr(NEW)
    # the 2.3.0 example omits tax_included in its embedded Tariff although it is required:
    # the bridge writes the spec-valid "NO", as for a standalone 2.2.1 Tariff
    expected["tariffs"][0] = tariff_up(expected["tariffs"][0], Notes("t"))
    assert up == expected
    assert up["tariffs"][0]["tax_included"] == "NO"
    down, notes = bridge.translate_object("cdrs", _cdr(NEW), NEW, OLD)
    assert down == _cdr(OLD)
    assert notes.losses == ["cdr.tariffs[0].tax_included: absent: prices passed on as excl. VAT"]


def test_tax_included_yes_without_vat_is_refused_with_2001() -> None:
    with pytest.raises(Refused) as caught:
        bridge.translate_object("tariffs", NORTH_AMERICAN, NEW, OLD)
    assert caught.value.ocpi_status == 2001
    assert caught.value.http_status == 400
    assert "tax_included YES without a vat percentage" in caught.value.message
    # the same tariff exclusive of tax ("NO", tariff_19) passes with its prices
    exclusive = {**NORTH_AMERICAN, "tax_included": "NO"}
    down, _ = bridge.translate_object("tariffs", exclusive, NEW, OLD)
    assert "tax_included" not in down
    assert down["elements"] == exclusive["elements"]


def test_tax_included_yes_with_vat_is_made_net() -> None:
    gross = copy.deepcopy(TARIFF_MIN_PRICE[1])
    gross["tax_included"] = "YES"
    gross["elements"][0]["price_components"][0]["price"] = 0.275  # 0.25 + 10 %
    down, notes = bridge.translate_object("tariffs", gross, NEW, OLD)
    assert down["elements"][0]["price_components"][0]["price"] == 0.25
    assert "tariff.elements[0].price_components[0].price" in notes.changes


def test_taxes_other_than_vat_are_summed_and_the_loss_recorded() -> None:
    price = {
        "before_taxes": 10.0,
        "taxes": [
            {"name": "GST", "percentage": 5.0, "amount": 0.5},
            {"name": "QST", "account_number": "1234", "amount": 0.9975},
        ],
    }
    notes = Notes("2.3.0>2.2.1")
    assert price_down(price, notes, "p") == {"excl_vat": 10.0, "incl_vat": 11.4975}
    assert len(notes.losses) == 2
    assert "GST" in notes.losses[0]
    assert "QST" in notes.losses[1]
    before = bridge.counts().get("lost sessions response 2.3.0>2.2.1", 0)
    envelope = orjson.dumps({"status_code": 1000, "data": [{"total_cost": price}]})
    out = orjson.loads(bridge.response_body("sessions", envelope, NEW, OLD))
    assert out["data"][0]["total_cost"]["incl_vat"] == 11.4975
    assert bridge.counts()["lost sessions response 2.3.0>2.2.1"] == before + 2


def test_translations_losses_and_refusals_are_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = telemetry.Recorder()
    monkeypatch.setattr(telemetry, "RECORDER", recorder)
    price = {"before_taxes": 1.0, "taxes": [{"name": "GST", "amount": 0.05}]}
    bridge.request_body("sessions", orjson.dumps({"total_cost": price}), NEW, OLD)
    with pytest.raises(Refused):
        bridge.request_body("tariffs", orjson.dumps(NORTH_AMERICAN), NEW, OLD)
    labels = ("2.3.0>2.2.1",)
    assert recorder.counts == {
        ("bridged", ("sessions", "request", *labels, "translated")): 1,
        ("bridged", ("sessions", "request", *labels, "lost")): 1,
        ("bridged", ("tariffs", "request", *labels, "refused")): 1,
    }


@pytest.mark.parametrize(
    ("module", "body", "why"),
    [
        ("sessions", {"total_cost": {"incl_vat": 1.0}}, "total_cost.excl_vat must be a number"),
        ("sessions", {"total_cost": "12 EUR"}, "total_cost must be a Price object"),
        ("cdrs", {"tariffs": {"id": "1"}}, "cdr.tariffs must be a list of Tariff"),
        ("tariffs", ["not", "an", "object"], "tariff must be a JSON object"),
    ],
)
def test_malformed_prices_are_refused(module: str, body: Any, why: str) -> None:
    with pytest.raises(Refused, match=why):
        bridge.request_body(module, orjson.dumps(body), OLD, NEW)


def test_only_differing_modules_and_version_families_are_bridged() -> None:
    assert bridge.needed("tariffs", "2.2.1", "2.3.0")
    assert bridge.needed("cdrs", "2.3.0", "2.2")
    assert not bridge.needed("tariffs", "2.2", "2.2.1")  # the same objects
    assert not bridge.needed("tariffs", "2.3.0", "2.3.0")
    assert not bridge.needed("locations", "2.2.1", "2.3.0")  # 2.3.0 only adds members there
    assert not bridge.needed("tariffs", "2.3.0", "")  # an unknown receiver: never guessed
    assert bridge.needed("tariffs", "", "2.3.0")  # another node's party: by shape


def test_untouched_messages_keep_their_bytes() -> None:
    raw = b'{ "id": "1",  "kwh": 1.50, "status": "ACTIVE" }'  # nothing to translate
    assert bridge.request_body("sessions", raw, OLD, NEW) is raw
    failed = b'{"status_code": 2003, "status_message": "Unknown"}'
    assert bridge.response_body("sessions", failed, NEW, OLD) is failed
    broken = b'{"status_code": 1000, "data": [oops]}'
    assert bridge.response_body("sessions", broken, NEW, OLD) is broken


# --- properties --------------------------------------------------------------------------------

money = st.integers(0, 10**10).map(lambda i: i / 10_000)  # OCPI numbers: 4 decimals
# members 2.3.0 added or a party invented: the bridge must keep them
extra_key = st.sampled_from(["parking", "accepted_service_providers", "help_phone", "x_note"])
json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-1000, 1000), st.text(max_size=8))
extras = st.dictionaries(extra_key, json_leaf, max_size=3)


@st.composite
def old_price(draw: st.DrawFn) -> dict[str, Any]:
    excl = draw(money)
    price: dict[str, Any] = {"excl_vat": excl}
    if draw(st.booleans()):
        price["incl_vat"] = float(Decimal(repr(excl)) + Decimal(repr(draw(money))))
    return price


@st.composite
def new_price(draw: st.DrawFn) -> dict[str, Any]:
    price: dict[str, Any] = {"before_taxes": draw(money)}
    if draw(st.booleans()):
        price["taxes"] = [{"name": "VAT", "amount": draw(money)}]
    return price


@given(old_price(), extras)
def test_old_prices_survive_a_round_trip(price: dict[str, Any], extra: dict[str, Any]) -> None:
    session = {"id": "s", **extra, "total_cost": price, "last_updated": "t"}
    up = session_up(session, Notes("up"))
    assert up["total_cost"]["before_taxes"] == price["excl_vat"]
    assert list(up) == list(session)  # members kept, in place
    assert session_down(up, Notes("down")) == session


@given(new_price())
def test_single_vat_prices_survive_a_round_trip(price: dict[str, Any]) -> None:
    notes = Notes("down")
    down = price_down(price, notes, "p")
    assert not notes.losses
    assert price_up(down, Notes("up"), "p") == price


@given(st.lists(st.fixed_dictionaries({"name": st.sampled_from(["VAT", "GST"]), "amount": money})))
def test_taxes_always_sum_into_incl_vat(taxes: list[dict[str, Any]]) -> None:
    down = price_down({"before_taxes": 1.5, "taxes": taxes}, Notes("down"), "p")
    total = Decimal("1.5") + sum((Decimal(repr(t["amount"])) for t in taxes), Decimal(0))
    assert Decimal(repr(down["incl_vat"])) == total


@settings(max_examples=50)
@given(st.lists(old_price(), min_size=0, max_size=6), st.booleans(), extras)
def test_cdrs_and_their_tariffs_survive_a_round_trip(
    prices: list[dict[str, Any]], with_tariff: bool, extra: dict[str, Any]
) -> None:
    names = ("total_cost", "total_fixed_cost", "total_energy_cost", "total_time_cost")
    cdr: dict[str, Any] = {"id": "c", **extra, **dict(zip(names, prices, strict=False))}
    if with_tariff:
        cdr["tariffs"] = [TARIFF_MIN_PRICE[0]]
    up = cdr_up(cdr, Notes("up"))
    assert all("before_taxes" in up[name] for name in names if name in cdr)
    assert cdr_down(up, Notes("down")) == cdr


@given(extras)
def test_unknown_members_and_open_enum_values_pass(extra: dict[str, Any]) -> None:
    tariff = {**TARIFF_MIN_PRICE[1], **extra, "type": "SOME_NEW_TYPE", "preauthorize_amount": 5}
    down = tariff_down(tariff, Notes("down"))
    for key, value in extra.items():
        assert down[key] == value
    assert down["type"] == "SOME_NEW_TYPE"
    assert down["preauthorize_amount"] == 5


@pytest.mark.parametrize(("module", "old", "new"), GOLDEN)
def test_by_shape_for_another_nodes_party(module: str, old: Any, new: Any) -> None:
    """Source unknown (a party on another node): what has the target layout stays as it is."""
    for body, target, expected in (
        (old, NEW, new),
        (new, NEW, new),
        (new, OLD, old),
        (old, OLD, old),
    ):
        out, notes = bridge.translate_object(module, body, "", target)
        assert orjson.dumps(out) == orjson.dumps(expected)
        assert not notes.losses  # a 2.2.x tariff without tax_included is no loss here
