"""One rule for a missing real component (anvil, nginx, wrk, PostgreSQL, node, the npm peers)."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def missing(reason: str) -> NoReturn:
    """Fail under CI (which installs every component), skip on a developer's partial machine."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI installs it: a missing component is a failure there)")
    pytest.skip(reason)
