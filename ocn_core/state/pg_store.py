"""Node state in PostgreSQL, shared by the replicas of one node (``OCN_STATE_URL``).

Routing reads never reach the database: each process keeps a **mirror** of the platforms,
roles, endpoints, tokens C and token B headers, reloaded by the bridge's listener on every
committed change from any replica and in full after a lost connection (see
:mod:`ocn_core.state.pg_bridge`). Registration tokens A and proxied resources are read from
the database. Every write commits
(synchronous commit) before it returns.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from ocn_core.ocpi import authorization_header, token_candidates, token_from_header
from ocn_core.state.codec import token_digest
from ocn_core.state.interface import TokenAlreadyUsed
from ocn_core.state.pg_bridge import PgBridge
from ocn_core.state.platforms import (
    ForwardPlan,
    PlanKey,
    RoleConflict,
    RouteFacts,
    grant_json,
)
from ocn_core.state.proxy import ProxyStore
from ocn_core.state.records import CONNECTED, Platform, RegistrationGrant
from ocn_core.state.rules import NO_RULES, Rules
from ocn_core.state.rules import decode as decode_rules
from ocn_core.store import UNREAD, remember

_FactsKey = tuple[str, str, str, str, str]


@dataclass(frozen=True, slots=True)
class Mirror:
    """One consistent snapshot of what routing reads (never mutated: replaced whole)."""

    platforms: dict[str, Platform] = field(default_factory=dict)
    by_token: dict[str, str] = field(default_factory=dict)  # sha256 hex of token C -> id
    by_role: dict[str, str] = field(default_factory=dict)  # COUNTRYPARTY -> id
    endpoints: dict[tuple[str, str, str], str] = field(default_factory=dict)
    auth: dict[str, str] = field(default_factory=dict)  # id -> Authorization value
    rules: dict[str, Rules] = field(default_factory=dict)  # id -> its OcnRules (when any)


async def load_mirror(conn: Any, base: Mirror | None = None, ids: set[str] | None = None) -> Mirror:
    """Read the routing tables in one repeatable-read snapshot: all of them, or (``base`` and
    ``ids``) only the rows of the platforms ``ids``, the rest copied from ``base``."""
    where, args = ("", []) if ids is None else (" WHERE id = ANY($1::text[])", [list(ids)])
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        rows = await conn.fetch(
            "SELECT id, record, auth, token_c_digest FROM ocn_platforms" + where, *args
        )
        by_platform = where.replace("id", "platform_id")
        roles = await conn.fetch("SELECT party, platform_id FROM ocn_roles" + by_platform, *args)
        rules = await conn.fetch("SELECT platform_id, rules FROM ocn_rules" + by_platform, *args)
    if base is None or ids is None:
        mirror = Mirror()
    else:  # the unchanged platforms' entries, copied (the old mirror stays as it was)
        old = [base.platforms[i] for i in ids if i in base.platforms]
        gone = {p.token_c_digest for p in old} | {p.pending_token_c_digest for p in old}
        mirror = Mirror(
            {k: v for k, v in base.platforms.items() if k not in ids},
            {k: v for k, v in base.by_token.items() if k not in gone},
            {k: v for k, v in base.by_role.items() if v not in ids},
            {k: v for k, v in base.endpoints.items() if k[0] not in ids},
            {k: v for k, v in base.auth.items() if k not in ids},
            {k: v for k, v in base.rules.items() if k not in ids},
        )
    mirror.by_role.update((r[0], r[1]) for r in roles)
    mirror.rules.update((r[0], decode_rules(r[1].encode())) for r in rules)
    for pid, record, auth, digest in rows:
        platform = Platform.from_json(orjson.loads(record))
        mirror.platforms[pid] = platform
        mirror.by_token[digest] = pid
        if platform.pending_token_c_digest:  # a node-initiated rotation under way
            mirror.by_token[platform.pending_token_c_digest] = pid
        mirror.auth[pid] = auth
        for ep in platform.endpoints:
            mirror.endpoints[(pid, ep.identifier, ep.role)] = ep.url
    return mirror


def _copy(platform: Platform) -> Platform:
    return Platform.from_json(platform.to_json())


class PgPlatformStore:
    """:class:`~ocn_core.state.interface.PlatformState` over PostgreSQL and a local mirror."""

    def __init__(self, bridge: PgBridge) -> None:
        self.bridge = bridge
        self.mirror = Mirror()
        self._facts: dict[_FactsKey, RouteFacts] = {}
        self._facts_of: Mirror | None = None  # the mirror the memo was filled from
        self._plans: dict[PlanKey, ForwardPlan] = {}  # kept and dropped with the facts

    async def reload(self, conn: Any, ids: set[str] | None) -> None:
        """Replace the mirror: in full (``ids`` None), or the rows of the platforms ``ids``
        (the bridge's listener calls this on every change)."""
        self.mirror = await load_mirror(conn, self.mirror, ids)

    # --- registration tokens (A): in the database -----------------------------------------

    def issue_token_a(self, roles: list[dict[str, str]], ttl: float) -> tuple[str, float]:
        token = secrets.token_urlsafe(24)
        now = time.time()
        grant = RegistrationGrant(roles=roles, expires_at=now + ttl, created=now)

        async def insert(conn: Any) -> None:
            await conn.execute(
                "INSERT INTO ocn_registration_tokens (digest, grant_json, expires_at)"
                " VALUES ($1, $2::jsonb, $3)",
                token_digest(token),
                orjson.dumps(grant_json(grant)).decode(),
                grant.expires_at,
            )

        self.bridge.write(insert)
        return token, grant.expires_at

    def grant(self, token_a: str) -> RegistrationGrant | None:
        raw = self.bridge.fetchval(
            "SELECT grant_json FROM ocn_registration_tokens WHERE digest = $1 AND expires_at > $2",
            token_digest(token_a),
            time.time(),
        )
        return RegistrationGrant(**orjson.loads(raw)) if raw is not None else None

    # --- lookups: from the mirror ------------------------------------------------------------

    def platform_id_by_token(self, token_c: str) -> str | None:
        return self.mirror.by_token.get(token_digest(token_c))

    def platform(self, platform_id: str) -> Platform | None:
        found = self.mirror.platforms.get(platform_id)
        return _copy(found) if found is not None else None

    def platform_id_by_role(self, country_code: str, party_id: str) -> str | None:
        return self.mirror.by_role.get((country_code + party_id).upper())

    def route_facts(
        self, authorization: str, from_key: str, to_key: str, module: str, interface: str
    ) -> RouteFacts:
        """As :meth:`PlatformStore.route_facts`, memoised per mirror (no database call)."""
        mirror = self.mirror
        key = (authorization, from_key, to_key, module, interface)
        if mirror is self._facts_of:
            found = self._facts.get(key)
            if found is not None:
                return found
        else:
            self._facts.clear()
            self._plans.clear()
            self._facts_of = mirror
        sender = url = auth = None
        for token in token_candidates(token_from_header(authorization)):
            sender = mirror.by_token.get(token_digest(token))
            if sender is not None:
                break
        from_owner = mirror.by_role.get(from_key.upper())
        receiver = mirror.by_role.get(to_key.upper())
        rules = NO_RULES
        if receiver is not None:
            url = mirror.endpoints.get((receiver, module, interface))
            auth = mirror.auth.get(receiver)
            rules = mirror.rules.get(receiver, NO_RULES)
        versions = self._versions(mirror, sender, receiver)
        facts = RouteFacts(sender, from_owner, receiver, url, auth, rules, *versions)
        remember(self._facts, key, facts)
        return facts

    def forget_route_facts(self) -> None:
        self._facts.clear()
        self._plans.clear()
        self._facts_of = None

    def forward_plan(self, key: PlanKey) -> ForwardPlan | None:
        """The plan kept for ``key`` while the mirror it was made from is current (plans that
        depend on the registry's LMDB data, service copies, are not kept on this backend)."""
        return self._plans.get(key) if self.mirror is self._facts_of else None

    def keep_forward_plan(self, key: PlanKey, plan: ForwardPlan) -> None:
        remember(self._plans, key, plan)

    @property
    def facts_generation(self) -> bytes | None:
        """Always "none read": route facts come from the mirror, not from LMDB, so memos over
        LMDB data (the registry) read LMDB's routing generation themselves."""
        return UNREAD

    @staticmethod
    def _versions(mirror: Mirror, *platform_ids: str | None) -> tuple[str, ...]:
        found = (mirror.platforms.get(pid) if pid is not None else None for pid in platform_ids)
        return tuple(p.ocpi_version if p is not None else "" for p in found)

    def ocpi_versions(self, *platform_ids: str) -> tuple[str, ...]:
        """The OCPI version each platform registered with ('' for an unknown platform)."""
        return self._versions(self.mirror, *platform_ids)

    def auth_header(self, platform_id: str) -> str | None:
        return self.mirror.auth.get(platform_id)

    def all(self) -> Iterator[Platform]:
        for platform in list(self.mirror.platforms.values()):
            yield _copy(platform)

    # --- changes: committed, then applied by every replica before returning -----------------

    def register(
        self, token_a: str | None, platform: Platform, token_c: str, replace_id: str | None = None
    ) -> None:
        """As :meth:`PlatformStore.register`: one transaction; RoleConflict / TokenAlreadyUsed."""
        parties = [role.key for role in platform.roles]
        digest = token_digest(token_c)

        async def work(conn: Any) -> None:
            owners = await conn.fetch(
                "SELECT party, platform_id FROM ocn_roles WHERE party = ANY($1::text[])", parties
            )
            for party, owner in owners:
                if owner not in (platform.id, replace_id):
                    role = next(r for r in platform.roles if r.key == party)
                    raise RoleConflict(
                        f"Role with party_id={role.party_id} and country_code="
                        f"{role.country_code} already connected to this node!"
                    )
            if replace_id is not None:
                await conn.execute("DELETE FROM ocn_platforms WHERE id = $1", replace_id)
            if token_a is not None:
                used = await conn.fetchval(
                    "DELETE FROM ocn_registration_tokens WHERE digest = $1 RETURNING 1",
                    token_digest(token_a),
                )
                if used is None:
                    raise TokenAlreadyUsed("Invalid CREDENTIALS_TOKEN_A")
            platform.token_c_digest = digest
            platform.token_c_issued = time.time()
            await conn.execute(
                "INSERT INTO ocn_platforms (id, record, auth, token_c_digest)"
                " VALUES ($1, $2::jsonb, $3, $4) ON CONFLICT (id) DO UPDATE SET"
                " record = EXCLUDED.record, auth = EXCLUDED.auth,"
                " token_c_digest = EXCLUDED.token_c_digest",
                platform.id,
                orjson.dumps(platform.to_json()).decode(),
                authorization_header(platform.token_b, platform.token_b_base64),
                digest,
            )
            await conn.execute(
                "INSERT INTO ocn_roles (party, platform_id) SELECT unnest($1::text[]), $2"
                " ON CONFLICT (party) DO UPDATE SET platform_id = EXCLUDED.platform_id",
                parties,
                platform.id,
            )

        self.bridge.change([platform.id] + ([replace_id] if replace_id else []), work)

    def add_token_c(self, platform_id: str, token_c: str) -> bool:
        """As :meth:`PlatformStore.add_token_c`: a second token C while a rotation runs."""
        return self._set_pending(platform_id, token_digest(token_c), only_if="")

    def drop_token_c(self, platform_id: str, token_c: str) -> None:
        """Forget a token C added by :meth:`add_token_c` (the party refused the rotation)."""
        self._set_pending(platform_id, "", only_if=token_digest(token_c))

    def _set_pending(self, platform_id: str, digest: str, only_if: str) -> bool:
        """Set the pending token C digest (``only_if`` "": whatever it was; else only when it
        is ``only_if``); False when there is no such platform."""

        async def work(conn: Any) -> bool:
            raw = await conn.fetchval(
                "SELECT record FROM ocn_platforms WHERE id = $1 FOR UPDATE", platform_id
            )
            if raw is None:
                return False
            record = orjson.loads(raw)
            if only_if and record.get("pending_token_c_digest") != only_if:
                return True
            record["pending_token_c_digest"] = digest
            await conn.execute(
                "UPDATE ocn_platforms SET record = $2::jsonb WHERE id = $1",
                platform_id,
                orjson.dumps(record).decode(),
            )
            return True

        return self.bridge.change([platform_id], work)

    def touch(self, platform_id: str, status: str = CONNECTED) -> None:
        async def work(conn: Any) -> None:
            await conn.execute(
                "UPDATE ocn_platforms SET record = record || jsonb_build_object("
                "'status', $2::text, 'last_updated', $3::float8) WHERE id = $1",
                platform_id,
                status,
                time.time(),
            )

        self.bridge.change([platform_id], work)

    def delete(self, platform_id: str) -> bool:
        async def work(conn: Any) -> bool:
            found = await conn.fetchval(
                "DELETE FROM ocn_platforms WHERE id = $1 RETURNING 1", platform_id
            )
            if found is not None:  # rules survive a credentials update, not an unregistration
                await conn.execute("DELETE FROM ocn_rules WHERE platform_id = $1", platform_id)
            return found is not None

        return self.bridge.change([platform_id], work)


class PgProxyStore:
    """:class:`~ocn_core.state.interface.ProxyState` in PostgreSQL (any replica resolves)."""

    def __init__(self, bridge: PgBridge) -> None:
        self.bridge = bridge

    @staticmethod
    def new_id() -> str:
        return ProxyStore.new_id()  # one id scheme for both stores

    def put(
        self, url: str, sender: str, receiver: str, ttl: float, proxy_id: str | None = None
    ) -> str:
        proxy_id = proxy_id or self.new_id()
        expires = time.time() + ttl

        async def insert(conn: Any) -> None:
            await conn.execute(
                "INSERT INTO ocn_proxies (id, url, sender, receiver, expires_at)"
                " VALUES ($1, $2, $3, $4, $5)",
                proxy_id,
                url,
                sender,
                receiver,
                expires,
            )

        self.bridge.write(insert)
        return proxy_id

    def get(self, proxy_id: str, sender: str, receiver: str) -> str | None:
        row = self.bridge.fetch(
            "SELECT url FROM ocn_proxies WHERE id = $1 AND sender = $2 AND receiver = $3"
            " AND expires_at > $4",
            proxy_id,
            sender,
            receiver,
            time.time(),
        )
        return str(row[0][0]) if row else None

    def cleanup(self, now: float | None = None) -> int:
        return _delete_expired(self.bridge, "ocn_proxies", now)

    def exists(self, proxy_id: str) -> bool:
        """Whether ``proxy_id`` is taken (by any pair, expired or not)."""
        found = self.bridge.fetchval("SELECT 1 FROM ocn_proxies WHERE id = $1", proxy_id)
        return found is not None

    def size(self) -> int:
        """How many resources are stored (expired ones included until the next cleanup)."""
        return int(self.bridge.fetchval("SELECT count(*) FROM ocn_proxies"))


class PgLeadership:
    """Background jobs run where the advisory lock is held (one replica process per node)."""

    def __init__(self, bridge: PgBridge) -> None:
        self.bridge = bridge

    def start(self) -> None:
        self.bridge.start_leading()

    @property
    def held(self) -> bool:
        return self.bridge.leader


class PgReplayGuard:
    """:class:`~ocn_core.state.interface.ReplayClaims` in PostgreSQL: a message replayed to any
    replica is refused. Like the LMDB guard, a claim does not wait for its WAL flush
    (``synchronous_commit = off``: PostgreSQL flushes within a second), a crash of the node
    loses nothing, a crash of the database at most the last second of claims."""

    def __init__(self, bridge: PgBridge, window: float) -> None:
        self.bridge = bridge
        self.window = window

    def claim(self, node: str, request_id: str, now: float | None = None) -> bool:
        now = time.time() if now is None else now

        async def work(conn: Any) -> bool:
            await conn.execute("SET LOCAL synchronous_commit = off")
            won = await conn.fetchval(
                "INSERT INTO ocn_replay (node, request_id, expires_at) VALUES ($1, $2, $3)"
                " ON CONFLICT (node, request_id) DO UPDATE SET expires_at = EXCLUDED.expires_at"
                " WHERE ocn_replay.expires_at <= $4 RETURNING 1",
                node.lower(),
                request_id,
                now + self.window,
                now,
            )
            return won is not None

        return self.bridge.write(work)

    def cleanup(self, now: float | None = None) -> int:
        return _delete_expired(self.bridge, "ocn_replay", now)

    def close(self) -> None:
        """The bridge is closed with the node state."""


def _delete_expired(bridge: PgBridge, table: str, now: float | None) -> int:
    """Delete the rows of ``table`` (a constant) whose ``expires_at`` has passed; how many."""
    limit = time.time() if now is None else now

    async def work(conn: Any) -> int:
        return int(
            await conn.fetchval(
                f"WITH gone AS (DELETE FROM {table} WHERE expires_at <= $1 RETURNING 1)"
                " SELECT count(*) FROM gone",
                limit,
            )
        )

    return bridge.write(work)
