"""What every handler needs: settings, node state, registry, outbound transport, node identity."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ocn_core.config import Settings
from ocn_core.hub.hubstate import HubState
from ocn_core.state.interface import (
    HubStores,
    Leadership,
    PlatformState,
    ProxyState,
    SingleProcess,
)
from ocn_core.store import Store
from ocn_core.transport import HttpTransport

if TYPE_CHECKING:
    from ocn_core.federation.services import ServiceCopies
    from ocn_core.registry import Party, PartyReader, RegistryCache


@dataclass(slots=True)
class NodeContext:
    settings: Settings
    store: Store
    platforms: PlatformState  # LMDB or PostgreSQL (ocn_core.state.open_state)
    registry: RegistryCache
    transport: HttpTransport
    node_address: str  # checksummed address of the node key (the registry operator)
    proxies: ProxyState
    party_reader: PartyReader | None = None  # one direct chain read on a cache miss
    leader: Leadership = field(default_factory=SingleProcess)  # runs the background jobs here
    copies: ServiceCopies | None = None  # service-interface copies (when enabled)
    hub_stores: HubStores | None = None  # the hub's stores when not LMDB's (PostgreSQL)
    hub: HubState = field(init=False)  # rules, client info, hub data, counters (issue 13)
    hub_key: str = field(init=False)  # the node's own party (CCPID): TO = hub

    def __post_init__(self) -> None:
        self.hub = HubState(self.store, self.settings, self.hub_stores)
        self.hub_key = (self.settings.country_code + self.settings.party_id).upper()

    async def party(self, country_code: str, party_id: str) -> Party | None:
        """Registry listing from the cache; on a miss, one direct read from the source."""
        found = self.registry.party(country_code, party_id)
        if found is None and self.party_reader is not None:
            found = await self.party_reader.read_party(country_code, party_id)
        return found

    @property
    def versions_url(self) -> str:
        return self.settings.public_url + "/ocpi/versions"
