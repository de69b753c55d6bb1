"""Forward a functional-module request to the receiving local platform and relay its answer.

Order of checks (ocn-node.md §3.3): sender (token C + FROM role) → recipient → receiver endpoint →
forward with the receiver's token B, a fresh X-Request-ID and the same X-Correlation-ID → relay.
Bodies stay raw bytes in both directions; only the receiver's envelope is parsed (to read its
status_code and to refuse non-JSON answers).
"""

from __future__ import annotations

from ocn_core import ocpi, wire
from ocn_core.errors import (
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    NotSupported,
    OcnError,
    ReceiverTimeout,
    ReceiverUnreachable,
    UnknownReceiver,
    WrongRoleHeaders,
)
from ocn_core.federation import inbound, outbound
from ocn_core.hub import bridged, hubmodes, openrouting, proxying, signatures
from ocn_core.hub import rules as ocn_rules
from ocn_core.hub.auth import require_platform
from ocn_core.hub.context import NodeContext
from ocn_core.model import RouteKind, RouteRequest, RouteResponse
from ocn_core.routing import module_route
from ocn_core.state.platforms import ForwardPlan, PlanKey, RouteFacts
from ocn_core.state.rules import NO_RULES
from ocn_core.store import UNREAD
from ocn_core.transport import HttpResult, TransportError, TransportTimeout
from ocn_core.wire import envelope_status

Headers = list[tuple[str, str]]
NO_VERSIONS = ("", "")  # a message from another node: its sender's version is not known here


def check_routing_headers(req: RouteRequest) -> None:
    """X-Request-ID, X-Correlation-ID and both party pairs present and well formed (400/2001)."""
    for name, value in (("X-Request-ID", req.request_id), ("X-Correlation-ID", req.correlation_id)):
        if not value:
            raise InvalidRequest(f"Missing request header '{name}'")
    frm, to = req.from_party, req.to_party
    if (  # the common, valid case in one test
        req.has_from
        and req.has_to
        and len(frm.country_code) == len(to.country_code) == 2
        and len(frm.party_id) == len(to.party_id) == 3
        and (ids := frm.country_code + frm.party_id + to.country_code + to.party_id).isalnum()
        and ids.isascii()
    ):
        return
    for prefix, present, party in (
        ("from", req.has_from, req.from_party),
        ("to", req.has_to, req.to_party),
    ):
        if not present:
            raise InvalidRequest(
                f"Missing request header 'OCPI-{prefix}-country-code' / 'OCPI-{prefix}-party-id'"
            )
        ocpi.check_party(party.country_code, party.party_id)


def validate_sender(ctx: NodeContext, req: RouteRequest) -> str:
    """The sending platform's id; its token C must own the OCPI-from role."""
    platform_id, _ = require_platform(ctx, req.authorization)
    check_routing_headers(req)
    owner = ctx.platforms.platform_id_by_role(req.from_party.country_code, req.from_party.party_id)
    if owner != platform_id:
        raise WrongRoleHeaders("Could not find role on sending platform using OCPI-from-* headers")
    return platform_id


def decide(ctx: NodeContext, req: RouteRequest) -> RouteFacts:
    """Sender checks and the local receiver with its endpoint URL, Authorization value and
    both platforms' OCPI versions.

    The fast path reads everything in one LMDB transaction; failures fall back to the detailed
    checks, which raise the right error in the documented order.
    """
    facts = None
    if req.has_from and req.has_to:
        facts = ctx.platforms.route_facts(
            req.authorization,
            req.from_party.key,
            req.to_party.key,
            req.module,
            req.interface_role.ocpi,
        )
    if facts is None or facts.sender is None:
        validate_sender(ctx, req)  # raises: no/unknown token, missing headers
        raise AssertionError("validate_sender accepted what route_facts refused")
    check_routing_headers(req)
    if facts.from_owner != facts.sender:
        raise WrongRoleHeaders("Could not find role on sending platform using OCPI-from-* headers")
    if facts.receiver is None:
        return facts._replace(
            receiver=resolve_receiver(ctx, req), url=None, auth=None, rules=NO_RULES
        )
    return facts


def resolve_receiver(ctx: NodeContext, req: RouteRequest) -> str:
    """The local platform serving the OCPI-to party (4001 when nobody serves it here)."""
    to = req.to_party
    receiver = ctx.platforms.platform_id_by_role(to.country_code, to.party_id)
    if receiver is not None:
        return receiver
    party = ctx.registry.party(to.country_code, to.party_id)
    if party is None:
        raise UnknownReceiver("Receiver not registered on Open Charging Network")
    raise UnknownReceiver(
        f"Receiver {to.key} is registered with node {party.node_url or party.operator} "
        "but not connected to this node"
    )


