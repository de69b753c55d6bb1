"""The node's single LMDB environment.

One environment per process (opened after any fork), shared by the node state, the registry
cache and the proxy resources. Each concern owns named sub-databases; byte layouts live in the
owning module's codec. Writes commit with fsync (LMDB's default ``sync=True``), so a change is
durable before the caller acknowledges it.
"""

from __future__ import annotations

import mmap
import os
import time
from pathlib import Path
from typing import Any, TypeVar

import lmdb

DEFAULT_MAP_SIZE = 4 << 30  # 4 GiB of address space; the file grows only as data is written
MAX_DBS = 64
SCHEMA_VERSION = b"1"
ROUTING_GENERATION = b"routing_generation"  # in "meta": bumped by every write routing reads
GENERATION_FILE = "routing-generation"  # the generation announced to every process (8 bytes)
NO_GENERATION = bytes(8)  # the generation before the first routing write
UNREAD = b"-"  # a memo's generation before it read one
MEMO_RECHECK_S = 1.0  # a memo reads LMDB's routing generation at least this often
MEMO_SIZE = 4096  # entries per memo table (a full table starts over)

K = TypeVar("K")
V = TypeVar("V")


class Store:
    """Owns the LMDB environment and hands out named databases."""

    def __init__(self, path: str | os.PathLike[str], map_size: int = DEFAULT_MAP_SIZE) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.env: Any = lmdb.open(
            str(self.path),
            map_size=map_size,
            max_dbs=MAX_DBS,
            max_readers=1024,
            subdir=True,
            sync=True,
            metasync=True,
            lock=True,
        )
        self._dbs: dict[bytes, Any] = {}
        self._meta = self.db("meta")
        self._announced = _shared_word(self.path / GENERATION_FILE)
        self._check_schema()

    def db(self, name: str) -> Any:
        """The named sub-database ``name`` (created on first use)."""
        key = name.encode()
        handle = self._dbs.get(key)
        if handle is None:
            handle = self.env.open_db(key, create=True)
            self._dbs[key] = handle
        return handle

    def _check_schema(self) -> None:
        meta = self.db("meta")
        with self.env.begin(write=True, db=meta) as txn:
            found = txn.get(b"schema")
            if found is None:
                txn.put(b"schema", SCHEMA_VERSION)
            elif found != SCHEMA_VERSION:
                raise RuntimeError(
                    f"LMDB at {self.path} has schema {found!r}, this node needs {SCHEMA_VERSION!r}"
                )
            # under the writers' lock: no bump of another process can be overwritten
            self._announced[:] = txn.get(ROUTING_GENERATION) or NO_GENERATION

    def routing_generation(self, txn: Any) -> bytes | None:
        """The routing generation seen by ``txn`` (None before the first routing write).

        Memos of routing decisions stay valid while it does not change: writes that change
        routing (platforms, tokens C, roles, endpoints, registry entries) bump it in their own
        transaction; proxy resources, registration tokens and status bookkeeping do not.
        """
        return txn.get(ROUTING_GENERATION, db=self._meta)  # type: ignore[no-any-return]

    def bump_routing_generation(self, txn: Any) -> None:
        """Mark a routing change inside the write transaction ``txn`` (any process sees it).

        The new generation is announced (:meth:`announced_generation`) before it commits, so
        a memo whose generation still equals the announced one cannot be older than LMDB.
        """
        raw = txn.get(ROUTING_GENERATION, db=self._meta)
        n = int.from_bytes(raw, "big") + 1 if raw else 1
        new = n.to_bytes(8, "big")
        self._announced[:] = new
        txn.put(ROUTING_GENERATION, new, db=self._meta)

    def announced_generation(self) -> bytes:
        """The routing generation last announced by a writer of any process, without a read
        transaction: equal to the one a memo was read under, the memo holds (while a write is
        under way, or after one was aborted, it is ahead of LMDB: then read LMDB)."""
        return self._announced[:]

    def close(self) -> None:
        self._announced.close()
        self.env.close()


class GenerationMemo:
    """Tables of answers read under one routing generation of ``store``, dropped together
    when it moves.

    The memo holds while its generation equals the one the store's writers announced (no read
    transaction) and LMDB's was read within MEMO_RECHECK_S (a writer that does not announce,
    such as an older release during an upgrade, is seen within that time).
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._announced = store._announced  # (announced_generation() without its frame)
        self.generation: bytes | None = UNREAD  # None: LMDB has none yet
        self.checked = 0.0  # when LMDB's generation was last read
        self._tables: list[dict[Any, Any]] = []

    def table(self) -> dict[Any, Any]:
        """A new table, kept and dropped with this memo's generation."""
        table: dict[Any, Any] = {}
        self._tables.append(table)
        return table

    def holds(self) -> bool:
        """The tables are current by the announced generation (no read transaction)."""
        return (
            self._announced[:] == (self.generation or NO_GENERATION)
            and time.monotonic() < self.checked + MEMO_RECHECK_S
        )

    def sync(self, txn: Any) -> bool:
        """Read LMDB's generation in ``txn``: whether the tables still hold (when it moved,
        they are dropped and restart at it)."""
        self.checked = time.monotonic()
        return self.at(self.store.routing_generation(txn))

    def at(self, generation: bytes | None) -> bool:
        """Follow ``generation`` read elsewhere: whether the tables still hold."""
        if generation == self.generation:
            return True
        self.forget()
        self.generation = generation
        return False

    def current(self) -> bool:
        """:meth:`holds`, else :meth:`sync` in a short read transaction."""
        if (  # holds(), inline: once per routed request
            self._announced[:] == (self.generation or NO_GENERATION)
            and time.monotonic() < self.checked + MEMO_RECHECK_S
        ):
            return True
        with self.store.env.begin() as txn:
            return self.sync(txn)

    def forget(self) -> None:
        """Drop every table: the next read goes to LMDB (as after a write)."""
        for table in self._tables:
            table.clear()
        self.generation = UNREAD


def remember(table: dict[K, V], key: K, value: V, size: int = MEMO_SIZE) -> None:
    """Put ``key`` in the memo ``table`` (a full table starts over: memos stay bounded)."""
    if len(table) >= size:
        table.clear()
    table[key] = value


def _shared_word(path: Path) -> mmap.mmap:
    """Eight bytes in ``path`` (created zeroed), mapped shared: every process sees each write."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)  # (as LMDB's own files)
    try:
        if os.fstat(fd).st_size < len(NO_GENERATION):
            os.ftruncate(fd, len(NO_GENERATION))
        return mmap.mmap(fd, len(NO_GENERATION))
    finally:
        os.close(fd)
