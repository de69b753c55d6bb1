"""The front door from outside: raw sockets against a real node, every limit and timeout."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from ocpi_gateway.http_server import PARSE_SLICE, HttpFront, Limits, Request, Response, serve
from tests.support.node import RunningNode, free_port, running_node
from tests.support.rawhttp import exchange, parse_answers, read_until_closed, request

IDS = {"X-Request-ID": "req-1", "X-Correlation-ID": "corr-1"}
LIMITS: dict[str, Any] = {
    "max_url_bytes": 1024, "max_header_bytes": 4096, "max_header_count": 20,
    "max_body_bytes": 2048, "header_timeout": 0.4, "body_timeout": 0.4,
    "keepalive_timeout": 0.4, "max_connections": 8, "max_pipelined": 4,
}  # fmt: skip


@pytest.fixture
async def node(tmp_path: Path) -> Any:
    async with running_node(tmp_path, **LIMITS) as running:
        yield running


def _port(node: RunningNode) -> int:
    return node.settings.port


async def _still_serves(node: RunningNode) -> None:
    answers = parse_answers(await exchange(_port(node), request("GET", "/health")))
    assert [a.status for a in answers] == [200]


def _refused(data: bytes, status: int, ids: bool = True) -> None:
    """Exactly one answer: ``status`` with an OCPI 2001 envelope (ids echoed when parsed)."""
    answers = parse_answers(data)
    assert [a.status for a in answers] == [status], data[:300]
    answer = answers[0]
    assert answer.json()["status_code"] == 2001
    assert answer.headers["connection"] == "close"
    if ids:
        assert answer.headers["x-request-id"] == "req-1"
        assert answer.headers["x-correlation-id"] == "corr-1"


async def test_long_target_is_414(node: RunningNode) -> None:
    data = await exchange(_port(node), request("GET", "/ocpi/" + "a" * 2000, IDS))
    _refused(data, 414, ids=False)  # refused before any header was read
    await _still_serves(node)


async def test_header_block_and_count_are_431(node: RunningNode) -> None:
    big = await exchange(_port(node), request("GET", "/health", {**IDS, "X-Big": "b" * 5000}))
    _refused(big, 431)
    many = [*IDS.items(), *((f"X-H{i}", "v") for i in range(30))]
    _refused(await exchange(_port(node), request("GET", "/health", many)), 431)
    await _still_serves(node)


def _send_until_answered(
    port: int, first: bytes, more: bytes, every: float, most: int
) -> tuple[int, bytes]:
    """A blocking client: ``first``, then ``more`` every ``every`` s until an answer or EOF."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(first)
        sock.settimeout(every or 0.001)
        sent = 0
        while sent < most:
            try:
                data = sock.recv(65536)
            except TimeoutError:
                try:
                    sock.sendall(more)
                except OSError:
                    break
                sent += len(more)
                continue
            except OSError:
                return sent, b""
            sock.settimeout(3)
            while chunk := sock.recv(65536):
                data += chunk
            return sent, data
        return sent, b""


async def test_endless_header_line_is_cut_off_early(node: RunningNode) -> None:
    first = b"GET /health HTTP/1.1\r\nX-Request-ID: req-1\r\nX: "
    # the 64 MiB header line; the node must stop us long before
    sent, data = await asyncio.to_thread(
        _send_until_answered, _port(node), first, b"x" * 65536, 0, 64 << 20
    )
    assert sent < 8 << 20
    _refused(data, 431, ids=False)  # the line never ended, so no header was complete
    await _still_serves(node)


async def test_oversized_body_is_413_with_ids(node: RunningNode) -> None:
    data = await exchange(_port(node), request("POST", "/health", IDS, b"{" * 4000))
    _refused(data, 413)
    await _still_serves(node)


async def test_slowloris_headers_time_out_408(node: RunningNode) -> None:
    first = b"GET /health HTTP/1.1\r\nX-Request-ID: req-1\r\nX-Correlation-ID: corr-1\r\n"
    started = time.monotonic()
    # one byte every 50 ms: never idle, never done
    _, data = await asyncio.to_thread(_send_until_answered, _port(node), first, b"X", 0.05, 40)
    assert time.monotonic() - started < 1.6
    _refused(data, 408)
    await _still_serves(node)


