"""The per-scenario Markdown tables of the scenarios this package implements."""

from __future__ import annotations

from typing import Any

from benchmarks.report import num, ratio, spread, table


def decision(res: dict[str, Any]) -> list[str]:
    rows = [[r["name"], r["label"], num(r["p50_us"], 2), spread(r["p50_spread"], 2),
             num(r["p99_us"], 2), num(r["ops_s"]), ratio(r.get("x_lmdb_get"))]
            for r in res["rows"]]  # fmt: skip
    head = ["case", "what", "p50 µs", "p50 spread", "p99 µs", "ops/s (no timer)", "p50 x LMDB get"]
    note = (f"{res['repeats']} interleaved runs x {res['seconds_per_run']} s per case; "
            "per-call perf_counter_ns into an HdrHistogram (3 significant digits).")  # fmt: skip
    return [note, "", *table(head, rows)]


def http(res: dict[str, Any]) -> list[str]:
    rows = []
    for r in res["rows"]:
        if "rps" not in r:
            rows.append([r["name"], str(r["workers"]), str(r["conc"]), "failed: " +
                         "; ".join(r["failed_runs"])[:200]] + ["-"] * 9)  # fmt: skip
            continue
        name = r["name"]
        if "x_node_rps" in r:  # production defaults: req/s against the node without them
            name += f" ({ratio(r['x_node_rps'])} node)"
        if "x_floor" in r:  # signatures on: floor CPU / its CPU
            name += f" ({ratio(r['x_floor'])} floor of {num(r['floor_cpu_us_req'], 1)} µs"
            if "x_floor_loaded" in r:
                name += (f"; {ratio(r['x_floor_loaded'])} floor under load of "
                         f"{num(r['floor_loaded_cpu_us_req'], 1)} µs")  # fmt: skip
            name += ")"
        rows.append([
            name, str(r["workers"]), str(r["conc"]), spread(r["rps"]),
            ratio(r.get("x_nginx_rps")), num(r["p50_us"]["median"]), spread(r["p99_us"]),
            ratio(r.get("x_nginx_p99")), spread(r["sut_cpu_us_req"], 1),
            num(r.get("sut_kernel_us_req"), 1), ratio(r.get("x_bare_cpu")),
            num(r["upstream_cpu_us_req"] + r["wrk_cpu_us_req"], 1),
            f"{r['errors']} / {r['foreign_cpu_pct_max']:.0f}% / {r['steal_pct']:.0f}%",
        ])  # fmt: skip
    head = ["hop", "w", "c", "req/s median [min-max] spread", "x nginx hop", "p50 µs",
            "p99 µs median [min-max] spread", "p99 x nginx", "SUT CPU µs/req",
            "of it kernel µs/req", "CPU x bare hop", "upstream+wrk µs/req",
            "errors / foreign max / steal"]  # fmt: skip
    meta = res["meta"]
    p = meta["plan"]
    note = (f"wrk -t1, {p['runs']} interleaved runs x {p['seconds']} s (warm-up {p['warm']} s); "
            "x nginx = against the nginx proxy hop with the same worker count at the same c; "
            "1-worker rows: SUT on CPU 0, wrk + upstream on CPU 1; 2-worker rows: wrk + upstream "
            "unpinned, the SUT places its workers ("
            + ("one per CPU: nginx worker_cpu_affinity auto, ours worker_cpu_affinity = auto"
               if meta.get("worker_cpus") else "the kernel's choice") + "). "
            f"{meta['nginx']}; {meta['wrk']}.")  # fmt: skip
    if meta.get("verify_us"):
        note += (" Signatures floor = node row's CPU/req (transport + engine, same w and c) + "
                 "request verify + response verify (in process, same messages): "
                 + ", ".join(f"{k} {v}" for k, v in meta["verify_us"].items()) + "; "
                 "under load = bare-sig row's CPU/req (the bare hop doing both verifications) + "
                 "the engine's share (node - bare hop), reported, not judged.")  # fmt: skip
    if meta.get("noisy"):
        note += " **Noisy run** (baseline spread > 20%): " + "; ".join(meta["noisy"]) + "."
    return [note, "", *table(head, rows)]


