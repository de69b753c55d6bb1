"""The routed hop between parties on different OCPI versions: where the bridge is applied.

:mod:`ocn_core.hub.forward` calls in here only when the sending and receiving platforms
registered with different versions (a string comparison on the route facts it already holds);
same-version traffic never reaches this module. The request body is translated to the
receiver's version before it leaves, the answer back to the sender's after the receiver's
signature was checked. On a signing node a translated message is re-signed with the node key,
the original value stashed (ocn-node.md §4 rewrites).
"""

from __future__ import annotations

from typing import Any

import orjson

from ocn_core import bridge
from ocn_core.hub import signatures
from ocn_core.hub.context import NodeContext
from ocn_core.model import RouteRequest, RouteResponse

MODULES = bridge.MODULES


def needed(module: str, sender_version: str, receiver_version: str) -> bool:
    """Whether ``module`` messages between these two versions need translating."""
    return bridge.needed(module, sender_version, receiver_version)


def platform_versions(ctx: NodeContext, sender: str, receiver: str) -> tuple[str, str]:
    """The OCPI versions ``sender`` and ``receiver`` registered with ('' when unknown)."""
    found = [ctx.platforms.platform(pid) for pid in (sender, receiver)]
    return (found[0].ocpi_version if found[0] else "", found[1].ocpi_version if found[1] else "")


def request(
    ctx: NodeContext, req: RouteRequest, notary: Any, source: str, target: str
) -> tuple[bytes, str]:
    """The body for the receiver and the signature to send with it."""
    body = bridge.request_body(req.module, req.body, source, target)
    signature = req.ocn_signature
    if notary is not None and body is not req.body:
        stash = {"$['body']": orjson.loads(req.body)}
        signature = signatures.resign_request(ctx, req, notary, req.query, body, stash)
    return body, signature


def response(
    ctx: NodeContext, req: RouteRequest, resp: RouteResponse, source: str, target: str
) -> RouteResponse:
    """``resp`` (from the receiver, on ``source``) with its data in the sender's ``target``."""
    if resp.ocpi_status != 1000 or not resp.body:
        return resp
    original = resp.body
    resp.body = bridge.response_body(req.module, original, source, target)
    if resp.body is not original and signatures.active(ctx, req):
        old = orjson.loads(original).get("data")
        signatures.resign_response(ctx, resp, {"$['body']['data']": old})
    return resp
