"""Issue 14 §4: registry sync events are log lines (here: a chain endpoint that refuses)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from structlog.testing import capture_logs

from ocn_core.adapters.ethereum_registry import EthereumRegistrySync
from ocn_core.registry import RegistryCache
from ocn_core.store import Store
from tests.support.node import free_port


async def test_a_failing_chain_endpoint_is_logged_and_marks_the_registry_stale(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path / "lmdb")
    cache = RegistryCache(store)
    sync = EthereumRegistrySync(
        cache, rpc_url=f"http://127.0.0.1:{free_port()}", registry_address="0x" + "1" * 40,
        permissions_address="0x" + "2" * 40, poll_interval=0.05, request_timeout=2,
    )  # fmt: skip
    try:
        with capture_logs() as logs:
            task = asyncio.ensure_future(sync.run())
            for _ in range(200):
                if len([e for e in logs if e["event"] == "registry_sync_failed"]) >= 2:
                    break
                await asyncio.sleep(0.02)
            task.cancel()
        failed = [e for e in logs if e["event"] == "registry_sync_failed"]
        assert len(failed) >= 2, logs
        assert failed[0]["log_level"] == "warning"
        assert "Connect" in failed[0]["error"] or "refused" in failed[0]["error"].lower()
        assert cache.status().stale
    finally:
        await sync.close()
        store.close()
