"""The command line, in-process: from a PubMed and an Embase export to the analysis table and PRISMA counts."""

from __future__ import annotations

import csv
import io
import json

import pytest

from metareview.cli import main
from metareview.review.schema import LATEST_VERSION

from .conftest import EXPORTS


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def ok(capsys, *args: str):
    code, out, err = run(capsys, *args)
    assert code == 0, err
    return json.loads(out) if out.strip().startswith(("{", "[")) else out


def _fill(sheet: str, decide) -> str:
    rows = list(csv.DictReader(io.StringIO(sheet)))
    for row in rows:
        row["decision"], row["reason"] = decide(row)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def test_from_two_exports_to_analysis_table_and_prisma_counts(location, tmp_path, capsys):
    project = location
    p = ("-p", project)
    assert ok(capsys, "review", "init", "--json", project, "--name", "MRgFUS")["schema_version"] == LATEST_VERSION
    pubmed = ok(capsys, "review", "import", "--json", EXPORTS / "pubmed.nbib", *p, "--source", "PubMed")
    assert pubmed["n_malformed"] == 1
    embase = ok(capsys, "review", "import", "--json", EXPORTS / "embase.ris", *p, "--source", "Embase", "--by", "ann")
    assert (embase["format"], embase["n_records"], embase["malformed"][0]["line"]) == ("ris", 9, 142)
    report = ok(capsys, "review", "dedupe", "--json", *p, "--quiet")
    assert report["duplicates"] == 5 and report["clusters"] == 14
    queue = ok(capsys, "review", "duplicates", "--json", *p, "--queue")
    assert {(q["record_a"], q["record_b"]) for q in queue} >= {(13, 14)}
    ok(capsys, "review", "pair", "--json", "13", "14", *p, "--different", "--by", "ann", "--note", "two abstracts")

    keep = {"Magnetic resonance-guided", "Pain relief", "Focused ultrasound ablation versus", "Retreatment"}
    include = lambda row: ("include", "") if any(row["title"].startswith(k) for k in keep) and \
        "2018" != row["year"] else ("exclude", "")  # noqa: E731
    for reviewer in ("ann", "bob"):
        sheet = ok(capsys, "review", "decisions", "export", *p, "--sheet", "--stage", "ta", "--reviewer", reviewer)
        filled = tmp_path / f"{reviewer}.csv"
        filled.write_text(_fill(sheet, include), encoding="utf-8")
        written = ok(capsys, "review", "decisions", "import", "--json", filled, *p, "--reviewer", reviewer)["written"]
        assert written == 14
    assert ok(capsys, "review", "conflicts", "--json", *p) == []
    (kappa,) = ok(capsys, "review", "agreement", "--json", *p)
    assert kappa["percent_agreement"] == 100.0 and kappa["kappa"] == pytest.approx(1.0)

    for reviewer, reason in (("ann", "wrong study design"), ("bob", "wrong population")):
        ok(capsys, "review", "decide", "--json", "6", *p, "-r", reviewer, "-s", "ft", "-d", "exclude",
           "--reason", reason)
    assert [c["record"] for c in ok(capsys, "review", "conflicts", "--json", *p, "--stage", "ft")] == [6]
    assert ok(capsys, "review", "resolve", "--json", "6", *p, "-s", "ft", "-d", "exclude", "--by", "cat", "--reason",
              "wrong study design", "--note", "re-treatment series")["state"] == "excluded"
    for record in (1, 2, 3):
        for reviewer in ("ann", "bob"):
            ok(capsys, "review", "decide", "--json", str(record), *p, "-r", reviewer, "-s", "ft", "-d", "include")
    counts_path = tmp_path / "counts.json"
    ok(capsys, "review", "prisma", *p, "-o", counts_path)
    counts = json.loads(counts_path.read_text())
    assert counts == {"records_databases": {"Embase": 9, "PubMed": 10}, "duplicates_removed": 5,
                      "records_screened": 14, "records_excluded": 10, "reports_sought": 4,
                      "reports_not_retrieved": 0, "reports_assessed": 4,
                      "reports_excluded": {"wrong study design": 1}, "studies_included": 3, "reports_included": 3}

    ok(capsys, "review", "extract", "form", "--json", EXPORTS / "extraction_form.toml", *p)
    template = ok(capsys, "review", "extract", "template", *p)
    studies = [r["study"] for r in csv.DictReader(io.StringIO(template))]
    assert studies == ["Namba 2019", "Tsai 2019", "Wang 2019"]
    values = {"Namba 2019": "10,6.0,3,prospective cohort,no,InSightec",
              "Tsai 2019": "31,5.6,,retrospective cohort,no,InSightec",
              "Wang 2019": "30,6.6,3.4,RCT,yes,InSightec"}
    header = template.splitlines()[0]
    for extractor, change in (("ann", {}), ("bob", {"Tsai 2019": "31,5.8,,retrospective cohort,no,InSightec"})):
        sheet = tmp_path / f"extract-{extractor}.csv"
        sheet.write_text("\n".join([header, *(f"{s},{change.get(s, v)}" for s, v in values.items())]) + "\n")
        assert ok(capsys, "review", "extract", "import", "--json", sheet, *p, "-e", extractor)["values"] == 18
    (open_item,) = ok(capsys, "review", "discrepancies", "--json", *p)
    assert (open_item["study"], open_item["field"], open_item["values"]) == \
        ("Tsai 2019", "baseline_mean", {"ann": "5.6", "bob": "5.8"})
    code, _, err = run(capsys, "review", "export", "--json", *p, "-o", tmp_path / "analysis.csv")
    assert code == 2 and "not settled" in err
    ok(capsys, "review", "adjudicate", "--json", *p, "--study", "Tsai 2019", "--field", "baseline_mean",
       "--value", "5.6", "--by", "cat", "--reason", "Table 2")
    ok(capsys, "review", "export", "--json", *p, "-o", tmp_path / "analysis.csv")
    table = list(csv.DictReader(open(tmp_path / "analysis.csv", encoding="utf-8")))
    assert [r["study"] for r in table] == studies and table[1]["baseline_mean"] == "5.6"
    provenance = (tmp_path / "analysis.provenance.csv").read_text(encoding="utf-8")
    assert "Tsai 2019,baseline_mean,5.6,NRS 0-10,adjudicated,ann=5.6; bob=5.8,cat,Table 2,2" in provenance

    status = ok(capsys, "review", "status", "--json", *p)
    assert status["records"] == 19 and status["title_abstract"] == {"included": 4, "excluded": 10}
    toml_path = tmp_path / "counts.toml"
    ok(capsys, "review", "prisma", *p, "-o", toml_path)
    import tomllib
    assert tomllib.loads(toml_path.read_text()) == counts


