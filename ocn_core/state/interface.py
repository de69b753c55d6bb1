"""The node-state interface: what handlers read and write, whichever store holds it.

Two implementations, chosen at start by ``settings.state_url`` (:func:`ocn_core.state.open_state`):
LMDB in the data dir (the default: :class:`~ocn_core.state.PlatformStore`,
:class:`~ocn_core.state.ProxyStore`) and PostgreSQL shared by replicas of one node
(:mod:`ocn_core.state.pg_store`). Reads that routing makes are local in both (LMDB, or the
replica's route-facts mirror); every write is durable before it returns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ocn_core.state.records import CONNECTED, Platform, RegistrationGrant

if TYPE_CHECKING:
    from ocn_core.state.clientinfo import ClientInfo
    from ocn_core.state.platforms import ForwardPlan, PlanKey, RouteFacts
    from ocn_core.state.rules import Rules


class TokenAlreadyUsed(Exception):
    """The registration token A was consumed by another registration (single use)."""


class PlatformState(Protocol):
    """Platforms, roles, endpoints, credentials tokens A (grants) and C."""

    def issue_token_a(self, roles: list[dict[str, str]], ttl: float) -> tuple[str, float]: ...
    def grant(self, token_a: str) -> RegistrationGrant | None: ...
    def platform_id_by_token(self, token_c: str) -> str | None: ...
    def platform(self, platform_id: str) -> Platform | None: ...
    def platform_id_by_role(self, country_code: str, party_id: str) -> str | None: ...
    def route_facts(
        self, authorization: str, from_key: str, to_key: str, module: str, interface: str
    ) -> RouteFacts: ...
    def forget_route_facts(self) -> None: ...
    def forward_plan(self, key: PlanKey) -> ForwardPlan | None: ...
    def keep_forward_plan(self, key: PlanKey, plan: ForwardPlan) -> None: ...
    @property
    def facts_generation(self) -> bytes | None: ...
    def ocpi_versions(self, *platform_ids: str) -> tuple[str, ...]: ...
    def auth_header(self, platform_id: str) -> str | None: ...
    def all(self) -> Iterator[Platform]: ...
    def register(
        self, token_a: str | None, platform: Platform, token_c: str, replace_id: str | None = None
    ) -> None: ...
    def add_token_c(self, platform_id: str, token_c: str) -> bool: ...
    def drop_token_c(self, platform_id: str, token_c: str) -> None: ...
    def touch(self, platform_id: str, status: str = CONNECTED) -> None: ...
    def delete(self, platform_id: str) -> bool: ...


class ProxyState(Protocol):
    """Proxied resources (response_url, Link, Location), scoped to a sender/receiver pair."""

    @staticmethod
    def new_id() -> str: ...
    def put(
        self, url: str, sender: str, receiver: str, ttl: float, proxy_id: str | None = None
    ) -> str: ...
    def get(self, proxy_id: str, sender: str, receiver: str) -> str | None: ...
    def cleanup(self, now: float | None = None) -> int: ...
    def size(self) -> int: ...
    def exists(self, proxy_id: str) -> bool: ...


class ReplayClaims(Protocol):
    """The ``/ocn/message`` replay window: (sending node, request id) accepted once."""

    def claim(self, node: str, request_id: str, now: float | None = None) -> bool: ...
    def cleanup(self, now: float | None = None) -> int: ...
    def close(self) -> None: ...


class RulesState(Protocol):
    """OcnRules per platform (routing reads them with the route facts)."""

    def get(self, platform_id: str) -> Rules: ...
    def update(self, platform_id: str, change: Callable[[Rules], Rules]) -> Rules: ...


class ClientInfoState(Protocol):
    """ClientInfo records of every party the node knows (HubClientInfo)."""

    def all(self) -> list[ClientInfo]: ...
    def get(self, country_code: str, party_id: str, role: str) -> ClientInfo | None: ...
    def set_status(
        self,
        parties: Iterable[tuple[str, str, str]],
        status: str,
        node: str = "",
        only_new: bool = False,
        when: float | None = None,
    ) -> list[ClientInfo]: ...


class HubDataState(Protocol):
    """Objects pushed TO the hub (Broadcast Push), for GET All and open routing."""

    def apply(
        self, module: str, owner: tuple[str, str], path: list[str], method: str, body: Any
    ) -> bool: ...
    def objects(self, module: str) -> list[dict[str, Any]]: ...
    def owner(self, module: str, object_id: str) -> str | None: ...


@dataclass(frozen=True, slots=True)
class HubStores:
    """The hub's stores when they are not the LMDB ones (PostgreSQL)."""

    rules: RulesState
    clientinfo: ClientInfoState
    data: HubDataState


class Leadership(Protocol):
    """Whether this process runs the node's background jobs (once per node, not per replica)."""

    def start(self) -> None: ...
    @property
    def held(self) -> bool: ...


class SingleProcess:
    """LMDB: one node per data dir, so every process that runs background jobs may run them."""

    def start(self) -> None:
        """Nothing to campaign for."""

    @property
    def held(self) -> bool:
        return True
