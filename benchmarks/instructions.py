"""Instructions per request above the sockets, counted by callgrind: noise-free on a shared box.

    python -m benchmarks.instructions [--calls 2000] [--access-log]
        [--case handle|decision-cold|hop|bare-hop]

Runs ``Gateway.handle`` (URL match + engine + response; the outbound hop stubbed as in
:mod:`benchmarks.engine_bench`), or the cold route decision of :mod:`benchmarks.decision_bench`
(memo dropped, URL match + decision), in a child under ``valgrind --tool=callgrind`` twice, with
``calls`` and ``3 * calls`` requests, and reports the difference per request: setup and import
costs cancel out. With ``--access-log`` the access log line (info, JSON) is written too, to a
file. ``hop`` is the whole node worker on real sockets (HTTP server, engine, HTTP client,
event loop) and ``bare-hop`` the same without the engine (:mod:`benchmarks.bare_hop`): a client
process and an nginx upstream outside valgrind send sequential keep-alive requests, so only the
worker's own user-space instructions are counted; the worker runs on uvloop, as the node's
workers do (asyncio's own loop adds ~80k instructions of Python per request). Wall-clock rows say
how fast; this row says whether a change did less work.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks import engine_bench, payloads, procs, static_http
from benchmarks.inprocess import connected_node
from ocpi_gateway.app import Gateway
from ocpi_gateway.core_client import InProcessCore
from ocpi_gateway.http_server import Request


async def _drive(calls: int, access_log: bool, case: str) -> None:
    """Set up a connected node, then ``calls`` stubbed gateway requests (or cold decisions)."""
    if case in ("hop", "bare-hop"):
        await _drive_sockets(calls, case)
        return
    with tempfile.TemporaryDirectory(prefix="ocn-instr-") as tmp:
        port = procs.free_port()
        base = f"http://127.0.0.1:{port}"
        upstream = await static_http.serve(port, payloads.static_routes(base), b"{}")
        try:
            async with connected_node(Path(tmp) / "node", base) as node:
                engine = node.engine
                engine.ctx.transport = engine_bench.StubTransport()
                gateway = Gateway(InProcessCore(engine), {"url": node.url, "address": ""},
                                  access_log=access_log)  # fmt: skip
                headers = payloads.routing_headers(node.tokens["EMSP"])
                request = Request("GET", payloads.NODE_PATH, "",
                                  {k.lower(): v for k, v in headers.items()}, b"")  # fmt: skip
                if case == "decision-cold":
                    from benchmarks.decision_bench import cases, route_request

                    cold = dict((n, fn) for n, _, fn in cases(engine.ctx, route_request(
                        node.tokens["EMSP"])))["route-decision-cold"]  # fmt: skip
                    for _ in range(calls):
                        cold()
                    return
                for _ in range(calls):
                    await gateway.handle(request)
        finally:
            upstream.close()


async def _drive_sockets(calls: int, case: str) -> None:
    """``calls`` requests over loopback through a node (or the bare hop) served in this process."""
    from benchmarks import bare_hop, upstream

    with tempfile.TemporaryDirectory(prefix="ocn-instr-") as tmp:
        up = upstream.start_upstream(Path(tmp) / "up")
        try:
            if case == "bare-hop":
                port = procs.free_port()
                task = asyncio.ensure_future(bare_hop.main(port, up.port))
                await asyncio.to_thread(procs.wait_port, port, None)
                headers = payloads.routing_headers("not-checked")
                await _load(port, headers, calls)
                task.cancel()
                return
            async with connected_node(Path(tmp) / "node", up.base) as node:
                port = int(node.url.rsplit(":", 1)[1])
                await _load(port, payloads.routing_headers(node.tokens["EMSP"]), calls)
        finally:
            procs.stop([up.proc])


async def _load(port: int, headers: dict[str, str], calls: int) -> None:
    """Run the sequential client (a process outside valgrind) and wait for it."""
    argv = [sys.executable, "-c", _CLIENT, str(port), str(calls), json.dumps(headers),
            payloads.NODE_PATH]  # fmt: skip
    proc = await asyncio.create_subprocess_exec(*argv)
    if await proc.wait() != 0:
        raise RuntimeError("the load client failed")


_CLIENT = r"""
import json, socket, sys
port, calls, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[4]
headers = json.loads(sys.argv[3])
head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
req = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}\r\n".encode()
s = socket.create_connection(("127.0.0.1", port))
buf = b""
for _ in range(calls):
    s.sendall(req)
    while True:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            top = buf[:end].lower()
            assert top.startswith(b"http/1.1 200"), buf[:200]
            size = int(top.split(b"content-length: ")[1].split(b"\r\n")[0])
            if len(buf) >= end + 4 + size:
                buf = buf[end + 4 + size:]
                break
        buf += s.recv(65536)
"""


def _child(calls: int, access_log: bool, case: str) -> None:
    from ocn_core.logconfig import configure_logging

    configure_logging("json", "info" if access_log else "warning")
    if case in ("hop", "bare-hop"):  # the node's worker runs on uvloop
        import uvloop

        uvloop.install()
    asyncio.run(_drive(calls, access_log, case))


def _count(calls: int, access_log: bool, case: str, out: Path) -> int:
    """Total instructions (Ir) of one child run under callgrind."""
    argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable,
            "-m", "benchmarks.instructions", "--child", str(calls), "--case", case]  # fmt: skip
    if access_log:
        argv.append("--access-log")
    with open(out.with_suffix(".log"), "wb") as log:
        subprocess.run(argv, check=True, stdout=log, stderr=log, timeout=1800)
    text = out.with_suffix(".log").read_text(errors="replace")
    found = re.search(r"Collected : (\d+)", text)
    if found is None:
        raise RuntimeError(f"no callgrind total in {out}.log")
    return int(found.group(1))


def measure(calls: int, access_log: bool = False, case: str = "handle") -> dict[str, Any]:
    """Instructions per stubbed request or cold decision (and which twins were loaded)."""
    if shutil.which("valgrind") is None:
        return {"skipped": "valgrind not installed"}
    with tempfile.TemporaryDirectory(prefix="ocn-callgrind-") as tmp:
        small = _count(calls, access_log, case, Path(tmp) / "small.out")
        large = _count(3 * calls, access_log, case, Path(tmp) / "large.out")
    from ocn_core import implementation_report

    return {"instructions_per_call": round((large - small) / (2 * calls)), "case": case,
            "calls": calls, "access_log": access_log,
            "pure_twins": bool(os.environ.get("OCN_CORE_NO_EXTENSIONS")),
            "implementations": implementation_report()}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.instructions")
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--access-log", action="store_true")
    cases = ("handle", "decision-cold", "hop", "bare-hop")
    ap.add_argument("--case", choices=cases, default="handle")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child is not None:
        _child(a.child, a.access_log, a.case)
        return 0
    import ocn_core.wire  # noqa: F401 - fills the implementation report

    print(json.dumps(measure(a.calls, a.access_log, a.case), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
