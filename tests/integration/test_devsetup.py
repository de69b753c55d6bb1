"""Issue 14 §6: `make check` says exactly what is missing and installs Debian packages only as root."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import devsetup  # noqa: E402

from tests.support import pg  # noqa: E402


def _bare_path(tmp_path: Path) -> str:
    """A PATH holding only this Python and make (no nginx, wrk, node, npm)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(sys.executable)
    make = shutil.which("make")
    if make:
        (bin_dir / "make").symlink_to(make)
    return str(bin_dir)


def test_check_names_each_missing_program_with_its_install_command(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "tools/devsetup.py", "--check"],
        cwd=ROOT,
        env={**os.environ, "PATH": _bare_path(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 1
    assert out.stderr.startswith("make check cannot run yet; missing:")
    assert "programs missing: nginx, wrk, node, npm" in out.stderr
    assert "sudo apt-get install nginx-light wrk nodejs npm" in out.stderr
    assert "+ " not in out.stdout  # --check installs nothing


def test_without_root_nothing_is_installed_with_apt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ran: list[list[str]] = []

    def record(argv: list[str], **_kw: Any) -> subprocess.CompletedProcess[str]:
        ran.append(argv)
        return subprocess.CompletedProcess(argv, 0)

    monkeypatch.setenv("PATH", _bare_path(tmp_path))
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setattr(subprocess, "run", record)
    assert devsetup.main([]) == 1
    assert not any("apt-get" in " ".join(argv) for argv in ran), ran
    assert "sudo apt-get install nginx-light wrk" in capsys.readouterr().err


def test_make_check_starts_with_the_setup_check() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}  # run under make too
    out = subprocess.run(
        ["make", "--no-print-directory", "-n", "check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    first = out.stdout.splitlines()[0]
    assert first.endswith("tools/devsetup.py")
    assert "apt-get" not in out.stdout


def test_as_root_a_missing_postgresql_is_installed_from_debian(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ran: list[list[str]] = []

    def record(argv: list[str], **_kw: Any) -> subprocess.CompletedProcess[str]:
        ran.append(argv)
        return subprocess.CompletedProcess(argv, 0)

    for name in ("missing_python", "missing_extensions", "missing_peers"):
        monkeypatch.setattr(devsetup, name, lambda: [])
    monkeypatch.setattr(shutil, "which", lambda tool: f"/usr/bin/{tool}")
    monkeypatch.setattr(pg, "bin_dir", lambda: None)  # initdb/pg_ctl nowhere
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(subprocess, "run", record)
    assert devsetup.main([]) == 1  # still missing: the recorder installed nothing
    assert ["apt-get", "install", "-y", "-qq", "postgresql"] in ran, ran
    assert "sudo apt-get install postgresql" in capsys.readouterr().err
