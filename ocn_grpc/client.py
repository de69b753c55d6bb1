"""Typed asyncio client for the ocn.v1 services.

``OcnClient("127.0.0.1:50051")`` routes ``ocn_core.model.RouteRequest`` objects and returns
``RouteResponse``; admin/registry calls return plain dicts. Server-side OcnErrors are raised
again as the same ``ocn_core.errors`` class. No automatic retries: OCPI POST/PUT/PATCH are not
idempotent.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Any

import grpc
import orjson

from ocn_core.model import RouteRequest, RouteResponse
from ocn_grpc import convert
from ocn_grpc.errors import from_rpc_error
from ocn_grpc.pb import (
    admin_pb2,
    admin_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
    routing_pb2,
    routing_pb2_grpc,
    signatures_pb2,
    signatures_pb2_grpc,
)


class OcnClient:
    def __init__(self, target: str, api_key: str = "") -> None:
        self.target = target.removeprefix("grpc://")
        self.channel = grpc.aio.insecure_channel(self.target, options=[("grpc.enable_retries", 0)])
        self.routing = routing_pb2_grpc.RoutingServiceStub(self.channel)
        self.admin_stub = admin_pb2_grpc.AdminServiceStub(self.channel)
        self.registry = registry_pb2_grpc.RegistryServiceStub(self.channel)
        self.signatures = signatures_pb2_grpc.SignatureServiceStub(self.channel)
        self.api_key = api_key

    def _meta(self, authorization: str | None = None) -> tuple[tuple[str, str], ...]:
        """The admin credential as call metadata; none at all when there is no key to send."""
        if authorization is None:
            authorization = f"Token {self.api_key}" if self.api_key else ""
        return (("authorization", authorization),) if authorization else ()

    async def route(self, req: RouteRequest) -> RouteResponse:
        """Route one request; the OCPI token inside it authenticates, so no call metadata."""
        msg = await self._unary(self.routing.Route, convert.request_to_pb(req), authorization="")
        return convert.response_from_pb(msg)

    def stream(self) -> RouteStream:
        """A bidirectional stream for many concurrent requests over one call."""
        return RouteStream(self.routing)

    async def node_info(self) -> dict[str, str]:
        msg = await self._unary(self.admin_stub.GetNodeInfo, admin_pb2.NodeInfoRequest())
        return {"url": msg.url, "address": msg.address}

    async def create_registration_token(
        self,
        roles: list[dict[str, str]],
        ttl: float | None = None,
        authorization: str | None = None,
    ) -> dict[str, Any]:
        req = admin_pb2.CreateRegistrationTokenRequest(
            roles=[admin_pb2.Role(**r) for r in roles], ttl_seconds=int(ttl or 0)
        )
        msg = await self._unary(self.admin_stub.CreateRegistrationToken, req, authorization)
        return {"token": msg.token, "versions": msg.versions_url, "expires_at": msg.expires_at}

    async def platforms(self, authorization: str | None = None) -> list[dict[str, Any]]:
        msg = await self._unary(
            self.admin_stub.ListPlatforms, admin_pb2.ListPlatformsRequest(), authorization
        )
        return [_platform(p) for p in msg.platforms]

    async def platform(self, platform_id: str, authorization: str | None = None) -> dict[str, Any]:
        req = admin_pb2.GetPlatformRequest(id=platform_id)
        return _platform(await self._unary(self.admin_stub.GetPlatform, req, authorization))

    async def delete_platform(self, platform_id: str, authorization: str | None = None) -> None:
        req = admin_pb2.GetPlatformRequest(id=platform_id)
        await self._unary(self.admin_stub.DeletePlatform, req, authorization)

    async def connection_status(
        self, country_code: str, party_id: str, authorization: str | None = None
    ) -> str:
        req = routing_pb2.PartyRef(country_code=country_code, party_id=party_id)
        msg = await self._unary(self.admin_stub.GetConnectionStatus, req, authorization)
        return str(msg.status)

    async def set_party(
        self,
        country_code: str,
        party_id: str,
        roles: list[str],
        address: str = "",
        operator: str = "",
        authorization: str | None = None,
    ) -> dict[str, Any]:
        req = registry_pb2.Party(
            country_code=country_code,
            party_id=party_id,
            roles=roles,
            address=address,
            operator=operator,
        )
        return _party(await self._unary(self.registry.SetParty, req, authorization))

    async def delete_party(
        self, country_code: str, party_id: str, authorization: str | None = None
    ) -> dict[str, Any]:
        req = routing_pb2.PartyRef(country_code=country_code, party_id=party_id)
        await self._unary(self.registry.DeleteParty, req, authorization)
        return {"deleted": True}

    async def get_party(self, country_code: str, party_id: str) -> dict[str, Any] | None:
        req = routing_pb2.PartyRef(country_code=country_code, party_id=party_id)
        try:
            return _party(await self.registry.GetParty(req))
        except grpc.aio.AioRpcError as err:
            if err.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise

    async def verify_signature(self, ocn_signature: str, values: Any) -> dict[str, Any]:
        """Check ``ocn_signature`` against ValuesToSign ``values``: valid, signatory, error."""
        req = signatures_pb2.VerifyRequest(
            ocn_signature=ocn_signature, values_json=orjson.dumps(values)
        )
        msg = await self._unary(self.signatures.Verify, req, "")
        return {
            "valid": msg.valid,
            "signatory": msg.signatory,
            "error_reason": msg.error_reason,
            "error_message": msg.error_message,
        }

    async def sign(self, values: Any, authorization: str | None = None) -> dict[str, str]:
        """Sign ``values`` with the node key (admin api key required)."""
        req = signatures_pb2.SignRequest(values_json=orjson.dumps(values))
        msg = await self._unary(self.signatures.Sign, req, authorization)
        return {"ocn_signature": msg.ocn_signature, "signatory": msg.signatory}

    async def registry_status(self) -> dict[str, Any]:
        msg = await self._unary(self.registry.GetStatus, registry_pb2.RegistryStatusRequest())
        return {
            "source": msg.source,
            "cursor": msg.cursor_block,
            "head": msg.head_block,
            "lag": msg.lag,
            "stale": msg.stale,
            "last_error": msg.last_error,
            "last_sync": msg.last_sync,
        }

    async def _unary(self, method: Any, request: Any, authorization: str | None = None) -> Any:
        try:
            return await method(request, metadata=self._meta(authorization))
        except grpc.aio.AioRpcError as err:
            raise from_rpc_error(err) from None

    async def close(self) -> None:
        await self.channel.close()


class RouteStream:
    """Many RouteRequests over one RouteBatchStream call; ``await route(req)`` per request.

    Requests queued while the previous message was being sent go out together in one batch
    message, and the server answers with whatever has completed, so under load the per-message
    cost of gRPC is shared by many requests while a lone request still goes out at once.
    """

    def __init__(self, stub: routing_pb2_grpc.RoutingServiceStub) -> None:
        self._stub = stub
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[RouteResponse]] = {}
        self._outbox: asyncio.Queue[routing_pb2.RouteRequest | None] = asyncio.Queue()
        self._call: Any = None
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> RouteStream:
        self._call = self._stub.RouteBatchStream(self._batches())  # type: ignore[arg-type]
        self._reader = asyncio.ensure_future(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._outbox.put_nowait(None)
        if self._reader is not None:
            await self._reader

    async def _batches(self) -> AsyncIterator[routing_pb2.RouteRequestBatch]:
        closing = False
        while not closing:
            msg = await self._outbox.get()
            batch: list[routing_pb2.RouteRequest] = []
            while msg is not None:
                batch.append(msg)
                if self._outbox.empty():
                    break
                msg = self._outbox.get_nowait()
            closing = msg is None
            if batch:
                yield routing_pb2.RouteRequestBatch(requests=batch)

    async def _read(self) -> None:
        try:
            async for batch in self._call:
                for msg in batch.responses:
                    fut = self._waiting.pop(msg.call_id, None)
                    if fut is not None and not fut.done():
                        fut.set_result(convert.response_from_pb(msg))
        except grpc.aio.AioRpcError as err:
            for fut in self._waiting.values():
                if not fut.done():
                    fut.set_exception(from_rpc_error(err))

    async def route(self, req: RouteRequest) -> RouteResponse:
        req.call_id = next(self._ids)
        fut: asyncio.Future[RouteResponse] = asyncio.get_running_loop().create_future()
        self._waiting[req.call_id] = fut
        self._outbox.put_nowait(convert.request_to_pb(req))
        return await fut


def _party(p: registry_pb2.Party) -> dict[str, Any]:
    return {
        "country_code": p.country_code,
        "party_id": p.party_id,
        "address": p.address,
        "roles": list(p.roles),
        "operator": p.operator,
        "node_url": p.node_url,
    }


def _platform(p: admin_pb2.Platform) -> dict[str, Any]:
    return {
        "id": p.id,
        "status": p.status,
        "ocpi_version": p.ocpi_version,
        "versions_url": p.versions_url,
        "last_updated": p.last_updated,
        "roles": [
            {"role": r.role, "country_code": r.country_code, "party_id": r.party_id}
            for r in p.roles
        ],
        "endpoints": [
            {"identifier": e.identifier, "role": e.role, "url": e.url} for e in p.endpoints
        ],
    }
