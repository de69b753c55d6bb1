"""The engine as a gRPC service: routing, admin, registry, signatures, health and reflection.

Servicer methods only decode → call the engine's typed methods → encode (all conversions live in
:mod:`ocn_grpc.convert`); OcnErrors become a google.rpc.Status with the code from the reason
table and an ErrorInfo detail (see :mod:`ocn_grpc.errors`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from ocn_core.engine import Engine
from ocn_core.errors import InvalidRequest, NotListed, OcnError
from ocn_core.logconfig import request_context
from ocn_core.model import RouteRequest
from ocn_core.registry import Node, Party
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

if TYPE_CHECKING:
    from ocn_core.signing import Notary

log = structlog.get_logger(__name__)
T = TypeVar("T")
REGISTRY_SERVICE = "ocn.v1.RegistryService"
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
    def __init__(self, engine: Engine, stream_inflight: int = 256) -> None:
        self.engine = engine
        self.stream_inflight = max(1, stream_inflight)

    async def Route(
        self, request: routing_pb2.RouteRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> routing_pb2.RouteResponse:
        try:
            req = convert.request_from_pb(request)
        except ValueError as exc:  # an enum value the contract does not define
            await context.abort_with_status(to_status(InvalidRequest(f"Bad RouteRequest: {exc}")))
            raise  # unreachable: abort raises
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

    async def _one(self, msg: routing_pb2.RouteRequest) -> routing_pb2.RouteResponse:
        """One stream message's answer; a bad message gets an error answer for its call only."""
        try:
            req = convert.request_from_pb(msg)
        except ValueError as exc:
            bad = RouteRequest(call_id=msg.call_id)
            return convert.response_to_pb(
                self.engine.refuse(bad, InvalidRequest(f"Bad RouteRequest: {exc}"))
            )
        with request_context(req):
            try:
                resp = await self.engine.route(req)
            except Exception:  # a bug must not leave the caller waiting for this call_id
                log.exception("stream_route_failed")
                resp = self.engine.refuse(req, OcnError("Internal error routing the request"))
        return convert.response_to_pb(resp)

    async def _serve(
        self, requests: AsyncIterator[routing_pb2.RouteRequest]
    ) -> AsyncIterator[list[routing_pb2.RouteResponse]]:
        """Route requests concurrently (at most ``stream_inflight`` at once); yield the
        completed answers in groups as they finish."""
        done: asyncio.Queue[routing_pb2.RouteResponse | None] = asyncio.Queue()
        pending: set[asyncio.Task[None]] = set()
        slots = asyncio.Semaphore(self.stream_inflight)

        async def one(msg: routing_pb2.RouteRequest) -> None:
            try:
                done.put_nowait(await self._one(msg))
            finally:
                slots.release()

        async def read() -> None:
            async for msg in requests:
                await slots.acquire()  # at the bound: stop reading; flow control pushes back
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
            for task in list(pending):
                task.cancel()


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

    async def _admin(self, context: Any, call: Callable[[], T]) -> T:
        """``call()`` after the admin key check; OcnErrors become rich gRPC errors."""

        async def run() -> T:
            self.engine.check_admin_key(_auth(context))
            return call()

        return await _guard(context, run)

    async def _admin_awaited(self, context: Any, call: Callable[[], Awaitable[T]]) -> T:
        """:meth:`_admin` for the calls that talk to a party (awaited after the key check)."""

        async def run() -> T:
            self.engine.check_admin_key(_auth(context))
            return await call()

        return await _guard(context, run)

    async def GetNodeInfo(self, request: Any, context: Any) -> admin_pb2.NodeInfo:
        return convert.node_info_to_pb(self.engine.node_info())

    async def GetHealthDetails(self, request: Any, context: Any) -> admin_pb2.HealthDetails:
        return convert.health_to_pb(self.engine.health_details())

    async def CreateRegistrationToken(
        self, request: admin_pb2.CreateRegistrationTokenRequest, context: Any
    ) -> admin_pb2.RegistrationToken:
        roles: list[dict[str, Any]] = [
            {"country_code": r.country_code, "party_id": r.party_id, "role": r.role}
            for r in request.roles
        ]
        ttl = request.ttl or request.ttl_seconds or None
        token = await self._admin(
            context, lambda: self.engine.create_registration_token(roles, ttl)
        )
        return convert.token_to_pb(token)

    async def ListPlatforms(self, request: Any, context: Any) -> admin_pb2.ListPlatformsResponse:
        found = await self._admin(context, self.engine.platforms)
        return admin_pb2.ListPlatformsResponse(platforms=[convert.platform_to_pb(p) for p in found])

    async def GetPlatform(
        self, request: admin_pb2.GetPlatformRequest, context: Any
    ) -> admin_pb2.Platform:
        found = await self._admin(context, lambda: self.engine.platform(request.id))
        return convert.platform_to_pb(found)

    async def DeletePlatform(
        self, request: admin_pb2.GetPlatformRequest, context: Any
    ) -> admin_pb2.DeletePlatformResponse:
        await self._admin(context, lambda: self.engine.delete_platform(request.id))
        return admin_pb2.DeletePlatformResponse(deleted=True)

    async def GetConnectionStatus(
        self, request: routing_pb2.PartyRef, context: Any
    ) -> admin_pb2.ConnectionStatus:
        cc, pid = request.country_code, request.party_id
        status = await self._admin(context, lambda: self.engine.connection_status(cc, pid))
        return admin_pb2.ConnectionStatus(status=status)

    async def ConnectParty(
        self, request: admin_pb2.ConnectPartyRequest, context: Any
    ) -> admin_pb2.Platform:
        url, token_a, version = request.versions_url, request.token_a, request.version
        found = await self._admin_awaited(
            context, lambda: self.engine.connect_party(url, token_a, version)
        )
        return convert.platform_to_pb(found)

    async def RotateCredentials(
        self, request: admin_pb2.GetPlatformRequest, context: Any
    ) -> admin_pb2.Platform:
        found = await self._admin_awaited(
            context, lambda: self.engine.rotate_credentials(request.id)
        )
        return convert.platform_to_pb(found)


