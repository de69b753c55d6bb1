"""CoreClient over a real gRPC channel to a separately running core (``--core grpc://…``)."""

from __future__ import annotations

from typing import Any

from ocn_core.model import RouteRequest, RouteResponse
from ocn_grpc.client import OcnClient


class GrpcCore:
    def __init__(self, target: str) -> None:
        self.client = OcnClient(target)

    async def route(self, req: RouteRequest) -> RouteResponse:
        return await self.client.route(req)

    async def admin(self, authorization: str, call: str, **kwargs: Any) -> Any:
        if call == "node_info":
            return await self.client.node_info()
        method = getattr(self.client, call)
        return await method(**kwargs, authorization=authorization)

    async def health(self) -> dict[str, Any]:
        return {"registry": await self.client.registry_status()}

    async def close(self) -> None:
        await self.client.close()
