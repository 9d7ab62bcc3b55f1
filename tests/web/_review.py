"""The review tests' sample project helpers (tests/review/conftest.py), for the workspace tests.

``tests`` is not a package, so the review tests' conftest is loaded from its path.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

_PATH = Path(__file__).resolve().parents[1] / "review" / "conftest.py"


def review_helpers() -> ModuleType:
    """``SOURCES``, ``EXPORTS`` and ``screen_all`` (dual screening of the sample project to the end)."""
    spec = importlib.util.spec_from_file_location("review_conftest", _PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
