"""Build the Cython extensions of ocn_core; everything else lives in pyproject.toml.

Every ``ocn_core/**/_*_cy.pyx`` is one extension. ``OCN_CORE_NO_EXTENSIONS=1`` builds none;
``OCN_CORE_REQUIRE_EXTENSIONS=1`` turns a failed compile into an error instead of a pure fallback.
"""

import os
import platform
from pathlib import Path

from setuptools import Extension, setup

NO_EXTENSIONS = bool(os.environ.get("OCN_CORE_NO_EXTENSIONS"))
REQUIRE_EXTENSIONS = bool(os.environ.get("OCN_CORE_REQUIRE_EXTENSIONS"))
if NO_EXTENSIONS and REQUIRE_EXTENSIONS:
    raise SystemExit("OCN_CORE_NO_EXTENSIONS and OCN_CORE_REQUIRE_EXTENSIONS are both set")

HERE = Path(__file__).parent
CY_SOURCES = sorted(p.relative_to(HERE).as_posix() for p in (HERE / "ocn_core").rglob("_*_cy.pyx"))


def extensions() -> list[Extension]:
    if NO_EXTENSIONS or platform.python_implementation() != "CPython":
        print("*** ocn_core: pure build ***")
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        if REQUIRE_EXTENSIONS:
            raise
        print("*** ocn_core: Cython missing, pure build ***")
        return []
    exts = [
        Extension(src[:-4].replace("/", "."), [src], optional=not REQUIRE_EXTENSIONS)
        for src in CY_SOURCES
    ]
    print("*** ocn_core: accelerated build:", ", ".join(e.name for e in exts), "***")
    return cythonize(  # type: ignore[no-any-return,no-untyped-call]
        exts,
        compiler_directives={"language_level": "3", "embedsignature": True, "binding": True},
        annotate=bool(os.environ.get("OCN_CORE_CYTHON_ANNOTATE")),
    )


setup(ext_modules=extensions())
