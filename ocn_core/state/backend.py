"""Choose the node-state store at start: LMDB in the data dir, or PostgreSQL (``state_url``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ocn_core.state.interface import (
    HubStores,
    Leadership,
    PlatformState,
    ProxyState,
    ReplayClaims,
    SingleProcess,
)
from ocn_core.state.platforms import PlatformStore
from ocn_core.state.proxy import ProxyStore

if TYPE_CHECKING:
    from ocn_core.config import Settings
    from ocn_core.store import Store


@dataclass(slots=True)
class NodeState:
    """The stores handlers use, and who runs the background jobs."""

    kind: str  # "lmdb" | "postgresql"
    platforms: PlatformState
    proxies: ProxyState
    leader: Leadership
    # opens the /ocn/message replay window (path of LMDB's own environment, window seconds);
    # None: LMDB's guard in that path
    replay_guard: Callable[[Path, float], ReplayClaims] | None = None
    hub: HubStores | None = None  # rules, client info, hub data (None: LMDB's, made by HubState)

    @property
    def shared(self) -> bool:
        """Whether replicas share this state (background jobs then need the node's lock)."""
        return self.kind != "lmdb"

    def close(self) -> None:
        bridge = getattr(self.platforms, "bridge", None)
        if bridge is not None:
            bridge.close()


def lmdb_state(store: Store) -> NodeState:
    from ocn_core.state.clientinfo import ClientInfoStore
    from ocn_core.state.hubdata import HubDataStore
    from ocn_core.state.rules import RulesStore

    hub = HubStores(RulesStore(store), ClientInfoStore(store), HubDataStore(store))
    return NodeState("lmdb", PlatformStore(store), ProxyStore(store), SingleProcess(), hub=hub)


def open_state(settings: Settings, store: Store) -> NodeState:
    """LMDB over ``store`` by default; PostgreSQL when ``settings.state_url`` is set (migrated
    to the latest schema, mirror loaded before this returns)."""
    if not settings.state_url:
        return lmdb_state(store)
    from ocn_core.state.pg_bridge import PgBridge
    from ocn_core.state.pg_hub import PgClientInfoStore, PgHubDataStore, PgRulesStore
    from ocn_core.state.pg_store import (
        PgLeadership,
        PgPlatformStore,
        PgProxyStore,
        PgReplayGuard,
    )

    bridge = PgBridge(settings.state_url, settings.state_timeout, settings.state_sync_timeout)
    # (an unreachable database raises StateUnavailable here: the node does not start)
    platforms = PgPlatformStore(bridge)
    try:
        bridge.start(platforms.reload)
    except BaseException:
        bridge.close()
        raise
    return NodeState(
        "postgresql",
        platforms,
        PgProxyStore(bridge),
        PgLeadership(bridge),
        lambda _path, window: PgReplayGuard(bridge, window),
        HubStores(PgRulesStore(platforms), PgClientInfoStore(bridge), PgHubDataStore(bridge)),
    )
