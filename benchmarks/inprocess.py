"""A node inside the benchmark's own event loop (engine + lean HTTP gateway on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from benchmarks import handshake, procs
from ocn_core import open_node
from ocn_core.config import Settings
from ocn_core.engine import Engine
from ocpi_gateway.app import Gateway, refuse
from ocpi_gateway.core_client import InProcessCore
from ocpi_gateway.http_server import Limits, serve


@dataclass
class LocalNode:
    engine: Engine
    url: str
    tokens: dict[str, str]  # role -> token C


@contextlib.asynccontextmanager
async def connected_node(data_dir: Path, upstream: str) -> AsyncIterator[LocalNode]:
    """A node over ``data_dir`` with both parties registered via the credentials handshake."""
    port = procs.free_port()
    url = f"http://127.0.0.1:{port}"
    settings = Settings.from_env(
        {}, data_dir=data_dir, public_url=url, port=port, log_level="warning"
    )
    engine = open_node(settings)
    core = InProcessCore(engine)
    gateway = Gateway(core, {"url": url, "address": engine.node_address})
    server = await serve(gateway.handle, "127.0.0.1", port, Limits.from_settings(settings), refuse)
    try:
        tokens = await asyncio.to_thread(handshake.connect_parties, url, settings.api_key, upstream)
        yield LocalNode(engine, url, tokens)
    finally:
        server.close()
        await server.wait_closed()
        await core.close()
        engine.ctx.store.close()
