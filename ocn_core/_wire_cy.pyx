# cython: language_level=3, boundscheck=False, wraparound=False
"""Compiled twin of :mod:`ocn_core._wire_ref` (differential tests check they agree).

``envelope_status`` scans the two status layouts byte by byte instead of through regexes; the
header and request builders are the same steps without the interpreter loop.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.stdio cimport snprintf
from libc.string cimport memchr, memcpy

from cpython.object cimport PyObject

from ocn_core._slots cimport (RequestSlots, alloc, borrowed, offset, plain_request,
                              request_slots, set_slot, slot)

import os

from ocn_core import _wire_ref
from ocn_core._wire_ref import PASSED_HEADERS, POOL_BYTES, SPLITS_REQUEST, parse_status
from ocn_core.model import RouteResponse
from ocn_core.transport import HttpResult

cdef tuple _PASSED = PASSED_HEADERS
cdef frozenset _PASSED_SIZES = frozenset(len(name) for name in PASSED_HEADERS)
cdef frozenset _BODY_METHODS = frozenset(("POST", "PUT", "PATCH"))
cdef const char* _HEX = b"0123456789abcdef"
cdef const char* _VARIANT = b"89ab"
cdef Py_ssize_t _TAIL = 512
cdef type _RESULT = HttpResult
cdef type _RESPONSE = RouteResponse
cdef object _ref_outbound = _wire_ref.outbound_headers
cdef object _ref_relay = _wire_ref.relay_response
cdef object _ref_target = _wire_ref.target_url
# the fields read or written here, as slot offsets (see ocn_core._slots)
cdef RequestSlots R = request_slots()  # RouteRequest's and PartyRef's slot offsets
cdef Py_ssize_t RESULT_STATUS = offset(_RESULT, "status")
cdef Py_ssize_t RESULT_HEADERS = offset(_RESULT, "headers")
cdef Py_ssize_t RESULT_BODY = offset(_RESULT, "body")
cdef Py_ssize_t RESP_STATUS = offset(_RESPONSE, "status")
cdef Py_ssize_t RESP_HEADERS = offset(_RESPONSE, "headers")
cdef Py_ssize_t RESP_BODY = offset(_RESPONSE, "body")
cdef Py_ssize_t RESP_OCPI = offset(_RESPONSE, "ocpi_status")
cdef Py_ssize_t RESP_REASON = offset(_RESPONSE, "error_reason")
cdef Py_ssize_t RESP_CALL = offset(_RESPONSE, "call_id")
if len(_RESPONSE.__slots__) != 6:
    raise ImportError("RouteResponse fields changed: update _wire_cy")


cdef inline object slot_or_none(object o, Py_ssize_t at):
    cdef PyObject *v = borrowed(o, at)
    return <object> v if v != NULL else None


cdef extern from "Python.h":
    bint PyUnicode_IS_ASCII(object s)
    int PyUnicode_KIND(object s)
    const char *PyUnicode_1BYTE_DATA(object s)
    Py_ssize_t PyUnicode_GET_LENGTH(object s)
    bytes PyBytes_FromStringAndSize(const char *v, Py_ssize_t n)
    str PyUnicode_New(Py_ssize_t size, Py_UCS4 maxchar)
    Py_UCS4 PyUnicode_MAX_CHAR_VALUE(object s)
    int PyUnicode_1BYTE_KIND


cdef inline bint _ws(unsigned char c) noexcept:
    """ASCII whitespace as regex ``\\s`` and ``bytes.strip`` see it."""
    return c == 32 or 9 <= c <= 13


cdef inline bint _blank(unsigned char c) noexcept:
    """The four blanks of the reference's ``_BLANK``."""
    return c == 32 or c == 9 or c == 13 or c == 10


cdef inline Py_ssize_t _skip(const unsigned char* p, Py_ssize_t i, Py_ssize_t n) noexcept:
    while i < n and _ws(p[i]):
        i += 1
    return i


cdef inline bint _lit(const unsigned char* p, Py_ssize_t i, Py_ssize_t n, bytes word) noexcept:
    cdef Py_ssize_t k, m = len(word)
    cdef const unsigned char* w = <const unsigned char*> PyBytes_AS_STRING(word)
    if i + m > n:
        return False
    for k in range(m):
        if p[i + k] != w[k]:
            return False
    return True


cdef Py_ssize_t _number(const unsigned char* p, Py_ssize_t i, Py_ssize_t n, long* out) noexcept:
    """``-?\\d{1,9}`` not followed by a digit: the index after it, or -1."""
    cdef bint neg = False
    cdef long v = 0
    cdef Py_ssize_t start
    if i < n and p[i] == 45:  # '-'
        neg = True
        i += 1
    start = i
    while i < n and 48 <= p[i] <= 57:
        if i - start == 9:
            return -1
        v = v * 10 + (p[i] - 48)
        i += 1
    if i == start:
        return -1
    out[0] = -v if neg else v
    return i


