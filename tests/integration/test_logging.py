"""One canonical JSON access line per request, with ids and parties bound from contextvars."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from pathlib import Path

import pytest
import structlog

from ocn_core.logconfig import ACCESS_FLUSH_S, configure_logging, flush_access_lines
from tests.support.hub import CPO, MSP, three_platform_hub


async def test_route_completed_carries_ids_and_parties(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("json", "info", cache=False)  # writes to the (captured) stderr of this test
    try:
        async with three_platform_hub(tmp_path) as hub:
            flush_access_lines()  # the set-up's own lines
            capsys.readouterr()
            headers = hub.msp.routing_headers(to=CPO, correlation_id="corr-log")
            await hub.call(
                hub.msp,
                "GET",
                "/ocpi/sender/2.2/locations/L1",
                to=CPO,
                extra={"X-Correlation-ID": "corr-log", "X-Request-ID": headers["X-Request-ID"]},
            )
            await asyncio.sleep(ACCESS_FLUSH_S * 2)  # access lines are flushed within this
            err = capsys.readouterr().err
    finally:
        logging.getLogger().handlers.clear()
        structlog.reset_defaults()
    lines = [json.loads(x) for x in err.splitlines() if x.startswith("{")]
    access = [x for x in lines if x["event"] == "route_completed"]
    assert len(access) == 1
    line = access[0]
    assert (line["module"], line["status"], line["ocpi_status"], line["level"]) == (
        "locations",
        200,
        1000,
        "info",
    )
    assert line["correlation_id"] == "corr-log"
    assert line["request_id"] == headers["X-Request-ID"]
    assert (line["sender"], line["receiver"]) == ("".join(MSP), "".join(CPO))
    assert "timestamp" in line


def test_the_direct_access_line_matches_the_pipeline(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The access line's direct path writes the same fields the structlog pipeline would."""
    from ocn_core.logconfig import access_line, request_context
    from ocn_core.model import PartyRef, RouteRequest

    req = RouteRequest(request_id="r-1", correlation_id="c-1", from_party=PartyRef("DE", "MSP"),
                       to_party=PartyRef("NL", "CPO"))  # fmt: skip
    fields = {"method": "GET", "module": "locations", "status": 200, "ocpi_status": 1000,
              "error": None, "duration_ms": 0.25}  # fmt: skip
    configure_logging("json", "info", cache=False)
    try:
        capsys.readouterr()
        structlog.contextvars.bind_contextvars(worker=1)
        with request_context(req):
            structlog.get_logger("ocpi_gateway.access").info("route_completed", **fields)
            assert access_line("route_completed", dict(fields))
        err = capsys.readouterr().err
        configure_logging("json", "warning", cache=False)
        assert not access_line("route_completed", dict(fields))  # info is off: the pipeline
    finally:
        structlog.contextvars.clear_contextvars()
        logging.getLogger().handlers.clear()
        structlog.reset_defaults()
    assert not access_line("route_completed", dict(fields))  # not our pipeline any more
    piped, direct = (json.loads(x) for x in err.splitlines())
    assert piped.pop("timestamp").endswith("Z")
    stamp = direct.pop("timestamp")
    assert stamp.endswith("Z")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z", stamp)
    assert piped == direct
    assert direct["worker"] == 1
    assert direct["sender"] == "DEMSP"


async def test_batched_access_lines_keep_their_place_before_other_lines(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Inside a loop access lines are batched; any other line sends them out first."""
    from ocn_core.logconfig import access_line

    configure_logging("json", "info", cache=False)
    try:
        capsys.readouterr()
        assert access_line("route_completed", {"status": 200})
        assert access_line("route_completed", {"status": 201})
        assert capsys.readouterr().err == ""  # batched: nothing written yet
        structlog.get_logger("test").warning("something_else")
        err = capsys.readouterr().err
        assert access_line("route_completed", {"status": 202})
        await asyncio.sleep(ACCESS_FLUSH_S * 3)
        late = capsys.readouterr().err
    finally:
        logging.getLogger().handlers.clear()
        structlog.reset_defaults()
    events = [(x["event"], x.get("status")) for x in map(json.loads, err.splitlines())]
    assert events == [("route_completed", 200), ("route_completed", 201), ("something_else", None)]
    assert [json.loads(x)["status"] for x in late.splitlines()] == [202]  # the timer sent it


def test_info_lines_are_skipped_only_while_our_pipeline_drops_them() -> None:
    from ocn_core.logconfig import info_lines_on

    try:
        configure_logging("json", "warning", cache=False)
        assert not info_lines_on()  # the gateway builds no access line at all
        configure_logging("json", "info", cache=False)
        assert info_lines_on()
        configure_logging("json", "warning", cache=False)
        structlog.reset_defaults()  # someone else's pipeline: its own level decides
        assert info_lines_on()
    finally:
        logging.getLogger().handlers.clear()
        structlog.reset_defaults()
