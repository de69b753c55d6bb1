"""The fast HTTP/1.1 message reader (compiled or pure twin) that the HTTP server and client try
before httptools: plain messages are read in one call instead of one callback per field."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ocn_core import _ext, _http11_ref

if TYPE_CHECKING:  # checkers see the reference twin's signatures; runtime picks a twin
    from ocn_core._http11_ref import parse_request, parse_response
else:
    _impl = _ext.load("http11", "ocn_core._http11_cy", _http11_ref)
    parse_request = _impl.parse_request
    parse_response = _impl.parse_response

RequestMessage = _http11_ref.RequestMessage
ResponseMessage = _http11_ref.ResponseMessage

__all__ = ["RequestMessage", "ResponseMessage", "parse_request", "parse_response"]