class RegistryServicer(registry_pb2_grpc.RegistryServiceServicer):
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def GetParty(self, request: routing_pb2.PartyRef, context: Any) -> registry_pb2.Party:
        async def run() -> Party:
            party = self.engine.party(request.country_code, request.party_id)
            if party is None:
                raise NotListed("Party not registered on OCN")
            return party

        return convert.party_to_pb(await _guard(context, run))

    async def ListParties(self, request: Any, context: Any) -> registry_pb2.ListPartiesResponse:
        parties = [convert.party_to_pb(p) for p in self.engine.parties()]
        return registry_pb2.ListPartiesResponse(parties=parties)

    async def GetNode(
        self, request: registry_pb2.GetNodeRequest, context: Any
    ) -> registry_pb2.Node:
        async def run() -> Node:
            node = self.engine.registry_node(request.operator)
            if node is None:
                raise NotListed("Node not registered on OCN")
            return node

        return convert.node_to_pb(await _guard(context, run))

    async def GetStatus(self, request: Any, context: Any) -> registry_pb2.RegistryStatus:
        return convert.registry_status_to_pb(self.engine.registry_status())

    async def _admin(self, context: Any, call: Callable[[], T]) -> T:
        async def run() -> T:
            self.engine.check_admin_key(_auth(context))
            return call()

        return await _guard(context, run)

    async def SetParty(self, request: registry_pb2.Party, context: Any) -> registry_pb2.Party:
        party = await self._admin(
            context,
            lambda: self.engine.set_party(
                request.country_code,
                request.party_id,
                list(request.roles),
                request.address,
                request.operator,
            ),
        )
        return convert.party_to_pb(party)

    async def DeleteParty(
        self, request: routing_pb2.PartyRef, context: Any
    ) -> registry_pb2.DeleteResponse:
        cc, pid = request.country_code, request.party_id
        await self._admin(context, lambda: self.engine.delete_party(cc, pid))
        return registry_pb2.DeleteResponse(deleted=True)

    async def SetNode(self, request: registry_pb2.Node, context: Any) -> registry_pb2.Node:
        node = await self._admin(
            context, lambda: self.engine.set_node(request.operator, request.url)
        )
        return convert.node_to_pb(node)


