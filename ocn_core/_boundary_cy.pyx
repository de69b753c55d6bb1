# cython: language_level=3, boundscheck=False, wraparound=False
"""Compiled fast check of a RouteRequest's text fields; behaviour identical to
``_boundary_ref`` (differential tests check it): one pass over each string, no joins."""

from ocn_core._boundary_ref import METHODS
from ocn_core.model import InterfaceRole, RouteKind

cdef frozenset _METHODS = METHODS
cdef object _KIND = RouteKind
cdef object _ROLE = InterfaceRole


cdef inline bint _text(str s):
    """Printable ASCII only (space allowed)."""
    cdef Py_UCS4 c
    for c in s:
        if c < 32 or c > 126:
            return False
    return True


cdef inline bint _routed(str s):
    """Printable ASCII without space or backslash."""
    cdef Py_UCS4 c
    for c in s:
        if c <= 32 or c > 126 or c == 92:
            return False
    return True


def fields_safe(str suffix, str query, str module, str version, str proxy_id, str auth,
                str request_id, str correlation_id, str from_cc, str from_pid, str to_cc,
                str to_pid, str signature, str content_type, str method, object kind,
                object role):
    return (
        _routed(suffix)
        and _routed(query)
        and _routed(module)
        and _routed(version)
        and _routed(proxy_id)
        and _text(auth)
        and _text(request_id)
        and _text(correlation_id)
        and _text(from_cc)
        and _text(from_pid)
        and _text(to_cc)
        and _text(to_pid)
        and _text(signature)
        and _text(content_type)
        and method in _METHODS
        and type(kind) is _KIND
        and type(role) is _ROLE
    )
