"""Prometheus metrics of the node, counted cheaply per process and summed over every process.

Measured here (prometheus-client 0.26, multiprocess mode, one core): a labelled counter ``inc``
costs 1.6 µs and a histogram ``observe`` 2.2 µs (each takes a lock and writes an mmap'd file); a
routed request feeds about six series (~9 µs, ~20 % of a local hop's ~44 µs of CPU). So each
process aggregates in plain dicts (:meth:`Recorder.route`, :func:`upstream_observer`) and writes
the deltas into the library's multiprocess files once a second, before each scrape and at exit
(:meth:`Recorder.flush`): +1.1-1.3 µs of CPU per request in process, +4.1 % of a local hop's
instructions under callgrind (1 worker, flushes included). A scrape sums every process's files
with the library's ``MultiProcessCollector`` and adds what is read from the shared state at
scrape time (registry sync, proxy store), so every worker of ``ocn-node run --workers N`` counts.

``PROMETHEUS_MULTIPROC_DIR`` must be set before prometheus-client is imported: the node's parent
process calls :func:`prepare_dir` (``<data_dir>/metrics/<service>``, emptied at start) before it
forks.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from ocn_core.model import InterfaceRole, RouteKind
from ocn_core.transport import HttpResult, HttpTransport, TransportTimeout

if TYPE_CHECKING:
    from ocn_core.engine import Engine

log = structlog.get_logger(__name__)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
FLUSH_INTERVAL = 1.0  # seconds between a process's writes to its metric files
# upper bounds (seconds) of the latency histograms: a local hop takes ~0.1-2 ms
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
           30.0, 60.0)  # fmt: skip
MAX_PARTNERS = 1000  # distinct partner label values per process; more count as "other"
# module label of the other kinds, by RouteKind value (UNSPECIFIED: the URL matched no route)
_KINDS = {int(k): k.name.lower() for k in RouteKind} | {int(RouteKind.UNSPECIFIED): "unmatched"}
# the module is a label for these; CUSTOM modules are named by parties: "custom"
_MODULE_KINDS = frozenset(int(k) for k in (RouteKind.MODULE, RouteKind.PAGE, RouteKind.PROXIED))
_ROUTED = _MODULE_KINDS | {int(RouteKind.CUSTOM)}  # requests between parties
_INTERFACES = {int(r): r.ocpi for r in InterfaceRole} | {int(InterfaceRole.UNSPECIFIED): ""}
FORWARD_FAILURES = {"unknown_receiver": 4001, "receiver_timeout": 4002,
                    "receiver_unreachable": 4003}  # fmt: skip
# the node reached the receiver's platform: both parties are connected ones (bounded labels)
_FORWARDED = frozenset({"", "receiver_timeout", "receiver_unreachable", "bad_response"})
_OCPI_CODES = frozenset({0, 1000, 2000, 2001, 2002, 2003, 2004, 3000, 3001, 3002, 3003, 3004,
                         4000, 4001, 4002, 4003, 4004})  # fmt: skip
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
_PARTY = re.compile(r"[A-Za-z]{2}[A-Za-z0-9]{3}")
_LIVE_GAUGE = re.compile(r"gauge_live\w*?_(\d+)\.db")

RouteKey = tuple[str, int, str, int, str, int, int, str, str, str, str, str]


def prepare_dir(data_dir: Path, service: str) -> Path:
    """``<data_dir>/metrics/<service>``, emptied, as ``PROMETHEUS_MULTIPROC_DIR``.

    Called once by the node's first process, before it forks workers; ``service`` keeps a
    gateway and a core started on one data dir apart.
    """
    path = (Path(data_dir) / "metrics" / service).resolve()
    path.mkdir(parents=True, exist_ok=True)
    for old in path.glob("*.db"):
        old.unlink()
    os.environ[MULTIPROC_ENV] = str(path)
    return path


class Recorder:
    """One process's metrics: aggregated in dicts on the hot path, flushed to the shared files."""

    def __init__(self) -> None:
        self.routes: dict[RouteKey, list[float]] = {}
        self.counts: dict[tuple[str, tuple[str, ...]], int] = {}
        self.timings: dict[tuple[str, tuple[str, ...]], list[float]] = {}
        self.gauges: dict[tuple[str, tuple[str, ...]], Callable[[], float]] = {}
        self.totals: dict[str, Callable[[], dict[str, int]]] = {}
        self._seen: dict[tuple[str, str], int] = {}
        self._families: _Families | None = None
        self._partners: set[str] = set()

    # -- recording (hot path: dict updates only) -------------------------------------------------

    def route(
        self,
        edge: str,
        kind: int,
        module: str,
        interface: int,
        method: str,
        status: int,
        ocpi_status: int,
        error_reason: str,
        from_cc: str,
        from_pid: str,
        to_cc: str,
        to_pid: str,
        seconds: float,
    ) -> None:
        """One routed OCPI request as its edge answered it (kind / interface: enum values)."""
        key = (edge, kind, module, interface, method, status, ocpi_status, error_reason,
               from_cc, from_pid, to_cc, to_pid)  # fmt: skip
        cell = self.routes.get(key)
        if cell is None:
            cell = self.routes[key] = [0.0] * (len(BUCKETS) + 3)
        cell[0] += 1
        cell[1] += seconds
        cell[2 + bisect_left(BUCKETS, seconds)] += 1

    def count(self, family: str, *labels: str, by: int = 1) -> None:
        """Add ``by`` to a counter family (see :data:`COUNTERS`)."""
        key = (family, labels)
        self.counts[key] = self.counts.get(key, 0) + by

    def observe(self, family: str, seconds: float, *labels: str) -> None:
        """One observation of a histogram family (see :data:`HISTOGRAMS`)."""
        _observe(self.cell(family, *labels), seconds)

    def cell(self, family: str, *labels: str) -> list[float]:
        """The aggregate of one histogram series: [count, sum, per-bucket counts..., +Inf].

        Stable for the recorder's life (a flush zeroes it in place), so a hot path may keep it
        and update it with :func:`_observe` without a lookup.
        """
        key = (family, labels)
        found = self.timings.get(key)
        if found is None:
            found = self.timings[key] = [0.0] * (len(BUCKETS) + 3)
        return found

    def gauge(self, family: str, read: Callable[[], float], *labels: str) -> None:
        """A per-process gauge (see :data:`GAUGES`), read at every flush; summed over live ones."""
        self.gauges[(family, labels)] = read

    def follow(self, family: str, read: Callable[[], dict[str, int]]) -> None:
        """A counter family fed from running totals kept elsewhere (``{label: total}``, one
        label): each flush adds what they grew by since the last one."""
        self.totals[family] = read

    # -- writing to the shared files ---------------------------------------------------------------

    def flush(self) -> None:
        """Write what was counted since the last flush into this process's metric files."""
        fam = self._families = self._families or _Families()
        for family, totals in self.totals.items():
            for label, total in totals().items():
                grown = total - self._seen.get((family, label), 0)
                if grown > 0:
                    self.count(family, label, by=grown)
                    self._seen[(family, label)] = total
        routes, self.routes = self.routes, {}
        counts, self.counts = self.counts, {}
        for key, cell in routes.items():
            self._flush_route(fam, key, cell)
        for (family, labels), n in counts.items():
            _child(fam.counters[family], labels).inc(n)
        for (family, labels), cell in self.timings.items():
            if cell[0]:
                _add_histogram(_child(fam.histograms[family], labels), cell)
                cell[:] = [0.0] * len(cell)
        for (family, labels), read in self.gauges.items():
            _child(fam.gauges[family], labels).set(read())

    def _flush_route(self, fam: _Families, key: RouteKey, cell: list[float]) -> None:
        edge, kind, module, interface, method, status, ocpi, reason, fcc, fpid, tcc, tpid = key
        n = int(cell[0])
        module = _module_label(kind, module)
        ocpi_label = str(ocpi) if ocpi in _OCPI_CODES else f"{str(ocpi)[:1]}xxx"
        iface = _INTERFACES.get(interface, "")
        method = method if method in _METHODS else "other"  # gRPC callers send any string
        fam.counters["requests"].labels(edge, module, iface, method, str(status), ocpi_label).inc(n)
        _add_histogram(fam.histograms["request_duration"].labels(edge, module), cell)
        code = FORWARD_FAILURES.get(reason)
        if code is not None:
            fam.counters["forward_failures"].labels(edge, reason, str(code)).inc(n)
        if kind in _ROUTED and reason in _FORWARDED:
            result = "ok" if 1000 <= ocpi < 2000 else "error"
            for party, direction in ((fcc + fpid, "sent"), (tcc + tpid, "received")):
                label = self._partner(party)
                fam.counters["partner_requests"].labels(edge, label, direction, result).inc(n)

    def _partner(self, party: str) -> str:
        party = party.upper()
        if party in self._partners:
            return party
        if _PARTY.fullmatch(party) is None or len(self._partners) >= MAX_PARTNERS:
            return "other"
        self._partners.add(party)
        return party

    # -- reading -----------------------------------------------------------------------------------

    def scrape(self, engine: Engine | None = None) -> bytes:
        """The text exposition of every process's metrics (plus ``engine``'s shared state)."""
        from prometheus_client import CollectorRegistry, generate_latest
        from prometheus_client.multiprocess import MultiProcessCollector

        self.flush()
        path = os.environ[MULTIPROC_ENV]
        _forget_dead_gauges(path)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=path)  # type: ignore[no-untyped-call]
        if engine is not None:
            registry.register(StateCollector(engine))
        return bytes(generate_latest(registry))


