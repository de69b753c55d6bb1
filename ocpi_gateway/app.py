"""HTTP → engine: the gateway's one generic OCPI handler plus health and admin routes."""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable
from typing import Any

import orjson
import structlog

from ocn_core import ocpi, telemetry
from ocn_core.engine import Engine
from ocn_core.errors import AdminError, AdminUnauthorized, OcnError
from ocn_core.hub.admin import key_matches
from ocn_core.logconfig import REQUEST_CONTEXT, access_line, info_lines_on, request_context
from ocn_core.model import InterfaceRole, RouteKind, RouteRequest
from ocn_core.routing import match
from ocn_core.validation import request_from_http
from ocn_core.views import to_json
from ocpi_gateway.core_client import CoreClient, InProcessCore
from ocpi_gateway.http_server import Answer, Request, Response
from ocpi_gateway.openapi import OPENAPI_PATH, document_bytes

log = structlog.get_logger("ocpi_gateway.access")
JSON = ("Content-Type", "application/json")


class Gateway:
    def __init__(
        self,
        core: CoreClient,
        node_info: dict[str, str] | None = None,
        access_log: bool = True,
        metrics: telemetry.Recorder | None = None,
        metrics_key: str = "",
    ) -> None:
        self.core = core
        self.node_info = node_info  # asked from the core on first use when not given
        self.access_log = access_log  # one canonical line per OCPI request (info level)
        self.metrics = metrics  # counts every OCPI request; serves GET /metrics when set
        self.metrics_key = metrics_key  # the admin key GET /metrics asks for ("": none)
        # shared state read at scrape time (registry, proxies); a remote core reports its own
        self.state = core.engine if isinstance(core, InProcessCore) else None

    def handle(self, request: Request) -> Awaitable[Answer]:
        """The server's handler (a plain function: OCPI requests skip one coroutine frame)."""
        if request.path.startswith("/ocpi/"):
            return self._ocpi(request)
        return self._other(request)

    async def _other(self, request: Request) -> Response:
        path = request.path
        if path == "/health":
            if await self.core.ready():
                return Response(200, [("Content-Type", "text/plain")], b"OK")
            return Response(503, [("Content-Type", "text/plain")], b"core unavailable")
        if path == "/health/details":
            return await self._health_details()
        if path.startswith("/admin/"):
            return await self._admin(request)
        if path == "/ocn/message":
            return await self._ocn_message(request)
        if path == OPENAPI_PATH:
            return Response(200, [JSON], document_bytes())
        if path == "/metrics" and self.metrics is not None:
            return scrape(request, self.metrics, self.metrics_key, self.state)
        if path == "/ocn/registry/node-info":
            if self.node_info is None:
                try:
                    self.node_info = to_json(await self.core.node_info())
                except OcnError as exc:
                    return _admin_error(exc, exc.http_status)
            return Response(200, [JSON], orjson.dumps(self.node_info))
        if path == "/ocn/client-info":
            req = RouteRequest(
                kind=RouteKind.OCN_CLIENT_INFO,
                method=request.method,
                request_id=request.headers.get("x-request-id", ""),
                ocn_signature=request.headers.get("ocn-signature", ""),
                body=request.body,
            )
            resp = await self.core.route(req)
            return Response(resp.status, resp.headers, resp.body)
        return Response(404, [JSON], ocpi.dumps(ocpi.envelope(2000, None, "Not found")))

    async def _health_details(self) -> Response:
        """The core's health (``degraded`` while the registry is stale); 503 without a core."""
        try:
            details = await self.core.health()
        except OcnError as exc:
            body = {"status": "down", "worker_pid": os.getpid(), "core": exc.message}
            return Response(exc.http_status, [JSON], orjson.dumps(body))
        body = {"status": details.get("status", "ok"), "worker_pid": os.getpid(), **details}
        return Response(200, [JSON], orjson.dumps(body))

    async def _ocpi(self, request: Request) -> Answer:
        started = time.perf_counter()
        found = match(request.method, request.path)
        if found is None:
            body = ocpi.dumps(ocpi.envelope(2000, None, f"No OCPI endpoint at {request.path}"))
            if self.metrics is not None:
                self.metrics.route("http", RouteKind.UNSPECIFIED, "", InterfaceRole.UNSPECIFIED,
                                   request.method, 404, 2000, "not_found", "", "", "", "",
                                   time.perf_counter() - started)  # fmt: skip
            return Response(404, [JSON], body)
        req = request_from_http(found, request.method, request.query, request.headers, request.body)
        bound = REQUEST_CONTEXT.set(req)  # request_context(req), inline on the hot path
        try:
            resp = await self.core.route(req)
            if self.access_log and info_lines_on():
                fields = {
                    "method": req.method,
                    "module": req.module,
                    "status": resp.status,
                    "ocpi_status": resp.ocpi_status,
                    "error": resp.error_reason or None,
                    # (whole µs / 1000: round(ms, 3) formats and parses a string per call)
                    "duration_ms": round((time.perf_counter() - started) * 1e6) / 1000,
                }
                _log_access("route_completed", fields)
        finally:
            REQUEST_CONTEXT.reset(bound)
        if self.metrics is not None:  # aggregated in process (< 1 µs), see ocn_core.telemetry
            frm, to = req.from_party, req.to_party
            self.metrics.route("http", req.kind, req.module, req.interface_role, req.method,
                               resp.status, resp.ocpi_status, resp.error_reason,
                               frm.country_code, frm.party_id, to.country_code, to.party_id,
                               time.perf_counter() - started)  # fmt: skip
        return resp  # (the server writes its status, headers and body)

    async def _ocn_message(self, request: Request) -> Response:
        """Another node's signed message: the engine verifies it over the raw body."""
        started = time.perf_counter()
        h = request.headers
        req = RouteRequest(
            kind=RouteKind.OCN_MESSAGE,
            method=request.method,
            request_id=h.get("x-request-id", ""),
            ocn_signature=h.get("ocn-signature", ""),
            body=request.body,
            content_type=h.get("content-type", ""),
        )
        with request_context(req):
            resp = await self.core.route(req)
            if self.access_log and info_lines_on():
                fields = {"status": resp.status, "ocpi_status": resp.ocpi_status,
                          "error": resp.error_reason or None}  # fmt: skip
                _log_access("ocn_message_completed", fields)
        if self.metrics is not None:
            self.metrics.route("http", req.kind, "", 0, req.method, resp.status, resp.ocpi_status,
                               resp.error_reason, "", "", "", "",
                               time.perf_counter() - started)  # fmt: skip
        return Response(resp.status, resp.headers, resp.body)

    async def _admin(self, request: Request) -> Response:
        try:
            call, args = admin_call(request)
        except AdminError as exc:
            return _admin_error(exc, exc.http_status)
        if call is None:
            return _admin_error(
                AdminError(f"No admin endpoint {request.method} {request.path}"), 404
            )
        try:
            result = await self.core.admin(request.headers.get("authorization", ""), call, **args)
        except OcnError as exc:
            return _admin_error(exc, exc.http_status)
        if isinstance(result, str):
            return Response(200, [("Content-Type", "text/plain")], result.encode())
        return Response(200, [JSON], orjson.dumps(result))


