"""Reference URL matcher (pure Python, written for clarity; the oracle of ``_match_cy``).

``match(method, path)`` returns ``(kind, module, interface, version, suffix, proxy_id)`` with
``kind`` an int of :class:`~ocn_core.model.RouteKind` and ``interface`` 0/1/2, or ``None`` when
no OCPI route has that shape. Versions, modules and node-issued URL shapes come from the route
table (:data:`ocn_core.routing.table.SHAPES`). Shapes served (``{v}`` a version of the table)::

    /ocpi/versions                          VERSIONS
    /ocpi/{v}                               VERSION_DETAILS
    /ocpi/{v}/{node endpoint}               CREDENTIALS, HUBCLIENTINFO
    /ocpi/{sender|receiver}/{v}/{module}/…  MODULE, or PAGE / PROXIED for node-issued URLs
    /ocpi/{v}/{sender|receiver}/{module}/…  legacy alias of the line above (reference node)
    /ocpi/custom/{sender|receiver}/{id}/…   CUSTOM
    /ocpi/receiver/{v}/ocnrules/…           OCNRULES (a module the node serves itself)
"""

from __future__ import annotations

from ocn_core._route_kind import RouteKind
from ocn_core.routing.table import SHAPES, Shapes

ROLES = {"sender": 1, "receiver": 2}
K_VERSIONS, K_DETAILS = int(RouteKind.VERSIONS), int(RouteKind.VERSION_DETAILS)
K_MODULE, K_PAGE = int(RouteKind.MODULE), int(RouteKind.PAGE)
K_PROXIED, K_CUSTOM = int(RouteKind.PROXIED), int(RouteKind.CUSTOM)

Match = tuple[int, str, int, str, str, str]


def match(method: str, path: str) -> Match | None:
    parts = path.strip("/").split("/")
    if len(parts) < 2 or parts[0] != "ocpi" or "" in parts:
        return None
    head = parts[1]
    if head == "versions" and len(parts) == 2:
        return (K_VERSIONS, "versions", 0, "", "", "")
    shapes = SHAPES.get(head)
    if shapes is not None:
        return _match_versioned(method, head, shapes, parts[2:])
    if head == "custom" and len(parts) >= 4 and parts[2] in ROLES:
        return (K_CUSTOM, parts[3], ROLES[parts[2]], "", "/".join(parts[4:]), "")
    if head in ROLES and len(parts) >= 4 and parts[2] in SHAPES:
        return _match_module(method, ROLES[head], parts[2], SHAPES[parts[2]], parts[3], parts[4:])
    return None


def _match_versioned(method: str, version: str, shapes: Shapes, rest: list[str]) -> Match | None:
    if not rest:
        return (K_DETAILS, "versions", 0, version, "", "")
    if len(rest) == 1 and rest[0] in shapes.node:
        kind, module, interface = shapes.node[rest[0]]
        return (kind, module, interface, version, "", "")
    if len(rest) >= 2 and rest[0] in ROLES:  # legacy /ocpi/2.2/{role}/{module}/...
        return _match_module(method, ROLES[rest[0]], version, shapes, rest[1], rest[2:])
    return None


def _match_module(
    method: str, interface: int, version: str, shapes: Shapes, module: str, rest: list[str]
) -> Match | None:
    if module not in shapes.modules:
        served = shapes.served[interface].get(module)
        return (served, module, interface, version, "/".join(rest), "") if served else None
    if len(rest) == 2:
        if rest[0] == "page" and method == "GET" and module in shapes.paged:
            return (K_PAGE, module, interface, version, "", rest[1])
        if rest[0] in shapes.proxied[interface].get(module, ()):
            return (K_PROXIED, module, interface, version, rest[0], rest[1])
    elif len(rest) == 1 and method == "GET" and module in shapes.items[interface]:
        return (K_PROXIED, module, interface, version, "", rest[0])
    return (K_MODULE, module, interface, version, "/".join(rest), "")
