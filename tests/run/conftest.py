"""One run of the bundled MRgFUS review, shared by the tests of this folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from metareview.cli import main

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "mrgfus-bone-metastases"


@pytest.fixture(scope="session")
def example_run(tmp_path_factory):
    """The example run in-process into a temporary folder: (output folder, results.json)."""
    out = tmp_path_factory.mktemp("mrgfus") / "output"
    code = main(["run", str(EXAMPLE), "-o", str(out), "--quiet"])
    assert code == 0
    return out, json.loads((out / "results.json").read_text(encoding="utf-8"))
