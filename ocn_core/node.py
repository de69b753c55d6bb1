"""The composition root: ``open_node(settings)`` assembles an engine over the node's data dir.

It creates the secrets on first start, opens the LMDB store, the node state (LMDB, or
PostgreSQL with ``settings.state_url``: :func:`ocn_core.state.backend.open_state`), the registry
cache, the outbound HTTP client and the node key's address, and lists the node in its local
registry (local mode).
Every edge (gateway, gRPC core, CLI, tests, benchmarks) builds its engine here.
"""

from __future__ import annotations

from ocn_core.config import Settings
from ocn_core.engine import Engine
from ocn_core.registry import SOURCE_LOCAL, RegistryCache
from ocn_core.signing import address_of
from ocn_core.state.backend import open_state
from ocn_core.store import Store


def open_node(settings: Settings, store: Store | None = None, *, list_self: bool = True) -> Engine:
    """An engine over ``settings.data_dir`` (or ``store``); close it with ``engine.shutdown()``.

    ``list_self``: a serving node lists itself in a local registry (operator → public URL);
    admin tools opening the same data dir pass False and leave the node's entry alone.
    """
    from ocn_core.adapters.http_client import HttpClient

    settings.ensure_secrets()
    store = store or Store(settings.data_dir / "lmdb", map_size=settings.map_size)
    registry = RegistryCache(store)
    transport = HttpClient(settings.connect_timeout, settings.forward_timeout)
    state = open_state(settings, store)
    engine = Engine(
        settings, store, registry, transport, address_of(settings.private_key_bytes), state
    )
    if list_self and settings.registry == "local" and registry.source() in (None, SOURCE_LOCAL):
        engine.registry_admin.list_self()
    return engine
