"""Profile the node under benchmark load with py-spy (``pip install py-spy``).

    python -m benchmarks.profile http [--workers 1] [--conc 16] [--seconds 8] [--out DIR]
    python -m benchmarks.profile grpc [--kind route|stream|route-local] [--conc 16] ...

Starts the same setup as the scenario (upstream party, node or gRPC server, real handshake),
drives it with wrk / the gRPC load process, samples the server's worker PIDs with
``py-spy record --format raw`` and prints the functions with the most samples (self and total).
Writes to DIR (default ``results/profile-<time>``): the collapsed stacks, ``flame.svg`` (a flame
graph of them), ``top.txt``, and with ``--perf`` the kernel + native view (``perf record -g`` of
the same PIDs over the same window) as ``perf.txt``.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from benchmarks import flamegraph, grpc_bench, node_proc, payloads, procs, signed, wrk
from benchmarks.upstream import start_upstream


def spy(pids: list[int], seconds: float, out: Path, native: bool = False,
        perf: bool = False) -> list[Path]:  # fmt: skip
    """One ``py-spy record`` per PID, in parallel, bounded by ``--duration`` (and one
    ``perf record`` of all of them over the same window when ``perf``)."""
    runs, files = [], []
    if perf:
        argv = ["perf", "record", "-F", "499", "-g", "-o", str(out / "perf.data"),
                "-p", ",".join(map(str, pids)), "--", "sleep", str(int(seconds))]  # fmt: skip
        runs.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    for pid in pids:
        path = out / f"pyspy-{pid}.txt"
        argv = ["py-spy", "record", "--pid", str(pid), "--duration", str(int(seconds)),
                "--rate", "200", "--format", "raw", "--output", str(path)]  # fmt: skip
        argv += ["--native"] if native else ["--nonblocking"]
        runs.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        files.append(path)
    for r in runs:
        r.wait(timeout=seconds + 30)
    return [f for f in files if f.exists()]


def top(files: list[Path], n: int = 25) -> str:
    """Self and total sample counts per function from collapsed stacks."""
    self_, total, samples = Counter[str](), Counter[str](), 0
    for f in files:
        for line in f.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            frames, k = stack.split(";"), int(count)
            samples += k
            self_[frames[-1]] += k
            for frame in set(frames):
                total[frame] += k
    lines = [f"{samples} samples"]
    for title, counter in (("self", self_), ("total", total)):
        lines.append(f"--- top {n} by {title}")
        lines += [f"{100 * c / max(1, samples):5.1f}%  {fn}" for fn, c in counter.most_common(n)]
    return "\n".join(lines)


def _http(a: argparse.Namespace, run_dir: Path) -> list[Path]:
    keys, addresses = signed.party_keys()
    body = signed.signed_location_response(keys["CPO"]) if a.signatures else None
    up = start_upstream(run_dir, default=body or payloads.LOCATION_RESPONSE)
    started = [up.proc]
    try:
        node = node_proc.start_node(run_dir, "node", a.workers, a.signatures, up.base, addresses,
                                    log_level=a.log_level)  # fmt: skip
        started.append(node.proc)
        headers = payloads.routing_headers(node.tokens["EMSP"])
        if a.signatures:
            headers = signed.sign_headers(headers, keys["EMSP"])
        script = wrk.write_script(run_dir / "p.lua", "GET", headers)
        url = node.url + payloads.NODE_PATH
        load_argv = [
            "wrk",
            "-t1",
            f"-c{a.conc}",
            f"-d{int(a.seconds) + 2}s",
            "-s",
            str(script),
            url,
        ]
        load = subprocess.Popen(load_argv, stdout=subprocess.DEVNULL)
        time.sleep(1)
        pids = procs.tree_pids([node.proc.pid])
        workers = [p for p in pids if p != node.proc.pid] or [node.proc.pid]
        files = spy(workers, a.seconds, a.out, a.native, a.perf)
        load.wait(timeout=a.seconds + 30)
        return files
    finally:
        procs.stop(started)


def _grpc(a: argparse.Namespace, run_dir: Path) -> list[Path]:
    up = start_upstream(run_dir)
    started = [up.proc]
    try:
        data_dir = run_dir / "node"
        token = asyncio.run(grpc_bench._prepare(data_dir, up.base))
        port = procs.free_port()
        argv = [
            sys.executable,
            "-m",
            "benchmarks.grpc_server",
            str(data_dir),
            f"127.0.0.1:{port}",
            "http://127.0.0.1:9",
            up.base,
        ]
        server = procs.start(argv, run_dir / "server.log")
        started.append(server)
        procs.wait_port(port, server)
        load_argv = [sys.executable, "-m", "benchmarks.grpc_load", f"127.0.0.1:{port}", a.kind,
                     str(a.conc), str(a.seconds + 2), token]  # fmt: skip
        load = subprocess.Popen(load_argv, stdout=subprocess.DEVNULL)
        time.sleep(1.5)
        files = spy([server.pid], a.seconds, a.out, a.native, a.perf)
        load.wait(timeout=a.seconds + 60)
        return files
    finally:
        procs.stop(started)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.profile")
    ap.add_argument("what", choices=("http", "grpc"))
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--kind", default="route", choices=sorted(grpc_bench.KINDS))
    ap.add_argument("--conc", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--signatures", action="store_true", help="http: node with --signatures")
    ap.add_argument("--log-level", default="warning", help="http: info = the access log on")
    ap.add_argument("--native", action="store_true", help="include C frames (py-spy --native)")
    ap.add_argument("--perf", action="store_true", help="also perf record -g the same PIDs")
    ap.add_argument(
        "--out", type=Path, default=Path("results") / time.strftime("profile-%Y%m%d-%H%M%S")
    )
    a = ap.parse_args(argv)
    if shutil.which("py-spy") is None:
        print("py-spy not installed: pip install py-spy", file=sys.stderr)
        return 2
    a.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ocn-profile-") as tmp:
        files = (_http if a.what == "http" else _grpc)(a, Path(tmp))
    text = top(files)
    (a.out / "top.txt").write_text(text + "\n")
    title = f"{a.what} w{a.workers} c{a.conc}" + (" signatures" if a.signatures else "")
    flamegraph.write(files, a.out / "flame.svg", title)
    if a.perf and (a.out / "perf.data").exists():
        argv = ["perf", "report", "--stdio", "--no-children", "-g", "none", "--sort", "dso,sym",
                "--percent-limit", "0.5", "-i", str(a.out / "perf.data")]  # fmt: skip
        report = subprocess.run(argv, capture_output=True, text=True, timeout=300)
        (a.out / "perf.txt").write_text(report.stdout)
    print(text)
    print(f"wrote {a.out}/top.txt, flame.svg" + (", perf.txt" if a.perf else ""), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
