"""ClientInfo records (OCPI HubClientInfo) of every party the node knows, in LMDB.

``state.clientinfo``: ``b"v1:" + CCPID + b":" + ROLE`` → JSON ``{party_id, country_code, role,
status, last_updated, node}`` where ``node`` is ``""`` for this node's own parties and the
registry operator address of the node that reported it otherwise. This is the one source of the
HubClientInfo list and of the pushes; records are never deleted (a party that leaves becomes
``SUSPENDED``, OCPI 2.2.1 §hubclientinfo).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import orjson

from ocn_core import ocpi
from ocn_core.state.codec import PREFIX
from ocn_core.store import Store

STATUSES = ("CONNECTED", "OFFLINE", "PLANNED", "SUSPENDED")


@dataclass(frozen=True, slots=True)
class ClientInfo:
    party_id: str
    country_code: str
    role: str
    status: str
    last_updated: float
    node: str = ""  # "" = this node's party, else the reporting node's operator address

    @property
    def party_key(self) -> str:
        return self.country_code + self.party_id

    def ocpi(self) -> dict[str, Any]:
        """The OCPI ClientInfo object."""
        return {
            "party_id": self.party_id,
            "country_code": self.country_code,
            "role": self.role,
            "status": self.status,
            "last_updated": ocpi.timestamp(self.last_updated),
        }


def record_key(country_code: str, party_id: str, role: str) -> str:
    """``CCPID:ROLE``, upper-case: one record per party and role (both stores)."""
    return f"{country_code}{party_id}:{role}".upper()


def _key(country_code: str, party_id: str, role: str) -> bytes:
    return PREFIX + record_key(country_code, party_id, role).encode()


def status_change(
    old: dict[str, Any] | None,
    party: tuple[str, str, str],
    status: str,
    node: str,
    only_new: bool,
    now: float,
) -> ClientInfo | None:
    """The record ``set_status`` writes for ``party`` ``(role, country_code, party_id)`` given
    its stored JSON ``old``, or None when it stays (same status and node, or ``only_new``)."""
    if old is not None and (only_new or (old["status"] == status and old["node"] == node)):
        return None
    role, cc, pid = party
    return ClientInfo(pid.upper(), cc.upper(), role, status, now, node)


class ClientInfoStore:
    def __init__(self, store: Store) -> None:
        self.env = store.env
        self.db = store.db("state.clientinfo")

    def all(self) -> list[ClientInfo]:
        with self.env.begin() as txn:
            raw = [v for _, v in txn.cursor(db=self.db)]
        return [ClientInfo(**orjson.loads(v)) for v in raw]

    def get(self, country_code: str, party_id: str, role: str) -> ClientInfo | None:
        with self.env.begin() as txn:
            raw = txn.get(_key(country_code, party_id, role), db=self.db)
        return ClientInfo(**orjson.loads(raw)) if raw is not None else None

    def set_status(
        self,
        parties: Iterable[tuple[str, str, str]],
        status: str,
        node: str = "",
        only_new: bool = False,
        when: float | None = None,
    ) -> list[ClientInfo]:
        """Give each ``(role, country_code, party_id)`` ``status`` in one transaction.

        Returns the records that changed (new, or another status); ``only_new`` leaves existing
        records alone (planned-party search). ``when`` is the new ``last_updated`` (now).
        """
        now = time.time() if when is None else when
        changed: list[ClientInfo] = []
        with self.env.begin(write=True) as txn:
            for party in parties:
                role, cc, pid = party
                key = _key(cc, pid, role)
                raw = txn.get(key, db=self.db)
                old = orjson.loads(raw) if raw is not None else None
                info = status_change(old, party, status, node, only_new, now)
                if info is None:
                    continue
                txn.put(key, orjson.dumps(asdict(info)), db=self.db)
                changed.append(info)
        return changed
