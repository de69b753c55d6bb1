"""Node-state records (plain data, JSON-serialisable)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

CONNECTED, OFFLINE, PLANNED, SUSPENDED = "CONNECTED", "OFFLINE", "PLANNED", "SUSPENDED"


@dataclass(slots=True)
class RoleRecord:
    role: str
    country_code: str
    party_id: str
    business_details: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return (self.country_code + self.party_id).upper()


@dataclass(slots=True)
class EndpointRecord:
    identifier: str
    role: str  # SENDER | RECEIVER
    url: str


@dataclass(slots=True)
class Platform:
    id: str
    status: str
    ocpi_version: str
    versions_url: str
    token_b: str
    token_b_base64: bool
    roles: list[RoleRecord]
    endpoints: list[EndpointRecord]
    last_updated: float
    created: float
    token_c_digest: str = ""
    hub_party_id: str = ""  # OCPI 2.3.0: the peer platform's own hub party (CCPID), if any
    token_c_issued: float = 0.0  # when the current token C was issued (scheduled rotation)
    pending_token_c_digest: str = ""  # token C offered in a rotation not completed yet

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Platform:
        data = dict(data)
        data["roles"] = [RoleRecord(**r) for r in data["roles"]]
        data["endpoints"] = [EndpointRecord(**e) for e in data["endpoints"]]
        return cls(**data)

    def endpoint(self, identifier: str, role: str) -> str | None:
        """The URL of the platform's ``identifier`` endpoint for ``role`` (SENDER/RECEIVER)."""
        for ep in self.endpoints:
            if ep.identifier == identifier and ep.role == role:
                return ep.url
        return None


@dataclass(slots=True)
class RegistrationGrant:
    """What a token A allows: register exactly these parties (any role if ``role`` is empty)."""

    roles: list[dict[str, str]]
    expires_at: float
    created: float

    def allows(self, role: str, country_code: str, party_id: str) -> bool:
        for r in self.roles:
            if (
                r["country_code"].upper() == country_code.upper()
                and r["party_id"].upper() == party_id.upper()
                and (not r.get("role") or r["role"] == role)
            ):
                return True
        return False
