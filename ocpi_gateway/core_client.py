"""How the gateway reaches the engine: in process (default) or over a real gRPC channel.

Both speak the ocn.v1 contract: ``route`` takes a RouteRequest and returns a RouteResponse, and
the admin calls mirror AdminService / RegistryService, answered in the engine's one JSON shape.
Measured here, one Python gRPC unary call costs more CPU than a whole lean HTTP hop, so the
in-process path is the default and ``--core grpc://HOST:PORT`` is for a core running as a
separate service.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from ocn_core.engine import Engine
from ocn_core.hub.admin_calls import run_admin_call_async
from ocn_core.model import RouteRequest, RouteResponse
from ocn_core.views import NodeInfo


class CoreClient(Protocol):
    def route(self, req: RouteRequest) -> Awaitable[RouteResponse]: ...

    async def admin(self, authorization: str, call: str, **kwargs: Any) -> Any: ...

    async def node_info(self) -> NodeInfo: ...

    async def health(self) -> dict[str, Any]: ...

    async def ready(self) -> bool: ...

    async def close(self) -> None: ...


class InProcessCore:
    """Calls the engine directly: no serialisation, no extra hop."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # the engine's own coroutine, without a wrapping frame
        self.route: Callable[[RouteRequest], Awaitable[RouteResponse]] = engine.route

    async def admin(self, authorization: str, call: str, **kwargs: Any) -> Any:
        return await run_admin_call_async(self.engine, authorization, call, kwargs)

    async def node_info(self) -> NodeInfo:
        return self.engine.node_info()

    async def health(self) -> dict[str, Any]:
        return self.engine.health()

    async def ready(self) -> bool:
        return True

    async def close(self) -> None:
        await self.engine.close()
