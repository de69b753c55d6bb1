"""JSON-lines driver of ``js/notary_peer.js``: the reference ``@shareandcharge/ocn-notary`` as a
test peer (one long-lived node process). Used by the interop tests, the vector generator and the
notary benchmark."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

from tests.support.require import missing

PEER_JS = Path(__file__).parent / "js" / "notary_peer.js"


class NotaryPeer:
    def __init__(self, node_modules: Path) -> None:
        env = {**os.environ, "NODE_PATH": str(node_modules)}
        self.proc = subprocess.Popen(
            ["node", str(PEER_JS)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )

    def __call__(self, **request: Any) -> Any:
        """Send one request, return the peer's answer; RuntimeError if the peer reports one."""
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        answer = json.loads(self.proc.stdout.readline())
        if "error" in answer:
            raise RuntimeError(answer["error"])
        return answer

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


P = TypeVar("P", bound=NotaryPeer)


def running(kind: type[P], node_modules: Path) -> Iterator[P]:
    """A fixture body: the peer for the tests that use it (skipped without ``node``), closed
    after them."""
    if shutil.which("node") is None:
        missing("node is not installed")
    peer = kind(node_modules)
    yield peer
    peer.close()
