"""Assemble a node from settings: store, registry cache, engine (shared by CLI, tests, benches)."""

from __future__ import annotations

import asyncio

from ocn_core.adapters.http_client import HttpClient
from ocn_core.config import Settings
from ocn_core.engine import Engine
from ocn_core.registry import SOURCE_LOCAL, RegistryCache
from ocn_core.signing import address_of
from ocn_core.store import Store


def start_registry_sync(engine: Engine, follow: bool = True) -> asyncio.Task[None] | None:
    """In ethereum mode: serve misses by a direct read, and (``follow``) keep the cache current.

    Only one process per LMDB file needs to follow the chain (worker 0 of the gateway).
    """
    settings = engine.settings
    if settings.registry != "ethereum":
        return None
    from ocn_core.adapters.ethereum_registry import EthereumRegistrySync

    sync = EthereumRegistrySync(
        engine.ctx.registry,
        rpc_url=settings.rpc_url,
        registry_address=settings.registry_address,
        permissions_address=settings.permissions_address,
        confirmations=settings.confirmations,
    )
    engine.ctx.party_reader = sync
    return asyncio.ensure_future(sync.run()) if follow else None


def build_engine(
    settings: Settings, store: Store | None = None, *, list_self: bool = True
) -> Engine:
    """An engine over ``settings.data_dir`` (secrets created on first start).

    ``list_self``: a serving node lists itself in a local registry (operator → public URL);
    admin tools opening the same data dir pass False and leave the node's entry alone.
    """
    settings.ensure_secrets()
    store = store or Store(settings.data_dir / "lmdb", map_size=settings.map_size)
    registry = RegistryCache(store)
    transport = HttpClient(settings.connect_timeout, settings.forward_timeout)
    engine = Engine(settings, store, registry, transport, address_of(settings.private_key_bytes))
    if list_self and settings.registry == "local" and registry.source() in (None, SOURCE_LOCAL):
        engine.registry_admin.list_self()
    return engine
