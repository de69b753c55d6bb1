"""Objects pushed TO the hub (Broadcast Push), kept for GET All via Hub and open routing.

``state.hubdata``::

    b"v1:o\\0" + module + b"\\0" + CCPID + b"\\0" + object id  -> the object (JSON)
    b"v1:i\\0" + module + b"\\0" + object id                   -> CCPID of its owner

Objects are stored as their owner sent them (``last_updated`` untouched, OCPI 2.2.1 §1.6); PATCHes
are merged into the stored object (a location's EVSEs and connectors by their ids). The id index
answers "whose location / token is this" for open routing.
"""

from __future__ import annotations

from typing import Any

import orjson

from ocn_core.state.codec import PREFIX
from ocn_core.store import Store

_NESTED = (("evses", "uid"), ("connectors", "id"))  # a location's sub-objects, by level


def _object_key(module: str, owner: str, object_id: str) -> bytes:
    return PREFIX + b"o\0" + f"{module}\0{owner.upper()}\0{object_id}".encode()


def _index_key(module: str, object_id: str) -> bytes:
    return PREFIX + b"i\0" + f"{module}\0{object_id}".encode()


def _module_prefix(module: str) -> bytes:
    return PREFIX + b"o\0" + module.encode() + b"\0"


class HubDataStore:
    def __init__(self, store: Store) -> None:
        self.env = store.env
        self.db = store.db("state.hubdata")

    def apply(
        self,
        module: str,
        owner: tuple[str, str],
        path: list[str],
        method: str,
        body: Any,
    ) -> bool:
        """Store a PUT/PATCH of ``path`` (object id [, evse uid [, connector id]]) or a DELETE.

        ``owner`` is the (country_code, party_id) of the URL. Returns False when there is
        nothing to apply (a sub-object of an unknown location, a PATCH of an unknown object).
        """
        object_id = path[0]
        key = _object_key(module, owner[0] + owner[1], object_id)
        with self.env.begin(write=True) as txn:
            if method == "DELETE":
                txn.delete(key, db=self.db)
                return True
            raw = txn.get(key, db=self.db)
            stored = orjson.loads(raw) if raw is not None else None
            updated = merged(stored, path[1:], method, body)
            if updated is None:
                return False
            updated.setdefault("country_code", owner[0].upper())
            updated.setdefault("party_id", owner[1].upper())
            txn.put(key, orjson.dumps(updated), db=self.db)
            owner_key = (owner[0] + owner[1]).upper().encode()
            txn.put(_index_key(module, object_id), owner_key, db=self.db)
        return True

    def objects(self, module: str) -> list[dict[str, Any]]:
        """Every stored object of ``module`` (every owner), in key order."""
        prefix = _module_prefix(module)
        out = []
        with self.env.begin() as txn:
            cursor = txn.cursor(db=self.db)
            if cursor.set_range(prefix):
                for key, value in cursor:
                    if not key.startswith(prefix):
                        break
                    out.append(orjson.loads(value))
        return out

    def owner(self, module: str, object_id: str) -> str | None:
        """The ``CCPID`` of the party that pushed object ``object_id`` of ``module``."""
        with self.env.begin() as txn:
            raw = txn.get(_index_key(module, object_id), db=self.db)
        return raw.decode() if raw is not None else None


def merged(
    stored: dict[str, Any] | None, sub: list[str], method: str, body: Any, level: int = 0
) -> Any:
    """``stored`` with ``body`` applied at the sub-object ``sub`` (None: nothing to apply)."""
    if not isinstance(body, dict):
        return None
    if not sub:
        if method == "PUT":
            return dict(body)
        return {**stored, **body} if stored is not None else None
    if stored is None or level >= len(_NESTED):
        return None
    field, id_name = _NESTED[level]
    children = [c for c in stored.get(field) or [] if isinstance(c, dict)]
    at = next((i for i, c in enumerate(children) if str(c.get(id_name)) == sub[0]), None)
    new = merged(children[at] if at is not None else None, sub[1:], method, body, level + 1)
    if new is None:
        return None
    if at is None:
        children.append(new)
    else:
        children[at] = new
    return {**stored, field: children}
