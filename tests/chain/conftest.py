"""A real anvil on 127.0.0.1 with the real OCN Registry and Permissions contracts.

ABI and bytecode come from the installed npm package at test time (never committed).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from web3 import Web3

from benchmarks.procs import free_port, wait_port
from tests.support.ocn_cluster import ANVIL_KEYS, NodeProcess, RegistryCli, node_env
from tests.support.require import missing

ANVIL = Path("@foundry-rs") / "anvil-linux-amd64" / "bin" / "anvil"
DEFS = Path("@shareandcharge") / "ocn-registry" / "contract.defs.local.json"
ROLE = {"CPO": 0, "EMSP": 1, "HUB": 2, "NAP": 3, "NSP": 4, "OTHER": 5, "SCSP": 6}
MODULE = {
    m: i
    for i, m in enumerate(
        ["cdrs", "chargingprofiles", "commands", "locations", "sessions", "tariffs", "tokens"]
    )
}


class Anvil:
    """One anvil process; its state file survives :meth:`restart` (blocks and logs included)."""

    def __init__(self, binary: Path, state: Path) -> None:
        self.binary = binary
        self.state = state
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        cmd = [str(self.binary), "--host", "127.0.0.1", "--port", str(self.port), "--silent"]
        cmd += ["--state", str(self.state)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_port(self.port, self.proc, 10)
        except RuntimeError as exc:
            raise RuntimeError(f"anvil did not start: {exc}") from None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()  # anvil dumps --state on SIGTERM
            self.proc.wait(timeout=10)
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


@dataclass
class Sig:
    v: int
    r: bytes
    s: bytes


def sign(key: str, types: Sequence[str], values: Sequence[Any]) -> Sig:
    """What the registry library's ``sign.ts`` does: ethers ``signMessage(soliditySha3(...))``."""
    digest = Web3.solidity_keccak(list(types), list(values))
    signed = Account.sign_message(encode_defunct(primitive=digest), key)
    return Sig(signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big"))


class Chain:
    """Deployed Registry + Permissions(registry), driven through web3 with anvil's accounts."""

    def __init__(self, anvil: Anvil, defs: dict[str, Any]) -> None:
        self.anvil = anvil
        self.defs = defs
        self.w3 = Web3(Web3.HTTPProvider(anvil.url, request_kwargs={"timeout": 10}))
        self.accounts = list(self.w3.eth.accounts)
        self.admin = self.accounts[0]
        self.registry = self._deploy("Registry")
        self.permissions = self._deploy("Permissions", self.registry.address)

    def _deploy(self, name: str, *args: Any) -> Any:
        d = self.defs[name]
        factory = self.w3.eth.contract(abi=d["abi"], bytecode=d["bytecode"])
        receipt = self.w3.eth.wait_for_transaction_receipt(
            factory.constructor(*args).transact({"from": self.admin})
        )
        return self.w3.eth.contract(address=receipt["contractAddress"], abi=d["abi"])

    def tx(self, fn: Any, sender: str) -> Any:
        receipt = self.w3.eth.wait_for_transaction_receipt(fn.transact({"from": sender}))
        assert receipt["status"] == 1
        return receipt

    def mine(self, blocks: int = 1) -> None:
        for _ in range(blocks):
            self.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]

    @property
    def head(self) -> int:
        return int(self.w3.eth.block_number)

    # --- the contracts' raw (signed by the listing's key, sent by a spender) variants ------

    def set_node_raw(self, key: str, domain: str, spender: str) -> None:
        addr = Account.from_key(key).address
        s = sign(key, ["address", "string"], [addr, domain])
        self.tx(self.registry.functions.setNodeRaw(addr, domain, s.v, s.r, s.s), spender)

    def delete_node_raw(self, key: str, spender: str) -> None:
        addr = Account.from_key(key).address
        s = sign(key, ["address"], [addr])
        self.tx(self.registry.functions.deleteNodeRaw(addr, s.v, s.r, s.s), spender)

    def set_party_raw(
        self, key: str, cc: str, pid: str, roles: Sequence[str], operator: str, spender: str
    ) -> None:
        addr = Account.from_key(key).address
        r = [ROLE[x] for x in roles]
        s = sign(
            key,
            ["address", "bytes2", "bytes3", *["uint256"] * len(r), "address"],
            [addr, cc.encode(), pid.encode(), *r, operator],
        )
        fn = self.registry.functions.setPartyRaw(
            addr, cc.encode(), pid.encode(), r, operator, s.v, s.r, s.s
        )
        self.tx(fn, spender)

    def set_modules_raw(
        self, key: str, sender: Sequence[str], receiver: Sequence[str], spender: str
    ) -> None:
        addr = Account.from_key(key).address
        ms, mr = [MODULE[m] for m in sender], [MODULE[m] for m in receiver]
        s = sign(key, ["address", *["uint256"] * (len(ms) + len(mr))], [addr, *ms, *mr])
        fn = self.registry.functions.setPartyModulesRaw(addr, ms, mr, s.v, s.r, s.s)
        self.tx(fn, spender)

    def delete_party_raw(self, key: str, spender: str) -> None:
        addr = Account.from_key(key).address
        s = sign(key, ["address"], [addr])
        self.tx(self.registry.functions.deletePartyRaw(addr, s.v, s.r, s.s), spender)

    def set_service_raw(
        self, key: str, name: str, url: str, perms: Sequence[int], spender: str
    ) -> None:
        s = sign(key, ["string", "string", *["uint256"] * len(perms)], [name, url, *perms])
        fn = self.permissions.functions.setServiceRaw(name, url, list(perms), s.v, s.r, s.s)
        self.tx(fn, spender)

    def delete_service_raw(self, key: str, spender: str) -> None:
        addr = Account.from_key(key).address
        s = sign(key, ["address"], [addr])
        self.tx(self.permissions.functions.deleteServiceRaw(addr, s.v, s.r, s.s), spender)

    def agreement_raw(self, key: str, provider: str, spender: str, *, revoke: bool = False) -> None:
        s = sign(key, ["address"], [provider])
        f = self.permissions.functions
        fn = (f.revokeAgreementRaw if revoke else f.createAgreementRaw)(provider, s.v, s.r, s.s)
        self.tx(fn, spender)

    # --- direct variants -----------------------------------------------------------------------

    def set_node(self, operator: str, domain: str) -> None:
        self.tx(self.registry.functions.setNode(domain), operator)

    def set_party(self, party: str, cc: str, pid: str, roles: Sequence[str], operator: str) -> None:
        fn = self.registry.functions.setParty(
            cc.encode(), pid.encode(), [ROLE[x] for x in roles], operator
        )
        self.tx(fn, party)


