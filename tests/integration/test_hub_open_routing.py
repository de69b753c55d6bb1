"""Issue 13.5: Open Routing, the hub picks the receiver of requests without TO headers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.hubnet import CPO1, MSP1, HubNet, hub_network

HUB = ("CH", "OCN")


@pytest.fixture
async def net(tmp_path: Path) -> AsyncIterator[HubNet]:
    async with hub_network(tmp_path) as n:
        await n.call(
            n["cpo1"], "PUT", "/ocpi/receiver/2.2.1/locations/CH/CP1/L9", HUB, {"id": "L9"}
        )
        token = {"uid": "T9", "country_code": "DE", "party_id": "MS1"}
        await n.call(n["msp1"], "PUT", "/ocpi/receiver/2.2.1/tokens/DE/MS1/T9", HUB, token)
        await n.node.engine.ctx.hub.drain()
        yield n


async def test_command_goes_to_the_owner_of_its_location(net: HubNet) -> None:
    body = {
        "response_url": "http://x/cb",
        "location_id": "L9",
        "token": {"uid": "T9", "country_code": "DE", "party_id": "MS1"},
    }
    path = "/ocpi/receiver/2.2.1/commands/START_SESSION"
    status, answer, headers = await net.call(net["msp1"], "POST", path, None, body)
    assert (status, answer["status_code"]) == (200, 1000)
    assert (headers["OCPI-from-country-code"], headers["OCPI-from-party-id"]) == CPO1
    got = net["cpo1"].received[-1]
    assert got.path == "/ocpi/2.2.1/receiver/commands/START_SESSION"
    assert (got.headers["OCPI-to-country-code"], got.headers["OCPI-to-party-id"]) == CPO1
    assert (got.headers["OCPI-from-country-code"], got.headers["OCPI-from-party-id"]) == MSP1


async def test_cdr_goes_to_the_issuer_of_its_token(net: HubNet) -> None:
    cdr = {"id": "C1", "cdr_token": {"uid": "T9", "country_code": "DE", "party_id": "MS1"}}
    status, answer, headers = await net.call(
        net["cpo1"], "POST", "/ocpi/receiver/2.2.1/cdrs", None, cdr
    )
    assert (status, answer["status_code"]) == (200, 1000)
    got = net["msp1"].received[-1]
    assert (got.method, got.path) == ("POST", "/ocpi/2.2.1/receiver/cdrs")
    assert (headers["OCPI-from-country-code"], headers["OCPI-from-party-id"]) == MSP1


async def test_get_one_and_authorize_follow_the_hub_data(net: HubNet) -> None:
    status, answer, _ = await net.call(net["msp1"], "GET", "/ocpi/sender/2.2.1/locations/L9", None)
    assert (status, answer["status_code"]) == (200, 1000)
    assert net["cpo1"].received[-1].path == "/ocpi/2.2.1/sender/locations/L9"
    path = "/ocpi/sender/2.2.1/tokens/T9/authorize?type=RFID"
    _status, answer, _ = await net.call(net["cpo1"], "POST", path, None, {"location_id": "L9"})
    assert answer["status_code"] == 1000
    got = net["msp1"].received[-1]
    assert (got.path, got.query) == ("/ocpi/2.2.1/sender/tokens/T9/authorize", "type=RFID")


async def test_undecidable_push_is_broadcast_and_other_requests_are_refused(net: HubNet) -> None:
    status, answer, headers = await net.call(
        net["cpo1"], "PUT", "/ocpi/receiver/2.2.1/tariffs/CH/CP1/TA", None, {"id": "TA"}
    )
    assert (status, answer["status_code"]) == (200, 1000)
    assert (headers["OCPI-from-country-code"], headers["OCPI-from-party-id"]) == HUB
    await net.node.engine.ctx.hub.drain()
    for name in ("msp1", "msp2", "msp3", "other"):
        assert net[name].received[-1].path.endswith("/tariffs/CH/CP1/TA")
    sent = sum(len(p.received) for p in net.parties.values())
    for method, path, body in (
        ("GET", "/ocpi/sender/2.2.1/locations", None),  # GET All
        ("PUT", "/ocpi/receiver/2.2.1/sessions/CH/CP1/S1", {"id": "S1"}),  # no hint, no broadcast
        ("GET", "/ocpi/sender/2.2.1/locations/UNKNOWN", None),
    ):
        status, answer, _ = await net.call(
            net["cpo1"] if "sessions" in path else net["msp1"], method, path, None, body
        )
        assert (status, answer["status_code"]) == (400, 2001), path
    await asyncio.sleep(0.05)
    assert sum(len(p.received) for p in net.parties.values()) == sent