async def test_stalled_body_times_out_408_with_ids(node: RunningNode) -> None:
    head = request("PUT", "/health", IDS, b"x" * 100)[:-60]  # headers + 40 of 100 body bytes
    data = await exchange(_port(node), head, timeout=3)
    _refused(data, 408)


async def test_idle_keepalive_connection_is_closed(node: RunningNode) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", _port(node))
    writer.write(request("GET", "/health", close=False))
    started = time.monotonic()
    data = await read_until_closed(reader, 3)
    writer.close()
    assert [a.status for a in parse_answers(data)] == [200]
    assert 0.3 < time.monotonic() - started < 2.0


async def test_connections_over_the_cap_are_refused_503_then_served_again(
    node: RunningNode,
) -> None:
    held = [await asyncio.open_connection("127.0.0.1", _port(node)) for _ in range(8)]
    for _, writer in held:  # keep them busy enough not to be idle-closed: one byte of a request
        writer.write(b"G")
    extra = await exchange(_port(node), b"", timeout=3)
    answers = parse_answers(extra)
    assert [a.status for a in answers] == [503]
    assert answers[0].json()["status_code"] == 3000
    for _, writer in held:
        writer.close()
    await asyncio.sleep(0.1)
    await _still_serves(node)


async def test_pipelined_requests_never_read_stay_bounded(node: RunningNode) -> None:
    """The client pipelines for 2 s and never reads: the node's queue and buffers stay small
    (it stops reading), it drops the connection once answers sit unread, and serves on."""
    sock = socket.create_connection(("127.0.0.1", _port(node)))
    sock.setblocking(False)
    one = request("GET", "/health/details", close=False)
    sent, most_queued, most_pending, paused_seen = 0, 0, 0, False
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        try:
            sent += sock.send(one * 16)
        except BlockingIOError:
            pass
        except ConnectionError:  # answers unread for keepalive_timeout: the node dropped us
            break
        await asyncio.sleep(0)
        for conn in _front(node).connections:
            most_queued = max(most_queued, len(conn.queue))
            most_pending = max(most_pending, len(conn.pending))
            paused_seen = paused_seen or conn.read_paused
    assert paused_seen
    assert most_queued <= LIMITS["max_pipelined"] + PARSE_SLICE // len(one) + 1
    assert most_pending <= 1 << 20
    parsed = sum(c.seq for c in _front(node).connections)
    assert parsed * len(one) < sent  # the rest waits in kernel buffers, not in the node
    sock.close()
    await asyncio.sleep(0.2)
    await _still_serves(node)


def _front(node: RunningNode) -> Any:
    """The server's shared front (the protocol of any open connection knows it)."""
    return node.front


async def test_malformed_http_is_400_envelope(node: RunningNode) -> None:
    data = await exchange(_port(node), b"NOT HTTP AT ALL\r\n\r\n")
    _refused(data, 400, ids=False)


@pytest.mark.parametrize(
    ("size", "count", "most"),
    [
        (256 << 10, 100, 60),  # answers over the write burst's hold: written at once
        (16 << 10, 1000, 600),  # answers held for the loop pass (another connection is open)
    ],
)
async def test_unread_answers_stop_the_handler_until_the_client_reads(
    size: int, count: int, most: int
) -> None:
    """Write-side backpressure: answers nobody reads stop the server's work; reading resumes
    it and every answer arrives, in order."""
    calls = 0

    async def handler(req: Request) -> Response:
        nonlocal calls
        calls += 1
        return Response(200, [], req.path.encode().ljust(size, b"."))

    port = free_port()
    server = await serve(
        HttpFront(handler, Limits.from_settings(keepalive_timeout=5)), "127.0.0.1", port
    )
    _, idle = await asyncio.open_connection("127.0.0.1", port)  # two served: writes are held
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
    writer.write(b"".join(request("GET", f"/{i}", close=i == count - 1) for i in range(count)))
    await writer.drain()
    await asyncio.sleep(0.5)  # count x size = 25 / 16 MiB of answers if nothing held back
    held_back = calls
    data = await read_until_closed(reader, 10)
    writer.close()
    idle.close()
    server.close()
    answers = parse_answers(data)
    assert held_back < most, held_back
    want = [f"/{i}".encode() for i in range(count)]
    assert [a.body[:5].rstrip(b".") for a in answers] == want
