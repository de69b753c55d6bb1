"""A lean HTTP/1.1 server: asyncio Protocol + httptools, keep-alive, in-order pipelining.

Chosen by measurement (../shared/docs/perf-baselines.md): a bare uvloop + httptools server costs
~22 µs per request against ~114 µs for aiohttp's server on this machine. It does only what the
gateway needs: request line, headers, a size-limited body, and whole responses.

The front door is bounded (:class:`Limits`): request target, header block and count, body,
header-read / body-idle / keep-alive timeouts, open connections per server, and pipelined
requests per connection (reading stops while answers queue up or the write buffer is full).
Refusals are built by the caller's ``refuse(status, message, headers)`` so that they carry the
caller's envelope and ids. The timeouts cost nothing per request: one sweep per server checks
every connection's progress counters a few times per timeout.
"""

from __future__ import annotations

import asyncio
import dataclasses
import resource
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httptools
import structlog

from ocn_core.adapters.write_burst import WriteBurst, write_burst
from ocn_core.config import Settings
from ocn_core.http11 import parse_request
from ocn_core.wire import response_bytes

log = structlog.get_logger(__name__)

REASONS = {
    200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 401: "Unauthorized",
    403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout",
    413: "Payload Too Large", 414: "URI Too Long", 429: "Too Many Requests",
    431: "Request Header Fields Too Large", 500: "Internal Server Error", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Gateway Timeout",
}  # fmt: skip
STATUS_LINES = {code: f"HTTP/1.1 {code} {reason}\r\n" for code, reason in REASONS.items()}

# what a connection is doing, for the sweep
_IDLE, _HEAD, _BODY, _LINGER = 0, 1, 2, 3
_LINGER_S = 2.0  # a refused connection drains the client's rest for at most this long ...
_LINGER_BYTES = 1 << 20  # ... or this many bytes, so the client reads the refusal (no RST)
PARSE_SLICE = 16384  # a bigger read is parsed in slices, so a full queue stops the parsing
_FD_RESERVE = 64  # descriptors kept for LMDB, logs, the balancer channel, outbound setup


@dataclass(frozen=True, slots=True)
class Limits:
    """Front-door bounds of one server (0 disables a timeout); defaults live in Settings."""

    max_body: int
    max_url: int
    max_header_bytes: int
    max_headers: int
    header_timeout: float
    body_timeout: float
    keepalive_timeout: float
    max_connections: int
    max_pipelined: int

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **changes: Any) -> Limits:
        """The limits of ``settings`` (default: the node's defaults), with ``changes``."""
        s = settings or Settings()
        limits = cls(
            s.max_body_bytes,
            s.max_url_bytes,
            s.max_header_bytes,
            s.max_header_count,
            s.header_timeout,
            s.body_timeout,
            s.keepalive_timeout,
            s.max_connections,
            s.max_pipelined,
        )
        return dataclasses.replace(limits, **changes) if changes else limits


@dataclass(slots=True)
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]  # lower-case names
    body: bytes


@dataclass(slots=True)
class Response:
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


class Answer(Protocol):
    """What a handler returns: a :class:`Response`, or any object with its three fields (the
    gateway returns the engine's RouteResponse as it is)."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


Handler = Callable[[Request], Awaitable[Answer]]  # may return a coroutine or any awaitable
# (HTTP status, message, headers parsed so far) -> the refusal to send before closing
Refuse = Callable[[int, str, dict[str, str]], Response]


def plain_refusal(status: int, message: str, headers: dict[str, str]) -> Response:
    """A text/plain refusal (for servers that speak no OCPI)."""
    return Response(status, [("Content-Type", "text/plain")], message.encode())


class _Refusal(Exception):
    """Raised in a parser callback: stop parsing, answer ``status`` and close."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class HttpFront:
    """What the connections of one server share: handler, limits, refusals, the open set.

    ``front.protocol`` is the protocol factory (``on_close`` is told when a connection ends,
    as the balancer's ``receive_connections`` wants).
    """

    def __init__(self, handler: Handler, limits: Limits, refuse: Refuse = plain_refusal) -> None:
        self.handler, self.limits, self.refuse = handler, limits, refuse
        self.cap = connection_cap(limits.max_connections)
        self.head_cap = limits.max_url + limits.max_header_bytes + 4096
        self.connections: set[HttpProtocol] = set()
        timeouts = [t for t in (limits.header_timeout, limits.body_timeout,
                                limits.keepalive_timeout, _LINGER_S) if t > 0]  # fmt: skip
        self.tick = min(1.0, max(0.02, min(timeouts) / 4))
        self._sweeper: asyncio.TimerHandle | None = None
        self.refused = 0  # connections refused in the current burst over the cap

    def protocol(self, on_close: Callable[[], None] | None = None) -> HttpProtocol:
        return HttpProtocol(self, on_close)

    def opened(self, conn: HttpProtocol) -> bool:
        """Count a new connection; False when it is over the cap (it is refused)."""
        if len(self.connections) >= self.cap:
            if not self.refused:
                log.warning("connection_limit_reached", limit=self.cap)
            self.refused += 1
            return False
        self.connections.add(conn)
        if self._sweeper is None:
            loop = asyncio.get_running_loop()
            self._sweeper = loop.call_later(self.tick, self._sweep, loop)
        return True

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        for conn in list(self.connections):
            conn.check(now)
        if self.refused and len(self.connections) < self.cap:
            log.warning("connection_limit_burst_ended", limit=self.cap, refused=self.refused)
            self.refused = 0
        self._sweeper = loop.call_later(self.tick, self._sweep, loop) if self.connections else None


