"""A real node process under abuse: RSS stays bounded, fds are never exhausted, and kill -9
during a burst of registrations loses no acknowledged one."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from benchmarks.soak import tree_rss_kib
from tests.support.parties import PartyServer
from tests.support.process import API_KEY, NodeProcess, start_node
from tests.support.rawhttp import exchange, parse_answers, request

LIMITS = {"OCN_KEEPALIVE_TIMEOUT": "0.5", "OCN_HEADER_TIMEOUT": "1", "OCN_MAX_CONNECTIONS": "60"}


@pytest.fixture
def node(tmp_path: Path) -> Iterator[NodeProcess]:
    running = start_node(tmp_path / "data", workers=1, env=LIMITS)
    yield running
    running.stop()


async def _serves(node: NodeProcess) -> None:
    data = await exchange(node.port, request("GET", "/health"))
    assert [a.status for a in parse_answers(data)] == [200]


def _endless_header(port: int, most: int = 16 << 20) -> int:
    """Send one never-ending header line until the node answers or closes; bytes sent."""
    sent = 0
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nX: ")
        sock.settimeout(0.001)
        with contextlib.suppress(OSError):
            while sent < most:
                try:
                    if sock.recv(4096):
                        break
                except TimeoutError:
                    sock.sendall(b"x" * 65536)
                    sent += 65536
    return sent


async def test_big_headers_and_idle_connections_leave_rss_bounded(node: NodeProcess) -> None:
    await _serves(node)
    before = tree_rss_kib([node.pid])
    sent = await asyncio.gather(*(asyncio.to_thread(_endless_header, node.port) for _ in range(8)))
    assert max(sent) < 4 << 20  # each cut off near the header limit, not at 16 MiB
    idle = [socket.create_connection(("127.0.0.1", node.port)) for _ in range(40)]
    await asyncio.sleep(0.2)
    during = tree_rss_kib([node.pid])
    await asyncio.sleep(1.0)  # keep-alive timeout 0.5 s: the node closes the idle ones
    closed = 0
    for sock in idle:
        sock.settimeout(1)
        with contextlib.suppress(OSError):
            closed += sock.recv(1) == b""
        sock.close()
    assert closed == len(idle)
    assert during - before < 40 * 1024, (before, during)  # the issue saw +575 MB
    await _serves(node)


async def test_connections_over_the_cap_are_refused_and_logged_once(node: NodeProcess) -> None:
    held = [socket.create_connection(("127.0.0.1", node.port)) for _ in range(150)]
    refused = 0
    for sock in held:
        sock.sendall(b"G")  # a request begun: not idle, so not closed by the keep-alive timeout
    await asyncio.sleep(0.3)
    for sock in held:
        sock.settimeout(0.05)
        with contextlib.suppress(OSError):
            refused += sock.recv(64).startswith(b"HTTP/1.1 503 ")
    assert refused == 150 - 60
    for sock in held:
        sock.close()
    await asyncio.sleep(1.2)  # the sweep notices the burst is over
    await _serves(node)
    events = [line.get("event") for line in node.log()]
    assert events.count("connection_limit_reached") == 1, events
    assert events.count("connection_limit_burst_ended") == 1, events


async def test_kill_9_during_a_registration_burst_loses_no_acknowledged_one(
    tmp_path: Path,
) -> None:
    party = await PartyServer([("EMSP", "DE", "AAA")]).start()
    data_dir = tmp_path / "data"
    node = start_node(data_dir, workers=1)
    acknowledged: dict[str, str] = {}  # party id -> token C
    try:
        for cycle in range(2):
            grants = await _prepare(node, [f"K{cycle}{i:02d}"[-3:] for i in range(40)])
            burst = [asyncio.ensure_future(_register(node, party, pid, a)) for pid, a in grants]
            for finished, next_done in enumerate(asyncio.as_completed(burst), 1):
                with contextlib.suppress(Exception):
                    await next_done
                if finished == 8:  # kill mid-burst: 8 answered, 32 in flight or queued
                    break
            node.proc.send_signal(signal.SIGKILL)
            node.proc.wait(10)
            for pid, task in zip((p for p, _ in grants), burst, strict=True):
                with contextlib.suppress(Exception):
                    token_c = await task
                    if token_c:
                        acknowledged[pid] = token_c
            node = start_node(data_dir, workers=1, port=node.port)
            for pid, token_c in acknowledged.items():
                status, body = await _call(node, "GET", "/ocpi/2.2.1/credentials", token_c)
                assert (status, body["status_code"]) == (200, 1000), (cycle, pid, body)
        assert len(acknowledged) >= 16
    finally:
        node.stop()
        await party.stop()


async def _call(
    node: NodeProcess, method: str, path: str, token: str, body: Any = None
) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.request(
            method, node.url + path, json=body, headers={"Authorization": f"Token {token}"}
        ) as r,
    ):
        return r.status, json.loads(await r.read())


async def _prepare(node: NodeProcess, party_ids: list[str]) -> list[tuple[str, str]]:
    """List each DE/<pid> eMSP in the local registry and issue its token A."""
    grants = []
    for pid in party_ids:
        listing = {"country_code": "DE", "party_id": pid, "roles": ["EMSP"]}
        status, _ = await _call(node, "POST", "/admin/registry/parties", API_KEY, listing)
        assert status == 200
        roles = [{"country_code": "DE", "party_id": pid}]
        status, body = await _call(
            node, "POST", "/admin/generate-registration-token", API_KEY, roles
        )
        assert status == 200, body
        grants.append((pid, str(body["token"])))
    return grants


async def _register(node: NodeProcess, party: PartyServer, pid: str, token_a: str) -> str:
    """POST credentials with token A; token C when the node acknowledged ("" otherwise)."""
    creds = {
        "token": party.token_b,
        "url": party.versions_url,
        "roles": [{"role": "EMSP", "country_code": "DE", "party_id": pid,
                   "business_details": {"name": pid}}],
    }  # fmt: skip
    status, body = await _call(node, "POST", "/ocpi/2.2.1/credentials", token_a, creds)
    return str(body["data"]["token"]) if status == 200 and body["status_code"] == 1000 else ""
