"""ocn_core value objects <-> ocn.v1 protobuf messages (field for field).

The one place where the engine's typed results become messages and back: the servicers and the
client only call these, so both edges hand out the same objects (tests round-trip each pair).
"""

from __future__ import annotations

from typing import Any

import orjson

from ocn_core.model import (
    KINDS_BY_VALUE,
    InterfaceRole,
    PartyRef,
    RouteRequest,
    RouteResponse,
)
from ocn_core.registry import Node, Party, RegistryStatus
from ocn_core.state.records import EndpointRecord, RoleRecord
from ocn_core.views import HealthDetails, IssuedToken, NodeInfo, PlatformInfo, SignatureCheck
from ocn_grpc.pb import admin_pb2, registry_pb2, routing_pb2, signatures_pb2


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


# enum members by value (InterfaceRole is numbered 0..n-1 without gaps; checked here)
_KINDS = KINDS_BY_VALUE
_ROLES = tuple(InterfaceRole)
assert [r.value for r in _ROLES] == list(range(len(_ROLES)))


def request_from_pb(m: routing_pb2.RouteRequest) -> RouteRequest:
    """The engine's RouteRequest (ValueError for an enum value the contract does not define).

    Positional and by tuple index: this runs once per routed gRPC call (the contract test
    round-trips every field).
    """
    kind, role = m.kind, m.interface_role
    if not (0 <= kind < len(_KINDS) and 0 <= role < len(_ROLES)):
        raise ValueError(f"unknown RouteKind {kind} or InterfaceRole {role}")
    f, t = m.from_party, m.to_party
    return RouteRequest(
        _KINDS[kind],
        m.module,
        _ROLES[role],
        m.method,
        m.ocpi_version,
        m.path_suffix,
        m.query,
        m.authorization,
        m.request_id,
        m.correlation_id,
        PartyRef(f.country_code, f.party_id),
        PartyRef(t.country_code, t.party_id),
        m.ocn_signature,
        m.body,
        m.content_type,
        m.proxy_id,
        m.call_id,
        m.has_from,
        m.has_to,
    )


def response_to_pb(r: RouteResponse) -> routing_pb2.RouteResponse:
    m = routing_pb2.RouteResponse(
        status=r.status,
        body=r.body,
        ocpi_status=r.ocpi_status,
        error_reason=r.error_reason,
        call_id=r.call_id,
    )
    add = m.headers.add  # half the cost of building Header messages first
    for name, value in r.headers:
        add(name=name, value=value)
    return m


def response_from_pb(m: routing_pb2.RouteResponse) -> RouteResponse:
    return RouteResponse(
        m.status,
        [(h.name, h.value) for h in m.headers],
        m.body,
        m.ocpi_status,
        m.error_reason,
        m.call_id,
    )


# --- admin, registry and health messages: the engine's typed results <-> ocn.v1 ---------------


def node_info_to_pb(n: NodeInfo) -> admin_pb2.NodeInfo:
    return admin_pb2.NodeInfo(url=n.url, address=n.address)


def node_info_from_pb(m: admin_pb2.NodeInfo) -> NodeInfo:
    return NodeInfo(m.url, m.address)


def token_to_pb(t: IssuedToken) -> admin_pb2.RegistrationToken:
    return admin_pb2.RegistrationToken(
        token=t.token, versions_url=t.versions, expires_at=t.expires_at
    )


def token_from_pb(m: admin_pb2.RegistrationToken) -> IssuedToken:
    return IssuedToken(m.token, m.versions_url, m.expires_at)


def role_to_pb(r: RoleRecord) -> admin_pb2.Role:
    name = r.business_details.get("name") if isinstance(r.business_details, dict) else None
    return admin_pb2.Role(
        role=r.role,
        country_code=r.country_code,
        party_id=r.party_id,
        business_name=str(name or ""),
        business_details=orjson.dumps(r.business_details),
    )


def role_from_pb(m: admin_pb2.Role) -> RoleRecord:
    details = orjson.loads(m.business_details) if m.business_details else {}
    return RoleRecord(m.role, m.country_code, m.party_id, details)


