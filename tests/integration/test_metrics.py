"""Issue 14 §1: Prometheus metrics of a real ``ocn-node run --workers 2``, summed over workers."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ocn_core.errors import AdminUnauthorized
from ocn_core.model import InterfaceRole, PartyRef, RouteKind, RouteRequest
from ocn_grpc.client import OcnClient
from tests.support.hub import send
from tests.support.node import free_port
from tests.support.node_process import API_KEY, NodeProcess, node_process, spawn
from tests.support.ocn_cluster import eventually
from tests.support.parties import PartyServer

CPO = ("CH", "CPO")
MSP = ("DE", "MSP")
LOCATIONS = "/ocpi/sender/2.2.1/locations"
HUB = ("CH", "OCN")
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[tuple[NodeProcess, PartyServer, PartyServer]]:
    cpo = await PartyServer([("CPO", *CPO)]).start()
    msp = await PartyServer([("EMSP", *MSP)]).start()
    # a paged answer: the node stores a proxy for its Link header on every list GET
    link = f'<{cpo.endpoint("locations", "SENDER")}?offset=10&limit=10>; rel="next"'
    cpo.answer("GET", "/ocpi/2.2.1/sender/locations", [], headers={"Link": link})
    env = {"OCN_MAX_BODY_BYTES": "2000"}
    async with node_process(tmp_path, "--workers", "2", env=env) as node:
        await register(node, cpo, msp)
        yield node, cpo, msp
    await cpo.stop()
    await msp.stop()


async def register(node: NodeProcess, *parties: PartyServer) -> None:
    """List each (single-role) party with the node process and run its handshake."""
    for party in parties:
        role, cc, pid = party.roles[0]
        await node.list_party(cc, pid, [role])
        result = await party.register(node.url, await node.token_a(cc, pid))
        assert result["status_code"] == 1000, result


def one_connection() -> aiohttp.ClientSession:
    """A session holding a single keep-alive connection (so it stays on one worker)."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1))


async def worker_of(http: aiohttp.ClientSession, url: str) -> int:
    async with http.get(url + "/health/details") as resp:
        return int((await resp.json())["worker_pid"])


