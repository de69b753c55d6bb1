"""The compiled and the reference access-line renderers write the same bytes (differential)."""

from __future__ import annotations

import time
from types import ModuleType
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ocn_core import _logline_ref
from ocn_core.model import PartyRef, RouteRequest
from tests.support.twins import twins

IMPLS = twins(_logline_ref, "ocn_core._logline_cy")
CONTEXT = {"request_id": "r-1", "correlation_id": "c-1", "sender": "DEMSP", "receiver": "DEABC"}
FIELDS = {"method": "GET", "module": "locations", "status": 200, "ocpi_status": 1000,
          "error": None, "duration_ms": 0.048}  # fmt: skip
KEYS = st.sampled_from(["event", "level", "timestamp", "status", "request_id", "x", "ü"])
VALUES = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), st.text(max_size=8),
                   st.floats(allow_nan=False, allow_infinity=False))  # fmt: skip
DICTS = st.dictionaries(KEYS, VALUES, max_size=4)
# whole seconds, sub-microsecond fractions and the ends of a second
TIMES = st.one_of(st.floats(1e9, 4e9), st.integers(1_000_000_000, 4_000_000_000).map(float),
                  st.integers(1_000_000_000, 4_000_000_000).map(lambda s: s + 0.999999999))  # fmt: skip


@pytest.mark.parametrize("impl", IMPLS)
def test_a_line_is_what_the_pipeline_writes(impl: ModuleType) -> None:
    at = 1764777963.2874601
    out = impl.render([("route_completed", dict(FIELDS), dict(CONTEXT), {}, at)])
    line = orjson.loads(out)
    assert out.endswith(b"}\n")
    assert out.count(b"\n") == 1
    assert list(line) == [*CONTEXT, *FIELDS, "event", "level", "timestamp"]
    assert line["event"] == "route_completed"
    assert line["level"] == "info"
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(at)))
    assert line["timestamp"] == f"{stamp}.{int((at - int(at)) * 1_000_000):06d}Z"
    whole = orjson.loads(impl.render([("e", {}, None, {"bound": 1}, 1764777963.0)]))
    assert whole == {"bound": 1, "event": "e", "level": "info", "timestamp": stamp + "Z"}


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=6), DICTS, st.one_of(st.none(), DICTS), DICTS, TIMES),
                max_size=5))  # fmt: skip
def test_twins_write_the_same_bytes(pending: list[tuple[Any, ...]]) -> None:
    if len(IMPLS) < 2:
        pytest.skip("the compiled twin is not loaded (OCN_CORE_NO_EXTENSIONS or not built)")
    written = {impl.id: impl.values[0].render(_copy(pending)) for impl in IMPLS}
    assert len(set(written.values())) == 1, written


def _copy(pending: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Fresh dicts per twin (a renderer may reuse the ones it is handed)."""
    return [(e, dict(f), None if c is None else dict(c), dict(b), at) for e, f, c, b, at in pending]


class _Request(RouteRequest):
    __slots__ = ()


PARTY_TEXT = st.text(st.sampled_from("aZ9é\u212a\u0130ß-"), max_size=4)


@settings(max_examples=300, deadline=None)
@given(rid=st.text(max_size=6), cid=st.text(max_size=6),
       parties=st.tuples(PARTY_TEXT, PARTY_TEXT, PARTY_TEXT, PARTY_TEXT),
       shape=st.sampled_from(["plain", "subclass"]), fields=DICTS, at=TIMES)  # fmt: skip
def test_a_bound_request_renders_as_its_log_context(rid: str, cid: str,
                                                   parties: tuple[str, str, str, str],
                                                   shape: str, fields: dict[str, Any],
                                                   at: float) -> None:  # fmt: skip
    """The request bound with request_context is kept as it is and read when its line is
    rendered: both twins write what its ``log_context()`` dict would give."""
    fcc, fpid, tcc, tpid = parties
    req = RouteRequest(request_id=rid, correlation_id=cid, from_party=PartyRef(fcc, fpid),
                       to_party=PartyRef(tcc, tpid))  # fmt: skip
    if shape == "subclass":
        req = _Request(**{f: getattr(req, f) for f in req.__slots__})
    expected = _logline_ref.render([("e", dict(fields), req.log_context(), {}, at)])
    for impl in IMPLS:
        assert impl.values[0].render([("e", dict(fields), req, {}, at)]) == expected


@pytest.mark.parametrize("impl", IMPLS)
def test_a_bound_request_line_in_full(impl: ModuleType) -> None:
    """The common line (bound request, no bound variables): what the pipeline writes, every
    escape orjson makes included."""
    at = 1764777963.2874601
    odd = 'r"1\\\x01\x7fé'
    for rid in ("r-1", odd):
        req = RouteRequest(request_id=rid, correlation_id="c-1", from_party=PartyRef("de", "msp"),
                           to_party=PartyRef("DE", "ABC"))  # fmt: skip
        for fields in (dict(FIELDS), {}, {**FIELDS, "level": "x"}):
            out = impl.render([("route_completed", dict(fields), req, {}, at)])
            assert out == _logline_ref.render([("route_completed", dict(fields), req, {}, at)])
            line = orjson.loads(out)
            assert (line["request_id"], line["sender"]) == (rid, "DEMSP")
            assert list(line)[:4] == ["request_id", "correlation_id", "sender", "receiver"]
