"""The engine as a gRPC service: routing, admin, registry, health and reflection.

Servicer methods only decode → call the engine → encode; OcnErrors become a google.rpc.Status
with an ErrorInfo detail (see :mod:`ocn_grpc.errors`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from ocn_core import signing
from ocn_core.engine import Engine
from ocn_core.errors import OcnError
from ocn_core.hub.admin_calls import run_admin_call
from ocn_core.logconfig import request_context
from ocn_core.registry import Party
from ocn_grpc import convert
from ocn_grpc.errors import to_status
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

log = structlog.get_logger(__name__)
T = TypeVar("T")
SERVICES = (
    "ocn.v1.RoutingService",
    "ocn.v1.AdminService",
    "ocn.v1.RegistryService",
    "ocn.v1.SignatureService",
)


async def _guard(
    context: grpc.aio.ServicerContext[Any, Any], call: Callable[[], Awaitable[T]]
) -> T:
    try:
        return await call()
    except OcnError as exc:
        await context.abort_with_status(to_status(exc))
        raise  # unreachable: abort raises


def _auth(context: grpc.aio.ServicerContext[Any, Any]) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == "authorization":
            return str(value)
    return ""


class RoutingServicer(routing_pb2_grpc.RoutingServiceServicer):
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def Route(
        self, request: routing_pb2.RouteRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> routing_pb2.RouteResponse:
        req = convert.request_from_pb(request)
        with request_context(req):
            resp = await self.engine.route(req)
        return convert.response_to_pb(resp)

    async def RouteStream(
        self,
        request_iterator: AsyncIterator[routing_pb2.RouteRequest],
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> AsyncIterator[routing_pb2.RouteResponse]:
        """Route every request concurrently; answer each as soon as it is done (by call_id)."""
        async for batch in self._serve(_single(request_iterator)):
            for reply in batch:
                yield reply

    async def RouteBatchStream(
        self,
        request_iterator: AsyncIterator[routing_pb2.RouteRequestBatch],
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> AsyncIterator[routing_pb2.RouteResponseBatch]:
        """RouteStream with batched messages: each reply carries every answer ready by then."""
        async for batch in self._serve(_batches(request_iterator)):
            yield routing_pb2.RouteResponseBatch(responses=batch)

    async def _serve(
        self, requests: AsyncIterator[routing_pb2.RouteRequest]
    ) -> AsyncIterator[list[routing_pb2.RouteResponse]]:
        """Route requests concurrently; yield the completed answers in groups as they finish."""
        done: asyncio.Queue[routing_pb2.RouteResponse | None] = asyncio.Queue()
        pending: set[asyncio.Task[None]] = set()

        async def one(msg: routing_pb2.RouteRequest) -> None:
            req = convert.request_from_pb(msg)
            with request_context(req):
                resp = await self.engine.route(req)
            done.put_nowait(convert.response_to_pb(resp))

        async def read() -> None:
            async for msg in requests:
                task = asyncio.ensure_future(one(msg))
                pending.add(task)
                task.add_done_callback(pending.discard)
            while pending:
                await asyncio.gather(*list(pending))
            done.put_nowait(None)

        reader = asyncio.ensure_future(read())
        finished = False
        try:
            while not finished:
                item = await done.get()
                group: list[routing_pb2.RouteResponse] = []
                while item is not None:
                    group.append(item)
                    if done.empty():
                        break
                    item = done.get_nowait()
                finished = item is None
                if group:
                    yield group
        finally:
            reader.cancel()


async def _single(
    messages: AsyncIterator[routing_pb2.RouteRequest],
) -> AsyncIterator[routing_pb2.RouteRequest]:
    async for msg in messages:
        yield msg


async def _batches(
    messages: AsyncIterator[routing_pb2.RouteRequestBatch],
) -> AsyncIterator[routing_pb2.RouteRequest]:
    async for batch in messages:
        for msg in batch.requests:
            yield msg


class AdminServicer(admin_pb2_grpc.AdminServiceServicer):
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def _call(self, context: Any, name: str, **args: Any) -> Any:
        async def run() -> Any:
            return run_admin_call(self.engine, _auth(context), name, args)

        return await _guard(context, run)

    async def GetNodeInfo(self, request: Any, context: Any) -> admin_pb2.NodeInfo:
        ctx = self.engine.ctx
        return admin_pb2.NodeInfo(url=ctx.settings.public_url, address=ctx.node_address)

    async def CreateRegistrationToken(
        self, request: admin_pb2.CreateRegistrationTokenRequest, context: Any
    ) -> admin_pb2.RegistrationToken:
        roles = [
            {"country_code": r.country_code, "party_id": r.party_id, "role": r.role}
            for r in request.roles
        ]
        out = await self._call(
            context, "create_registration_token", roles=roles, ttl=request.ttl_seconds or None
        )
        return admin_pb2.RegistrationToken(
            token=out["token"], versions_url=out["versions"], expires_at=out["expires_at"]
        )

    async def ListPlatforms(self, request: Any, context: Any) -> admin_pb2.ListPlatformsResponse:
        found = await self._call(context, "platforms")
        return admin_pb2.ListPlatformsResponse(platforms=[_platform_pb(p) for p in found])

    async def GetPlatform(
        self, request: admin_pb2.GetPlatformRequest, context: Any
    ) -> admin_pb2.Platform:
        return _platform_pb(await self._call(context, "platform", platform_id=request.id))

    async def DeletePlatform(
        self, request: admin_pb2.GetPlatformRequest, context: Any
    ) -> admin_pb2.DeletePlatformResponse:
        await self._call(context, "delete_platform", platform_id=request.id)
        return admin_pb2.DeletePlatformResponse(deleted=True)

    async def GetConnectionStatus(
        self, request: routing_pb2.PartyRef, context: Any
    ) -> admin_pb2.ConnectionStatus:
        status = await self._call(
            context,
            "connection_status",
            country_code=request.country_code,
            party_id=request.party_id,
        )
        return admin_pb2.ConnectionStatus(status=status)


class RegistryServicer(registry_pb2_grpc.RegistryServiceServicer):
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def GetParty(self, request: routing_pb2.PartyRef, context: Any) -> registry_pb2.Party:
        party = self.engine.ctx.registry.party(request.country_code, request.party_id)
        if party is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "Party not registered on OCN")
        assert party is not None
        return party_pb(party)

    async def ListParties(self, request: Any, context: Any) -> registry_pb2.ListPartiesResponse:
        return registry_pb2.ListPartiesResponse(
            parties=[party_pb(p) for p in self.engine.ctx.registry.parties()]
        )

    async def GetNode(
        self, request: registry_pb2.GetNodeRequest, context: Any
    ) -> registry_pb2.Node:
        node = self.engine.ctx.registry.node(request.operator)
        if node is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "Node not registered on OCN")
        assert node is not None
        return registry_pb2.Node(operator=node.operator, url=node.url)

    async def GetStatus(self, request: Any, context: Any) -> registry_pb2.RegistryStatus:
        s = self.engine.ctx.registry.status()
        return registry_pb2.RegistryStatus(
            source=s.source or "",
            cursor_block=s.cursor or 0,
            head_block=s.head or 0,
            lag=s.lag or 0,
            stale=s.stale,
            last_error=s.last_error or "",
            last_sync=s.last_sync or 0.0,
        )

    async def SetParty(self, request: registry_pb2.Party, context: Any) -> registry_pb2.Party:
        async def run() -> Any:
            return run_admin_call(
                self.engine,
                _auth(context),
                "set_party",
                {
                    "country_code": request.country_code,
                    "party_id": request.party_id,
                    "roles": list(request.roles),
                    "address": request.address,
                    "operator": request.operator,
                },
            )

        await _guard(context, run)
        party = self.engine.ctx.registry.party(request.country_code, request.party_id)
        assert party is not None
        return party_pb(party)

    async def DeleteParty(
        self, request: routing_pb2.PartyRef, context: Any
    ) -> registry_pb2.DeleteResponse:
        async def run() -> Any:
            args = {"country_code": request.country_code, "party_id": request.party_id}
            return run_admin_call(self.engine, _auth(context), "delete_party", args)

        await _guard(context, run)
        return registry_pb2.DeleteResponse(deleted=True)

    async def SetNode(self, request: registry_pb2.Node, context: Any) -> registry_pb2.Node:
        async def run() -> Any:
            args = {"operator": request.operator, "url": request.url}
            return run_admin_call(self.engine, _auth(context), "set_node", args)

        await _guard(context, run)
        return registry_pb2.Node(operator=request.operator, url=request.url)


class SignatureServicer(signatures_pb2_grpc.SignatureServiceServicer):
    """OCN-Signature for embedding backends: verify any signature, sign with the node key."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def Verify(
        self, request: signatures_pb2.VerifyRequest, context: Any
    ) -> signatures_pb2.VerifyResponse:
        try:
            values = signing.parse_json(request.values_json)
            notary = signing.Notary.deserialize(request.ocn_signature)
            notary.verify(values)
        except OcnError as exc:
            return signatures_pb2.VerifyResponse(
                valid=False, error_reason=exc.reason, error_message=exc.message
            )
        return signatures_pb2.VerifyResponse(valid=True, signatory=notary.signatory)

    async def Sign(
        self, request: signatures_pb2.SignRequest, context: Any
    ) -> signatures_pb2.SignResponse:
        async def run() -> Any:
            self.engine.admin.check_key(_auth(context))  # the node key signs: admin only
            values = signing.parse_json(request.values_json)
            return signing.sign(values, self.engine.settings.private_key_bytes)

        notary = await _guard(context, run)
        return signatures_pb2.SignResponse(
            ocn_signature=notary.serialize(), signatory=notary.signatory
        )


