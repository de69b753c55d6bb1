"""The fast HTTP/1.1 reader: both twins agree, and whatever it accepts httptools reads the same way
(so handing a declined message to httptools can never change how a message is understood)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import httptools
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ocn_core import _http11_ref, http11

try:
    from ocn_core import _http11_cy

    COMPILED: ModuleType | None = _http11_cy
except ImportError:  # pure build
    COMPILED = None

TWINS = [_http11_ref] + ([COMPILED] if COMPILED is not None else [])
LIMITS = (8192, 65536, 100, 1 << 20)  # max_url, max_header_bytes, max_headers, max_body

PLAIN = (
    b"GET /ocpi/2.2.1/locations/1?date_from=x HTTP/1.1\r\nHost: a\r\n"
    b"Authorization: Token abc\r\nX-Request-ID: 1\r\n\r\n"
)
PIECES = st.sampled_from([
    b"GET", b"POST", b"PUT", b"get", b"BREW", b" ", b"  ", b"/", b"/a/b", b"?q=1&r", b"#f", b"%2F",
    b"HTTP/1.1", b"HTTP/1.0", b"\r\n", b"\n", b"\r", b"\t", b":", b": ", b":  ", b"Host", b"x-a",
    b"Content-Length", b"content-length: 3", b"Transfer-Encoding: chunked", b"Connection: close",
    b"Connection: keep-alive", b"Connection: upgrade", b"Expect: 100-continue", b"abc", b"\x00",
    b"\x7f", b"\xc3\xa9", b"0", b"12", b" v", b"v ", b"a b", b"\r\n\r\n", b"{}", b"200 OK",
])  # fmt: skip


@st.composite
def messages(draw: st.DrawFn, response: bool) -> bytes:
    """A plain message, then a few random edits from pieces that matter to HTTP framing."""
    body = draw(st.sampled_from([b"", b"{}", b"abc", b'{"a": 1}']))
    lines = [b"HTTP/1.1 200 OK" if response else b"POST /a/b?x=1 HTTP/1.1", b"Host: h"]
    lines += [b"X-" + draw(st.sampled_from([b"A", b"b", b"Id"])) + b": " + v
              for v in draw(st.lists(st.sampled_from([b"1", b"v w", b"t"]), max_size=3))]  # fmt: skip
    if response or body or draw(st.booleans()):
        lines.append(b"Content-Length: %d" % len(body))
    raw = b"\r\n".join(lines) + b"\r\n\r\n" + body
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(raw)))
        cut = draw(st.integers(0, 3))
        raw = raw[:at] + draw(PIECES) + raw[at + cut :]
    return raw


class _Request:
    def __init__(self) -> None:
        self.url, self.body, self.done = b"", b"", 0
        self.headers: dict[str, str] = {}
        self.parser: Any = None
        self.keep_alive = False

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        self.done += 1
        self.keep_alive = self.parser.should_keep_alive()  # as the server and client read it


class _Response(_Request):
    def __init__(self) -> None:
        super().__init__()
        self.fields: list[tuple[str, str]] = []

    def on_header(self, name: bytes, value: bytes) -> None:
        self.fields.append((name.decode("latin-1"), value.decode("latin-1")))


def _httptools_request(raw: bytes) -> tuple[Any, ...]:
    sink = _Request()
    parser = sink.parser = httptools.HttpRequestParser(sink)
    parser.feed_data(raw)
    assert sink.done == 1
    url = httptools.parse_url(sink.url)
    return (parser.get_method().decode(), (url.path or b"/").decode(), (url.query or b"").decode(),
            sink.headers, sink.body, sink.keep_alive)  # fmt: skip


def _httptools_response(raw: bytes) -> tuple[Any, ...]:
    sink = _Response()
    parser = sink.parser = httptools.HttpResponseParser(sink)
    parser.feed_data(raw)
    assert sink.done == 1
    return parser.get_status_code(), sink.fields, sink.body, sink.keep_alive


@settings(max_examples=600, deadline=None)
@given(messages(response=False))
@example(PLAIN)
def test_request_twins_agree_and_httptools_reads_what_is_accepted(raw: bytes) -> None:
    found = [m.parse_request(raw, 0, *LIMITS) for m in TWINS]
    assert all(f == found[0] for f in found)
    if found[0] is not None:
        method, path, query, headers, body, keep_alive, end = found[0]
        assert _httptools_request(raw[:end]) == (method, path, query, headers, body, keep_alive)


@settings(max_examples=600, deadline=None)
@given(messages(response=True))
def test_response_twins_agree_and_httptools_reads_what_is_accepted(raw: bytes) -> None:
    found = [m.parse_response(raw) for m in TWINS]
    assert all(f == found[0] for f in found)
    if found[0] is not None:
        status, headers, body, keep_alive, end = found[0]
        assert end == len(raw)
        assert _httptools_response(raw) == (status, headers, body, keep_alive)


LONG = b"abcdefghijklmnopqrstuvwxyz0123"  # longer than the compiled twin's 8-byte steps


@pytest.mark.parametrize("where", ["target", "value", "reason"])
def test_every_byte_at_every_offset_of_a_long_field(where: str) -> None:
    """Each byte value at each offset of a long target, header value or reason phrase: the
    twins accept and decline the same messages (the word-at-a-time scan against the bytewise)."""
    for at in range(len(LONG)):
        for byte in range(256):
            text = LONG[:at] + bytes((byte,)) + LONG[at + 1 :]
            if where == "reason":
                raw = b"HTTP/1.1 200 " + text + b"\r\nContent-Length: 2\r\n\r\n{}"
                found = [m.parse_response(raw) for m in TWINS]
            else:
                target, value = (b"/" + text, b"v") if where == "target" else (b"/", text)
                raw = b"GET " + target + b" HTTP/1.1\r\nX-Long: " + value + b"\r\nHost: h\r\n\r\n"
                found = [m.parse_request(raw, 0, *LIMITS) for m in TWINS]
            assert all(f == found[0] for f in found), (at, byte)
            visible = 0x20 <= byte <= 0x7E
            if where == "target":
                visible = visible and byte not in b" #"
            elif where == "value" and at in (0, len(LONG) - 1):
                visible = visible and byte != 0x20  # no blank at either end of a value
            assert (found[0] is not None) == visible, (at, byte)


def test_plain_request_is_read_with_its_offset() -> None:
    two = PLAIN + PLAIN.replace(b"GET", b"DELETE")
    first = http11.parse_request(two, 0, *LIMITS)
    assert first is not None
    assert (first[0], first[2]) == ("GET", "date_from=x")
    second = http11.parse_request(two, first[6], *LIMITS)
    assert second is not None
    assert (second[0], second[6]) == ("DELETE", len(two))
    assert second[3] == {"host": "a", "authorization": "Token abc", "x-request-id": "1"}


@pytest.mark.parametrize(
    "raw",
    [
        PLAIN[:-1],  # head not complete
        b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nabc",  # body not complete
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\na",
        b"GET / HTTP/1.0\r\n\r\n",
        b"GET /a#b HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nX: a\tb\r\n\r\n",
        b"GET / HTTP/1.1\r\nX: \xc3\xa9\r\n\r\n",
        b"GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n",  # obs-fold
        b"GET / HTTP/1.1\nX: a\r\n\r\n",  # bare LF
        b"GET / HTTP/1.1\r\nUpgrade: h2c\r\n\r\n",
        b"GET / HTTP/1.1\r\nX:\r\n\r\n",  # empty value
        b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n",  # over max_url: the full parser says 414
        b"POST / HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n",  # over max_body: 413 there
    ],
)
def test_declined_requests_go_to_the_full_parser(raw: bytes) -> None:
    for twin in TWINS:
        assert twin.parse_request(raw, 0, *LIMITS) is None


def test_header_count_and_block_limits_decline() -> None:
    many = b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(101)) + b"\r\n"
    for twin in TWINS:
        assert twin.parse_request(many, 0, *LIMITS) is None
        assert twin.parse_request(many, 0, 8192, 65536, 200, 1 << 20) is not None
        assert twin.parse_request(many, 0, 8192, 100, 200, 1 << 20) is None


@pytest.mark.parametrize(
    "raw",
    [
        b"HTTP/1.1 200 OK\r\nContent-Type: a\r\n\r\n{}",  # no length: read until close
        b"HTTP/1.1 204 No Content\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}extra",
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
    ],
)
def test_declined_responses_go_to_the_full_parser(raw: bytes) -> None:
    for twin in TWINS:
        assert twin.parse_response(raw) is None
