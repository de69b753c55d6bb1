"""Issue 5: every functional route, both interfaces, end to end through the real stack."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support.hub import CPO, DUO_CPO, DUO_MSP, MSP, Hub, three_platform_hub
from tests.support.parties import PartyServer


@pytest.fixture
async def hub(tmp_path: Path, core_mode: str) -> AsyncIterator[Hub]:
    async with three_platform_hub(tmp_path, core_mode) as h:
        yield h


def _owner(hub: Hub, name: str) -> PartyServer:
    return {"cpo": hub.cpo, "msp": hub.msp, "duo": hub.duo}[name]


# (caller, from, to, receiver, method, node path, body, receiver path) — the eMSP (DE/MSP) speaks
# OCPI 2.2 with raw tokens, the others 2.2.1 with Base64 tokens.
ROUTES = [
    (
        "msp",
        MSP,
        CPO,
        "cpo",
        "GET",
        "/ocpi/sender/2.2/locations?date_from=2026-01-01T00:00:00Z&offset=0&limit=5",
        None,
        "/ocpi/2.2.1/sender/locations",
    ),
    (
        "msp",
        MSP,
        CPO,
        "cpo",
        "GET",
        "/ocpi/sender/2.2/locations/L1",
        None,
        "/ocpi/2.2.1/sender/locations/L1",
    ),
    (
        "msp",
        MSP,
        CPO,
        "cpo",
        "GET",
        "/ocpi/sender/2.2/locations/L1/E1",
        None,
        "/ocpi/2.2.1/sender/locations/L1/E1",
    ),
    (
        "msp",
        MSP,
        CPO,
        "cpo",
        "GET",
        "/ocpi/sender/2.2/locations/L1/E1/C1",
        None,
        "/ocpi/2.2.1/sender/locations/L1/E1/C1",
    ),
    (
        "cpo",
        CPO,
        MSP,
        "msp",
        "GET",
        "/ocpi/receiver/2.2.1/locations/CH/CPO/L1",
        None,
        "/ocpi/2.2/receiver/locations/CH/CPO/L1",
    ),
    (
        "cpo",
        CPO,
        MSP,
        "msp",
        "PUT",
        "/ocpi/receiver/2.2.1/locations/CH/CPO/L1",
        {"id": "L1", "last_updated": "2026-01-01T00:00:00.000Z"},
        "/ocpi/2.2/receiver/locations/CH/CPO/L1",
    ),
    (
        "cpo",
        CPO,
        MSP,
        "msp",
        "PATCH",
        "/ocpi/receiver/2.2.1/locations/CH/CPO/L1/E1",
        {"status": "CHARGING", "last_updated": "2026-01-01T00:00:00Z"},
        "/ocpi/2.2/receiver/locations/CH/CPO/L1/E1",
    ),
    (
        "cpo",
        CPO,
        MSP,
        "msp",
        "PUT",
        "/ocpi/receiver/2.2.1/locations/CH/CPO/L1/E1/C1",
        {"id": "C1", "max_voltage": 230.0},
        "/ocpi/2.2/receiver/locations/CH/CPO/L1/E1/C1",
    ),
    (
        "msp",
        MSP,
        CPO,
        "cpo",
        "GET",
        "/ocpi/sender/2.2/sessions?date_from=2026-01-01T00:00:00Z",
        None,
        "/ocpi/2.2.1/sender/sessions",
    ),
    (
        "msp",
        MSP,
        CPO,
        "cpo",
        "PUT",
        "/ocpi/sender/2.2/sessions/S1/charging_preferences",
        {"profile_type": "FAST"},
        "/ocpi/2.2.1/sender/sessions/S1/charging_preferences",
    ),
    (
        "cpo",
        CPO,
        MSP,
        "msp",
        "GET",
        "/ocpi/receiver/2.2.1/sessions/CH/CPO/S1",
        None,
        "/ocpi/2.2/receiver/sessions/CH/CPO/S1",
    ),
    (
        "cpo",
        CPO,
        MSP,
        "msp",
        "PUT",
        "/ocpi/receiver/2.2.1/sessions/CH/CPO/S1",
        {"id": "S1", "kwh": 0},
        "/ocpi/2.2/receiver/sessions/CH/CPO/S1",
    ),
    (
        "cpo",
        CPO,
        MSP,
        "msp",
        "PATCH",
        "/ocpi/receiver/2.2.1/sessions/CH/CPO/S1",
        {"kwh": 1.50, "last_updated": "2026-01-01T00:00:00Z"},
        "/ocpi/2.2/receiver/sessions/CH/CPO/S1",
    ),
    (
        "msp",
        MSP,
        CPO,
        "cpo",
        "GET",
        "/ocpi/sender/2.2/cdrs?limit=10",
        None,
        "/ocpi/2.2.1/sender/cdrs",
    ),
    ("msp", MSP, CPO, "cpo", "GET", "/ocpi/sender/2.2/tariffs", None, "/ocpi/2.2.1/sender/tariffs"),
    (
        "cpo",
        CPO,
        MSP,
        "msp",
        "GET",
        "/ocpi/receiver/2.2.1/tariffs/CH/CPO/T1",
        None,
        "/ocpi/2.2/receiver/tariffs/CH/CPO/T1",
    ),
    (
        "cpo",
        CPO,
        MSP,
        "msp",
        "PUT",
        "/ocpi/receiver/2.2.1/tariffs/CH/CPO/T1",
        {
            "id": "T1",
            "elements": [{"price_components": [{"type": "ENERGY", "price": 0.25, "step_size": 1}]}],
        },
        "/ocpi/2.2/receiver/tariffs/CH/CPO/T1",
    ),
    (
        "cpo",
        CPO,
        MSP,
        "msp",
        "DELETE",
        "/ocpi/receiver/2.2.1/tariffs/CH/CPO/T1?reason=x",
        None,
        "/ocpi/2.2/receiver/tariffs/CH/CPO/T1",
    ),
    (
        "cpo",
        CPO,
        MSP,
        "msp",
        "GET",
        "/ocpi/sender/2.2.1/tokens?offset=10",
        None,
        "/ocpi/2.2/sender/tokens",
    ),
    (
        "cpo",
        CPO,
        MSP,
        "msp",
        "POST",
        "/ocpi/sender/2.2.1/tokens/T1/authorize?type=RFID",
        {"location_id": "L1"},
        "/ocpi/2.2/sender/tokens/T1/authorize",
    ),
    (
        "msp",
        MSP,
        CPO,
        "cpo",
        "GET",
        "/ocpi/receiver/2.2/tokens/DE/MSP/T1?type=APP_USER",
        None,
        "/ocpi/2.2.1/receiver/tokens/DE/MSP/T1",
    ),
    (
        "msp",
        MSP,
        CPO,
        "cpo",
        "PUT",
        "/ocpi/receiver/2.2/tokens/DE/MSP/T1?type=RFID",
        {"uid": "T1", "valid": True},
        "/ocpi/2.2.1/receiver/tokens/DE/MSP/T1",
    ),
    (
        "msp",
        MSP,
        CPO,
        "cpo",
        "PATCH",
        "/ocpi/receiver/2.2/tokens/DE/MSP/T1",
        {"valid": False, "last_updated": "2026-01-01T00:00:00Z"},
        "/ocpi/2.2.1/receiver/tokens/DE/MSP/T1",
    ),
    (
        "cpo",
        CPO,
        MSP,
        "msp",
        "PUT",
        "/ocpi/sender/2.2.1/chargingprofiles/S1",
        {
            "start_date_time": "2026-01-01T00:00:00Z",
            "charging_profile": {"charging_rate_unit": "W"},
        },
        "/ocpi/2.2/sender/chargingprofiles/S1",
    ),
    # the multi-role platform talks to itself and to others through the node
    (
        "duo",
        DUO_MSP,
        DUO_CPO,
        "duo",
        "GET",
        "/ocpi/sender/2.2.1/locations/L9",
        None,
        "/ocpi/2.2.1/sender/locations/L9",
    ),
    (
        "duo",
        DUO_CPO,
        MSP,
        "msp",
        "PUT",
        "/ocpi/receiver/2.2.1/locations/NL/CPX/L9",
        {"id": "L9"},
        "/ocpi/2.2/receiver/locations/NL/CPX/L9",
    ),
    (
        "msp",
        MSP,
        DUO_CPO,
        "duo",
        "GET",
        "/ocpi/sender/2.2/tariffs",
        None,
        "/ocpi/2.2.1/sender/tariffs",
    ),
    # legacy path shape of the reference node
    (
        "cpo",
        CPO,
        MSP,
        "msp",
        "PUT",
        "/ocpi/2.2/sender/chargingprofiles/S2",
        {"start_date_time": "2026-01-01T00:00:00Z"},
        "/ocpi/2.2/sender/chargingprofiles/S2",
    ),
]


@pytest.mark.parametrize("row", ROUTES, ids=[f"{r[4]} {r[5].split('?')[0]}" for r in ROUTES])
async def test_route(hub: Hub, row: tuple) -> None:  # type: ignore[type-arg]
    caller, frm, to, receiver, method, path, body, upstream = row
    target = _owner(hub, receiver)
    sent = len(target.received)
    status, answer, headers = await hub.call(
        _owner(hub, caller), method, path, to=to, frm=frm, body=body
    )
    assert (status, answer["status_code"]) == (200, 1000), answer
    got = target.received[sent]
    assert (got.method, got.path) == (method, upstream)
    expected_query = path.partition("?")[2]
    assert parse_qs(got.query) == parse_qs(expected_query)  # query forwarded for every method
    if body is not None:
        assert got.body == json.dumps(body).encode()  # raw bytes, not re-serialised
    token = target.token_b
    expected_auth = (
        f"Token {token}"
        if target is hub.msp
        else "Token " + base64.b64encode(token.encode()).decode()
    )
    assert got.headers["Authorization"] == expected_auth
    assert (got.headers["OCPI-from-country-code"], got.headers["OCPI-from-party-id"]) == frm
    assert (got.headers["OCPI-to-country-code"], got.headers["OCPI-to-party-id"]) == to
    assert (headers["OCPI-to-country-code"], headers["OCPI-to-party-id"]) == frm
    assert (headers["OCPI-from-country-code"], headers["OCPI-from-party-id"]) == to


async def test_body_bytes_reach_receiver_untouched(hub: Hub) -> None:
    raw = b'{"id":"L1","coordinates":{"latitude":"52.0"},"power":11.0,"n":1e3,"last_updated":"2026-01-01T00:00:00.1234Z"}'
    _, answer, _ = await hub.call(
        hub.cpo, "PUT", "/ocpi/receiver/2.2.1/locations/CH/CPO/L1", to=MSP, raw=raw
    )
    assert answer["status_code"] == 1000
    assert hub.msp.received[-1].body == raw


async def test_pagination_link_is_proxied_through_the_node(hub: Hub) -> None:
    hub.cpo.answer(
        "GET",
        "/ocpi/2.2.1/sender/locations",
        [{"id": "L1"}],
        headers={
            "Link": f'<{hub.cpo.base}/ocpi/2.2.1/sender/locations?offset=1&limit=1>; rel="next"',
            "X-Total-Count": "2",
            "X-Limit": "1",
        },
    )
    status, answer, headers = await hub.call(
        hub.msp, "GET", "/ocpi/sender/2.2/locations?limit=1", to=CPO
    )
    assert (headers["X-Total-Count"], headers["X-Limit"]) == ("2", "1")
    link = headers["Link"]
    assert link.startswith(f"<{hub.node.url}/ocpi/sender/2.2/locations/page/")
    assert link.endswith('>; rel="next"')
    page_url = link[1 : link.index(">")]
    hub.cpo.answer(
        "GET",
        "/ocpi/2.2.1/sender/locations",
        [{"id": "L2"}],
        headers={"X-Total-Count": "2", "X-Limit": "1"},
    )
    status, answer, headers = await hub.call(hub.msp, "GET", page_url, to=CPO)
    assert (status, answer["data"]) == (200, [{"id": "L2"}])
    assert "Link" not in headers
    got = hub.cpo.received[-1]
    assert (got.path, parse_qs(got.query)) == (
        "/ocpi/2.2.1/sender/locations",
        {"offset": ["1"], "limit": ["1"]},
    )
    # the page URL belongs to the eMSP → CPO pair only
    status, answer, _ = await hub.call(hub.duo, "GET", page_url, to=CPO, frm=DUO_MSP)
    assert (status, answer["status_code"]) == (404, 2003)


async def test_cdr_location_is_proxied_through_the_node(hub: Hub) -> None:
    hub.msp.answer(
        "POST", "/ocpi/2.2/receiver/cdrs", None, headers={"Location": f"{hub.msp.base}/cdrs/abc"}
    )
    status, answer, headers = await hub.call(
        hub.cpo, "POST", "/ocpi/receiver/2.2.1/cdrs", to=MSP, body={"id": "CDR1"}
    )
    assert (status, answer["status_code"]) == (200, 1000)
    location = headers["Location"]
    assert location.startswith(f"{hub.node.url}/ocpi/receiver/2.2.1/cdrs/")
    hub.msp.answer("GET", "/cdrs/abc", {"id": "CDR1"})
    status, answer, _ = await hub.call(hub.cpo, "GET", location, to=MSP)
    assert (status, answer["data"]) == (200, {"id": "CDR1"})
    assert hub.msp.received[-1].path == "/cdrs/abc"


@pytest.mark.parametrize(
    "command",
    ["START_SESSION", "STOP_SESSION", "RESERVE_NOW", "CANCEL_RESERVATION", "UNLOCK_CONNECTOR"],
)
async def test_command_and_its_async_result(hub: Hub, command: str) -> None:
    original = f"{hub.msp.base}/callbacks/{command}/1"
    body = {"response_url": original, "location_id": "L1", "token": {"uid": "T1", "type": "RFID"}}
    status, answer, _ = await hub.call(
        hub.msp, "POST", f"/ocpi/receiver/2.2/commands/{command}", to=CPO, body=body
    )
    assert (status, answer["status_code"]) == (200, 1000)
    got = hub.cpo.received[-1]
    assert got.path == f"/ocpi/2.2.1/receiver/commands/{command}"
    forwarded = json.loads(got.body)
    node_url = forwarded["response_url"]
    assert node_url.startswith(f"{hub.node.url}/ocpi/sender/2.2/commands/{command}/")
    assert {k: v for k, v in forwarded.items() if k != "response_url"} == {
        k: v for k, v in body.items() if k != "response_url"
    }
    # the CPO posts the result to the node URL; the eMSP gets it at its own response_url
    status, answer, _ = await hub.call(
        hub.cpo, "POST", node_url, to=MSP, body={"result": "ACCEPTED"}
    )
    assert (status, answer["status_code"]) == (200, 1000)
    result = hub.msp.received[-1]
    assert (result.method, result.path, json.loads(result.body)) == (
        "POST",
        f"/callbacks/{command}/1",
        {"result": "ACCEPTED"},
    )
    assert result.headers["Authorization"] == f"Token {hub.msp.token_b}"
    # someone else cannot use that URL
    status, answer, _ = await hub.call(
        hub.duo, "POST", node_url, to=MSP, frm=DUO_CPO, body={"result": "REJECTED"}
    )
    assert (status, answer["status_code"]) == (404, 2003)


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_charging_profile_and_its_async_result(hub: Hub, method: str) -> None:
    original = f"{hub.msp.base}/cp/results/7?x=1"
    if method == "PUT":
        body, path = (
            {"charging_profile": {"charging_rate_unit": "W"}, "response_url": original},
            "/ocpi/receiver/2.2/chargingprofiles/S1",
        )
    else:
        body, path = (
            None,
            "/ocpi/receiver/2.2/chargingprofiles/S1?duration=900&response_url="
            + original.replace("?", "%3F").replace("=", "%3D"),
        )
    status, answer, _ = await hub.call(hub.msp, method, path, to=CPO, body=body)
    assert (status, answer["status_code"]) == (200, 1000)
    got = hub.cpo.received[-1]
    assert (got.method, got.path) == (method, "/ocpi/2.2.1/receiver/chargingprofiles/S1")
    if method == "PUT":
        node_url = json.loads(got.body)["response_url"]
    else:
        query = parse_qs(got.query)
        node_url = query["response_url"][0]
        assert query["duration"] == ["900"]
    assert node_url.startswith(f"{hub.node.url}/ocpi/sender/2.2/chargingprofiles/result/")
    status, answer, _ = await hub.call(
        hub.cpo, "POST", node_url, to=MSP, body={"result": "ACCEPTED"}
    )
    assert (status, answer["status_code"]) == (200, 1000)
    result = hub.msp.received[-1]
    assert (result.path, urlsplit(original).query) == ("/cp/results/7", result.query)


async def test_custom_module_keeps_sub_path_method_and_raw_body(hub: Hub) -> None:
    for method in ("POST", "DELETE", "PATCH"):
        status, answer, _ = await hub.call(
            hub.msp,
            method,
            "/ocpi/custom/receiver/lite-locations/a/b?q=1",
            to=DUO_CPO,
            raw=b'"plain string"',
        )
        assert (status, answer["status_code"]) == (200, 1000), answer
        got = hub.duo.received[-1]
        assert (got.method, got.path, got.query, got.body) == (
            method,
            "/custom/lite-locations/a/b",
            "q=1",
            b'"plain string"',
        )
    # a receiver that does not advertise the custom module: 400 / 2001
    status, answer, _ = await hub.call(
        hub.msp, "GET", "/ocpi/custom/receiver/lite-locations", to=CPO
    )
    assert (status, answer["status_code"], answer["status_message"]) == (
        400,
        2001,
        "Receiver does not support the requested module",
    )
