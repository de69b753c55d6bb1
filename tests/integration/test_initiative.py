"""Issue 17.6: the node takes the initiative in credentials, for every version.

A real party server issues a token A; the node registers *with* it (admin API and CLI), then
rotates its token C on demand and on schedule; the old token is refused afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ocn_core.hub import initiative
from tests.integration.test_openapi import Checker
from tests.support.mixed import Mixed, mixed_hub
from tests.support.parties import PartyServer

NEWCPO = ("IT", "NEW")


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[Mixed]:
    async with mixed_hub(tmp_path) as h:
        yield h


@pytest.fixture
async def hub_modes(tmp_path: Path, core_mode: str) -> AsyncIterator[Mixed]:
    """The mixed hub once per core mode: the gateway reaches the engine in process or over gRPC
    (ConnectParty / RotateCredentials), and answers alike."""
    async with mixed_hub(tmp_path, core_mode) as h:
        yield h


async def _party(hub: Mixed, version: str) -> PartyServer:
    party = PartyServer(
        [("CPO", *NEWCPO)],
        version=version,
        token_a="token-a-" + version,
        base64_tokens=version != "2.2",
    )
    await party.start()
    await hub.node.list_party(*NEWCPO, ["CPO"])
    return party


async def _connect(hub: Mixed, party: PartyServer) -> tuple[int, Any]:
    """POST /admin/connect with the party's versions URL and token A: (HTTP, answer)."""
    request = {"versions_url": party.versions_url, "token_a": party.token_a}
    return await hub.node.admin("POST", "/admin/connect", request)


async def _versions_status(hub: Mixed, party: PartyServer, token: str) -> int:
    status, _ = await hub.get(party, "/ocpi/versions", token)
    return status


@pytest.mark.parametrize("version", ["2.3.0", "2.2.1", "2.2"])
async def test_node_registers_with_a_party_and_routes_to_it(hub: Mixed, version: str) -> None:
    party = await _party(hub, version)
    try:
        status, platform = await _connect(hub, party)
        assert status == 200, platform
        assert platform["ocpi_version"] == version
        assert [r["country_code"] + r["party_id"] for r in platform["roles"]] == ["ITNEW"]
        sent = party.node_credentials[0]  # what the node posted, in the party's version
        assert ("hub_party_id" in sent) == (version == "2.3.0")
        assert ("HUB" in {r["role"] for r in sent["roles"]}) == (version != "2.3.0")
        assert await _versions_status(hub, party, party.token_c) == 200  # token C works
        # another party routes to it through the node, with the party's own token
        party.answer("GET", f"/ocpi/{version}/sender/locations/L1", {"id": "L1"})
        status, answer, _ = await hub.call(
            hub.msp21, "GET", "/ocpi/sender/2.2.1/locations/L1", NEWCPO
        )
        assert (status, answer["data"]) == (200, {"id": "L1"})
        assert party.received[-1].path == f"/ocpi/{version}/sender/locations/L1"
    finally:
        await party.stop()


async def test_connect_refusals(hub_modes: Mixed) -> None:
    hub = hub_modes
    party = await _party(hub, "2.3.0")
    try:
        status, body = await hub.node.admin(
            "POST", "/admin/connect", {"versions_url": party.versions_url, "token_a": "wrong"}
        )
        assert status == 400
        assert "401" in body["message"]
        status, body = await hub.node.admin(
            "POST",
            "/admin/connect",
            {"versions_url": party.versions_url, "token_a": party.token_a, "version": "2.2.1"},
        )
        assert status == 400
        assert "No common OCPI version" in body["message"]
        assert await _versions_status(hub, party, party.token_a) == 401  # nothing registered
    finally:
        await party.stop()


