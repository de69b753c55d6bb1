"""Issue 14 §4: credential rotations, deletions and admin refusals leave audit lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
from structlog.testing import capture_logs

from tests.support.hub import credentials_call, three_platform_hub
from tests.support.parties import PartyServer


async def _creds(url: str, method: str, party: PartyServer, body: Any = None) -> int:
    return (await credentials_call(url, method, party, body))[0]


async def test_rotations_deletions_and_refused_admin_calls_are_audited(tmp_path: Path) -> None:
    async with three_platform_hub(tmp_path) as hub:
        node = hub.node
        with capture_logs() as logs:
            assert await _creds(node.url, "PUT", hub.cpo, hub.cpo.credentials()) == 200
            hub.cpo.token_c = ""  # the old token C is void now
            assert await _creds(node.url, "DELETE", hub.msp) == 200
            duo = next(p for p in (await node.admin("GET", "/admin/platforms"))[1]
                       if len(p["roles"]) == 2)  # fmt: skip
            assert (await node.admin("DELETE", f"/admin/platforms/{duo['id']}"))[0] == 200
            async with aiohttp.ClientSession() as http:
                async with http.get(
                    node.url + "/admin/platforms", headers={"Authorization": "Token wrong"}
                ) as r:
                    assert r.status == 401
            status, _ = await node.admin(
                "POST", "/admin/generate-registration-token", {"roles": [], "ttl_seconds": 60}
            )
            assert status == 400
        events = {e["event"]: e for e in logs}
        assert events["credentials_rotated"]["parties"] == ["CH CPO CPO"]
        deleted = [e for e in logs if e["event"] == "platform_deleted"]
        assert [(e["by"], e["parties"]) for e in deleted] == [
            ("party", ["DE MSP EMSP"]),
            ("admin", ["NL CPX CPO", "NL MSX EMSP"]),
        ]
        assert events["admin_denied"]["log_level"] == "warning"
        assert events["registration_token_refused"]["reason"].startswith("Body must be")
        assert not any(hub.cpo.token_b in json.dumps(e) for e in logs)  # no secrets
