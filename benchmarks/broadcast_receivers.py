"""Many receiving parties in one process (asyncio + httptools) for the broadcast benchmark.

``python -m benchmarks.broadcast_receivers PORT``: every PUT/PATCH/POST is answered with an OCPI
1000 envelope and its arrival recorded by the last path segment (the object id): how many
arrived and when the last one did (``time.monotonic()``, the system-wide CLOCK_MONOTONIC, so
the benchmark process can compare it with its own clock). ``GET /stats/{object id}`` answers
``{"count": n, "last": t}``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import httptools

ANSWER = b'{"status_code":1000,"timestamp":"2026-01-01T00:00:00Z"}'


class _Receiver(asyncio.Protocol):
    def __init__(self, seen: dict[str, list[float]]) -> None:
        self.seen = seen
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
        now = time.monotonic()
        path = (httptools.parse_url(self.url).path or b"/").decode()
        key = path.rstrip("/").rsplit("/", 1)[-1]
        if path.startswith("/stats/"):
            count, last = self.seen.get(key, [0, 0.0])
            body = json.dumps({"count": count, "last": last}).encode()
        else:
            entry = self.seen.setdefault(key, [0, 0.0])
            entry[0] += 1
            entry[1] = now
            body = ANSWER
        head = (
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        if self.transport is not None:
            self.transport.write(head.encode() + body)


async def _main(port: int) -> None:
    seen: dict[str, list[float]] = {}
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Receiver(seen), "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    asyncio.run(_main(int(sys.argv[1])))