@cache
def _known_modules() -> frozenset[str]:
    from ocn_core.routing.table import ROUTES

    return frozenset(module for _, module, _ in ROUTES)


def _module_label(kind: int, module: str) -> str:
    """The module (a route-table one), else the kind's name: bounded whatever callers send."""
    if kind in _MODULE_KINDS:
        return module if module in _known_modules() else "unknown"
    return _KINDS.get(kind, "unknown")


def _child(metric: Any, labels: tuple[str, ...]) -> Any:
    """The series of ``metric`` for ``labels`` (a metric without label names is its own)."""
    return metric.labels(*labels) if labels else metric


def _observe(cell: list[float], seconds: float) -> None:
    cell[0] += 1
    cell[1] += seconds
    cell[2 + bisect_left(BUCKETS, seconds)] += 1


def _add_histogram(child: Any, cell: list[float]) -> None:
    """Add aggregated observations to a histogram child.

    prometheus-client has no public call to add many observations at once; its multiprocess
    histogram is one value per bucket (not cumulative) plus a sum, exactly what ``observe``
    increments (the integration test reads the totals back through a scrape).
    """
    child._sum.inc(cell[1])
    for i, n in enumerate(cell[2 : 2 + len(BUCKETS)]):
        if n:
            child._buckets[i].inc(n)
    if cell[-1]:  # above the last bound: the +Inf bucket
        child._buckets[len(BUCKETS)].inc(cell[-1])


