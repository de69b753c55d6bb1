"""ocn_core.telemetry: what a flush writes, and label values bounded whatever callers send."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ocn_core import open_node, telemetry
from ocn_core.config import Settings
from ocn_core.model import InterfaceRole, RouteKind
from ocpi_gateway.server import run_housekeeping

Out = dict[tuple[str, tuple[str, ...]], float]


class Value:
    def __init__(self, out: Out, key: tuple[str, tuple[str, ...]]) -> None:
        self.out, self.key = out, key

    def inc(self, n: float) -> None:
        self.out[self.key] = self.out.get(self.key, 0) + n

    def set(self, v: float) -> None:
        self.out[self.key] = v


class Child(Value):
    """A labelled series; as a histogram, its sum and buckets (see telemetry._add_histogram)."""

    def __init__(self, out: Out, name: str, labels: tuple[str, ...]) -> None:
        super().__init__(out, (name, labels))
        self._sum = Value(out, (name + "_sum", labels))
        self._buckets = [
            Value(out, (f"{name}_{i}", labels)) for i in range(len(telemetry.BUCKETS) + 1)
        ]


class Series(Child):
    """A metric; like prometheus-client's, ``labels()`` needs label values."""

    def __init__(self, out: Out, name: str) -> None:
        super().__init__(out, name, ())
        self.name = name

    def labels(self, *labels: str) -> Child:
        assert labels, f"{self.name}: no label names"
        return Child(self.out, self.name, labels)


class Families:
    """Records what a flush writes instead of writing prometheus-client files."""

    def __init__(self) -> None:
        self.out: Out = {}
        self.counters = {k: Series(self.out, k) for k in telemetry.COUNTERS}
        self.histograms = {k: Series(self.out, k) for k in telemetry.HISTOGRAMS}
        self.gauges = {k: Series(self.out, k) for k in telemetry.GAUGES}


def flushed(recorder: telemetry.Recorder) -> Out:
    fam = Families()
    recorder._families = fam  # type: ignore[assignment]
    recorder.flush()
    return fam.out


MODULE, CUSTOM, SENDER = int(RouteKind.MODULE), int(RouteKind.CUSTOM), int(InterfaceRole.SENDER)


def route(r: telemetry.Recorder, *, kind: int = MODULE, module: str = "locations",
          method: str = "GET", status: int = 200, ocpi: int = 1000, reason: str = "",
          sender: str = "DEMSP", receiver: str = "CHCPO", seconds: float = 0.002) -> None:  # fmt: skip
    r.route("http", kind, module, SENDER, method, status, ocpi, reason,
            sender[:2], sender[2:], receiver[:2], receiver[2:], seconds)  # fmt: skip


def test_a_flush_writes_counts_latency_buckets_and_partners_then_starts_over() -> None:
    r = telemetry.Recorder()
    for seconds in (0.0004, 0.002, 0.002, 100.0):
        route(r, seconds=seconds)
    out = flushed(r)
    labels = ("http", "locations", "SENDER", "GET", "200", "1000")
    assert out[("requests", labels)] == 4
    duration = ("http", "locations")
    assert out[("request_duration_sum", duration)] == 0.0004 + 0.002 + 0.002 + 100.0
    assert out[("request_duration_0", duration)] == 1  # ≤ 0.5 ms
    assert out[("request_duration_2", duration)] == 2  # ≤ 2.5 ms
    assert out[("request_duration_16", duration)] == 1  # +Inf
    assert out[("partner_requests", ("http", "DEMSP", "sent", "ok"))] == 4
    assert out[("partner_requests", ("http", "CHCPO", "received", "ok"))] == 4
    assert flushed(r) == {}  # nothing new since


def test_labels_stay_bounded_whatever_callers_send() -> None:
    r = telemetry.Recorder()
    route(r, kind=CUSTOM, module="any-party-name")
    route(r, module="not-a-module", method="BREW", ocpi=98765)
    route(r, reason="unknown_token", sender="ZZ999", receiver="ZZ998")  # refused: no partners
    route(r, reason="unknown_receiver", ocpi=4001, receiver="NLXYZ")  # not delivered
    route(r, sender="!!", receiver="CHCPO")
    out = flushed(r)
    requests = {labels for (family, labels) in out if family == "requests"}
    assert ("http", "custom", "SENDER", "GET", "200", "1000") in requests
    assert ("http", "unknown", "SENDER", "other", "200", "9xxx") in requests
    assert out[("forward_failures", ("http", "unknown_receiver", "4001"))] == 1
    partners = {labels[1] for (family, labels) in out if family == "partner_requests"}
    assert partners == {"DEMSP", "CHCPO", "other"}  # custom + the 2 valid + the garbage sender

    many = telemetry.Recorder()
    for i in range(telemetry.MAX_PARTNERS + 5):
        route(many, sender=f"AA{i:03d}")
    partners = {lab[1] for (fam, lab) in flushed(many) if fam == "partner_requests"}
    assert len(partners) == telemetry.MAX_PARTNERS + 1  # the first ones, then "other"
    assert "other" in partners


def test_the_metrics_page_lists_every_metric() -> None:
    page = Path(__file__).parents[2] / "docs" / "metrics.md"
    assert page.read_text().endswith(telemetry.reference())


async def test_housekeeping_counts_expired_proxies_and_the_store_size_follows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = telemetry.Recorder()
    monkeypatch.setattr(telemetry, "RECORDER", recorder)
    recorder.observe("grpc_duration", 0.003, "/ocn.v1.RoutingService/Route")
    engine = open_node(Settings.from_env({}, data_dir=tmp_path))
    try:
        proxies = engine.ctx.proxies
        for ttl in (-1.0, -1.0, 3600.0):
            proxies.put("https://party.example.com/x", "DEMSP", "CHCPO", ttl)
        assert proxies.size() == 3
        task = asyncio.ensure_future(run_housekeeping(engine, every=0.01))
        await asyncio.sleep(0.3)  # ~30 passes; only the first finds expired ones
        task.cancel()
        assert recorder.counts[("proxy_expiries", ())] == 2
        assert proxies.size() == 1
        out = flushed(recorder)
        assert out[("proxy_expiries", ())] == 2  # a series without labels
        route = ("/ocn.v1.RoutingService/Route",)
        assert out[("grpc_duration_sum", route)] == 0.003
        assert out[("grpc_duration_3", route)] == 1  # ≤ 5 ms
    finally:
        await engine.shutdown()
