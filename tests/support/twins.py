"""pytest parameters for both implementations of a facade (reference always, Cython when built)."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

import pytest

from ocn_core import _ext


def twins(reference: ModuleType, compiled: str) -> list[Any]:
    """``[ref, cy]`` params; a missing compiled twin is an error under OCN_CORE_REQUIRE_EXTENSIONS."""
    params: list[Any] = [pytest.param(reference, id="ref")]
    if not _ext.NO_EXTENSIONS:
        try:
            params.append(pytest.param(importlib.import_module(compiled), id="cy"))
        except ImportError:
            if _ext.REQUIRE_EXTENSIONS:
                raise
    return params
