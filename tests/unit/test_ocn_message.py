"""The /ocn/message body in the reference node's exact compact layout (ocn-node.md §2.13, B.2)."""

from __future__ import annotations

import orjson
import pytest

from ocn_core.errors import InvalidRequest
from ocn_core.federation import message
from ocn_core.model import InterfaceRole, PartyRef, RouteKind, RouteRequest


def _req(**kw: object) -> RouteRequest:
    base: dict[str, object] = {
        "kind": RouteKind.MODULE,
        "module": "locations",
        "interface_role": InterfaceRole.SENDER,
        "method": "GET",
        "ocpi_version": "2.2.1",
        "authorization": "Token secret-token-c",
        "request_id": "party-rid",
        "correlation_id": "c-1",
        "from_party": PartyRef("DE", "MSP"),
        "to_party": PartyRef("CH", "CPB"),
        "has_from": True,
        "has_to": True,
    }
    base.update(kw)
    return RouteRequest(**base)  # type: ignore[arg-type]


def test_remote_start_session_layout_of_appendix_b2() -> None:
    body = b'{"response_url": "https://n2/ocpi/sender/2.2/commands/START_SESSION/U",\n'
    body += b' "token": {"uid": "T1", "valid": true}, "location_id": "L1", "kwh": 1.5}'
    req = _req(
        module="commands",
        interface_role=InterfaceRole.RECEIVER,
        method="POST",
        path_suffix="START_SESSION",
        ocn_signature="party-sig",
    )
    raw = message.encode(
        req,
        "hop-rid",
        query="",
        body=body,
        signature="resigned",
        proxy_uid="U",
        proxy_resource="https://msp.example/cb/1",
    )
    assert raw == (
        b'{"module":"COMMANDS","interface_role":"RECEIVER","method":"POST",'
        b'"headers":{"Authorization":"","OCN-Signature":"resigned","X-Request-ID":"hop-rid",'
        b'"X-Correlation-ID":"c-1","sender":{"party_id":"MSP","country_code":"DE"},'
        b'"receiver":{"party_id":"CPB","country_code":"CH"}},"url_path":"START_SESSION",'
        b'"proxy_uid":"U","proxy_resource":"https://msp.example/cb/1",'
        b'"body":{"response_url":"https://n2/ocpi/sender/2.2/commands/START_SESSION/U",'
        b'"token":{"uid":"T1","valid":true},"location_id":"L1","kwh":1.5}}'
    )
    back = message.decode(raw)
    assert (back.proxy_uid, back.proxy_resource) == ("U", "https://msp.example/cb/1")
    inner = back.request
    assert (inner.module, inner.interface_role, inner.method) == (
        "commands",
        InterfaceRole.RECEIVER,
        "POST",
    )
    assert inner.authorization == ""  # never travels
    assert inner.request_id == "hop-rid"
    assert inner.correlation_id == "c-1"
    assert inner.ocn_signature == "resigned"
    assert inner.path_suffix == "START_SESSION"
    assert orjson.loads(inner.body) == orjson.loads(body)


def test_list_request_nulls_omitted_and_query_as_a_map() -> None:
    raw = message.encode(
        _req(), "rid", query="date_from=2020-01-01T00%3A00%3A00Z&limit=5", body=b"", signature=""
    )
    assert raw == (
        b'{"module":"LOCATIONS","interface_role":"SENDER","method":"GET",'
        b'"headers":{"Authorization":"","X-Request-ID":"rid","X-Correlation-ID":"c-1",'
        b'"sender":{"party_id":"MSP","country_code":"DE"},'
        b'"receiver":{"party_id":"CPB","country_code":"CH"}},'
        b'"query_params":{"date_from":"2020-01-01T00:00:00Z","limit":"5"}}'
    )
    inner = message.decode(raw).request
    assert inner.query == "date_from=2020-01-01T00%3A00%3A00Z&limit=5"
    assert inner.body == b""
    assert inner.ocn_signature == ""


@pytest.mark.parametrize(
    ("module", "name"),
    [("chargingprofiles", "CHARGING_PROFILES"), ("hubclientinfo", "HUB_CLIENT_INFO")],
)
def test_module_enum_names(module: str, name: str) -> None:
    raw = message.encode(_req(module=module), "r", query="", body=b"", signature="")
    assert orjson.loads(raw)["module"] == name
    assert message.decode(raw).request.module == module


def test_custom_module_raw_text_body() -> None:
    req = _req(kind=RouteKind.CUSTOM, module="lite-locations", method="PUT", path_suffix="a/b")
    raw = message.encode(req, "r", query="x=1", body=b"not json {", signature="")
    assert raw.endswith(
        b'"url_path":"a/b","query_params":{"x":"1"},"custom_module_id":"lite-locations",'
        b'"body":"not json {"}'
    )
    assert orjson.loads(raw)["module"] == "CUSTOM"
    inner = message.decode(raw).request
    assert (inner.kind, inner.module, inner.body) == (
        RouteKind.CUSTOM,
        "lite-locations",
        b"not json {",
    )


def test_kotlin_serialisation_is_read_too() -> None:
    """Another key order or spacing (not our layout): the body is re-encoded from its value."""
    raw = (
        b'{ "interface_role": "RECEIVER", "module": "TOKENS", "method": "PUT",'
        b' "body": {"uid": "T1", "valid": true}, "url_path": "/CH/CPB/T1",'
        b' "query_params": {"type": "RFID"},'
        b' "headers": {"Authorization": "", "X-Request-ID": "r", "X-Correlation-ID": "c",'
        b' "sender": {"party_id": "MSP", "country_code": "DE"},'
        b' "receiver": {"party_id": "CPB", "country_code": "CH"}}}'
    )
    inner = message.decode(raw).request
    assert inner.body == b'{"uid":"T1","valid":true}'
    assert inner.path_suffix == "CH/CPB/T1"
    assert inner.query == "type=RFID"


@pytest.mark.parametrize(
    "raw",
    [
        b"[]",
        b"not json",
        b'{"module":"NOPE","interface_role":"SENDER","method":"GET","headers":{}}',
        b'{"module":"LOCATIONS","interface_role":"SENDER","method":"TRACE","headers":{}}',
        b'{"module":"LOCATIONS","interface_role":"SENDER","method":"GET","headers":'
        b'{"X-Request-ID":"r","X-Correlation-ID":"c","sender":{"party_id":"TOOLONG",'
        b'"country_code":"DE"},"receiver":{"party_id":"CPB","country_code":"CH"}}}',
    ],
)
def test_malformed_messages_are_refused(raw: bytes) -> None:
    with pytest.raises(InvalidRequest):
        message.decode(raw)