cdef Py_ssize_t _member(const unsigned char* p, Py_ssize_t i, Py_ssize_t n, bytes key,
                        bint escapes) noexcept:
    """``,\\s*"key"\\s*:\\s*"...."\\s*`` from ``i``: the index after it, or -1."""
    cdef unsigned char c
    if i >= n or p[i] != 44:  # ','
        return -1
    i = _skip(p, i + 1, n)
    if not _lit(p, i, n, key):
        return -1
    i = _skip(p, i + len(key), n)
    if i >= n or p[i] != 58:  # ':'
        return -1
    i = _skip(p, i + 1, n)
    if i >= n or p[i] != 34:  # '"'
        return -1
    i += 1
    while i < n:
        c = p[i]
        if c == 34:
            return _skip(p, i + 1, n)
        if c == 92:  # backslash: an escape (any byte but a newline) or, without escapes, no match
            if not escapes or i + 1 >= n or p[i + 1] == 10:
                return -1
            i += 2
            continue
        i += 1
    return -1


cpdef object envelope_status(bytes body):
    cdef const unsigned char* p = <const unsigned char*> PyBytes_AS_STRING(body)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(body)
    cdef Py_ssize_t i, j, at, end
    cdef long value = 0
    cdef unsigned char first, last
    # the last non-whitespace byte is '}' (body.rstrip().endswith(b"}"))
    end = n
    while end > 0 and _ws(p[end - 1]):
        end -= 1
    # leading layout: {"status_code": N, ...}
    i = _skip(p, 0, n)
    if i < n and p[i] == 123:  # '{'
        i = _skip(p, i + 1, n)
        if _lit(p, i, n, b'"status_code"'):
            i = _skip(p, i + 13, n)
            if i < n and p[i] == 58:
                i = _number(p, _skip(p, i + 1, n), n, &value)
                if i >= 0:
                    i = _skip(p, i, n)
                    if i < n and (p[i] == 44 or p[i] == 125) and end > 0 and p[end - 1] == 125:
                        return value
    # trailing layout: ..., "status_code": N[, "status_message": "..."][, "timestamp": "..."]}
    at = -1
    j = n - 13
    while j >= 0 and j >= n - _TAIL:
        if p[j] == 34 and _lit(p, j, n, b'"status_code"'):
            at = j
            break
        j -= 1
    if at > 0:
        last = p[at - 1]
        if _blank(last):
            j = at
            while j > 0 and _ws(p[j - 1]):
                j -= 1
            last = p[j - 1] if j > 0 else 0
        first = p[0]
        if _blank(first):
            j = _skip(p, 0, n)
            first = p[j] if j < n else 0
        if (last == 44 or last == 123) and first == 123:
            i = _skip(p, at + 13, n)
            if i < n and p[i] == 58:
                i = _number(p, _skip(p, i + 1, n), n, &value)
                if i >= 0:
                    i = _skip(p, i, n)
                    j = _member(p, i, n, b'"status_message"', True)
                    if j >= 0:
                        i = j
                    j = _member(p, i, n, b'"timestamp"', False)
                    if j >= 0:
                        i = j
                    if i < n and p[i] == 125 and _skip(p, i + 1, n) == n:
                        return value
    return parse_status(body)


cdef str _uuid4(const unsigned char* r):
    """The UUID4 string of the 16 random bytes at ``r``, written straight into a new str."""
    cdef str out = PyUnicode_New(36, 127)
    cdef char* o = <char*> PyUnicode_1BYTE_DATA(out)
    cdef int k, at = 0
    cdef unsigned char b
    for k in range(16):
        if k == 4 or k == 6 or k == 8 or k == 10:
            o[at] = 45  # '-'
            at += 1
        b = r[k]
        o[at] = _HEX[b >> 4]
        o[at + 1] = _HEX[b & 15]
        if k == 6:
            o[at] = 52  # '4': version nibble
        elif k == 8:
            o[at] = _VARIANT[(b >> 4) & 3]
        at += 2
    return out


cpdef str request_id_of(bytes raw):
    if PyBytes_GET_SIZE(raw) != 16:
        raise ValueError("16 random bytes expected")
    return _uuid4(<const unsigned char*> PyBytes_AS_STRING(raw))


cdef class RequestIds:
    cdef bytes block
    cdef Py_ssize_t at

    def __init__(self):
        self.block, self.at = b"", 0

    def next(self):
        if self.at >= PyBytes_GET_SIZE(self.block):
            self.block, self.at = os.urandom(POOL_BYTES), 0
        self.at += 16
        return _uuid4(<const unsigned char*> PyBytes_AS_STRING(self.block) + self.at - 16)

    def reset(self):
        self.block, self.at = b"", 0


