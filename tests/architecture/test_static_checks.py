"""The linter and the type checker, with the project's settings in pyproject.toml, find nothing.

- ruff (``[tool.ruff]``) over the code, its tests, the benchmarks and the documentation's build scripts:
  ``ruff check src tests benchmarks docs/_ext`` (``--fix`` repairs the import order and the like);
- mypy (``[tool.mypy]``) over the public API and the statistical core (``metareview/__init__.py``, ``api``,
  ``base``, ``effectsizes``, ``pooling``, ``analyses``) and the review run (``run``): ``python -m mypy``.

Both come with the ``test`` extra.  A test skips when its tool is not installed, except under CI, where a missing
checker is a failure.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINTED = ("src", "tests", "benchmarks", "docs/_ext")


def _missing(tool: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(f"{tool} is missing; .ci/run installs it with the test extra")
    pytest.skip(f"{tool} is not installed: pip install -e '.[test]'")


def _ruff() -> list[str]:
    """The ruff beside this Python (the ``test`` extra), else one on the PATH."""
    try:
        from ruff.__main__ import find_ruff_bin
        return [os.fsdecode(find_ruff_bin())]
    except (ImportError, FileNotFoundError):
        found = shutil.which("ruff")
    if not found:
        _missing("ruff")
    return [found]


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)


def test_ruff_finds_nothing():
    run = _run([*_ruff(), "check", "--no-cache", "--output-format", "concise", *LINTED])
    assert run.returncode == 0, f"ruff check {' '.join(LINTED)}:\n{run.stdout}{run.stderr}"


def test_ruff_reads_the_project_rules(tmp_path):
    """The rules are the project's: a file breaking one selected rule of each family is reported."""
    bad = tmp_path / "bad.py"
    bad.write_text("import sys\nimport os\n\n\ndef f(x=[]):\n    return 1\n" + "y = '" + "x" * 130 + "'\n",
                   encoding="utf-8")
    run = _run([*_ruff(), "check", "--no-cache", "--output-format", "concise",
                "--config", str(ROOT / "pyproject.toml"), str(bad)])
    for code in ("F401", "I001", "B006", "E501"):
        assert code in run.stdout, (code, run.stdout, run.stderr)


def _mypy() -> list[str]:
    if importlib.util.find_spec("mypy") is None:
        _missing("mypy")
    return [sys.executable, "-m", "mypy"]


def test_mypy_finds_nothing_in_the_public_api_and_the_core():
    run = _run([*_mypy(), "--no-error-summary"])
    assert run.returncode == 0, f"python -m mypy:\n{run.stdout}{run.stderr}"


def test_mypy_covers_the_public_api_the_core_and_the_review_run():
    import tomllib
    files = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]["files"]
    want = ["src/metareview/__init__.py"] + [f"src/metareview/{p}" for p in
                                             ("api", "base", "effectsizes", "pooling", "analyses", "run")]
    assert set(want) <= set(files), files


def test_mypy_reports_a_wrong_type(tmp_path):
    """The configuration reaches the core: a wrong type in a copy of a core module is an error."""
    src = ROOT / "src" / "metareview" / "base" / "format.py"
    bad = tmp_path / "format_copy.py"
    bad.write_text(src.read_text(encoding="utf-8") + "\n\nWRONG: int = fmt(1.0)\n", encoding="utf-8")
    run = _run([*_mypy(), "--config-file", str(ROOT / "pyproject.toml"), "--no-error-summary", str(bad)])
    assert run.returncode == 1 and "Incompatible types in assignment" in run.stdout, run.stdout + run.stderr
