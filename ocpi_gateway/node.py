"""Deprecated location of the composition root: use :func:`ocn_core.open_node`."""

from __future__ import annotations

import asyncio

from ocn_core.engine import Engine
from ocn_core.node import open_node as build_engine


def start_registry_sync(engine: Engine, follow: bool = True) -> asyncio.Task[None] | None:
    """:meth:`Engine.start_registry_sync` (kept for callers of the old name)."""
    return engine.start_registry_sync(follow)


__all__ = ["build_engine", "start_registry_sync"]
