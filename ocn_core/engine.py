"""The embeddable engine: ``await engine.route(RouteRequest) -> RouteResponse``.

Every OCPI outcome, the node's own errors included, comes back as a RouteResponse (an OCPI
envelope with the right HTTP status and routing headers), so the in-process path and the gRPC
path answer identically. Only programming errors escape as exceptions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog

from ocn_core import implementation_report, validation
from ocn_core.config import Settings
from ocn_core.errors import NotFound, OcnError, RefusedInput
from ocn_core.hub import clientinfo, credentials, forward, responses, signatures, versions
from ocn_core.hub.admin import Admin
from ocn_core.hub.context import NodeContext
from ocn_core.hub.registry_admin import RegistryAdmin
from ocn_core.model import RouteKind, RouteRequest, RouteResponse
from ocn_core.state import PlatformStore, ProxyStore
from ocn_core.store import Store
from ocn_core.transport import HttpTransport, TransportError

if TYPE_CHECKING:
    from ocn_core.registry import RegistryCache

log = structlog.get_logger(__name__)


class Engine:
    """One node: state, registry, outbound transport and the OCPI handlers."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        registry: RegistryCache,
        transport: HttpTransport,
        node_address: str,
    ) -> None:
        self.settings = settings
        self.ctx = NodeContext(
            settings,
            store,
            PlatformStore(store),
            registry,
            transport,
            node_address,
            ProxyStore(store),
        )
        self.admin = Admin(self.ctx)
        self.registry_admin = RegistryAdmin(self.ctx)
        self._hub = (settings.country_code, settings.party_id)

    async def route(self, req: RouteRequest) -> RouteResponse:
        try:
            validation.check_request(req)  # every edge's input, before anything reads it
            if req.kind is RouteKind.MODULE:  # the hot path, without a dispatch frame
                return await forward.route_module(self.ctx, req)
            return await self._dispatch(req)
        except (OcnError, TransportError) as exc:
            if isinstance(exc, RefusedInput) and isinstance(exc.request, RouteRequest):
                req = exc.request  # answer without echoing the unsafe fields
            err = exc if isinstance(exc, OcnError) else forward.transport_error(exc)
            sign = self._sign if signatures.active(self.ctx, req) else None
            return responses.error(req, err, self._hub, sign)

    def _sign(self, envelope: dict[str, Any]) -> dict[str, Any]:
        return signatures.sign_envelope(self.ctx, envelope)

    async def _dispatch(self, req: RouteRequest) -> RouteResponse:
        kind = req.kind
        if kind == RouteKind.CUSTOM:  # MODULE is taken in route() already
            return await forward.route_module(self.ctx, req)
        if kind in (RouteKind.PAGE, RouteKind.PROXIED):
            return await forward.route_proxied(self.ctx, req)
        if kind == RouteKind.VERSIONS:
            return responses.ok(req, versions.versions(self.ctx, req), self._hub)
        if kind == RouteKind.VERSION_DETAILS:
            return responses.ok(req, versions.details(self.ctx, req), self._hub)
        if kind == RouteKind.CREDENTIALS:
            return responses.ok(req, await credentials.handle(self.ctx, req), self._hub)
        if kind == RouteKind.HUBCLIENTINFO:
            return clientinfo.hubclientinfo(self.ctx, req, self._hub)
        raise NotFound(f"No OCPI route for {req.method} {req.module} ({kind.name})")

    def health(self) -> dict[str, Any]:
        """Registry freshness (``stale`` when the chain source is failing) and loaded impls."""
        s = self.ctx.registry.status()
        registry = {
            "source": s.source,
            "cursor": s.cursor,
            "head": s.head,
            "lag": s.lag,
            "stale": s.stale,
            "last_error": s.last_error,
            "last_sync": s.last_sync,
        }
        return {"registry": registry, "impl": implementation_report()}

    def maintenance(self) -> dict[str, int]:
        """Periodic housekeeping: drop expired proxied resources."""
        return {"proxies_expired": self.ctx.proxies.cleanup()}

    async def close(self) -> None:
        await self.ctx.transport.close()
