"""Routing facade: the URL matcher (compiled or reference) and the route table it derives from."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ocn_core import _ext
from ocn_core.routing import _match_ref
from ocn_core.routing.table import (
    ROUTES,
    TABLE,
    VERSIONS,
    ModuleRoute,
    NodeEndpoint,
    VersionRoutes,
    module_route,
    version_endpoints,
)

if TYPE_CHECKING:  # checkers see the reference twin's signature; runtime picks a twin
    from ocn_core.routing._match_ref import match
else:
    match = _ext.load("routing", "ocn_core.routing._match_cy", _match_ref).match

IMPLEMENTATION = "cy" if match is not _match_ref.match else "ref"

__all__ = [
    "IMPLEMENTATION",
    "ROUTES",
    "TABLE",
    "VERSIONS",
    "ModuleRoute",
    "NodeEndpoint",
    "VersionRoutes",
    "match",
    "module_route",
    "version_endpoints",
]
