"""Connection status of every party, from real events, and the HubClientInfo pushes it causes.

Events (ocn-node.md §7, OCPI 2.2.1 hubclientinfo): registration → CONNECTED, unregistration →
SUSPENDED, still-alive failure → OFFLINE (success → CONNECTED again), listed in the registry
with this node but not registered → PLANNED, and statuses other nodes report on
``PUT /ocn/client-info``. Each change is stored (:class:`ClientInfoStore`) before it is
announced; the announcement runs in the background: one PUT per target platform to every other
local platform that is CONNECTED, implements the hubclientinfo RECEIVER interface and whose
rules admit the party, and (for this node's own parties) one node-signed PUT to every other node
of the registry.
"""

from __future__ import annotations

import time

import orjson
import structlog

from ocn_core import ocpi, signing
from ocn_core.errors import InvalidRequest, SignatureError, UrlRefused
from ocn_core.federation.urlpolicy import check_url
from ocn_core.hub.context import NodeContext
from ocn_core.state.clientinfo import STATUSES, ClientInfo
from ocn_core.state.records import CONNECTED, OFFLINE, PLANNED, SUSPENDED, Platform
from ocn_core.transport import TransportError

log = structlog.get_logger(__name__)
CLIENT_INFO_PATH = "/ocn/client-info"


def _roles(platform: Platform) -> list[tuple[str, str, str]]:
    return [(r.role, r.country_code, r.party_id) for r in platform.roles]


def seed(ctx: NodeContext) -> None:
    """Records for platforms registered before client info was kept (start-up, no pushes)."""
    known = {(i.role, i.country_code, i.party_id) for i in ctx.hub.clientinfo.all()}
    for platform in ctx.platforms.all():
        if not known.issuperset(_roles(platform)):
            ctx.hub.clientinfo.set_status(
                _roles(platform), platform.status, only_new=True, when=platform.last_updated
            )


def platform_connected(
    ctx: NodeContext, platform: Platform, before: Platform | None = None
) -> None:
    """A platform registered or updated its credentials: its roles are CONNECTED.

    ``before``: the platform's record before a credentials update; roles it no longer has
    become SUSPENDED.
    """
    infos = ctx.hub.clientinfo.set_status(_roles(platform), CONNECTED)
    if before is not None:
        dropped = set(_roles(before)) - set(_roles(platform))
        infos += ctx.hub.clientinfo.set_status(sorted(dropped), SUSPENDED)
    changed(ctx, infos, platform.id)


def platform_gone(ctx: NodeContext, platform: Platform) -> None:
    """A platform unregistered (or was deleted by the operator): its roles are SUSPENDED."""
    changed(ctx, ctx.hub.clientinfo.set_status(_roles(platform), SUSPENDED), platform.id)


def platform_alive(ctx: NodeContext, platform: Platform, alive: bool) -> None:
    """Outcome of a still-alive check: CONNECTED or OFFLINE (announced only when it changed)."""
    status = CONNECTED if alive else OFFLINE
    ctx.platforms.touch(platform.id, status)
    changed(ctx, ctx.hub.clientinfo.set_status(_roles(platform), status), platform.id)


def changed(ctx: NodeContext, infos: list[ClientInfo], source: str | None = None) -> None:
    """Announce stored changes in the background (``source``: the platform that changed)."""
    if infos:
        ctx.hub.counters["clientinfo_changes"] += len(infos)
        ctx.hub.spawn(_announce(ctx, infos, source), "clientinfo_push")


async def _announce(ctx: NodeContext, infos: list[ClientInfo], source: str | None) -> None:
    await push_local(ctx, infos, source)
    mine = [i for i in infos if not i.node]
    if mine:
        await push_nodes(ctx, mine)


async def push_local(ctx: NodeContext, infos: list[ClientInfo], source: str | None) -> None:
    """PUT each ClientInfo to every other local platform that wants it (errors logged only)."""
    for target in ctx.platforms.all():
        url = target.endpoint("hubclientinfo", "RECEIVER")
        if url is None or target.id == source or target.status != CONNECTED:
            continue
        rules = ctx.hub.rules.get(target.id)
        auth = ocpi.authorization_header(target.token_b, target.token_b_base64)
        for info in infos:
            if rules.admits(info.party_key) is not None:
                continue
            target_url = ocpi.join_url(url, f"{info.country_code}/{info.party_id}")
            headers = [
                ("Authorization", auth),
                ("X-Request-ID", ocpi.request_id()),
                ("X-Correlation-ID", ocpi.request_id()),
                ("Content-Type", "application/json"),
            ]
            await _put(ctx, target_url, headers, orjson.dumps(info.ocpi()), "clientinfo_push")


