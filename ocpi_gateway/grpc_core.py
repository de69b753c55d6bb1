"""CoreClient over a real gRPC channel to a separately running core (``--core grpc://…``).

Failures of the channel never reach the parties as tracebacks: a routed request whose core is
unavailable, or did not answer within its deadline, gets the node's OCPI error envelope with
its routing headers (HTTP 503 / 504, OCPI 3000); admin and health calls raise the matching
OcnError. The channel reconnects by itself, so the gateway may start before its core.
"""

from __future__ import annotations

from typing import Any

import grpc

from ocn_core.config import Settings
from ocn_core.errors import AdminError, CoreTimeout, CoreUnavailable, OcnError
from ocn_core.hub.admin_calls import CALLS, result_json
from ocn_core.hub.responses import error
from ocn_core.model import RouteRequest, RouteResponse
from ocn_core.views import NodeInfo, to_json
from ocn_grpc.client import OcnClient


def channel_error(err: grpc.aio.AioRpcError) -> OcnError:
    """The node error for a failed call to the core."""
    if err.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
        return CoreTimeout("The node's core did not answer in time")
    return CoreUnavailable(f"The node's core is unavailable ({err.code().name})")


class GrpcCore:
    def __init__(self, target: str, settings: Settings | None = None) -> None:
        settings = settings or Settings()
        self.client = OcnClient(
            target,
            timeout=settings.core_timeout,
            route_timeout=settings.forward_timeout + settings.core_timeout,
            # connect / rotate: a few sequential calls to the party (versions, details,
            # credentials, the party's own versions), each bounded by forward_timeout
            party_timeout=6 * settings.forward_timeout + settings.core_timeout,
        )
        self._hub = (settings.country_code, settings.party_id)

    async def route(self, req: RouteRequest) -> RouteResponse:
        try:
            return await self.client.route(req)
        except grpc.aio.AioRpcError as err:
            return error(req, channel_error(err), self._hub)

    async def admin(self, authorization: str, call: str, **kwargs: Any) -> Any:
        if call not in CALLS:
            raise AdminError(f"Unknown admin call {call!r}")
        method = getattr(self.client, call)
        try:
            result = await method(**kwargs, authorization=authorization)
        except grpc.aio.AioRpcError as err:
            raise channel_error(err) from None
        except (TypeError, KeyError, ValueError) as exc:
            raise AdminError(f"Missing or invalid arguments for {call}: {exc}") from None
        return result_json(call, result)

    async def node_info(self) -> NodeInfo:
        try:
            return await self.client.node_info()
        except grpc.aio.AioRpcError as err:
            raise channel_error(err) from None

    async def health(self) -> dict[str, Any]:
        try:
            return dict(to_json(await self.client.health_details()))
        except grpc.aio.AioRpcError as err:
            raise channel_error(err) from None

    async def ready(self) -> bool:
        """Whether the core answers now (within the call deadline)."""
        try:
            await self.client.node_info()
        except (grpc.aio.AioRpcError, OcnError):
            return False
        return True

    async def close(self) -> None:
        await self.client.close()
