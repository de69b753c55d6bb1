"""Node state in LMDB: durable across reopen, atomic registration, scoped and expiring proxies."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ocn_core.registry import LocalRegistry, RegistryCache
from ocn_core.state import Platform, PlatformStore, ProxyStore, RoleConflict, RoleRecord, codec
from ocn_core.state.records import EndpointRecord
from ocn_core.state.rules import BLACKLIST, NO_RULES, RuleEntry, Rules, RulesStore
from ocn_core.store import Store


def _platform(pid: str, *roles: tuple[str, str, str]) -> Platform:
    return Platform(
        id=pid,
        status="CONNECTED",
        ocpi_version="2.2.1",
        versions_url="http://x/versions",
        token_b="b-" + pid,
        token_b_base64=True,
        roles=[RoleRecord(r, cc, p) for r, cc, p in roles],
        endpoints=[EndpointRecord("locations", "SENDER", "http://x/locations")],
        last_updated=1.0,
        created=1.0,
    )


def test_registration_survives_a_reopen(tmp_path: Path) -> None:
    store = Store(tmp_path / "db", map_size=32 << 20)
    platforms = PlatformStore(store)
    token_a, _ = platforms.issue_token_a(
        [{"country_code": "CH", "party_id": "CPO", "role": ""}], 60
    )
    platforms.register(token_a, _platform("p1", ("CPO", "CH", "CPO")), "token-c")
    store.close()
    reopened = PlatformStore(Store(tmp_path / "db", map_size=32 << 20))
    assert reopened.platform_id_by_token("token-c") == "p1"
    assert reopened.platform_id_by_role("ch", "cpo") == "p1"
    assert reopened.grant(token_a) is None  # consumed
    assert reopened.auth_header("p1") == "Token Yi1wMQ=="  # base64("b-p1")
    found = reopened.platform("p1")
    assert found is not None
    assert found.endpoints == [EndpointRecord("locations", "SENDER", "http://x/locations")]


def test_conflicting_registration_changes_nothing(store: Store) -> None:
    platforms = PlatformStore(store)
    platforms.register(None, _platform("p1", ("CPO", "CH", "CPO")), "c1")
    with pytest.raises(RoleConflict):
        platforms.register(None, _platform("p2", ("EMSP", "DE", "MSP"), ("CPO", "CH", "CPO")), "c2")
    assert platforms.platform("p2") is None
    assert platforms.platform_id_by_role("DE", "MSP") is None
    assert platforms.platform_id_by_token("c2") is None


def test_delete_removes_tokens_roles_and_endpoints(store: Store) -> None:
    platforms = PlatformStore(store)
    platforms.register(None, _platform("p1", ("CPO", "CH", "CPO")), "c1")
    assert platforms.delete("p1")
    assert platforms.platform_id_by_token("c1") is None
    assert platforms.platform_id_by_role("CH", "CPO") is None
    assert platforms.auth_header("p1") is None
    assert not platforms.delete("p1")


def test_expired_token_a_is_invisible(store: Store) -> None:
    platforms = PlatformStore(store)
    token, _ = platforms.issue_token_a(
        [{"country_code": "CH", "party_id": "CPO", "role": ""}], 0.01
    )
    time.sleep(0.02)
    assert platforms.grant(token) is None


def test_proxies_are_scoped_and_expire(store: Store) -> None:
    proxies = ProxyStore(store)
    long = proxies.put("http://msp/cb/1", "CHCPO", "DEMSP", 60)
    short = proxies.put("http://msp/cb/2", "CHCPO", "DEMSP", 0.01)
    assert proxies.get(long, "CHCPO", "DEMSP") == "http://msp/cb/1"
    assert proxies.get(long, "DEMSP", "CHCPO") is None
    assert proxies.get(long, "NLCPX", "DEMSP") is None
    time.sleep(0.02)
    assert proxies.get(short, "CHCPO", "DEMSP") is None
    assert proxies.cleanup() == 1
    assert proxies.get(long, "CHCPO", "DEMSP") == "http://msp/cb/1"
    assert proxies.cleanup(now=time.time() + 120) == 1
    assert proxies.get(long, "CHCPO", "DEMSP") is None
    assert proxies.cleanup() == 0


def test_route_facts_follow_every_write_despite_the_memo(store: Store) -> None:
    reader, writer = PlatformStore(store), PlatformStore(store)  # two memos, as in two workers
    writer.register(None, _platform("cpo", ("CPO", "CH", "CPO")), "c-cpo")
    writer.register(None, _platform("msp", ("EMSP", "DE", "MSP")), "c-msp")
    args = ("Token c-msp", "DEMSP", "CHCPO", "locations", "SENDER")
    first = reader.route_facts(*args)
    assert first[:5] == ("msp", "msp", "cpo", "http://x/locations", "Token Yi1jcG8=")
    assert (first.sender_version, first.receiver_version) == ("2.2.1", "2.2.1")
    assert reader.ocpi_versions("msp", "nobody") == ("2.2.1", "")
    assert reader.route_facts(*args) is first  # memoised while nothing was written
    assert reader.route_facts("Token other", *args[1:]).sender is None

    writer.delete("cpo")
    gone = reader.route_facts(*args)
    assert (gone.sender, gone.receiver, gone.url, gone.auth) == ("msp", None, None, None)
    writer.register(None, _platform("cpo2", ("CPO", "CH", "CPO")), "c-cpo2")
    assert reader.route_facts(*args).receiver == "cpo2"


def _other_worker(path: str, action: str) -> None:
    """Runs in a separate process with its own LMDB environment, as another worker would."""
    store = Store(path, map_size=64 << 20)
    platforms = PlatformStore(store)
    if action == "bookkeeping":  # writes that do not change routing
        ProxyStore(store).put("http://msp/page2", "DEMSP", "CHCPO", 60)
        platforms.touch("cpo", "OFFLINE")
        platforms.issue_token_a([{"country_code": "NL", "party_id": "ABC", "role": ""}], 60)
        with RegistryCache(store).writer() as w:
            w.set_status(last_error="chain down", stale=True)
    elif action == "platform":
        platforms.register(None, _platform("cpo2", ("CPO", "CH", "CPO")), "c-cpo2", "cpo")
    elif action == "registry":
        LocalRegistry(RegistryCache(store)).set_party(
            "NL", "ABC", roles=["CPO"], operator="0x" + "11" * 20
        )
    store.close()


def _in_other_process(store: Store, action: str) -> None:
    proc = multiprocessing.get_context("spawn").Process(
        target=_other_worker, args=(str(store.path), action)
    )
    proc.start()
    proc.join(30)
    assert proc.exitcode == 0


def test_route_memo_outlives_bookkeeping_writes_but_not_routing_writes(store: Store) -> None:
    workers = [PlatformStore(store), PlatformStore(store)]  # two memos, as in two workers
    workers[0].register(None, _platform("cpo", ("CPO", "CH", "CPO")), "c-cpo")
    workers[0].register(None, _platform("msp", ("EMSP", "DE", "MSP")), "c-msp")
    args = ("Token c-msp", "DEMSP", "CHCPO", "locations", "SENDER")
    warm = [w.route_facts(*args) for w in workers]
    assert warm[0].receiver == "cpo"

    _in_other_process(store, "bookkeeping")  # proxy write, status, token A, registry status
    assert [w.route_facts(*args) for w in workers] == warm
    assert all(w.route_facts(*args) is m for w, m in zip(workers, warm, strict=True))

    with store.env.begin() as txn:
        generation = store.routing_generation(txn)
    _in_other_process(store, "registry")  # a registry entry changes the generation
    with store.env.begin() as txn:
        assert store.routing_generation(txn) != generation
    warm = [w.route_facts(*args) for w in workers]  # refilled (same answers)

    _in_other_process(store, "platform")  # the CPO re-registered as another platform
    assert [w.route_facts(*args).receiver for w in workers] == ["cpo2", "cpo2"]


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(["A", "C"]), token=st.text(max_size=64))
def test_token_key_is_the_digest_key_of_the_token_digest(kind: str, token: str) -> None:
    # routing reads token_key; registration stores token_digest and deletes by digest_key
    assert codec.token_key(kind, token) == codec.digest_key(kind, codec.token_digest(token))


def test_route_facts_carry_the_receivers_rules_and_follow_their_changes(store: Store) -> None:
    reader, writer = PlatformStore(store), PlatformStore(store)  # two memos, as in two workers
    writer.register(None, _platform("cpo", ("CPO", "CH", "CPO")), "c-cpo")
    writer.register(None, _platform("msp", ("EMSP", "DE", "MSP")), "c-msp")
    args = ("Token c-msp", "DEMSP", "CHCPO", "locations", "SENDER")
    assert reader.route_facts(*args).rules is NO_RULES
    rules = RulesStore(store)
    rules.update("cpo", lambda r: Rules.build(True, BLACKLIST, (RuleEntry("DE", "MSP"),)))
    found = reader.route_facts(*args).rules
    assert found.signatures
    assert found.admits("DEMSP", "locations") is not None
    writer.register(None, _platform("cpo", ("CPO", "CH", "CPO")), "c-cpo2", replace_id="cpo")
    assert reader.route_facts(*args).rules == found  # kept across a credentials update
    writer.delete("cpo")
    assert rules.get("cpo") is NO_RULES  # gone with the platform
