"""OpenAPI 3.1 description of the node's admin API, health endpoints, node info and metrics.

Served at ``GET /openapi.json``. The OCPI endpoints themselves are described by the OCPI
specification (and the party's guide, docs/party-guide.md), not here. The integration test
``tests/integration/test_openapi.py`` validates real answers of every operation against it.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import orjson

from ocn_core.routing.table import VERSIONS

OPENAPI_PATH = "/openapi.json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _text(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/plain": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    why = {
        400: "Invalid input (body, ids, roles)",
        401: "Missing or wrong admin API key",
        404: "No such object",
    }
    return {str(s): _json(_ref("AdminError"), why[s]) for s in statuses}


def _obj(required: list[str], **properties: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "required": required,
        "properties": properties,
        "additionalProperties": False,
    }


_STR = {"type": "string"}
_PARTY_ID = {"type": "string", "pattern": "^[A-Za-z0-9]{3}$", "description": "OCPI party id"}
_COUNTRY = {"type": "string", "pattern": "^[A-Za-z]{2}$", "description": "ISO 3166 alpha-2"}
_ROLE = {"type": "string", "enum": ["CPO", "EMSP", "HUB", "NAP", "NSP", "OTHER", "SCSP"]}
_EPOCH = {"type": "number", "description": "Unix time, seconds"}
_ADDRESS = {"type": "string", "description": "Ethereum address (0x + 40 hex), or empty"}

SCHEMAS: dict[str, Any] = {
    "AdminError": _obj(
        ["error", "message"],
        error={"type": "string", "description": "Stable reason (ocn_core.errors)"},
        message=_STR,
    ),
    "RoleGrant": _obj(
        ["country_code", "party_id"],
        country_code=_COUNTRY,
        party_id=_PARTY_ID,
        role={"anyOf": [_ROLE, {"const": ""}], "description": "Optional: bind to one role"},
    ),
    "ConnectRequest": _obj(
        ["versions_url", "token_a"],
        versions_url={"type": "string", "format": "uri", "description": "The party's versions"},
        token_a={"type": "string", "minLength": 1, "maxLength": 64},
        version={"type": "string", "enum": list(VERSIONS), "description": "Default: newest"},
    ),
    "TokenRequest": {
        "oneOf": [
            {"type": "array", "items": _ref("RoleGrant"), "minItems": 1},
            _obj(
                ["roles"],
                roles={"type": "array", "items": _ref("RoleGrant"), "minItems": 1},
                ttl_seconds={"type": "number", "exclusiveMinimum": 0},
            ),
        ]
    },
    "IssuedToken": _obj(
        ["token", "versions", "expires_at"],
        token={"type": "string", "description": "CREDENTIALS_TOKEN_A, single use"},
        versions={"type": "string", "format": "uri", "description": "The node's versions URL"},
        expires_at=_EPOCH,
    ),
    "BusinessDetails": {
        "type": "object",
        "required": ["name"],
        "properties": {"name": _STR, "website": _STR, "logo": {"type": "object"}},
    },
    "PlatformRole": _obj(
        ["role", "country_code", "party_id"],
        role=_ROLE,
        country_code=_COUNTRY,
        party_id=_PARTY_ID,
        business_details={"anyOf": [_ref("BusinessDetails"), {"type": "null"}]},
    ),
    "Endpoint": _obj(
        ["identifier", "role", "url"],
        identifier={"type": "string", "description": "OCPI module id"},
        role={"type": "string", "enum": ["SENDER", "RECEIVER"]},
        url={"type": "string", "format": "uri"},
    ),
    "Platform": _obj(
        [
            "id",
            "status",
            "ocpi_version",
            "versions_url",
            "token_b_base64",
            "roles",
            "endpoints",
            "last_updated",
            "created",
        ],
        id=_STR,
        status={"type": "string", "enum": ["CONNECTED", "OFFLINE", "PLANNED", "SUSPENDED"]},
        ocpi_version={"type": "string", "enum": list(VERSIONS)},
        versions_url={"type": "string", "format": "uri"},
        token_b_base64={"type": "boolean", "description": "Token B sent Base64-encoded"},
        roles={"type": "array", "items": _ref("PlatformRole")},
        endpoints={"type": "array", "items": _ref("Endpoint")},
        last_updated=_EPOCH,
        created=_EPOCH,
    ),
    "PartyListing": _obj(
        ["country_code", "party_id", "roles"],
        country_code=_COUNTRY,
        party_id=_PARTY_ID,
        roles={"type": "array", "items": _ROLE, "minItems": 1},
        address=_ADDRESS,
        operator=_ADDRESS,
    ),
    "Node": _obj(
        ["operator", "url"],
        operator=_ADDRESS,
        url={"type": "string", "description": "The node's public URL (its registry domain)"},
    ),
    "Party": _obj(
        ["country_code", "party_id", "address", "roles", "operator", "node_url"],
        country_code=_COUNTRY,
        party_id=_PARTY_ID,
        address=_ADDRESS,
        roles={"type": "array", "items": _ROLE},
        operator=_ADDRESS,
        node_url={"type": "string", "description": "URL of the operator's node, or empty"},
    ),
    "Deleted": _obj(["deleted"], deleted={"const": True}),
    "RegistryStatus": _obj(
        ["source", "cursor", "head", "lag", "stale", "last_error", "last_sync"],
        source={"type": ["string", "null"], "description": "local | ethereum"},
        cursor={"type": ["integer", "null"], "description": "Last block applied"},
        head={"type": ["integer", "null"], "description": "Chain head seen"},
        lag={"type": ["integer", "null"], "description": "Blocks behind the head"},
        stale={"type": "boolean", "description": "The registry source is failing"},
        last_error={"type": ["string", "null"]},
        last_sync={"type": ["number", "null"], "description": "Unix time of the last sync"},
    ),
    "HealthDetails": _obj(
        ["status", "worker_pid"],
        status={"type": "string", "enum": ["ok", "degraded", "down"]},
        worker_pid={"type": "integer", "description": "The worker process that answered"},
        registry=_ref("RegistryStatus"),
        impl={
            "type": "object",
            "additionalProperties": {"type": "string", "enum": ["cy", "ref"]},
            "description": "Compiled (cy) or pure (ref) twin of each core module",
        },
        core={"type": "string", "description": "Why the core is unavailable (status down)"},
        hub={
            "type": "object",
            "additionalProperties": {"type": "integer"},
            "description": "Hub counters of the answering worker: broadcasts (delivered, "
            "refused, failed, skipped, duplicates dropped), fan-out drops (queue full) and "
            "queued requests, client-info pushes, partner-limit refusals",
        },
    ),
    "NodeInfo": _obj(
        ["url", "address"],
        url={"type": "string", "format": "uri", "description": "The node's public URL"},
        address={"type": "string", "description": "The node operator's Ethereum address"},
    ),
}

_ADMIN: list[dict[str, list[str]]] = [{"AdminToken": []}]
_PLATFORM_ID = {"name": "platform_id", "in": "path", "required": True, "schema": _STR}
_CC = {"name": "country_code", "in": "path", "required": True, "schema": _COUNTRY}
_PID = {"name": "party_id", "in": "path", "required": True, "schema": _PARTY_ID}

PATHS: dict[str, Any] = {
    "/admin/generate-registration-token": {
        "post": {
            "operationId": "createRegistrationToken",
            "summary": "Issue a registration token (token A) bound to roles",
            "description": "The roles must be listed with this node in the registry and not "
            "connected yet. The party uses the token once, for its credentials handshake.",
            "security": _ADMIN,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("TokenRequest")}},
            },
            "responses": {"200": _json(_ref("IssuedToken"), "Token A"), **_errors(400, 401)},
        }
    },
    "/admin/platforms": {
        "get": {
            "operationId": "listPlatforms",
            "summary": "Connected platforms (without their tokens)",
            "security": _ADMIN,
            "responses": {
                "200": _json({"type": "array", "items": _ref("Platform")}, "Platforms"),
                **_errors(401),
            },
        }
    },
    "/admin/platforms/{platform_id}": {
        "parameters": [_PLATFORM_ID],
        "get": {
            "operationId": "getPlatform",
            "summary": "One connected platform",
            "security": _ADMIN,
            "responses": {"200": _json(_ref("Platform"), "The platform"), **_errors(401, 404)},
        },
        "delete": {
            "operationId": "deletePlatform",
            "summary": "Disconnect a platform: its roles, endpoints and tokens are removed",
            "security": _ADMIN,
            "responses": {"200": _json({"type": "null"}, "Deleted"), **_errors(401, 404)},
        },
    },
    "/admin/connect": {
        "post": {
            "operationId": "connectToParty",
            "summary": "The node registers with a party (its versions URL and the token A it gave)",
            "description": "The node runs the client side of the OCPI credentials handshake for "
            "the newest version both serve. In-process core only.",
            "security": _ADMIN,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("ConnectRequest")}},
            },
            "responses": {"200": _json(_ref("Platform"), "The new platform"), **_errors(400, 401)},
        }
    },
    "/admin/platforms/{platform_id}/rotate-credentials": {
        "parameters": [_PLATFORM_ID],
        "post": {
            "operationId": "rotateCredentials",
            "summary": "New token C for a platform (credentials PUT to the party)",
            "description": "The old token is refused once the party accepted. In-process core "
            "only.",
            "security": _ADMIN,
            "responses": {
                "200": _json(_ref("Platform"), "The platform"),
                **_errors(400, 401, 404),
            },
        },
    },
    "/admin/connection-status/{country_code}/{party_id}": {
        "parameters": [_CC, _PID],
        "get": {
            "operationId": "getConnectionStatus",
            "summary": "Connection status of the platform serving a party",
            "security": _ADMIN,
            "responses": {
                "200": _text(SCHEMAS["Platform"]["properties"]["status"], "The status"),
                **_errors(401, 404),
            },
        },
    },
    "/admin/registry/parties": {
        "post": {
            "operationId": "setParty",
            "summary": "List a party with this node in the local registry (local mode)",
            "security": _ADMIN,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("PartyListing")}},
            },
            "responses": {"200": _json(_ref("Party"), "The listing"), **_errors(400, 401)},
        }
    },
    "/admin/registry/nodes": {
        "post": {
            "operationId": "setNode",
            "summary": "List a node (operator -> URL) in the local registry (local mode)",
            "security": _ADMIN,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("Node")}},
            },
            "responses": {"200": _json(_ref("Node"), "The listing"), **_errors(400, 401)},
        }
    },
    "/admin/registry/parties/{country_code}/{party_id}": {
        "parameters": [_CC, _PID],
        "delete": {
            "operationId": "deleteParty",
            "summary": "Remove a party from the local registry",
            "security": _ADMIN,
            "responses": {"200": _json(_ref("Deleted"), "Removed"), **_errors(400, 401, 404)},
        },
    },
    "/health": {
        "get": {
            "operationId": "health",
            "summary": "Liveness: OK while the node (and its core) can answer",
            "responses": {
                "200": _text({"const": "OK"}, "Serving"),
                "503": _text(_STR, "The core is unavailable"),
            },
        }
    },
    "/health/details": {
        "get": {
            "operationId": "healthDetails",
            "summary": "Registry freshness, loaded implementations and the answering worker",
            "responses": {
                "200": _json(_ref("HealthDetails"), "ok, or degraded while the registry is stale"),
                "503": _json(_ref("HealthDetails"), "down: the core is unavailable"),
            },
        }
    },
    "/ocn/registry/node-info": {
        "get": {
            "operationId": "nodeInfo",
            "summary": "The node's public URL and operator address (as in the registry)",
            "responses": {"200": _json(_ref("NodeInfo"), "Node info")},
        }
    },
    "/metrics": {
        "get": {
            "operationId": "metrics",
            "summary": "Prometheus metrics of every worker (absent when OCN_METRICS=0)",
            "description": "Needs the admin API key as 'Token <key>' or 'Bearer <key>' unless "
            "OCN_METRICS_AUTH=0 (the per-party counters name the node's partners).",
            "security": [{"AdminToken": []}, {"AdminBearer": []}, {}],
            "responses": {
                "200": _text(_STR, "Prometheus text exposition format 0.0.4"),
                **_errors(401),
                "404": {"description": "Metrics are switched off"},
            },
        }
    },
    OPENAPI_PATH: {
        "get": {
            "operationId": "openapi",
            "summary": "This document",
            "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1 document")},
        }
    },
}


def document(version: str = "") -> dict[str, Any]:
    """The OpenAPI document (``version``: the package version shown in ``info``)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ocn-router node: admin API and health",
            "version": version or "0",
            "description": "Administration and monitoring of an Open Charging Network node. "
            "OCPI endpoints (/ocpi/...) follow the OCPI 2.2 / 2.2.1 specification.",
        },
        "paths": PATHS,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "AdminToken": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "'Token <admin api key>' (the data dir's admin-api-key file "
                    "or OCN_API_KEY)",
                },
                "AdminBearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The admin api key as a bearer token (GET /metrics only)",
                },
            },
        },
    }


@cache
def document_bytes() -> bytes:
    """The served document, serialised once."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("ocn-router")
    except PackageNotFoundError:
        found = ""
    return orjson.dumps(document(found))
