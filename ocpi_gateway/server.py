"""Run the gateway: one or more worker processes on one port, one LMDB file.

Each worker opens its own LMDB environment after the fork (LMDB handles must not cross a fork)
and runs its own event loop. With several workers the parent process owns the port, hands
each new connection to the worker with the fewest open ones (:mod:`ocpi_gateway.balancer`) and
supervises the workers (:mod:`ocpi_gateway.supervisor`). SIGTERM drains: no new connections,
in-flight requests answered (up to ``settings.shutdown_grace`` seconds), then exit 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from ocn_core import implementation_report, open_node, telemetry
from ocn_core.config import Settings
from ocn_core.datadir_lock import lock_data_dir
from ocn_core.engine import Engine
from ocn_core.logconfig import configure_logging, flush_access_lines
from ocn_core.views import to_json
from ocpi_gateway.app import Gateway, refuse, scrape
from ocpi_gateway.balancer import receive_connections
from ocpi_gateway.core_client import CoreClient, InProcessCore
from ocpi_gateway.http_server import HttpFront, HttpProtocol, Limits, Request, Response, serve
from ocpi_gateway.supervisor import run_workers, worker_cpus

log = structlog.get_logger(__name__)


async def run_gateway(
    settings: Settings,
    core_url: str = "",
    ready: asyncio.Event | None = None,
    worker: int = 0,
    channel: socket.socket | None = None,
) -> None:
    """Serve until cancelled or SIGTERM/SIGINT.

    Listens on ``settings.host:port`` itself, or, given the ``channel`` of a
    :class:`~ocpi_gateway.balancer.Balancer`, serves the connections handed over on it.
    """
    core: CoreClient
    housekeeping: asyncio.Task[None] | None = None
    chain_sync: asyncio.Task[None] | None = None
    rotation: asyncio.Task[None] | None = None
    grpc_server: Any = None
    node_info: dict[str, str] | None = None
    hub_jobs: asyncio.Task[None] | None = None
    metrics = start_metrics(settings, "gateway")
    if core_url:
        from ocpi_gateway.grpc_core import GrpcCore

        core = GrpcCore(core_url, settings)  # the core may start later: asked on first use
    else:
        engine = open_node(settings)
        core = InProcessCore(engine)
        node_info = to_json(engine.node_info())
        housekeeping = asyncio.ensure_future(run_housekeeping(engine))
        chain_sync = engine.start_registry_sync(follow=worker == 0)
        if worker == 0 and settings.credentials_rotation_interval > 0:
            rotation = asyncio.ensure_future(run_rotation(engine))
        if metrics is not None:
            telemetry.instrument(engine, metrics)
        if settings.grpc_port and worker == 0:  # the gRPC edge beside HTTP, one engine
            from ocn_grpc.metrics import interceptors
            from ocn_grpc.server import start_server

            address = f"{settings.host}:{settings.grpc_port}"
            grpc_server = await start_server(engine, address, interceptors=interceptors(metrics))
        # still-alive checks and planned-party search: once per node (worker 0; with replicas
        # sharing state, every process campaigns and the holder of the node's lock runs them)
        if worker == 0 or engine.state.shared:
            hub_jobs = asyncio.ensure_future(engine.run_jobs())
    access_log = settings.log_level.lower() in ("debug", "info")
    metrics_key = settings.api_key if settings.metrics_auth else ""
    gateway = Gateway(core, node_info, access_log, metrics, metrics_key)
    server: asyncio.Server | None = None
    stop_receiving = None
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()  # set by SIGTERM/SIGINT, or when the parent process is gone
    front = HttpFront(gateway.handle, Limits.from_settings(settings), refuse)
    connections = Connections(front.protocol)
    flusher: asyncio.Task[None] | None = None
    if metrics is not None:
        metrics.gauge("open_connections", lambda: len(connections.open), "http")
        flusher = asyncio.ensure_future(telemetry.flush_every(metrics))
    if channel is None:
        server = await loop.create_server(connections, settings.host, settings.port, backlog=4096)
    else:

        def parent_gone() -> None:
            log.warning("parent_gone", pid=os.getpid(), detail="the supervisor died; stopping")
            stop.set()

        stop_receiving = receive_connections(loop, channel, connections, parent_gone)
    log.info(
        "node_started",
        url=settings.public_url,
        listen=f"{settings.host}:{settings.port}",
        pid=os.getpid(),
        address=(node_info or {}).get("address"),
        core=core_url or "in-process",
        grpc_port=settings.grpc_port if grpc_server is not None else None,
        impl=implementation_report(),
    )
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGHUP, _hangup)
    # Everything allocated so far lives as long as the process: move it out of the collector's
    # reach, so full collections stay short and do not show up as tail latency.
    gc.collect()
    gc.freeze()
    if ready is not None:
        ready.set()
    try:
        await stop.wait()
    finally:
        if server is not None:
            server.close()
        if stop_receiving is not None:
            stop_receiving()
        await connections.drain(settings.shutdown_grace)
        flush_access_lines()
        for task in (housekeeping, chain_sync, rotation, flusher, hub_jobs):
            if task is not None:
                task.cancel()
        if server is not None:
            await server.wait_closed()
        if grpc_server is not None:
            from ocn_grpc.server import stop_server

            await stop_server(grpc_server, grace=1.0)
        await core.close()
        if metrics is not None:
            metrics.flush()
        log.info("node_stopped", pid=os.getpid())


def start_metrics(settings: Settings, service: str) -> telemetry.Recorder | None:
    """This process's metrics recorder (None when ``settings.metrics`` is off)."""
    if not settings.metrics:
        return None
    if telemetry.MULTIPROC_ENV not in os.environ:  # started without run(): a single process
        telemetry.prepare_dir(settings.data_dir, service)
    return telemetry.start()


