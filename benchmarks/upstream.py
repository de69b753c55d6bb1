"""Start the upstream OCPI party (versions, details, the Location) as nginx or, without nginx,
as the small Python server; stopped by PID through :func:`benchmarks.procs.stop`."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from benchmarks import nginx, payloads, procs


@dataclass
class Upstream:
    port: int
    kind: str  # "nginx" | "python"
    proc: subprocess.Popen[bytes]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def start_upstream(
    run_dir: Path, prefer_nginx: bool = True, default: bytes = payloads.LOCATION_RESPONSE
) -> Upstream:
    """The party's versions and details at their paths, ``default`` (the Location) elsewhere."""
    port = procs.free_port()
    base = f"http://127.0.0.1:{port}"
    if prefer_nginx and nginx.available() is None:
        body = nginx.upstream_body(port, payloads.static_routes(base), default)
        return Upstream(port, "nginx", nginx.start(run_dir / "upstream", 1, body, port))
    if default != payloads.LOCATION_RESPONSE:
        raise RuntimeError("the Python upstream serves the plain Location only; install nginx")
    run_dir.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "benchmarks.static_http", str(port)]
    proc = procs.start(argv, run_dir / "upstream-python.log")
    procs.wait_port(port, proc)
    return Upstream(port, "python", proc)
