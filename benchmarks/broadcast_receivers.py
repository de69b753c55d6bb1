"""Many receiving parties in one process (asyncio + httptools) for the broadcast benchmark.

``python -m benchmarks.broadcast_receivers PORT``: every request is answered with an OCPI 1000
envelope and its arrival recorded by the last path segment (the object id): how many arrived
and when the last one did (``time.monotonic()``, the system-wide CLOCK_MONOTONIC, so the
benchmark process can compare it with its own clock). ``GET /stats/{object id}`` answers
``{"count": n, "last": t}``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from benchmarks.static_http import Static

ANSWER = b'{"status_code":1000,"timestamp":"2026-01-01T00:00:00Z"}'


class _Receiver(Static):
    def __init__(self, seen: dict[str, list[float]]) -> None:
        super().__init__({}, ANSWER)
        self.seen = seen

    def answer(self, path: str) -> bytes:
        now = time.monotonic()
        key = path.rstrip("/").rsplit("/", 1)[-1]
        if path.startswith("/stats/"):
            count, last = self.seen.get(key, [0, 0.0])
            return json.dumps({"count": count, "last": last}).encode()
        entry = self.seen.setdefault(key, [0, 0.0])
        entry[0] += 1
        entry[1] = now
        return ANSWER


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
