"""Requests addressed TO the hub (OCPI 2.2.1 §1.6): Broadcast Push and GET All via Hub.

* POST / PUT / PATCH (and DELETE of tariffs) on the Receiver interface of locations, tariffs and
  tokens: the object is kept in the hub data store (``last_updated`` untouched), the sender is
  answered by the hub (FROM = hub) once the store committed, and the request is broadcast in the
  background (:mod:`ocn_core.hub.broadcast`). Sessions and CDRs are never broadcast.
* GET on the Sender interface without a sub-path: every stored object of the module, merged and
  paginated (:mod:`ocn_core.hub.paging`), each with its owner's ``country_code``/``party_id``.
"""

from __future__ import annotations

from ocn_core import ocpi
from ocn_core.errors import InvalidRequest, NotFound, WrongRoleHeaders
from ocn_core.hub import broadcast, paging, responses, signatures
from ocn_core.hub.auth import require_platform
from ocn_core.hub.context import NodeContext
from ocn_core.model import RouteRequest, RouteResponse


def hub_party(ctx: NodeContext) -> tuple[str, str]:
    return ctx.settings.country_code, ctx.settings.party_id


def sender_platform(ctx: NodeContext, req: RouteRequest) -> str:
    """The calling platform (token C) owning the FROM party; TO headers are not needed here."""
    platform_id, _ = require_platform(ctx, req.authorization)
    for name, value in (("X-Request-ID", req.request_id), ("X-Correlation-ID", req.correlation_id)):
        if not value:
            raise InvalidRequest(f"Missing request header '{name}'")
    if not req.has_from:
        raise InvalidRequest(
            "Missing request header 'OCPI-from-country-code' / 'OCPI-from-party-id'"
        )
    ocpi.check_party(req.from_party.country_code, req.from_party.party_id)
    if req.has_to:
        ocpi.check_party(req.to_party.country_code, req.to_party.party_id)
    owner = ctx.platforms.platform_id_by_role(req.from_party.country_code, req.from_party.party_id)
    if owner != platform_id:
        raise WrongRoleHeaders("Could not find role on sending platform using OCPI-from-* headers")
    if ctx.hub.limits.active:
        ctx.hub.limits.admit(req.from_party.key, len(req.body))
    return platform_id


async def to_hub(ctx: NodeContext, req: RouteRequest) -> RouteResponse:
    """A functional-module request with TO = the hub."""
    sender_platform(ctx, req)
    signatures.verify_request(ctx, req)
    if req.method == "GET":
        if req.interface_role.ocpi == "SENDER" and not req.path_suffix:
            return get_all(ctx, req)
        raise NotFound("The hub answers GET only as GET All on its Sender interface")
    return broadcast_push(ctx, req)


def get_all(ctx: NodeContext, req: RouteRequest) -> RouteResponse:
    """GET All via Hub: the module's stored objects of every owner, one paginated list."""
    if req.module not in broadcast.BROADCAST_MODULES:
        raise NotFound(
            f"The hub keeps no {req.module}: GET All via Hub serves "
            f"{', '.join(sorted(broadcast.BROADCAST_MODULES))}"
        )
    objects = ctx.hub.data.objects(req.module)
    url = f"{ctx.settings.public_url}/ocpi/sender/{req.ocpi_version or '2.2.1'}/{req.module}"
    found, headers = paging.page(objects, paging.updated_of, req.query, url)
    return responses.ok(req, found, hub_party(ctx), headers)


def broadcast_push(ctx: NodeContext, req: RouteRequest) -> RouteResponse:
    """Store, answer the sender (FROM = hub), then push to every receiver in the background."""
    module, method = req.module, req.method
    if module not in broadcast.BROADCAST_MODULES or req.interface_role.ocpi != "RECEIVER":
        raise InvalidRequest(
            f"Broadcast Push is for the Receiver interface of locations, tariffs and tokens; "
            f"{module} ({req.interface_role.ocpi}) is never broadcast"
        )
    if method not in broadcast.BROADCAST_METHODS or (method == "DELETE" and module != "tariffs"):
        raise InvalidRequest(f"{method} is not broadcast (OCPI: POST, PUT and PATCH)")
    parts = req.path_suffix.split("/") if req.path_suffix else []
    if len(parts) < 3:
        raise InvalidRequest("Broadcast URL must carry {country_code}/{party_id}/{object id}")
    owner = (parts[0].upper(), parts[1].upper())
    if owner[0] + owner[1] != req.from_party.key:
        raise InvalidRequest(
            "A party broadcasts only its own objects ({country_code}/{party_id} = FROM)"
        )
    role = broadcast.sender_role(ctx, req)
    if role is None:
        raise InvalidRequest(f"Only the owner role of {module} or OTHER may broadcast it")
    body = None
    if method != "DELETE":
        body = ocpi.loads(req.body or b"null")
        if not isinstance(body, dict):
            raise InvalidRequest("Broadcast body must be a JSON object")
    ctx.hub.data.apply(module, owner, parts[2:], method, body)
    fan = broadcast.fanout(ctx)
    if method == "PATCH" and fan.duplicate(req):
        ctx.hub.counters["broadcast_duplicates_dropped"] += 1
    else:
        ctx.hub.counters["broadcasts"] += 1
        ctx.hub.spawn(_fan_out(ctx, fan, req, role), "broadcast")
    return responses.ok(req, None, hub_party(ctx))


async def _fan_out(ctx: NodeContext, fan: broadcast.Fanout, req: RouteRequest, role: str) -> None:
    """After the answer: pick the receivers (a scan of every platform) and push to them."""
    await fan.push(req, broadcast.receivers(ctx, req, role))
