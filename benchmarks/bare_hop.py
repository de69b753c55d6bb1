"""The gateway's transport without the engine: the product's HTTP server and HTTP client relaying
every request to the upstream (no routing, no LMDB, no OCPI logic). A same-run floor row.

``python -m benchmarks.bare_hop PORT UPSTREAM_PORT`` (uvloop, SO_REUSEPORT so several may share
PORT). Forwards method, path and the OCPI routing headers; relays status, headers and body.
"""

from __future__ import annotations

import asyncio
import sys

import uvloop

from ocn_core.adapters.http_client import HttpClient
from ocpi_gateway.http_server import Request, Response, serve

FORWARDED = ("authorization", "x-request-id", "x-correlation-id", "ocpi-from-country-code",
             "ocpi-from-party-id", "ocpi-to-country-code", "ocpi-to-party-id")  # fmt: skip


async def main(port: int, upstream_port: int) -> None:
    client = HttpClient()
    base = f"http://127.0.0.1:{upstream_port}"

    async def relay(request: Request) -> Response:
        headers = [(h, request.headers[h]) for h in FORWARDED if h in request.headers]
        result = await client.request(request.method, base + request.path, headers, request.body)
        out = [(k, v) for k, v in result.headers if k.lower() == "content-type"]
        return Response(result.status, out, result.body)

    def too_large(request: Request) -> Response:
        return Response(413, [], b"")

    server = await serve(relay, "127.0.0.1", port, 1 << 20, too_large, reuse_port=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    uvloop.install()
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
