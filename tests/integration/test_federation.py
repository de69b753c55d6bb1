"""Issue 12: two nodes route to each other's parties over signed /ocn/message posts.

Both nodes run in this process on real sockets with their own LMDB (the chain tests run them as
separate processes on anvil); each node's local registry lists both nodes and every party, as
the chain would. One pair of nodes serves the whole module.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
import pytest_asyncio

from ocn_core import signing
from ocn_core.federation import message
from ocn_core.model import InterfaceRole, PartyRef, RouteKind, RouteRequest
from tests.support.federation import CPO, MSP, Federation, two_nodes
from tests.support.parties import PartyServer

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def fed(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Federation]:
    async with two_nodes(tmp_path_factory.mktemp("fed")) as f:
        yield f


def _token_b(party: PartyServer) -> set[str]:
    raw = party.token_b
    return {f"Token {raw}", "Token " + base64.b64encode(raw.encode()).decode()}


def _last(party: PartyServer, path: str) -> Any:
    found = [r for r in party.received if r.path == path]
    assert found, f"{path} not received; got {[r.path for r in party.received[-5:]]}"
    return found[-1]


# (caller, to, method, node path, body, receiver, receiver path)
ROUTES = [
    ("msp", CPO, "GET", "/ocpi/sender/2.2.1/locations/L1/E1/C1", None, "cpo",
     "/ocpi/2.2.1/sender/locations/L1/E1/C1"),
    ("msp", CPO, "GET", "/ocpi/sender/2.2.1/tariffs?offset=0&limit=5", None, "cpo",
     "/ocpi/2.2.1/sender/tariffs"),
    ("msp", CPO, "GET", "/ocpi/sender/2.2.1/cdrs?date_from=2026-01-01T00:00:00Z", None, "cpo",
     "/ocpi/2.2.1/sender/cdrs"),
    ("msp", CPO, "PUT", "/ocpi/sender/2.2.1/sessions/S1/charging_preferences",
     {"profile_type": "FAST"}, "cpo", "/ocpi/2.2.1/sender/sessions/S1/charging_preferences"),
    ("cpo", MSP, "PUT", "/ocpi/receiver/2.2.1/locations/CH/CPB/L1",
     {"id": "L1", "power": 22.0, "n": 3}, "msp", "/ocpi/2.2.1/receiver/locations/CH/CPB/L1"),
    ("cpo", MSP, "PATCH", "/ocpi/receiver/2.2.1/sessions/CH/CPB/S1", {"kwh": 1.25}, "msp",
     "/ocpi/2.2.1/receiver/sessions/CH/CPB/S1"),
    ("cpo", MSP, "DELETE", "/ocpi/receiver/2.2.1/tariffs/CH/CPB/T1", None, "msp",
     "/ocpi/2.2.1/receiver/tariffs/CH/CPB/T1"),
    ("cpo", MSP, "POST", "/ocpi/sender/2.2.1/tokens/TOK1/authorize?type=RFID",
     {"location_id": "L1"}, "msp", "/ocpi/2.2.1/sender/tokens/TOK1/authorize"),
    ("cpo", MSP, "GET", "/ocpi/sender/2.2.1/tokens?limit=10", None, "msp",
     "/ocpi/2.2.1/sender/tokens"),
    ("msp", CPO, "GET", "/ocpi/receiver/2.2.1/tokens/DE/MSP/TOK1?type=RFID", None, "cpo",
     "/ocpi/2.2.1/receiver/tokens/DE/MSP/TOK1"),
    ("msp", CPO, "PUT", "/ocpi/receiver/2.2.1/chargingprofiles/S1",
     {"charging_profile": {"charging_rate_unit": "W"}, "response_url": "http://127.0.0.1:9/x"},
     "cpo", "/ocpi/2.2.1/receiver/chargingprofiles/S1"),
    ("cpo", MSP, "PUT", "/ocpi/sender/2.2.1/chargingprofiles/S1", {"active": 1}, "msp",
     "/ocpi/2.2.1/sender/chargingprofiles/S1"),
]  # fmt: skip


@pytest.mark.parametrize(("caller", "to", "method", "path", "body", "receiver", "rpath"), ROUTES)
async def test_every_module_across_nodes(
    fed: Federation,
    caller: str,
    to: tuple[str, str],
    method: str,
    path: str,
    body: Any,
    receiver: str,
    rpath: str,
) -> None:
    src, dst = (fed.msp, fed.a) if caller == "msp" else (fed.cpo, fed.b)
    party = fed.msp if receiver == "msp" else fed.cpo
    raw = json.dumps(body, separators=(",", ":")).encode() if body is not None else None
    headers = src.routing_headers(to=to)
    status, answer, out = await fed.call(src, dst, method, path, to, raw=raw, extra=headers)
    assert (status, answer["status_code"]) == (200, 1000), answer
    got = _last(party, rpath)
    assert got.method == method
    assert parse_qs(got.query) == parse_qs(urlsplit(path).query)
    if body is not None and "response_url" not in body:
        assert got.body == raw  # unchanged bytes
    assert got.headers["Authorization"] in _token_b(party)  # the receiver's own token B
    assert got.headers["X-Correlation-ID"] == headers["X-Correlation-ID"]
    assert got.headers["X-Request-ID"] != headers["X-Request-ID"]
    for name in ("OCPI-from-country-code", "OCPI-from-party-id", "OCPI-to-country-code",
                 "OCPI-to-party-id"):  # fmt: skip
        assert got.headers[name] == headers[name]
    assert out["X-Request-ID"] == headers["X-Request-ID"]
    assert (out["OCPI-from-party-id"], out["OCPI-to-party-id"]) == (to[1], headers[
        "OCPI-from-party-id"])  # fmt: skip


async def test_custom_module_any_method_sub_path_and_raw_body(fed: Federation) -> None:
    _status, answer, _ = await fed.call(
        fed.msp, fed.a, "PATCH", "/ocpi/custom/receiver/lite-locations/a/b?q=1", CPO,
        raw=b"plain text, not json",
    )  # fmt: skip
    assert answer["status_code"] == 1000, answer
    got = _last(fed.cpo, "/custom/lite-locations/a/b")
    assert (got.method, got.query, got.body) == ("PATCH", "q=1", b"plain text, not json")


async def test_paginated_link_points_at_the_requesters_node(fed: Federation) -> None:
    nxt = f"{fed.cpo.base}/ocpi/2.2.1/sender/sessions?offset=2&limit=2"
    fed.cpo.answer(
        "GET",
        "/ocpi/2.2.1/sender/sessions",
        [{"id": "S1"}, {"id": "S2"}],
        headers={"Link": f'<{nxt}>; rel="next"', "X-Total-Count": "5", "X-Limit": "2"},
    )
    _, answer, headers = await fed.call(
        fed.msp, fed.a, "GET", "/ocpi/sender/2.2.1/sessions?limit=2", CPO
    )
    assert answer["data"] == [{"id": "S1"}, {"id": "S2"}]
    assert (headers["X-Total-Count"], headers["X-Limit"]) == ("5", "2")
    link = headers["Link"]
    assert link.startswith(f"<{fed.a.url}/ocpi/sender/2.2.1/sessions/page/"), link
    page = link[1 : link.index(">")]
    fed.cpo.answer("GET", "/ocpi/2.2.1/sender/sessions", [{"id": "S3"}])
    _, answer, _ = await fed.call(fed.msp, fed.a, "GET", page, CPO)
    assert answer["data"] == [{"id": "S3"}], answer
    got = fed.cpo.received[-1]
    assert (got.path, got.query) == ("/ocpi/2.2.1/sender/sessions", "offset=2&limit=2")
    assert got.headers["Authorization"] in _token_b(fed.cpo)


async def test_command_result_travels_back_to_the_requesters_url(fed: Federation) -> None:
    callback = f"{fed.msp.base}/cb/start/1?ref=a%20b&x=1"
    body = {"response_url": callback, "token": {"uid": "T"}, "location_id": "L1"}
    _, answer, _ = await fed.call(
        fed.msp, fed.a, "POST", "/ocpi/receiver/2.2.1/commands/START_SESSION", CPO, body
    )
    assert answer["status_code"] == 1000
    got = _last(fed.cpo, "/ocpi/2.2.1/receiver/commands/START_SESSION")
    rewritten = json.loads(got.body)["response_url"]
    assert rewritten.startswith(f"{fed.b.url}/ocpi/sender/2.2/commands/START_SESSION/")
    # the CPO posts the result to its own node, which sends it back across
    _, answer, _ = await fed.call(fed.cpo, fed.b, "POST", rewritten, MSP, {"result": "ACCEPTED"})
    assert answer["status_code"] == 1000, answer
    got = _last(fed.msp, "/cb/start/1")
    assert parse_qs(got.query) == {"ref": ["a b"], "x": ["1"]}
    assert json.loads(got.body) == {"result": "ACCEPTED"}
    assert got.headers["Authorization"] in _token_b(fed.msp)


async def test_charging_profile_result_in_query_travels_back(fed: Federation) -> None:
    callback = f"{fed.msp.base}/cb/profile?id=7"
    path = "/ocpi/receiver/2.2.1/chargingprofiles/S9?duration=60&response_url=" + callback.replace(
        "?", "%3F"
    ).replace("=", "%3D")
    _, answer, _ = await fed.call(fed.msp, fed.a, "GET", path, CPO)
    assert answer["status_code"] == 1000
    got = _last(fed.cpo, "/ocpi/2.2.1/receiver/chargingprofiles/S9")
    rewritten = parse_qs(got.query)["response_url"][0]
    assert rewritten.startswith(f"{fed.b.url}/ocpi/sender/2.2/chargingprofiles/result/")
    _, answer, _ = await fed.call(fed.cpo, fed.b, "POST", rewritten, MSP, {"result": "ACCEPTED"})
    assert answer["status_code"] == 1000, answer
    assert _last(fed.msp, "/cb/profile").query == "id=7"


async def test_cdr_location_points_at_the_posting_partys_node(fed: Federation) -> None:
    location = f"{fed.msp.base}/ocpi/2.2.1/receiver/cdrs/CDR9"
    fed.msp.answer("POST", "/ocpi/2.2.1/receiver/cdrs", None, headers={"Location": location})
    _, answer, headers = await fed.call(
        fed.cpo, fed.b, "POST", "/ocpi/receiver/2.2.1/cdrs", MSP, {"id": "CDR9"}
    )
    assert answer["status_code"] == 1000
    proxied = headers["Location"]
    assert proxied.startswith(f"{fed.b.url}/ocpi/receiver/2.2.1/cdrs/"), proxied
    fed.msp.answer("GET", "/ocpi/2.2.1/receiver/cdrs/CDR9", {"id": "CDR9"})
    _, answer, _ = await fed.call(fed.cpo, fed.b, "GET", proxied, MSP)
    assert answer["data"] == {"id": "CDR9"}, answer


# --- /ocn/message from outside: forged, unsigned, tampered, replayed ----------------------------


def _message(fed: Federation, **kw: Any) -> bytes:
    req = RouteRequest(
        kind=RouteKind.MODULE,
        module="locations",
        interface_role=InterfaceRole.SENDER,
        method="GET",
        path_suffix=kw.pop("path_suffix", "L1"),
        correlation_id="corr",
        from_party=PartyRef(*kw.pop("frm", MSP)),
        to_party=PartyRef(*kw.pop("to", CPO)),
    )
    return message.encode(req, kw.pop("rid", secrets.token_hex(8)), query="", body=b"",
                          signature="", **kw)  # fmt: skip


async def _post(fed: Federation, body: bytes, signature: str | None) -> tuple[int, dict[str, Any]]:
    headers = {"X-Request-ID": "outer", "Content-Type": "application/json"}
    if signature is not None:
        headers["OCN-Signature"] = signature
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{fed.b.url}/ocn/message", data=body, headers=headers) as r,
    ):
        return r.status, json.loads(await r.read())


def _sign(fed: Federation, body: bytes) -> str:
    return str(signing.node_sign(body, fed.a.settings.private_key_bytes))


async def test_signed_message_is_delivered_once(fed: Federation) -> None:
    body = _message(fed, path_suffix="ONCE")
    before = len(fed.cpo.received)
    status, answer = await _post(fed, body, _sign(fed, body))
    assert (status, answer["status_code"]) == (200, 1000), answer
    assert answer["data"]["path"] == "/ocpi/2.2.1/sender/locations/ONCE"
    status, answer = await _post(fed, body, _sign(fed, body))  # replayed
    assert (status, answer["status_code"]) == (400, 2001), answer
    assert "already delivered" in answer["status_message"]
    assert len(fed.cpo.received) == before + 1


@pytest.mark.parametrize("case", ["forged", "unsigned", "tampered", "garbage"])
async def test_bad_messages_deliver_nothing(fed: Federation, case: str) -> None:
    body = _message(fed, path_suffix="EVIL")
    signature: str | None = _sign(fed, body)
    if case == "forged":
        signature = signing.node_sign(body, secrets.token_bytes(32))
    elif case == "unsigned":
        signature = None
    elif case == "tampered":
        body = body.replace(b"EVIL", b"EVIM")
    else:
        signature = "zz" * 65
    before = len(fed.cpo.received)
    status, answer = await _post(fed, body, signature)
    if case == "unsigned":
        assert (status, answer["status_code"]) == (400, 2001)
    else:
        assert (status, answer["status_code"], answer["status_message"]) == (
            200, 4003, "Could not verify OCN-Signature of request")  # fmt: skip
    await asyncio.sleep(0.05)
    assert len(fed.cpo.received) == before


async def test_sender_and_receiver_checks_come_first(fed: Federation) -> None:
    body = _message(fed, frm=("NL", "XXX"))
    _, answer = await _post(fed, body, _sign(fed, body))
    assert (answer["status_code"], answer["status_message"]) == (
        4001, "Sending party not registered on Open Charging Network")  # fmt: skip
    body = _message(fed, to=MSP)  # a party of the other node
    _, answer = await _post(fed, body, _sign(fed, body))
    assert (answer["status_code"], answer["status_message"]) == (
        4001, "Recipient unknown to OCN Node entered in Registry")  # fmt: skip


async def test_a_node_cannot_send_a_local_partys_token_to_its_own_url(fed: Federation) -> None:
    """proxy_resource is only called when this node handed that URL out for the pair."""
    trap = await PartyServer([("OTHER", "XX", "TRP")]).start()
    try:
        body = _message(fed, path_suffix="", proxy_resource=f"{trap.base}/steal")
        _, answer = await _post(fed, body, _sign(fed, body))
        assert (answer["status_code"], answer["status_message"]) == (
            2003, "Proxied resource not found")  # fmt: skip
        assert trap.received == []
    finally:
        await trap.stop()


async def test_node_url_outside_the_policy_is_4003(fed: Federation) -> None:
    """A party listed with a node at a private address: refused before any connection."""
    operator = signing.address_of(secrets.token_bytes(32))
    fed.a.engine.registry_admin.set_node(operator, "http://10.255.255.1:9")
    fed.a.engine.registry_admin.set_party("XX", "PRV", ["CPO"], operator=operator)
    _, answer, _ = await fed.call(fed.msp, fed.a, "GET", "/ocpi/sender/2.2.1/locations/L1",
                                  ("XX", "PRV"))  # fmt: skip
    assert answer["status_code"] == 4003, answer
    assert "private" in answer["status_message"]


@pytest.mark.parametrize(
    ("versions", "endpoint", "code", "why"),
    [
        ("http://169.254.169.254/latest", None, 3001, "link-local"),
        (None, "http://10.0.0.7/ocpi/locations", 2001, "private"),
    ],
)
async def test_party_urls_outside_the_policy_are_refused_at_registration(
    fed: Federation, versions: str | None, endpoint: str | None, code: int, why: str
) -> None:
    party = await PartyServer([("CPO", "XX", "URL")]).start()
    try:
        fed.a.engine.registry_admin.set_party("XX", "URL", ["CPO"])
        if versions is not None:
            party.credentials = lambda: {  # type: ignore[method-assign]
                "token": party.token_b, "url": versions,
                "roles": [{"role": "CPO", "country_code": "XX", "party_id": "URL",
                           "business_details": {"name": "x"}}],
            }  # fmt: skip
        if endpoint is not None:
            party.custom = [("evil", "RECEIVER")]
            party.endpoint = lambda module, role: endpoint  # type: ignore[method-assign]
        result = await party.register(fed.a.url, await fed.a.token_a(("XX", "URL")))
        assert result["status_code"] == code, result
        assert why in result["status_message"]
    finally:
        await party.stop()


async def test_inbound_message_through_a_grpc_core(tmp_path: Path) -> None:
    """Node B's gateway hands /ocn/message to its core over gRPC (RouteKind OCN_MESSAGE)."""
    async with two_nodes(tmp_path, mode_b="grpc") as f:
        f.cpo.answer("GET", "/ocpi/2.2.1/sender/locations/G1", {"id": "G1"})
        _, answer, _ = await f.call(f.msp, f.a, "GET", "/ocpi/sender/2.2.1/locations/G1", CPO)
        assert answer["data"] == {"id": "G1"}, answer
        body = _message(f, path_suffix="G1")
        assert (await _post(f, body, _sign(f, body)))[1]["status_code"] == 1000
        assert (await _post(f, body, _sign(f, body)))[1]["status_code"] == 2001  # replay


