"""Bad input on the foundation paths: right HTTP status + OCPI code + message, no state change."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ocn_core import PlatformInfo
from tests.support.node import RunningNode, running_node
from tests.support.parties import PartyServer

CPO = ("CH", "CPO")
MSP = ("DE", "MSP")


@pytest.fixture
async def hub(
    tmp_path: Path, core_mode: str
) -> AsyncIterator[tuple[RunningNode, PartyServer, PartyServer]]:
    cpo = await PartyServer([("CPO", *CPO)]).start()
    msp = await PartyServer([("EMSP", *MSP)]).start()
    async with running_node(tmp_path, core_mode) as node:
        for party in (cpo, msp):
            await node.register(party)
        yield node, cpo, msp
    await cpo.stop()
    await msp.stop()


def snapshot(node: RunningNode) -> list[PlatformInfo]:
    return node.engine.platforms()


async def call(
    method: str, url: str, headers: dict[str, str], data: bytes | None = None
) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http:
        async with http.request(method, url, headers=headers, data=data) as r:
            return r.status, json.loads(await r.read())


async def test_unknown_token_is_401(hub: tuple[RunningNode, PartyServer, PartyServer]) -> None:
    node, _, msp = hub
    before = snapshot(node)
    headers = msp.routing_headers(to=CPO)
    headers["Authorization"] = "Token nope"
    status, body = await call("GET", f"{node.url}/ocpi/sender/2.2.1/locations/L1", headers)
    assert (status, body["status_code"]) == (401, 2001)
    assert body["status_message"] == "Invalid CREDENTIALS_TOKEN_C"
    assert snapshot(node) == before


async def test_token_a_outside_credentials_is_401(
    hub: tuple[RunningNode, PartyServer, PartyServer],
) -> None:
    node, _, msp = hub
    token_a = await node.token_a(("NL", "ABC"))
    headers = msp.routing_headers(to=CPO)
    headers["Authorization"] = f"Token {token_a}"
    status, body = await call("GET", f"{node.url}/ocpi/sender/2.2.1/locations/L1", headers)
    assert (status, body["status_code"]) == (401, 2001)
    assert "TOKEN_A" in body["status_message"]
    # token A still works where it is allowed
    status, body = await call(
        "GET", f"{node.url}/ocpi/versions", {"Authorization": f"Token {token_a}"}
    )
    assert (status, body["status_code"]) == (200, 1000)


async def test_versions_without_token_is_401(
    hub: tuple[RunningNode, PartyServer, PartyServer],
) -> None:
    node, _, _ = hub
    status, body = await call("GET", f"{node.url}/ocpi/versions", {})
    assert (status, body["status_code"]) == (401, 2001)


async def test_malformed_credentials_json_is_400(
    hub: tuple[RunningNode, PartyServer, PartyServer], tmp_path: Path
) -> None:
    node, _, _ = hub
    token_a = await node.token_a(("NL", "ABC"))
    before = snapshot(node)
    status, body = await call(
        "POST",
        f"{node.url}/ocpi/2.2.1/credentials",
        {"Authorization": f"Token {token_a}"},
        b"{not json",
    )
    assert (status, body["status_code"]) == (400, 2001)
    assert "Could not parse JSON" in body["status_message"]
    assert snapshot(node) == before
    # the token was not consumed: a valid registration still works afterwards
    party = await PartyServer([("CPO", "NL", "ABC")]).start()
    await node.list_party("NL", "ABC", ["CPO"])
    assert (await party.register(node.url, token_a))["status_code"] == 1000
    await party.stop()


async def test_unlisted_role_is_rejected(hub: tuple[RunningNode, PartyServer, PartyServer]) -> None:
    node, _, _ = hub
    party = await PartyServer([("CPO", "NL", "XYZ")]).start()
    token_a = await node.token_a(("NL", "XYZ"))
    before = snapshot(node)
    result = await party.register(node.url, token_a)
    assert result["status_code"] == 2001
    assert "not listed in OCN Registry with my node info" in result["status_message"]
    assert snapshot(node) == before
    await party.stop()


async def test_token_bound_to_other_roles_is_rejected(
    hub: tuple[RunningNode, PartyServer, PartyServer],
) -> None:
    node, _, _ = hub
    party = await PartyServer([("CPO", "NL", "XYZ")]).start()
    await node.list_party("NL", "XYZ", ["CPO"])
    result = await party.register(node.url, await node.token_a(("NL", "OTH")))
    assert result["status_code"] == 2001
    assert "not allowed by this registration token" in result["status_message"]
    await party.stop()


async def test_second_post_is_405(hub: tuple[RunningNode, PartyServer, PartyServer]) -> None:
    node, cpo, _ = hub
    status, body = await call(
        "POST",
        f"{node.url}/ocpi/2.2.1/credentials",
        {"Authorization": cpo.auth(cpo.token_c)},
        json.dumps(cpo.credentials()).encode(),
    )
    assert (status, body["status_code"]) == (405, 2000)


@pytest.mark.parametrize(
    "drop", ["X-Request-ID", "X-Correlation-ID", "OCPI-to-party-id", "OCPI-from-country-code"]
)
async def test_missing_routing_header_is_400(
    hub: tuple[RunningNode, PartyServer, PartyServer], drop: str
) -> None:
    node, cpo, msp = hub
    headers = msp.routing_headers(to=CPO)
    del headers[drop]
    sent = len(cpo.received)
    status, body = await call("GET", f"{node.url}/ocpi/sender/2.2.1/locations/L1", headers)
    assert (status, body["status_code"]) == (400, 2001)
    assert "Missing request header" in body["status_message"]
    assert len(cpo.received) == sent  # nothing forwarded


@pytest.mark.parametrize(
    ("header", "value", "message"),
    [
        ("OCPI-to-country-code", "CHE", 'Given country_code "CHE" not 2 characters'),
        ("OCPI-to-party-id", "CP", 'Given party_id "CP" not 3 characters'),
    ],
)
async def test_two_three_char_rule(
    hub: tuple[RunningNode, PartyServer, PartyServer], header: str, value: str, message: str
) -> None:
    node, _, msp = hub
    headers = msp.routing_headers(to=CPO)
    headers[header] = value
    status, body = await call("GET", f"{node.url}/ocpi/sender/2.2.1/locations/L1", headers)
    assert (status, body["status_code"], body["status_message"]) == (400, 2001, message)


async def test_from_role_of_another_platform_is_400(
    hub: tuple[RunningNode, PartyServer, PartyServer],
) -> None:
    node, _, msp = hub
    headers = msp.routing_headers(to=CPO, frm=CPO)
    status, body = await call("GET", f"{node.url}/ocpi/sender/2.2.1/locations/L1", headers)
    assert (status, body["status_code"]) == (400, 2001)
    assert (
        body["status_message"]
        == "Could not find role on sending platform using OCPI-from-* headers"
    )


async def test_unknown_recipient_is_4001(hub: tuple[RunningNode, PartyServer, PartyServer]) -> None:
    node, _, msp = hub
    headers = msp.routing_headers(to=("NL", "ZZZ"))
    status, body = await call("GET", f"{node.url}/ocpi/sender/2.2.1/locations/L1", headers)
    assert (status, body["status_code"]) == (200, 4001)
    assert body["status_message"] == "Receiver not registered on Open Charging Network"


async def test_receiver_down_is_4003(hub: tuple[RunningNode, PartyServer, PartyServer]) -> None:
    node, cpo, msp = hub
    await cpo.stop()
    status, body = await call(
        "GET", f"{node.url}/ocpi/sender/2.2.1/locations/L1", msp.routing_headers(to=CPO)
    )
    assert (status, body["status_code"]) == (200, 4003)


async def test_unknown_path_is_404(hub: tuple[RunningNode, PartyServer, PartyServer]) -> None:
    node, _, msp = hub
    status, body = await call(
        "GET", f"{node.url}/ocpi/sender/2.2.1/nothing", msp.routing_headers(to=CPO)
    )
    assert (status, body["status_code"]) == (404, 2000)
