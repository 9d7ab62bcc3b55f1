"""The guides run: every ```python block and `metareview` command of each page (rules in conftest.py),
and the R translation table lists every function an R meta or metafor user looks for."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"

PAGES = ["index.md", "coming-from-r.md", "methods.md", "howto/rare-events.md", "howto/missing-sds.md",
         "howto/median-iqr.md", "howto/figures.md", "howto/batch.md", "howto/two-reviewers.md",
         "howto/reference-managers.md", "installation.md",
         "howto/risk-of-bias-and-grade.md", "howto/workspace.md",
         "howto/multilevel.md", "json-contract.md"]

R_FUNCTIONS = ["metaprop", "metacont", "metagen", "metabin", "update", "forest", "funnel", "metabias",
               "trimfill", "metainf", "metacum", "metareg", "rma", "escalc", "confint", "predict", "influence",
               "leave1out", "metainc", "metacor", "fitstats", "blup", "ranef", "fsn", "anova",
               "rma.mv", "vcalc", "robust"]
R_ARGUMENTS = ["sm", "method.tau", "hakn", "prediction", "level", "incr", "method.incr", "exclude", "subset",
               "byvar", "subgroup", "tau.common", "cluster", "random"]


@pytest.mark.parametrize("page", PAGES)
def test_page_runs(page_runner, page):
    page_runner.run(page)
    if page != "methods.md":   # formulas only
        assert page_runner.python_blocks + page_runner.commands > 0, f"{page} has no code that ran"


def _first_column(text: str, heading: str) -> str:
    """The first cells of the table under ``heading``."""
    section = text.split(heading, 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    return "\n".join(row.split("|")[1] for row in rows[2:])


def test_translation_table_lists_every_r_function():
    text = (DOCS / "coming-from-r.md").read_text(encoding="utf-8")
    cells = _first_column(text, "## Functions")
    missing = [f for f in R_FUNCTIONS if not re.search(rf"`{re.escape(f)}[(`]", cells)]
    assert not missing, f"R functions missing from the table: {missing}"
    args = _first_column(text, "## Arguments")
    missing = [a for a in R_ARGUMENTS if not re.search(rf"`{re.escape(a)}[` =]", args)]
    assert not missing, f"R arguments missing from the table: {missing}"
