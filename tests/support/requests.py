"""A RouteRequest with every field set, each to a value no other field has (contract and
twin tests start from it)."""

from __future__ import annotations

from ocn_core.model import InterfaceRole, PartyRef, RouteKind, RouteRequest

SAMPLE = RouteRequest(
    kind=RouteKind.MODULE,
    module="locations",
    interface_role=InterfaceRole.RECEIVER,
    method="PUT",
    ocpi_version="2.2.1",
    path_suffix="LOC1/E1",
    query="a=1",
    authorization="Token x",
    request_id="r",
    correlation_id="c",
    from_party=PartyRef("DE", "MSP"),
    to_party=PartyRef("CH", "CPO"),
    ocn_signature="sig",
    body=b"{}",
    content_type="application/json",
    proxy_id="7",
    has_from=True,
    has_to=True,
)
