"""The cross-node path: wrk (eMSP) → node A → ``/ocn/message`` → node B → upstream (CPO), against
two chained nginx reverse proxies to the same upstream, in the same run; signatures off and on;
plus the node-signature cost per message (sign on A, recover on B) measured in process.

The pair's floor, from the same run: two local node hops (a ``node`` row: one node, both
parties local, same settings) plus the node signature (sign + recover). ``x_floor`` is floor
CPU / the pair's CPU; ``x_chain_at_floor`` the nginx-chain ratio the pair would reach at its
floor (its ratio scaled by its CPU over the floor's: the machine is CPU-bound), which says
whether the 0.40x target is within reach of any node doing this work.
"""

from __future__ import annotations

import os
import secrets
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import handshake, http_bench, nginx, node_proc, payloads, procs, signed, stats, wrk
from benchmarks.http_bench import _med, _target, full_plan, judge
from benchmarks.http_runs import Plan
from benchmarks.stats import ratio

FULL = Plan(runs=5, seconds=4, warm=1, quiet_pct=15.0, quiet_wait_s=8.0, redo_pct=10.0)
QUICK = Plan(runs=1, seconds=1, warm=0, quiet_pct=100.0, quiet_wait_s=0.0, redo_pct=0.0)
BASELINES = ("nginx-chain",)  # the rows whose spread decides whether the run is noisy


def _admin(url: str, key: str, path: str, body: Any) -> Any:
    return handshake._call("POST", url + path, f"Token {key}", body)


