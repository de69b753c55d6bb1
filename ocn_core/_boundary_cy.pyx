# cython: language_level=3, boundscheck=False, wraparound=False
"""Compiled fast check of a RouteRequest's text fields; behaviour identical to
``_boundary_ref`` (differential tests check it): one pass over each string, no joins."""

from ocn_core._boundary_ref import METHODS
from ocn_core.model import InterfaceRole, RouteKind

cdef frozenset _METHODS = METHODS
cdef object _KIND = RouteKind
cdef object _ROLE = InterfaceRole


cdef extern from "Python.h":
    bint PyUnicode_IS_ASCII(object s)
    const unsigned char *PyUnicode_1BYTE_DATA(object s)
    Py_ssize_t PyUnicode_GET_LENGTH(object s)


cdef inline bint _text(str s):
    """Printable ASCII only (space allowed): one branch-free pass over the ASCII bytes."""
    if not PyUnicode_IS_ASCII(s):
        return False
    cdef const unsigned char *d = PyUnicode_1BYTE_DATA(s)
    cdef Py_ssize_t i, n = PyUnicode_GET_LENGTH(s)
    cdef unsigned char bad = 0
    for i in range(n):
        bad |= (d[i] < 32) | (d[i] == 127)
    return not bad


cdef inline bint _routed(str s):
    """Printable ASCII without space or backslash."""
    if not PyUnicode_IS_ASCII(s):
        return False
    cdef const unsigned char *d = PyUnicode_1BYTE_DATA(s)
    cdef Py_ssize_t i, n = PyUnicode_GET_LENGTH(s)
    cdef unsigned char bad = 0
    for i in range(n):
        bad |= (d[i] <= 32) | (d[i] == 127) | (d[i] == 92)
    return not bad


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
