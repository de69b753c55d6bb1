# cython: language_level=3
"""Access lines rendered as the JSON log pipeline writes them (compiled twin of
``_logline_ref``: same bytes; the timestamp and the line's dict built in C, a RouteRequest's
context read from its slots)."""

import time as _time

import orjson

from libc.stdio cimport snprintf
from cpython.dict cimport PyDict_Size
from cpython.object cimport PyObject
from libc.string cimport memcpy

from ocn_core._slots cimport RequestSlots, borrowed, request_slots, slot

from ocn_core.model import PartyRef, RouteRequest

cdef object _dumps = orjson.dumps
cdef object _OPTION = orjson.OPT_APPEND_NEWLINE
cdef long long _second = -1
cdef str _prefix = ""
cdef type _REQ = RouteRequest
cdef type _PARTY = PartyRef
cdef RequestSlots R = request_slots()  # RouteRequest's and PartyRef's slot offsets


cdef extern from "Python.h":
    dict _PyDict_NewPresized(Py_ssize_t minused)
    str PyUnicode_New(Py_ssize_t size, Py_UCS4 maxchar)
    char *PyUnicode_1BYTE_DATA(object s)
    Py_ssize_t PyUnicode_GET_LENGTH(object s)
    bint PyUnicode_IS_ASCII(object s)


cdef str _stamp(double at):
    """structlog's ISO timestamp of ``at`` (UTC, microseconds unless whole)."""
    global _second, _prefix
    cdef long long whole = <long long>at, micro
    cdef char buf[16]
    cdef int size, k
    cdef str out
    cdef char *o
    if whole != _second:
        _prefix = _time.strftime("%Y-%m-%dT%H:%M:%S", _time.gmtime(whole))
        _second = whole
    micro = <long long>((at - <double>whole) * 1000000.0)
    if not micro:
        return _prefix + "Z"
    if PyUnicode_GET_LENGTH(_prefix) != 19 or not PyUnicode_IS_ASCII(_prefix) or not 0 < micro < 1000000:
        size = snprintf(buf, sizeof(buf), ".%06lldZ", micro)
        return _prefix + buf[:size].decode("ascii")
    out = PyUnicode_New(27, 127)  # the prefix, "." six digits "Z"
    o = PyUnicode_1BYTE_DATA(out)
    memcpy(o, PyUnicode_1BYTE_DATA(_prefix), 19)
    o[19] = 46
    for k in range(25, 19, -1):
        o[k] = 48 + micro % 10
        micro //= 10
    o[26] = 90
    return out


cdef object _key(object party):
    """PartyRef.key: (country_code + party_id).upper(), one new str for ASCII parts."""
    cc, pid = slot(party, R.country_code), slot(party, R.party_id)
    if type(cc) is not str or type(pid) is not str or not (PyUnicode_IS_ASCII(cc)
                                                          and PyUnicode_IS_ASCII(pid)):
        return (cc + pid).upper()
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(cc), m = PyUnicode_GET_LENGTH(pid), k
    cdef str out = PyUnicode_New(n + m, 127)
    cdef char *o = PyUnicode_1BYTE_DATA(out)
    cdef const char *a = PyUnicode_1BYTE_DATA(cc)
    cdef const char *b = PyUnicode_1BYTE_DATA(pid)
    for k in range(n):
        o[k] = a[k] - 32 if 97 <= a[k] <= 122 else a[k]
    for k in range(m):
        o[n + k] = b[k] - 32 if 97 <= b[k] <= 122 else b[k]
    return out


cdef inline bint _plain(object req) noexcept:
    cdef PyObject *frm
    cdef PyObject *to
    if type(req) is not _REQ:
        return False
    frm, to = borrowed(req, R.from_party), borrowed(req, R.to_party)
    return (frm != NULL and to != NULL and type(<object> frm) is _PARTY
            and type(<object> to) is _PARTY)


cdef dict _line(object context, dict fields):
    """The request's context, then ``fields`` (RouteRequest.log_context's keys, in its order)."""
    cdef dict line = _PyDict_NewPresized(PyDict_Size(fields) + 7)
    if context is None:
        pass
    elif type(context) is dict:
        line.update(<dict> context)
    elif _plain(context):
        line["request_id"] = slot(context, R.request_id)
        line["correlation_id"] = slot(context, R.correlation_id)
        line["sender"] = _key(slot(context, R.from_party))
        line["receiver"] = _key(slot(context, R.to_party))
    else:
        line.update(context.log_context())
    line.update(fields)
    return line


def render(list pending):
    """The JSON lines of ``pending``, newline-terminated, in order."""
    cdef list lines = []
    cdef tuple parts
    cdef dict line, bound_vars
    for item in pending:
        parts = <tuple?>item
        line = _line(parts[2], parts[1])
        line["event"] = parts[0]
        line["level"] = "info"
        line["timestamp"] = _stamp(parts[4])
        bound_vars = parts[3]
        if bound_vars:
            merged = bound_vars.copy()
            merged.update(line)
            line = merged
        lines.append(_dumps(line, None, _OPTION))
    return b"".join(lines)
