"""The implementation that is loaded is the one the environment asked for."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ocn_core import _ext

PROBE = (
    "import json, ocn_core.routing, ocn_core.registry;"
    "print(json.dumps(ocn_core.implementation_report()))"
)


def _report(**env: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OCN_CORE_")}
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={**clean, **env},
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(out.stdout))


def test_no_extensions_forces_the_pure_twins() -> None:
    report = _report(OCN_CORE_NO_EXTENSIONS="1")
    assert report["routing"] == "ref"
    assert set(report.values()) == {"ref"}


def test_compiled_twins_load_by_default() -> None:
    report = _report(OCN_CORE_REQUIRE_EXTENSIONS="1")
    assert report["routing"] == "cy"
    assert set(report.values()) == {"cy"}


def test_this_process_loaded_what_ci_asked_for() -> None:
    import ocn_core.routing

    report = ocn_core.implementation_report()
    if _ext.REQUIRE_EXTENSIONS:
        assert set(report.values()) == {"cy"}
    elif _ext.NO_EXTENSIONS:
        assert set(report.values()) == {"ref"}
    else:
        pytest.skip("neither OCN_CORE_REQUIRE_EXTENSIONS nor OCN_CORE_NO_EXTENSIONS set")
