"""Broadcast Push fan-out (OCPI 2.2.1 §1.6.2): one request to every party of the opposite role.

The hub has answered the sender already; here each receiver gets its own request with FROM = the
hub, TO = the receiver, the sender's raw body and the original ``{country_code}/{party_id}`` in the
URL. Receivers: the opposite role (CPO → eMSP, NSP and OTHER; eMSP → CPO; OTHER → CPO), CONNECTED,
implementing the module's Receiver interface, whose OcnRules admit the original sender for the
module. A receiver's failure is logged and counted, never relayed.

Fan-out control (issue 13.6): per receiving platform a bounded queue (requests over it are
dropped and counted) served by a bounded number of concurrent requests; identical consecutive
updates of one object (same body apart from ``last_updated``) are not broadcast again.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass

import orjson
import structlog

from ocn_core import ocpi, signing
from ocn_core.federation import outbound
from ocn_core.hub import forward, signatures
from ocn_core.hub.context import NodeContext
from ocn_core.model import InterfaceRole, PartyRef, RouteKind, RouteRequest
from ocn_core.state.records import CONNECTED

log = structlog.get_logger(__name__)

BROADCAST_MODULES = frozenset({"locations", "tariffs", "tokens"})
BROADCAST_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
OPPOSITE = {"CPO": ("EMSP", "NSP", "OTHER"), "EMSP": ("CPO",), "OTHER": ("CPO",)}
OWNER_ROLE = {"locations": "CPO", "tariffs": "CPO", "tokens": "EMSP"}
_LAST_CAP = 65536


@dataclass(frozen=True, slots=True)
class Receiver:
    """One party a broadcast goes to: local (platform id, endpoint, token B) or remote."""

    party: PartyRef
    platform: str  # local platform id, or the node URL for a party on another node
    url: str = ""  # the module's Receiver endpoint of a local platform
    auth: str = ""  # Authorization value for a local platform
    signatures: bool = False  # the receiver's rules require signed requests


def fanout(ctx: NodeContext) -> Fanout:
    """The process's :class:`Fanout` (created on first use)."""
    if ctx.hub.fanout is None:
        ctx.hub.fanout = Fanout(ctx)
    return ctx.hub.fanout


def sender_role(ctx: NodeContext, req: RouteRequest) -> str | None:
    """The role the FROM party broadcasts as: the module's owner role, else OTHER, else None."""
    platform_id = ctx.platforms.platform_id_by_role(
        req.from_party.country_code, req.from_party.party_id
    )
    platform = ctx.platforms.platform(platform_id) if platform_id else None
    if platform is None:
        return None
    roles = {r.role for r in platform.roles if r.key == req.from_party.key}
    owner = OWNER_ROLE.get(req.module, "")
    if owner in roles:
        return owner
    return "OTHER" if "OTHER" in roles else None


def receivers(ctx: NodeContext, req: RouteRequest, role: str) -> list[Receiver]:
    """Every party the broadcast of ``req`` by a ``role`` sender goes to (local and remote)."""
    wanted = OPPOSITE.get(role, ())
    sender = req.from_party.key
    found: list[Receiver] = []
    local: set[str] = set()
    for platform in ctx.platforms.all():
        url = platform.endpoint(req.module, "RECEIVER")
        rules = ctx.hub.rules.get(platform.id)
        for r in platform.roles:
            local.add(r.key)
            if r.role not in wanted or r.key == sender or url is None:
                continue
            if platform.status != CONNECTED or rules.admits(sender, req.module) is not None:
                ctx.hub.counters["broadcast_skipped"] += 1
                continue
            auth = ocpi.authorization_header(platform.token_b, platform.token_b_base64)
            party = PartyRef(r.country_code, r.party_id)
            found.append(Receiver(party, platform.id, url, auth, rules.signatures))
    # parties on other nodes (one signed /ocn/message each), unless their node reported them
    # as not CONNECTED
    me = ctx.node_address.lower()
    known = {(i.party_key, i.role): i.status for i in ctx.hub.clientinfo.all() if i.node}
    for p in ctx.registry.parties():
        key = (p.country_code + p.party_id).upper()
        if key in local or key == sender or p.operator.lower() == me or not p.node_url:
            continue
        roles = [r for r in p.roles if r in wanted]
        if not roles or all(known.get((key, r), CONNECTED) != CONNECTED for r in roles):
            continue
        found.append(Receiver(PartyRef(p.country_code, p.party_id), p.node_url.rstrip("/")))
    return found


