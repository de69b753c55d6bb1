# cython: language_level=3, boundscheck=False, wraparound=False
"""Compiled twin of ``_boundary_ref`` (differential tests check they agree): the request's fields
are read and written straight in their slots (:mod:`ocn_core._slots`), each string checked in one
pass; anything not of the exact expected types takes the reference twin."""

from cpython.object cimport PyObject

from ocn_core._slots cimport alloc, borrowed, offset, set_slot

from ocn_core import _boundary_ref
from ocn_core._boundary_ref import CLEAR, METHODS, REFUSED, ROLES, SAFE
from ocn_core.model import KINDS_BY_VALUE, InterfaceRole, PartyRef, RouteKind, RouteRequest

cdef frozenset _METHODS = METHODS
cdef object _KIND = RouteKind
cdef object _ROLE = InterfaceRole
cdef tuple _KINDS = KINDS_BY_VALUE
cdef tuple _ROLES = ROLES
cdef type _REQ = RouteRequest
cdef type _PARTY = PartyRef
cdef object _ref_screen = _boundary_ref.screen
cdef object _ref_request = _boundary_ref.request_from_http
cdef int _CLEAR = CLEAR, _SAFE = SAFE, _REFUSED = REFUSED
cdef int ROUTED = 5  # suffix, query, module, version, proxy id

cdef Py_ssize_t KIND = offset(_REQ, "kind")
cdef Py_ssize_t MODULE = offset(_REQ, "module")
cdef Py_ssize_t ROLE = offset(_REQ, "interface_role")
cdef Py_ssize_t METHOD = offset(_REQ, "method")
cdef Py_ssize_t VERSION = offset(_REQ, "ocpi_version")
cdef Py_ssize_t SUFFIX = offset(_REQ, "path_suffix")
cdef Py_ssize_t QUERY = offset(_REQ, "query")
cdef Py_ssize_t AUTH = offset(_REQ, "authorization")
cdef Py_ssize_t REQUEST_ID = offset(_REQ, "request_id")
cdef Py_ssize_t CORRELATION_ID = offset(_REQ, "correlation_id")
cdef Py_ssize_t FROM = offset(_REQ, "from_party")
cdef Py_ssize_t TO = offset(_REQ, "to_party")
cdef Py_ssize_t SIGNATURE = offset(_REQ, "ocn_signature")
cdef Py_ssize_t BODY = offset(_REQ, "body")
cdef Py_ssize_t CONTENT_TYPE = offset(_REQ, "content_type")
cdef Py_ssize_t PROXY_ID = offset(_REQ, "proxy_id")
cdef Py_ssize_t CALL_ID = offset(_REQ, "call_id")
cdef Py_ssize_t HAS_FROM = offset(_REQ, "has_from")
cdef Py_ssize_t HAS_TO = offset(_REQ, "has_to")
cdef Py_ssize_t CC = offset(_PARTY, "country_code")
cdef Py_ssize_t PID = offset(_PARTY, "party_id")
if len(_REQ.__slots__) != 19 or len(_PARTY.__slots__) != 2:
    raise ImportError("RouteRequest / PartyRef fields changed: update _boundary_cy")


cdef extern from "Python.h":
    bint PyUnicode_IS_ASCII(PyObject *s)
    const unsigned char *PyUnicode_1BYTE_DATA(PyObject *s)
    Py_ssize_t PyUnicode_GET_LENGTH(PyObject *s)
    bint PyUnicode_CheckExact(PyObject *s)


cdef inline bint _text(PyObject *s, unsigned char least) noexcept:
    """Printable ASCII (``least`` = 32: space allowed; 33: a routed field, also no backslash)."""
    if not PyUnicode_IS_ASCII(s):
        return False
    cdef const unsigned char *d = PyUnicode_1BYTE_DATA(s)
    cdef Py_ssize_t i, n = PyUnicode_GET_LENGTH(s)
    cdef unsigned char bad = 0
    if least == 32:
        for i in range(n):
            bad |= (d[i] < 32) | (d[i] == 127)
    else:
        for i in range(n):
            bad |= (d[i] < 33) | (d[i] == 127) | (d[i] == 92)
    return not bad


