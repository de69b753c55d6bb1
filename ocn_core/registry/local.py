"""LocalRegistry: the embedded default source (a private network without a chain).

The CLI and the admin API write nodes, parties, services and agreements straight into the
:class:`RegistryCache`; each call is one durable write transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from ocn_core.registry import codec as c
from ocn_core.registry.cache import SOURCE_LOCAL, RegistryCache, RegistryWriter
from ocn_core.registry.errors import InvalidRegistryEntry, RegistrySourceConflict


class LocalRegistry:
    """Writes for the local source; refuses a cache that follows a chain."""

    def __init__(self, cache: RegistryCache) -> None:
        self.cache = cache
        source = cache.source()
        if source not in (None, SOURCE_LOCAL):
            raise RegistrySourceConflict(f"the registry cache follows {source!r}; it is read-only")

    @contextmanager
    def _writer(self) -> Iterator[RegistryWriter]:
        """One write transaction that marks the cache as locally sourced."""
        with self.cache.writer() as w:
            source = w.source()
            if source is None:
                w.set_source(SOURCE_LOCAL)
            elif source != SOURCE_LOCAL:
                raise RegistrySourceConflict(f"the registry cache follows {source!r}; read-only")
            yield w

    def set_node(self, operator: str, url: str) -> None:
        if not url:
            raise InvalidRegistryEntry("empty node url: use delete_node")
        with self._writer() as w:
            w.put_node(operator, url)

    def delete_node(self, operator: str) -> bool:
        with self._writer() as w:
            return w.delete_node(operator)

    def set_party(
        self,
        country_code: str,
        party_id: str,
        roles: Iterable[str],
        operator: str,
        address: str = "",
        modules_sender: Iterable[str] = (),
        modules_receiver: Iterable[str] = (),
    ) -> None:
        """Create or replace a listing (ids upper-cased; roles from the contract's enum)."""
        roles = tuple(roles)
        if not roles:
            raise InvalidRegistryEntry("a party needs at least one role")
        if c.is_zero(operator):
            raise InvalidRegistryEntry("a party needs an operator: use delete_party")
        with self._writer() as w:
            w.put_party(
                country_code,
                party_id,
                operator=operator,
                roles=roles,
                address=address,
                modules_sender=modules_sender,
                modules_receiver=modules_receiver,
            )

    def delete_party(self, country_code: str, party_id: str) -> bool:
        with self._writer() as w:
            return w.delete_party(country_code, party_id)

    def set_service(self, provider: str, name: str, url: str, permissions: Iterable[int]) -> None:
        """Register a service of a listed party (as Permissions.setService requires)."""
        permissions = tuple(permissions)
        if not permissions:
            raise InvalidRegistryEntry("a service needs at least one permission")
        if self.cache.party_by_address(provider) is None:
            raise InvalidRegistryEntry(f"provider {provider} has no party listing")
        with self._writer() as w:
            w.put_service(provider, name, url, permissions)

    def delete_service(self, provider: str) -> bool:
        with self._writer() as w:
            return w.delete_service(provider)

    def set_agreement(self, user: str, provider: str) -> None:
        """``user`` (a listed party's address) agrees to ``provider``'s service."""
        if self.cache.party_by_address(user) is None:
            raise InvalidRegistryEntry(f"user {user} has no party listing")
        if self.cache.service(provider) is None:
            raise InvalidRegistryEntry(f"provider {provider} has no service")
        with self._writer() as w:
            w.put_agreement(user, provider, True)

    def revoke_agreement(self, user: str, provider: str) -> bool:
        """Mark the agreement revoked (kept, as on chain); False if there was none."""
        with self._writer() as w:
            if not w.delete_agreement(user, provider):
                return False
            w.put_agreement(user, provider, False)
            return True
