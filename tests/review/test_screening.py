"""Screening: dual decisions, conflicts and their resolution, agreement, CSV exchange, the terminal screen."""

from __future__ import annotations

import math

import pytest
from rich.console import Console

from metareview.base.exceptions import DataError, SettingsError
from metareview.review import Project, cohen_kappa
from metareview.review.dedupe import clusters
from metareview.review.screen_tui import highlight, keyword_pattern, run_screen
from metareview.review.screening import (
    agreement,
    conflicts,
    decide,
    export_decisions,
    import_decisions,
    resolve,
    screening_sheet,
    set_retrieval,
    states,
    study_labels,
)


def test_dual_screening_states(deduped):
    decide(deduped, 1, stage="ta", reviewer="ann", decision="include")
    assert states(deduped, "ta")[1].state == "pending"
    assert decide(deduped, 1, stage="ta", reviewer="bob", decision="include").state == "included"
    decide(deduped, 2, stage="ta", reviewer="ann", decision="include")
    assert decide(deduped, 2, stage="ta", reviewer="bob", decision="exclude", reason="wrong population").state \
        == "conflict"
    decide(deduped, 4, stage="ta", reviewer="ann", decision="maybe")
    decide(deduped, 4, stage="ta", reviewer="bob", decision="include")
    assert [c.record_id for c in conflicts(deduped, "ta")] == [2, 4]
    settled = resolve(deduped, 2, stage="ta", by="cat", decision="exclude", reason="wrong population",
                      note="paediatric cohort")
    assert settled.state == "excluded" and settled.reason == "wrong population"
    assert [c.record_id for c in conflicts(deduped, "ta")] == [4]


def test_a_duplicate_id_is_screened_through_its_primary(deduped):
    state = decide(deduped, 11, stage="ta", reviewer="ann", decision="include")  # Embase copy of record 1
    assert state.record_id == 1 and "ann" in states(deduped, "ta")[1].votes


def test_the_log_is_append_only_and_the_latest_decision_counts(deduped):
    decide(deduped, 1, stage="ta", reviewer="ann", decision="exclude")
    decide(deduped, 1, stage="ta", reviewer="ann", decision="include")
    decide(deduped, 1, stage="ta", reviewer="bob", decision="include")
    assert states(deduped, "ta")[1].state == "included"
    log = deduped.store.decision_log("title_abstract")
    assert [r["decision"] for r in log] == ["exclude", "include", "include"]
    assert all(r["created_at"] for r in log) and log[0]["created_at"] < log[1]["created_at"]


def test_decision_rules(deduped):
    with pytest.raises(DataError, match="is not a decision; use include, exclude or maybe"):
        decide(deduped, 1, stage="ta", reviewer="ann", decision="yes")
    with pytest.raises(DataError, match="not in the project's list"):
        decide(deduped, 1, stage="ta", reviewer="ann", decision="exclude", reason="boring")
    with pytest.raises(DataError, match="named reviewer"):
        decide(deduped, 1, stage="ta", reviewer=" ", decision="include")
    with pytest.raises(DataError, match="not at the full-text stage"):
        decide(deduped, 1, stage="ft", reviewer="ann", decision="include")
    with pytest.raises(DataError, match="no record 404"):
        decide(deduped, 404, stage="ta", reviewer="ann", decision="include")
    with pytest.raises(SettingsError, match="unknown screening stage"):
        decide(deduped, 1, stage="abstract", reviewer="ann", decision="include")
    for who in ("ann", "bob"):
        decide(deduped, 1, stage="ta", reviewer=who, decision="include")
    with pytest.raises(DataError, match="needs a reason"):
        decide(deduped, 1, stage="ft", reviewer="ann", decision="exclude")
    with pytest.raises(DataError, match="'exclude' only"):
        decide(deduped, 1, stage="ft", reviewer="ann", decision="include", reason="language")
    with pytest.raises(DataError, match="not 'maybe'"):
        resolve(deduped, 1, stage="ft", by="cat", decision="maybe")


