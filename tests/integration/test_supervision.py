"""Issue 10 §4 / 14 §4: a real ``ocn-node run --workers 2`` supervised, drained, locked, audited."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import signal
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from ocpi_gateway.supervisor import worker_cpus
from tests.support.parties import PartyServer
from tests.support.process import NodeProcess, ocn_node, start_node
from tests.support.require import missing

CPO, MSP = ("CH", "CPO"), ("DE", "MSP")


def _workers_answering(port: int) -> set[int]:
    """The worker pids answering two connections held open together (one per worker)."""
    conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=5) for _ in range(2)]
    pids = set()
    for conn in conns:
        conn.request("GET", "/health/details")
        pids.add(int(json.loads(conn.getresponse().read())["worker_pid"]))
    for conn in conns:
        conn.close()
    return pids


def test_a_killed_worker_is_logged_and_replaced_and_sighup_is_harmless(tmp_path: Path) -> None:
    node = start_node(tmp_path / "d")
    try:
        started = {line["pid"] for line in node.wait_for("worker_ready", 2)}
        assert _workers_answering(node.port) == started
        victim = min(started)
        os.kill(victim, signal.SIGKILL)
        exited = node.wait_for("worker_exited")[0]
        assert (exited["pid"], exited["signal"], exited["during_start"]) == (
            victim,
            "SIGKILL",
            False,
        )
        replacement = node.wait_for("worker_ready", 3)[-1]
        assert replacement["worker"] == exited["worker"]
        assert replacement["pid"] not in started
        live = (started - {victim}) | {replacement["pid"]}
        assert _workers_answering(node.port) == live

        os.kill(node.pid, signal.SIGHUP)
        assert len(node.wait_for("sighup", 3)) == 3  # the parent and both workers
        assert node.proc.poll() is None
        assert node.get("/health")[0] == 200
        assert node.stop() == 0
        stopped = {line["pid"]: line for line in node.events("worker_stopped")}
        assert set(stopped) == live
        assert all(line.get("exit_code") == 0 for line in stopped.values())
    finally:
        node.kill()


def test_a_worker_failing_at_start_up_stops_the_node_with_a_clear_message(
    tmp_path: Path,
) -> None:
    data = tmp_path / "d"
    data.mkdir()
    (data / "lmdb").write_text("not a directory")  # every worker fails to open its store
    node = start_node(data, wait=False)
    try:
        assert node.proc.wait(timeout=30) == 1
        failures = node.events("worker_failed")
        assert len(failures) >= 3
        assert "FileExistsError" in failures[0]["exception"]  # the worker's traceback
        assert all(line["during_start"] for line in node.events("worker_exited"))
        given_up = node.events("node_start_failed")
        assert len(given_up) == 1
        assert "failed to start 3 times in a row" in given_up[0]["detail"]
    finally:
        node.kill()


def test_one_node_per_data_dir_while_admin_and_registry_commands_keep_working(
    tmp_path: Path,
) -> None:
    data = tmp_path / "d"
    node = start_node(data)  # no --public-url: it follows --port
    try:
        _, body = node.get("/ocn/registry/node-info")
        assert json.loads(body)["url"] == node.url
        second = ocn_node("run", "--data-dir", str(data), "--port", "1", timeout=30)
        assert second.returncode == 1
        assert f"data dir {data} is in use by another running node (pid {node.pid})" in (
            second.stderr
        )
        # the admin CLI on the same data dir, with its own default settings, works and
        # leaves the node's registry entry alone (it used to re-list the node on :8080)
        out = ocn_node("admin", "party", "NL", "ABC", "CPO", "--data-dir", str(data))
        assert out.returncode == 0, out.stderr
        out = ocn_node("admin", "--data-dir", str(data), "token", "NL:ABC:CPO", "--ttl", "60")
        assert out.returncode == 0, out.stderr
        issued = json.loads(out.stdout)
        assert issued["versions"] == node.url + "/ocpi/versions"  # the URL the node is listed at
        assert time.strptime(issued["expires_at"], "%Y-%m-%dT%H:%M:%SZ")  # ISO 8601 UTC
        out = ocn_node("registry", "--data-dir", str(data), "list-nodes")
        assert out.returncode == 0, out.stderr
        assert [n["url"] for n in json.loads(out.stdout)] == [node.url]
        out = ocn_node("registry", "show-party", "nl", "abc", "--data-dir", str(data))
        assert json.loads(out.stdout)["node_url"] == node.url
        assert node.stop() == 0
        # the lock died with the node: the data dir can be served again
        again = start_node(data, workers=1)
        assert again.stop() == 0
    finally:
        node.kill()


async def test_sigterm_drains_an_in_flight_request_and_registrations_are_audited(
    tmp_path: Path,
) -> None:
    cpo = await PartyServer([("CPO", *CPO)]).start()
    msp = await PartyServer([("EMSP", *MSP)], delay=1.5).start()  # a slow receiver
    stranger = await PartyServer([("CPO", "NL", "NOP")]).start()
    node = start_node(tmp_path / "d", env={"OCN_SHUTDOWN_GRACE": "20"})
    tokens = []
    try:
        tokens += await _connect(node, (cpo, CPO, "CPO"), (msp, MSP, "EMSP"))
        # not listed in the registry: refused, and the log says who and why
        _, body = node.admin(
            "POST",
            "/admin/generate-registration-token",
            [{"country_code": "NL", "party_id": "NOP"}],
        )
        assert (await stranger.register(node.url, body["token"]))["status_code"] == 2001

        async with aiohttp.ClientSession() as http:
            url = f"{node.url}/ocpi/receiver/2.2.1/locations/CH/CPO/L1"
            slow = asyncio.ensure_future(
                http.put(url, json={"id": "L1"}, headers=cpo.routing_headers(to=MSP))
            )
            await asyncio.sleep(0.5)  # the request waits on the slow receiver now
            os.kill(node.pid, signal.SIGTERM)
            await asyncio.sleep(0.3)
            refused = socket.socket()
            assert refused.connect_ex(("127.0.0.1", node.port)) != 0  # no new connections
            refused.close()
            assert not slow.done()
            async with await slow as resp:
                assert resp.status == 200
                assert (await resp.json())["status_code"] == 1000
        assert await asyncio.to_thread(node.proc.wait, 20) == 0
        assert any(r.method == "PUT" for r in msp.received)

        accepted = node.events("registration_accepted")
        assert sorted(p for line in accepted for p in line["parties"]) == [
            "CH CPO CPO",
            "DE MSP EMSP",
        ]
        refused_lines = node.events("registration_refused")
        assert len(refused_lines) == 1
        assert refused_lines[0]["parties"] == ["NL NOP CPO"]
        assert "not listed in OCN Registry" in refused_lines[0]["reason"]
        issued = node.events("registration_token_issued")
        assert [line["parties"] for line in issued] == [["CH CPO *"], ["DE MSP *"], ["NL NOP *"]]
        assert not any(token in node.text() for token in tokens)  # secrets stay out of the log
        assert len(node.events("registry_party_set")) == 2
        assert node.events("node_stopping")[0]["reason"] == "SIGTERM"
    finally:
        node.kill()
        for party in (cpo, msp, stranger):
            await party.stop()


def test_kill_9_during_a_write_burst_loses_no_acknowledged_write(tmp_path: Path) -> None:
    """Every token and listing the node acknowledged is there after kill -9 of every process."""
    data = tmp_path / "d"
    node = start_node(data)
    acknowledged: list[tuple[str, str]] = []  # (party id, token A)
    stop = threading.Event()

    def burst() -> None:
        for i in range(1000):
            if stop.is_set():
                return
            pid = f"{i:03d}"
            try:
                status, _ = node.admin(
                    "POST",
                    "/admin/registry/parties",
                    {"country_code": "NL", "party_id": pid, "roles": ["CPO"]},
                )
                if status != 200:
                    continue
                status, body = node.admin(
                    "POST",
                    "/admin/generate-registration-token",
                    [{"country_code": "NL", "party_id": pid}],
                )
            except OSError:
                return  # the node is gone
            if status == 200:
                acknowledged.append((pid, body["token"]))

    try:
        workers = [line["pid"] for line in node.wait_for("worker_ready", 2)]
        writer = threading.Thread(target=burst)
        writer.start()
        while len(acknowledged) < 20:
            assert writer.is_alive()
            time.sleep(0.01)
        for pid in (node.pid, *workers):  # the whole tree at once, mid-burst
            os.kill(pid, signal.SIGKILL)
        stop.set()
        writer.join(timeout=30)
        node.proc.wait(timeout=10)
    finally:
        node.kill()
    assert len(acknowledged) >= 20

    again = start_node(data, workers=1)  # the lock died with the killed node
    try:
        out = ocn_node("registry", "list-parties", "--data-dir", str(data))
        listed = {p["party_id"] for p in json.loads(out.stdout)}
        for pid, token in acknowledged:
            assert pid in listed
            request = urllib.request.Request(
                again.url + "/ocpi/versions", headers={"Authorization": f"Token {token}"}
            )
            with urllib.request.urlopen(request, timeout=5) as resp:
                assert json.loads(resp.read())["status_code"] == 1000
        assert again.stop() == 0
    finally:
        again.kill()


def test_workers_stop_when_their_supervisor_is_killed(tmp_path: Path) -> None:
    data = tmp_path / "d"
    node = start_node(data)
    try:
        workers = [line["pid"] for line in node.wait_for("worker_ready", 2)]
        os.kill(node.pid, signal.SIGKILL)
        node.proc.wait(timeout=10)
        assert len(node.wait_for("parent_gone", 2)) == 2
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in workers):
            assert time.monotonic() < deadline, "orphaned workers still running"
            time.sleep(0.05)
        # nothing holds the data dir any more
        again = start_node(data, workers=1)
        assert again.stop() == 0
    finally:
        node.kill()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def _connect(
    node: NodeProcess, *parties: tuple[PartyServer, tuple[str, str], str]
) -> list[str]:
    """List each party with the node and register it; returns the tokens A used."""
    tokens = []
    for party, ids, role in parties:
        status, body = node.admin(
            "POST",
            "/admin/registry/parties",
            {"country_code": ids[0], "party_id": ids[1], "roles": [role]},
        )
        assert status == 200, body
        status, body = node.admin("POST", "/admin/generate-registration-token", [dict(
            country_code=ids[0], party_id=ids[1])])  # fmt: skip
        assert status == 200, body
        tokens.append(body["token"])
        assert (await party.register(node.url, body["token"]))["status_code"] == 1000
    return tokens


async def test_the_drain_ends_at_the_grace_period(tmp_path: Path) -> None:
    cpo = await PartyServer([("CPO", *CPO)]).start()
    msp = await PartyServer([("EMSP", *MSP)], delay=2.5).start()  # slower than the grace
    node = start_node(tmp_path / "d", workers=1, env={"OCN_SHUTDOWN_GRACE": "0.3"})
    try:
        await _connect(node, (cpo, CPO, "CPO"), (msp, MSP, "EMSP"))
        async with aiohttp.ClientSession() as http:
            url = f"{node.url}/ocpi/receiver/2.2.1/locations/CH/CPO/L1"
            slow = asyncio.ensure_future(
                http.put(url, json={"id": "L1"}, headers=cpo.routing_headers(to=MSP))
            )
            await asyncio.sleep(0.5)
            started = time.monotonic()
            os.kill(node.pid, signal.SIGTERM)
            assert await asyncio.to_thread(node.proc.wait, 10) == 0
            assert time.monotonic() - started < 2  # not the receiver's 2.5 s
            try:
                await slow
            except aiohttp.ClientError:
                pass  # the connection was closed at the end of the grace period
            else:
                raise AssertionError("the request outlived the grace period")
        timeout = node.events("drain_timeout")
        assert len(timeout) == 1
        assert timeout[0]["open_requests"] == 1
    finally:
        node.kill()
        for party in (cpo, msp):
            await party.stop()


@contextlib.contextmanager
def _cpus(cpus: set[int]) -> Iterator[None]:
    """Processes started inside may run on ``cpus`` only (they inherit our affinity)."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def _placement(pid: int) -> set[frozenset[int]]:
    """The CPU sets of every thread of ``pid``."""
    return {frozenset(os.sched_getaffinity(int(t))) for t in os.listdir(f"/proc/{pid}/task")}


