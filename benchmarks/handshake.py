"""Connect the two parties to a node through the real OCPI credentials handshake, over HTTP.

List both parties in the node's local registry (admin API), issue token A, then as each party:
GET versions → GET version details → POST credentials (the node fetches the party's versions and
details from the upstream with token B). Returns each party's token C. Blocking (urllib): call
it through ``asyncio.to_thread`` when the node runs in the caller's event loop.
"""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.request
from typing import Any

from benchmarks import payloads


def _call(method: str, url: str, auth: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Authorization": auth, "Content-Type": "application/json"}
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as err:
        raise RuntimeError(f"{method} {url}: HTTP {err.code} {err.read()[:300]!r}") from None


def _register(node: str, token_a: str, party: tuple[str, str], role: str, upstream: str) -> str:
    auth = payloads.token_header(token_a)
    versions = _call("GET", f"{node}/ocpi/versions", auth)["data"]
    details_url = next(v["url"] for v in versions if v["version"] == payloads.VERSION)
    endpoints = _call("GET", details_url, auth)["data"]["endpoints"]
    creds_url = next(e["url"] for e in endpoints if e["identifier"] == "credentials")
    creds = {
        "token": secrets.token_hex(16),
        "url": f"{upstream}/ocpi/versions",
        "roles": [{"role": role, "country_code": party[0], "party_id": party[1],
                   "business_details": {"name": f"bench {role}"}}],
    }  # fmt: skip
    result = _call("POST", creds_url, auth, creds)
    if result.get("status_code") != 1000:
        raise RuntimeError(f"credentials handshake of {party} failed: {result}")
    return str(result["data"]["token"])


def list_party(
    node: str, api_key: str, role: str, party: tuple[str, str], address: str = ""
) -> None:
    """List ``party`` with the node in ``node``'s local registry (admin API)."""
    listing = {"country_code": party[0], "party_id": party[1], "roles": [role]}
    if address:
        listing["address"] = address
    _call("POST", f"{node}/admin/registry/parties", f"Token {api_key}", listing)


def connect_parties(
    node: str, api_key: str, upstream: str, addresses: dict[str, str] | None = None
) -> dict[str, str]:
    """``{"CPO": token_c, "EMSP": token_c}`` after both parties registered with ``node``."""
    admin = f"Token {api_key}"
    tokens: dict[str, str] = {}
    for role, party in (("CPO", payloads.CPO), ("EMSP", payloads.EMSP)):
        list_party(node, api_key, role, party, (addresses or {}).get(role, ""))
        grant = _call(
            "POST",
            f"{node}/admin/generate-registration-token",
            admin,
            [{"country_code": party[0], "party_id": party[1]}],
        )
        tokens[role] = _register(node, str(grant["token"]), party, role, upstream)
    return tokens
