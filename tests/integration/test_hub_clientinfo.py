"""Issues 13.2 and 12.5: HubClientInfo from real events, pushed to local parties and other nodes."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ocn_core import signing
from tests.support.hubnet import HubNet, hub_network, until
from tests.support.node import running_node
from tests.support.parties import PartyServer


@pytest.fixture
async def net(tmp_path: Path, core_mode: str) -> AsyncIterator[HubNet]:
    intervals = {"still_alive_interval": 0.3, "planned_party_interval": 0.3}
    async with hub_network(tmp_path, core_mode, **intervals) as n:
        yield n


def _pushes(party: PartyServer, cc: str, pid: str) -> list[dict[str, Any]]:
    path = f"/custom/hubclientinfo/{cc}/{pid}"
    return [json.loads(r.body) for r in party.received if r.method == "PUT" and r.path == path]


async def _listing(url: str, party: PartyServer) -> dict[tuple[str, str, str], str]:
    headers = {"Authorization": party.auth(party.token_c)}
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{url}/ocpi/2.2.1/hubclientinfo", headers=headers) as r,
    ):
        body = await r.json()
    assert body["status_code"] == 1000, body
    return {(c["country_code"], c["party_id"], c["role"]): c["status"] for c in body["data"]}


async def test_registration_is_listed_and_pushed_to_receivers_only(net: HubNet) -> None:
    listing = await _listing(net.node.url, net["msp3"])
    assert listing[("BE", "OTH", "OTHER")] == "CONNECTED"
    assert list(listing.values()) == ["CONNECTED"] * 6
    # cpo1 registered first and implements the receiver interface: it heard of everyone after it
    await until(lambda: len(_pushes(net["cpo1"], "BE", "OTH")) == 1)
    pushed = _pushes(net["cpo1"], "BE", "OTH")[0]
    assert (pushed["role"], pushed["status"]) == ("OTHER", "CONNECTED")
    assert pushed["last_updated"].endswith("Z")
    put = next(r for r in net["cpo1"].received if r.path.endswith("/BE/OTH"))
    assert "ocpi-to-party-id" not in {k.lower() for k in put.headers}  # configuration module
    assert _pushes(net["other"], "BE", "OTH") == []  # never about itself


async def test_unregistration_suspends_and_rules_filter_pushes_and_lists(net: HubNet) -> None:
    await net.rules(net["msp1"], "POST", "blacklist", {"country_code": "DE", "party_id": "MS1"})
    await net.rules(net["cpo1"], "POST", "blacklist", {"country_code": "BE", "party_id": "OTH"})
    other = net["other"]
    async with aiohttp.ClientSession() as http:
        headers = {"Authorization": other.auth(other.token_c)}
        async with http.delete(f"{net.node.url}/ocpi/2.2.1/credentials", headers=headers) as r:
            assert (await r.json())["status_code"] == 1000
    await until(lambda: any(p["status"] == "SUSPENDED" for p in _pushes(net["msp1"], "BE", "OTH")))
    assert [p["status"] for p in _pushes(net["cpo1"], "BE", "OTH")] == ["CONNECTED"]  # blocked
    assert (await _listing(net.node.url, net["msp3"]))[("BE", "OTH", "OTHER")] == "SUSPENDED"
    assert ("BE", "OTH", "OTHER") not in await _listing(net.node.url, net["cpo1"])


async def test_still_alive_check_marks_offline_and_back(net: HubNet) -> None:
    msp3 = net["msp3"]
    saved, msp3.token_b = msp3.token_b, "changed"  # its versions endpoint now answers 401
    await until(lambda: any(p["status"] == "OFFLINE" for p in _pushes(net["cpo1"], "FR", "MS3")))
    assert (await _listing(net.node.url, net["cpo2"]))[("FR", "MS3", "EMSP")] == "OFFLINE"
    assert await net.node.admin("GET", "/admin/connection-status/FR/MS3") == (200, "OFFLINE")
    versions_gets = [r for r in msp3.received if r.path == "/ocpi/versions"]
    assert versions_gets[-1].headers["Authorization"] == msp3.auth(saved)  # token B
    msp3.token_b = saved
    await until(lambda: _pushes(net["cpo1"], "FR", "MS3")[-1]["status"] == "CONNECTED")
    assert net.node.engine.health()["hub"]["clientinfo_push_ok"] > 0


async def test_listed_but_unregistered_party_is_planned(net: HubNet) -> None:
    await net.node.list_party("IT", "NEW", ["CPO"])
    await until(lambda: len(_pushes(net["msp1"], "IT", "NEW")) == 1)
    assert _pushes(net["msp1"], "IT", "NEW")[0]["status"] == "PLANNED"
    assert (await _listing(net.node.url, net["msp1"]))[("IT", "NEW", "CPO")] == "PLANNED"
    await asyncio.sleep(0.7)  # further searches do not repeat it
    assert len(_pushes(net["msp1"], "IT", "NEW")) == 1
    await net.node.admin("DELETE", "/admin/registry/parties/IT/NEW")  # the plan was dropped
    await until(lambda: _pushes(net["msp1"], "IT", "NEW")[-1]["status"] == "SUSPENDED")


async def _put_client_info(url: str, body: bytes, signature: str) -> tuple[int, dict[str, Any]]:
    headers = {"OCN-Signature": signature, "Content-Type": "application/json"}
    async with (
        aiohttp.ClientSession() as http,
        http.put(f"{url}/ocn/client-info", data=body, headers=headers) as r,
    ):
        return r.status, await r.json()


async def test_inbound_client_info_is_verified_stored_and_pushed(net: HubNet) -> None:
    other_key = secrets.token_bytes(32)
    other_node = signing.address_of(other_key)
    net.node.engine.registry_admin.set_node(other_node, "http://127.0.0.1:9")
    net.node.engine.registry_admin.set_party("SE", "FAR", ["EMSP"], operator=other_node)
    info = {
        "party_id": "FAR",
        "country_code": "SE",
        "role": "EMSP",
        "status": "OFFLINE",
        "last_updated": "2026-12-01T10:00:00.000Z",
    }
    body = json.dumps(info).encode()
    forged = signing.node_sign(body, secrets.token_bytes(32))
    status, answer = await _put_client_info(net.node.url, body, forged)
    assert (status, answer["status_code"]) == (400, 2001)
    status, answer = await _put_client_info(net.node.url, body, "")
    assert status == 400
    tampered = signing.node_sign(body, other_key)
    status, _ = await _put_client_info(net.node.url, body.replace(b"OFFLINE", b"PLANNED"), tampered)
    assert status == 400
    assert ("SE", "FAR", "EMSP") not in await _listing(net.node.url, net["msp3"])
    status, answer = await _put_client_info(net.node.url, body, signing.node_sign(body, other_key))
    assert (status, answer["status_code"]) == (200, 1000)
    assert (await _listing(net.node.url, net["msp3"]))[("SE", "FAR", "EMSP")] == "OFFLINE"
    await until(lambda: len(_pushes(net["cpo1"], "SE", "FAR")) == 1)
    # a node may not speak for this node's own parties
    mine = json.dumps({**info, "party_id": "CP2", "country_code": "DE", "role": "CPO"}).encode()
    status, _ = await _put_client_info(net.node.url, mine, signing.node_sign(mine, other_key))
    assert status == 400


async def test_status_changes_reach_the_other_nodes(tmp_path: Path) -> None:
    """Node A pushes its party's changes, signed, to node B; B verifies, stores and lists them."""
    async with (
        running_node(tmp_path / "b") as b,
        hub_network(tmp_path / "a") as a,
    ):
        node_a = a.node.engine.ctx.node_address
        a.node.engine.registry_admin.set_node(b.engine.ctx.node_address, b.url)
        b.engine.registry_admin.set_node(node_a, a.node.url)
        b.engine.registry_admin.set_party("CH", "CP1", ["CPO"], operator=node_a)
        await b.list_party("PT", "BBB", ["EMSP"])
        watcher = await PartyServer([("EMSP", "PT", "BBB")]).start()
        try:
            assert (await watcher.register(b.url, await b.token_a(("PT", "BBB"))))[
                "status_code"
            ] == 1000
            await a.node.admin("DELETE", "/admin/platforms/" + _platform_id(a, "CH", "CP1"))
            await until(lambda: _status_on(b, "CH", "CP1") == "SUSPENDED")
            assert (await _listing(b.url, watcher))[("CH", "CP1", "CPO")] == "SUSPENDED"
        finally:
            await watcher.stop()


