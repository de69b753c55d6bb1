"""The declarative OCPI route table: which module endpoints exist and how the hub treats them.

One row per (module, interface). The path matcher (``_match_ref`` / ``_match_cy``) turns a URL
into a :class:`~ocn_core.model.RouteKind` plus module/interface/suffix; the engine then reads the
row's features. Adding an endpoint means adding or changing a row here, never a new handler.
"""

from __future__ import annotations

from dataclasses import dataclass

FUNCTIONAL_MODULES = (
    "cdrs",
    "chargingprofiles",
    "commands",
    "locations",
    "sessions",
    "tariffs",
    "tokens",
)
# OCPI 2.3.0 optional modules (branches 2.3.0/release/payments, /bookings, /core): module ids as
# the spec spells them; header-routed like every functional module, served under 2.3.0 only.
OPTIONAL_MODULES_230 = ("Booking", "invoicereconciliation", "payments")
PAGED_MODULES = frozenset(
    {"cdrs", "locations", "sessions", "tariffs", "tokens", *OPTIONAL_MODULES_230}
)
COMMAND_TYPES = frozenset(
    {"CANCEL_RESERVATION", "RESERVE_NOW", "START_SESSION", "STOP_SESSION", "UNLOCK_CONNECTOR"}
)


@dataclass(frozen=True, slots=True)
class ModuleRoute:
    """How the hub forwards one (module, interface)."""

    module: str
    interface: str  # "SENDER" | "RECEIVER"
    methods: frozenset[str]
    paged: bool = False  # list GET: pass X-Total-Count/X-Limit, proxy the Link header
    response_url: str = ""  # "body" | "query": rewrite the async response_url to a node URL
    location_header: bool = False  # POST answer's Location is proxied (CDRs)


def _row(module: str, interface: str, methods: str, **features: object) -> ModuleRoute:
    return ModuleRoute(module, interface, frozenset(methods.split()), **features)  # type: ignore[arg-type]


ROUTES: dict[tuple[str, str], ModuleRoute] = {
    (r.module, r.interface): r
    for r in (
        _row("locations", "SENDER", "GET", paged=True),
        _row("locations", "RECEIVER", "GET PUT PATCH"),
        _row("sessions", "SENDER", "GET PUT", paged=True),
        _row("sessions", "RECEIVER", "GET PUT PATCH"),
        _row("cdrs", "SENDER", "GET", paged=True),
        _row("cdrs", "RECEIVER", "POST GET", location_header=True),
        _row("tariffs", "SENDER", "GET", paged=True),
        _row("tariffs", "RECEIVER", "GET PUT DELETE"),
        _row("tokens", "SENDER", "GET POST", paged=True),
        _row("tokens", "RECEIVER", "GET PUT PATCH"),
        _row("commands", "RECEIVER", "POST", response_url="body"),
        _row("commands", "SENDER", "POST"),
        _row("chargingprofiles", "RECEIVER", "GET PUT DELETE", response_url="auto"),
        _row("chargingprofiles", "SENDER", "POST PUT"),
        _row("payments", "SENDER", "GET POST PUT PATCH", paged=True),  # PTP: terminals, FACs
        _row("payments", "RECEIVER", "GET POST"),
        _row("Booking", "SENDER", "GET POST", paged=True),
        _row("Booking", "RECEIVER", "GET PUT PATCH"),
        _row("invoicereconciliation", "SENDER", "GET", paged=True),
        _row("invoicereconciliation", "RECEIVER", "GET POST PUT DELETE"),
    )
}


def modules_for(version: str) -> tuple[str, ...]:
    """The functional modules served under OCPI ``version``."""
    if version == "2.3.0":
        return FUNCTIONAL_MODULES + OPTIONAL_MODULES_230
    return FUNCTIONAL_MODULES


def module_route(module: str, interface: str) -> ModuleRoute | None:
    return ROUTES.get((module, interface))