def platform_to_pb(p: PlatformInfo) -> admin_pb2.Platform:
    return admin_pb2.Platform(
        id=p.id,
        status=p.status,
        ocpi_version=p.ocpi_version,
        versions_url=p.versions_url,
        token_b_base64=p.token_b_base64,
        roles=[role_to_pb(r) for r in p.roles],
        endpoints=[
            admin_pb2.Endpoint(identifier=e.identifier, role=e.role, url=e.url) for e in p.endpoints
        ],
        last_updated=p.last_updated,
        created=p.created,
    )


def platform_from_pb(m: admin_pb2.Platform) -> PlatformInfo:
    return PlatformInfo(
        id=m.id,
        status=m.status,
        ocpi_version=m.ocpi_version,
        versions_url=m.versions_url,
        token_b_base64=m.token_b_base64,
        roles=[role_from_pb(r) for r in m.roles],
        endpoints=[EndpointRecord(e.identifier, e.role, e.url) for e in m.endpoints],
        last_updated=m.last_updated,
        created=m.created,
    )


def party_to_pb(p: Party) -> registry_pb2.Party:
    return registry_pb2.Party(
        country_code=p.country_code,
        party_id=p.party_id,
        address=p.address,
        roles=list(p.roles),
        modules_sender=list(p.modules_sender),
        modules_receiver=list(p.modules_receiver),
        operator=p.operator,
        node_url=p.node_url,
    )


def party_from_pb(m: registry_pb2.Party) -> Party:
    return Party(
        m.country_code,
        m.party_id,
        m.address,
        tuple(m.roles),
        tuple(m.modules_sender),
        tuple(m.modules_receiver),
        m.operator,
        m.node_url,
    )


def node_to_pb(n: Node) -> registry_pb2.Node:
    return registry_pb2.Node(operator=n.operator, url=n.url)


def node_from_pb(m: registry_pb2.Node) -> Node:
    return Node(m.operator, m.url)


def registry_status_to_pb(s: RegistryStatus) -> registry_pb2.RegistryStatus:
    return registry_pb2.RegistryStatus(
        source=s.source or "",
        cursor_block=s.cursor,
        head_block=s.head,
        lag=s.lag,
        stale=s.stale,
        last_error=s.last_error or "",
        last_sync=s.last_sync,
        confirmations=s.confirmations,
        chain_id=s.chain_id,
    )


def registry_status_from_pb(m: registry_pb2.RegistryStatus) -> RegistryStatus:
    def opt(name: str) -> Any:
        return getattr(m, name) if m.HasField(name) else None  # type: ignore[arg-type]

    return RegistryStatus(
        source=m.source,
        cursor=opt("cursor_block"),
        head=opt("head_block"),
        lag=opt("lag"),
        last_error=m.last_error,
        stale=m.stale,
        last_sync=opt("last_sync"),
        confirmations=m.confirmations,
        chain_id=opt("chain_id"),
    )


def health_to_pb(h: HealthDetails) -> admin_pb2.HealthDetails:
    return admin_pb2.HealthDetails(
        status=h.status,
        registry=registry_status_to_pb(h.registry),
        impl=[admin_pb2.Implementation(name=k, impl=v) for k, v in h.impl.items()],
        hub=h.hub,
    )


def health_from_pb(m: admin_pb2.HealthDetails) -> HealthDetails:
    impl = {i.name: i.impl for i in m.impl}
    return HealthDetails(m.status, registry_status_from_pb(m.registry), impl, dict(m.hub))


def signature_check_to_pb(c: SignatureCheck) -> signatures_pb2.VerifyResponse:
    return signatures_pb2.VerifyResponse(
        valid=c.valid,
        signatory=c.signatory,
        error_reason=c.error_reason,
        error_message=c.error_message,
    )


def signature_check_from_pb(m: signatures_pb2.VerifyResponse) -> SignatureCheck:
    return SignatureCheck(m.valid, m.signatory, m.error_reason, m.error_message)
