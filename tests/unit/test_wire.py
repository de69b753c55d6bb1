"""Per-hop wire assembly: the compiled twin agrees with the pure one (differential tests)."""

from __future__ import annotations

import os
from types import ModuleType

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ocn_core import _wire_ref, wire
from ocn_core.errors import BadResponse
from ocn_core.model import PartyRef, RouteRequest, RouteResponse
from ocn_core.transport import HttpResult

try:
    from ocn_core import _wire_cy

    COMPILED: ModuleType | None = _wire_cy
except ImportError:  # pure build
    COMPILED = None

needs_cy = pytest.mark.skipif(COMPILED is None, reason="compiled twin not built")
WS = st.sampled_from(["", " ", "\n", "\t", "\r\n  ", "\x0b", "\x0c"])
NUMBERS = st.sampled_from(["0", "-0", "1000", "-5", "007", "123456789", "1234567890", "-", "1e3",
                           "2001", '"1000"', "99999999999999999999"])  # fmt: skip
DATA = st.sampled_from(["null", "[1,2]", '{"status_code":7}', '"x"'])
TEXT = st.text(alphabet=st.sampled_from('ab",\\}{:\n x'), max_size=12)


@st.composite
def envelopes(draw: st.DrawFn) -> bytes:
    """Envelope-like bytes near both fast-path layouts, valid or broken."""

    def w() -> str:
        return draw(WS)

    status = f'"status_code"{w()}:{w()}{draw(NUMBERS)}{w()}'
    message = f',{w()}"status_message"{w()}:{w()}"{draw(TEXT)}"{w()}'
    stamp = f',{w()}"timestamp"{w()}:{w()}"{draw(TEXT)}"{w()}'
    data = f'"data"{w()}:{w()}{draw(DATA)}'
    tail = (message if draw(st.booleans()) else "") + (stamp if draw(st.booleans()) else "")
    if draw(st.booleans()):
        text = f"{w()}{{{w()}{status}{tail},{w()}{data}{w()}}}{w()}"
    else:
        text = f"{w()}{{{w()}{data}{w()},{w()}{status}{tail}}}{w()}"
    raw = text.encode()
    cut = draw(st.integers(0, 3))
    if cut == 1:  # truncated
        raw = raw[: draw(st.integers(0, len(raw)))]
    elif cut == 2:  # a long data member pushing the status far from the end or start
        raw = raw.replace(b'"data"', b'"pad":"' + b"x" * draw(st.integers(400, 600)) + b'","data"')
    return raw


def _outcome(module: ModuleType, body: bytes) -> object:
    try:
        return module.envelope_status(body)
    except BadResponse as exc:
        return ("bad", exc.message)


@needs_cy
@settings(max_examples=3000, deadline=None)
@given(body=st.one_of(envelopes(), st.binary(max_size=40)))
def test_envelope_status_twins_agree(body: bytes) -> None:
    assert _outcome(COMPILED, body) == _outcome(_wire_ref, body)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "body",
    [
        {"status_code": 1000, "status_message": "OK", "data": [1], "timestamp": "t"},
        {"data": {"id": "x"}, "status_code": 2001, "status_message": 'a "b" \\', "timestamp": "t"},
        {"data": None, "status_code": 18446744073709551615, "timestamp": "t"},
    ],
)
def test_envelope_status_reads_both_layouts(body: dict[str, object]) -> None:
    raw = orjson.dumps(body)
    assert wire.envelope_status(raw) == body["status_code"]


@needs_cy
@settings(max_examples=500, deadline=None)
@given(raw=st.binary(min_size=16, max_size=16))
def test_request_id_twins_agree(raw: bytes) -> None:
    made = COMPILED.request_id_of(raw)  # type: ignore[union-attr]
    assert made == _wire_ref.request_id_of(raw)
    assert (made[14], made[19] in "89ab", len(made)) == ("4", True, 36)


@needs_cy
@settings(max_examples=500, deadline=None)
@given(base=st.text(st.sampled_from("h:/é\u20ac\U0001f600a"), max_size=8),
       suffix=st.text(st.sampled_from("/xé\u20ac"), max_size=5),
       query=st.text(st.sampled_from("a=b&\u0101"), max_size=5))  # fmt: skip
