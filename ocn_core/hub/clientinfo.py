"""HubClientInfo (the hub's Sender interface): every connected role with its connection status.

Paginated as every OCPI list: date_from (inclusive) / date_to (exclusive) on last_updated,
offset/limit (limit capped at MAX_LIMIT), X-Total-Count, X-Limit and a Link to the next page.
Ordered by creation, oldest first, so repeated calls return the same order.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ocn_core import ocpi
from ocn_core.errors import InvalidRequest
from ocn_core.hub import responses
from ocn_core.hub.auth import require_platform
from ocn_core.hub.context import NodeContext
from ocn_core.model import RouteRequest, RouteResponse

MAX_LIMIT = 100


def hubclientinfo(ctx: NodeContext, req: RouteRequest, hub: tuple[str, str]) -> RouteResponse:
    require_platform(ctx, req.authorization)
    params = dict(ocpi.parse_query(req.query))
    since = _instant(params, "date_from", float("-inf"))
    until = _instant(params, "date_to", float("inf"))
    offset = _count(params, "offset", 0)
    limit = min(_count(params, "limit", MAX_LIMIT), MAX_LIMIT)
    platforms = sorted(ctx.platforms.all(), key=lambda p: (p.created, p.id))
    items: list[dict[str, Any]] = [
        {
            "party_id": role.party_id,
            "country_code": role.country_code,
            "role": role.role,
            "status": platform.status,
            "last_updated": ocpi.timestamp(platform.last_updated),
        }
        for platform in platforms
        if since <= platform.last_updated < until
        for role in platform.roles
    ]
    page = items[offset : offset + limit]
    extra = [("X-Total-Count", str(len(items))), ("X-Limit", str(limit))]
    if offset + limit < len(items):
        query = ocpi.build_query(
            [
                *_without(params, "offset", "limit"),
                ("offset", str(offset + limit)),
                ("limit", str(limit)),
            ]
        )
        url = f"{ctx.settings.public_url}/ocpi/{req.ocpi_version}/hubclientinfo?{query}"
        extra.append(("Link", f'<{url}>; rel="next"'))
    return responses.ok(req, page, hub, extra)


def _instant(params: dict[str, str], name: str, default: float) -> float:
    raw = params.get(name)
    if raw is None:
        return default
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidRequest(f"Invalid {name}: {raw!r} is not an OCPI DateTime") from None
    if moment.tzinfo is None:  # OCPI: no zone designator means UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _count(params: dict[str, str], name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    if not raw.isdigit():
        raise InvalidRequest(f"Invalid {name}: {raw!r} is not a non-negative integer")
    return int(raw)


def _without(params: dict[str, str], *names: str) -> list[tuple[str, str]]:
    return [(k, v) for k, v in params.items() if k not in names]
