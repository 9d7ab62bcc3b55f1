"""Dual risk-of-bias assessment: sheets, discrepancies per question and domain, adjudication, export."""

from __future__ import annotations

import csv
import io

import pytest

from metareview.appraisal.rob import read_robvis
from metareview.base.exceptions import DataError, SettingsError
from metareview.review.assessment import (
    adjudicate,
    discrepancies,
    enter_answers,
    export_robvis,
    final_table,
    get_tool,
    import_answers,
    set_tool,
    template,
)
from metareview.review.screening import study_labels

from .conftest import ONTO_PROJECT

LOW_ANSWERS = {"1.1": "Y", "1.2": "Y", "1.3": "N", "2.1": "N", "2.2": "N", "2.6": "Y", "3.1": "Y", "4.1": "N",
               "4.2": "N", "4.3": "N", "5.1": "Y", "5.2": "N", "5.3": "N"}


def _sheet(project, answers_by_study, support=None):
    rows = list(csv.DictReader(io.StringIO(template(project))))
    for row in rows:
        row["answer"] = answers_by_study.get(row["study"], {}).get(row["item"], "")
        if support and (row["study"], row["item"]) in support:
            row["quote"], row["page"] = support[(row["study"], row["item"])]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


@pytest.fixture
def assessed(screened):
    set_tool(screened, "rob2")
    return screened


def test_needs_a_tool_first(screened):
    with pytest.raises(SettingsError, match="review rob tool"):
        template(screened)


def test_template_lists_every_item_for_every_included_study(assessed):
    rows = list(csv.DictReader(io.StringIO(template(assessed))))
    studies = sorted(set(study_labels(assessed).values()))
    n_items = 22 + 5 + 1   # RoB 2: 22 signalling questions, 5 domains, overall
    assert len(rows) == len(studies) * n_items
    assert rows[0]["item"] == "1.1" and rows[n_items - 1]["item"] == "Overall"


def test_agreement_differences_adjudication_and_export(assessed):
    studies = sorted(set(study_labels(assessed).values()))
    a, b = studies[0], studies[1]
    ann = {s: dict(LOW_ANSWERS) for s in studies}
    bob = {s: dict(LOW_ANSWERS) for s in studies}
    bob[a]["1.2"] = "NI"      # domain 1: some concerns for bob
    bob[b]["3.1"] = "N"       # domain 3 needs 3.2 from bob, which he did not give
    quote = {(a, "1.2"): ("Allocation by sealed opaque envelopes", "p. 3")}
    assert import_answers(assessed, _sheet(assessed, ann, quote), assessor="ann") == 13 * len(studies)
    import_answers(assessed, _sheet(assessed, bob), assessor="bob")
    rows = {(r["study"], r["item"]): r for r in discrepancies(assessed)}
    assert rows[(a, "1.2")]["status"] == "differ"
    assert rows[(a, "1.2")]["support"] == {"ann": {"quote": "Allocation by sealed opaque envelopes", "page": "p. 3"}}
    assert rows[(a, "D1")]["values"] == {"ann": "Low", "bob": "Some concerns"}
    assert rows[(a, "D1")]["status"] == "differ"
    assert rows[(a, "Overall")]["status"] == "differ"
    assert rows[(b, "3.1")]["status"] == "differ"
    assert rows[(b, "D3")]["status"] == "incomplete"          # bob's path stops at 3.2
    assert rows[(studies[2], "D2")]["status"] == "agree"
    with pytest.raises(DataError, match="not settled"):
        final_table(assessed)
    # settling the questions settles their domains and the overall judgment
    adjudicate(assessed, study=a, item="1.2", value="Y", by="cat", reason="envelopes were sequentially numbered",
               quote="sequentially numbered, opaque, sealed envelopes", page="3")
    adjudicate(assessed, study=b, item="3.1", value="Y", by="cat", reason="2 of 40 lost to follow-up")
    rows = {(r["study"], r["item"]): r for r in discrepancies(assessed)}
    assert rows[(a, "1.2")]["status"] == "adjudicated"
    assert rows[(a, "1.2")]["adjudication_support"] == {"quote": "sequentially numbered, opaque, sealed envelopes",
                                                        "page": "3"}
    assert rows[(a, "D1")]["status"] == "derived" and rows[(a, "D1")]["final"] == "Low"
    assert rows[(a, "Overall")]["final"] == "Low"
    table = read_robvis(_frame(export_robvis(assessed)), "rob2")
    assert table.studies == tuple(studies) and set(table.overall) == {"Low"}
    # an adjudicated domain judgment stands even against the algorithm
    adjudicate(assessed, study=a, item="D5", value="High", by="cat", reason="outcome switched from trial registration")
    assert final_table(assessed).overall[0] == "High"


