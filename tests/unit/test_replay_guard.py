"""The /ocn/message replay guard keeps its claims across a crash (issue 12.2)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from ocn_core.federation.replay import ReplayGuard


def test_replay_claims_survive_a_crashed_process(tmp_path: Path) -> None:
    """A claim made by a process that dies without closing anything is still there."""
    code = (
        "import os, sys; from pathlib import Path; "
        "from ocn_core.federation.replay import ReplayGuard; "
        "g = ReplayGuard(Path(sys.argv[1]), 3600.0); "
        "assert g.claim('0xAbC', 'rid-1'); os._exit(0)"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "replay")], check=True)
    guard = ReplayGuard(tmp_path / "replay", 3600.0)
    try:
        assert not guard.claim("0xabc", "rid-1")  # same node (any case), same id
        assert guard.claim("0xabc", "rid-2")
        assert guard.claim("0xdef", "rid-1")
        assert guard.cleanup(now=time.time() + 7200) == 3  # expired claims are dropped
        assert guard.claim("0xabc", "rid-1")
    finally:
        guard.close()


def test_an_expired_claim_is_claimed_again_and_a_thread_syncs_claims(tmp_path: Path) -> None:
    """A claim past its window is accepted again without a cleanup first; the guard's own
    thread syncs new claims within about a second, and close() stops it."""
    guard = ReplayGuard(tmp_path / "replay", 60.0)
    try:
        assert guard.claim("0xabc", "rid-1")
        assert not guard.claim("0xabc", "rid-1", now=time.time() + 30)
        assert guard.claim("0xabc", "rid-1", now=time.time() + 120)  # its window has passed
        assert not guard.claim("0xabc", "rid-1", now=time.time() + 150)  # claimed anew
        assert guard.claim("0xabc", "rid-2")
        syncer = guard._syncer
        assert syncer is not None
        assert syncer.is_alive()
        deadline = time.monotonic() + 10
        while guard._dirty and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not guard._dirty  # synced by the thread, not by a later claim
    finally:
        guard.close()
    assert not syncer.is_alive()
    reopened = ReplayGuard(tmp_path / "replay", 60.0)
    try:
        assert not reopened.claim("0xabc", "rid-2")
    finally:
        reopened.close()
