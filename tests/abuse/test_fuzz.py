"""Property-based fuzzing of the real server: OCPI headers, paths, queries, bodies, signatures.

One hub (a node and three real party servers) runs in a background thread; hypothesis drives raw
HTTP requests at it. Properties: the node always answers with an OCPI envelope and never a 500;
whatever reaches a party is clean (no dot segment, no encoded separator or control, no control
in a header, a JSON body on a JSON module).
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.support.hub import CPO, MSP, Hub, three_platform_hub
from tests.support.parties import Received
from tests.support.rawhttp import parse_answers, request

FUZZ = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    ready: list[Hub] = []
    started, stop = threading.Event(), threading.Event()

    async def serve(tmp: Path) -> None:
        async with three_platform_hub(tmp) as h:
            ready.append(h)
            started.set()
            await asyncio.to_thread(stop.wait)

    thread = threading.Thread(target=asyncio.run, args=(serve(tmp_path_factory.mktemp("fuzz")),))
    thread.start()
    assert started.wait(30), "hub did not start"
    yield ready[0]
    stop.set()
    thread.join(30)


def _send(hub: Hub, payload: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    with socket.create_connection(("127.0.0.1", hub.node.settings.port), timeout=10) as sock:
        sock.sendall(payload)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return [(a.status, a.headers, a.body) for a in parse_answers(data)]


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _clean(got: Received) -> None:
    """What a party may ever receive from the node (judged on the raw request target)."""
    path, _, query = got.raw_path.partition("?")
    segments = path.split("/")
    assert ".." not in segments
    assert "." not in segments
    for segment in segments:
        assert unquote(segment) not in (".", "..")
        assert "/" not in unquote(segment)
        assert "\\" not in unquote(segment)
    assert not _CONTROL.search(unquote(path) + unquote(query))
    for name, value in got.headers.items():
        assert not _CONTROL.search(name + value), (name, value)
    if got.body and not got.path.startswith("/custom/"):
        json.loads(got.body)


def _check(hub: Hub, payload: bytes) -> None:
    before = {id(p): len(p.received) for p in (hub.cpo, hub.msp, hub.duo)}
    answers = _send(hub, payload)
    assert answers, payload[:200]
    for status, headers, body in answers:
        assert status != 500, (payload[:300], body[:300])
        event(f"HTTP {status}")
        assert "status_code" in json.loads(body) or headers.get("content-type") == "text/plain"
    for party in (hub.cpo, hub.msp, hub.duo):
        for got in party.received[before[id(party)] :]:
            _clean(got)


SEGMENTS = st.one_of(
    st.sampled_from([".", "..", "%2e", "%2E%2e", ".%2e", "..%2f", "%2F", "%5c", "%5C..", "%00",
                     "%0d%0a", "%7f", "a.b", "L.1", "%41", "%", "%zz", "CH", "CPO", "L1"]),
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E,
                          exclude_characters="/?#%\\"), min_size=1, max_size=8),
)  # fmt: skip
QUERY = st.lists(
    st.sampled_from([*"abc=&.-_:", "%0a", "%00", "%2f", "%2e%2e", "%41", "%7F", "%"]), max_size=12
).map("".join)
HEADER_TEXT = st.text(st.characters(max_codepoint=255, exclude_characters="\r\n"), max_size=24)


@FUZZ
@given(
    method=st.sampled_from(["GET", "PUT", "POST", "PATCH", "DELETE"]),
    module=st.sampled_from(["locations", "sessions", "tariffs", "tokens", "cdrs", "commands"]),
    segments=st.lists(SEGMENTS, max_size=5),
    query=QUERY,
    body=st.one_of(
        st.just(b""),
        st.binary(max_size=64),
        st.builds(
            lambda v: json.dumps(v).encode(),
            st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
        ),
    ),
)
def test_paths_queries_and_bodies(
    hub: Hub, method: str, module: str, segments: list[str], query: str, body: bytes
) -> None:
    target = f"/ocpi/receiver/2.2.1/{module}/" + "/".join(segments) + (f"?{query}" if query else "")
    headers = hub.cpo.routing_headers(to=MSP)
    if body:
        headers["Content-Type"] = "application/json"
    _check(hub, request(method, target, headers, body))


@FUZZ
@given(
    which=st.sampled_from(
        [
            "X-Request-ID",
            "X-Correlation-ID",
            "OCPI-from-country-code",
            "OCPI-from-party-id",
            "OCPI-to-country-code",
            "OCPI-to-party-id",
            "Authorization",
            "OCN-Signature",
            "Content-Type",
        ]
    ),
    value=HEADER_TEXT,
    signature=st.one_of(st.none(), HEADER_TEXT, st.text("abcXYZ0129-_.", max_size=200)),
)
def test_headers_and_signatures(hub: Hub, which: str, value: str, signature: str | None) -> None:
    headers = hub.msp.routing_headers(to=CPO)
    headers[which] = value
    if signature is not None:
        headers["OCN-Signature"] = signature
    body = b'{"id": "L1"}'
    headers.setdefault("Content-Type", "application/json")
    _check(hub, request("PUT", "/ocpi/receiver/2.2/locations/DE/MSP/L1", headers, body))