def party_pb(p: Party) -> registry_pb2.Party:
    return registry_pb2.Party(
        country_code=p.country_code,
        party_id=p.party_id,
        address=p.address,
        roles=list(p.roles),
        modules_sender=list(p.modules_sender),
        modules_receiver=list(p.modules_receiver),
        operator=p.operator,
        node_url=p.node_url,
    )


def _platform_pb(p: dict[str, Any]) -> admin_pb2.Platform:
    return admin_pb2.Platform(
        id=p["id"],
        status=p["status"],
        ocpi_version=p["ocpi_version"],
        versions_url=p["versions_url"],
        last_updated=p["last_updated"],
        roles=[
            admin_pb2.Role(
                role=r["role"],
                country_code=r["country_code"],
                party_id=r["party_id"],
                business_name=str((r.get("business_details") or {}).get("name", "")),
            )
            for r in p["roles"]
        ],
        endpoints=[admin_pb2.Endpoint(**e) for e in p["endpoints"]],
    )


async def start_server(
    engine: Engine,
    address: str,
    reflection_on: bool = True,
    interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
) -> grpc.aio.Server:
    """Bind ``address`` (e.g. ``127.0.0.1:50051``), register every service, start serving."""
    server = grpc.aio.server(interceptors=interceptors)
    routing_pb2_grpc.add_RoutingServiceServicer_to_server(RoutingServicer(engine), server)
    admin_pb2_grpc.add_AdminServiceServicer_to_server(AdminServicer(engine), server)
    registry_pb2_grpc.add_RegistryServiceServicer_to_server(RegistryServicer(engine), server)
    signatures_pb2_grpc.add_SignatureServiceServicer_to_server(SignatureServicer(engine), server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    if reflection_on:
        names = (*SERVICES, health.SERVICE_NAME, reflection.SERVICE_NAME)
        reflection.enable_server_reflection(names, server)
    bound = server.add_insecure_port(address)
    if not bound:
        raise RuntimeError(f"cannot bind gRPC server to {address}")
    await server.start()
    for name in ("", *SERVICES):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    server.bound_port = bound  # type: ignore[attr-defined]
    log.info("grpc_started", address=address, port=bound)
    return server
