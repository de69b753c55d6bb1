"""Registry errors, on the engine's one hierarchy (admin-facing: plain JSON, HTTP 4xx)."""

from __future__ import annotations

from ocn_core.errors import AdminError, ServerError


class InvalidRegistryEntry(AdminError):
    """A malformed id, address, role or module in a registry write."""

    reason = "registry_invalid_entry"


class RegistrySourceConflict(AdminError):
    """A local write into a cache that follows a chain (or the reverse)."""

    reason = "registry_source_conflict"
    http_status = 409


class RegistryLayoutMismatch(ServerError):
    """The cache was written with another byte layout and cannot be rebuilt from its source."""

    reason = "registry_layout_mismatch"
