"""``ocn-node registry ...`` through its argparse hooks: JSON on stdout, exit codes."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from ocn_core.registry import RegistryCache
from ocn_core.store import Store
from ocpi_gateway.registry_cli import add_registry_commands, run_registry_command

OP = "0x" + "ab" * 20
ADDR = "0x" + "12" * 20


def run(tmp_path: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    parser = argparse.ArgumentParser(prog="ocn-node")
    add_registry_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["registry", argv[0], "--data-dir", str(tmp_path), *argv[1:]])
    code = run_registry_command(args)
    return code, json.loads(capsys.readouterr().out)


def test_local_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(tmp_path, capsys, "set-node", OP, "https://n.example") == (0, {"ok": True})
    code, out = run(
        tmp_path, capsys, "set-party", "de", "abc", "--roles", "CPO", "EMSP",
        "--operator", OP, "--address", ADDR, "--modules-sender", "locations",
    )  # fmt: skip
    assert (code, out) == (0, {"ok": True})
    code, party = run(tmp_path, capsys, "show-party", "DE", "abc")
    assert code == 0
    assert party["roles"] == ["CPO", "EMSP"]
    assert party["node_url"] == "https://n.example"
    assert run(tmp_path, capsys, "show-party-address", ADDR)[1] == party
    assert run(tmp_path, capsys, "show-node", OP)[1]["url"] == "https://n.example"
    assert [p["party_id"] for p in run(tmp_path, capsys, "list-parties")[1]] == ["ABC"]
    assert len(run(tmp_path, capsys, "list-nodes")[1]) == 1
    assert run(tmp_path, capsys, "set-service", ADDR, "svc", "", "--permissions", "1")[0] == 0
    assert run(tmp_path, capsys, "set-agreement", ADDR, ADDR)[0] == 0
    assert run(tmp_path, capsys, "agreements", "DE", "ABC")[1][0]["name"] == "svc"
    assert run(tmp_path, capsys, "revoke-agreement", ADDR, ADDR)[0] == 0
    assert run(tmp_path, capsys, "agreements", "DE", "ABC")[1] == []
    assert run(tmp_path, capsys, "list-services")[1][0]["permissions"] == [1]
    assert run(tmp_path, capsys, "delete-service", ADDR)[0] == 0
    code, status = run(tmp_path, capsys, "status")
    assert (code, status["source"], status["stale"], status["entries"]["parties"]) == (
        0, "local", False, 1,
    )  # fmt: skip
    assert run(tmp_path, capsys, "delete-party", "de", "ABC") == (0, {"ok": True})
    assert run(tmp_path, capsys, "delete-party", "DE", "ABC") == (1, {"ok": False})
    assert run(tmp_path, capsys, "show-party", "DE", "ABC") == (1, None)
    assert run(tmp_path, capsys, "delete-node", OP) == (0, {"ok": True})


def test_refusals(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(tmp_path, capsys, "set-party", "DEX", "ABC", "--roles", "CPO", "--operator", OP)
    assert (code, out["error"]) == (2, "registry_invalid_entry")
    store = Store(tmp_path / "lmdb", map_size=16 << 20)
    with RegistryCache(store).writer() as w:
        w.set_source("ethereum", {"chain_id": 1})
    store.close()
    code, out = run(tmp_path, capsys, "set-node", OP, "https://n.example")
    assert (code, out["error"]) == (2, "registry_source_conflict")
    code, status = run(tmp_path, capsys, "status")
    assert (status["source"], status["stale"], status["cursor"]) == ("ethereum", True, None)