def _forget_dead_gauges(path: str) -> None:
    """Drop the live-gauge files of processes that have exited (a killed worker's connections)."""
    from prometheus_client.multiprocess import mark_process_dead

    for name in os.listdir(path):
        found = _LIVE_GAUGE.fullmatch(name)
        if found is None:
            continue
        pid = int(found.group(1))
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            mark_process_dead(pid, path)  # type: ignore[no-untyped-call]
        except PermissionError:
            pass


# family -> (metric name, help, label names)
COUNTERS = {
    "requests": ("ocn_requests", "OCPI requests answered, by edge, module, interface, method, "
                 "HTTP status and OCPI status", ("edge", "module", "interface", "method",
                                                  "status", "ocpi_status")),
    "forward_failures": ("ocn_forward_failures", "Requests the node could not deliver "
                         "(4001 unknown receiver, 4002 timeout, 4003 unreachable)",
                         ("edge", "kind", "ocpi_status")),
    "partner_requests": ("ocn_partner_requests", "Routed requests per connected party "
                         "(sent by it or delivered to it) and result (OCPI 1xxx = ok)",
                         ("edge", "party", "direction", "result")),
    "signature_verifications": ("ocn_signature_verifications", "OCN-Signature verifications "
                                "of requests and responses, by result",
                                ("subject", "result")),
    "rejected_requests": ("ocn_rejected_requests", "Requests refused by a limit of the node",
                          ("limit",)),
    "proxy_expiries": ("ocn_proxy_expired", "Proxied resources removed after their TTL", ()),
    "grpc_calls": ("ocn_grpc_calls", "gRPC calls answered, by method and status code",
                   ("method", "code")),
    "hub_events": ("ocn_hub_events", "Hub events of the node (also under `hub` in "
                   "/health/details, per process): broadcasts, broadcast_delivered / _refused / "
                   "_failed / _skipped, broadcast_duplicates_dropped, fanout_dropped_queue_full, "
                   "rejected_rate, rejected_body (partner limits), open routing, client info "
                   "pushes and failed background tasks", ("event",)),
    "bridged": ("ocn_bridged_messages", "Messages translated between OCPI 2.2.x and 2.3.0 "
                "parties, by module, leg (request/response), direction and outcome (translated, "
                "lost: one per loss, refused)", ("module", "leg", "direction", "outcome")),
}  # fmt: skip
HISTOGRAMS = {
    "request_duration": ("ocn_request_duration_seconds", "End-to-end time of OCPI requests "
                         "in the node (edge in, answer out)", ("edge", "module")),
    "upstream_duration": ("ocn_upstream_duration_seconds", "Time of forwarded requests at the "
                          "receiving party (request out, answer in), by outcome", ("outcome",)),
    "grpc_duration": ("ocn_grpc_call_duration_seconds", "Time of gRPC calls in the server",
                      ("method",)),
}  # fmt: skip
GAUGES = {
    "open_connections": ("ocn_open_connections", "Open client connections of the edge",
                         ("edge",)),
    "inflight": ("ocn_inflight_calls", "Calls in progress (the gRPC edge)",
                 ("edge",)),
    "fanout_queued": ("ocn_hub_fanout_queued", "Broadcast deliveries waiting in the fan-out "
                      "queues", ()),
}  # fmt: skip


