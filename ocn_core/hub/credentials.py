"""The credentials module: registration (token A → B/C), update, read and unregistration."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

from ocn_core import ocpi
from ocn_core.errors import (
    InvalidRequest,
    MethodNotAllowed,
    OcnError,
    PeerApiError,
    RegistrationRejected,
    UnknownToken,
    UnsupportedVersion,
    UrlRefused,
)
from ocn_core.federation.urlpolicy import check_url
from ocn_core.hub import credentials_230, status
from ocn_core.hub.admin import audit, parties_of
from ocn_core.hub.auth import grant_for, platform_for
from ocn_core.hub.context import NodeContext
from ocn_core.model import RouteRequest
from ocn_core.routing.table import VERSIONS
from ocn_core.state import Platform, RegistrationGrant, RoleConflict, RoleRecord, new_role
from ocn_core.state.interface import TokenAlreadyUsed
from ocn_core.state.records import CONNECTED, EndpointRecord
from ocn_core.transport import TransportError


async def handle(ctx: NodeContext, req: RouteRequest) -> dict[str, Any] | None:
    """Dispatch on the HTTP method; returns the envelope's ``data``."""
    if req.method == "POST":
        return await _register(ctx, req)
    registered = platform_for(ctx, req.authorization)
    if registered is None:
        if grant_for(ctx, req.authorization) is not None:
            raise MethodNotAllowed(
                f"{req.method} needs a registered client; register with POST first"
            )
        raise UnknownToken("Invalid CREDENTIALS_TOKEN_C")
    platform_id, token_c = registered
    if req.method == "GET":
        return node_credentials(ctx, token_c, req.ocpi_version, platform_id)
    if req.method == "PUT":
        return await _update(ctx, req, platform_id)
    if req.method == "DELETE":
        found = ctx.platforms.platform(platform_id)
        if ctx.platforms.delete(platform_id):
            parties = parties_of(found) if found is not None else []
            audit.info("platform_deleted", platform_id=platform_id, parties=parties, by="party")
            if found is not None:
                status.platform_gone(ctx, found)
        return None
    raise MethodNotAllowed(f"Method {req.method} not allowed on credentials")


def node_credentials(
    ctx: NodeContext, token_c: str, version: str = "", caller: str | None = None
) -> dict[str, Any]:
    """The node's Credentials for ``version``: role HUB (2.2.x), reachable roles (2.3.0)."""
    s = ctx.settings
    if version == credentials_230.VERSION:
        return {
            "token": token_c,
            "url": ctx.versions_url,
            "hub_party_id": credentials_230.hub_party_id(ctx),
            "roles": credentials_230.reachable_roles(ctx, caller),
        }
    return {
        "token": token_c,
        "url": ctx.versions_url,
        "roles": [
            {
                "role": "HUB",
                "business_details": {"name": s.business_name},
                "party_id": s.party_id,
                "country_code": s.country_code,
            }
        ],
    }


async def _register(ctx: NodeContext, req: RouteRequest) -> dict[str, Any]:
    """Registration with token A; every outcome is an audit line naming the parties."""
    try:
        platform_id, answer = await _register_checked(ctx, req)
    except OcnError as exc:
        audit.warning(
            "registration_refused",
            parties=_claimed_parties(req),
            reason=exc.message,
            ocpi_status=exc.ocpi_status,
        )
        raise
    platform = ctx.platforms.platform(platform_id)
    audit.info(
        "registration_accepted",
        platform_id=platform_id,
        parties=parties_of(platform) if platform is not None else _claimed_parties(req),
        version=req.ocpi_version,
    )
    return answer


async def _register_checked(ctx: NodeContext, req: RouteRequest) -> tuple[str, dict[str, Any]]:
    found = grant_for(ctx, req.authorization)
    if found is None:
        if platform_for(ctx, req.authorization) is not None:
            raise MethodNotAllowed("Client already registered; use PUT to update credentials")
        raise UnknownToken("Invalid CREDENTIALS_TOKEN_A")
    grant, token_a = found
    platform = await _fetch_platform(ctx, req, platform_id=secrets.token_hex(8), grant=grant)
    token_c = secrets.token_urlsafe(32)
    try:
        ctx.platforms.register(token_a, platform, token_c)
    except RoleConflict as exc:
        raise RegistrationRejected(str(exc)) from None
    except TokenAlreadyUsed:  # another registration (on any replica) consumed it first
        raise UnknownToken("Invalid CREDENTIALS_TOKEN_A") from None
    status.platform_connected(ctx, platform)
    return platform.id, node_credentials(ctx, token_c, platform.ocpi_version, platform.id)


