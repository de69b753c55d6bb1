"""Routing facade: the URL matcher (compiled or reference) and the route table."""

from __future__ import annotations

from ocn_core import _ext
from ocn_core.model import InterfaceRole, RouteKind
from ocn_core.routing import _match_ref
from ocn_core.routing.table import ROUTES, ModuleRoute, module_route

_impl = _ext.load("routing", "ocn_core.routing._match_cy", _match_ref)
IMPLEMENTATION = "cy" if _impl is not _match_ref else "ref"
match = _impl.match


def match_route(
    method: str, path: str
) -> tuple[RouteKind, str, InterfaceRole, str, str, str] | None:
    """``(kind, module, interface, version, suffix, proxy_id)`` for an OCPI URL path, or None."""
    found = match(method, path)
    if found is None:
        return None
    kind, module, interface, version, suffix, proxy_id = found
    return RouteKind(kind), module, InterfaceRole(interface), version, suffix, proxy_id


__all__ = ["IMPLEMENTATION", "ROUTES", "ModuleRoute", "match", "match_route", "module_route"]
