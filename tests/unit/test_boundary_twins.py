"""The compiled and the reference boundary twins agree (differential, hypothesis): the screen of
a request and the HTTP edge's RouteRequest."""

from __future__ import annotations

import dataclasses
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ocn_core import _boundary_ref
from ocn_core._boundary_ref import CLEAR, REFUSED, SAFE
from ocn_core.model import PartyRef, RouteRequest
from tests.support.requests import SAMPLE
from tests.support.twins import twins

IMPLS = twins(_boundary_ref, "ocn_core._boundary_cy")
TEXT = st.text(st.characters(max_codepoint=0x2FF), max_size=12)
VALID = dataclasses.replace(  # a GET with nothing more to look at (CLEAR)
    SAMPLE, method="GET", path_suffix="L1", query="", body=b"", proxy_id="", ocn_signature=""
)
TEXT_FIELDS = ("path_suffix", "query", "module", "ocpi_version", "proxy_id", "authorization",
               "request_id", "correlation_id", "from.country_code", "from.party_id",
               "to.country_code", "to.party_id", "ocn_signature", "content_type", "method")  # fmt: skip


class _Request(RouteRequest):
    __slots__ = ()


class _Party(PartyRef):
    __slots__ = ()


def _with(**changes: Any) -> RouteRequest:
    """VALID with fields changed; ``from.x`` / ``to.x`` change a party's field."""
    req = dataclasses.replace(
        VALID, from_party=PartyRef("DE", "MSP"), to_party=PartyRef("CH", "CPO")
    )
    for name, value in changes.items():
        owner, _, field = name.rpartition(".")
        target = getattr(req, f"{owner}_party") if owner else req
        object.__setattr__(target, field, value)
    return req


@pytest.mark.parametrize("impl", IMPLS)
def test_known_cases(impl: ModuleType) -> None:
    assert impl.screen(VALID) == CLEAR
    for bad in (
        {"path_suffix": "a b"}, {"query": "a\\b"}, {"correlation_id": "c\r\nX: 1"},
        {"authorization": "Token \x00"}, {"to.party_id": "CP\x7f"}, {"module": "loc\u00e9"},
        {"method": "get"}, {"kind": 5}, {"interface_role": 1}, {"ocn_signature": "\t"},
    ):  # fmt: skip
        assert impl.screen(_with(**bad)) == REFUSED, bad
    assert impl.screen(_with(authorization="Token a b ~!", content_type="text/plain; q=1")) == CLEAR
    for more in ({"path_suffix": "a/../b"}, {"path_suffix": "a%2fb"}, {"query": "a=%41"},
                 {"body": b"{}"}):  # fmt: skip
        assert impl.screen(_with(**more)) == SAFE, more
    with pytest.raises(TypeError):
        impl.screen(_with(query=None))


@settings(max_examples=400, deadline=None)
@given(field=st.sampled_from(TEXT_FIELDS), value=TEXT, body=st.sampled_from([b"", b"{}"]),
       shape=st.sampled_from(["plain", "subclass", "party subclass"]))  # fmt: skip
def test_screens_agree(field: str, value: str, body: bytes, shape: str) -> None:
    req = _with(**{field: value, "body": body})
    if shape == "subclass":
        req = _Request(**{f: getattr(req, f) for f in req.__slots__})
    elif shape == "party subclass":
        req.from_party = _Party(req.from_party.country_code, req.from_party.party_id)
    answers = {impl.id: impl.values[0].screen(req) for impl in IMPLS}
    assert len(set(answers.values())) == 1, (req, answers)


HEADER_NAMES = ("authorization", "x-request-id", "x-correlation-id", "ocpi-from-country-code",
                "ocpi-from-party-id", "ocpi-to-country-code", "ocpi-to-party-id",
                "ocn-signature", "content-type", "x-other")  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(headers=st.dictionaries(st.sampled_from(HEADER_NAMES), TEXT, max_size=10),
       kind=st.sampled_from([5, 6, 7, 8]), role=st.sampled_from([0, 1, 2]),
       parts=st.tuples(TEXT, TEXT, TEXT, TEXT), method=st.sampled_from(["GET", "POST"]),
       query=TEXT, body=st.binary(max_size=4))  # fmt: skip
def test_http_requests_agree(headers: dict[str, str], kind: int, role: int,
                             parts: tuple[str, str, str, str], method: str, query: str,
                             body: bytes) -> None:  # fmt: skip
    """The compiled builder writes every field into its own slot: a request built from the same
    URL match and headers equals the reference's, field by field."""
    module, version, suffix, proxy_id = parts
    found = (kind, module, role, version, suffix, proxy_id)
    built = [impl.values[0].request_from_http(found, method, query, headers, body)
             for impl in IMPLS]  # fmt: skip
    for req in built:
        assert type(req) is RouteRequest
        assert type(req.from_party) is PartyRef
        assert req == built[0]
    assert built[0].has_from == ("ocpi-from-country-code" in headers
                                 and "ocpi-from-party-id" in headers)  # fmt: skip
