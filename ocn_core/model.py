"""Routed-request value objects: plain-Python twins of ``ocn.v1.RouteRequest`` / ``RouteResponse``.

Field names and meanings match protos/ocn/v1/routing.proto one to one (a test checks it), so the
gateway builds the same object whether the core runs in process or behind gRPC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from ocn_core._route_kind import RouteKind  # generated from the proto (tools/gen_protos.py)

# RouteKind by value, for decoding by tuple index (values the proto leaves unused: UNSPECIFIED)
KINDS_BY_VALUE: tuple[RouteKind, ...] = tuple(
    RouteKind._value2member_map_.get(v, RouteKind.UNSPECIFIED)  # type: ignore[misc]
    for v in range(max(RouteKind) + 1)
)


class InterfaceRole(IntEnum):
    UNSPECIFIED = 0
    SENDER = 1
    RECEIVER = 2

    @property
    def ocpi(self) -> str:
        """The OCPI spelling: ``SENDER`` / ``RECEIVER``."""
        return _ROLE_NAMES[self]  # a tuple index: Enum.name is a slow descriptor on hot paths


_ROLE_NAMES = tuple(role.name for role in InterfaceRole)


@dataclass(slots=True)
class PartyRef:
    country_code: str = ""
    party_id: str = ""

    @property
    def key(self) -> str:
        """Upper-case ``CCPID`` used for lookups."""
        return (self.country_code + self.party_id).upper()


@dataclass(slots=True)
class RouteRequest:
    kind: RouteKind = RouteKind.UNSPECIFIED
    module: str = ""
    interface_role: InterfaceRole = InterfaceRole.UNSPECIFIED
    method: str = "GET"
    ocpi_version: str = ""
    path_suffix: str = ""
    query: str = ""
    authorization: str = ""
    request_id: str = ""
    correlation_id: str = ""
    from_party: PartyRef = field(default_factory=PartyRef)
    to_party: PartyRef = field(default_factory=PartyRef)
    ocn_signature: str = ""
    body: bytes = b""
    content_type: str = ""
    proxy_id: str = ""
    call_id: int = 0
    has_from: bool = False
    has_to: bool = False

    def log_context(self) -> dict[str, str]:
        """What every log line of this request carries."""
        return {
            "request_id": self.request_id,
            "correlation_id": self.correlation_id,
            "sender": self.from_party.key,
            "receiver": self.to_party.key,
        }


@dataclass(slots=True)
class RouteResponse:
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    ocpi_status: int = 0
    error_reason: str = ""
    call_id: int = 0

    def header(self, name: str) -> str | None:
        """First header named ``name`` (case-insensitive)."""
        return find_header(self.headers, name)


__all__ = [
    "InterfaceRole",
    "PartyRef",
    "RouteKind",
    "RouteRequest",
    "RouteResponse",
    "find_header",
]


def find_header(headers: list[tuple[str, str]], name: str) -> str | None:
    """First value of header ``name`` (case-insensitive) in a list of pairs."""
    from ocn_core.wire import header_index  # (wire's twins build this module's objects)

    at = header_index(headers, name.lower())
    return headers[at][1] if at >= 0 else None