def test_a_node_with_as_many_cpus_as_workers_runs_each_worker_on_its_own_cpu(
    tmp_path: Path,
) -> None:
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        missing("this test needs a machine with at least 2 CPUs")
    two = allowed[:2]
    with _cpus(set(two)):
        node = start_node(tmp_path / "d")
        free = start_node(tmp_path / "e", "--worker-cpu-affinity", "off")
    try:
        started = node.wait_for("worker_started", 2)
        assert sorted((line["worker"], line["cpu"]) for line in started) == [
            (0, two[0]),
            (1, two[1]),
        ]
        ready = {line["pid"]: line["worker"] for line in node.wait_for("worker_ready", 2)}
        for pid, worker in ready.items():  # every thread, the ones started later included
            assert _placement(pid) == {frozenset({two[worker]})}
        assert _workers_answering(node.port) == set(ready)

        victim = min(ready)
        os.kill(victim, signal.SIGKILL)
        replacement = node.wait_for("worker_ready", 3)[-1]
        assert replacement["worker"] == ready[victim]
        assert _placement(replacement["pid"]) == {frozenset({two[ready[victim]]})}
        assert node.get("/health")[0] == 200

        assert [line["cpu"] for line in free.wait_for("worker_started", 2)] == [None, None]
        for line in free.wait_for("worker_ready", 2):
            assert _placement(line["pid"]) == {frozenset(two)}
    finally:
        node.kill()
        free.kill()


@pytest.mark.parametrize(
    ("allowed", "workers", "affinity", "expected"),
    [
        ({0, 1}, 2, "auto", [0, 1]),
        ({3, 1, 2, 0}, 4, "auto", [0, 1, 2, 3]),
        ({2, 5}, 2, "auto", [2, 5]),  # the CPUs it may use (taskset, cgroup), in order
        ({0, 1}, 2, "off", None),
        ({0, 1, 2, 3}, 2, "auto", None),  # fewer workers than CPUs: other nodes may share
        ({0}, 2, "auto", None),  # more workers than CPUs: the kernel shares them out
        ({0, 1}, 1, "auto", None),
    ],
)
def test_the_placement_rule(
    monkeypatch: pytest.MonkeyPatch,
    allowed: set[int],
    workers: int,
    affinity: str,
    expected: list[int] | None,
) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: allowed)
    assert worker_cpus(workers, affinity) == expected
