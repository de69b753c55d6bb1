"""ocn_core: the embeddable Open Charging Network routing engine (no transport inside).

``engine = ocn_core.open_node(ocn_core.Settings.from_env())`` builds a node over its data dir;
``await engine.route(RouteRequest(...))`` routes one OCPI request; the engine's other methods
administer it, read the registry, sign and verify, and report health.
"""

from ocn_core._ext import implementation_report
from ocn_core._route_kind import RouteKind
from ocn_core.config import Settings
from ocn_core.engine import Engine
from ocn_core.errors import OcnError, error_class
from ocn_core.model import InterfaceRole, PartyRef, RouteRequest, RouteResponse
from ocn_core.node import open_node
from ocn_core.registry import Node, Party, RegistryStatus
from ocn_core.views import (
    HealthDetails,
    IssuedToken,
    NodeInfo,
    PlatformInfo,
    SignatureCheck,
    to_json,
)

__all__ = [
    "Engine",
    "HealthDetails",
    "InterfaceRole",
    "IssuedToken",
    "Node",
    "NodeInfo",
    "OcnError",
    "Party",
    "PartyRef",
    "PlatformInfo",
    "RegistryStatus",
    "RouteKind",
    "RouteRequest",
    "RouteResponse",
    "Settings",
    "SignatureCheck",
    "error_class",
    "implementation_report",
    "open_node",
    "to_json",
]
