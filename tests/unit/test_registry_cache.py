"""RegistryCache + LocalRegistry: lookups, normalisation, indexes, permissions, status."""

from __future__ import annotations

import pytest

from ocn_core.registry import (
    InvalidRegistryEntry,
    LocalRegistry,
    Node,
    Party,
    RegistryCache,
    RegistrySourceConflict,
    Service,
)
from ocn_core.registry import codec as c
from ocn_core.store import Store

OP = "0x" + "ab" * 20
OP2 = "0x" + "cd" * 20
A1 = "0x" + "11" * 20
A2 = "0x" + "22" * 20


@pytest.fixture
def cache(store: Store) -> RegistryCache:
    return RegistryCache(store)


@pytest.fixture
def local(cache: RegistryCache) -> LocalRegistry:
    reg = LocalRegistry(cache)
    reg.set_node(OP, "https://node-a.example")
    reg.set_node(OP2, "https://node-b.example")
    return reg


def test_party_lookup_normalises_and_joins_node(cache: RegistryCache, local: LocalRegistry) -> None:
    local.set_party("de", "abc", ["CPO", "EMSP"], OP, address=A1, modules_sender=["locations"])
    expected = Party(
        "DE", "ABC", c.checksum(A1), ("CPO", "EMSP"), ("locations",), (), c.checksum(OP),
        "https://node-a.example",
    )  # fmt: skip
    assert cache.party("DE", "ABC") == expected
    assert cache.party("de", "aBc") == expected
    assert cache.party_by_address(A1.upper().replace("0X", "0x")) == expected
    assert cache.party("DE", "ABD") is None
    assert cache.party("DEA", "BC") is None
    assert cache.party("DÉ", "ABC") is None
    assert cache.party_by_address("nope") is None


def test_node_url_follows_operator_update(cache: RegistryCache, local: LocalRegistry) -> None:
    local.set_party("DE", "ABC", ["CPO"], OP)
    local.set_node(OP, "https://moved.example")
    party = cache.party("DE", "ABC")
    assert party is not None
    assert party.node_url == "https://moved.example"
    assert party.address == ""
    assert local.delete_node(OP)
    party = cache.party("DE", "ABC")
    assert party is not None
    assert party.node_url == ""  # the contract answers an empty domain for a deleted node
    assert cache.node(OP) is None
    assert cache.node(OP2.upper().replace("0X", "0x")) == Node(
        c.checksum(OP2), "https://node-b.example"
    )


def test_update_and_delete_party(cache: RegistryCache, local: LocalRegistry) -> None:
    local.set_party("DE", "ABC", ["CPO"], OP, address=A1)
    local.set_party("DE", "ABC", ["EMSP"], OP2, address=A2)
    party = cache.party("DE", "ABC")
    assert party is not None
    assert (party.roles, party.operator, party.address) == (
        ("EMSP",),
        c.checksum(OP2),
        c.checksum(A2),
    )
    assert cache.party_by_address(A1) is None
    # an address moving to another OCPI id leaves the old id
    local.set_party("NL", "XYZ", ["EMSP"], OP2, address=A2)
    assert cache.party("DE", "ABC") is None
    assert cache.party_by_address(A2) == cache.party("NL", "XYZ")
    assert local.delete_party("nl", "xyz")
    assert not local.delete_party("NL", "XYZ")
    assert cache.party_by_address(A2) is None
    assert list(cache.parties()) == []


def test_lists(cache: RegistryCache, local: LocalRegistry) -> None:
    local.set_party("DE", "ABC", ["CPO"], OP)
    local.set_party("CH", "XYZ", ["EMSP", "HUB"], OP2)
    assert [(p.country_code, p.party_id) for p in cache.parties()] == [("CH", "XYZ"), ("DE", "ABC")]
    assert {n.url for n in cache.nodes()} == {"https://node-a.example", "https://node-b.example"}
    assert cache.count()["parties"] == 2