class _Families:
    """The prometheus-client metric objects (made on first flush, after the env is set)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        own = CollectorRegistry()  # scrapes read the files, never this registry
        self.counters = {
            k: Counter(name, doc, labels, registry=own)
            for k, (name, doc, labels) in COUNTERS.items()
        }
        self.histograms = {
            k: Histogram(name, doc, labels, buckets=BUCKETS, registry=own)
            for k, (name, doc, labels) in HISTOGRAMS.items()
        }
        self.gauges = {
            k: Gauge(name, doc, labels, registry=own, multiprocess_mode="livesum")
            for k, (name, doc, labels) in GAUGES.items()
        }


# read from the shared state at scrape time: name -> (help, label names)
STATE_GAUGES = {
    "ocn_registry_cursor_block": ("Last registry block applied to the cache", ("source",)),
    "ocn_registry_head_block": ("Chain head seen by the registry follower", ("source",)),
    "ocn_registry_lag_blocks": ("Blocks the registry cache is behind the head", ("source",)),
    "ocn_registry_stale": ("1 when the registry source is failing", ("source",)),
    "ocn_registry_last_sync_age_seconds": ("Seconds since the registry cache last synced",
                                           ("source",)),
    "ocn_proxy_store_entries": ("Proxied resources held (response_url, Link and Location "
                                "proxies)", ()),
}  # fmt: skip


class StateCollector:
    """Figures read from the node's shared state at scrape time: registry sync and proxy store."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        s = self.engine.ctx.registry.status()
        values = {
            "ocn_registry_cursor_block": s.cursor,
            "ocn_registry_head_block": s.head,
            "ocn_registry_lag_blocks": s.lag,
            "ocn_registry_stale": int(s.stale),
            "ocn_registry_last_sync_age_seconds": time.time() - s.last_sync
            if s.last_sync
            else None,
            "ocn_proxy_store_entries": self.engine.ctx.proxies.size(),
        }
        for name, (doc, labels) in STATE_GAUGES.items():
            family = GaugeMetricFamily(name, doc, labels=list(labels))
            value = values[name]
            if value is not None:
                family.add_metric([s.source or "none"] if labels else [], float(value))
            yield family

    def describe(self) -> Iterable[Any]:
        return []


