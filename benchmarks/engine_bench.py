"""Per-request cost above the sockets, in process: ``engine.route`` and the whole gateway handler
with the outbound hop replaced by a stub that answers at once (no network, no event-loop I/O).

Together with the ``bare-hop`` HTTP row (sockets + parsing, no engine) this splits the node's
CPU per request into transport and OCPI work.
"""

from __future__ import annotations

import time
from typing import Any

from benchmarks import payloads, stats
from ocn_core.engine import Engine
from ocn_core.transport import HttpResult
from ocpi_gateway.app import Gateway
from ocpi_gateway.core_client import InProcessCore
from ocpi_gateway.http_server import Request


class StubTransport:
    """Answers every forwarded request with the upstream's Location, immediately."""

    def __init__(self) -> None:
        self.result = HttpResult(200, [("Content-Type", "application/json")],
                                 payloads.LOCATION_RESPONSE)  # fmt: skip

    async def request(self, method: str, url: str, headers: list[tuple[str, str]],
                      body: bytes = b"", timeout: float | None = None,
                      retry_safe: bool = False) -> HttpResult:  # fmt: skip
        return self.result

    async def close(self) -> None:
        return None


async def _timed(call: Any, seconds: float) -> dict[str, Any]:
    for _ in range(200):
        await call()
    hist = stats.new_histogram()
    pc = time.perf_counter_ns
    end = pc() + int(seconds * 1e9)
    n, t0 = 0, pc()
    while True:
        s = pc()
        await call()
        e = pc()
        hist.record_value(max(1, e - s))
        n += 1
        if e > end:
            break
    return {"n": n, "pct_us": stats.hist_percentiles_us(hist), "ops_s": n / ((pc() - t0) / 1e9)}


async def measure(
    engine: Engine, url: str, token_c: str, seconds: float
) -> dict[str, dict[str, Any]]:
    """``engine.route`` and ``Gateway.handle`` per request, outbound hop stubbed."""
    from benchmarks.decision_bench import route_request

    real, engine.ctx.transport = engine.ctx.transport, StubTransport()
    try:
        gateway = Gateway(InProcessCore(engine), {"url": url, "address": ""})
        headers = {k.lower(): v for k, v in payloads.routing_headers(token_c).items()}
        request = Request("GET", payloads.NODE_PATH, "", headers, b"")
        for probe in (await engine.route(route_request(token_c)), await gateway.handle(request)):
            if probe.status != 200 or probe.body != payloads.LOCATION_RESPONSE:
                raise RuntimeError(f"stubbed route failed: {probe.status} {probe.body[:200]!r}")
        return {
            "engine-route": await _timed(lambda: engine.route(route_request(token_c)), seconds),
            "gateway-handle": await _timed(lambda: gateway.handle(request), seconds),
        }
    finally:
        engine.ctx.transport = real
