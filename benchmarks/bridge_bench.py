"""Version bridging cost: the same routed message between same-version and mixed-version parties.

In process, ``engine.route`` with the outbound hop stubbed (no sockets), for three messages:
a Tariff PUT (request translated 2.3.0 → 2.2.1), a CDR POST (request translated 2.2.1 → 2.3.0)
and a Tariff GET (answer translated 2.3.0 → 2.2.1). Each runs twice in the same process, same
run, interleaved: to a receiver on the sender's version (the unbridged baseline) and to one on
the other version (bridged). Target: bridging adds ≤ 30 µs per message at p50.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from benchmarks import stats
from benchmarks.engine_bench import _timed
from benchmarks.progress import Progress
from ocn_core import open_node
from ocn_core.config import Settings
from ocn_core.engine import Engine
from ocn_core.logconfig import configure_logging
from ocn_core.model import InterfaceRole, PartyRef, RouteKind, RouteRequest
from ocn_core.state import Platform, RoleRecord
from ocn_core.state.records import EndpointRecord
from ocn_core.transport import HttpResult

TARGET_ADDED_US = 30.0
# (name, version) of the four platforms: the senders and, per version, a receiver
PLATFORMS = {
    "cpo23": ("CPO", "NL", "C23", "2.3.0"),
    "cpo21": ("CPO", "BE", "C21", "2.2.1"),
    "msp23": ("EMSP", "FR", "M23", "2.3.0"),
    "msp21": ("EMSP", "DE", "M21", "2.2.1"),
}
TARIFF_23 = {  # the spec's tariff_6_025kwh_start_max_price (2.3.0), a typical priced tariff
    "country_code": "NL",
    "party_id": "C23",
    "id": "16",
    "currency": "EUR",
    "max_price": {"before_taxes": 10.00, "after_taxes": 11.00},
    "elements": [
        {
            "price_components": [
                {"type": "FLAT", "price": 0.50, "vat": 20.0, "step_size": 1},
                {"type": "ENERGY", "price": 0.25, "vat": 10.0, "step_size": 1},
            ]
        }
    ],
    "tax_included": "NO",
    "end_date_time": "2019-06-30T23:59:59Z",
    "last_updated": "2018-12-17T17:15:01Z",
}
CDR_21 = {  # the spec's cdr_example (2.2.1), with its embedded tariff
    "country_code": "BE",
    "party_id": "C21",
    "id": "12345",
    "start_date_time": "2024-12-05T17:39:09Z",
    "end_date_time": "2024-12-05T19:37:32Z",
    "cdr_token": {"country_code": "DE", "party_id": "M21", "uid": "012345678", "type": "RFID",
                  "contract_id": "DE8ACC12E46L89"},
    "auth_method": "WHITELIST",
    "cdr_location": {"id": "LOC1", "name": "Gent Zuid", "address": "F.Rooseveltlaan 3A",
                     "city": "Gent", "postal_code": "9000", "country": "BEL",
                     "coordinates": {"latitude": "3.729944", "longitude": "51.047599"},
                     "evse_uid": "3256", "evse_id": "BE*BEC*E041503003", "connector_id": "1",
                     "connector_standard": "IEC_62196_T2", "connector_format": "SOCKET",
                     "connector_power_type": "AC_1_PHASE"},
    "currency": "EUR",
    "tariffs": [{"country_code": "BE", "party_id": "C21", "id": "12", "currency": "EUR",
                 "elements": [{"price_components": [{"type": "TIME", "price": 2.00, "vat": 10.0,
                                                     "step_size": 300}]}],
                 "last_updated": "2024-05-02T14:15:01Z"}],
    "charging_periods": [{"start_date_time": "2024-12-05T17:39:09Z",
                          "dimensions": [{"type": "TIME", "volume": 1.973}], "tariff_id": "12"}],
    "total_cost": {"excl_vat": 4.00, "incl_vat": 4.40},
    "total_energy": 15.342,
    "total_time": 1.973,
    "total_time_cost": {"excl_vat": 4.00, "incl_vat": 4.40},
    "last_updated": "2024-12-05T20:02:13Z",
}  # fmt: skip
ACK = b'{"status_code":1000,"timestamp":"2026-01-01T00:00:00Z"}'
TARIFF_ANSWER = orjson.dumps(
    {"data": TARIFF_23, "status_code": 1000, "timestamp": "2026-01-01T00:00:00Z"}
)


class StubTransport:
    """Answers GETs with one Tariff and everything else with a bare 1000, immediately."""

    async def request(self, method: str, url: str, headers: list[tuple[str, str]],
                      body: bytes = b"", timeout: float | None = None,
                      retry_safe: bool = False) -> HttpResult:  # fmt: skip
        answer = TARIFF_ANSWER if method == "GET" else ACK
        return HttpResult(200, [("Content-Type", "application/json")], answer)

    async def close(self) -> None:
        return None


def _connect(engine: Engine) -> dict[str, str]:
    """The four platforms stored directly (as after a handshake); returns name -> token C."""
    tokens = {}
    now = time.time()
    for name, (role, cc, pid, version) in PLATFORMS.items():
        endpoints = [
            EndpointRecord(module, interface, f"http://{name}.invalid/{version}/{module}")
            for module in ("tariffs", "cdrs")
            for interface in ("SENDER", "RECEIVER")
        ]
        roles = [RoleRecord(role, cc, pid)]
        versions_url = f"http://{name}.invalid/versions"
        platform = Platform(
            name, "CONNECTED", version, versions_url, "b-" + name, True, roles, endpoints, now, now
        )
        tokens[name] = "c-" + name
        engine.ctx.platforms.register(None, platform, tokens[name])
    return tokens


def _request(tokens: dict[str, str], sender: str, receiver: str, message: str) -> RouteRequest:
    frm, to = PLATFORMS[sender], PLATFORMS[receiver]
    if message == "tariff-put":
        module, interface, method = "tariffs", InterfaceRole.RECEIVER, "PUT"
        suffix, body = "NL/C23/16", orjson.dumps(TARIFF_23)
    elif message == "cdr-post":
        module, interface, method, suffix, body = (
            "cdrs",
            InterfaceRole.RECEIVER,
            "POST",
            "",
            orjson.dumps(CDR_21),
        )
    else:  # tariff-get: the receiver (a CPO) answers with one Tariff
        module, interface, method, suffix, body = "tariffs", InterfaceRole.SENDER, "GET", "16", b""
    return RouteRequest(
        kind=RouteKind.MODULE, module=module, interface_role=interface, method=method,
        ocpi_version=frm[3], path_suffix=suffix, authorization=f"Token {tokens[sender]}",
        request_id="r", correlation_id="c", from_party=PartyRef(frm[1], frm[2]),
        to_party=PartyRef(to[1], to[2]), has_from=True, has_to=True, body=body,
        content_type="application/json",
    )  # fmt: skip


# message -> (sender, same-version receiver, other-version receiver)
CASES = {
    "tariff-put": ("cpo23", "msp23", "msp21"),
    "cdr-post": ("cpo21", "msp21", "msp23"),
    "tariff-get": ("msp21", "cpo21", "cpo23"),
}


async def _measure(quick: bool, bar: Progress) -> dict[str, Any]:
    repeats, seconds = (1, 0.2) if quick else (5, 1.0)
    with tempfile.TemporaryDirectory(prefix="ocn-bench-bridge-") as tmp:
        settings = Settings.from_env({}, data_dir=Path(tmp), log_level="warning")
        configure_logging(settings.log_format, settings.log_level)  # as the node runs
        engine = open_node(settings)
        real, engine.ctx.transport = engine.ctx.transport, StubTransport()
        try:
            tokens = _connect(engine)
            raw: dict[str, list[dict[str, Any]]] = {}
            bar.total(repeats * len(CASES) * 2)
            for _ in range(repeats):  # interleaved: unbridged then bridged, per message
                for message, (sender, same, other) in CASES.items():
                    for kind, receiver in (("same", same), ("bridged", other)):
                        req = _request(tokens, sender, receiver, message)
                        probe = await engine.route(req)
                        if probe.status != 200 or probe.ocpi_status != 1000:
                            raise RuntimeError(f"{message} {kind}: {probe.body[:200]!r}")

                        async def call(req: RouteRequest = req) -> object:
                            return await engine.route(req)

                        raw.setdefault(f"{message}-{kind}", []).append(await _timed(call, seconds))
                        bar.step(f"{message} {kind}")
        finally:
            engine.ctx.transport = real
            await engine.close()
            engine.ctx.store.close()
    rows, targets = [], []
    for message, (sender, same, other) in CASES.items():
        p50 = {}
        for kind, receiver in (("same", same), ("bridged", other)):
            runs = raw[f"{message}-{kind}"]
            p50[kind] = statistics.median(r["pct_us"][stats.P50] for r in runs)
            rows.append({
                "name": f"{message}-{kind}",
                "label": f"{message} {PLATFORMS[sender][3]} → {PLATFORMS[receiver][3]}",
                "p50_us": p50[kind],
                "p99_us": statistics.median(r["pct_us"][stats.P99] for r in runs),
                "p50_spread": stats.spread([r["pct_us"][stats.P50] for r in runs]),
                "n": sum(r["n"] for r in runs),
            })  # fmt: skip
        added = p50["bridged"] - p50["same"]
        targets.append({"name": f"{message}: bridging adds ≤ {TARGET_ADDED_US:.0f} µs at p50",
                        "value": round(added, 2), "limit": TARGET_ADDED_US,
                        "met": added <= TARGET_ADDED_US})  # fmt: skip
    return {"rows": rows, "targets": targets, "repeats": repeats, "seconds_per_run": seconds}


def run(quick: bool) -> dict[str, Any]:
    with Progress("version bridge") as bar:
        return asyncio.run(_measure(quick, bar))


if __name__ == "__main__":
    print(orjson.dumps(run(quick=False), option=orjson.OPT_INDENT_2).decode())
