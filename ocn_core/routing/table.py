"""The declarative OCPI route table: the one source of truth for what the node serves.

Per OCPI version: the node's own endpoints (credentials, hubclientinfo) and one row per
functional (module, interface). Everything else is derived from these rows: the URL matchers
(both twins read :data:`SHAPES`), the method check, the proxied-URL shapes and the version
details document. Adding an endpoint or a version means adding rows here, never a handler.
"""

from __future__ import annotations

from dataclasses import dataclass

from ocn_core._route_kind import RouteKind

SENDER, RECEIVER = "SENDER", "RECEIVER"
COMMAND_TYPES = frozenset(
    {"CANCEL_RESERVATION", "RESERVE_NOW", "START_SESSION", "STOP_SESSION", "UNLOCK_CONNECTOR"}
)


@dataclass(frozen=True, slots=True)
class NodeEndpoint:
    """An endpoint the node answers itself at ``/ocpi/{version}/{identifier}``."""

    identifier: str
    kind: RouteKind
    role: str  # the role advertised in the version details
    interface: int  # the interface the matcher reports (0: none)


@dataclass(frozen=True, slots=True)
class ModuleRoute:
    """How the hub forwards one (module, interface) at ``/ocpi/{role}/{version}/{module}/…``."""

    module: str
    interface: str  # "SENDER" | "RECEIVER"
    methods: frozenset[str]
    paged: bool = False  # list GET: pass X-Total-Count/X-Limit, proxy the Link header
    response_url: str = ""  # "body" | "auto": rewrite the async response_url to a node URL
    location_header: bool = False  # POST answer's Location is proxied (CDRs)
    proxied: frozenset[str] = frozenset()  # {segment}/{id}: node-issued URLs (any method)
    proxied_item: bool = False  # GET {id}: a node-issued URL (the proxied CDR Location)


@dataclass(frozen=True, slots=True)
class NodeModule:
    """A module the node serves itself at ``/ocpi/{role}/{version}/{module}/…`` (not advertised)."""

    module: str
    kind: RouteKind
    interface: str


@dataclass(frozen=True, slots=True)
class VersionRoutes:
    """Everything served for one OCPI version."""

    version: str
    node: tuple[NodeEndpoint, ...]
    modules: tuple[ModuleRoute, ...]
    served: tuple[NodeModule, ...] = ()


def _row(module: str, interface: str, methods: str, **features: object) -> ModuleRoute:
    return ModuleRoute(module, interface, frozenset(methods.split()), **features)  # type: ignore[arg-type]


NODE_2_2 = (
    NodeEndpoint("credentials", RouteKind.CREDENTIALS, SENDER, 0),
    NodeEndpoint("hubclientinfo", RouteKind.HUBCLIENTINFO, SENDER, 1),
)
MODULES_2_2 = (
    _row("cdrs", SENDER, "GET", paged=True),
    _row("cdrs", RECEIVER, "POST GET", location_header=True, proxied_item=True),
    _row("chargingprofiles", SENDER, "POST PUT", proxied=frozenset({"result"})),
    _row("chargingprofiles", RECEIVER, "GET PUT DELETE", response_url="auto"),
    _row("commands", SENDER, "POST", proxied=COMMAND_TYPES),
    _row("commands", RECEIVER, "POST", response_url="body"),
    _row("locations", SENDER, "GET", paged=True),
    _row("locations", RECEIVER, "GET PUT PATCH"),
    _row("sessions", SENDER, "GET PUT", paged=True),
    _row("sessions", RECEIVER, "GET PUT PATCH"),
    _row("tariffs", SENDER, "GET", paged=True),
    _row("tariffs", RECEIVER, "GET PUT DELETE"),
    _row("tokens", SENDER, "GET POST", paged=True),
    _row("tokens", RECEIVER, "GET PUT PATCH"),
)

# the OCN's custom configuration module: a platform's own OcnRules (ocn-node.md §2.12)
SERVED_2_2 = (NodeModule("ocnrules", RouteKind.OCNRULES, RECEIVER),)

