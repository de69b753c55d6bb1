"""Issue 5 §7: the error catalogue (ocn-node.md §3.4) through the real stack; no state changes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.hub import CPO, MSP, Hub, credentials_call, three_platform_hub


@pytest.fixture
async def hub(tmp_path: Path, core_mode: str) -> AsyncIterator[Hub]:
    async with three_platform_hub(
        tmp_path, core_mode, forward_timeout=0.5, max_body_bytes=4096
    ) as h:
        yield h


def state(hub: Hub) -> Any:
    ctx = hub.node.engine.ctx
    with ctx.store.env.begin() as txn:
        return {
            name: list(txn.cursor(db=ctx.store.db(name)))
            for name in (
                "state.platforms",
                "state.tokens",
                "state.roles",
                "state.endpoints",
                "state.proxy",
            )
        }


async def test_receiver_timeout_is_4002(hub: Hub) -> None:
    hub.cpo.delay = 2.0
    status, answer, headers = await hub.call(
        hub.msp, "GET", "/ocpi/sender/2.2/locations/L1", to=CPO
    )
    assert (status, answer["status_code"]) == (200, 4002)
    assert (headers["OCPI-to-party-id"], headers["OCPI-from-party-id"]) == ("MSP", "OCN")


async def test_receiver_answer_not_json_is_3000(hub: Hub) -> None:
    hub.cpo.answer("GET", "/ocpi/2.2.1/sender/locations/L1", None, raw=b"<html>oops</html>")
    status, answer, _ = await hub.call(hub.msp, "GET", "/ocpi/sender/2.2/locations/L1", to=CPO)
    assert (status, answer["status_code"]) == (200, 3000)
    assert answer["status_message"].startswith(
        "Could not parse JSON response of forwarded OCPI request"
    )


async def test_receiver_errors_are_passed_back(hub: Hub) -> None:
    hub.cpo.answer("GET", "/ocpi/2.2.1/sender/locations/L404", None, status_code=2003, http=404)
    status, answer, headers = await hub.call(
        hub.msp, "GET", "/ocpi/sender/2.2/locations/L404", to=CPO
    )
    assert (status, answer["status_code"]) == (404, 2003)
    assert headers["OCPI-from-party-id"] == "CPO"


async def test_oversized_body_is_413_and_forwards_nothing(hub: Hub) -> None:
    before, sent = state(hub), len(hub.msp.received)
    body = {"id": "L1", "blob": "x" * 5000}
    status, answer, _ = await hub.call(
        hub.cpo, "PUT", "/ocpi/receiver/2.2.1/locations/CH/CPO/L1", to=MSP, body=body
    )
    assert (status, answer["status_code"]) == (413, 2001)
    assert len(hub.msp.received) == sent
    assert state(hub) == before


async def test_method_not_served_is_405(hub: Hub) -> None:
    status, answer, _ = await hub.call(hub.msp, "DELETE", "/ocpi/sender/2.2/locations/L1", to=CPO)
    assert (status, answer["status_code"]) == (405, 2000)


async def test_bad_command_body_is_400_and_stores_nothing(hub: Hub) -> None:
    before = state(hub)
    for raw in (b"{not json", b'{"location_id":"L1"}', b'{"response_url": 5}', b"[]"):
        status, answer, _ = await hub.call(
            hub.msp, "POST", "/ocpi/receiver/2.2/commands/START_SESSION", to=CPO, raw=raw
        )
        assert (status, answer["status_code"]) == (400, 2001), raw
    assert state(hub) == before


async def test_unknown_proxy_id_is_404(hub: Hub) -> None:
    status, answer, _ = await hub.call(
        hub.cpo,
        "POST",
        "/ocpi/sender/2.2.1/commands/START_SESSION/nope",
        to=MSP,
        body={"result": "ACCEPTED"},
    )
    assert (status, answer["status_code"], answer["status_message"]) == (
        404,
        2003,
        "Proxied resource not found",
    )
    status, answer, _ = await hub.call(
        hub.msp, "GET", "/ocpi/sender/2.2/locations/page/nope", to=CPO
    )
    assert (status, answer["status_code"]) == (404, 2003)


async def test_wrong_types_in_routing_headers(hub: Hub) -> None:
    for header, value in (
        ("OCPI-to-country-code", "1"),
        ("OCPI-from-party-id", "M$P"),
        ("OCPI-to-party-id", ""),
    ):
        status, answer, _ = await hub.call(
            hub.msp, "GET", "/ocpi/sender/2.2/locations/L1", to=CPO, extra={header: value}
        )
        assert (status, answer["status_code"]) == (400, 2001), header


async def _creds(hub: Hub, method: str, party: Any, body: Any = None) -> tuple[int, Any]:
    return await credentials_call(hub.node.url, method, party, body)


async def test_credentials_put_rotates_tokens_and_rechecks_the_registry(hub: Hub) -> None:
    old_c = hub.cpo.token_c
    hub.cpo.token_b = "new-token-b"
    status, answer = await _creds(hub, "PUT", hub.cpo, hub.cpo.credentials())
    assert (status, answer["status_code"]) == (200, 1000)
    assert answer["data"]["token"] != old_c
    hub.cpo.token_c = answer["data"]["token"]
    status, answer, _ = await hub.call(hub.msp, "GET", "/ocpi/sender/2.2/locations/L1", to=CPO)
    assert answer["status_code"] == 1000
    assert (
        hub.cpo.received[-1]
        .headers["Authorization"]
        .endswith(__import__("base64").b64encode(b"new-token-b").decode())
    )
    # the old token C is void
    hub.cpo.token_c, new_c = old_c, hub.cpo.token_c
    status, _ = await _creds(hub, "GET", hub.cpo)
    assert status == 401
    hub.cpo.token_c = new_c
    # a role no longer listed with this node is refused on PUT, and nothing changes
    await hub.node.admin("DELETE", "/admin/registry/parties/CH/CPO")
    before = state(hub)
    status, answer = await _creds(hub, "PUT", hub.cpo, hub.cpo.credentials())
    assert (status, answer["status_code"]) == (400, 2001)
    assert state(hub) == before


async def test_credentials_put_cannot_take_another_platforms_role(hub: Hub) -> None:
    creds = hub.cpo.credentials()
    creds["roles"].append(
        {"role": "EMSP", "country_code": "DE", "party_id": "MSP", "business_details": {"name": "x"}}
    )
    before = state(hub)
    status, answer = await _creds(hub, "PUT", hub.cpo, creds)
    assert (status, answer["status_code"]) == (400, 2001)
    assert "already connected" in answer["status_message"]
    assert state(hub) == before


async def test_credentials_delete_unregisters(hub: Hub) -> None:
    status, answer = await _creds(hub, "DELETE", hub.cpo)
    assert (status, answer["status_code"]) == (200, 1000)
    status, _ = await _creds(hub, "DELETE", hub.cpo)
    assert status == 401
    status, answer, _ = await hub.call(hub.msp, "GET", "/ocpi/sender/2.2/locations/L1", to=CPO)
    assert answer["status_code"] == 4001


async def test_credentials_with_token_a_is_405_outside_post(hub: Hub) -> None:
    token_a = await hub.node.token_a(("NL", "NEW"))
    for method in ("GET", "PUT", "DELETE"):
        async with aiohttp.ClientSession() as http:
            async with http.request(
                method,
                f"{hub.node.url}/ocpi/2.2.1/credentials",
                headers={"Authorization": f"Token {token_a}"},
            ) as r:
                assert r.status == 405, method


async def test_hubclientinfo_lists_connected_parties(hub: Hub) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(
            f"{hub.node.url}/ocpi/2.2.1/hubclientinfo",
            headers={"Authorization": hub.msp.auth(hub.msp.token_c)},
        ) as r:
            body = await r.json()
            assert r.headers["X-Total-Count"] == "4"
    assert {(c["country_code"], c["party_id"], c["role"], c["status"]) for c in body["data"]} == {
        ("CH", "CPO", "CPO", "CONNECTED"),
        ("DE", "MSP", "EMSP", "CONNECTED"),
        ("NL", "CPX", "CPO", "CONNECTED"),
        ("NL", "MSX", "EMSP", "CONNECTED"),
    }


async def test_hubclientinfo_is_paginated(hub: Hub) -> None:
    auth = {"Authorization": hub.msp.auth(hub.msp.token_c)}
    seen: list[tuple[str, str]] = []
    url: str | None = f"{hub.node.url}/ocpi/2.2.1/hubclientinfo?limit=3"
    async with aiohttp.ClientSession() as http:
        while url:
            async with http.get(url, headers=auth) as r:
                body = await r.json()
                assert (r.headers["X-Total-Count"], r.headers["X-Limit"]) == ("4", "3")
                link = r.headers.get("Link")
            seen += [(c["country_code"], c["party_id"]) for c in body["data"]]
            url = link[1 : link.index(">")] if link else None
        assert len(seen) == 4
        assert len(set(seen)) == 4
        async with http.get(
            f"{hub.node.url}/ocpi/2.2.1/hubclientinfo?date_from=2999-01-01T00:00:00Z", headers=auth
        ) as r:
            body = await r.json()
            assert (body["data"], r.headers["X-Total-Count"]) == ([], "0")
        async with http.get(f"{hub.node.url}/ocpi/2.2.1/hubclientinfo?offset=x", headers=auth) as r:
            assert (r.status, (await r.json())["status_code"]) == (400, 2001)


async def test_expired_registration_token_is_refused(hub: Hub) -> None:
    status, body = await hub.node.admin(
        "POST",
        "/admin/generate-registration-token",
        {"roles": [{"country_code": "NL", "party_id": "EXP"}], "ttl_seconds": 0.01},
    )
    assert status == 200
    import asyncio

    await asyncio.sleep(0.05)
    async with aiohttp.ClientSession() as http:
        async with http.get(
            f"{hub.node.url}/ocpi/versions", headers={"Authorization": f"Token {body['token']}"}
        ) as r:
            assert r.status == 401
