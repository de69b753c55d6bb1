"""What the engine needs from an HTTP client, without naming one (adapters implement it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from ocn_core.model import find_header


class TransportError(Exception):
    """The request could not be completed."""


class TransportUnreachable(TransportError):
    """Connection refused, reset or not established in time (hub 4003)."""


class TransportTimeout(TransportError):
    """Sent, but no complete answer within the timeout (hub 4002)."""


@dataclass(slots=True)
class HttpResult:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return find_header(self.headers, name)


class HttpTransport(Protocol):
    async def request(
        self,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        body: bytes = b"",
        timeout: float | None = None,
        retry_safe: bool = False,
    ) -> HttpResult:
        """``retry_safe``: the request may be re-sent once on a fresh connection when a pooled
        one turns out closed before any answer (always so for idempotent methods)."""
        ...

    async def close(self) -> None: ...
