"""The gateway's transport without the engine: the product's HTTP server and HTTP client relaying
every request to the upstream (no routing, no LMDB, no OCPI logic). A same-run floor row.

``python -m benchmarks.bare_hop PORT UPSTREAM_PORT [WORKERS]`` (uvloop; several workers share PORT
through the product's connection balancer, as ``ocn-node run --workers N`` does). Forwards
method, path and the OCPI routing headers; relays status, headers and body.
"""

from __future__ import annotations

import asyncio
import functools
import socket
import sys

import uvloop

from ocn_core.adapters.http_client import HttpClient
from ocpi_gateway.balancer import receive_connections
from ocpi_gateway.http_server import HttpProtocol, Request, Response, serve
from ocpi_gateway.supervisor import run_workers

FORWARDED = ("authorization", "x-request-id", "x-correlation-id", "ocpi-from-country-code",
             "ocpi-from-party-id", "ocpi-to-country-code", "ocpi-to-party-id")  # fmt: skip


async def main(port: int, upstream_port: int, channel: socket.socket | None = None) -> None:
    client = HttpClient()
    base = f"http://127.0.0.1:{upstream_port}"

    async def relay(request: Request) -> Response:
        headers = [(h, request.headers[h]) for h in FORWARDED if h in request.headers]
        result = await client.request(request.method, base + request.path, headers, request.body)
        out = [(k, v) for k, v in result.headers if k.lower() == "content-type"]
        return Response(result.status, out, result.body)

    def too_large(request: Request) -> Response:
        return Response(413, [], b"")

    if channel is None:
        server = await serve(relay, "127.0.0.1", port, 1 << 20, too_large)
        async with server:
            await server.serve_forever()
        return
    make = functools.partial(HttpProtocol, relay, 1 << 20, too_large)
    receive_connections(asyncio.get_running_loop(), channel, make)
    await asyncio.Event().wait()


def _worker(port: int, upstream_port: int, channel: socket.socket | None) -> None:
    uvloop.install()
    asyncio.run(main(port, upstream_port, channel))


if __name__ == "__main__":
    port, upstream_port = int(sys.argv[1]), int(sys.argv[2])
    workers = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    if workers <= 1:
        _worker(port, upstream_port, None)
    else:
        serve_one = functools.partial(_worker, port, upstream_port)
        sys.exit(run_workers("127.0.0.1", port, workers, lambda _i, channel: serve_one(channel)))
