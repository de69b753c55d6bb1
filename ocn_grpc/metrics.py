"""Prometheus metrics of the gRPC edge, as a server interceptor (see :mod:`ocn_core.telemetry`).

Every call counts by method and status code with its duration, and every routed request of
``Route``, ``RouteStream`` and ``RouteBatchStream`` counts as on the HTTP edge (``edge="grpc"``):
module, interface, method, HTTP and OCPI status, latency, forward failures, partners.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from ocn_core.telemetry import Recorder

_ROUTING = "/ocn.v1.RoutingService/"


class MetricsInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.inflight = 0
        recorder.gauge("inflight", lambda: self.inflight, "grpc")

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]],
        details: grpc.HandlerCallDetails,
    ) -> Any:
        handler: Any = await continuation(details)
        if handler is None:
            return None
        method: str = details.method
        name = method.rsplit("/", 1)[-1] if method.startswith(_ROUTING) else ""
        if handler.unary_unary is not None:
            inner: Any = handler.unary_unary

            async def unary(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
                started = time.perf_counter()
                self.inflight += 1
                try:
                    response = await inner(request, context)
                except BaseException:
                    self._call(method, context, started, failed=True)
                    raise
                self._call(method, context, started)
                if name == "Route":
                    self._route(request, response, started)
                return response

            return grpc.unary_unary_rpc_method_handler(
                unary, handler.request_deserializer, handler.response_serializer
            )
        if handler.stream_stream is not None and name in ("RouteStream", "RouteBatchStream"):
            inner_stream: Any = handler.stream_stream
            batched = name == "RouteBatchStream"

            async def streams(
                requests: AsyncIterator[Any], context: grpc.aio.ServicerContext[Any, Any]
            ) -> AsyncIterator[Any]:
                started = time.perf_counter()
                pending: dict[int, deque[tuple[Any, float]]] = {}
                self.inflight += 1
                failed = True
                try:
                    noted = self._noted(requests, pending, batched)
                    async for reply in inner_stream(noted, context):
                        for resp in reply.responses if batched else (reply,):
                            waiting = pending.get(resp.call_id)
                            if waiting:
                                request, at = waiting.popleft()
                                self._route(request, resp, at)
                        yield reply
                    failed = False
                finally:
                    self._call(method, context, started, failed)

            return grpc.stream_stream_rpc_method_handler(
                streams, handler.request_deserializer, handler.response_serializer
            )
        return handler  # other streaming calls (none in ocn.v1 today) are not timed

    async def _noted(
        self,
        requests: AsyncIterator[Any],
        pending: dict[int, deque[tuple[Any, float]]],
        batched: bool,
    ) -> AsyncIterator[Any]:
        """The request stream, noting each request and its arrival by call_id."""
        async for message in requests:
            now = time.perf_counter()
            for request in message.requests if batched else (message,):
                pending.setdefault(request.call_id, deque()).append((request, now))
            yield message

    def _call(
        self,
        method: str,
        context: grpc.aio.ServicerContext[Any, Any],
        started: float,
        failed: bool = False,
    ) -> None:
        self.inflight -= 1
        code: Any = context.code()
        if code is None:
            label = "OK" if not failed else "CANCELLED" if context.cancelled() else "UNKNOWN"
        else:
            label = code.name if isinstance(code, grpc.StatusCode) else str(code)
        self.recorder.count("grpc_calls", method, label)
        self.recorder.observe("grpc_duration", time.perf_counter() - started, method)

    def _route(self, request: Any, response: Any, started: float) -> None:
        frm, to = request.from_party, request.to_party
        seconds = time.perf_counter() - started
        self.recorder.route("grpc", request.kind, request.module, request.interface_role,
                            request.method, response.status, response.ocpi_status,
                            response.error_reason, frm.country_code, frm.party_id,
                            to.country_code, to.party_id, seconds)  # fmt: skip


def interceptors(recorder: Recorder | None) -> list[grpc.aio.ServerInterceptor]:
    """The server interceptors for ``recorder`` (none when metrics are off)."""
    return [] if recorder is None else [MetricsInterceptor(recorder)]
