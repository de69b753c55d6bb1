"""Interleaved, bounded wrk runs over a set of cells, with CPU/req from /proc and a load guard.

Placement on a 2+ vCPU machine, as in ../shared/docs/perf-baselines.md: 1-worker cells pin the
server under test (SUT) to CPU 0 and wrk + the upstream to CPU 1; in 2-worker cells wrk and the
upstream may run anywhere and the SUT places its own workers (on a 2-CPU machine nginx,
our node and our bare hop each pin worker i to CPU i: ``worker_cpu_affinity``).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import procs, stats, wrk
from benchmarks.progress import Progress

ALL = set(range(procs.NCPU))
SUT_CPU, LOAD_CPU = {0}, {1 % procs.NCPU}


@dataclass
class Cell:
    name: str  # row family: direct, nginx-proxy, node, node-sig
    label: str
    workers: int
    conc: int
    url: str
    script: Path
    sut: list[int]  # root PIDs of the server under test
    runs: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Plan:
    runs: int
    seconds: float
    warm: float
    quiet_pct: float  # wait before a run until foreign load is below this (% of one CPU)
    quiet_wait_s: float  # ... but no longer than this
    redo_pct: float  # redo runs disturbed by more foreign load than this (0: never)


def _cpu_stat() -> list[int]:
    with open("/proc/stat") as f:
        return [int(x) for x in f.readline().split()[1:9]]


def one_run(cell: Cell, upstream: list[int], plan: Plan) -> dict[str, Any]:
    pinned = procs.NCPU >= 2 and cell.workers == 1
    sut_cpus, load_cpus = (SUT_CPU, LOAD_CPU) if pinned else (ALL, ALL)
    is_upstream = cell.sut == upstream
    procs.pin(upstream, sut_cpus if is_upstream else load_cpus)
    if pinned and not is_upstream:  # 2-worker cells: the SUT places its own workers
        procs.pin(cell.sut, sut_cpus)
    waited = procs.wait_quiet([os.getpid()], plan.quiet_pct, plan.quiet_wait_s)
    if plan.warm > 0:
        wrk.run(cell.url, cell.script, cell.conc, plan.warm, load_cpus)
    foreign0, t0, stat0 = procs.foreign_cpu_ticks([os.getpid()]), time.monotonic(), _cpu_stat()
    (sut0, sys0), up0 = procs.tree_cpu_split(cell.sut), procs.tree_cpu_s(upstream)
    r = wrk.run(cell.url, cell.script, cell.conc, plan.seconds, load_cpus)
    (sut1, sys1), up1 = procs.tree_cpu_split(cell.sut), procs.tree_cpu_s(upstream)
    stat1, t1 = _cpu_stat(), time.monotonic()
    foreign = procs.foreign_pct(foreign0, procs.foreign_cpu_ticks([os.getpid()]), t1 - t0)
    n = max(1, r["requests"])
    d = [b - a for a, b in zip(stat0, stat1, strict=True)]
    r.update({
        "sut_cpu_us_req": (sut1 - sut0) * 1e6 / n,
        "sut_kernel_us_req": (sys1 - sys0) * 1e6 / n,  # of which in the kernel (stime)
        "upstream_cpu_us_req": 0.0 if is_upstream else (up1 - up0) * 1e6 / n,
        "wrk_cpu_us_req": r["wrk_cpu_s"] * 1e6 / n,
        "steal_pct": 100.0 * d[7] / max(1, sum(d)),
        "foreign_cpu_pct": foreign, "waited_quiet_s": waited, "pinned": pinned,
    })  # fmt: skip
    return r


def run_cells(cells: list[Cell], upstream: list[int], plan: Plan, bar: Progress) -> None:
    """Run 1 of every cell, then run 2, ...; then redo disturbed runs (up to 2 tries each)."""
    bar.add(len(cells) * plan.runs)
    for _ in range(plan.runs):
        for cell in cells:
            cell.runs.append(_guarded(cell, upstream, plan))
            bar.step(f"{cell.name} w{cell.workers} c{cell.conc}")
    if plan.redo_pct <= 0:
        return
    for cell in cells:
        for i, r in enumerate(cell.runs):
            for _ in range(2):
                if "error" in r or r["foreign_cpu_pct"] <= plan.redo_pct:
                    break
                again = _guarded(cell, upstream, plan)
                if "error" not in again and again["foreign_cpu_pct"] < r["foreign_cpu_pct"]:
                    again["redone"] = True
                    cell.runs[i] = r = again


def _guarded(cell: Cell, upstream: list[int], plan: Plan) -> dict[str, Any]:
    try:
        return one_run(cell, upstream, plan)
    except Exception as exc:  # one failed run is recorded, not fatal
        return {"error": repr(exc)}


def summarize(cell: Cell) -> dict[str, Any]:
    ok = [r for r in cell.runs if "error" not in r]
    row: dict[str, Any] = {
        "name": cell.name, "label": cell.label, "workers": cell.workers, "conc": cell.conc,
        "n_runs": len(ok), "failed_runs": [r["error"] for r in cell.runs if "error" in r],
    }  # fmt: skip
    if not ok:
        return row
    for key in ("rps", "sut_cpu_us_req"):
        row[key] = stats.spread(r[key] for r in ok)
    for p in (stats.P50, stats.P99):
        row[p + "_us"] = stats.spread(r["pct_us"][p] for r in ok)
    row["percentiles_us"] = {
        k: stats.median_of([r["pct_us"] for r in ok], k) for k in ok[0]["pct_us"]
    }
    for key in ("sut_kernel_us_req", "upstream_cpu_us_req", "wrk_cpu_us_req", "steal_pct"):
        row[key] = stats.median_of(ok, key)
    row["foreign_cpu_pct_max"] = max(r["foreign_cpu_pct"] for r in ok)
    row["errors"] = sum(r["errors"] for r in ok)
    row["pinned"] = ok[0]["pinned"]
    row["n_redone"] = sum(1 for r in ok if r.get("redone"))
    row["raw"] = ok
    return row