class Fanout:
    """Per receiving platform: a bounded queue served by a bounded number of workers."""

    def __init__(self, ctx: NodeContext) -> None:
        self.ctx = ctx
        self.queue_limit = ctx.settings.fanout_queue
        self.concurrency = ctx.settings.fanout_concurrency
        self.pending: dict[str, int] = {}
        self._gates: dict[str, asyncio.Semaphore] = {}
        self._last: dict[tuple[str, str, str], bytes] = {}

    def duplicate(self, req: RouteRequest) -> bool:
        """True when ``req`` repeats the last update of the same object (``last_updated`` apart)."""
        try:
            body = orjson.loads(req.body) if req.body else None
        except orjson.JSONDecodeError:
            return False
        if isinstance(body, dict):
            body.pop("last_updated", None)
        key = (req.module, req.method, req.from_party.key + "/" + req.path_suffix)
        digest = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
        if self._last.get(key) == digest:
            return True
        if len(self._last) >= _LAST_CAP:
            self._last.clear()
        self._last[key] = digest
        return False

    def push(self, req: RouteRequest, targets: list[Receiver]) -> asyncio.Future[list[int]]:
        """Queue one request per target; the future completes when every one was answered."""
        jobs = []
        counters = self.ctx.hub.counters
        for target in targets:
            pending = self.pending.get(target.platform, 0)
            if pending >= self.queue_limit:
                counters["fanout_dropped_queue_full"] += 1
                log.warning("fanout_queue_full", receiver=target.party.key)
                continue
            self.pending[target.platform] = pending + 1
            jobs.append(self._deliver(req, target))
        return asyncio.gather(*jobs)

    async def _deliver(self, req: RouteRequest, target: Receiver) -> int:
        gate = self._gates.get(target.platform)
        if gate is None:
            gate = self._gates[target.platform] = asyncio.Semaphore(self.concurrency)
        counters = self.ctx.hub.counters
        try:
            async with gate:
                status = await deliver(self.ctx, target, leg(self.ctx, req, target))
        except Exception as exc:  # a receiver's failure stays here (TransportError and others)
            counters["broadcast_failed"] += 1
            log.warning("broadcast_delivery_failed", receiver=target.party.key, error=str(exc))
            return 0
        finally:
            left = self.pending[target.platform] - 1
            if left:
                self.pending[target.platform] = left
            else:
                del self.pending[target.platform]
        counters["broadcast_delivered" if status == 200 else "broadcast_refused"] += 1
        return status


def leg(ctx: NodeContext, req: RouteRequest, target: Receiver) -> RouteRequest:
    """The request for one receiver: FROM = hub, TO = receiver, fresh X-Request-ID.

    A leg to another node keeps FROM = the original party: the receiving node checks the sender
    against the registry, where the hub's own identity is not listed.
    """
    frm = (
        req.from_party
        if not target.url
        else PartyRef(ctx.settings.country_code, ctx.settings.party_id)
    )
    return dataclasses.replace(
        req,
        kind=RouteKind.MODULE,
        interface_role=InterfaceRole.RECEIVER,
        request_id=ocpi.request_id(),
        from_party=frm,
        to_party=target.party,
        has_from=True,
        has_to=True,
        ocn_signature="",
        authorization="",
    )


async def deliver(ctx: NodeContext, target: Receiver, request: RouteRequest) -> int:
    """Send one broadcast leg: to a local platform, or in an ``/ocn/message`` to the node of a
    party elsewhere. The HTTP status, 0 when the envelope refused it."""
    signature = ""
    if ctx.settings.signatures or target.signatures:  # the hub signs what it sends itself
        values = signatures.request_values(request, request.query, request.body)
        signature = signing.sign(values, ctx.settings.private_key_bytes).serialize()
    if target.url:
        url = ocpi.join_url(target.url, request.path_suffix)
        if request.query:
            url += "?" + request.query
        headers = forward.outbound_headers(request, target.auth, request.body, signature)
        timeout = ctx.settings.forward_timeout
        result = await ctx.transport.request(request.method, url, headers, request.body, timeout)
    else:  # a party on another node: the federation's signed /ocn/message
        result = await outbound.post(
            ctx,
            target.platform,
            request,
            query=request.query,
            body=request.body,
            signature=signature,
        )
    if result.status == 200 and forward.envelope_status(result.body) != 1000:
        return 0  # answered, but refused in the envelope
    return result.status