async def find_receiver(ctx: NodeContext, req: RouteRequest) -> str:
    """:func:`resolve_receiver`, refreshing a registry miss with one direct read first."""
    try:
        return resolve_receiver(ctx, req)
    except UnknownReceiver:
        if ctx.party_reader is None:
            raise
        await ctx.party(req.to_party.country_code, req.to_party.party_id)
        return resolve_receiver(ctx, req)


def plan_key(req: RouteRequest) -> PlanKey:
    """What a plain forward's decision depends on, as the request carries it."""
    frm, to = req.from_party, req.to_party
    return (req.authorization, frm.country_code, frm.party_id, to.country_code, to.party_id,
            req.module, req.interface_role, req.ocpi_version, req.method)  # fmt: skip


def planned_hop(ctx: NodeContext, req: RouteRequest) -> tuple[ForwardPlan, str, Headers] | None:
    """A request whose decision was made before, in the same routing generation, and came out a
    plain forward (:class:`ForwardPlan`): its plan, target URL and outbound headers, after the
    checks that differ per request (ids present, the partner limits, the request's signature).
    None: decide (:func:`route_module`).

    The engine sends it without a coroutine frame of its own, as :func:`route_planned` does for
    other callers.
    """
    plan = ctx.platforms.forward_plan(plan_key(req))
    if (
        plan is None
        or not req.request_id
        or not req.correlation_id
        or not req.has_from
        or not req.has_to
    ):
        return None
    if ctx.hub.limits.active:
        ctx.hub.limits.admit(req.from_party.key, len(req.body))
    if req.ocn_signature or ctx.settings.signatures:
        signatures.verify_request(ctx, req)
    target = wire.target_url(plan.url, req.path_suffix, req.query)
    headers = wire.outbound_headers(req, plan.auth, req.body, req.ocn_signature, wire.request_id())
    return plan, target, headers  # (outbound_headers, without its frame)


async def route_planned(ctx: NodeContext, req: RouteRequest) -> RouteResponse:
    """A MODULE request from a local platform: its plan when one holds, else decided."""
    hop = planned_hop(ctx, req)
    if hop is None:
        return await route_module(ctx, req, planned=False)
    plan, target, headers = hop
    timeout = ctx.settings.forward_timeout
    result = await ctx.transport.request(req.method, target, headers, req.body, timeout)
    return proxying.proxy_response_headers(ctx, req, plan.row, relay(ctx, req, result))


async def route_module(
    ctx: NodeContext, req: RouteRequest, origin: str = "", planned: bool = True
) -> RouteResponse:
    """MODULE and CUSTOM: forward to the receiver's endpoint for (module, interface).

    ``origin`` is the sending node's address for a request that came in an ``/ocn/message``
    (its sender was checked by that node); the receiver is then local by construction.

    ``planned=False``: the caller tried :func:`planned_hop` already. A decision that comes out
    a plain forward is kept as the plan for the next request like this one.
    """
    key = plan_key(req) if req.kind is RouteKind.MODULE and not origin else None
    if key is not None and planned:
        return await route_planned(ctx, req)
    interface = req.interface_role.ocpi
    row = (
        module_route(req.module, interface, req.ocpi_version)
        if req.kind == RouteKind.MODULE
        else None
    )
    if req.kind == RouteKind.MODULE and (row is None or req.method not in row.methods):
        raise MethodNotAllowed(f"{req.method} is not served on {req.module} {interface}")
    versions = NO_VERSIONS
    if origin:
        url, auth, rules = inbound.local_target(ctx, req)
        versions = bridged.remote_pair(ctx, req, req.to_party)
    else:
        if not req.has_to and not (req.to_party.country_code or req.to_party.party_id):
            return await openrouting.route(ctx, req, row)  # no TO header at all
        try:
            facts = decide(ctx, req)
        except UnknownReceiver:
            if req.to_party.key == ctx.hub_key:
                return await hubmodes.to_hub(ctx, req)
            if ctx.hub.limits.active:
                ctx.hub.limits.admit(req.from_party.key, len(req.body))
            # another node's party (one direct registry read on a miss)
            node = await outbound.remote_node(ctx, req)
            resp = await outbound.route_remote(ctx, req, row, node)
            return bridged.from_remote(ctx, req, resp)
        url, auth, rules = facts.url, facts.auth, facts.rules
        versions = facts.sender_version, facts.receiver_version
        if ctx.hub.limits.active:
            ctx.hub.limits.admit(req.from_party.key, len(req.body))
    if rules is not NO_RULES:  # the receiver's OcnRules, read with the route facts
        ocn_rules.enforce(rules, req.from_party.key, req.module)
    notary = signatures.verify_request(ctx, req, rules.signatures)
    copied = ctx.copies is not None and not origin and ctx.copies.fire(req)
    if url is None or auth is None:
        raise NotSupported("Receiver does not support the requested module")
    query, body, signature = req.query, req.body, req.ocn_signature
    if row is not None and row.response_url and not origin:
        query, body, stash = proxying.proxy_response_url(ctx, req)
        if notary is not None:
            signature = signatures.resign_request(ctx, req, notary, query, body, stash)
    bridging = versions[0] != versions[1] and bridged.needed(req.module, *versions)
    if bridging:  # parties on different OCPI versions (never same-version traffic)
        body, signature = bridged.request(ctx, req, notary, *versions)
    elif (
        key is not None
        and row is not None
        and not (copied or row.response_url or rules is not NO_RULES)
        and (ctx.copies is None or ctx.platforms.facts_generation != UNREAD)
    ):  # a plain forward: the next request like this one skips the decision
        ctx.platforms.keep_forward_plan(key, ForwardPlan(url, auth, row))
    target = wire.target_url(url, req.path_suffix, query)
    resp = await send(ctx, req, req.method, target, auth, body, signature)
    if bridging and versions[0]:  # (to another node: its own node translates the answer)
        resp = bridged.response(ctx, req, resp, versions[1], versions[0])
    if origin:  # the requester's node proxies Link / Location
        return inbound.handed_out(ctx, req, row, resp)
    return proxying.proxy_response_headers(ctx, req, row, resp)


