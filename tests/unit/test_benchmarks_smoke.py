"""The benchmark harness's pure parts: percentiles, spread, ratios, Markdown tables, wrk script."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import report, stats, wrk
from benchmarks.http_bench import add_floor, add_ratios, targets


def test_percentile_nearest_rank() -> None:
    xs = [float(x) for x in range(1, 101)]
    assert stats.percentile(xs, 50) == 50.0
    assert stats.percentile(xs, 99) == 99.0
    assert stats.percentile(xs, 100) == 100.0
    assert stats.percentile([7.0], 99.9) == 7.0
    with pytest.raises(ValueError, match="no values"):
        stats.percentile([], 50)


def test_histogram_percentiles_in_microseconds() -> None:
    hist = stats.new_histogram()
    for ns in range(1000, 101_000, 1000):  # 1..100 µs
        hist.record_value(ns)
    pct = stats.hist_percentiles_us(hist)
    assert set(pct) == {stats._key(p) for p in stats.CDF_POINTS}
    assert pct[stats.P50] == pytest.approx(50.0, rel=0.01)
    assert pct[stats.P99] == pytest.approx(99.0, rel=0.01)


def test_spread_and_ratio() -> None:
    assert stats.spread([3.0, 1.0, 2.0]) == {"median": 2.0, "min": 1.0, "max": 3.0, "n": 3,
                                             "spread_pct": 100.0}  # fmt: skip
    assert stats.spread([])["n"] == 0
    assert stats.ratio(2.0, 4.0) == 0.5
    assert stats.ratio(1.0, 0.0) is None
    assert stats.ratio(None, 1.0) is None


def _row(name: str, workers: int, conc: int, rps: float, p99: float, cpu: float = 10.0,
         rps_spread: float = 0.0) -> dict[str, object]:  # fmt: skip
    one = {"median": rps, "min": rps, "max": rps, "n": 1, "spread_pct": rps_spread}
    return {"name": name, "workers": workers, "conc": conc, "rps": one,
            "p99_us": {"median": p99, "min": p99, "max": p99, "n": 1},
            "sut_cpu_us_req": {"median": cpu, "min": cpu, "max": cpu, "n": 1}}  # fmt: skip


def test_http_ratios_and_targets_against_the_nginx_hop() -> None:
    rows = [_row("nginx-proxy", 2, 16, 20_000, 1000), _row("node", 2, 16, 11_000, 2500, 40.0),
            _row("bare-hop", 2, 16, 15_000, 900, 32.0), _row("node-log", 2, 16, 9_000, 2600),
            _row("node-sig", 2, 16, 4_000, 5000, 150.0), _row("bare-sig", 2, 16, 5_000, 4000, 135.0)]  # fmt: skip
    add_ratios(rows)
    add_floor(rows, {"verify_request_us": 40.0, "verify_response_us": 50.0})
    node, log, sig = rows[1], rows[3], rows[4]
    # under load: the bare hop verifying (135) + the engine's share (node 40 - bare 32)
    assert sig["floor_loaded_cpu_us_req"] == pytest.approx(143.0)
    assert sig["x_floor_loaded"] == pytest.approx(143 / 150)
    assert node["x_nginx_rps"] == pytest.approx(0.55)
    assert node["x_nginx_p99"] == pytest.approx(2.5)
    assert node["x_bare_cpu"] == pytest.approx(1.25)
    assert log["x_node_rps"] == pytest.approx(9 / 11)
    assert sig["floor_cpu_us_req"] == pytest.approx(130.0)
    assert sig["x_floor"] == pytest.approx(130 / 150)
    found = {t["name"]: t for t in targets(rows, [{"name": "node-metrics", "reason": "off"}])}
    assert found["node 2 workers c16 req/s ≥ 0.50x nginx hop"]["met"] is True
    assert found["node 2 workers c16 CPU/req ≤ 1.3x bare hop's"]["met"] is True
    assert found["node 2 workers c16 p99 ≤ 2x nginx's"]["met"] is False
    assert found["node-sig 2 workers c16 ≥ 0.85x floor (floor CPU / its CPU)"]["met"] is True
    assert found["node-log 2 workers c16 req/s ≥ 0.90x node without it"]["met"] is False
    assert found["node-metrics 2 workers c16 req/s ≥ 0.90x node without it"]["note"] == "off"


def test_a_noisy_baseline_leaves_the_targets_unjudged() -> None:
    rows = [_row("nginx-proxy", 2, 16, 20_000, 1000, rps_spread=35.0),
            _row("node", 2, 16, 11_000, 900)]  # fmt: skip
    add_ratios(rows)
    found = targets(rows, [])
    assert all(t["met"] is None and t.get("noisy") for t in found)
    assert "nginx-proxy w2 c16 rps spread 35%" in found[0]["note"]
    assert "noisy, not judged" in "\n".join(report.targets(found))
    steady = [_row("nginx-proxy", 2, 16, 20_000, 1000, rps_spread=19.0), rows[1]]
    assert not any(t.get("noisy") for t in targets(steady, []))


def test_markdown_table_and_numbers() -> None:
    assert report.num(12_345.0) == "12.3k"
    assert report.num(None) == "-"
    assert report.spread({"median": 2.0, "min": 1.0, "max": 3.0}) == "2 [1-3]"
    assert report.spread(stats.spread([2.0, 1.0, 3.0])) == "2 [1-3] 100%"
    lines = report.table(["a", "b"], [["1", "2"]])
    assert lines == ["| a | b |", "|---|---|", "| 1 | 2 |"]
    flat = report.generic({"lookup": {"p50_us": 1.5, "n": 3}, "mode": "quick"})
    assert "| lookup.p50_us | 1.50 |" in flat


def test_wrk_script_sends_headers_and_reports_json(tmp_path: Path) -> None:
    script = wrk.write_script(tmp_path / "s.lua", "GET", {"X-Request-ID": "r1"})
    text = script.read_text()
    assert 'wrk.headers["X-Request-ID"] = "r1"' in text
    assert "WRKJSON" in text
    assert "99.99" in text
