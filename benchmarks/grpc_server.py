"""The gRPC benchmark server process: the product's RoutingService plus an empty unary method.

``python -m benchmarks.grpc_server DATA_DIR ADDRESS PUBLIC_URL UPSTREAM_URL`` serves, on one
grpc.aio server, ``ocn.v1.RoutingService`` (the real servicer over an engine on DATA_DIR),
``/bench.Empty/Call`` (bytes in, empty bytes out: the floor of a unary call on the same server)
and ``/bench.Empty/Hop`` (the same call plus the Route row's GET to the upstream party with the
product's HTTP client: the floor of any Route that forwards). Stops on SIGTERM.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

import grpc

from benchmarks import payloads
from ocn_core import open_node
from ocn_core.adapters.http_client import HttpClient
from ocn_core.config import Settings
from ocn_core.logconfig import configure_logging
from ocn_grpc.pb import routing_pb2_grpc
from ocn_grpc.server import RoutingServicer

EMPTY_METHOD = "/bench.Empty/Call"
HOP_METHOD = "/bench.Empty/Hop"


async def _empty(request: bytes, context: Any) -> bytes:
    return b""


def floor_handlers(upstream: str) -> grpc.GenericRpcHandler:
    """Call (empty) and Hop (one GET of the Route row's location, answer discarded)."""
    client = HttpClient()
    url = upstream + payloads.UPSTREAM_PATH
    headers = list(payloads.routing_headers("bench").items())  # as many as the node sends

    async def hop(request: bytes, context: Any) -> bytes:
        result = await client.request("GET", url, headers)
        if result.status != 200:
            raise RuntimeError(f"upstream answered {result.status}")
        return b""

    # no (de)serializers: raw bytes
    methods: dict[str, grpc.RpcMethodHandler[bytes, bytes]] = {
        "Call": grpc.unary_unary_rpc_method_handler(_empty),
        "Hop": grpc.unary_unary_rpc_method_handler(hop),
    }
    return grpc.method_handlers_generic_handler("bench.Empty", methods)


async def serve(data_dir: Path, address: str, public_url: str, upstream: str) -> None:
    settings = Settings.from_env({}, data_dir=data_dir, public_url=public_url, log_level="warning")
    engine = open_node(settings)
    server = grpc.aio.server()
    routing_pb2_grpc.add_RoutingServiceServicer_to_server(RoutingServicer(engine), server)
    server.add_generic_rpc_handlers((floor_handlers(upstream),))
    if not server.add_insecure_port(address):
        raise RuntimeError(f"cannot bind {address}")
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop(0.5)
    await engine.shutdown()


if __name__ == "__main__":
    configure_logging("console", "warning")
    if (
        os.environ.get("OCN_BENCH_GRPC_UVLOOP", "1") == "1"
    ):  # the product (`ocn-node core`) runs uvloop
        import uvloop

        uvloop.install()
    asyncio.run(serve(Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]))
