"""Registry: the cached routing lookup vs a direct eth_call on anvil, and chain sync time.

* ``lookup``: ``RegistryCache.party`` p50/p99 per implementation (Cython, pure), hits and misses,
  one short LMDB read txn per lookup, Party decode included.
* ``scaling``: lookup p50 at 1k / 10k / 100k parties (a B+tree: flat in practice).
* ``chain``: the real Registry/Permissions contracts on anvil (127.0.0.1): a direct
  ``getPartyDetailsByOcpi`` eth_call (our miss path, and web3's contract ``.call()``), the ratio to
  the cached lookup, and the time to sync N parties by snapshot and by following events.

``python -m benchmarks.registry_bench [--quick]`` prints JSON. Needs the npm test peers
(``make peers``) for the chain part; without them that part reports ``skipped``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from benchmarks.procs import free_port
from ocn_core.registry import RegistryCache
from ocn_core.registry import _lookup_ref as ref
from ocn_core.registry.cache import IMPLEMENTATION
from ocn_core.store import Store

PEERS = Path(__file__).resolve().parents[1] / "tests" / "peers" / "node_modules"
ANVIL = PEERS / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
DEFS = PEERS / "@shareandcharge" / "ocn-registry" / "contract.defs.local.json"
OPERATOR = "0x" + "ab" * 20


def _pct(sorted_ns: list[int], q: float) -> float:
    """Nearest-rank percentile in µs of sorted nanosecond samples."""
    rank = max(1, -(-len(sorted_ns) * q // 100))
    return sorted_ns[min(len(sorted_ns), int(rank)) - 1] / 1e3


def _latency(fn: Callable[[], object], n: int) -> dict[str, float]:
    clock = time.perf_counter_ns
    samples = []
    for _ in range(n):
        t0 = clock()
        fn()
        samples.append(clock() - t0)
    samples.sort()
    return {
        "p50_us": _pct(samples, 50),
        "p99_us": _pct(samples, 99),
        "p99_9_us": _pct(samples, 99.9),
    }


def _timer_overhead_us(n: int = 100_000) -> float:
    return _latency(lambda: None, n)["p50_us"]


def _ids(i: int) -> tuple[str, str]:
    return "D" + chr(65 + i % 26), "".join(chr(65 + (i // 26 // 26**k) % 26) for k in range(3))


def _fill(cache: RegistryCache, n: int) -> float:
    t0 = time.perf_counter()
    with cache.writer() as w:
        w.put_node(OPERATOR, "https://node.example")
        for i in range(n):
            cc, pid = _ids(i)
            address = "0x" + (i + 1).to_bytes(20, "big").hex()
            w.put_party(
                cc,
                pid,
                operator=OPERATOR,
                roles=("CPO", "EMSP"),
                address=address,
                modules_sender=("locations", "sessions"),
                modules_receiver=("commands",),
            )
    return time.perf_counter() - t0


def _impls() -> dict[str, ModuleType]:
    impls = {"ref": ref}
    try:
        from ocn_core.registry import _lookup_cy

        impls["cy"] = _lookup_cy
    except ImportError:
        pass
    return impls


def _lookup_figures(cache: RegistryCache, n_parties: int, samples: int) -> dict[str, Any]:
    rng = random.Random(7)
    keys = [_ids(rng.randrange(n_parties)) for _ in range(samples)]
    out: dict[str, Any] = {name: _impl_figures(mod, cache, keys) for name, mod in _impls().items()}
    out["facade"] = IMPLEMENTATION
    it2 = iter(keys)
    out["facade_hit"] = _latency(lambda: cache.party(*next(it2)), samples)
    return out


def _impl_figures(
    mod: ModuleType, cache: RegistryCache, keys: list[tuple[str, str]]
) -> dict[str, Any]:
    lookup = mod.lookup_party
    env, parties, nodes = cache.env, cache._parties, cache._nodes
    it = iter(keys)
    hit = _latency(lambda: lookup(env, parties, nodes, *next(it)), len(keys))
    miss = _latency(lambda: lookup(env, parties, nodes, "ZZ", "ZZZ"), len(keys) // 4)
    t0 = time.perf_counter()
    for cc, pid in keys:
        lookup(env, parties, nodes, cc, pid)
    rate = len(keys) / (time.perf_counter() - t0)
    return {"hit": hit, "miss": miss, "lookups_per_s": round(rate)}


def _local_part(quick: bool, tmp: Path) -> dict[str, Any]:
    samples = 50_000 if quick else 200_000
    sizes = (1_000, 10_000, 100_000)
    scaling: dict[str, Any] = {}
    lookup: dict[str, Any] = {}
    for n in sizes:
        store = Store(tmp / f"lmdb-{n}", map_size=1 << 30)
        cache = RegistryCache(store)
        fill_s = _fill(cache, n)
        figures = _lookup_figures(cache, n, samples if n == sizes[-1] else samples // 4)
        best = figures.get("cy", figures["ref"])
        hit = best["hit"]
        scaling[str(n)] = {
            "fill_s": round(fill_s, 3),
            "p50_us": hit["p50_us"],
            "p99_us": hit["p99_us"],
        }
        if n == sizes[-1]:
            lookup = {"parties": n, **figures}
        store.close()
    p50s = [scaling[str(n)]["p50_us"] for n in sizes]
    scaling["p50_ratio_100k_vs_1k"] = round(p50s[-1] / p50s[0], 2)
    return {"timer_overhead_us": _timer_overhead_us(), "lookup": lookup, "scaling": scaling}


# --- chain -------------------------------------------------------------------------------------


def _start_anvil(port: int) -> subprocess.Popen[bytes]:
    args = [str(ANVIL), "--host", "127.0.0.1", "--port", str(port), "--silent",
            "--auto-impersonate", "--base-fee", "0", "--gas-price", "0",
            "--disable-block-gas-limit", "--disable-min-priority-fee"]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.02)
    proc.kill()
    raise RuntimeError("anvil did not start")


async def _chain_async(url: str, n_parties: int, calls: int, tmp: Path) -> dict[str, Any]:
    from eth_abi.abi import encode
    from eth_utils.crypto import keccak
    from web3 import Web3

    from ocn_core.adapters.ethereum_registry import EthereumRegistrySync

    defs = json.loads(DEFS.read_text())
    w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 60}))
    accounts = list(w3.eth.accounts)
    admin, operator, first = accounts[0], accounts[1], accounts[2]

    def deploy(name: str, *args: Any) -> Any:
        factory = w3.eth.contract(abi=defs[name]["abi"], bytecode=defs[name]["bytecode"])
        tx = factory.constructor(*args).transact({"from": admin, "gasPrice": 0})
        address = w3.eth.wait_for_transaction_receipt(tx)["contractAddress"]
        return w3.eth.contract(address=address, abi=defs[name]["abi"])

    registry = deploy("Registry")
    permissions = deploy("Permissions", registry.address)
    fn = registry.functions
    w3.eth.wait_for_transaction_receipt(
        fn.setNode("https://node.example").transact({"from": operator, "gasPrice": 0})
    )
    w3.eth.wait_for_transaction_receipt(
        fn.setParty(b"CH", b"FST", [0], operator).transact({"from": first, "gasPrice": 0})
    )

    def new_sync(name: str) -> tuple[EthereumRegistrySync, Store]:
        store = Store(tmp / name, map_size=1 << 30)
        sync = EthereumRegistrySync(
            RegistryCache(store),
            rpc_url=url,
            registry_address=registry.address,
            permissions_address=permissions.address,
            max_block_range=100_000,
            request_timeout=120,
        )
        return sync, store

    follower, follower_store = new_sync("follow")
    await follower.sync_once()  # snapshot of the small registry; then follow events

    # direct reads: our miss path (raw JSON-RPC eth_call, abi decode) and web3's contract call
    raw: list[int] = []
    for _ in range(calls):
        t0 = time.perf_counter_ns()
        await follower._calls(
            [(registry.address, "getPartyDetailsByOcpi", (b"CH", b"FST"))], "latest"
        )
        raw.append(time.perf_counter_ns() - t0)
    raw.sort()
    web3_calls: list[int] = []
    for _ in range(max(10, calls // 3)):
        t0 = time.perf_counter_ns()
        fn.getPartyDetailsByOcpi(b"CH", b"FST").call()
        web3_calls.append(time.perf_counter_ns() - t0)
    web3_calls.sort()
    cached = _latency(lambda: follower.cache.party("CH", "FST"), 20_000)

    # N parties, one impersonated sender each, batched into a few blocks
    selector = keccak(text="setParty(bytes2,bytes3,uint8[],address)")[:4]
    requests = []
    for i in range(n_parties):
        cc, pid = _ids(i)
        data = selector + encode(
            ["bytes2", "bytes3", "uint8[]", "address"],
            [cc.encode(), pid.encode(), [0, 1], operator],
        )
        sender = "0x" + (i + 0x1000).to_bytes(20, "big").hex()
        tx = {"from": sender, "to": registry.address, "data": "0x" + data.hex()}
        requests.append(("eth_sendTransaction", [{**tx, "gas": hex(400_000), "gasPrice": "0x0"}]))
    provider: Any = w3.provider
    started = time.perf_counter()
    provider.make_request("evm_setAutomine", [False])
    for start in range(0, len(requests), 1000):
        for r in provider.make_batch_request(requests[start : start + 1000]):
            if "error" in r:
                raise RuntimeError(f"populate: {r['error']}")
        provider.make_request("evm_mine", [])
    provider.make_request("evm_setAutomine", [True])
    populate_s = time.perf_counter() - started

    started = time.perf_counter()
    while True:
        await follower.sync_once()
        if follower.caught_up:
            break
    follow_s = time.perf_counter() - started
    followed = follower.cache.count()["parties"]

    snapshotter, snap_store = new_sync("snapshot")
    started = time.perf_counter()
    await snapshotter.sync_once()
    snapshot_s = time.perf_counter() - started
    snapped = snapshotter.cache.count()["parties"]
    same = list(snapshotter.cache.parties()) == list(follower.cache.parties())
    await follower.close()
    await snapshotter.close()
    follower_store.close()
    snap_store.close()

    raw_p50, cached_p50 = _pct(raw, 50), cached["p50_us"]
    return {
        "direct_eth_call": {"p50_us": raw_p50, "p99_us": _pct(raw, 99), "n": len(raw)},
        "web3_contract_call": {"p50_us": _pct(web3_calls, 50), "n": len(web3_calls)},
        "cached_lookup": cached,
        "ratio_eth_call_vs_cache": round(raw_p50 / cached_p50),
        "ratio_web3_call_vs_cache": round(_pct(web3_calls, 50) / cached_p50),
        "sync": {
            "parties": n_parties + 1,
            "populate_chain_s": round(populate_s, 2),
            "follow_events_s": round(follow_s, 3),
            "snapshot_s": round(snapshot_s, 3),
            "snapshot_parties_per_s": round((n_parties + 1) / snapshot_s),
            "follow_parties_per_s": round((n_parties + 1) / follow_s),
            "cached_after_follow": followed,
            "cached_after_snapshot": snapped,
            "snapshot_equals_follow": same,
        },
    }


def _chain_part(quick: bool, tmp: Path) -> dict[str, Any]:
    if not ANVIL.is_file() or not DEFS.is_file():
        return {"skipped": "npm test peers missing (make peers)"}
    port = free_port()
    proc = _start_anvil(port)
    try:
        url = f"http://127.0.0.1:{port}"
        n_parties, calls = (2_000, 100) if quick else (10_000, 500)
        return asyncio.run(_chain_async(url, n_parties, calls, tmp))
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def run(quick: bool) -> dict[str, Any]:
    """All registry figures as one JSON-able dict."""
    with tempfile.TemporaryDirectory(prefix="registry-bench-") as tmp:
        result: dict[str, Any] = {"mode": "quick" if quick else "full"}
        result.update(_local_part(quick, Path(tmp)))
        result["chain"] = _chain_part(quick, Path(tmp))
        return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.registry_bench")
    parser.add_argument("--quick", action="store_true", help="fewer samples, 2k parties on chain")
    args = parser.parse_args(argv)
    json.dump(run(args.quick), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    raise SystemExit(main())
