"""Summary of findings (report table, CSV, Word) and the grade commands."""

from __future__ import annotations

import csv
import io
import json

import pytest

import metareview as mr
from metareview.appraisal.grade import grade
from metareview.cli import main
from metareview.report.sof import SOF_COLUMNS, sof_csv, sof_docx, sof_table

pytestmark = pytest.mark.filterwarnings("ignore::metareview.base.exceptions.MetaReviewWarning")


@pytest.fixture
def assessments():
    rr = mr.metabin([12, 8, 20], [100, 90, 150], [20, 15, 30], [100, 95, 150], ["A", "B", "C"], measure="RR")
    prop = mr.metaprop([20, 30, 25], [40, 50, 45], ["A", "B", "C"])
    md = mr.metagen([-4.1, -4.6, -3.9], [0.3, 0.4, 0.35], ["a", "b", "c"], measure="MD")
    return [grade(rr, outcome="Death", baseline_risk=0.2,
                  overrides={"indirectness": ("not serious", "the trials' population is the question's"),
                             "publication_bias": ("serious", "two registered trials unpublished")},
                  rob={"A": "Low", "B": "Low", "C": "Low"}),
            grade(prop, outcome="Response", design="observational", thresholds=[0.5]),
            grade(md, outcome="Pain", thresholds=[-2], not_assessed="not assessed in the paper")]


def test_rows_in_gradepro_layout(assessments):
    table = sof_table(assessments)
    assert table.columns == list(SOF_COLUMNS)
    death, response, pain = table.rows
    rr = assessments[0].effect
    assert death[0] == "Death" and death[1] == "685 (3 studies)"
    assert death[2].startswith("⊕⊕⊕◯ Moderate")          # high, down one for publication bias
    assert death[3] == f"RR {rr['estimate']:.2f} ({rr['ci_low']:.2f} to {rr['ci_high']:.2f})"
    assert death[4] == "200 per 1,000"
    assert death[5].startswith(f"{abs(rr['difference_per_1000'][0]):,.0f} fewer per 1,000")
    assert response[5] == "{:,.0f} per 1,000 ({:,.0f} to {:,.0f})".format(*assessments[1].effect["per_1000"])
    assert response[2].startswith("⊕◯◯◯ Very low")
    assert pain[5].startswith("MD 4.") and "lower" in pain[5] and pain[2].startswith("⊕⊕⊕⊕ At most high")
    notes = " ".join(table.notes)
    assert "two registered trials unpublished" in notes and "Pain, risk of bias (not assessed): not assessed in " \
        "the paper" in notes


def test_csv_and_word(assessments, tmp_path):
    rows = list(csv.DictReader(io.StringIO(sof_csv(assessments))))
    assert [r["outcome"] for r in rows] == ["Death", "Response", "Pain"]
    assert "publication bias (rated down, serious)" in rows[0]["footnotes"]
    from docx import Document
    doc = Document(io.BytesIO(sof_docx(assessments, "Summary of findings")))
    table = doc.tables[0]
    assert table.rows[0].cells[0].text == "Outcome"
    assert table.rows[0].cells[4].text == "Anticipated absolute effects (95% CI)"
    assert [table.rows[i].cells[0].text for i in range(2, 5)] == ["Death", "Response", "Pain"]
    assert table.rows[2].cells[3].text == sof_table(assessments).rows[0][3]


DATA = "study,events,n\nNamba,8,10\nTsai,26,31\nWang B,26,30\nGiles,6,9\n"


def test_grade_command(tmp_path, capsys):
    data = tmp_path / "tr.csv"
    data.write_text(DATA, encoding="utf-8")
    assert main(["grade", str(data), "--outcome", "Response", "--design", "observational", "--threshold", "0.5",
                 "--rate", "indirectness=serious:children and adults"]) == 0
    out = capsys.readouterr().out
    assert "Indirectness      serious       [reviewer] children and adults" in out
    for suffix in ("csv", "docx", "html", "json"):
        assert main(["grade", str(data), "--outcome", "Response", "-o", str(tmp_path / f"sof.{suffix}")]) == 0
    doc = json.loads((tmp_path / "sof.json").read_text(encoding="utf-8"))
    assert doc[0]["outcome"] == "Response" and doc[0]["k"] == 4
    assert "<table" in (tmp_path / "sof.html").read_text(encoding="utf-8")
    assert main(["grade", str(data), "--outcome", "x", "-o", str(data)]) == 2
    assert data.read_text(encoding="utf-8") == DATA
    assert main(["grade", str(data), "--outcome", "x", "--rate", "indirectness=serious"]) == 2
    assert main(["grade", str(data), "--outcome", "x", "-o", str(tmp_path / "sof.txt")]) == 2


def test_ratings_logged_in_the_project(tmp_path, capsys):
    from metareview.review import Project
    path = tmp_path / "review.mrv"
    Project.init(path).close()
    data = tmp_path / "tr.csv"
    data.write_text(DATA, encoding="utf-8")
    for rating in ("serious", "very serious"):
        assert main(["review", "grade", "rate", "--json", "-p", str(path), "--outcome", "Response",
                     "--domain", "indirectness", "--rating", rating, "--reason", f"{rating}: surrogate outcome",
                     "--by", "ann"]) == 0
    capsys.readouterr()
    assert main(["review", "grade", "ratings", "--json", "-p", str(path)]) == 0
    current = json.loads(capsys.readouterr().out)
    assert [(r["domain"], r["rating"]) for r in current] == [("indirectness", "very serious")]
    assert main(["grade", str(data), "--outcome", "Response", "-p", str(path)]) == 0
    assert "very serious  [reviewer] very serious: surrogate outcome" in capsys.readouterr().out
    assert main(["review", "grade", "rate", "--json", "-p", str(path), "--outcome", "Response",
                 "--domain", "indirectness", "--rating", "serious", "--reason", " ", "--by", "ann"]) == 2
