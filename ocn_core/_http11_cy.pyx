# cython: language_level=3, boundscheck=False, wraparound=False
"""Compiled twin of :mod:`ocn_core._http11_ref` (differential tests check they agree).

One pass over the head in C, eight bytes per step where it can: the request line, each
``name: value`` line checked against the same byte classes up to its CR LF, strings made once per
field straight from the checked bytes (names lower-cased as they are copied).
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.string cimport memcmp, memcpy

import sys

from ocn_core._http11_ref import MAX_FIELDS, REQUEST_METHODS

assert REQUEST_METHODS == {b"GET", b"POST", b"PUT", b"PATCH", b"DELETE", b"HEAD", b"OPTIONS"}

cdef int _MAX_LENGTH_DIGITS = 15

# 1 for a tchar (RFC 9110 token character)
cdef unsigned char _TCHAR[256]
for _c in range(256):
    _TCHAR[_c] = 1 if chr(_c) in (
        "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    ) else 0


cdef extern from "Python.h":
    object PyUnicode_New(Py_ssize_t size, unsigned int maxchar)
    unsigned char *PyUnicode_1BYTE_DATA(object s)
    Py_ssize_t PyUnicode_GET_LENGTH(object s)

cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    /* Offset of the first byte at or after i (before n) outside low..0x7E (low <= 0x80), or n.
       Eight bytes per step: has-less-than and has-more-than word tests, exact for existence. */
    static inline Py_ssize_t ocn_visible_run(const unsigned char *p, Py_ssize_t i, Py_ssize_t n,
                                             unsigned char low) {
        const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
        const uint64_t lows = ones * low;
        uint64_t w, bad;
        while (i + 8 <= n) {
            memcpy(&w, p + i, 8);
            bad = (((w - lows) & ~w) | (w + ones) | w) & highs;
            if (bad) {  /* the lowest flagged byte is exact (carries only move upwards) */
            #if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
                return i + (__builtin_ctzll(bad) >> 3);
            #else
                break;
            #endif
            }
            i += 8;
        }
        while (i < n && p[i] >= low && p[i] <= 0x7E) i++;
        return i;
    }
    """
    Py_ssize_t ocn_visible_run(const unsigned char *p, Py_ssize_t i, Py_ssize_t n,
                               unsigned char low) noexcept nogil


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
    Py_ssize_t block  # bytes between the first line's CRLF and the last field's CRLF
    long long length
    bint keep_alive


cdef Py_ssize_t _fields(const unsigned char* p, Py_ssize_t i, Py_ssize_t n,
                        Py_ssize_t max_headers, _Head* head) noexcept:
    """Read the ``name: value`` lines from ``p[i:n]`` up to the empty line, and their framing,
    into ``head``: the offset after the empty line, or -1 when declined or incomplete. Every
    line is visible ASCII, so the first empty line is the first CR LF CR LF of the head."""
    cdef Py_ssize_t name_end, v, ve, k, first = i
    cdef long long length = -1
    cdef bint seen_length = False
    head.count = 0
    head.keep_alive = True
    head.length = -1
    head.block = 0
    while True:
        if i + 1 >= n:
            return -1
        if p[i] == 13:
            if p[i + 1] != 10:
                return -1
            break
        name_end = i
        while name_end < n and _TCHAR[p[name_end]]:
            name_end += 1
        if name_end == i or name_end >= n or p[name_end] != 58:  # ':'
            return -1
        v = name_end + 1
        if v < n and p[v] == 32:
            v += 1
        ve = ocn_visible_run(p, v, n, 0x20)
        if ve + 1 >= n or p[ve] != 13 or p[ve + 1] != 10:
            return -1
        if v >= ve or p[v] == 32 or p[ve - 1] == 32:
            return -1
        if head.count >= max_headers or head.count >= _SPANS:
            return -1
        # framing fields (told apart by length first: most names are none of them)
        k = name_end - i
        if k != 14 and k != 17 and k != 6 and k != 7 and k != 10:
            pass
        elif _lower_is(p, i, name_end, b"content-length"):
            if seen_length or ve - v > _MAX_LENGTH_DIGITS:
                return -1
            seen_length = True
            length = 0
            for k in range(v, ve):
                if not 48 <= p[k] <= 57:
                    return -1
                length = length * 10 + (p[k] - 48)
        elif (_lower_is(p, i, name_end, b"transfer-encoding") or _lower_is(p, i, name_end, b"expect")
              or _lower_is(p, i, name_end, b"upgrade")):
            return -1
        elif _lower_is(p, i, name_end, b"connection"):
            if _lower_is(p, v, ve, b"close"):
                head.keep_alive = False
            elif not _lower_is(p, v, ve, b"keep-alive"):
                return -1
        k = 4 * head.count
        head.spans[k], head.spans[k + 1], head.spans[k + 2], head.spans[k + 3] = i, name_end, v, ve
        head.count += 1
        i = ve + 2
    if head.count:
        head.block = i - 2 - first
    head.length = length
    return i + 2


