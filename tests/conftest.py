"""Shared fixtures: a fresh LMDB store per test, a PostgreSQL server per module, the npm peers."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from ocn_core.store import Store
from tests.support import pg
from tests.support.pg import PgServer
from tests.support.require import missing

PEERS = Path(__file__).parent / "peers" / "node_modules"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "lmdb", map_size=64 << 20)
    yield s
    s.close()


@pytest.fixture(scope="module")
def pg_server() -> Iterator[PgServer]:
    """A PostgreSQL server on 127.0.0.1 shared by the tests of one module (Debian's package)."""
    reason = pg.available()
    if reason:
        missing(reason)
    server = PgServer().init().start()
    yield server
    server.close()


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """An empty database of its own on the module's server."""
    return pg_server.create_database("t" + secrets.token_hex(6))


@pytest.fixture(scope="session")
def peers() -> Path:
    """node_modules with the pinned reference packages; installed by `make test-deps`."""
    if not (PEERS / "@shareandcharge" / "ocn-notary").is_dir():
        missing("npm test peers missing: run `make test-deps`")
    return PEERS
