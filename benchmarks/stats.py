"""Pure statistics: HdrHistogram percentiles, median/min/max spread, ratios."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from typing import Any

from hdrh.histogram import HdrHistogram

# percentiles kept for every latency distribution (the CDF plots use all of them)
CDF_POINTS = (1.0, 5.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.99)
MAX_NS = 60_000_000_000  # one minute: every load loop is bounded well below


def new_histogram() -> HdrHistogram:
    """Nanosecond values from 1 ns to 60 s at 3 significant digits."""
    return HdrHistogram(1, MAX_NS, 3)


def hist_percentiles_us(hist: HdrHistogram) -> dict[str, float]:
    """``{"p50": µs, ...}`` for :data:`CDF_POINTS` of a nanosecond histogram."""
    return {_key(p): hist.get_value_at_percentile(p) / 1e3 for p in CDF_POINTS}


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of unsorted ``values``."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil(n*q/100), at least 1
    return float(ordered[min(len(ordered), int(rank)) - 1])


NOISY_PCT = 20.0  # a baseline row whose runs spread wider than this makes the run noisy


def spread(values: Iterable[float]) -> dict[str, float]:
    """Median, min and max of repeated runs, and the spread ``(max - min) / median`` in %."""
    xs = list(values)
    if not xs:
        nan = float("nan")
        return {"median": nan, "min": nan, "max": nan, "n": 0, "spread_pct": nan}
    med = statistics.median(xs)
    pct = 100.0 * (max(xs) - min(xs)) / med if med else float("nan")
    return {"median": med, "min": min(xs), "max": max(xs), "n": len(xs), "spread_pct": pct}


def noisy_baselines(rows: Sequence[dict[str, Any]], names: Sequence[str],
                    key: str = "rps") -> list[str]:  # fmt: skip
    """The baseline rows (``name`` in ``names``) whose ``key`` spread exceeds :data:`NOISY_PCT`."""
    out = []
    for r in rows:
        s = r.get(key)
        if r.get("name") in names and isinstance(s, dict) and s.get("spread_pct", 0) > NOISY_PCT:
            out.append(f"{r['name']} w{r.get('workers')} c{r.get('conc')} "
                       f"{key} spread {s['spread_pct']:.0f}%")  # fmt: skip
    return out


def ratio(num: float | None, den: float | None) -> float | None:
    """``num / den`` or None when either side is missing or the denominator is 0."""
    if num is None or den is None or den == 0:
        return None
    return num / den


def median_of(runs: Sequence[dict[str, Any]], key: str) -> float:
    return statistics.median(float(r[key]) for r in runs)


def _key(p: float) -> str:
    return "p" + f"{p:g}".replace(".", "_")


P50, P99 = _key(50.0), _key(99.0)
