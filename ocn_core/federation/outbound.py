"""Requests for parties served by other nodes: signed ``POST <node>/ocn/message`` (§2.13).

The recipient's node URL comes from the registry (checked against the outbound URL policy). The
message is the reference's request object (:mod:`.message`), signed with the node key over its
exact bytes; the answer is the recipient party's answer (status, body, Link, Location,
X-Total-Count, X-Limit), relayed and proxied on this node like a local receiver's.
"""

from __future__ import annotations

import dataclasses
import hashlib

from ocn_core import ocpi, signing
from ocn_core.errors import NotFound, UnknownReceiver
from ocn_core.federation import message
from ocn_core.federation.urlpolicy import check_url
from ocn_core.hub import forward, proxying, signatures
from ocn_core.hub.context import NodeContext
from ocn_core.model import RouteKind, RouteRequest, RouteResponse
from ocn_core.routing import ModuleRoute, module_route
from ocn_core.transport import HttpResult

REMOTE_VERSION = "2.2"  # node URLs handed to other nodes' parties: served by every node


async def remote_node(ctx: NodeContext, req: RouteRequest) -> str:
    """The base URL of the node serving the OCPI-to party (4001 when none other does)."""
    to = req.to_party
    party = await ctx.party(to.country_code, to.party_id)
    if party is None:
        raise UnknownReceiver("Receiver not registered on Open Charging Network")
    if not party.node_url:
        raise UnknownReceiver("Recipient not registered on OCN")
    node_url = party.node_url.rstrip("/")
    if party.operator.lower() == ctx.node_address.lower() or node_url == ctx.settings.public_url:
        raise UnknownReceiver(
            f"Receiver {to.key} is registered with this node but not connected to it"
        )
    return node_url


def resource_id(url: str, sender: str, receiver: str) -> str:
    """The proxy-store id under which a party URL handed to another node is remembered
    (per pair: two requesters paging the same URL keep separate records)."""
    key = f"{sender}\x00{receiver}\x00{url}".encode()
    return "h" + hashlib.sha256(key).hexdigest()[:32]


def remember(ctx: NodeContext, url: str, sender: str, receiver: str) -> None:
    """Remember that ``url`` left this node for requests from ``sender`` to ``receiver``.

    A ``proxy_resource`` arriving in a message is only called (with the local party's token B)
    when it is such a URL, so no node can send a local party's credentials to a URL of its
    choosing.
    """
    proxy_id = resource_id(url, sender, receiver)
    ctx.proxies.put(url, sender, receiver, ctx.settings.proxy_ttl, proxy_id)


async def route_remote(
    ctx: NodeContext, req: RouteRequest, row: ModuleRoute | None, node_url: str
) -> RouteResponse:
    """MODULE / CUSTOM for a party on ``node_url``."""
    notary = signatures.verify_request(ctx, req)
    if ctx.copies is not None:
        ctx.copies.fire(req)
    query, body, signature = req.query, req.body, req.ocn_signature
    proxy_uid = proxy_resource = ""
    if row is not None and row.response_url:
        proxy_uid = ctx.proxies.new_id()
        new_url = proxying.response_url_proxy(node_url, req, proxy_uid, REMOTE_VERSION)
        query, body, stash = proxying.swap_response_url(req, new_url)
        proxy_resource = next(iter(stash.values()))
        # the result comes back from the receiver to the requester with this URL
        remember(ctx, proxy_resource, req.to_party.key, req.from_party.key)
        if notary is not None:
            signature = signatures.resign_request(ctx, req, notary, query, body, stash)
    result = await post(
        ctx,
        node_url,
        req,
        query=query,
        body=body,
        signature=signature,
        proxy_uid=proxy_uid,
        proxy_resource=proxy_resource,
    )
    resp = forward.relay(ctx, req, result)
    return proxying.proxy_response_headers(ctx, req, row, resp)


async def route_remote_proxied(ctx: NodeContext, req: RouteRequest, node_url: str) -> RouteResponse:
    """PAGE / PROXIED for a party on ``node_url``: the party URL travels as ``proxy_resource``."""
    signatures.verify_request(ctx, req)
    url = ctx.proxies.get(req.proxy_id, req.from_party.key, req.to_party.key)
    if url is None:
        raise NotFound("Proxied resource not found")
    method = "GET" if req.kind == RouteKind.PAGE else req.method
    body = req.body if method != "GET" else b""
    out = dataclasses.replace(req, method=method, path_suffix="")
    result = await post(
        ctx, node_url, out, query="", body=body, signature=req.ocn_signature, proxy_resource=url
    )
    resp = forward.relay(ctx, req, result)
    row = (
        module_route(req.module, req.interface_role.ocpi, req.ocpi_version)
        if req.kind == RouteKind.PAGE
        else None
    )
    return proxying.proxy_response_headers(ctx, req, row, resp)


async def post(
    ctx: NodeContext,
    node_url: str,
    req: RouteRequest,
    *,
    query: str,
    body: bytes,
    signature: str,
    proxy_uid: str = "",
    proxy_resource: str = "",
) -> HttpResult:
    """Sign and send one message; transport failures propagate (the engine maps 4002/4003)."""
    await check_url(node_url, ctx.settings)
    request_id = ocpi.request_id()
    payload = message.encode(
        req,
        request_id,
        query=query,
        body=body,
        signature=signature,
        proxy_uid=proxy_uid,
        proxy_resource=proxy_resource,
    )
    headers = [
        ("Content-Type", "application/json"),
        ("X-Request-ID", request_id),
        ("OCN-Signature", signing.node_sign(payload, ctx.settings.private_key_bytes)),
    ]
    timeout = ctx.settings.forward_timeout
    return await ctx.transport.request("POST", node_url + "/ocn/message", headers, payload, timeout)
