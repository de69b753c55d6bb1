"""Route decision in process, party cached (already connected): µs p50/p99 per decision.

Rows: the URL match; the decision proper (forward.decide: sender, receiver and the receiver's
endpoint and token lookup, as ``forward.route_module`` does before it sends); both together.
Baselines in the same run: the timer itself, a dict get, one LMDB read transaction with a get
(the decision makes five gets in one transaction).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import engine_bench, payloads, procs, static_http, stats, timing
from benchmarks.inprocess import connected_node
from benchmarks.progress import Progress
from ocn_core import ocpi
from ocn_core.hub import forward
from ocn_core.hub.context import NodeContext
from ocn_core.hub.rules import enforce
from ocn_core.model import InterfaceRole, PartyRef, RouteKind, RouteRequest
from ocn_core.routing import IMPLEMENTATION, match, module_route
from ocn_core.state import PlatformStore, codec
from ocn_core.state.rules import NO_RULES

TARGET_P50_US = 10.0


def route_request(token_c: str) -> RouteRequest:
    h = payloads.routing_headers(token_c)
    return RouteRequest(
        kind=RouteKind.MODULE, module="locations", interface_role=InterfaceRole.SENDER,
        method="GET", ocpi_version=payloads.VERSION, path_suffix=payloads.LOCATION_ID,
        authorization=h["Authorization"], request_id=h["X-Request-ID"],
        correlation_id=h["X-Correlation-ID"], from_party=PartyRef(*payloads.EMSP),
        to_party=PartyRef(*payloads.CPO), has_from=True, has_to=True,
    )  # fmt: skip


def decide(ctx: NodeContext, req: RouteRequest) -> tuple[str, str]:
    """The decision part of ``forward.route_module``: everything before the outbound send."""
    row = module_route(req.module, req.interface_role.ocpi)
    if row is None or req.method not in row.methods:
        raise RuntimeError("route table refuses the benchmark request")
    # sender, receiver, endpoint and the receiver's OcnRules: one LMDB txn
    facts = forward.decide(ctx, req)
    url, auth, rules = facts.url, facts.auth, facts.rules
    if rules is not NO_RULES:
        enforce(rules, req.from_party.key, req.module)
    if url is None or auth is None:
        raise RuntimeError("receiver endpoint missing")
    return ocpi.join_url(url, req.path_suffix), auth


def cases(ctx: NodeContext, req: RouteRequest) -> list[tuple[str, str, Callable[[], object]]]:
    platforms = ctx.platforms
    assert isinstance(platforms, PlatformStore)  # the LMDB store: its raw reads are measured
    env, roles = ctx.store.env, platforms.roles
    role_key = codec.role_key(*payloads.CPO)
    table = {role_key: b"x"}

    def lmdb_get() -> object:
        with env.begin() as txn:
            return txn.get(role_key, db=roles)

    def full() -> object:
        match("GET", payloads.NODE_PATH)
        return decide(ctx, req)

    def cold() -> object:
        ctx.platforms.forget_route_facts()  # as on the first request after any LMDB write
        return full()

    return [
        ("timer", "baseline: empty call (timer + call overhead)", lambda: None),
        ("dict-get", "baseline: one dict get", lambda: table.get(role_key)),
        ("lmdb-get", "baseline: one LMDB read txn + get", lmdb_get),
        ("url-match", f"URL match ({IMPLEMENTATION})", lambda: match("GET", payloads.NODE_PATH)),
        (
            "decision",
            "forward.decide: sender + receiver + endpoint lookup",
            lambda: decide(ctx, req),
        ),
        ("route-decision", "URL match + decision, memoised (steady state)", full),
        ("route-decision-cold", "URL match + decision, memo dropped first (target ≤ 10 µs p50)",
         cold),
    ]  # fmt: skip


def _row(name: str, label: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    p50s = [r["pct_us"][stats.P50] for r in runs]
    p99s = [r["pct_us"][stats.P99] for r in runs]
    best = runs[sorted(range(len(runs)), key=lambda i: p50s[i])[len(runs) // 2]]
    return {
        "name": name, "label": label, "p50_us": statistics.median(p50s),
        "p99_us": statistics.median(p99s), "p50_spread": stats.spread(p50s),
        "p99_spread": stats.spread(p99s), "ops_s": statistics.median(r["ops_s"] for r in runs),
        "n": sum(r["n"] for r in runs), "percentiles_us": best["pct_us"],
    }  # fmt: skip


async def _measure(quick: bool, bar: Progress) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ocn-bench-decision-") as tmp:
        up_port = procs.free_port()
        base = f"http://127.0.0.1:{up_port}"
        upstream = await static_http.serve(up_port, payloads.static_routes(base), b"{}")
        try:
            async with connected_node(Path(tmp) / "node", base) as node:
                ctx = node.engine.ctx
                req = route_request(node.tokens["EMSP"])
                decide(ctx, req)  # fails loudly if the setup is wrong
                repeats, seconds = (1, 0.3) if quick else (5, 1.0)
                todo = cases(ctx, req)
                bar.total(len(todo) * repeats + repeats)
                raw: dict[str, list[dict[str, Any]]] = {n: [] for n, _, _ in todo}
                for _ in range(repeats):  # interleaved: repeat 1 of every case, then 2, ...
                    for name, _, fn in todo:
                        run = timing.per_op(fn, seconds)
                        run["ops_s"] = timing.batch_rate(fn, seconds / 2)
                        run.pop("hist")
                        raw[name].append(run)
                        bar.step(name)
                    stubbed = await engine_bench.measure(node.engine, node.url,
                                                         node.tokens["EMSP"], seconds)  # fmt: skip
                    for name, run in stubbed.items():
                        raw.setdefault(name, []).append(run)
                    bar.step("engine/gateway, hop stubbed")
        finally:
            upstream.close()
    labels = [(n, label) for n, label, _ in todo] + [
        ("engine-route", "await engine.route(req), outbound hop stubbed (no sockets)"),
        ("gateway-handle", "await Gateway.handle(request): match + engine + response, hop stubbed"),
    ]
    rows = [_row(n, label, raw[n]) for n, label in labels]
    by = {r["name"]: r for r in rows}
    for r in rows:
        r["x_lmdb_get"] = stats.ratio(r["p50_us"], by["lmdb-get"]["p50_us"])
    p50 = by["route-decision-cold"]["p50_us"]
    target = {"name": "route decision p50 ≤ 10 µs", "value": p50, "limit": TARGET_P50_US,
              "met": p50 <= TARGET_P50_US}  # fmt: skip
    return {"rows": rows, "targets": [target], "repeats": repeats, "seconds_per_run": seconds}


def run(quick: bool) -> dict[str, Any]:
    with Progress("route decision") as bar:
        return asyncio.run(_measure(quick, bar))
