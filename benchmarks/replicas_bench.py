"""Shared state on PostgreSQL (issue 15): the local hop with PostgreSQL state against LMDB state,
and two replicas behind nginx against one, in the same run.

Rows (wrk → … → the nginx upstream party, GET of one Location, signatures off):

- ``node-lmdb`` / ``node-pg``: one node process, state in LMDB / in PostgreSQL (routing reads the
  replica's mirror either way), 1 worker, pinned as the http scenario's 1-worker rows;
- ``lb-1-replica`` / ``lb-2-replicas``: nginx as the load balancer in front of one / two
  PostgreSQL-backed replicas of one node (same key, same public URL), unpinned.

Beside the rows, ``writes``: what the state operations cost (register acknowledged by three
replicas, proxied resources stored and read across replicas, cold route decisions from the
mirror and from LMDB). ``python -m benchmarks.replicas_bench [--runs 3 --seconds 3]`` runs it
alone.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import handshake, nginx, node_proc, payloads, procs, stats, wrk
from benchmarks.http_bench import FULL, QUICK
from benchmarks.http_runs import Cell, Plan, run_cells, summarize
from benchmarks.progress import Progress
from ocn_core.config import Settings
from ocn_core.state.backend import NodeState, lmdb_state, open_state
from ocn_core.state.records import EndpointRecord, Platform, RoleRecord
from ocn_core.store import Store
from tests.support import pg


class _Setup:
    def __init__(self, run_dir: Path, conc: list[int]) -> None:
        self.run_dir, self.conc = run_dir, conc
        self.started: list[subprocess.Popen[bytes]] = []
        self.cells: list[Cell] = []
        self.server: pg.PgServer | None = None

    def _add(self, name: str, label: str, workers: int, port: int, token_c: str,
             sut: list[int]) -> None:  # fmt: skip
        script = wrk.write_script(
            self.run_dir / f"{name}.lua", "GET", payloads.routing_headers(token_c)
        )
        headers = payloads.routing_headers(token_c)
        status, body = node_proc.get_location(f"http://127.0.0.1:{port}", headers)
        if status != 200 or body != payloads.LOCATION_RESPONSE:
            raise RuntimeError(f"{name}: bad answer {status} {body[:120]!r}")
        url = f"http://127.0.0.1:{port}{payloads.NODE_PATH}"
        for c in self.conc:
            self.cells.append(Cell(name, label, workers, c, url, script, sut))

    def build(self) -> list[int]:
        port = procs.free_port()
        routes = payloads.static_routes(f"http://127.0.0.1:{port}")
        body = nginx.upstream_body(port, routes, payloads.LOCATION_RESPONSE)
        upstream = nginx.start(self.run_dir / "upstream", 1, body, port)
        self.started.append(upstream)
        base = f"http://127.0.0.1:{port}"

        lmdb = node_proc.start_node(self.run_dir, "lmdb", 1, False, base)
        self.started.append(lmdb.proc)
        self._add("node-lmdb", "one node, state in LMDB", 1, lmdb.port, lmdb.tokens["EMSP"],
                  [lmdb.proc.pid])  # fmt: skip

        self.server = pg.PgServer().init().start()
        alone = {"OCN_STATE_URL": self.server.create_database("alone")}
        one = node_proc.start_node(self.run_dir, "pg", 1, False, base, env=alone)
        self.started.append(one.proc)
        self._add("node-pg", "one node, state in PostgreSQL", 1, one.port, one.tokens["EMSP"],
                  [one.proc.pid])  # fmt: skip

        for count in (1, 2):
            self._balanced(count, base)
        return [upstream.pid]

    def _balanced(self, count: int, upstream: str) -> None:
        """``count`` PostgreSQL replicas of one node behind an nginx load balancer."""
        assert self.server is not None
        lb_port = procs.free_port()
        public = f"http://127.0.0.1:{lb_port}"
        env = {
            "OCN_STATE_URL": self.server.create_database(f"replicas{count}"),
            "OCN_PRIVATE_KEY": secrets.token_hex(32),
            "OCN_API_KEY": secrets.token_urlsafe(16),
        }
        replicas = [
            node_proc.start_node(
                self.run_dir,
                f"r{count}-{i}",
                1,
                False,
                upstream,
                env=env,
                public_url=public,
                connect=False,
            )
            for i in range(count)
        ]
        self.started += [r.proc for r in replicas]
        for replica in replicas:  # each replica's own registry cache lists the parties
            for role, party in (("CPO", payloads.CPO), ("EMSP", payloads.EMSP)):
                handshake.list_party(replica.url, env["OCN_API_KEY"], role, party)
        body = nginx.balancer_body(lb_port, [r.port for r in replicas])
        lb = nginx.start(self.run_dir / f"lb{count}", 1, body, lb_port)
        self.started.append(lb)
        tokens = handshake.connect_parties(replicas[0].url, env["OCN_API_KEY"], upstream)
        name = "lb-1-replica" if count == 1 else f"lb-{count}-replicas"
        self._add(name, f"nginx load balancer, {count} PostgreSQL replica(s) x 1 worker", 2,
                  lb_port, tokens["EMSP"], [lb.pid, *(r.proc.pid for r in replicas)])  # fmt: skip

    def close(self) -> None:
        procs.stop(self.started)
        if self.server is not None:
            self.server.close()


def _platform(pid: str, cc: str, party: str) -> Platform:
    return Platform(
        pid, "CONNECTED", "2.2.1", "http://x/versions", "b-" + pid, True,
        [RoleRecord("CPO", cc, party)], [EndpointRecord("locations", "SENDER", "http://x/l")],
        1.0, 1.0,
    )  # fmt: skip


def write_costs(server: pg.PgServer, run_dir: Path, n: int = 200) -> dict[str, Any]:
    """Median / p99 µs of the state operations, in one process holding 3 replicas' connections
    (each with its listener) and an LMDB store on the same disk."""
    store = Store(run_dir / "writes-lmdb", map_size=256 << 20)
    settings = Settings.from_env({}, data_dir=run_dir, state_url=server.create_database("writes"))
    replicas = [open_state(settings, store) for _ in range(3)]
    local = lmdb_state(store)
    try:
        first, other = replicas[0], replicas[2]
        for i in range(n):  # a node with n platforms
            first.platforms.register(None, _platform(f"x{i}", "NL", f"{i:03d}"), f"c{i}")
            local.platforms.register(None, _platform(f"x{i}", "NL", f"{i:03d}"), f"c{i}")
        ids = [first.proxies.put("http://x", "A", "B", 60) for _ in range(n)]

        def cold(state: NodeState) -> Callable[[int], object]:
            def decide(_i: int) -> object:
                state.platforms.forget_route_facts()
                return state.platforms.route_facts("Token c5", "NL005", "NL007", "locations",
                                                   "SENDER")  # fmt: skip

            return decide

        cases: dict[str, Callable[[int], object]] = {
            "register_acked_by_3_replicas": lambda i: first.platforms.register(
                None, _platform(f"y{i}", "DE", f"{i:03d}"), f"d{i}"
            ),
            "proxy_put_pg": lambda i: first.proxies.put("http://x", "A", "B", 60),
            "proxy_put_lmdb": lambda i: local.proxies.put("http://x", "A", "B", 60),
            "proxy_get_other_replica": lambda i: other.proxies.get(ids[i], "A", "B"),
            "cold_decision_mirror": cold(other),
            "cold_decision_lmdb": cold(local),
        }
        out = {}
        for name, op in cases.items():
            took = []
            for i in range(n):
                t0 = time.perf_counter_ns()
                op(i)
                took.append((time.perf_counter_ns() - t0) / 1000)
            took.sort()
            out[name] = {"p50_us": took[n // 2], "p99_us": took[int(n * 0.99) - 1]}
        return out
    finally:
        for r in replicas:
            r.close()
        store.close()


def add_ratios(rows: list[dict[str, Any]]) -> None:
    """``x_ref_rps``: node-pg against node-lmdb, lb-2-replicas against lb-1-replica (same c)."""
    by = {(r["name"], r["conc"]): r for r in rows if "rps" in r}
    for name, ref in (("node-pg", "node-lmdb"), ("lb-2-replicas", "lb-1-replica")):
        for (n, c), row in by.items():
            base = by.get((ref, c))
            if n == name and base is not None:
                row["x_ref_rps"] = stats.ratio(
                    row["rps"]["median"], base["rps"]["median"]
                )  # fmt: skip


def targets(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        if r["name"] == "node-pg":
            value = r.get("x_ref_rps")
            out.append({"name": f"node-pg c{r['conc']} req/s ≥ 0.80x node-lmdb", "value": value,
                        "limit": 0.8, "met": None if value is None else value >= 0.8})  # fmt: skip
    return out


def run(quick: bool, plan: Plan | None = None) -> dict[str, Any]:
    missing = [m for m in (nginx.available(), wrk.available(), pg.available()) if m]
    if missing:
        return {"skipped": "; ".join(missing)}
    plan = plan or (QUICK if quick else FULL)
    conc = [16] if quick else [16, 64]
    with (
        tempfile.TemporaryDirectory(prefix="ocn-bench-replicas-") as tmp,
        Progress("replicas") as bar,
    ):
        setup = _Setup(Path(tmp), conc)
        try:
            upstream = setup.build()
            run_cells(setup.cells, upstream, plan, bar)
            assert setup.server is not None
            writes = write_costs(setup.server, Path(tmp), 50 if quick else 200)
        finally:
            setup.close()
    rows = [summarize(c) for c in setup.cells]
    for row in rows:
        row.pop("raw", None)
    add_ratios(rows)
    meta = {"plan": plan.__dict__, "ncpu": procs.NCPU, "postgresql": str(pg.bin_dir())}
    return {"rows": rows, "writes": writes, "targets": targets(rows), "meta": meta}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args()
    plan = Plan(runs=args.runs, seconds=args.seconds, warm=0.5, quiet_pct=30.0,
                quiet_wait_s=3.0, redo_pct=0.0)  # fmt: skip
    result = run(False, plan)
    for row in result.get("rows", []):
        if "rps" in row:
            rps, p99 = row["rps"]["median"], row["p99_us"]["median"]
            print(f"{row['name']:14} c{row['conc']:<3} {rps:9.0f} req/s  p99 {p99:7.0f} us"
                  f"  x ref {row.get('x_ref_rps')}")  # fmt: skip
        else:
            print(row["name"], row["conc"], "failed", row["failed_runs"])
    for name, took in result.get("writes", {}).items():
        print(f"{name:28} p50 {took['p50_us']:9.1f} us  p99 {took['p99_us']:9.1f} us")
    print(json.dumps(result.get("targets"), indent=1))
    os.makedirs("/tmp/ocn-replicas-bench", exist_ok=True)
    Path("/tmp/ocn-replicas-bench/result.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
