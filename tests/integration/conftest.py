"""Integration fixtures: ``core_mode`` runs a test once per way the gateway reaches the engine."""

from __future__ import annotations

import pytest

from tests.support.node import MODES


@pytest.fixture(params=MODES)
def core_mode(request: pytest.FixtureRequest) -> str:
    """``inprocess`` (the engine called directly) or ``grpc`` (over a real gRPC channel)."""
    return str(request.param)