async def route_proxied(ctx: NodeContext, req: RouteRequest, origin: str = "") -> RouteResponse:
    """PAGE and PROXIED: a node-issued URL; forward to the party URL it stands for."""
    sender = ""
    if origin:
        receiver = inbound.local_receiver(ctx, req)
    else:
        sender = validate_sender(ctx, req)
        try:
            receiver = await find_receiver(ctx, req)
        except UnknownReceiver:
            node = await outbound.remote_node(ctx, req)
            resp = await outbound.route_remote_proxied(ctx, req, node)
            return bridged.from_remote(ctx, req, resp)
    rules = ocn_rules.check(ctx, req.from_party.key, receiver, req.module)
    signatures.verify_request(ctx, req, rules.signatures)
    url = ctx.proxies.get(req.proxy_id, req.from_party.key, req.to_party.key)
    if url is None:
        raise NotFound("Proxied resource not found")
    auth = ctx.platforms.auth_header(receiver)
    if auth is None:
        raise NotSupported("Receiver does not support the requested module")
    method = "GET" if req.kind == RouteKind.PAGE else req.method
    body = req.body if method != "GET" else b""
    resp = await send(ctx, req, method, url, auth, body, req.ocn_signature)
    if sender and req.module in bridged.MODULES:  # a page or a CDR read through a node URL
        source, target = bridged.platform_versions(ctx, receiver, sender)
        if bridged.needed(req.module, source, target):
            resp = bridged.response(ctx, req, resp, source, target)
    row = (
        module_route(req.module, req.interface_role.ocpi, req.ocpi_version)
        if req.kind == RouteKind.PAGE
        else None
    )
    if origin:
        return inbound.handed_out(ctx, req, row, resp)
    return proxying.proxy_response_headers(ctx, req, row, resp)


async def send(
    ctx: NodeContext,
    req: RouteRequest,
    method: str,
    url: str,
    auth: str,
    body: bytes,
    signature: str = "",
) -> RouteResponse:
    """One outbound hop to ``url`` and the relayed answer.

    Transport failures propagate (the engine answers them with 4002/4003).
    """
    headers = outbound_headers(req, auth, body, signature)
    timeout = ctx.settings.forward_timeout
    return relay(ctx, req, await ctx.transport.request(method, url, headers, body, timeout))


def outbound_headers(
    req: RouteRequest, auth: str, body: bytes, signature: str
) -> list[tuple[str, str]]:
    """The receiver's token B, a fresh X-Request-ID, the same correlation id and parties."""
    return wire.outbound_headers(req, auth, body, signature, wire.request_id())


def relay(ctx: NodeContext, req: RouteRequest, result: HttpResult) -> RouteResponse:
    """The receiver's answer for the requester: raw body, ids, TO = requester, FROM = receiver."""
    if not signatures.active(ctx, req):
        return wire.relay_response(req, result)
    envelope = wire.parse_envelope(result.body)  # the signature check parses the answer anyway
    resp = wire.relay_response(req, result, wire.status_of(envelope))
    signatures.verify_response(ctx, req, resp, envelope)
    return resp


def transport_error(exc: TransportError) -> OcnError:
    """The hub error for a failed outbound hop: 4002 timeout, 4003 unreachable."""
    if isinstance(exc, TransportTimeout):
        return ReceiverTimeout(f"Timeout forwarding request to receiver: {exc}")
    return ReceiverUnreachable(f"Receiver not reachable: {exc}")


__all__ = [
    "check_routing_headers",
    "decide",
    "envelope_status",
    "plan_key",
    "planned_hop",
    "route_module",
    "route_planned",
    "route_proxied",
    "send",
    "transport_error",
    "validate_sender",
]
