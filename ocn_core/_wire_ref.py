"""Pure twin of the per-hop wire assembly (the compiled ``_wire_cy`` behaves identically).

One forwarded request builds the receiver's headers and request bytes, then reads the receiver's
envelope status and builds the requester's headers; these run on every routed request.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from ocn_core.errors import BadResponse
from ocn_core.model import RouteRequest, RouteResponse
from ocn_core.transport import HttpResult

PASSED_HEADERS = ("x-total-count", "x-limit", "link", "location")
_LEADING_STATUS = re.compile(rb'^\s*\{\s*"status_code"\s*:\s*(-?\d{1,9})\s*[,}]')
# the envelope's last members: status_code[, status_message][, timestamp] and the closing brace
_TRAILING_STATUS = re.compile(
    rb'"status_code"\s*:\s*(-?\d{1,9})\s*'
    rb'(?:,\s*"status_message"\s*:\s*"(?:[^"\\]|\\.)*"\s*)?'
    rb'(?:,\s*"timestamp"\s*:\s*"[^"\\]*"\s*)?\}\s*$'
)
_TAIL = 512  # bytes searched for the trailing layout
_BLANK = (b" ", b"\t", b"\r", b"\n")
_VARIANT = "89ab"


def envelope_status(body: bytes) -> int:
    """The receiver's OCPI ``status_code`` (0 if absent); 3000 when the answer is not JSON.

    Fast paths: an envelope whose first or last members are its status fields (the two
    layouts parties use) is read without parsing the (large) ``data``; anything else is
    parsed in full.
    """
    found = _LEADING_STATUS.match(body)
    if found is not None and body.rstrip().endswith(b"}"):
        return int(found.group(1))
    at = body.rfind(b'"status_code"', max(0, len(body) - _TAIL))
    # a member of the top-level object: a ',' or '{' before it (an escaped quote has a
    # backslash there) and only the other status fields up to the closing brace
    if at > 0 and _last_byte(body, at) in (b",", b"{") and _first_byte(body) == b"{":
        found = _TRAILING_STATUS.match(body, at)
        if found is not None:
            return int(found.group(1))
    return parse_status(body)


def parse_status(body: bytes) -> int:
    """``status_code`` of a full parse of ``body`` (the slow path of :func:`envelope_status`)."""
    return status_of(parse_envelope(body))


def parse_envelope(body: bytes) -> Any:
    """The receiver's answer parsed in full (:class:`BadResponse` when it is not JSON)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadResponse(
            f"Could not parse JSON response of forwarded OCPI request: {exc}"
        ) from None


def status_of(envelope: Any) -> int:
    """The ``status_code`` of a parsed answer (0 if absent or not a number)."""
    status = envelope.get("status_code", 0) if isinstance(envelope, dict) else 0
    return status if isinstance(status, int) else 0


def _first_byte(body: bytes) -> bytes:
    """The first non-blank byte of ``body`` (b"" when there is none)."""
    first = body[:1]
    return first if first not in _BLANK else body.lstrip()[:1]


def _last_byte(body: bytes, end: int) -> bytes:
    """The last non-blank byte of ``body[:end]`` (b"" when there is none)."""
    last = body[end - 1 : end]
    return last if last not in _BLANK else body[:end].rstrip()[-1:]


def request_id_of(raw: bytes) -> str:
    """The UUID4 string (``X-Request-ID``) made of 16 random bytes ``raw``."""
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


POOL_BYTES = 4096  # random bytes read from the OS at once: 256 request ids per getrandom call


class RequestIds:
    """Random UUID4 strings from ``os.urandom`` read in blocks; :meth:`reset` (in a forked
    child) drops the block, so that processes never share ids."""

    def __init__(self) -> None:
        self.block, self.at = b"", 0

    def next(self) -> str:
        at = self.at
        if at >= len(self.block):
            self.block, at = os.urandom(POOL_BYTES), 0
        self.at = at + 16
        return request_id_of(self.block[at : at + 16])

    def reset(self) -> None:
        self.block, self.at = b"", 0


