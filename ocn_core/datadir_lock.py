"""One node per data dir: an exclusive ``flock`` on ``<data_dir>/node.lock`` while it runs.

Only the serving commands (``ocn-node run`` with the embedded core, ``ocn-node core``) take it:
admin and registry commands open the same LMDB file concurrently, which LMDB allows.
The lock dies with the process (and its forked workers), so a crash never leaves it stale.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

LOCK_NAME = "node.lock"


class DataDirInUse(RuntimeError):
    """Another running node holds the data dir."""


class DataDirLock:
    """The held lock; :meth:`release` (or process exit) frees it."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd = fd

    def release(self) -> None:
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = -1


def lock_data_dir(data_dir: Path) -> DataDirLock:
    """Take the data dir's lock or raise :class:`DataDirInUse` naming the holder's pid."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise DataDirInUse(
            f"data dir {data_dir} is in use by another running node (pid {holder}); "
            "stop that node or start this one with another --data-dir"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return DataDirLock(path, fd)
