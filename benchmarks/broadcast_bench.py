"""Broadcast Push fan-out: one location PUT addressed to the hub, delivered to N receivers.

Three processes: the node (``ocn-node run``, one worker), the receivers (one process serving N
eMSP platforms, :mod:`benchmarks.broadcast_receivers`) and this one (the sending CPO). The N
platforms and the CPO are written into the node's LMDB before it starts (the handshake is not
what is measured). Per broadcast: the sender's latency (PUT sent → hub's answer) and the fan-out
time (PUT sent → the N-th receiver got its request, CLOCK_MONOTONIC shared by the processes).
Target (issue 13.8): 200 receivers served in under 1 s with the sender answered in under 5 ms.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import procs
from benchmarks.progress import Progress
from ocn_core import ocpi
from ocn_core.adapters.http_client import HttpClient
from ocn_core.state import PlatformStore
from ocn_core.state.records import CONNECTED, EndpointRecord, Platform, RoleRecord
from ocn_core.store import Store

SIZES = (10, 50, 200)
TARGET_FANOUT_MS, TARGET_SENDER_MS = 1000.0, 5.0
SENDER = ("CH", "CPO")
HUB = ("CH", "OCN")
RECEIVER0 = ("DE", "000")  # the same-run baseline: one PUT routed directly to one receiver
LOCATION = {
    "country_code": "CH",
    "party_id": "CPO",
    "id": "",
    "publish": True,
    "address": "Bahnhofstrasse 1",
    "city": "Zurich",
    "country": "CHE",
    "coordinates": {"latitude": "47.376887", "longitude": "8.541694"},
    "evses": [{"uid": "E1", "status": "AVAILABLE", "connectors": [{"id": "1"}]}],
    "time_zone": "Europe/Zurich",
    "last_updated": "2026-01-01T00:00:00Z",
}


def _platform(pid: str, role: str, cc: str, party: str, receivers: str) -> Platform:
    now = time.time()
    endpoints = [EndpointRecord("locations", "RECEIVER", f"{receivers}/{pid}/locations")]
    return Platform(pid, CONNECTED, "2.2.1", f"{receivers}/versions", secrets.token_hex(8), True,
                    [RoleRecord(role, cc, party)], endpoints, now, now)  # fmt: skip


def _prepare(data_dir: Path, receivers: str, n: int) -> str:
    """The CPO and ``n`` eMSP platforms in the node's LMDB; returns the CPO's token C."""
    store = Store(data_dir / "lmdb", map_size=256 << 20)
    try:
        platforms = PlatformStore(store)
        token_c = secrets.token_urlsafe(16)
        platforms.register(None, _platform("cpo", "CPO", *SENDER, receivers), token_c)
        for i in range(n):
            party = f"{i:03d}"[-3:] if i < 1000 else str(i)
            platforms.register(None, _platform(f"m{i}", "EMSP", "DE", party, receivers), f"c{i}")
    finally:
        store.close()
    return token_c


def _headers(token_c: str, to: tuple[str, str]) -> list[tuple[str, str]]:
    return [
        ("Authorization", ocpi.authorization_header(token_c, True)),
        ("X-Request-ID", ocpi.request_id()), ("X-Correlation-ID", ocpi.request_id()),
        ("OCPI-from-country-code", SENDER[0]), ("OCPI-from-party-id", SENDER[1]),
        ("OCPI-to-country-code", to[0]), ("OCPI-to-party-id", to[1]),
        ("Content-Type", "application/json"),
    ]  # fmt: skip


async def _put(
    client: HttpClient, node: str, token_c: str, to: tuple[str, str]
) -> tuple[str, float, float]:
    """One location PUT from the CPO; (object id, sent at, answered after ms)."""
    object_id = f"B{secrets.token_hex(4)}"
    body = json.dumps({**LOCATION, "id": object_id}).encode()
    url = f"{node}/ocpi/receiver/2.2.1/locations/CH/CPO/{object_id}"
    t0 = time.monotonic()
    result = await client.request("PUT", url, _headers(token_c, to), body, 10.0)
    answered = (time.monotonic() - t0) * 1000
    if result.status != 200 or b'"status_code":1000' not in result.body:
        raise RuntimeError(f"node refused the PUT: {result.status} {result.body[:200]!r}")
    return object_id, t0, answered


async def _arrived(client: HttpClient, receivers: str, object_id: str, n: int) -> float:
    """Monotonic time at which the ``n``-th receiver got ``object_id``."""
    deadline = time.monotonic() + 30.0
    while True:
        got = await client.request("GET", f"{receivers}/stats/{object_id}", [], b"", 5.0)
        stats = json.loads(got.body)
        if stats["count"] >= n:
            return float(stats["last"])
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {stats['count']} of {n} receivers got {object_id}")
        await asyncio.sleep(0.002)


async def _settled(client: HttpClient, node: str, delivered: int) -> None:
    """Wait until the node has every answer of its fan-outs so far (the next PUT finds it idle)."""
    deadline = time.monotonic() + 30.0
    while time.monotonic() < deadline:
        got = await client.request("GET", f"{node}/health/details", [], b"", 5.0)
        if json.loads(got.body)["hub"].get("broadcast_delivered", 0) >= delivered:
            return
        await asyncio.sleep(0.002)
    raise RuntimeError("the node did not finish its fan-out")


async def _size(run_dir: Path, n: int, repeats: int, bar: Progress) -> dict[str, Any]:
    rport, nport = procs.free_port(), procs.free_port()
    receivers, node = f"http://127.0.0.1:{rport}", f"http://127.0.0.1:{nport}"
    data_dir = run_dir / f"node-{n}"
    token_c = _prepare(data_dir, receivers, n)
    started = [procs.start([sys.executable, "-m", "benchmarks.broadcast_receivers", str(rport)],
                           run_dir / f"receivers-{n}.log")]  # fmt: skip
    env = dict(os.environ, OCN_LOG_LEVEL="warning", OCN_REGISTRY="local")
    argv = [sys.executable, "-m", "ocpi_gateway.cli", "run", "--data-dir", str(data_dir),
            "--public-url", node, "--port", str(nport), "--workers", "1",
            "--log-level", "warning"]  # fmt: skip
    client = HttpClient()
    try:
        procs.wait_port(rport, started[0])
        started.append(procs.start(argv, run_dir / f"node-{n}.log", env))
        procs.wait_port(nport, started[1])
        sender, fanout, direct = [], [], []
        for k in range(repeats + 1):  # the first round opens the connections (not counted)
            object_id, _, answered = await _put(client, node, token_c, RECEIVER0)
            await _arrived(client, receivers, object_id, 1)
            object_id, t0, answered_b = await _put(client, node, token_c, HUB)
            last = await _arrived(client, receivers, object_id, n)
            await _settled(client, node, n * (k + 1))
            if k:
                direct.append(answered)
                sender.append(answered_b)
                fanout.append((last - t0) * 1000)
                bar.step(f"{n} receivers")
    finally:
        await client.close()
        procs.stop(started)
    return {
        "receivers": n,
        "broadcasts": repeats,
        "direct_put_p50_ms": round(statistics.median(direct), 3),
        "sender_p50_ms": round(statistics.median(sender), 3),
        "sender_max_ms": round(max(sender), 3),
        "fanout_p50_ms": round(statistics.median(fanout), 3),
        "fanout_max_ms": round(max(fanout), 3),
        "answered_before_fanout": all(s < f for s, f in zip(sender, fanout, strict=True)),
    }


async def _measure(quick: bool, bar: Progress) -> dict[str, Any]:
    repeats = 3 if quick else 20
    bar.total(len(SIZES) * repeats)
    with tempfile.TemporaryDirectory(prefix="ocn-bench-broadcast-") as tmp:
        rows = [await _size(Path(tmp), n, repeats, bar) for n in SIZES]
    top = rows[-1]
    targets = [
        {"name": f"{top['receivers']} receivers served p50 < 1 s", "value": top["fanout_p50_ms"],
         "limit": TARGET_FANOUT_MS, "met": top["fanout_p50_ms"] < TARGET_FANOUT_MS},
        {"name": f"sender answered p50 < 5 ms ({top['receivers']} receivers)",
         "value": top["sender_p50_ms"], "limit": TARGET_SENDER_MS,
         "met": top["sender_p50_ms"] < TARGET_SENDER_MS},
    ]  # fmt: skip
    return {"rows": rows, "targets": targets, "repeats": repeats}


def run(quick: bool) -> dict[str, Any]:
    with Progress("broadcast fan-out") as bar:
        return asyncio.run(_measure(quick, bar))
