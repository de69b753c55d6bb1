"""``ocn-node core`` as a real process: SIGTERM stops accepting calls, answers the in-flight
ones (within ``shutdown_grace``), flushes the metrics and exits 0."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import grpc
import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from ocn_core.errors import AdminError
from ocn_grpc.client import OcnClient
from tests.integration.test_metrics import wait_port
from tests.support.node import free_port
from tests.support.node_process import API_KEY, spawn


async def _slow_versions(seconds: float) -> tuple[web.AppRunner, str, asyncio.Event]:
    """A party whose versions endpoint answers (an empty list) after ``seconds``."""
    asked = asyncio.Event()

    async def versions(request: web.Request) -> web.Response:
        asked.set()
        await asyncio.sleep(seconds)
        return web.json_response({"status_code": 1000, "data": []})

    app = web.Application()
    app.router.add_get("/versions", versions)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}/versions", asked


async def test_sigterm_drains_in_flight_calls_flushes_and_exits_0(tmp_path: Path) -> None:
    party, versions_url, asked = await _slow_versions(1.5)
    grpc_port = free_port()
    data_dir = tmp_path / "core"
    argv = [sys.executable, "-m", "ocpi_gateway.cli", "core", "--data-dir", str(data_dir),
            "--listen", f"127.0.0.1:{grpc_port}", "--public-url", "http://127.0.0.1:9"]  # fmt: skip
    env = {"OCN_SHUTDOWN_GRACE": "10", "OCN_LOG_LEVEL": "warning"}
    core = spawn(argv, tmp_path / "core.log", env)
    client = None
    try:
        await wait_port(grpc_port)
        client = OcnClient(f"127.0.0.1:{grpc_port}", api_key=API_KEY, timeout=15)
        await client.node_info()
        # in flight: the node registering with a party that takes 1.5 s to list its versions
        call = asyncio.ensure_future(client.connect(versions_url, "token-a"))
        await asyncio.wait_for(asyncio.shield(asked.wait()), 10)
        core.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.3)
        with pytest.raises(grpc.aio.AioRpcError) as refused:  # no new calls while draining
            await client.node_info()
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        with pytest.raises(AdminError, match="No common OCPI version"):  # the engine's answer
            await call
        assert await asyncio.to_thread(core.wait, 15) == 0
    finally:
        if client is not None:
            await client.close()
        if core.poll() is None:
            core.kill()
            core.wait()
        await party.cleanup()

    # the metrics were flushed on the way out: the drained call is counted
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(data_dir / "metrics" / "core"))  # type: ignore[no-untyped-call]
    counted = {
        (s.labels["method"], s.labels["code"]): s.value
        for family in registry.collect()
        if family.name == "ocn_grpc_calls"
        for s in family.samples
        if s.name == "ocn_grpc_calls_total"
    }
    assert counted[("/ocn.v1.AdminService/ConnectParty", "INVALID_ARGUMENT")] == 1
