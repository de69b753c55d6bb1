"""Reference fast check of a RouteRequest's text fields (the oracle of ``_boundary_cy``).

``fields_safe(...)`` takes the request's fields in the order of its signature (plain arguments
are cheaper than attribute reads from compiled code). True when every routed and header-bound
string is printable ASCII, the routed ones (suffix, query, module, version, proxy id) also
without space or backslash, the method is a known HTTP method and both enums are members.
Anything False gets the detailed (slow) diagnosis in :mod:`ocn_core.validation`.
"""

from __future__ import annotations

from ocn_core.model import InterfaceRole, RouteKind

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})


def fields_safe(
    suffix: str, query: str, module: str, version: str, proxy_id: str, auth: str,
    request_id: str, correlation_id: str, from_cc: str, from_pid: str, to_cc: str, to_pid: str,
    signature: str, content_type: str, method: str, kind: object, role: object,
) -> bool:  # fmt: skip
    route = "".join((suffix, query, module, version, proxy_id))
    text = "".join((route, auth, request_id, correlation_id, from_cc, from_pid, to_cc, to_pid,
                    signature, content_type))  # fmt: skip
    return (
        text.isascii()
        and text.isprintable()
        and " " not in route
        and "\\" not in route
        and method in METHODS
        and type(kind) is RouteKind  # an enum member is always a known value
        and type(role) is InterfaceRole
    )
