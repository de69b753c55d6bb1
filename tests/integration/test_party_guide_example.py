"""Issue 14 §5: the party's guide example registers two parties with a real node and routes."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from tests.support.node_process import node_process

EXAMPLE = Path(__file__).parents[2] / "examples" / "connect_two_parties.py"


async def test_example_connects_two_parties_and_routes_one_request(tmp_path: Path) -> None:
    async with node_process(tmp_path) as node:
        argv = [sys.executable, str(EXAMPLE), "--node", node.url, "--admin-key", node.api_key]
        done = await asyncio.to_thread(
            subprocess.run, argv, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert '"id": "LOC1"' in done.stdout
        platforms = await node.admin("GET", "/admin/platforms")
        roles = sorted((r["role"], r["country_code"] + r["party_id"]) for p in platforms
                       for r in p["roles"])  # fmt: skip
        assert roles == [("CPO", "CHCPO"), ("EMSP", "DEMSP")]
        assert all(p["status"] == "CONNECTED" and p["token_b_base64"] for p in platforms)