@pytest.mark.parametrize(
    ("cc", "pid", "roles", "operator", "address"),
    [
        ("D", "ABC", ["CPO"], OP, ""),
        ("DE", "AB-", ["CPO"], OP, ""),
        ("DE", "ABC", ["cpo"], OP, ""),
        ("DE", "ABC", [], OP, ""),
        ("DE", "ABC", ["CPO"], "0x12", ""),
        ("DE", "ABC", ["CPO"], "0x" + "0" * 40, ""),
        ("DE", "ABC", ["CPO"], OP, "0xzz"),
    ],
)
def test_invalid_party(
    local: LocalRegistry, cc: str, pid: str, roles: list[str], operator: str, address: str
) -> None:
    with pytest.raises(InvalidRegistryEntry):
        local.set_party(cc, pid, roles, operator, address=address)


def test_services_and_agreements(cache: RegistryCache, local: LocalRegistry) -> None:
    local.set_party("DE", "USR", ["EMSP"], OP, address=A1)
    local.set_party("DE", "PRV", ["OTHER"], OP, address=A2)
    with pytest.raises(InvalidRegistryEntry):
        local.set_service(OP2, "x", "", [1])  # not a listed party
    local.set_service(A2, "Analytics", "https://svc.example", [3, 5])
    service = Service(c.checksum(A2), "Analytics", "https://svc.example", (3, 5), "DE", "PRV")
    assert cache.services() == [service]
    assert cache.service(A2) == service
    local.set_agreement(A1, A2)
    assert cache.agreements("de", "usr") == [service]
    assert local.revoke_agreement(A1, A2)
    assert cache.agreements("DE", "USR") == []
    assert cache.agreements("DE", "USR", include_revoked=True) == [service]
    assert [a.active for a in cache.agreement_records(A1)] == [False]
    assert local.delete_service(A2)
    assert cache.services() == []
    assert cache.agreements("DE", "USR", include_revoked=True) == []


def test_local_status_and_persistence(tmp_path: object, store: Store) -> None:
    cache = RegistryCache(store)
    LocalRegistry(cache).set_node(OP, "https://n.example")
    status = cache.status()
    assert (status.source, status.stale, status.cursor, status.lag) == ("local", False, None, None)
    again = RegistryCache(store)
    assert again.node(OP) is not None


def test_local_refuses_chain_cache(cache: RegistryCache) -> None:
    with cache.writer() as w:
        w.set_source("ethereum", {"chain_id": 1})
    with pytest.raises(RegistrySourceConflict):
        LocalRegistry(cache)


def test_layout_mismatch_rebuilds_chain_cache(store: Store) -> None:
    cache = RegistryCache(store)
    with cache.writer() as w:
        w.set_source("ethereum", {"chain_id": 1})
        w.put_node(OP, "https://n.example")
        w.set_cursor(7)
    with store.env.begin(write=True) as txn:
        txn.put(c.META_LAYOUT, b"0", db=store.db(c.DB_META))
    rebuilt = RegistryCache(store)
    assert rebuilt.node(OP) is None
    assert rebuilt.cursor() is None


def test_layout_mismatch_keeps_local_data(store: Store) -> None:
    from ocn_core.registry import RegistryLayoutMismatch

    LocalRegistry(RegistryCache(store)).set_node(OP, "https://n.example")
    with store.env.begin(write=True) as txn:
        txn.put(c.META_LAYOUT, b"0", db=store.db(c.DB_META))
    with pytest.raises(RegistryLayoutMismatch):
        RegistryCache(store)


def test_chain_status_stale_and_lag(cache: RegistryCache) -> None:
    assert cache.status().stale is False
    with cache.writer() as w:
        w.set_source("ethereum", {"chain_id": 31337})
    assert cache.status().stale is True  # never synced
    with cache.writer() as w:
        w.set_cursor(10)
        w.set_status(head=15, last_sync=1e18, stale=False, last_error="", stale_after=60)
    st = cache.status()
    assert (st.source, st.cursor, st.head, st.lag, st.stale) == ("ethereum", 10, 15, 5, False)
    with cache.writer() as w:
        w.set_status(last_sync=1.0)
    assert cache.status().stale is True  # the syncer stopped reporting
