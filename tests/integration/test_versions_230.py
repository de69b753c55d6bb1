"""Issue 17: OCPI 2.3.0 beside 2.2 / 2.2.1, through the real stack with real HTTP parties.

Four platforms: a CPO and an eMSP on 2.3.0, a CPO and an eMSP on 2.2.1. Messages between the two
versions are bridged (Sessions, CDRs, Tariffs), same-version messages pass byte for byte.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ocn_core import bridge, routing
from tests.support.mixed import CPO21, CPO23, HUB, MSP21, MSP23, Mixed, mixed_hub
from tests.support.parties import MODULES, MODULES_230, PartyServer


@pytest.fixture
async def hub(tmp_path: Path, core_mode: str) -> AsyncIterator[Mixed]:
    async with mixed_hub(tmp_path, core_mode) as h:
        yield h


TARIFF_23 = {
    "country_code": "NL",
    "party_id": "C23",
    "id": "T1",
    "currency": "EUR",
    "min_price": {"before_taxes": 0.50, "after_taxes": 0.55},
    "elements": [
        {"price_components": [{"type": "ENERGY", "price": 0.25, "vat": 10.0, "step_size": 1}]}
    ],
    "tax_included": "NO",
    "preauthorize_amount": 20,
    "last_updated": "2026-01-01T00:00:00Z",
}
TARIFF_21 = {
    "country_code": "NL",
    "party_id": "C23",
    "id": "T1",
    "currency": "EUR",
    "min_price": {"excl_vat": 0.50, "incl_vat": 0.55},
    "elements": TARIFF_23["elements"],
    "preauthorize_amount": 20,  # a member 2.2.1 does not know is kept
    "last_updated": "2026-01-01T00:00:00Z",
}


# --- 17.1 versions -----------------------------------------------------------------------------


async def test_versions_list_three_and_each_details_advertise_what_is_served(hub: Mixed) -> None:
    token = hub.msp21.token_c
    status, listing = await hub.get(hub.msp21, "/ocpi/versions", token)
    assert status == 200
    assert [v["version"] for v in listing["data"]] == ["2.3.0", "2.2.1", "2.2"]
    for version, modules in (("2.3.0", MODULES + MODULES_230), ("2.2.1", MODULES)):
        _, details = await hub.get(hub.msp21, f"/ocpi/{version}", token)
        endpoints = details["data"]["endpoints"]
        functional = {(e["identifier"], e["role"]) for e in endpoints} - {
            ("credentials", "SENDER"),
            ("hubclientinfo", "SENDER"),
        }
        assert functional == {(m, r) for m in modules for r in ("SENDER", "RECEIVER")}
        for ep in endpoints:  # every advertised URL is one the node routes, as advertised
            path = ep["url"].removeprefix(hub.node.url)
            found = routing.match("GET", path)
            assert found is not None, path
            assert (found[1], found[3]) == (ep["identifier"], version)
    for path in ("/ocpi/sender/2.2.1/payments", "/ocpi/receiver/2.2/Booking/x"):
        assert routing.match("GET", path) is None  # optional modules: 2.3.0 only


# --- 17.2 credentials --------------------------------------------------------------------------


async def test_credentials_230_carry_hub_party_id_and_the_reachable_roles(hub: Mixed) -> None:
    last = hub.registered["msp21"]["data"]  # a 2.2.1 platform sees the HUB role
    assert [r["role"] for r in last["roles"]] == ["HUB"]
    status, got = await hub.get(hub.cpo23, "/ocpi/2.3.0/credentials", hub.cpo23.token_c)
    assert status == 200
    creds = got["data"]
    assert creds["hub_party_id"] == HUB
    assert creds["token"] == hub.cpo23.token_c
    reachable = {(r["role"], r["country_code"], r["party_id"]) for r in creds["roles"]}
    assert reachable == {("EMSP", *MSP23), ("CPO", *CPO21), ("EMSP", *MSP21)}  # not itself
    assert all(r["business_details"]["name"] for r in creds["roles"])
    # the first 2.3.0 platform registered when nothing else was reachable
    first = hub.registered["cpo23"]["data"]
    assert first["hub_party_id"] == HUB
    assert [(r["role"], r["country_code"] + r["party_id"]) for r in first["roles"]] == [
        ("OTHER", HUB)
    ]
    # parties the registry lists with another node are reachable too (HUB listings are not)
    other = "0x" + "ab" * 20
    hub.node.engine.set_node(other, "http://other-node.example")
    hub.node.engine.set_party("SE", "FAR", ["CPO", "HUB"], operator=other)
    _, got = await hub.get(hub.cpo23, "/ocpi/2.3.0/credentials", hub.cpo23.token_c)
    far = [r for r in got["data"]["roles"] if r["party_id"] == "FAR"]
    assert [(r["role"], r["business_details"]["name"]) for r in far] == [
        ("CPO", "SEFAR via http://other-node.example")
    ]
    # a SUSPENDED platform's roles are dropped
    platform_id = hub.node.engine.ctx.platforms.platform_id_by_role(*MSP21)
    assert platform_id is not None
    hub.node.engine.ctx.platforms.touch(platform_id, "SUSPENDED")
    _, got = await hub.get(hub.cpo23, "/ocpi/2.3.0/credentials", hub.cpo23.token_c)
    assert ("EMSP", *MSP21) not in {
        (r["role"], r["country_code"], r["party_id"]) for r in got["data"]["roles"]
    }
    # the peer's own hub_party_id is accepted and kept with its platform
    platforms = {p.roles[0].key: p for p in hub.node.engine.ctx.platforms.all()}
    assert platforms["FRM23"].hub_party_id == "FRHUB"
    assert platforms["FRM23"].ocpi_version == "2.3.0"
    assert platforms["DEM21"].ocpi_version == "2.2.1"


async def test_credentials_230_rotation_and_deletion(hub: Mixed) -> None:
    party = hub.msp23
    old = party.token_c
    async with aiohttp.ClientSession() as http:
        url = f"{hub.node.url}/ocpi/2.3.0/credentials"
        headers = {"Authorization": party.auth(old)}
        async with http.put(url, json=party.credentials(), headers=headers) as r:
            rotated = await r.json()
    assert rotated["status_code"] == 1000
    new = rotated["data"]["token"]
    assert new != old
    assert "HUB" not in {r["role"] for r in rotated["data"]["roles"]}
    assert (await hub.get(party, "/ocpi/versions", old))[0] == 401
    assert (await hub.get(party, "/ocpi/versions", new))[0] == 200
    async with aiohttp.ClientSession() as http:
        headers = {"Authorization": party.auth(new)}
        async with http.delete(url, headers=headers) as r:
            assert (r.status, (await r.json())["status_code"]) == (200, 1000)
    assert (await hub.get(party, "/ocpi/versions", new))[0] == 401


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"roles": [{"role": "HUB", "country_code": "ES", "party_id": "NEW"}]}, "Unknown role"),
        ({"hub_party_id": "TOO-LONG"}, "hub_party_id"),
    ],
)
async def test_credentials_230_refusals(hub: Mixed, change: dict[str, Any], message: str) -> None:
    await hub.node.list_party("ES", "NEW", ["CPO"])
    party = PartyServer([("CPO", "ES", "NEW")], version="2.3.0")
    await party.start()
    try:
        token_a = await hub.node.token_a(("ES", "NEW"))
        creds = {**party.credentials(), **change}
        for role in creds["roles"]:
            role.setdefault("business_details", {"name": "x"})
        async with aiohttp.ClientSession() as http:
            url = f"{hub.node.url}/ocpi/2.3.0/credentials"
            headers = {"Authorization": party.auth(token_a)}
            async with http.post(url, json=creds, headers=headers) as r:
                status, body = r.status, await r.json()
        assert (status, body["status_code"]) == (400, 2001)
        assert message in body["status_message"]
    finally:
        await party.stop()


async def test_hubclientinfo_under_230(hub: Mixed) -> None:
    status, answer = await hub.get(hub.msp23, "/ocpi/2.3.0/hubclientinfo", hub.msp23.token_c)
    assert (status, answer["status_code"]) == (200, 1000), answer
    listed = {(c["country_code"], c["party_id"]): c["status"] for c in answer["data"]}
    assert listed[CPO21] == listed[CPO23] == "CONNECTED"


# --- 17.4 bridging -----------------------------------------------------------------------------


async def test_tariff_push_from_230_reaches_221_in_its_version(hub: Mixed) -> None:
    before = bridge.counts().get("translated tariffs request 2.3.0>2.2.1", 0)
    path = "/ocpi/receiver/2.3.0/tariffs/NL/C23/T1"
    status, answer, _ = await hub.call(hub.cpo23, "PUT", path, MSP21, TARIFF_23)
    assert (status, answer["status_code"]) == (200, 1000), answer
    got = hub.msp21.received[-1]
    assert (got.method, got.path) == ("PUT", "/ocpi/2.2.1/receiver/tariffs/NL/C23/T1")
    assert json.loads(got.body) == TARIFF_21
    assert list(json.loads(got.body)) == list(TARIFF_21)  # members in place
    assert bridge.counts()["translated tariffs request 2.3.0>2.2.1"] == before + 1


async def test_tariff_list_and_next_page_from_230_arrive_in_221(hub: Mixed) -> None:
    base = "/ocpi/2.3.0/sender/tariffs"
    hub.cpo23.answer(
        "GET",
        base,
        [TARIFF_23],
        headers={"Link": f'<{hub.cpo23.base}{base}/p2>; rel="next"', "X-Total-Count": "2"},
    )
    hub.cpo23.answer("GET", f"{base}/p2", [{**TARIFF_23, "id": "T2"}])
    status, answer, headers = await hub.call(hub.msp21, "GET", "/ocpi/sender/2.2.1/tariffs", CPO23)
    assert (status, answer["status_code"]) == (200, 1000), answer
    assert answer["data"] == [TARIFF_21]
    assert headers["X-Total-Count"] == "2"
    next_url = headers["Link"].split(";")[0].strip("<>")
    assert next_url.startswith(f"{hub.node.url}/ocpi/sender/2.2.1/tariffs/page/")
    status, page, _ = await hub.call(hub.msp21, "GET", next_url, CPO23)
    assert (status, page["status_code"]) == (200, 1000), page
    assert page["data"] == [{**TARIFF_21, "id": "T2"}]


async def test_cdr_from_221_reaches_230_and_its_location_reads_back_in_221(hub: Mixed) -> None:
    cdr_21 = {
        "id": "CDR1",
        "currency": "EUR",
        "total_cost": {"excl_vat": 4.00, "incl_vat": 4.40},
        "total_time_cost": {"excl_vat": 4.00, "incl_vat": 4.40},
        "last_updated": "2026-01-01T00:00:00Z",
    }
    cdr_23 = {
        **cdr_21,
        "total_cost": {"before_taxes": 4.00, "taxes": [{"name": "VAT", "amount": 0.40}]},
        "total_time_cost": {"before_taxes": 4.00, "taxes": [{"name": "VAT", "amount": 0.40}]},
    }
    receiver = "/ocpi/2.3.0/receiver/cdrs"
    hub.msp23.answer(
        "POST", receiver, None, headers={"Location": f"{hub.msp23.base}{receiver}/CDR1"}
    )
    hub.msp23.answer("GET", f"{receiver}/CDR1", cdr_23)
    status, answer, headers = await hub.call(
        hub.cpo21, "POST", "/ocpi/receiver/2.2.1/cdrs", MSP23, cdr_21
    )
    assert (status, answer["status_code"]) == (200, 1000), answer
    assert json.loads(hub.msp23.received[-1].body) == cdr_23
    location = headers["Location"]
    assert location.startswith(f"{hub.node.url}/ocpi/receiver/2.2.1/cdrs/")
    status, read, _ = await hub.call(hub.cpo21, "GET", location, MSP23)
    assert (status, read["status_code"]) == (200, 1000), read
    assert read["data"] == cdr_21


async def test_session_patch_from_230_and_session_read_from_221(hub: Mixed) -> None:
    patch_23 = {
        "total_cost": {"before_taxes": 0.60, "taxes": [{"name": "VAT", "amount": 0.06}]},
        "last_updated": "2019-06-23T08:11:00Z",
    }
    path = "/ocpi/receiver/2.3.0/sessions/NL/C23/S1"
    status, answer, _ = await hub.call(hub.cpo23, "PATCH", path, MSP21, patch_23)
    assert (status, answer["status_code"]) == (200, 1000), answer
    assert json.loads(hub.msp21.received[-1].body) == {
        "total_cost": {"excl_vat": 0.60, "incl_vat": 0.66},
        "last_updated": "2019-06-23T08:11:00Z",
    }
    # the reverse: a 2.2.1 eMSP reads a session from the 2.3.0 CPO's Sender interface
    hub.cpo23.answer("GET", "/ocpi/2.3.0/sender/sessions", [{"id": "S1", **patch_23}])
    status, answer, _ = await hub.call(hub.msp21, "GET", "/ocpi/sender/2.2.1/sessions", CPO23)
    assert answer["data"][0]["total_cost"] == {"excl_vat": 0.60, "incl_vat": 0.66}


async def test_what_cannot_be_bridged_is_refused_and_not_forwarded(hub: Mixed) -> None:
    before = len(hub.msp21.received)
    gross = {
        **TARIFF_23,
        "elements": [{"price_components": [{"type": "TIME", "price": 2.10, "step_size": 1}]}],
        "tax_included": "YES",
    }
    path = "/ocpi/receiver/2.3.0/tariffs/NL/C23/T2"
    status, answer, _ = await hub.call(hub.cpo23, "PUT", path, MSP21, gross)
    assert (status, answer["status_code"]) == (400, 2001)
    assert "Cannot bridge tariffs request 2.3.0>2.2.1" in answer["status_message"]
    assert "tax_included YES without a vat percentage" in answer["status_message"]
    assert len(hub.msp21.received) == before
    # an answer the bridge cannot translate is refused too (the receiver's data is not passed)
    hub.cpo23.answer("GET", "/ocpi/2.3.0/sender/tariffs/NL/C23/T9", gross)
    status, answer, _ = await hub.call(
        hub.msp21, "GET", "/ocpi/sender/2.2.1/tariffs/NL/C23/T9", CPO23
    )
    assert (status, answer["status_code"]) == (400, 2001)
    assert "Cannot bridge tariffs response 2.3.0>2.2.1" in answer["status_message"]


# --- 17.3 lossless relay -----------------------------------------------------------------------

ODD = (
    b'{"id": "T1",  "currency": "EUR", "tax_included": "NO", "brand_new_field": {"x": 1.50},'
    b' "elements": [], "type": "SOME_FUTURE_TYPE", "last_updated": "2026-01-01T00:00:00Z"}'
)
LOCATION = (
    b'{"id": "L1", "parking_places": [{"vehicle_types": ["ELECTRIC_BUS"]}],'
    b' "evses": [{"connectors": [{"standard": "SOME_NEW_PLUG"}]}], "help_phone": "+31 1"}'
)


@pytest.mark.parametrize(
    ("sender", "receiver", "path", "upstream", "raw"),
    [  # same version, bridged module: byte for byte
        ("cpo23", "msp23", "/ocpi/receiver/2.3.0/tariffs/NL/C23/T1", "tariffs/NL/C23/T1", ODD),
        # different versions, a module whose objects are the same: byte for byte
        (
            "cpo23",
            "msp21",
            "/ocpi/receiver/2.3.0/locations/NL/C23/L1",
            "locations/NL/C23/L1",
            LOCATION,
        ),
        (
            "cpo21",
            "msp23",
            "/ocpi/receiver/2.2.1/locations/BE/C21/L1",
            "locations/BE/C21/L1",
            LOCATION,
        ),
    ],
)
async def test_unknown_members_and_open_enum_values_pass_byte_for_byte(
    hub: Mixed, sender: str, receiver: str, path: str, upstream: str, raw: bytes
) -> None:
    frm, to = getattr(hub, sender), getattr(hub, receiver)
    target = (to.roles[0][1], to.roles[0][2])
    status, answer, _ = await hub.call(frm, "PUT", path, target, raw=raw)
    assert (status, answer["status_code"]) == (200, 1000), answer
    got = to.received[-1]
    assert got.path == f"/ocpi/{to.version}/receiver/{upstream}"
    assert got.body == raw


@pytest.mark.parametrize(
    ("method", "path", "upstream"),
    [
        (
            "GET",
            "/ocpi/sender/2.3.0/payments/terminals?offset=0",
            "/ocpi/2.3.0/sender/payments/terminals",
        ),
        (
            "POST",
            "/ocpi/sender/2.3.0/payments/terminals/activate",
            "/ocpi/2.3.0/sender/payments/terminals/activate",
        ),
        (
            "POST",
            "/ocpi/receiver/2.3.0/payments/terminals",
            "/ocpi/2.3.0/receiver/payments/terminals",
        ),
        (
            "GET",
            "/ocpi/sender/2.3.0/Booking/booking_locations",
            "/ocpi/2.3.0/sender/Booking/booking_locations",
        ),
        ("POST", "/ocpi/sender/2.3.0/Booking", "/ocpi/2.3.0/sender/Booking"),
        (
            "PATCH",
            "/ocpi/receiver/2.3.0/Booking/FR/M23/B1",
            "/ocpi/2.3.0/receiver/Booking/FR/M23/B1",
        ),
        (
            "GET",
            "/ocpi/sender/2.3.0/invoicereconciliation",
            "/ocpi/2.3.0/sender/invoicereconciliation",
        ),
        (
            "POST",
            "/ocpi/receiver/2.3.0/invoicereconciliation",
            "/ocpi/2.3.0/receiver/invoicereconciliation",
        ),
    ],
)
async def test_optional_230_modules_route_by_headers(
    hub: Mixed, method: str, path: str, upstream: str
) -> None:
    body = {"terminal_id": "T1", "unknown": [1, 2]} if method != "GET" else None
    status, answer, _ = await hub.call(hub.msp23, method, path, CPO23, body)
    assert (status, answer["status_code"]) == (200, 1000), answer
    got = hub.cpo23.received[-1]
    assert (got.method, got.path) == (method, upstream)
    assert got.headers["OCPI-from-party-id"] == "M23"
    if body is not None:
        assert got.body == json.dumps(body).encode()


async def test_optional_module_towards_a_221_party_is_not_supported(hub: Mixed) -> None:
    status, answer, _ = await hub.call(
        hub.msp23, "GET", "/ocpi/sender/2.3.0/payments/terminals", CPO21
    )
    assert (status, answer["status_code"]) == (400, 2001)
    assert "does not support" in answer["status_message"]


async def test_commands_response_url_works_across_versions(hub: Mixed) -> None:
    body = {"response_url": f"{hub.msp21.base}/cb/1", "token": {"uid": "U1"}, "location_id": "L1"}
    path = "/ocpi/receiver/2.2.1/commands/START_SESSION"
    status, answer, _ = await hub.call(hub.msp21, "POST", path, CPO23, body)
    assert (status, answer["status_code"]) == (200, 1000), answer
    node_url = json.loads(hub.cpo23.received[-1].body)["response_url"]
    assert node_url.startswith(hub.node.url)
    result = {"result": "ACCEPTED"}
    status, answer, _ = await hub.call(hub.cpo23, "POST", node_url, MSP21, result)
    assert (status, answer["status_code"]) == (200, 1000), answer
    got = hub.msp21.received[-1]
    assert (got.path, json.loads(got.body)) == ("/cb/1", result)


async def test_an_open_enum_command_type_and_its_result_route_under_230(hub: Mixed) -> None:
    body = {"response_url": f"{hub.msp23.base}/cb/9", "future_field": [1, 2]}
    path = "/ocpi/receiver/2.3.0/commands/FUTURE_COMMAND"
    status, answer, _ = await hub.call(hub.msp23, "POST", path, CPO23, body)
    assert (status, answer["status_code"]) == (200, 1000), answer
    got = hub.cpo23.received[-1]
    assert got.path == "/ocpi/2.3.0/receiver/commands/FUTURE_COMMAND"
    forwarded = json.loads(got.body)
    assert forwarded["future_field"] == [1, 2]
    node_url = forwarded["response_url"]
    assert node_url.startswith(f"{hub.node.url}/ocpi/sender/2.3.0/commands/result/")
    result = {"result": "ACCEPTED", "new_member": True}
    status, answer, _ = await hub.call(hub.cpo23, "POST", node_url, MSP23, result)
    assert (status, answer["status_code"]) == (200, 1000), answer
    back = hub.msp23.received[-1]
    assert (back.path, json.loads(back.body)) == ("/cb/9", result)


async def test_ocnrules_under_230(hub: Mixed) -> None:
    """A 2.3.0 eMSP blocks the 2.2.1 CPO's tariffs with its OcnRules, set on the 2.3.0 path."""
    url = f"{hub.node.url}/ocpi/receiver/2.3.0/ocnrules/blacklist"
    rule = {"country_code": CPO21[0], "party_id": CPO21[1], "modules": ["tariffs"]}
    headers = {"Authorization": hub.msp23.auth(hub.msp23.token_c)}
    async with aiohttp.ClientSession() as http, http.post(url, json=rule, headers=headers) as r:
        assert (await r.json())["status_code"] == 1000
    before = len(hub.msp23.received)
    path = "/ocpi/receiver/2.2.1/tariffs/BE/C21/T1"
    tariff = {**TARIFF_21, "country_code": "BE", "party_id": "C21"}
    status, answer, _ = await hub.call(hub.cpo21, "PUT", path, MSP23, tariff)
    assert answer["status_code"] != 1000, answer
    assert len(hub.msp23.received) == before  # blocked at the node, nothing delivered
    # the same CPO's locations still pass (a blacklist entry blocks only its modules)
    status, answer, _ = await hub.call(
        hub.cpo21, "PUT", "/ocpi/receiver/2.2.1/locations/BE/C21/L1", MSP23, {"id": "L1"}
    )
    assert (status, answer["status_code"]) == (200, 1000), answer
