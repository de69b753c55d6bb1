# cython: language_level=3
"""Compiled code's direct reads and writes of a slotted class's fields (RouteRequest, PartyRef,
HttpResult, RouteResponse): each field's offset is read once from its member descriptor, then a
field costs one load or store where ``getattr`` from C costs a type lookup and a descriptor call.

Use the offsets only on objects whose type is exactly the class they were read from (check
``type(x) is C`` first); anything else takes the pure twin's path.
"""

from cpython.object cimport PyObject


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