def reference() -> str:
    """The Markdown table of every metric (docs/metrics.md holds this text)."""
    rows = [(name + "_total", "counter", labels, doc) for name, doc, labels in COUNTERS.values()]
    rows += [(name, "histogram", labels, doc) for name, doc, labels in HISTOGRAMS.values()]
    rows += [(name, "gauge (live workers summed)", labels, doc)
             for name, doc, labels in GAUGES.values()]  # fmt: skip
    rows += [(name, "gauge (shared state)", labels, doc)
             for name, (doc, labels) in STATE_GAUGES.items()]  # fmt: skip
    lines = ["| metric | type | labels | meaning |", "|---|---|---|---|"]
    lines += [f"| `{n}` | {t} | {', '.join(labels) or '-'} | {doc} |" for n, t, labels, doc in rows]
    return "\n".join(lines) + "\n"


def upstream_observer(recorder: Recorder) -> Callable[[str, float], None]:
    """``observe(outcome, seconds)`` of one outbound hop into ``upstream_duration`` (outcome:
    ok, timeout or unreachable): what a transport with an ``observer`` slot calls itself."""
    cells = {outcome: recorder.cell("upstream_duration", outcome)
             for outcome in ("ok", "timeout", "unreachable")}  # fmt: skip

    def observe(outcome: str, seconds: float) -> None:
        cell = cells[outcome]  # (_observe inline: one call less per forwarded request)
        cell[0] += 1
        cell[1] += seconds
        cell[2 + bisect_left(BUCKETS, seconds)] += 1

    return observe


class TimedTransport:
    """Any other outbound transport, wrapped to report each hop as :func:`upstream_observer`."""

    def __init__(self, inner: HttpTransport, recorder: Recorder) -> None:
        self.inner = inner
        self.observe = upstream_observer(recorder)

    async def request(
        self,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        body: bytes = b"",
        timeout: float | None = None,
        retry_safe: bool = False,
    ) -> HttpResult:
        started = time.perf_counter()
        try:
            result = await self.inner.request(method, url, headers, body, timeout, retry_safe)
        except TransportTimeout:
            self.observe("timeout", time.perf_counter() - started)
            raise
        except BaseException:
            self.observe("unreachable", time.perf_counter() - started)
            raise
        self.observe("ok", time.perf_counter() - started)
        return result

    async def close(self) -> None:
        await self.inner.close()


RECORDER: Recorder | None = None  # this process's recorder once metrics are on


def start() -> Recorder:
    """This process's recorder (metrics on); the multiprocess dir must be set already."""
    global RECORDER
    if MULTIPROC_ENV not in os.environ:
        raise RuntimeError(f"{MULTIPROC_ENV} is not set: call prepare_dir before start")
    if RECORDER is None:
        RECORDER = Recorder()
    return RECORDER


def count(family: str, *labels: str, by: int = 1) -> None:
    """Count ``by`` events in this process's recorder when metrics are on (no-op otherwise)."""
    if RECORDER is not None and by:
        RECORDER.count(family, *labels, by=by)


# the limit behind each refusal status of the HTTP front door (ocn_rejected_requests_total)
LIMITS = {413: "body_size", 414: "url_length", 431: "header_size", 408: "timeout",
          503: "connections", 400: "malformed"}  # fmt: skip


def rejected(status: int) -> None:
    """Count one request the front door refused with ``status`` (by the limit it hit)."""
    count("rejected_requests", LIMITS.get(status, str(status)))


def instrument(engine: Engine, recorder: Recorder) -> None:
    """Time the engine's outbound hops (upstream latency); export the hub's event counts."""
    transport = engine.ctx.transport
    if getattr(transport, "observer", False) is None:  # it times itself (the HTTP client)
        transport.observer = upstream_observer(recorder)  # type: ignore[attr-defined]
    elif not isinstance(transport, TimedTransport):
        engine.ctx.transport = TimedTransport(transport, recorder)
    hub = engine.ctx.hub
    recorder.follow("hub_events", hub.totals)
    recorder.gauge("fanout_queued", hub.queued)


async def flush_every(recorder: Recorder, interval: float = FLUSH_INTERVAL) -> None:
    """Flush the recorder periodically until cancelled, then once more."""
    import asyncio

    try:
        while True:
            await asyncio.sleep(interval)
            try:
                recorder.flush()
            except Exception:  # e.g. a full disk: keep counting, try again next time
                log.exception("metrics_flush_failed")
    finally:
        with contextlib.suppress(Exception):
            recorder.flush()
