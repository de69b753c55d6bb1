# cython: language_level=3, boundscheck=False, wraparound=False
"""Compiled URL matcher; behaviour identical to ``_match_ref`` (differential tests check it)."""

cdef frozenset _VERSIONS = frozenset(("2.2", "2.2.1", "2.3.0"))
cdef frozenset _MODULES = frozenset(
    ("cdrs", "chargingprofiles", "commands", "locations", "sessions", "tariffs", "tokens")
)
cdef frozenset _MODULES_230 = frozenset(("payments", "Booking", "invoicereconciliation"))
cdef frozenset _PAGED = frozenset(
    ("cdrs", "locations", "sessions", "tariffs", "tokens") + tuple(_MODULES_230)
)
cdef frozenset _COMMANDS = frozenset(
    ("CANCEL_RESERVATION", "RESERVE_NOW", "START_SESSION", "STOP_SESSION", "UNLOCK_CONNECTOR")
)

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
    if n < 2 or parts[0] != "ocpi" or "" in parts:
        return None
    head = parts[1]
    if head == "versions":
        return (1, "versions", 0, "", "", "") if n == 2 else None
    if head in _VERSIONS:
        if n == 2:
            return (2, "versions", 0, head, "", "")
        if n == 3 and parts[2] == "credentials":
            return (3, "credentials", 0, head, "", "")
        if n == 3 and parts[2] == "hubclientinfo":
            return (4, "hubclientinfo", 1, head, "", "")
        role = _role(parts[2])
        if n >= 4 and role:
            return _module(method, role, head, parts[3], parts, 4)
        return None
    if head == "custom":
        if n >= 4:
            role = _role(parts[2])
            if role:
                return (8, parts[3], role, "", "/".join(parts[4:]), "")
        return None
    role = _role(head)
    if role and n >= 4 and parts[2] in _VERSIONS:
        return _module(method, role, parts[2], parts[3], parts, 4)
    return None


cdef object _module(str method, int role, str version, str module, list parts, Py_ssize_t start):
    cdef Py_ssize_t rest = len(parts) - start
    cdef str first
    if module not in _MODULES and (version != "2.3.0" or module not in _MODULES_230):
        return None
    if rest == 2:
        first = parts[start]
        if first == "page" and method == "GET" and module in _PAGED:
            return (6, module, role, version, "", parts[start + 1])
        if role == 1:
            if module == "commands" and first in _COMMANDS:
                return (7, module, role, version, first, parts[start + 1])
            if module == "chargingprofiles" and first == "result":
                return (7, module, role, version, "result", parts[start + 1])
    elif rest == 1 and role == 2 and module == "cdrs" and method == "GET":
        return (7, module, role, version, "", parts[start])
    return (5, module, role, version, "/".join(parts[start:]), "")
