"""Admin writes to the local registry (the embedded default: a network without a chain).

Parties registered here are listed with this node (operator = node address, url = public URL),
which is what the credentials handshake checks.
"""

from __future__ import annotations

from collections.abc import Iterable

import structlog

from ocn_core.errors import AdminError, AdminNotFound
from ocn_core.hub.context import NodeContext
from ocn_core.registry import (
    InvalidRegistryEntry,
    LocalRegistry,
    Node,
    Party,
    RegistrySourceConflict,
)

audit = structlog.get_logger("ocn_core.audit")


class RegistryAdmin:
    def __init__(self, ctx: NodeContext) -> None:
        self.ctx = ctx

    def _local(self) -> LocalRegistry:
        if self.ctx.settings.registry != "local":
            raise AdminError(
                f"This node's registry follows {self.ctx.settings.registry!r}: it is read-only; "
                "list parties on the chain"
            )
        try:
            return LocalRegistry(self.ctx.registry)
        except RegistrySourceConflict as exc:
            raise AdminError(str(exc)) from None

    def list_self(self) -> None:
        """List this node (operator → public URL) in the local registry."""
        self._local().set_node(self.ctx.node_address, self.ctx.settings.public_url)

    def set_node(self, operator: str, url: str) -> Node:
        try:
            self._local().set_node(operator, url)
        except (InvalidRegistryEntry, ValueError) as exc:
            raise AdminError(f"Invalid registry entry: {exc}") from None
        audit.info("registry_node_set", operator=operator, url=url, by="admin")
        return Node(operator, url)

    def set_party(
        self,
        country_code: str,
        party_id: str,
        roles: Iterable[str],
        address: str = "",
        operator: str = "",
    ) -> Party:
        local = self._local()
        try:
            local.set_party(
                country_code,
                party_id,
                roles=[str(r).upper() for r in roles],
                operator=operator or self.ctx.node_address,
                address=address,
            )
        except (InvalidRegistryEntry, ValueError, TypeError) as exc:
            raise AdminError(f"Invalid registry entry: {exc}") from None
        party = self.ctx.registry.party(country_code, party_id)
        assert party is not None
        audit.info(
            "registry_party_set",
            party=f"{party.country_code} {party.party_id}",
            roles=list(party.roles),
            operator=party.operator,
            by="admin",
        )
        return party

    def delete_party(self, country_code: str, party_id: str) -> None:
        if not self._local().delete_party(country_code, party_id):
            raise AdminNotFound(f"Party {country_code} {party_id} not in the registry")
        audit.info("registry_party_deleted", party=f"{country_code} {party_id}".upper(), by="admin")
