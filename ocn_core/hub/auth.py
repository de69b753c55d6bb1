"""Credentials-token checks shared by every handler."""

from __future__ import annotations

from ocn_core import ocpi
from ocn_core.errors import UnknownToken
from ocn_core.hub.context import NodeContext
from ocn_core.state import RegistrationGrant


def platform_for(ctx: NodeContext, authorization: str) -> tuple[str, str] | None:
    """``(platform_id, token)`` for a token C (Base64 or raw), else None."""
    for token in ocpi.token_candidates(ocpi.token_from_header(authorization)):
        pid = ctx.platforms.platform_id_by_token(token)
        if pid is not None:
            return pid, token
    return None


def grant_for(ctx: NodeContext, authorization: str) -> tuple[RegistrationGrant, str] | None:
    """``(grant, token)`` for an unexpired token A, else None."""
    for token in ocpi.token_candidates(ocpi.token_from_header(authorization)):
        grant = ctx.platforms.grant(token)
        if grant is not None:
            return grant, token
    return None


def require_platform(ctx: NodeContext, authorization: str) -> tuple[str, str]:
    """Token C or 401 (token A outside credentials/versions is 401 too, OCPI 2.2 §1.1)."""
    found = platform_for(ctx, authorization)
    if found is not None:
        return found
    if not ocpi.token_from_header(authorization):
        raise UnknownToken("Missing Authorization header 'Token <CREDENTIALS_TOKEN_C>'")
    if grant_for(ctx, authorization) is not None:
        raise UnknownToken(
            "CREDENTIALS_TOKEN_A may only be used on the credentials and versions modules"
        )
    raise UnknownToken("Invalid CREDENTIALS_TOKEN_C")
