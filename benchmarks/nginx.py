"""nginx on 127.0.0.1: the trivial upstream party (static OCPI answers) and the proxy hop."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from benchmarks import procs
from ocpi_gateway.supervisor import worker_cpus

_COMMON = """pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
worker_processes {workers};{affinity}
events {{ worker_connections 4096; multi_accept on; }}
http {{
  access_log off;
  client_body_temp_path {prefix}/tmp_body; proxy_temp_path {prefix}/tmp_proxy;
  fastcgi_temp_path {prefix}/tmp_fcgi; uwsgi_temp_path {prefix}/tmp_uwsgi;
  scgi_temp_path {prefix}/tmp_scgi;
  keepalive_requests 10000000; keepalive_timeout 300s;
  {body}
}}
"""


def available() -> str | None:
    """None when nginx is installed, else the reason a scenario needing it is skipped."""
    return None if shutil.which("nginx") else "nginx not installed (make bench-tools)"


def version() -> str:
    out = subprocess.run(["nginx", "-v"], capture_output=True, text=True, timeout=10)
    return out.stderr.strip()


def _quote(body: bytes) -> str:
    text = body.decode()
    if "'" in text or "\\" in text:
        raise ValueError("static body must not contain quotes or backslashes")
    return "'" + text + "'"


def upstream_body(port: int, routes: dict[str, bytes], default: bytes) -> str:
    """A server answering ``routes`` exactly and ``default`` for every other path."""
    exact = "\n".join(
        f"    location = {path} {{ default_type application/json; return 200 {_quote(b)}; }}"
        for path, b in routes.items()
    )
    return (
        f"server {{ listen 127.0.0.1:{port} backlog=4096;\n{exact}\n"
        f"    location / {{ default_type application/json; return 200 {_quote(default)}; }} }}"
    )


def proxy_body(port: int, upstream_port: int) -> str:
    """An nginx proxy hop: the node rows' baseline and each hop of the federation's nginx chain.

    ``reuseport`` gives each worker its own accept queue, as a multi-worker nginx is deployed:
    without it one worker could take most of wrk's connections (``multi_accept``), and the
    2-worker rows varied 13-32 % from run to run and ran up to 10 % slower.
    """
    return (
        f"upstream backend {{ server 127.0.0.1:{upstream_port}; keepalive 256;"
        " keepalive_requests 10000000; keepalive_timeout 300s; }\n"
        f"  server {{ listen 127.0.0.1:{port} backlog=4096 reuseport;\n"
        "    location / { proxy_pass http://backend; proxy_http_version 1.1;"
        ' proxy_set_header Connection ""; } }'
    )


def balancer_body(port: int, upstream_ports: list[int]) -> str:
    """nginx as the load balancer of node replicas: round robin, keep-alive, Host passed on,
    a replica that refuses connections skipped (idempotent requests retried on the next)."""
    servers = " ".join(f"server 127.0.0.1:{p} max_fails=1 fail_timeout=2s;" for p in upstream_ports)
    return (
        f"upstream replicas {{ {servers} keepalive 64; keepalive_requests 10000000;"
        " keepalive_timeout 300s; }\n"
        f"  server {{ listen 127.0.0.1:{port} backlog=4096;\n"
        "    location / { proxy_pass http://replicas; proxy_http_version 1.1;"
        ' proxy_set_header Connection ""; proxy_set_header Host $http_host;'
        " proxy_next_upstream error timeout; } }"
    )


def start(prefix: Path, workers: int, body: str, port: int) -> subprocess.Popen[bytes]:
    """Run nginx in the foreground under ``prefix`` and wait until ``port`` accepts."""
    prefix.mkdir(parents=True, exist_ok=True)
    conf = prefix / "nginx.conf"
    # placed as our node and bare hop place their workers (worker_cpu_affinity = "auto")
    affinity = "\nworker_cpu_affinity auto;" if worker_cpus(workers) else ""
    conf.write_text(_COMMON.format(prefix=prefix, workers=workers, affinity=affinity, body=body))
    argv = ["nginx", "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"]
    proc = procs.start(argv, prefix / "stderr.log")
    procs.wait_port(port, proc, timeout=15)
    return proc
