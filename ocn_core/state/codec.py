"""Byte layout of the node state in LMDB (schema v1). The only module that knows key formats.

Named databases::

    state.platforms   b"v1:" + platform_id           -> JSON Platform record
    state.tokens      b"v1:C:" + sha256(token C)     -> platform_id
                      b"v1:A:" + sha256(token A)     -> JSON RegistrationGrant
    state.roles       b"v1:" + COUNTRYPARTY (upper)  -> platform_id
    state.endpoints   b"v1:" + pid + 0 + module + 0 + SENDER|RECEIVER -> url
    state.auth        b"v1:" + platform_id           -> Authorization header value to send (token B)
    state.versions    b"v1:" + platform_id           -> the platform's OCPI version (e.g. b"2.3.0")
    state.rules       b"v1:" + platform_id           -> JSON OcnRules (ocn_core.state.rules)

Credentials tokens A and C are stored only as SHA-256 digests.
"""

from __future__ import annotations

import hashlib

PREFIX = b"v1:"


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_key(kind: str, token: str) -> bytes:
    return digest_key(kind, token_digest(token))


def digest_key(kind: str, digest: str) -> bytes:
    return PREFIX + kind.encode() + b":" + bytes.fromhex(digest)


def platform_key(platform_id: str) -> bytes:
    return PREFIX + platform_id.encode()


def role_key(country_code: str, party_id: str) -> bytes:
    return party_key(country_code + party_id)


def party_key(ccpid: str) -> bytes:
    """``state.roles`` key of a ``CCPID`` string (upper-cased)."""
    return PREFIX + ccpid.upper().encode()


def endpoint_key(platform_id: str, module: str, interface: str) -> bytes:
    return PREFIX + b"\0".join((platform_id.encode(), module.encode(), interface.encode()))


def endpoint_prefix(platform_id: str) -> bytes:
    return PREFIX + platform_id.encode() + b"\0"


def proxy_key(proxy_id: str) -> bytes:
    """``state.proxy``: b"v1:" + id -> JSON {url, sender, receiver, expires_at}."""
    return PREFIX + proxy_id.encode()


def proxy_expiry_key(expires_at: float, proxy_id: str) -> bytes:
    """``state.proxy_expiry``: b"v1:" + big-endian ms + id -> b"" (ordered for cleanup)."""
    return PREFIX + int(expires_at * 1000).to_bytes(8, "big") + proxy_id.encode()


def proxy_id_of_expiry_key(key: bytes) -> str:
    return key[len(PREFIX) + 8 :].decode()
