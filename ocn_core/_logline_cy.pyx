# cython: language_level=3
"""Access lines rendered as the JSON log pipeline writes them (compiled twin of
``_logline_ref``: same bytes; the timestamp and the line's dict built in C)."""

import time as _time

import orjson

from libc.stdio cimport snprintf

cdef object _dumps = orjson.dumps
cdef object _OPTION = orjson.OPT_APPEND_NEWLINE
cdef long long _second = -1
cdef str _prefix = ""


def render(list pending):
    """The JSON lines of ``pending``, newline-terminated, in order."""
    global _second, _prefix
    cdef list lines = []
    cdef tuple parts
    cdef dict line, fields, context, bound_vars
    cdef double at
    cdef long long whole, micro
    cdef char buf[16]
    cdef int size
    cdef str stamp
    for item in pending:
        parts = <tuple?>item
        fields, context, bound_vars = parts[1], parts[2], parts[3]
        at = parts[4]
        whole = <long long>at
        if whole != _second:
            _prefix = _time.strftime("%Y-%m-%dT%H:%M:%S", _time.gmtime(whole))
            _second = whole
        micro = <long long>((at - <double>whole) * 1000000.0)
        if micro:
            size = snprintf(buf, sizeof(buf), ".%06lldZ", micro)
            stamp = _prefix + buf[:size].decode("ascii")
        else:
            stamp = _prefix + "Z"
        if context is None:
            line = fields.copy()
        else:
            line = context.copy()
            line.update(fields)
        line["event"] = parts[0]
        line["level"] = "info"
        line["timestamp"] = stamp
        if bound_vars:
            merged = bound_vars.copy()
            merged.update(line)
            line = merged
        lines.append(_dumps(line, None, _OPTION))
    return b"".join(lines)
