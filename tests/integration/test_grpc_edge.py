"""The gRPC edge as a twin, over real channels: status codes with OCPI details, health that
follows the registry, health details, bad stream messages, bounded streams, and a gateway
(``--core grpc://``) that survives its core going away, coming late, and being slow."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from asyncio.subprocess import DEVNULL
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import orjson
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from ocn_core import Engine, RouteKind, RouteRequest, RouteResponse, Settings, open_node, to_json
from ocn_core.errors import _BY_REASON, OcnError
from ocn_core.registry import RegistryCache
from ocn_core.routing import match
from ocn_core.validation import request_from_http
from ocn_grpc import convert
from ocn_grpc.client import OcnClient
from ocn_grpc.errors import CODES, grpc_code
from ocn_grpc.pb import admin_pb2, admin_pb2_grpc, registry_pb2_grpc, routing_pb2
from ocn_grpc.server import GrpcServer, start_server
from ocpi_gateway.app import Gateway, refuse
from ocpi_gateway.core_client import InProcessCore
from ocpi_gateway.grpc_core import GrpcCore
from ocpi_gateway.http_server import serve
from tests.support.hub import CPO, three_platform_hub
from tests.support.node import free_port

ROUTING_HEADERS = {
    "X-Request-ID": "req-1",
    "X-Correlation-ID": "corr-1",
    "OCPI-from-country-code": "DE",
    "OCPI-from-party-id": "MSP",
    "OCPI-to-country-code": "CH",
    "OCPI-to-party-id": "CPO",
    "Authorization": "Token whatever",
}


def _settings(tmp: Path, **overrides: Any) -> Settings:
    return Settings.from_env(
        {}, data_dir=tmp / "core", public_url="http://127.0.0.1:9", **overrides
    )


@contextlib.asynccontextmanager
async def core_at(
    tmp: Path, port: int = 0, **overrides: Any
) -> AsyncIterator[tuple[Engine, GrpcServer]]:
    """A core (engine + gRPC server) on 127.0.0.1:``port``."""
    engine = open_node(_settings(tmp, **overrides))
    server = await start_server(engine, f"127.0.0.1:{port}", health_every=0.05)
    try:
        yield engine, server
    finally:
        await server.stop(None)
        await engine.shutdown()


def _error_info(err: grpc.aio.AioRpcError) -> error_details_pb2.ErrorInfo:
    status = rpc_status.from_call(err)
    assert status is not None
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info)
    return info


# --- status codes ---------------------------------------------------------------------------


def test_every_error_reason_has_a_code_from_the_table() -> None:
    for reason, cls in _BY_REASON.items():
        nearest = next(getattr(k, "reason", None) for k in cls.__mro__ if k.reason in CODES)  # type: ignore[attr-defined]
        assert nearest is not None, reason
        assert grpc_code(cls("x")) == CODES[nearest]
    assert (
        grpc_code(_BY_REASON["receiver_timeout"]("x")) == grpc.StatusCode.DEADLINE_EXCEEDED.value[0]
    )
    assert (
        grpc_code(_BY_REASON["method_not_allowed"]("x"))
        != grpc.StatusCode.INVALID_ARGUMENT.value[0]
    )


async def test_errors_carry_their_code_and_ocpi_status(tmp_path: Path) -> None:
    async with core_at(tmp_path) as (engine, server):
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.bound_port}") as channel:
            admin = admin_pb2_grpc.AdminServiceStub(channel)
            key = (("authorization", f"Token {engine.settings.api_key}"),)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await admin.GetPlatform(admin_pb2.GetPlatformRequest(id="nope"), metadata=key)
            assert caught.value.code() == grpc.StatusCode.NOT_FOUND
            info = _error_info(caught.value)
            assert (info.reason, info.metadata["http_status"]) == ("admin_not_found", "404")
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await admin.ListPlatforms(admin_pb2.ListPlatformsRequest())
            assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
            registry = registry_pb2_grpc.RegistryServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await registry.GetParty(routing_pb2.PartyRef(country_code="XX", party_id="NOP"))
            assert caught.value.code() == grpc.StatusCode.NOT_FOUND
            info = _error_info(caught.value)
            assert (info.reason, info.metadata["ocpi_status"]) == ("not_listed", "2003")
            # a request the contract cannot express: INVALID_ARGUMENT with the OCPI status
            routing = channel.unary_unary(
                "/ocn.v1.RoutingService/Route",
                request_serializer=lambda m: m,
                response_deserializer=routing_pb2.RouteResponse.FromString,
            )
            bad = routing_pb2.RouteRequest(kind=99).SerializeToString()  # type: ignore[arg-type]
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await routing(bad)
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            info = _error_info(caught.value)
            assert (info.reason, info.metadata["ocpi_status"]) == ("invalid_request", "2001")


# --- health ---------------------------------------------------------------------------------


async def _wait_for(check: Callable[[], Awaitable[bool]], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def test_health_follows_registry_staleness_and_details_say_why(tmp_path: Path) -> None:
    async with core_at(tmp_path) as (engine, server):
        target = f"127.0.0.1:{server.bound_port}"
        client = OcnClient(target)
        async with grpc.aio.insecure_channel(target) as channel:
            health = health_pb2_grpc.HealthStub(channel)

            async def registry_is(status: int) -> bool:
                req = health_pb2.HealthCheckRequest(service="ocn.v1.RegistryService")
                reply = await health.Check(req)
                return bool(reply.status == status)

            serving = health_pb2.HealthCheckResponse.SERVING
            await _wait_for(lambda: registry_is(serving))
            details = await client.health_details()
            assert details == engine.health_details()
            assert details.status == "ok"
            assert details.impl
            assert details.registry.cursor is None

            with RegistryCache(engine.ctx.store).writer() as w:  # the chain source failing
                w.set_status(stale=True, last_error="rpc down")
            await _wait_for(lambda: registry_is(health_pb2.HealthCheckResponse.NOT_SERVING))
            details = await client.health_details()
            assert (details.status, details.registry.last_error) == ("degraded", "rpc down")
            assert (await health.Check(health_pb2.HealthCheckRequest())).status == serving

            with RegistryCache(engine.ctx.store).writer() as w:
                w.set_status(stale=False, last_error="")
            await _wait_for(lambda: registry_is(serving))
        await client.close()


# --- streams --------------------------------------------------------------------------------


async def test_a_bad_stream_message_is_answered_alone(tmp_path: Path) -> None:
    async with core_at(tmp_path) as (_, server):
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.bound_port}") as channel:
            stream = channel.stream_stream(
                "/ocn.v1.RoutingService/RouteStream",
                request_serializer=lambda m: m,
                response_deserializer=routing_pb2.RouteResponse.FromString,
            )

            async def messages() -> AsyncIterator[bytes]:
                good = routing_pb2.RouteRequest(
                    kind=routing_pb2.ROUTE_KIND_VERSIONS, call_id=1, method="GET"
                )
                bad = routing_pb2.RouteRequest(kind=77, call_id=2, request_id="r2")  # type: ignore[arg-type]
                for msg in (good, bad, good):
                    yield msg.SerializeToString()
                yield routing_pb2.RouteRequest(
                    kind=routing_pb2.ROUTE_KIND_VERSIONS, call_id=3, method="GET"
                ).SerializeToString()

            replies: dict[int, list[routing_pb2.RouteResponse]] = {}
            async for reply in stream(messages(), timeout=10):
                replies.setdefault(reply.call_id, []).append(reply)
    assert sorted(replies) == [1, 2, 3]
    bad = replies[2][0]
    assert (bad.status, bad.ocpi_status, bad.error_reason) == (400, 2001, "invalid_request")
    assert {r.status for r in replies[1] + replies[3]} == {401}  # routed normally: no token


async def test_stream_concurrency_is_bounded(tmp_path: Path) -> None:
    async with core_at(tmp_path, grpc_stream_inflight=3) as (engine, server):
        now = peak = 0
        real_route = engine.route

        async def slow_route(req: RouteRequest, origin: str = "") -> RouteResponse:
            nonlocal now, peak
            now += 1
            peak = max(peak, now)
            await asyncio.sleep(0.05)
            now -= 1
            return await real_route(req)

        engine.route = slow_route  # type: ignore[method-assign]
        client = OcnClient(f"127.0.0.1:{server.bound_port}")
        async with client.stream() as stream:
            replies = await asyncio.gather(
                *(stream.route(RouteRequest(kind=RouteKind.VERSIONS)) for _ in range(12))
            )
        await client.close()
    assert [r.status for r in replies] == [401] * 12
    assert peak == 3


# --- admin answers are the engine's, whichever edge ----------------------------------------


async def test_admin_messages_round_trip_the_typed_results(tmp_path: Path) -> None:
    async with core_at(tmp_path) as (engine, server):
        client = OcnClient(f"127.0.0.1:{server.bound_port}", api_key=engine.settings.api_key)
        token = await client.create_registration_token(
            [{"country_code": "CH", "party_id": "CPO", "role": "CPO"}], ttl=90.5
        )
        assert 90 < token.expires_at - time.time() <= 90.5
        assert await client.node_info() == engine.node_info()
        party = await client.set_party("CH", "CPO", ["CPO"])
        assert party == engine.party("CH", "CPO")
        assert await client.parties() == engine.parties()
        assert await client.get_node(engine.node_address) == engine.registry_node(
            engine.node_address
        )
        assert await client.registry_status() == engine.registry_status()
        await client.close()


# --- the gateway in --core grpc:// mode -----------------------------------------------------


@contextlib.asynccontextmanager
async def gateway_to(
    core_port: int, tmp: Path, **overrides: Any
) -> AsyncIterator[tuple[str, GrpcCore]]:
    port = free_port()
    settings = Settings.from_env({}, data_dir=tmp / "gw", port=port, **overrides)
    core = GrpcCore(f"grpc://127.0.0.1:{core_port}", settings)
    server = await serve(Gateway(core).handle, "127.0.0.1", port, refuse=refuse)
    try:
        yield f"http://127.0.0.1:{port}", core
    finally:
        server.close()
        await server.wait_closed()
        await core.close()


async def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str, Any, Any]:
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as r:
        raw = await r.read()
        body = raw.decode() if r.content_type == "text/plain" else await r.json()
        return r.status, r.content_type, body, r.headers


async def test_gateway_starts_before_its_core_reconnects_and_survives_it_going(
    tmp_path: Path,
) -> None:
    core_port = free_port()
    async with gateway_to(core_port, tmp_path) as (url, _):
        # no core yet: the gateway runs, says so, and answers OCPI envelopes with routing headers
        assert (await _get(url + "/health"))[:3] == (503, "text/plain", "core unavailable")
        status, ctype, body, headers = await _get(
            url + "/ocpi/sender/2.2.1/locations/L1", ROUTING_HEADERS
        )
        assert (status, ctype, body["status_code"]) == (503, "application/json", 3000)
        assert "unavailable" in body["status_message"]
        assert (headers["X-Request-ID"], headers["X-Correlation-ID"]) == ("req-1", "corr-1")
        assert (headers["OCPI-to-country-code"], headers["OCPI-to-party-id"]) == ("DE", "MSP")
        status, _, body, _ = await _get(url + "/health/details")
        assert (status, body["status"]) == (503, "down")
        status, _, body, _ = await _get(url + "/admin/platforms")
        assert (status, body["error"]) == (503, "core_unavailable")

        async with core_at(tmp_path, core_port) as (engine, _):
            await _wait_for(lambda: _health_is(url, 200))
            status, _, body, _ = await _get(url + "/health/details")
            assert status == 200
            assert {k: v for k, v in body.items() if k != "worker_pid"} == to_json(
                engine.health_details()
            )
            status, _, node_info, _ = await _get(url + "/ocn/registry/node-info")
            assert node_info == to_json(engine.node_info())
            status, _, body, _ = await _get(url + "/ocpi/versions", {"Authorization": "Token x"})
            assert (status, body["status_code"]) == (401, 2001)  # the core's own answer

        await _wait_for(lambda: _health_is(url, 503))  # core gone again
        status, _, body, headers = await _get(
            url + "/ocpi/sender/2.2.1/locations/L1", ROUTING_HEADERS
        )
        assert (status, body["status_code"], headers["X-Request-ID"]) == (503, 3000, "req-1")

        async with core_at(tmp_path, core_port):  # and back
            await _wait_for(lambda: _health_is(url, 200))


async def _health_is(url: str, status: int) -> bool:
    return (await _get(url + "/health"))[0] == status


async def test_gateway_deadline_on_a_slow_core(tmp_path: Path) -> None:
    async with core_at(tmp_path) as (engine, server):

        async def stuck(req: RouteRequest, origin: str = "") -> RouteResponse:
            await asyncio.sleep(5)
            raise AssertionError("the deadline should have ended the call")

        engine.route = stuck  # type: ignore[method-assign]
        async with gateway_to(
            server.bound_port, tmp_path, forward_timeout=0.2, core_timeout=0.2
        ) as (url, _):
            started = time.monotonic()
            status, _, body, headers = await _get(
                url + "/ocpi/sender/2.2.1/locations/L1", ROUTING_HEADERS
            )
            assert time.monotonic() - started < 3
            assert (status, body["status_code"], headers["X-Correlation-ID"]) == (
                504,
                3000,
                "corr-1",
            )


def test_convert_round_trips_registry_status() -> None:
    from ocn_core.registry import RegistryStatus

    for status in (
        RegistryStatus("local", None, None, None, "", False, None),
        RegistryStatus("ethereum", 5, 9, 4, "boom", True, 12.5, 2, 31337),
        RegistryStatus("ethereum", 0, 0, 0, "", False, 0.0),
    ):
        assert convert.registry_status_from_pb(convert.registry_status_to_pb(status)) == status


def test_health_details_message_keeps_impl_order() -> None:
    msg = admin_pb2.HealthDetails(
        impl=[admin_pb2.Implementation(name=n, impl="cy") for n in ("b", "a", "c")]
    )
    assert list(convert.health_from_pb(msg).impl) == ["b", "a", "c"]


def test_ocn_error_base_maps_to_internal() -> None:
    assert grpc_code(OcnError("x")) == grpc.StatusCode.INTERNAL.value[0]


async def test_ocn_node_run_serves_grpc_beside_http(tmp_path: Path) -> None:
    port, grpc_port = free_port(), free_port()
    argv = [sys.executable, "-m", "ocpi_gateway", "run", "--port", str(port),
            "--grpc-port", str(grpc_port), "--data-dir", str(tmp_path / "d"),
            "--public-url", f"http://127.0.0.1:{port}", "--log-level", "warning"]  # fmt: skip
    proc = await asyncio.create_subprocess_exec(*argv, stdout=DEVNULL, stderr=DEVNULL)
    client = OcnClient(f"127.0.0.1:{grpc_port}", timeout=2)
    try:
        url = f"http://127.0.0.1:{port}"

        async def up() -> bool:
            assert proc.returncode is None, "ocn-node run exited"
            try:
                return await _health_is(url, 200)
            except aiohttp.ClientError:
                return False

        await _wait_for(up, 20)
        client.api_key = (tmp_path / "d" / "admin-api-key").read_text().strip()
        info = await client.node_info()
        assert to_json(info) == (await _get(url + "/ocn/registry/node-info"))[2]
        token = await client.create_registration_token([{"country_code": "NL", "party_id": "ABC"}])
        status, _, body, _ = await _get(
            url + "/ocpi/versions", {"Authorization": f"Token {token.token}"}
        )
        assert (status, body["status_code"]) == (200, 1000)  # one engine, one state
    finally:
        await client.close()
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 20) == 0


def _comparable(resp: RouteResponse) -> tuple[Any, ...]:
    """A response without the envelope's timestamp (the only field that moves between calls)."""
    body: Any = resp.body
    with contextlib.suppress(ValueError):
        body = orjson.loads(resp.body)
        if isinstance(body, dict):
            body.pop("timestamp", None)
    return (resp.status, resp.headers, body, resp.ocpi_status, resp.error_reason)


