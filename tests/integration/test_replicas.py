"""Issue 15: three replicas of one node (real ``ocn-node run`` processes) sharing PostgreSQL
state behind nginx. Registration through one replica, routing through another, a command
result landing on a third; a deleted platform refused at once elsewhere; token A single use
across replicas; PostgreSQL restarted under the replicas; kill -9 of the job leader under load.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from benchmarks import nginx
from tests.support.node import free_port
from tests.support.parties import PartyServer
from tests.support.pg import PgServer
from tests.support.process import NodeProcess, admin_call, start_node, wait_ready
from tests.support.require import missing

pytestmark = pytest.mark.timeout(240)


@dataclass
class Cluster:
    pg: PgServer
    url: str  # nginx: the node's public URL
    replicas: list[NodeProcess]

    def admin(self, method: str, path: str, body: Any = None, via: str = "") -> tuple[int, Any]:
        """An admin call through nginx (or the replica URL ``via``); nginx's 502 page as text."""
        return admin_call(via or self.url, method, path, body)

    def list_party(self, role: str, cc: str, pid: str) -> None:
        """List a party with the node in every replica's own registry cache (local registry)."""
        for replica in self.replicas:
            status, body = replica.admin(
                "POST",
                "/admin/registry/parties",
                {"country_code": cc, "party_id": pid, "roles": [role]},
            )
            assert status == 200, body

    def token_a(self, cc: str, pid: str, via: NodeProcess) -> str:
        status, body = via.admin(
            "POST", "/admin/generate-registration-token", [{"country_code": cc, "party_id": pid}]
        )
        assert status == 200, body
        return str(body["token"])

    async def connect(self, party: PartyServer, via: NodeProcess) -> str:
        """List, issue token A on ``via`` and register through ``via``; the platform id."""
        role, cc, pid = party.roles[0]
        self.list_party(role, cc, pid)
        answer = await register(party, self.token_a(cc, pid, via), via.url, self.url)
        assert answer["status_code"] == 1000, answer
        return platform_id(via, cc, pid)


def leads(replica: NodeProcess) -> bool:
    """The replica holds the background-jobs lock now (by its log)."""
    return len(replica.events("leadership_acquired")) > len(replica.events("leadership_lost"))


def platform_id(replica: NodeProcess, cc: str, pid: str) -> str:
    status, platforms = replica.admin("GET", "/admin/platforms")
    assert status == 200
    for p in platforms:
        if any((r["country_code"], r["party_id"]) == (cc, pid) for r in p["roles"]):
            return str(p["id"])
    raise AssertionError(f"{cc} {pid} not registered: {platforms}")


async def register(party: PartyServer, token_a: str, replica_url: str, public: str) -> Any:
    """The credentials handshake with every request sent to ``replica_url`` itself."""
    async with aiohttp.ClientSession() as http:
        headers = {"Authorization": party.auth(token_a)}
        url = replica_url + "/ocpi/versions"
        async with http.get(url, headers=headers) as resp:
            answer = await resp.json()
        if answer["status_code"] != 1000:  # e.g. a rival registered with this token A already
            return answer
        versions = answer["data"]
        details = next(v["url"] for v in versions if v["version"] == party.version)
        async with http.get(details.replace(public, replica_url), headers=headers) as resp:
            endpoints = (await resp.json())["data"]["endpoints"]
        creds = next(e["url"] for e in endpoints if e["identifier"] == "credentials")
        async with http.post(
            creds.replace(public, replica_url), json=party.credentials(), headers=headers
        ) as resp:
            answer = await resp.json()
    if answer.get("status_code") == 1000:
        party.token_c = answer["data"]["token"]
    return answer


async def call(
    party: PartyServer, url: str, method: str, to: tuple[str, str], body: Any = None
) -> tuple[int, dict[str, Any]]:
    headers = party.routing_headers(to=to)
    async with aiohttp.ClientSession() as http:
        async with http.request(method, url, headers=headers, json=body) as r:
            return r.status, json.loads(await r.read())


