"""The soak benchmark for a few seconds (the real one is ``python -m benchmarks --mode soak``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import wrk
from benchmarks.soak import SoakPlan, _paced, markdown, run_soak
from tests.support.require import missing


def test_pace_moves_each_connection_cycle_to_the_target() -> None:
    # 64 connections at 8000 req/s cycle in 8 ms; 4000 req/s needs 16 ms: 8 ms more delay
    assert _paced(8000.0, 4000.0, 0.0) == pytest.approx(8.0)
    assert _paced(5000.0, 4000.0, 2.0) == pytest.approx(2.0 + 64000 * (1 / 4000 - 1 / 5000))
    assert _paced(1000.0, 4000.0, 1.0) == 0.0  # never negative
    assert _paced(0.0, 4000.0, 1.5) == 1.5
    assert _paced(8000.0, 4000.0, 0.0, gain=0.5) == pytest.approx(4.0)  # half the way


def test_a_short_soak_reports_windows_errors_and_rss(tmp_path: Path) -> None:
    if wrk.available():
        missing("wrk missing: run `make bench-tools`")
    res = run_soak(SoakPlan(seconds=3, window=1, probe=1, workers=1), tmp_path)
    assert res["max_rps"] > 0
    assert len(res["windows"]) >= 2
    assert res["requests"] > 0
    assert res["errors"] == 0
    assert len(res["rss_samples"]) >= 3
    assert res["rss_kib"]["warm_first"] > 10_000  # a Python node is tens of MiB
    assert (tmp_path / "soak.png").stat().st_size > 10_000
    assert "RSS after warm-up" in markdown(res)
