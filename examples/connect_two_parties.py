"""Connect a CPO and an eMSP backend to a running ocn-node and route one request between them.

Standard library only. Run a node first (``ocn-node run``), then::

    python examples/connect_two_parties.py --node http://127.0.0.1:8080 \
        --admin-key "$(cat ocn-data/admin-api-key)"

What it does (docs/party-guide.md explains each step):

1. starts two tiny OCPI 2.2.1 backends on 127.0.0.1: CPO ``CH*CPO`` (serves one Location) and
   eMSP ``DE*MSP``;
2. as the node operator: lists both parties with the node (local registry) and issues one
   registration token (token A) for each;
3. as each party: the credentials handshake (GET versions, GET version details, POST
   credentials), after which the node has fetched the party's endpoints with the party's token B
   and the party holds its token C;
4. as the eMSP: GET the CPO's Location through the node, with the routing headers.

Exit status 0 when the eMSP received the CPO's Location.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import threading
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.error import HTTPError
from urllib.request import Request, urlopen

VERSION = "2.2.1"
LOCATION = {
    "country_code": "CH",
    "party_id": "CPO",
    "id": "LOC1",
    "publish": True,
    "address": "Bahnhofstrasse 1",
    "city": "Zurich",
    "country": "CHE",
    "coordinates": {"latitude": "47.376887", "longitude": "8.541694"},
    "time_zone": "Europe/Zurich",
    "last_updated": "2026-01-01T00:00:00Z",
}


def token_header(token: str) -> str:
    """``Token <base64(token)>``: OCPI 2.2.1 Base64-encodes the credentials token."""
    return "Token " + base64.b64encode(token.encode()).decode()


def envelope(data: Any, status_code: int = 1000) -> dict[str, Any]:
    return {"data": data, "status_code": status_code, "timestamp": "2026-01-01T00:00:00Z"}


class Party:
    """One OCPI platform with one role, serving its versions, details and module endpoints."""

    def __init__(self, role: str, country_code: str, party_id: str) -> None:
        self.role, self.country_code, self.party_id = role, country_code, party_id
        self.token_b = uuid.uuid4().hex  # the token the node must use to call this party
        self.token_c = ""  # the token this party uses to call the node (after the handshake)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def endpoints(self) -> list[dict[str, str]]:
        ours = [{"identifier": "credentials", "role": "RECEIVER",
                 "url": f"{self.base}/ocpi/{VERSION}/credentials"}]  # fmt: skip
        if self.role == "CPO":  # a CPO is the SENDER of its locations
            ours.append({"identifier": "locations", "role": "SENDER",
                         "url": f"{self.base}/ocpi/{VERSION}/locations"})  # fmt: skip
        return ours

    def answer(self, path: str) -> tuple[int, dict[str, Any]]:
        if path == "/ocpi/versions":
            return 200, envelope([{"version": VERSION, "url": f"{self.base}/ocpi/{VERSION}"}])
        if path == f"/ocpi/{VERSION}":
            return 200, envelope({"version": VERSION, "endpoints": self.endpoints()})
        if self.role == "CPO" and path.startswith(f"/ocpi/{VERSION}/locations"):
            return 200, envelope([LOCATION] if path.endswith("/locations") else LOCATION)
        return 404, envelope(None, 2003)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        party = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                given = self.headers.get("Authorization", "").removeprefix("Token ")
                # accept token B Base64-encoded (2.2.1) or raw (2.2 peers)
                if given not in (party.token_b, token_header(party.token_b)[6:]):
                    status, body = 401, envelope(None, 2001)
                else:
                    status, body = party.answer(self.path.split("?")[0])
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                # a response carries the request's ids and the routing headers, reversed
                for name in ("X-Request-ID", "X-Correlation-ID"):
                    self.send_header(name, self.headers.get(name, ""))
                if self.headers.get("OCPI-from-party-id"):
                    self.send_header("OCPI-to-country-code", self.headers["OCPI-from-country-code"])
                    self.send_header("OCPI-to-party-id", self.headers["OCPI-from-party-id"])
                    self.send_header("OCPI-from-country-code", party.country_code)
                    self.send_header("OCPI-from-party-id", party.party_id)
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:  # quiet
                pass

        return Handler

    def credentials(self) -> dict[str, Any]:
        return {
            "token": self.token_b,
            "url": f"{self.base}/ocpi/versions",
            "roles": [{"role": self.role, "country_code": self.country_code,
                       "party_id": self.party_id,
                       "business_details": {"name": f"Example {self.role}"}}],
        }  # fmt: skip

    def stop(self) -> None:
        self.server.shutdown()


def call(method: str, url: str, authorization: str, body: Any = None,
         headers: dict[str, str] | None = None) -> Any:  # fmt: skip
    """One JSON request; returns the decoded answer (raises with the body on HTTP errors)."""
    data = json.dumps(body).encode() if body is not None else None
    all_headers = {"Authorization": authorization, **(headers or {})}
    if data is not None:
        all_headers["Content-Type"] = "application/json"
    request = Request(url, data=data, method=method, headers=all_headers)
    try:
        with urlopen(request, timeout=30) as resp:
            return json.loads(resp.read())
    except HTTPError as err:
        raise SystemExit(f"{method} {url}: HTTP {err.code} {err.read()[:300]!r}") from None


def register(node: str, admin_key: str, party: Party) -> None:
    """Operator: list the party and issue token A. Party: the credentials handshake."""
    admin = f"Token {admin_key}"  # the admin API takes the key as is
    listing = {"country_code": party.country_code, "party_id": party.party_id,
               "roles": [party.role]}  # fmt: skip
    call("POST", f"{node}/admin/registry/parties", admin, listing)
    grant = call("POST", f"{node}/admin/generate-registration-token", admin,
                 [{"country_code": party.country_code, "party_id": party.party_id}])  # fmt: skip
    token_a = token_header(grant["token"])
    until = datetime.fromtimestamp(grant["expires_at"], UTC).isoformat(timespec="seconds")
    print(f"{party.role}: token A issued, valid until {until}")

    versions = call("GET", grant["versions"], token_a)["data"]
    details_url = next(v["url"] for v in versions if v["version"] == VERSION)
    endpoints = call("GET", details_url, token_a)["data"]["endpoints"]
    credentials_url = next(e["url"] for e in endpoints if e["identifier"] == "credentials")
    answer = call("POST", credentials_url, token_a, party.credentials())
    if answer["status_code"] != 1000:
        raise SystemExit(f"{party.role}: registration refused: {answer}")
    party.token_c = answer["data"]["token"]
    print(f"{party.role}: registered; the node answered with its credentials (token C)")


def locations_url(node: str, party: Party) -> str:
    """The node's URL for the Locations SENDER interface, from its version details."""
    auth = token_header(party.token_c)
    versions = call("GET", f"{node}/ocpi/versions", auth)["data"]
    details_url = next(v["url"] for v in versions if v["version"] == VERSION)
    endpoints = call("GET", details_url, auth)["data"]["endpoints"]
    return str(next(e["url"] for e in endpoints
                    if e["identifier"] == "locations" and e["role"] == "SENDER"))  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--node", default="http://127.0.0.1:8080", help="the node's public URL")
    ap.add_argument("--admin-key", required=True, help="the node's admin API key")
    args = ap.parse_args(argv)
    node = args.node.rstrip("/")
    cpo, emsp = Party("CPO", "CH", "CPO"), Party("EMSP", "DE", "MSP")
    try:
        register(node, args.admin_key, cpo)
        register(node, args.admin_key, emsp)
        routing = {  # on every request to a functional module
            "X-Request-ID": str(uuid.uuid4()),
            "X-Correlation-ID": str(uuid.uuid4()),
            "OCPI-from-country-code": emsp.country_code,
            "OCPI-from-party-id": emsp.party_id,
            "OCPI-to-country-code": cpo.country_code,
            "OCPI-to-party-id": cpo.party_id,
        }
        url = f"{locations_url(node, emsp)}/LOC1"  # the Sender interface: .../{location_id}
        answer = call("GET", url, token_header(emsp.token_c), headers=routing)
        print(f"EMSP: GET {url} -> {json.dumps(answer['data'])}")
        return 0 if answer["status_code"] == 1000 and answer["data"] == LOCATION else 1
    finally:
        cpo.stop()
        emsp.stop()


if __name__ == "__main__":
    sys.exit(main())
