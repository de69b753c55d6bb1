"""The routed hop between parties on different OCPI versions: where the bridge is applied.

:mod:`ocn_core.hub.forward` calls in here only when the sending and receiving platforms
registered with different versions (a string comparison on the route facts it already holds);
same-version traffic never reaches this module. The request body is translated to the
receiver's version before it leaves, the answer back to the sender's after the receiver's
signature was checked.

Signatures: the OCN Notary's rewrites restore *values* at the signed paths, verified over the
current field list, so they cannot carry a structural change (``excl_vat`` → ``before_taxes``).
After the sender's (or receiver's) signature was verified here, a translated message is signed
anew with the node key (the node is the operator of its parties in the registry, so
signatory checks accept it); the original signature is not forwarded (a recorded loss).
"""

from __future__ import annotations

from typing import Any

import orjson

from ocn_core import bridge, signing
from ocn_core.hub import signatures
from ocn_core.hub.context import NodeContext
from ocn_core.model import PartyRef, RouteRequest, RouteResponse

MODULES = bridge.MODULES


def needed(module: str, sender_version: str, receiver_version: str) -> bool:
    """Whether ``module`` messages between these two versions need translating."""
    return bridge.needed(module, sender_version, receiver_version)


def platform_versions(ctx: NodeContext, sender: str, receiver: str) -> tuple[str, str]:
    """The OCPI versions ``sender`` and ``receiver`` registered with ('' when unknown)."""
    first, second = ctx.platforms.ocpi_versions(sender, receiver)
    return first, second


def remote_pair(ctx: NodeContext, req: RouteRequest, towards: PartyRef) -> tuple[str, str]:
    """("", version of the local party ``towards``) for a bridged module, else ("", "").

    A message to or from another node's party: that party's version is not known here, so the
    message is translated towards the local party's version by shape (:func:`bridge.needed`).
    """
    if req.module not in MODULES:
        return "", ""
    found = ctx.platforms.platform_id_by_role(towards.country_code, towards.party_id)
    return "", ctx.platforms.ocpi_versions(found)[0] if found is not None else ""


def from_remote(ctx: NodeContext, req: RouteRequest, resp: RouteResponse) -> RouteResponse:
    """An answer from another node's party, in the local sender's version (by shape)."""
    _, version = remote_pair(ctx, req, req.from_party)
    if version and bridge.needed(req.module, "", version):
        return response(ctx, req, resp, "", version)
    return resp


def request(
    ctx: NodeContext, req: RouteRequest, notary: Any, source: str, target: str
) -> tuple[bytes, str]:
    """The body for the receiver and the signature to send with it."""
    body = bridge.request_body(req.module, req.body, source, target)
    signature = req.ocn_signature
    if notary is not None and body is not req.body:  # verified already: sign the translation
        values = signatures.request_values(req, req.query, body)
        signature = signing.sign(values, ctx.settings.private_key_bytes).serialize()
        direction = f"{source or bridge.REMOTE}>{target}"
        bridge.note_loss(req.module, "request", direction, "sender's OCN-Signature")
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
        envelope = orjson.loads(resp.body)
        if envelope.pop("ocn_signature", None) is not None:
            direction = f"{source or bridge.REMOTE}>{target}"
            bridge.note_loss(req.module, "response", direction, "receiver's OCN-Signature")
        headers = {k.lower(): v for k, v in resp.headers}
        values = signing.response_values(headers, envelope)
        notary = signing.sign(values, ctx.settings.private_key_bytes)
        envelope["ocn_signature"] = notary.serialize()
        resp.body = orjson.dumps(envelope)
    return resp