class _Setup(http_bench._Setup):
    """The nginx chain and the node pairs (the upstream, pre-flight and cleanup as in http)."""

    def __init__(self, run_dir: Path, quick: bool) -> None:
        super().__init__(run_dir, quick)
        self.workers = [1] if quick else [1, 2]
        self.conc = self.conc_w2 = [16] if quick else [16, 64]

    def build(self) -> list[int]:
        keys, addresses = signed.party_keys()
        signed_body = signed.signed_location_response(keys["CPO"])
        up, signed_base = self._upstream(signed_body)
        plain = wrk.write_script(self.run_dir / "plain.lua", "GET",
                                 payloads.routing_headers("not-checked-by-nginx"))  # fmt: skip
        for w in self.workers:
            p2 = procs.free_port()
            body2 = nginx.proxy_body(p2, up.port)
            second = nginx.start(self.run_dir / f"chain2-w{w}", w, body2, p2)
            p1 = procs.free_port()
            first = nginx.start(self.run_dir / f"chain1-w{w}", w, nginx.proxy_body(p1, p2), p1)
            self.started += [second, first]
            self._add("nginx-chain", "two chained nginx proxy_pass hops", w, p1, plain,
                      [first.pid, second.pid])  # fmt: skip
        for w in self.workers:  # the floor's local hop, with the pair's settings
            local = node_proc.start_node(self.run_dir, f"local-w{w}", w, False,
                                         f"http://127.0.0.1:{up.port}", metrics=True)  # fmt: skip
            self.started.append(local.proc)
            script = wrk.write_script(self.run_dir / f"local-w{w}.lua", "GET",
                                      payloads.routing_headers(local.tokens["EMSP"]))  # fmt: skip
            self._add("node", "one node, local receiver (the floor's hop)", w, local.port, script,
                      [local.proc.pid])  # fmt: skip
        for sig in (False, True):
            base = signed_base if sig else f"http://127.0.0.1:{up.port}"
            expect = signed_body if sig else payloads.LOCATION_RESPONSE
            for w in self.workers:
                self._nodes(w, sig, base, keys, addresses, expect)
        return [up.proc.pid]

    def _start(self, name: str, workers: int, sig: bool, key: str) -> tuple[str, str, Any]:
        port = procs.free_port()
        data_dir = self.run_dir / name / "data"
        data_dir.mkdir(parents=True, exist_ok=True)
        api_key = secrets.token_urlsafe(16)
        env = dict(os.environ, OCN_API_KEY=api_key, OCN_PRIVATE_KEY=key,
                   OCN_ALLOW_LOOPBACK_URLS="1", OCN_LOG_LEVEL="warning")  # fmt: skip
        argv = [sys.executable, "-m", "ocpi_gateway.cli", "run", "--data-dir", str(data_dir),
                "--public-url", f"http://127.0.0.1:{port}", "--port", str(port),
                "--workers", str(workers), "--log-level", "warning"]  # fmt: skip
        if sig:
            argv.append("--signatures")
        proc = procs.start(argv, self.run_dir / name / "node.log", env)
        self.started.append(proc)
        procs.wait_port(port, proc)
        return f"http://127.0.0.1:{port}", api_key, proc

    def _nodes(self, workers: int, sig: bool, upstream: str, keys: dict[str, str],
               addresses: dict[str, str], expect: bytes) -> None:  # fmt: skip
        from ocn_core.signing import address_of

        tag = f"{'sig-' if sig else ''}w{workers}"
        node_keys = {"A": secrets.token_hex(32), "B": secrets.token_hex(32)}
        a_url, a_key, a_proc = self._start(f"fed-a-{tag}", workers, sig, node_keys["A"])
        b_url, b_key, b_proc = self._start(f"fed-b-{tag}", workers, sig, node_keys["B"])
        homes = {"EMSP": (payloads.EMSP, "A"), "CPO": (payloads.CPO, "B")}
        nodes = {"A": (a_url, a_key), "B": (b_url, b_key)}
        for url, key in nodes.values():
            for other, (o_url, _) in nodes.items():
                _admin(url, key, "/admin/registry/nodes",
                       {"operator": address_of(node_keys[other]), "url": o_url})  # fmt: skip
            for role, (party, home) in homes.items():
                listing = {
                    "country_code": party[0],
                    "party_id": party[1],
                    "roles": [role],
                    "operator": address_of(node_keys[home]),
                    "address": addresses[role],
                }
                _admin(url, key, "/admin/registry/parties", listing)
        tokens = {}
        for role, (party, home) in homes.items():
            url, key = nodes[home]
            grant = _admin(url, key, "/admin/generate-registration-token",
                           [{"country_code": party[0], "party_id": party[1]}])  # fmt: skip
            tokens[role] = handshake._register(url, str(grant["token"]), party, role, upstream)
        headers = payloads.routing_headers(tokens["EMSP"])
        if sig:
            headers = signed.sign_headers(headers, keys["EMSP"])
        script = wrk.write_script(self.run_dir / f"fed-{tag}.lua", "GET", headers)
        name = "federation-sig" if sig else "federation"
        label = f"node A → /ocn/message → node B, signatures {'verified' if sig else 'off'}"
        self._add(name, label, workers, int(a_url.rsplit(":", 1)[1]), script,
                  [a_proc.pid, b_proc.pid], expect)  # fmt: skip


def node_signature_cost(quick: bool) -> dict[str, float]:
    """µs to node-sign the benchmark's /ocn/message body and to recover its signer."""
    from ocn_core import signing
    from ocn_core.federation import message
    from ocn_core.model import InterfaceRole, PartyRef, RouteKind, RouteRequest

    req = RouteRequest(
        kind=RouteKind.MODULE, module="locations", interface_role=InterfaceRole.SENDER,
        method="GET", path_suffix=payloads.LOCATION_ID, correlation_id=payloads.CORRELATION_ID,
        from_party=PartyRef(*payloads.EMSP), to_party=PartyRef(*payloads.CPO),
    )  # fmt: skip
    body = message.encode(req, payloads.REQUEST_ID, query="", body=b"", signature="")
    key = secrets.token_bytes(32)
    sig = signing.node_sign(body, key)
    n = 300 if quick else 3000
    out: dict[str, float] = {"message_bytes": float(len(body))}
    calls: list[tuple[str, Callable[[], object]]] = [
        ("sign_us", lambda: signing.node_sign(body, key)),
        ("recover_us", lambda: signing.node_recover(body, sig)),
    ]
    for name, fn in calls:
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            best = min(best, (time.perf_counter() - t0) / n * 1e6)
        out[name] = round(best, 2)
    out["per_message_us"] = round(out["sign_us"] + out["recover_us"], 2)
    return out


