"""Shared fixtures: a fresh LMDB store per test and the real npm test peers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ocn_core.store import Store

PEERS = Path(__file__).parent / "peers" / "node_modules"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "lmdb", map_size=64 << 20)
    yield s
    s.close()


@pytest.fixture(scope="session")
def peers() -> Path:
    """node_modules with the pinned reference packages; installed by `make test-deps`."""
    if not (PEERS / "@shareandcharge" / "ocn-notary").is_dir():
        if os.environ.get("CI"):
            pytest.fail("npm test peers missing: run `make test-deps`")
        pytest.skip("npm test peers missing: run `make test-deps`")
    return PEERS
