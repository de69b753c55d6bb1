"""ocn_core value objects <-> ocn.v1 protobuf messages (field for field)."""

from __future__ import annotations

from ocn_core.model import InterfaceRole, PartyRef, RouteKind, RouteRequest, RouteResponse
from ocn_grpc.pb import routing_pb2


def request_to_pb(r: RouteRequest) -> routing_pb2.RouteRequest:
    return routing_pb2.RouteRequest(
        kind=int(r.kind),  # type: ignore[arg-type]
        module=r.module,
        interface_role=int(r.interface_role),  # type: ignore[arg-type]
        method=r.method,
        ocpi_version=r.ocpi_version,
        path_suffix=r.path_suffix,
        query=r.query,
        authorization=r.authorization,
        request_id=r.request_id,
        correlation_id=r.correlation_id,
        from_party=routing_pb2.PartyRef(
            country_code=r.from_party.country_code, party_id=r.from_party.party_id
        ),
        to_party=routing_pb2.PartyRef(
            country_code=r.to_party.country_code, party_id=r.to_party.party_id
        ),
        ocn_signature=r.ocn_signature,
        body=r.body,
        content_type=r.content_type,
        proxy_id=r.proxy_id,
        call_id=r.call_id,
        has_from=r.has_from,
        has_to=r.has_to,
    )


def request_from_pb(m: routing_pb2.RouteRequest) -> RouteRequest:
    return RouteRequest(
        kind=RouteKind(m.kind),
        module=m.module,
        interface_role=InterfaceRole(m.interface_role),
        method=m.method,
        ocpi_version=m.ocpi_version,
        path_suffix=m.path_suffix,
        query=m.query,
        authorization=m.authorization,
        request_id=m.request_id,
        correlation_id=m.correlation_id,
        from_party=PartyRef(m.from_party.country_code, m.from_party.party_id),
        to_party=PartyRef(m.to_party.country_code, m.to_party.party_id),
        ocn_signature=m.ocn_signature,
        body=m.body,
        content_type=m.content_type,
        proxy_id=m.proxy_id,
        call_id=m.call_id,
        has_from=m.has_from,
        has_to=m.has_to,
    )


def response_to_pb(r: RouteResponse) -> routing_pb2.RouteResponse:
    return routing_pb2.RouteResponse(
        status=r.status,
        headers=[routing_pb2.Header(name=k, value=v) for k, v in r.headers],
        body=r.body,
        ocpi_status=r.ocpi_status,
        error_reason=r.error_reason,
        call_id=r.call_id,
    )


def response_from_pb(m: routing_pb2.RouteResponse) -> RouteResponse:
    return RouteResponse(
        status=m.status,
        headers=[(h.name, h.value) for h in m.headers],
        body=m.body,
        ocpi_status=m.ocpi_status,
        error_reason=m.error_reason,
        call_id=m.call_id,
    )