async def test_node_initiated_rotation_on_demand_and_on_schedule(hub_modes: Mixed) -> None:
    hub = hub_modes
    party = await _party(hub, "2.3.0")
    try:
        request = {"versions_url": party.versions_url, "token_a": party.token_a}
        status, platform = await hub.node.admin("POST", "/admin/connect", request)
        assert status == 200, platform
        assert platform["status"] == "CONNECTED"
        first, first_b = party.token_c, party.token_b
        status, rotated = await hub.node.admin(
            "POST", f"/admin/platforms/{platform['id']}/rotate-credentials"
        )
        assert status == 200, rotated
        async with aiohttp.ClientSession() as http, http.get(hub.node.url + "/openapi.json") as r:
            checker = Checker(await r.json())  # both answers as the admin API documents them
        checker.request("/admin/connect", "post", request)
        checker.answer(
            "/admin/connect", "post", 200, "application/json", json.dumps(platform).encode()
        )
        rotate = "/admin/platforms/{platform_id}/rotate-credentials"
        checker.answer(rotate, "post", 200, "application/json", json.dumps(rotated).encode())
        assert party.token_c != first
        assert party.token_b != first_b  # the party answered the PUT with a new token too
        assert party.during_rotation == [200, 200]  # new and old token, while the PUT ran
        assert await _versions_status(hub, party, first) == 401  # old token refused
        assert await _versions_status(hub, party, party.token_c) == 200
        status, answer, _ = await hub.call(
            hub.msp21, "GET", "/ocpi/sender/2.2.1/locations", NEWCPO
        )  # the node calls the party with the party's new token
        assert (status, answer["status_code"]) == (200, 1000), answer
        # on schedule: only platforms whose token is older than the interval
        ctx = hub.node.engine.ctx
        ctx.settings.credentials_rotation_interval = 3600.0
        assert await initiative.rotate_due(ctx) == 0
        second = party.token_c
        assert await initiative.rotate_due(ctx, now=time.time() + 7200) == 5  # all five
        assert party.token_c != second
        assert await _versions_status(hub, party, second) == 401
        for other in (hub.msp21, hub.cpo23):  # the parties registered the usual way, too
            assert other.node_credentials  # their PUT handler got the node's new token
        status, answer, _ = await hub.call(hub.msp21, "GET", "/ocpi/sender/2.2.1/locations", NEWCPO)
        assert (status, answer["status_code"]) == (200, 1000), answer
    finally:
        await party.stop()


async def test_cli_connect_and_rotate(hub: Mixed) -> None:
    party = await _party(hub, "2.2.1")
    try:
        data = hub.node.settings.data_dir
        url = hub.node.url
        code, out, err = await _cli(
            "connect", party.versions_url, party.token_a, data_dir=data, public_url=url
        )
        assert code == 0, err
        platform = json.loads(out)
        assert platform["ocpi_version"] == "2.2.1"
        first = party.token_c
        code, out, err = await _cli("rotate", platform["id"], data_dir=data, public_url=url)
        assert code == 0, err
        assert party.token_c != first
        assert await _versions_status(hub, party, first) == 401
        assert await _versions_status(hub, party, party.token_c) == 200
    finally:
        await party.stop()


async def _cli(*args: str, data_dir: Path, public_url: str) -> tuple[int, str, str]:
    """``ocn-node admin ...`` in a subprocess (the parties and the node keep serving meanwhile)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ocpi_gateway",
        "admin",
        "--data-dir",
        str(data_dir),
        "--public-url",
        public_url,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_the_gateway_rotates_on_its_schedule(hub: Mixed) -> None:
    from ocpi_gateway.server import run_rotation

    party = await _party(hub, "2.3.0")
    try:
        status, _ = await _connect(hub, party)
        assert status == 200
        first = party.token_c
        hub.node.engine.ctx.settings.credentials_rotation_interval = 0.2
        task = asyncio.ensure_future(run_rotation(hub.node.engine, every=0.05))
        try:
            for _ in range(100):  # bounded: 5 s at most
                await asyncio.sleep(0.05)
                if party.token_c != first:
                    break
        finally:
            task.cancel()
        assert party.token_c != first
        assert await _versions_status(hub, party, first) == 401
        assert await _versions_status(hub, party, party.token_c) == 200
    finally:
        await party.stop()


async def test_a_refused_rotation_keeps_the_old_token_only(hub: Mixed) -> None:
    party = await _party(hub, "2.3.0")
    try:
        _, platform = await _connect(hub, party)
        first = party.token_c
        party.refuse_rotation = True
        status, body = await hub.node.admin(
            "POST", f"/admin/platforms/{platform['id']}/rotate-credentials"
        )
        assert status == 400
        assert "HTTP 400" in body["message"]
        assert party.token_c == first
        assert await _versions_status(hub, party, first) == 200
        offered = hub.node.engine.ctx.platforms.platform(platform["id"])
        assert offered is not None
        assert offered.pending_token_c_digest == ""  # the offered token was dropped
    finally:
        await party.stop()


async def test_an_interrupted_rotation_locks_nobody_out(hub: Mixed) -> None:
    party = await _party(hub, "2.3.0")
    try:
        _, platform = await _connect(hub, party)
        first = party.token_c
        party.rotation_delay = 1.0
        ctx = hub.node.engine.ctx
        task = asyncio.ensure_future(initiative.rotate(ctx, platform["id"]))
        for _ in range(100):  # until the party took the new token (bounded: 5 s)
            await asyncio.sleep(0.05)
            if party.token_c != first:
                break
        task.cancel()  # e.g. the node stops before the party answered
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert party.token_c != first
        assert await _versions_status(hub, party, party.token_c) == 200  # the party's new one
        assert await _versions_status(hub, party, first) == 200  # and the old one
        status, _ = await hub.node.admin("DELETE", f"/admin/platforms/{platform['id']}")
        assert status == 200
        for token in (first, party.token_c):  # deletion removes both
            assert await _versions_status(hub, party, token) == 401
    finally:
        await party.stop()
