"""Start a real node on 127.0.0.1 inside the test's event loop: in process or behind gRPC."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks.procs import free_port, reserved_port
from ocn_core import Engine, Settings, open_node
from ocn_grpc.server import start_server, stop_server
from ocpi_gateway.app import Gateway, refuse
from ocpi_gateway.core_client import CoreClient, InProcessCore
from ocpi_gateway.grpc_core import GrpcCore
from ocpi_gateway.http_server import HttpFront, Limits, serve
from tests.support.parties import PartyServer

__all__ = ["MODES", "RunningNode", "free_port", "reserved_port", "running_node"]

MODES = ("inprocess", "grpc")  # how the gateway reaches the engine: directly, or a real channel


@dataclass
class RunningNode:
    url: str
    settings: Settings
    engine: Engine
    mode: str
    core: CoreClient  # what the gateway calls: the engine itself, or a gRPC client to it
    front: HttpFront | None = None  # the HTTP server's shared state (open connections)

    @property
    def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.settings.api_key}"}

    async def admin(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        async with (
            aiohttp.ClientSession() as http,
            http.request(method, self.url + path, json=body, headers=self.admin_headers) as r,
        ):
            raw = await r.read()
            if r.content_type == "application/json":
                return r.status, json.loads(raw)
            return r.status, raw.decode()

    async def register(self, party: PartyServer, listed: bool = False) -> dict[str, Any]:
        """Register ``party`` (every role) through the real credentials handshake, token A from
        the admin API, after listing its roles in the local registry unless ``listed``
        already; the party's answer, asserted OCPI 1000."""
        for role, cc, pid in () if listed else party.roles:
            await self.list_party(cc, pid, [role])
        ids = [(cc, pid) for _, cc, pid in party.roles]
        result = await party.register(self.url, await self.token_a(*ids))
        assert result["status_code"] == 1000, result
        return result

    async def list_party(self, country_code: str, party_id: str, roles: list[str]) -> None:
        status, body = await self.admin(
            "POST",
            "/admin/registry/parties",
            {"country_code": country_code, "party_id": party_id, "roles": roles},
        )
        assert status == 200, body

    async def token_a(self, *parties: tuple[str, str]) -> str:
        roles = [{"country_code": cc, "party_id": pid} for cc, pid in parties]
        status, body = await self.admin("POST", "/admin/generate-registration-token", roles)
        assert status == 200, body
        return str(body["token"])


@contextlib.asynccontextmanager
async def running_node(
    tmp: Path, mode: str = "inprocess", **overrides: Any
) -> AsyncIterator[RunningNode]:
    """A node whose gateway reaches the engine in process, or over a real gRPC channel; what
    was started is stopped again even when a later step fails."""
    async with contextlib.AsyncExitStack() as started:
        with reserved_port() as port:
            settings = Settings.from_env(
                {},
                data_dir=tmp / "node",
                public_url=f"http://127.0.0.1:{port}",
                port=port,
                **overrides,
            )
            engine = open_node(settings)
            started.callback(engine.ctx.store.close)
            core: CoreClient
            if mode == "grpc":
                grpc_server = await start_server(engine, "127.0.0.1:0")
                started.push_async_callback(engine.close)
                started.push_async_callback(stop_server, grpc_server)
                core = GrpcCore(f"grpc://127.0.0.1:{grpc_server.bound_port}", settings)
            else:
                assert mode == "inprocess", mode
                core = InProcessCore(engine)
            started.push_async_callback(core.close)
            front = HttpFront(Gateway(core).handle, Limits.from_settings(settings), refuse)
        server = await serve(front, "127.0.0.1", port)
        started.push_async_callback(server.wait_closed)
        started.callback(server.close)
        jobs = asyncio.ensure_future(engine.run_jobs())
        started.callback(jobs.cancel)
        yield RunningNode(settings.public_url, settings, engine, mode, core, front)
    await asyncio.sleep(0)
