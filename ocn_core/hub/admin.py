"""Node administration: registration tokens, platforms, connection status.

Transport-neutral: the gateway's HTTP admin API, the gRPC AdminService and the CLI call these.
The API key check happens at those edges (:meth:`Admin.check_key`).
"""

from __future__ import annotations

import hmac
import math
from typing import Any

import structlog

from ocn_core import ocpi
from ocn_core.config import MAX_TOKEN_TTL
from ocn_core.errors import AdminError, AdminNotFound, AdminUnauthorized
from ocn_core.hub import status
from ocn_core.hub.context import NodeContext
from ocn_core.state import Platform
from ocn_core.views import IssuedToken, PlatformInfo

ROLE_NAMES = {"", "CPO", "EMSP", "HUB", "NAP", "NSP", "OTHER", "SCSP"}
audit = structlog.get_logger("ocn_core.audit")  # admin actions and registrations


def role_grants(roles: object) -> list[dict[str, str]]:
    """The shape of a token's roles: a non-empty list of {country_code, party_id, role?}, as
    strings (edges call this before a role list leaves them, so every edge refuses alike)."""
    if not isinstance(roles, list) or not roles:
        raise AdminError("Body must be a non-empty JSON array of {country_code, party_id, role?}")
    found = []
    for entry in roles:
        if not isinstance(entry, dict):
            raise AdminError("Each role must be an object {country_code, party_id, role?}")
        found.append(
            {
                "country_code": str(entry.get("country_code", "")),
                "party_id": str(entry.get("party_id", "")),
                "role": str(entry.get("role") or ""),
            }
        )
    return found


def key_matches(authorization: str, key: str, bearer: bool = False) -> bool:
    """Whether ``authorization`` is ``Token <key>`` (or ``Bearer <key>`` when ``bearer``)."""
    scheme, _, value = authorization.strip().partition(" ")
    if bearer and scheme.lower() == "bearer":
        authorization = "Token " + value
    given = ocpi.token_from_header(authorization)
    return bool(given and key) and hmac.compare_digest(given.encode(), key.encode())


class Admin:
    def __init__(self, ctx: NodeContext) -> None:
        self.ctx = ctx

    def check_key(self, authorization: str) -> None:
        if not key_matches(authorization, self.ctx.settings.api_key):
            audit.warning("admin_denied", reason="missing or wrong admin API key")
            raise AdminUnauthorized("Unauthorized: admin API key required as 'Token <key>'")

    def create_registration_token(
        self, roles: list[dict[str, Any]], ttl: float | None = None
    ) -> IssuedToken:
        """Token A bound to ``roles`` ([{country_code, party_id, role?}]), with an expiry.

        ``ttl`` (seconds; the configured default when None) must be finite, > 0 and at most
        :data:`~ocn_core.config.MAX_TOKEN_TTL`.
        """
        try:
            return self._create_registration_token(roles, ttl)
        except AdminError as exc:
            audit.info("registration_token_refused", reason=exc.message)
            raise

    def _create_registration_token(self, roles: list[dict[str, Any]], ttl: Any) -> IssuedToken:
        ttl = self.ctx.settings.registration_token_ttl if ttl is None else check_ttl(ttl)
        bound = []
        for entry in role_grants(roles):
            cc, pid, role = entry["country_code"], entry["party_id"], entry["role"]
            try:
                ocpi.check_party(cc, pid)
            except Exception as exc:  # InvalidRequest: same rule, admin status code
                raise AdminError(str(exc)) from None
            if role not in ROLE_NAMES:
                raise AdminError(f"Unknown role {role!r}")
            if self.ctx.platforms.platform_id_by_role(cc, pid) is not None:
                raise AdminError(f"Role {cc.upper()} {pid.upper()} already exists")
            bound.append({"country_code": cc.upper(), "party_id": pid.upper(), "role": role})
        token, expires = self.ctx.platforms.issue_token_a(bound, ttl)
        audit.info(
            "registration_token_issued",
            parties=[f"{r['country_code']} {r['party_id']} {r['role'] or '*'}" for r in bound],
            ttl_s=ttl,
            expires_at=expires,
        )
        return IssuedToken(token, self.ctx.versions_url, expires)

    def platforms(self) -> list[PlatformInfo]:
        return [PlatformInfo.of(p) for p in self.ctx.platforms.all()]

    def platform(self, platform_id: str) -> PlatformInfo:
        found = self.ctx.platforms.platform(platform_id)
        if found is None:
            raise AdminNotFound(f"Platform {platform_id} not found")
        return PlatformInfo.of(found)

    def delete_platform(self, platform_id: str) -> None:
        found = self.ctx.platforms.platform(platform_id)
        if found is None or not self.ctx.platforms.delete(platform_id):
            raise AdminNotFound(f"Platform {platform_id} not found")
        audit.info(
            "platform_deleted", platform_id=platform_id, parties=parties_of(found), by="admin"
        )
        status.platform_gone(self.ctx, found)

    def connection_status(self, country_code: str, party_id: str) -> str:
        platform_id = self.ctx.platforms.platform_id_by_role(country_code, party_id)
        found = self.ctx.platforms.platform(platform_id) if platform_id else None
        if found is None:
            raise AdminNotFound("Role not found")
        return found.status


def check_ttl(ttl: Any) -> float:
    """A token lifetime in seconds: a finite number in (0, MAX_TOKEN_TTL], else AdminError."""
    if isinstance(ttl, bool) or not isinstance(ttl, int | float):
        raise AdminError(f"ttl must be a number of seconds, not {ttl!r}")
    if not math.isfinite(ttl) or not 0 < ttl <= MAX_TOKEN_TTL:
        raise AdminError(
            f"ttl must be finite, > 0 and <= {int(MAX_TOKEN_TTL)} seconds (365 days), not {ttl!r}"
        )
    return float(ttl)


def parties_of(p: Platform) -> list[str]:
    """``["CH CPO CPO", ...]``: a platform's roles for log lines."""
    return [f"{r.country_code} {r.party_id} {r.role}" for r in p.roles]
