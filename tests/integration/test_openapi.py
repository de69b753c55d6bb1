"""Issue 14 §3: the served OpenAPI 3.1 document, checked against real answers of every operation."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_spec
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.support.node import RunningNode, running_node
from tests.support.node_process import node_process
from tests.support.parties import PartyServer

DOC_URI = "urn:ocn-node:openapi"


class Checker:
    """Validates answers (and the requests sent) against the document's operations."""

    def __init__(self, doc: dict[str, Any]) -> None:
        validate_spec(doc)  # a valid OpenAPI 3.1 document
        self.doc = doc
        resource = Resource.from_contents(doc, default_specification=DRAFT202012)
        self.registry = Registry().with_resource(DOC_URI, resource)
        self.seen: set[tuple[str, str]] = set()

    def _validate(self, instance: Any, pointer: str) -> None:
        Draft202012Validator({"$ref": f"{DOC_URI}#{pointer}"}, registry=self.registry).validate(
            instance
        )

    def request(self, template: str, method: str, body: Any) -> None:
        op = self.doc["paths"][template][method]
        assert "application/json" in op["requestBody"]["content"]
        pointer = _pointer("paths", template, method, "requestBody", "content", "application/json")
        self._validate(body, pointer + "/schema")

    def answer(self, template: str, method: str, status: int, ctype: str, raw: bytes) -> None:
        op = self.doc["paths"][template][method]
        documented = op["responses"].get(str(status))
        assert documented is not None, f"{method} {template}: {status} is not documented"
        self.seen.add((template, method))
        if "content" not in documented:
            return
        media = ctype.split(";")[0].strip()
        assert media in documented["content"], f"{method} {template} {status}: {media}"
        instance = json.loads(raw) if media == "application/json" else raw.decode()
        pointer = _pointer("paths", template, method, "responses", str(status), "content", media)
        self._validate(instance, pointer + "/schema")

    def operations(self) -> set[tuple[str, str]]:
        return {
            (path, method)
            for path, item in self.doc["paths"].items()
            for method in item
            if method in ("get", "post", "put", "patch", "delete")
        }


def _pointer(*parts: str) -> str:
    return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


class Client:
    def __init__(self, http: aiohttp.ClientSession, node: RunningNode, checker: Checker) -> None:
        self.http, self.node, self.checker = http, node, checker

    async def call(
        self,
        method: str,
        template: str,
        expect: int,
        body: Any = None,
        auth: bool = True,
        **params: str,
    ) -> Any:
        path = template.format(**params)
        headers = self.node.admin_headers if auth else {}
        if body is not None and expect == 200:
            self.checker.request(template, method, body)
        async with self.http.request(
            method.upper(), self.node.url + path, json=body, headers=headers
        ) as resp:
            raw = await resp.read()
            assert resp.status == expect, (method, path, resp.status, raw)
            self.checker.answer(template, method, resp.status, resp.content_type, raw)
            return json.loads(raw) if resp.content_type == "application/json" else raw.decode()


@pytest.fixture
async def client(tmp_path: Path, core_mode: str) -> AsyncIterator[Client]:
    async with running_node(tmp_path, core_mode) as node, aiohttp.ClientSession() as http:
        async with http.get(node.url + "/openapi.json") as resp:
            assert resp.status == 200
            doc = await resp.json()
        checker = Checker(doc)
        checker.answer("/openapi.json", "get", 200, "application/json", json.dumps(doc).encode())
        yield Client(http, node, checker)


