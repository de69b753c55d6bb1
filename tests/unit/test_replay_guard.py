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
