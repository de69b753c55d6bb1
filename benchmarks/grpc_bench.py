"""gRPC Route, unary and streaming, against an empty unary call on the same grpc.aio server.

The server process (``benchmarks.grpc_server``) is pinned to CPU 0; each load run is a separate
client process (``benchmarks.grpc_load``) pinned to CPU 1 together with the upstream party.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks import procs, stats
from benchmarks.inprocess import connected_node
from benchmarks.progress import Progress
from benchmarks.upstream import start_upstream

KINDS = {
    "empty": "baseline: empty unary call (bytes in, b'' out), same server",
    "hop": "floor: the empty call + the Route row's upstream GET (product HTTP client, no engine)",
    "route": "Route unary: locations GET forwarded to the upstream party",
    "route-local": "Route unary: GET versions, answered by the engine itself",
    "stream": "RouteStream: the same Route requests multiplexed on one call",
}
ALL = set(range(procs.NCPU))
SERVER_CPU, CLIENT_CPU = {0}, {1 % procs.NCPU}


def _load(
    target: str, kind: str, conc: int, seconds: float, token: str, server: int
) -> dict[str, Any]:
    argv = [
        sys.executable,
        "-m",
        "benchmarks.grpc_load",
        target,
        kind,
        str(conc),
        str(seconds),
        token,
    ]
    s0 = procs.tree_cpu_s([server])
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60,
                          preexec_fn=lambda: os.sched_setaffinity(0, CLIENT_CPU))  # fmt: skip
    s1 = procs.tree_cpu_s([server])
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("GRPCJSON ")), None)
    if line is None:
        raise RuntimeError(f"grpc_load {kind} c{conc} failed: {done.stderr[-600:]}")
    out: dict[str, Any] = json.loads(line[9:])
    out["server_cpu_us_call"] = (s1 - s0) * 1e6 / max(1, out["calls"])
    return out


def _summarize(kind: str, conc: int, runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "name": kind, "label": KINDS[kind], "conc": conc, "n_runs": len(runs),
        "calls_s": stats.spread(r["calls_s"] for r in runs),
        "p50_us": stats.spread(r["pct_us"][stats.P50] for r in runs),
        "p99_us": stats.spread(r["pct_us"][stats.P99] for r in runs),
        "percentiles_us": {k: stats.median_of([r["pct_us"] for r in runs], k)
                           for k in runs[0]["pct_us"]},
        "server_cpu_us_call": stats.median_of(runs, "server_cpu_us_call"),
        "client_cpu_us_call": stats.median_of(runs, "client_cpu_us_call"),
        "raw": runs,
    }  # fmt: skip


def _ratios(rows: list[dict[str, Any]]) -> None:
    empty = {r["conc"]: r for r in rows if r["name"] == "empty"}
    unary = {r["conc"]: r for r in rows if r["name"] == "route"}
    for r in rows:
        e, u = empty.get(r["conc"]), unary.get(r["conc"])
        r["x_empty_calls_s"] = stats.ratio(_med(r, "calls_s"), _med(e, "calls_s"))
        r["x_empty_p50"] = stats.ratio(_med(r, "p50_us"), _med(e, "p50_us"))
        r["x_unary_calls_s"] = stats.ratio(_med(r, "calls_s"), _med(u, "calls_s"))


def _med(row: dict[str, Any] | None, key: str) -> float | None:
    return None if row is None else float(row[key]["median"])


def targets(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by = {(r["name"], r["conc"]): r for r in rows}
    out: list[dict[str, Any]] = []
    for c in sorted({r["conc"] for r in rows}):
        route, stream, hop = by.get(("route", c)), by.get(("stream", c)), by.get(("hop", c))
        if route and route.get("x_empty_calls_s"):
            cost = 1 / route["x_empty_calls_s"]  # time per Route call / time per empty call
            goal = {"name": f"gRPC Route cost <= 1.5x empty unary call (c{c}, calls/s)",
                    "value": cost, "limit": 1.5, "met": cost <= 1.5}  # fmt: skip
            if hop and hop.get("x_empty_calls_s"):  # what the upstream GET alone costs
                floor = 1 / hop["x_empty_calls_s"]
                goal["note"] = (f"floor (empty call + the upstream GET, no engine) {floor:.2f}x; "
                                f"Route {cost / floor:.2f}x the floor")  # fmt: skip
            out.append(goal)
        if c > 1 and stream and stream.get("x_unary_calls_s") is not None:
            x = stream["x_unary_calls_s"]
            out.append({"name": f"gRPC streaming >= 3x unary Route throughput (c{c})",
                        "value": x, "limit": 3.0, "met": x >= 3.0})  # fmt: skip
    return out


def run(quick: bool) -> dict[str, Any]:
    runs, seconds, concs = (1, 1.0, [16]) if quick else (3, 3.0, [1, 16, 64])
    with tempfile.TemporaryDirectory(prefix="ocn-bench-grpc-") as tmp, Progress("grpc") as bar:
        run_dir = Path(tmp)
        up = start_upstream(run_dir, prefer_nginx=True)
        started = [up.proc]
        try:
            data_dir = run_dir / "node"
            token = asyncio.run(_prepare(data_dir, up.base))
            port = procs.free_port()
            argv = [sys.executable, "-m", "benchmarks.grpc_server", str(data_dir),
                    f"127.0.0.1:{port}", "http://127.0.0.1:9", up.base]  # fmt: skip
            server = procs.start(argv, run_dir / "grpc-server.log")
            started.append(server)
            procs.wait_port(port, server)
            if procs.NCPU >= 2:
                procs.pin([server.pid], SERVER_CPU)
                procs.pin([up.proc.pid], CLIENT_CPU)
            cells = [(k, c) for c in concs for k in KINDS]
            bar.total(len(cells) * runs)
            raw: dict[tuple[str, int], list[dict[str, Any]]] = {cell: [] for cell in cells}
            for _ in range(runs):  # interleaved
                for kind, c in cells:
                    raw[(kind, c)].append(_load(f"127.0.0.1:{port}", kind, c, seconds, token,
                                                server.pid))  # fmt: skip
                    bar.step(f"{kind} c{c}")
        finally:
            procs.stop(started)
    rows = [_summarize(k, c, raw[(k, c)]) for k, c in cells]
    _ratios(rows)
    meta = {"runs": runs, "seconds": seconds, "upstream": up.kind, "ncpu": procs.NCPU}
    return {"rows": rows, "targets": targets(rows), "meta": meta}


async def _prepare(data_dir: Path, upstream: str) -> str:
    """Connect both parties (real handshake, in-process gateway); the eMSP's token C."""
    async with connected_node(data_dir, upstream) as node:
        return node.tokens["EMSP"]
