"""Replay guard for ``/ocn/message``: (sending node, request id) is accepted once per window.

Claims live in their own LMDB environment (``<data dir>/replay``), shared by every worker (LMDB
serialises the writers, so two workers cannot both accept one message). Unlike the node state,
this environment does not fsync every claim (that costs ~180 µs per message here): a thread of
the guard's own syncs it within a second of a claim (the event loop never waits for the disk),
and closing syncs too. A crash of the process loses nothing; a power loss at most the last
second of claims.
"""

from __future__ import annotations

import os
import struct
import threading
import time
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
        self._dirty = False  # a claim since the last sync
        self._stop = threading.Event()
        self._syncer: threading.Thread | None = None
        self._syncer_pid = 0  # (a thread does not survive a fork: the child starts its own)

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
        self._changed()
        return True

    def _changed(self) -> None:
        """A write to sync: the guard's thread (started in this process if need be) syncs it
        within a second."""
        self._dirty = True
        if self._syncer_pid != os.getpid():
            self._syncer_pid = os.getpid()
            self._syncer = threading.Thread(target=self._sync_loop, name="replay-sync", daemon=True)
            self._syncer.start()

    def _sync_loop(self) -> None:
        """Every second, sync the claims made since the last sync (py-lmdb lets go of the GIL
        while the disk works)."""
        while not self._stop.wait(_FLUSH_EVERY):
            if self._dirty:
                self._dirty = False
                try:
                    self.env.sync(True)
                except lmdb.Error as exc:
                    self._dirty = True
                    log.error("replay_guard_sync_failed", error=repr(exc))

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
        self._changed()
        return removed

    def close(self) -> None:
        self._stop.set()
        if self._syncer is not None and self._syncer_pid == os.getpid():
            self._syncer.join()  # a sync in flight finishes before the close
        self.env.sync(True)
        self.env.close()
