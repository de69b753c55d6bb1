"""Open Routing (OCPI 2.2.1 §1.6.3): requests without TO headers; the hub picks the receiver.

The receiver is read from the request, first match wins (OCPI leaves the algorithm to the hub):

1. the ``{country_code}/{party_id}`` of the URL when it names a party other than the sender;
2. the body: ``cdr_token`` / ``token`` ids (sessions, CDRs: the token's issuer) or the object's
   own ``country_code``/``party_id``, when they name a party other than the sender;
3. a location's owner: ``location_id`` in the body (commands, sessions), ``cdr_location.id`` or the
   location id of a Sender-interface GET, looked up among the locations pushed to the hub;
4. a token's issuer: the token uid of ``tokens/{uid}/authorize``, looked up the same way.

Then the request is routed directly with TO = that party. When nothing names a receiver,
POST / PUT / PATCH of locations, tariffs and tokens are broadcast; anything else is refused with
2001, and so is GET All (a list GET on a Sender interface).
"""

from __future__ import annotations

from typing import Any

import orjson

from ocn_core.errors import OpenRoutingRefused
from ocn_core.hub import broadcast, hubmodes, signatures
from ocn_core.hub.context import NodeContext
from ocn_core.model import PartyRef, RouteRequest, RouteResponse
from ocn_core.routing import ModuleRoute


async def route(ctx: NodeContext, req: RouteRequest, row: ModuleRoute | None) -> RouteResponse:
    """Pick the receiver of a request without TO headers and route it (or broadcast it)."""
    from ocn_core.hub import forward  # forward dispatches here: import at call time

    hubmodes.sender_platform(ctx, req)
    if signatures.active(ctx, req):
        raise OpenRoutingRefused(
            "Open Routing is not available for signed requests: the signature covers the "
            "OCPI-to-* headers; set them"
        )
    if req.method == "GET" and row is not None and row.paged and not req.path_suffix:
        raise OpenRoutingRefused("GET All is not allowed through Open Routing (OCPI 2.2.1 §1.6)")
    target = pick(ctx, req)
    if target is not None:
        req.to_party, req.has_to = PartyRef(target[:2], target[2:]), True
        ctx.hub.counters["open_routed"] += 1
        return await forward.route_module(ctx, req)
    if (
        req.method in ("POST", "PUT", "PATCH")
        and req.module in broadcast.BROADCAST_MODULES
        and req.interface_role.ocpi == "RECEIVER"
    ):
        ctx.hub.counters["open_broadcast"] += 1
        return hubmodes.broadcast_push(ctx, req)
    raise OpenRoutingRefused(
        f"Could not determine the receiver of {req.method} {req.module}: set the OCPI-to-* headers"
    )


def pick(ctx: NodeContext, req: RouteRequest) -> str | None:
    """The ``CCPID`` of the receiver the request names (see the module doc), or None."""
    sender = req.from_party.key
    parts = req.path_suffix.split("/") if req.path_suffix else []
    if req.interface_role.ocpi == "RECEIVER" and len(parts) >= 2:
        named = _party(parts[0], parts[1])
        if named is not None and named != sender and _known(ctx, named):
            return named
    body = _body(req)
    if isinstance(body, dict):
        for ref in (body.get("cdr_token"), body.get("token"), body):
            if isinstance(ref, dict):
                named = _party(ref.get("country_code"), ref.get("party_id"))
                if named is not None and named != sender and _known(ctx, named):
                    return named
        location = body.get("location_id")
        cdr_location = body.get("cdr_location")
        if location is None and isinstance(cdr_location, dict):
            location = cdr_location.get("id")
        if isinstance(location, str):
            owner = ctx.hub.data.owner("locations", location)
            if owner is not None and owner != sender:
                return owner
    if req.interface_role.ocpi == "SENDER" and parts and req.module in ("locations", "tokens"):
        owner = ctx.hub.data.owner(req.module, parts[0])
        if owner is not None and owner != sender:
            return owner
    return None


def _party(country_code: Any, party_id: Any) -> str | None:
    if not isinstance(country_code, str) or not isinstance(party_id, str):
        return None
    if len(country_code) != 2 or len(party_id) != 3:
        return None
    key = (country_code + party_id).upper()
    return key if key.isascii() and key.isalnum() else None


def _known(ctx: NodeContext, key: str) -> bool:
    """Connected here or listed in the registry."""
    cc, pid = key[:2], key[2:]
    return (
        ctx.platforms.platform_id_by_role(cc, pid) is not None
        or ctx.registry.party(cc, pid) is not None
    )


def _body(req: RouteRequest) -> Any:
    if not req.body:
        return None
    try:
        return orjson.loads(req.body)
    except orjson.JSONDecodeError:
        return None
