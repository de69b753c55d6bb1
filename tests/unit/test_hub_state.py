"""Issue 13 state: OcnRules semantics, hub data merges, client info records, partner limits."""

from __future__ import annotations

import pytest

from ocn_core.config import Settings
from ocn_core.errors import PayloadTooLarge, RateLimited
from ocn_core.hub.limits import Limit, PartnerLimits, parse_overrides
from ocn_core.state.clientinfo import ClientInfoStore
from ocn_core.state.hubdata import HubDataStore
from ocn_core.state.rules import BLACKLIST, NO_RULES, WHITELIST, RuleEntry, Rules, RulesStore
from ocn_core.state.rules import decode as decode_rules
from ocn_core.state.rules import encode as encode_rules
from ocn_core.store import Store

CPO = RuleEntry("CH", "CPO", ("locations",))
ALL = RuleEntry("DE", "MSP", ())


@pytest.mark.parametrize(
    ("active", "sender", "module", "admitted"),
    [
        (WHITELIST, "CHCPO", "locations", True),
        (WHITELIST, "chcpo", "LOCATIONS", True),  # case-insensitive
        (WHITELIST, "CHCPO", "sessions", False),
        (WHITELIST, "DEMSP", "anything-custom", True),  # no modules = all
        (WHITELIST, "NLXXX", "locations", False),
        (BLACKLIST, "CHCPO", "locations", False),
        (BLACKLIST, "CHCPO", "sessions", True),  # only its modules are blocked
        (BLACKLIST, "DEMSP", "tokens", False),  # no modules = all blocked
        (BLACKLIST, "NLXXX", "tokens", True),
    ],
)
def test_rules_admit(active: str, sender: str, module: str, admitted: bool) -> None:
    rules = Rules.build(False, active, (CPO, ALL))
    assert (rules.admits(sender, module) is None) is admitted
    assert decode_rules(encode_rules(rules)) == rules


def test_module_independent_checks_block_only_a_full_block() -> None:
    black = Rules.build(False, BLACKLIST, (CPO, ALL))
    assert black.admits("CHCPO") is None  # blocked for one module only: still listed
    assert black.admits("DEMSP") is not None
    assert Rules.build(False, WHITELIST, ()).admits("CHCPO") is not None  # block-all


def test_rules_store_update_is_atomic_and_empty_rules_are_removed(store: Store) -> None:
    rules = RulesStore(store)
    assert rules.get("p1") is NO_RULES

    def boom(_: Rules) -> Rules:
        raise ValueError("refused")

    with pytest.raises(ValueError, match="refused"):
        rules.update("p1", boom)
    rules.update("p1", lambda r: Rules.build(True, r.active, r.entries))
    assert rules.get("p1").signatures is True
    rules.update("p1", lambda r: Rules.build(False, "", ()))
    with store.env.begin() as txn:
        assert txn.get(b"v1:p1", db=rules.db) is None


def test_hub_data_merges_patches_at_every_level_and_indexes_owners(store: Store) -> None:
    data = HubDataStore(store)
    loc = {"id": "L1", "evses": [{"uid": "E1", "status": "AVAILABLE", "connectors": [{"id": "1"}]}]}
    assert data.apply("locations", ("ch", "cpo"), ["L1"], "PUT", loc)
    assert data.apply("locations", ("CH", "CPO"), ["L1", "E1"], "PATCH", {"status": "CHARGING"})
    assert data.apply("locations", ("CH", "CPO"), ["L1", "E1", "1"], "PATCH", {"max_voltage": 230})
    assert data.apply("locations", ("CH", "CPO"), ["L1", "E2"], "PUT", {"uid": "E2"})
    assert not data.apply("locations", ("CH", "CPO"), ["L9", "E1"], "PUT", {"uid": "E1"})
    assert not data.apply("locations", ("CH", "CPO"), ["L9"], "PATCH", {"x": 1})
    (stored,) = data.objects("locations")
    assert (stored["country_code"], stored["party_id"]) == ("CH", "CPO")
    assert stored["evses"][0] == {
        "uid": "E1",
        "status": "CHARGING",
        "connectors": [{"id": "1", "max_voltage": 230}],
    }
    assert [e["uid"] for e in stored["evses"]] == ["E1", "E2"]
    assert data.owner("locations", "L1") == "CHCPO"
    assert data.objects("tariffs") == []
    assert data.apply("locations", ("CH", "CPO"), ["L1"], "DELETE", None)
    assert data.objects("locations") == []


def test_client_info_changes_only_when_status_or_node_change(store: Store) -> None:
    infos = ClientInfoStore(store)
    parties = [("CPO", "ch", "cpo")]
    assert len(infos.set_status(parties, "CONNECTED")) == 1
    assert infos.set_status(parties, "CONNECTED") == []
    assert infos.set_status(parties, "PLANNED", only_new=True) == []
    (changed,) = infos.set_status(parties, "OFFLINE")
    assert (changed.country_code, changed.party_id, changed.status) == ("CH", "CPO", "OFFLINE")
    assert infos.get("CH", "CPO", "CPO") == changed


def test_partner_limits() -> None:
    default = Limit(0.0, 1, 0)
    assert parse_overrides("CHCPO:5/10/100, deMSP://64", default) == {
        "CHCPO": Limit(5.0, 10, 100),
        "DEMSP": Limit(0.0, 1, 64),
    }
    for bad in ("CHCP:1", "CHCPO:1/2/3/4", "CHCPO:x"):
        with pytest.raises(ValueError):  # noqa: PT011 - the message names the entry
            parse_overrides(bad, default)
    limits = PartnerLimits(Settings(partner_limits="CHCPO:1000/2/10"))
    assert limits.active
    limits.admit("CHCPO", 10)
    limits.admit("CHCPO", 10)
    with pytest.raises(RateLimited) as exc:
        limits.admit("CHCPO", 10)
    assert 0 < exc.value.retry_after <= 0.001
    with pytest.raises(PayloadTooLarge):
        limits.admit("CHCPO", 11)
    limits.admit("DEMSP", 1 << 20)  # no default limit
    assert not PartnerLimits(Settings()).active