def _log_access(event: str, fields: dict[str, Any]) -> None:
    """One access line: the direct JSON path, or structlog when the pipeline is not ours."""
    if not access_line(event, fields):
        log.info(event, **fields)


def scrape(
    request: Request, recorder: telemetry.Recorder, key: str, engine: Engine | None = None
) -> Response:
    """GET /metrics: the scrape, or 401 unless the request carries ``key`` (when set) as
    ``Token <key>`` or ``Bearer <key>`` (setting ``metrics_auth``)."""
    if key and not key_matches(request.headers.get("authorization", ""), key, bearer=True):
        exc = AdminUnauthorized("Unauthorized: /metrics needs the admin API key (metrics_auth)")
        return _admin_error(exc, exc.http_status)
    body = recorder.scrape(engine)
    return Response(200, [("Content-Type", telemetry.CONTENT_TYPE)], body)


def refuse(status: int, message: str, headers: dict[str, str]) -> Response:
    """The front door's refusal (413, 414, 431, 408, 503, malformed HTTP) as an OCPI
    envelope, with the caller's X-Request-ID / X-Correlation-ID when they were parsed."""
    body = ocpi.dumps(ocpi.envelope(2001 if status < 500 else 3000, None, message))
    out = [JSON]
    for name, canonical in _ID_HEADERS:
        value = headers.get(name)
        if value is not None and value.isascii() and value.isprintable():
            out.append((canonical, value))
    telemetry.rejected(status)
    return Response(status, out, body)