async def test_slow_remote_party_is_4002_within_the_timeout(tmp_path: Path) -> None:
    async with two_nodes(tmp_path, forward_timeout=0.3) as f:
        f.cpo.delay = 1.0
        started = asyncio.get_running_loop().time()
        _, answer, _ = await f.call(f.msp, f.a, "GET", "/ocpi/sender/2.2.1/locations/SLOW", CPO)
        assert answer["status_code"] == 4002, answer
        assert asyncio.get_running_loop().time() - started < 0.9
        f.cpo.delay = 0.0


@pytest.mark.parametrize(
    "command",
    ["CANCEL_RESERVATION", "RESERVE_NOW", "START_SESSION", "STOP_SESSION", "UNLOCK_CONNECTOR"],
)
async def test_each_command_gets_a_response_url_on_the_receivers_node(
    fed: Federation, command: str
) -> None:
    body = {"response_url": f"{fed.msp.base}/cb/{command}", "reservation_id": "R1"}
    _, answer, _ = await fed.call(
        fed.msp, fed.a, "POST", f"/ocpi/receiver/2.2.1/commands/{command}", CPO, body
    )
    assert answer["status_code"] == 1000, answer
    got = _last(fed.cpo, f"/ocpi/2.2.1/receiver/commands/{command}")
    sent = json.loads(got.body)
    assert sent["response_url"].startswith(f"{fed.b.url}/ocpi/sender/2.2/commands/{command}/")
    assert sent["reservation_id"] == "R1"


