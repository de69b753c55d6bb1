"""RegistryCache: the registry as named LMDB databases in the process's one :class:`Store`.

Reads are short read transactions (never held across an ``await``). Writes go through
:meth:`RegistryCache.writer`, one fsynced write transaction per batch, so a source's changes and
its cursor commit together.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from ocn_core import _ext
from ocn_core.registry import _lookup_ref
from ocn_core.registry import codec as c
from ocn_core.registry.errors import InvalidRegistryEntry, RegistryLayoutMismatch
from ocn_core.registry.types import Agreement, Node, Party, RegistryStatus, Service
from ocn_core.store import GenerationMemo, Store, remember

_impl: ModuleType = _ext.load("registry", "ocn_core.registry._lookup_cy", _lookup_ref)
IMPLEMENTATION = "cy" if _impl is not _lookup_ref else "ref"

_NOT_KEPT = Party("", "", "", (), (), (), "", "")  # not in the memo (None is a kept answer)
SOURCE_LOCAL = "local"
SOURCE_ETHEREUM = "ethereum"


class RegistryCache:
    """Parties, nodes, services and agreements as last seen by the registry source."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.env: Any = store.env
        self._parties = store.db(c.DB_PARTIES)
        self._by_address = store.db(c.DB_PARTIES_BY_ADDRESS)
        self._nodes = store.db(c.DB_NODES)
        self._services = store.db(c.DB_SERVICES)
        self._agreements = store.db(c.DB_AGREEMENTS)
        self._meta = store.db(c.DB_META)
        self._lookup = _impl.lookup_party
        self._memo = GenerationMemo(store)  # answers of party(), while no write moved routing
        self._party_memo: dict[tuple[str, str], Party | None] = self._memo.table()
        self._check_layout()

    def _check_layout(self) -> None:
        with self.env.begin(write=True, db=self._meta) as txn:
            found = txn.get(c.META_LAYOUT)
            if found == c.LAYOUT:
                return
            if found is not None:
                if txn.get(c.META_SOURCE) != SOURCE_ETHEREUM.encode():
                    raise RegistryLayoutMismatch(
                        f"registry cache layout {found!r} != {c.LAYOUT!r} and the local "
                        "source cannot be rebuilt; export and re-import it"
                    )
                for db in (*c.DATA_DBS, c.DB_META):
                    txn.drop(self.store.db(db), delete=False)
                self.store.bump_routing_generation(txn)  # every entry is gone: so are memos
            txn.put(c.META_LAYOUT, c.LAYOUT)

    # --- routing lookups ----------------------------------------------------------------------

    def party(self, country_code: str, party_id: str) -> Party | None:
        """The party listed under the OCPI id (case-insensitive): the hot routing lookup,
        memoised while the store's routing generation holds (every registry write moves it)."""
        key = (country_code, party_id)
        if self._memo.current():
            found = self._party_memo.get(key, _NOT_KEPT)  # (one lookup: a clear may interleave)
            if found is not _NOT_KEPT:
                return found  # (None too: not listed)
        party: Party | None = self._lookup(self.env, self._parties, self._nodes, country_code,
                                           party_id)  # fmt: skip
        remember(self._party_memo, key, party)
        return party

    def party_by_address(self, address: str) -> Party | None:
        """The party whose signing address is ``address`` (any case)."""
        try:
            akey = c.address_key(address)
        except InvalidRegistryEntry:
            return None
        with self.env.begin() as txn:
            key = txn.get(akey, db=self._by_address)
            if key is None:
                return None
            value = txn.get(key, db=self._parties)
            if value is None:
                return None
            url = txn.get(c.party_operator_key(value), db=self._nodes)
        return c.decode_party(key, value, c.decode_node_url(url))

    def node(self, operator: str) -> Node | None:
        """The node run by ``operator`` (any case)."""
        try:
            key = c.address_key(operator)
        except InvalidRegistryEntry:
            return None
        with self.env.begin(db=self._nodes) as txn:
            value = txn.get(key)
        return None if value is None else c.decode_node(key, value)

    def parties(self) -> Iterator[Party]:
        """Every listed party (a snapshot taken in one short read transaction)."""
        out = []
        with self.env.begin(db=self._parties) as txn:
            for key, value in txn.cursor():
                url = txn.get(c.party_operator_key(value), db=self._nodes)
                out.append(c.decode_party(key, value, c.decode_node_url(url)))
        return iter(out)

    def nodes(self) -> Iterator[Node]:
        with self.env.begin(db=self._nodes) as txn:
            out = [c.decode_node(k, v) for k, v in txn.cursor()]
        return iter(out)

    def count(self) -> dict[str, int]:
        """Entries per database (for status and benchmarks)."""
        with self.env.begin() as txn:
            return {
                name.removeprefix("registry."): txn.stat(self.store.db(name))["entries"]
                for name in c.DATA_DBS
            }

    # --- permissions ----------------------------------------------------------------------------

    def service(self, provider: str) -> Service | None:
        try:
            key = c.address_key(provider)
        except InvalidRegistryEntry:
            return None
        with self.env.begin() as txn:
            return self._service(txn, key)

    def _service(self, txn: Any, key: bytes) -> Service | None:
        value = txn.get(key, db=self._services)
        if value is None:
            return None
        ocpi = txn.get(key, db=self._by_address)
        cc, pid = c.split_party_key(ocpi) if ocpi else ("", "")
        return c.decode_service(key, value, cc, pid)

    def services(self) -> list[Service]:
        """Every registered service."""
        with self.env.begin() as txn:
            keys = [k for k, _ in txn.cursor(db=self._services)]
            return [s for k in keys if (s := self._service(txn, k)) is not None]

    def agreement_records(self, user: str) -> list[Agreement]:
        """The user's agreements as stored on chain, revoked ones included."""
        prefix = c.agreement_prefix(user)
        out = []
        with self.env.begin(db=self._agreements) as txn:
            cur = txn.cursor()
            if cur.set_range(prefix):
                for key, value in cur:
                    if not key.startswith(prefix):
                        break
                    u, p = c.split_agreement_key(key)
                    out.append(Agreement(u, p, c.decode_agreement(value)))
        return out

    def agreements(
        self, country_code: str, party_id: str, *, include_revoked: bool = False
    ) -> list[Service]:
        """Services of the providers the party has agreed to (active ones unless asked).

        ``include_revoked=True`` reproduces the reference node, which reads the contract's
        agreement list without checking revocation (ocn-node.md §5.4, QUIRK).
        """
        party = self.party(country_code, party_id)
        if party is None or not party.address:
            return []
        providers = [
            a.provider for a in self.agreement_records(party.address) if a.active or include_revoked
        ]
        return [s for p in providers if (s := self.service(p)) is not None]

    # --- source bookkeeping ---------------------------------------------------------------------

    def _meta_get(self, name: bytes) -> bytes | None:
        with self.env.begin(db=self._meta) as txn:
            value: bytes | None = txn.get(name)
            return value

    def source(self) -> str | None:
        value = self._meta_get(c.META_SOURCE)
        return value.decode() if value else None

    def cursor(self) -> int | None:
        """The last block whose changes are fully applied (chain source)."""
        return c.decode_int(self._meta_get(c.META_CURSOR))

    def identity(self) -> dict[str, Any] | None:
        """Chain id and contract addresses the cache was built from."""
        value = c.decode_json(self._meta_get(c.META_IDENTITY))
        return value if isinstance(value, dict) else None

    def sync_fields(self) -> dict[str, Any]:
        """The raw persisted sync status (the chain source's bookkeeping)."""
        raw = c.decode_json(self._meta_get(c.META_STATUS))
        return raw if isinstance(raw, dict) else {}

    def status(self) -> RegistryStatus:
        """Source, cursor, head, lag, last error and staleness (readable from any process)."""
        with self.env.begin(db=self._meta) as txn:
            source = (txn.get(c.META_SOURCE) or SOURCE_LOCAL.encode()).decode()
            cursor = c.decode_int(txn.get(c.META_CURSOR))
            raw = c.decode_json(txn.get(c.META_STATUS))
        st: dict[str, Any] = raw if isinstance(raw, dict) else {}
        head = st.get("head")
        last_sync = st.get("last_sync")
        stale = bool(st.get("stale", False))
        stale_after = st.get("stale_after")
        if source == SOURCE_ETHEREUM:
            age = None if last_sync is None else time.time() - float(last_sync)
            if age is None or (stale_after is not None and age > stale_after):
                stale = True
        lag = None
        if head is not None and cursor is not None:
            lag = max(0, head - cursor)
        return RegistryStatus(
            source=source,
            cursor=cursor,
            head=head,
            lag=lag,
            last_error=str(st.get("last_error", "")),
            stale=stale,
            last_sync=last_sync,
            confirmations=int(st.get("confirmations", 0)),
            chain_id=st.get("chain_id"),
        )

    @contextmanager
    def writer(self) -> Iterator[RegistryWriter]:
        """One write transaction; commits (fsynced) on success, aborts on error."""
        with self.env.begin(write=True) as txn:
            yield RegistryWriter(self, txn)