def add_floor(rows: list[dict[str, Any]], signature: dict[str, float]) -> None:
    """Each federation row's floor: 2 x the local node row's CPU/req (same w, c) + sign +
    recover; ``x_floor`` = floor / its CPU, ``x_chain_at_floor`` its chain ratio at the floor."""
    local = {(r["workers"], r["conc"]): r for r in rows if r["name"] == "node" and "rps" in r}
    for r in [r for r in rows if r["name"] == "federation" and "rps" in r]:
        hop = _med(local.get((r["workers"], r["conc"])), "sut_cpu_us_req")
        cpu = _med(r, "sut_cpu_us_req")
        if hop is None or not cpu:
            continue
        floor = round(2 * hop + signature["per_message_us"], 1)
        r["floor_cpu_us_req"] = floor
        parts = {"2 x local node hop": round(2 * hop, 1), "sign": signature["sign_us"]}
        r["floor_parts_us"] = {**parts, "recover": signature["recover_us"]}
        r["x_floor"] = ratio(floor, cpu)
        if r.get("x_chain_rps") is not None:
            r["x_chain_at_floor"] = round(r["x_chain_rps"] * cpu / floor, 3)


def targets(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by = {(r["name"], r["workers"], r["conc"]): r for r in rows}
    out = []
    for w in (1, 2):
        for c in (16, 64):
            row = by.get(("federation", w, c))
            if row is None:
                continue
            goal = _target(f"federation w{w} c{c} req/s ≥ 0.40x nginx chain",
                           row.get("x_chain_rps"), 0.40, "≥", [], "federation")  # fmt: skip
            if row.get("x_chain_at_floor") is not None:
                goal["note"] = (f"at its floor ({row['floor_cpu_us_req']} µs/req against "
                                f"{_med(row, 'sut_cpu_us_req'):.1f}) the pair would reach "
                                f"{row['x_chain_at_floor']:.2f}x")  # fmt: skip
            out.append(goal)
            out.append(_target(f"federation w{w} c{c} p99 ≤ 2x nginx chain's",
                               row.get("x_chain_p99"), 2.0, "≤", [], "federation"))  # fmt: skip
    return judge(out, stats.noisy_baselines(rows, BASELINES))


def run(quick: bool) -> dict[str, Any]:
    if missing := http_bench.missing_tools():
        return {"skipped": missing}
    plan = QUICK if quick else Plan(**{**FULL.__dict__, "runs": full_plan().runs})
    with tempfile.TemporaryDirectory(prefix="ocn-bench-fed-") as tmp:
        rows = http_bench.measure(_Setup(Path(tmp), quick), plan, "federation")
    ref = {(r["workers"], r["conc"]): r for r in rows if r["name"] == "nginx-chain" and "rps" in r}
    for r in rows:
        base = ref.get((r["workers"], r["conc"]))
        if "rps" in r:
            r["x_chain_rps"] = ratio(_med(r, "rps"), _med(base, "rps"))
            r["x_chain_p99"] = ratio(_med(r, "p99_us"), _med(base, "p99_us"))
    meta = {"plan": plan.__dict__, "nginx": nginx.version(), "ncpu": procs.NCPU,
            "noisy": stats.noisy_baselines(rows, BASELINES)}  # fmt: skip
    signature = node_signature_cost(quick)
    add_floor(rows, signature)
    return {"rows": rows, "targets": targets(rows), "node_signature": signature, "meta": meta}
