# cython: language_level=3, boundscheck=False, wraparound=False
"""Compiled URL matcher; behaviour identical to ``_match_ref`` (differential tests check it).

Reads the same derived route table (:data:`ocn_core.routing.table.SHAPES`) at import time.
"""

from ocn_core._route_kind import RouteKind
from ocn_core.routing.table import SHAPES

cdef dict _SHAPES = SHAPES
cdef int K_VERSIONS = RouteKind.VERSIONS
cdef int K_DETAILS = RouteKind.VERSION_DETAILS
cdef int K_MODULE = RouteKind.MODULE
cdef int K_PAGE = RouteKind.PAGE
cdef int K_PROXIED = RouteKind.PROXIED
cdef int K_CUSTOM = RouteKind.CUSTOM
cdef tuple _NONE = ()


cdef int _role(str name):
    if name == "sender":
        return 1
    if name == "receiver":
        return 2
    return 0


cpdef object match(str method, str path):
    cdef list parts = path.strip("/").split("/")
    cdef Py_ssize_t n = len(parts)
    cdef str head
    cdef int role
    cdef object shapes
    if n < 2 or parts[0] != "ocpi" or "" in parts:
        return None
    head = parts[1]
    if head == "versions":
        return (K_VERSIONS, "versions", 0, "", "", "") if n == 2 else None
    shapes = _SHAPES.get(head)
    if shapes is not None:
        if n == 2:
            return (K_DETAILS, "versions", 0, head, "", "")
        if n == 3:
            node = shapes.node.get(parts[2])
            if node is not None:
                return (node[0], node[1], node[2], head, "", "")
        role = _role(parts[2])
        if n >= 4 and role:
            return _module(method, role, head, shapes, parts[3], parts, 4)
        return None
    if head == "custom":
        if n >= 4:
            role = _role(parts[2])
            if role:
                return (K_CUSTOM, parts[3], role, "", "/".join(parts[4:]), "")
        return None
    role = _role(head)
    if role and n >= 4:
        shapes = _SHAPES.get(parts[2])
        if shapes is not None:
            return _module(method, role, parts[2], shapes, parts[3], parts, 4)
    return None


cdef object _module(
    str method, int role, str version, object shapes, str module, list parts, Py_ssize_t start
):
    cdef Py_ssize_t rest = len(parts) - start
    cdef str first
    cdef dict proxied
    cdef tuple items
    if module not in shapes.modules:
        served = shapes.served[role].get(module)
        return (served, module, role, version, "/".join(parts[start:]), "") if served else None
    if rest == 2:
        first = parts[start]
        if first == "page" and method == "GET" and module in shapes.paged:
            return (K_PAGE, module, role, version, "", parts[start + 1])
        proxied = shapes.proxied[role]
        if first in proxied.get(module, _NONE):
            return (K_PROXIED, module, role, version, first, parts[start + 1])
    elif rest == 1 and method == "GET":
        items = shapes.items
        if module in items[role]:
            return (K_PROXIED, module, role, version, "", parts[start])
    return (K_MODULE, module, role, version, "/".join(parts[start:]), "")
