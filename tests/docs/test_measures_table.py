"""The table of measures in docs/methods.md is generated from the measures' own table: it fails here
when a measure was added or changed and the page was not regenerated (python docs/_ext/measures_table.py)."""

from __future__ import annotations

import importlib.util
from dataclasses import replace
from pathlib import Path

from metareview.effectsizes.measures import MEASURES

ROOT = Path(__file__).resolve().parents[2]


def _script():
    spec = importlib.util.spec_from_file_location("measures_table", ROOT / "docs" / "_ext" / "measures_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_measures_table_is_up_to_date():
    page = (ROOT / "docs" / "methods.md").read_text(encoding="utf-8")
    assert page == _script().render(page), "docs/methods.md's measures table is stale: run " \
                                           "python docs/_ext/measures_table.py"


def test_the_table_lists_every_measure_once_with_its_labels():
    table = _script().render_table()
    rows = table.splitlines()[2:]
    assert len(rows) == len(MEASURES)
    for row, m in zip(rows, MEASURES.values()):
        assert row.startswith(f"| `{m.code}`") and f"| {m.label} |" in row


def test_a_changed_measure_changes_the_table():
    script = _script()
    measures = list(MEASURES.values())
    changed = [replace(measures[0], label="Proportion, renamed")] + measures[1:]
    assert script.render_table(changed) != script.render_table()
    assert "Proportion, renamed" in script.render_table(changed)
