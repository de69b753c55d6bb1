# cython: language_level=3, boundscheck=False, wraparound=False
"""Compiled URL matcher; behaviour identical to ``_match_ref`` (differential tests check it).

Reads the same derived route table (:data:`ocn_core.routing.table.SHAPES`) at import time. The
common shape, ``/ocpi/{sender|receiver}/{v}/{module}/…`` of a forwarded module, is read in one
pass over an ASCII path without splitting it, and answers with the table's own version and
module strings (their hashes are cached); every other path takes the general split below.
"""

from libc.string cimport memchr, memcmp

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


cdef extern from "Python.h":
    bint PyUnicode_IS_ASCII(object s)
    const char *PyUnicode_1BYTE_DATA(object s)
    Py_ssize_t PyUnicode_GET_LENGTH(object s)
    str PyUnicode_Substring(object s, Py_ssize_t start, Py_ssize_t end)

# (version, its shapes, its modules) of the table, for the one-pass reading
cdef tuple _VERSIONS = tuple((v, shapes, tuple(sorted(shapes.modules))) for v, shapes in SHAPES.items())


cdef inline bint _is(const char *d, Py_ssize_t n, str word) noexcept:
    """The ASCII bytes ``d[:n]`` spell ``word`` (an ASCII table string)."""
    return n == PyUnicode_GET_LENGTH(word) and memcmp(d, PyUnicode_1BYTE_DATA(word), n) == 0


cdef object _forwarded(str method, str path):
    """The match of a plain forwarded-module path, or None: not that shape, or a shape whose
    answer needs the table's further rows (the general path decides)."""
    cdef const char *d = PyUnicode_1BYTE_DATA(path)
    cdef Py_ssize_t i = 0, end = PyUnicode_GET_LENGTH(path), at, count
    cdef int role
    cdef const char *slash
    cdef tuple entry
    while i < end and d[i] == 47:  # path.strip("/")
        i += 1
    while end > i and d[end - 1] == 47:
        end -= 1
    if end - i < 5 or memcmp(d + i, b"ocpi/", 5) != 0:
        return None
    i += 5
    if end - i > 7 and memcmp(d + i, b"sender/", 7) == 0:
        role, i = 1, i + 7
    elif end - i > 9 and memcmp(d + i, b"receiver/", 9) == 0:
        role, i = 2, i + 9
    else:
        return None
    slash = <const char *> memchr(d + i, 47, end - i)
    if slash == NULL:
        return None
    at = slash - d
    version = shapes = modules = None  # (a version or module is a table string: ASCII)
    for entry in _VERSIONS:
        if _is(d + i, at - i, <str> entry[0]):
            version, shapes, modules = entry
            break
    if version is None:
        return None
    i = at + 1
    slash = <const char *> memchr(d + i, 47, end - i)
    at = slash - d if slash != NULL else end
    module = None
    for name in <tuple> modules:
        if _is(d + i, at - i, <str> name):
            module = name
            break
    if module is None:  # (unknown, or served by the node itself)
        return None
    cdef Py_ssize_t rest = at + 1 if at < end else end  # where the suffix starts
    count = 0  # segments after the module; an empty one is the general path's refusal
    i = rest
    while i < end:
        slash = <const char *> memchr(d + i, 47, end - i)
        at = slash - d if slash != NULL else end
        if at == i:
            return None
        count += 1
        i = at + 1
    if count == 1 and method == "GET" and module in shapes.items[role]:
        return None  # a node-issued item URL
    if count == 2 and (module in shapes.paged or module in shapes.proxied[role]):
        return None  # a page or a proxied resource, maybe
    return (K_MODULE, module, role, version, PyUnicode_Substring(path, rest, end), "")


cpdef object match(str method, str path):
    if PyUnicode_IS_ASCII(path):
        found = _forwarded(method, path)
        if found is not None:
            return found
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