async def test_every_operation_answers_as_documented(client: Client) -> None:
    call = client.call
    await call("get", "/health", 200, auth=False)
    details = await call("get", "/health/details", 200, auth=False)
    assert details["status"] == "ok"
    info = await call("get", "/ocn/registry/node-info", 200, auth=False)
    assert info["url"] == client.node.url

    parties = "/admin/registry/parties"
    listing = {"country_code": "CH", "party_id": "CPO", "roles": ["CPO"]}
    assert (await call("post", parties, 200, listing))["party_id"] == "CPO"
    await call("post", parties, 200, {"country_code": "DE", "party_id": "MSP", "roles": ["EMSP"]})
    await call("post", parties, 400, {"country_code": "C", "party_id": "CPO", "roles": ["CPO"]})
    await call("post", parties, 401, listing, auth=False)
    # both cores: the body's shape first, then the key, then the values
    await call("post", parties, 400, {"country_code": 1, "party_id": "CPO"}, auth=False)
    await call("post", parties, 401, {"country_code": "CH"}, auth=False)
    await call("post", parties, 400, {"country_code": "CH"})
    nodes = "/admin/registry/nodes"
    node = {"operator": "0x" + "ab" * 20, "url": "https://other-node.example.com"}
    assert (await call("post", nodes, 200, node))["url"] == node["url"]
    await call("post", nodes, 400, {"operator": "not-an-address", "url": "https://x.example"})
    await call("post", nodes, 401, node, auth=False)
    await call("post", nodes, 401, {}, auth=False)
    await call("post", nodes, 400, {"operator": ["x"]}, auth=False)

    grant = "/admin/generate-registration-token"
    token = await call("post", grant, 200, [{"country_code": "CH", "party_id": "CPO"}])
    roles = [{"country_code": "DE", "party_id": "MSP", "role": "EMSP"}]
    await call("post", grant, 200, {"roles": roles, "ttl_seconds": 60})
    await call("post", grant, 400, [{"country_code": "CH", "party_id": "TOOLONG"}])
    await call("post", grant, 401, [{"country_code": "CH", "party_id": "CPO"}], auth=False)
    await call("post", grant, 401, [{"country_code": "CH", "party_id": "TOOLONG"}], auth=False)
    await call("post", grant, 401, {"roles": "CH CPO"}, auth=False)
    await call("post", grant, 400, {"roles": "CH CPO"})
    await call("post", grant, 400, {"roles": roles, "ttl_seconds": "60"}, auth=False)

    cpo = await PartyServer([("CPO", "CH", "CPO")]).start()
    try:
        assert (await cpo.register(client.node.url, token["token"]))["status_code"] == 1000
    finally:
        await cpo.stop()
    platforms = await call("get", "/admin/platforms", 200)
    assert [r["party_id"] for p in platforms for r in p["roles"]] == ["CPO"]
    await call("get", "/admin/platforms", 401, auth=False)
    one = "/admin/platforms/{platform_id}"
    pid = platforms[0]["id"]
    assert (await call("get", one, 200, platform_id=pid))["status"] == "CONNECTED"
    await call("get", one, 404, platform_id="unknown")
    await call("get", one, 401, auth=False, platform_id=pid)
    status = "/admin/connection-status/{country_code}/{party_id}"
    assert await call("get", status, 200, country_code="CH", party_id="CPO") == "CONNECTED"
    await call("get", status, 404, country_code="CH", party_id="XXX")
    await call("get", status, 401, auth=False, country_code="CH", party_id="CPO")
    # the node takes the initiative (the 200s: test_initiative.py, in both core modes)
    connect = {"versions_url": "ftp://nowhere", "token_a": "A"}
    await call("post", "/admin/connect", 400, connect)
    await call("post", "/admin/connect", 400, {"token_a": "A"})
    await call("post", "/admin/connect", 400, {"versions_url": 1, "token_a": "A"})
    await call("post", "/admin/connect", 401, connect, auth=False)
    await call("post", "/admin/connect", 401, {"token_a": "A"}, auth=False)
    rotate = "/admin/platforms/{platform_id}/rotate-credentials"
    await call("post", rotate, 404, platform_id="unknown")
    await call("post", rotate, 401, auth=False, platform_id=pid)
    await call("delete", one, 401, auth=False, platform_id=pid)
    await call("delete", one, 200, platform_id=pid)
    await call("delete", one, 404, platform_id=pid)

    party = "/admin/registry/parties/{country_code}/{party_id}"
    await call("delete", party, 401, auth=False, country_code="CH", party_id="CPO")
    assert await call("delete", party, 200, country_code="CH", party_id="CPO") == {"deleted": True}
    await call("get", "/metrics", 404)  # this test node runs without metrics

    assert client.checker.seen == client.checker.operations()


async def test_a_real_node_serves_the_document_and_metrics(tmp_path: Path) -> None:
    async with node_process(tmp_path) as node, aiohttp.ClientSession() as http:
        async with http.get(node.url + "/openapi.json") as resp:
            checker = Checker(await resp.json())
        async with http.get(node.url + "/metrics") as resp:  # no admin key: metrics_auth
            raw = await resp.read()
            assert resp.status == 401
            checker.answer("/metrics", "get", resp.status, resp.headers["Content-Type"], raw)
        async with http.get(node.url + "/metrics", headers=node.admin_headers) as resp:
            raw = await resp.read()
            checker.answer("/metrics", "get", resp.status, resp.headers["Content-Type"], raw)
        assert b"# TYPE ocn_open_connections gauge" in raw
