"""Connected platforms, their roles, endpoints and credentials tokens, in LMDB.

Every mutating method runs in one write transaction and returns only after LMDB committed it
(fsync), so a change is durable before the request that caused it is acknowledged.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from typing import Any, NamedTuple

import orjson

from ocn_core.ocpi import authorization_header, token_candidates, token_from_header
from ocn_core.routing.table import ModuleRoute
from ocn_core.state import codec
from ocn_core.state.interface import TokenAlreadyUsed
from ocn_core.state.records import CONNECTED, Platform, RegistrationGrant, RoleRecord
from ocn_core.state.rules import NO_RULES, RULES_DB, Rules
from ocn_core.state.rules import decode as decode_rules
from ocn_core.store import GenerationMemo, Store, remember


class RouteFacts(NamedTuple):
    sender: str | None  # platform of the token C
    from_owner: str | None  # platform owning the OCPI-from role
    receiver: str | None  # local platform owning the OCPI-to role
    url: str | None  # receiver's endpoint for (module, interface)
    auth: str | None  # Authorization value for the receiver
    rules: Rules = NO_RULES  # the receiver's OcnRules
    sender_version: str = ""  # OCPI versions the two platforms registered with (bridging)
    receiver_version: str = ""


class ForwardPlan(NamedTuple):
    """A plain forward, decided once per routing generation (see ``hub.forward``): every check
    of the request's sender, parties, receiver and module passed, and nothing else applies
    (no OcnRules, service copies, bridging or response_url rewrite; a signature is checked
    per request)."""

    url: str  # the receiver's endpoint for (module, interface)
    auth: str  # the receiver's Authorization value
    row: ModuleRoute


# Authorization, both party pairs, module, interface, version, method
PlanKey = tuple[str | int, ...]


class RoleConflict(Exception):
    """A role being registered belongs to another platform already."""


_FactsKey = tuple[str, str, str, str, str]


class PlatformStore:
    def __init__(self, store: Store) -> None:
        self._memo = GenerationMemo(store)
        self._facts: dict[_FactsKey, RouteFacts] = self._memo.table()
        self._plans: dict[PlanKey, ForwardPlan] = self._memo.table()
        self._token_keys: dict[str, tuple[bytes, ...]] = {}  # Authorization -> token C keys
        self.store = store
        self.env = store.env
        self.platforms = store.db("state.platforms")
        self.tokens = store.db("state.tokens")
        self.roles = store.db("state.roles")
        self.endpoints = store.db("state.endpoints")
        self.auth = store.db("state.auth")
        self.versions = store.db("state.versions")
        self.rules = store.db(RULES_DB)

    # --- registration tokens (A) -----------------------------------------------------------

    def issue_token_a(self, roles: list[dict[str, str]], ttl: float) -> tuple[str, float]:
        token = secrets.token_urlsafe(24)
        now = time.time()
        grant = RegistrationGrant(roles=roles, expires_at=now + ttl, created=now)
        with self.env.begin(write=True) as txn:
            txn.put(codec.token_key("A", token), orjson.dumps(grant_json(grant)), db=self.tokens)
        return token, grant.expires_at

    def grant(self, token_a: str) -> RegistrationGrant | None:
        """The unexpired grant of ``token_a``, or None."""
        with self.env.begin() as txn:
            raw = txn.get(codec.token_key("A", token_a), db=self.tokens)
        if raw is None:
            return None
        grant = RegistrationGrant(**orjson.loads(raw))
        return grant if grant.expires_at > time.time() else None

    # --- lookups ---------------------------------------------------------------------------

    def platform_id_by_token(self, token_c: str) -> str | None:
        with self.env.begin() as txn:
            raw = txn.get(codec.token_key("C", token_c), db=self.tokens)
        return raw.decode() if raw is not None else None

    def platform(self, platform_id: str) -> Platform | None:
        with self.env.begin() as txn:
            return self._platform(txn, platform_id)

    def platform_id_by_role(self, country_code: str, party_id: str) -> str | None:
        with self.env.begin() as txn:
            raw = txn.get(codec.role_key(country_code, party_id), db=self.roles)
        return raw.decode() if raw is not None else None

    def route_facts(
        self, authorization: str, from_key: str, to_key: str, module: str, interface: str
    ) -> RouteFacts:
        """Everything a routing decision reads, in one read transaction.

        ``authorization`` is the sender's header value; ``from_key``/``to_key`` are ``CCPID``
        strings. Answers are memoised until the next write that changes routing, by any process
        (the store's routing generation, bumped in the writing transaction); proxy resources,
        registration tokens and status bookkeeping leave the memo warm.
        """
        key = (authorization, from_key, to_key, module, interface)
        if self._memo.holds():
            found = self._facts.get(key)
            if found is not None:
                return found
        with self.env.begin() as txn:
            if self._memo.sync(txn):
                found = self._facts.get(key)
                if found is not None:
                    return found
            facts = self._read_facts(txn, authorization, from_key, to_key, module, interface)
        remember(self._facts, key, facts)
        return facts

    def forward_plan(self, key: PlanKey) -> ForwardPlan | None:
        """The plan kept for ``key``, while the routing generation it was made in holds."""
        return self._plans.get(key) if self._memo.current() else None

    def keep_forward_plan(self, key: PlanKey, plan: ForwardPlan) -> None:
        """Keep ``plan``, made from route facts of the memo's generation."""
        remember(self._plans, key, plan)

    @property
    def facts_generation(self) -> bytes | None:
        """The routing generation the last :meth:`route_facts` read (``b"-"``: none yet).

        Memos derived from the same request's decision (registry entries included) key on it.
        """
        return self._memo.generation

    def forget_route_facts(self) -> None:
        """Drop the memo: the next decision reads LMDB (the cold path, as after a write)."""
        self._memo.forget()

    def _read_facts(
        self,
        txn: Any,
        authorization: str,
        from_key: str,
        to_key: str,
        module: str,
        interface: str,
    ) -> RouteFacts:
        sender = from_owner = receiver = url = auth = None
        rules = NO_RULES
        for key in self.token_keys(authorization):
            raw = txn.get(key, db=self.tokens)
            if raw is not None:
                sender = raw.decode()
                break
        raw = txn.get(codec.party_key(from_key), db=self.roles)
        from_owner = raw.decode() if raw is not None else None
        raw = txn.get(codec.party_key(to_key), db=self.roles)
        if raw is not None:
            receiver = raw.decode()
            raw = txn.get(codec.endpoint_key(receiver, module, interface), db=self.endpoints)
            url = raw.decode() if raw is not None else None
            raw = txn.get(codec.platform_key(receiver), db=self.auth)
            auth = raw.decode() if raw is not None else None
            raw = txn.get(codec.platform_key(receiver), db=self.rules)
            if raw is not None:
                rules = decode_rules(raw)
        versions = (self._version(txn, sender), self._version(txn, receiver))
        return RouteFacts(sender, from_owner, receiver, url, auth, rules, *versions)

    def token_keys(self, authorization: str) -> tuple[bytes, ...]:
        """The ``tokens`` keys of the token C an Authorization value may carry (Base64-decoded
        first, then raw). A pure function of the header (Base64 and SHA-256 are most of a cold
        decision), so it stays memoised across writes, unlike the route facts."""
        found = self._token_keys.get(authorization)
        if found is None:
            candidates = token_candidates(token_from_header(authorization))
            found = tuple(codec.token_key("C", token) for token in candidates)
            remember(self._token_keys, authorization, found)
        return found

    def _version(self, txn: Any, platform_id: str | None) -> str:
        if platform_id is None:
            return ""
        raw = txn.get(codec.platform_key(platform_id), db=self.versions)
        if raw is not None:
            return str(raw.decode())
        found = self._platform(txn, platform_id)  # registered before versions were indexed
        return found.ocpi_version if found is not None else ""

    def ocpi_versions(self, *platform_ids: str) -> tuple[str, ...]:
        """The OCPI version each platform registered with ('' for an unknown platform)."""
        with self.env.begin() as txn:
            return tuple(self._version(txn, pid) for pid in platform_ids)

    def auth_header(self, platform_id: str) -> str | None:
        """The Authorization value to send to ``platform_id`` (its token B, encoded per peer)."""
        with self.env.begin() as txn:
            raw = txn.get(codec.platform_key(platform_id), db=self.auth)
        return raw.decode() if raw is not None else None

    def all(self) -> Iterator[Platform]:
        with self.env.begin() as txn:
            records = [orjson.loads(v) for _, v in txn.cursor(db=self.platforms)]
        for data in records:
            yield Platform.from_json(data)

    # --- changes ---------------------------------------------------------------------------

    def register(
        self, token_a: str | None, platform: Platform, token_c: str, replace_id: str | None = None
    ) -> None:
        """Store ``platform`` with its roles, endpoints and token C in one transaction.

        ``token_a`` (when given) is consumed; ``replace_id`` names the platform being updated
        (credentials PUT): its old token C, roles and endpoints are replaced. Raises
        :class:`RoleConflict`, or :class:`TokenAlreadyUsed` when another registration consumed
        ``token_a`` first (nothing is written then).
        """
        with self.env.begin(write=True) as txn:
            for role in platform.roles:
                owner = txn.get(codec.role_key(role.country_code, role.party_id), db=self.roles)
                if owner is not None and owner.decode() not in (platform.id, replace_id):
                    raise RoleConflict(
                        f"Role with party_id={role.party_id} and country_code="
                        f"{role.country_code} already connected to this node!"
                    )
            if replace_id is not None:
                self._delete(txn, replace_id, replacing=platform.id)
            consumed = token_a is None or txn.delete(codec.token_key("A", token_a), db=self.tokens)
            if not consumed:
                raise TokenAlreadyUsed("Invalid CREDENTIALS_TOKEN_A")
            platform.token_c_digest = codec.token_digest(token_c)
            platform.token_c_issued = time.time()
            self._put(txn, platform)
            txn.put(codec.token_key("C", token_c), platform.id.encode(), db=self.tokens)
            self.store.bump_routing_generation(txn)

    def add_token_c(self, platform_id: str, token_c: str) -> bool:
        """Accept a second token C for ``platform_id`` while a node-initiated rotation runs.

        The platform keeps its digest, so deleting the platform or the next registration
        removes the token even if the rotation never completes. False: no such platform.
        """
        with self.env.begin(write=True) as txn:
            found = self._platform(txn, platform_id)
            if found is None:
                return False
            if found.pending_token_c_digest:  # an earlier rotation that never completed
                txn.delete(codec.digest_key("C", found.pending_token_c_digest), db=self.tokens)
            found.pending_token_c_digest = codec.token_digest(token_c)
            txn.put(codec.platform_key(found.id), orjson.dumps(found.to_json()), db=self.platforms)
            txn.put(codec.token_key("C", token_c), platform_id.encode(), db=self.tokens)
            self.store.bump_routing_generation(txn)
        return True

    def drop_token_c(self, platform_id: str, token_c: str) -> None:
        """Forget a token C added by :meth:`add_token_c` (the party refused the rotation)."""
        with self.env.begin(write=True) as txn:
            found = self._platform(txn, platform_id)
            digest = codec.token_digest(token_c)
            if found is not None and found.pending_token_c_digest == digest:
                found.pending_token_c_digest = ""
                data = orjson.dumps(found.to_json())
                txn.put(codec.platform_key(found.id), data, db=self.platforms)
            if found is None or found.token_c_digest != digest:
                txn.delete(codec.digest_key("C", digest), db=self.tokens)
            self.store.bump_routing_generation(txn)

    def touch(self, platform_id: str, status: str = CONNECTED) -> None:
        with self.env.begin(write=True) as txn:
            found = self._platform(txn, platform_id)
            if found is None:
                return
            found.status, found.last_updated = status, time.time()
            txn.put(codec.platform_key(found.id), orjson.dumps(found.to_json()), db=self.platforms)

    def delete(self, platform_id: str) -> bool:
        with self.env.begin(write=True) as txn:
            deleted = self._delete(txn, platform_id)
            if deleted:
                self.store.bump_routing_generation(txn)
            return deleted

    # --- internals -------------------------------------------------------------------------

    def _platform(self, txn: Any, platform_id: str) -> Platform | None:
        raw = txn.get(codec.platform_key(platform_id), db=self.platforms)
        return Platform.from_json(orjson.loads(raw)) if raw is not None else None

    def _put(self, txn: Any, p: Platform) -> None:
        txn.put(codec.platform_key(p.id), orjson.dumps(p.to_json()), db=self.platforms)
        auth = authorization_header(p.token_b, p.token_b_base64)
        txn.put(codec.platform_key(p.id), auth.encode(), db=self.auth)
        txn.put(codec.platform_key(p.id), p.ocpi_version.encode(), db=self.versions)
        for role in p.roles:
            txn.put(codec.role_key(role.country_code, role.party_id), p.id.encode(), db=self.roles)
        for ep in p.endpoints:
            key = codec.endpoint_key(p.id, ep.identifier, ep.role)
            txn.put(key, ep.url.encode(), db=self.endpoints)

    def _delete(self, txn: Any, platform_id: str, replacing: str | None = None) -> bool:
        found = self._platform(txn, platform_id)
        if found is None:
            return False
        for role in found.roles:
            key = codec.role_key(role.country_code, role.party_id)
            if txn.get(key, db=self.roles) == platform_id.encode():
                txn.delete(key, db=self.roles)
        prefix = codec.endpoint_prefix(platform_id)
        cursor = txn.cursor(db=self.endpoints)
        if cursor.set_range(prefix):
            while cursor.key().startswith(prefix):
                if not cursor.delete():
                    break
        for digest in (found.token_c_digest, found.pending_token_c_digest):
            if digest:
                txn.delete(codec.digest_key("C", digest), db=self.tokens)
        txn.delete(codec.platform_key(platform_id), db=self.auth)
        txn.delete(codec.platform_key(platform_id), db=self.versions)
        txn.delete(codec.platform_key(platform_id), db=self.platforms)
        if replacing is None:  # rules survive a credentials update, not an unregistration
            txn.delete(codec.platform_key(platform_id), db=self.rules)
        return True


def grant_json(grant: RegistrationGrant) -> dict[str, Any]:
    return {"roles": grant.roles, "expires_at": grant.expires_at, "created": grant.created}


def new_role(data: dict[str, Any]) -> RoleRecord:
    return RoleRecord(
        role=str(data.get("role", "")),
        country_code=str(data.get("country_code", "")).upper(),
        party_id=str(data.get("party_id", "")).upper(),
        business_details=data.get("business_details") or {},
    )
