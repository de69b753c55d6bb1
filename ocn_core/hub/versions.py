"""GET /ocpi/versions and the version details (token A or C)."""

from __future__ import annotations

from typing import Any

from ocn_core.errors import NotFound, UnknownToken
from ocn_core.hub.auth import grant_for, platform_for
from ocn_core.hub.context import NodeContext
from ocn_core.model import RouteRequest
from ocn_core.routing.table import VERSIONS, version_endpoints


def _authorise(ctx: NodeContext, req: RouteRequest) -> None:
    if platform_for(ctx, req.authorization) is None and grant_for(ctx, req.authorization) is None:
        raise UnknownToken("Invalid CREDENTIALS_TOKEN_A or CREDENTIALS_TOKEN_C")


def versions(ctx: NodeContext, req: RouteRequest) -> list[dict[str, str]]:
    _authorise(ctx, req)
    base = ctx.settings.public_url
    return [{"version": v, "url": f"{base}/ocpi/{v}"} for v in VERSIONS]


def details(ctx: NodeContext, req: RouteRequest) -> dict[str, Any]:
    _authorise(ctx, req)
    version = req.ocpi_version
    if version not in VERSIONS:
        raise NotFound(f"Version {version} not supported")
    return {"version": version, "endpoints": version_endpoints(ctx.settings.public_url, version)}
