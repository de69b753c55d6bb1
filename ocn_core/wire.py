"""Wire assembly of one forwarded hop (compiled or pure twin): the receiver's headers and request
bytes, the receiver's envelope status, the requester's headers, fresh request ids."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ocn_core import _ext, _wire_ref

if TYPE_CHECKING:  # checkers see the reference twin's signatures; runtime picks a twin
    from ocn_core._wire_ref import (
        envelope_status,
        header_index,
        outbound_headers,
        relay_headers,
        request_bytes,
        request_id_of,
        response_bytes,
    )
else:
    _impl = _ext.load("wire", "ocn_core._wire_cy", _wire_ref)
    envelope_status = _impl.envelope_status
    header_index = _impl.header_index
    outbound_headers = _impl.outbound_headers
    relay_headers = _impl.relay_headers
    request_bytes = _impl.request_bytes
    request_id_of = _impl.request_id_of
    response_bytes = _impl.response_bytes

PASSED_HEADERS = _wire_ref.PASSED_HEADERS
parse_envelope = _wire_ref.parse_envelope  # a full parse (orjson): one twin serves
status_of = _wire_ref.status_of
_POOL_BYTES = 4096  # random bytes read from the OS at once: 256 request ids per getrandom call


class _RandomPool:
    """``os.urandom`` read in blocks; emptied in a forked child so workers never share ids."""

    def __init__(self) -> None:
        self.block, self.at = b"", 0

    def take16(self) -> bytes:
        at = self.at
        if at >= len(self.block):
            self.block, at = os.urandom(_POOL_BYTES), 0
        self.at = at + 16
        return self.block[at : at + 16]

    def reset(self) -> None:
        self.block, self.at = b"", 0


_pool = _RandomPool()
os.register_at_fork(after_in_child=_pool.reset)


def request_id() -> str:
    """A random UUID4 string (``X-Request-ID``) from the OS's CSPRNG."""
    return request_id_of(_pool.take16())


__all__ = [
    "PASSED_HEADERS",
    "envelope_status",
    "header_index",
    "outbound_headers",
    "parse_envelope",
    "relay_headers",
    "request_bytes",
    "request_id",
    "request_id_of",
    "response_bytes",
    "status_of",
]
