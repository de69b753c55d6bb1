"""Raw HTTP/1.1 over a plain socket: send exact bytes, read and parse what comes back."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from typing import Any

import httptools


@dataclass
class Answer:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class _Collector:
    answers: list[Answer] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytearray = field(default_factory=bytearray)
    parser: Any = None

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        self.answers.append(Answer(self.parser.get_status_code(), self.headers, bytes(self.body)))
        self.headers, self.body = {}, bytearray()


def parse_answers(data: bytes) -> list[Answer]:
    """Every complete response in ``data`` (pipelined answers, in order)."""
    collector = _Collector()
    collector.parser = httptools.HttpResponseParser(collector)
    with contextlib.suppress(httptools.HttpParserError):
        collector.parser.feed_data(data)
    return collector.answers


async def exchange(port: int, payload: bytes, timeout: float = 5.0) -> bytes:
    """Send ``payload`` and read until the server closes (or ``timeout``)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(payload)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        return await read_until_closed(reader, timeout)
    finally:
        writer.close()


async def read_until_closed(reader: asyncio.StreamReader, timeout: float) -> bytes:
    chunks: list[bytes] = []
    with contextlib.suppress(ConnectionError, TimeoutError):
        async with asyncio.timeout(timeout):
            while chunk := await reader.read(65536):
                chunks.append(chunk)
    return b"".join(chunks)


def request(
    method: str,
    target: str | bytes,
    headers: dict[str, str] | list[tuple[str, str]] | None = None,
    body: bytes = b"",
    close: bool = True,
) -> bytes:
    """The bytes of one request (``Content-Length`` added for a body)."""
    raw_target = target if isinstance(target, bytes) else target.encode("latin-1")
    pairs = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
    lines = [method.encode() + b" " + raw_target + b" HTTP/1.1", b"Host: 127.0.0.1"]
    lines += [f"{k}: {v}".encode("latin-1") for k, v in pairs]
    if body:
        lines.append(f"Content-Length: {len(body)}".encode())
    if close:
        lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body
