"""The route table is the one source: matchers (both twins), method checks and version details."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType
from urllib.parse import urlsplit

import pytest

from ocn_core import RouteKind
from ocn_core.routing import table
from ocn_core.routing.table import (
    SHAPES,
    TABLE,
    VERSIONS,
    ModuleRoute,
    VersionRoutes,
    module_route,
    version_endpoints,
)
from tests.unit.test_routing_match import IMPLS

ROLE_OF = {1: "SENDER", 2: "RECEIVER"}


@pytest.fixture(params=IMPLS, ids=lambda m: m.__name__.rsplit("_", 1)[-1])
def impl(request: pytest.FixtureRequest) -> ModuleType:
    return request.param  # type: ignore[no-any-return]


@pytest.mark.parametrize("version", VERSIONS)
def test_every_advertised_endpoint_is_matched_to_its_row(impl: ModuleType, version: str) -> None:
    for endpoint in version_endpoints("http://node", version):
        path = urlsplit(endpoint["url"]).path
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            found = impl.match(method, path)
            assert found is not None, path
            kind, module, interface, matched_version = found[:4]
            assert (module, matched_version) == (endpoint["identifier"], version)
            if kind == RouteKind.MODULE:
                assert ROLE_OF[interface] == endpoint["role"]
                row = module_route(module, ROLE_OF[interface], version)
                assert row is not None


@pytest.mark.parametrize("version", VERSIONS)
def test_version_details_list_exactly_the_rows(version: str) -> None:
    routes = {v.version: v for v in TABLE}[version]
    advertised = {(e["identifier"], e["role"]) for e in version_endpoints("http://n", version)}
    rows = {(r.module, r.interface) for r in routes.modules}
    rows |= {(e.identifier, e.role) for e in routes.node}
    assert advertised == rows


@pytest.fixture
def extra_version() -> Iterator[str]:
    """A version with one module of its own, added the way a new OCPI version would be."""
    rows = (
        ModuleRoute("locations", "SENDER", frozenset({"GET"}), paged=True),
        ModuleRoute("bookings", "RECEIVER", frozenset({"POST"}), proxied_item=True),
    )
    routes = VersionRoutes("9.9", TABLE[0].node, rows)
    SHAPES["9.9"] = table._shapes(routes)  # the dict both compiled and pure twins read
    try:
        yield "9.9"
    finally:
        del SHAPES["9.9"]


def test_a_new_version_row_drives_both_matchers(impl: ModuleType, extra_version: str) -> None:
    v = extra_version
    assert impl.match("POST", f"/ocpi/receiver/{v}/bookings/B1") == (
        RouteKind.MODULE, "bookings", 2, v, "B1", ""
    )  # fmt: skip
    assert impl.match("GET", f"/ocpi/receiver/{v}/bookings/B1")[0] == RouteKind.PROXIED
    assert impl.match("GET", f"/ocpi/sender/{v}/locations/page/7")[0] == RouteKind.PAGE
    assert impl.match("GET", f"/ocpi/{v}/credentials")[0] == RouteKind.CREDENTIALS
    assert impl.match("GET", f"/ocpi/sender/{v}/commands") is None  # not a row of 9.9
    assert impl.match("GET", "/ocpi/sender/2.2.1/bookings") is None  # not a row of 2.2.1


def test_method_check_reads_the_row() -> None:
    row = module_route("cdrs", "RECEIVER", "2.2.1")
    assert row is not None
    assert row.methods == {"POST", "GET"}
    assert module_route("cdrs", "RECEIVER") == row  # default: the newest version
    assert module_route("cdrs", "RECEIVER", "1.0") is None
