"""``POST /ocn/message`` from another node (ocn-node.md §2.13), verified, then delivered locally.

Checks in the reference's order and with its codes: the sending party is listed in the registry
(4001), the receiving party is connected here (4001), the node signature over the raw body
recovers to the sending party's registry operator (4003). Then a replay guard refuses a request
id the sending node already used (400/2001). The request then goes through the engine like a
local sender's (boundary checks, receiver rules, signature policy), without the sender's token,
which only its own node holds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from ocn_core import signing
from ocn_core.errors import (
    InvalidRequest,
    MethodNotAllowed,
    NodeSignatureInvalid,
    ReplayedMessage,
    UnknownReceiver,
)
from ocn_core.federation import message
from ocn_core.federation.outbound import remember, resource_id
from ocn_core.federation.replay import ReplayGuard
from ocn_core.hub.context import NodeContext
from ocn_core.hub.rewrite import next_link
from ocn_core.model import RouteKind, RouteRequest, RouteResponse
from ocn_core.routing import ModuleRoute
from ocn_core.signing._crypto import personal_digest, recover, split_rsv
from ocn_core.state.interface import ReplayClaims
from ocn_core.state.rules import Rules

Deliver = Callable[[RouteRequest, str], Awaitable[RouteResponse]]


class Inbound:
    """Receives messages for one node; owns the replay guard (opened on first use)."""

    def __init__(
        self,
        ctx: NodeContext,
        replay_dir: Path,
        open_guard: Callable[[Path, float], ReplayClaims] | None = None,
    ) -> None:
        self.ctx = ctx
        self.replay_dir = replay_dir
        self._open_guard = open_guard or ReplayGuard  # PostgreSQL's when replicas share state
        self._guard: ReplayClaims | None = None

    @property
    def guard(self) -> ReplayClaims:
        if self._guard is None:
            window = self.ctx.settings.message_replay_window
            self._guard = self._open_guard(self.replay_dir, window)
        return self._guard

    async def receive(self, req: RouteRequest, deliver: Deliver) -> RouteResponse:
        """Verify ``req`` (kind OCN_MESSAGE, raw body) and deliver what it carries."""
        ctx = self.ctx
        if req.method != "POST":
            raise MethodNotAllowed(f"{req.method} is not served on /ocn/message")
        for name, value in (("X-Request-ID", req.request_id), ("OCN-Signature", req.ocn_signature)):
            if not value:
                raise InvalidRequest(f"Missing request header '{name}'")
        msg = message.decode(req.body)
        inner = msg.request
        sender = await ctx.party(inner.from_party.country_code, inner.from_party.party_id)
        if sender is None or not sender.operator:
            raise UnknownReceiver("Sending party not registered on Open Charging Network")
        receiver = inner.to_party
        if ctx.platforms.platform_id_by_role(receiver.country_code, receiver.party_id) is None:
            raise UnknownReceiver("Recipient unknown to OCN Node entered in Registry")
        signer = node_signer(req.body, req.ocn_signature)
        if signer != sender.operator.lower():
            raise NodeSignatureInvalid("Could not verify OCN-Signature of request")
        if not self.guard.claim(signer, inner.request_id):
            raise ReplayedMessage(
                f"Message {inner.request_id} from node {signer} was already delivered"
            )
        if msg.proxy_resource and not msg.proxy_uid:
            # a node-issued URL on the other node standing for a URL of our party
            inner.kind = RouteKind.PROXIED
            inner.proxy_id = resource_id(msg.proxy_resource, inner.from_party.key, receiver.key)
        elif msg.proxy_uid and msg.proxy_resource:
            # the receiver will send its async result to the URL the other node chose for it
            if ctx.proxies.exists(msg.proxy_uid):
                raise InvalidRequest(f"proxy_uid {msg.proxy_uid} is already in use")
            ctx.proxies.put(
                msg.proxy_resource,
                receiver.key,
                inner.from_party.key,
                ctx.settings.proxy_ttl,
                msg.proxy_uid,
            )
        return await deliver(inner, signer)

    def close(self) -> None:
        if self._guard is not None:
            self._guard.close()
            self._guard = None


def node_signer(body: bytes, signature: str) -> str:
    """The lower-case address that node-signed ``body`` ("" when the signature is unusable).

    Compared in lower case: skips the EIP-55 checksum, ~10 µs per message.
    """
    try:
        raw = recover(personal_digest(body), split_rsv(signature, require_0x=False))
    except signing.SignatureError:
        return ""
    return "0x" + raw.hex()


def local_target(ctx: NodeContext, req: RouteRequest) -> tuple[str | None, str | None, Rules]:
    """The local receiver's endpoint URL, Authorization and OcnRules for (module, interface)."""
    facts = ctx.platforms.route_facts(
        "", req.from_party.key, req.to_party.key, req.module, req.interface_role.ocpi
    )
    if facts.receiver is None:
        raise UnknownReceiver("Recipient unknown to OCN Node entered in Registry")
    return facts.url, facts.auth, facts.rules


def local_receiver(ctx: NodeContext, req: RouteRequest) -> str:
    """The local platform of the OCPI-to party (4001 when it is not connected here)."""
    to = req.to_party
    found = ctx.platforms.platform_id_by_role(to.country_code, to.party_id)
    if found is None:
        raise UnknownReceiver("Recipient unknown to OCN Node entered in Registry")
    return found


def handed_out(
    ctx: NodeContext, req: RouteRequest, row: ModuleRoute | None, resp: RouteResponse
) -> RouteResponse:
    """Relay Link / Location raw to the other node, remembering them for its follow-ups."""
    if resp.status < 300 and resp.ocpi_status == 1000:
        link = resp.header("link")
        url = next_link(link) if link else None
        if url is None and req.method == "POST" and row is not None and row.location_header:
            url = resp.header("location")
        if url:
            remember(ctx, url, req.from_party.key, req.to_party.key)
    return resp
