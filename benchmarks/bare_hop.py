"""The gateway's transport without the engine: the product's HTTP server and HTTP client relaying
every request to the upstream (no routing, no LMDB, no OCPI logic). A same-run floor row.

``python -m benchmarks.bare_hop PORT UPSTREAM_PORT [WORKERS] [--verify]`` (uvloop; several workers
share PORT through the product's connection balancer, as ``ocn-node run --workers N`` does).
Forwards method, path and the OCPI routing headers; relays status, headers and body.

``--verify``: also the signatures-on node's two checks, exactly as the floor times them in
process (:func:`benchmarks.signed.verify_request` on the request's OCN-Signature,
:func:`benchmarks.signed.verify_response` on the answer's ``ocn_signature``): the signatures
floor measured under the same load as the rows it judges.
"""

from __future__ import annotations

import asyncio
import functools
import socket
import sys

import uvloop

from benchmarks import signed
from ocn_core.adapters.http_client import HttpClient
from ocpi_gateway.balancer import receive_connections
from ocpi_gateway.http_server import HttpFront, Limits, Request, Response, serve
from ocpi_gateway.supervisor import run_workers, worker_cpus

FORWARDED = ("authorization", "x-request-id", "x-correlation-id", "ocpi-from-country-code",
             "ocpi-from-party-id", "ocpi-to-country-code", "ocpi-to-party-id")  # fmt: skip


async def main(
    port: int, upstream_port: int, channel: socket.socket | None = None, verify: bool = False
) -> None:
    client = HttpClient()
    base = f"http://127.0.0.1:{upstream_port}"

    async def relay(request: Request) -> Response:
        if verify:
            signed.verify_request(request.headers)
        headers = [(h, request.headers[h]) for h in FORWARDED if h in request.headers]
        result = await client.request(request.method, base + request.path, headers, request.body)
        if verify:
            signed.verify_response(result.body)
        out = [(k, v) for k, v in result.headers if k.lower() == "content-type"]
        return Response(result.status, out, result.body)

    front = HttpFront(
        relay, Limits.from_settings()
    )  # the node's default limits, plain-text refusals
    if channel is None:
        server = await serve(front, "127.0.0.1", port)
        async with server:
            await server.serve_forever()
        return
    receive_connections(asyncio.get_running_loop(), channel, front.protocol)
    await asyncio.Event().wait()


def _worker(port: int, upstream_port: int, verify: bool, channel: socket.socket | None) -> None:
    uvloop.install()
    asyncio.run(main(port, upstream_port, channel, verify))


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--verify"]
    verify = "--verify" in sys.argv[1:]
    port, upstream_port = int(args[0]), int(args[1])
    workers = int(args[2]) if len(args) > 2 else 1
    if workers <= 1:
        _worker(port, upstream_port, verify, None)
    else:
        serve_one = functools.partial(_worker, port, upstream_port, verify)
        cpus = worker_cpus(workers)  # placed as the node places its workers by default
        sys.exit(run_workers("127.0.0.1", port, workers, lambda _i, ch: serve_one(ch), cpus=cpus))
