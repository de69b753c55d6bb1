"""Targeted rewrites of raw OCPI messages: response_url in a body or query, Link next-URLs.

Bodies are spliced, not re-serialised: only the bytes of the one JSON string value change, so
every other byte (number formats, key order, ``last_updated``) reaches the receiver untouched.
"""

from __future__ import annotations

import re

import orjson

from ocn_core import ocpi
from ocn_core.errors import InvalidRequest

_RESPONSE_URL = re.compile(rb'"response_url"\s*:\s*("(?:[^"\\]|\\.)*")')
_NEXT = re.compile(r'<([^>]*)>\s*;\s*rel="?next"?', re.IGNORECASE)


def swap_body_response_url(raw: bytes, new_url: str) -> tuple[bytes, str]:
    """Replace the top-level ``response_url`` of a JSON object body; returns (body, old url)."""
    body = ocpi.loads(raw or b"null")
    old = body.get("response_url") if isinstance(body, dict) else None
    if not isinstance(old, str) or not old:
        raise InvalidRequest("Missing required field: response_url")
    for found in _RESPONSE_URL.finditer(raw):
        if orjson.loads(found.group(1)) == old:
            start, end = found.span(1)
            return raw[:start] + orjson.dumps(new_url) + raw[end:], old
    body["response_url"] = new_url  # unusual spelling of the key: fall back to re-encoding
    return orjson.dumps(body), old


def swap_query_response_url(query: str, new_url: str) -> tuple[str, str]:
    """Replace the ``response_url`` query parameter; returns (query, old url)."""
    pairs = ocpi.parse_query(query)
    old = next((v for k, v in pairs if k == "response_url"), "")
    if not old:
        raise InvalidRequest("Missing required query parameter: response_url")
    swapped = [(k, new_url if k == "response_url" else v) for k, v in pairs]
    return ocpi.build_query(swapped), old


def next_link(link: str) -> str | None:
    """The ``rel="next"`` URL of a Link header, if any."""
    found = _NEXT.search(link)
    return found.group(1) if found else None