async def test_both_cores_give_the_same_answers(tmp_path: Path) -> None:
    cases = [
        ("GET", "/ocpi/versions", CPO, None),
        ("GET", "/ocpi/2.2.1", CPO, None),
        ("GET", "/ocpi/2.2.1/credentials", CPO, None),
        ("GET", "/ocpi/sender/2.2.1/locations/L1", CPO, None),
        ("PUT", "/ocpi/receiver/2.2.1/tariffs/CH/CPO/T1", CPO, b'{"id": "T1"}'),
        ("DELETE", "/ocpi/sender/2.2.1/locations/L1", CPO, None),  # 405
        ("GET", "/ocpi/sender/2.2.1/locations", ("XX", "NOP"), None),  # 4001
        ("GET", "/ocpi/sender/2.2.1/cdrs/page/nope", CPO, None),  # proxied: not found
        ("POST", "/ocpi/2.2.1/credentials", CPO, b"{}"),  # 405: registered already
    ]
    async with three_platform_hub(tmp_path, "grpc") as hub:
        in_process = InProcessCore(hub.node.engine)
        for method, path, to, body in cases:
            found = match(method, path)
            assert found is not None, path
            headers = {k.lower(): v for k, v in hub.msp.routing_headers(to=to).items()}
            req = request_from_http(found, method, "", headers, body or b"")  # as the gateway
            direct = await in_process.route(req)
            remote = await hub.node.core.route(req)
            assert _comparable(direct) == _comparable(remote), path
