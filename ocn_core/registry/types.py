"""Registry value objects: frozen, slotted, transport-free."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

ROLES = ("CPO", "EMSP", "HUB", "NAP", "NSP", "OTHER", "SCSP")
"""Registry.sol ``enum Role``, index order."""

MODULES = ("cdrs", "chargingprofiles", "commands", "locations", "sessions", "tariffs", "tokens")
"""Registry.sol ``enum Module``, index order."""


@dataclass(frozen=True, slots=True)
class Party:
    """A registry listing: which node serves an OCPI party and which address signs for it."""

    country_code: str
    party_id: str
    address: str
    roles: tuple[str, ...]
    modules_sender: tuple[str, ...]
    modules_receiver: tuple[str, ...]
    operator: str
    node_url: str


@dataclass(frozen=True, slots=True)
class Node:
    """An OCN node operator and the domain (URL) it serves under."""

    operator: str
    url: str


@dataclass(frozen=True, slots=True)
class Service:
    """A Permissions-contract service; country/party are the provider's registry listing."""

    provider: str
    name: str
    url: str
    permissions: tuple[int, ...]
    country_code: str = ""
    party_id: str = ""


@dataclass(frozen=True, slots=True)
class Agreement:
    """A user's agreement with a provider; revoked ones stay listed on chain (contract quirk)."""

    user: str
    provider: str
    active: bool


@dataclass(frozen=True, slots=True)
class RegistryStatus:
    """Where the cache comes from and how current it is."""

    source: str
    cursor: int | None
    head: int | None
    lag: int | None
    last_error: str
    stale: bool
    last_sync: float | None
    confirmations: int = 0
    chain_id: int | None = None


class PartyReader(Protocol):
    """A source that can answer one routing miss directly (the chain source does)."""

    async def read_party(self, country_code: str, party_id: str) -> Party | None: ...
