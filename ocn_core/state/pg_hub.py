"""The hub's stores (issue 13) in PostgreSQL, shared by replicas: OcnRules, client info and the
hub data store (Broadcast Push objects for GET All and open routing).

Rules ride in the route-facts mirror (routing reads them: :class:`PgPlatformStore`); client
info and hub data are read from the database where they are used (not on the route decision).
Every write is one committed transaction before it returns.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import asdict
from typing import Any

import orjson

from ocn_core.state.clientinfo import ClientInfo, record_key, status_change
from ocn_core.state.hubdata import merged
from ocn_core.state.pg_bridge import PgBridge
from ocn_core.state.pg_store import PgPlatformStore
from ocn_core.state.rules import NO_RULES, Rules, decode, encode

CLIENT_INFO_LOCK = 0x6F636E03  # set_status runs one at a time, as in LMDB


class PgRulesStore:
    """OcnRules per platform: read from the mirror, written through the shared database."""

    def __init__(self, platforms: PgPlatformStore) -> None:
        self.platforms = platforms
        self.bridge: PgBridge = platforms.bridge

    def get(self, platform_id: str) -> Rules:
        return self.platforms.mirror.rules.get(platform_id, NO_RULES)

    def update(self, platform_id: str, change: Callable[[Rules], Rules]) -> Rules:
        """Apply ``change`` to the stored rules in one transaction (it may raise to abort);
        every replica's mirror has the result before this returns."""

        async def work(conn: Any) -> Rules:
            raw = await conn.fetchval(
                "SELECT rules FROM ocn_rules WHERE platform_id = $1 FOR UPDATE", platform_id
            )
            rules = change(decode(raw.encode()) if raw is not None else NO_RULES)
            if rules.empty:
                await conn.execute("DELETE FROM ocn_rules WHERE platform_id = $1", platform_id)
            else:
                await conn.execute(
                    "INSERT INTO ocn_rules (platform_id, rules) VALUES ($1, $2::jsonb)"
                    " ON CONFLICT (platform_id) DO UPDATE SET rules = EXCLUDED.rules",
                    platform_id,
                    encode(rules).decode(),
                )
            return rules

        return self.bridge.change([platform_id], work)


class PgClientInfoStore:
    """ClientInfo records of every party the node knows (HubClientInfo), shared."""

    def __init__(self, bridge: PgBridge) -> None:
        self.bridge = bridge

    def all(self) -> list[ClientInfo]:
        rows = self.bridge.fetch('SELECT info FROM ocn_client_info ORDER BY key COLLATE "C"')
        return [ClientInfo(**orjson.loads(r[0])) for r in rows]

    def get(self, country_code: str, party_id: str, role: str) -> ClientInfo | None:
        key = record_key(country_code, party_id, role)
        raw = self.bridge.fetchval("SELECT info FROM ocn_client_info WHERE key = $1", key)
        return ClientInfo(**orjson.loads(raw)) if raw is not None else None

    def set_status(
        self,
        parties: Iterable[tuple[str, str, str]],
        status: str,
        node: str = "",
        only_new: bool = False,
        when: float | None = None,
    ) -> list[ClientInfo]:
        """As :meth:`ClientInfoStore.set_status`, in one transaction."""
        now = time.time() if when is None else when
        wanted = list(parties)

        async def work(conn: Any) -> list[ClientInfo]:
            await conn.execute("SELECT pg_advisory_xact_lock($1)", CLIENT_INFO_LOCK)
            keys = [record_key(cc, pid, role) for role, cc, pid in wanted]
            rows = await conn.fetch(
                "SELECT key, info FROM ocn_client_info WHERE key = ANY($1::text[])", keys
            )
            stored = {r[0]: orjson.loads(r[1]) for r in rows}
            changed: list[ClientInfo] = []
            for key, party in zip(keys, wanted, strict=True):
                info = status_change(stored.get(key), party, status, node, only_new, now)
                if info is None:
                    continue
                stored[key] = asdict(info)
                changed.append(info)
                await conn.execute(
                    "INSERT INTO ocn_client_info (key, info) VALUES ($1, $2::jsonb)"
                    " ON CONFLICT (key) DO UPDATE SET info = EXCLUDED.info",
                    key,
                    orjson.dumps(stored[key]).decode(),
                )
            return changed

        return self.bridge.write(work)


class PgHubDataStore:
    """Objects pushed TO the hub, shared (any replica answers GET All and open routing)."""

    def __init__(self, bridge: PgBridge) -> None:
        self.bridge = bridge

    def apply(
        self, module: str, owner: tuple[str, str], path: list[str], method: str, body: Any
    ) -> bool:
        """As :meth:`HubDataStore.apply`, in one transaction."""
        object_id = path[0]
        owner_key = (owner[0] + owner[1]).upper()

        async def work(conn: Any) -> bool:
            if method == "DELETE":
                await conn.execute(
                    "DELETE FROM ocn_hub_data WHERE module = $1 AND owner = $2 AND object_id = $3",
                    module, owner_key, object_id,
                )  # fmt: skip
                return True
            raw = await conn.fetchval(
                "SELECT object FROM ocn_hub_data WHERE module = $1 AND owner = $2"
                " AND object_id = $3 FOR UPDATE",
                module, owner_key, object_id,
            )  # fmt: skip
            updated = merged(orjson.loads(raw) if raw is not None else None, path[1:], method, body)
            if updated is None:
                return False
            updated.setdefault("country_code", owner[0].upper())
            updated.setdefault("party_id", owner[1].upper())
            await conn.execute(
                "INSERT INTO ocn_hub_data (module, owner, object_id, object)"
                " VALUES ($1, $2, $3, $4::jsonb) ON CONFLICT (module, owner, object_id)"
                " DO UPDATE SET object = EXCLUDED.object",
                module, owner_key, object_id, orjson.dumps(updated).decode(),
            )  # fmt: skip
            await conn.execute(
                "INSERT INTO ocn_hub_owners (module, object_id, owner) VALUES ($1, $2, $3)"
                " ON CONFLICT (module, object_id) DO UPDATE SET owner = EXCLUDED.owner",
                module, object_id, owner_key,
            )  # fmt: skip
            return True

        return self.bridge.write(work)

    def objects(self, module: str) -> list[dict[str, Any]]:
        rows = self.bridge.fetch(
            "SELECT object FROM ocn_hub_data WHERE module = $1"
            ' ORDER BY owner COLLATE "C", object_id COLLATE "C"',  # LMDB's byte order
            module,
        )
        return [orjson.loads(r[0]) for r in rows]

    def owner(self, module: str, object_id: str) -> str | None:
        found = self.bridge.fetchval(
            "SELECT owner FROM ocn_hub_owners WHERE module = $1 AND object_id = $2",
            module,
            object_id,
        )
        return str(found) if found is not None else None