# the request header names a node reads on every request: given as these very objects (no new
# string; interning hashed them already for the dicts they go into)
cdef tuple _KNOWN_NAMES = tuple(sys.intern(name) for name in (
    "authorization", "x-request-id", "x-correlation-id", "ocpi-from-country-code",
    "ocpi-from-party-id", "ocpi-to-country-code", "ocpi-to-party-id", "content-type",
    "content-length", "ocn-signature", "host", "connection", "user-agent", "accept",
    "accept-encoding",
))


cdef str _lower_name(const unsigned char* p, Py_ssize_t i, Py_ssize_t j):
    cdef object known
    for known in _KNOWN_NAMES:
        if (PyUnicode_GET_LENGTH(known) == j - i
                and _lower_is(p, i, j, <const char*>PyUnicode_1BYTE_DATA(known))):
            return <str>known
    cdef str s = PyUnicode_New(j - i, 127)
    cdef unsigned char* d = PyUnicode_1BYTE_DATA(s)
    cdef Py_ssize_t k
    cdef unsigned char c
    for k in range(j - i):
        c = p[i + k]
        d[k] = c + 32 if 65 <= c <= 90 else c
    return s


cdef inline str _text(const unsigned char* p, Py_ssize_t i, Py_ssize_t j):
    """``p[i:j]``, checked ASCII already, as a str (no decoding pass)."""
    cdef str s = PyUnicode_New(j - i, 127)
    if j > i:
        memcpy(PyUnicode_1BYTE_DATA(s), p + i, j - i)
    return s


def parse_request(bytes data, Py_ssize_t start, Py_ssize_t max_url, Py_ssize_t max_header_bytes,
                  Py_ssize_t max_headers, long long max_body):
    """The plain request at ``data[start:]`` (head and body complete), or None."""
    cdef const unsigned char* p = <const unsigned char*>PyBytes_AS_STRING(data)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(data)
    cdef Py_ssize_t m, t, te, q, body_at, k
    cdef Py_ssize_t* s
    cdef long long length
    cdef _Head head
    cdef dict headers
    m = start
    while m < n and 65 <= p[m] <= 90:
        m += 1
    if m == start or m >= n or p[m] != 32:
        return None
    if not _known_method(p + start, m - start):
        return None
    t = m + 1
    te = ocn_visible_run(p, t, n, 0x21)
    if te == t or p[t] != 47 or te - t > max_url:  # '/'
        return None
    if n - te < 11 or memcmp(p + te, b" HTTP/1.1\r\n", 11) != 0:
        return None
    q = t
    while q < te and p[q] != 63 and p[q] != 35:  # '?', '#'
        q += 1
    for k in range(q, te):
        if p[k] == 35:
            return None
    body_at = _fields(p, te + 11, n, max_headers, &head)
    if body_at < 0 or head.block > max_header_bytes:
        return None
    length = head.length if head.length > 0 else 0
    if length > max_body or body_at + length > n:
        return None
    headers = {}
    s = &head.spans[0]
    for k in range(0, 4 * head.count, 4):
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
    cdef Py_ssize_t line_end, body_at
    cdef int status
    cdef _Head head
    if n < 14 or memcmp(p, b"HTTP/1.1 ", 9) != 0:
        return None
    if not (48 <= p[9] <= 57 and 48 <= p[10] <= 57 and 48 <= p[11] <= 57):
        return None
    line_end = 12
    if p[12] != 13:
        if p[12] != 32:
            return None
        line_end = ocn_visible_run(p, 13, n, 0x20)
    if line_end + 1 >= n or p[line_end] != 13 or p[line_end + 1] != 10:
        return None
    status = (p[9] - 48) * 100 + (p[10] - 48) * 10 + (p[11] - 48)
    if status < 200 or status == 204 or status == 304:
        return None
    body_at = _fields(p, line_end + 2, n, _SPANS, &head)
    if body_at < 0 or head.length < 0 or body_at + head.length != n:
        return None
    cdef Py_ssize_t k
    cdef Py_ssize_t* s = &head.spans[0]
    headers = [(_text(p, s[k], s[k + 1]), _text(p, s[k + 2], s[k + 3]))
               for k in range(0, 4 * head.count, 4)]
    return (status, headers, data[body_at:], head.keep_alive, n)