@pytest.fixture(scope="session")
def anvil_binary(peers: Path) -> Path:
    binary = peers / ANVIL
    if not binary.is_file():
        missing("anvil binary missing: run `make peers`")
    return binary


@pytest.fixture(scope="session")
def contract_defs(peers: Path) -> dict[str, Any]:
    path = peers / DEFS
    if not path.is_file():
        missing("@shareandcharge/ocn-registry missing: run `make peers`")
    defs: dict[str, Any] = json.loads(path.read_text())
    return defs


@pytest.fixture
def anvil(anvil_binary: Path, tmp_path: Path) -> Iterator[Anvil]:
    node = Anvil(anvil_binary, tmp_path / "anvil-state.json")
    node.start()
    yield node
    node.stop()


@pytest.fixture
def chain(anvil: Anvil, contract_defs: dict[str, Any]) -> Chain:
    return Chain(anvil, contract_defs)


@pytest.fixture(scope="module")
def module_anvil(anvil_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Anvil]:
    """One anvil for a whole test module (modules that share one cluster of nodes)."""
    node = Anvil(anvil_binary, tmp_path_factory.mktemp("anvil") / "state.json")
    node.start()
    yield node
    node.stop()


def chain_with_nodes(
    anvil: Anvil,
    contract_defs: dict[str, Any],
    peers: Path,
    tmp: Path,
    names: Sequence[str],
    **env: str,
) -> tuple[Chain, RegistryCli, dict[str, NodeProcess]]:
    """The Registry contracts on ``anvil``, the registry CLI, and one node process per name
    (keys ANVIL_KEYS[0], [1], ...; settings :func:`node_env` + ``env``), each listed on chain
    as a node; the nodes are not started yet."""
    chain = Chain(anvil, contract_defs)
    registry, permissions = chain.registry.address, chain.permissions.address
    cli = RegistryCli(peers, anvil.port, registry, permissions, tmp)
    settings = node_env(anvil.url, registry, permissions, **env)
    nodes = {name: NodeProcess(ANVIL_KEYS[i], tmp / name, settings) for i, name in enumerate(names)}
    for node in nodes.values():
        cli.set_node(node.url, node.key)
    return chain, cli, nodes
