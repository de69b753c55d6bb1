"""In-process timing loops, bounded in time: per-op latency into an HdrHistogram and batch rate."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from benchmarks import stats


def per_op(fn: Callable[[], object], seconds: float) -> dict[str, Any]:
    """Time every call of ``fn`` for ``seconds`` (perf_counter_ns around each call)."""
    hist = stats.new_histogram()
    pc = time.perf_counter_ns
    record = hist.record_value
    fn()
    end = pc() + int(seconds * 1e9)
    while True:
        t0 = pc()
        fn()
        t1 = pc()
        record(max(1, t1 - t0))
        if t1 > end:
            break
    return {"n": hist.get_total_count(), "pct_us": stats.hist_percentiles_us(hist), "hist": hist}


def batch_rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``fn`` in plain loops (no per-call timer) for about ``seconds``."""
    n, total, calls = 16, 0.0, 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        total += time.perf_counter() - t0
        calls += n
        n = min(n * 2, 4096)
    return calls / total if total else 0.0
