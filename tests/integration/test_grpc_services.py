"""The gRPC edge over a real loopback channel: health, reflection, streaming, typed errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from ocn_core import open_node
from ocn_core.config import Settings
from ocn_core.errors import AdminError, AdminNotFound, AdminUnauthorized
from ocn_core.model import PartyRef, RouteKind, RouteRequest
from ocn_grpc import convert
from ocn_grpc.client import OcnClient
from ocn_grpc.server import start_server, stop_server


@pytest.fixture
async def core(tmp_path: Path):  # type: ignore[no-untyped-def]
    settings = Settings.from_env({}, data_dir=tmp_path / "n", public_url="http://127.0.0.1:9")
    engine = open_node(settings)
    server = await start_server(engine, "127.0.0.1:0")
    target = f"127.0.0.1:{server.bound_port}"
    client = OcnClient(target, api_key=settings.api_key)
    yield client, target
    await client.close()
    await stop_server(server)
    await engine.shutdown()


async def test_health_and_reflection(core) -> None:  # type: ignore[no-untyped-def]
    _, target = core
    async with grpc.aio.insecure_channel(target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "ocn.v1.RoutingService"):
            reply = await health.Check(health_pb2.HealthCheckRequest(service=service))
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
        refl = reflection_pb2_grpc.ServerReflectionStub(channel)
        replies = refl.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")])
        )
        names = {s.name async for r in replies for s in r.list_services_response.service}
    assert {
        "ocn.v1.RoutingService",
        "ocn.v1.AdminService",
        "ocn.v1.RegistryService",
        "ocn.v1.SignatureService",
        "grpc.health.v1.Health",
    } <= names


async def test_stream_routes_many_requests(core) -> None:  # type: ignore[no-untyped-def]
    client, _ = core
    async with client.stream() as stream:
        replies = [
            await stream.route(
                RouteRequest(kind=RouteKind.VERSIONS, authorization="Token nope", request_id=str(i))
            )
            for i in range(5)
        ]
    assert [r.status for r in replies] == [401] * 5
    assert {r.error_reason for r in replies} == {"unknown_token"}
    assert len({r.call_id for r in replies}) == 5


async def test_unary_route_returns_node_errors_as_data(core) -> None:  # type: ignore[no-untyped-def]
    client, _ = core
    req = RouteRequest(
        kind=RouteKind.MODULE,
        module="locations",
        method="GET",
        from_party=PartyRef("DE", "MSP"),
        to_party=PartyRef("CH", "CPO"),
    )
    resp = await client.route(req)
    assert (resp.status, resp.ocpi_status, resp.error_reason) == (405, 2000, "method_not_allowed")


async def test_admin_errors_come_back_as_the_same_class(core) -> None:  # type: ignore[no-untyped-def]
    client, _ = core
    with pytest.raises(AdminUnauthorized):
        await client.platforms(authorization="Token wrong")
    with pytest.raises(AdminNotFound):
        await client.platform("nope")
    with pytest.raises(AdminError):
        await client.create_registration_token([{"country_code": "CHX", "party_id": "CPO"}])
    token = await client.create_registration_token([{"country_code": "CH", "party_id": "CPO"}])
    assert token.token
    assert token.versions == "http://127.0.0.1:9/ocpi/versions"
    party = await client.set_party("ch", "cpo", ["CPO"])
    assert (party.country_code, party.party_id) == ("CH", "CPO")
    assert (await client.get_party("CH", "CPO")) == party


async def test_batched_stream_answers_concurrent_requests_by_call_id(core) -> None:  # type: ignore[no-untyped-def]
    client, _ = core
    token = (
        await client.create_registration_token([{"country_code": "NL", "party_id": "ABC"}])
    ).token
    async with client.stream() as stream:
        reqs = [
            RouteRequest(
                kind=RouteKind.VERSIONS, authorization=f"Token {token}" if i % 2 else "Token bad"
            )
            for i in range(50)
        ]
        replies = await asyncio.gather(*(stream.route(r) for r in reqs))
    assert [r.status for r in replies] == [200 if i % 2 else 401 for i in range(50)]


async def test_plain_route_stream(core) -> None:  # type: ignore[no-untyped-def]
    client, _ = core

    async def requests() -> AsyncIterator[Any]:
        for i in range(3):
            yield convert.request_to_pb(RouteRequest(kind=RouteKind.VERSIONS, call_id=i + 1))

    replies = [r async for r in client.routing.RouteStream(requests())]
    assert sorted(r.call_id for r in replies) == [1, 2, 3]
    assert {r.status for r in replies} == {401}


async def test_signature_service_signs_with_the_node_key_and_verifies(core) -> None:  # type: ignore[no-untyped-def]
    client, _ = core
    values = {"headers": {"x-correlation-id": "c1"}, "body": {"id": "L1", "power": 11.0}}
    with pytest.raises(AdminUnauthorized):
        await client.sign(values, authorization="Token wrong")
    signed = await client.sign(values)
    info = await client.node_info()
    assert signed["signatory"] == info.address
    assert (await client.verify_signature(signed["ocn_signature"], values)).valid is True
    tampered = {**values, "body": {"id": "L2", "power": 11.0}}
    refused = await client.verify_signature(signed["ocn_signature"], tampered)
    assert (refused.valid, refused.error_reason) == (False, "signature_request_modified")
    garbage = await client.verify_signature("not a signature", values)
    assert (garbage.valid, garbage.error_reason) == (False, "signature_malformed")
