"""Replay guard for ``/ocn/message``: (sending node, request id) is accepted once per window.

Claims live in their own LMDB environment (``<data dir>/replay``), shared by every worker (LMDB
serialises the writers, so two workers cannot both accept one message). Unlike the node state,
this environment does not fsync every claim (that costs ~180 µs per message here): the first claim
a second or more after the last sync starts one (in a thread of its own: the event loop keeps
serving), as do the periodic cleanup and closing. A crash of the process loses nothing; a power
loss the claims since the last sync (under traffic, about a second of them).
"""

from __future__ import annotations

import struct
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import lmdb
import structlog

log = structlog.get_logger(__name__)
_FLUSH_EVERY = 1.0
_EXPIRY = struct.Struct(">d")


class ReplayGuard:
    def __init__(self, path: Path, window: float, map_size: int = 1 << 30) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self.window = window
        # (no writemap: it would save ~3 µs per claim, but with unsynced commits a power loss
        # could then corrupt the environment instead of losing its last second of claims)
        self.env: Any = lmdb.open(
            str(path), map_size=map_size, max_dbs=2, sync=False, metasync=False
        )
        self.seen = self.env.open_db(b"seen")
        self.expiry = self.env.open_db(b"expiry")
        self._flushed = time.monotonic()
        self._syncer = ThreadPoolExecutor(1, thread_name_prefix="replay-sync")
        self._syncing: Future[None] | None = None

    def claim(self, node: str, request_id: str, now: float | None = None) -> bool:
        """True the first time ``node`` sends ``request_id`` within the window, else False."""
        now = time.time() if now is None else now
        key = node.lower().encode() + b"\x00" + request_id.encode()
        expires = _EXPIRY.pack(now + self.window)
        with self.env.begin(write=True) as txn:
            if not txn.put(key, expires, db=self.seen, overwrite=False):  # seen before
                if _EXPIRY.unpack(txn.get(key, db=self.seen))[0] > now:
                    return False
                txn.put(key, expires, db=self.seen)  # that claim has expired
            txn.put(expires + key, b"", db=self.expiry)
        if time.monotonic() - self._flushed >= _FLUSH_EVERY:
            self._flushed = time.monotonic()
            self._flush()
        return True

    def _flush(self) -> None:
        """Sync the claims to disk in this guard's thread (a sync takes milliseconds: the
        event loop keeps serving); one at a time."""
        if self._syncing is None or self._syncing.done():
            self._syncing = self._syncer.submit(self.env.sync, True)
            self._syncing.add_done_callback(_log_failure)

    def cleanup(self, now: float | None = None) -> int:
        """Forget claims older than the window; returns how many."""
        limit = _EXPIRY.pack(time.time() if now is None else now)
        removed = 0
        with self.env.begin(write=True) as txn:
            cursor = txn.cursor(db=self.expiry)
            if not cursor.first():
                return 0
            while cursor.key() and cursor.key()[:8] < limit:
                key = cursor.key()[8:]
                value = txn.get(key, db=self.seen)
                if value is not None and value <= cursor.key()[:8]:
                    txn.delete(key, db=self.seen)
                removed += 1
                if not cursor.delete():
                    break
        self._flush()
        return removed

    def close(self) -> None:
        self._syncer.shutdown(wait=True)  # a sync in flight finishes before the close
        self.env.sync(True)
        self.env.close()


def _log_failure(sync: Future[None]) -> None:
    if not sync.cancelled() and (exc := sync.exception()) is not None:
        log.error("replay_guard_sync_failed", error=repr(exc))