def test_duplicate_management_commands(location, tmp_path, capsys):
    project = location
    p = ("-p", project)
    ok(capsys, "review", "init", "--json", project, "--single-screening")
    ok(capsys, "review", "import", "--json", EXPORTS / "scopus.ris", *p, "--source", "Scopus")
    ok(capsys, "review", "import", "--json", EXPORTS / "table_latin1.csv", *p, "--source", "WoS",
       "--map", "title=Title")
    ok(capsys, "review", "dedupe", "--json", *p)
    assert ok(capsys, "review", "merge", "--json", "6", "12", *p, "--by", "ann") == {"primary": 6, "members": [6, 12]}
    assert ok(capsys, "review", "primary", "--json", "12", *p, "--by", "ann")["primary"] == 12
    assert ok(capsys, "review", "split", "--json", "6", *p, "--by", "ann")["primary"] == 6
    clusters = ok(capsys, "review", "duplicates", "--json", *p)
    assert all(6 not in c["members"] for c in clusters)
    reasons = ok(capsys, "review", "reasons", "--json", *p, "-s", "ft", "--set", "no comparator", "--set", "animals")
    assert reasons["reasons"] == ["no comparator", "animals"]
    keywords = ok(capsys, "review", "keywords", "--json", *p, "--include", "random*", "--exclude", "rat")
    assert keywords["include"] == ["random*"]
    records = ok(capsys, "review", "export-records", *p, "--primaries")
    assert len(list(csv.DictReader(io.StringIO(records)))) == ok(capsys, "review", "status", "--json", *p)["clusters"]
    log = ok(capsys, "review", "decisions", "export", *p)
    assert log.splitlines()[0].startswith("id,record_id,stage,reviewer")


@pytest.mark.parametrize("args, message", [
    (("review", "import", "--json", "missing.ris", "--source", "X"), "cannot read"),
    (("review", "import", "--json", EXPORTS / "pubmed.nbib", "--source", "PubMed"), "already imported"),
    (("review", "decide", "--json", "1", "-r", "ann", "-s", "abstracts", "-d", "include"), "unknown screening stage"),
    (("review", "decide", "--json", "1", "-r", "ann", "-d", "perhaps"),
     "is not a decision; use include, exclude or maybe"),
    (("review", "import", "--json", EXPORTS / "table_latin1.csv", "--source", "T", "--map", "title"), "FIELD=COLUMN"),
    (("review", "prisma"), "after the last de-duplication"),
    (("review", "extract", "template"), "no extraction form"),
])
def test_errors_are_one_line_without_traceback(location, tmp_path, capsys, args, message):
    project = location
    ok(capsys, "review", "init", "--json", project)
    ok(capsys, "review", "import", "--json", EXPORTS / "pubmed.nbib", "-p", project, "--source", "PubMed")
    code, out, err = run(capsys, *args[:2], *args[2:], "-p", project)
    assert code == 2 and message in err and "Traceback" not in err


