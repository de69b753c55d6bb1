"""Issue 13 on the chain: two ``ocn-node run`` processes on anvil with the real Registry contract,
parties listed with the real ``ocn-registry`` CLI. Client info crosses the nodes signed and is
verified against the operators on chain; a broadcast reaches the other node's eMSP; a party
listed with a node but never registered there is PLANNED."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from tests.chain.conftest import Anvil, chain_with_nodes
from tests.support.ocn_cluster import ANVIL_KEYS, NodeProcess, eventually
from tests.support.parties import PartyServer

pytestmark = [pytest.mark.chain, pytest.mark.asyncio(loop_scope="module")]

CPA, MSB, NEW = ("CH", "CPA"), ("DE", "MSB"), ("IT", "NEW")
HUB = ("CH", "OCN")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def hubs(
    module_anvil: Anvil,
    contract_defs: dict[str, Any],
    peers: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[dict[str, NodeProcess], dict[str, PartyServer]]]:
    tmp = tmp_path_factory.mktemp("hubs")
    _, cli, nodes = chain_with_nodes(
        module_anvil, contract_defs, peers, tmp, "ab", OCN_PLANNED_PARTY_INTERVAL="0.5"
    )
    cli.set_party(*CPA, ["CPO"], nodes["a"].address, ANVIL_KEYS[3])
    cli.set_party(*MSB, ["EMSP"], nodes["b"].address, ANVIL_KEYS[4])
    cli.set_party(*NEW, ["CPO"], nodes["a"].address, ANVIL_KEYS[5])  # never registers
    parties = {
        "cpa": await PartyServer([("CPO", *CPA)]).start(),
        "msb": await PartyServer([("EMSP", *MSB)], custom=[("hubclientinfo", "RECEIVER")]).start(),
    }
    try:
        for node in nodes.values():
            await asyncio.to_thread(node.start)
        for name, home, (cc, pid) in (("msb", "b", MSB), ("cpa", "a", CPA)):
            result = await parties[name].register(nodes[home].url, nodes[home].token_a(cc, pid))
            assert result["status_code"] == 1000, result
        yield nodes, parties
    finally:
        for node in nodes.values():
            node.stop()
        for party in parties.values():
            await party.stop()


async def _listing(node: NodeProcess, party: PartyServer) -> dict[tuple[str, str], str]:
    headers = {"Authorization": party.auth(party.token_c)}
    url = f"{node.url}/ocpi/2.2.1/hubclientinfo"
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as r:
        body = await r.json()
    return {(c["country_code"], c["party_id"]): c["status"] for c in body["data"]}


async def test_client_info_crosses_nodes_verified_on_chain(
    hubs: tuple[dict[str, NodeProcess], dict[str, PartyServer]],
) -> None:
    nodes, parties = hubs
    msb = parties["msb"]

    async def connected() -> bool | None:
        return True if (await _listing(nodes["b"], msb)).get(CPA) == "CONNECTED" else None

    await eventually(connected)  # registered on A, pushed signed to B, B checked the operator
    pushed = [json.loads(r.body) for r in msb.received if r.path.endswith("/hubclientinfo/CH/CPA")]
    assert pushed[-1]["status"] == "CONNECTED"

    async def planned() -> bool | None:
        return True if (await _listing(nodes["a"], parties["cpa"])).get(NEW) == "PLANNED" else None

    await eventually(planned)  # listed with A on chain, never registered


async def test_broadcast_reaches_the_other_nodes_emsp(
    hubs: tuple[dict[str, NodeProcess], dict[str, PartyServer]],
) -> None:
    nodes, parties = hubs
    cpa, msb = parties["cpa"], parties["msb"]
    location = {"id": "L7", "country_code": "CH", "party_id": "CPA"}
    url = f"{nodes['a'].url}/ocpi/receiver/2.2.1/locations/CH/CPA/L7"
    async with (
        aiohttp.ClientSession() as http,
        http.put(url, json=location, headers=cpa.routing_headers(to=HUB)) as r,
    ):
        assert (await r.json())["status_code"] == 1000

    async def arrived() -> Any:
        found = [r for r in msb.received if r.method == "PUT" and r.path.endswith("/CH/CPA/L7")]
        return found[0] if found else None

    got = await eventually(arrived)
    assert json.loads(got.body) == location
    assert (got.headers["OCPI-to-country-code"], got.headers["OCPI-to-party-id"]) == MSB
