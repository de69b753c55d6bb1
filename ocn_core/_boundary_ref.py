"""Reference twin of ``_boundary_cy`` (its oracle): the HTTP edge's RouteRequest and the fast
screen of any edge's request.

``request_from_http`` maps a matched OCPI URL and the request's lower-case header dict onto a
RouteRequest (the HTTP edge's half of the core boundary). ``screen`` sorts a request into
``REFUSED`` (a text field is unsafe: a control, non-ASCII, space or backslash where routed; an
unknown method or enum), ``CLEAR`` (nothing more to look at: no ``.`` or ``%`` in the suffix, no
``%`` in the query, no body) or ``SAFE`` (fields fine, the rest to check). Refusals get the
detailed (slow) diagnosis in :mod:`ocn_core.validation`.
"""

from __future__ import annotations

from ocn_core.model import KINDS_BY_VALUE, InterfaceRole, PartyRef, RouteKind, RouteRequest

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
REFUSED, SAFE, CLEAR = 0, 1, 2
ROLES = tuple(InterfaceRole)  # by value


def request_from_http(
    found: tuple[int, str, int, str, str, str],
    method: str,
    query: str,
    headers: dict[str, str],
    body: bytes,
) -> RouteRequest:
    """``found`` is the URL matcher's (kind, module, interface, version, suffix, proxy id)."""
    h = headers
    kind, module, interface, version, suffix, proxy_id = found
    fcc, fpid = h.get("ocpi-from-country-code"), h.get("ocpi-from-party-id")
    tcc, tpid = h.get("ocpi-to-country-code"), h.get("ocpi-to-party-id")
    # positional, in field order (a test checks it): keywords cost twice as much per request
    return RouteRequest(
        KINDS_BY_VALUE[kind],
        module,
        ROLES[interface],
        method,
        version,
        suffix,
        query,
        h.get("authorization", ""),
        h.get("x-request-id", ""),
        h.get("x-correlation-id", ""),
        PartyRef(fcc or "", fpid or ""),
        PartyRef(tcc or "", tpid or ""),
        h.get("ocn-signature", ""),
        body,
        h.get("content-type", ""),
        proxy_id,
        0,  # call_id
        fcc is not None and fpid is not None,
        tcc is not None and tpid is not None,
    )


def screen(req: RouteRequest) -> int:
    """REFUSED, SAFE or CLEAR (see the module docstring)."""
    frm, to = req.from_party, req.to_party
    suffix, query = req.path_suffix, req.query
    route = "".join((suffix, query, req.module, req.ocpi_version, req.proxy_id))
    text = "".join((route, req.authorization, req.request_id, req.correlation_id,
                    frm.country_code, frm.party_id, to.country_code, to.party_id,
                    req.ocn_signature, req.content_type))  # fmt: skip
    if not (
        text.isascii()
        and text.isprintable()
        and " " not in route
        and "\\" not in route
        and req.method in METHODS
        and type(req.kind) is RouteKind  # an enum member is always a known value
        and type(req.interface_role) is InterfaceRole
    ):
        return REFUSED
    if "." in suffix or "%" in suffix or "%" in query or req.body:
        return SAFE
    return CLEAR
