"""Four platforms on two OCPI versions behind one node: a CPO and an eMSP on 2.3.0, on 2.2.1."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from tests.support.hub import NodeHub
from tests.support.node import running_node
from tests.support.parties import PartyServer, serving

CPO23, MSP23 = ("NL", "C23"), ("FR", "M23")
CPO21, MSP21 = ("BE", "C21"), ("DE", "M21")
HUB = "CHOCN"  # the node's own country code + party id (settings defaults)


@dataclass
class Mixed(NodeHub):
    cpo23: PartyServer
    msp23: PartyServer
    cpo21: PartyServer
    msp21: PartyServer
    registered: dict[str, dict[str, Any]]

    async def get(self, party: PartyServer, path: str, token: str) -> tuple[int, Any]:
        async with (
            aiohttp.ClientSession() as http,
            http.get(self.node.url + path, headers={"Authorization": party.auth(token)}) as r,
        ):
            return r.status, json.loads(await r.read())


@contextlib.asynccontextmanager
async def mixed_hub(tmp: Path, mode: str = "inprocess") -> AsyncIterator[Mixed]:
    parties = {
        "cpo23": PartyServer([("CPO", *CPO23)], version="2.3.0"),
        "msp23": PartyServer([("EMSP", *MSP23)], version="2.3.0", hub_party_id="FRHUB"),
        "cpo21": PartyServer([("CPO", *CPO21)], version="2.2.1"),
        "msp21": PartyServer([("EMSP", *MSP21)], version="2.2.1"),
    }
    async with serving(parties.values()), running_node(tmp, mode) as node:
        registered = {name: await node.register(party) for name, party in parties.items()}
        yield Mixed(node, **parties, registered=registered)
