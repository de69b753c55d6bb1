# cython: language_level=3, boundscheck=False, wraparound=False
"""Compiled twin of ``_boundary_ref`` (differential tests check they agree): the request's fields
are read and written straight in their slots (:mod:`ocn_core._slots`), each string checked in one
pass; anything not of the exact expected types takes the reference twin."""

from cpython.object cimport PyObject

from ocn_core._slots cimport RequestSlots, alloc, borrowed, plain_request, request_slots, set_slot

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
cdef RequestSlots R = request_slots()  # RouteRequest's and PartyRef's slot offsets


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
    if not plain_request(req, &R):
        return _ref_screen(req)
    cdef PyObject *frm = borrowed(req, R.from_party)
    cdef PyObject *to = borrowed(req, R.to_party)
    cdef PyObject *fields[14]
    fields[0] = borrowed(req, R.path_suffix)  # the routed fields first (ROUTED of them)
    fields[1] = borrowed(req, R.query)
    fields[2] = borrowed(req, R.module)
    fields[3] = borrowed(req, R.ocpi_version)
    fields[4] = borrowed(req, R.proxy_id)
    fields[5] = borrowed(req, R.authorization)
    fields[6] = borrowed(req, R.request_id)
    fields[7] = borrowed(req, R.correlation_id)
    fields[8] = borrowed(<object> frm, R.country_code)
    fields[9] = borrowed(<object> frm, R.party_id)
    fields[10] = borrowed(<object> to, R.country_code)
    fields[11] = borrowed(<object> to, R.party_id)
    fields[12] = borrowed(req, R.ocn_signature)
    fields[13] = borrowed(req, R.content_type)
    cdef PyObject *method = borrowed(req, R.method)
    cdef PyObject *body = borrowed(req, R.body)
    cdef PyObject *kind = borrowed(req, R.kind)
    cdef PyObject *role = borrowed(req, R.interface_role)
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
    set_slot(party, R.country_code, cc if cc is not None else "")
    set_slot(party, R.party_id, pid if pid is not None else "")
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
    set_slot(req, R.kind, kind)
    set_slot(req, R.module, found[1])
    set_slot(req, R.interface_role, role)
    set_slot(req, R.method, method)
    set_slot(req, R.ocpi_version, found[3])
    set_slot(req, R.path_suffix, found[4])
    set_slot(req, R.query, query)
    set_slot(req, R.authorization, h.get("authorization", ""))
    set_slot(req, R.request_id, h.get("x-request-id", ""))
    set_slot(req, R.correlation_id, h.get("x-correlation-id", ""))
    set_slot(req, R.from_party, _party(fcc, fpid))
    set_slot(req, R.to_party, _party(tcc, tpid))
    set_slot(req, R.ocn_signature, h.get("ocn-signature", ""))
    set_slot(req, R.body, body)
    set_slot(req, R.content_type, h.get("content-type", ""))
    set_slot(req, R.proxy_id, found[5])
    set_slot(req, R.call_id, 0)
    set_slot(req, R.has_from, fcc is not None and fpid is not None)
    set_slot(req, R.has_to, tcc is not None and tpid is not None)
    return req