async def get(http: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> tuple[int, int]:
    async with http.get(url + LOCATIONS, headers=headers) as resp:
        return resp.status, (await resp.json())["status_code"]


async def scrape(http: aiohttp.ClientSession, url: str) -> Samples:
    """Every sample of ``url``'s /metrics, read with the admin key (``metrics_auth``)."""
    async with http.get(url + "/metrics", headers={"Authorization": f"Token {API_KEY}"}) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = await resp.text()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_every_worker_counts_in_one_scrape(
    hub: tuple[NodeProcess, PartyServer, PartyServer],
) -> None:
    node, cpo, msp = hub
    async with one_connection() as a, one_connection() as b:
        # the balancer gives the second connection to the other worker
        assert await worker_of(a, node.url) != await worker_of(b, node.url)
        for http, n in ((a, 3), (b, 4)):
            for _ in range(n):
                assert await get(http, node.url, msp.routing_headers(CPO)) == (200, 1000)
        assert await get(a, node.url, msp.routing_headers(("NL", "XYZ"))) == (200, 4001)
        forged = {**msp.routing_headers(CPO), "OCN-Signature": "not-a-signature"}
        assert await get(b, node.url, forged) == (400, 2001)
        async with aiohttp.ClientSession() as c:
            big = {**msp.routing_headers(CPO), "Content-Type": "application/json"}
            path = node.url + "/ocpi/receiver/2.2.1/locations/CH/CPO/LOC1"
            async with c.put(path, data=b"[" + b"1," * 1500 + b"1]", headers=big) as resp:
                assert resp.status == 413

        # every worker flushes its counts within a second; poll the sum
        http_ok = dict(edge="http", module="locations", interface="SENDER", method="GET")
        deadline = time.monotonic() + 10
        while True:
            m = await scrape(a, node.url)
            routed = value(m, "ocn_requests_total", **http_ok, status="200", ocpi_status="1000")
            if (routed == 7 and value(m, "ocn_open_connections", edge="http") == 2) or (
                time.monotonic() > deadline
            ):
                break
            await asyncio.sleep(0.2)

    assert routed == 7  # 3 counted by one worker, 4 by the other
    assert value(m, "ocn_open_connections", edge="http") == 2  # a and b
    assert value(m, "ocn_requests_total", **http_ok, status="200", ocpi_status="4001") == 1
    assert value(m, "ocn_requests_total", **http_ok, status="400", ocpi_status="2001") == 1
    # the handshake's requests count too
    for module in ("versions", "version_details"):
        labels = dict(edge="http", module=module, interface="", method="GET")
        assert value(m, "ocn_requests_total", **labels, status="200", ocpi_status="1000") == 2
    assert (
        value(m, "ocn_forward_failures_total", edge="http", kind="unknown_receiver",
              ocpi_status="4001") == 1
    )  # fmt: skip
    duration = dict(edge="http", module="locations")
    assert value(m, "ocn_request_duration_seconds_count", **duration) == 9
    assert value(m, "ocn_request_duration_seconds_bucket", **duration, le="+Inf") == 9
    assert 0 < value(m, "ocn_request_duration_seconds_sum", **duration) < 9 * 5
    assert value(m, "ocn_request_duration_seconds_bucket", **duration, le="0.0005") <= 9
    # upstream: the 7 forwarded GETs and the handshake's 4 fetches (versions + details, twice)
    assert value(m, "ocn_upstream_duration_seconds_count", outcome="ok") == 11
    assert value(m, "ocn_upstream_duration_seconds_sum", outcome="ok") > 0
    partner = "ocn_partner_requests_total"
    assert value(m, partner, edge="http", party="DEMSP", direction="sent", result="ok") == 7
    assert value(m, partner, edge="http", party="CHCPO", direction="received", result="ok") == 7
    assert not any(k[0] == partner and ("party", "NLXYZ") in k[1] for k in m)
    assert value(m, "ocn_signature_verifications_total", subject="request", result="failed") == 1
    assert value(m, "ocn_signature_verifications_total", subject="request", result="ok") == 0
    assert value(m, "ocn_rejected_requests_total", limit="body_size") == 1
    assert value(m, "ocn_proxy_store_entries") == 7  # one Link proxy per list GET
    assert value(m, "ocn_registry_stale", source="local") == 0
    assert len(cpo.received) == 2 + 7  # its handshake fetches and the GETs; nothing refused


async def test_metrics_can_be_switched_off(tmp_path: Path) -> None:
    async with (
        node_process(tmp_path, env={"OCN_METRICS": "0"}) as node,
        aiohttp.ClientSession() as http,
        http.get(node.url + "/metrics") as resp,
    ):
        assert resp.status == 404
    assert not (node.data_dir / "metrics").exists()


async def _metrics_status(http: aiohttp.ClientSession, url: str, auth: str | None) -> int:
    headers = {"Authorization": auth} if auth is not None else {}
    async with http.get(url + "/metrics", headers=headers) as resp:
        await resp.read()
        return resp.status


async def test_metrics_need_the_admin_key_unless_switched_off(tmp_path: Path) -> None:
    async with node_process(tmp_path) as node, aiohttp.ClientSession() as http:
        assert await _metrics_status(http, node.url, None) == 401
        assert await _metrics_status(http, node.url, "Token wrong") == 401
        assert await _metrics_status(http, node.url, "Basic " + API_KEY) == 401
        assert await _metrics_status(http, node.url, f"Token {API_KEY}") == 200
        assert await _metrics_status(http, node.url, f"Bearer {API_KEY}") == 200
        async with http.get(node.url + "/metrics") as resp:
            assert (await resp.json())["error"] == "admin_unauthorized"
    env = {"OCN_METRICS_AUTH": "0"}
    async with node_process(tmp_path, env=env) as node, aiohttp.ClientSession() as http:
        assert await _metrics_status(http, node.url, None) == 200


async def test_grpc_core_counts_the_same_figures(tmp_path: Path) -> None:
    """``ocn-node core`` (interceptor, /metrics on OCN_METRICS_PORT) behind a gateway process."""
    cpo = await PartyServer([("CPO", *CPO)]).start()
    msp = await PartyServer([("EMSP", *MSP)]).start()
    grpc_port, metrics_port, gateway_port = free_port(), free_port(), free_port()
    argv = [sys.executable, "-m", "ocpi_gateway.cli", "core", "--data-dir", str(tmp_path / "core"),
            "--listen", f"127.0.0.1:{grpc_port}",
            "--public-url", f"http://127.0.0.1:{gateway_port}"]  # fmt: skip
    log = tmp_path / "core.log"
    core = spawn(argv, log, {"OCN_METRICS_PORT": str(metrics_port), "OCN_LOG_LEVEL": "warning"})
    core_metrics = f"http://127.0.0.1:{metrics_port}"
    try:
        await wait_port(metrics_port)
        await wait_port(grpc_port)
        target = f"grpc://127.0.0.1:{grpc_port}"
        async with (
            node_process(tmp_path, "--core", target, port=gateway_port) as gateway,
            aiohttp.ClientSession() as http,
        ):
            await register(gateway, cpo, msp)
            for _ in range(3):  # HTTP gateway -> unary Route
                assert await get(http, gateway.url, msp.routing_headers(CPO)) == (200, 1000)
            client = OcnClient(target)
            try:
                async with client.stream() as stream:  # RouteBatchStream
                    for _ in range(2):
                        resp = await stream.route(route_request(msp.routing_headers(CPO)))
                        assert (resp.status, resp.ocpi_status) == (200, 1000)
                with pytest.raises(AdminUnauthorized):
                    await client.platforms(authorization="Token wrong-key")
            finally:
                await client.close()
            await asyncio.sleep(1.3)  # the gateway's flush interval
            on_gateway = await scrape(http, gateway.url)
            on_core = await scrape(http, core_metrics)
            assert await _metrics_status(http, core_metrics, None) == 401  # metrics_auth
    finally:
        core.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(core.wait, 15) == 0
        await cpo.stop()
        await msp.stop()

    ok = dict(module="locations", interface="SENDER", method="GET", status="200",
              ocpi_status="1000")  # fmt: skip
    assert value(on_gateway, "ocn_requests_total", edge="http", **ok) == 3
    assert value(on_core, "ocn_requests_total", edge="grpc", **ok) == 5
    assert value(on_core, "ocn_requests_total", edge="http", **ok) == 0
    assert (
        value(on_core, "ocn_request_duration_seconds_count", edge="grpc", module="locations") == 5
    )
    partner = "ocn_partner_requests_total"
    assert value(on_core, partner, edge="grpc", party="DEMSP", direction="sent", result="ok") == 5
    # the core forwards: 5 GETs and the handshake's 4 fetches
    assert value(on_core, "ocn_upstream_duration_seconds_count", outcome="ok") == 9
    assert value(on_gateway, "ocn_upstream_duration_seconds_count", outcome="ok") == 0
    calls = "ocn_grpc_calls_total"
    route = "/ocn.v1.RoutingService/Route"
    # 3 routed GETs + the handshake's 6 OCPI requests (2 parties x versions, details, credentials)
    assert value(on_core, calls, method=route, code="OK") == 9
    batch = "/ocn.v1.RoutingService/RouteBatchStream"
    assert value(on_core, calls, method=batch, code="OK") == 1
    listing = "/ocn.v1.AdminService/ListPlatforms"
    assert value(on_core, calls, method=listing, code="UNAUTHENTICATED") == 1
    assert value(on_core, "ocn_grpc_call_duration_seconds_count", method=route) == 9
    assert value(on_core, "ocn_inflight_calls", edge="grpc") == 0
    assert value(on_core, "ocn_registry_stale", source="local") == 0


async def test_hub_counters_are_metrics_too(tmp_path: Path) -> None:
    """Broadcast deliveries, duplicates dropped and partner limits: the figures /health/details
    shows under ``hub`` are the node's ``ocn_hub_events_total`` series."""
    cpo = await PartyServer([("CPO", *CPO)]).start()
    msp = await PartyServer([("EMSP", *MSP)]).start()
    env = {"OCN_PARTNER_LIMITS": "DEMSP:1/1/"}  # the eMSP: 1 request/s, burst 1
    try:
        async with node_process(tmp_path, env=env) as node, aiohttp.ClientSession() as http:
            await register(node, cpo, msp)
            cpo.answer("GET", "/ocpi/2.2.1/sender/locations", [])
            limited = [await get(http, node.url, msp.routing_headers(CPO)) for _ in range(2)]
            assert limited == [(200, 1000), (429, 2000)]
            location = "/ocpi/receiver/2.2.1/locations/CH/CPO/L1"
            evse = {"uid": "E1", "status": "AVAILABLE", "connectors": [{"id": "1"}]}
            body = {"id": "L1", "evses": [evse], "last_updated": "2026-01-02T03:04:05Z"}
            assert (await send(node.url, "PUT", location, cpo.routing_headers(HUB), body))[0] == 200
            for stamp in ("2026-03-01T00:00:00Z", "2026-03-01T00:00:01Z"):  # the 2nd: a repeat
                patch = {"status": "CHARGING", "last_updated": stamp}
                headers = cpo.routing_headers(HUB)
                assert (await send(node.url, "PATCH", location + "/E1", headers, patch))[0] == 200

            async def agreed() -> dict[str, float] | None:
                """The hub events once /metrics shows what /health/details shows (deliveries
                run in the background; workers flush every second)."""
                async with http.get(node.url + "/health/details") as resp:
                    shown = (await resp.json())["hub"]
                samples = await scrape(http, node.url)
                events = {
                    dict(labels)["event"]: v
                    for (name, labels), v in samples.items()
                    if name == "ocn_hub_events_total"
                }
                shown.pop("fanout_queued")
                return events if events == {k: v for k, v in shown.items() if v} else None

            events = await eventually(agreed, timeout=10)
            assert events["rejected_rate"] == 1
            assert events["broadcast_duplicates_dropped"] == 1
            assert events["broadcast_delivered"] == 2  # the PUT and the first PATCH, to the eMSP
            assert value(await scrape(http, node.url), "ocn_hub_fanout_queued") == 0
    finally:
        await cpo.stop()
        await msp.stop()


def route_request(headers: dict[str, str]) -> RouteRequest:
    """The RouteRequest the gateway builds for a GET of the CPO's locations."""
    return RouteRequest(
        kind=RouteKind.MODULE,
        module="locations",
        interface_role=InterfaceRole.SENDER,
        method="GET",
        ocpi_version="2.2.1",
        authorization=headers["Authorization"],
        request_id=headers["X-Request-ID"],
        correlation_id=headers["X-Correlation-ID"],
        from_party=PartyRef(headers["OCPI-from-country-code"], headers["OCPI-from-party-id"]),
        to_party=PartyRef(headers["OCPI-to-country-code"], headers["OCPI-to-party-id"]),
        has_from=True,
        has_to=True,
    )


async def wait_port(port: int) -> None:
    deadline = time.monotonic() + 15
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)
            continue
        writer.close()
        return