cpdef list outbound_headers(object req, str auth, bytes body, str signature, str request_id):
    if not plain_request(req, &R):
        return _ref_outbound(req, auth, body, signature, request_id)
    cdef object frm = slot(req, R.from_party), to = slot(req, R.to_party)
    cdef list headers = [
        ("Authorization", auth),
        ("X-Request-ID", request_id),
        ("X-Correlation-ID", slot(req, R.correlation_id)),
        ("OCPI-from-country-code", slot(frm, R.country_code)),
        ("OCPI-from-party-id", slot(frm, R.party_id)),
        ("OCPI-to-country-code", slot(to, R.country_code)),
        ("OCPI-to-party-id", slot(to, R.party_id)),
    ]
    if signature:
        headers.append(("OCN-Signature", signature))
    if body:
        headers.append(("Content-Type", slot(req, R.content_type) or "application/json"))
    return headers


cpdef object relay_response(object req, object result, object ocpi_status=None):
    if (not plain_request(req, &R) or type(result) is not _RESULT
            or type(slot_or_none(result, RESULT_HEADERS)) is not list):
        return _ref_relay(req, result, ocpi_status)
    cdef object frm = slot(req, R.from_party), to = slot(req, R.to_party)
    cdef object body = slot(result, RESULT_BODY)
    cdef tuple item
    cdef list out = [
        ("Content-Type", "application/json"),
        ("X-Request-ID", slot(req, R.request_id)),
        ("X-Correlation-ID", slot(req, R.correlation_id)),
        ("OCPI-to-country-code", slot(frm, R.country_code)),
        ("OCPI-to-party-id", slot(frm, R.party_id)),
        ("OCPI-from-country-code", slot(to, R.country_code)),
        ("OCPI-from-party-id", slot(to, R.party_id)),
    ]
    cdef Py_ssize_t size
    for item in slot(result, RESULT_HEADERS):
        name = <str> item[0]
        size = PyUnicode_GET_LENGTH(name)
        if PyUnicode_IS_ASCII(name) and size not in _PASSED_SIZES:
            continue  # (an ASCII name keeps its length when lower-cased)
        if name.lower() in _PASSED:
            out.append((item[0], item[1]))
    if ocpi_status is None:
        ocpi_status = envelope_status(body)
    cdef object resp = alloc(_RESPONSE)
    set_slot(resp, RESP_STATUS, slot(result, RESULT_STATUS))
    set_slot(resp, RESP_HEADERS, out)
    set_slot(resp, RESP_BODY, body)
    set_slot(resp, RESP_OCPI, ocpi_status)
    set_slot(resp, RESP_REASON, "")
    set_slot(resp, RESP_CALL, slot(req, R.call_id))
    return resp


cpdef str target_url(str base, str suffix, str query):
    if base is None or suffix is None or query is None:
        return _ref_target(base, suffix, query)  # (its error)
    if (PyUnicode_KIND(base) != PyUnicode_1BYTE_KIND or PyUnicode_KIND(suffix) != PyUnicode_1BYTE_KIND
            or PyUnicode_KIND(query) != PyUnicode_1BYTE_KIND):
        return _ref_target(base, suffix, query)
    cdef const char* b = PyUnicode_1BYTE_DATA(base)
    cdef const char* x = PyUnicode_1BYTE_DATA(suffix)
    cdef Py_ssize_t nb = PyUnicode_GET_LENGTH(base), start = 0, nx = PyUnicode_GET_LENGTH(suffix)
    cdef Py_ssize_t nq = PyUnicode_GET_LENGTH(query), at
    if nx:
        while nb and b[nb - 1] == 47:  # base.rstrip("/")
            nb -= 1
        while start < nx and x[start] == 47:  # suffix.lstrip("/")
            start += 1
    elif not nq:
        return base
    cdef Py_UCS4 top = max(PyUnicode_MAX_CHAR_VALUE(base), PyUnicode_MAX_CHAR_VALUE(suffix),
                           PyUnicode_MAX_CHAR_VALUE(query))
    cdef str out = PyUnicode_New(nb + (1 + nx - start if nx else 0) + (1 + nq if nq else 0), top)
    cdef char* o = <char*> PyUnicode_1BYTE_DATA(out)
    memcpy(o, b, nb)
    at = nb
    if nx:
        o[at] = 47
        memcpy(o + at + 1, x + start, nx - start)
        at += 1 + nx - start
    if nq:
        o[at] = 63  # '?'
        memcpy(o + at + 1, PyUnicode_1BYTE_DATA(query), nq)
    return out


cpdef Py_ssize_t header_index(object headers, str lower_name):
    cdef Py_ssize_t i = 0, size = len(lower_name)
    for key, _ in headers:  # (any iterable of pairs, as the pure twin takes)
        if len(key) == size and key.lower() == lower_name:
            return i
        i += 1
    return -1


