"""The tutorial runs: every ```python block and every `metareview` command of docs/tutorial.md, in
order, in one working directory (see conftest.py for the rules)."""

from __future__ import annotations

import json


def test_tutorial_runs(page_runner):
    ns = page_runner.run("tutorial.md")
    assert page_runner.python_blocks >= 10 and page_runner.commands >= 45
    # the numbers the page states
    assert round(ns["random"]["estimate"], 4) == 0.7863
    assert ns["res3"].k == 18
    assert [round(x, 1) for x in ns["res3"].summary().loc["random", ["estimate", "ci_low", "ci_high"]]] == \
        [-4.4, -5.0, -3.7]
    assert round(float(ns["without"].summary().loc["random", "bt_estimate"]), 2) == 0.78
    assert ns["counts"]["records_screened"] == 14
    work = page_runner.workdir / "mrgfus"          # the tutorial works in the folder `metareview example` made
    for name in ("forest-response.png", "forest-pain-3mo.pdf", "forest.svg", "funnel.png", "prisma.png",
                 "prisma-sample.svg", "prisma-sample.pdf", "forest-by-system.png", "forest-leave-one-out.png",
                 "mrgfus-report/report.html", "analysis.csv",
                 "analysis.provenance.csv", "prisma2020.csv", "included.ris"):
        assert (work / name).is_file(), name
    results = json.loads((work / "mrgfus-report" / "results.json").read_text(encoding="utf-8"))
    assert "treatment_response" in json.dumps(results)
