"""ISO 8601 UTC text of times: a whole second for the wire and the logs (cached), and epoch
seconds in CLI output."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

_SECOND: tuple[int, str] = (0, "1970-01-01T00:00:00")  # the last second formatted, and its text


def utc_second(second: int) -> str:
    """``2020-03-02T12:48:33`` of a whole epoch second; formatted once per second (libc's
    ``strftime``, ~0.7 µs), the callers add their fraction and ``Z``."""
    global _SECOND
    cached, text = _SECOND
    if second != cached:
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _SECOND = (second, text)
    return text


TIME_KEYS = frozenset({"expires_at", "created", "last_updated", "last_sync"})


def iso_utc(epoch: float) -> str:
    """``2026-12-03T09:45:00Z`` (seconds precision)."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def human_times(value: Any) -> Any:
    """``value`` with every number under a key of :data:`TIME_KEYS` as :func:`iso_utc`."""
    if isinstance(value, dict):
        return {
            k: iso_utc(v)
            if k in TIME_KEYS and isinstance(v, int | float) and not isinstance(v, bool) and v > 0
            else human_times(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [human_times(v) for v in value]
    return value
