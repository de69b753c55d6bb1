"""The node's own paginated OCPI lists (HubClientInfo, GET All via Hub), OCPI 2.2.1 §1.7.

date_from (inclusive) / date_to (exclusive) on ``last_updated``, offset/limit (limit capped at
MAX_LIMIT), ``X-Total-Count``, ``X-Limit`` and a ``Link`` to the next page with every filter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from ocn_core import ocpi
from ocn_core.errors import InvalidRequest

MAX_LIMIT = 100
T = TypeVar("T")


def page(
    items: Sequence[T],
    updated: Callable[[T], float],
    query: str,
    url: str,
) -> tuple[list[T], list[tuple[str, str]]]:
    """The requested page of ``items`` (already in a stable order) and the paging headers.

    ``updated`` gives an item's ``last_updated`` (epoch seconds); ``url`` is the list's own
    URL (without query) for the ``Link`` header.
    """
    params = dict(ocpi.parse_query(query))
    since = _instant(params, "date_from", float("-inf"))
    until = _instant(params, "date_to", float("inf"))
    offset = _count(params, "offset", 0)
    limit = min(_count(params, "limit", MAX_LIMIT), MAX_LIMIT)
    selected = [item for item in items if since <= updated(item) < until]
    headers = [("X-Total-Count", str(len(selected))), ("X-Limit", str(limit))]
    if offset + limit < len(selected):
        rest = [(k, v) for k, v in params.items() if k not in ("offset", "limit")]
        next_query = ocpi.build_query(
            [*rest, ("offset", str(offset + limit)), ("limit", str(limit))]
        )
        headers.append(("Link", f'<{url}?{next_query}>; rel="next"'))
    return selected[offset : offset + limit], headers


def parse_instant(raw: str) -> float | None:
    """An OCPI DateTime as epoch seconds (no zone designator means UTC), None if invalid."""
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _instant(params: dict[str, str], name: str, default: float) -> float:
    raw = params.get(name)
    if raw is None:
        return default
    found = parse_instant(raw)
    if found is None:
        raise InvalidRequest(f"Invalid {name}: {raw!r} is not an OCPI DateTime")
    return found


def _count(params: dict[str, str], name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    if not raw.isdigit():
        raise InvalidRequest(f"Invalid {name}: {raw!r} is not a non-negative integer")
    return int(raw)


def updated_of(obj: Any) -> float:
    """``last_updated`` of a stored OCPI object (-inf when missing or invalid)."""
    raw = obj.get("last_updated") if isinstance(obj, dict) else None
    found = parse_instant(raw) if isinstance(raw, str) else None
    return found if found is not None else float("-inf")