async def push_nodes(ctx: NodeContext, infos: list[ClientInfo]) -> None:
    """PUT each of this node's ClientInfo changes, node-signed, to every other registry node."""
    me = ctx.node_address.lower()
    nodes = [n for n in ctx.registry.nodes() if n.operator.lower() != me and n.url]
    for info in infos:
        body = orjson.dumps(info.ocpi())
        signature = signing.node_sign(body, ctx.settings.private_key_bytes)
        headers = [
            ("OCN-Signature", signature),
            ("X-Request-ID", ocpi.request_id()),
            ("Content-Type", "application/json"),
        ]
        for node in nodes:
            try:
                await check_url(node.url, ctx.settings)  # URLs from the registry: untrusted
            except UrlRefused as exc:
                log.warning("clientinfo_node_push_refused", node=node.url, error=exc.message)
                ctx.hub.counters["clientinfo_node_push_failed"] += 1
                continue
            url = node.url.rstrip("/") + CLIENT_INFO_PATH
            await _put(ctx, url, headers, body, "clientinfo_node_push")


async def _put(
    ctx: NodeContext, url: str, headers: list[tuple[str, str]], body: bytes, what: str
) -> None:
    """One push; the outcome is counted (``<what>_ok`` / ``<what>_failed``), failures logged."""
    try:
        result = await ctx.transport.request(
            "PUT", url, headers, body, ctx.settings.forward_timeout
        )
        ok = result.status == 200
    except TransportError as exc:
        log.warning(f"{what}_failed", url=url, error=str(exc))
        ok = False
    ctx.hub.counters[f"{what}_ok" if ok else f"{what}_failed"] += 1


async def receive(ctx: NodeContext, body: bytes, signature: str) -> None:
    """Inbound ``PUT /ocn/client-info``: verify against the party's registry operator, store, push.

    Raises :class:`InvalidRequest` (malformed) or :class:`SignatureError` (not signed by the
    operator of the party's node); nothing is stored then.
    """
    data = ocpi.loads(body, "client info")
    if not isinstance(data, dict):
        raise InvalidRequest("ClientInfo must be a JSON object")
    fields = [data.get(k) for k in ("country_code", "party_id", "role", "status")]
    if not all(isinstance(v, str) for v in fields):
        raise InvalidRequest("ClientInfo needs country_code, party_id, role and status strings")
    cc, pid, role, status = (str(v) for v in fields)
    ocpi.check_party(cc, pid)
    if status not in STATUSES:
        raise InvalidRequest(f"Unknown ConnectionStatus {status!r}")
    if not signature:
        raise SignatureError("Missing OCN-Signature")
    try:
        signer = signing.node_recover(body, signature)
    except Exception:
        raise SignatureError("Could not verify OCN-Signature of client info") from None
    party = await ctx.party(cc, pid)
    if party is None or party.operator.lower() != signer.lower():
        raise SignatureError("OCN-Signature does not match the party's registry operator")
    if party.operator.lower() == ctx.node_address.lower():
        raise SignatureError("Party is served by this node; its status is not taken from others")
    infos = ctx.hub.clientinfo.set_status(
        [(role.upper(), cc, pid)], status, node=signing.get_address(signer)
    )
    if infos:
        ctx.hub.counters["clientinfo_received"] += 1
        ctx.hub.spawn(push_local(ctx, infos, None), "clientinfo_push")


def planned_search(ctx: NodeContext) -> int:
    """Roles listed with this node in the registry but not registered here become PLANNED.

    A PLANNED role whose listing went away (never registered) becomes SUSPENDED.
    """
    me = ctx.node_address.lower()
    planned: list[tuple[str, str, str]] = []
    for party in ctx.registry.parties():
        if party.operator.lower() != me:
            continue
        if ctx.platforms.platform_id_by_role(party.country_code, party.party_id) is not None:
            continue
        planned += [(role, party.country_code, party.party_id) for role in party.roles]
    infos = ctx.hub.clientinfo.set_status(planned, PLANNED, only_new=True)
    listed = set(planned)
    gone = [
        (i.role, i.country_code, i.party_id)
        for i in ctx.hub.clientinfo.all()
        if i.status == PLANNED and not i.node and (i.role, i.country_code, i.party_id) not in listed
    ]
    if gone:
        infos += ctx.hub.clientinfo.set_status(gone, SUSPENDED)
    changed(ctx, infos)
    return len(infos)


async def still_alive(ctx: NodeContext, idle: float) -> dict[str, int]:
    """GET the versions endpoint (token B) of platforms not checked for ``idle`` seconds."""
    due = time.time() - idle
    counts = {"checked": 0, "offline": 0}
    for platform in list(ctx.platforms.all()):
        if platform.status not in (CONNECTED, OFFLINE) or platform.last_updated > due:
            continue
        alive = await _versions_ok(ctx, platform)
        counts["checked"] += 1
        counts["offline"] += not alive
        platform_alive(ctx, platform, alive)
    return counts


async def _versions_ok(ctx: NodeContext, platform: Platform) -> bool:
    if not platform.versions_url or not platform.token_b:
        return False
    auth = ocpi.authorization_header(platform.token_b, platform.token_b_base64)
    headers = [("Authorization", auth), ("X-Request-ID", ocpi.request_id())]
    try:
        result = await ctx.transport.request(
            "GET", platform.versions_url, headers, b"", ctx.settings.connect_timeout
        )
        body = orjson.loads(result.body)
    except (TransportError, orjson.JSONDecodeError):
        return False
    return result.status == 200 and isinstance(body, dict) and body.get("status_code") == 1000