def connection_cap(wanted: int) -> int:
    """``wanted`` bounded so that inbound plus one outbound connection each fit the fd limit."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return max(1, wanted)
    return max(1, min(wanted, (soft - _FD_RESERVE) // 2))


class HttpProtocol(asyncio.Protocol):
    """One client connection; requests are answered in the order they arrived."""

    def __init__(self, front: HttpFront, on_close: Callable[[], None] | None = None) -> None:
        self.front = front
        self.handler = front.handler
        self.max_body = front.limits.max_body
        self.max_url = front.limits.max_url
        self.on_close = on_close
        self.transport: asyncio.Transport | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.burst: WriteBurst  # the loop's, from connection_made
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.headers: dict[str, str] = {}
        self.body: list[bytes] = []
        self.body_size = 0
        # (request, keep-alive); (None, False) stands for ``final``, a refusal owed after them
        self.queue: deque[tuple[Request | None, bool]] = deque()
        self.final: Response | None = None
        self.busy = False
        self.task: asyncio.Future[None] | None = None
        self.waiter: asyncio.Future[None] | None = None  # the drain task, parked between requests
        # progress, read by the sweep
        self.phase = _IDLE
        self.seq = 0  # requests begun
        self.received = 0  # data_received calls
        self.head_bytes = 0  # bytes received while a header block is incomplete
        self.feeding = 0  # bytes of the piece being parsed
        self.closing = False  # refused: ignore the rest, drain briefly, close
        self.lingered = 0
        self.read_paused = False
        self.pending = b""  # read but not parsed while the queue was full
        self.write_paused: asyncio.Future[None] | None = None
        self._mark: tuple[int, int, int] = (-1, -1, -1)
        self._since = 0.0

    # asyncio callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.loop = asyncio.get_running_loop()  # (asked once: each ask costs a getpid in 3.11)
        self.burst = write_burst(self.loop)
        self.burst.connections += 1
        if not self.front.opened(self):
            headers = [("Retry-After", "1")]
            resp = self.front.refuse(503, "Too many open connections", {})
            self._write(Response(resp.status, resp.headers + headers, resp.body), False)
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)  # the parked drain task sees no transport and ends
        self.burst.connections -= 1
        self.front.connections.discard(self)
        if self.write_paused is not None and not self.write_paused.done():
            self.write_paused.set_result(None)
        if self.on_close is not None:
            self.on_close()

    def pause_writing(self) -> None:
        """The transport's write buffer is over its high-water mark: stop reading too."""
        if self.write_paused is None or self.write_paused.done():
            self.write_paused = asyncio.get_running_loop().create_future()
        self._pause_reading()

    def resume_writing(self) -> None:
        waiter, self.write_paused = self.write_paused, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if len(self.queue) < self.front.limits.max_pipelined:
            self._resume_reading()

    def data_received(self, data: bytes) -> None:
        if self.closing:
            self.lingered += len(data)
            if self.lingered > _LINGER_BYTES:
                self.close()
            return
        self.received += 1
        if self.pending or self.read_paused:
            self.pending += data
            return
        if self.phase == _IDLE:  # plain whole messages first, then the rest to httptools
            start = self._read_plain(data)
            if start:
                if start >= len(data):
                    return
                if self._halted():
                    self.pending = data[start:]
                    return
                data = data[start:]
        try:
            # a big read is parsed in slices: parsing stops where the queue is full and the
            # rest is kept raw; a small read (the common case) is one pass of this loop
            size, start = len(data), 0
            while True:
                piece = data if size <= PARSE_SLICE else data[start : start + PARSE_SLICE]
                self.feeding = len(piece)
                if self.phase == _HEAD:
                    self.head_bytes += self.feeding
                self.parser.feed_data(piece)
                # a header block still open after it may not exceed the node's cap
                if self.phase == _HEAD and self.head_bytes > self.front.head_cap:
                    raise _Refusal(431, "Request header block too large")
                start += PARSE_SLICE
                if start >= size:
                    break
                if self._halted():  # set by the parser callbacks of the last slice
                    self.pending = data[start:]
                    break
        except _Refusal as refusal:
            self._refuse(refusal.status, refusal.message)
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__
            if isinstance(cause, _Refusal):
                self._refuse(cause.status, cause.message)
            else:
                log.warning("http_callback_failed", error=repr(cause))
                self._refuse(400, "Malformed HTTP request")
        except httptools.HttpParserUpgrade:
            self._refuse(400, "Upgrade not supported")
        except httptools.HttpParserError:
            self._refuse(400, "Malformed HTTP request")

    def _read_plain(self, data: bytes) -> int:
        """Queue the plain, complete messages at the start of ``data`` (see
        :mod:`ocn_core.http11`); the offset where the rest begins."""
        limits, start = self.front.limits, 0
        while True:
            found = parse_request(data, start, limits.max_url, limits.max_header_bytes,
                                  limits.max_headers, limits.max_body)  # fmt: skip
            if found is None:
                return start
            method, path, query, headers, body, keep_alive, start = found
            self.seq += 1
            self.headers = headers
            self._queue(Request(method, path, query, headers, body), keep_alive)
            if start >= len(data) or self._halted():
                return start

    def _halted(self) -> bool:
        return self.read_paused or self.closing

    # httptools callbacks
    def on_message_begin(self) -> None:
        self.url, self.headers, self.body, self.body_size = b"", {}, [], 0
        self.phase, self.head_bytes = _HEAD, 0
        self.seq += 1

    def on_url(self, url: bytes) -> None:
        self.url += url
        if len(self.url) > self.max_url:
            raise _Refusal(414, "Request target too long")

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def _check_headers(self) -> None:
        """431 for too many header lines or bytes. head_bytes + feeding bounds the block from
        above, so only a block that may be too large is measured (no per-request callback:
        this runs at the first body byte or at the end of the message)."""
        limits = self.front.limits
        if (
            len(self.headers) > limits.max_headers
            or self.head_bytes + self.feeding > limits.max_header_bytes
        ) and (
            len(self.headers) > limits.max_headers
            or sum(len(k) + len(v) + 4 for k, v in self.headers.items()) > limits.max_header_bytes
        ):
            raise _Refusal(431, "Request header fields too large")

    def on_body(self, body: bytes) -> None:
        if self.phase == _HEAD:
            self._check_headers()
            self.phase = _BODY
        self.body_size += len(body)
        if self.body_size > self.max_body:
            raise _Refusal(413, "Request body exceeds the node's size limit")
        self.body.append(body)

    def on_message_complete(self) -> None:
        if self.phase == _HEAD:  # no body
            self._check_headers()
        self.phase = _IDLE
        parsed = httptools.parse_url(self.url)
        request = Request(
            self.parser.get_method().decode("ascii"),
            (parsed.path or b"/").decode("utf-8", "replace"),
            (parsed.query or b"").decode("utf-8", "replace"),
            self.headers,
            b"".join(self.body),
        )
        self._queue(request, self.parser.should_keep_alive())

    def _queue(self, request: Request, keep_alive: bool) -> None:
        self.queue.append((request, keep_alive))
        if not self.busy:
            self.busy = True
            waiter, self.waiter = self.waiter, None
            if waiter is not None:  # wake the connection's drain task (no new task per request)
                waiter.set_result(None)
            else:
                self.task = (self.loop or asyncio.get_running_loop()).create_task(self._drain())
        elif len(self.queue) >= self.front.limits.max_pipelined:
            self._pause_reading()

    async def _drain(self) -> None:
        """Answer the queued requests in order, then park until :meth:`_queue` wakes it: one
        task per connection, not per request. It ends with the connection."""
        try:
            while True:
                while self.queue:
                    item, keep_alive = self.queue.popleft()
                    if item is None:  # the refusal queued behind the earlier answers
                        if self.final is not None:
                            self._write(self.final, keep_alive=False)
                        self._linger()
                        return
                    try:
                        response = await self.handler(item)
                    except Exception:
                        log.exception("unhandled_error", method=item.method, path=item.path)
                        response = Response(
                            500, [("Content-Type", "text/plain")], b"Internal Server Error"
                        )
                    self._write(response, keep_alive)
                    if not keep_alive:
                        self.close()
                        return
                    if self.write_paused is not None:
                        await self.write_paused  # the client is not reading: wait for it
                    if self.read_paused and len(self.queue) < self.front.limits.max_pipelined:
                        self._resume_reading()
                self.busy = False
                if self.transport is None:
                    return
                self.waiter = waiter = (self.loop or asyncio.get_running_loop()).create_future()
                await waiter  # set by _queue (busy again) or by connection_lost (queue empty)
        finally:
            self.busy = False

    def _write(self, response: Answer, keep_alive: bool = True) -> None:
        if self.transport is None:
            return
        status = response.status
        line = STATUS_LINES.get(status) or f"HTTP/1.1 {status} Unknown\r\n"
        data = response_bytes(line, response.headers, response.body, keep_alive)
        if keep_alive:
            self.burst.write(self.transport, data)
        else:  # a close follows
            self.burst.write_now(self.transport, data)

    def _refuse(self, status: int, message: str) -> None:
        """Answer ``status`` after the answers already owed, read nothing more, close."""
        self.closing = True
        self.phase = _LINGER
        response = self.front.refuse(status, message, self.headers)
        if self.busy:
            self.final = response
            self.queue.append((None, False))
        else:
            self._write(response, keep_alive=False)
            self._linger()

    def _linger(self) -> None:
        """Half-close after a refusal; the sweep closes after a short drain of the client's rest."""
        self.closing = True
        self.phase = _LINGER
        self._resume_reading()
        if self.transport is not None and self.transport.can_write_eof():
            self.burst.flush()
            self.transport.write_eof()
        else:
            self.close()

    def _pause_reading(self) -> None:
        if not self.read_paused and self.transport is not None:
            self.read_paused = True
            self.transport.pause_reading()

    def _resume_reading(self) -> None:
        if self.read_paused and self.transport is not None:
            self.read_paused = False
            self.transport.resume_reading()
            if self.pending and not self.closing:
                data, self.pending = self.pending, b""
                self.received -= 1  # not a new read
                self.data_received(data)

    def check(self, now: float) -> None:
        """The sweep: apply the timeout of what this connection has been doing since its mark."""
        limits = self.front.limits
        phase = self.phase
        if phase == _IDLE and self.busy and self.write_paused is None:
            self._mark = (-1, -1, -1)  # the node is working on it: no client timeout applies
            return
        if phase == _HEAD:
            mark, timeout = (phase, self.seq, 0), limits.header_timeout  # total, not idle
        elif phase == _BODY:
            mark, timeout = (phase, self.seq, self.received), limits.body_timeout
        elif phase == _LINGER:
            mark, timeout = (phase, 0, 0), _LINGER_S
        else:  # idle keep-alive, or answers stuck in a client that does not read
            mark, timeout = (phase, self.received, self.seq), limits.keepalive_timeout
        if mark != self._mark:
            self._mark, self._since = mark, now
            return
        if timeout <= 0 or now - self._since < timeout:
            return
        if phase in (_HEAD, _BODY):
            what = "headers" if phase == _HEAD else "body"
            self._refuse(408, f"Timed out reading the request {what}")
        elif self.write_paused is not None and self.transport is not None:
            self.transport.abort()  # answers the client does not read: drop them
        else:
            self.close()

    def close(self) -> None:
        """Close the connection after the answers written so far (held ones included)."""
        if self.transport is not None:
            self.burst.flush()
            self.transport.close()
            self.transport = None


async def serve(
    handler: Handler | HttpFront,
    host: str,
    port: int,
    limits: Limits | None = None,
    refuse: Refuse = plain_refusal,
) -> asyncio.Server:
    """Listen on ``host:port``; ``handler`` may be a ready :class:`HttpFront`."""
    front = (
        handler
        if isinstance(handler, HttpFront)
        else HttpFront(handler, limits or Limits.from_settings(), refuse)
    )
    loop = asyncio.get_running_loop()
    return await loop.create_server(front.protocol, host, port, backlog=4096)