def _frame(text):
    import pandas as pd
    return pd.read_csv(io.StringIO(text))


def test_bad_sheets_are_rejected_whole(assessed):
    studies = sorted(set(study_labels(assessed).values()))
    answers = {s: dict(LOW_ANSWERS) for s in studies}
    answers[studies[1]]["2.1"] = "perhaps"
    with pytest.raises(DataError, match=rf"study '{studies[1]}', column '2.1': 'perhaps' is not an answer"):
        import_answers(assessed, _sheet(assessed, answers), assessor="ann")
    assert discrepancies(assessed)[0]["values"] == {}
    with pytest.raises(DataError, match="name the assessor"):
        import_answers(assessed, _sheet(assessed, {}), assessor=" ")
    bad = "study,item,answer\nNobody 2001,1.1,Y\n"
    with pytest.raises(DataError, match="not an included study"):
        import_answers(assessed, bad, assessor="ann")
    with pytest.raises(DataError, match="'D9' is not an item of RoB 2"):
        adjudicate(assessed, study=studies[0], item="D9", value="Low", by="cat", reason="x")
    with pytest.raises(DataError, match="say why"):
        adjudicate(assessed, study=studies[0], item="D1", value="Low", by="cat", reason=" ")


def test_entries_are_appended_never_overwritten(assessed):
    study = sorted(set(study_labels(assessed).values()))[0]
    enter_answers(assessed, assessor="ann", study=study, entries=[("1.1", "Y", None, None)])
    enter_answers(assessed, assessor="ann", study=study, entries=[("1.1", "PN", "quasi-random", "2")])
    current = assessed.store.current_rob_answers("rob2", "")
    assert [r["value"] for r in current if r["item"] == "1.1"] == ["PN"]
    assert assessed.store._all("SELECT count(*) AS n FROM rob_answers")[0]["n"] == 2


def test_a_blank_withdraws_a_judgment_or_a_conditional_answer_and_nothing_else(assessed):
    study = sorted(set(study_labels(assessed).values()))[0]
    low = [(k, v, None, None) for k, v in LOW_ANSWERS.items()]
    for who in ("ann", "bob"):
        enter_answers(assessed, assessor=who, study=study, entries=low)
    enter_answers(assessed, assessor="ann", study=study, entries=[("D1", "High", "baseline imbalance", "3"),
                                                                  ("2.3", "N", None, None)])
    rows = {r["item"]: r for r in discrepancies(assessed) if r["study"] == study}
    assert rows["D1"]["values"] == {"ann": "High", "bob": "Low"} and rows["2.3"]["status"] == "differ"
    enter_answers(assessed, assessor="ann", study=study, entries=[("D1", "", None, None), ("2.3", None, None, None)])
    rows = {r["item"]: r for r in discrepancies(assessed) if r["study"] == study}
    assert rows["D1"]["status"] == rows["2.3"]["status"] == rows["Overall"]["status"] == "agree"
    assert rows["D1"]["final"] == "Low"
    with pytest.raises(DataError, match="an entry needs an answer"):
        enter_answers(assessed, assessor="ann", study=study, entries=[("1.1", "", None, None)])
    with pytest.raises(DataError, match="a quote or page without an answer"):
        enter_answers(assessed, assessor="ann", study=study, entries=[("D2", "", "why", None)])


