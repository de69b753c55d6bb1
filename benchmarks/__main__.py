"""``python -m benchmarks --mode quick|full [--out DIR] [--only NAME,...]`` (also ``ocn-bench``).

``--mode soak [--soak-seconds 600] [--soak-workers 2]`` runs only the soak (benchmarks.soak).

Quick mode runs every scenario at reduced size (< 1 minute, CI smoke test, no thresholds);
full mode is the measurement. Scenarios that cannot run here (a missing tool, a module not
written yet) are recorded as skipped with the reason. The exit status is 1 only when a scenario
crashed; missed performance targets are reported, never fatal.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import plots, report
from benchmarks.report_tables import RENDERERS

# scenario name -> module exposing run(quick: bool) -> dict; order = run order
SCENARIOS = {
    "decision": "benchmarks.decision_bench",
    "bridge": "benchmarks.bridge_bench",
    "notary": "benchmarks.notary_bench",
    "grpc": "benchmarks.grpc_bench",
    "http": "benchmarks.http_bench",
    "federation": "benchmarks.federation_bench",
    "registry": "benchmarks.registry_bench",
    "replicas": "benchmarks.replicas_bench",
    "broadcast": "benchmarks.broadcast_bench",
}


def load(module: str) -> Callable[[bool], dict[str, Any]] | str:
    """The scenario's ``run`` or, when its module does not exist (yet), why it is skipped."""
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name == module:
            return f"{module} is not present in this checkout"
        raise
    run: Callable[[bool], dict[str, Any]] = mod.run
    return run


def run_scenario(name: str, quick: bool) -> dict[str, Any]:
    t0 = time.monotonic()
    result: dict[str, Any]
    try:
        found = load(SCENARIOS[name])
        result = {"skipped": found} if isinstance(found, str) else dict(found(quick))
    except Exception:
        result = {"error": traceback.format_exc()}
    result["elapsed_s"] = round(time.monotonic() - t0, 2)
    return result


def _commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=10, cwd=Path(__file__).parent)  # fmt: skip
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def _meta(mode: str) -> dict[str, Any]:
    from benchmarks.procs import NCPU

    return {
        "mode": mode, "started": time.strftime("%Y-%m-%d %H:%M:%S"), "commit": _commit(),
        "machine": f"{platform.machine()}, {NCPU} CPUs, Linux {platform.release()}, "
                   f"Python {platform.python_version()}",
    }  # fmt: skip


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="ocn-bench", description=__doc__.split("\n")[0])
    ap.add_argument("--mode", choices=("quick", "full", "soak"), default="quick")
    ap.add_argument("--soak-seconds", type=float, default=600.0, help="paced load (soak mode)")
    ap.add_argument("--soak-workers", type=int, default=2, help="node workers (soak mode)")
    ap.add_argument("--soak-window", type=float, default=10.0, help="seconds per p99 point")
    ap.add_argument("--out", type=Path, help="output directory (default results/bench-<time>)")
    ap.add_argument("--only", default="", help=f"comma-separated subset of {','.join(SCENARIOS)}")
    ap.add_argument("--runs", type=int, help="full mode: runs per HTTP cell (default 5)")
    ap.add_argument("--render", type=Path, help="only re-render DIR/results.json to Markdown+PNG")
    return ap.parse_args(argv)


def render(out: Path, meta: dict[str, Any], results: dict[str, dict[str, Any]]) -> None:
    (out / "results.md").write_text(report.document(meta, results, RENDERERS))
    made = plots.scenario_plots(out, results)
    print(f"wrote {out}/results.json, results.md and {len(made)} plots", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.render:
        saved = json.loads((args.render / "results.json").read_text())
        render(args.render, saved["meta"], saved["results"])
        return 0
    only = [s for s in args.only.split(",") if s]
    unknown = [s for s in only if s not in SCENARIOS]
    if unknown:
        print(f"unknown scenario(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    if args.runs:
        os.environ["OCN_BENCH_RUNS"] = str(args.runs)
    from ocn_core.logconfig import configure_logging

    configure_logging("console", "warning")
    out = args.out or Path("results") / time.strftime("bench-%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    if args.mode == "soak":
        return soak(args, out)
    meta = _meta(args.mode)
    results: dict[str, dict[str, Any]] = {}
    for name in SCENARIOS:
        if not only or name in only:
            results[name] = run_scenario(name, args.mode == "quick")
    from ocn_core import implementation_report

    meta["implementations"] = implementation_report()
    (out / "results.json").write_text(json.dumps({"meta": meta, "results": results}, indent=1,
                                                 default=str))  # fmt: skip
    render(out, meta, results)
    failed = [n for n, r in results.items() if "error" in r]
    for n in failed:
        print(f"scenario {n} failed:\n{results[n]['error']}", file=sys.stderr)
    return 1 if failed else 0


def soak(args: argparse.Namespace, out: Path) -> int:
    """The soak run alone: results.json, results.md and soak.png in ``out``."""
    from benchmarks.soak import SoakPlan, markdown, run_soak

    plan = SoakPlan(seconds=args.soak_seconds, window=args.soak_window, workers=args.soak_workers)
    result = run_soak(plan, out)
    meta = _meta("soak")
    (out / "results.json").write_text(json.dumps({"meta": meta, "results": {"soak": result}},
                                                 indent=1, default=str))  # fmt: skip
    (out / "results.md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