@pytest.fixture(scope="module")
def cluster(pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if reason := nginx.available():
        missing(reason)
    root = tmp_path_factory.mktemp("replicas")
    lb_port, ports = free_port(), [free_port() for _ in range(3)]
    env = {
        "OCN_STATE_URL": pg_server.create_database("replicas"),
        "OCN_PRIVATE_KEY": secrets.token_hex(32),  # one node: one key, one public URL
        "OCN_PUBLIC_URL": f"http://127.0.0.1:{lb_port}",
    }
    replicas = [
        start_node(root / f"r{i}", workers=1, env=env, port=port, wait=False)
        for i, port in enumerate(ports)
    ]
    balancer = None
    try:
        for replica in replicas:
            wait_ready(replica)
        balancer = nginx.start(root / "nginx", 1, nginx.balancer_body(lb_port, ports), lb_port)
        yield Cluster(pg_server, f"http://127.0.0.1:{lb_port}", replicas)
    finally:
        if balancer is not None:
            balancer.terminate()
            balancer.wait(10)
        for replica in replicas:
            replica.kill()


async def test_register_on_one_route_on_another_result_on_a_third(cluster: Cluster) -> None:
    one, two, three = cluster.replicas
    cpo = await PartyServer([("CPO", "CH", "CPA")]).start()
    msp = await PartyServer([("EMSP", "DE", "MSA")]).start()
    try:
        await cluster.connect(cpo, via=one)
        await cluster.connect(msp, via=one)
        original = f"{msp.base}/callbacks/start/1"
        body = {"response_url": original, "location_id": "L1"}
        url = two.url + "/ocpi/receiver/2.2/commands/START_SESSION"
        status, answer = await call(msp, url, "POST", ("CH", "CPA"), body)
        assert (status, answer["status_code"]) == (200, 1000), answer
        proxied = json.loads(cpo.received[-1].body)["response_url"]
        assert proxied.startswith(cluster.url + "/ocpi/sender/2.2/commands/START_SESSION/")
        # the CPO's result reaches the third replica, which finds the proxy made by the second
        result_url = proxied.replace(cluster.url, three.url)
        status, answer = await call(cpo, result_url, "POST", ("DE", "MSA"), {"result": "ACCEPTED"})
        assert (status, answer["status_code"]) == (200, 1000), answer
        got = msp.received[-1]
        assert (got.method, got.path, json.loads(got.body)) == (
            "POST",
            "/callbacks/start/1",
            {"result": "ACCEPTED"},
        )
    finally:
        await cpo.stop()
        await msp.stop()


async def test_a_platform_deleted_on_one_replica_is_refused_at_once_on_the_others(
    cluster: Cluster,
) -> None:
    one, two, three = cluster.replicas
    cpo = await PartyServer([("CPO", "CH", "CPB")]).start()
    try:
        await cluster.connect(cpo, via=two)
        for i in range(4):  # each cycle: register, route (warm caches), delete on 1, route on 2/3
            msp = await PartyServer([("EMSP", "DE", f"MB{i}")]).start()
            try:
                pid = await cluster.connect(msp, via=three)
                for replica in (two, three):
                    url = replica.url + "/ocpi/receiver/2.2/locations/L1"
                    status, answer = await call(msp, url, "GET", ("CH", "CPB"))
                    assert answer["status_code"] == 1000, answer
                seen = len(cpo.received)
                status, _ = one.admin("DELETE", f"/admin/platforms/{pid}")
                assert status == 200
                for replica in (two, three):  # at once: no wait between the delete and these
                    url = replica.url + "/ocpi/receiver/2.2/locations/L1"
                    status, answer = await call(msp, url, "GET", ("CH", "CPB"))
                    assert (status, answer["status_code"]) == (401, 2001), answer
                assert len(cpo.received) == seen  # nothing was forwarded with the revoked token
            finally:
                await msp.stop()
    finally:
        await cpo.stop()


async def test_token_a_is_single_use_when_two_replicas_race(cluster: Cluster) -> None:
    one, two, three = cluster.replicas
    cluster.list_party("CPO", "CH", "RCE")
    for _ in range(3):
        token = cluster.token_a("CH", "RCE", via=one)
        rivals = [await PartyServer([("CPO", "CH", "RCE")]).start() for _ in range(2)]
        try:
            answers = await asyncio.gather(
                register(rivals[0], token, two.url, cluster.url),
                register(rivals[1], token, three.url, cluster.url),
            )
            codes = sorted(a["status_code"] for a in answers)
            assert codes[0] == 1000, answers
            assert codes[1] != 1000, answers
            status, _ = one.admin("DELETE", f"/admin/platforms/{platform_id(one, 'CH', 'RCE')}")
            assert status == 200
        finally:
            for rival in rivals:
                await rival.stop()


async def test_postgresql_restart_replicas_serve_from_cache_then_reconnect(
    cluster: Cluster,
) -> None:
    one, two, three = cluster.replicas
    cpo = await PartyServer([("CPO", "CH", "CPC")]).start()
    msp = await PartyServer([("EMSP", "DE", "MSC")]).start()
    try:
        await cluster.connect(cpo, via=one)
        await cluster.connect(msp, via=two)
        listening = [len(r.events("state_listening")) for r in cluster.replicas]
        cluster.pg.stop()
        try:
            for replica in cluster.replicas:  # routing reads the replica's mirror only
                url = replica.url + "/ocpi/receiver/2.2/locations/L2"
                status, answer = await call(msp, url, "GET", ("CH", "CPC"))
                assert (status, answer["status_code"]) == (200, 1000), answer
            status, body = one.admin(
                "POST",
                "/admin/generate-registration-token",
                [{"country_code": "NL", "party_id": "XXX"}],
            )
            assert (status, body["error"]) == (503, "state_unavailable")  # never acknowledged
        finally:
            cluster.pg.start()
        for replica, before in zip(cluster.replicas, listening, strict=True):
            replica.wait_for("state_listening", before + 1, timeout=15)  # reconnected, reloaded
        late = await PartyServer([("EMSP", "NL", "MSD")]).start()
        try:
            await cluster.connect(late, via=three)
            url = one.url + "/ocpi/receiver/2.2/locations/L3"
            status, answer = await call(late, url, "GET", ("CH", "CPC"))
            assert (status, answer["status_code"]) == (200, 1000), answer
        finally:
            await late.stop()
    finally:
        await cpo.stop()
        await msp.stop()


async def test_ocn_rules_set_through_one_replica_apply_at_once_on_another(
    cluster: Cluster,
) -> None:
    one, two, three = cluster.replicas
    cpo = await PartyServer([("CPO", "CH", "CPF")]).start()
    msp = await PartyServer([("EMSP", "DE", "MSF")]).start()
    try:
        await cluster.connect(cpo, via=one)
        await cluster.connect(msp, via=two)
        url = three.url + "/ocpi/receiver/2.2/locations/L5"
        _, answer = await call(msp, url, "GET", ("CH", "CPF"))
        assert answer["status_code"] == 1000, answer
        seen = len(cpo.received)
        rules_url = one.url + f"/ocpi/receiver/{cpo.version}/ocnrules/blacklist"
        entry = {"country_code": "DE", "party_id": "MSF", "modules": []}
        async with aiohttp.ClientSession() as http:
            headers = {"Authorization": cpo.auth(cpo.token_c)}
            async with http.post(rules_url, headers=headers, json=entry) as r:
                assert (await r.json())["status_code"] == 1000
        _, answer = await call(msp, url, "GET", ("CH", "CPF"))  # at once, on another replica
        assert answer["status_code"] != 1000, answer
        assert len(cpo.received) == seen  # refused at the hub, never forwarded
    finally:
        await cpo.stop()
        await msp.stop()


async def test_kill_9_of_the_job_leader_under_load(cluster: Cluster) -> None:
    """(Last in the module: it kills a replica.) No acknowledged write is lost, the others keep serving, another replica leads the jobs."""
    cpo = await PartyServer([("CPO", "CH", "CPE")]).start()
    msp = await PartyServer([("EMSP", "DE", "MSE")]).start()
    try:
        await cluster.connect(cpo, via=cluster.replicas[0])
        await cluster.connect(msp, via=cluster.replicas[1])
        deadline = time.monotonic() + 10
        leaders: list[NodeProcess] = []
        while len(leaders) != 1:  # (the PostgreSQL restart above may have moved the lock)
            leaders = [r for r in cluster.replicas if leads(r)]
            assert time.monotonic() < deadline, f"{len(leaders)} replicas hold the jobs lock"
            await asyncio.sleep(0.05)
        victim = leaders[0]
        survivors = [r for r in cluster.replicas if r is not victim]

        acknowledged: list[str] = []
        stop = threading.Event()

        def burst() -> None:  # registration tokens through nginx until told to stop
            for i in range(3000):
                if stop.is_set():
                    return
                try:
                    status, body = cluster.admin(
                        "POST",
                        "/admin/generate-registration-token",
                        [{"country_code": "NL", "party_id": f"{i % 1000:03d}"}],
                    )
                except OSError:
                    continue
                if status == 200:
                    acknowledged.append(body["token"])

        writer = threading.Thread(target=burst)
        writer.start()
        try:
            while len(acknowledged) < 30:
                assert writer.is_alive()
                await asyncio.sleep(0.01)
            os.kill(victim.pid, signal.SIGKILL)
            killed_at = time.monotonic()
            victim.proc.wait(10)
            for _ in range(20):  # the others keep serving (nginx skips the dead replica)
                status, answer = await call(
                    msp, cluster.url + "/ocpi/receiver/2.2/locations/L4", "GET", ("CH", "CPE")
                )
                assert (status, answer["status_code"]) == (200, 1000), answer
            while len(acknowledged) < 60:
                assert writer.is_alive()
                await asyncio.sleep(0.01)
        finally:
            stop.set()
            writer.join(30)
        taken = None
        while taken is None:
            taken = next((r for r in survivors if leads(r)), None)
            assert time.monotonic() - killed_at < 10, "no survivor took over the background jobs"
            await asyncio.sleep(0.05)
        async with aiohttp.ClientSession() as http:
            for i, token in enumerate(acknowledged):  # every acknowledged token A is there
                url = survivors[i % 2].url + "/ocpi/versions"
                async with http.get(url, headers={"Authorization": f"Token {token}"}) as resp:
                    assert (await resp.json())["status_code"] == 1000
    finally:
        await cpo.stop()
        await msp.stop()