def test_tools_without_an_algorithm_take_the_assessors_judgments(screened):
    set_tool(screened, "robins-i", assessors=1)
    assert get_tool(screened).name == "ROBINS-I"
    studies = sorted(set(study_labels(screened).values()))
    for s in studies:
        enter_answers(screened, assessor="ann", study=s,
                      entries=[(f"D{i}", "Low" if i != 3 else "Moderate", None, None) for i in range(1, 8)])
    table = final_table(screened)
    assert set(table.overall) == {"Moderate"}      # the paper's rule: the worst domain


def test_cli_round_trip(screened, tmp_path, capsys):
    import json

    from metareview.cli import main
    path = screened.store.location
    assert main(["review", "rob", "tool", "--json", "rob2", "-p", path]) == 0
    sheet = tmp_path / "sheet.csv"
    assert main(["review", "rob", "template", "-p", path, "-o", str(sheet)]) == 0
    studies = sorted(set(study_labels(screened).values()))
    rows = list(csv.DictReader(sheet.open(encoding="utf-8")))
    for who, tweak in (("ann", {}), ("bob", {(studies[0], "5.1"): "N"})):
        for row in rows:
            row["answer"] = tweak.get((row["study"], row["item"]), LOW_ANSWERS.get(row["item"], ""))
        filled = tmp_path / f"{who}.csv"
        with filled.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        assert main(["review", "rob", "import", "--json", str(filled), "-p", path, "-a", who]) == 0
    capsys.readouterr()
    assert main(["review", "rob", "discrepancies", "--json", "-p", path]) == 0
    open_items = json.loads(capsys.readouterr().out)
    assert {(r["study"], r["item"]) for r in open_items} == {(studies[0], "5.1"), (studies[0], "D5"),
                                                             (studies[0], "Overall")}
    out = tmp_path / "rob.csv"
    assert main(["review", "rob", "export", "-p", path, "-o", str(out)]) == 2
    assert "not settled" in capsys.readouterr().err and not out.exists()
    assert main(["review", "rob", "adjudicate", "--json", "-p", path, "--study", studies[0], "--item", "5.1",
                 "--value", "Y", "--by", "cat", "--reason", "protocol registered before enrolment", "--page", "2"]) == 0
    assert main(["review", "rob", "export", "-p", path, "-o", str(out)]) == 0
    assert read_robvis(out, "rob2").overall == ("Low",) * len(studies)
    assert main(["review", "rob", "export", "-p", path, "-o", path]) == 2     # never onto the project
    err = capsys.readouterr().err
    assert ONTO_PROJECT[screened.store.backend] in err
    assert "Traceback" not in err


def test_cli_enter_at_the_terminal(screened, monkeypatch, capsys):
    import sys

    from metareview.cli import main
    from metareview.review.assessment import items
    path = screened.store.location
    assert main(["review", "rob", "tool", "--json", "rob2", "-p", path]) == 0
    study = sorted(set(study_labels(screened).values()))[0]
    typed = []
    for _, item, _ in items(get_tool(screened)):
        if item == "1.1":
            typed += ["maybe", "Y", "computer-generated list", "4"]      # a wrong answer is asked again
        elif item in LOW_ANSWERS:
            typed += [LOW_ANSWERS[item], "", ""]
        else:
            typed.append("")                                           # not asked / the algorithm's proposal
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(typed) + "\n"))
    assert main(["review", "rob", "enter", "-p", path, "-a", "ann", "--study", study]) == 0
    out = capsys.readouterr().out
    assert "'maybe' is not an answer to question 1.1" in out and "13 entries saved" in out
    rows = {(r["study"], r["item"]): r for r in discrepancies(screened)}
    assert rows[(study, "1.1")]["support"] == {"ann": {"quote": "computer-generated list", "page": "4"}}
    assert rows[(study, "D1")]["values"] == {"ann": "Low"}
