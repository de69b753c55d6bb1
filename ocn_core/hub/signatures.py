"""The hub's OCN-Signature policy (ocn-node.md §4): verify, re-sign after rewrites, sign errors.

Signing is active for a request when the node requires it (``Settings.signatures``) or the request
carries an ``OCN-Signature``. Then the request signature must verify and be signed by the sender's
registry address or its operator; a receiver's ``ocn_signature`` is verified when present (and
required when the node requires signatures); values the node rewrites are stashed and re-signed
with the node key; the node's own error envelopes are signed.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from ocn_core import ocpi, signing, telemetry
from ocn_core.errors import BadResponse, MalformedJson, OcnError, SignatureError
from ocn_core.hub.context import NodeContext
from ocn_core.model import PartyRef, RouteKind, RouteRequest, RouteResponse
from ocn_core.registry.types import Party

_SIGNED_RESPONSE_HEADERS = frozenset(signing.RESPONSE_HEADERS)
_OCN_SIGNATURE = re.compile(rb'"ocn_signature"\s*:\s*("(?:[^"\\]|\\.)*")')


def active(ctx: NodeContext, req: RouteRequest) -> bool:
    return ctx.settings.signatures or bool(req.ocn_signature)


def request_values(req: RouteRequest, query: str, body: bytes) -> dict[str, Any]:
    headers = {"x-correlation-id": req.correlation_id}
    if req.has_from:
        headers["ocpi-from-country-code"] = req.from_party.country_code
        headers["ocpi-from-party-id"] = req.from_party.party_id
    if req.has_to:
        headers["ocpi-to-country-code"] = req.to_party.country_code
        headers["ocpi-to-party-id"] = req.to_party.party_id
    params = dict(ocpi.parse_query(query)) if query else None
    values: dict[str, Any] = signing.request_values(headers, params, _body_value(req, body))
    return values


def _body_value(req: RouteRequest, body: bytes) -> Any:
    if not body:
        return None
    try:
        return signing.parse_json(body)
    except MalformedJson:
        if req.kind == RouteKind.CUSTOM:  # custom modules carry any text
            return body.decode("utf-8", "replace")
        raise


def verify_request(ctx: NodeContext, req: RouteRequest, required: bool = False) -> Any | None:
    """The verified request Notary, or None when signing is not active.

    ``required``: the receiving platform's OcnRules ask for signatures (added to the node's
    own setting).
    """
    if not (required or active(ctx, req)):
        return None
    try:
        if not req.ocn_signature:
            raise SignatureError("Missing OCN Signature")
        notary = signing.Notary.deserialize(req.ocn_signature)
        notary.verify(request_values(req, req.query, req.body))
        _check_signatory(ctx, req.from_party, notary.signatory)
    except OcnError:
        telemetry.count("signature_verifications", "request", "failed")
        raise
    telemetry.count("signature_verifications", "request", "ok")
    return notary


def resign_request(
    ctx: NodeContext, req: RouteRequest, notary: Any, query: str, body: bytes, stash: dict[str, Any]
) -> str:
    """Stash the values the node changed and sign the new request with the node key."""
    notary.stash(stash)
    notary.sign(request_values(req, query, body), ctx.settings.private_key_bytes)
    return str(notary.serialize())


def verify_response(ctx: NodeContext, req: RouteRequest, resp: RouteResponse, body: Any) -> None:
    """Check the receiver's ``ocn_signature`` (present, or required by the node); ``body`` is
    ``resp.body`` parsed."""
    try:
        header = body.get("ocn_signature") if isinstance(body, dict) else None
        if not header:
            if ctx.settings.signatures:
                raise SignatureError("Missing OCN-Signature")
            return
        notary = signing.Notary.deserialize(header)
        notary.verify(signing.response_values(_signed_headers(resp.headers), body))
        _check_signatory(ctx, req.to_party, notary.signatory)
    except SignatureError as exc:
        telemetry.count("signature_verifications", "response", "failed")
        raise BadResponse(f"Unable to verify response signature: {exc.message}") from None
    telemetry.count("signature_verifications", "response", "ok")


def resign_response(ctx: NodeContext, resp: RouteResponse, stash: dict[str, Any]) -> None:
    """After a header rewrite (Link, Location): re-sign a signed response with the node key."""
    found = _OCN_SIGNATURE.search(resp.body)
    if found is None:
        return
    body = orjson.loads(resp.body)
    notary = signing.Notary.deserialize(orjson.loads(found.group(1)))
    notary.stash(stash)
    notary.sign(
        signing.response_values(_signed_headers(resp.headers), body), ctx.settings.private_key_bytes
    )
    start, end = found.span(1)
    resp.body = resp.body[:start] + orjson.dumps(notary.serialize()) + resp.body[end:]


def sign_envelope(ctx: NodeContext, envelope: dict[str, Any]) -> dict[str, Any]:
    """The node's own envelope with an ``ocn_signature`` over ``{body}``."""
    notary = signing.sign(signing.response_values({}, envelope), ctx.settings.private_key_bytes)
    return {**envelope, "ocn_signature": notary.serialize()}


def _check_signatory(ctx: NodeContext, party: PartyRef, signatory: str) -> None:
    listing = ctx.registry.party(party.country_code, party.party_id)
    if listing is None or not signatory or not _same_address(signatory, listing):
        address = listing.address if listing else "unknown"
        operator = listing.operator if listing else "unknown"
        raise SignatureError(
            f"Actual signatory {signatory} differs from expected signatory {address} (party) "
            f"or {operator} (operator)"
        )


def _same_address(signatory: str, listing: Party) -> bool:
    """``signatory`` is the listing's address or its operator (checksummed as the registry
    keeps them, or in any case)."""
    if signatory in (listing.address, listing.operator):
        return True
    signer = signatory.lower()
    return signer in (listing.address.lower(), listing.operator.lower())


def _signed_headers(headers: list[tuple[str, str]]) -> dict[str, str]:
    """The response headers a signature covers, by lower-case name (the last one counts)."""
    found = {}
    for name, value in headers:
        lower = name.lower()
        if lower in _SIGNED_RESPONSE_HEADERS:
            found[lower] = value
    return found