def grpc(res: dict[str, Any]) -> list[str]:
    rows = [[r["name"], r["label"], str(r["conc"]), spread(r["calls_s"]),
             ratio(r.get("x_empty_calls_s")), num(r["p50_us"]["median"]),
             num(r["p99_us"]["median"]), ratio(r.get("x_empty_p50")),
             num(r["server_cpu_us_call"], 1), num(r["client_cpu_us_call"], 1)]
            for r in res["rows"]]  # fmt: skip
    head = [
        "call",
        "what",
        "in flight",
        "calls/s median [min-max] spread",
        "calls/s x empty",
        "p50 µs",
        "p99 µs",
        "p50 x empty",
        "server CPU µs/call",
        "client CPU µs/call",
    ]
    p = res["meta"]
    note = (
        f"{p['runs']} interleaved runs x {p['seconds']} s; grpc.aio server (the product's) "
        "pinned to CPU 0, client process on CPU 1; latency per call into an HdrHistogram."
    )
    return [note, "", *table(head, rows)]


def replicas(res: dict[str, Any]) -> list[str]:
    rows = [[r["name"], r["label"], str(r["conc"]), spread(r["rps"]), ratio(r.get("x_ref_rps")),
             num(r["p50_us"]["median"]), num(r["p99_us"]["median"]),
             num(r["sut_cpu_us_req"]["median"], 1), f"{r['foreign_cpu_pct_max']:.0f}%"]
            for r in res["rows"] if "rps" in r]  # fmt: skip
    head = ["hop", "what", "c", "req/s median [min-max]", "x ref", "p50 µs", "p99 µs",
            "SUT CPU µs/req", "foreign CPU max"]  # fmt: skip
    p = res["meta"]["plan"]
    note = (f"wrk -t1, {p['runs']} interleaved runs x {p['seconds']} s; x ref: node-pg against "
            "node-lmdb, lb-2-replicas against lb-1-replica (same c).")  # fmt: skip
    writes = [[name, num(w["p50_us"], 1), num(w["p99_us"], 1)]
              for name, w in res.get("writes", {}).items()]  # fmt: skip
    return [note, "", *table(head, rows), "", *table(["state operation", "p50 µs", "p99 µs"],
                                                      writes)]  # fmt: skip


def bridge(res: dict[str, Any]) -> list[str]:
    rows = [[r["name"], r["label"], num(r["p50_us"], 2), spread(r["p50_spread"], 2),
             num(r["p99_us"], 2)] for r in res["rows"]]  # fmt: skip
    head = ["case", "message, sender → receiver version", "p50 µs", "p50 spread", "p99 µs"]
    note = (f"{res['repeats']} interleaved runs x {res['seconds_per_run']} s per case; "
            "engine.route, hop stubbed; unbridged and bridged in one run.")  # fmt: skip
    return [note, "", *table(head, rows)]


RENDERERS = {"decision": decision, "http": http, "grpc": grpc}


def federation(res: dict[str, Any]) -> list[str]:
    rows = []
    for r in res["rows"]:
        if "rps" not in r:
            rows.append([r["name"], str(r["workers"]), str(r["conc"]), "failed"] + ["-"] * 5)
            continue
        name = r["name"]
        if "x_floor" in r:  # the pair: floor CPU / its CPU, and its chain ratio at the floor
            name += (f" ({ratio(r['x_floor'])} floor of {num(r['floor_cpu_us_req'], 1)} µs; "
                     f"{ratio(r.get('x_chain_at_floor'))} chain at the floor)")  # fmt: skip
        rows.append([
            name, str(r["workers"]), str(r["conc"]), spread(r["rps"]),
            ratio(r.get("x_chain_rps")), num(r["p50_us"]["median"]), spread(r["p99_us"]),
            ratio(r.get("x_chain_p99")), num(r["sut_cpu_us_req"]["median"], 1),
        ])  # fmt: skip
    head = ["path", "w", "c", "req/s median [min-max] spread", "x nginx chain", "p50 µs",
            "p99 µs median [min-max] spread", "p99 x nginx chain", "SUT CPU µs/req"]  # fmt: skip
    sig = res["node_signature"]
    note = (f"wrk → node A → /ocn/message → node B → upstream against wrk → nginx → nginx → the "
            f"same upstream, same workers per hop; node signature per message "
            f"({sig['message_bytes']:.0f} B): sign {sig['sign_us']} µs on A + recover "
            f"{sig['recover_us']} µs on B = {sig['per_message_us']} µs. Floor of the pair = "
            "2 x the node row's CPU/req (one node, local receiver, same w and c) + sign + "
            "recover.")  # fmt: skip
    return [note, "", *table(head, rows)]


RENDERERS["federation"] = federation
RENDERERS["replicas"] = replicas
RENDERERS["bridge"] = bridge
