"""ruff, with the rule set in pyproject.toml (``[tool.ruff]``), finds nothing in the code, its tests, the benchmarks
and the documentation's build scripts.

Run it yourself with ``ruff check src tests benchmarks docs/_ext``; many findings (import order) are fixed by
``ruff check --fix``.  The test skips when ruff is not installed, except under CI, where a missing linter is a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECKED = ("src", "tests", "benchmarks", "docs/_ext")


def _ruff() -> list[str]:
    """The ruff command: the one installed beside this Python (the ``test`` extra), else one on the PATH."""
    try:
        from ruff.__main__ import find_ruff_bin
        return [os.fsdecode(find_ruff_bin())]
    except (ImportError, FileNotFoundError):
        pass
    found = shutil.which("ruff")
    if found:
        return [found]
    if os.environ.get("CI"):
        pytest.fail("ruff is missing; .ci/run installs it with the test extra")
    pytest.skip("ruff is not installed: pip install -e '.[test]'")


def test_ruff_finds_nothing():
    cmd = [*_ruff(), "check", "--no-cache", "--output-format", "concise", *CHECKED]
    run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, f"ruff check {' '.join(CHECKED)}:\n{run.stdout}{run.stderr}"


def test_ruff_reads_the_project_rules(tmp_path):
    """The configuration is the project's: a file breaking one selected rule of each family is reported."""
    bad = tmp_path / "bad.py"
    bad.write_text("import sys\nimport os\n\n\ndef f(x=[]):\n    return 1\n" + "y = '" + "x" * 130 + "'\n",
                   encoding="utf-8")
    run = subprocess.run([*_ruff(), "check", "--no-cache", "--output-format", "concise",
                          "--config", str(ROOT / "pyproject.toml"), str(bad)],
                         cwd=ROOT, capture_output=True, text=True)
    for code in ("F401", "I001", "B006", "E501"):
        assert code in run.stdout, (code, run.stdout, run.stderr)
