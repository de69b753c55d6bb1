# cython: language_level=3, boundscheck=False, wraparound=False
"""Compiled twin of :mod:`ocn_core._http11_ref` (differential tests check they agree).

One pass over the head in C: the request line, each ``name: value`` line checked against the
same byte classes, names lower-cased into a small buffer, strings made once per field.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.unicode cimport PyUnicode_DecodeASCII
from libc.string cimport memcmp

from ocn_core._http11_ref import MAX_FIELDS, REQUEST_METHODS

assert REQUEST_METHODS == {b"GET", b"POST", b"PUT", b"PATCH", b"DELETE", b"HEAD", b"OPTIONS"}

cdef int _MAX_LENGTH_DIGITS = 15
cdef Py_ssize_t _NAME_BUF = 64  # longer names are made lower-case by Python (rare)

# 1 for a tchar (RFC 9110 token character)
cdef unsigned char _TCHAR[256]
for _c in range(256):
    _TCHAR[_c] = 1 if chr(_c) in (
        "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    ) else 0


cdef inline Py_ssize_t _find_crlf(const unsigned char* p, Py_ssize_t i, Py_ssize_t n) noexcept:
    """Offset of the next CR LF at or after ``i`` (before ``n``), or -1."""
    while i + 1 < n:
        if p[i] == 13 and p[i + 1] == 10:
            return i
        i += 1
    return -1


cdef inline Py_ssize_t _find_head_end(const unsigned char* p, Py_ssize_t i,
                                      Py_ssize_t n) noexcept:
    while i + 3 < n:
        if p[i] == 13 and p[i + 1] == 10 and p[i + 2] == 13 and p[i + 3] == 10:
            return i
        i += 1
    return -1


cdef inline bint _visible(const unsigned char* p, Py_ssize_t i, Py_ssize_t j,
                          unsigned char low) noexcept:
    while i < j:
        if p[i] < low or p[i] > 0x7E:
            return False
        i += 1
    return True


cdef inline bint _known_method(const unsigned char* p, Py_ssize_t n) noexcept:
    """``p[:n]`` is one of ``REQUEST_METHODS`` (upper-case letters already checked)."""
    if n == 3:
        return memcmp(p, b"GET", 3) == 0 or memcmp(p, b"PUT", 3) == 0
    if n == 4:
        return memcmp(p, b"POST", 4) == 0 or memcmp(p, b"HEAD", 4) == 0
    if n == 5:
        return memcmp(p, b"PATCH", 5) == 0
    if n == 6:
        return memcmp(p, b"DELETE", 6) == 0
    return n == 7 and memcmp(p, b"OPTIONS", 7) == 0


cdef inline bint _lower_is(const unsigned char* p, Py_ssize_t i, Py_ssize_t j,
                           const char* word) noexcept:
    """``p[i:j]`` equals the lower-case ``word``, ignoring ASCII case."""
    cdef Py_ssize_t k = 0
    cdef unsigned char c
    while i < j:
        if word[k] == 0:
            return False
        c = p[i]
        if 65 <= c <= 90:
            c += 32
        if c != <unsigned char>word[k]:
            return False
        i += 1
        k += 1
    return word[k] == 0


cdef enum:
    _SPANS = 128  # == MAX_FIELDS (checked at import)
assert MAX_FIELDS == _SPANS


cdef struct _Head:
    # the fields of one head block: offsets of each name and value, and the framing
    Py_ssize_t count
    Py_ssize_t spans[4 * _SPANS]  # name start, name end, value start, value end
    long long length
    bint keep_alive


cdef bint _fields(const unsigned char* p, Py_ssize_t i, Py_ssize_t end, Py_ssize_t max_headers,
                  _Head* head) noexcept:
    """Read the ``name: value`` lines of ``p[i:end]`` and their framing into ``head``; False
    when declined."""
    cdef Py_ssize_t line_end, name_end, v, ve, k
    cdef long long length = -1
    cdef bint seen_length = False
    head.count = 0
    head.keep_alive = True
    head.length = -1
    if i >= end:
        return True
    while True:
        line_end = _find_crlf(p, i, end)
        if line_end < 0:
            line_end = end
        name_end = i
        while name_end < line_end and _TCHAR[p[name_end]]:
            name_end += 1
        if name_end == i or name_end >= line_end or p[name_end] != 58:  # ':'
            return False
        v = name_end + 1
        if v < line_end and p[v] == 32:
            v += 1
        ve = line_end
        if v >= ve or p[v] == 32 or p[ve - 1] == 32 or not _visible(p, v, ve, 0x20):
            return False
        if head.count >= max_headers or head.count >= _SPANS:
            return False
        # framing fields
        if _lower_is(p, i, name_end, b"content-length"):
            if seen_length or ve - v > _MAX_LENGTH_DIGITS:
                return False
            seen_length = True
            length = 0
            for k in range(v, ve):
                if not 48 <= p[k] <= 57:
                    return False
                length = length * 10 + (p[k] - 48)
        elif (_lower_is(p, i, name_end, b"transfer-encoding") or _lower_is(p, i, name_end, b"expect")
              or _lower_is(p, i, name_end, b"upgrade")):
            return False
        elif _lower_is(p, i, name_end, b"connection"):
            if _lower_is(p, v, ve, b"close"):
                head.keep_alive = False
            elif not _lower_is(p, v, ve, b"keep-alive"):
                return False
        k = 4 * head.count
        head.spans[k], head.spans[k + 1], head.spans[k + 2], head.spans[k + 3] = i, name_end, v, ve
        head.count += 1
        if line_end >= end:
            break
        i = line_end + 2
    head.length = length
    return True


cdef str _lower_name(const unsigned char* p, Py_ssize_t i, Py_ssize_t j):
    cdef char buf[64]
    cdef Py_ssize_t k
    cdef unsigned char c
    if j - i > _NAME_BUF:
        return PyUnicode_DecodeASCII(<const char*>p + i, j - i, NULL).lower()
    for k in range(j - i):
        c = p[i + k]
        buf[k] = <char>(c + 32 if 65 <= c <= 90 else c)
    return PyUnicode_DecodeASCII(buf, j - i, NULL)


cdef inline str _text(const unsigned char* p, Py_ssize_t i, Py_ssize_t j):
    return PyUnicode_DecodeASCII(<const char*>p + i, j - i, NULL)


def parse_request(bytes data, Py_ssize_t start, Py_ssize_t max_url, Py_ssize_t max_header_bytes,
                  Py_ssize_t max_headers, long long max_body):
    """The plain request at ``data[start:]`` (head and body complete), or None."""
    cdef const unsigned char* p = <const unsigned char*>PyBytes_AS_STRING(data)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(data)
    cdef Py_ssize_t end = _find_head_end(p, start, n)
    cdef Py_ssize_t line_end, m, t, te, q, body_at, k
    cdef Py_ssize_t* s
    cdef long long length
    cdef _Head head
    cdef dict headers
    if end < 0:
        return None
    line_end = _find_crlf(p, start, end + 2)
    m = start
    while m < line_end and 65 <= p[m] <= 90:
        m += 1
    if m == start or m >= line_end or p[m] != 32:
        return None
    if not _known_method(p + start, m - start):
        return None
    t = m + 1
    te = t
    while te < line_end and p[te] != 32:
        te += 1
    if te == t or p[t] != 47 or te - t > max_url or not _visible(p, t, te, 0x21):  # '/'
        return None
    if line_end - te != 9 or memcmp(p + te, b" HTTP/1.1", 9) != 0:
        return None
    q = t
    while q < te and p[q] != 63 and p[q] != 35:  # '?', '#'
        q += 1
    for k in range(q, te):
        if p[k] == 35:
            return None
    if line_end < end and end - (line_end + 2) > max_header_bytes:
        return None
    if not _fields(p, line_end + 2, end, max_headers, &head):
        return None
    length = head.length if head.length > 0 else 0
    body_at = end + 4
    if length > max_body or body_at + length > n:
        return None
    headers = {}
    for k in range(0, 4 * head.count, 4):
        s = &head.spans[0]
        headers[_lower_name(p, s[k], s[k + 1])] = _text(p, s[k + 2], s[k + 3])
    method = _text(p, start, m)
    path = _text(p, t, q)
    query = _text(p, q + 1, te) if q < te else ""
    body = data[body_at:body_at + length] if length else b""
    return (method, path, query, headers, body, head.keep_alive, body_at + length)


def parse_response(bytes data):
    """The plain response that is all of ``data`` (head and ``Content-Length`` body), or None."""
    cdef const unsigned char* p = <const unsigned char*>PyBytes_AS_STRING(data)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(data)
    cdef Py_ssize_t end = _find_head_end(p, 0, n)
    cdef Py_ssize_t line_end
    cdef int status
    cdef _Head head
    if end < 0:
        return None
    line_end = _find_crlf(p, 0, end + 2)
    if line_end < 12 or memcmp(p, b"HTTP/1.1 ", 9) != 0:
        return None
    if not (48 <= p[9] <= 57 and 48 <= p[10] <= 57 and 48 <= p[11] <= 57):
        return None
    if line_end > 12 and (p[12] != 32 or not _visible(p, 13, line_end, 0x20)):
        return None
    status = (p[9] - 48) * 100 + (p[10] - 48) * 10 + (p[11] - 48)
    if status < 200 or status == 204 or status == 304:
        return None
    if not _fields(p, line_end + 2, end, _SPANS, &head):
        return None
    if head.length < 0 or end + 4 + head.length != n:
        return None
    cdef Py_ssize_t k
    cdef Py_ssize_t* s = &head.spans[0]
    headers = [(_text(p, s[k], s[k + 1]), _text(p, s[k + 2], s[k + 3]))
               for k in range(0, 4 * head.count, 4)]
    return (status, headers, data[end + 4:], head.keep_alive, n)