class SignatureServicer(signatures_pb2_grpc.SignatureServiceServicer):
    """OCN-Signature for embedding backends: verify any signature, sign with the node key."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def Verify(
        self, request: signatures_pb2.VerifyRequest, context: Any
    ) -> signatures_pb2.VerifyResponse:
        check = self.engine.verify_signature(request.ocn_signature, request.values_json)
        return convert.signature_check_to_pb(check)

    async def Sign(
        self, request: signatures_pb2.SignRequest, context: Any
    ) -> signatures_pb2.SignResponse:
        async def run() -> Notary:
            self.engine.check_admin_key(_auth(context))  # the node key signs: admin only
            return self.engine.sign(request.values_json)

        notary = await _guard(context, run)
        return signatures_pb2.SignResponse(
            ocn_signature=notary.serialize(), signatory=notary.signatory
        )


async def follow_registry_health(
    engine: Engine, health_servicer: health.aio.HealthServicer, every: float = 1.0
) -> None:
    """RegistryService is NOT_SERVING while the registry source is stale (the cache still
    answers; ``GetHealthDetails`` says ``degraded``), SERVING again once it caught up."""
    serving = health_pb2.HealthCheckResponse.SERVING
    not_serving = health_pb2.HealthCheckResponse.NOT_SERVING
    current = None
    while True:
        try:
            stale = engine.registry_status().stale
        except Exception:  # LMDB closed under us at shutdown
            log.exception("registry_health_failed")
            stale = True
        wanted = not_serving if stale else serving
        if wanted != current:
            await health_servicer.set(REGISTRY_SERVICE, wanted)
            current = wanted
        await asyncio.sleep(every)


class GrpcServer:
    """A started gRPC server, the port it listens on, and its registry-health follower."""

    def __init__(
        self,
        server: grpc.aio.Server,
        port: int,
        health_task: asyncio.Task[None],
        interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
    ):
        self.server = server
        self.bound_port = port
        self.health_task = health_task
        self.interceptors = tuple(interceptors)

    async def wait_for_termination(self) -> None:
        await self.server.wait_for_termination()

    async def stop(self, grace: float | None = None) -> None:
        """Stop the health follower and the server (in-flight calls get ``grace`` seconds).

        A call that aborts sends its status before its handler has unwound, so the server can
        stop while an interceptor still has the call in flight (the metrics count it on the
        way out): wait for them, at most a second more.
        """
        self.health_task.cancel()
        await self.server.stop(grace)
        for _ in range(100):
            if all(getattr(i, "inflight", 0) == 0 for i in self.interceptors):
                break
            await asyncio.sleep(0.01)


async def start_server(
    engine: Engine,
    address: str,
    reflection_on: bool = True,
    health_every: float = 1.0,
    interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
) -> GrpcServer:
    """Bind ``address`` (e.g. ``127.0.0.1:50051``, port 0: any), register every service, serve.

    The registry-health follower checks staleness every ``health_every`` seconds.
    """
    server = grpc.aio.server(interceptors=interceptors)
    routing = RoutingServicer(engine, engine.settings.grpc_stream_inflight)
    routing_pb2_grpc.add_RoutingServiceServicer_to_server(routing, server)
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
    task = asyncio.ensure_future(follow_registry_health(engine, health_servicer, health_every))
    log.info("grpc_started", address=address, port=bound)
    return GrpcServer(server, bound, task, interceptors)


async def stop_server(server: GrpcServer, grace: float | None = None) -> None:
    """:meth:`GrpcServer.stop`."""
    await server.stop(grace)
