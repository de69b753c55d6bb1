# cython: language_level=3
"""Access lines rendered as the JSON log pipeline writes them (compiled twin of
``_logline_ref``: same bytes; the timestamp and the line's dict built in C, a RouteRequest's
context read from its slots).

The common line (a bound RouteRequest, no bound context variables, no field named as a context
or pipeline key) is written without a line dict: the context's strings and the event between
the fixed keys, orjson's own bytes of the fields in the middle. A string orjson would write
as it is (printable ASCII without a quote or backslash) is copied between quotes; any other
value is orjson's. Every other line is built as a dict and handed to orjson whole.
"""

import orjson

from libc.stdio cimport snprintf
from cpython.dict cimport PyDict_Size
from libc.string cimport memcpy

from ocn_core._slots cimport RequestSlots, plain_request, request_slots, slot
from ocn_core.timefmt import utc_second


cdef object _dumps = orjson.dumps
cdef object _OPTION = orjson.OPT_APPEND_NEWLINE
cdef long long _second = -1
cdef str _prefix = ""
cdef RequestSlots R = request_slots()  # RouteRequest's and PartyRef's slot offsets
# keys a field must not have for the direct line (it would move or replace one of these)
cdef frozenset _RESERVED = frozenset(
    ("request_id", "correlation_id", "sender", "receiver", "event", "level", "timestamp")
)
cdef bytes _K_ID = b'{"request_id":'
cdef bytes _K_CORRELATION = b',"correlation_id":'
cdef bytes _K_SENDER = b',"sender":'
cdef bytes _K_RECEIVER = b',"receiver":'
cdef bytes _K_EVENT = b',"event":'
cdef bytes _K_STAMP = b',"level":"info","timestamp":"'
cdef bytes _K_END = b'"}\n'


cdef extern from "Python.h":
    bytes PyBytes_FromStringAndSize(const char *v, Py_ssize_t n)
    char *PyBytes_AS_STRING(object b)
    Py_ssize_t PyBytes_GET_SIZE(object b)
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
        _prefix = utc_second(whole)
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


cdef dict _line(object context, dict fields):
    """The request's context, then ``fields`` (RouteRequest.log_context's keys, in its order)."""
    cdef dict line = _PyDict_NewPresized(PyDict_Size(fields) + 7)
    if context is None:
        pass
    elif type(context) is dict:
        line.update(<dict> context)
    elif plain_request(context, &R):
        line["request_id"] = slot(context, R.request_id)
        line["correlation_id"] = slot(context, R.correlation_id)
        line["sender"] = _key(slot(context, R.from_party))
        line["receiver"] = _key(slot(context, R.to_party))
    else:
        line.update(context.log_context())
    line.update(fields)
    return line


cdef object _json(object value):
    """``value`` as orjson writes it: a plain string as itself (written between quotes), else
    orjson's bytes."""
    cdef const unsigned char *d
    cdef Py_ssize_t i, n
    if type(value) is str and PyUnicode_IS_ASCII(value):
        d = <const unsigned char *> PyUnicode_1BYTE_DATA(value)
        n = PyUnicode_GET_LENGTH(value)
        for i in range(n):
            if d[i] < 32 or d[i] == 34 or d[i] == 92 or d[i] == 127:
                return _dumps(value)
        return value
    return _dumps(value)


cdef inline Py_ssize_t _size(object piece) noexcept:
    if type(piece) is str:
        return PyUnicode_GET_LENGTH(piece) + 2
    return PyBytes_GET_SIZE(piece)


cdef inline Py_ssize_t _put(char *o, Py_ssize_t at, object piece) noexcept:
    """Copy a ``_json`` piece (a plain str between quotes, or bytes) to ``o[at:]``."""
    cdef Py_ssize_t n
    if type(piece) is str:
        n = PyUnicode_GET_LENGTH(piece)
        o[at] = 34
        memcpy(o + at + 1, PyUnicode_1BYTE_DATA(piece), n)
        o[at + 1 + n] = 34
        return at + n + 2
    n = PyBytes_GET_SIZE(piece)
    memcpy(o + at, PyBytes_AS_STRING(piece), n)
    return at + n


cdef inline Py_ssize_t _raw(char *o, Py_ssize_t at, bytes text) noexcept:
    cdef Py_ssize_t n = PyBytes_GET_SIZE(text)
    memcpy(o + at, PyBytes_AS_STRING(text), n)
    return at + n


cdef bytes _direct(object event, dict fields, object req, double at):
    """The line of a bound RouteRequest without a line dict (see the module docstring)."""
    cdef object rid = _json(slot(req, R.request_id))
    cdef object cid = _json(slot(req, R.correlation_id))
    cdef object sender = _json(_key(slot(req, R.from_party)))
    cdef object receiver = _json(_key(slot(req, R.to_party)))
    cdef bytes body = _dumps(fields)  # {...}: its members go between the context and the event
    cdef Py_ssize_t inner = PyBytes_GET_SIZE(body) - 2
    cdef object name = _json(event)
    cdef str stamp = _stamp(at)
    cdef Py_ssize_t total = (
        PyBytes_GET_SIZE(_K_ID) + _size(rid) + PyBytes_GET_SIZE(_K_CORRELATION) + _size(cid)
        + PyBytes_GET_SIZE(_K_SENDER) + _size(sender) + PyBytes_GET_SIZE(_K_RECEIVER)
        + _size(receiver) + (inner + 1 if inner > 0 else 0) + PyBytes_GET_SIZE(_K_EVENT)
        + _size(name) + PyBytes_GET_SIZE(_K_STAMP) + PyUnicode_GET_LENGTH(stamp)
        + PyBytes_GET_SIZE(_K_END)
    )
    cdef bytes out = PyBytes_FromStringAndSize(NULL, total)
    cdef char *o = PyBytes_AS_STRING(out)
    cdef Py_ssize_t k = _raw(o, 0, _K_ID)
    k = _put(o, k, rid)
    k = _raw(o, k, _K_CORRELATION)
    k = _put(o, k, cid)
    k = _raw(o, k, _K_SENDER)
    k = _put(o, k, sender)
    k = _raw(o, k, _K_RECEIVER)
    k = _put(o, k, receiver)
    if inner > 0:
        o[k] = 44  # ','
        memcpy(o + k + 1, PyBytes_AS_STRING(body) + 1, inner)
        k += inner + 1
    k = _raw(o, k, _K_EVENT)
    k = _put(o, k, name)
    k = _raw(o, k, _K_STAMP)
    memcpy(o + k, PyUnicode_1BYTE_DATA(stamp), PyUnicode_GET_LENGTH(stamp))
    k += PyUnicode_GET_LENGTH(stamp)
    _raw(o, k, _K_END)
    return out


cdef bint _reserved(dict fields):
    for key in _RESERVED:
        if key in fields:
            return True
    return False


def render(list pending):
    """The JSON lines of ``pending``, newline-terminated, in order."""
    cdef list lines = []
    cdef tuple parts
    cdef dict line, bound_vars
    for item in pending:
        parts = <tuple?>item
        if (not parts[3] and type(parts[1]) is dict and plain_request(parts[2], &R)
                and not _reserved(<dict> parts[1])):
            lines.append(_direct(parts[0], <dict> parts[1], parts[2], parts[4]))
            continue
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
