"""Issue 13 across two nodes (issue 12 federation): broadcast, rules, client info, open routing.

Node A serves a CPO and an eMSP, node B two eMSPs; both nodes list every node and party in
their local registries (what the chain would tell them) and talk over real ``/ocn/message`` and
``/ocn/client-info`` requests.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.federation import mirror
from tests.support.hub import send
from tests.support.hubnet import received, until
from tests.support.node import RunningNode, running_node
from tests.support.parties import PartyServer

HUB = ("CH", "OCN")
CPO, MSA, MSB, MSC = ("CH", "CP1"), ("DE", "MSA"), ("NL", "MSB"), ("FR", "MSC")
HUBCLIENTINFO = ("hubclientinfo", "RECEIVER")


@dataclass
class Pair:
    a: RunningNode
    b: RunningNode
    cpo: PartyServer  # on A
    msa: PartyServer  # on A
    msb: PartyServer  # on B
    msc: PartyServer  # on B

    async def call(
        self, party: PartyServer, node: RunningNode, method: str, path: str,
        to: tuple[str, str] | None, body: Any = None,
    ) -> tuple[int, dict[str, Any], dict[str, str]]:  # fmt: skip
        headers = party.routing_headers(to=to or ("XX", "XXX"))
        if to is None:
            del headers["OCPI-to-country-code"], headers["OCPI-to-party-id"]
        return await send(node.url, method, path, headers, body)

    async def rules(self, party: PartyServer, node: RunningNode, suffix: str, body: Any) -> None:
        url = f"{node.url}/ocpi/receiver/2.2.1/ocnrules/{suffix}"
        headers = {"Authorization": party.auth(party.token_c)}
        async with aiohttp.ClientSession() as http, http.post(url, json=body, headers=headers) as r:
            assert (await r.json())["status_code"] == 1000


@contextlib.asynccontextmanager
async def two_hubs(tmp: Path) -> AsyncIterator[Pair]:
    cpo = PartyServer([("CPO", *CPO)])
    msa = PartyServer([("EMSP", *MSA)], custom=[HUBCLIENTINFO])
    msb = PartyServer([("EMSP", *MSB)], custom=[HUBCLIENTINFO])
    msc = PartyServer([("EMSP", *MSC)])
    parties = (cpo, msa, msb, msc)
    for party in parties:
        await party.start()
    try:
        async with running_node(tmp / "a") as a, running_node(tmp / "b") as b:
            homes = [(a, cpo), (a, msa), (b, msb), (b, msc)]
            mirror([a, b], homes)
            for node, party in homes:
                await node.register(party, listed=True)
            yield Pair(a, b, cpo, msa, msb, msc)
    finally:
        for party in parties:
            await party.stop()


@pytest.fixture
async def pair(tmp_path: Path) -> AsyncIterator[Pair]:
    async with two_hubs(tmp_path) as p:
        yield p


async def test_broadcast_reaches_the_other_node_and_its_rules_apply_there(pair: Pair) -> None:
    rule = {"country_code": "CH", "party_id": "CP1", "modules": ["locations"]}
    await pair.rules(pair.msc, pair.b, "blacklist", rule)
    location = {
        "id": "L1",
        "country_code": "CH",
        "party_id": "CP1",
        "last_updated": "2026-01-01T00:00:00Z",
    }
    path = "/ocpi/receiver/2.2.1/locations/CH/CP1/L1"
    status, body, _ = await pair.call(pair.cpo, pair.a, "PUT", path, HUB, location)
    assert (status, body["status_code"]) == (200, 1000)
    await until(
        lambda: bool(
            received(pair.msa, "PUT", "/CH/CP1/L1") and received(pair.msb, "PUT", "/CH/CP1/L1")
        )
    )
    local, remote = (
        received(pair.msa, "PUT", "/CH/CP1/L1")[0],
        received(pair.msb, "PUT", "/CH/CP1/L1")[0],
    )
    assert (local.headers["OCPI-from-country-code"], local.headers["OCPI-from-party-id"]) == HUB
    # across nodes the leg names the original party (node B checks it against the registry)
    assert (remote.headers["OCPI-from-country-code"], remote.headers["OCPI-from-party-id"]) == CPO
    assert (remote.headers["OCPI-to-country-code"], remote.headers["OCPI-to-party-id"]) == MSB
    assert json.loads(remote.body) == location
    await pair.a.engine.ctx.hub.drain()
    assert received(pair.msc, "PUT", "/CH/CP1/L1") == []  # blocked by its rules at node B
    assert pair.a.engine.health()["hub"]["broadcast_refused"] == 1
    # the same rule answers a direct request across the nodes
    status, body, _ = await pair.call(pair.cpo, pair.a, "PUT", path, MSC, location)
    assert (status, body["status_code"]) == (400, 2000)


async def test_open_routing_reaches_a_token_issuer_on_the_other_node(pair: Pair) -> None:
    cdr = {"id": "C1", "cdr_token": {"uid": "T1", "country_code": "NL", "party_id": "MSB"}}
    status, body, headers = await pair.call(
        pair.cpo, pair.a, "POST", "/ocpi/receiver/2.2.1/cdrs", None, cdr
    )
    assert (status, body["status_code"]) == (200, 1000)
    assert (headers["OCPI-from-country-code"], headers["OCPI-from-party-id"]) == MSB
    (got,) = received(pair.msb, "POST", "/receiver/cdrs")
    assert (got.headers["OCPI-to-country-code"], got.headers["OCPI-to-party-id"]) == MSB


async def test_status_changes_on_one_node_reach_the_parties_of_the_other(pair: Pair) -> None:
    async with aiohttp.ClientSession() as http:
        headers = {"Authorization": pair.msc.auth(pair.msc.token_c)}
        async with http.delete(f"{pair.b.url}/ocpi/2.2.1/credentials", headers=headers) as r:
            assert (await r.json())["status_code"] == 1000

    def pushed() -> list[str]:
        return [
            json.loads(r.body)["status"] for r in received(pair.msa, "PUT", "/hubclientinfo/FR/MSC")
        ]

    await until(lambda: "SUSPENDED" in pushed())  # B -> /ocn/client-info on A -> A's eMSP
    info = pair.a.engine.ctx.hub.clientinfo.get("FR", "MSC", "EMSP")
    assert info is not None
    assert (info.status, info.node) == ("SUSPENDED", pair.b.engine.ctx.node_address)
    # and A's own parties are listed on B with their real status
    headers = {"Authorization": pair.msb.auth(pair.msb.token_c)}
    _, body, _ = await send(pair.b.url, "GET", "/ocpi/2.2.1/hubclientinfo", headers)
    listed = {(c["country_code"], c["party_id"]): c["status"] for c in body["data"]}
    assert listed[CPO] == "CONNECTED"
    assert listed[MSC] == "SUSPENDED"
