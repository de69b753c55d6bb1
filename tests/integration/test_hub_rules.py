"""Issue 13.1: OcnRules, every operation, enforced on the next request at the receiver's node."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.hubnet import CPO1, CPO2, MSP1, MSP2, HubNet, hub_network

LOC = "/ocpi/receiver/2.2.1/locations/CH/CP1/L1"


@pytest.fixture
async def net(tmp_path: Path, core_mode: str) -> AsyncIterator[HubNet]:
    async with hub_network(tmp_path, core_mode) as n:
        yield n


async def _put_location(net: HubNet, sender: str = "cpo1", to: tuple[str, str] = MSP1) -> int:
    frm = CPO1 if sender == "cpo1" else CPO2
    status, body, _ = await net.call(
        net[sender], "PUT", LOC.replace("CH/CP1", "/".join(frm)), to, {"id": "L1"}, frm=frm
    )
    assert status == (200 if body["status_code"] == 1000 else 400), body
    return int(body["status_code"])


async def test_rules_start_empty_and_get_shows_the_active_list(net: HubNet) -> None:
    status, body = await net.rules(net["msp1"], "GET")
    assert (status, body["status_code"]) == (200, 1000)
    assert body["data"] == {
        "signatures": False,
        "whitelist": {"active": False, "list": []},
        "blacklist": {"active": False, "list": []},
    }
    status, body = await net.rules(
        net["msp1"], "POST", "whitelist", {"country_code": "ch", "party_id": "cp1"}
    )
    assert (status, body["status_code"]) == (200, 1000)
    _, body = await net.rules(net["msp1"], "GET")
    assert body["data"]["whitelist"] == {
        "active": True,
        "list": [{"party_id": "CP1", "country_code": "CH", "modules": []}],
    }


async def test_whitelist_lets_only_listed_senders_and_modules_through(net: HubNet) -> None:
    assert await _put_location(net, "cpo2") == 1000
    entries = [{"country_code": "CH", "party_id": "CP1", "modules": ["Locations"]}]
    status, body = await net.rules(net["msp1"], "PUT", "whitelist", entries)
    assert (status, body["status_code"]) == (200, 1000)
    # takes effect on the very next request; case-insensitive module and parties
    assert await _put_location(net, "cpo1") == 1000
    before = len(net["msp1"].received)
    status, body, _ = await net.call(
        net["cpo2"], "PUT", "/ocpi/receiver/2.2/locations/DE/CP2/L1", MSP1, {"id": "L1"}, frm=CPO2
    )
    assert (status, body["status_code"]) == (400, 2000)
    assert body["status_message"] == "Message receiver not in sender's whitelist."
    status, body, _ = await net.call(
        net["cpo1"], "PUT", "/ocpi/receiver/2.2.1/sessions/CH/CP1/S1", MSP1, {"id": "S1"}
    )
    assert (status, body["status_code"]) == (400, 2000)
    assert "not whitelisted to request sessions" in body["status_message"]
    assert len(net["msp1"].received) == before  # nothing blocked reached the receiver
    # other receivers are not affected by msp1's rules
    assert await _put_location(net, "cpo2", to=MSP2) == 1000
    # an empty PUT deactivates the whitelist
    await net.rules(net["msp1"], "PUT", "whitelist", [])
    assert await _put_location(net, "cpo2") == 1000


async def test_blacklist_blocks_only_its_modules_and_empty_means_all(net: HubNet) -> None:
    await net.rules(
        net["msp1"],
        "POST",
        "blacklist",
        {"country_code": "CH", "party_id": "CP1", "modules": ["sessions"]},
    )
    assert await _put_location(net, "cpo1") == 1000  # locations not listed: allowed
    status, body, _ = await net.call(
        net["cpo1"], "PUT", "/ocpi/receiver/2.2.1/sessions/CH/CP1/S1", MSP1, {"id": "S1"}
    )
    assert (status, body["status_code"]) == (400, 2000)
    await net.rules(net["msp1"], "DELETE", "blacklist/CH/CP1")
    await net.rules(net["msp1"], "POST", "blacklist", {"country_code": "ch", "party_id": "cp1"})
    assert await _put_location(net, "cpo1") == 2000  # empty module list: every module
    assert await _put_location(net, "cpo2") == 1000


async def test_custom_modules_are_enforced_too(net: HubNet) -> None:
    path = "/ocpi/custom/receiver/lite-locations/a/b"
    status, body, _ = await net.call(net["cpo1"], "POST", path, MSP2, {"x": 1})
    assert (status, body["status_code"]) == (200, 1000)
    rule = {"country_code": "CH", "party_id": "CP1", "modules": ["lite-locations"]}
    await net.rules(net["msp2"], "POST", "blacklist", rule)
    status, body, _ = await net.call(net["cpo1"], "POST", path, MSP2, {"x": 1})
    assert (status, body["status_code"]) == (400, 2000)
    assert await _put_location(net, "cpo1", to=MSP2) == 1000


async def test_conflicts_duplicates_and_block_all_are_scoped_to_the_caller(net: HubNet) -> None:
    entry = {"country_code": "CH", "party_id": "CP1", "modules": ["locations"]}
    assert (await net.rules(net["msp1"], "POST", "whitelist", entry))[1]["status_code"] == 1000
    # another platform may list the same party (reference: duplicate across platforms)
    assert (await net.rules(net["msp2"], "POST", "whitelist", entry))[1]["status_code"] == 1000
    status, body = await net.rules(net["msp1"], "POST", "whitelist", entry)
    assert (status, body["status_code"]) == (400, 2001)
    assert body["status_message"] == "Party already on OCN Rules whitelist"
    status, body = await net.rules(net["msp1"], "POST", "blacklist", entry)
    assert (status, body["status_code"]) == (400, 2000)
    assert "cannot be active at same time" in body["status_message"]
    status, body = await net.rules(net["msp1"], "DELETE", "blacklist/CH/CP1")
    assert (status, body["status_code"]) == (400, 2000)
    # block-all on msp3 leaves msp1's and msp2's rules alone
    assert (await net.rules(net["msp3"], "PUT", "block-all"))[1]["status_code"] == 1000
    _, body = await net.rules(net["msp2"], "GET")
    assert body["data"]["whitelist"]["list"] == [
        {"party_id": "CP1", "country_code": "CH", "modules": ["locations"]}
    ]
    assert await _put_location(net, "cpo1", to=("FR", "MS3")) == 2000
    # bad input
    for bad in ({"country_code": "CHX", "party_id": "CP1"}, {"party_id": "CP1"}, [1]):
        status, body = await net.rules(net["msp2"], "POST", "blacklist", bad)
        assert (status, body["status_code"]) == (400, 2001), bad
    status, body = await net.rules(net["msp2"], "PUT", "whitelist", {"not": "a list"})
    assert (status, body["status_code"]) == (400, 2001)
    status, body = await net.rules(net["msp2"], "PUT", "nonsense")
    assert status == 404


async def test_rules_need_token_c(net: HubNet) -> None:
    party = net["msp1"]
    saved, party.token_c = party.token_c, "wrong"
    try:
        status, body = await net.rules(party, "GET")
    finally:
        party.token_c = saved
    assert (status, body["status_code"]) == (401, 2001)


async def test_signature_flag_requires_signed_requests_for_that_receiver(net: HubNet) -> None:
    status, body = await net.rules(net["msp1"], "PUT", "signatures")
    assert body["status_code"] == 1000
    _, body = await net.rules(net["msp1"], "GET")
    assert body["data"]["signatures"] is True
    status, body, _ = await net.call(net["cpo1"], "PUT", LOC, MSP1, {"id": "L1"})
    assert (status, body["status_code"]) == (400, 2001)
    assert "Missing OCN Signature" in body["status_message"]
    assert await _put_location(net, "cpo1", to=MSP2) == 1000  # unsigned still fine elsewhere
    await net.rules(net["msp1"], "PUT", "signatures")  # toggled off again
    assert await _put_location(net, "cpo1") == 1000
