"""The node takes the initiative in credentials: it registers *with* a party, and rotates tokens.

``connect``: given a party's versions URL and the token A the party issued, the node runs the
client side of the OCPI credentials handshake (versions → details → POST credentials), for the
newest version both sides serve. The token it sends is issued first as a grant that opens only
the versions endpoints (so the party can read them during the POST) and becomes the platform's
token C once the party answered.

``rotate``: a credentials PUT to the party with a new token C. Both tokens are accepted while the
PUT is in flight; afterwards only the new one. A rotation interrupted after the party may have
taken the new token keeps both valid (the new one tracked with the platform) rather than lock
the party out. ``rotate_due`` does it for every platform whose token is older than
``Settings.credentials_rotation_interval``.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

import structlog

from ocn_core import ocpi
from ocn_core.errors import AdminError, AdminNotFound, OcnError, PeerApiError
from ocn_core.hub import credentials
from ocn_core.hub.context import NodeContext
from ocn_core.routing.table import VERSIONS
from ocn_core.state import Platform, RoleConflict
from ocn_core.state.records import CONNECTED
from ocn_core.transport import TransportError
from ocn_core.views import PlatformInfo

log = structlog.get_logger(__name__)


async def connect(
    ctx: NodeContext, versions_url: str, token_a: str, version: str = ""
) -> PlatformInfo:
    """Register the node with the party at ``versions_url``; returns the new platform's view."""
    if not versions_url.startswith(("http://", "https://")):
        raise AdminError("versions_url must be an http(s) URL")
    if not token_a or not token_a.isprintable() or len(token_a) > 64:
        raise AdminError("token_a must be a printable string of 1..64 characters")
    listing, base64_token = await _versions(ctx, versions_url, token_a)
    offered = {v.get("version") for v in listing if isinstance(v, dict)}
    chosen = [v for v in VERSIONS if v in offered and v == (version or v)]
    if not chosen:
        raise AdminError(f"No common OCPI version: the party offers {sorted(map(str, offered))}")
    version = chosen[0]
    auth_a = ocpi.authorization_header(token_a, base64_token)
    details_url = credentials.pick_version(listing, version, versions_url)
    endpoints = credentials.parse_endpoints(
        await credentials.get_ocpi(ctx, details_url, auth_a), details_url
    )
    creds_url = _credentials_url(endpoints)
    token_c, _ = ctx.platforms.issue_token_a([], ctx.settings.forward_timeout * 4)
    mine = credentials.node_credentials(ctx, token_c, version)
    answer = await _call(ctx, "POST", creds_url, auth_a, mine)
    platform = await _platform(ctx, answer, version, secrets.token_hex(8))
    try:
        ctx.platforms.register(token_c, platform, token_c)
    except RoleConflict as exc:
        raise AdminError(str(exc)) from None
    log.info("credentials_connected", platform=platform.id, version=version, url=versions_url)
    return PlatformInfo.of(platform)


async def rotate(ctx: NodeContext, platform_id: str) -> PlatformInfo:
    """Credentials PUT with a new token C; the old token is refused once the party accepted."""
    platform = ctx.platforms.platform(platform_id)
    if platform is None:
        raise AdminNotFound(f"Platform {platform_id} not found")
    creds_url = _credentials_url(platform.endpoints)
    auth = ocpi.authorization_header(platform.token_b, platform.token_b_base64)
    token_c = secrets.token_urlsafe(32)
    if not ctx.platforms.add_token_c(platform_id, token_c):  # both valid during the exchange
        raise AdminNotFound(f"Platform {platform_id} not found")
    mine = credentials.node_credentials(ctx, token_c, platform.ocpi_version, platform_id)
    # refused: the party keeps using the old token. Any other failure leaves the outcome open:
    # the new token stays valid, tracked with the platform, until the next rotation completes
    # or the platform goes.
    drop = lambda: ctx.platforms.drop_token_c(platform_id, token_c)  # noqa: E731
    answer = await _call(ctx, "PUT", creds_url, auth, mine, refused=drop)
    updated = await _platform(ctx, answer, platform.ocpi_version, platform_id)
    updated.created = platform.created
    ctx.platforms.register(None, updated, token_c, replace_id=platform_id)
    log.info("credentials_rotated", platform=platform_id)
    return PlatformInfo.of(updated)


async def rotate_due(ctx: NodeContext, now: float | None = None) -> int:
    """Rotate every platform whose token C is older than the configured interval."""
    every = ctx.settings.credentials_rotation_interval
    if every <= 0:
        return 0
    now = time.time() if now is None else now
    done = 0
    for platform in list(ctx.platforms.all()):
        if platform.token_c_issued + every > now or platform.status != CONNECTED:
            continue
        try:
            await rotate(ctx, platform.id)
            done += 1
        except (OcnError, TransportError) as exc:
            log.warning("credentials_rotation_failed", platform=platform.id, error=str(exc))
    return done


async def _versions(ctx: NodeContext, url: str, token: str) -> tuple[list[Any], bool]:
    """The party's versions list, read with token A Base64-encoded (2.2.1+) or raw (2.2)."""
    failure: PeerApiError | None = None
    for base64_token in (True, False):
        try:
            listing = await credentials.get_ocpi(
                ctx, url, ocpi.authorization_header(token, base64_token)
            )
        except PeerApiError as exc:
            failure = exc
            continue
        if isinstance(listing, list):
            return listing, base64_token
        failure = PeerApiError(f"Versions from {url} are not a list")
    assert failure is not None
    raise AdminError(failure.message)


async def _call(
    ctx: NodeContext,
    method: str,
    url: str,
    auth: str,
    body: Any,
    refused: Callable[[], None] | None = None,
) -> Any:
    """The party's answered ``data``; ``refused`` runs when the party answered no (it surely
    did not take the new credentials); a transport failure leaves the outcome open."""
    try:
        return await credentials.call_ocpi(ctx, method, url, auth, body, refused)
    except PeerApiError as exc:
        raise AdminError(f"Credentials {method}: {exc.message}") from None


async def _platform(ctx: NodeContext, answer: Any, version: str, platform_id: str) -> Platform:
    """The party's answered Credentials, checked as for a party registering with the node."""
    try:
        return await credentials.peer_platform(ctx, answer, version, platform_id, None)
    except OcnError as exc:
        raise AdminError(f"Party credentials not accepted: {exc.message}") from None


def _credentials_url(endpoints: list[Any]) -> str:
    for ep in endpoints:
        if ep.identifier == "credentials":
            return str(ep.url)
    raise AdminError("The party advertises no credentials endpoint")