async def _update(ctx: NodeContext, req: RouteRequest, platform_id: str) -> dict[str, Any]:
    """Credentials PUT: new endpoints and token C (rotation), audited either way."""
    before = ctx.platforms.platform(platform_id)
    try:
        platform = await _fetch_platform(ctx, req, platform_id=platform_id, grant=None)
        token_c = secrets.token_urlsafe(32)
        try:
            ctx.platforms.register(None, platform, token_c, replace_id=platform_id)
        except RoleConflict as exc:
            raise RegistrationRejected(str(exc)) from None
    except OcnError as exc:
        audit.warning(
            "credentials_update_refused",
            platform_id=platform_id,
            parties=_claimed_parties(req),
            reason=exc.message,
            ocpi_status=exc.ocpi_status,
        )
        raise
    audit.info("credentials_rotated", platform_id=platform_id, parties=parties_of(platform))
    status.platform_connected(ctx, platform, before)
    return node_credentials(ctx, token_c, platform.ocpi_version, platform_id)


def _claimed_parties(req: RouteRequest) -> list[str]:
    """The roles a credentials body claims, for log lines (never raises)."""
    try:
        roles = ocpi.loads(req.body or b"null", "credentials body").get("roles")
        return [f"{r['country_code']} {r['party_id']} {r['role']}" for r in roles]
    except Exception:
        return []


async def _fetch_platform(
    ctx: NodeContext, req: RouteRequest, platform_id: str, grant: RegistrationGrant | None
) -> Platform:
    """Validate the posted Credentials, check each role, and read the peer's endpoints."""
    creds = ocpi.loads(req.body or b"null", "credentials body")
    version = req.ocpi_version if req.ocpi_version in VERSIONS else VERSIONS[0]
    return await peer_platform(ctx, creds, version, platform_id, grant)


async def peer_platform(
    ctx: NodeContext,
    creds: Any,
    version: str,
    platform_id: str,
    grant: RegistrationGrant | None,
) -> Platform:
    """A peer's Credentials object checked (each role in the registry with this node, and
    allowed by ``grant`` when given) and its endpoints read with its token: the platform."""
    token_b, versions_url, roles = _parse_credentials(creds, version)
    hub_party_id = credentials_230.check_hub_party_id(creds.get("hub_party_id"))
    for role in roles:
        await _check_role(ctx, role, grant)
    base64_token = version != "2.2"  # Base64 tokens since 2.2.1
    auth = ocpi.authorization_header(token_b, base64_token)
    listing = await get_ocpi(ctx, versions_url, auth)
    details_url = pick_version(listing, version, versions_url)
    details = await get_ocpi(ctx, details_url, auth)
    endpoints = parse_endpoints(details, details_url)
    for endpoint in endpoints:
        try:
            await check_url(endpoint.url, ctx.settings)
        except UrlRefused as exc:
            raise InvalidRequest(f"Endpoint {endpoint.identifier}: {exc.message}") from None
    now = time.time()
    return Platform(
        id=platform_id,
        status=CONNECTED,
        ocpi_version=version,
        versions_url=versions_url,
        token_b=token_b,
        token_b_base64=base64_token,
        roles=roles,
        hub_party_id=hub_party_id,
        endpoints=endpoints,
        last_updated=now,
        created=now,
    )