async def core_metrics(
    settings: Settings, engine: Engine
) -> tuple[list[Any], Callable[[], Awaitable[None]]]:
    """``ocn-node core``: the gRPC metrics interceptor, and GET /metrics on ``metrics_port``.

    Returns the interceptors for the gRPC server and a coroutine function that stops it all.
    """
    if not settings.metrics:
        return [], _nothing
    from ocn_grpc.metrics import interceptors

    telemetry.prepare_dir(settings.data_dir, "core")
    recorder = start_metrics(settings, "core")
    assert recorder is not None
    telemetry.instrument(engine, recorder)
    flusher = asyncio.ensure_future(telemetry.flush_every(recorder))
    server: asyncio.Server | None = None
    if settings.metrics_port:
        key = settings.api_key if settings.metrics_auth else ""

        async def metrics_only(request: Request) -> Response:
            if request.method == "GET" and request.path == "/metrics":
                return scrape(request, recorder, key, engine)
            return Response(404, [("Content-Type", "text/plain")], b"Not found")

        server = await serve(metrics_only, settings.host, settings.metrics_port)
        log.info("metrics_listening", listen=f"{settings.host}:{settings.metrics_port}")

    async def stop() -> None:
        flusher.cancel()
        if server is not None:
            server.close()
            await server.wait_closed()
        recorder.flush()

    return interceptors(recorder), stop


async def _nothing() -> None:
    return None


def _hangup() -> None:
    log.info("sighup", pid=os.getpid(), detail="settings are read at start; nothing reloaded")


class Connections:
    """The protocol factory of one worker, keeping its open connections for the drain."""

    def __init__(self, make: Callable[..., HttpProtocol]) -> None:
        self.make = make
        self.open: set[HttpProtocol] = set()

    def __call__(self, on_close: Callable[[], None] | None = None) -> HttpProtocol:
        def closed() -> None:
            self.open.discard(protocol)
            if on_close is not None:
                on_close()

        protocol = self.make(on_close=closed)
        self.open.add(protocol)
        return protocol

    async def drain(self, grace: float) -> None:
        """Close idle connections; let busy ones finish their requests, up to ``grace`` s."""
        deadline = time.monotonic() + grace
        while self.open:
            for protocol in list(self.open):
                if not protocol.busy and not protocol.queue:
                    self._close(protocol)
            if not self.open:
                return
            if time.monotonic() >= deadline:
                log.warning("drain_timeout", pid=os.getpid(), open_requests=len(self.open))
                for protocol in list(self.open):
                    self._close(protocol)
                return
            await asyncio.sleep(0.02)

    def _close(self, protocol: HttpProtocol) -> None:
        self.open.discard(protocol)
        protocol.close()  # after the answers it wrote, held ones included


async def run_housekeeping(engine: Engine, every: float = 60.0) -> None:
    """Background jobs, run by one process per node (:meth:`Engine.leads_background_jobs`)."""
    engine.leads_background_jobs()  # campaign from the start
    while True:
        await asyncio.sleep(every)
        if not engine.leads_background_jobs():
            continue
        try:
            done = engine.maintenance()
        except Exception:
            log.exception("housekeeping_failed")
        else:
            telemetry.count("proxy_expiries", by=done.get("proxies_expired", 0))
            if any(done.values()):
                log.info("housekeeping", **done)


async def run_rotation(engine: Engine, every: float = 60.0) -> None:
    """Node-initiated token C rotation for platforms past the configured interval (worker 0)."""
    from ocn_core.hub.initiative import rotate_due

    while True:
        await asyncio.sleep(min(every, engine.settings.credentials_rotation_interval))
        try:
            done = await rotate_due(engine.ctx)
        except Exception:
            log.exception("credentials_rotation_failed")
        else:
            if done:
                log.info("credentials_rotated", platforms=done)


def _worker(
    settings: Settings, core_url: str, index: int = 0, channel: socket.socket | None = None
) -> None:
    configure_logging(settings.log_format, settings.log_level)
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        pass
    asyncio.run(run_gateway(settings, core_url, worker=index, channel=channel))


def run(settings: Settings, core_url: str = "") -> int:
    """Start ``settings.workers`` processes and wait; SIGTERM stops them all.

    With the embedded core the node takes the data dir's lock first
    (:class:`~ocn_core.datadir_lock.DataDirInUse` when another node holds it).
    """
    configure_logging(settings.log_format, settings.log_level)
    if not core_url:
        lock_data_dir(settings.data_dir)  # held until the process (and its workers) exit
        settings.ensure_secrets()
    if settings.metrics:  # before the fork: every worker writes its files there
        telemetry.prepare_dir(settings.data_dir, "gateway")
    if settings.workers <= 1:
        try:
            _worker(settings, core_url)
        except Exception:
            log.exception("node_failed", pid=os.getpid())
            return 1
        return 0
    return run_workers(
        settings.host,
        settings.port,
        settings.workers,
        lambda index, channel: _worker(settings, core_url, index, channel),
        grace=settings.shutdown_grace,
        cpus=worker_cpus(settings.workers, settings.worker_cpu_affinity),
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run(Settings.from_env()))
