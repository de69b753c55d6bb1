"""ocn_core knows no transport: only ocn_core/adapters may import network libraries."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "ocn_core"
FORBIDDEN = {"grpc", "grpc_status", "grpc_health", "aiohttp", "web3", "httptools", "uvloop", "http"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_core_outside_adapters_imports_no_transport() -> None:
    sources = [p for p in CORE.rglob("*.py") if "adapters" not in p.relative_to(CORE).parts]
    sources += list(CORE.rglob("*.pyx"))
    assert sources
    offenders = {
        str(p.relative_to(CORE)): sorted(_imports(p) & FORBIDDEN)
        for p in sources
        if p.suffix == ".py" and _imports(p) & FORBIDDEN
    }
    assert offenders == {}


def test_rule_catches_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import grpc\nfrom aiohttp import web\n")
    assert _imports(bad) & FORBIDDEN == {"grpc", "aiohttp"}
