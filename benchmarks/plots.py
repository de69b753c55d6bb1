"""PNG plots: latency percentile curves (CDF) and throughput vs concurrency."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from benchmarks.stats import CDF_POINTS


def _pct_axis(ax: Any) -> None:
    """x = percentile on a 'nines' scale (log of 1/(1-p))."""
    ax.set_xscale("log")
    ticks = [1 / (1 - p / 100) for p in (50, 90, 99, 99.9, 99.99)]
    ax.set_xticks(ticks, ["p50", "p90", "p99", "p99.9", "p99.99"])
    ax.set_yscale("log")
    ax.set_ylabel("latency µs")
    ax.grid(True, which="both", alpha=0.3)


def latency_curves(path: Path, title: str, curves: dict[str, dict[str, float]]) -> Path:
    fig, ax = plt.subplots(figsize=(8, 5))
    xs = [1 / (1 - p / 100) for p in CDF_POINTS]
    for label, pct in curves.items():
        ys = list(pct.values())[: len(xs)]
        ax.plot(xs[: len(ys)], ys, marker="o", markersize=3, label=label)
    _pct_axis(ax)
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def throughput(
    path: Path, title: str, series: dict[str, list[tuple[int, float]]], unit: str
) -> Path:
    fig, ax = plt.subplots(figsize=(8, 5))
    for label, points in series.items():
        points = sorted(points)
        ax.plot([c for c, _ in points], [v for _, v in points], marker="o", label=label)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("concurrency (requests in flight)")
    ax.set_ylabel(unit)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def scenario_plots(out: Path, results: dict[str, dict[str, Any]]) -> list[Path]:
    made: list[Path] = []
    http = results.get("http", {}).get("rows", [])
    if http:
        for c in sorted({r["conc"] for r in http}):
            curves = {f"{r['name']} w{r['workers']}": r["percentiles_us"]
                      for r in http if r["conc"] == c and "percentiles_us" in r}  # fmt: skip
            made.append(latency_curves(out / f"http_latency_c{c}.png",
                                       f"HTTP hop latency percentiles, c={c}", curves))  # fmt: skip
        series: dict[str, list[tuple[int, float]]] = {}
        for r in http:
            if "rps" in r:
                series.setdefault(f"{r['name']} w{r['workers']}", []).append(
                    (r["conc"], r["rps"]["median"])
                )
        made.append(throughput(out / "http_throughput.png", "HTTP hop throughput", series, "req/s"))
    grpc = results.get("grpc", {}).get("rows", [])
    if grpc:
        curves = {f"{r['name']} c{r['conc']}": r["percentiles_us"] for r in grpc}
        made.append(latency_curves(out / "grpc_latency.png", "gRPC call latency", curves))
        series = {}
        for r in grpc:
            series.setdefault(r["name"], []).append((r["conc"], r["calls_s"]["median"]))
        made.append(throughput(out / "grpc_throughput.png", "gRPC throughput", series, "calls/s"))
    decision = results.get("decision", {}).get("rows", [])
    if decision:
        curves = {r["name"]: r["percentiles_us"] for r in decision}
        made.append(
            latency_curves(out / "decision_latency.png", "Route decision in process", curves)
        )
    return made