def _platform_id(net: HubNet, cc: str, pid: str) -> str:
    found = net.node.engine.ctx.platforms.platform_id_by_role(cc, pid)
    assert found is not None
    return found


def _status_on(node: Any, cc: str, pid: str) -> str | None:
    info = node.engine.ctx.hub.clientinfo.get(cc, pid, "CPO")
    return info.status if info is not None else None


async def test_credentials_update_suspends_the_roles_it_drops(net: HubNet) -> None:
    msp1 = net["msp1"]

    async def update() -> None:
        headers = {"Authorization": msp1.auth(msp1.token_c)}
        url = f"{net.node.url}/ocpi/2.2.1/credentials"
        async with (
            aiohttp.ClientSession() as http,
            http.put(url, json=msp1.credentials(), headers=headers) as r,
        ):
            body = await r.json()
        assert body["status_code"] == 1000, body
        msp1.token_c = body["data"]["token"]

    msp1.roles = [("EMSP", "DE", "MS1"), ("CPO", "DE", "MS1")]
    await update()
    assert (await _listing(net.node.url, net["msp3"]))[("DE", "MS1", "CPO")] == "CONNECTED"
    msp1.roles = [("EMSP", "DE", "MS1")]
    await update()
    listing = await _listing(net.node.url, net["msp3"])
    assert (listing[("DE", "MS1", "CPO")], listing[("DE", "MS1", "EMSP")]) == (
        "SUSPENDED",
        "CONNECTED",
    )
    await until(lambda: [p["role"] for p in _pushes(net["cpo1"], "DE", "MS1")][-1:] == ["CPO"])
    assert _pushes(net["cpo1"], "DE", "MS1")[-1]["status"] == "SUSPENDED"
