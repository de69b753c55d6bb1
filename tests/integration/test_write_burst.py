"""Writes held for the end of a loop pass (``ocn_core.adapters.write_burst``), on real loopback
sockets: they go out together and in order, large ones at once, a closed connection's are
dropped without losing the others', and the HTTP server keeps answers in order around a close."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest

from ocn_core.adapters.write_burst import HOLD_BYTES, write_burst
from ocpi_gateway.http_server import HttpFront, Limits, Request, Response, serve
from ocpi_gateway.server import Connections
from tests.support.node import free_port


async def _pair() -> tuple[asyncio.WriteTransport, socket.socket]:
    """A transport of this loop connected to a plain non-blocking socket (the peer)."""
    listener = socket.create_server(("127.0.0.1", 0))
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_connection(asyncio.Protocol, *listener.getsockname())
    peer, _ = listener.accept()
    listener.close()
    peer.setblocking(False)
    return transport, peer


def _received(peer: socket.socket) -> bytes:
    data = b""
    while True:
        try:
            chunk = peer.recv(1 << 20)
        except BlockingIOError:
            return data
        if not chunk:
            return data
        data += chunk


def _arrived_without_yielding(peer: socket.socket, expected: int) -> bytes:
    """What reaches ``peer`` while this coroutine keeps the loop (no held write can go out)."""
    peer.settimeout(1.0)
    data = b""
    try:
        while len(data) < expected:
            chunk = peer.recv(expected - len(data))
            if not chunk:
                break
            data += chunk
    except TimeoutError:
        pass
    finally:
        peer.setblocking(False)
    return data


async def _settle(peer: socket.socket, expected: int) -> bytes:
    data = b""
    for _ in range(200):
        data += _received(peer)
        if len(data) >= expected:
            return data
        await asyncio.sleep(0.005)
    return data


@pytest.fixture
async def pairs() -> AsyncIterator[list[tuple[asyncio.WriteTransport, socket.socket]]]:
    """Two connections, with the loop's burst told that it serves two more."""
    made = [await _pair(), await _pair()]
    burst = write_burst(asyncio.get_running_loop())
    burst.connections += 2
    yield made
    burst.connections -= 2
    for transport, peer in made:
        transport.close()
        peer.close()


async def test_the_writes_of_one_pass_go_out_together_after_it(pairs) -> None:  # type: ignore[no-untyped-def]
    (a, peer_a), (b, peer_b) = pairs
    burst = write_burst(asyncio.get_running_loop())
    burst.write(a, b"one ")
    burst.write(b, b"other")
    burst.write(a, b"two")
    assert _received(peer_a) + _received(peer_b) == b""  # this pass has not ended
    await asyncio.sleep(0)  # it ends: all three leave, each connection's in order
    assert await _settle(peer_a, 7) == b"one two"
    assert await _settle(peer_b, 5) == b"other"


async def test_nothing_leaves_before_the_pass_ends(pairs) -> None:  # type: ignore[no-untyped-def]
    (a, peer_a), _ = pairs
    burst = write_burst(asyncio.get_running_loop())
    burst.write(a, b"held")
    assert _received(peer_a) == b""  # still in this pass: nothing written yet
    burst.flush()  # what a close does first
    assert await _settle(peer_a, 4) == b"held"


async def test_a_burst_over_the_hold_goes_out_at_once_and_in_order(pairs) -> None:  # type: ignore[no-untyped-def]
    (a, peer_a), _ = pairs
    burst = write_burst(asyncio.get_running_loop())
    big = b"x" * (HOLD_BYTES + 1)
    burst.write(a, b"small:")
    burst.write(a, big)  # over the hold: the queue and this go to the transport now
    early = _arrived_without_yielding(peer_a, 7)  # written in this pass, before it ended
    assert early == b"small:x"
    assert early + await _settle(peer_a, len(big) + 6 - len(early)) == b"small:" + big


async def test_a_closed_connection_loses_only_its_own_writes(pairs) -> None:  # type: ignore[no-untyped-def]
    (a, peer_a), (b, peer_b) = pairs
    burst = write_burst(asyncio.get_running_loop())
    burst.write(a, b"lost")
    burst.write(b, b"kept")
    a.close()
    await asyncio.sleep(0)
    assert await _settle(peer_b, 4) == b"kept"
    assert _received(peer_a) == b""


async def test_with_one_connection_served_writes_go_out_at_once() -> None:
    (a, peer_a) = await _pair()
    burst = write_burst(asyncio.get_running_loop())
    burst.connections += 1
    try:
        burst.write(a, b"now")
        assert _arrived_without_yielding(peer_a, 3) == b"now"  # no pass needed to end
    finally:
        burst.connections -= 1
        a.close()
        peer_a.close()


async def test_the_server_counts_the_connections_it_serves() -> None:
    async def handler(request: Request) -> Response:
        return Response(200, [], b"ok")

    port = free_port()
    server = await serve(handler, "127.0.0.1", port)
    burst = write_burst(asyncio.get_running_loop())
    try:
        streams = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]
        for reader, writer in streams:  # one answer each: both connections are served
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert (await asyncio.wait_for(reader.readuntil(b"ok"), 5)).startswith(b"HTTP/1.1 200")
        assert burst.connections == 2  # from now on their answers are held for the pass
        for _, writer in streams:
            writer.close()
        for _ in range(200):
            if burst.connections == 0:
                break
            await asyncio.sleep(0.005)
        assert burst.connections == 0
    finally:
        server.close()


async def test_one_burst_per_loop() -> None:
    loop = asyncio.get_running_loop()
    assert write_burst(loop) is write_burst(loop)


async def test_server_answers_keep_alive_then_close_in_order() -> None:
    """Keep-alive answers are held for the pass, an answer before a close is not: the server
    flushes the held ones first, so pipelined answers arrive whole and in order."""

    async def handler(request: Request) -> Response:
        return Response(200, [], request.path.encode())

    port = free_port()
    server = await serve(handler, "127.0.0.1", port)
    burst = write_burst(asyncio.get_running_loop())
    burst.connections += 1  # as if it served another connection: this one's answers are held
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        pipelined = (
            b"".join(f"GET /n{i} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for i in range(20))
            + b"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        writer.write(pipelined)
        data = await asyncio.wait_for(reader.read(-1), 5)
        writer.close()
    finally:
        burst.connections -= 1
        server.close()
    bodies = [b"/n%d" % i for i in range(20)] + [b"/last"]
    positions = [data.index(body) for body in bodies]
    assert positions == sorted(positions)
    assert data.count(b"HTTP/1.1 200 ") == 21


async def test_the_shutdown_drain_sends_held_answers_before_closing() -> None:
    """SIGTERM's drain closes a connection whose last answer is still held for the pass: the
    answer goes out first (it was lost when the drain closed the transport directly)."""
    gate = asyncio.get_running_loop().create_future()

    async def handler(request: Request) -> Response:
        await gate
        return Response(200, [], b"done")

    connections = Connections(HttpFront(handler, Limits.from_settings()).protocol)
    server = await asyncio.get_running_loop().create_server(connections, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        _, idle = await asyncio.open_connection("127.0.0.1", port)  # two served: held
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        for _ in range(200):
            if any(p.busy for p in connections.open):
                break
            await asyncio.sleep(0.005)
        gate.set_result(None)  # the answer is made in the pass the drain wakes in
        await asyncio.ensure_future(connections.drain(5))
        data = await asyncio.wait_for(reader.read(-1), 5)
        writer.close()
        idle.close()
    finally:
        server.close()
    assert data.startswith(b"HTTP/1.1 200 ")
    assert data.endswith(b"done")
