"""The compiled and pure routing lookups agree (differential), and the right one is loaded."""

from __future__ import annotations

import os
from types import ModuleType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ocn_core.registry import IMPLEMENTATION, MODULES, ROLES, LocalRegistry, RegistryCache
from ocn_core.registry import _lookup_ref as ref
from ocn_core.registry import codec as c
from ocn_core.store import Store

cy: ModuleType | None
try:
    from ocn_core.registry import _lookup_cy as cy
except ImportError:  # pure build
    cy = None

IMPLS: list[ModuleType] = [ref] + ([cy] if cy is not None else [])


def test_loaded_implementation() -> None:
    if os.environ.get("OCN_CORE_NO_EXTENSIONS"):
        assert IMPLEMENTATION == "ref"
    elif os.environ.get("OCN_CORE_REQUIRE_EXTENSIONS"):
        assert IMPLEMENTATION == "cy"


def test_same_surface() -> None:
    if cy is None:
        pytest.skip("pure build")
    assert {n for n in dir(ref) if n.startswith("lookup")} == {
        n for n in dir(cy) if n.startswith("lookup")
    }


ids = st.text(alphabet="abcdeXYZ019é", min_size=1, max_size=4)
addresses = st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())
names = st.lists(st.sampled_from(MODULES), max_size=3)
listing = st.tuples(
    st.text(alphabet="ABCDE01", min_size=2, max_size=2),
    st.text(alphabet="ABCDE01", min_size=3, max_size=3),
    st.lists(st.sampled_from(ROLES), min_size=1, max_size=3),
    st.one_of(st.just(""), addresses),
    names,
    names,
    st.sampled_from(["0x" + "ab" * 20, "0x" + "cd" * 20, "0x" + "ef" * 20]),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    entries=st.lists(listing, max_size=12),
    probes=st.lists(st.tuples(ids, ids), max_size=12),
)
def test_differential(store: Store, entries: list[tuple], probes: list[tuple[str, str]]) -> None:  # type: ignore[type-arg]
    cache = RegistryCache(store)
    with cache.writer() as w:
        w.clear()
    local = LocalRegistry(cache)
    local.set_node("0x" + "ab" * 20, "https://a.example")
    local.set_node("0x" + "cd" * 20, "https://b.é.example")
    for cc, pid, roles, address, ms, mr, op in entries:
        local.set_party(cc.lower(), pid, roles, op, address, ms, mr)
    probes = probes + [(cc.lower(), pid.lower()) for cc, pid, *_ in entries]
    for cc, pid in probes:
        results = [m.lookup_party(cache.env, cache._parties, cache._nodes, cc, pid) for m in IMPLS]
        assert all(r == results[0] for r in results)
        assert results[0] == cache.party(cc, pid)
        if results[0] is not None:
            assert (results[0].country_code, results[0].party_id) == (cc.upper(), pid.upper())
            key = c.party_key(cc, pid)
            assert key is not None
            assert {
                m.lookup_party_by_key(cache.env, cache._parties, cache._nodes, key) for m in IMPLS
            } == {results[0]}
