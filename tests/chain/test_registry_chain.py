"""The registry cache follows the real Registry + Permissions contracts on anvil."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from ocn_core.adapters.ethereum_registry import EthereumRegistrySync
from ocn_core.registry import Node, Party, RegistryCache, Service
from ocn_core.store import Store

pytestmark = pytest.mark.chain


def _sync(cache: RegistryCache, chain: Any, **kw: Any) -> EthereumRegistrySync:
    kw.setdefault("poll_interval", 0.05)
    return EthereumRegistrySync(
        cache,
        rpc_url=chain.anvil.url,
        registry_address=chain.registry.address,
        permissions_address=chain.permissions.address,
        **kw,
    )


@pytest.fixture
def cache(tmp_path: Path) -> RegistryCache:
    return RegistryCache(Store(tmp_path / "lmdb", map_size=64 << 20))


@pytest.fixture
async def sync(cache: RegistryCache, chain: Any) -> AsyncIterator[EthereumRegistrySync]:
    s = _sync(cache, chain)
    yield s
    await s.close()


async def drain(sync: EthereumRegistrySync) -> None:
    """sync_once until caught up with the chain."""
    await sync.sync_once()
    for _ in range(1000):
        if sync.caught_up:
            return
        await sync.sync_once()
    raise AssertionError("sync never caught up")


async def wait_for(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


async def test_snapshot_then_follow_every_change(
    chain: Any, cache: RegistryCache, sync: EthereumRegistrySync
) -> None:
    a = chain.accounts
    op1, op2, spender = a[1], a[2], a[9]
    cpo, emsp = a[3], a[4]
    chain.set_node(op1, "https://node-1.example")
    chain.set_party(cpo, "DE", "CPO", ["CPO"], op1)

    # snapshot from the list/get functions
    await drain(sync)
    assert sync.stats.snapshots == 1
    assert cache.node(op1) == Node(op1, "https://node-1.example")
    assert cache.party("de", "cpo") == Party(
        "DE", "CPO", cpo, ("CPO",), (), (), op1, "https://node-1.example"
    )
    assert cache.status().cursor == chain.head

    # node: direct set, raw set by a spender, update domain, raw delete, direct delete
    node_key = Account.create().key.hex()
    node_addr = Account.from_key(node_key).address
    chain.set_node_raw(node_key, "https://raw-node.example", spender)
    chain.set_node(op2, "https://node-2.example")
    await drain(sync)
    assert cache.node(node_addr) == Node(node_addr, "https://raw-node.example")
    assert cache.node(op2) == Node(op2, "https://node-2.example")

    # party: direct update (roles, operator), modules, raw set/modules/delete
    chain.set_party(cpo, "DE", "CPO", ["CPO", "EMSP"], op2)
    chain.tx(chain.registry.functions.setPartyModules([3, 4], [5]), cpo)
    await drain(sync)
    p = cache.party("DE", "CPO")
    assert p is not None
    assert (p.roles, p.operator, p.node_url) == (("CPO", "EMSP"), op2, "https://node-2.example")
    assert (p.modules_sender, p.modules_receiver) == (("locations", "sessions"), ("tariffs",))

    party_key = Account.create().key.hex()
    party_addr = Account.from_key(party_key).address
    chain.set_party_raw(party_key, "NL", "RAW", ["EMSP"], node_addr, spender)
    chain.set_modules_raw(party_key, ["commands"], ["cdrs", "tokens"], spender)
    await drain(sync)
    raw = cache.party_by_address(party_addr)
    assert raw == Party(
        "NL", "RAW", party_addr, ("EMSP",), ("commands",), ("cdrs", "tokens"), node_addr,
        "https://raw-node.example",
    )  # fmt: skip

    # the node's domain moves: every party of it follows without touching the parties
    chain.tx(chain.registry.functions.deleteNode(), op2)
    chain.set_node(op2, "https://node-2-moved.example")
    await drain(sync)
    p = cache.party("DE", "CPO")
    assert p is not None
    assert p.node_url == "https://node-2-moved.example"

    # a party changes its OCPI id: the old id goes
    chain.set_party(cpo, "DE", "CP2", ["CPO"], op1)
    await drain(sync)
    assert cache.party("DE", "CPO") is None
    assert cache.party_by_address(cpo) is not None

    # deletes: raw party delete, direct party delete, admin party delete, raw node delete
    chain.set_party(emsp, "CH", "EMS", ["EMSP"], op1)
    await drain(sync)
    assert cache.party("CH", "EMS") is not None
    chain.delete_party_raw(party_key, spender)
    chain.tx(chain.registry.functions.deleteParty(), cpo)
    chain.tx(chain.registry.functions.adminDeleteParty(b"CH", b"EMS"), chain.admin)
    chain.delete_node_raw(node_key, spender)
    await drain(sync)
    assert cache.party("NL", "RAW") is None
    assert cache.party_by_address(party_addr) is None
    assert cache.party("DE", "CP2") is None
    assert cache.party("CH", "EMS") is None
    assert cache.node(node_addr) is None
    assert [n.operator for n in cache.nodes()] == sorted([op1, op2], key=lambda x: x.lower())
    assert list(cache.parties()) == []


async def test_services_and_agreements(
    chain: Any, cache: RegistryCache, sync: EthereumRegistrySync
) -> None:
    a = chain.accounts
    op, user, spender = a[1], a[3], a[9]
    chain.set_node(op, "https://node.example")
    chain.set_party(user, "DE", "USR", ["EMSP"], op)
    prov_key = Account.create().key.hex()
    prov = Account.from_key(prov_key).address
    chain.set_party_raw(prov_key, "DE", "PRV", ["OTHER"], op, spender)
    user_key = Account.create().key.hex()
    user2 = Account.from_key(user_key).address
    chain.set_party_raw(user_key, "NL", "US2", ["EMSP"], op, spender)
    await drain(sync)

    # direct service, raw agreement, revoke raw, direct service update
    chain.set_service_raw(prov_key, "Analytics", "https://svc.example", [3, 4], spender)
    chain.agreement_raw(user_key, prov, spender)
    await drain(sync)
    svc = Service(prov, "Analytics", "https://svc.example", (3, 4), "DE", "PRV")
    assert cache.services() == [svc]
    assert cache.agreements("NL", "US2") == [svc]

    chain.tx(chain.permissions.functions.createAgreement(prov), user)
    chain.agreement_raw(user_key, prov, spender, revoke=True)
    await drain(sync)
    assert cache.agreements("DE", "USR") == [svc]
    assert cache.agreements("NL", "US2") == []
    assert cache.agreements("NL", "US2", include_revoked=True) == [svc]  # contract quirk kept

    chain.tx(chain.permissions.functions.revokeAgreement(prov), user)
    await drain(sync)
    assert cache.agreements("DE", "USR") == []

    # a fresh cache snapshots the same agreements (revoked ones included) as the events built
    other = RegistryCache(Store(Path(str(cache.store.path) + "-2"), map_size=16 << 20))
    fresh = _sync(other, chain)
    await drain(fresh)
    await fresh.close()
    assert fresh.stats.snapshots == 1
    for c in (cache, other):
        assert sorted((x.user, x.provider, x.active) for x in c.agreement_records(user2)) == [
            (user2, prov, False)
        ]
        assert c.services() == [svc]

    # direct service set by the provider party itself needs gas: fund the raw key's address
    chain.w3.eth.send_transaction({"from": spender, "to": prov, "value": 10**18})
    acct = Account.from_key(prov_key)
    fn = chain.permissions.functions.setService("Analytics 2", "", [0])
    tx = fn.build_transaction(
        {"from": prov, "nonce": chain.w3.eth.get_transaction_count(prov), "chainId": 31337}
    )
    sent = chain.w3.eth.send_raw_transaction(acct.sign_transaction(tx).raw_transaction)
    chain.w3.eth.wait_for_transaction_receipt(sent)
    await drain(sync)
    assert cache.service(prov) == Service(prov, "Analytics 2", "", (0,), "DE", "PRV")

    chain.delete_service_raw(prov_key, spender)
    await drain(sync)
    assert cache.services() == []
    assert cache.agreements("DE", "USR", include_revoked=True) == []


async def test_confirmation_depth(chain: Any, cache: RegistryCache) -> None:
    op = chain.accounts[1]
    sync = _sync(cache, chain, confirmations=3)
    try:
        await drain(sync)
        chain.set_node(op, "https://late.example")
        await drain(sync)
        assert cache.node(op) is None
        chain.mine(2)
        await drain(sync)
        assert cache.node(op) is None
        chain.mine(1)
        await drain(sync)
        assert cache.node(op) == Node(op, "https://late.example")
        st = cache.status()
        assert (st.confirmations, st.head, st.cursor, st.lag) == (3, chain.head, chain.head - 3, 3)
    finally:
        await sync.close()


async def test_restart_resumes_from_cursor(chain: Any, tmp_path: Path) -> None:
    a = chain.accounts
    op = a[1]
    chain.set_node(op, "https://node.example")
    path = tmp_path / "resume"
    store = Store(path, map_size=16 << 20)
    first = _sync(RegistryCache(store), chain, max_block_range=2)
    await first.sync_once()
    assert first.stats.snapshots == 1
    for i, party in enumerate(a[3:8]):
        chain.set_party(party, "DE", f"P{i:02d}", ["CPO"], op)
    await first.sync_once()  # one chunk of two blocks, then "crash"
    assert not first.caught_up
    cursor = RegistryCache(store).cursor()
    await first.close()
    store.close()

    store = Store(path, map_size=16 << 20)
    cache = RegistryCache(store)
    assert cache.cursor() == cursor
    second = _sync(cache, chain, max_block_range=2)
    await drain(second)
    await second.close()
    assert second.stats.snapshots == 0  # resumed, no full resync
    assert cursor is not None
    assert first.stats.last_snapshot_block is not None
    assert second.stats.events == 5 - (cursor - first.stats.last_snapshot_block)
    assert [p.party_id for p in cache.parties()] == [f"P{i:02d}" for i in range(5)]
    store.close()


async def test_stale_while_chain_down_then_catch_up(chain: Any, cache: RegistryCache) -> None:
    a = chain.accounts
    op, cpo, late = a[1], a[3], a[4]
    chain.set_node(op, "https://node.example")
    chain.set_party(cpo, "DE", "CPO", ["CPO"], op)
    sync = _sync(cache, chain, poll_interval=0.05, request_timeout=1.0)
    task = asyncio.create_task(sync.run())
    try:
        await wait_for(lambda: cache.party("DE", "CPO") is not None)
        assert cache.status().stale is False

        chain.anvil.stop()
        await wait_for(lambda: cache.status().stale)
        st = cache.status()
        assert st.last_error
        assert cache.party("DE", "CPO") is not None  # still serving from the cache
        assert await sync.read_party("XX", "YYY") is None  # a miss cannot reach the chain

        chain.anvil.start()  # same port, same state file
        chain.set_party(late, "NL", "LAT", ["EMSP"], op)
        await wait_for(lambda: cache.party("NL", "LAT") is not None)
        await wait_for(lambda: not cache.status().stale)
        st = cache.status()
        assert (st.last_error, st.lag, st.cursor) == ("", 0, chain.head)
        assert sync.stats.snapshots == 1
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await sync.close()


async def test_read_party_on_miss(chain: Any, cache: RegistryCache) -> None:
    a = chain.accounts
    op, cpo = a[1], a[3]
    chain.set_node(op, "https://node.example")
    sync = _sync(cache, chain, confirmations=50)  # the stream will not see recent blocks
    try:
        chain.mine(60)
        await drain(sync)
        chain.set_party(cpo, "de", "new", ["CPO"], op)
        chain.mine(1)
        assert cache.party("DE", "NEW") is None
        assert await sync.read_party("XX", "NOP") is None
        assert await sync.read_party("XX", "NOP") is None  # remembered: no second eth_call
        assert sync.stats.direct_reads == 1
        party = await sync.read_party("DE", "NEW")  # listed in lower case on chain
        assert party == Party("DE", "NEW", cpo, ("CPO",), (), (), op, "https://node.example")
        assert cache.party("DE", "NEW") == party
    finally:
        await sync.close()


async def test_replaced_chain_resnapshots(chain: Any, cache: RegistryCache) -> None:
    op = chain.accounts[1]
    chain.set_node(op, "https://node.example")
    sync = _sync(cache, chain)
    try:
        await drain(sync)
        # a fresh chain at the same URL, same deterministic contract addresses, other history
        chain.anvil.stop()
        chain.anvil.state.unlink()
        chain.anvil.start()
        type(chain)(chain.anvil, chain.defs)
        chain.mine(5)
        await drain(sync)
        assert sync.stats.snapshots == 2
        assert cache.node(op) is None
    finally:
        await sync.close()


def test_chain_source_is_a_party_reader(cache: RegistryCache) -> None:
    from ocn_core.registry import PartyReader

    sync: PartyReader = EthereumRegistrySync(
        cache, rpc_url="http://127.0.0.1:1", registry_address="0x" + "1" * 40,
        permissions_address="0x" + "2" * 40,
    )  # fmt: skip
    assert callable(sync.read_party)
