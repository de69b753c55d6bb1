"""The gRPC benchmark client process: one kind of call, N in flight, for a bounded time.

``python -m benchmarks.grpc_load TARGET KIND CONC SECONDS TOKEN_C`` prints one JSON line:
calls, elapsed, client CPU and HdrHistogram percentiles (µs) of the per-call latency.
Kinds: ``empty`` (the floor of a call), ``hop`` (the floor of a forwarding Route: the empty call
plus the upstream GET), ``route`` (locations GET forwarded to the upstream party),
``route-local`` (GET versions: answered by the engine itself), ``stream`` (``route`` calls
multiplexed on one RouteStream).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from benchmarks import stats
from benchmarks.decision_bench import route_request
from benchmarks.grpc_server import EMPTY_METHOD, HOP_METHOD
from ocn_core.model import RouteKind, RouteRequest
from ocn_grpc.client import OcnClient

Call = Callable[[], Awaitable[object]]


def _versions(token_c: str) -> RouteRequest:
    req = route_request(token_c)
    req.kind, req.module, req.path_suffix = RouteKind.VERSIONS, "versions", ""
    return req


async def _drive(call: Call, conc: int, seconds: float) -> dict[str, Any]:
    for _ in range(50):  # warm-up: channel, server caches, upstream connections
        await call()
    hist = stats.new_histogram()
    pc = time.perf_counter_ns
    deadline = pc() + int(seconds * 1e9)
    c0, t0 = time.process_time(), pc()

    async def worker() -> None:
        while pc() < deadline:
            s = pc()
            await call()
            hist.record_value(max(1, pc() - s))

    await asyncio.gather(*(worker() for _ in range(conc)))
    elapsed, cpu = (pc() - t0) / 1e9, time.process_time() - c0
    n = hist.get_total_count()
    return {"calls": n, "elapsed_s": elapsed, "calls_s": n / elapsed,
            "client_cpu_us_call": cpu * 1e6 / max(1, n),
            "pct_us": stats.hist_percentiles_us(hist)}  # fmt: skip


def _checked(
    route: Callable[[RouteRequest], Awaitable[Any]], make: Callable[[], RouteRequest]
) -> Call:
    async def call() -> object:
        resp = await route(make())
        if resp.status != 200:
            raise RuntimeError(f"Route answered HTTP {resp.status}: {resp.body[:200]!r}")
        return resp

    return call


async def main(target: str, kind: str, conc: int, seconds: float, token_c: str) -> dict[str, Any]:
    client = OcnClient(target)
    try:
        if kind in ("empty", "hop"):
            raw: Any = client.channel.unary_unary(EMPTY_METHOD if kind == "empty" else HOP_METHOD)
            return await _drive(lambda: raw(b""), conc, seconds)
        make = (
            (lambda: _versions(token_c))
            if kind == "route-local"
            else (lambda: route_request(token_c))
        )
        if kind in ("route", "route-local"):
            return await _drive(_checked(client.route, make), conc, seconds)
        async with client.stream() as stream:
            return await _drive(_checked(stream.route, make), conc, seconds)
    finally:
        await client.close()


if __name__ == "__main__":
    t, k, c, s, tok = sys.argv[1:6]
    out = asyncio.run(main(t, k, int(c), float(s), tok))
    print("GRPCJSON " + json.dumps(out), flush=True)
