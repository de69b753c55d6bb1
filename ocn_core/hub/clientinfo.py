"""HubClientInfo (the hub's Sender interface): every party the node knows, with its real status.

This node's parties (CONNECTED / OFFLINE / SUSPENDED / PLANNED, see :mod:`ocn_core.hub.status`)
and other nodes' parties as their nodes reported them, filtered by the requester's OcnRules,
paginated as every OCPI list (:mod:`ocn_core.hub.paging`), ordered by party and role.
"""

from __future__ import annotations

from ocn_core.hub import paging, responses
from ocn_core.hub.auth import require_platform
from ocn_core.hub.context import NodeContext
from ocn_core.model import RouteRequest, RouteResponse


def hubclientinfo(ctx: NodeContext, req: RouteRequest, hub: tuple[str, str]) -> RouteResponse:
    platform_id, _ = require_platform(ctx, req.authorization)
    rules = ctx.hub.rules.get(platform_id)
    infos = [i for i in ctx.hub.clientinfo.all() if rules.admits(i.party_key) is None]
    url = f"{ctx.settings.public_url}/ocpi/{req.ocpi_version}/hubclientinfo"
    found, headers = paging.page(infos, lambda i: i.last_updated, req.query, url)
    return responses.ok(req, [i.ocpi() for i in found], hub, headers)
