"""A lean HTTP/1.1 client: asyncio Protocols + httptools, keep-alive pools per origin.

Measured on this machine a bare uvloop+httptools forwarding pool costs ~38 µs per request
against ~270 µs for aiohttp's ClientSession (../shared/docs/perf-baselines.md), so the hub's
outbound leg uses this. TLS via the standard ``ssl`` module for https origins.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from collections.abc import Callable
from urllib.parse import urlsplit

import httptools

from ocn_core.adapters.write_burst import WriteBurst, write_burst
from ocn_core.http11 import parse_response
from ocn_core.transport import HttpResult, TransportTimeout, TransportUnreachable
from ocn_core.wire import request_bytes

_Origin = tuple[str, str, int]
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
_TICKS_PER_TIMEOUT = 10  # a late answer fails at most a tenth of its timeout late ...
_MIN_TICK, _MAX_TICK = 0.005, 0.5  # ... with sweeps no closer than 5 ms and no further than 0.5 s
# told each request's outcome ("ok", "timeout" or "unreachable") and how long it took (seconds)
Observer = Callable[[str, float], None]


class _Connection(asyncio.Protocol):
    loop: asyncio.AbstractEventLoop  # the connection's, set when connected (asked once)

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.burst: WriteBurst  # the loop's, from connection_made
        self.parser = httptools.HttpResponseParser(self)
        self.future: asyncio.Future[HttpResult] | None = None
        self.headers: list[tuple[str, str]] = []
        self.body: list[bytes] = []
        self.headers_done = False
        self.in_message = False  # httptools is inside a message
        self.closed = False
        self.reusable = True

    # asyncio callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.loop = asyncio.get_running_loop()  # (each ask costs a getpid in 3.11)
        self.burst = write_burst(self.loop)

    def data_received(self, data: bytes) -> None:
        if not self.in_message and self.future is not None:
            found = parse_response(data)  # a plain, whole answer in one read (the common case)
            if found is not None:
                status, self.headers, body, self.reusable, _ = found
                self.headers_done = True
                self._complete_with(HttpResult(status, self.headers, body))
                return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(TransportUnreachable(f"invalid HTTP response: {exc}"))
            self._close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.future is not None and not self.future.done():
            if self.headers_done and self.parser.get_status_code():
                self._complete()  # body delimited by close
            else:
                self._fail(TransportUnreachable("connection closed by peer"))

    # httptools callbacks
    def on_message_begin(self) -> None:
        self.in_message = True

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        self.headers_done = True

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.in_message = False
        self.reusable = self.parser.should_keep_alive()
        self._complete()

    # client side
    def send(self, payload: bytes) -> asyncio.Future[HttpResult]:
        assert self.transport is not None
        self.future = self.loop.create_future()
        self.headers, self.body, self.headers_done = [], [], False
        self.burst.write(self.transport, payload)
        return self.future

    def timed_out(self, host: str) -> None:
        """Timer callback: no complete answer in time (the connection is unusable)."""
        self._fail(TransportTimeout(f"no answer from {host} within timeout"))

    def _complete(self) -> None:
        status = self.parser.get_status_code()
        self._complete_with(HttpResult(status, self.headers, b"".join(self.body)))

    def _complete_with(self, result: HttpResult) -> None:
        fut, self.future = self.future, None
        if fut is not None and not fut.done():
            fut.set_result(result)

    def _fail(self, exc: Exception) -> None:
        fut, self.future = self.future, None
        self.reusable = False
        if fut is not None and not fut.done():
            fut.set_exception(exc)

    def _close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class HttpClient:
    """Keep-alive connection pools keyed by (scheme, host, port)."""

    def __init__(
        self, connect_timeout: float = 5.0, timeout: float = 30.0, max_idle: int = 256
    ) -> None:
        self.connect_timeout = connect_timeout
        self.timeout = timeout
        self.max_idle = max_idle
        self._idle: dict[_Origin, deque[_Connection]] = {}
        self._origins: dict[str, tuple[_Origin, str]] = {}
        self._urls: dict[str, tuple[_Origin, str, str]] = {}
        self._ssl: ssl.SSLContext | None = None
        # answer deadlines: one sweep checks the connections in flight (no timer per request)
        self._inflight: dict[_Connection, tuple[float, str]] = {}
        self._sweeper: asyncio.TimerHandle | None = None
        self._sweep_loop: asyncio.AbstractEventLoop | None = None
        self._tick = _MAX_TICK
        # the metrics' upstream timing when they are on (ocn_core.telemetry.instrument): one
        # call per request, where a timing wrapper would add a coroutine frame around this one
        self.observer: Observer | None = None

    async def request(
        self,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        body: bytes = b"",
        timeout: float | None = None,
        retry_safe: bool = False,
    ) -> HttpResult:
        observer = self.observer
        started = time.perf_counter() if observer is not None else 0.0
        try:
            origin, host, target = self._split(url)
            try:  # (refuses a CR or LF in the target, Host or a header value: it would split it)
                payload = request_bytes(method, target, host, headers, body)
            except UnicodeEncodeError:
                raise TransportUnreachable(
                    "refusing a request target or header out of Latin-1"
                ) from None
            except ValueError:
                raise TransportUnreachable(
                    "refusing a request target or header with CR or LF"
                ) from None
            for attempt in (1, 2):
                conn = self._pooled(origin)
                reused = conn is not None
                if conn is None:
                    conn = await self._connect(origin)
                future = conn.send(payload)
                self._watch(conn.loop, conn, timeout or self.timeout, host)
                try:
                    result = await future
                except TransportUnreachable:
                    conn._close()
                    # a pooled keep-alive connection the peer closed while idle: retry once on a
                    # fresh one, for idempotent methods (or requests the caller says are safe) only
                    if (
                        reused
                        and attempt == 1
                        and not conn.headers_done
                        and (retry_safe or method in _IDEMPOTENT)
                    ):
                        continue
                    raise
                except BaseException:
                    conn._close()
                    raise
                finally:
                    self._inflight.pop(conn, None)
                self._release(origin, conn)
                if observer is not None:
                    observer("ok", time.perf_counter() - started)
                return result
            raise AssertionError("unreachable")
        except TransportTimeout:
            if observer is not None:
                observer("timeout", time.perf_counter() - started)
            raise
        except BaseException:
            if observer is not None:
                observer("unreachable", time.perf_counter() - started)
            raise

    def _watch(
        self, loop: asyncio.AbstractEventLoop, conn: _Connection, timeout: float, host: str
    ) -> None:
        """Fail ``conn``'s answer when it is not complete within ``timeout`` seconds (checked
        by a sweep every tenth of the shortest timeout seen, at most every 0.5 s)."""
        self._inflight[conn] = (loop.time() + timeout, host)
        tick = timeout / _TICKS_PER_TIMEOUT
        if tick < self._tick:
            self._tick = max(tick, _MIN_TICK)
            if self._sweeper is not None:
                self._sweeper.cancel()
                self._sweeper = None
        if self._sweeper is None or self._sweep_loop is not loop:  # (a client may outlive a loop)
            self._sweep_loop = loop
            self._sweeper = loop.call_later(self._tick, self._sweep, loop)

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        if loop is not self._sweep_loop:
            return
        now = loop.time()
        late = [(c, host) for c, (deadline, host) in self._inflight.items() if deadline <= now]
        for conn, host in late:
            del self._inflight[conn]
            conn.timed_out(host)
        self._sweeper = loop.call_later(self._tick, self._sweep, loop) if self._inflight else None

    def _split(self, url: str) -> tuple[_Origin, str, str]:
        """(origin, Host header, request target) of ``url``; URLs and origins are parsed once."""
        found = self._urls.get(url)
        if found is None:
            found = self._parse(url)
            if len(self._urls) > 4096:
                self._urls.clear()
            self._urls[url] = found
        return found

    def _parse(self, url: str) -> tuple[_Origin, str, str]:
        scheme, _, rest = url.partition("://")
        cut = len(rest)
        for stop in (rest.find("/"), rest.find("?")):
            if 0 <= stop < cut:
                cut = stop
        netloc, target = rest[:cut], rest[cut:].partition("#")[0]
        if not target.startswith("/"):
            target = "/" + target
        key = f"{scheme}://{netloc}"
        found = self._origins.get(key)
        if found is None:
            parts = urlsplit(key)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise TransportUnreachable(f"unsupported URL {url!r}")
            default = 443 if parts.scheme == "https" else 80
            origin = (parts.scheme, parts.hostname, parts.port or default)
            found = (origin, parts.netloc.rpartition("@")[2])
            if len(self._origins) > 4096:
                self._origins.clear()
            self._origins[key] = found
        return found[0], found[1], target

    def _pooled(self, origin: _Origin) -> _Connection | None:
        """An idle keep-alive connection to ``origin`` (no coroutine on the hot path)."""
        idle = self._idle.get(origin)
        while idle:
            conn = idle.pop()
            if not conn.closed and not conn.loop.is_closed():
                return conn
        return None

    async def _connect(self, origin: _Origin) -> _Connection:
        """A new connection to ``origin``."""
        scheme, host, port = origin
        loop = asyncio.get_running_loop()
        ctx = self._ssl_context() if scheme == "https" else None
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(_Connection, host, port, ssl=ctx), self.connect_timeout
            )
        except TimeoutError:
            raise TransportUnreachable(f"connecting to {host}:{port} timed out") from None
        except OSError as exc:
            raise TransportUnreachable(f"cannot connect to {host}:{port}: {exc}") from None
        return conn

    def _release(self, origin: _Origin, conn: _Connection) -> None:
        if conn.closed or not conn.reusable:
            conn._close()
            return
        idle = self._idle.setdefault(origin, deque())
        if len(idle) < self.max_idle:
            idle.append(conn)
        else:
            conn._close()

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context()
        return self._ssl

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for idle in self._idle.values():
            for conn in idle:
                conn._close()
        self._idle.clear()
