"""A real ``ocn-node`` subprocess on 127.0.0.1 for async tests (parties run in the test's loop)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from tests.support.node import free_port

API_KEY = "node-process-test-admin-key"


@dataclass
class NodeProcess:
    url: str
    data_dir: Path
    proc: subprocess.Popen[bytes]
    api_key: str = API_KEY

    @property
    def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.api_key}"}

    async def admin(self, method: str, path: str, body: Any = None) -> Any:
        async with (
            aiohttp.ClientSession() as http,
            http.request(method, self.url + path, json=body, headers=self.admin_headers) as r,
        ):
            assert r.status == 200, await r.text()
            return await r.json()

    async def list_party(self, country_code: str, party_id: str, roles: list[str]) -> None:
        listing = {"country_code": country_code, "party_id": party_id, "roles": roles}
        await self.admin("POST", "/admin/registry/parties", listing)

    async def token_a(self, country_code: str, party_id: str) -> str:
        roles = [{"country_code": country_code, "party_id": party_id}]
        grant = await self.admin("POST", "/admin/generate-registration-token", roles)
        return str(grant["token"])


@contextlib.asynccontextmanager
async def node_process(
    tmp: Path, *args: str, env: dict[str, str] | None = None, port: int = 0
) -> AsyncIterator[NodeProcess]:
    """``ocn-node run --port P ... *args`` until the block ends (then SIGTERM, exit 0)."""
    port = port or free_port()
    data_dir = tmp / f"node-{port}"
    argv = [sys.executable, "-m", "ocpi_gateway.cli", "run", "--data-dir", str(data_dir),
            "--public-url", f"http://127.0.0.1:{port}", "--port", str(port),
            "--log-level", "warning", *args]  # fmt: skip
    log = tmp / f"node-{port}.log"
    proc = spawn(argv, log, env)
    node = NodeProcess(f"http://127.0.0.1:{port}", data_dir, proc)
    try:
        await wait_http(node.url + "/health", proc, log)
        yield node
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def spawn(argv: list[str], log: Path, env: dict[str, str] | None) -> subprocess.Popen[bytes]:
    """Start ``argv`` with the test admin key, its output in ``log``."""
    full_env = dict(os.environ, OCN_API_KEY=API_KEY, **(env or {}))
    with log.open("wb") as out:
        return subprocess.Popen(argv, env=full_env, stdout=out, stderr=subprocess.STDOUT)


def _tail(log: Path) -> str:
    return log.read_text()[-2000:]


async def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Poll ``url`` until it answers 200 (the process must stay alive meanwhile)."""
    deadline = time.monotonic() + 30
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"process exited: {_tail(log)}")
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(url) as resp:
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise TimeoutError(f"{url} did not answer")
