"""Reliability: a killed import, concurrent writers, parsers under random input, round trips."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from metareview.base.exceptions import MetaReviewError
from metareview.review import Project, run_dedupe
from metareview.review.exchange import export_records
from metareview.review.importers import parse_bytes

from .conftest import EXPORTS, SOURCES

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _python(code: str, *args: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


KILLED_IMPORT = """
    import sys, time
    import metareview.review.store as store_module
    from metareview.review import Project

    original = store_module.Store.add_batch

    def slow(self, **kw):
        records = kw["records"]
        def stream():
            for i, rec in enumerate(records):
                if i == 5:
                    print("writing", flush=True)
                    time.sleep(120)
                yield rec
        kw["records"] = stream()
        return original(self, **kw)

    store_module.Store.add_batch = slow
    Project.open(sys.argv[1]).import_file(sys.argv[2], source="Embase")
"""


def test_a_process_killed_during_import_leaves_the_project_consistent(tmp_path):
    path = tmp_path / "review.mrv"
    with Project.init(path) as project:
        project.import_file(EXPORTS / "pubmed.nbib", source="PubMed")
    proc = _python(KILLED_IMPORT, str(path), str(EXPORTS / "embase.ris"))
    try:
        assert proc.stdout.readline().strip() == "writing", proc.stderr.read()
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    with Project.open(path) as project:
        assert project.store.integrity() == "ok"
        assert project.store.count_records() == 10
        assert [b["source"] for b in project.store.batches()] == ["PubMed"]
        assert project.store.source("Embase") is None
        report = project.import_file(EXPORTS / "embase.ris", source="Embase")  # not mistaken for a re-import
        assert report.n_records == 9 and project.store.count_records() == 19


WRITER = """
    import sys
    from metareview.review import Project
    from metareview.review.screening import decide

    path, export, source, reviewer = sys.argv[1:5]
    with Project.open(path) as project:
        report = project.import_file(export, source=source)
        ids = [r["id"] for r in project.store.iter_records(("id", "batch_id")) if r["batch_id"] == report.batch_id]
        for record in ids:
            decide(project, record, stage="ta", reviewer=reviewer, decision="include")
            decide(project, 1, stage="ta", reviewer=reviewer, decision="maybe")
    print(len(ids))
