"""The table of tau² estimators in docs/methods.md is generated from the table in the code
(``metareview.pooling.tau2.ESTIMATORS``): it fails here when an entry changed and the page was not
regenerated (python docs/_ext/estimators_table.py)."""

from __future__ import annotations

from pathlib import Path

from metareview.pooling.tau2 import ESTIMATORS

ROOT = Path(__file__).resolve().parents[2]


def test_estimators_table_is_up_to_date(ext_script):
    page = (ROOT / "docs" / "methods.md").read_text(encoding="utf-8")
    assert page == ext_script("estimators_table").render(page), \
        "docs/methods.md is stale: run python docs/_ext/estimators_table.py"


def test_every_estimator_has_a_row_with_its_name_and_source():
    page = (ROOT / "docs" / "methods.md").read_text(encoding="utf-8")
    for code, e in ESTIMATORS.items():
        row = next(line for line in page.splitlines() if line.startswith(f"| `{code}`"))
        assert e.name in row and e.citation in row


def test_a_changed_entry_makes_the_page_stale(ext_script):
    script = ext_script("estimators_table")
    page = (ROOT / "docs" / "methods.md").read_text(encoding="utf-8")
    edited = page.replace("| `HE` | Hedges |", "| `HE` | Hedge |")
    assert edited != page and script.render(edited) == page
