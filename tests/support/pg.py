"""A throw-away PostgreSQL server on 127.0.0.1 (Debian's binaries), for tests and benchmarks.

``initdb`` + ``pg_ctl`` in a temporary directory on a free port, trust authentication for the
loopback only. PostgreSQL refuses to run as root: under root the server runs as the
``postgres`` system user (created by Debian's package) through ``runuser``, and the directory is
handed to that user.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from benchmarks.procs import free_port, wait_port

DEBIAN_PACKAGE = "postgresql"


def bin_dir() -> Path | None:
    """Where ``initdb``/``pg_ctl`` live: on PATH, or Debian's versioned directory (newest)."""
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).resolve().parent
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return Path(versions[-1]).parent if versions else None


def available() -> str | None:
    """None when a server can be started here, else why not (tests skip with this reason)."""
    if bin_dir() is None:
        return f"PostgreSQL not installed (apt-get install {DEBIAN_PACKAGE}; make setup)"
    if os.geteuid() == 0 and _user_id("postgres") is None:
        return "running as root without a 'postgres' user to run the server as"
    return None


def _user_id(name: str) -> tuple[int, int] | None:
    import pwd

    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return None
    return entry.pw_uid, entry.pw_gid


class PgServer:
    """One server: ``init().start()``, :meth:`stop` (start again: same data and port), :meth:`close`
    (stop and delete its directory)."""

    def __init__(self, database: str = "ocn") -> None:
        found = bin_dir()
        if found is None:
            raise RuntimeError(available() or "PostgreSQL not installed")
        self.bin = found
        # its own directory under the system temp dir: the server user must reach it, and
        # pytest's per-user temp dirs are closed to other users
        self.root = Path(tempfile.mkdtemp(prefix="ocn-pg-"))
        self.data = self.root / "pgdata"
        self.sockets = self.root / "sock"
        self.log = self.root / "postgres.log"
        self.port = free_port()
        self.database = database
        self._owner = _user_id("postgres") if os.geteuid() == 0 else None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{self.database}"

    def _run(self, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bin / argv[0]), *argv[1:]]
        if self._owner is not None:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, check=True, cwd="/"
        )

    def init(self) -> PgServer:
        self.root.mkdir(parents=True, exist_ok=True)
        self.sockets.mkdir(exist_ok=True)
        if self._owner is not None:
            for path in (self.root, self.sockets):
                os.chown(path, *self._owner)
            self.root.chmod(0o700)
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
            "--no-instructions",
        )  # fmt: skip
        return self

    def start(self) -> PgServer:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.sockets}"
            " -c fsync=on -c synchronous_commit=on -c max_connections=200"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")
        self._wait()
        if not getattr(self, "_created", False):
            self.create_database(self.database)
            self._created = True
        return self

    def create_database(self, name: str) -> str:
        """A new empty database on this server; returns its URL."""
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        return self.url.rsplit("/", 1)[0] + "/" + name

    def _wait(self, timeout: float = 30) -> None:
        try:
            wait_port(self.port, None, timeout)
        except RuntimeError:
            raise RuntimeError(
                f"PostgreSQL did not listen on {self.port}: {self.log.read_text()}"
            ) from None

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def close(self) -> None:
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass  # already stopped
        shutil.rmtree(self.root, ignore_errors=True)
