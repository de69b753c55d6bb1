"""The embeddable engine: ``await engine.route(RouteRequest) -> RouteResponse`` and typed calls.

Every OCPI outcome, the node's own errors included, comes back as a RouteResponse (an OCPI
envelope with the right HTTP status and routing headers), so the in-process path and the gRPC
path answer identically. Only programming errors escape as exceptions.

Edges use the public methods only (route, admin, registry reads, signatures, health,
maintenance); ``engine.ctx`` is the handlers' internal context. Admin methods do not check the
API key themselves: an edge that serves untrusted callers calls :meth:`check_admin_key` first.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import structlog

from ocn_core import validation
from ocn_core._ext import implementation_report
from ocn_core.config import Settings
from ocn_core.errors import MethodNotAllowed, NotFound, OcnError, RefusedInput
from ocn_core.federation.inbound import Inbound
from ocn_core.federation.services import ServiceCopies
from ocn_core.hub import (
    clientinfo,
    credentials,
    forward,
    initiative,
    proxying,
    responses,
    rules,
    signatures,
    status,
    versions,
)
from ocn_core.hub.admin import Admin
from ocn_core.hub.context import NodeContext
from ocn_core.hub.registry_admin import RegistryAdmin
from ocn_core.model import RouteKind, RouteRequest, RouteResponse
from ocn_core.registry import Node, Party, RegistryStatus
from ocn_core.state.backend import NodeState, lmdb_state
from ocn_core.store import Store
from ocn_core.transport import HttpTransport, TransportError
from ocn_core.views import HealthDetails, IssuedToken, NodeInfo, PlatformInfo, SignatureCheck

if TYPE_CHECKING:
    from ocn_core.registry import RegistryCache
    from ocn_core.signing import Notary

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
        state: NodeState | None = None,
    ) -> None:
        self.settings = settings
        self.state = state or lmdb_state(store)  # LMDB in ``store`` unless given (PostgreSQL)
        self.ctx = NodeContext(
            settings,
            store,
            self.state.platforms,
            registry,
            transport,
            node_address,
            self.state.proxies,
            leader=self.state.leader,
            hub_stores=self.state.hub,
        )
        self.admin = Admin(self.ctx)
        self.registry_admin = RegistryAdmin(self.ctx)
        self._hub = (settings.country_code, settings.party_id)
        if settings.service_interface:
            self.ctx.copies = ServiceCopies(self.ctx)
        self.inbound = Inbound(
            self.ctx, store.path.with_name(store.path.name + "-replay"), self.state.replay_guard
        )
        status.seed(self.ctx)

    # --- routing -------------------------------------------------------------------------------

    async def route(self, req: RouteRequest, origin: str = "") -> RouteResponse:
        """Route one OCPI request; every outcome is a RouteResponse.

        ``origin`` is the sending node's address for a request that arrived in an
        ``/ocn/message`` (never set by an edge).
        """
        try:
            validation.check_request(req)  # every edge's input, before anything reads it
            if req.kind is RouteKind.MODULE:  # the hot path: no frame but this one
                ctx = self.ctx
                hop = None if origin else forward.planned_hop(ctx, req)  # route_planned, inline
                if hop is None:
                    return await forward.route_module(ctx, req, origin, planned=False)
                plan, target, headers = hop
                timeout = ctx.settings.forward_timeout
                result = await ctx.transport.request(req.method, target, headers, req.body, timeout)
                return proxying.proxy_response_headers(ctx, req, plan.row,
                                                       forward.relay(ctx, req, result))  # fmt: skip
            return await self._dispatch(req, origin)
        except (OcnError, TransportError) as exc:
            if isinstance(exc, RefusedInput) and isinstance(exc.request, RouteRequest):
                req = exc.request  # answer without echoing the unsafe fields
            return self.refuse(
                req, exc if isinstance(exc, OcnError) else forward.transport_error(exc)
            )

    def refuse(self, req: RouteRequest, exc: OcnError) -> RouteResponse:
        """The node's OCPI error answer to ``req`` (signed when signatures apply)."""
        sign = self._sign if signatures.active(self.ctx, req) else None
        return responses.error(req, exc, self._hub, sign)

    def _sign(self, envelope: dict[str, Any]) -> dict[str, Any]:
        return signatures.sign_envelope(self.ctx, envelope)

    async def _dispatch(self, req: RouteRequest, origin: str) -> RouteResponse:
        kind = req.kind
        if kind == RouteKind.CUSTOM:  # MODULE is taken in route() already
            return await forward.route_module(self.ctx, req, origin)
        if kind in (RouteKind.PAGE, RouteKind.PROXIED):
            return await forward.route_proxied(self.ctx, req, origin)
        if kind == RouteKind.OCN_MESSAGE and not origin:
            return await self.inbound.receive(req, self.route)
        if kind == RouteKind.VERSIONS:
            return responses.ok(req, versions.versions(self.ctx, req), self._hub)
        if kind == RouteKind.VERSION_DETAILS:
            return responses.ok(req, versions.details(self.ctx, req), self._hub)
        if kind == RouteKind.CREDENTIALS:
            return responses.ok(req, await credentials.handle(self.ctx, req), self._hub)
        if kind == RouteKind.HUBCLIENTINFO:
            return clientinfo.hubclientinfo(self.ctx, req, self._hub)
        if kind == RouteKind.OCN_CLIENT_INFO:
            return await self._client_info(req)
        if kind == RouteKind.OCNRULES:
            return responses.ok(req, rules.handle(self.ctx, req), self._hub)
        raise NotFound(f"No OCPI route for {req.method} {req.module} ({kind.name})")

    # --- identity and admin --------------------------------------------------------------------

    @property
    def node_address(self) -> str:
        """Checksummed address of the node key (the registry operator)."""
        return self.ctx.node_address

    def node_info(self) -> NodeInfo:
        return NodeInfo(self.settings.public_url, self.ctx.node_address)

    def check_admin_key(self, authorization: str) -> None:
        """Raise AdminUnauthorized unless ``authorization`` is ``Token <admin api key>``."""
        self.admin.check_key(authorization)

    def create_registration_token(
        self, roles: list[dict[str, Any]], ttl: float | None = None
    ) -> IssuedToken:
        """Token A allowed to register ``roles`` ([{country_code, party_id, role?}])."""
        return self.admin.create_registration_token(roles, ttl)

    def platforms(self) -> list[PlatformInfo]:
        return self.admin.platforms()

    def platform(self, platform_id: str) -> PlatformInfo:
        return self.admin.platform(platform_id)

    def delete_platform(self, platform_id: str) -> None:
        self.admin.delete_platform(platform_id)

    def connection_status(self, country_code: str, party_id: str) -> str:
        return self.admin.connection_status(country_code, party_id)

    async def connect_party(
        self, versions_url: str, token_a: str, version: str = ""
    ) -> PlatformInfo:
        """Register the node with a party, given its versions URL and the token A it issued."""
        return await initiative.connect(self.ctx, versions_url, token_a, version)

    async def rotate_credentials(self, platform_id: str) -> PlatformInfo:
        """Credentials PUT with a new token C for ``platform_id``; the old one is refused after."""
        return await initiative.rotate(self.ctx, platform_id)

    # --- registry ------------------------------------------------------------------------------

    def party(self, country_code: str, party_id: str) -> Party | None:
        """The registry listing of a party (cache only)."""
        return self.ctx.registry.party(country_code, party_id)

    def parties(self) -> list[Party]:
        return list(self.ctx.registry.parties())

    def registry_node(self, operator: str) -> Node | None:
        return self.ctx.registry.node(operator)

    def registry_status(self) -> RegistryStatus:
        return self.ctx.registry.status()

    def set_party(
        self,
        country_code: str,
        party_id: str,
        roles: Iterable[str],
        address: str = "",
        operator: str = "",
    ) -> Party:
        """List a party in the local registry (operator defaults to this node)."""
        return self.registry_admin.set_party(country_code, party_id, roles, address, operator)

    def delete_party(self, country_code: str, party_id: str) -> None:
        self.registry_admin.delete_party(country_code, party_id)

    def set_node(self, operator: str, url: str) -> Node:
        return self.registry_admin.set_node(operator, url)

    def start_registry_sync(self, follow: bool = True) -> asyncio.Task[None] | None:
        """In ethereum mode: serve misses by a direct read and (``follow``) follow the chain.

        Only one process per LMDB file needs to follow the chain (worker 0 of the gateway).
        Needs a running event loop.
        """
        settings = self.settings
        if settings.registry != "ethereum":
            return None
        from ocn_core.adapters.ethereum_registry import EthereumRegistrySync

        sync = EthereumRegistrySync(
            self.ctx.registry,
            rpc_url=settings.rpc_url,
            registry_address=settings.registry_address,
            permissions_address=settings.permissions_address,
            confirmations=settings.confirmations,
            poll_interval=settings.registry_poll_interval,
        )
        self.ctx.party_reader = sync
        return asyncio.ensure_future(sync.run()) if follow else None

    # --- signatures ----------------------------------------------------------------------------

    def verify_signature(self, ocn_signature: str, values_json: bytes) -> SignatureCheck:
        """Check any OCN-Signature against its ValuesToSign (JSON); never raises on bad input."""
        from ocn_core import signing

        try:
            notary = signing.Notary.deserialize(ocn_signature)
            notary.verify(signing.parse_json(values_json))
        except OcnError as exc:
            return SignatureCheck(False, "", exc.reason, exc.message)
        return SignatureCheck(True, notary.signatory)

    def sign(self, values_json: bytes) -> Notary:
        """Sign ValuesToSign (JSON) with the node key (callers check the admin key first)."""
        from ocn_core import signing

        return signing.sign(signing.parse_json(values_json), self.settings.private_key_bytes)

    # --- health and housekeeping ---------------------------------------------------------------

    def health_details(self) -> HealthDetails:
        """``degraded`` while the registry source is failing (``stale``); loaded twins."""
        status = self.ctx.registry.status()
        state = "degraded" if status.stale else "ok"
        return HealthDetails(state, status, implementation_report(), self.ctx.hub.health())

    def health(self) -> dict[str, Any]:
        """:meth:`health_details` as JSON (registry freshness and loaded impls)."""
        from ocn_core.views import to_json

        return dict(to_json(self.health_details()))

    def leads_background_jobs(self) -> bool:
        """Whether this process runs the node's background jobs now (first call campaigns).

        LMDB: always. PostgreSQL: only the replica process holding the node's advisory lock;
        another takes over within seconds when it dies.
        """
        self.ctx.leader.start()
        return self.ctx.leader.held

    def maintenance(self) -> dict[str, int]:
        """Periodic housekeeping: drop expired proxied resources."""
        return {
            "proxies_expired": self.ctx.proxies.cleanup(),
            "replay_claims_expired": self.inbound.guard.cleanup(),
        }

    async def _client_info(self, req: RouteRequest) -> RouteResponse:
        """Inbound ``PUT /ocn/client-info`` from another node (ocn-node.md §2.14)."""
        if req.method != "PUT":
            raise MethodNotAllowed(f"{req.method} is not served on /ocn/client-info")
        await status.receive(self.ctx, req.body, req.ocn_signature)
        return responses.ok(req, None, self._hub)

    async def run_jobs(self) -> None:
        """The hub's periodic work: still-alive checks and the planned-party search."""
        settings = self.settings
        every = max(0.05, min(settings.still_alive_interval, settings.planned_party_interval))
        last_search = 0.0
        while True:
            await asyncio.sleep(every)
            if not self.leads_background_jobs():  # one process per node (replicas: the lock)
                continue
            try:
                done = await status.still_alive(self.ctx, settings.still_alive_interval)
                if time.monotonic() - last_search >= settings.planned_party_interval:
                    last_search = time.monotonic()
                    done["planned"] = status.planned_search(self.ctx)
            except Exception:
                log.exception("hub_jobs_failed")
            else:
                if any(done.values()):
                    log.info("hub_jobs", **done)

    async def close(self) -> None:
        """Close the outbound transport (the store stays open: :meth:`shutdown` closes both)."""
        if self.ctx.copies is not None:
            await self.ctx.copies.drain()
        await self.ctx.hub.close()
        await self.ctx.transport.close()
        self.inbound.close()

    async def shutdown(self) -> None:
        """Close the transport, the state store and the LMDB environment."""
        await self.close()
        self.state.close()
        self.ctx.store.close()
