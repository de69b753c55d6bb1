"""Node state, one suite for both stores (LMDB and PostgreSQL): durable across reopen, atomic
registration, single-use tokens A, scoped and expiring proxies, route facts following every
write of another worker or replica; LMDB's memo across processes; PostgreSQL's listener and
background-jobs lock."""

from __future__ import annotations

import json
import multiprocessing
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import asyncpg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ocn_core import store as store_module
from ocn_core.config import Settings
from ocn_core.registry import LocalRegistry, RegistryCache
from ocn_core.routing import module_route
from ocn_core.state import Platform, PlatformStore, ProxyStore, RoleConflict, RoleRecord, codec
from ocn_core.state.backend import NodeState, lmdb_state, open_state
from ocn_core.state.interface import ReplayClaims, TokenAlreadyUsed
from ocn_core.state.platforms import ForwardPlan
from ocn_core.state.records import EndpointRecord
from ocn_core.state.rules import BLACKLIST, NO_RULES, RuleEntry, Rules
from ocn_core.store import ROUTING_GENERATION, Store

OpenReplica = Callable[[], NodeState]  # a new worker (LMDB) or replica (PostgreSQL) of one node


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


@pytest.fixture(params=["lmdb", "postgresql"])
def replica(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OpenReplica]:
    """Opens another view of one node's state: a worker over the LMDB file, or a replica
    process's PostgreSQL connections (its own bridge, listener and mirror)."""
    opened: list[NodeState] = []
    store = Store(tmp_path / "lmdb", map_size=64 << 20)
    if request.param == "lmdb":

        def open_one() -> NodeState:
            return lmdb_state(store)
    else:
        url = request.getfixturevalue("pg_url")
        settings = Settings.from_env({}, data_dir=tmp_path, state_url=url, state_sync_timeout=3)

        def open_one() -> NodeState:
            opened.append(open_state(settings, store))
            return opened[-1]

    yield open_one
    for state in opened:
        state.close()
    store.close()


def test_registration_survives_a_reopen(replica: OpenReplica) -> None:
    platforms = replica().platforms
    token_a, _ = platforms.issue_token_a(
        [{"country_code": "CH", "party_id": "CPO", "role": ""}], 60
    )
    platforms.register(token_a, _platform("p1", ("CPO", "CH", "CPO")), "token-c")
    reopened = replica().platforms
    assert reopened.platform_id_by_token("token-c") == "p1"
    assert reopened.platform_id_by_role("ch", "cpo") == "p1"
    assert reopened.grant(token_a) is None  # consumed
    assert reopened.auth_header("p1") == "Token Yi1wMQ=="  # base64("b-p1")
    found = reopened.platform("p1")
    assert found is not None
    assert found.endpoints == [EndpointRecord("locations", "SENDER", "http://x/locations")]
    assert [p.id for p in reopened.all()] == ["p1"]


def test_conflicting_registration_changes_nothing(replica: OpenReplica) -> None:
    platforms = replica().platforms
    platforms.register(None, _platform("p1", ("CPO", "CH", "CPO")), "c1")
    with pytest.raises(RoleConflict):
        platforms.register(None, _platform("p2", ("EMSP", "DE", "MSP"), ("CPO", "CH", "CPO")), "c2")
    assert platforms.platform("p2") is None
    assert platforms.platform_id_by_role("DE", "MSP") is None
    assert platforms.platform_id_by_token("c2") is None


def test_delete_removes_tokens_roles_and_endpoints(replica: OpenReplica) -> None:
    platforms = replica().platforms
    platforms.register(None, _platform("p1", ("CPO", "CH", "CPO")), "c1")
    platforms.touch("p1", "OFFLINE")
    found = platforms.platform("p1")
    assert found is not None
    assert found.status == "OFFLINE"
    assert platforms.delete("p1")
    assert platforms.platform_id_by_token("c1") is None
    assert platforms.platform_id_by_role("CH", "CPO") is None
    assert platforms.auth_header("p1") is None
    assert not platforms.delete("p1")


def test_expired_token_a_is_invisible(replica: OpenReplica) -> None:
    platforms = replica().platforms
    token, _ = platforms.issue_token_a(
        [{"country_code": "CH", "party_id": "CPO", "role": ""}], 0.01
    )
    time.sleep(0.02)
    assert platforms.grant(token) is None


