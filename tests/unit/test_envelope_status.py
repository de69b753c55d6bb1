"""The receiver's status_code read from its envelope: fast paths agree with a full parse."""

from __future__ import annotations

import orjson
import pytest

from ocn_core.errors import BadResponse
from ocn_core.hub.forward import envelope_status
from ocn_core.wire import parse_envelope, status_of

LOCATION = {"id": "LOC1", "status_code": 3001, "nested": {"status_code": 2001}, "note": 'a"b'}


@pytest.mark.parametrize(
    "body",
    [
        {"status_code": 1000, "status_message": "OK", "data": LOCATION, "timestamp": "t"},
        {"data": LOCATION, "status_code": 1000, "status_message": "Success", "timestamp": "t"},
        {"data": LOCATION, "status_code": 2001, "timestamp": "t"},
        {"data": [LOCATION, LOCATION], "status_code": -5},
        {
            "data": LOCATION,
            "status_message": 'quoted "x", \\ and ,"status_code":7}',
            "timestamp": "t",
            "status_code": 3000,
        },
        {"data": {"status_code": 4001}, "timestamp": "t"},
        {"data": LOCATION, "status_code": "1000", "timestamp": "t"},
        {"timestamp": "t", "status_code": 2000, "status_message": "x" * 2000},
        {"data": LOCATION, "status_code": 1000, "timestamp": "t", "ocn_signature": "eyJ"},
    ],
)
def test_matches_a_full_parse(body: dict[str, object]) -> None:
    for raw in (orjson.dumps(body), orjson.dumps(body, option=orjson.OPT_INDENT_2) + b"\n"):
        parsed = orjson.loads(raw)["status_code"] if "status_code" in body else 0
        assert envelope_status(raw) == (parsed if isinstance(parsed, int) else 0)
        assert status_of(parse_envelope(raw)) == envelope_status(raw)  # (signed answers)


def test_an_escaped_quote_cannot_fake_the_trailing_status() -> None:
    # the top-level key is 'x"status_code' (0 status_code overall), not status_code
    raw = b'{"data":null,"x\\"status_code":1000,"status_message":"","timestamp":"t"}'
    assert orjson.loads(raw) == {"data": None, 'x"status_code': 1000, "status_message": "",
                                 "timestamp": "t"}  # fmt: skip
    assert envelope_status(raw) == 0


@pytest.mark.parametrize("raw", [b"<html>", b'{"data": [1, 2', b"", b"null}"])
def test_non_json_is_a_bad_response(raw: bytes) -> None:
    with pytest.raises(BadResponse):
        envelope_status(raw)
    with pytest.raises(BadResponse):
        parse_envelope(raw)