# OCPI 2.3.0: the same functional modules plus the optional ones of the release branches
# (2.3.0/release/payments, /bookings, /core), module ids as the spec spells them; their URLs
# carry no party ids, so they are header-routed like every functional module.
# CommandType is an OpenEnum in 2.3.0: results of command types the table does not know come
# back through ``commands/result/{id}`` (see ``proxying.proxy_response_url``).
COMMANDS_SENDER_2_3_0 = _row("commands", SENDER, "POST", proxied=COMMAND_TYPES | {"result"})
MODULES_2_3_0 = (
    *(
        COMMANDS_SENDER_2_3_0 if (r.module, r.interface) == ("commands", SENDER) else r
        for r in MODULES_2_2
    ),
    _row("Booking", SENDER, "GET POST", paged=True),
    _row("Booking", RECEIVER, "GET PUT PATCH"),
    _row("invoicereconciliation", SENDER, "GET", paged=True),
    _row("invoicereconciliation", RECEIVER, "GET POST PUT DELETE"),
    _row("payments", SENDER, "GET POST PUT PATCH", paged=True),  # PTP: terminals, FACs
    _row("payments", RECEIVER, "GET POST"),
)

# newest first, as /ocpi/versions lists them
TABLE: tuple[VersionRoutes, ...] = (
    VersionRoutes("2.3.0", NODE_2_2, MODULES_2_3_0, SERVED_2_2),
    VersionRoutes("2.2.1", NODE_2_2, MODULES_2_2, SERVED_2_2),
    VersionRoutes("2.2", NODE_2_2, MODULES_2_2, SERVED_2_2),
)
VERSIONS: tuple[str, ...] = tuple(v.version for v in TABLE)
BY_VERSION: dict[str, VersionRoutes] = {v.version: v for v in TABLE}
# (version, module, interface) -> row
ROUTES: dict[tuple[str, str, str], ModuleRoute] = {
    (v.version, r.module, r.interface): r for v in TABLE for r in v.modules
}


def module_route(module: str, interface: str, version: str = "") -> ModuleRoute | None:
    """The row for ``module`` on ``interface`` in OCPI ``version`` (default: the newest)."""
    return ROUTES.get((version or VERSIONS[0], module, interface))


@dataclass(frozen=True, slots=True)
class Shapes:
    """What the URL matchers read for one version (derived from its rows).

    ``proxied``, ``items`` and ``served`` are indexed by interface number (0 unused, 1 SENDER,
    2 RECEIVER), so a matcher looks them up without building a key.
    """

    node: dict[str, tuple[int, str, int]]  # identifier -> (kind, module, interface)
    modules: frozenset[str]
    paged: frozenset[str]  # modules with a list: .../{module}/page/{id} (GET)
    proxied: tuple[dict[str, frozenset[str]], ...]  # [interface][module] -> first segments
    items: tuple[frozenset[str], ...]  # [interface]: modules whose GET .../{id} is node-issued
    served: tuple[dict[str, int], ...]  # [interface][module] the node serves itself -> kind


def _shapes(v: VersionRoutes) -> Shapes:
    by_role = (None, SENDER, RECEIVER)
    return Shapes(
        node={e.identifier: (int(e.kind), e.identifier, e.interface) for e in v.node},
        modules=frozenset(r.module for r in v.modules),
        paged=frozenset(r.module for r in v.modules if r.paged),
        proxied=tuple(
            {r.module: r.proxied for r in v.modules if r.proxied and r.interface == role}
            for role in by_role
        ),
        items=tuple(
            frozenset(r.module for r in v.modules if r.proxied_item and r.interface == role)
            for role in by_role
        ),
        served=tuple(
            {m.module: int(m.kind) for m in v.served if m.interface == role} for role in by_role
        ),
    )


SHAPES: dict[str, Shapes] = {v.version: _shapes(v) for v in TABLE}


def version_endpoints(base: str, version: str) -> list[dict[str, str]]:
    """The version details' endpoints for ``version``: exactly the served URLs, from the rows."""
    routes = BY_VERSION[version]
    found = [
        {"identifier": e.identifier, "role": e.role, "url": f"{base}/ocpi/{version}/{e.identifier}"}
        for e in routes.node
    ]
    for r in routes.modules:
        url = f"{base}/ocpi/{r.interface.lower()}/{version}/{r.module}"
        found.append({"identifier": r.module, "role": r.interface, "url": url})
    return found