def test_missing_project_and_existing_file(tmp_path, capsys):
    code, _, err = run(capsys, "review", "status", "--json", "-p", tmp_path / "none.mrv")
    assert code == 2 and "review init" in err
    ok(capsys, "review", "init", "--json", tmp_path / "p.mrv")
    code, _, err = run(capsys, "review", "init", "--json", tmp_path / "p.mrv")
    assert code == 2 and "already exists" in err


def test_interactive_commands(location, tmp_path, capsys, monkeypatch):
    import sys

    import click

    from metareview.review import Project, run_dedupe

    from .conftest import SOURCES, screen_all

    project = location
    with Project.init(project) as p:
        for name, source in SOURCES:
            p.import_file(EXPORTS / name, source=source)
        run_dedupe(p.store)
    code, _, err = run(capsys, "review", "screen", "-p", project, "-r", "dan")
    assert code == 2 and "needs an interactive terminal" in err and "Traceback" not in err  # pytest: no tty
    keys = iter("iemmq")
    monkeypatch.setattr(click, "getchar", lambda: next(keys))
    monkeypatch.setattr("metareview.cli.cmd_review._interactive", lambda: True)
    code, out, _ = run(capsys, "review", "screen", "-p", project, "-r", "dan")
    assert code == 0 and "screened: 1 included, 0 excluded, 1 maybe" in out  # 'e' then 'm' cancels the reason
    with Project.open(project) as p:
        screen_all(p)
    ok(capsys, "review", "extract", "form", "--json", EXPORTS / "extraction_form.toml", "-p", project)
    monkeypatch.setattr(sys, "stdin", io.StringIO("twelve\n12\n6.5\n\ncase series\nno\nExAblate\n"))
    code, out, _ = run(capsys, "review", "extract", "enter", "-p", project, "-e", "ann", "--study", "Wang 2019")
    assert code == 0 and "'twelve' is not a number" in out and "6 values saved for Wang 2019" in out


def test_records_listing_shows_malformed_records_with_their_line(location, tmp_path, capsys):
    project = location
    ok(capsys, "review", "init", "--json", project)
    ok(capsys, "review", "import", "--json", EXPORTS / "scopus.ris", "-p", project, "--source", "Scopus")
    (bad,) = ok(capsys, "review", "records", "--json", "-p", project, "--malformed", "--raw")
    assert (bad["id"], bad["line"], bad["source"]) == (8, 115, "Scopus") and "Ferrer" in bad["raw"]
    (one,) = ok(capsys, "review", "records", "--json", "-p", project, "--id", "2")
    assert one["pmid"] == "31234567" and "raw" not in one


def test_import_and_dedupe_show_a_bar_per_stage_unless_quiet(tmp_path, capsys):
    project = tmp_path / "bars.mrv"
    ok(capsys, "review", "init", project)
    code, _, err = run(capsys, "review", "import", EXPORTS / "pubmed.nbib", "-p", project, "--source", "PubMed")
    assert code == 0 and "reading" in err and "storing" in err and "10/10" in err
    code, _, err = run(capsys, "review", "import", EXPORTS / "embase.ris", "-p", project, "--source", "Embase", "-q")
    assert code == 0 and err == ""
    code, _, err = run(capsys, "review", "dedupe", "-p", project)
    assert code == 0
    assert [stage for stage in ("reading records", "blocking", "comparing", "linking") if stage in err] \
        == ["reading records", "blocking", "comparing", "linking"]
    assert "19/19" in err  # every record read
    code, _, err = run(capsys, "review", "dedupe", "-p", project, "--quiet")
    assert code == 0 and err == ""


def test_import_and_dedupe_show_a_finished_bar_per_stage(tmp_path, capsys):
    """Each stage of a long command gets its own bar on standard error, and every bar ends full,
    also a stage with nothing to do (a second dedupe run writes no links)."""
    import re

    def bars(err: str) -> dict[str, tuple[int, int]]:
        found = re.findall(r"^(\w[\w ]*?)\s+\S*\s+(\d+)/(\d+)", err, re.MULTILINE)
        return {stage: (int(done), int(total)) for stage, done, total in found}

    project = tmp_path / "p.mrv"
    ok(capsys, "review", "init", project)
    code, _, err = run(capsys, "review", "import", EXPORTS / "pubmed.nbib", "-p", project, "--source", "PubMed")
    assert code == 0 and list(bars(err)) == ["reading", "storing"]
    assert all(done == total > 0 for done, total in bars(err).values()), err
    for _ in range(2):
        code, _, err = run(capsys, "review", "dedupe", "-p", project)
        assert code == 0 and list(bars(err)) == ["reading records", "blocking", "comparing", "linking"], err
        assert all(done == total > 0 for done, total in bars(err).values()), err
