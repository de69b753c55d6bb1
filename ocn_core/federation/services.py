"""The OCN Service Interface (ocn-node.md §5.4): copies of a sender's requests to the service
providers it has agreed to in the Permissions contract.

On the sender's node only, for the standard modules, after the recipient is resolved: every
provider whose permissions cover (module, interface) gets a copy with OCPI-to set to the
provider, delivered locally or over ``/ocn/message``; answers and failures are only logged.
Unlike the reference, revoked agreements get no copies. A signed request's copy is re-signed
by the node with the OCPI-to headers stashed.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import structlog

from ocn_core import ocpi, signing
from ocn_core.hub import signatures
from ocn_core.hub.context import NodeContext
from ocn_core.model import InterfaceRole, PartyRef, RouteKind, RouteRequest
from ocn_core.store import UNREAD, GenerationMemo, remember

log = structlog.get_logger(__name__)

_MODULES = ("locations", "sessions", "cdrs", "tariffs", "tokens", "commands", "chargingprofiles")
# Permissions.sol indices (node enum order): 0 all, 1 all sender, 2 all receiver, then a
# (sender, receiver) pair per module in _MODULES order starting at 3.
PERMISSIONS: dict[int, tuple[str, str]] = {
    3 + 2 * i + j: (module, role)
    for i, module in enumerate(_MODULES)
    for j, role in enumerate(("SENDER", "RECEIVER"))
}


def covers(permissions: tuple[int, ...], module: str, interface: str) -> bool:
    """Whether a service with ``permissions`` receives copies of (module, interface)."""
    for p in permissions:
        if p == 0 or (p == 1 and interface == "SENDER") or (p == 2 and interface == "RECEIVER"):
            return True
        if PERMISSIONS.get(p) == (module, interface):
            return True
    return False


class ServiceCopies:
    """Finds the providers of a request (memoised per LMDB snapshot) and sends their copies."""

    def __init__(self, ctx: NodeContext) -> None:
        self.ctx = ctx
        self._memo = GenerationMemo(ctx.store)
        self._targets: dict[tuple[str, str, str, str, str, InterfaceRole], tuple[PartyRef, ...]] = (
            self._memo.table()
        )
        self._tasks: set[asyncio.Task[None]] = set()

    def targets(self, req: RouteRequest) -> tuple[PartyRef, ...]:
        """The providers that get a copy of ``req`` (memoised per routing generation)."""
        # the routing generation this request's decision read (a registry write, agreements
        # and services included, moves it): no extra read transaction on the hot path
        generation = self.ctx.platforms.facts_generation
        if generation == UNREAD:
            self._memo.current()
        else:
            self._memo.at(generation)
        frm, to = req.from_party, req.to_party
        key = (frm.country_code, frm.party_id, to.country_code, to.party_id, req.module,
               req.interface_role)  # fmt: skip
        found = self._targets.get(key)
        if found is None:
            interface = req.interface_role.ocpi
            services = self.ctx.registry.agreements(frm.country_code, frm.party_id)
            found = tuple(
                PartyRef(s.country_code, s.party_id)
                for s in services
                if s.country_code
                and (s.country_code + s.party_id).upper() not in (to.key, frm.key)
                and covers(s.permissions, req.module, interface)
            )
            remember(self._targets, key, found)
        return found

    def fire(self, req: RouteRequest) -> bool:
        """Send the copies of ``req`` in the background (a standard module, local sender);
        whether there were any."""
        if req.kind is not RouteKind.MODULE:
            return False
        targets = self.targets(req)
        if targets:
            task = asyncio.ensure_future(self._send(req, targets))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return bool(targets)

    async def _send(self, req: RouteRequest, targets: tuple[PartyRef, ...]) -> None:
        for provider in targets:
            try:
                await self._copy(req, provider)
            except Exception as exc:  # copies are best effort: log and go on
                log.warning("service_copy_failed", provider=provider.key, error=str(exc))

    async def _copy(self, req: RouteRequest, provider: PartyRef) -> None:
        from ocn_core.federation import outbound
        from ocn_core.hub import forward

        ctx = self.ctx
        copy = dataclasses.replace(
            req, to_party=provider, request_id=ocpi.request_id(), ocn_signature=""
        )
        if req.ocn_signature:
            notary: Any = signing.Notary.deserialize(req.ocn_signature)
            stash = {
                "$['headers']['ocpi-to-country-code']": req.to_party.country_code,
                "$['headers']['ocpi-to-party-id']": req.to_party.party_id,
            }
            copy.ocn_signature = signatures.resign_request(
                ctx, copy, notary, copy.query, copy.body, stash
            )
        facts = ctx.platforms.route_facts(
            "", copy.from_party.key, provider.key, copy.module, copy.interface_role.ocpi
        )
        if facts.receiver is not None:
            if facts.url is None or facts.auth is None:
                return  # the provider does not serve this module
            target = ocpi.join_url(facts.url, copy.path_suffix)
            if copy.query:
                target += "?" + copy.query
            headers = forward.outbound_headers(copy, facts.auth, copy.body, copy.ocn_signature)
            await ctx.transport.request(
                copy.method, target, headers, copy.body, ctx.settings.forward_timeout
            )
            return
        node = await outbound.remote_node(ctx, copy)
        await outbound.post(
            ctx, node, copy, query=copy.query, body=copy.body, signature=copy.ocn_signature
        )

    async def drain(self) -> None:
        """Wait for the copies in flight (shutdown, tests)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
