"""Times for people: epoch seconds in CLI output shown as ISO 8601 UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

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
