"""One canonical JSON access line per request, with ids and parties bound from contextvars."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import structlog

from ocn_core.logconfig import configure_logging
from tests.support.hub import CPO, MSP, three_platform_hub


async def test_route_completed_carries_ids_and_parties(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("json", "info", cache=False)  # writes to the (captured) stderr of this test
    try:
        async with three_platform_hub(tmp_path) as hub:
            capsys.readouterr()
            headers = hub.msp.routing_headers(to=CPO, correlation_id="corr-log")
            await hub.call(
                hub.msp,
                "GET",
                "/ocpi/sender/2.2/locations/L1",
                to=CPO,
                extra={"X-Correlation-ID": "corr-log", "X-Request-ID": headers["X-Request-ID"]},
            )
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
