"""wrk (Debian) as the HTTP load generator: one thread, bounded by -d, OCPI headers from Lua."""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
from pathlib import Path
from typing import Any

from benchmarks import stats

_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  local pct = {}
  for _, p in ipairs({%(points)s}) do
    local key = 'p' .. string.gsub(tostring(p), '%%.', '_')
    table.insert(pct, string.format('"%%s":%%d', key, latency:percentile(p)))
  end
  io.write(string.format(
    'WRKJSON {"requests":%%d,"duration_us":%%d,"bytes":%%d,"mean_us":%%.1f,"max_us":%%d,' ..
    '"err_connect":%%d,"err_read":%%d,"err_write":%%d,"err_status":%%d,"err_timeout":%%d,"pct_us":{%%s}}\\n',
    summary.requests, summary.duration, summary.bytes, latency.mean, latency.max,
    e.connect, e.read, e.write, e.status, e.timeout, table.concat(pct, ",")))
end
"""


def available() -> str | None:
    return None if shutil.which("wrk") else "wrk not installed (make bench-tools)"


def version() -> str:
    out = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=10)
    return (out.stdout or out.stderr).splitlines()[0].strip()


def _lua_point(p: float) -> str:
    return f"{p:g}"


_DELAY = """
local pause = %(ms)f
delay = function()
  local whole = math.floor(pause)
  if math.random() < pause - whole then return whole + 1 end
  return whole
end
"""


def write_script(
    path: Path, method: str, headers: dict[str, str], delay_ms: float | None = None
) -> Path:
    """A wrk Lua script; ``delay_ms`` paces each connection (dithered to whole ms, wrk's unit)."""
    lines = [f'wrk.method = "{method}"']
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()]
    if delay_ms is not None:
        lines.append(_DELAY % {"ms": max(0.0, delay_ms)})
    points = ", ".join(_lua_point(p) for p in stats.CDF_POINTS)
    path.write_text("\n".join(lines) + _DONE % {"points": points})
    return path


def run(url: str, script: Path, conc: int, seconds: float, cpus: set[int]) -> dict[str, Any]:
    """One bounded wrk run; latency percentiles (µs) come from wrk's own µs-resolution stats."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    argv = ["wrk", "-t1", f"-c{conc}", f"-d{max(1, round(seconds))}s", "--timeout", "5s",
            "-s", str(script), url]  # fmt: skip
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=seconds + 30,
        preexec_fn=lambda: os.sched_setaffinity(0, cpus),
    )  # fmt: skip
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no result: {done.stdout[-400:]} {done.stderr[-400:]}")
    out: dict[str, Any] = json.loads(line[8:])
    out["wrk_cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    out["rps"] = out["requests"] / max(out["duration_us"] / 1e6, 1e-9)
    out["errors"] = sum(out[k] for k in ("err_connect", "err_read", "err_write", "err_status",
                                          "err_timeout"))  # fmt: skip
    return out