class RegistryWriter:
    """Mutations inside one write transaction; only sources (local, chain) use it."""

    def __init__(self, cache: RegistryCache, txn: Any) -> None:
        self._c = cache
        self.txn = txn

    def _changed(self) -> None:
        """A registry entry changed: routing memos must not outlive this transaction."""
        self._c.store.bump_routing_generation(self.txn)

    def put_party(
        self,
        country_code: str,
        party_id: str,
        *,
        operator: str,
        roles: Iterable[str],
        address: str = "",
        modules_sender: Iterable[str] = (),
        modules_receiver: Iterable[str] = (),
    ) -> None:
        """Create or replace a listing; an address moving to a new OCPI id leaves the old one."""
        cc = self._c
        key = c.checked_party_key(country_code, party_id)
        if address and c.is_zero(address):
            address = ""
        value = c.encode_party(address, roles, modules_sender, modules_receiver, operator)
        old = self.txn.get(key, db=cc._parties)
        if old is not None:
            old_address = c.party_address(old)
            if old_address and old_address.lower() != address.lower():
                self.txn.delete(c.address_key(old_address), db=cc._by_address)
        if address:
            akey = c.address_key(address)
            previous = self.txn.get(akey, db=cc._by_address)
            if previous is not None and previous != key:
                self.txn.delete(previous, db=cc._parties)
            self.txn.put(akey, key, db=cc._by_address)
        self.txn.put(key, value, db=cc._parties)
        self._changed()

    def delete_party(self, country_code: str, party_id: str) -> bool:
        key = c.checked_party_key(country_code, party_id)
        value = self.txn.pop(key, db=self._c._parties)
        if value is None:
            return False
        address = c.party_address(value)
        if address:
            self.txn.delete(c.address_key(address), db=self._c._by_address)
        self._changed()
        return True

    def delete_party_by_address(self, address: str) -> bool:
        key = self.txn.pop(c.address_key(address), db=self._c._by_address)
        if key is None:
            return False
        self.txn.delete(key, db=self._c._parties)
        self._changed()
        return True

    def put_node(self, operator: str, url: str) -> None:
        self.txn.put(c.address_key(operator), c.encode_node(url), db=self._c._nodes)
        self._changed()

    def delete_node(self, operator: str) -> bool:
        self._changed()
        return bool(self.txn.delete(c.address_key(operator), db=self._c._nodes))

    def put_service(self, provider: str, name: str, url: str, permissions: Iterable[int]) -> None:
        value = c.encode_service(name, url, permissions)
        self.txn.put(c.address_key(provider), value, db=self._c._services)
        self._changed()

    def delete_service(self, provider: str) -> bool:
        self._changed()
        return bool(self.txn.delete(c.address_key(provider), db=self._c._services))

    def put_agreement(self, user: str, provider: str, active: bool) -> None:
        key = c.agreement_key(user, provider)
        self.txn.put(key, c.encode_agreement(active), db=self._c._agreements)
        self._changed()

    def delete_agreement(self, user: str, provider: str) -> bool:
        self._changed()
        return bool(self.txn.delete(c.agreement_key(user, provider), db=self._c._agreements))

    def clear(self) -> None:
        """Drop every entry and the cursor (before a full snapshot)."""
        for name in c.DATA_DBS:
            self.txn.drop(self._c.store.db(name), delete=False)
        self.txn.delete(c.META_CURSOR, db=self._c._meta)
        self._changed()

    def set_source(self, source: str, identity: dict[str, Any] | None = None) -> None:
        self.txn.put(c.META_SOURCE, source.encode(), db=self._c._meta)
        if identity is None:
            self.txn.delete(c.META_IDENTITY, db=self._c._meta)
        else:
            self.txn.put(c.META_IDENTITY, c.encode_json(identity), db=self._c._meta)

    def source(self) -> str | None:
        value = self.txn.get(c.META_SOURCE, db=self._c._meta)
        return value.decode() if value else None

    def set_cursor(self, block: int) -> None:
        self.txn.put(c.META_CURSOR, c.encode_int(block), db=self._c._meta)

    def set_status(self, **fields: Any) -> None:
        """Merge ``fields`` into the persisted sync status."""
        raw = c.decode_json(self.txn.get(c.META_STATUS, db=self._c._meta))
        status: dict[str, Any] = raw if isinstance(raw, dict) else {}
        status.update(fields)
        self.txn.put(c.META_STATUS, c.encode_json(status), db=self._c._meta)