"""


def test_two_writer_processes_do_not_corrupt_the_project(tmp_path):
    path = tmp_path / "review.mrv"
    Project.init(path).close()
    Project.open(path).import_file(EXPORTS / "table_latin1.csv", source="WoS")  # record 1 exists
    procs = [_python(WRITER, str(path), str(EXPORTS / name), source, reviewer)
             for (name, source), reviewer in zip(SOURCES[:3], ("ann", "bob", "cat"))]
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        outputs.append(int(out))
    assert outputs == [10, 9, 8]
    with Project.open(path) as project:
        assert project.store.integrity() == "ok"
        assert project.store.count_records() == 5 + 27
        assert sorted(b["source"] for b in project.store.batches()) == ["Embase", "PubMed", "Scopus", "WoS"]
        log = project.store.decision_log()
        assert len(log) == 2 * 27
        assert {r["reviewer"] for r in log if r["record_id"] == 1} == {"ann", "bob", "cat"}


SAMPLES = [(EXPORTS / name).read_bytes() for name in [n for n, _ in SOURCES] + ["wos.txt", "zotero.bib", "endnote.xml",
                                                                              "zotero-csl.json", "endnote-unicode.ris"]]
FORMATS = [None, "medline", "ris", "wos", "csv", "bibtex", "endnote", "csljson"]


def _parse_or_clear_error(data: bytes, fmt: str | None) -> None:
    try:
        result = parse_bytes(data, filename="input", format=fmt)
    except MetaReviewError as exc:
        assert str(exc)
        return
    assert result.records
    for rec in result.records:
        assert rec.line >= 1 and isinstance(rec.raw, str)
        assert rec.status in ("ok", "malformed") and (rec.status == "ok") == (rec.problem is None)


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=600), fmt=st.sampled_from(FORMATS))
def test_parsers_on_random_bytes(data, fmt):
    _parse_or_clear_error(data, fmt)


_ALPHABET = st.sampled_from(list("TYERAUPMIDLN -\n\r,;\"\t\ufeff0123456789abc") + ["TY  - ", "ER  - ", "PMID- ",
                                                                                    "      ", "AU  - ", "\n\n",
                                                                                    "PT J\n", "\nER\n", "FN ", "EF",
                                                                                    "@article{", "@string{", "}", "{",
                                                                                    " = ", "title", "\\\"", "\\",
                                                                                    "<record>", "</record>", "<title>",
                                                                                    "<xml><records>", "[", "]", "{\"",
                                                                                    "\":", "\\u00e9", "\xff\xfe"])


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=st.lists(_ALPHABET, max_size=120), fmt=st.sampled_from(FORMATS))
def test_parsers_on_export_like_text(parts, fmt):
    _parse_or_clear_error("".join(parts).encode("utf-8"), fmt)


@settings(max_examples=120, deadline=None, database=None)
@given(sample=st.sampled_from(range(len(SAMPLES))), cut=st.floats(0, 1), junk=st.binary(max_size=20),
       fmt=st.sampled_from(FORMATS))
def test_parsers_on_truncated_and_corrupted_exports(sample, cut, junk, fmt):
    data = SAMPLES[sample]
    at = int(len(data) * cut)
    _parse_or_clear_error(data[:at] + junk, fmt)


FIELDS = ("title", "authors", "year", "journal", "volume", "issue", "pages", "doi", "pmid", "abstract", "keywords",
          "type")


def test_records_export_import_round_trip_loses_nothing(deduped, tmp_path):
    exported = tmp_path / "records.csv"
    exported.write_text(export_records(deduped), encoding="utf-8")
    with Project.init(tmp_path / "copy.mrv") as copy:
        report = copy.import_file(exported, source="Everything")
        assert report.n_records == 32
        originals = list(deduped.store.iter_records())
        copies = list(copy.store.iter_records())
        for a, b in zip(originals, copies):
            assert {k: a[k] for k in FIELDS} == {k: b[k] for k in FIELDS}
            assert b["extra"]["record_id"] == str(a["id"]) and b["extra"]["source"] == a["source"]
            if a["status"] == "malformed":
                assert b["extra"]["raw"] == a["raw"] and b["extra"]["problem"] == a["problem"]
        run_dedupe(copy.store)
        from metareview.review import clusters
        groups = lambda store: sorted(clusters(store).members.values())  # noqa: E731
        assert groups(copy.store) == groups(deduped.store)


@pytest.mark.parametrize("name", [n for n, _ in SOURCES])
def test_every_sample_line_belongs_to_a_record(name):
    """Nothing in an export is silently dropped: each non-blank line is in some record's raw text."""
    result = parse_bytes((EXPORTS / name).read_bytes(), filename=name)
    text = "\n".join(r.raw for r in result.records)
    lines = (EXPORTS / name).read_bytes().decode(result.encoding).splitlines()
    if result.format == "csv":
        lines = lines[1:]  # the header row
    for line in lines:
        if line.strip():
            assert line.lstrip("\ufeff").rstrip("\r") in text


_SHEET = st.sampled_from(["record_id", "decision", "reason", "stage", "reviewer", "title", "include", "exclude",
                          "maybe", "ta", "ft", "1", "2", "x", ",", "\n", '"', "\x00", "\r", "wrong outcome", " "])


@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(parts=st.lists(_SHEET, max_size=60))
def test_decision_and_extraction_sheets_never_crash(screened, parts):
    from metareview.review.extraction import import_values, load_form, set_form
    from metareview.review.screening import import_decisions

    text = "".join(parts)
    for call in (lambda: import_decisions(screened, text, reviewer="ann", stage="ta"),
                 lambda: import_decisions(screened, "record_id,decision\n" + text),
                 lambda: import_values(screened, "study,n\n" + text, extractor="ann")):
        if screened.store.get_setting("extraction_form") is None:
            set_form(screened, load_form("[[field]]\nname = 'n'\ntype = 'integer'\n"))
        try:
            call()
        except MetaReviewError as exc:
            assert str(exc)


@settings(max_examples=100, deadline=None, database=None)
@given(text=st.text(max_size=200))
def test_forms_from_random_text_get_a_clear_error(text):
    from metareview.review.extraction import load_form
    try:
        load_form(text)
    except MetaReviewError as exc:
        assert str(exc)
