"""The lean HTTP stack on loopback: client pool (keep-alive, framing, timeouts, stale retry) and
server (pipelining order, size limit, malformed input)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from ocn_core.adapters.http_client import HttpClient
from ocn_core.transport import TransportTimeout, TransportUnreachable
from ocpi_gateway.http_server import Limits, Request, Response, serve
from tests.support.node import free_port

Script = Callable[[int, bytes], bytes | None]  # (request number on this connection, raw) -> reply


class RawServer:
    """A tiny scripted HTTP server that counts connections."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections = 0
        self.port = free_port()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        n = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                body = await reader.readexactly(length) if length else b""
                n += 1
                reply = self.script(n, head + body)
                if reply is None:
                    break
                writer.write(reply)
                await writer.drain()
                if reply.startswith(b"HTTP/1.0") or b"Connection: close" in reply:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()


@pytest.fixture
async def raw() -> AsyncIterator[Callable[[Script], asyncio.Future[RawServer]]]:
    servers: list[asyncio.Server] = []

    async def start(script: Script) -> RawServer:
        s = RawServer(script)
        servers.append(await asyncio.start_server(s.handle, "127.0.0.1", s.port))
        return s

    yield start  # type: ignore[misc]
    for server in servers:
        server.close()


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}"


async def test_keep_alive_reuses_one_connection(raw) -> None:  # type: ignore[no-untyped-def]
    server = await raw(lambda n, req: OK)
    client = HttpClient()
    for _ in range(5):
        result = await client.request("GET", f"http://127.0.0.1:{server.port}/x", [])
        assert (result.status, result.body) == (200, b"{}")
    assert server.connections == 1
    await client.close()


async def test_chunked_and_close_delimited_bodies(raw) -> None:  # type: ignore[no-untyped-def]
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    )
    server = await raw(lambda n, req: chunked)
    client = HttpClient()
    assert (await client.request("GET", f"http://127.0.0.1:{server.port}/", [])).body == b"abcde"
    close_delimited = await raw(lambda n, req: b"HTTP/1.0 200 OK\r\n\r\nuntil-close")
    result = await client.request("GET", f"http://127.0.0.1:{close_delimited.port}/", [])
    assert result.body == b"until-close"
    await client.close()


async def test_timeout_and_refused(raw) -> None:  # type: ignore[no-untyped-def]
    async def never(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)

    port = free_port()
    slow = await asyncio.start_server(never, "127.0.0.1", port)
    client = HttpClient(connect_timeout=1, timeout=0.2)
    with pytest.raises(TransportTimeout):
        await client.request("GET", f"http://127.0.0.1:{port}/", [])
    slow.close()
    with pytest.raises(TransportUnreachable):
        await client.request("GET", f"http://127.0.0.1:{free_port()}/", [])
    with pytest.raises(TransportUnreachable):
        await client.request("GET", "ftp://127.0.0.1/", [])
    await client.close()


async def test_observer_is_told_each_outcome_once(raw) -> None:  # type: ignore[no-untyped-def]
    """The metrics' upstream timing: one call per request, a stale-connection retry included."""

    async def never(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)

    seen: list[tuple[str, float]] = []
    client = HttpClient(connect_timeout=1, timeout=0.2)
    client.observer = lambda outcome, seconds: seen.append((outcome, seconds))
    server = await raw(lambda n, req: OK if n == 1 else None)  # closes after one answer
    url = f"http://127.0.0.1:{server.port}/x"
    await client.request("GET", url, [])
    await asyncio.sleep(0.05)  # the server has closed the pooled connection
    await client.request("GET", url, [])  # retried once on a fresh one: still one request
    port = free_port()
    slow = await asyncio.start_server(never, "127.0.0.1", port)
    with pytest.raises(TransportTimeout):
        await client.request("GET", f"http://127.0.0.1:{port}/", [])
    slow.close()
    with pytest.raises(TransportUnreachable):
        await client.request("GET", f"http://127.0.0.1:{free_port()}/", [])
    assert [outcome for outcome, _ in seen] == ["ok", "ok", "timeout", "unreachable"]
    assert seen[2][1] >= 0.2  # the timeout's whole wait
    assert all(seconds >= 0 for _, seconds in seen)
    await client.close()


