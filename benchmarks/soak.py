"""Soak: the local hop (wrk → ``ocn-node run`` → nginx party) at ~70 % of its measured maximum
for a long time (default 10 minutes), in windows: req/s, errors and p99 per window, the node's
RSS (its whole process tree) every second, and a plot of all three over time.

``python -m benchmarks --mode soak [--soak-seconds 600] [--soak-workers 2]``. The pace is set
by a per-connection wrk ``delay()`` that is corrected after every window. Targets: 0 errors,
RSS growth < 10 % (last sample against the first after the first window).
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import node_proc, payloads, procs, stats, wrk
from benchmarks.upstream import start_upstream

CONNECTIONS = 64  # many, so each paces in whole ms with a few ms of delay


@dataclass
class SoakPlan:
    seconds: float = 600.0  # paced load
    fraction: float = 0.70  # of the measured maximum
    window: float = 10.0  # seconds per wrk run (one p99 point)
    probe: float = 5.0  # seconds of unpaced load that measure the maximum
    workers: int = 2


def tree_rss_kib(roots: list[int]) -> int:
    """Resident set size of the process trees under ``roots`` (KiB)."""
    total = 0
    for pid in procs.tree_pids(roots):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


class _RssSampler(threading.Thread):
    def __init__(self, roots: list[int], every: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.roots, self.every = roots, every
        self.samples: list[tuple[float, int]] = []
        self.t0 = time.monotonic()
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.samples.append((time.monotonic() - self.t0, tree_rss_kib(self.roots)))
            self._halt.wait(self.every)

    def stop(self) -> None:
        self._halt.set()
        self.join(5)


def _paced(rps: float, target: float, delay_ms: float, gain: float = 1.0) -> float:
    """The next per-connection delay: move each connection's cycle (``gain`` of the way) to
    the target's. The windows use a gain below 1: on a shared machine the capacity moves, and a
    full correction overshoots into unpaced bursts."""
    if rps <= 0:
        return delay_ms
    return max(0.0, delay_ms + gain * 1000.0 * CONNECTIONS * (1.0 / target - 1.0 / rps))


def run_soak(plan: SoakPlan, out: Path) -> dict[str, Any]:
    """Start the hop, measure its maximum, hold ``fraction`` of it; write soak.png to ``out``."""
    for missing in (wrk.available(),):
        if missing:
            return {"skipped": missing}
    out.mkdir(parents=True, exist_ok=True)
    started = []
    with tempfile.TemporaryDirectory(prefix="ocn-soak-") as tmp:
        run_dir = Path(tmp)
        try:
            up = start_upstream(run_dir)
            started.append(up.proc)
            node = node_proc.start_node(run_dir, "soak", plan.workers, False, up.base)
            started.append(node.proc)
            url = node.url + payloads.NODE_PATH
            headers = payloads.routing_headers(node.tokens["EMSP"])
            free = wrk.write_script(run_dir / "max.lua", "GET", headers)
            cpus = set(range(procs.NCPU))
            probe = wrk.run(url, free, CONNECTIONS, plan.probe, cpus)
            target = plan.fraction * probe["rps"]
            delay = _paced(probe["rps"], target, 0.0)
            sampler = _RssSampler([node.proc.pid])
            sampler.start()
            windows = []
            t0 = time.monotonic()
            while time.monotonic() - t0 < plan.seconds:
                script = wrk.write_script(run_dir / "paced.lua", "GET", headers, delay)
                r = wrk.run(url, script, CONNECTIONS, plan.window, cpus)
                windows.append({
                    "t_s": round(time.monotonic() - t0, 1), "rps": r["rps"], "delay_ms": delay,
                    "p50_us": r["pct_us"][stats.P50], "p99_us": r["pct_us"][stats.P99],
                    "errors": r["errors"], "requests": r["requests"],
                })  # fmt: skip
                delay = _paced(r["rps"], target, delay, gain=0.5)
            sampler.stop()
        finally:
            procs.stop(started)
    result = summarize(probe["rps"], target, windows, sampler.samples, plan)
    result["plot"] = str(plot(out / "soak.png", windows, sampler.samples, target))
    return result


def summarize(max_rps: float, target: float, windows: list[dict[str, Any]],
              rss: list[tuple[float, int]], plan: SoakPlan) -> dict[str, Any]:  # fmt: skip
    """Figures and targets: 0 errors, RSS growth < 10 % after the first window."""
    first_window_end = windows[0]["t_s"] if windows else 0.0
    warm = [kib for t, kib in rss if t >= first_window_end] or [kib for _, kib in rss]
    growth = (warm[-1] - warm[0]) / warm[0] if warm and warm[0] else None
    errors = sum(w["errors"] for w in windows)
    p99s = [w["p99_us"] for w in windows]
    return {
        "plan": plan.__dict__,
        "max_rps": max_rps,
        "target_rps": target,
        "achieved_rps": statistics.fmean(w["rps"] for w in windows) if windows else 0.0,
        "requests": sum(w["requests"] for w in windows),
        "errors": errors,
        "p99_us": {"first": p99s[0], "last": p99s[-1], "max": max(p99s)} if p99s else {},
        "rss_kib": {"warm_first": warm[0], "last": warm[-1], "max": max(warm)} if warm else {},
        "rss_growth": growth,
        "windows": windows,
        "rss_samples": rss,
        "targets": [
            {"name": "soak errors = 0", "value": errors, "limit": 0, "met": errors == 0},
            {"name": "soak RSS growth < 10 %", "value": growth, "limit": 0.10,
             "met": growth is not None and growth < 0.10},
        ],
    }  # fmt: skip


def plot(path: Path, windows: list[dict[str, Any]], rss: list[tuple[float, int]],
         target: float) -> Path:  # fmt: skip
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_rps, ax_p99, ax_rss) = plt.subplots(3, 1, figsize=(9, 8), sharex=True)
    ts = [w["t_s"] for w in windows]
    ax_rps.plot(ts, [w["rps"] for w in windows], marker="o", markersize=3, label="req/s")
    ax_rps.axhline(target, color="grey", linestyle="--", label="target (70 % of max)")
    ax_rps.set_ylabel("req/s")
    ax_rps.legend(fontsize=8)
    ax_p99.plot(ts, [w["p99_us"] / 1000 for w in windows], marker="o", markersize=3, color="C1")
    ax_p99.set_ylabel("p99 ms (per window)")
    ax_rss.plot([t for t, _ in rss], [kib / 1024 for _, kib in rss], color="C2")
    ax_rss.set_ylabel("node RSS MiB (all processes)")
    ax_rss.set_xlabel("seconds")
    for ax in (ax_rps, ax_p99, ax_rss):
        ax.grid(True, alpha=0.3)
    fig.suptitle("Soak: local hop at 70 % of its maximum")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def markdown(res: dict[str, Any]) -> str:
    if "skipped" in res:
        return f"# Soak\n\nskipped: {res['skipped']}\n"
    rss, p99 = res["rss_kib"], res["p99_us"]
    growth = res["rss_growth"]
    lines = [
        "# Soak", "",
        f"- plan: {res['plan']}",
        f"- maximum {res['max_rps']:.0f} req/s; target {res['target_rps']:.0f}; "
        f"held {res['achieved_rps']:.0f} req/s over {len(res['windows'])} windows",
        f"- requests {res['requests']}, errors {res['errors']}",
        f"- p99 first {p99.get('first', 0) / 1000:.2f} ms, last {p99.get('last', 0) / 1000:.2f} ms,"
        f" max {p99.get('max', 0) / 1000:.2f} ms",
        f"- RSS after warm-up {rss.get('warm_first', 0) / 1024:.1f} MiB, last "
        f"{rss.get('last', 0) / 1024:.1f} MiB, max {rss.get('max', 0) / 1024:.1f} MiB, growth "
        + (f"{growth * 100:.1f} %" if growth is not None else "n/a"),
        "", "| target | value | met |", "|---|---|---|",
        *(f"| {t['name']} | {t['value']} | {t['met']} |" for t in res["targets"]),
        "", f"![soak]({Path(res['plot']).name})", "",
    ]  # fmt: skip
    return "\n".join(lines)
