"""Admin API over HTTP (API key) and the same calls from the CLI; `ocn-node run` on its defaults."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from ocn_core import implementation_report, to_json
from tests.support.hub import CPO, Hub, three_platform_hub
from tests.support.node import free_port


@pytest.fixture
async def hub(tmp_path: Path, core_mode: str) -> AsyncIterator[Hub]:
    async with three_platform_hub(tmp_path, core_mode) as h:
        yield h


async def test_admin_needs_the_api_key(hub: Hub) -> None:
    async with aiohttp.ClientSession() as http:
        for key in (None, "Token wrong"):
            headers = {"Authorization": key} if key else {}
            async with http.get(f"{hub.node.url}/admin/platforms", headers=headers) as r:
                assert r.status == 401
                assert (await r.json())["error"] == "admin_unauthorized"


async def test_platforms_show_and_delete(hub: Hub) -> None:
    status, platforms = await hub.node.admin("GET", "/admin/platforms")
    assert status == 200
    assert len(platforms) == 3
    assert all("token_b" not in p for p in platforms)
    cpo = next(p for p in platforms if p["roles"][0]["party_id"] == "CPO")
    status, shown = await hub.node.admin("GET", f"/admin/platforms/{cpo['id']}")
    assert (status, shown["status"], shown["ocpi_version"]) == (200, "CONNECTED", "2.2.1")
    status, text = await hub.node.admin("GET", "/admin/connection-status/ch/cpo")
    assert (status, text) == (200, "CONNECTED")
    status, _ = await hub.node.admin("DELETE", f"/admin/platforms/{cpo['id']}")
    assert status == 200
    status, body = await hub.node.admin("GET", f"/admin/platforms/{cpo['id']}")
    assert (status, body["error"]) == (404, "admin_not_found")
    status, _ = await hub.node.admin("GET", "/admin/connection-status/CH/CPO")
    assert status == 404
    _, answer, _ = await hub.call(hub.msp, "GET", "/ocpi/sender/2.2/locations/L1", to=CPO)
    assert answer["status_code"] == 4001


async def test_answers_are_the_engines_own_in_both_modes(hub: Hub) -> None:
    engine = hub.node.engine
    status, platforms = await hub.node.admin("GET", "/admin/platforms")
    assert (status, platforms) == (200, to_json(engine.platforms()))
    msp = next(p for p in platforms if p["roles"][0]["party_id"] == "MSP")
    assert (msp["token_b_base64"], msp["created"] > 0) == (False, True)  # version 2.2 peer
    assert msp["roles"][0]["business_details"] == {"name": "DEMSP EMSP"}
    status, shown = await hub.node.admin("GET", f"/admin/platforms/{msp['id']}")
    assert shown == msp
    status, details = await hub.node.admin("GET", "/health/details")
    assert status == 200
    details.pop("worker_pid")
    assert details == to_json(engine.health_details())
    assert details["impl"] == implementation_report()


async def test_token_requests_are_validated(hub: Hub) -> None:
    cases = [
        ([], 400),
        ([{"country_code": "CHE", "party_id": "ABC"}], 400),
        ([{"country_code": "CH", "party_id": "CPO"}], 400),  # already connected
        ([{"country_code": "NL", "party_id": "ABC", "role": "KING"}], 400),
    ]
    for roles, expected in cases:
        status, body = await hub.node.admin("POST", "/admin/generate-registration-token", roles)
        assert status == expected, (roles, body)
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{hub.node.url}/admin/generate-registration-token",
            data=b"{oops",
            headers=hub.node.admin_headers,
        ) as r:
            assert r.status == 400


def _cli(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ocpi_gateway", *args[:1], "--data-dir", str(data_dir), *args[1:]],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_admin_and_registry_commands(tmp_path: Path) -> None:
    data = tmp_path / "node"
    out = _cli("admin", "party", "NL", "ABC", "CPO", data_dir=data)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["party_id"] == "ABC"
    out = _cli("admin", "token", "NL:ABC:CPO", "--ttl", "60", data_dir=data)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["token"]
    out = _cli("admin", "platforms", data_dir=data)
    assert (out.returncode, json.loads(out.stdout)) == (0, [])
    out = _cli("admin", "status", "NL", "ABC", data_dir=data)
    assert out.returncode == 1
    assert json.loads(out.stderr)["error"] == "admin_not_found"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "ocpi_gateway",
            "registry",
            "show-party",
            "nl",
            "abc",
            "--data-dir",
            str(data),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert "ABC" in out.stdout


def test_ocn_node_run_on_embedded_defaults(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "OCN_LOG_FORMAT": "json"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ocpi_gateway",
            "run",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path / "d"),
            "--public-url",
            f"http://127.0.0.1:{port}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        deadline = time.time() + 20
        import urllib.request

        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                    assert r.read() == b"OK"
                    break
            except OSError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.time() < deadline
                time.sleep(0.1)
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/ocn/registry/node-info", timeout=2
        ) as r:
            info = json.loads(r.read())
        assert info["url"] == f"http://127.0.0.1:{port}"
        assert info["address"].startswith("0x")
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0
    events = [json.loads(line)["event"] for line in err.splitlines() if line.startswith("{")]
    assert "node_started" in events
    assert "node_stopped" in events
