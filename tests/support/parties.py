"""Real OCPI party servers (aiohttp on 127.0.0.1) for end-to-end tests.

A :class:`PartyServer` serves versions, version details and the module endpoints the test
asks for, records every request it receives, and can run the credentials handshake against a
node as a real OCPI client would.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import secrets
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from ocn_core import signing
from ocn_core.ocpi import envelope

MODULES = ("cdrs", "chargingprofiles", "commands", "locations", "sessions", "tariffs", "tokens")
MODULES_230 = ("payments", "Booking", "invoicereconciliation")  # OCPI 2.3.0 optional modules


@dataclass
class Received:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    raw_path: str = ""  # path and query exactly as sent (no decoding or dot-segment removal)


@dataclass
class PartyServer:
    """One OCPI platform with one or more roles, e.g. ``[("CPO", "CH", "CPO")]``."""

    roles: list[tuple[str, str, str]]
    version: str = "2.2.1"
    token_b: str = field(default_factory=lambda: secrets.token_hex(8))
    received: list[Received] = field(default_factory=list)
    answers: dict[tuple[str, str], Any] = field(default_factory=dict)
    base: str = ""
    token_c: str = ""
    base64_tokens: bool = True
    echo: bool = True  # answer unknown paths with 1000 and {method, path, query}
    key: bytes | None = None  # sign responses with this key (OCN Notary)
    delay: float = 0.0  # seconds to wait before answering module requests
    custom: list[tuple[str, str]] = field(default_factory=list)  # (identifier, role) extra modules
    hub_party_id: str = ""  # OCPI 2.3.0: sent in the credentials when set
    token_a: str = ""  # a token A this party issued to the node (the node registers with it)
    node_credentials: list[dict[str, Any]] = field(default_factory=list)  # the node's, as sent
    during_rotation: list[int] = field(default_factory=list)  # node's answers to new, old token
    refuse_rotation: bool = False  # answer a credentials PUT with 2001
    rotation_delay: float = 0.0  # seconds to hold a credentials PUT before answering
    _runner: web.AppRunner | None = None

    async def start(self) -> PartyServer:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def versions_url(self) -> str:
        return f"{self.base}/ocpi/versions"

    def endpoint(self, module: str, role: str) -> str:
        return f"{self.base}/ocpi/{self.version}/{role.lower()}/{module}"

    def answer(
        self,
        method: str,
        path: str,
        data: Any,
        status_code: int = 1000,
        http: int = 200,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> None:
        """What to answer for ``method path`` (path below the base URL)."""
        self.answers[(method, path)] = (data, status_code, http, headers or {}, raw)

    def _authorised(self, request: web.Request, token: str | None = None) -> bool:
        token = self.token_b if token is None else token
        value = request.headers.get("Authorization", "")
        expected = {f"Token {token}", "Token " + base64.b64encode(token.encode()).decode()}
        return value in expected

    async def _credentials(self, request: web.Request, body: bytes) -> web.Response:
        """The server side of the handshake: POST with token A, PUT with the current token.

        Reads the node's versions with the token the node sent (as a real party does), then
        answers with its own credentials, under a new token on PUT (the old one is refused).
        """
        if request.method == "POST" and not (
            self.token_a and self._authorised(request, self.token_a)
        ):
            return web.json_response(envelope(2001, None, "Unauthorized"), status=401)
        if request.method == "PUT" and not self._authorised(request):
            return web.json_response(envelope(2001, None, "Unauthorized"), status=401)
        if request.method == "PUT" and self.refuse_rotation:
            return web.json_response(envelope(2001, None, "No rotation today"), status=400)
        node = json.loads(body)
        async with aiohttp.ClientSession() as http:
            for token in (node["token"], self.token_c) if request.method == "PUT" else ():
                async with http.get(node["url"], headers={"Authorization": self.auth(token)}) as r:
                    self.during_rotation.append(r.status)  # both tokens while the PUT runs
            headers = {"Authorization": self.auth(node["token"])}
            async with http.get(node["url"], headers=headers) as resp:
                if resp.status != 200:
                    return web.json_response(envelope(3001, None, "node refused its token"))
        self.token_c = node["token"]
        self.node_credentials.append(node)
        if request.method == "PUT" and self.rotation_delay:
            await asyncio.sleep(self.rotation_delay)
        if request.method == "POST":
            self.token_a = ""  # used once
        else:
            self.token_b = secrets.token_hex(8)
        return web.json_response(envelope(1000, self.credentials()))

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.received.append(
            Received(
                request.method,
                request.path,
                request.query_string,
                dict(request.headers),
                body,
                request.raw_path,
            )
        )
        if request.path == f"/ocpi/{self.version}/credentials" and request.method in (
            "POST",
            "PUT",
        ):
            return await self._credentials(request, body)
        versions_paths = ("/ocpi/versions", f"/ocpi/{self.version}")
        if not self._authorised(request) and not (
            self.token_a
            and request.path in versions_paths
            and self._authorised(request, self.token_a)
        ):
            return web.json_response(envelope(2001, None, "Unauthorized"), status=401)
        if request.path == "/ocpi/versions":
            data = [{"version": self.version, "url": f"{self.base}/ocpi/{self.version}"}]
            return web.json_response(envelope(1000, data))
        if request.path == f"/ocpi/{self.version}":
            endpoints = [
                {
                    "identifier": "credentials",
                    "role": "RECEIVER",
                    "url": f"{self.base}/ocpi/{self.version}/credentials",
                }
            ]
            endpoints += [
                {"identifier": m, "role": r, "url": self.endpoint(m, r)}
                for m in self.modules
                for r in ("SENDER", "RECEIVER")
            ]
            endpoints += [
                {"identifier": m, "role": r, "url": f"{self.base}/custom/{m}"}
                for m, r in self.custom
            ]
            return web.json_response(
                envelope(1000, {"version": self.version, "endpoints": endpoints})
            )
        if self.delay:
            await asyncio.sleep(self.delay)
        found = self.answers.get((request.method, request.path))
        if found is None and self.echo:
            echo = {"method": request.method, "path": request.path, "query": request.query_string}
            found = (echo, 1000, 200, {}, None)
        if found is None:
            return web.json_response(envelope(2003, None, "Unknown object"), status=404)
        data, code, http, headers, raw = found
        response_headers = {
            "X-Request-ID": request.headers.get("X-Request-ID", ""),
            "X-Correlation-ID": request.headers.get("X-Correlation-ID", ""),
            **headers,
        }
        if raw is not None:
            return web.Response(body=raw, status=http, headers=response_headers)
        answer = envelope(code, data)
        if self.key is not None:
            lowered = {k.lower(): v for k, v in response_headers.items()}
            notary = signing.sign(signing.response_values(lowered, answer), self.key)
            answer["ocn_signature"] = notary.serialize()
        return web.json_response(answer, status=http, headers=response_headers)

    @property
    def modules(self) -> tuple[str, ...]:
        """The functional modules this party implements (2.3.0: the optional ones too)."""
        return MODULES + MODULES_230 if self.version == "2.3.0" else MODULES

    def credentials(self) -> dict[str, Any]:
        extra = {"hub_party_id": self.hub_party_id} if self.hub_party_id else {}
        return {
            "token": self.token_b,
            "url": self.versions_url,
            **extra,
            "roles": [
                {
                    "role": role,
                    "country_code": cc,
                    "party_id": pid,
                    "business_details": {"name": f"{cc}{pid} {role}"},
                }
                for role, cc, pid in self.roles
            ],
        }

    def auth(self, token: str) -> str:
        if self.base64_tokens:
            return "Token " + base64.b64encode(token.encode()).decode()
        return "Token " + token

    async def register(self, node_url: str, token_a: str) -> dict[str, Any]:
        """The OCPI handshake as the registering side: versions → details → POST credentials."""
        async with aiohttp.ClientSession() as http:
            headers = {"Authorization": self.auth(token_a)}
            async with http.get(f"{node_url}/ocpi/versions", headers=headers) as resp:
                versions = (await resp.json())["data"]
            details_url = next(v["url"] for v in versions if v["version"] == self.version)
            async with http.get(details_url, headers=headers) as resp:
                endpoints = (await resp.json())["data"]["endpoints"]
            creds_url = next(e["url"] for e in endpoints if e["identifier"] == "credentials")
            async with http.post(creds_url, json=self.credentials(), headers=headers) as resp:
                result = await resp.json()
        if result.get("status_code") == 1000:
            self.token_c = result["data"]["token"]
        return dict(result)

    def routing_headers(
        self,
        to: tuple[str, str],
        frm: tuple[str, str] | None = None,
        correlation_id: str | None = None,
    ) -> dict[str, str]:
        frm = frm or (self.roles[0][1], self.roles[0][2])
        return {
            "Authorization": self.auth(self.token_c),
            "X-Request-ID": str(uuid.uuid4()),
            "X-Correlation-ID": correlation_id or str(uuid.uuid4()),
            "OCPI-from-country-code": frm[0],
            "OCPI-from-party-id": frm[1],
            "OCPI-to-country-code": to[0],
            "OCPI-to-party-id": to[1],
        }


@contextlib.asynccontextmanager
async def serving(parties: Iterable[PartyServer]) -> AsyncIterator[None]:
    """Every party server started for the block, stopped after it."""
    started: list[PartyServer] = []
    try:
        for party in parties:
            await party.start()
            started.append(party)  # stopped even when a later one fails to start
        yield
    finally:
        for party in started:
            await party.stop()
