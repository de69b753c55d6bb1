"""Wire assembly of one forwarded hop (compiled or pure twin): the receiver's headers and request
bytes, the receiver's envelope status, the requester's headers, fresh request ids."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ocn_core import _ext, _wire_ref

if TYPE_CHECKING:  # checkers see the reference twin's signatures; runtime picks a twin
    from ocn_core._wire_ref import (
        envelope_status,
        outbound_headers,
        relay_headers,
        request_bytes,
        request_id_of,
    )
else:
    _impl = _ext.load("wire", "ocn_core._wire_cy", _wire_ref)
    envelope_status = _impl.envelope_status
    outbound_headers = _impl.outbound_headers
    relay_headers = _impl.relay_headers
    request_bytes = _impl.request_bytes
    request_id_of = _impl.request_id_of

PASSED_HEADERS = _wire_ref.PASSED_HEADERS


def request_id() -> str:
    """A random UUID4 string (``X-Request-ID``)."""
    return request_id_of(os.urandom(16))


__all__ = [
    "PASSED_HEADERS",
    "envelope_status",
    "outbound_headers",
    "relay_headers",
    "request_bytes",
    "request_id",
    "request_id_of",
]
