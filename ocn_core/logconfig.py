"""One log pipeline: structlog, JSON by default and console on a TTY; stdlib records too.

Only entry points call :func:`configure_logging`; library modules use ``structlog.get_logger``.
Our own loggers take structlog's native path (orjson → bytes), measured at ~6-11 µs per line
against ~27 µs through stdlib's ``ProcessorFormatter``; records of other libraries (grpc,
asyncio) still flow through the stdlib handler with the same processors. Request-scoped values
(ids, parties) are bound once per request with :func:`request_context`. The per-request access
line has a direct path (:func:`access_line`) that writes what the JSON pipeline would, without
the processor chain.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import sys
import time
from collections.abc import MutableMapping
from contextvars import ContextVar
from typing import Any, BinaryIO, Protocol, cast

import orjson
import structlog

from ocn_core import _ext, _logline_ref
from ocn_core._logline_ref import AccessParts


class LogContext(Protocol):
    def log_context(self) -> dict[str, Any]: ...


# what request_context sets (hot paths may set and reset it inline)
REQUEST_CONTEXT: ContextVar[LogContext | None] = ContextVar("ocn_request_context", default=None)


class request_context:  # noqa: N801 - used like a function: ``with request_context(req):``
    """Bind ``source.log_context()`` to every log line emitted inside the block.

    One ContextVar set per request; the values are only computed when a line is written.
    A plain class rather than ``@contextmanager``: it runs once per request.
    """

    __slots__ = ("_source", "_token")

    def __init__(self, source: LogContext) -> None:
        self._source = source

    def __enter__(self) -> None:
        self._token = REQUEST_CONTEXT.set(self._source)

    def __exit__(self, *_exc: object) -> None:
        REQUEST_CONTEXT.reset(self._token)


class LineStream:
    """The JSON pipeline's stream: structlog's lines go straight out, access lines are batched.

    An access line is kept as its parts (event, fields, context, time) and rendered with the
    rest of its batch: a tight loop over a batch costs a fraction of one render per request
    between socket calls. Batching is ours, not the stream's (stderr is often unbuffered, e.g.
    PYTHONUNBUFFERED=1), and order holds: any other line written here sends the batched access
    lines out first.
    """

    # lines; more are sent at once. A batch keeps each line's parts alive until it is sent: at
    # 256 lines the allocator returned and re-mapped memory every batch (0.5-0.6 page faults
    # per request under load, ~15 % of the access log's cost); at 64 there are none
    _MAX_PENDING = 64

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.pending: list[AccessParts] = []

    def write(self, data: bytes) -> int:
        if self.pending:
            self.send_pending()
        return self.out.write(data)

    def flush(self) -> None:
        self.out.flush()

    def add(self, parts: AccessParts) -> None:
        self.pending.append(parts)
        if len(self.pending) >= self._MAX_PENDING:
            self.send_pending()

    def send_pending(self) -> None:
        pending, self.pending = self.pending, []
        self.out.write(_render(pending))
        self.out.flush()


_render = _ext.load("logline", "ocn_core._logline_cy", _logline_ref).render


_access_out: LineStream | None = None  # the JSON pipeline's stream while info lines are on
_info_off = False  # configure_logging set a level above info


def info_lines_on() -> bool:
    """Whether an info line would be written: False only while the pipeline
    :func:`configure_logging` installed drops info (callers skip building the line)."""
    if not _info_off:
        return True
    config = _STRUCTLOG_CONFIG  # (_our_pipeline's common case inline: once per request)
    if config is not None and config.default_processors is _installed_processors:
        return _installed_processors[-1] is not _json_renderer
    return not _our_pipeline()


_json_renderer: Any = None  # that pipeline's renderer
_installed_processors: list[Any] = []  # and its processor list, as structlog keeps it


def access_line(event: str, fields: dict[str, Any]) -> bool:
    """Write ``event`` with ``fields`` at info level as the JSON pipeline would (the request's
    context, bound context variables, level, ISO timestamp); False when the pipeline is not
    plain JSON with info on (the caller then logs through structlog).

    Inside an event loop the line is flushed within ``ACCESS_FLUSH_S`` (or sooner, when the
    stream's buffer fills or any other line is logged), not one write per request; outside a
    loop, at once. :func:`flush_access_lines` flushes now (the gateway does so on shutdown).
    ``fields`` and the bound request are kept until then: hand over a dict of your own.
    """
    out = _access_out
    if out is None or not _our_pipeline():
        return False  # not our JSON pipeline (or reconfigured since, e.g. to capture logs)
    # the bound request itself: its context is read when the batch is rendered (within
    # ACCESS_FLUSH_S or 64 lines; a request is not changed once it is answered)
    out.add((event, fields, REQUEST_CONTEXT.get(), _bound_contextvars(), time.time()))
    now = time.monotonic()
    if now < _flush_due[0]:  # a flush is on its way
        return True
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        out.send_pending()
        return True
    # (a flush due long ago belonged to a loop that has ended: schedule one on this loop)
    _flush_due[0] = now + 2 * ACCESS_FLUSH_S
    loop.call_later(ACCESS_FLUSH_S, flush_access_lines)
    return True


# structlog's own registries, read directly on the hot path when this version has them (the
# public calls build a config dict and walk every context variable of the context per line)
_STRUCTLOG_CONFIG: Any = getattr(structlog._config, "_CONFIG", None)
_STRUCTLOG_VARS: dict[str, ContextVar[Any]] | None = getattr(
    structlog.contextvars, "_CONTEXT_VARS", None
)
_PREFIX = len(structlog.contextvars.STRUCTLOG_KEY_PREFIX)


def _our_pipeline() -> bool:
    """structlog still renders with the JSON renderer :func:`configure_logging` installed."""
    config = _STRUCTLOG_CONFIG
    if config is not None and config.default_processors is _installed_processors:
        return _installed_processors[-1] is _json_renderer  # (the common case: as installed)
    processors = (
        getattr(config, "default_processors", None) if config is not None else None
    ) or structlog.get_config()["processors"]
    return bool(processors) and processors[-1] is _json_renderer


_NONE_BOUND: dict[str, Any] = {}  # (never changed: renderers copy before merging)


def _bound_contextvars() -> dict[str, Any]:
    """What ``structlog.contextvars.get_contextvars()`` returns (no walk when none is bound)."""
    if _STRUCTLOG_VARS is None:
        return structlog.contextvars.get_contextvars()
    if not _STRUCTLOG_VARS:  # none bound anywhere, ever
        return _NONE_BOUND
    found = ((name[_PREFIX:], var.get()) for name, var in _STRUCTLOG_VARS.items())
    return {name: value for name, value in found if value is not Ellipsis}


ACCESS_FLUSH_S = 0.05
_flush_due = [0.0]  # a flush of the access lines is scheduled and runs before this time


def flush_access_lines() -> None:
    """Write out the access lines batched so far (also at interpreter exit)."""
    _flush_due[0] = 0.0
    out = _access_out
    if out is not None:
        with contextlib.suppress(ValueError, OSError):  # a closed or broken stream
            out.send_pending()


atexit.register(flush_access_lines)


def merge_request_context(
    _logger: Any, _name: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    bound = REQUEST_CONTEXT.get()
    if bound is not None:
        for key, value in bound.log_context().items():
            event.setdefault(key, value)
    return event


def configure_logging(fmt: str = "auto", level: str = "info", cache: bool = True) -> None:
    """Install the pipeline; ``cache=False`` keeps loggers re-configurable (tests)."""
    use_console = fmt == "console" or (fmt == "auto" and sys.stderr.isatty())
    numeric = logging.getLevelName(level.upper())
    shared: list[Any] = [
        merge_request_context,
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
    ]
    stream: LineStream | None = None
    if use_console:
        renderer: Any = structlog.dev.ConsoleRenderer()
        factory: Any = structlog.PrintLoggerFactory(sys.stderr)
    else:
        renderer = structlog.processors.JSONRenderer(serializer=orjson.dumps)
        stream = LineStream(sys.stderr.buffer)
        factory = structlog.BytesLoggerFactory(cast(BinaryIO, stream))  # it uses write, flush
    global _access_out, _json_renderer, _info_off, _installed_processors
    _access_out = None if use_console or numeric > logging.INFO else stream
    _info_off = numeric > logging.INFO
    _json_renderer = renderer
    _installed_processors = [*shared, renderer]
    structlog.configure(
        processors=_installed_processors,
        logger_factory=factory,
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        cache_logger_on_first_use=cache,
    )
    foreign_renderer: Any = (
        structlog.dev.ConsoleRenderer() if use_console else structlog.processors.JSONRenderer()
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            *shared,
            structlog.stdlib.add_logger_name,
            structlog.stdlib.ExtraAdder(),
        ],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, foreign_renderer],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
