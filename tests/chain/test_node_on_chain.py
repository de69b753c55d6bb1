"""A node in ethereum registry mode against the real contracts on anvil.

The registration check reads the chain (a cache miss triggers one direct read), routing works from
the cache, and while anvil is down the node keeps routing and reports the registry as stale.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.chain.conftest import Anvil, Chain
from tests.support.node import running_node
from tests.support.parties import PartyServer

pytestmark = pytest.mark.chain

# anvil's well-known development account #1 (its key is public test data)
NODE_KEY = "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"


async def _details(url: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/health/details") as r:
        return dict(json.loads(await r.read()))


async def _wait(predicate: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.1)


async def test_registration_and_routing_follow_the_chain(
    tmp_path: Path, chain: Chain, anvil: Anvil
) -> None:
    operator = chain.accounts[1]
    cpo = await PartyServer([("CPO", "CH", "CPO")]).start()
    msp = await PartyServer([("EMSP", "DE", "MSP")]).start()
    settings = {
        "registry": "ethereum",
        "rpc_url": anvil.url,
        "private_key": NODE_KEY,
        "registry_address": chain.registry.address,
        "permissions_address": chain.permissions.address,
    }
    try:
        async with running_node(tmp_path, **settings) as node:
            assert node.engine.ctx.node_address == operator
            node.engine.start_registry_sync(follow=False)  # miss reads only, no follower yet
            chain.set_node(operator, node.url)
            chain.set_party(chain.accounts[2], "CH", "CPO", ["CPO"], operator)
            # not listed on chain: refused; the admin cannot list parties on a chain-fed registry
            stranger = await PartyServer([("CPO", "NL", "NOP")]).start()
            result = await stranger.register(node.url, await node.token_a(("NL", "NOP")))
            await stranger.stop()
            assert result["status_code"] == 2001
            status, _ = await node.admin(
                "POST",
                "/admin/registry/parties",
                {"country_code": "DE", "party_id": "MSP", "roles": ["EMSP"]},
            )
            assert status == 400
            chain.set_party(chain.accounts[3], "DE", "MSP", ["EMSP"], operator)
            for party in (cpo, msp):
                await node.register(party, listed=True)  # listed on chain
            cpo.answer("GET", "/ocpi/2.2.1/sender/locations/L1", {"id": "L1"})

            async def route() -> int:
                async with (
                    aiohttp.ClientSession() as http,
                    http.get(
                        f"{node.url}/ocpi/sender/2.2.1/locations/L1",
                        headers=msp.routing_headers(to=("CH", "CPO")),
                    ) as r,
                ):
                    return int(json.loads(await r.read())["status_code"])

            assert await route() == 1000
            follower = node.engine.start_registry_sync()
            assert follower is not None
            try:

                async def fresh() -> bool:
                    return not (await _details(node.url))["registry"]["stale"]

                await _wait(fresh)
                anvil.stop()

                async def stale() -> bool:
                    return bool((await _details(node.url))["registry"]["stale"])

                await _wait(stale, timeout=60)
                assert (await _details(node.url))["status"] == "degraded"
                assert await route() == 1000  # still routing from the cache
                anvil.start()
                await _wait(fresh, timeout=60)
            finally:
                follower.cancel()
    finally:
        await cpo.stop()
        await msp.stop()
