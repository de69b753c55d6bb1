"""Pure twin of the fast HTTP/1.1 message reader (:mod:`ocn_core.http11`).

It reads only the plainest form of a message and declines (``None``) everything else, so the
caller hands those bytes to the full parser (httptools) instead. What it accepts it reads exactly
as llhttp does, so the two parsers never disagree about a message; what it declines costs one
scan. Accepted: ``HTTP/1.1``, a complete head and a complete ``Content-Length`` body in the
bytes given, visible-ASCII targets and header values separated by single spaces, CRLF lines.
Declined: ``Transfer-Encoding``, ``Expect``, ``Upgrade``, repeated ``Content-Length``, tabs,
obs-text, obs-fold, bare CR or LF, trailing blanks, empty values, fragments, other versions,
and any message over the caller's limits (the full parser then refuses it as usual).
"""

from __future__ import annotations

REQUEST_METHODS = frozenset((b"GET", b"POST", b"PUT", b"PATCH", b"DELETE", b"HEAD", b"OPTIONS"))
_TCHAR = frozenset(b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_MAX_LENGTH_DIGITS = 15
MAX_FIELDS = 128  # more header lines than this: declined (the full parser reads them)
_NO_BODY_STATUS = (204, 304)

# (method, path, query, headers by lower-case name, body, keep-alive, end offset)
RequestMessage = tuple[str, str, str, dict[str, str], bytes, bool, int]
# (status, headers as sent, body, keep-alive, end offset)
ResponseMessage = tuple[int, list[tuple[str, str]], bytes, bool, int]


def _visible(chunk: bytes, low: int) -> bool:
    """Every byte of ``chunk`` in ``low``..0x7E (no controls, DEL, tabs or obs-text)."""
    return all(low <= c <= 0x7E for c in chunk)


def _fields(head: bytes, max_headers: int) -> list[tuple[bytes, bytes]] | None:
    """The ``name: value`` lines of a head block (without its first line), or None."""
    if not head:
        return []
    lines = head.split(b"\r\n")
    if len(lines) > max_headers:
        return None
    out = []
    for line in lines:
        name, colon, value = line.partition(b":")
        if not colon or not name or not all(c in _TCHAR for c in name):
            return None
        if value[:1] == b" ":
            value = value[1:]
        if not value or value[-1:] == b" " or value[:1] == b" " or not _visible(value, 0x20):
            return None
        out.append((name, value))
    return out


def _framing(
    fields: list[tuple[bytes, bytes]],
) -> tuple[int, bool] | None:
    """(Content-Length, keep-alive) of plain framing, or None for anything else."""
    length, keep_alive = -1, True
    for name, value in fields:
        lower = name.lower()
        if lower == b"content-length":
            if length >= 0 or not value.isdigit() or len(value) > _MAX_LENGTH_DIGITS:
                return None
            length = int(value)
        elif lower in (b"transfer-encoding", b"expect", b"upgrade"):
            return None
        elif lower == b"connection":
            token = value.lower()
            if token == b"close":
                keep_alive = False
            elif token != b"keep-alive":
                return None
    return length, keep_alive


def parse_request(
    data: bytes, start: int, max_url: int, max_header_bytes: int, max_headers: int, max_body: int
) -> RequestMessage | None:
    """The plain request at ``data[start:]`` (head and body complete), or None."""
    end = data.find(b"\r\n\r\n", start)
    if end < 0:
        return None
    line_end = data.find(b"\r\n", start, end + 2)
    line = data[start:line_end]
    method, sp, rest = line.partition(b" ")
    target, sp2, version = rest.partition(b" ")
    if not sp or not sp2 or version != b"HTTP/1.1" or method not in REQUEST_METHODS:
        return None
    if not target.startswith(b"/") or len(target) > max_url or not _visible(target, 0x21):
        return None
    if b"#" in target:
        return None
    block = data[line_end + 2 : end] if line_end < end else b""
    if len(block) > max_header_bytes:
        return None
    fields = _fields(block, min(max_headers, MAX_FIELDS))
    if fields is None:
        return None
    framing = _framing(fields)
    if framing is None:
        return None
    length, keep_alive = framing
    body_at = end + 4
    length = max(length, 0)
    if length > max_body or body_at + length > len(data):
        return None
    path, _, query = target.partition(b"?")
    headers = {n.decode("ascii").lower(): v.decode("ascii") for n, v in fields}
    body = data[body_at : body_at + length]
    return (method.decode("ascii"), path.decode("ascii"), query.decode("ascii"), headers, body,
            keep_alive, body_at + length)  # fmt: skip


def parse_response(data: bytes) -> ResponseMessage | None:
    """The plain response that is all of ``data`` (head and ``Content-Length`` body), or None."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None
    line_end = data.find(b"\r\n", 0, end + 2)
    line = data[:line_end]
    if len(line) < 12 or line[:9] != b"HTTP/1.1 " or not line[9:12].isdigit():
        return None
    if len(line) > 12 and (line[12:13] != b" " or not _visible(line[13:], 0x20)):
        return None
    status = int(line[9:12])
    if status < 200 or status in _NO_BODY_STATUS:
        return None
    fields = _fields(data[line_end + 2 : end] if line_end < end else b"", MAX_FIELDS)
    if fields is None:
        return None
    framing = _framing(fields)
    if framing is None or framing[0] < 0 or end + 4 + framing[0] != len(data):
        return None
    headers = [(n.decode("ascii"), v.decode("ascii")) for n, v in fields]
    return status, headers, data[end + 4 :], framing[1], len(data)