def test_configurable_reasons(deduped):
    deduped.set_reasons("ft", ["no comparator", "animal study"])
    assert deduped.reasons("full_text") == ["no comparator", "animal study"]
    for who in ("ann", "bob"):
        decide(deduped, 1, stage="ta", reviewer=who, decision="include")
    decide(deduped, 1, stage="ft", reviewer="ann", decision="exclude", reason="animal study")
    decide(deduped, 1, stage="ft", reviewer="bob", decision="exclude", reason="no comparator")
    assert states(deduped, "ft")[1].state == "conflict"  # PRISMA needs one reason per report
    with pytest.raises(SettingsError, match="unique"):
        deduped.set_reasons("ft", ["a", "a"])


def test_single_screening(tmp_path):
    from .conftest import EXPORTS
    with Project.init(tmp_path / "single.mrv", reviewers_per_record=1) as p:
        p.import_file(EXPORTS / "pubmed.nbib", source="PubMed")
        assert decide(p, 1, stage="ta", reviewer="ann", decision="include").state == "included"
        assert decide(p, 2, stage="ta", reviewer="ann", decision="maybe").state == "conflict"


def test_cohen_kappa_against_hand_computation():
    # 2x2 table [[20, 5], [10, 15]]: p_o = 0.70, p_e = (25*30 + 25*20) / 50**2 = 0.50, kappa = 0.40
    a = ["in"] * 25 + ["out"] * 25
    b = ["in"] * 20 + ["out"] * 5 + ["in"] * 10 + ["out"] * 15
    result = cohen_kappa(a, b)
    assert result.percent_agreement == pytest.approx(70.0)
    assert result.expected_agreement == pytest.approx(0.5)
    assert result.kappa == pytest.approx(0.4, abs=1e-12)
    assert math.isnan(cohen_kappa(["in"] * 3, ["in"] * 3).kappa)
    with pytest.raises(ValueError):
        cohen_kappa(["in"], [])


def test_agreement_between_reviewers(deduped):
    plan = {1: ("include", "include"), 2: ("exclude", "exclude"), 3: ("include", "exclude"), 4: ("exclude", "exclude")}
    for record, (x, y) in plan.items():
        decide(deduped, record, stage="ta", reviewer="ann", decision=x)
        decide(deduped, record, stage="ta", reviewer="bob", decision=y)
    (result,) = agreement(deduped, "ta")
    assert (result.rater_a, result.rater_b, result.n) == ("ann", "bob", 4)
    assert result.percent_agreement == pytest.approx(75.0)
    # p_o = 3/4; p_e = (2*1 + 2*3) / 16 = 0.5; kappa = 0.5
    assert result.kappa == pytest.approx(0.5)


def test_decisions_csv_round_trip_into_a_fresh_project(deduped, tmp_path):
    from metareview.review import run_dedupe

    from .conftest import EXPORTS, SOURCES
    for record in (1, 2, 3):
        decide(deduped, record, stage="ta", reviewer="ann", decision="include", note="pain, primary outcome")
    decide(deduped, 4, stage="ta", reviewer="bob", decision="exclude", reason="wrong study design")
    resolve(deduped, 5, stage="ta", by="cat", decision="include", note='quotes "and, commas"')
    text = export_decisions(deduped)
    with Project.init(tmp_path / "copy.mrv") as copy:
        for name, source in SOURCES:
            copy.import_file(EXPORTS / name, source=source)
        run_dedupe(copy.store)
        assert import_decisions(copy, text) == {"written": 5, "already_logged": 0, "blank": 0}
        strip = lambda log: [{k: v for k, v in r.items() if k != "id"} for r in log]  # noqa: E731
        assert strip(copy.store.decision_log()) == strip(deduped.store.decision_log())
        assert export_decisions(copy) == text
        assert import_decisions(copy, text)["already_logged"] == 5  # importing twice changes nothing