async def test_stale_pooled_connection_is_retried_for_idempotent_methods_only(raw) -> None:  # type: ignore[no-untyped-def]
    # every connection answers its first request, then drops the second without answering
    server = await raw(lambda n, req: OK if n == 1 else None)
    client = HttpClient()
    url = f"http://127.0.0.1:{server.port}/"
    await client.request("GET", url, [])
    assert (await client.request("GET", url, [])).status == 200  # retried on a fresh connection
    assert server.connections == 2
    with pytest.raises(TransportUnreachable):
        await client.request("POST", url, [], b"{}")  # never silently re-sent
    await client.close()


async def test_retry_safe_post_is_retried_on_a_stale_pooled_connection(raw) -> None:  # type: ignore[no-untyped-def]
    """/ocn/message posts are safe to re-send (the receiving node refuses replays)."""
    server = await raw(lambda n, req: OK if n == 1 else None)
    client = HttpClient()
    url = f"http://127.0.0.1:{server.port}/ocn/message"
    await client.request("POST", url, [], b"{}")
    assert (await client.request("POST", url, [], b"{}", retry_safe=True)).status == 200
    assert server.connections == 2
    await client.close()


async def _gateway(
    handler: Callable[[Request], asyncio.Future[Response]], max_body: int = 100
) -> tuple[asyncio.Server, int]:
    port = free_port()
    server = await serve(handler, "127.0.0.1", port, Limits.from_settings(max_body=max_body))
    return server, port


async def _exchange(port: int, payload: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(payload)
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), 5)  # until the server closes
    writer.close()
    return data


async def test_server_answers_pipelined_requests_in_order() -> None:
    async def handler(request: Request) -> Response:
        if request.path == "/slow":
            await asyncio.sleep(0.05)
        return Response(200, [], request.path.encode())

    server, port = await _gateway(handler)  # type: ignore[arg-type]
    data = await _exchange(
        port,
        b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /fast HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    assert data.index(b"/slow") < data.index(b"/fast")
    server.close()


async def test_server_limits_body_and_rejects_garbage() -> None:
    async def handler(request: Request) -> Response:
        return Response(200, [], request.body)

    server, port = await _gateway(handler)  # type: ignore[arg-type]
    big = await _exchange(
        port, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 200\r\n\r\n" + b"x" * 200
    )
    assert big.startswith(b"HTTP/1.1 413 ")
    chunked = await _exchange(
        port,
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    )
    assert chunked.startswith(b"HTTP/1.1 200 ")
    assert chunked.endswith(b"abc")
    garbage = await _exchange(port, b"NOT HTTP AT ALL\r\n\r\n")
    assert garbage.startswith(b"HTTP/1.1 400 ")
    server.close()


async def test_one_drain_task_per_keep_alive_connection_ending_with_it() -> None:
    """Sequential requests on one connection are answered by one task, parked between them;
    it ends when the client closes (no task is left behind per request or per connection)."""
    tasks: list[asyncio.Task[object] | None] = []

    async def handler(request: Request) -> Response:
        tasks.append(asyncio.current_task())
        return Response(200, [], request.path.encode())

    server, port = await _gateway(handler)  # type: ignore[arg-type]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for path in (b"/a", b"/b", b"/c"):
        writer.write(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 200 ")
        assert await reader.readexactly(2) == path
    assert len(tasks) == 3
    assert tasks[0] is tasks[1] is tasks[2]
    drain = tasks[0]
    assert drain is not None
    assert not drain.done()  # parked, waiting for the next request
    writer.close()
    await asyncio.wait_for(asyncio.shield(drain), 5)  # ends with the connection
    server.close()