cpdef int screen(object req) except -1:
    if type(req) is not _REQ:
        return _ref_screen(req)
    cdef PyObject *frm = borrowed(req, FROM)
    cdef PyObject *to = borrowed(req, TO)
    if frm == NULL or to == NULL or type(<object> frm) is not _PARTY or type(<object> to) is not _PARTY:
        return _ref_screen(req)
    cdef PyObject *fields[14]
    fields[0] = borrowed(req, SUFFIX)  # the routed fields first (ROUTED of them)
    fields[1] = borrowed(req, QUERY)
    fields[2] = borrowed(req, MODULE)
    fields[3] = borrowed(req, VERSION)
    fields[4] = borrowed(req, PROXY_ID)
    fields[5] = borrowed(req, AUTH)
    fields[6] = borrowed(req, REQUEST_ID)
    fields[7] = borrowed(req, CORRELATION_ID)
    fields[8] = borrowed(<object> frm, CC)
    fields[9] = borrowed(<object> frm, PID)
    fields[10] = borrowed(<object> to, CC)
    fields[11] = borrowed(<object> to, PID)
    fields[12] = borrowed(req, SIGNATURE)
    fields[13] = borrowed(req, CONTENT_TYPE)
    cdef PyObject *method = borrowed(req, METHOD)
    cdef PyObject *body = borrowed(req, BODY)
    cdef PyObject *kind = borrowed(req, KIND)
    cdef PyObject *role = borrowed(req, ROLE)
    cdef int i
    cdef bint ok = True
    for i in range(14):
        if fields[i] == NULL or not PyUnicode_CheckExact(fields[i]):
            return _ref_screen(req)  # (its error, or its verdict on a str subclass)
        ok &= _text(fields[i], 33 if i < ROUTED else 32)
    if (method == NULL or not PyUnicode_CheckExact(method) or body == NULL
            or type(<object> body) is not bytes or kind == NULL or role == NULL):
        return _ref_screen(req)
    if not (
        ok
        and <object> method in _METHODS
        and type(<object> kind) is _KIND
        and type(<object> role) is _ROLE
    ):
        return _REFUSED
    if ("." in <str> fields[0] or "%" in <str> fields[0] or "%" in <str> fields[1]
            or len(<bytes> body)):
        return _SAFE
    return _CLEAR


cdef inline object _party(object cc, object pid):
    cdef object party = alloc(_PARTY)
    set_slot(party, CC, cc if cc is not None else "")
    set_slot(party, PID, pid if pid is not None else "")
    return party


cpdef object request_from_http(tuple found, object method, object query, object headers,
                               object body):
    if type(headers) is not dict or len(found) != 6:
        return _ref_request(found, method, query, headers, body)
    cdef dict h = <dict> headers
    fcc, fpid = h.get("ocpi-from-country-code"), h.get("ocpi-from-party-id")
    tcc, tpid = h.get("ocpi-to-country-code"), h.get("ocpi-to-party-id")
    kind, role = _KINDS[found[0]], _ROLES[found[2]]  # (IndexError as the reference's)
    cdef object req = alloc(_REQ)
    set_slot(req, KIND, kind)
    set_slot(req, MODULE, found[1])
    set_slot(req, ROLE, role)
    set_slot(req, METHOD, method)
    set_slot(req, VERSION, found[3])
    set_slot(req, SUFFIX, found[4])
    set_slot(req, QUERY, query)
    set_slot(req, AUTH, h.get("authorization", ""))
    set_slot(req, REQUEST_ID, h.get("x-request-id", ""))
    set_slot(req, CORRELATION_ID, h.get("x-correlation-id", ""))
    set_slot(req, FROM, _party(fcc, fpid))
    set_slot(req, TO, _party(tcc, tpid))
    set_slot(req, SIGNATURE, h.get("ocn-signature", ""))
    set_slot(req, BODY, body)
    set_slot(req, CONTENT_TYPE, h.get("content-type", ""))
    set_slot(req, PROXY_ID, found[5])
    set_slot(req, CALL_ID, 0)
    set_slot(req, HAS_FROM, fcc is not None and fpid is not None)
    set_slot(req, HAS_TO, tcc is not None and tpid is not None)
    return req
