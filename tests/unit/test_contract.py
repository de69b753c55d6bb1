"""The engine's value objects mirror the ocn.v1 messages field for field, and convert losslessly."""

from __future__ import annotations

import dataclasses

import pytest

from ocn_core.model import InterfaceRole, PartyRef, RouteKind, RouteRequest, RouteResponse
from ocn_grpc import convert
from ocn_grpc.pb import routing_pb2
from tests.support.requests import SAMPLE


def test_route_request_fields_match_the_proto() -> None:
    proto = {f.name for f in routing_pb2.RouteRequest.DESCRIPTOR.fields}
    assert {f.name for f in dataclasses.fields(RouteRequest)} == proto


def test_route_response_fields_match_the_proto() -> None:
    proto = {f.name for f in routing_pb2.RouteResponse.DESCRIPTOR.fields}
    assert {f.name for f in dataclasses.fields(RouteResponse)} == proto


def test_enums_match_the_proto() -> None:
    kinds = {v.number for v in routing_pb2.RouteKind.DESCRIPTOR.values}
    assert kinds == {k.value for k in RouteKind}
    roles = {v.number for v in routing_pb2.InterfaceRole.DESCRIPTOR.values}
    assert roles == {r.value for r in InterfaceRole}


def test_round_trip_is_lossless() -> None:
    req = dataclasses.replace(SAMPLE, body=b"\x00{}", call_id=9)
    assert convert.request_from_pb(convert.request_to_pb(req)) == req
    resp = RouteResponse(404, [("X-A", "1"), ("X-A", "2")], b"{}", 2003, "not_found", 9)
    assert convert.response_from_pb(convert.response_to_pb(resp)) == resp


def test_unknown_enum_values_are_refused_not_guessed() -> None:
    for kind, role in ((99, 0), (-1, 0), (5, 7), (5, -2)):
        msg = routing_pb2.RouteRequest(kind=kind, interface_role=role)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="unknown"):
            convert.request_from_pb(msg)


def test_the_gateway_fills_every_field_by_name() -> None:
    """``request_from_http`` (the gateway's builder) fills positionally or slot by slot (the hot
    path): each header and URL part must land in the field of its name, whatever the dataclass's
    field order becomes."""
    from ocn_core.validation import request_from_http

    s = SAMPLE
    headers = {
        "authorization": s.authorization,
        "x-request-id": s.request_id,
        "x-correlation-id": s.correlation_id,
        "ocpi-from-country-code": s.from_party.country_code,
        "ocpi-from-party-id": s.from_party.party_id,
        "ocpi-to-country-code": s.to_party.country_code,
        "ocpi-to-party-id": s.to_party.party_id,
        "ocn-signature": s.ocn_signature,
        "content-type": s.content_type,
    }
    found = (s.kind.value, s.module, s.interface_role.value, s.ocpi_version, s.path_suffix,
             s.proxy_id)  # fmt: skip
    assert request_from_http(found, s.method, s.query, headers, s.body) == SAMPLE
    bare = request_from_http(found, "GET", "", {}, b"")
    assert (bare.has_from, bare.has_to, bare.from_party, bare.call_id) == (
        False,
        False,
        PartyRef(),
        0,
    )
