"""Signatures-on support for the HTTP hop: party keys, a signed request, the enforcement probe.

``ocn-node run --signatures`` is accepted by the CLI; whether the routing path enforces it is
probed at run time: an unsigned request that is routed with 200 means "not enforced yet".
"""

from __future__ import annotations

import secrets
from typing import Any

import orjson

from benchmarks import node_proc, payloads


def party_keys() -> tuple[dict[str, str], dict[str, str]]:
    """Fresh throw-away keys per role and their checksummed addresses (for the registry)."""
    from ocn_core.signing import address_of

    keys = {role: secrets.token_hex(32) for role in ("CPO", "EMSP")}
    return keys, {role: str(address_of(key)) for role, key in keys.items()}


def sign_headers(headers: dict[str, str], key: str) -> dict[str, str]:
    """``headers`` plus an OCN-Signature over them (a GET: no params, no body)."""
    from ocn_core.signing import request_values, sign

    lower = {k.lower(): v for k, v in headers.items()}
    notary: Any = sign(request_values(lower, None, None), key)
    return {**headers, "OCN-Signature": str(notary.serialize())}


def signed_location_response(key: str) -> bytes:
    """The upstream's Location answer with the receiver's ``ocn_signature`` in the body."""
    from ocn_core.signing import response_values, sign

    body = payloads.envelope(payloads.LOCATION)
    notary: Any = sign(response_values({}, body), key)
    return orjson.dumps({**body, "ocn_signature": str(notary.serialize())})


def verify_request(headers: dict[str, str]) -> None:
    """The node's request check: the OCN-Signature over the request's values (lower-case
    ``headers``; a GET: no params, no body). Raises when it does not verify."""
    from ocn_core.signing import Notary, request_values

    Notary.deserialize(headers["ocn-signature"]).verify(request_values(headers, None, None))


def verify_response(body: bytes) -> None:
    """The node's response check: parse the relayed body, then verify its ``ocn_signature``."""
    from ocn_core.signing import Notary, response_values

    envelope = orjson.loads(body)
    Notary.deserialize(envelope["ocn_signature"]).verify(response_values({}, envelope))


def _routed(status: int, body: bytes) -> bool:
    try:
        return status == 200 and orjson.loads(body).get("status_code") == 1000
    except (orjson.JSONDecodeError, AttributeError):
        return False


def probe(node_url: str, headers: dict[str, str], key: str) -> tuple[dict[str, str] | None, str]:
    """(headers to load with, "") when signed routing works, else (None, why it is skipped)."""
    status, body = node_proc.get_location(node_url, headers)
    if _routed(status, body):
        return None, (
            "node started with --signatures routed an unsigned request (HTTP 200): "
            "signature verification is not enforced on the routing path yet"
        )
    try:
        signed = sign_headers(headers, key)
    except Exception as exc:  # the signing package may be mid-change; report, do not crash
        return None, f"could not sign the benchmark request: {exc!r}"
    status, body = node_proc.get_location(node_url, signed)
    if not _routed(status, body):
        return None, f"signed request refused: HTTP {status} {body[:200]!r}"
    return signed, ""
