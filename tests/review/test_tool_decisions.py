"""Screening decisions from Rayyan and Covidence exports: matched to the project's records, mapped to its
reviewers and reasons, appended once, and every problem reported with its line."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from metareview.base.exceptions import DataError, MetaReviewError, SettingsError
from metareview.review import Project, resolve_pair, run_dedupe
from metareview.review.importers.covidence import parse_covidence
from metareview.review.importers.rayyan import parse_rayyan
from metareview.review.screening import states
from metareview.review.tool_decisions import import_tool_decisions

from .conftest import EXPORTS

NAMES = {"Ann Smith": "ann", "Bob Jones": "bob"}


@pytest.fixture
def sample(tmp_path):
    """The tutorial's sample search: PubMed and Embase, de-duplicated, the two queued pairs told apart."""
    with Project.init(tmp_path / "sample.mrv") as p:
        p.import_file(EXPORTS / "pubmed.nbib", source="PubMed")
        p.import_file(EXPORTS / "embase.ris", source="Embase")
        run_dedupe(p.store)
        resolve_pair(p.store, 13, 15, same=False, by="ann")
        resolve_pair(p.store, 13, 14, same=False, by="ann")
        yield p


def _rayyan() -> str:
    return (EXPORTS / "rayyan.csv").read_text(encoding="utf-8")


def test_rayyan_notes_are_read():
    rows = parse_rayyan(_rayyan())
    assert len(rows) == 7 and rows[0].line == 2 and rows[0].tool_id == "412001"
    assert [(v.name, v.decision) for v in rows[0].votes] == [("Ann Smith", "include"), ("Bob Jones", "include")]
    li = rows[2]
    assert li.pmid == "30876543" and li.doi is None
    assert li.votes[0].reasons == ["wrong study design", "foreign language"]
    assert rows[1].doi == "10.1016/j.acra.2018.11.014"  # resolver prefix removed
    assert rows[4].votes[1].decision == "maybe" and rows[5].votes == []


def test_rayyan_decisions_into_a_stage(sample):
    report = import_tool_decisions(sample, _rayyan(), tool="rayyan", stage="ta", names=NAMES)
    assert report == {"tool": "Rayyan", "stage": "title_abstract", "written": 12, "already_logged": 0,
                      "not_screened": 1, "reviewers": ["ann", "bob"]}
    st = states(sample, "ta")
    assert st[1].state == "included" and st[2].state == "included"
    assert st[5].state == "excluded" and st[5].reason == "wrong study design"   # first of Rayyan's reasons
    assert st[17].state == "conflict"                                            # include vs maybe
    assert st[10].state == "excluded"             # found by its title and year (the row has no DOI or PMID)
    notes = {(r["record_id"], r["reviewer"]): r["note"] for r in sample.store.decision_log()}
    assert notes[(5, "ann")] == "from Rayyan (412005); Rayyan reasons: wrong study design; foreign language"
    again = import_tool_decisions(sample, _rayyan(), tool="rayyan", stage="ta", names=NAMES)
    assert (again["written"], again["already_logged"]) == (0, 12)
    assert len(sample.store.decision_log()) == 12


def test_rayyan_problems_name_the_line(sample):
    text = _rayyan()
    unknown = text + ('412099,A trial nobody imported,,,,,,,2022,,,,"RAYYAN-INCLUSION: {""Ann Smith""=>""Included""}",'
                      '10.9999/nowhere,,\r\n')
    with pytest.raises(DataError, match="line 9: 'A trial nobody imported' is not in this project"):
        import_tool_decisions(sample, unknown, tool="rayyan", stage="ta", names=NAMES)
    with pytest.raises(DataError, match="line 5: Rayyan's reason 'not a primary study' is not one of the project's"):
        import_tool_decisions(sample, text, tool="rayyan", stage="ta", names=NAMES,
                              reasons={"not a primary study": "erratum"})
    with pytest.raises(DataError, match="line 2: 'Ann Smith' decided 'Perhaps'"):
        import_tool_decisions(sample, text.replace('""Included"", ""Bob', '""Perhaps"", ""Bob', 1), tool="rayyan",
                              stage="ta")
    with pytest.raises(DataError, match="not a Rayyan export"):
        import_tool_decisions(sample, "a,b\n1,2\n", tool="rayyan", stage="ta")
    with pytest.raises(SettingsError, match="unknown screening tool"):
        import_tool_decisions(sample, text, tool="distiller", stage="ta")
    assert sample.store.decision_log() == []   # nothing written by a rejected file
    sample.set_reasons("ta", ["wrong population", "wrong study design", "erratum"])
    report = import_tool_decisions(sample, text, tool="rayyan", stage="ta", names=NAMES,
                                   reasons={"not a primary study": "erratum"})
    assert report["written"] == 12 and states(sample, "ta")[7].reason == "erratum"


