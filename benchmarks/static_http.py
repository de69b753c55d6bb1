"""A tiny static HTTP/1.1 server (asyncio + httptools): the upstream party when nginx is absent.

In process (``await serve(...)``) for the route-decision setup, or as a process:
``python -m benchmarks.static_http PORT`` (serves :mod:`benchmarks.payloads` for that port).
"""

from __future__ import annotations

import asyncio
import sys

import httptools

from benchmarks import payloads


class Static(asyncio.Protocol):
    def __init__(self, routes: dict[str, bytes], default: bytes) -> None:
        self.routes, self.default = routes, default
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.transport is not None:
                self.transport.close()

    def on_message_begin(self) -> None:
        self.url = b""

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_message_complete(self) -> None:
        body = self.answer((httptools.parse_url(self.url).path or b"/").decode())
        head = (
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        if self.transport is not None:
            self.transport.write(head.encode() + body)

    def answer(self, path: str) -> bytes:
        """The body for a request of ``path`` (subclasses answer differently)."""
        return self.routes.get(path, self.default)


async def serve(port: int, routes: dict[str, bytes], default: bytes) -> asyncio.Server:
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: Static(routes, default), "127.0.0.1", port)


async def _main(port: int) -> None:
    base = f"http://127.0.0.1:{port}"
    server = await serve(port, payloads.static_routes(base), payloads.LOCATION_RESPONSE)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(_main(int(sys.argv[1])))
