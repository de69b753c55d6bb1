# cython: language_level=3
"""Compiled code's direct reads and writes of a slotted class's fields (RouteRequest, PartyRef,
HttpResult, RouteResponse): each field's offset is read once from its member descriptor, then a
field costs one load or store where ``getattr`` from C costs a type lookup and a descriptor call.

Use the offsets only on objects whose type is exactly the class they were read from (check
``type(x) is C`` first); anything else takes the pure twin's path.
"""

from cpython.object cimport Py_TYPE, PyObject
from cpython.ref cimport Py_INCREF


cdef extern from *:
    """
    #include <structmember.h>
    /* offset of a writable object slot (T_OBJECT_EX member descriptor), else -1 */
    static Py_ssize_t ocn_slot_offset(PyObject *descr) {
        PyMemberDef *m;
        if (Py_TYPE(descr) != &PyMemberDescr_Type) return -1;
        m = ((PyMemberDescrObject *)descr)->d_member;
        return (m->type == T_OBJECT_EX && !(m->flags & READONLY)) ? m->offset : -1;
    }
    static inline PyObject *ocn_slot(PyObject *o, Py_ssize_t at) {
        PyObject *v = *(PyObject **)((char *)o + at);
        if (v == NULL) {
            PyErr_SetString(PyExc_AttributeError, "field not set");
            return NULL;
        }
        Py_INCREF(v);
        return v;
    }
    static inline PyObject *ocn_slot_borrowed(PyObject *o, Py_ssize_t at) {
        return *(PyObject **)((char *)o + at);  /* NULL when unset */
    }
    static inline void ocn_set_slot(PyObject *o, Py_ssize_t at, PyObject *v) {
        PyObject **s = (PyObject **)((char *)o + at);
        PyObject *old = *s;
        Py_INCREF(v);
        *s = v;
        Py_XDECREF(old);
    }
    static inline PyObject *ocn_alloc(PyObject *t) {
        return ((PyTypeObject *)t)->tp_alloc((PyTypeObject *)t, 0);
    }
    """
    Py_ssize_t ocn_slot_offset(object descr)
    object slot "ocn_slot"(object o, Py_ssize_t at)
    PyObject *borrowed "ocn_slot_borrowed"(object o, Py_ssize_t at)
    void set_slot "ocn_set_slot"(object o, Py_ssize_t at, object v)
    object alloc "ocn_alloc"(object cls)


cdef inline Py_ssize_t offset(type cls, str name) except -1:
    """The offset of ``cls``'s slot ``name`` (TypeError when it is not a plain object slot)."""
    cdef Py_ssize_t at = ocn_slot_offset(cls.__dict__[name])
    if at < 0:
        raise TypeError(f"{cls.__name__}.{name} is not an object slot")
    return at


ctypedef struct RequestSlots:
    # RouteRequest's fields
    Py_ssize_t kind, module, interface_role, method, ocpi_version, path_suffix, query
    Py_ssize_t authorization, request_id, correlation_id, from_party, to_party
    Py_ssize_t ocn_signature, body, content_type, proxy_id, call_id, has_from, has_to
    # PartyRef's (the two parties)
    Py_ssize_t country_code, party_id
    # the two classes themselves (kept alive for the process)
    PyObject *request_type
    PyObject *party_type


cdef inline RequestSlots request_slots() except *:
    """The offsets of RouteRequest's and PartyRef's fields (ImportError when they changed)."""
    from ocn_core.model import PartyRef, RouteRequest

    cdef RequestSlots s
    Py_INCREF(RouteRequest)
    Py_INCREF(PartyRef)
    s.request_type, s.party_type = <PyObject *> RouteRequest, <PyObject *> PartyRef
    if len(RouteRequest.__slots__) != 19 or len(PartyRef.__slots__) != 2:
        raise ImportError("RouteRequest / PartyRef fields changed: update ocn_core/_slots.pxd")
    s.kind = offset(RouteRequest, "kind")
    s.module = offset(RouteRequest, "module")
    s.interface_role = offset(RouteRequest, "interface_role")
    s.method = offset(RouteRequest, "method")
    s.ocpi_version = offset(RouteRequest, "ocpi_version")
    s.path_suffix = offset(RouteRequest, "path_suffix")
    s.query = offset(RouteRequest, "query")
    s.authorization = offset(RouteRequest, "authorization")
    s.request_id = offset(RouteRequest, "request_id")
    s.correlation_id = offset(RouteRequest, "correlation_id")
    s.from_party = offset(RouteRequest, "from_party")
    s.to_party = offset(RouteRequest, "to_party")
    s.ocn_signature = offset(RouteRequest, "ocn_signature")
    s.body = offset(RouteRequest, "body")
    s.content_type = offset(RouteRequest, "content_type")
    s.proxy_id = offset(RouteRequest, "proxy_id")
    s.call_id = offset(RouteRequest, "call_id")
    s.has_from = offset(RouteRequest, "has_from")
    s.has_to = offset(RouteRequest, "has_to")
    s.country_code = offset(PartyRef, "country_code")
    s.party_id = offset(PartyRef, "party_id")
    return s


cdef inline bint plain_request(object req, RequestSlots *s) noexcept:
    """``req`` is exactly a RouteRequest and both its parties exactly PartyRefs: its fields and
    theirs may be read by offset."""
    cdef PyObject *frm
    cdef PyObject *to
    if <PyObject *> Py_TYPE(req) != s.request_type:
        return False
    frm, to = borrowed(req, s.from_party), borrowed(req, s.to_party)
    return (frm != NULL and to != NULL and <PyObject *> Py_TYPE(<object> frm) == s.party_type
            and <PyObject *> Py_TYPE(<object> to) == s.party_type)