def test_covidence_votes_and_consensus(sample):
    rows = parse_covidence((EXPORTS / "covidence.csv").read_text(encoding="utf-8-sig"))
    assert len(rows) == 7 and rows[4].votes[0].resolution and rows[0].pmid == "31012345"
    report = import_tool_decisions(sample, (EXPORTS / "covidence.csv").read_text(encoding="utf-8-sig"),
                                   tool="covidence", stage="ta", names={**NAMES, "Consensus": "cat"})
    assert report["written"] == 7 and report["reviewers"] == ["ann", "bob", "cat"]
    st = states(sample, "ta")
    assert st[1].state == "included" and st[5].state == "excluded"
    assert st[2].state == "included" and st[2].resolution["reviewer"] == "cat"   # the consensus vote settled it
    assert st[2].votes["bob"]["note"] == "from Covidence (#102); single centre"
    with pytest.raises(DataError, match="line 2: vote 'Perhaps'"):
        parse_covidence("Covidence #,Title,Reviewer Name,Vote\n#1,x,Ann,Perhaps\n")
    with pytest.raises(DataError, match="not a Covidence screening export"):
        parse_covidence("Title,Vote\nx,Yes\n")


def test_full_text_needs_the_stage_and_reasons(sample):
    text = (EXPORTS / "covidence.csv").read_text(encoding="utf-8-sig")
    with pytest.raises(DataError, match="is not at the full_text stage"):
        import_tool_decisions(sample, text, tool="covidence", stage="ft", names=NAMES)


def test_cli_import_from_a_tool(sample, capsys):
    from metareview.cli import main

    path = sample.store.location
    sample.close()
    args = ["review", "decisions", "import", "--json", str(EXPORTS / "rayyan.csv"), "-p", path, "--from", "rayyan"]
    assert main(args) == 2 and "--stage" in capsys.readouterr().err
    assert main(args + ["--stage", "ta", "--name-map", "Ann Smith"]) == 2
    assert "NAME=REVIEWER" in capsys.readouterr().err
    assert main(args + ["--stage", "ta", "--name-map", "Ann Smith=ann", "--name-map", "Bob Jones=bob"]) == 0
    assert '"written": 12' in capsys.readouterr().out


_PIECES = st.sampled_from(["key", "title", "notes", "doi", "Covidence #", "Reviewer Name", "Vote", ",", "\n", '"',
                           "RAYYAN-INCLUSION: ", '{""Ann""=>""Included""}', "=>", " | ", "Yes", "No", "Consensus",
                           "RAYYAN-EXCLUSION-REASONS: ", "10.1186/s40349-019-0132-4", "x", "\r", "\x00"])


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=st.lists(_PIECES, max_size=80), reader=st.sampled_from([parse_rayyan, parse_covidence]),
       header=st.sampled_from(["", "key,title,notes,doi\n", "Covidence #,Title,Reviewer Name,Vote\n"]))
def test_tool_exports_never_crash(parts, reader, header):
    try:
        rows = reader(header + "".join(parts))
    except MetaReviewError as exc:
        assert str(exc)
        return
    for row in rows:
        assert row.line >= 2 and all(v.decision in ("include", "exclude", "maybe") for v in row.votes)
