"""A node with three registered platforms: a CPO, an eMSP and one platform with two roles."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from tests.support.node import RunningNode, running_node
from tests.support.parties import PartyServer, serving

CPO = ("CH", "CPO")
MSP = ("DE", "MSP")
DUO_CPO = ("NL", "CPX")
DUO_MSP = ("NL", "MSX")


@dataclass
class NodeHub:
    """A node with registered parties; ``call``: a party's routed request to it."""

    node: RunningNode

    async def call(
        self,
        party: PartyServer,
        method: str,
        path: str,
        to: tuple[str, str],
        body: Any = None,
        raw: bytes | None = None,
        *,
        frm: tuple[str, str] | None = None,
        extra: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        return await routed_call(self.node.url, party, method, path, to, frm, body, raw, extra)


@dataclass
class Hub(NodeHub):
    cpo: PartyServer
    msp: PartyServer
    duo: PartyServer


async def routed_call(
    node_url: str,
    party: PartyServer,
    method: str,
    path: str,
    to: tuple[str, str],
    frm: tuple[str, str] | None = None,
    body: Any = None,
    raw: bytes | None = None,
    extra: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """``party`` calls the node with its token C and routing headers; (HTTP, envelope, headers)."""
    headers = party.routing_headers(to=to, frm=frm)
    headers.update(extra or {})
    return await send(node_url, method, path, headers, body, raw)


async def send(
    node_url: str,
    method: str,
    path: str,
    headers: dict[str, str],
    body: Any = None,
    raw: bytes | None = None,
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """One request to the node (``path`` below ``node_url``, or a full URL) and its JSON answer."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    if data is not None:
        headers["Content-Type"] = "application/json"
    url = path if path.startswith("http") else node_url + path
    async with aiohttp.ClientSession() as http:
        async with http.request(method, url, headers=headers, data=data) as r:
            return r.status, json.loads(await r.read()), dict(r.headers)


async def credentials_call(
    node_url: str, method: str, party: PartyServer, body: Any = None
) -> tuple[int, Any]:
    """``party`` calls the node's 2.2.1 credentials endpoint with its token C: (HTTP, JSON)."""
    async with aiohttp.ClientSession() as http:
        async with http.request(
            method,
            f"{node_url}/ocpi/2.2.1/credentials",
            headers={"Authorization": party.auth(party.token_c)},
            data=json.dumps(body).encode() if body is not None else None,
        ) as r:
            return r.status, await r.json()


@contextlib.asynccontextmanager
async def three_platform_hub(
    tmp: Path, mode: str = "inprocess", **settings: Any
) -> AsyncIterator[Hub]:
    cpo = PartyServer([("CPO", *CPO)])
    msp = PartyServer([("EMSP", *MSP)], version="2.2", base64_tokens=False)
    duo = PartyServer(
        [("CPO", *DUO_CPO), ("EMSP", *DUO_MSP)], custom=[("lite-locations", "RECEIVER")]
    )
    async with serving((cpo, msp, duo)), running_node(tmp, mode, **settings) as node:
        for party in (cpo, msp, duo):
            await node.register(party)
        yield Hub(node, cpo, msp, duo)
