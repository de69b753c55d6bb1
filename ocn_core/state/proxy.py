"""Proxied resources: node-issued URLs standing for a party's URL, scoped and with a TTL.

Used for async ``response_url`` callbacks (commands, chargingprofiles), next-page ``Link`` URLs and
CDR ``Location`` URLs. A resource is only handed out to the exact (sender, receiver) pair it was
stored for; expired ones are invisible and removed by :meth:`ProxyStore.cleanup`.
"""

from __future__ import annotations

import secrets
import time

import orjson

from ocn_core.state import codec
from ocn_core.store import Store


class ProxyStore:
    def __init__(self, store: Store) -> None:
        self.env = store.env
        self.db = store.db("state.proxy")
        self.expiry = store.db("state.proxy_expiry")

    @staticmethod
    def new_id() -> str:
        """An unguessable id for a resource about to be stored."""
        return secrets.token_urlsafe(12)

    def put(
        self, url: str, sender: str, receiver: str, ttl: float, proxy_id: str | None = None
    ) -> str:
        """Store ``url`` for requests from ``sender`` to ``receiver`` (upper-case CCPID keys)."""
        proxy_id = proxy_id or self.new_id()
        expires = time.time() + ttl
        record = {"url": url, "sender": sender, "receiver": receiver, "expires_at": expires}
        with self.env.begin(write=True) as txn:
            txn.put(codec.proxy_key(proxy_id), orjson.dumps(record), db=self.db)
            txn.put(codec.proxy_expiry_key(expires, proxy_id), b"", db=self.expiry)
        return proxy_id

    def exists(self, proxy_id: str) -> bool:
        """Whether ``proxy_id`` is taken (by any pair, expired or not)."""
        with self.env.begin() as txn:
            return txn.get(codec.proxy_key(proxy_id), db=self.db) is not None

    def get(self, proxy_id: str, sender: str, receiver: str) -> str | None:
        with self.env.begin() as txn:
            raw = txn.get(codec.proxy_key(proxy_id), db=self.db)
        if raw is None:
            return None
        record = orjson.loads(raw)
        if record["expires_at"] <= time.time():
            return None
        if (record["sender"], record["receiver"]) != (sender, receiver):
            return None
        return str(record["url"])

    def cleanup(self, now: float | None = None) -> int:
        """Delete every expired resource; returns how many."""
        limit = codec.proxy_expiry_key(time.time() if now is None else now, "")
        removed = 0
        with self.env.begin(write=True) as txn:
            cursor = txn.cursor(db=self.expiry)
            if not cursor.first():
                return 0
            while cursor.key() < limit:
                txn.delete(codec.proxy_key(codec.proxy_id_of_expiry_key(cursor.key())), db=self.db)
                removed += 1
                if not cursor.delete() or not cursor.key():
                    break
        return removed

    def size(self) -> int:
        """How many resources are stored (expired ones included until the next cleanup)."""
        with self.env.begin() as txn:
            return int(txn.stat(self.db)["entries"])
