"""What every handler needs: settings, node state, registry, outbound transport, node identity."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ocn_core.config import Settings
from ocn_core.state import PlatformStore, ProxyStore
from ocn_core.store import Store
from ocn_core.transport import HttpTransport

if TYPE_CHECKING:
    from ocn_core.registry import RegistryCache


@dataclass(slots=True)
class NodeContext:
    settings: Settings
    store: Store
    platforms: PlatformStore
    registry: RegistryCache
    transport: HttpTransport
    node_address: str  # checksummed address of the node key (the registry operator)
    proxies: ProxyStore

    @property
    def versions_url(self) -> str:
        return self.settings.public_url + "/ocpi/versions"
