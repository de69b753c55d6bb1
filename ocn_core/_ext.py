"""Pick the compiled or the pure-Python twin of a module, once, at import time.

``OCN_CORE_NO_EXTENSIONS=1`` forces the pure implementation; ``OCN_CORE_REQUIRE_EXTENSIONS=1``
makes a missing compiled module an ImportError instead of a silent fallback.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

NO_EXTENSIONS = bool(os.environ.get("OCN_CORE_NO_EXTENSIONS"))
REQUIRE_EXTENSIONS = bool(os.environ.get("OCN_CORE_REQUIRE_EXTENSIONS"))

_loaded: dict[str, str] = {}


def load(name: str, compiled: str, reference: ModuleType) -> ModuleType:
    """Return the module ``compiled`` unless disabled or absent, else ``reference``.

    ``name`` is the facade's short name in :func:`implementation_report`.
    """
    module = reference
    if not NO_EXTENSIONS:
        try:
            module = importlib.import_module(compiled)
        except ImportError:
            if REQUIRE_EXTENSIONS:
                raise
    _loaded[name] = "ref" if module is reference else "cy"
    return module


def implementation_report() -> dict[str, str]:
    """Which implementation each facade loaded: ``{"routing": "cy", ...}``."""
    return dict(_loaded)