def test_token_a_is_single_use_when_two_replicas_race(replica: OpenReplica) -> None:
    first, second = replica().platforms, replica().platforms
    token, _ = first.issue_token_a([{"country_code": "CH", "party_id": "CPO", "role": ""}], 60)
    assert second.grant(token) is not None
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def register(platforms: object, pid: str) -> None:
        start.wait()
        try:
            platforms.register(token, _platform(pid, ("CPO", "CH", pid.upper())), "c-" + pid)  # type: ignore[attr-defined]
            outcomes.append("won")
        except TokenAlreadyUsed:
            outcomes.append("refused")

    threads = [
        threading.Thread(target=register, args=(p, pid))
        for p, pid in ((first, "one"), (second, "two"))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["refused", "won"]
    assert len(list(first.all())) == 1
    assert len(list(second.all())) == 1


def test_proxies_are_scoped_and_expire(replica: OpenReplica) -> None:
    proxies, elsewhere = replica().proxies, replica().proxies
    long = proxies.put("http://msp/cb/1", "CHCPO", "DEMSP", 60)
    short = proxies.put("http://msp/cb/2", "CHCPO", "DEMSP", 0.01)
    assert elsewhere.get(long, "CHCPO", "DEMSP") == "http://msp/cb/1"  # any worker / replica
    assert elsewhere.exists(long)
    assert not elsewhere.exists("never-issued")
    assert proxies.get(long, "CHCPO", "DEMSP") == "http://msp/cb/1"
    assert proxies.get(long, "DEMSP", "CHCPO") is None
    assert proxies.get(long, "NLCPX", "DEMSP") is None
    time.sleep(0.02)
    assert proxies.get(short, "CHCPO", "DEMSP") is None
    assert elsewhere.size() == 2  # the expired one stays until the cleanup
    assert proxies.cleanup() == 1
    assert elsewhere.size() == 1
    assert proxies.get(long, "CHCPO", "DEMSP") == "http://msp/cb/1"
    assert proxies.cleanup(now=time.time() + 120) == 1
    assert elsewhere.get(long, "CHCPO", "DEMSP") is None
    assert proxies.cleanup() == 0


def test_a_message_is_claimed_once_across_workers_or_replicas(
    replica: OpenReplica, tmp_path: Path
) -> None:
    from ocn_core.federation.replay import ReplayGuard

    opened = [replica().replay_guard for _ in range(2)]
    guards: list[ReplayClaims]
    if opened[0] is None:  # LMDB: one environment per process (workers share its file)
        guards = [ReplayGuard(tmp_path / "replay", 60.0)] * 2
    else:
        guards = [open_guard(tmp_path / "replay", 60.0) for open_guard in opened if open_guard]
    try:
        now = time.time()
        assert guards[0].claim("0xAbC", "req-1", now)
        assert not guards[1].claim("0xabc", "req-1", now + 1)  # replayed, to another replica
        assert guards[1].claim("0xabc", "req-2", now + 1)
        assert guards[1].claim("0xabc", "req-1", now + 61)  # the window has passed
        assert guards[0].cleanup(now + 62) >= 1
    finally:
        for guard in {id(g): g for g in guards}.values():
            guard.close()


def test_a_rotation_token_c_works_on_every_replica_until_dropped(replica: OpenReplica) -> None:
    one, two = replica().platforms, replica().platforms
    one.register(None, _platform("cpo", ("CPO", "CH", "CPO")), "c-old")
    assert one.add_token_c("cpo", "c-new")
    assert not one.add_token_c("nobody", "c-x")
    assert two.platform_id_by_token("c-new") == "cpo"  # both valid during the exchange
    assert two.platform_id_by_token("c-old") == "cpo"
    two.drop_token_c("cpo", "c-new")  # the party refused the rotation
    assert one.platform_id_by_token("c-new") is None
    assert one.platform_id_by_token("c-old") == "cpo"
    assert one.add_token_c("cpo", "c-next")
    one.delete("cpo")
    assert two.platform_id_by_token("c-next") is None  # gone with the platform


def test_route_facts_follow_every_write_despite_the_memo(replica: OpenReplica) -> None:
    reader, writer = replica().platforms, replica().platforms  # two memos: workers / replicas
    writer.register(None, _platform("cpo", ("CPO", "CH", "CPO")), "c-cpo")
    writer.register(None, _platform("msp", ("EMSP", "DE", "MSP")), "c-msp")
    args = ("Token c-msp", "DEMSP", "CHCPO", "locations", "SENDER")
    first = reader.route_facts(*args)
    assert first[:5] == ("msp", "msp", "cpo", "http://x/locations", "Token Yi1jcG8=")
    assert (first.sender_version, first.receiver_version) == ("2.2.1", "2.2.1")
    assert reader.ocpi_versions("msp", "nobody") == ("2.2.1", "")
    assert reader.route_facts(*args) is first  # memoised while nothing was written
    assert reader.route_facts("Token other", *args[1:]).sender is None

    writer.delete("cpo")  # acknowledged: no view of the node may route to it any more
    gone = reader.route_facts(*args)
    assert (gone.sender, gone.receiver, gone.url, gone.auth) == ("msp", None, None, None)
    writer.register(None, _platform("cpo2", ("CPO", "CH", "CPO")), "c-cpo2")
    assert reader.route_facts(*args).receiver == "cpo2"
    writer.delete("msp")
    assert reader.route_facts(*args).sender is None  # the revoked token C routes nowhere


# --- PostgreSQL only: the listener's reload after a lost connection, the jobs lock ----------


def _terminate(url: str, application_name: str) -> int:
    async def run() -> int:
        conn = await asyncpg.connect(url)
        try:
            rows = await conn.fetch(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = $1",
                application_name,
            )
            return len(rows)
        finally:
            await conn.close()

    import asyncio

    return asyncio.run(run())


def _wait(check: Callable[[], bool], timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return check()


def test_lost_listener_reloads_in_full_and_serves_its_mirror_meanwhile(
    pg_url: str, tmp_path: Path
) -> None:
    store = Store(tmp_path / "lmdb", map_size=64 << 20)
    settings = Settings.from_env({}, data_dir=tmp_path, state_url=pg_url, state_sync_timeout=0.5)
    one, two = open_state(settings, store), open_state(settings, store)
    try:
        one.platforms.register(None, _platform("cpo", ("CPO", "CH", "CPO")), "c-cpo")
        assert two.platforms.platform_id_by_token("c-cpo") == "cpo"
        assert _terminate(pg_url, "ocn-listener") == 2  # both listeners' sessions end
        assert two.platforms.platform_id_by_token("c-cpo") == "cpo"  # the mirror still serves
        one.platforms.register(None, _platform("msp", ("EMSP", "DE", "MSP")), "c-msp")
        assert _wait(lambda: two.platforms.platform_id_by_token("c-msp") == "msp")
    finally:
        one.close()
        two.close()
        store.close()


def test_incremental_mirror_reloads_equal_a_full_load(pg_url: str, tmp_path: Path) -> None:
    from ocn_core.state.pg_store import PgPlatformStore, load_mirror

    store = Store(tmp_path / "lmdb", map_size=64 << 20)
    settings = Settings.from_env({}, data_dir=tmp_path, state_url=pg_url)
    writer, reader = open_state(settings, store), open_state(settings, store)
    try:
        w = writer.platforms
        for i in range(6):
            w.register(
                None, _platform(f"p{i}", ("CPO", "CH", f"C{i}"), ("EMSP", "DE", f"M{i}")), f"c{i}"
            )
        w.delete("p1")
        w.register(None, _platform("p2", ("CPO", "CH", "C2")), "c2-new", replace_id="p2")  # PUT
        w.touch("p3", "OFFLINE")
        w.register(None, _platform("p7", ("EMSP", "DE", "M1")), "c7")  # a freed role reused
        assert isinstance(reader.platforms, PgPlatformStore)
        bridge = reader.platforms.bridge
        full = bridge.call(bridge._with_conn(load_mirror))
        assert reader.platforms.mirror == full
        assert reader.platforms.platform_id_by_token("c2") is None
        assert reader.platforms.platform_id_by_role("DE", "M2") is None  # dropped by the PUT
        assert reader.platforms.platform_id_by_role("DE", "M1") == "p7"
    finally:
        writer.close()
        reader.close()
        store.close()


def test_background_jobs_run_on_one_replica_and_move_when_it_dies(
    pg_url: str, tmp_path: Path
) -> None:
    store = Store(tmp_path / "lmdb", map_size=64 << 20)
    settings = Settings.from_env({}, data_dir=tmp_path, state_url=pg_url)
    replicas = [open_state(settings, store) for _ in range(2)]
    try:
        for r in replicas:
            r.leader.start()
        assert _wait(lambda: sum(r.leader.held for r in replicas) == 1)
        time.sleep(1.5)  # another round of attempts: still exactly one
        assert sum(r.leader.held for r in replicas) == 1
        leader = next(r for r in replicas if r.leader.held)
        other = next(r for r in replicas if not r.leader.held)
        started = time.monotonic()
        leader.close()  # its sessions end, as when the process dies
        assert _wait(lambda: other.leader.held, timeout=5)
        assert time.monotonic() - started < 3
    finally:
        for r in replicas:
            r.close()
        store.close()


# --- LMDB only: the memo across processes --------------------------------------------------


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
    elif action == "open":  # opening is the action
        pass
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
    plan_key = ("Token c-msp", "DE", "MSP", "CH", "CPO", "locations", 1, "2.2.1", "GET")
    row = module_route("locations", "SENDER", "2.2.1")
    assert row is not None
    plan = ForwardPlan("http://cpo/locations", "Token b", row)
    for w in workers:  # plans are kept and dropped with the facts they were made from
        assert w.forward_plan(plan_key) is None
        w.keep_forward_plan(plan_key, plan)

    _in_other_process(store, "bookkeeping")  # proxy write, status, token A, registry status
    assert [w.route_facts(*args) for w in workers] == warm
    assert all(w.route_facts(*args) is m for w, m in zip(workers, warm, strict=True))
    assert all(w.forward_plan(plan_key) is plan for w in workers)

    with store.env.begin() as txn:
        generation = store.routing_generation(txn)
    _in_other_process(store, "registry")  # a registry entry changes the generation
    with store.env.begin() as txn:
        assert store.routing_generation(txn) != generation
    assert [w.forward_plan(plan_key) for w in workers] == [None, None]
    warm = [w.route_facts(*args) for w in workers]  # refilled (same answers)

    _in_other_process(store, "platform")  # the CPO re-registered as another platform
    assert [w.route_facts(*args).receiver for w in workers] == ["cpo2", "cpo2"]


def test_registry_party_memo_follows_every_process_writes(store: Store) -> None:
    workers = [RegistryCache(store), RegistryCache(store)]  # two memos, as in two workers
    LocalRegistry(workers[0]).set_party("DE", "MSP", ["EMSP"], "0x" + "22" * 20)
    listed = [w.party("de", "msp") for w in workers]
    assert listed[0] is not None
    assert listed[0].roles == ("EMSP",)
    assert all(w.party("de", "msp") is p for w, p in zip(workers, listed, strict=True))
    assert [w.party("NL", "ABC") for w in workers] == [None, None]  # "not listed" is kept too

    _in_other_process(store, "bookkeeping")  # registry status and other non-routing writes
    assert all(w.party("de", "msp") is p for w, p in zip(workers, listed, strict=True))

    _in_other_process(store, "registry")  # another process lists NL ABC
    found = [w.party("NL", "ABC") for w in workers]
    assert [p.operator if p else None for p in found] == ["0x" + "11" * 20] * 2
    assert [w.party("de", "msp") for w in workers] == listed  # re-read: same listing

    with workers[1].writer() as w:  # a write in this process, through the other worker
        assert w.delete_party("NL", "ABC")
    assert [w.party("NL", "ABC") for w in workers] == [None, None]


def test_announced_generation_runs_ahead_of_lmdb_never_behind(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    platforms = PlatformStore(store)
    platforms.register(None, _platform("cpo", ("CPO", "CH", "CPO")), "c-cpo")
    platforms.register(None, _platform("msp", ("EMSP", "DE", "MSP")), "c-msp")
    facts = platforms.route_facts("Token c-msp", "DEMSP", "CHCPO", "locations", "SENDER")
    row = module_route("locations", "SENDER", "2.2.1")
    assert row is not None
    assert facts.url is not None
    assert facts.auth is not None
    key = ("Token c-msp", "DE", "MSP", "CH", "CPO", "locations", 1, "2.2.1", "GET")
    plan = ForwardPlan(facts.url, facts.auth, row)
    platforms.keep_forward_plan(key, plan)
    with store.env.begin() as txn:
        committed = store.routing_generation(txn)
    assert store.announced_generation() == committed

    txn = store.env.begin(write=True)
    store.bump_routing_generation(txn)  # announced, then the write is aborted
    txn.abort()
    assert store.announced_generation() > committed  # ahead: readers ask LMDB (unchanged)
    assert platforms.forward_plan(key) is plan

    _in_other_process(store, "open")  # a process opening the store re-announces LMDB's
    assert store.announced_generation() == committed

    # a writer that does not announce (an older release): seen within MEMO_RECHECK_S
    monkeypatch.setattr(store_module, "MEMO_RECHECK_S", 0.05)
    assert platforms.forward_plan(key) is plan
    with store.env.begin(write=True) as txn:
        txn.put(ROUTING_GENERATION, b"\xff" * 8, db=store.db("meta"))
    time.sleep(0.06)
    assert platforms.forward_plan(key) is None
    with store.env.begin(write=True) as txn:  # back, for the committed write below
        txn.put(ROUTING_GENERATION, committed, db=store.db("meta"))
    assert platforms.route_facts("Token c-msp", "DEMSP", "CHCPO", "locations", "SENDER")
    platforms.keep_forward_plan(key, plan)
    platforms.delete("cpo")  # a committed routing write: announced first, the plan is dropped
    assert store.announced_generation() > committed
    assert platforms.forward_plan(key) is None


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(["A", "C"]), token=st.text(max_size=64))
def test_token_key_is_the_digest_key_of_the_token_digest(kind: str, token: str) -> None:
    # routing reads token_key; registration stores token_digest and deletes by digest_key
    assert codec.token_key(kind, token) == codec.digest_key(kind, codec.token_digest(token))


# --- `ocn-node db upgrade | status` -------------------------------------------------------


def test_db_commands_create_and_migrate_the_schema_once(pg_url: str) -> None:
    from ocn_core.state.pg_schema import LATEST
    from tests.support.process import ocn_node

    env = {"OCN_STATE_URL": pg_url}
    fresh = ocn_node("db", "status", env=env)
    assert fresh.returncode == 3, fresh.stderr  # pending migrations
    assert f"schema version 0 (this node: {LATEST}); pending: [1" in fresh.stdout
    first = ocn_node("db", "upgrade", env=env)
    assert first.returncode == 0, first.stderr
    assert "applied migration 1: platforms, roles" in first.stdout
    again = ocn_node("db", "upgrade", "--state-url", pg_url)
    assert again.returncode == 0, again.stderr
    assert "applied" not in again.stdout
    assert f"schema version {LATEST} (this node: {LATEST}); pending: none" in again.stdout

    async def newer() -> None:
        conn = await asyncpg.connect(pg_url)
        await conn.execute("INSERT INTO ocn_schema VALUES (999, 'from the future')")
        await conn.close()

    import asyncio

    asyncio.run(newer())
    refused = ocn_node("db", "upgrade", env=env)
    assert refused.returncode == 1
    assert "schema version 999; this node knows up to" in refused.stderr
    missing = ocn_node("db", "status", env={"OCN_STATE_URL": ""})
    assert missing.returncode == 2
    assert "set --state-url or OCN_STATE_URL" in missing.stderr


def test_admin_commands_work_on_the_shared_state(pg_url: str, tmp_path: Path) -> None:
    from tests.support.process import ocn_node

    env = {"OCN_STATE_URL": pg_url}
    issued = ocn_node("admin", "--data-dir", str(tmp_path / "a"), "token", "CH:CPO", env=env)
    assert issued.returncode == 0, issued.stderr
    token = json.loads(issued.stdout)["token"]
    store = Store(tmp_path / "lmdb", map_size=64 << 20)
    state = open_state(Settings.from_env({}, data_dir=tmp_path, state_url=pg_url), store)
    try:  # another replica (its own data dir) sees the token the CLI issued
        found = state.platforms.grant(token)
        assert found is not None
        assert found.allows("CPO", "CH", "CPO")
    finally:
        state.close()
        store.close()
    listed = ocn_node("admin", "--data-dir", str(tmp_path / "b"), "platforms", env=env)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.strip() == "[]"


def test_route_facts_carry_the_receivers_rules_and_follow_their_changes(
    replica: OpenReplica,
) -> None:
    one, two = replica(), replica()
    reader, writer = one.platforms, two.platforms  # two memos: workers / replicas
    writer.register(None, _platform("cpo", ("CPO", "CH", "CPO")), "c-cpo")
    writer.register(None, _platform("msp", ("EMSP", "DE", "MSP")), "c-msp")
    args = ("Token c-msp", "DEMSP", "CHCPO", "locations", "SENDER")
    assert reader.route_facts(*args).rules is NO_RULES
    assert two.hub is not None
    assert one.hub is not None
    rules = two.hub.rules
    rules.update("cpo", lambda r: Rules.build(True, BLACKLIST, (RuleEntry("DE", "MSP"),)))
    found = reader.route_facts(*args).rules
    assert found.signatures
    assert found.admits("DEMSP", "locations") is not None
    assert one.hub.rules.get("cpo") == found
    writer.register(None, _platform("cpo", ("CPO", "CH", "CPO")), "c-cpo2", replace_id="cpo")
    assert reader.route_facts(*args).rules == found  # kept across a credentials update
    writer.delete("cpo")
    assert rules.get("cpo") is NO_RULES  # gone with the platform
    assert one.hub.rules.get("cpo") is NO_RULES


def test_a_refused_rules_change_writes_nothing(replica: OpenReplica) -> None:
    state = replica()
    assert state.hub is not None
    state.platforms.register(None, _platform("cpo", ("CPO", "CH", "CPO")), "c-cpo")

    def refuse(_rules: Rules) -> Rules:
        raise ValueError("duplicate entry")

    with pytest.raises(ValueError, match="duplicate entry"):
        state.hub.rules.update("cpo", refuse)
    assert state.hub.rules.get("cpo") is NO_RULES


def test_client_info_statuses_are_shared(replica: OpenReplica) -> None:
    one, two = replica().hub, replica().hub
    assert one is not None
    assert two is not None
    parties = [("CPO", "ch", "cpo"), ("EMSP", "DE", "MSP")]
    changed = one.clientinfo.set_status(parties, "CONNECTED", when=10.0)
    assert [(c.country_code, c.party_id, c.status) for c in changed] == [
        ("CH", "CPO", "CONNECTED"),
        ("DE", "MSP", "CONNECTED"),
    ]
    assert two.clientinfo.set_status(parties[:1], "CONNECTED") == []  # nothing changed
    assert two.clientinfo.set_status(parties, "PLANNED", only_new=True) == []
    offline = two.clientinfo.set_status(parties[:1], "OFFLINE", when=20.0)
    assert [(c.status, c.last_updated) for c in offline] == [("OFFLINE", 20.0)]
    found = one.clientinfo.get("CH", "CPO", "CPO")
    assert found is not None
    assert (found.status, found.last_updated) == ("OFFLINE", 20.0)
    assert [(i.party_key, i.status) for i in one.clientinfo.all()] == [
        ("CHCPO", "OFFLINE"),
        ("DEMSP", "CONNECTED"),
    ]


def test_hub_data_pushed_through_one_is_read_through_another(replica: OpenReplica) -> None:
    one, two = replica().hub, replica().hub
    assert one is not None
    assert two is not None
    loc = {"id": "L1", "evses": [{"uid": "E1", "connectors": [{"id": "1", "power": 11}]}]}
    assert one.data.apply("locations", ("ch", "cpo"), ["L1"], "PUT", loc)
    assert one.data.apply("locations", ("NL", "ABC"), ["L0"], "PUT", {"id": "L0"})
    patch = {"power": 22}
    assert two.data.apply("locations", ("CH", "CPO"), ["L1", "E1", "1"], "PATCH", patch)
    assert not two.data.apply("locations", ("CH", "CPO"), ["L9"], "PATCH", patch)  # unknown
    objects = one.data.objects("locations")
    assert [o["id"] for o in objects] == ["L1", "L0"]  # by owner: CHCPO before NLABC
    assert objects[0]["evses"][0]["connectors"][0]["power"] == 22
    assert objects[0]["country_code"] == "CH"
    assert two.data.owner("locations", "L1") == "CHCPO"
    assert two.data.apply("locations", ("CH", "CPO"), ["L1"], "DELETE", None)
    assert [o["id"] for o in one.data.objects("locations")] == ["L0"]


def test_token_keys_are_memoised_per_header_and_both_forms_route(store: Store) -> None:
    platforms = PlatformStore(store)
    platforms.register(None, _platform("msp", ("EMSP", "DE", "MSP")), "c-msp")
    raw, b64 = "Token c-msp", "Token Yy1tc3A="  # 2.2 peers send it raw, 2.2.1 peers Base64
    assert platforms.token_keys(b64) == (
        codec.token_key("C", "c-msp"),
        codec.token_key("C", "Yy1tc3A="),
    )
    assert platforms.token_keys(b64) is platforms.token_keys(b64)
    assert platforms.token_keys("Bearer c-msp") == ()
    for header in (raw, b64):
        assert (
            platforms.route_facts(header, "DEMSP", "CHCPO", "locations", "SENDER").sender == "msp"
        )
    platforms.delete("msp")  # the memo outlives writes, the token it names does not
    assert platforms.route_facts(b64, "DEMSP", "CHCPO", "locations", "SENDER").sender is None
