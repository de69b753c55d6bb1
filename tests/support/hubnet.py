"""One node with several CPOs, eMSPs and one OTHER, each a real HTTP party server (issue 13)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from tests.support.hub import send
from tests.support.node import RunningNode, running_node
from tests.support.parties import PartyServer, Received, serving

CPO1, CPO2 = ("CH", "CP1"), ("DE", "CP2")
MSP1, MSP2, MSP3 = ("DE", "MS1"), ("NL", "MS2"), ("FR", "MS3")
OTH = ("BE", "OTH")
HUBCLIENTINFO = ("hubclientinfo", "RECEIVER")


@dataclass
class HubNet:
    node: RunningNode
    parties: dict[str, PartyServer]  # "cpo1", "cpo2", "msp1", "msp2", "msp3", "other"

    def __getitem__(self, name: str) -> PartyServer:
        return self.parties[name]

    async def call(
        self,
        party: PartyServer,
        method: str,
        path: str,
        to: tuple[str, str] | None,
        body: Any = None,
        frm: tuple[str, str] | None = None,
        raw: bytes | None = None,
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """A request from ``party`` to the node; ``to=None`` omits the TO headers."""
        headers = party.routing_headers(to=to or ("XX", "XXX"), frm=frm)
        if to is None:
            del headers["OCPI-to-country-code"], headers["OCPI-to-party-id"]
        return await send(self.node.url, method, path, headers, body, raw)

    async def rules(
        self, party: PartyServer, method: str, suffix: str = "", body: Any = None
    ) -> tuple[int, dict[str, Any]]:
        """An OcnRules call of ``party`` (token C only, no routing headers)."""
        url = f"{self.node.url}/ocpi/receiver/{party.version}/ocnrules"
        if suffix:
            url += "/" + suffix
        headers = {"Authorization": party.auth(party.token_c)}
        async with aiohttp.ClientSession() as http:
            async with http.request(method, url, headers=headers, json=body) as r:
                return r.status, json.loads(await r.read())


def _parties() -> dict[str, PartyServer]:
    return {
        "cpo1": PartyServer([("CPO", *CPO1)], custom=[HUBCLIENTINFO]),
        "cpo2": PartyServer([("CPO", *CPO2)], version="2.2", base64_tokens=False),
        "msp1": PartyServer([("EMSP", *MSP1)], custom=[HUBCLIENTINFO]),
        "msp2": PartyServer([("EMSP", *MSP2)], custom=[("lite-locations", "RECEIVER")]),
        "msp3": PartyServer([("EMSP", *MSP3)]),
        "other": PartyServer([("OTHER", *OTH)], custom=[HUBCLIENTINFO]),
    }


@contextlib.asynccontextmanager
async def hub_network(tmp: Path, mode: str = "inprocess", **settings: Any) -> AsyncIterator[HubNet]:
    """Every party listed with the node and registered through the real handshake."""
    parties = _parties()
    async with serving(parties.values()), running_node(tmp, mode, **settings) as node:
        for party in parties.values():
            await node.register(party)
        yield HubNet(node, parties)


def received(party: PartyServer, method: str, suffix: str) -> list[Received]:
    """The requests ``party`` received with ``method`` on a path ending in ``suffix``."""
    return [r for r in party.received if r.method == method and r.path.endswith(suffix)]


async def until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until ``check()`` holds (background pushes and broadcasts), at most ``timeout``."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)
