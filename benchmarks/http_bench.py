"""The full HTTP hop: wrk → node (local routing) → upstream party, against wrk → nginx
reverse proxy → the same upstream, and wrk → upstream directly; concurrency 1/16/64; 1 and 2
gateway workers; signatures off and, when the node enforces them, on; Prometheus metrics off
(``node``) and on (``node-metrics``), the access log at info level (``node-log``): the production
defaults. The signatures-on rows are judged against a floor measured in the same run: the plain
node's CPU per request (transport + engine) plus the two verifications (request and response)
timed in process on the very messages the load sends.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import nginx, node_proc, payloads, procs, signed, stats, wrk
from benchmarks.http_runs import Cell, Plan, run_cells, summarize
from benchmarks.progress import Progress
from benchmarks.upstream import Upstream
from ocpi_gateway.supervisor import worker_cpus

FULL = Plan(runs=5, seconds=4, warm=1, quiet_pct=15.0, quiet_wait_s=8.0, redo_pct=10.0)
QUICK = Plan(runs=1, seconds=1, warm=0, quiet_pct=100.0, quiet_wait_s=0.0, redo_pct=0.0)
BASELINES = ("nginx-proxy", "bare-hop")  # rows whose spread decides whether the run is noisy
# production-default rows: (name, label, node_proc.start_node keywords)
DEFAULTS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("node-metrics", "ocn-node, local routing, signatures off, metrics on", {"metrics": True}),
    ("node-log", "ocn-node, local routing, signatures off, access log (info, JSON)",
     {"log_level": "info"}),
)  # fmt: skip


def full_plan() -> Plan:
    """:data:`FULL`, with ``OCN_BENCH_RUNS`` runs per cell when set (``--runs``)."""
    runs = int(os.environ.get("OCN_BENCH_RUNS") or FULL.runs)
    return Plan(**{**FULL.__dict__, "runs": runs})


class _Setup:
    """Everything started for the scenario, stopped by PID in :meth:`close`."""

    def __init__(self, run_dir: Path, quick: bool) -> None:
        self.run_dir, self.quick = run_dir, quick
        self.started: list[subprocess.Popen[bytes]] = []
        self.cells: list[Cell] = []
        self.skipped: list[dict[str, str]] = []
        self.verify_us: dict[str, float] = {}
        self.conc = [16] if quick else [1, 16, 64]
        self.conc_w2 = [16] if quick else [16, 64]

    def _script(self, name: str, headers: dict[str, str]) -> Path:
        return wrk.write_script(self.run_dir / f"{name}.lua", "GET", headers)

    def _add(self, name: str, label: str, workers: int, port: int, script: Path,
             sut: list[int], expect: bytes = payloads.LOCATION_RESPONSE) -> None:  # fmt: skip
        url = f"http://127.0.0.1:{port}{payloads.NODE_PATH}"
        status, body = node_proc.get_location(f"http://127.0.0.1:{port}", _headers(script))
        if status != 200 or body != expect:
            raise RuntimeError(f"{name} w{workers}: bad answer {status} {body[:120]!r}")
        for c in self.conc if workers == 1 else self.conc_w2:
            self.cells.append(Cell(name, label, workers, c, url, script, sut))

    def build(self) -> list[int]:
        keys, addresses = signed.party_keys()
        signed_body = signed.signed_location_response(keys["CPO"])
        up, signed_base = self._upstream(signed_body)
        plain = self._script("plain", payloads.routing_headers("not-checked-by-nginx"))
        self._add("direct", "upstream (nginx) directly, no hop", 1, up.port, plain, [up.proc.pid])
        for w in (1, 2):
            port = procs.free_port()
            body = nginx.proxy_body(port, up.port)
            proxy = nginx.start(self.run_dir / f"proxy-w{w}", w, body, port)
            self.started.append(proxy)
            self._add("nginx-proxy", "nginx proxy_pass, keepalive upstream", w, port, plain,
                      [proxy.pid])  # fmt: skip
        for w in (1, 2):
            self._bare_hop(w, up.port, plain)
        for w in (1, 2):
            node = node_proc.start_node(self.run_dir, f"node-w{w}", w, False, up.base)
            self.started.append(node.proc)
            script = self._script(f"node-w{w}", payloads.routing_headers(node.tokens["EMSP"]))
            self._add("node", "ocn-node, local routing, signatures off", w, node.port, script,
                      [node.proc.pid])  # fmt: skip
        for row, label, options in DEFAULTS:
            for w in (1, 2):
                self._default_on(row, label, options, w, up.base)
        self._signatures_on(signed_base, keys, addresses, signed_body)
        return [up.proc.pid]

    def _default_on(self, row: str, label: str, options: dict[str, Any], workers: int,
                    upstream: str) -> None:  # fmt: skip
        """The node row with one production default on (metrics, access log)."""
        name = f"{row}-w{workers}"
        node = node_proc.start_node(self.run_dir, name, workers, False, upstream, **options)
        self.started.append(node.proc)
        script = self._script(name, payloads.routing_headers(node.tokens["EMSP"]))
        self._add(row, label, workers, node.port, script, [node.proc.pid])

    def _upstream(self, signed_body: bytes) -> tuple[Upstream, str]:
        """One nginx with two servers: the plain party and the same party signing its answers."""
        port, port_signed = procs.free_port(), procs.free_port()
        bodies = []
        for p, default in ((port, payloads.LOCATION_RESPONSE), (port_signed, signed_body)):
            routes = payloads.static_routes(f"http://127.0.0.1:{p}")
            bodies.append(nginx.upstream_body(p, routes, default))
        proc = nginx.start(self.run_dir / "upstream", 1, "\n  ".join(bodies), port)
        self.started.append(proc)
        procs.wait_port(port_signed, proc)
        return Upstream(port, "nginx", proc), f"http://127.0.0.1:{port_signed}"

    def _signatures_on(self, upstream: str, keys: dict[str, str], addresses: dict[str, str],
                       expect: bytes) -> None:  # fmt: skip
        for w in (1, 2):
            n = node_proc.start_node(self.run_dir, f"node-sig-w{w}", w, True, upstream, addresses)
            self.started.append(n.proc)
            plain = payloads.routing_headers(n.tokens["EMSP"])
            headers, why = signed.probe(n.url, plain, keys["EMSP"])
            if headers is None:
                self.skipped.append({"name": "node-sig", "reason": why})
                return
            script = self._script(f"node-sig-w{w}", headers)
            self._add("node-sig", "ocn-node, local routing, signatures verified", w, n.port,
                      script, [n.proc.pid], expect)  # fmt: skip
            if not self.verify_us:
                self.verify_us = verify_costs(headers, expect, 0.2 if self.quick else 1.0)
        self._bare_hop(2, int(upstream.rsplit(":", 1)[1]), script, expect)

    def _bare_hop(self, workers: int, upstream_port: int, script: Path,
                  expect: bytes | None = None) -> None:  # fmt: skip
        """:mod:`benchmarks.bare_hop` with ``workers`` worker processes on one port; with
        ``expect`` (the signed answer) the ``bare-sig`` row: the hop verifying both signatures."""
        port = procs.free_port()
        argv = [sys.executable, "-m", "benchmarks.bare_hop", str(port), str(upstream_port),
                str(workers)] + (["--verify"] if expect else [])  # fmt: skip
        name = "bare-sig" if expect else "bare-hop"
        hop = procs.start(argv, self.run_dir / f"{name}-w{workers}.log")
        self.started.append(hop)
        procs.wait_port(port, hop)
        if expect is None:
            self._add("bare-hop", "product HTTP server + HTTP client relay, no engine (floor)",
                      workers, port, script, [hop.pid])  # fmt: skip
        else:
            self._add(
                "bare-sig",
                "bare hop + the two signature verifications, no engine "
                "(signatures floor under load)",
                workers,
                port,
                script,
                [hop.pid],
                expect,
            )

    def close(self) -> None:
        procs.stop(self.started)


def verify_costs(headers: dict[str, str], body: bytes, seconds: float) -> dict[str, float]:
    """Best-of-5 µs of the node's two verifications, in process, on the loaded messages."""
    lower = {k.lower(): v for k, v in headers.items()}
    calls: dict[str, Callable[[], None]] = {
        "verify_request_us": lambda: signed.verify_request(lower),
        "verify_response_us": lambda: signed.verify_response(body),
    }
    out = {}
    for name, fn in calls.items():
        fn()
        best = float("inf")
        for _ in range(5):
            n, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < seconds / 5:
                fn()
                n += 1
            best = min(best, (time.perf_counter() - t0) / n * 1e6)
        out[name] = round(best, 2)
    return out


