"""Issues 13.3, 13.4, 13.6: Broadcast Push, GET All via Hub, fan-out control and partner limits."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.hubnet import CPO1, CPO2, MSP1, OTH, HubNet, hub_network, received, until

HUB = ("CH", "OCN")
LOC_PATH = "/ocpi/receiver/2.2.1/locations/CH/CP1/L1"
LOCATION = {
    "country_code": "CH",
    "party_id": "CP1",
    "id": "L1",
    "evses": [{"uid": "E1", "status": "AVAILABLE", "connectors": [{"id": "1"}]}],
    "last_updated": "2026-01-02T03:04:05Z",
}


@pytest.fixture
async def net(tmp_path: Path) -> AsyncIterator[HubNet]:
    async with hub_network(tmp_path) as n:
        yield n


async def test_location_put_to_the_hub_reaches_every_emsp_nsp_and_other(net: HubNet) -> None:
    await net.rules(
        net["msp2"],
        "POST",
        "blacklist",
        {"country_code": "CH", "party_id": "CP1", "modules": ["locations"]},
    )
    raw = json.dumps(LOCATION).encode()
    status, body, headers = await net.call(net["cpo1"], "PUT", LOC_PATH, HUB, raw=raw)
    assert (status, body["status_code"]) == (200, 1000)
    assert (headers["OCPI-from-country-code"], headers["OCPI-from-party-id"]) == HUB
    assert (headers["OCPI-to-country-code"], headers["OCPI-to-party-id"]) == CPO1
    receivers = ("msp1", "msp3", "other")
    await until(lambda: all(received(net[n], "PUT", "/locations/CH/CP1/L1") for n in receivers))
    for name in receivers:
        (got,) = received(net[name], "PUT", "/locations/CH/CP1/L1")
        assert got.path == "/ocpi/2.2.1/receiver/locations/CH/CP1/L1"  # original owner in the URL
        assert got.body == raw  # raw bytes, last_updated untouched
        assert (got.headers["OCPI-from-country-code"], got.headers["OCPI-from-party-id"]) == HUB
        to = (got.headers["OCPI-to-country-code"], got.headers["OCPI-to-party-id"])
        assert to == net[name].roles[0][1:]
        assert got.headers["X-Request-ID"] != headers["X-Request-ID"]
    # blocked by its rules, CPOs are not the opposite role
    await asyncio.sleep(0.1)
    for name in ("msp2", "cpo2", "cpo1"):
        assert received(net[name], "PUT", "/locations/CH/CP1/L1") == []


async def test_emsp_tokens_go_to_cpos_only_and_failures_stay_at_the_hub(net: HubNet) -> None:
    net["cpo2"].answer(
        "PUT", "/ocpi/2.2/receiver/tokens/DE/MS1/T1", None, status_code=2001, http=400
    )
    token = {
        "country_code": "DE",
        "party_id": "MS1",
        "uid": "T1",
        "last_updated": "2026-01-01T00:00:00Z",
    }
    path = "/ocpi/receiver/2.2.1/tokens/DE/MS1/T1?type=RFID"
    status, body, _ = await net.call(net["msp1"], "PUT", path, HUB, token)
    assert (status, body["status_code"]) == (200, 1000)  # cpo2's 400 is not relayed
    await until(
        lambda: bool(
            received(net["cpo1"], "PUT", "/tokens/DE/MS1/T1")
            and received(net["cpo2"], "PUT", "/tokens/DE/MS1/T1")
        )
    )
    assert received(net["cpo1"], "PUT", "/tokens/DE/MS1/T1")[0].query == "type=RFID"
    await until(lambda: net.node.engine.health()["hub"].get("broadcast_refused") == 1)
    await asyncio.sleep(0.05)
    for name in ("msp2", "msp3", "other"):
        assert received(net[name], "PUT", "/tokens/DE/MS1/T1") == []
    # OTHER pushes to CPOs only
    token["country_code"], token["party_id"] = OTH
    status, body, _ = await net.call(
        net["other"], "PUT", "/ocpi/receiver/2.2.1/tokens/BE/OTH/T2", HUB, token
    )
    assert body["status_code"] == 1000
    await until(lambda: bool(received(net["cpo1"], "PUT", "/tokens/BE/OTH/T2")))
    await asyncio.sleep(0.05)
    assert received(net["msp1"], "PUT", "/tokens/BE/OTH/T2") == []


async def test_tariff_delete_is_broadcast_and_leaves_the_hub_data(net: HubNet) -> None:
    path = "/ocpi/receiver/2.2.1/tariffs/CH/CP1/TA"
    tariff = {
        "id": "TA",
        "country_code": "CH",
        "party_id": "CP1",
        "last_updated": "2026-01-01T00:00:00Z",
    }
    await net.call(net["cpo1"], "PUT", path, HUB, tariff)
    _, body, _ = await net.call(net["msp1"], "GET", "/ocpi/sender/2.2.1/tariffs", HUB)
    assert [t["id"] for t in body["data"]] == ["TA"]
    status, body, _ = await net.call(net["cpo1"], "DELETE", path, HUB)
    assert (status, body["status_code"]) == (200, 1000)
    await until(lambda: bool(received(net["msp1"], "DELETE", "/tariffs/CH/CP1/TA")))
    _, body, _ = await net.call(net["msp1"], "GET", "/ocpi/sender/2.2.1/tariffs", HUB)
    assert body["data"] == []


async def test_sessions_cdrs_gets_and_foreign_objects_are_never_broadcast(net: HubNet) -> None:
    for method, path in (
        ("PUT", "/ocpi/receiver/2.2.1/sessions/CH/CP1/S1"),
        ("POST", "/ocpi/receiver/2.2.1/cdrs"),
        ("PUT", "/ocpi/receiver/2.2.1/locations/DE/CP2/L1"),  # not the sender's own object
    ):
        status, body, _ = await net.call(net["cpo1"], method, path, HUB, {"id": "X"})
        assert (status, body["status_code"]) == (400, 2001), (path, body)
    await asyncio.sleep(0.05)
    assert all(not p.received[-1].path.endswith(("S1", "cdrs", "L1")) for p in net.parties.values())


async def test_get_all_via_hub_merges_paginates_and_follows_patches(net: HubNet) -> None:
    await net.call(net["cpo1"], "PUT", LOC_PATH, HUB, LOCATION)
    other = {
        **LOCATION,
        "country_code": "DE",
        "party_id": "CP2",
        "last_updated": "2026-02-01T00:00:00Z",
    }
    await net.call(
        net["cpo2"], "PUT", "/ocpi/receiver/2.2/locations/DE/CP2/L1", HUB, other, frm=CPO2
    )
    patch = {"status": "CHARGING", "last_updated": "2026-03-01T00:00:00Z"}
    status, body, _ = await net.call(net["cpo1"], "PATCH", LOC_PATH + "/E1", HUB, patch)
    assert body["status_code"] == 1000
    url = net.node.url + "/ocpi/sender/2.2.1/locations?limit=1"
    seen: list[dict[str, Any]] = []
    while url:
        status, body, headers = await net.call(net["msp1"], "GET", url, HUB)
        assert (status, body["status_code"]) == (200, 1000)
        assert (headers["X-Total-Count"], headers["X-Limit"]) == ("2", "1")
        assert (headers["OCPI-from-country-code"], headers["OCPI-from-party-id"]) == HUB
        seen += body["data"]
        link = headers.get("Link")
        url = link[1 : link.index(">")] if link else ""
    owners = {(o["country_code"], o["party_id"]): o for o in seen}
    assert set(owners) == {CPO1, CPO2}
    assert owners[CPO1]["evses"][0]["status"] == "CHARGING"
    assert owners[CPO1]["last_updated"] == LOCATION["last_updated"]  # the hub never touches it
    since = net.node.url + "/ocpi/sender/2.2.1/locations?date_from=2026-01-15T00:00:00Z"
    _, body, headers = await net.call(net["msp1"], "GET", since, HUB)
    assert [(o["country_code"], o["party_id"]) for o in body["data"]] == [CPO2]
    _, body, _ = await net.call(net["msp1"], "GET", "/ocpi/sender/2.2.1/sessions", HUB)
    assert body["status_code"] == 2003


async def test_identical_consecutive_status_updates_are_dropped(net: HubNet) -> None:
    await net.call(net["cpo1"], "PUT", LOC_PATH, HUB, LOCATION)
    for stamp in ("2026-03-01T00:00:00Z", "2026-03-01T00:00:01Z", "2026-03-01T00:00:02Z"):
        patch = {"status": "CHARGING", "last_updated": stamp}
        _status, body, _ = await net.call(net["cpo1"], "PATCH", LOC_PATH + "/E1", HUB, patch)
        assert body["status_code"] == 1000
    await net.call(net["cpo1"], "PATCH", LOC_PATH + "/E1", HUB, {"status": "AVAILABLE"})
    await until(lambda: len(received(net["msp1"], "PATCH", "/L1/E1")) == 2)
    await asyncio.sleep(0.1)
    assert [json.loads(r.body)["status"] for r in received(net["msp1"], "PATCH", "/L1/E1")] == [
        "CHARGING",
        "AVAILABLE",
    ]
    assert net.node.engine.health()["hub"]["broadcast_duplicates_dropped"] == 2


async def test_bounded_queue_per_receiver_drops_and_counts(tmp_path: Path) -> None:
    async with hub_network(tmp_path, fanout_queue=1, fanout_concurrency=1) as net:
        net["msp3"].delay = 0.3
        for i in range(3):
            _status, body, _ = await net.call(
                net["cpo1"],
                "PUT",
                f"/ocpi/receiver/2.2.1/locations/CH/CP1/Q{i}",
                HUB,
                {"id": f"Q{i}"},
            )
            assert body["status_code"] == 1000
        await net.node.engine.ctx.hub.drain()
        counters = net.node.engine.health()["hub"]
        assert counters["fanout_dropped_queue_full"] == 2  # msp3 was busy with Q0
        assert len(received(net["msp3"], "PUT", "/Q0")) == 1
        assert all(len(received(net["msp1"], "PUT", f"/Q{i}")) == 1 for i in range(3))


async def test_partner_rate_and_body_limits(tmp_path: Path) -> None:
    async with hub_network(tmp_path, partner_limits="CHCP1:1/1/,DEMS1://64") as net:
        path = "/ocpi/receiver/2.2.1/locations/CH/CP1/L1"
        status, body, _ = await net.call(net["cpo1"], "PUT", path, MSP1, {"id": "L1"})
        assert body["status_code"] == 1000
        status, body, headers = await net.call(net["cpo1"], "PUT", path, MSP1, {"id": "L1"})
        assert (status, body["status_code"]) == (429, 2000)
        assert int(headers["Retry-After"]) >= 1
        assert "Rate limit" in body["status_message"]
        # other partners are not limited
        status, body, _ = await net.call(
            net["cpo2"],
            "PUT",
            "/ocpi/receiver/2.2/locations/DE/CP2/L1",
            MSP1,
            {"id": "L1"},
            frm=CPO2,
        )
        assert body["status_code"] == 1000
        big = {"id": "T", "padding": "x" * 100}
        status, body, _ = await net.call(
            net["msp1"], "PUT", "/ocpi/receiver/2.2.1/tokens/DE/MS1/T", CPO1, big
        )
        assert (status, body["status_code"]) == (413, 2001)
        hub = net.node.engine.health()["hub"]
        assert (hub["rejected_rate"], hub["rejected_body"]) == (1, 1)
