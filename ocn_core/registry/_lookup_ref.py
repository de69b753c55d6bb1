"""Pure-Python twin of the routing fast path (``_lookup_cy``): one short read txn per lookup."""

from __future__ import annotations

from typing import Any

from ocn_core.registry.codec import KEY_VERSION, decode_node_url, decode_party, party_key
from ocn_core.registry.types import Party


def lookup_party(
    env: Any, parties: Any, nodes: Any, country_code: str, party_id: str
) -> Party | None:
    """The party listed under the (case-insensitive) OCPI id, joined with its node's URL."""
    key = party_key(country_code, party_id)
    if key is None:
        return None
    txn = env.begin(db=parties)
    try:
        value = txn.get(key)
        if value is None:
            return None
        url = txn.get(KEY_VERSION + value[1:21], db=nodes)
    finally:
        txn.abort()
    return decode_party(key, value, decode_node_url(url))


def lookup_party_by_key(env: Any, parties: Any, nodes: Any, key: bytes) -> Party | None:
    """As :func:`lookup_party` for an already-built party key."""
    txn = env.begin(db=parties)
    try:
        value = txn.get(key)
        if value is None:
            return None
        url = txn.get(KEY_VERSION + value[1:21], db=nodes)
    finally:
        txn.abort()
    return decode_party(key, value, decode_node_url(url))