def _headers(script: Path) -> dict[str, str]:
    """The headers a generated wrk script sends (for the pre-flight check)."""
    out = {}
    for line in script.read_text().splitlines():
        if line.startswith('wrk.headers["'):
            name, _, rest = line[len('wrk.headers["') :].partition('"] = "')
            out[name] = rest.rstrip('"')
    return out


def add_ratios(rows: list[dict[str, Any]]) -> None:
    """x nginx hop (same workers, same c; and 1-worker nginx) for req/s, p50 and p99; the
    production-default rows also x the node row without them; CPU/req x the bare hop's."""
    ref = {(r["workers"], r["conc"]): r for r in rows if r["name"] == "nginx-proxy" and "rps" in r}
    plain = {(r["workers"], r["conc"]): r for r in rows if r["name"] == "node" and "rps" in r}
    bare = {(r["workers"], r["conc"]): r for r in rows if r["name"] == "bare-hop" and "rps" in r}
    defaults = {name for name, _, _ in DEFAULTS}
    for r in rows:
        if "rps" not in r:
            continue
        key = (r["workers"], r["conc"])
        if r["name"] in defaults:
            r["x_node_rps"] = stats.ratio(_med(r, "rps"), _med(plain.get(key), "rps"))
        if r["name"].startswith("node"):
            cpu, bare_cpu = _med(r, "sut_cpu_us_req"), _med(bare.get(key), "sut_cpu_us_req")
            r["x_bare_cpu"] = stats.ratio(cpu, bare_cpu)
        same, w1 = ref.get((r["workers"], r["conc"])), ref.get((1, r["conc"]))
        med = _med
        r["x_nginx_rps"] = stats.ratio(med(r, "rps"), med(same, "rps"))
        r["x_nginx_w1_rps"] = stats.ratio(med(r, "rps"), med(w1, "rps"))
        r["x_nginx_p99"] = stats.ratio(med(r, "p99_us"), med(same, "p99_us"))
        r["x_nginx_cpu"] = stats.ratio(med(r, "sut_cpu_us_req"), med(same, "sut_cpu_us_req"))


