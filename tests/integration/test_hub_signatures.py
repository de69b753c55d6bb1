"""OCN-Signatures through the hub: verification, signatory checks, rewrites re-signed by the node."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
import pytest

from ocn_core import signing
from tests.support.node import RunningNode, running_node
from tests.support.parties import PartyServer

CPO = ("CH", "CPO")
MSP = ("DE", "MSP")


@dataclass
class SignedHub:
    node: RunningNode
    cpo: PartyServer
    msp: PartyServer
    msp_key: bytes


@pytest.fixture
async def hub(tmp_path: Path, core_mode: str) -> AsyncIterator[SignedHub]:
    cpo_key, msp_key = secrets.token_bytes(32), secrets.token_bytes(32)
    cpo = await PartyServer([("CPO", *CPO)], key=cpo_key).start()
    msp = await PartyServer([("EMSP", *MSP)], key=msp_key).start()
    async with running_node(tmp_path, core_mode, signatures=True) as node:
        for party, ids, role, key in ((cpo, CPO, "CPO", cpo_key), (msp, MSP, "EMSP", msp_key)):
            status, body = await node.admin(
                "POST",
                "/admin/registry/parties",
                {
                    "country_code": ids[0],
                    "party_id": ids[1],
                    "roles": [role],
                    "address": signing.address_of(key),
                },
            )
            assert status == 200, body
            await node.register(party, listed=True)
        yield SignedHub(node, cpo, msp, msp_key)
    await cpo.stop()
    await msp.stop()


def _signed_headers(
    hub: SignedHub, query: dict[str, str] | None, body: Any, key: bytes | None = None
) -> dict[str, str]:
    headers = hub.msp.routing_headers(to=CPO)
    values = signing.request_values({k.lower(): v for k, v in headers.items()}, query, body)
    headers["OCN-Signature"] = signing.sign(values, key or hub.msp_key).serialize()
    return headers


async def _send(
    hub: SignedHub, method: str, path: str, headers: dict[str, str], body: Any = None
) -> tuple[int, dict[str, Any], dict[str, str]]:
    data = json.dumps(body).encode() if body is not None else None
    async with aiohttp.ClientSession() as http:
        async with http.request(method, hub.node.url + path, headers=headers, data=data) as r:
            return r.status, json.loads(await r.read()), dict(r.headers)


def _verify_node_signed(node: RunningNode, answer: dict[str, Any]) -> None:
    notary = signing.Notary.deserialize(answer["ocn_signature"])
    notary.verify(signing.response_values({}, answer))
    assert notary.signatory == node.engine.ctx.node_address


async def test_signed_request_and_response_pass_through(hub: SignedHub) -> None:
    hub.cpo.answer("GET", "/ocpi/2.2.1/sender/locations/L1", {"id": "L1", "power": 11.0})
    headers = _signed_headers(hub, None, None)
    status, answer, _ = await _send(hub, "GET", "/ocpi/sender/2.2.1/locations/L1", headers)
    assert (status, answer["status_code"]) == (200, 1000), answer
    assert hub.cpo.received[-1].headers["OCN-Signature"] == headers["OCN-Signature"]
    assert "ocn_signature" in answer


async def test_missing_signature_is_refused_with_a_node_signed_error(hub: SignedHub) -> None:
    status, answer, _ = await _send(
        hub, "GET", "/ocpi/sender/2.2.1/locations/L1", hub.msp.routing_headers(to=CPO)
    )
    assert (status, answer["status_code"], answer["status_message"]) == (
        400,
        2001,
        "Missing OCN Signature",
    )
    _verify_node_signed(hub.node, answer)


async def test_modified_request_is_refused(hub: SignedHub) -> None:
    headers = _signed_headers(hub, None, None)
    headers["X-Correlation-ID"] = "changed"
    sent = len(hub.cpo.received)
    status, answer, _ = await _send(hub, "GET", "/ocpi/sender/2.2.1/locations/L1", headers)
    assert (status, answer["status_code"], answer["status_message"]) == (
        400,
        2001,
        "Request has been modified.",
    )
    assert len(hub.cpo.received) == sent


async def test_wrong_signatory_is_refused(hub: SignedHub) -> None:
    headers = _signed_headers(hub, None, None, key=secrets.token_bytes(32))
    status, answer, _ = await _send(hub, "GET", "/ocpi/sender/2.2.1/locations/L1", headers)
    assert (status, answer["status_code"]) == (400, 2001)
    assert answer["status_message"].startswith("Actual signatory")


async def test_garbage_signature_is_refused(hub: SignedHub) -> None:
    headers = hub.msp.routing_headers(to=CPO)
    headers["OCN-Signature"] = "not-base64-brotli!"
    status, answer, _ = await _send(hub, "GET", "/ocpi/sender/2.2.1/locations/L1", headers)
    assert (status, answer["status_code"]) == (400, 2001)


async def test_unsigned_response_is_3000(hub: SignedHub) -> None:
    hub.cpo.key = None
    status, answer, _ = await _send(
        hub, "GET", "/ocpi/sender/2.2.1/locations/L1", _signed_headers(hub, None, None)
    )
    assert (status, answer["status_code"]) == (200, 3000)
    assert answer["status_message"].startswith("Unable to verify response signature")


async def test_rewritten_response_url_is_stashed_and_re_signed(hub: SignedHub) -> None:
    body = {"response_url": f"{hub.msp.base}/cb/1", "location_id": "L1", "token": {"uid": "T1"}}
    status, answer, _ = await _send(
        hub,
        "POST",
        "/ocpi/receiver/2.2.1/commands/START_SESSION",
        _signed_headers(hub, None, body),
        body,
    )
    assert (status, answer["status_code"]) == (200, 1000), answer
    got = hub.cpo.received[-1]
    forwarded = signing.Notary.deserialize(got.headers["OCN-Signature"])
    headers = {k.lower(): v for k, v in got.headers.items()}
    forwarded.verify(signing.request_values(headers, None, json.loads(got.body)))
    assert forwarded.signatory == hub.node.engine.ctx.node_address
    assert forwarded.rewrites[0].signatory == signing.address_of(hub.msp_key)
    assert forwarded.rewrites[0].rewritten_fields == {
        "$['body']['response_url']": body["response_url"]
    }


async def test_paginated_link_is_re_signed(hub: SignedHub) -> None:
    link = f'<{hub.cpo.base}/ocpi/2.2.1/sender/locations?offset=1>; rel="next"'
    hub.cpo.answer(
        "GET",
        "/ocpi/2.2.1/sender/locations",
        [{"id": "L1"}],
        headers={"Link": link, "X-Limit": "1", "X-Total-Count": "2"},
    )
    status, answer, headers = await _send(
        hub, "GET", "/ocpi/sender/2.2.1/locations", _signed_headers(hub, None, None)
    )
    assert (status, answer["status_code"]) == (200, 1000), answer
    notary = signing.Notary.deserialize(answer["ocn_signature"])
    notary.verify(signing.response_values({k.lower(): v for k, v in headers.items()}, answer))
    assert notary.signatory == hub.node.engine.ctx.node_address
    assert notary.rewrites[-1].rewritten_fields == {"$['headers']['link']": link}


async def test_rewritten_query_response_url_is_stashed_and_re_signed(hub: SignedHub) -> None:
    original = f"{hub.msp.base}/cp/1"
    query = {"duration": "900", "response_url": original}
    path = f"/ocpi/receiver/2.2.1/chargingprofiles/S1?duration=900&response_url={original}"
    status, answer, _ = await _send(hub, "GET", path, _signed_headers(hub, query, None))
    assert (status, answer["status_code"]) == (200, 1000), answer
    got = hub.cpo.received[-1]
    forwarded = signing.Notary.deserialize(got.headers["OCN-Signature"])
    params = dict(parse_qsl(got.query))
    headers = {k.lower(): v for k, v in got.headers.items()}
    forwarded.verify(signing.request_values(headers, params, None))
    assert forwarded.rewrites[0].rewritten_fields == {"$['params']['response_url']": original}


async def test_a_planned_forward_still_checks_every_signature(hub: SignedHub) -> None:
    """Once a signed request has left a forward plan, each refusal is the same as before it."""
    path, stranger = "/ocpi/sender/2.2.1/locations/L1", secrets.token_bytes(32)
    variants: dict[str, Callable[[], dict[str, str]]] = {
        "missing": lambda: hub.msp.routing_headers(to=CPO),
        "modified": lambda: {**_signed_headers(hub, None, None), "X-Correlation-ID": "changed"},
        "wrong signatory": lambda: _signed_headers(hub, None, None, key=stranger),
        "garbage": lambda: {**hub.msp.routing_headers(to=CPO), "OCN-Signature": "not-base64!"},
    }

    async def answers() -> dict[str, tuple[Any, ...]]:
        found = {}
        for name, headers in variants.items():
            sent = len(hub.cpo.received)
            status, answer, _ = await _send(hub, "GET", path, headers())
            forwarded = len(hub.cpo.received) - sent
            found[name] = (status, answer["status_code"], answer["status_message"], forwarded)
        return found

    hub.node.engine.ctx.platforms.forget_route_facts()
    cold = await answers()
    status, answer, _ = await _send(hub, "GET", path, _signed_headers(hub, None, None))
    assert (status, answer["status_code"]) == (200, 1000), answer
    warm = await answers()
    assert warm == cold
    assert {v[3] for v in warm.values()} == {0}  # none reached the receiver


async def test_the_signatory_check_follows_the_registry_at_once(hub: SignedHub) -> None:
    """The sender's listing is memoised (no registry read per signed request) until the
    registry changes: a new signing address counts from the next request on."""
    path = "/ocpi/sender/2.2.1/locations/L1"
    headers = hub.msp.routing_headers(to=CPO)
    values = signing.request_values({k.lower(): v for k, v in headers.items()}, None, None)
    lower = signing.sign(values, hub.msp_key)
    lower.signatory = lower.signatory.lower()  # any case names the listed address
    headers["OCN-Signature"] = lower.serialize()
    for _ in range(2):  # the second is answered from the memo
        status, answer, _ = await _send(hub, "GET", path, headers)
        assert (status, answer["status_code"]) == (200, 1000), answer

    new_key = secrets.token_bytes(32)
    status, body = await hub.node.admin(
        "POST",
        "/admin/registry/parties",
        {"country_code": MSP[0], "party_id": MSP[1], "roles": ["EMSP"],
         "address": signing.address_of(new_key)},
    )  # fmt: skip
    assert status == 200, body
    sent = len(hub.cpo.received)
    status, answer, _ = await _send(hub, "GET", path, _signed_headers(hub, None, None))
    assert (status, answer["status_code"]) == (400, 2001)
    assert answer["status_message"].startswith("Actual signatory")
    assert len(hub.cpo.received) == sent
    status, answer, _ = await _send(hub, "GET", path, _signed_headers(hub, None, None, new_key))
    assert (status, answer["status_code"]) == (200, 1000), answer
