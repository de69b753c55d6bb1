"""Issue 12 with real processes: three ``ocn-node run`` nodes on one anvil chain with the real
Registry contracts, nodes and parties listed with the real ``ocn-registry`` CLI, real HTTP party
servers. One chain and one set of nodes serve the whole module (tests run in file order)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from eth_account import Account

from tests.chain.conftest import Anvil, chain_with_nodes
from tests.support.ocn_cluster import ANVIL_KEYS, NodeProcess, RegistryCli, eventually
from tests.support.parties import PartyServer

pytestmark = [pytest.mark.chain, pytest.mark.asyncio(loop_scope="module")]

MSP = ("DE", "MSP")  # on node A
CPB = ("CH", "CPB")  # on node B
CPC = ("CH", "CPC")  # on node C
NSP = ("NL", "NSP")  # service provider on node C
NSA = ("NL", "NSA")  # service provider on node A


@dataclass
class Cluster:
    anvil: Anvil
    cli: RegistryCli
    nodes: dict[str, NodeProcess]
    parties: dict[str, PartyServer]
    keys: dict[str, str]  # party name -> registry key

    async def call(
        self, party: str, node: str, method: str, path: str, to: tuple[str, str], body: Any = None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        src = self.parties[party]
        headers = src.routing_headers(to=to)
        url = path if path.startswith("http") else self.nodes[node].url + path
        async with (
            aiohttp.ClientSession() as http,
            http.request(method, url, headers=headers, json=body) as r,
        ):
            return r.status, json.loads(await r.read()), dict(r.headers)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster(
    module_anvil: Anvil,
    contract_defs: dict[str, Any],
    peers: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Cluster]:
    tmp = tmp_path_factory.mktemp("cluster")
    chain, cli, nodes = chain_with_nodes(
        module_anvil, contract_defs, peers, tmp, "abc", OCN_FORWARD_TIMEOUT="5"
    )
    assert [n.address for n in nodes.values()] == chain.accounts[1:4]
    keys = {
        "msp": ANVIL_KEYS[3],
        "cpb": ANVIL_KEYS[4],
        "cpc": ANVIL_KEYS[5],
        "nsp": ANVIL_KEYS[6],
        "nsa": ANVIL_KEYS[7],
    }
    homes = {
        "msp": ("a", MSP, "EMSP"),
        "cpb": ("b", CPB, "CPO"),
        "cpc": ("c", CPC, "CPO"),
        "nsp": ("c", NSP, "NSP"),
        "nsa": ("a", NSA, "NSP"),
    }
    for name, (home, (cc, pid), role) in homes.items():
        cli.set_party(cc, pid, [role], nodes[home].address, keys[name])
    # two services: NSP (node C) copies of locations sender requests, NSA (node A) everything
    cli.set_service("nsp", ["FORWARD_MODULE_LOCATIONS_SENDER"], keys["nsp"])
    cli.set_service("nsa", ["FORWARD_ALL"], keys["nsa"])
    for provider in ("nsp", "nsa"):
        cli.agreement(_address(keys[provider]), keys["msp"])
    parties = {
        name: await PartyServer([(role, cc, pid)]).start()
        for name, (_, (cc, pid), role) in homes.items()
    }
    try:
        for node in nodes.values():
            await asyncio.to_thread(node.start)
        for name, (home, (cc, pid), _) in homes.items():
            node = nodes[home]
            result = await parties[name].register(node.url, node.token_a(cc, pid))
            assert result["status_code"] == 1000, result
        yield Cluster(module_anvil, cli, nodes, parties, keys)
    finally:
        for node in nodes.values():
            node.stop()
        for party in parties.values():
            await party.stop()


def _address(key: str) -> str:
    return str(Account.from_key(key).address)


async def test_requests_cross_nodes_both_ways(cluster: Cluster) -> None:
    cluster.parties["cpb"].answer("GET", "/ocpi/2.2.1/sender/locations/L1", {"id": "L1"})
    status, body, headers = await cluster.call(
        "msp", "a", "GET", "/ocpi/sender/2.2/locations/L1", CPB
    )
    assert (status, body["status_code"], body["data"]) == (200, 1000, {"id": "L1"})
    assert headers["OCPI-from-party-id"] == "CPB"
    _, body, _ = await cluster.call(
        "cpb", "b", "PUT", "/ocpi/receiver/2.2.1/sessions/CH/CPB/S1", MSP, {"id": "S1"}
    )
    assert body["status_code"] == 1000, body
    got = cluster.parties["msp"].received[-1]
    assert (got.method, got.path, json.loads(got.body)) == (
        "PUT", "/ocpi/2.2.1/receiver/sessions/CH/CPB/S1", {"id": "S1"})  # fmt: skip


async def test_three_nodes_command_and_its_result(cluster: Cluster) -> None:
    """A's eMSP commands C's CPO; the result comes back from C to A; B is not involved."""
    callback = f"{cluster.parties['msp'].base}/cb/cmd?ref=1"
    body = {"response_url": callback, "token": {"uid": "T"}, "location_id": "L1"}
    _, answer, _ = await cluster.call(
        "msp", "a", "POST", "/ocpi/receiver/2.2.1/commands/START_SESSION", CPC, body
    )
    assert answer["status_code"] == 1000, answer
    got = cluster.parties["cpc"].received[-1]
    rewritten = json.loads(got.body)["response_url"]
    assert rewritten.startswith(cluster.nodes["c"].url + "/ocpi/sender/2.2/commands/START_SESSION/")
    _, answer, _ = await cluster.call("cpc", "c", "POST", rewritten, MSP, {"result": "ACCEPTED"})
    assert answer["status_code"] == 1000, answer
    got = cluster.parties["msp"].received[-1]
    assert (got.path, got.query, json.loads(got.body)) == (
        "/cb/cmd",
        "ref=1",
        {"result": "ACCEPTED"},
    )
    # and between B's and C's parties, neither of them on A
    _, answer, _ = await cluster.call("cpb", "b", "GET", "/ocpi/sender/2.2.1/tariffs", CPC)
    assert answer["status_code"] == 1000, answer


async def test_service_providers_get_copies_until_revoked(cluster: Cluster) -> None:
    msp, nsp, nsa = (cluster.parties[n] for n in ("msp", "nsp", "nsa"))
    headers = msp.routing_headers(to=CPB)
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            cluster.nodes["a"].url + "/ocpi/sender/2.2.1/locations/COPY1", headers=headers
        ) as r,
    ):
        assert json.loads(await r.read())["status_code"] == 1000

    def copies(party: PartyServer, path: str) -> list[Any]:
        return [r for r in party.received if r.path == path]

    async def both_copied() -> bool | None:
        path = "/ocpi/2.2.1/sender/locations/COPY1"
        return True if copies(nsp, path) and copies(nsa, path) else None

    await eventually(both_copied, timeout=20)
    for party, pid in ((nsp, NSP[1]), (nsa, NSA[1])):  # remote (C) and local (A) provider
        got = copies(party, "/ocpi/2.2.1/sender/locations/COPY1")[0]
        assert got.headers["OCPI-to-party-id"] == pid
        assert got.headers["OCPI-from-party-id"] == MSP[1]
        assert got.headers["X-Correlation-ID"] == headers["X-Correlation-ID"]
    # NSP's permission covers locations (sender) only; NSA gets everything
    _, body, _ = await cluster.call("msp", "a", "GET", "/ocpi/sender/2.2.1/tariffs/T1", CPB)
    assert body["status_code"] == 1000
    await eventually(lambda: _some(copies(nsa, "/ocpi/2.2.1/sender/tariffs/T1")), timeout=20)
    assert copies(nsp, "/ocpi/2.2.1/sender/tariffs/T1") == []
    # revoked on chain: no more copies for NSP once the nodes follow
    await asyncio.to_thread(
        cluster.cli.agreement, _address(cluster.keys["nsp"]), cluster.keys["msp"], True
    )

    async def revoked() -> bool | None:
        path = f"/ocpi/2.2.1/sender/locations/R{time.monotonic_ns()}"
        before = len(nsa.received)
        await cluster.call("msp", "a", "GET", path.replace("/2.2.1/sender", "/sender/2.2.1"), CPB)
        await eventually(lambda: _some(len(nsa.received) > before or None), timeout=20)
        await asyncio.sleep(0.3)
        return True if copies(nsp, path) == [] else None

    await eventually(revoked, timeout=30)


async def _some(value: Any) -> Any:
    return value or None


async def test_a_party_moved_with_the_cli_routes_to_its_new_node(cluster: Cluster) -> None:
    """C's CPO is re-listed with node B: A routes to B within a poll; B answers 4001 until the
    party registers there, then delivers; listed with C again, A routes to C again."""
    b = cluster.nodes["b"]
    await asyncio.to_thread(cluster.cli.set_party, *CPC, ["CPO"], b.address, cluster.keys["cpc"])

    async def routed_to_b() -> dict[str, Any] | None:
        _, body, _ = await cluster.call("msp", "a", "GET", "/ocpi/sender/2.2.1/locations/X", CPC)
        return body if body.get("status_code") == 4001 else None

    body = await eventually(routed_to_b)
    assert body["status_message"] == "Recipient unknown to OCN Node entered in Registry"
    moved = await PartyServer([("CPO", *CPC)]).start()
    try:

        async def registered() -> bool | None:  # once node B's own cache has the move too
            result = await moved.register(b.url, b.token_a(*CPC))
            return True if result["status_code"] == 1000 else None

        await eventually(registered)
        _, body, _ = await cluster.call("msp", "a", "GET", "/ocpi/sender/2.2.1/locations/X", CPC)
        assert body["status_code"] == 1000, body
        assert moved.received[-1].path == "/ocpi/2.2.1/sender/locations/X"

        # the other way: the moved party sends from its new node; node A checks node B's
        # signature against the party's new operator
        async def sent_from_b() -> dict[str, Any] | None:
            headers = moved.routing_headers(to=MSP)
            url = b.url + "/ocpi/receiver/2.2.1/sessions/CH/CPC/S9"
            async with (
                aiohttp.ClientSession() as http,
                http.put(url, headers=headers, json={"id": "S9"}) as r,
            ):
                body = json.loads(await r.read())
            return body if body["status_code"] == 1000 else None

        await eventually(sent_from_b)
        assert cluster.parties["msp"].received[-1].path == "/ocpi/2.2.1/receiver/sessions/CH/CPC/S9"
        # and back to node C, where its first connection still stands
        c = cluster.nodes["c"]
        await asyncio.to_thread(
            cluster.cli.set_party, *CPC, ["CPO"], c.address, cluster.keys["cpc"]
        )
        original = cluster.parties["cpc"]

        async def back_at_c() -> bool | None:
            before = len(original.received)
            path = "/ocpi/sender/2.2.1/locations/BACK"
            _, body, _ = await cluster.call("msp", "a", "GET", path, CPC)
            return True if body["status_code"] == 1000 and len(original.received) > before else None

        await eventually(back_at_c)
    finally:
        await moved.stop()


async def test_chain_down_known_routes_keep_working(cluster: Cluster) -> None:
    cluster.anvil.stop()
    try:
        _, body, _ = await cluster.call("msp", "a", "GET", "/ocpi/sender/2.2.1/locations/L1", CPB)
        assert body["status_code"] == 1000, body
    finally:
        cluster.anvil.start()


async def test_remote_node_down_answers_4003_within_the_timeout(cluster: Cluster) -> None:
    cluster.nodes["b"].stop()
    started = time.monotonic()
    _, body, _ = await cluster.call("msp", "a", "GET", "/ocpi/sender/2.2.1/locations/L1", CPB)
    assert body["status_code"] == 4003, body
    assert time.monotonic() - started < 5


async def test_remote_node_back_after_restart_serves_again(cluster: Cluster) -> None:
    """Node B restarted on its data dir: A's pooled connections to it are stale, the next
    message goes out on a fresh one and is delivered once."""
    await asyncio.to_thread(cluster.nodes["b"].start)
    cpb = cluster.parties["cpb"]
    before = len(cpb.received)
    _, body, _ = await cluster.call("msp", "a", "GET", "/ocpi/sender/2.2.1/locations/L1", CPB)
    assert body["status_code"] == 1000, body
    assert len(cpb.received) == before + 1
