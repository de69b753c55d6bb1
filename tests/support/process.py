"""``ocn-node`` as a real subprocess (run / admin / registry / config), its JSON log kept."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.node import free_port

API_KEY = "process-test-admin-key"


def ocn_node(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """One ``ocn-node`` command to completion (its own environment: ``env`` over ours)."""
    return subprocess.run(
        [sys.executable, "-m", "ocpi_gateway", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )


@dataclass
class NodeProcess:
    """``ocn-node run`` on 127.0.0.1 with JSON logs written to ``log_path``."""

    data_dir: Path
    port: int
    log_path: Path
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> list[dict[str, Any]]:
        """Every JSON log line written so far."""
        lines = self.log_path.read_text().splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def events(self, name: str) -> list[dict[str, Any]]:
        return [line for line in self.log() if line.get("event") == name]

    def wait_for(self, name: str, count: int = 1, timeout: float = 20) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            found = self.events(name)
            if len(found) >= count:
                return found
            assert time.monotonic() < deadline, f"no {count}x {name!r} in log:\n{self.text()}"
            time.sleep(0.05)

    def text(self) -> str:
        return self.log_path.read_text()

    def get(self, path: str, timeout: float = 5) -> tuple[int, bytes]:
        req = urllib.request.Request(self.url + path)
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()

    def worker_pid(self) -> int:
        status, body = self.get("/health/details")
        assert status == 200
        return int(json.loads(body)["worker_pid"])

    def admin(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        return admin_call(self.url, method, path, body)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def admin_call(base_url: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """An admin call with the test key: status and the JSON answer (text when it is not JSON,
    e.g. a load balancer's 502 page)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        base_url + path,
        data=data,
        method=method,
        headers={"Authorization": f"Token {API_KEY}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        raw = err.read()
        return err.code, json.loads(raw) if raw.startswith(b"{") else raw.decode()


def start_node(
    data_dir: Path,
    *extra: str,
    workers: int = 2,
    env: dict[str, str] | None = None,
    port: int | None = None,
    wait: bool = True,
    config: Path | None = None,
) -> NodeProcess:
    """Start ``ocn-node run`` and (``wait``) return once ``/health`` answers.

    With ``config`` the data dir and port come from that file (pass the same ones here).
    """
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir.parent / f"{data_dir.name}-{port}.log"
    where = (
        ["--config", str(config)] if config else ["--data-dir", str(data_dir), "--port", str(port)]
    )
    argv = [sys.executable, "-m", "ocpi_gateway", "run", *where,
            "--workers", str(workers), "--log-format", "json", *extra]  # fmt: skip
    full_env = {**os.environ, "OCN_API_KEY": API_KEY, **(env or {})}
    with log_path.open("wb") as log:
        proc = subprocess.Popen(argv, env=full_env, stdout=log, stderr=subprocess.STDOUT)
    node = NodeProcess(data_dir, port, log_path, proc)
    if wait:
        wait_ready(node)
    return node


def wait_ready(node: NodeProcess, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if node.proc.poll() is not None:
            raise RuntimeError(f"node exited with {node.proc.returncode}:\n{node.text()}")
        try:
            if node.get("/health", timeout=1)[0] == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            node.kill()
            raise TimeoutError(f"node did not start:\n{node.text()}")
        time.sleep(0.05)