def _med(row: dict[str, Any] | None, key: str) -> float | None:
    if row is None or key not in row:
        return None
    return float(row[key]["median"])


def add_floor(rows: list[dict[str, Any]], verify_us: dict[str, float]) -> None:
    """The signatures-on floor rows: the plain node's CPU/req (transport + engine, same run)
    plus both verifications; each node-sig row gets ``x_floor`` = floor CPU / its CPU.

    Also, beside it, the floor measured under load: the ``bare-sig`` row (the bare transport
    doing the same two verifications under wrk) plus the engine's share (node - bare hop, same
    w and c) as ``x_floor_loaded``; reported, not judged."""
    if not verify_us:
        return
    by = {(r["name"], r["workers"], r["conc"]): r for r in rows if "rps" in r}
    verify = verify_us["verify_request_us"] + verify_us["verify_response_us"]
    for r in [r for r in rows if r["name"] == "node-sig" and "rps" in r]:
        key = (r["workers"], r["conc"])
        node_cpu = _med(by.get(("node", *key)), "sut_cpu_us_req")
        if node_cpu is None:
            continue
        floor = node_cpu + verify
        r["floor_cpu_us_req"] = floor
        r["floor_parts_us"] = {"node (transport + engine)": node_cpu, **verify_us}
        r["x_floor"] = stats.ratio(floor, _med(r, "sut_cpu_us_req"))
        loaded = _med(by.get(("bare-sig", *key)), "sut_cpu_us_req")
        bare = _med(by.get(("bare-hop", *key)), "sut_cpu_us_req")
        if loaded is not None and bare is not None:
            r["floor_loaded_cpu_us_req"] = loaded + max(0.0, node_cpu - bare)
            r["x_floor_loaded"] = stats.ratio(
                r["floor_loaded_cpu_us_req"], _med(r, "sut_cpu_us_req")
            )


