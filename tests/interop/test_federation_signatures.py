"""Issue 12.9: OCN-Signatures across two nodes (OCN_SIGNATURES=1), checked by the reference
``@shareandcharge/ocn-notary`` at the final receivers: the party's signature travels in the
/ocn/message, every node verifies it, every rewrite is stashed and re-signed."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from ocn_core import signing
from tests.interop.notary_peer import NotaryPeer, running
from tests.support.federation import CPO, MSP, Federation, two_nodes

pytestmark = [pytest.mark.notary, pytest.mark.asyncio(loop_scope="module")]


@pytest.fixture(scope="module")
def js(peers: Path) -> Iterator[NotaryPeer]:
    yield from running(NotaryPeer, peers)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def fed(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Federation]:
    async with two_nodes(tmp_path_factory.mktemp("signed"), signed=True, signatures=True) as f:
        yield f


def _js_verify(js: NotaryPeer, header: str, values: Any) -> dict[str, Any]:
    answer = js(op="verify", header=header, values=json.dumps(values))
    assert "thrown" not in answer, answer
    assert answer["result"]["isValid"], answer["result"]
    notary: dict[str, Any] = js(op="deserialize", header=header)["notary"]
    return notary


async def _signed_call(
    fed: Federation, js: NotaryPeer, method: str, path: str, body: Any = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """The eMSP (node A) signs with the reference notary and calls the CPO (node B)."""
    headers = fed.msp.routing_headers(to=CPO)
    values = signing.request_values({k.lower(): v for k, v in headers.items()}, None, body)
    assert fed.msp.key is not None
    key = "0x" + fed.msp.key.hex()
    headers["OCN-Signature"] = js(op="sign", values=json.dumps(values), key=key)["header"]
    data = json.dumps(body).encode() if body is not None else None
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, fed.a.url + path, headers=headers, data=data) as r,
    ):
        return json.loads(await r.read()), dict(r.headers)


async def test_rewritten_command_is_verified_by_the_reference_notary(
    fed: Federation, js: NotaryPeer
) -> None:
    body = {"response_url": f"{fed.msp.base}/cb/9", "location_id": "L1", "token": {"uid": "T"}}
    answer, _ = await _signed_call(
        fed, js, "POST", "/ocpi/receiver/2.2.1/commands/START_SESSION", body
    )
    assert answer["status_code"] == 1000, answer
    got = fed.cpo.received[-1]
    headers = {k.lower(): v for k, v in got.headers.items()}
    values = signing.request_values(headers, None, json.loads(got.body))
    notary = _js_verify(js, got.headers["OCN-Signature"], values)
    assert notary["signatory"] == fed.a.engine.ctx.node_address  # node A re-signed the rewrite
    assert notary["rewrites"][0]["signatory"] == signing.address_of(fed.msp.key or b"")
    assert notary["rewrites"][0]["rewrittenFields"] == {
        "$['body']['response_url']": body["response_url"]
    }
    # the CPO's signed answer reaches the eMSP intact across both nodes
    lowered = {k.lower(): v for k, v in answer.items() if k != "ocn_signature"}
    notary = _js_verify(js, answer["ocn_signature"], signing.response_values({}, lowered))
    assert notary["signatory"] == signing.address_of(fed.cpo.key or b"")


async def test_remote_link_is_re_signed_by_the_requesters_node(
    fed: Federation, js: NotaryPeer
) -> None:
    link = f'<{fed.cpo.base}/ocpi/2.2.1/sender/tariffs?offset=1>; rel="next"'
    fed.cpo.answer(
        "GET",
        "/ocpi/2.2.1/sender/tariffs",
        [{"id": "T1"}],
        headers={"Link": link, "X-Limit": "1", "X-Total-Count": "2"},
    )
    answer, headers = await _signed_call(fed, js, "GET", "/ocpi/sender/2.2.1/tariffs")
    assert answer["status_code"] == 1000, answer
    assert headers["Link"].startswith(f"<{fed.a.url}/")
    lowered = {k.lower(): v for k, v in headers.items()}
    values = signing.response_values(lowered, answer)
    notary = _js_verify(js, answer["ocn_signature"], values)
    assert notary["signatory"] == fed.a.engine.ctx.node_address
    assert notary["rewrites"][-1]["signatory"] == signing.address_of(fed.cpo.key or b"")
    assert notary["rewrites"][-1]["rewrittenFields"] == {"$['headers']['link']": link}


async def test_unsigned_request_is_refused_before_leaving_the_first_node(fed: Federation) -> None:
    sent = len(fed.cpo.received)
    _, answer, _ = await fed.call(fed.msp, fed.a, "GET", "/ocpi/sender/2.2.1/locations/L1", CPO)
    assert (answer["status_code"], answer["status_message"]) == (2001, "Missing OCN Signature")
    assert len(fed.cpo.received) == sent


async def test_forged_party_signature_is_refused_at_the_receivers_node(
    fed: Federation, js: NotaryPeer
) -> None:
    """Node B checks the party signature itself, even from a node that let it through."""
    from ocn_core.federation import message
    from ocn_core.model import InterfaceRole, PartyRef, RouteKind, RouteRequest

    values = {"headers": {"x-correlation-id": "c", "ocpi-from-country-code": MSP[0],
              "ocpi-from-party-id": MSP[1], "ocpi-to-country-code": CPO[0],
              "ocpi-to-party-id": CPO[1]}}  # fmt: skip
    forged = js(op="sign", values=json.dumps(values), key="0x" + "77" * 32)["header"]
    req = RouteRequest(
        kind=RouteKind.MODULE, module="locations", interface_role=InterfaceRole.SENDER,
        method="GET", path_suffix="L1", correlation_id="c", from_party=PartyRef(*MSP),
        to_party=PartyRef(*CPO),
    )  # fmt: skip
    raw = message.encode(req, "forged-1", query="", body=b"", signature=forged)
    sig = signing.node_sign(raw, fed.a.settings.private_key_bytes)
    sent = len(fed.cpo.received)
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{fed.b.url}/ocn/message",
            data=raw,
            headers={"X-Request-ID": "x", "OCN-Signature": sig},
        ) as r,
    ):
        answer = json.loads(await r.read())
    assert answer["status_code"] == 2001
    assert answer["status_message"].startswith("Actual signatory")
    assert len(fed.cpo.received) == sent
