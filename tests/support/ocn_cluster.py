"""Nodes as real ``ocn-node run`` processes on one anvil chain, listed with the real
``ocn-registry`` CLI (npm ``@shareandcharge/ocn-registry``), for the federation tests."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account

from tests.support.node import free_port

# anvil's well-known development keys (public test data), accounts #1.. (#0 deploys)
ANVIL_KEYS = [
    "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    "92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
    "4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
    "dbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
    "2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
]


class RegistryCli:
    """The reference ``ocn-registry`` CLI pointed at our anvil and contracts."""

    def __init__(self, peers: Path, rpc_port: int, registry: str, permissions: str, tmp: Path):
        self.binary = peers / ".bin" / "ocn-registry"
        self.network = tmp / "ocn-network.json"
        overrides = {
            "provider": {"protocol": "http", "host": "127.0.0.1", "port": rpc_port},
            "contracts": {
                "Registry": {"address": registry},
                "Permissions": {"address": permissions},
            },
        }
        self.network.write_text(json.dumps(overrides))

    def run(self, *args: str, signer: str) -> str:
        argv = [
            str(self.binary),
            *args,
            "--signer",
            "0x" + signer,
            "--network-file",
            str(self.network),
        ]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr + done.stdout
        return done.stdout

    def set_node(self, url: str, key: str) -> None:
        self.run("set-node", url, signer=key)

    def set_party(self, cc: str, pid: str, roles: list[str], operator: str, key: str) -> None:
        self.run("set-party", "--credentials", cc, pid, "--roles", *roles, "--operator", operator,
                 signer=key)  # fmt: skip

    def set_service(self, name: str, permissions: list[str], key: str) -> None:
        self.run("set-service", "--name", name, "--url", "https://service.example",
                 "--permissions", *permissions, signer=key)  # fmt: skip

    def agreement(self, provider: str, key: str, revoke: bool = False) -> None:
        self.run("revoke-agreement" if revoke else "set-agreement", provider, signer=key)


@dataclass
class NodeProcess:
    """One ``python -m ocpi_gateway.cli run`` with its own data dir and key."""

    key: str
    data_dir: Path
    env: dict[str, str]
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    api_key: str = "fed-admin-key"

    def __post_init__(self) -> None:
        self.port = self.port or free_port()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def address(self) -> str:
        return str(Account.from_key(self.key).address)

    def start(self) -> None:
        argv = [sys.executable, "-m", "ocpi_gateway.cli", "run", "--data-dir", str(self.data_dir),
                "--port", str(self.port), "--public-url", self.url, "--log-level", "warning"]  # fmt: skip
        env = dict(os.environ, **self.env, OCN_PRIVATE_KEY=self.key, OCN_API_KEY=self.api_key)
        self.proc = subprocess.Popen(
            argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise RuntimeError(f"node exited: {err}")
            try:
                details = self.get("/health/details")
            except OSError:
                time.sleep(0.1)
                continue
            if not details["registry"]["stale"]:
                return
            time.sleep(0.1)
        raise TimeoutError("node did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=5) as r:
            return json.loads(r.read())

    def token_a(self, cc: str, pid: str) -> str:
        req = urllib.request.Request(
            self.url + "/admin/generate-registration-token",
            data=json.dumps([{"country_code": cc, "party_id": pid}]).encode(),
            headers={"Authorization": f"Token {self.api_key}", "Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=5) as r:
            return str(json.loads(r.read())["token"])


async def eventually(check: Any, timeout: float = 30.0) -> Any:
    """Await ``check()`` until it returns something other than None (polled every 0.2 s)."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result is not None:
            return result
        assert time.monotonic() < deadline, "not reached in time"
        await asyncio.sleep(0.2)


def node_env(rpc_url: str, registry: str, permissions: str, **extra: str) -> dict[str, str]:
    """Settings of a node following the chain at ``rpc_url`` (fast polls, loopback allowed)."""
    return {
        "OCN_REGISTRY": "ethereum",
        "OCN_RPC_URL": rpc_url,
        "OCN_REGISTRY_ADDRESS": registry,
        "OCN_PERMISSIONS_ADDRESS": permissions,
        "OCN_REGISTRY_POLL_INTERVAL": "0.5",
        "OCN_ALLOW_LOOPBACK_URLS": "1",
        **extra,
    }
