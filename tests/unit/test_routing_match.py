"""URL matching: table cases on both implementations, and a differential test between them."""

from __future__ import annotations

from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ocn_core.routing import _match_ref
from ocn_core.routing.table import SHAPES

IMPLS: list[ModuleType] = [_match_ref]
try:
    from ocn_core.routing import _match_cy

    IMPLS.append(_match_cy)
except ImportError:  # pure build
    pass


@pytest.fixture(params=IMPLS, ids=lambda m: m.__name__.rsplit("_", 1)[-1])
def impl(request: pytest.FixtureRequest) -> ModuleType:
    return request.param  # type: ignore[no-any-return]


CASES = [
    ("GET", "/ocpi/versions", (1, "versions", 0, "", "", "")),
    ("GET", "/ocpi/2.2.1", (2, "versions", 0, "2.2.1", "", "")),
    ("POST", "/ocpi/2.2/credentials", (3, "credentials", 0, "2.2", "", "")),
    ("GET", "/ocpi/2.2.1/hubclientinfo", (4, "hubclientinfo", 1, "2.2.1", "", "")),
    ("GET", "/ocpi/sender/2.2.1/locations", (5, "locations", 1, "2.2.1", "", "")),
    ("GET", "/ocpi/receiver/2.2/ocnrules", (10, "ocnrules", 2, "2.2", "", "")),
    (
        "DELETE",
        "/ocpi/2.2.1/receiver/ocnrules/whitelist/CH/CPO",
        (10, "ocnrules", 2, "2.2.1", "whitelist/CH/CPO", ""),
    ),
    ("GET", "/ocpi/sender/2.2/ocnrules", None),
    ("GET", "/ocpi/sender/2.2.1/locations/L1/E1/C1", (5, "locations", 1, "2.2.1", "L1/E1/C1", "")),
    ("PUT", "/ocpi/receiver/2.2/tokens/DE/MSP/T1", (5, "tokens", 2, "2.2", "DE/MSP/T1", "")),
    ("GET", "/ocpi/sender/2.2.1/cdrs/page/42", (6, "cdrs", 1, "2.2.1", "", "42")),
    (
        "POST",
        "/ocpi/sender/2.2.1/commands/START_SESSION/u1",
        (7, "commands", 1, "2.2.1", "START_SESSION", "u1"),
    ),
    (
        "POST",
        "/ocpi/sender/2.2/chargingprofiles/result/u2",
        (7, "chargingprofiles", 1, "2.2", "result", "u2"),
    ),
    ("GET", "/ocpi/receiver/2.2.1/cdrs/9", (7, "cdrs", 2, "2.2.1", "", "9")),
    ("POST", "/ocpi/receiver/2.2.1/cdrs", (5, "cdrs", 2, "2.2.1", "", "")),
    ("PUT", "/ocpi/2.2/receiver/chargingprofiles/S1", (5, "chargingprofiles", 2, "2.2", "S1", "")),
    ("DELETE", "/ocpi/custom/receiver/lite-locations/a/b", (8, "lite-locations", 2, "", "a/b", "")),
    ("GET", "/ocpi/sender/2.2.1/unknown", None),
    ("GET", "/ocpi/sender/2.1.1/locations", None),
    ("GET", "/ocpi//versions", None),
    ("GET", "/ocpi", None),
    ("GET", "/other/versions", None),
]


@pytest.mark.parametrize(("method", "path", "expected"), CASES)
def test_match(impl: ModuleType, method: str, path: str, expected: object) -> None:
    assert impl.match(method, path) == expected


SEGMENTS = st.sampled_from(
    [
        "ocpi",
        "versions",
        "2.2",
        "2.2.1",
        "sender",
        "receiver",
        "custom",
        "locations",
        "cdrs",
        "commands",
        "chargingprofiles",
        "page",
        "result",
        "START_SESSION",
        "x",
        "",
        "é",
        "credentials",
        "hubclientinfo",
        "ocnrules",
        "tokens",
        "1",
    ]
)


@pytest.mark.skipif(len(IMPLS) < 2, reason="compiled twin not built")
@settings(max_examples=3000, deadline=None)
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]),
    parts=st.lists(SEGMENTS, min_size=0, max_size=7),
    trailing=st.booleans(),
)
def test_compiled_twin_agrees(method: str, parts: list[str], trailing: bool) -> None:
    path = "/" + "/".join(parts) + ("/" if trailing else "")
    assert IMPLS[1].match(method, path) == _match_ref.match(method, path)


MODULES = sorted({m for shapes in SHAPES.values() for m in shapes.modules})
TAIL = st.sampled_from(["LOC1", "", "page", "1", "x.y", "é", "START_SESSION", "DE", "CPO"])


@pytest.mark.skipif(len(IMPLS) < 2, reason="compiled twin not built")
@settings(max_examples=3000, deadline=None)
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]),
    role=st.sampled_from(["sender", "receiver", "senders", "receive"]),
    version=st.sampled_from([*SHAPES, "2.2.", "", "x"]),
    module=st.sampled_from([*MODULES, "ocnrules", "location", "", "é"]),
    tail=st.lists(TAIL, max_size=4),
    slashes=st.tuples(st.integers(0, 2), st.integers(0, 2)),
)
def test_forwarded_module_paths_agree(method: str, role: str, version: str, module: str,
                                      tail: list[str], slashes: tuple[int, int]) -> None:  # fmt: skip
    """The compiled twin's one-pass reading of /ocpi/{role}/{v}/{module}/… answers as the
    reference does, for near misses too (extra or missing slashes, empty segments, unknown
    versions and modules, page and proxied shapes)."""
    path = "/" * slashes[0] + "/".join(["ocpi", role, version, module, *tail]) + "/" * slashes[1]
    assert IMPLS[1].match(method, path) == _match_ref.match(method, path)
