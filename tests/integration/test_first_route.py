"""Issue 2 §6: the credentials handshake and the first routed request, in process and over gRPC."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.support.node import RunningNode, running_node
from tests.support.parties import PartyServer

CPO = ("CH", "CPO")
MSP = ("DE", "MSP")
LOCATION = {
    "country_code": "CH",
    "party_id": "CPO",
    "id": "LOC1",
    "publish": True,
    "evses": [
        {
            "uid": "E1",
            "status": "AVAILABLE",
            "connectors": [],
            "last_updated": "2026-01-01T00:00:00Z",
        }
    ],
    "last_updated": "2026-01-01T00:00:00Z",
}


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


async def test_handshake_returns_hub_credentials(
    hub: tuple[RunningNode, PartyServer, PartyServer],
) -> None:
    node, cpo, _ = hub
    assert cpo.token_c
    # the node fetched the CPO's versions and details with token B (Base64 for 2.2.1)
    fetched = [r for r in cpo.received if r.path in ("/ocpi/versions", "/ocpi/2.2.1")]
    assert len(fetched) == 2
    expected_auth = "Token " + base64.b64encode(cpo.token_b.encode()).decode()
    assert all(r.headers["Authorization"] == expected_auth for r in fetched)
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"{node.url}/ocpi/2.2.1/credentials", headers={"Authorization": cpo.auth(cpo.token_c)}
        ) as r,
    ):
        body = await r.json()
    assert body["status_code"] == 1000
    assert body["data"]["roles"] == [
        {
            "role": "HUB",
            "business_details": {"name": "Open Charging Network Node"},
            "party_id": "OCN",
            "country_code": "CH",
        }
    ]
    assert body["data"]["url"] == f"{node.url}/ocpi/versions"


async def test_emsp_gets_cpo_location_through_node(
    hub: tuple[RunningNode, PartyServer, PartyServer],
) -> None:
    node, cpo, msp = hub
    cpo.answer("GET", "/ocpi/2.2.1/sender/locations/LOC1", LOCATION)
    headers = msp.routing_headers(to=CPO, correlation_id="corr-1")
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{node.url}/ocpi/sender/2.2.1/locations/LOC1", headers=headers) as r:
            status, raw, response_headers = r.status, await r.read(), r.headers
    assert status == 200
    body = json.loads(raw)
    assert body["status_code"] == 1000
    assert body["data"] == LOCATION
    # what the CPO received: its own token B, a fresh request id, the same correlation id
    forwarded = cpo.received[-1]
    assert forwarded.path == "/ocpi/2.2.1/sender/locations/LOC1"
    assert (
        forwarded.headers["Authorization"]
        == "Token " + base64.b64encode(cpo.token_b.encode()).decode()
    )
    assert forwarded.headers["X-Request-ID"] not in ("", headers["X-Request-ID"])
    assert forwarded.headers["X-Correlation-ID"] == "corr-1"
    assert forwarded.headers["OCPI-from-party-id"] == "MSP"
    assert forwarded.headers["OCPI-to-party-id"] == "CPO"
    # what the eMSP got back: its own request id, routing headers TO = eMSP, FROM = CPO
    assert response_headers["X-Request-ID"] == headers["X-Request-ID"]
    assert response_headers["X-Correlation-ID"] == "corr-1"
    assert response_headers["OCPI-to-party-id"] == "MSP"
    assert response_headers["OCPI-from-party-id"] == "CPO"
