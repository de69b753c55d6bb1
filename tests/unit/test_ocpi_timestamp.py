"""OCPI DateTime of the node's own envelopes: the per-second cache formats as libc does."""

from __future__ import annotations

import time

from hypothesis import given
from hypothesis import strategies as st

from ocn_core import ocpi


def _formatted(t: float) -> str:
    """The text without a cache: strftime of the second, truncated milliseconds."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int((t % 1) * 1000):03d}Z"


@given(st.lists(st.floats(min_value=0, max_value=4e9, allow_nan=False), min_size=1, max_size=20))
def test_every_moment_reads_as_strftime_would(moments: list[float]) -> None:
    for t in moments:  # in any order: the cache follows every change of second
        assert ocpi.timestamp(t) == _formatted(t)


def test_the_cached_second_changes_at_the_boundary() -> None:
    assert ocpi.timestamp(1_600_000_000.999) == "2020-09-13T12:26:40.999Z"
    assert ocpi.timestamp(1_600_000_001.0) == "2020-09-13T12:26:41.000Z"
    assert ocpi.timestamp(1_600_000_000.5) == "2020-09-13T12:26:40.500Z"
    before, now, after = time.time(), ocpi.timestamp(), time.time()
    assert _formatted(before) <= now <= _formatted(after)  # (ISO text sorts as time does)