def test_screening_sheet_filled_in_a_spreadsheet(deduped):
    import csv
    import io
    sheet = list(csv.DictReader(io.StringIO(screening_sheet(deduped, stage="ta", reviewer="ann"))))
    assert len(sheet) == 19 and {r["stage"] for r in sheet} == {"title_abstract"}
    malformed = [r for r in sheet if r["problem"]]  # malformed records are screened too, with their raw text
    assert len(malformed) == 4 and all(r["raw"] for r in malformed)
    sheet[0]["decision"], sheet[1]["decision"], sheet[1]["reason"] = "include", "Exclude", "wrong outcome"
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(sheet[0]))
    writer.writeheader()
    writer.writerows(sheet)
    assert import_decisions(deduped, buf.getvalue(), reviewer="ann") == {"written": 2, "already_logged": 0,
                                                                         "blank": 17}
    assert len(list(csv.DictReader(io.StringIO(screening_sheet(deduped, stage="ta", reviewer="ann"))))) == 17


def test_decision_import_errors_name_the_line(deduped):
    with pytest.raises(DataError, match="line 3: .* is not a decision; use include, exclude or maybe"):
        import_decisions(deduped, "record_id,decision\n1,include\n2,perhaps\n", reviewer="ann", stage="ta")
    assert deduped.store.decision_log() == []  # the good row before it was not written either
    with pytest.raises(DataError, match="no reviewer column"):
        import_decisions(deduped, "record_id,decision,stage\n1,include,ta\n")
    with pytest.raises(DataError, match="another project"):
        import_decisions(deduped, "record_id,decision,title\n1,include,Some other title\n", reviewer="a", stage="ta")
    with pytest.raises(DataError, match="not a number"):
        import_decisions(deduped, "record_id,decision\nx,include\n", reviewer="a", stage="ta")


def test_retrieval_and_study_labels(deduped):
    for record in (1, 3, 6):
        for who in ("ann", "bob"):
            decide(deduped, record, stage="ta", reviewer=who, decision="include")
    with pytest.raises(DataError, match="not included at title/abstract"):
        set_retrieval(deduped, 2, retrieved=False, by="ann")
    set_retrieval(deduped, 6, retrieved=False, by="ann", note="library has no access")
    assert sorted(states(deduped, "ft")) == [1, 3]
    for record in (1, 3):
        for who in ("ann", "bob"):
            decide(deduped, record, stage="ft", reviewer=who, decision="include")
    assert study_labels(deduped) == {1: "Namba 2019", 3: "Wang 2019"}


def test_keyword_highlighting():
    pattern = keyword_pattern(["random*", "bone"])
    assert [m.group(0) for m in pattern.finditer("Randomised trial in bone and bones")] == ["Randomised", "bone"]
    text = highlight("A randomized trial in children", ["random*"], ["children"])
    styles = {(s.start, s.end, str(s.style)) for s in text.spans}
    assert (2, 12, "bold green") in styles and (22, 30, "bold red") in styles
    assert keyword_pattern([" "]) is None


def test_interactive_screen_with_one_key_decisions(deduped):
    deduped.set_keywords(include=["ultrasound"], exclude=["radiotherapy"])
    keys = iter(["i", "e", "2", "m", "s", "x", "u", "i", "q"])
    console = Console(record=True, width=100, force_terminal=False)
    done = run_screen(deduped, stage="ta", reviewer="ann", console=console, getchar=lambda: next(keys))
    assert done == {"include": 2, "exclude": 1, "maybe": 1, "skipped": 1}
    votes = {u: s.votes["ann"] for u, s in states(deduped, "ta").items() if "ann" in s.votes}
    log = deduped.store.decision_log()
    assert [r["decision"] for r in log] == ["include", "exclude", "maybe", "include"]
    assert log[1]["reason"] == deduped.reasons("ta")[1]
    assert log[2]["record_id"] == log[3]["record_id"]  # 'u' went back to re-decide the maybe
    assert votes[log[3]["record_id"]]["decision"] == "include"
    screen = console.export_text()
    assert "Magnetic resonance-guided" in screen and "unknown key 'x'" in screen
    assert "i include" in screen


def test_interactive_screen_shows_raw_text_of_malformed_records(deduped):
    cl = clusters(deduped.store)
    for unit in sorted(cl.members):
        if unit != 9:
            decide(deduped, unit, stage="ta", reviewer="ann", decision="include")
    console = Console(record=True, width=100)
    run_screen(deduped, stage="ta", reviewer="ann", console=console, getchar=lambda: "q")
    screen = console.export_text()
    assert "could not be parsed" in screen and "Record cut off" in screen
