"""The node under test as a real process tree: ``ocn-node run --workers N`` on 127.0.0.1."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks import handshake, payloads, procs


@dataclass
class NodeProc:
    port: int
    proc: subprocess.Popen[bytes]
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def start_node(
    run_dir: Path, name: str, workers: int, signatures: bool, upstream: str,
    addresses: dict[str, str] | None = None, metrics: bool = False, log_level: str = "warning",
    env: dict[str, str] | None = None, public_url: str = "", connect: bool = True,
) -> NodeProc:  # fmt: skip
    """Start the node, then (``connect``) connect both parties to it with the credentials
    handshake. ``env``: extra settings (e.g. ``OCN_STATE_URL``, ``OCN_API_KEY`` of replicas).

    Prometheus metrics are off unless ``metrics`` and the log level is ``warning`` unless told
    (the node-metrics and node-log rows measure the cost of the production defaults).
    """
    port = procs.free_port()
    data_dir = run_dir / name / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    api_key = (env or {}).get("OCN_API_KEY") or secrets.token_urlsafe(16)
    full_env = {**os.environ, "OCN_LOG_LEVEL": log_level, "OCN_METRICS": "1" if metrics else "0",
                **(env or {}), "OCN_API_KEY": api_key}  # fmt: skip
    argv = [sys.executable, "-m", "ocpi_gateway.cli", "run", "--data-dir", str(data_dir),
            "--public-url", public_url or f"http://127.0.0.1:{port}", "--port", str(port),
            "--workers", str(workers), "--log-level", log_level]  # fmt: skip
    if signatures:
        argv.append("--signatures")
    proc = procs.start(argv, run_dir / name / "node.log", full_env)
    node = NodeProc(port, proc)
    try:
        procs.wait_port(port, proc)
        if connect:
            node.tokens = handshake.connect_parties(node.url, api_key, upstream, addresses)
    except BaseException:
        procs.stop([proc])
        raise
    return node


def get_location(url: str, headers: dict[str, str]) -> tuple[int, bytes]:
    """One GET of the benchmark Location (through whatever ``url`` points at)."""
    req = urllib.request.Request(url + payloads.NODE_PATH, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()
