"""What the hub behaviours of issue 13 share: their stores, counters and background tasks."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

import structlog

from ocn_core.config import Settings
from ocn_core.hub.limits import PartnerLimits
from ocn_core.state.clientinfo import ClientInfoStore
from ocn_core.state.hubdata import HubDataStore
from ocn_core.state.interface import ClientInfoState, HubDataState, HubStores, RulesState
from ocn_core.state.rules import RulesStore
from ocn_core.store import Store

if TYPE_CHECKING:
    from ocn_core.hub.broadcast import Fanout

log = structlog.get_logger(__name__)


class HubState:
    """Stores of rules, client info and hub data; per-process counters; fire-and-forget tasks."""

    def __init__(self, store: Store, settings: Settings, stores: HubStores | None = None) -> None:
        self.rules: RulesState = stores.rules if stores else RulesStore(store)
        self.clientinfo: ClientInfoState = stores.clientinfo if stores else ClientInfoStore(store)
        self.data: HubDataState = stores.data if stores else HubDataStore(store)
        self.limits = PartnerLimits(settings)
        self.counters: Counter[str] = Counter()
        self.tasks: set[asyncio.Task[Any]] = set()
        self.fanout: Fanout | None = None  # created with the settings on first broadcast

    def spawn(self, work: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run ``work`` in the background; failures are logged and counted, never raised."""
        task = asyncio.ensure_future(self._guard(work, name))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def _guard(self, work: Coroutine[Any, Any, Any], name: str) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception:
            self.counters[f"{name}_failed"] += 1
            log.exception("hub_task_failed", task=name)

    def totals(self) -> dict[str, int]:
        """This process's event counts since start (broadcasts, fan-out drops, pushes, limits)."""
        return {**self.counters, **self.limits.counters()}

    def queued(self) -> int:
        """Broadcast deliveries waiting in this process's fan-out queues now."""
        fanout = self.fanout
        return sum(fanout.pending.values()) if fanout is not None else 0

    def health(self) -> dict[str, int]:
        """Counters of this process (:meth:`totals`) and ``fanout_queued`` (:meth:`queued`)."""
        return {**self.totals(), "fanout_queued": self.queued()}

    async def drain(self) -> None:
        """Wait for the background tasks started so far (tests, shutdown)."""
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*list(self.tasks), return_exceptions=True)
