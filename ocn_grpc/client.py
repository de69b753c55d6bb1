"""Typed asyncio client for the ocn.v1 services.

``OcnClient("127.0.0.1:50051")`` routes ``ocn_core.model.RouteRequest`` objects and returns
``RouteResponse``; admin/registry calls return the engine's own typed results
(:mod:`ocn_core.views`, registry ``Party`` / ``Node``), as an in-process engine does.
Server-side OcnErrors are raised again as the same ``ocn_core.errors`` class. No automatic
retries: OCPI POST/PUT/PATCH are not idempotent.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Any

import grpc
import orjson

from ocn_core.errors import AdminError, NotListed
from ocn_core.hub.admin import role_grants
from ocn_core.model import RouteRequest, RouteResponse
from ocn_core.registry import Node, Party, RegistryStatus
from ocn_core.views import HealthDetails, IssuedToken, NodeInfo, PlatformInfo, SignatureCheck
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

# Channel options: no transparent retries (OCPI writes are not idempotent); reconnect quickly
# after the core restarts (gRPC's default backoff grows to 120 s).
CHANNEL_OPTIONS = (
    ("grpc.enable_retries", 0),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
)


class OcnClient:
    """The ocn.v1 services over one channel; answers are the engine's own typed results.

    ``timeout`` is the deadline of every call except Route (``route_timeout``) and the calls
    that talk to a party, ConnectParty / RotateCredentials (``party_timeout``); None: no
    deadline. A call past it raises ``grpc.aio.AioRpcError`` DEADLINE_EXCEEDED.
    """

    def __init__(
        self,
        target: str,
        api_key: str = "",
        timeout: float | None = None,
        route_timeout: float | None = None,
        party_timeout: float | None = None,
    ) -> None:
        self.target = target.removeprefix("grpc://")
        self.channel = grpc.aio.insecure_channel(self.target, options=list(CHANNEL_OPTIONS))
        self.routing = routing_pb2_grpc.RoutingServiceStub(self.channel)
        self.admin_stub = admin_pb2_grpc.AdminServiceStub(self.channel)
        self.registry = registry_pb2_grpc.RegistryServiceStub(self.channel)
        self.signatures = signatures_pb2_grpc.SignatureServiceStub(self.channel)
        self.api_key = api_key
        self.timeout = timeout
        self.route_timeout = route_timeout
        self.party_timeout = party_timeout
        self._route = self.routing.Route

    def _meta(self, authorization: str | None = None) -> tuple[tuple[str, str], ...]:
        """The admin credential as call metadata; none at all when there is no key to send."""
        if authorization is None:
            authorization = f"Token {self.api_key}" if self.api_key else ""
        return (("authorization", authorization),) if authorization else ()

    async def route(self, req: RouteRequest) -> RouteResponse:
        """Route one request; the OCPI token inside it authenticates, so no call metadata.

        gRPC failures (core down, deadline) raise ``grpc.aio.AioRpcError``.
        """
        msg = await self._route(convert.request_to_pb(req), timeout=self.route_timeout)
        return convert.response_from_pb(msg)

    def stream(self) -> RouteStream:
        """A bidirectional stream for many concurrent requests over one call."""
        return RouteStream(self.routing)

    async def node_info(self) -> NodeInfo:
        msg = await self._unary(self.admin_stub.GetNodeInfo, admin_pb2.NodeInfoRequest(), "")
        return convert.node_info_from_pb(msg)

    async def health_details(self) -> HealthDetails:
        req = admin_pb2.HealthDetailsRequest()
        return convert.health_from_pb(await self._unary(self.admin_stub.GetHealthDetails, req, ""))

    async def create_registration_token(
        self,
        roles: list[dict[str, Any]],
        ttl: float | None = None,
        authorization: str | None = None,
    ) -> IssuedToken:
        try:
            grants = role_grants(roles)
        except AdminError:  # no message can carry it: the core refuses (and audits) an empty
            grants = []  # list after the key check, as in process
        pb_roles = [
            admin_pb2.Role(country_code=r["country_code"], party_id=r["party_id"], role=r["role"])
            for r in grants
        ]
        req = admin_pb2.CreateRegistrationTokenRequest(roles=pb_roles, ttl=ttl or 0.0)
        msg = await self._unary(self.admin_stub.CreateRegistrationToken, req, authorization)
        return convert.token_from_pb(msg)

    async def platforms(self, authorization: str | None = None) -> list[PlatformInfo]:
        msg = await self._unary(
            self.admin_stub.ListPlatforms, admin_pb2.ListPlatformsRequest(), authorization
        )
        return [convert.platform_from_pb(p) for p in msg.platforms]

    async def platform(self, platform_id: str, authorization: str | None = None) -> PlatformInfo:
        req = admin_pb2.GetPlatformRequest(id=platform_id)
        msg = await self._unary(self.admin_stub.GetPlatform, req, authorization)
        return convert.platform_from_pb(msg)

    async def delete_platform(self, platform_id: str, authorization: str | None = None) -> None:
        req = admin_pb2.GetPlatformRequest(id=platform_id)
        await self._unary(self.admin_stub.DeletePlatform, req, authorization)

    async def connection_status(
        self, country_code: str, party_id: str, authorization: str | None = None
    ) -> str:
        req = routing_pb2.PartyRef(country_code=country_code, party_id=party_id)
        msg = await self._unary(self.admin_stub.GetConnectionStatus, req, authorization)
        return str(msg.status)

    async def connect(
        self,
        versions_url: str,
        token_a: str,
        version: str = "",
        authorization: str | None = None,
    ) -> PlatformInfo:
        """The node registers with the party at ``versions_url`` (its token A); the platform."""
        req = admin_pb2.ConnectPartyRequest(
            versions_url=versions_url, token_a=token_a, version=version
        )
        msg = await self._unary(
            self.admin_stub.ConnectParty, req, authorization, self.party_timeout
        )
        return convert.platform_from_pb(msg)

    async def rotate_credentials(
        self, platform_id: str, authorization: str | None = None
    ) -> PlatformInfo:
        """Credentials PUT with a new token C to the platform's party; the updated platform."""
        req = admin_pb2.GetPlatformRequest(id=platform_id)
        msg = await self._unary(
            self.admin_stub.RotateCredentials, req, authorization, self.party_timeout
        )
        return convert.platform_from_pb(msg)

    async def set_party(
        self,
        country_code: str,
        party_id: str,
        roles: list[str],
        address: str = "",
        operator: str = "",
        authorization: str | None = None,
    ) -> Party:
        req = registry_pb2.Party(
            country_code=country_code,
            party_id=party_id,
            roles=roles,
            address=address,
            operator=operator,
        )
        msg = await self._unary(self.registry.SetParty, req, authorization)
        return convert.party_from_pb(msg)

    async def delete_party(
        self, country_code: str, party_id: str, authorization: str | None = None
    ) -> None:
        req = routing_pb2.PartyRef(country_code=country_code, party_id=party_id)
        await self._unary(self.registry.DeleteParty, req, authorization)

    async def set_node(self, operator: str, url: str, authorization: str | None = None) -> Node:
        req = registry_pb2.Node(operator=operator, url=url)
        return convert.node_from_pb(await self._unary(self.registry.SetNode, req, authorization))

    async def get_party(self, country_code: str, party_id: str) -> Party | None:
        req = routing_pb2.PartyRef(country_code=country_code, party_id=party_id)
        try:
            return convert.party_from_pb(await self._unary(self.registry.GetParty, req, ""))
        except NotListed:
            return None

    async def parties(self) -> list[Party]:
        req = registry_pb2.ListPartiesRequest()
        msg = await self._unary(self.registry.ListParties, req, "")
        return [convert.party_from_pb(p) for p in msg.parties]

    async def get_node(self, operator: str) -> Node | None:
        req = registry_pb2.GetNodeRequest(operator=operator)
        try:
            return convert.node_from_pb(await self._unary(self.registry.GetNode, req, ""))
        except NotListed:
            return None

    async def verify_signature(self, ocn_signature: str, values: Any) -> SignatureCheck:
        """Check ``ocn_signature`` against ValuesToSign ``values``: valid, signatory, error."""
        req = signatures_pb2.VerifyRequest(
            ocn_signature=ocn_signature, values_json=orjson.dumps(values)
        )
        return convert.signature_check_from_pb(await self._unary(self.signatures.Verify, req, ""))

    async def sign(self, values: Any, authorization: str | None = None) -> dict[str, str]:
        """Sign ``values`` with the node key (admin api key required)."""
        req = signatures_pb2.SignRequest(values_json=orjson.dumps(values))
        msg = await self._unary(self.signatures.Sign, req, authorization)
        return {"ocn_signature": msg.ocn_signature, "signatory": msg.signatory}

    async def registry_status(self) -> RegistryStatus:
        msg = await self._unary(self.registry.GetStatus, registry_pb2.RegistryStatusRequest(), "")
        return convert.registry_status_from_pb(msg)

    async def _unary(
        self,
        method: Any,
        request: Any,
        authorization: str | None = None,
        timeout: float | None = None,
    ) -> Any:
        """One unary call with ``timeout`` (default: ``self.timeout``)."""
        timeout = self.timeout if timeout is None else timeout
        try:
            return await method(request, metadata=self._meta(authorization), timeout=timeout)
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
