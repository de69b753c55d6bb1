"""Typed results of the engine's public operations, and their one JSON shape.

Every edge (HTTP admin API, gRPC, CLI) gets these objects from :class:`~ocn_core.engine.Engine`
and serialises them with :func:`to_json`, so an answer is the same whichever edge served it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ocn_core.registry import Node, Party, RegistryStatus
from ocn_core.state.records import EndpointRecord, Platform, RoleRecord


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """The node's identity: its public base URL and its operator (node key) address."""

    url: str
    address: str


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A registration token (CREDENTIALS_TOKEN_A), where to use it and when it expires."""

    token: str
    versions: str
    expires_at: float


@dataclass(frozen=True, slots=True)
class PlatformInfo:
    """A connected platform without its secrets (token B, token C digest)."""

    id: str
    status: str
    ocpi_version: str
    versions_url: str
    token_b_base64: bool
    roles: list[RoleRecord]
    endpoints: list[EndpointRecord]
    last_updated: float
    created: float

    @classmethod
    def of(cls, p: Platform) -> PlatformInfo:
        return cls(
            p.id,
            p.status,
            p.ocpi_version,
            p.versions_url,
            p.token_b_base64,
            p.roles,
            p.endpoints,
            p.last_updated,
            p.created,
        )


@dataclass(frozen=True, slots=True)
class SignatureCheck:
    """The outcome of verifying an OCN-Signature against ValuesToSign."""

    valid: bool
    signatory: str = ""
    error_reason: str = ""
    error_message: str = ""


@dataclass(frozen=True, slots=True)
class HealthDetails:
    """``ok``, or ``degraded`` while the registry source is failing; which twins loaded."""

    status: str
    registry: RegistryStatus
    impl: dict[str, str] = field(default_factory=dict)
    hub: dict[str, int] = field(default_factory=dict)  # counters of issue 13 (this process)


def party_json(p: Party) -> dict[str, Any]:
    """A registry listing as the admin API shows it."""
    return {
        "country_code": p.country_code,
        "party_id": p.party_id,
        "address": p.address,
        "roles": list(p.roles),
        "operator": p.operator,
        "node_url": p.node_url,
    }


def registry_status_json(s: RegistryStatus) -> dict[str, Any]:
    """Registry freshness as ``/health/details`` shows it."""
    return {
        "source": s.source,
        "cursor": s.cursor,
        "head": s.head,
        "lag": s.lag,
        "stale": s.stale,
        "last_error": s.last_error,
        "last_sync": s.last_sync,
    }


def to_json(value: object) -> Any:
    """The JSON shape of an engine result (the HTTP admin API and the CLI print this)."""
    if isinstance(value, HealthDetails):
        registry = registry_status_json(value.registry)
        impl, hub = dict(value.impl), dict(value.hub)
        return {"status": value.status, "registry": registry, "impl": impl, "hub": hub}
    if isinstance(value, Party):
        return party_json(value)
    if isinstance(value, RegistryStatus):
        return registry_status_json(value)
    if isinstance(value, (NodeInfo, IssuedToken, PlatformInfo, SignatureCheck, Node)):
        return asdict(value)
    if isinstance(value, list):
        return [to_json(v) for v in value]
    return value


__all__ = [
    "HealthDetails",
    "IssuedToken",
    "NodeInfo",
    "PlatformInfo",
    "SignatureCheck",
    "party_json",
    "registry_status_json",
    "to_json",
]
