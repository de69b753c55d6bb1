"""The PostgreSQL schema of the shared node state, as versioned migrations.

Each migration runs once, in order, inside one transaction under an advisory lock (replicas
starting together migrate once); ``ocn_schema`` records what ran. A database whose schema is
newer than this node knows is refused. ``ocn-node db upgrade`` runs them explicitly; a serving
node runs them at start.
"""

from __future__ import annotations

from typing import Any

MIGRATION_LOCK = 0x6F636E00  # advisory lock key held while migrating
CHANGES = "ocn_state"  # NOTIFY channel: a committed change (payload: its generation)
ACKS = "ocn_state_ack"  # NOTIFY channel: "<listener pid>:<generation>" applied by a replica

MIGRATIONS: tuple[tuple[int, str, str], ...] = (
    (
        1,
        "platforms, roles, registration tokens, proxied resources, change generation",
        """
        CREATE TABLE ocn_platforms (
            id text PRIMARY KEY,
            record jsonb NOT NULL,            -- the Platform record (roles, endpoints, token B)
            auth text NOT NULL,               -- Authorization value sent to the platform
            token_c_digest text NOT NULL UNIQUE  -- sha256 hex of its token C
        );
        CREATE TABLE ocn_roles (
            party text PRIMARY KEY,           -- COUNTRYCODE + PARTYID, upper case
            platform_id text NOT NULL REFERENCES ocn_platforms (id) ON DELETE CASCADE
        );
        CREATE TABLE ocn_registration_tokens (
            digest text PRIMARY KEY,          -- sha256 hex of token A
            grant_json jsonb NOT NULL,
            expires_at double precision NOT NULL
        );
        CREATE TABLE ocn_proxies (
            id text PRIMARY KEY,
            url text NOT NULL,
            sender text NOT NULL,
            receiver text NOT NULL,
            expires_at double precision NOT NULL
        );
        CREATE INDEX ocn_proxies_expiry ON ocn_proxies (expires_at);
        CREATE SEQUENCE ocn_state_generation;
        """,
    ),
    (
        2,
        "replay window of /ocn/message (sending node, request id)",
        """
        CREATE TABLE ocn_replay (
            node text NOT NULL,               -- sending node's address, lower case
            request_id text NOT NULL,
            expires_at double precision NOT NULL,
            PRIMARY KEY (node, request_id)
        );
        CREATE INDEX ocn_replay_expiry ON ocn_replay (expires_at);
        """,
    ),
    (
        3,
        "hub: OcnRules, client info, hub data store (Broadcast Push objects)",
        """
        CREATE TABLE ocn_rules (
            platform_id text PRIMARY KEY,     -- kept across a credentials update
            rules jsonb NOT NULL
        );
        CREATE TABLE ocn_client_info (
            key text PRIMARY KEY,             -- COUNTRYPARTY:ROLE, upper case
            info jsonb NOT NULL
        );
        CREATE TABLE ocn_hub_data (
            module text NOT NULL,
            owner text NOT NULL,              -- COUNTRYPARTY of the party that pushed it
            object_id text NOT NULL,
            object jsonb NOT NULL,
            PRIMARY KEY (module, owner, object_id)
        );
        CREATE TABLE ocn_hub_owners (          -- open routing: whose object is this
            module text NOT NULL,
            object_id text NOT NULL,
            owner text NOT NULL,
            PRIMARY KEY (module, object_id)
        );
        """,
    ),
)
LATEST = MIGRATIONS[-1][0]


class SchemaTooNew(RuntimeError):
    """The database was migrated by a newer node."""


async def current(conn: Any) -> int:
    """The schema version of the database (0: never migrated)."""
    exists = await conn.fetchval("SELECT to_regclass('ocn_schema') IS NOT NULL")
    if not exists:
        return 0
    return int(await conn.fetchval("SELECT coalesce(max(version), 0) FROM ocn_schema"))


async def upgrade(conn: Any) -> list[int]:
    """Apply the pending migrations; returns the versions applied (empty: up to date)."""
    applied: list[int] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS ocn_schema (version integer PRIMARY KEY,"
            " description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        found = await current(conn)
        if found > LATEST:
            raise SchemaTooNew(
                f"the state database has schema version {found}; this node knows up to {LATEST}"
            )
        for version, description, sql in MIGRATIONS:
            if version > found:
                await conn.execute(sql)
                await conn.execute(
                    "INSERT INTO ocn_schema (version, description) VALUES ($1, $2)",
                    version,
                    description,
                )
                applied.append(version)
    return applied


def upgrade_database(url: str, timeout: float = 10.0, apply: bool = True) -> tuple[int, list[int]]:
    """``ocn-node db upgrade`` / ``db status``: the version found and the versions applied."""
    import asyncio

    import asyncpg

    async def run() -> tuple[int, list[int]]:
        conn = await asyncpg.connect(url, timeout=timeout)
        try:
            found = await current(conn)
            return found, (await upgrade(conn) if apply else [])
        finally:
            await conn.close()

    return asyncio.run(run())
