"""Processes started by the benchmark: start, wait, pin, CPU time from /proc, stop by PID."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

CLK = os.sysconf("SC_CLK_TCK")
NCPU = os.cpu_count() or 1


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A free loopback port never handed out before in this process (the kernel may hand a
    released port out again, and tests often take two before binding either)."""
    while True:
        with reserved_port() as port:
            if port not in _HANDED_OUT:
                _HANDED_OUT.add(port)
                return port


@contextlib.contextmanager
def reserved_port() -> Iterator[int]:
    """A free loopback port, held bound (not listening) until the block ends, so that no
    other bind to port 0 in the meantime (a gRPC server, say) is handed the same port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield int(s.getsockname()[1])


def start(
    argv: Sequence[str], log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start ``argv`` with stdout+stderr to ``log``; its own session so signals stay local."""
    with open(log, "wb") as out:
        return subprocess.Popen(
            list(argv), stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )


def wait_port(
    port: int, proc: subprocess.Popen[bytes] | None = None, timeout: float = 30.0
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process {proc.args!r} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"127.0.0.1:{port} not up after {timeout:.0f} s")


def _stat_table() -> dict[int, tuple[int, int, int]]:
    """pid -> (ppid, utime+stime ticks, stime ticks) for every process."""
    table: dict[int, tuple[int, int, int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        rest = raw[raw.rfind(")") + 2 :].split()
        table[int(entry)] = (int(rest[1]), int(rest[11]) + int(rest[12]), int(rest[12]))
    return table


def tree_pids(
    roots: Iterable[int], table: dict[int, tuple[int, int, int]] | None = None
) -> list[int]:
    table = table if table is not None else _stat_table()
    kids: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in table.items():
        kids.setdefault(ppid, []).append(pid)
    out: list[int] = []
    todo = [r for r in roots if r in table]
    while todo:
        pid = todo.pop()
        if pid not in out:
            out.append(pid)
            todo.extend(kids.get(pid, []))
    return out


def tree_cpu_s(roots: Iterable[int]) -> float:
    """utime+stime (seconds) of the live process trees under ``roots``."""
    return tree_cpu_split(roots)[0]


def tree_cpu_split(roots: Iterable[int]) -> tuple[float, float]:
    """(utime+stime, stime) in seconds of the live process trees under ``roots``."""
    table = _stat_table()
    pids = tree_pids(roots, table)
    return sum(table[p][1] for p in pids) / CLK, sum(table[p][2] for p in pids) / CLK


def foreign_cpu_ticks(ours: Iterable[int]) -> dict[int, int]:
    """CPU ticks of every process outside the trees of ``ours`` (for the foreign-load guard)."""
    table = _stat_table()
    mine = set(tree_pids(ours, table))
    return {pid: ticks for pid, (_, ticks, _) in table.items() if pid not in mine}


def foreign_pct(before: dict[int, int], after: dict[int, int], seconds: float) -> float:
    """CPU used outside our trees between two snapshots, in % of one CPU."""
    ticks = sum(max(0, t - before.get(pid, t)) for pid, t in after.items())
    return 100.0 * ticks / CLK / max(seconds, 1e-6)


def wait_quiet(ours: Iterable[int], threshold_pct: float, max_wait_s: float) -> float:
    """Wait until other processes use < ``threshold_pct`` of a CPU (bounded); seconds waited."""
    roots = list(ours)
    t0 = time.monotonic()
    while True:
        a, ta = foreign_cpu_ticks(roots), time.monotonic()
        time.sleep(0.3)
        if foreign_pct(a, foreign_cpu_ticks(roots), time.monotonic() - ta) < threshold_pct:
            return time.monotonic() - t0
        if time.monotonic() - t0 > max_wait_s:
            return time.monotonic() - t0


def pin(roots: Iterable[int], cpus: set[int]) -> None:
    """Set the CPU affinity of every thread of the trees under ``roots``."""
    for pid in tree_pids(roots):
        with contextlib.suppress(OSError):
            for tid in os.listdir(f"/proc/{pid}/task"):
                with contextlib.suppress(OSError):
                    os.sched_setaffinity(int(tid), cpus)


def stop(procs: Sequence[subprocess.Popen[bytes]], grace: float = 5.0) -> None:
    """SIGTERM each process we started, then SIGKILL what is left of their trees, by PID."""
    pids = tree_pids([p.pid for p in procs])
    for p in procs:
        if p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                p.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for p in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(timeout=max(0.05, deadline - time.monotonic()))
    alive = _stat_table()
    for pid in pids:
        if pid in alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    for p in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(timeout=2)