def _parse_credentials(creds: Any, version: str) -> tuple[str, str, list[RoleRecord]]:
    if not isinstance(creds, dict):
        raise InvalidRequest("Credentials body must be a JSON object")
    token, url, roles = creds.get("token"), creds.get("url"), creds.get("roles")
    if not isinstance(token, str) or not token or len(token) > 64 or not token.isprintable():
        raise InvalidRequest("Credentials 'token' must be a printable string of 1..64 characters")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise InvalidRequest("Credentials 'url' must be an http(s) URL")
    if not isinstance(roles, list) or not roles or not all(isinstance(r, dict) for r in roles):
        raise InvalidRequest("Credentials 'roles' must be a non-empty list of CredentialsRole")
    parsed = [new_role(r) for r in roles]
    known = credentials_230.roles_for(version)
    seen: set[tuple[str, str]] = set()
    for role in parsed:
        if role.role not in known:
            raise InvalidRequest(f"Unknown role {role.role!r} in OCPI {version}")
        ocpi.check_party(role.country_code, role.party_id)
        if (role.role, role.key) in seen:
            raise InvalidRequest(f"Duplicate role {role.role} {role.key}")
        seen.add((role.role, role.key))
    return token, url, parsed


async def _check_role(ctx: NodeContext, role: RoleRecord, grant: RegistrationGrant | None) -> None:
    ids = f"party_id={role.party_id} and country_code={role.country_code}"
    if grant is not None and not grant.allows(role.role, role.country_code, role.party_id):
        raise RegistrationRejected(
            f"Role {role.role} with {ids} not allowed by this registration token"
        )
    party = await ctx.party(role.country_code, role.party_id)
    mine = (
        party is not None
        and party.operator.lower() == ctx.node_address.lower()
        and party.node_url.rstrip("/") == ctx.settings.public_url
    )
    if not mine:
        raise RegistrationRejected(f"Role with {ids} not listed in OCN Registry with my node info!")


async def get_ocpi(ctx: NodeContext, url: str, auth: str) -> Any:
    return await call_ocpi(ctx, "GET", url, auth)


async def call_ocpi(
    ctx: NodeContext,
    method: str,
    url: str,
    auth: str,
    body: Any = None,
    refused: Callable[[], None] | None = None,
) -> Any:
    """The ``data`` of a party's 1000 answer to ``method url`` (URL policy checked first).

    Anything else raises :class:`PeerApiError`; ``refused`` runs first when the party answered
    but not with 1000 (it surely did not act on the request).
    """
    try:
        await check_url(url, ctx.settings)
    except UrlRefused as exc:
        raise PeerApiError(f"Failed to request from {url}: {exc.message}") from None
    headers = [("Authorization", auth)]
    payload = b""
    if body is not None:
        headers.append(("Content-Type", "application/json"))
        payload = ocpi.dumps(body)
    try:
        result = await ctx.transport.request(
            method, url, headers, payload, timeout=ctx.settings.forward_timeout
        )
    except TransportError as exc:
        raise PeerApiError(f"Failed to request from {url}: {exc}") from None
    try:
        answer = ocpi.loads(result.body, "response")
    except InvalidRequest as exc:
        raise PeerApiError(f"Failed to request from {url}: {exc.message}") from None
    if result.status != 200 or not isinstance(answer, dict) or answer.get("status_code") != 1000:
        if refused is not None:
            refused()
        raise PeerApiError(
            f"Failed to request from {url}: HTTP {result.status}, body {answer!r:.200}"
        )
    return answer.get("data")


def pick_version(listing: Any, version: str, url: str) -> str:
    if isinstance(listing, list):
        for entry in listing:
            if isinstance(entry, dict) and entry.get("version") == version:
                details = entry.get("url")
                if isinstance(details, str) and details:
                    return details
    raise UnsupportedVersion(f"Expected version {version} from {url}")


def parse_endpoints(details: Any, url: str) -> list[EndpointRecord]:
    endpoints = details.get("endpoints") if isinstance(details, dict) else None
    if not isinstance(endpoints, list):
        raise PeerApiError(f"Version details from {url} have no 'endpoints' list")
    parsed = []
    for ep in endpoints:
        if not isinstance(ep, dict):
            continue
        ident, role, ep_url = ep.get("identifier"), ep.get("role"), ep.get("url")
        if isinstance(ident, str) and isinstance(ep_url, str):
            parsed.append(
                EndpointRecord(ident, role if role in ("SENDER", "RECEIVER") else "SENDER", ep_url)
            )
    return parsed
