"""The OCPI traffic of every scenario: two parties, a 1.2 kB Location answer, routing headers."""

from __future__ import annotations

import base64
from typing import Any

import orjson

VERSION = "2.2.1"
CPO = ("DE", "ABC")  # the receiver: serves its Location through the node
EMSP = ("DE", "MSP")  # the sender: wrk / the gRPC client act as this party
LOCATION_ID = "LOC00001"
NODE_PATH = f"/ocpi/sender/{VERSION}/locations/{LOCATION_ID}"  # what the eMSP calls on the node
UPSTREAM_PATH = f"/ocpi/{VERSION}/sender/locations/{LOCATION_ID}"  # what the node forwards to
MODULES = ("cdrs", "chargingprofiles", "commands", "locations", "sessions", "tariffs", "tokens")
CORRELATION_ID = "0f7e8f2a-6a73-4d4b-bc6a-3a9e5f1d2c44"
REQUEST_ID = "6b1b1e6c-2a55-4f0c-9c1d-2d6f5a7c8e90"


def _connector(cid: str, fmt: str, tariff: str, updated: str) -> dict[str, Any]:
    return {
        "id": cid, "standard": "IEC_62196_T2", "format": fmt, "power_type": "AC_3_PHASE",
        "max_voltage": 230, "max_amperage": 16, "tariff_ids": [tariff], "last_updated": updated,
    }  # fmt: skip


def _evse(uid: str, n: int, status: str, fmt: str, updated: str) -> dict[str, Any]:
    return {
        "uid": uid,
        "evse_id": f"DE*ABC*E10000{n}",
        "status": status,
        "capabilities": ["RESERVABLE", "RFID_READER"],
        "connectors": [_connector("1", fmt, str(10 + n), updated)],
        "physical_reference": str(n),
        "floor_level": f"-{n}",
        "last_updated": updated,
    }


LOCATION: dict[str, Any] = {
    "country_code": CPO[0],
    "party_id": CPO[1],
    "id": LOCATION_ID,
    "publish": True,
    "name": "Parkhaus Hauptbahnhof Ebene -1",
    "address": "Bahnhofplatz 12",
    "city": "Hannover",
    "postal_code": "30159",
    "country": "DEU",
    "coordinates": {"latitude": "52.376589", "longitude": "9.741077"},
    "parking_type": "PARKING_GARAGE",
    "evses": [
        _evse("4101", 1, "AVAILABLE", "CABLE", "2026-03-16T10:10:02Z"),
        _evse("4102", 2, "CHARGING", "SOCKET", "2026-06-29T20:39:09Z"),
    ],
    "operator": {"name": "Stadtwerke Ladenetz"},
    "time_zone": "Europe/Berlin",
    "last_updated": "2026-06-29T20:39:09Z",
}


def envelope(data: Any) -> dict[str, Any]:
    return {
        "data": data, "status_code": 1000, "status_message": "Success",
        "timestamp": "2026-06-30T21:59:59Z",
    }  # fmt: skip


LOCATION_RESPONSE = orjson.dumps(envelope(LOCATION))


def versions_body(base: str) -> bytes:
    return orjson.dumps(envelope([{"version": VERSION, "url": f"{base}/ocpi/{VERSION}"}]))


def details_body(base: str) -> bytes:
    endpoints = [{"identifier": "credentials", "role": "RECEIVER",
                  "url": f"{base}/ocpi/{VERSION}/credentials"}]  # fmt: skip
    endpoints += [
        {"identifier": m, "role": r, "url": f"{base}/ocpi/{VERSION}/{r.lower()}/{m}"}
        for m in MODULES
        for r in ("SENDER", "RECEIVER")
    ]
    return orjson.dumps(envelope({"version": VERSION, "endpoints": endpoints}))


def static_routes(base: str) -> dict[str, bytes]:
    """Exact paths an upstream party serves; anything else gets the Location answer."""
    return {"/ocpi/versions": versions_body(base), f"/ocpi/{VERSION}": details_body(base)}


def token_header(token: str) -> str:
    """``Token <base64>`` as OCPI 2.2.1 sends credentials tokens."""
    return "Token " + base64.b64encode(token.encode()).decode()


def routing_headers(token_c: str) -> dict[str, str]:
    """The seven OCPI routing headers the eMSP sends to reach the CPO."""
    return {
        "Authorization": token_header(token_c),
        "X-Request-ID": REQUEST_ID,
        "X-Correlation-ID": CORRELATION_ID,
        "OCPI-from-country-code": EMSP[0],
        "OCPI-from-party-id": EMSP[1],
        "OCPI-to-country-code": CPO[0],
        "OCPI-to-party-id": CPO[1],
    }
