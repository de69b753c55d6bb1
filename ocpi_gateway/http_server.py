"""A lean HTTP/1.1 server: asyncio Protocol + httptools, keep-alive, in-order pipelining.

Chosen by measurement (../shared/docs/perf-baselines.md): a bare uvloop + httptools server costs
~22 µs per request against ~114 µs for aiohttp's server on this machine. It does only what the
gateway needs: request line, headers, a size-limited body, and whole responses.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httptools
import structlog

log = structlog.get_logger(__name__)

REASONS = {
    200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 401: "Unauthorized",
    403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 413: "Payload Too Large",
    500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
}  # fmt: skip


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


Handler = Callable[[Request], Awaitable[Response]]  # may return a coroutine or any awaitable
TooLarge = Callable[[Request], Response]


class HttpProtocol(asyncio.Protocol):
    """One client connection; requests are answered in the order they arrived."""

    def __init__(
        self,
        handler: Handler,
        max_body: int,
        too_large: TooLarge,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.handler = handler
        self.on_close = on_close
        self.max_body = max_body
        self.too_large = too_large
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.headers: dict[str, str] = {}
        self.body: list[bytes] = []
        self.body_size = 0
        self.oversized = False
        self.queue: deque[tuple[Request, bool]] = deque()
        self.busy = False
        self.task: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.on_close is not None:
            self.on_close()

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._write_close(
                Response(400, [("Content-Type", "text/plain")], b"Upgrade not supported")
            )
        except httptools.HttpParserError:
            self._write_close(
                Response(400, [("Content-Type", "text/plain")], b"Malformed HTTP request")
            )

    # httptools callbacks
    def on_message_begin(self) -> None:
        self.url, self.headers, self.body, self.body_size, self.oversized = b"", {}, [], 0, False

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self.body_size += len(body)
        if self.body_size > self.max_body:
            self.oversized = True
            self.body = []
        elif not self.oversized:
            self.body.append(body)

    def on_message_complete(self) -> None:
        parsed = httptools.parse_url(self.url)
        request = Request(
            self.parser.get_method().decode("ascii"),
            (parsed.path or b"/").decode("utf-8", "replace"),
            (parsed.query or b"").decode("utf-8", "replace"),
            self.headers,
            b"".join(self.body),
        )
        if self.oversized:
            self._write_close(self.too_large(request))
            return
        self.queue.append((request, self.parser.should_keep_alive()))
        if not self.busy:
            self.busy = True
            self.task = asyncio.ensure_future(self._drain())

    async def _drain(self) -> None:
        try:
            while self.queue:
                request, keep_alive = self.queue.popleft()
                try:
                    response = await self.handler(request)
                except Exception:
                    log.exception("unhandled_error", method=request.method, path=request.path)
                    response = Response(
                        500, [("Content-Type", "text/plain")], b"Internal Server Error"
                    )
                self._write(response, keep_alive)
                if not keep_alive:
                    self._close()
                    return
        finally:
            self.busy = False

    def _write(self, response: Response, keep_alive: bool = True) -> None:
        if self.transport is None:
            return
        head = [f"HTTP/1.1 {response.status} {REASONS.get(response.status, 'Unknown')}\r\n"]
        head += [f"{k}: {v}\r\n" for k, v in response.headers]
        head.append(f"Content-Length: {len(response.body)}\r\n")
        if not keep_alive:
            head.append("Connection: close\r\n")
        head.append("\r\n")
        self.transport.write("".join(head).encode("latin-1") + response.body)

    def _write_close(self, response: Response) -> None:
        self._write(response, keep_alive=False)
        self._close()

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()
            self.transport = None


async def serve(
    handler: Handler,
    host: str,
    port: int,
    max_body: int,
    too_large: TooLarge,
) -> asyncio.Server:
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: HttpProtocol(handler, max_body, too_large),
        host,
        port,
        backlog=4096,
    )
