"""Hypothesis: the Cython and pure twins agree (same results, same error classes and messages)."""

from __future__ import annotations

import base64
import copy
import importlib
import json
from types import ModuleType
from typing import Any

import brotli
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ocn_core import _ext
from ocn_core.errors import OcnError
from ocn_core.signing import _notary_ref as ref

try:
    cy: ModuleType = importlib.import_module("ocn_core.signing._notary_cy")
except ImportError:
    if _ext.REQUIRE_EXTENSIONS:
        raise
    pytest.skip("Cython twin not built", allow_module_level=True)
if _ext.NO_EXTENSIONS:
    pytest.skip("OCN_CORE_NO_EXTENSIONS=1: pure twin only", allow_module_level=True)

KEY = b"\x42" * 32
NODE = b"\x43" * 32
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))

keys = st.one_of(
    st.text(alphabet="abcXYZ_-.Äß☃ 𝄞'\\\"[]$*", max_size=5),
    st.integers(0, 2**33).map(str),
    st.sampled_from(
        ["01", "-1", "4294967294", "4294967295", "length", "0", "constructor", "toString"]
    ),
)
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, -0.0, 1.0, 1e21, 1e-7, 1e20, 5e-324, 2**53 + 1]),
    st.text(max_size=6),
    st.just(""),
)
json_values = st.recursive(
    leaves, lambda c: st.lists(c, max_size=4) | st.dictionaries(keys, c, max_size=5), max_leaves=24
)
paths = st.lists(
    st.one_of(
        keys.map(lambda k: f"['{k}']"),
        st.integers(-2, 5).map(lambda i: f"[{i}]"),
        st.sampled_from([".a", ".0", "..", "[*]", "['a','b']"]),
    ),
    max_size=4,
).map(lambda parts: "$" + "".join(parts))


def outcome(fn: Any, *args: Any) -> tuple[str, str]:
    try:
        result = fn(*args)
    except OcnError as exc:
        return type(exc).__name__, exc.message
    return "ok", repr(result.to_json() if hasattr(result, "to_json") else result)


def _perturb(values: Any, data: st.DataObject) -> Any:
    out = copy.deepcopy(values)
    node, parent, key = out, None, None
    while isinstance(node, dict | list) and node and data.draw(st.booleans()):
        parent = node
        key = data.draw(
            st.sampled_from(list(node) if isinstance(node, dict) else list(range(len(node))))
        )
        node = node[key]
    if parent is not None:
        parent[key] = data.draw(json_values)  # type: ignore[index]
    return out


@SETTINGS
@given(body=json_values)
def test_sign_agrees(body: Any) -> None:
    values = {"headers": {"x-correlation-id": "c"}, "body": body}
    a, b = outcome(ref.sign, values, KEY), outcome(cy.sign, values, KEY)
    assert a == b
    if a[0] == "ok":
        assert ref.sign(values, KEY).serialize() == cy.sign(values, KEY).serialize()


@SETTINGS
@given(body=json_values, data=st.data())
def test_verify_agrees(body: Any, data: st.DataObject) -> None:
    values = {"headers": {"x-correlation-id": "c"}, "body": body}
    try:
        header = ref.sign(values, KEY).serialize()
    except OcnError:
        return
    received = _perturb(values, data)
    results = [
        outcome(lambda h, v, m=m: m.Notary.deserialize(h).verify(v), header, received)
        for m in (ref, cy)
    ]
    assert results[0] == results[1]


@SETTINGS
@given(body=json_values, stash=st.dictionaries(paths, json_values, max_size=3), data=st.data())
def test_rewrites_agree(body: Any, stash: dict[str, Any], data: st.DataObject) -> None:
    values = {"headers": {"x-correlation-id": "c"}, "body": body}
    try:
        notary = ref.sign(values, KEY)
    except OcnError:
        return
    header = notary.serialize()
    new = _perturb(values, data)
    results = []
    for m in (ref, cy):

        def rewrite(h: str, m: ModuleType = m) -> Any:
            n = m.Notary.deserialize(h)
            n.stash(stash)
            n.sign(new, NODE)
            m.Notary.deserialize(n.serialize()).verify(new)
            return n

        results.append(outcome(rewrite, header))
    assert results[0] == results[1]


