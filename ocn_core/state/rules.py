"""OcnRules of each local platform (ocn-node.md §2.12), in LMDB (``state.rules``).

One record per platform (``b"v1:" + platform_id`` → JSON): the signature flag and one party list
with the kind that is active (``whitelist``, ``blacklist`` or none). Entries are upper-cased
``CCPID`` keys with module ids in lower case; an empty module list means every module.
The record goes when its platform goes (:meth:`PlatformStore.delete` removes it in the same
transaction).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from ocn_core.state import codec
from ocn_core.store import Store

WHITELIST, BLACKLIST = "whitelist", "blacklist"
RULES_DB = "state.rules"


@dataclass(frozen=True, slots=True)
class RuleEntry:
    country_code: str
    party_id: str
    modules: tuple[str, ...] = ()  # lower-case ids; empty = every module

    @property
    def key(self) -> str:
        return self.country_code + self.party_id

    def to_json(self) -> dict[str, Any]:
        return {
            "party_id": self.party_id,
            "country_code": self.country_code,
            "modules": list(self.modules),
        }


@dataclass(frozen=True, slots=True)
class Rules:
    """One platform's rules. ``active`` is ``whitelist``, ``blacklist`` or ``""`` (no list)."""

    signatures: bool = False
    active: str = ""
    entries: tuple[RuleEntry, ...] = ()
    _index: dict[str, RuleEntry] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def build(cls, signatures: bool, active: str, entries: tuple[RuleEntry, ...]) -> Rules:
        return cls(
            signatures,
            active if entries or active == WHITELIST else "",
            entries,
            {e.key: e for e in entries},
        )

    @property
    def empty(self) -> bool:
        return not self.signatures and not self.active

    def entry(self, sender_key: str) -> RuleEntry | None:
        return self._index.get(sender_key.upper())

    def admits(self, sender_key: str, module: str | None = None) -> str | None:
        """None when ``sender_key`` may send ``module`` (None: any module) here, else why not.

        Whitelist: the sender must be listed and, when its entry names modules, the module must be
        one of them. Blacklist: a listed sender is blocked for its listed modules (all when none).
        Keys and module ids compare case-insensitively.
        """
        if not self.active:
            return None
        found = self.entry(sender_key)
        wanted = module.lower() if module is not None else None
        if self.active == WHITELIST:
            if found is None:
                return "Message receiver not in sender's whitelist."
            if wanted is None or not found.modules or wanted in found.modules:
                return None
            return f"Sender not whitelisted to request {module} from receiver."
        if found is None:
            return None
        if not found.modules:
            return "Sender is blacklisted by the receiver."
        if wanted is None or wanted not in found.modules:
            return None  # module-independent checks (client info) only block a full block
        return f"Sender blacklisted for {module} by the receiver."

    def to_json(self) -> dict[str, Any]:
        """The GET answer: the stored list under whichever kind is active."""
        listed = [e.to_json() for e in self.entries]
        return {
            "signatures": self.signatures,
            "whitelist": {
                "active": self.active == WHITELIST,
                "list": listed if self.active == WHITELIST else [],
            },
            "blacklist": {
                "active": self.active == BLACKLIST,
                "list": listed if self.active == BLACKLIST else [],
            },
        }


NO_RULES = Rules()


def encode(rules: Rules) -> bytes:
    return orjson.dumps(
        {
            "signatures": rules.signatures,
            "active": rules.active,
            "entries": [[e.country_code, e.party_id, list(e.modules)] for e in rules.entries],
        }
    )


def decode(raw: bytes) -> Rules:
    data = orjson.loads(raw)
    entries = tuple(RuleEntry(cc, pid, tuple(mods)) for cc, pid, mods in data["entries"])
    return Rules.build(bool(data["signatures"]), str(data["active"]), entries)


class RulesStore:
    """Read and replace one platform's :class:`Rules` (each write one durable transaction)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.env = store.env
        self.db = store.db(RULES_DB)

    def get(self, platform_id: str) -> Rules:
        with self.env.begin() as txn:
            raw = txn.get(codec.platform_key(platform_id), db=self.db)
        return decode(raw) if raw is not None else NO_RULES

    def update(self, platform_id: str, change: Callable[[Rules], Rules]) -> Rules:
        """Apply ``change`` to the stored rules in one write transaction; returns the result.

        ``change`` may raise to abort (nothing is written then).
        """
        key = codec.platform_key(platform_id)
        with self.env.begin(write=True) as txn:
            raw = txn.get(key, db=self.db)
            rules = change(decode(raw) if raw is not None else NO_RULES)
            if rules.empty:
                txn.delete(key, db=self.db)
            else:
                txn.put(key, encode(rules), db=self.db)
            self.store.bump_routing_generation(txn)  # route facts carry the receiver's rules
        return rules