def outbound_headers(
    req: RouteRequest, auth: str, body: bytes, signature: str, request_id: str
) -> list[tuple[str, str]]:
    """The receiver's token B, ``request_id``, the same correlation id and parties."""
    frm, to = req.from_party, req.to_party
    headers = [
        ("Authorization", auth),
        ("X-Request-ID", request_id),
        ("X-Correlation-ID", req.correlation_id),
        ("OCPI-from-country-code", frm.country_code),
        ("OCPI-from-party-id", frm.party_id),
        ("OCPI-to-country-code", to.country_code),
        ("OCPI-to-party-id", to.party_id),
    ]
    if signature:
        headers.append(("OCN-Signature", signature))
    if body:
        headers.append(("Content-Type", req.content_type or "application/json"))
    return headers


def relay_response(
    req: RouteRequest, result: HttpResult, ocpi_status: int | None = None
) -> RouteResponse:
    """The requester's answer: the receiver's status and raw body, its envelope's status_code
    (``ocpi_status``, else read off the body), ids, TO = requester, FROM = receiver and the
    passed-on paging headers."""
    frm, to = req.from_party, req.to_party
    out = [
        ("Content-Type", "application/json"),
        ("X-Request-ID", req.request_id),
        ("X-Correlation-ID", req.correlation_id),
        ("OCPI-to-country-code", frm.country_code),
        ("OCPI-to-party-id", frm.party_id),
        ("OCPI-from-country-code", to.country_code),
        ("OCPI-from-party-id", to.party_id),
    ]
    for name, value in result.headers:
        if name.lower() in PASSED_HEADERS:
            out.append((name, value))
    if ocpi_status is None:
        ocpi_status = envelope_status(result.body)
    return RouteResponse(result.status, out, result.body, ocpi_status, "", req.call_id)


def target_url(base: str, suffix: str, query: str) -> str:
    """An endpoint URL, a path suffix with exactly one slash between them (OCPI 1.10; none when
    the suffix is empty) and ``?query`` when there is one."""
    target = base.rstrip("/") + "/" + suffix.lstrip("/") if suffix else base
    return target + "?" + query if query else target


def header_index(headers: Iterable[Sequence[str]], lower_name: str) -> int:
    """Index of the first header named ``lower_name`` (given in lower case), or -1."""
    size = len(lower_name)
    for i, (key, _) in enumerate(headers):
        if len(key) == size and key.lower() == lower_name:
            return i
    return -1


SPLITS_REQUEST = "a CR or LF in the request target, Host or a header value"


def response_bytes(
    head: str, headers: list[tuple[str, str]], body: bytes, keep_alive: bool
) -> bytes:
    """An HTTP/1.1 response: ``head`` (the status line), ``headers``, Content-Length, body."""
    lines = [head]
    lines += [f"{k}: {v}\r\n" for k, v in headers]
    lines.append(f"Content-Length: {len(body)}\r\n")
    if not keep_alive:
        lines.append("Connection: close\r\n")
    lines.append("\r\n")
    return "".join(lines).encode("latin-1") + body


def request_bytes(
    method: str, target: str, host: str, headers: list[tuple[str, str]], body: bytes
) -> bytes:
    """An HTTP/1.1 request: request line, Host, ``headers``, Content-Length when due, body.

    ValueError when the target, Host or a header value holds a CR or LF (it would split the
    request); UnicodeEncodeError (a ValueError too) when some text is not Latin-1.
    """
    probe = "".join([target, host, *[v for _, v in headers]])
    if "\r" in probe or "\n" in probe:
        raise ValueError(SPLITS_REQUEST)
    lines = [f"{method} {target} HTTP/1.1\r\nHost: {host}\r\n"]
    lines += [f"{k}: {v}\r\n" for k, v in headers]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}\r\n")
    lines.append("\r\n")
    return "".join(lines).encode("latin-1") + body
