"""Wire assembly of one forwarded hop (compiled or pure twin): the receiver's headers and request
bytes and URL, the receiver's envelope status, the requester's answer, fresh request ids."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ocn_core import _ext, _wire_ref

if TYPE_CHECKING:  # checkers see the reference twin's signatures; runtime picks a twin
    from ocn_core._wire_ref import (
        RequestIds,
        envelope_status,
        header_index,
        outbound_headers,
        relay_response,
        request_bytes,
        request_id_of,
        response_bytes,
        target_url,
    )
else:
    _impl = _ext.load("wire", "ocn_core._wire_cy", _wire_ref)
    RequestIds = _impl.RequestIds
    envelope_status = _impl.envelope_status
    header_index = _impl.header_index
    outbound_headers = _impl.outbound_headers
    relay_response = _impl.relay_response
    request_bytes = _impl.request_bytes
    request_id_of = _impl.request_id_of
    response_bytes = _impl.response_bytes
    target_url = _impl.target_url

PASSED_HEADERS = _wire_ref.PASSED_HEADERS
parse_envelope = _wire_ref.parse_envelope  # a full parse (orjson): one twin serves
status_of = _wire_ref.status_of
_ids = RequestIds()
os.register_at_fork(after_in_child=_ids.reset)
request_id = _ids.next  # a random UUID4 string (X-Request-ID) from the OS's CSPRNG


__all__ = [
    "PASSED_HEADERS",
    "envelope_status",
    "header_index",
    "outbound_headers",
    "parse_envelope",
    "relay_response",
    "request_bytes",
    "request_id",
    "request_id_of",
    "response_bytes",
    "status_of",
    "target_url",
]
