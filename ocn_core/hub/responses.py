"""Build the node's own OCPI answers (success and error) with the headers OCPI requires."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ocn_core import ocpi
from ocn_core.errors import OcnError, RateLimited
from ocn_core.model import RouteKind, RouteRequest, RouteResponse

JSON = ("Content-Type", "application/json")


def routing_headers(
    req: RouteRequest, responder_cc: str, responder_pid: str
) -> list[tuple[str, str]]:
    """Ids plus TO = requester, FROM = responder (functional modules only)."""
    headers = [JSON]
    if req.request_id:
        headers.append(("X-Request-ID", req.request_id))
    if req.correlation_id:
        headers.append(("X-Correlation-ID", req.correlation_id))
    if req.kind in (RouteKind.MODULE, RouteKind.PAGE, RouteKind.PROXIED, RouteKind.CUSTOM):
        if req.has_from:
            headers.append(("OCPI-to-country-code", req.from_party.country_code))
            headers.append(("OCPI-to-party-id", req.from_party.party_id))
        if responder_cc:
            headers.append(("OCPI-from-country-code", responder_cc))
            headers.append(("OCPI-from-party-id", responder_pid))
    return headers


def ok(
    req: RouteRequest, data: Any, hub: tuple[str, str], extra: list[tuple[str, str]] | None = None
) -> RouteResponse:
    headers = routing_headers(req, *hub) + (extra or [])
    body = ocpi.dumps(ocpi.envelope(1000, data))
    return RouteResponse(200, headers, body, 1000, "", req.call_id)


def error(
    req: RouteRequest,
    exc: OcnError,
    hub: tuple[str, str],
    sign: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> RouteResponse:
    """The node's error envelope (signed by the node when ``sign`` is given)."""
    envelope = ocpi.envelope(exc.ocpi_status, None, exc.message)
    body = ocpi.dumps(sign(envelope) if sign is not None else envelope)
    headers = routing_headers(req, *hub)
    if isinstance(exc, RateLimited):  # HTTP 429
        headers.append(("Retry-After", str(max(1, math.ceil(exc.retry_after)))))
    return RouteResponse(exc.http_status, headers, body, exc.ocpi_status, exc.reason, req.call_id)
