"""The ``/ocn/message`` body: the reference node's internal request object (ocn-node.md §2.13).

Layout, compact, keys in this order, nulls omitted (Jackson ``NON_NULL``)::

    {"module":"LOCATIONS","interface_role":"SENDER","method":"GET",
     "headers":{"Authorization":"","OCN-Signature":…,"X-Request-ID":…,"X-Correlation-ID":…,
                "sender":{"party_id":…,"country_code":…},"receiver":{…}},
     "url_path":…,"query_params":{…},"proxy_uid":…,"proxy_resource":…,
     "custom_module_id":…,"body":…}

A Kotlin node verifies the node signature over its own re-serialisation of this object, so we
emit exactly this layout; we verify over the raw bytes we received. ``body`` is the party's JSON
(compacted; values unchanged), or for custom modules the raw text as a JSON string.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from ocn_core import ocpi
from ocn_core.errors import InvalidRequest
from ocn_core.model import InterfaceRole, PartyRef, RouteKind, RouteRequest

MODULE_NAMES = {
    "cdrs": "CDRS",
    "chargingprofiles": "CHARGING_PROFILES",
    "commands": "COMMANDS",
    "credentials": "CREDENTIALS",
    "hubclientinfo": "HUB_CLIENT_INFO",
    "locations": "LOCATIONS",
    "sessions": "SESSIONS",
    "tariffs": "TARIFFS",
    "tokens": "TOKENS",
}
"""OCPI module id → the reference's ``ModuleID`` enum name (custom modules are ``CUSTOM``)."""
_MODULE_IDS = {name: module for module, name in MODULE_NAMES.items()}
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
_ROLES = {"SENDER": InterfaceRole.SENDER, "RECEIVER": InterfaceRole.RECEIVER}


@dataclass(slots=True)
class OcnMessage:
    """A parsed ``/ocn/message``: the request for the local receiver plus its proxy fields."""

    request: RouteRequest
    proxy_uid: str = ""
    proxy_resource: str = ""


def encode(
    req: RouteRequest,
    request_id: str,
    *,
    query: str,
    body: bytes,
    signature: str,
    proxy_uid: str = "",
    proxy_resource: str = "",
) -> bytes:
    """The message body for ``req`` (the values as the node forwards them)."""
    # modules the reference's ModuleID enum lacks (the OCPI 2.3.0 optional ones) travel as
    # custom modules: the receiver's node routes them to the endpoint with that identifier
    custom = req.kind == RouteKind.CUSTOM or req.module not in MODULE_NAMES
    headers: dict[str, Any] = {"Authorization": ""}
    if signature:
        headers["OCN-Signature"] = signature
    headers["X-Request-ID"] = request_id
    headers["X-Correlation-ID"] = req.correlation_id
    headers["sender"] = {
        "party_id": req.from_party.party_id,
        "country_code": req.from_party.country_code,
    }
    headers["receiver"] = {
        "party_id": req.to_party.party_id,
        "country_code": req.to_party.country_code,
    }
    message: dict[str, Any] = {
        "module": "CUSTOM" if custom else MODULE_NAMES[req.module],
        "interface_role": req.interface_role.ocpi,
        "method": req.method,
        "headers": headers,
    }
    if req.path_suffix:
        message["url_path"] = req.path_suffix
    if query:
        message["query_params"] = dict(ocpi.parse_query(query))
    if proxy_uid:
        message["proxy_uid"] = proxy_uid
    if proxy_resource:
        message["proxy_resource"] = proxy_resource
    if custom:
        message["custom_module_id"] = req.module
    if not body:
        return orjson.dumps(message)
    if custom:
        message["body"] = body.decode("utf-8", "replace")
        return orjson.dumps(message)
    # the party's JSON, compacted (a Kotlin receiver re-serialises it the same way)
    prefix = orjson.dumps(message)[:-1] + b',"body":'
    return prefix + orjson.dumps(ocpi.loads(body)) + b"}"


def decode(raw: bytes, version: str = "2.2") -> OcnMessage:
    """Parse a received message (HTTP 400 / OCPI 2001 when it is not one)."""
    msg = ocpi.loads(raw, "/ocn/message body")
    if not isinstance(msg, dict):
        raise InvalidRequest("/ocn/message body must be a JSON object")
    module_name = _text(msg, "module")
    custom = module_name == "CUSTOM"
    module = _text(msg, "custom_module_id") if custom else _MODULE_IDS.get(module_name, "")
    if not module:
        raise InvalidRequest(f"Unknown module {module_name!r} in /ocn/message")
    role = _ROLES.get(_text(msg, "interface_role"))
    method = _text(msg, "method")
    if role is None or method not in _METHODS:
        raise InvalidRequest("Invalid interface_role or method in /ocn/message")
    headers = msg.get("headers")
    if not isinstance(headers, dict):
        raise InvalidRequest("Missing headers in /ocn/message")
    sender, receiver = _party(headers, "sender"), _party(headers, "receiver")
    query = msg.get("query_params")
    if query is not None and not isinstance(query, dict):
        raise InvalidRequest("query_params must be an object")
    pairs = [(str(k), _param(v)) for k, v in (query or {}).items() if v is not None]
    req = RouteRequest(
        kind=RouteKind.CUSTOM if custom else RouteKind.MODULE,
        module=module,
        interface_role=role,
        method=method,
        ocpi_version=version,
        path_suffix=_optional(msg, "url_path").lstrip("/"),
        query=ocpi.build_query(pairs) if pairs else "",
        request_id=_text(headers, "X-Request-ID"),
        correlation_id=_text(headers, "X-Correlation-ID"),
        from_party=sender,
        to_party=receiver,
        ocn_signature=_optional(headers, "OCN-Signature"),
        body=_body(raw, msg, custom),
        content_type="application/json",
        has_from=True,
        has_to=True,
    )
    proxy_uid, resource = _optional(msg, "proxy_uid"), _optional(msg, "proxy_resource")
    return OcnMessage(req, proxy_uid, resource)


def _text(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"Missing or invalid {key!r} in /ocn/message")
    return value


def _optional(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidRequest(f"Invalid {key!r} in /ocn/message")
    return value


def _party(headers: dict[str, Any], key: str) -> PartyRef:
    party = headers.get(key)
    if not isinstance(party, dict):
        raise InvalidRequest(f"Missing headers.{key} in /ocn/message")
    ref = PartyRef(_text(party, "country_code"), _text(party, "party_id"))
    ocpi.check_party(ref.country_code, ref.party_id)
    return ref


def _param(value: Any) -> str:
    """Query values as the reference stringifies them."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return orjson.dumps(value).decode()


def _body(raw: bytes, msg: dict[str, Any], custom: bool) -> bytes:
    """The body for the receiver: the raw JSON text when the layout allows, else re-encoded."""
    if "body" not in msg or msg["body"] is None:
        return b""
    body = msg["body"]
    if custom:
        if not isinstance(body, str):
            return orjson.dumps(body)
        return body.encode()
    rest = {k: v for k, v in msg.items() if k != "body"}
    prefix = orjson.dumps(rest)[:-1] + b',"body":'
    stripped = raw.strip()
    if list(msg)[-1] == "body" and stripped.startswith(prefix) and stripped.endswith(b"}"):
        return stripped[len(prefix) : -1]
    return orjson.dumps(body)