def test_target_url_twins_agree(base: str, suffix: str, query: str) -> None:
    made = COMPILED.target_url(base, suffix, query)  # type: ignore[union-attr]
    assert made == _wire_ref.target_url(base, suffix, query)
    assert _wire_ref.target_url("http://p/loc/", "//L1", "q=1") == "http://p/loc/L1?q=1"
    assert _wire_ref.target_url("http://p/loc/", "", "") == "http://p/loc/"


def test_request_ids_are_fresh_uuid4() -> None:
    import uuid

    ids = {wire.request_id() for _ in range(1000)}  # several pool blocks
    assert len(ids) == 1000
    assert all(uuid.UUID(i).version == 4 for i in ids)


def test_a_forked_child_draws_other_request_ids() -> None:
    wire.request_id()  # the parent's pool block is filled
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report its next id and leave at once
        os.write(write, wire.request_id().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.waitpid(pid, 0)
    os.close(read)
    assert child != wire.request_id()
    assert len(child) == 36


class _Request(RouteRequest):
    __slots__ = ()


class _Party(PartyRef):
    __slots__ = ()


class _Result(HttpResult):
    __slots__ = ()


PARTY = st.builds(PartyRef, st.text(max_size=3), st.text(max_size=4))
# (U+212A, the Kelvin sign, lower-cases to "k": "Lin\u212a" is passed on as "link" is)
HEADERS = st.lists(st.tuples(st.sampled_from(["Link", "LOCATION", "X-Total-Count", "x-limit",
                                              "Server", "Content-Length", "linK", "Kink", "Date",
                                              "Lin\u212a", "\u0130ink", "X-LIMIT"]),
                             st.text(max_size=8)), max_size=6)  # fmt: skip


@needs_cy
@settings(max_examples=500, deadline=None)
@given(frm=PARTY, to=PARTY, corr=st.text(max_size=8), rid=st.text(max_size=8),
       ctype=st.text(max_size=8), auth=st.text(max_size=8), body=st.binary(max_size=4),
       sig=st.text(max_size=4), received=HEADERS, status=st.integers(100, 599),
       ocpi_status=st.sampled_from([None, 1000, 2001]), call_id=st.integers(0, 9),
       answer=st.sampled_from([b"", b'{"status_code": 1000}', b'{"status_code": 3001}']),
       odd=st.sampled_from(["", "request", "party", "result"]))  # fmt: skip
def test_header_twins_agree(frm: PartyRef, to: PartyRef, corr: str, rid: str, ctype: str,
                            auth: str, body: bytes, sig: str, received: list[tuple[str, str]],
                            status: int, ocpi_status: int | None, call_id: int, answer: bytes,
                            odd: str) -> None:  # fmt: skip
    """Both twins build the same outbound headers and the same relayed answer, for a plain
    RouteRequest / HttpResult (read slot by slot) and for a subclass or a duck-typed party
    (the compiled twin hands those to the reference)."""
    req = RouteRequest(request_id=rid, correlation_id=corr, from_party=frm, to_party=to,
                       content_type=ctype, call_id=call_id)  # fmt: skip
    result = HttpResult(status, received, answer)
    if odd == "request":
        req = _Request(**{f: getattr(req, f) for f in req.__slots__})
    elif odd == "party":
        req.to_party = _Party(to.country_code, to.party_id)
    elif odd == "result":
        result = _Result(status, received, answer)
    cy: ModuleType = COMPILED  # type: ignore[assignment]
    assert cy.outbound_headers(req, auth, body, sig, "id") == _wire_ref.outbound_headers(
        req, auth, body, sig, "id"
    )

    def relayed(module: ModuleType) -> object:
        try:
            return module.relay_response(req, result, ocpi_status)
        except BadResponse as exc:  # (a body without an envelope, when its status is read)
            return exc.message

    assert relayed(cy) == relayed(_wire_ref)
    assert type(relayed(cy)) in (RouteResponse, str)
    for name in ("link", "location", "kink", "x-limit"):
        for shape in (received, tuple(received), [list(pair) for pair in received]):
            assert cy.header_index(shape, name) == _wire_ref.header_index(shape, name)


@needs_cy
@settings(max_examples=500, deadline=None)
@given(method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]),
       target=st.text(st.characters(max_codepoint=255), max_size=12), body=st.binary(max_size=6),
       headers=st.lists(st.tuples(st.text(max_size=6), st.text(max_size=6)), max_size=4))  # fmt: skip
