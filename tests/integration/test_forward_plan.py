"""A plain forward decided once per routing generation answers as a fresh decision would."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from ocn_core.hub.forward import plan_key
from ocn_core.model import InterfaceRole, PartyRef, RouteKind, RouteRequest
from tests.support.hub import CPO, DUO_MSP, MSP, Hub, send, three_platform_hub

PATH = "/ocpi/sender/2.2/locations/L1"
Headers = dict[str, str]


@pytest.fixture
async def hub(tmp_path: Path, core_mode: str) -> AsyncIterator[Hub]:
    async with three_platform_hub(tmp_path, core_mode) as h:
        yield h


def _without(name: str) -> Callable[[Headers], None]:
    def change(headers: Headers) -> None:
        del headers[name]

    return change


def _set(name: str, value: str) -> Callable[[Headers], None]:
    return lambda h: h.update({name: value})


# each variant differs from the planned request in one thing a plan must not paper over
VARIANTS: dict[str, tuple[str, Callable[[Headers], None]]] = {
    "same": ("GET", lambda h: None),
    "no correlation id": ("GET", _without("X-Correlation-ID")),
    "no request id": ("GET", _without("X-Request-ID")),
    "signed": ("GET", _set("OCN-Signature", "not-a-signature")),
    "lower-case parties": ("GET", _set("OCPI-from-party-id", "msp")),
    "unknown token": ("GET", _set("Authorization", "Token nope")),
    "role of another platform": ("GET", _set("OCPI-from-party-id", DUO_MSP[1])),
    "malformed party": ("GET", _set("OCPI-to-party-id", "C$O")),
    "no to party id": ("GET", _without("OCPI-to-party-id")),
    "method not served": ("DELETE", lambda h: None),
}


async def _ask(hub: Hub, method: str, change: Callable[[Headers], None]) -> tuple[object, ...]:
    headers = hub.msp.routing_headers(to=CPO)
    change(headers)
    before = len(hub.cpo.received)
    status, answer, _ = await send(hub.node.url, method, PATH, headers)
    forwarded = hub.cpo.received[before:]
    ids = [r.headers.get("X-Request-ID") for r in forwarded]
    assert headers.get("X-Request-ID") not in ids  # a fresh id on every forward
    return status, answer["status_code"], answer.get("status_message"), len(forwarded)


def _plan_of_msp_request(hub: Hub) -> object:
    req = RouteRequest(
        RouteKind.MODULE, "locations", InterfaceRole.SENDER, "GET", "2.2", "L1",
        authorization=hub.msp.auth(hub.msp.token_c),
        from_party=PartyRef(*MSP), to_party=PartyRef(*CPO),
    )  # fmt: skip
    return hub.node.engine.ctx.platforms.forward_plan(plan_key(req))


@pytest.mark.parametrize("variant", list(VARIANTS))
async def test_a_warm_plan_answers_like_a_fresh_decision(hub: Hub, variant: str) -> None:
    method, change = VARIANTS[variant]
    platforms = hub.node.engine.ctx.platforms
    platforms.forget_route_facts()
    cold = await _ask(hub, method, change)
    assert await _ask(hub, "GET", lambda h: None) == (200, 1000, None, 1)
    assert _plan_of_msp_request(hub) is not None  # the plain request left a plan
    warm = await _ask(hub, method, change)
    assert warm == cold


async def test_a_routing_write_drops_the_plan(hub: Hub) -> None:
    assert await _ask(hub, "GET", lambda h: None) == (200, 1000, None, 1)
    assert _plan_of_msp_request(hub) is not None
    _, platforms = await hub.node.admin("GET", "/admin/platforms")
    cpo = next(p for p in platforms if "CPO" in {r["party_id"] for r in p["roles"]})
    status, _ = await hub.node.admin("DELETE", f"/admin/platforms/{cpo['id']}")
    assert status == 200
    answer = await _ask(hub, "GET", lambda h: None)
    assert (answer[1], answer[3]) == (4001, 0)  # the deleted receiver is not reached through a plan
    assert _plan_of_msp_request(hub) is None
