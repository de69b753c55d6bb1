"""OCPI wire helpers: envelopes, timestamps, credentials tokens, party ids, query strings."""

from __future__ import annotations

import base64
import binascii
import math
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson

from ocn_core import wire
from ocn_core.errors import InvalidRequest, MalformedJson
from ocn_core.timefmt import utc_second


def request_id() -> str:
    """A random UUID4 string (``X-Request-ID``), ~3x cheaper than ``str(uuid.uuid4())``."""
    return wire.request_id()


def timestamp(now: float | None = None) -> str:
    """OCPI DateTime in UTC with milliseconds, e.g. ``2020-03-02T12:48:33.005Z``."""
    t = time.time() if now is None else now
    second = math.floor(t)
    return f"{utc_second(second)}.{int((t - second) * 1000):03d}Z"


def envelope(status_code: int, data: Any = None, message: str | None = None) -> dict[str, Any]:
    """The OCPI response envelope; ``data``/``status_message`` omitted when None."""
    body: dict[str, Any] = {"status_code": status_code}
    if message is not None:
        body["status_message"] = message
    if data is not None:
        body["data"] = data
    body["timestamp"] = timestamp()
    return body


def dumps(value: Any) -> bytes:
    return orjson.dumps(value)


def loads(raw: bytes | str, what: str = "request body") -> Any:
    """Parse JSON or raise :class:`MalformedJson` naming ``what``."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MalformedJson(f"Could not parse JSON {what}: {exc}") from None


def token_from_header(authorization: str) -> str:
    """The credentials token of an ``Authorization: Token <value>`` header (raw, not decoded)."""
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "token" or not value.strip():
        return ""
    return value.strip()


def token_candidates(value: str) -> tuple[str, ...]:
    """The Base64-decoded token first (OCPI 2.2.1), then the raw value (2.2 / 2.1.1 peers)."""
    if not value:
        return ()
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return (value,)
    if decoded and decoded.isprintable() and " " not in decoded and decoded != value:
        return (decoded, value)
    return (value,)


def authorization_header(token: str, base64_encode: bool) -> str:
    """``Token <token>``, Base64-encoded (OCPI 2.2.1) or raw, per the peer's setting."""
    if base64_encode:
        return "Token " + base64.b64encode(token.encode()).decode()
    return "Token " + token


def check_party(country_code: str, party_id: str) -> None:
    """OCPI CiString(2)/CiString(3) rule for the routing headers (HTTP 400 / OCPI 2001)."""
    if len(country_code) != 2 or not country_code.isascii() or not country_code.isalnum():
        raise InvalidRequest(f'Given country_code "{country_code}" not 2 characters')
    if len(party_id) != 3 or not party_id.isascii() or not party_id.isalnum():
        raise InvalidRequest(f'Given party_id "{party_id}" not 3 characters')


def parse_query(query: str) -> list[tuple[str, str]]:
    return parse_qsl(query, keep_blank_values=True)


def build_query(pairs: list[tuple[str, str]]) -> str:
    return urlencode(pairs)


def join_url(base: str, suffix: str) -> str:
    """Join an endpoint URL and a suffix with exactly one slash (OCPI 1.10)."""
    return wire.target_url(base, suffix, "")
