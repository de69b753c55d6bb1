"""``ocn-node run --workers 2``: one port, connections balanced over the workers, one LMDB."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.node import free_port

API_KEY = "workers-test-admin-key"


@pytest.fixture
def node(tmp_path: Path) -> Iterator[int]:
    port = free_port()
    argv = [sys.executable, "-m", "ocpi_gateway.cli", "run", "--data-dir", str(tmp_path),
            "--port", str(port), "--public-url", f"http://127.0.0.1:{port}", "--workers", "2",
            "--log-level", "warning"]  # fmt: skip
    env = dict(os.environ, OCN_API_KEY=API_KEY)
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_ready(port, proc)
        yield port
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        assert _refused(port), "the port is still served after SIGTERM"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _wait_ready(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"node exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        try:
            workers = {_worker_of(_connect(port)) for _ in range(4)}
        except OSError:
            time.sleep(0.1)
            continue
        if len(workers) == 2:  # both workers answer
            time.sleep(0.2)  # let the parent count the probes' closed connections
            return
        time.sleep(0.1)
    raise TimeoutError("node did not start")


def _refused(port: int) -> bool:
    try:
        _connect(port).request("GET", "/health")
    except OSError:
        return True
    return False


def _connect(port: int) -> http.client.HTTPConnection:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.connect()
    return conn


def _get(conn: http.client.HTTPConnection, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
    conn.request("GET", path, headers=headers)
    resp = conn.getresponse()
    return resp.status, resp.read()


def _worker_of(conn: http.client.HTTPConnection) -> int:
    status, body = _get(conn, "/health/details", {})
    assert status == 200
    return int(json.loads(body)["worker_pid"])


def test_connections_are_spread_evenly_and_freed_slots_are_refilled(node: int) -> None:
    conns = [_connect(node) for _ in range(6)]
    owner = [_worker_of(c) for c in conns]
    assert sorted(Counter(owner).values()) == [3, 3]
    # every request on a kept-alive connection stays on its worker
    assert [_worker_of(c) for c in conns] == owner

    busy, other = owner[0], next(pid for pid in owner if pid != owner[0])
    for conn, pid in zip(conns, owner, strict=True):
        if pid == busy:
            conn.close()
    time.sleep(0.3)  # the worker reports the closed connections to the parent
    fresh = [_connect(node) for _ in range(3)]
    assert [_worker_of(c) for c in fresh] == [busy, busy, busy]
    assert other != busy
    for conn in fresh + conns:
        conn.close()


def test_workers_share_one_node_state(node: int) -> None:
    a, b = _connect(node), _connect(node)
    assert _worker_of(a) != _worker_of(b)
    a.request(
        "POST",
        "/admin/generate-registration-token",
        body=json.dumps([{"country_code": "DE", "party_id": "CPO", "role": "CPO"}]),
        headers={"Authorization": f"Token {API_KEY}", "Content-Type": "application/json"},
    )
    created = a.getresponse()
    assert created.status == 200
    token_a = json.loads(created.read())["token"]
    # token A, issued through one worker, is accepted by the other one
    status, body = _get(b, "/ocpi/versions", {"Authorization": f"Token {token_a}"})
    assert status == 200, body
    assert json.loads(body)["status_code"] == 1000
    status, _ = _get(b, "/ocpi/versions", {"Authorization": "Token not-issued"})
    assert status == 401
    a.close()
    b.close()
