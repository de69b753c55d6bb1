"""Two nodes in this process, each with its own LMDB and a local registry listing both nodes and
every party (what the chain would tell them), with real HTTP party servers on each."""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from ocn_core import signing
from tests.support.node import RunningNode, running_node
from tests.support.parties import PartyServer

CPO = ("CH", "CPB")  # on node B
MSP = ("DE", "MSP")  # on node A


@dataclass
class Federation:
    a: RunningNode
    b: RunningNode
    msp: PartyServer  # on A
    cpo: PartyServer  # on B

    async def call(
        self,
        party: PartyServer,
        node: RunningNode,
        method: str,
        path: str,
        to: tuple[str, str],
        body: Any = None,
        extra: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        headers = party.routing_headers(to=to)
        headers.update(extra or {})
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        if data is not None:
            headers["Content-Type"] = "application/json"
        url = path if path.startswith("http") else node.url + path
        async with (
            aiohttp.ClientSession() as http,
            http.request(method, url, headers=headers, data=data) as r,
        ):
            return r.status, json.loads(await r.read()), dict(r.headers)


def mirror(nodes: list[RunningNode], parties: list[tuple[RunningNode, PartyServer]]) -> None:
    """List every node and party in every node's local registry."""
    for node in nodes:
        admin = node.engine.registry_admin
        for other in nodes:
            admin.set_node(other.engine.ctx.node_address, other.url)
        for home, party in parties:
            for role, cc, pid in party.roles:
                address = signing.address_of(party.key) if party.key else ""
                admin.set_party(
                    cc, pid, [role], operator=home.engine.ctx.node_address, address=address
                )


@contextlib.asynccontextmanager
async def two_nodes(
    tmp: Path,
    signed: bool = False,
    mode_b: str = "inprocess",
    versions: tuple[str, str] = ("2.2.1", "2.2.1"),
    **settings: Any,
) -> AsyncIterator[Federation]:
    """Node A with an eMSP, node B with a CPO; ``signed``: the parties sign with their own keys;
    ``mode_b="grpc"``: node B's gateway reaches its core over a real gRPC channel; ``versions``:
    the OCPI versions of the eMSP and the CPO."""
    settings.setdefault("allow_loopback_urls", True)
    keys = (secrets.token_bytes(32), secrets.token_bytes(32)) if signed else (None, None)
    msp = await PartyServer([("EMSP", *MSP)], key=keys[0], version=versions[0]).start()
    cpo = await PartyServer(
        key=keys[1],
        roles=[("CPO", *CPO)],
        custom=[("lite-locations", "RECEIVER")],
        version=versions[1],
    ).start()
    try:
        async with (
            running_node(tmp / "a", **settings) as a,
            running_node(tmp / "b", mode_b, **settings) as b,
        ):
            mirror([a, b], [(a, msp), (b, cpo)])
            for node, party in ((a, msp), (b, cpo)):
                ids = [(cc, pid) for _, cc, pid in party.roles]
                result = await party.register(node.url, await node.token_a(*ids))
                assert result["status_code"] == 1000, result
            yield Federation(a, b, msp, cpo)
    finally:
        await msp.stop()
        await cpo.stop()
