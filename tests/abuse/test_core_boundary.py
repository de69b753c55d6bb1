"""Unsafe input is refused at the core (HTTP, gRPC and embedded edges alike), never forwarded."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ocn_core.adapters.http_client import HttpClient
from ocn_core.model import PartyRef, RouteRequest
from ocn_core.transport import TransportUnreachable
from ocn_grpc.client import OcnClient
from ocn_grpc.server import start_server
from tests.integration.test_metrics import route_request
from tests.support.hub import CPO, DUO_CPO, MSP, Hub, three_platform_hub
from tests.support.node import free_port
from tests.support.rawhttp import exchange, parse_answers, request


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[Hub]:
    async with three_platform_hub(tmp_path) as h:
        yield h


def _seen(hub: Hub) -> int:
    return sum(len(p.received) for p in (hub.cpo, hub.msp, hub.duo))


async def _raw(hub: Hub, method: str, target: str, body: bytes = b"") -> Any:
    headers = hub.cpo.routing_headers(to=MSP, correlation_id="corr-1")
    if body:
        headers["Content-Type"] = "application/json"
    data = await exchange(hub.node.settings.port, request(method, target, headers, body))
    (answer,) = parse_answers(data)
    return answer


LOC = "/ocpi/receiver/2.2.1/locations"
UNSAFE_TARGETS = [
    f"{LOC}/../../../../admin/secret",
    f"{LOC}/CH/CPO/..",
    f"{LOC}/%2e%2e/%2E%2e/admin",
    f"{LOC}/.%2E/admin",
    f"{LOC}/..%2fadmin",
    f"{LOC}/CH%2FCPO/L1",
    f"{LOC}/CH%5cCPO/L1",
    f"{LOC}/CH/CPO/L1%00",
    f"{LOC}/CH/CPO/L1%0d%0aX-Evil:%201",
    f"{LOC}/CH/CPO/L1?x=%0d%0aX-Evil:1",
    f"{LOC}/CH/CPO/L\xc3\xa9",  # raw UTF-8 (percent-encoded is fine): not ASCII
]


@pytest.mark.parametrize("target", UNSAFE_TARGETS)
async def test_unsafe_paths_are_400_2001_and_never_forwarded(hub: Hub, target: str) -> None:
    seen = _seen(hub)
    answer = await _raw(hub, "GET", target)
    assert (answer.status, answer.json()["status_code"]) == (400, 2001), answer
    if answer.json()["status_message"] != "Malformed HTTP request":  # httptools refused first
        assert answer.headers["x-correlation-id"] == "corr-1"
    assert _seen(hub) == seen


async def test_dots_inside_segments_are_fine(hub: Hub) -> None:
    answer = await _raw(hub, "GET", f"{LOC}/CH/CPO/LOC.1..2?date_from=2026-01-01T00:00:00.000Z")
    assert (answer.status, answer.json()["status_code"]) == (200, 1000)
    assert hub.msp.received[-1].path == "/ocpi/2.2/receiver/locations/CH/CPO/LOC.1..2"


async def test_malformed_json_body_on_a_json_module_is_refused(hub: Hub) -> None:
    seen = _seen(hub)
    for body in (b"{not json", b'{"id": "L1"', b"\xff\xfe", b"[1, 2,]"):
        answer = await _raw(hub, "PUT", f"{LOC}/CH/CPO/L1", body)
        assert (answer.status, answer.json()["status_code"]) == (400, 2001), body
        assert "JSON" in answer.json()["status_message"]
    assert _seen(hub) == seen
    # a custom module's body stays opaque: forwarded as sent
    status, answer, _ = await hub.call(
        hub.msp, "POST", "/ocpi/custom/receiver/lite-locations/a", to=DUO_CPO, raw=b"{not json"
    )
    assert (status, answer["status_code"]) == (200, 1000)
    assert hub.duo.received[-1].body == b"{not json"


def _valid(hub: Hub) -> RouteRequest:
    """A GET of the CPO's location L1 from the eMSP, as the gateway builds it."""
    headers = hub.msp.routing_headers(to=CPO, correlation_id="corr-1")
    return dataclasses.replace(route_request(headers), path_suffix="CH/CPO/L1")


def _unsafe_variants(base: RouteRequest) -> list[RouteRequest]:
    r = dataclasses.replace
    return [
        r(base, correlation_id="corr\r\nX-Evil: 1"),
        r(base, request_id="req\n1"),
        r(base, authorization=base.authorization + "\r\nX-Evil: 1"),
        r(base, path_suffix="L1 HTTP/1.1\r\nX-Evil: 1\r\n\r\nGET /admin"),
        r(base, path_suffix="../../admin"),
        r(base, query="a=1\r\nX-Evil: 1"),
        r(base, query="a=1 b"),
        r(base, method="GET /admin HTTP/1.1\r\n"),
        r(base, from_party=PartyRef("DE", "MS\x00")),
        r(base, to_party=PartyRef("C\tH", "CPO")),
        r(base, ocn_signature="sig\r\nX-Evil: 1"),
        r(base, content_type="application/json\r\nX-Evil: 1"),
        r(base, proxy_id="p\x7f"),
        r(base, module="loc\u20acations"),
        r(base, kind=99),
        r(base, interface_role=7),
    ]


async def test_grpc_callers_get_the_same_refusal_and_nothing_is_forwarded(hub: Hub) -> None:
    port = free_port()
    server = await start_server(hub.node.engine, f"127.0.0.1:{port}")
    client = OcnClient(f"127.0.0.1:{port}")
    try:
        assert (await client.route(_valid(hub))).ocpi_status == 1000  # the control
        seen = _seen(hub)
        for req in _unsafe_variants(_valid(hub))[:-2]:  # unknown enums do not fit the proto
            resp = await client.route(req)
            assert (resp.status, resp.ocpi_status) == (400, 2001), req
            for _, value in resp.headers:
                assert "\n" not in value
                assert "Evil" not in value
        assert _seen(hub) == seen
    finally:
        await client.close()
        await server.stop(None)


async def test_embedded_callers_get_the_same_refusal(hub: Hub) -> None:
    seen = _seen(hub)
    for req in _unsafe_variants(_valid(hub)):
        resp = await hub.node.engine.route(req)
        assert (resp.status, resp.ocpi_status, resp.error_reason) == (400, 2001, "refused_input")
        assert resp.header("X-Correlation-ID") in (None, "corr-1")
    assert _seen(hub) == seen


async def test_http_client_refuses_control_bytes_in_target_and_headers() -> None:
    connections = 0

    async def count(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        writer.close()

    server = await asyncio.start_server(count, "127.0.0.1", 0)
    base = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    client = HttpClient()
    bad: list[tuple[str, list[tuple[str, str]]]] = [
        (base + "/a\r\nX-Evil: 1", []),
        (base + "/a b", [("X-Evil", "1\r\n")]),
        (base + "/a", [("X-Request-ID", "id\nX-Evil: 1")]),
        (base + "/\u20ac", []),
    ]
    for url, headers in bad:
        with pytest.raises(TransportUnreachable, match="refusing"):  # CR, LF or not Latin-1
            await client.request("GET", url, headers)
    await client.close()
    server.close()
    assert connections == 0