@SETTINGS
@given(
    doc=st.one_of(
        st.fixed_dictionaries(
            {
                "fields": st.lists(paths, max_size=4),
                "hash": st.text(max_size=3),
                "rsv": st.text(max_size=3),
                "signatory": st.text(max_size=3),
            },
            optional={
                "rewrites": st.one_of(
                    st.none(),
                    json_values,
                    st.lists(
                        st.fixed_dictionaries(
                            {
                                "rewrittenFields": json_values,
                                "hash": leaves,
                                "rsv": leaves,
                                "signatory": leaves,
                            }
                        ),
                        max_size=2,
                    ),
                )
            },
        ),
        json_values,
    ),
    values=json_values,
    compact=st.booleans(),
)
def test_deserialize_and_verify_agree_on_any_document(doc: Any, values: Any, compact: bool) -> None:
    raw = json.dumps(doc, separators=(",", ":") if compact else None).encode()
    header = base64.b64encode(brotli.compress(raw, quality=4)).decode()
    results = [
        outcome(lambda h, m=m: m.Notary.deserialize(h).verify({"body": values}), header)
        for m in (ref, cy)
    ]
    assert results[0] == results[1]


@SETTINGS
@given(blob=st.binary(max_size=64), cut=st.integers(0, 40))
def test_garbage_headers_agree(blob: bytes, cut: int) -> None:
    good = ref.sign({"body": {"a": "b"}}, KEY).serialize()
    for header in (base64.b64encode(blob).decode(), good[:cut], good[cut:], blob.decode("latin-1")):
        assert outcome(ref.Notary.deserialize, header) == outcome(cy.Notary.deserialize, header)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"fields":["$[\'a\']"],"hash":"0x","rsv":"0x","signatory":"0x","fields":[1]}',
        b'{"fields":["$[\'a\']"],"hash":"0x","rsv":"0x","signatory":"0x","fields":["$"]}',
        b'{"fields":["],\\"hash\\":\\""],"hash":"0x","rsv":"0x","signatory":"0x"}',
        b'{"fields":["$"],"hash":"0x","rsv":"0x","signatory":"0x"} trailing',
        b'{"fields":["$"],"hash":"0x","rsv":"0x","signatory":"0x","rewrites":[{}]}',
        b'{"fields":[1],"hash":"0x","rsv":"0x","signatory":"0x"}',
        b'{"fields":["$"],"hash":"0x"',
    ],
)
def test_split_fields_fast_path_agrees(raw: bytes) -> None:
    header = base64.b64encode(brotli.compress(raw, quality=4)).decode()
    for _ in range(2):  # second time from the fields cache
        a = outcome(ref.Notary.deserialize, header)
        assert a == outcome(cy.Notary.deserialize, header)


_NAMES = [*ref.REQUEST_HEADERS, *ref.RESPONSE_HEADERS]
header_names = st.one_of(
    st.sampled_from(_NAMES),
    st.sampled_from(_NAMES).map(str.upper),
    st.sampled_from(_NAMES).map(str.title),
    st.sampled_from(["content-type", "x-request-id", "Authorization", "LINK"]),
)


@SETTINGS
@given(headers=st.lists(st.tuples(header_names, st.text(max_size=4)), max_size=8))
def test_signed_headers_agree(headers: list[tuple[str, str]]) -> None:
    """Both twins pick the signed headers by any case, the last one counting (whether or not
    the headers are only signed ones in lower case, the fast path)."""
    mapping = dict(headers)
    expected: dict[str, str] = {}
    for name, value in mapping.items():
        expected[name.lower()] = value
    for names, build in ((ref.REQUEST_HEADERS, "request_values"), (ref.RESPONSE_HEADERS, None)):
        want = {n: expected[n] for n in names if n in expected}
        for m in (ref, cy):
            got = (
                m.request_values(mapping, None, None) if build else m.response_values(mapping, None)
            )
            assert got["headers"] == want
            assert list(got["headers"]) == list(want)  # in the signed order