async def test_two_requesters_paging_the_same_url_keep_their_own_pages(fed: Federation) -> None:
    """The same next-page URL handed out for two pairs: each pair's follow-up still works."""
    other = await PartyServer([("EMSP", "DE", "MS2")]).start()
    try:
        for node in (fed.a, fed.b):
            node.engine.registry_admin.set_party(
                "DE", "MS2", ["EMSP"], operator=fed.a.engine.ctx.node_address
            )
        result = await other.register(fed.a.url, await fed.a.token_a(("DE", "MS2")))
        assert result["status_code"] == 1000, result
        nxt = f"{fed.cpo.base}/ocpi/2.2.1/sender/cdrs?offset=9"
        fed.cpo.answer("GET", "/ocpi/2.2.1/sender/cdrs", [{"id": "C1"}],
                       headers={"Link": f'<{nxt}>; rel="next"'})  # fmt: skip
        pages = []
        for party in (fed.msp, other):
            _, _, headers = await fed.call(party, fed.a, "GET", "/ocpi/sender/2.2.1/cdrs", CPO)
            pages.append(headers["Link"][1 : headers["Link"].index(">")])
        for party, page in zip((fed.msp, other), pages, strict=True):
            _, answer, _ = await fed.call(party, fed.a, "GET", page, CPO)
            assert answer["status_code"] == 1000, answer
    finally:
        await other.stop()


async def test_a_0x_prefixed_node_signature_is_accepted(fed: Federation) -> None:
    """Kotlin nodes may send r||s||v with ``0x`` (ocn-node.md §4.5: receivers accept either)."""
    body = _message(fed, path_suffix="HEX")
    status, answer = await _post(fed, body, "0x" + _sign(fed, body))
    assert (status, answer["status_code"]) == (200, 1000), answer
