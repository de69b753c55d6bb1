"""The OcnRules module (``/ocpi/receiver/{v}/ocnrules``, ocn-node.md §2.12) and its enforcement.

A platform manages its own rules with its token C (no routing headers): the signature flag, a
whitelist or a blacklist of sender parties, each entry naming the modules it covers (none = all).
Rules are enforced at the receiver's node, for every delivery to a local platform: routed,
proxied, custom, broadcast and ``/ocn/message`` deliveries all call :func:`check` or
:func:`enforce` (the routed path reads the rules with its route facts, so it costs no lookup).
Fixed reference quirks: a blacklist entry blocks only its modules; duplicate checks and
``block-all`` touch only the caller's rules; parties compare case-insensitively.
"""

from __future__ import annotations

from typing import Any

from ocn_core import ocpi
from ocn_core.errors import (
    DuplicateRule,
    Forbidden,
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    RulesConflict,
)
from ocn_core.hub.auth import require_platform
from ocn_core.hub.context import NodeContext
from ocn_core.model import RouteRequest
from ocn_core.state.rules import BLACKLIST, WHITELIST, RuleEntry, Rules

BOTH_ACTIVE = "OCN Rules whitelist and blacklist cannot be active at same time"


def enforce(rules: Rules, sender_key: str, module: str) -> None:
    """Raise :class:`Forbidden` (400/2000) when ``rules`` block ``sender_key`` for ``module``."""
    why = rules.admits(sender_key, module)
    if why is not None:
        raise Forbidden(why)


def check(ctx: NodeContext, sender_key: str, receiver_platform: str, module: str) -> Rules:
    """:func:`enforce` the rules of a local receiving platform; returns them (signature flag)."""
    rules = ctx.hub.rules.get(receiver_platform)
    enforce(rules, sender_key, module)
    return rules


def admits(ctx: NodeContext, receiver_platform: str, party_key: str) -> bool:
    """Module-independent: may the platform hear from (or about) ``party_key``?"""
    return ctx.hub.rules.get(receiver_platform).admits(party_key) is None


def handle(ctx: NodeContext, req: RouteRequest) -> Any:
    """One OcnRules operation for the calling platform; returns the envelope's ``data``."""
    platform_id, _ = require_platform(ctx, req.authorization)
    store = ctx.hub.rules
    parts = req.path_suffix.split("/") if req.path_suffix else []
    method = req.method
    if not parts:
        if method != "GET":
            raise MethodNotAllowed(f"{method} is not served on ocnrules")
        return store.get(platform_id).to_json()
    op = parts[0]
    if op == "signatures" and len(parts) == 1 and method == "PUT":
        store.update(platform_id, _toggle_signatures)
    elif op == "block-all" and len(parts) == 1 and method == "PUT":
        store.update(platform_id, _block_all)
    elif op in (WHITELIST, BLACKLIST) and len(parts) == 1 and method == "PUT":
        entries = _entries(ocpi.loads(req.body or b"null"))
        store.update(platform_id, lambda rules: _replace(rules, op, entries))
    elif op in (WHITELIST, BLACKLIST) and len(parts) == 1 and method == "POST":
        entry = _entry(ocpi.loads(req.body or b"null"))
        store.update(platform_id, lambda rules: _append(rules, op, entry))
    elif op in (WHITELIST, BLACKLIST) and len(parts) == 3 and method == "DELETE":
        ocpi.check_party(parts[1], parts[2])
        key = (parts[1] + parts[2]).upper()
        store.update(platform_id, lambda rules: _remove(rules, op, key))
    else:
        raise NotFound(f"No OcnRules operation {method} {req.path_suffix}")
    return None


def _toggle_signatures(rules: Rules) -> Rules:
    return Rules.build(not rules.signatures, rules.active, rules.entries)


def _block_all(rules: Rules) -> Rules:
    if rules.active == BLACKLIST:
        raise RulesConflict(BOTH_ACTIVE)
    return Rules.build(rules.signatures, WHITELIST, ())


def _replace(rules: Rules, kind: str, entries: tuple[RuleEntry, ...]) -> Rules:
    if not entries:  # an empty list deactivates that list
        active = "" if rules.active == kind else rules.active
        kept = () if rules.active == kind else rules.entries
        return Rules.build(rules.signatures, active, kept)
    if rules.active and rules.active != kind:
        raise RulesConflict(BOTH_ACTIVE)
    return Rules.build(rules.signatures, kind, entries)


def _append(rules: Rules, kind: str, entry: RuleEntry) -> Rules:
    if rules.active and rules.active != kind:
        raise RulesConflict(BOTH_ACTIVE)
    if rules.active == kind and rules.entry(entry.key) is not None:
        raise DuplicateRule(f"Party already on OCN Rules {kind}")
    return Rules.build(rules.signatures, kind, (*rules.entries, entry))


def _remove(rules: Rules, kind: str, key: str) -> Rules:
    if rules.active != kind:
        raise RulesConflict(f"Cannot delete entry from OCN Rules {kind}")
    if rules.entry(key) is None:
        raise NotFound(f"Party {key} not on OCN Rules {kind}")
    kept = tuple(e for e in rules.entries if e.key != key)
    return Rules.build(rules.signatures, kind if kept else "", kept)


def _entries(data: Any) -> tuple[RuleEntry, ...]:
    if not isinstance(data, list):
        raise InvalidRequest("Body must be a JSON array of {party_id, country_code, modules}")
    entries = tuple(_entry(item) for item in data)
    keys = [e.key for e in entries]
    if len(set(keys)) != len(keys):
        raise InvalidRequest("A party is listed twice")
    return entries


def _entry(data: Any) -> RuleEntry:
    if not isinstance(data, dict):
        raise InvalidRequest("Rule entry must be an object {party_id, country_code, modules}")
    cc, pid = data.get("country_code"), data.get("party_id")
    if not isinstance(cc, str) or not isinstance(pid, str):
        raise InvalidRequest("Rule entry needs string 'country_code' and 'party_id'")
    ocpi.check_party(cc, pid)
    modules = data.get("modules", [])
    if modules is None:
        modules = []
    if not isinstance(modules, list) or not all(isinstance(m, str) and m for m in modules):
        raise InvalidRequest("Rule entry 'modules' must be a list of non-empty module ids")
    return RuleEntry(cc.upper(), pid.upper(), tuple(dict.fromkeys(m.lower() for m in modules)))
