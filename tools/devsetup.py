"""What ``make check`` needs, checked first: install what can be installed, name what is missing.

    python tools/devsetup.py            # check, install what this user may install, report the rest
    python tools/devsetup.py --check    # only check and report (exit 1 when something is missing)

Needs: the project's Python dependencies with the ``test`` and ``bench`` extras, its compiled
extensions, the pinned npm test peers (``tests/peers``, which need node + npm), nginx + wrk
for the benchmark baselines and the replica tests' load balancer, and PostgreSQL's server
binaries (Debian's ``postgresql``) for the shared-state tests, which start their own server.
Python packages and npm peers install without root when the Python environment is writable
(a venv, or root). Debian packages are installed only when running as root with apt-get
available; otherwise the exact command is printed and the exit status is 1.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.support import pg  # noqa: E402 - stdlib only: where PostgreSQL's binaries are

PEERS = ROOT / "tests" / "peers"
EXTRAS = ("test", "bench")
DEBIAN = {
    "nginx": "nginx-light",
    "wrk": "wrk",
    "node": "nodejs",
    "npm": "npm",
    "postgresql": pg.DEBIAN_PACKAGE,
}


def _name(requirement: str) -> str:
    """The distribution name of a PEP 508 requirement (markers for other platforms: '')."""
    spec, _, marker = requirement.partition(";")
    if "win32" in marker and "!=" not in marker:
        return ""
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", spec.strip())
    return match.group(0) if match else ""


def missing_python() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = list(project["dependencies"])
    for extra in EXTRAS:
        wanted += project["optional-dependencies"][extra]
    missing = []
    for requirement in wanted:
        name = _name(requirement)
        if not name:
            continue
        try:
            metadata.version(name)
        except metadata.PackageNotFoundError:
            missing.append(name)
    return missing


def missing_extensions() -> list[str]:
    """``.pyx`` modules without a compiled twin next to them."""
    return [
        str(pyx.relative_to(ROOT))
        for pyx in sorted(ROOT.glob("ocn_core/**/*.pyx"))
        if not list(pyx.parent.glob(pyx.stem + ".*.so"))
    ]


def missing_peers() -> list[str]:
    wanted = json.loads((PEERS / "package.json").read_text())["dependencies"]
    out = []
    for name, version in wanted.items():
        manifest = PEERS / "node_modules" / name / "package.json"
        try:
            found = json.loads(manifest.read_text()).get("version")
        except (OSError, ValueError):
            found = None
        if found != version:
            out.append(f"{name}@{version}")
    return out


def missing_tools() -> list[str]:
    missing = [tool for tool in ("nginx", "wrk") if shutil.which(tool) is None]
    if pg.bin_dir() is None:  # Debian keeps initdb/pg_ctl off PATH, in a versioned dir
        missing.append("postgresql")
    return missing


def _python_writable() -> bool:
    return os.access(sysconfig.get_paths()["purelib"], os.W_OK)


def _run(argv: list[str], cwd: Path = ROOT) -> bool:
    print("+ " + " ".join(argv), flush=True)
    return subprocess.run(argv, cwd=cwd, check=False).returncode == 0


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    install = not args.check
    is_root = os.geteuid() == 0
    problems: list[str] = []
    pip = [sys.executable, "-m", "pip", "install", "-q"]

    python = missing_python()
    if python and install and _python_writable():
        os.environ["OCN_CORE_REQUIRE_EXTENSIONS"] = "1"  # a failed compile is an error
        env_ok = _run([*pip, "-e", f".[{','.join(EXTRAS)}]"])
        python = missing_python() if env_ok else python
    if python:
        problems.append(
            f"Python packages missing: {', '.join(python)}\n"
            f"    install: {sys.executable} -m pip install -e '.[{','.join(EXTRAS)}]'"
            + ("" if _python_writable() else "  (in a venv: this Python is not writable)")
        )

    extensions = missing_extensions()
    if extensions and install and not python:
        _run([sys.executable, "setup.py", "build_ext", "--inplace"])
        extensions = missing_extensions()
    if extensions:
        problems.append(
            f"compiled extensions missing: {', '.join(extensions)}\n"
            f"    build: {sys.executable} setup.py build_ext --inplace"
        )

    tools = missing_tools()
    node = [t for t in ("node", "npm") if shutil.which(t) is None]
    apt = shutil.which("apt-get") is not None
    debs = [DEBIAN[t] for t in tools + node]
    if debs and install and is_root and apt:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
        print("+ apt-get install -y -qq " + " ".join(debs), flush=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", *debs], check=False, env=env)
        tools = missing_tools()
        node = [t for t in ("node", "npm") if shutil.which(t) is None]
    if tools or node:
        names = tools + node
        problems.append(
            f"programs missing: {', '.join(names)} (nginx/wrk: benchmark baselines; "
            "node/npm: the npm test peers; postgresql: the shared-state tests)\n"
            f"    install (Debian): sudo apt-get install {' '.join(DEBIAN[t] for t in names)}"
        )

    peers = missing_peers()
    if peers and install and not node:
        _run(["make", "peers"])
        peers = missing_peers()
    if peers:
        problems.append(f"npm test peers missing: {', '.join(peers)}\n    install: make peers")

    if problems:
        print("make check cannot run yet; missing:", file=sys.stderr)
        for problem in problems:
            print("  - " + problem, file=sys.stderr)
        return 1
    print("devsetup: everything make check needs is present")
    return 0


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="check (and install) what make check needs")
    parser.add_argument("--check", action="store_true", help="only check and report")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
