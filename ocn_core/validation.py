"""The core's boundary: what any edge (HTTP, gRPC, embedded, /ocn/message) hands the engine.

Every string that ends up in an outbound request line or header must be printable ASCII; path
suffixes may not climb (``..``, ``%2e%2e``), hide separators (``%2f``, ``\\``) or carry encoded
controls; enum fields must hold known values; bodies of JSON modules must parse. The common,
valid request costs one compiled pass over its strings (``_boundary_cy``; ``_boundary_ref`` is
the pure twin); only suspicious input (a ``.`` or ``%`` in the suffix, a ``%`` in the query) and
bodies take the detailed path.

``request_from_http`` is the HTTP edge's RouteRequest (from the URL match and the header dict).
"""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING
from urllib.parse import unquote

import orjson

from ocn_core import _boundary_ref, _ext
from ocn_core.errors import RefusedInput
from ocn_core.model import InterfaceRole, PartyRef, RouteKind, RouteRequest

if TYPE_CHECKING:  # checkers see the reference twin's signatures; runtime picks a twin
    from ocn_core._boundary_ref import request_from_http, screen
else:
    _impl = _ext.load("boundary", "ocn_core._boundary_cy", _boundary_ref)
    screen = _impl.screen
    request_from_http = _impl.request_from_http
_CLEAR, _REFUSED = _boundary_ref.CLEAR, _boundary_ref.REFUSED
_METHODS = _boundary_ref.METHODS
_JSON_KINDS = (RouteKind.MODULE, RouteKind.PAGE, RouteKind.PROXIED)
_ENCODED_CONTROL = re.compile(r"%(?:[01][0-9a-fA-F]|7[fF])")


def check_request(req: RouteRequest) -> None:
    """Raise :class:`RefusedInput` (HTTP 400 / OCPI 2001) unless ``req`` is safe to route."""
    verdict = screen(req)
    if verdict == _CLEAR:  # the common GET: no dots, no escapes, no body
        return
    if verdict == _REFUSED:
        _refuse(req, _why(req))
    suffix, query = req.path_suffix, req.query
    if ("." in suffix or "%" in suffix) and (why := _path_problem(suffix)):
        _refuse(req, why)
    if "%" in query and _ENCODED_CONTROL.search(query):
        _refuse(req, "Query contains an encoded control character")
    if req.body and req.kind in _JSON_KINDS:
        try:
            orjson.loads(req.body)
        except orjson.JSONDecodeError as exc:
            _refuse(req, f"Could not parse JSON request body: {exc}")


def _path_problem(suffix: str) -> str:
    """Why a suffix with a ``.`` or ``%`` is refused ("" when it is fine)."""
    if _ENCODED_CONTROL.search(suffix):
        return "Path contains an encoded control character"
    for segment in suffix.split("/"):
        plain = unquote(segment) if "%" in segment else segment
        if plain in (".", ".."):
            return "Path contains a dot segment"
        if "/" in plain or "\\" in plain:
            return "Path contains an encoded separator"
    return ""


def _unsafe(value: str) -> bool:
    return not (value.isascii() and value.isprintable())  # the detailed (slow) path only


def _why(req: RouteRequest) -> str:
    """The first offending field of a request that failed the combined check."""
    if type(req.kind) is not RouteKind:
        return f"Unknown route kind {req.kind!r}"
    if type(req.interface_role) is not InterfaceRole:
        return f"Unknown interface role {req.interface_role!r}"
    if req.method not in _METHODS:
        return "Unsupported or malformed HTTP method"
    for name in ("path_suffix", "query", "module", "ocpi_version", "proxy_id"):
        value = getattr(req, name)
        if _unsafe(value) or " " in value or "\\" in value:
            return f"Field {name} contains a control, space, backslash or non-ASCII character"
    for name, value in _header_fields(req):
        if _unsafe(value):
            return f"Header {name} contains a control or non-ASCII character"
    raise AssertionError("check_request refused a request _why finds nothing wrong with")


def _header_fields(req: RouteRequest) -> tuple[tuple[str, str], ...]:
    frm, to = req.from_party, req.to_party
    return (
        ("Authorization", req.authorization),
        ("X-Request-ID", req.request_id),
        ("X-Correlation-ID", req.correlation_id),
        ("OCPI-from-country-code", frm.country_code),
        ("OCPI-from-party-id", frm.party_id),
        ("OCPI-to-country-code", to.country_code),
        ("OCPI-to-party-id", to.party_id),
        ("OCN-Signature", req.ocn_signature),
        ("Content-Type", req.content_type),
    )


def _refuse(req: RouteRequest, why: str) -> None:
    """Raise with a copy of ``req`` whose unsafe header-bound fields are blanked (the answer
    echoes ids and parties; an unsafe one must not reach a response header or a log line)."""
    frm, to = req.from_party, req.to_party
    safe_from = not (_unsafe(frm.country_code) or _unsafe(frm.party_id))
    safe_to = not (_unsafe(to.country_code) or _unsafe(to.party_id))
    clean = dataclasses.replace(
        req,
        kind=req.kind if type(req.kind) is RouteKind else RouteKind.UNSPECIFIED,
        interface_role=(
            req.interface_role if type(req.interface_role) is InterfaceRole else InterfaceRole(0)
        ),
        request_id="" if _unsafe(req.request_id) else req.request_id,
        correlation_id="" if _unsafe(req.correlation_id) else req.correlation_id,
        authorization="" if _unsafe(req.authorization) else req.authorization,
        ocn_signature="",
        from_party=frm if safe_from else PartyRef(),
        to_party=to if safe_to else PartyRef(),
        has_from=req.has_from and safe_from,
        has_to=req.has_to and safe_to,
    )
    raise RefusedInput(why, clean)


__all__ = ["check_request", "request_from_http", "screen"]