_ID_HEADERS = (("x-request-id", "X-Request-ID"), ("x-correlation-id", "X-Correlation-ID"))


def admin_call(request: Request) -> tuple[str | None, dict[str, Any]]:
    """Map an admin URL to a named admin call and its arguments.

    The body's shape (JSON, field types, ttl a number) is checked here, before either core
    sees it, and missing fields become empty values: so both cores check the admin key first
    and then the values, and answer alike (a gRPC message cannot carry a wrongly typed field;
    a token's role list is checked by the core, see ``OcnClient.create_registration_token``).
    """
    parts = request.path.strip("/").split("/")[1:]
    method = request.method
    try:
        body = orjson.loads(request.body) if request.body else None
    except orjson.JSONDecodeError as exc:
        raise AdminError(f"Body is not valid JSON: {exc}") from None
    if method == "POST" and parts == ["generate-registration-token"]:
        roles = body.get("roles") if isinstance(body, dict) else body
        ttl = body.get("ttl_seconds") if isinstance(body, dict) else None
        if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int | float)):
            raise AdminError(f"ttl must be a number of seconds, not {ttl!r}")
        return "create_registration_token", {"roles": roles, "ttl": ttl}
    if method == "POST" and parts == ["connect"] and isinstance(body, dict):
        return "connect", _fields(body, versions_url="", token_a="", version="")
    if method == "POST" and len(parts) == 3 and parts[::2] == ["platforms", "rotate-credentials"]:
        return "rotate_credentials", {"platform_id": parts[1]}
    if method == "GET" and len(parts) == 3 and parts[0] == "connection-status":
        return "connection_status", {"country_code": parts[1], "party_id": parts[2]}
    if parts and parts[0] == "platforms":
        if method == "GET" and len(parts) == 1:
            return "platforms", {}
        if len(parts) == 2 and method in ("GET", "DELETE"):
            name = "platform" if method == "GET" else "delete_platform"
            return name, {"platform_id": parts[1]}
    if parts[:2] == ["registry", "parties"]:
        if method == "POST" and len(parts) == 2 and isinstance(body, dict):
            found = _fields(body, country_code="", party_id="", roles=[], address="", operator="")
            if not all(isinstance(r, str) for r in found["roles"]):
                raise AdminError("roles must be a list of role names")
            return "set_party", found
        if method == "DELETE" and len(parts) == 4:
            return "delete_party", {"country_code": parts[2], "party_id": parts[3]}
    if parts == ["registry", "nodes"] and method == "POST" and isinstance(body, dict):
        return "set_node", _fields(body, operator="", url="")
    return None, {}


def _fields(body: dict[str, Any], **empty: Any) -> dict[str, Any]:
    """``body``'s fields named in ``empty``, each of its empty value's type (missing: empty)."""
    found = {name: body.get(name, value) for name, value in empty.items()}
    for name, value in found.items():
        if not isinstance(value, type(empty[name])):
            kind = "a string" if isinstance(empty[name], str) else "a list"
            raise AdminError(f"{name} must be {kind}")
    return found


def _admin_error(exc: OcnError, status: int) -> Response:
    return Response(status, [JSON], orjson.dumps({"error": exc.reason, "message": exc.message}))
