"""A node as a real process (``python -m ocpi_gateway.cli run``): start, kill, read its RSS."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks import procs
from tests.support.node import free_port


@dataclass
class NodeProcess:
    proc: subprocess.Popen[bytes]
    port: int
    api_key: str
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rss_kib(self) -> int:
        """Resident set size of the node process (KiB, /proc/<pid>/status)."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS line")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def start_node(
    data_dir: Path, port: int | None = None, api_key: str = "", **env: str
) -> NodeProcess:
    """Start a one-worker node on ``data_dir`` and wait until it accepts connections."""
    port = port or free_port()
    api_key = api_key or secrets.token_urlsafe(16)
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir.parent / f"node-{port}-{time.monotonic_ns()}.log"
    environ = {
        **os.environ,
        "OCN_API_KEY": api_key,
        **{f"OCN_{k.upper()}": v for k, v in env.items()},
    }
    argv = [sys.executable, "-m", "ocpi_gateway.cli", "run", "--data-dir", str(data_dir),
            "--public-url", f"http://127.0.0.1:{port}", "--port", str(port),
            "--log-level", "warning"]  # fmt: skip
    proc = procs.start(argv, log, environ)
    node = NodeProcess(proc, port, api_key, log)
    try:
        procs.wait_port(port, proc)
    except RuntimeError:
        node.stop()
        raise RuntimeError(f"node did not start: {log.read_text()[-2000:]}") from None
    return node
