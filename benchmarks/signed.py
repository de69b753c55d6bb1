"""Signatures-on support for the HTTP hop: party keys, a signed request, the enforcement probe.

``ocn-node run --signatures`` is accepted by the CLI; whether the routing path enforces it is
probed at run time: an unsigned request that is routed with 200 means "not enforced yet".
"""

from __future__ import annotations

import secrets
from typing import Any

from benchmarks import node_proc


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


def probe(node_url: str, headers: dict[str, str], key: str) -> tuple[dict[str, str] | None, str]:
    """(headers to load with, "") when signed routing works, else (None, why it is skipped)."""
    status, body = node_proc.get_location(node_url, headers)
    if status == 200:
        return None, (
            "node started with --signatures routed an unsigned request (HTTP 200): "
            "signature verification is not enforced on the routing path yet"
        )
    try:
        signed = sign_headers(headers, key)
    except Exception as exc:  # the signing package may be mid-change; report, do not crash
        return None, f"could not sign the benchmark request: {exc!r}"
    status, body = node_proc.get_location(node_url, signed)
    if status != 200:
        return None, f"signed request refused: HTTP {status} {body[:200]!r}"
    return signed, ""