cdef inline void _header_lines(list parts, list headers):
    """``name: value`` CRLF per header, appended to ``parts``."""
    cdef tuple item
    for item in headers:
        parts.append(<str> item[0])
        parts.append(": ")
        parts.append(<str> item[1])
        parts.append("\r\n")


cdef inline bint _latin1(object s) noexcept:
    """A str whose characters are all one byte (latin-1: its bytes are its encoding)."""
    return type(s) is str and PyUnicode_KIND(s) == PyUnicode_1BYTE_KIND


cdef inline Py_ssize_t _put(char* out, Py_ssize_t at, str s) noexcept:
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(s)
    memcpy(out + at, PyUnicode_1BYTE_DATA(s), n)
    return at + n


cdef inline Py_ssize_t _put_c(char* out, Py_ssize_t at, const char* s, Py_ssize_t n) noexcept:
    memcpy(out + at, s, n)
    return at + n


cdef bint _splits(str s):
    """``s`` holds a CR or LF."""
    cdef Py_ssize_t n
    cdef const char* d
    if PyUnicode_KIND(s) != PyUnicode_1BYTE_KIND:
        return "\r" in s or "\n" in s
    n, d = PyUnicode_GET_LENGTH(s), PyUnicode_1BYTE_DATA(s)
    return memchr(d, 13, n) != NULL or memchr(d, 10, n) != NULL


cdef object _message(tuple lead, list headers, Py_ssize_t length, bint close, bytes body):
    """``lead``, the header lines, ``Content-Length`` (``length`` >= 0), ``Connection: close``,
    the blank line and ``body`` written once into one bytes object; None when some text is not
    one byte per character (the caller then encodes as the pure twin does, raising the same)."""
    cdef Py_ssize_t total = 2 + PyBytes_GET_SIZE(body), at = 0, digits = 0
    cdef char number[24]
    cdef tuple item
    cdef object text
    for text in lead:
        if not _latin1(text):
            return None
        total += PyUnicode_GET_LENGTH(text)
    for item in headers:
        if len(item) != 2 or not _latin1(item[0]) or not _latin1(item[1]):
            return None
        total += PyUnicode_GET_LENGTH(item[0]) + PyUnicode_GET_LENGTH(item[1]) + 4
    if length >= 0:
        digits = snprintf(number, 24, "%zd", length)
        total += 18 + digits
    if close:
        total += 19
    cdef bytes out = PyBytes_FromStringAndSize(NULL, total)
    cdef char* buf = PyBytes_AS_STRING(out)
    for text in lead:
        at = _put(buf, at, text)
    for item in headers:
        at = _put(buf, at, item[0])
        at = _put_c(buf, at, b": ", 2)
        at = _put(buf, at, item[1])
        at = _put_c(buf, at, b"\r\n", 2)
    if length >= 0:
        at = _put_c(buf, at, b"Content-Length: ", 16)
        at = _put_c(buf, at, number, digits)
        at = _put_c(buf, at, b"\r\n", 2)
    if close:
        at = _put_c(buf, at, b"Connection: close\r\n", 19)
    at = _put_c(buf, at, b"\r\n", 2)
    memcpy(buf + at, PyBytes_AS_STRING(body), PyBytes_GET_SIZE(body))
    return out


cpdef bytes request_bytes(str method, str target, str host, list headers, bytes body):
    cdef Py_ssize_t length = len(body) if body or method in _BODY_METHODS else -1
    cdef tuple item
    if _splits(target) or _splits(host):
        raise ValueError(SPLITS_REQUEST)
    for item in headers:  # (before any encoding, as the pure twin checks)
        if _splits(<str> item[1]):
            raise ValueError(SPLITS_REQUEST)
    made = _message((method, " ", target, " HTTP/1.1\r\nHost: ", host, "\r\n"), headers, length,
                    False, body)
    if made is not None:
        return made
    cdef list parts = [method, " ", target, " HTTP/1.1\r\nHost: ", host, "\r\n"]
    _header_lines(parts, headers)
    if length >= 0:
        parts.append("Content-Length: ")
        parts.append(str(len(body)))
        parts.append("\r\n")
    parts.append("\r\n")
    return "".join(parts).encode("latin-1") + body


cpdef bytes response_bytes(str head, list headers, bytes body, bint keep_alive):
    made = _message((head,), headers, len(body), not keep_alive, body)
    if made is not None:
        return made
    cdef list parts = [head]
    _header_lines(parts, headers)
    parts.append("Content-Length: ")
    parts.append(str(len(body)))
    parts.append("\r\n" if keep_alive else "\r\nConnection: close\r\n")
    parts.append("\r\n")
    return "".join(parts).encode("latin-1") + body