def test_request_bytes_twins_agree(method: str, target: str, body: bytes,
                                   headers: list[tuple[str, str]]) -> None:  # fmt: skip
    def made(module: ModuleType) -> object:
        try:
            return module.request_bytes(method, target, "h:1", headers, body)
        except UnicodeEncodeError:
            return "not latin-1"
        except ValueError as exc:  # a CR or LF that would split the request
            return str(exc)

    assert made(COMPILED) == made(_wire_ref)  # type: ignore[arg-type]


@pytest.mark.parametrize("twin", [_wire_ref] + ([COMPILED] if COMPILED is not None else []))
def test_request_bytes_refuses_what_would_split_the_request(twin: ModuleType) -> None:
    for target, host, headers in [
        ("/a\r\nX-Evil: 1", "h", []),
        ("/a", "h\n", []),
        ("/a", "h", [("A", "b"), ("X-Request-ID", "id\nX-Evil: 1")]),
        ("/\u20ac", "h", [("A", "\r")]),  # CR or LF first, as the client reports it
        ("/a", "h", [("A", "\u20ac"), ("B", "x\r\ny")]),
    ]:
        with pytest.raises(ValueError, match=_wire_ref.SPLITS_REQUEST) as refused:
            twin.request_bytes("GET", target, host, headers, b"")
        assert not isinstance(refused.value, UnicodeEncodeError), (target, host, headers)
    with pytest.raises(UnicodeEncodeError):
        twin.request_bytes("GET", "/a", "h", [("A", "\u20ac")], b"")


def test_request_bytes_layout() -> None:
    raw = wire.request_bytes("POST", "/ocpi/x?y=1", "h:1", [("A", "b")], b"{}")
    assert raw == b"POST /ocpi/x?y=1 HTTP/1.1\r\nHost: h:1\r\nA: b\r\nContent-Length: 2\r\n\r\n{}"
    assert wire.request_bytes("PUT", "/", "h", [], b"").endswith(b"Content-Length: 0\r\n\r\n")
    assert b"Content-Length" not in wire.request_bytes("GET", "/", "h", [], b"")


@needs_cy
@settings(max_examples=200, deadline=None)
@given(status=st.sampled_from(["HTTP/1.1 200 OK\r\n", "HTTP/1.1 599 Unknown\r\n"]),
       keep_alive=st.booleans(), body=st.binary(max_size=6),
       headers=st.lists(st.tuples(st.text(max_size=6), st.text(max_size=6)), max_size=4))  # fmt: skip
def test_response_bytes_twins_agree(status: str, keep_alive: bool, body: bytes,
                                    headers: list[tuple[str, str]]) -> None:  # fmt: skip
    def made(module: ModuleType) -> object:
        try:
            return module.response_bytes(status, headers, body, keep_alive)
        except UnicodeEncodeError:
            return "not latin-1"

    assert made(COMPILED) == made(_wire_ref)  # type: ignore[arg-type]


def test_response_bytes_layout() -> None:
    raw = wire.response_bytes("HTTP/1.1 200 OK\r\n", [("A", "b")], b"{}", True)
    assert raw == b"HTTP/1.1 200 OK\r\nA: b\r\nContent-Length: 2\r\n\r\n{}"
    closing = wire.response_bytes("HTTP/1.1 503 Service Unavailable\r\n", [], b"", False)
    assert closing.endswith(b"Content-Length: 0\r\nConnection: close\r\n\r\n")


def test_the_facade_loads_the_twin_the_switch_asks_for() -> None:
    from ocn_core import implementation_report

    expected = "ref" if os.environ.get("OCN_CORE_NO_EXTENSIONS") or COMPILED is None else "cy"
    assert implementation_report()["wire"] == expected
