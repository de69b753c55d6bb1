"""The compiled and the reference fast boundary check agree (differential, hypothesis)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ocn_core import _boundary_ref
from ocn_core.model import InterfaceRole, RouteKind
from tests.support.twins import twins

IMPLS = twins(_boundary_ref, "ocn_core._boundary_cy")
TEXT = st.text(st.characters(max_codepoint=0x2FF), max_size=12)
VALID = ("L1", "", "locations", "2.2.1", "", "Token abc", "r", "c", "DE", "MSP", "CH", "CPO",
         "", "application/json; charset=utf-8", "GET", RouteKind.MODULE, InterfaceRole.SENDER)  # fmt: skip


def _args(**changes: Any) -> tuple[Any, ...]:
    names = ("suffix", "query", "module", "version", "proxy_id", "auth", "request_id",
             "correlation_id", "from_cc", "from_pid", "to_cc", "to_pid", "signature",
             "content_type", "method", "kind", "role")  # fmt: skip
    values = dict(zip(names, VALID, strict=True))
    values.update(changes)
    return tuple(values.values())


@pytest.mark.parametrize("impl", IMPLS)
def test_known_cases(impl: ModuleType) -> None:
    assert impl.fields_safe(*_args())
    for bad in (
        {"suffix": "a b"}, {"query": "a\\b"}, {"correlation_id": "c\r\nX: 1"},
        {"auth": "Token \x00"}, {"to_pid": "CP\x7f"}, {"module": "loc\u00e9"},
        {"method": "get"}, {"kind": 5}, {"role": 1}, {"signature": "\t"},
    ):  # fmt: skip
        assert not impl.fields_safe(*_args(**bad)), bad
    assert impl.fields_safe(*_args(auth="Token a b ~!", content_type="text/plain; q=1"))


@settings(max_examples=300, deadline=None)
@given(field=st.sampled_from(range(14)), value=TEXT)
def test_twins_agree(field: int, value: str) -> None:
    args = list(_args())
    args[field] = value
    answers = {impl.values[0].__name__: impl.values[0].fields_safe(*args) for impl in IMPLS}
    assert len(set(answers.values())) == 1, (args, answers)
