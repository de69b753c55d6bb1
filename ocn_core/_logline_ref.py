"""Access lines rendered as the JSON log pipeline writes them (pure twin of ``_logline_cy``).

One access line is kept as its parts until its batch is written (:mod:`ocn_core.logconfig`):
event, fields, the request's context (a dict, or the object bound with ``request_context``:
its ``log_context()`` is read when the line is rendered), bound context variables and
``time.time()``. The line
is what structlog's pipeline would write: fields over the request's context over bound
variables, then event, level and structlog's ``TimeStamper(fmt="iso", utc=True)`` timestamp.
"""

from __future__ import annotations

from typing import Any

import orjson

from ocn_core.timefmt import utc_second

# event, fields, the request's context, bound context variables, time.time() when logged
AccessParts = tuple[str, dict[str, Any], Any, dict[str, Any], float]


def render(pending: list[AccessParts]) -> bytes:
    """The JSON lines of ``pending``, newline-terminated, in order."""
    dumps, option = orjson.dumps, orjson.OPT_APPEND_NEWLINE
    lines = []
    for event, fields, context, bound_vars, at in pending:
        whole = int(at)  # ...T12:00:00.123456Z
        prefix = utc_second(whole)
        micro = int((at - whole) * 1_000_000)
        stamp = f"{prefix}.{micro:06d}Z" if micro else prefix + "Z"
        if context is None:
            line = {**fields, "event": event, "level": "info", "timestamp": stamp}
        else:
            if not isinstance(context, dict):
                context = context.log_context()
            line = {**context, **fields, "event": event, "level": "info", "timestamp": stamp}
        if bound_vars:
            line = {**bound_vars, **line}
        lines.append(dumps(line, option=option))
    return b"".join(lines)
