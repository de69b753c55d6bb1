"""The registry: an LMDB cache of the OCN Registry and Permissions contracts.

``RegistryCache`` answers routing lookups in microseconds; ``LocalRegistry`` writes it for a
private network; ``ocn_core.adapters.ethereum_registry`` keeps it current from a chain.
"""

from __future__ import annotations

from ocn_core.registry.cache import (
    IMPLEMENTATION,
    SOURCE_ETHEREUM,
    SOURCE_LOCAL,
    RegistryCache,
    RegistryWriter,
)
from ocn_core.registry.errors import (
    InvalidRegistryEntry,
    RegistryLayoutMismatch,
    RegistrySourceConflict,
)
from ocn_core.registry.local import LocalRegistry
from ocn_core.registry.types import (
    MODULES,
    ROLES,
    Agreement,
    Node,
    Party,
    PartyReader,
    RegistryStatus,
    Service,
)

__all__ = [
    "IMPLEMENTATION",
    "MODULES",
    "ROLES",
    "SOURCE_ETHEREUM",
    "SOURCE_LOCAL",
    "Agreement",
    "InvalidRegistryEntry",
    "LocalRegistry",
    "Node",
    "Party",
    "PartyReader",
    "RegistryCache",
    "RegistryLayoutMismatch",
    "RegistrySourceConflict",
    "RegistryStatus",
    "RegistryWriter",
    "Service",
]