def targets(rows: list[dict[str, Any]], skipped: list[dict[str, str]]) -> list[dict[str, Any]]:
    """Issue #16's HTTP targets, judged only when the baseline rows are steady."""
    out: list[dict[str, Any]] = []
    by = {(r["name"], r["workers"], r["conc"]): r for r in rows}
    for c in (16, 64):
        row = by.get(("node", 2, c))
        value = row.get("x_nginx_rps") if row else None
        out.append(_target(f"node 2 workers c{c} req/s ≥ 0.50x nginx hop", value, 0.50, "≥",
                           skipped, "node"))  # fmt: skip
        value = row.get("x_bare_cpu") if row else None
        out.append(_target(f"node 2 workers c{c} CPU/req ≤ 1.3x bare hop's", value, 1.3, "≤",
                           skipped, "node"))  # fmt: skip
    row = by.get(("node", 2, 16))
    value = row.get("x_nginx_p99") if row else None
    out.append(_target("node 2 workers c16 p99 ≤ 2x nginx's", value, 2.0, "≤", skipped, "node"))
    for c in (16, 64):
        row = by.get(("node-sig", 2, c))
        value = row.get("x_floor") if row else None
        out.append(_target(f"node-sig 2 workers c{c} ≥ 0.85x floor (floor CPU / its CPU)", value,
                           0.85, "≥", skipped, "node-sig"))  # fmt: skip
    for name, _, _ in DEFAULTS:
        for c in (16, 64):
            row = by.get((name, 2, c))
            value = row.get("x_node_rps") if row else None
            out.append(_target(f"{name} 2 workers c{c} req/s ≥ 0.90x node without it", value,
                               0.90, "≥", skipped, name))  # fmt: skip
    return judge(out, stats.noisy_baselines(rows, BASELINES))


def judge(items: list[dict[str, Any]], noisy: list[str]) -> list[dict[str, Any]]:
    """Targets of a noisy run keep their values but are not judged (``met`` None, a note)."""
    if not noisy:
        return items
    why = "noisy run, not judged: " + "; ".join(noisy)
    return [{**t, "met": None, "noisy": True, "note": "; ".join(filter(None, [why, t.get("note")]))}
            for t in items]  # fmt: skip


def _target(what: str, value: float | None, limit: float, op: str,
            skipped: list[dict[str, str]], name: str) -> dict[str, Any]:  # fmt: skip
    if value is None:
        why = next((s["reason"] for s in skipped if s["name"] == name), "not measured in this mode")
        return {"name": what, "value": None, "limit": limit, "met": None, "note": why}
    met = value >= limit if op == "≥" else value <= limit
    return {"name": what, "value": value, "limit": limit, "met": met}


def measure(setup: _Setup, plan: Plan, title: str) -> list[dict[str, Any]]:
    """Build ``setup``, run its cells under ``plan``, stop everything; the summarised rows."""
    with Progress(title) as bar:
        try:
            upstream = setup.build()
            run_cells(setup.cells, upstream, plan, bar)
        finally:
            setup.close()
    return [summarize(c) for c in setup.cells]


def missing_tools() -> str:
    """Why the HTTP scenarios cannot run here ("" when nginx and wrk are installed)."""
    return "; ".join(m for m in (nginx.available(), wrk.available()) if m)


def run(quick: bool) -> dict[str, Any]:
    if missing := missing_tools():
        return {"skipped": missing}
    plan = QUICK if quick else full_plan()
    with tempfile.TemporaryDirectory(prefix="ocn-bench-http-") as tmp:
        setup = _Setup(Path(tmp), quick)
        rows = measure(setup, plan, "http hop")
    add_ratios(rows)
    add_floor(rows, setup.verify_us)
    meta = {"plan": plan.__dict__, "nginx": nginx.version(), "wrk": wrk.version(),
            "ncpu": procs.NCPU, "worker_cpus": worker_cpus(2),  # the 2-worker SUTs' placement
            "skipped_rows": setup.skipped, "verify_us": setup.verify_us,
            "noisy": stats.noisy_baselines(rows, BASELINES)}  # fmt: skip
    return {"rows": rows, "targets": targets(rows, setup.skipped), "meta": meta}
