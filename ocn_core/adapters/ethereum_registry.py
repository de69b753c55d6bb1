"""EthereumRegistrySync: keeps a :class:`RegistryCache` current from the OCN Registry and
Permissions contracts over any JSON-RPC endpoint (web3's async HTTP provider).

* No cursor (or another chain / other contracts / a replaced chain): a snapshot from the
  contracts' list/get functions at ``head - confirmations``, written in one transaction.
* Then the contracts' events from the cursor to ``head - confirmations``, in block-range chunks;
  each chunk and its cursor commit together, so a restart resumes instead of re-snapshotting.
  ``PartyUpdate``/``OperatorUpdate`` carry the whole listing (zero operator / empty domain =
  deleted). ``ServiceUpdate`` and ``ServiceAgreement`` are ambiguous (delete and revoke emit the
  same shape), so the touched services/agreements are re-read at the chunk's last block.
* Chain unreachable: :meth:`sync_once` records the error and marks the cache stale; lookups keep
  serving; :meth:`run` retries every ``poll_interval`` and catches up when the chain is back.
* :meth:`read_party`: the one direct contract read on a routing miss (negative results are
  remembered for ``miss_ttl`` seconds so unknown receivers cannot hammer the endpoint).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import structlog
from eth_abi.abi import decode, encode
from eth_utils.crypto import keccak
from web3 import AsyncHTTPProvider

from ocn_core.registry import MODULES, ROLES, SOURCE_ETHEREUM, Party, RegistryCache
from ocn_core.registry.cache import RegistryWriter
from ocn_core.registry.codec import checksum, party_key
from ocn_core.registry.errors import InvalidRegistryEntry

log = structlog.get_logger(__name__)  # registry sync events


# The contracts' read functions: name -> (input types, output types).
_CALLS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "getNodeOperators": ((), ("address[]",)),
    "getNode": (("address",), ("string",)),
    "getParties": ((), ("address[]",)),
    "getPartyDetailsByAddress": (
        ("address",),
        ("bytes2", "bytes3", "uint8[]", "uint8[]", "uint8[]", "address", "string"),
    ),
    "getPartyDetailsByOcpi": (
        ("bytes2", "bytes3"),
        ("address", "uint8[]", "uint8[]", "uint8[]", "address", "string"),
    ),
    "getProviders": ((), ("address[]",)),
    "getService": (("address",), ("bytes2", "bytes3", "string", "string", "uint256[]")),
    "getUserAgreementsByAddress": (("address",), ("address[]",)),
    "hasUserAgreementByAddress": (("address", "address"), ("bool",)),
}
_SELECTORS = {
    name: keccak(text=f"{name}({','.join(ins)})")[:4] for name, (ins, _) in _CALLS.items()
}


def _topic(signature: str) -> str:
    return "0x" + keccak(text=signature).hex()


T_OPERATOR = _topic("OperatorUpdate(address,string)")
T_PARTY = _topic("PartyUpdate(bytes2,bytes3,address,uint8[],uint8[],uint8[],address)")
T_SERVICE = _topic("ServiceUpdate(string,string,uint256[],address)")
T_AGREEMENT = _topic("ServiceAgreement(address,address)")
_TOPICS = [T_OPERATOR, T_PARTY, T_SERVICE, T_AGREEMENT]


class ChainError(RuntimeError):
    """The JSON-RPC endpoint answered with an error or an unusable result."""


def _names(indices: Iterable[int], names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(names[i] for i in indices if 0 <= i < len(names))


def _ocpi(country: bytes, party: bytes) -> tuple[str, str] | None:
    try:
        cc, pid = country.decode("ascii"), party.decode("ascii")
    except UnicodeDecodeError:
        return None
    return (cc, pid) if party_key(cc, pid) is not None else None


def _topic_address(topic: str) -> str:
    return checksum(bytes.fromhex(topic[-40:]))


@dataclass
class SyncStats:
    """What this instance did (tests and benchmarks read it)."""

    snapshots: int = 0
    chunks: int = 0
    events: int = 0
    direct_reads: int = 0
    last_snapshot_block: int | None = None
    errors: list[str] = field(default_factory=list)


class EthereumRegistrySync:
    """Fills and follows a :class:`RegistryCache` from the chain."""

    def __init__(
        self,
        cache: RegistryCache,
        *,
        rpc_url: str,
        registry_address: str,
        permissions_address: str,
        confirmations: int = 0,
        poll_interval: float = 5.0,
        max_block_range: int = 2000,
        batch_size: int = 500,
        request_timeout: float = 10.0,
        miss_ttl: float = 30.0,
        stale_after: float | None = None,
    ) -> None:
        self.cache = cache
        self.rpc_url = rpc_url
        self.registry = checksum(registry_address)
        self.permissions = checksum(permissions_address)
        self.confirmations = max(0, confirmations)
        self.poll_interval = poll_interval
        self.max_block_range = max(1, max_block_range)
        self.batch_size = max(1, batch_size)
        self.miss_ttl = miss_ttl
        self.stale_after = stale_after if stale_after is not None else max(30.0, 6 * poll_interval)
        self.stats = SyncStats()
        self.caught_up = False
        self._failing = False
        self._chain_id: int | None = None
        self._misses: dict[bytes, float] = {}
        self._provider = AsyncHTTPProvider(
            rpc_url,
            request_kwargs={"timeout": aiohttp.ClientTimeout(total=request_timeout)},
            exception_retry_configuration=None,
            cache_allowed_requests=False,
        )

    # --- JSON-RPC -----------------------------------------------------------------------------

    async def _rpc(self, method: str, params: Sequence[Any]) -> Any:
        response: Any = await self._provider.make_request(method, list(params))
        if "error" in response:
            raise ChainError(f"{method}: {response['error']}")
        return response["result"]

    async def _batch(self, requests: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        out: list[Any] = []
        for start in range(0, len(requests), self.batch_size):
            chunk = [(m, list(p)) for m, p in requests[start : start + self.batch_size]]
            responses: Any = await self._provider.make_batch_request(chunk)  # type: ignore[arg-type]
            if isinstance(responses, dict):
                raise ChainError(f"batch: {responses.get('error', responses)}")
            for (method, _), response in zip(chunk, responses, strict=True):
                if "error" in response:
                    raise ChainError(f"{method}: {response['error']}")
                out.append(response["result"])
        return out

    @staticmethod
    def _call_request(
        to: str, fn: str, args: Sequence[Any], block: int | str
    ) -> tuple[str, list[Any]]:
        ins, _ = _CALLS[fn]
        data = "0x" + (_SELECTORS[fn] + encode(list(ins), list(args))).hex()
        tag = hex(block) if isinstance(block, int) else block
        return ("eth_call", [{"to": to, "data": data}, tag])

    @staticmethod
    def _decode(fn: str, result: str) -> tuple[Any, ...]:
        raw = bytes.fromhex(result[2:])
        if not raw:
            raise ChainError(f"{fn}: empty result (wrong contract address?)")
        return tuple(decode(list(_CALLS[fn][1]), raw))

    async def _calls(
        self, calls: Sequence[tuple[str, str, Sequence[Any]]], block: int | str
    ) -> list[tuple[Any, ...]]:
        """Batched eth_calls ``(contract, function, args)`` at ``block``, decoded."""
        results = await self._batch(
            [self._call_request(to, fn, args, block) for to, fn, args in calls]
        )
        return [self._decode(fn, r) for (_, fn, _), r in zip(calls, results, strict=True)]

    async def close(self) -> None:
        await self._provider.disconnect()

    # --- the loop -----------------------------------------------------------------------------

    async def run(self) -> None:
        """Snapshot if needed, then follow the chain forever (cancel to stop)."""
        while True:
            try:
                await self.sync_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("registry_sync_failed", error=f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(
                0 if not self.caught_up and not self._failing else self.poll_interval
            )

    async def sync_once(self) -> int:
        """One step: a snapshot, or one chunk of events. Returns the number of changes applied.

        Raises on a chain error after recording it (status stale, last error).
        """
        try:
            changes = await self._step()
        except Exception as exc:
            self._failing = True
            self._chain_id = None  # the endpoint may come back as another chain
            self.stats.errors.append(repr(exc))
            with self.cache.writer() as w:
                w.set_status(
                    stale=True, last_error=f"{type(exc).__name__}: {exc}", error_at=time.time()
                )
            raise
        if self._failing:
            log.info("registry_sync_recovered", changes=changes)
        self._failing = False
        return changes

    def _identity(self) -> dict[str, Any]:
        return {
            "chain_id": self._chain_id,
            "registry": self.registry,
            "permissions": self.permissions,
        }

    async def _step(self) -> int:
        if self._chain_id is None:
            self._chain_id = int(await self._rpc("eth_chainId", []), 16)
        cursor = self.cache.cursor() if self.cache.source() == SOURCE_ETHEREUM else None
        if self.cache.identity() != self._identity():
            cursor = None
        known_hash = self._cursor_hash()
        requests: list[tuple[str, Sequence[Any]]] = [("eth_blockNumber", [])]
        if cursor is not None:
            requests.append(("eth_getBlockByNumber", [hex(cursor), False]))
        answers = await self._batch(requests)
        head = int(answers[0], 16)
        target = head - self.confirmations
        if cursor is not None:
            block = answers[1]
            if block is None or block.get("hash") != known_hash:
                log.warning("registry_resync", cursor=cursor, reason="cursor block gone (reorg?)")
                cursor = None
        if target < 0:
            self.caught_up = True
            self._ok(head)
            return 0
        if cursor is None:
            return await self.snapshot(target, head)
        if cursor >= target:
            self.caught_up = True
            self._ok(head)
            return 0
        to_block = min(target, cursor + self.max_block_range)
        changes = await self._follow(cursor + 1, to_block, head)
        self.caught_up = to_block >= target
        if changes:
            log.info("registry_events", from_block=cursor + 1, to_block=to_block, changes=changes)
        return changes

    def _cursor_hash(self) -> str | None:
        value = self.cache.sync_fields().get("cursor_hash")
        return str(value) if value else None

    def _ok(self, head: int) -> None:
        with self.cache.writer() as w:
            self._write_status(w, head)

    def _write_status(self, w: RegistryWriter, head: int, cursor_hash: str | None = None) -> None:
        fields: dict[str, Any] = {
            "head": head,
            "last_sync": time.time(),
            "stale": False,
            "last_error": "",
            "confirmations": self.confirmations,
            "chain_id": self._chain_id,
            "stale_after": self.stale_after,
        }
        if cursor_hash is not None:
            fields["cursor_hash"] = cursor_hash
        w.set_status(**fields)

    async def _deployed(self, block: int) -> bool:
        """Whether both contracts exist at ``block``; raises if they do not exist at all."""
        requests = [("eth_getCode", [a, tag]) for tag in (hex(block), "latest")
                    for a in (self.registry, self.permissions)]  # fmt: skip
        codes = [code not in (None, "0x", "") for code in await self._batch(requests)]
        if not all(codes[2:]):
            raise ChainError(f"no contract code at {self.registry} / {self.permissions}")
        return all(codes[:2])

    async def _block_hash(self, block: int) -> str:
        answer = await self._rpc("eth_getBlockByNumber", [hex(block), False])
        if answer is None:
            raise ChainError(f"block {block} not found")
        return str(answer["hash"])

    # --- snapshot -----------------------------------------------------------------------------

    async def snapshot(self, block: int, head: int | None = None) -> int:
        """Replace the cache with the contracts' state at ``block`` (then the cursor)."""
        reg, perm = self.registry, self.permissions
        if await self._deployed(block):
            (operators,), (parties,), (providers,) = await self._calls(
                [
                    (reg, "getNodeOperators", ()),
                    (reg, "getParties", ()),
                    (perm, "getProviders", ()),
                ],
                block,
            )
        else:  # the confirmed block predates the deployment: an empty registry
            operators = parties = providers = []
        operators = list(dict.fromkeys(operators))
        parties = list(dict.fromkeys(parties))
        providers = list(dict.fromkeys(providers))
        domains = await self._calls([(reg, "getNode", (op,)) for op in operators], block)
        details = await self._calls(
            [(reg, "getPartyDetailsByAddress", (a,)) for a in parties], block
        )
        services = await self._calls([(perm, "getService", (p,)) for p in providers], block)
        users = await self._calls(
            [(perm, "getUserAgreementsByAddress", (a,)) for a in parties], block
        )
        pairs = [(u, p) for u, (ps,) in zip(parties, users, strict=True) for p in dict.fromkeys(ps)]
        active = await self._calls(
            [(perm, "hasUserAgreementByAddress", pair) for pair in pairs], block
        )
        block_hash = await self._block_hash(block)

        changes = 0
        with self.cache.writer() as w:
            w.clear()
            w.set_source(SOURCE_ETHEREUM, self._identity())
            for op, (domain,) in zip(operators, domains, strict=True):
                if domain:
                    w.put_node(op, domain)
                    changes += 1
            for address, (cc, pid, ms, mr, roles, operator, _) in zip(
                parties, details, strict=True
            ):
                changes += self._put_party(w, cc, pid, address, roles, ms, mr, operator)
            for provider, (_, _, name, url, perms) in zip(providers, services, strict=True):
                if perms:
                    w.put_service(provider, name, url, perms)
                    changes += 1
            for (user, provider), (is_active,) in zip(pairs, active, strict=True):
                w.put_agreement(user, provider, bool(is_active))
                changes += 1
            w.set_cursor(block)
            self._write_status(w, head if head is not None else block, block_hash)
        self.stats.snapshots += 1
        self.stats.last_snapshot_block = block
        self.caught_up = head is None or block >= head - self.confirmations
        log.info("registry_snapshot", block=block, entries=changes)
        return changes

    @staticmethod
    def _put_party(
        w: RegistryWriter,
        country: bytes,
        party: bytes,
        address: str,
        roles: Iterable[int],
        sender: Iterable[int],
        receiver: Iterable[int],
        operator: str,
    ) -> int:
        """Write (or, for a zero operator, remove) one listing; returns 1 if anything changed."""
        if int(operator, 16) == 0:
            return int(w.delete_party_by_address(address))
        ocpi = _ocpi(country, party)
        if ocpi is None:
            log.warning("registry_party_skipped", address=address, ids=repr((country, party)))
            return 0
        try:
            w.put_party(
                ocpi[0],
                ocpi[1],
                operator=operator,
                roles=_names(roles, ROLES),
                address=address,
                modules_sender=_names(sender, MODULES),
                modules_receiver=_names(receiver, MODULES),
            )
        except InvalidRegistryEntry as exc:
            log.warning("registry_party_skipped", address=address, reason=str(exc))
            return 0
        return 1

    # --- events -------------------------------------------------------------------------------

    async def _follow(self, from_block: int, to_block: int, head: int) -> int:
        logs = await self._rpc(
            "eth_getLogs",
            [
                {
                    "address": [self.registry, self.permissions],
                    "fromBlock": hex(from_block),
                    "toBlock": hex(to_block),
                    "topics": [_TOPICS],
                }
            ],
        )
        logs.sort(key=lambda e: (int(e["blockNumber"], 16), int(e["logIndex"], 16)))
        services: dict[str, None] = {}
        agreements: dict[tuple[str, str], None] = {}
        for entry in logs:
            topic = entry["topics"][0]
            if topic == T_SERVICE:
                (*_, provider) = decode(["string", "string", "uint256[]", "address"], _data(entry))
                services[checksum(provider)] = None
            elif topic == T_AGREEMENT:
                user, provider = decode(["address", "address"], _data(entry))
                agreements[(checksum(user), checksum(provider))] = None
        perm = self.permissions
        reread = await self._calls(
            [(perm, "getService", (p,)) for p in services]
            + [(perm, "hasUserAgreementByAddress", pair) for pair in agreements],
            to_block,
        )
        block_hash = await self._block_hash(to_block)

        changes = 0
        with self.cache.writer() as w:
            for entry in logs:
                changes += self._apply(w, entry)
            for provider, (_, _, name, url, perms) in zip(
                services, reread[: len(services)], strict=True
            ):
                if perms:
                    w.put_service(provider, name, url, perms)
                else:
                    w.delete_service(provider)
                changes += 1
            for (user, provider), (is_active,) in zip(
                agreements, reread[len(services) :], strict=True
            ):
                w.put_agreement(user, provider, bool(is_active))
                changes += 1
            w.set_cursor(to_block)
            self._write_status(w, head, block_hash)
        self.stats.chunks += 1
        self.stats.events += len(logs)
        return changes

    def _apply(self, w: RegistryWriter, entry: dict[str, Any]) -> int:
        topic, topics = entry["topics"][0], entry["topics"]
        source = entry["address"].lower()
        if topic == T_OPERATOR and source == self.registry.lower():
            operator = _topic_address(topics[1])
            (domain,) = decode(["string"], _data(entry))
            if domain:
                w.put_node(operator, domain)
                return 1
            return int(w.delete_node(operator))
        if topic == T_PARTY and source == self.registry.lower():
            address, operator = _topic_address(topics[1]), _topic_address(topics[2])
            cc, pid, roles, sender, receiver = decode(
                ["bytes2", "bytes3", "uint8[]", "uint8[]", "uint8[]"], _data(entry)
            )
            return self._put_party(w, cc, pid, address, roles, sender, receiver, operator)
        return 0

    # --- routing miss ---------------------------------------------------------------------------

    async def read_party(self, country_code: str, party_id: str) -> Party | None:
        """Read one listing from the contract (latest block) and cache it; ``None`` if unlisted
        or the chain is unreachable (the caller answers "unknown receiver")."""
        key = party_key(country_code, party_id)
        if key is None:
            return None
        now = time.monotonic()
        if self._misses.get(key, 0.0) > now:
            return None
        cc, pid = country_code.upper(), party_id.upper()
        # the contract is case-sensitive; the cache is not: ask for the usual spellings at once
        spellings = list(
            dict.fromkeys([(cc, pid), (country_code, party_id), (cc.lower(), pid.lower())])
        )
        self.stats.direct_reads += 1
        try:
            answers = await self._calls(
                [
                    (self.registry, "getPartyDetailsByOcpi", (c.encode(), p.encode()))
                    for c, p in spellings
                ],
                "latest",
            )
        except Exception as exc:
            log.warning("registry_read_failed", party=f"{cc} {pid}", error=str(exc))
            return None
        found = [a for a in answers if int(a[4], 16) != 0]
        address, roles, sender, receiver, operator, domain = found[0] if found else answers[0]
        if int(operator, 16) == 0:
            self._misses[key] = now + self.miss_ttl
            if len(self._misses) > 10_000:
                self._misses = {k: t for k, t in self._misses.items() if t > now}
            return None
        self._misses.pop(key, None)
        with self.cache.writer() as w:
            if domain:
                w.put_node(operator, domain)
            self._put_party(
                w, cc.encode(), pid.encode(), address, roles, sender, receiver, operator
            )
        return self.cache.party(cc, pid)


def _data(entry: dict[str, Any]) -> bytes:
    return bytes.fromhex(entry["data"][2:])
