"""asyncpg on a private thread: the shared-state connection of one node process.

The stores' interface is synchronous (routing reads stay local and never await), so the
PostgreSQL client runs its own event loop on a daemon thread and a store call waits for its
result. The thread also keeps:

- a **listener** connection (``application_name = ocn-listener``): on every committed change
  (``NOTIFY ocn_state``) it reloads the route-facts mirror, then acknowledges the change's
  generation (``NOTIFY ocn_state_ack``); after a lost connection it reconnects and reloads in
  full, while the old mirror keeps serving;
- a **leader** connection campaigning for an advisory lock: the holder runs the node's
  background jobs. The others wait for it inside PostgreSQL (``pg_advisory_lock``), which
  grants it the moment the holder's session ends: takeover without polling. Idle, the thread
  never wakes up (connection loss is noticed through asyncpg's termination listeners).

A routing write (:meth:`PgBridge.change`) commits, then waits until every connected listener,
its own included, has applied it: once a delete is acknowledged, no replica routes with the
revoked token.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import asyncpg
import structlog

from ocn_core.errors import StateUnavailable
from ocn_core.state.pg_schema import ACKS, CHANGES, upgrade

log = structlog.get_logger(__name__)

T = TypeVar("T")
LISTENER_APP = "ocn-listener"
LEADER_APP = "ocn-leader"
LEADER_LOCK = 0x6F636E01  # advisory lock key: held by the replica running background jobs
WRITE_LOCK = 0x6F636E02  # transaction lock: routing writes commit one at a time, as in LMDB
LEAD_INTERVAL = 1.0  # seconds before the leader connection is opened again after a failure
_UNREACHABLE = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.exceptions.OperatorInterventionError,
)  # fmt: skip (shutdown, crash)

# reloads the mirror over the given connection: the rows of these keys, or all (None)
Reload = Callable[[Any, "set[str] | None"], Awaitable[None]]


class PgBridge:
    """One process's PostgreSQL connections and thread; :meth:`close` ends both."""

    def __init__(self, url: str, timeout: float, sync_timeout: float) -> None:
        self.url = url
        self.timeout = timeout
        self.sync_timeout = sync_timeout
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="ocn-pg", daemon=True)
        self._thread.start()
        self._reload: Reload | None = None
        self._seen = 0  # newest change generation announced to our listener
        self._changed: set[str] | None = None  # keys changed since the last reload (None: all)
        self._acked: dict[int, int] = {}  # listener backend pid -> newest generation applied
        self._listener_pid = 0  # our listener's backend pid while connected (0: not connected)
        self._acks: asyncio.Event | None = None
        self._dirty: asyncio.Event | None = None
        self._tasks: list[asyncio.Future[Any]] = []
        self._held = False
        self._leading = False
        self._closed = False
        try:
            self.pool: Any = self.call(self._open_pool())
        except BaseException:
            self.loop.call_soon_threadsafe(self.loop.stop)
            raise

    # --- calls from the node's thread -------------------------------------------------------

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the bridge's loop and wait; unreachable database → StateUnavailable."""
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(self.timeout if timeout is None else timeout)
        except TimeoutError:
            future.cancel()
            raise StateUnavailable("the state database did not answer in time") from None
        except _UNREACHABLE as exc:
            raise StateUnavailable(f"the state database is unreachable: {exc}") from None

    def fetch(self, query: str, *args: Any) -> list[Any]:
        return self.call(self._with_conn(lambda c: c.fetch(query, *args)))

    def fetchval(self, query: str, *args: Any) -> Any:
        return self.call(self._with_conn(lambda c: c.fetchval(query, *args)))

    def write(self, work: Callable[[Any], Awaitable[T]]) -> T:
        """``work(conn)`` in one committed transaction (synchronous commit: durable)."""
        return self.call(self._transaction(work, None))

    def change(self, keys: list[str], work: Callable[[Any], Awaitable[T]]) -> T:
        """A write that changes the mirror's rows of ``keys`` (platform ids): committed,
        announced, applied by every replica before it returns."""
        return self.call(self._transaction(work, keys), self.timeout + self.sync_timeout)

    def start(self, reload: Reload) -> None:
        """Migrate, then start the listener; returns once the mirror is loaded."""
        self._reload = reload
        self.call(self._start())

    def start_leading(self) -> None:
        """Campaign for the background-jobs lock (once per process; :attr:`leader` tells)."""
        if not self._leading:
            self._leading = True
            self.loop.call_soon_threadsafe(self._spawn, self._lead_forever())

    @property
    def leader(self) -> bool:
        return self._held

    def close(self) -> None:
        """Close the connections and stop the thread (idempotent)."""
        if self._closed:
            return
        self._closed = True
        try:
            self.call(self._close(), timeout=5)
        except StateUnavailable:
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive():
            self.loop.close()

    # --- on the bridge's loop ---------------------------------------------------------------

    async def _open_pool(self) -> Any:
        self._acks, self._dirty = asyncio.Event(), asyncio.Event()
        return await asyncpg.create_pool(
            self.url,
            min_size=1,
            max_size=4,
            timeout=self.timeout,
            command_timeout=self.timeout,
            server_settings={"synchronous_commit": "on", "application_name": "ocn-node"},
        )

    async def _with_conn(self, work: Callable[[Any], Awaitable[T]]) -> T:
        async with self.pool.acquire() as conn:
            return await work(conn)

    async def _start(self) -> None:
        async with self.pool.acquire() as conn:
            await upgrade(conn)
        loaded = asyncio.Event()
        self._spawn(self._listen_forever(loaded))
        await asyncio.wait_for(loaded.wait(), self.timeout)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        self._tasks.append(asyncio.ensure_future(coro))

    async def _transaction(self, work: Callable[[Any], Awaitable[T]], keys: list[str] | None) -> T:
        """``work`` in one transaction; with ``keys``, announced as a change of those keys
        (payload ``<generation>:<key> <key>…``) and awaited on every replica."""
        async with self.pool.acquire() as conn, conn.transaction():
            if keys is not None:
                await conn.execute("SELECT pg_advisory_xact_lock($1)", WRITE_LOCK)
            result = await work(conn)
            if keys is not None:
                row = await conn.fetchrow(
                    "SELECT g, pg_notify($1, g::text || ':' || $3), (SELECT array_agg(pid)"
                    " FROM pg_stat_activity WHERE application_name = $2"
                    " AND datname = current_database()) FROM"
                    " (SELECT nextval('ocn_state_generation') AS g) AS s",
                    CHANGES,
                    LISTENER_APP,
                    " ".join(keys),
                )
        if keys is not None:
            await self._applied_everywhere(int(row[0]), set(row[2] or ()))
        return result

    async def _applied_everywhere(self, generation: int, listeners: set[int]) -> None:
        """Wait until each listener connected at commit has applied ``generation``."""
        assert self._acks is not None
        if self._listener_pid not in listeners and self._reload is not None:
            async with self.pool.acquire() as conn:  # our listener is away: reload ourselves
                await self._reload(conn, None)
        deadline = time.monotonic() + self.sync_timeout
        while True:
            missing = {p for p in listeners if self._acked.get(p, 0) < generation}
            if not missing:
                return
            left = deadline - time.monotonic()
            if left <= 0:
                log.warning("state_sync_timeout", generation=generation, listeners=sorted(missing))
                return
            self._acks.clear()
            try:
                await asyncio.wait_for(self._acks.wait(), left)
            except TimeoutError:
                pass

    def _on_change(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        assert self._dirty is not None
        generation, _, keys = payload.partition(":")
        self._seen = max(self._seen, int(generation))
        if self._changed is not None:
            self._changed.update(keys.split())
        self._dirty.set()

    def _on_ack(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        assert self._acks is not None
        pid, _, generation = payload.partition(":")
        key = int(pid)
        self._acked[key] = max(self._acked.get(key, 0), int(generation))
        self._acks.set()

    async def _listen_forever(self, loaded: asyncio.Event) -> None:
        assert self._dirty is not None
        assert self._reload is not None
        delay = 0.05
        while True:
            conn = None
            try:
                conn = await asyncpg.connect(
                    self.url,
                    timeout=self.timeout,
                    server_settings={"application_name": LISTENER_APP},
                )
                lost = _lost_event(conn)
                await conn.add_listener(CHANGES, self._on_change)
                await conn.add_listener(ACKS, self._on_ack)
                pid = conn.get_server_pid()
                self._changed = None  # connected (again): notifications may have been missed
                while True:  # reload (in full the first time), acknowledge, wait for more
                    self._dirty.clear()
                    target = self._seen
                    changed: set[str] | None = self._changed
                    self._changed = set()
                    await self._reload(conn, changed)
                    if not self._listener_pid:
                        self._listener_pid = pid
                        log.info("state_listening", pid=os.getpid(), backend=pid)
                    loaded.set()
                    delay = 0.05
                    if target:
                        await conn.execute("SELECT pg_notify($1, $2)", ACKS, f"{pid}:{target}")
                    await _first(self._dirty, lost)  # no wake-up while nothing happens
                    if lost.is_set():
                        raise ConnectionError("listener connection closed")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._listener_pid:
                    log.warning("state_listener_lost", pid=os.getpid(), error=str(exc))
                self._listener_pid = 0
            finally:
                if conn is not None and not conn.is_closed():
                    conn.terminate()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    async def _lead_forever(self) -> None:
        """Wait in PostgreSQL for the lock (granted the moment its holder's session ends), then
        hold it while this session lives."""
        while True:
            conn = None
            try:
                conn = await asyncpg.connect(
                    self.url, timeout=self.timeout, server_settings={"application_name": LEADER_APP}
                )
                lost = _lost_event(conn)
                await conn.execute(f"SELECT pg_advisory_lock({LEADER_LOCK})", timeout=None)
                self._held = True
                log.info("leadership_acquired", pid=os.getpid())
                await lost.wait()
                raise ConnectionError("leader connection closed")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._held:
                    log.warning("leadership_lost", pid=os.getpid(), error=str(exc))
                self._held = False
            finally:
                if conn is not None and not conn.is_closed():
                    conn.terminate()
            await asyncio.sleep(LEAD_INTERVAL)

    async def _close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except BaseException:
                pass
        self._held = False
        await self.pool.close()


def _lost_event(conn: Any) -> asyncio.Event:
    """Set when ``conn`` closes (asyncpg's termination listener)."""
    lost = asyncio.Event()
    conn.add_termination_listener(lambda _conn: lost.set())
    return lost


async def _first(*events: asyncio.Event) -> None:
    """Return once any of ``events`` is set."""
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
