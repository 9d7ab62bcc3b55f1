"""An export read in a second process while the first stores it: the same records, both bars, errors
raised by the import, nothing left by a failed or killed import, and no reading process left behind."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from metareview.base.exceptions import DataError
from metareview.review import Project, aside
from metareview.review.aside import ReadAside
from metareview.review.importers import open_export

from .conftest import EXPORTS
from .test_reliability import KILLED_IMPORT, _python

pytestmark = pytest.mark.skipif(not aside.can_fork(), reason="reading aside forks")

#: one export of each kind of reader: MEDLINE, RIS and tables read record by record, the others all at once
EXPORTS_READ = [("pubmed.nbib", "PubMed"), ("embase.ris", "Embase"), ("scopus.ris", "Scopus"),
                ("table_latin1.csv", "Web of Science"), ("zotero.bib", "Zotero"), ("wos.txt", "WoS"),
                ("endnote.xml", "EndNote"), ("zotero-csl.json", "CSL")]


def _contents(project: Project) -> tuple[list, list, list]:
    store = project.store
    records = [tuple(sorted(r.items())) for r in store.iter_records()]
    batches = [(b["id"], b["filename"], b["format"], b["encoding"], b["n_records"], b["n_malformed"])
               for b in store.batches()]
    return records, batches, [store.source(s)["kind"] for _, s in EXPORTS_READ if store.source(s)]


def _import_all(path: Path, monkeypatch, aside_from: int) -> tuple[tuple, list]:
    monkeypatch.setattr(aside, "ASIDE_FROM", aside_from)
    reports = []
    with Project.init(path) as project:
        for name, source in EXPORTS_READ:
            report = project.import_file(EXPORTS / name, source=source)
            reports.append((report.n_records, report.n_malformed, report.malformed, report.format, report.encoding))
        return _contents(project), reports


def test_records_read_aside_are_the_records_read_in_process(tmp_path, monkeypatch):
    here = _import_all(tmp_path / "here.mrv", monkeypatch, 2**62)
    beside = _import_all(tmp_path / "beside.mrv", monkeypatch, 0)
    assert beside == here
    assert sum(n for n, *_ in here[1]) > 40 and any(bad for _, bad, *_ in here[1])


def test_reading_and_storing_advance_together_and_each_ends_full(tmp_path, monkeypatch):
    """The reading bar is told how far the reading is and the storing bar the records stored out of those
    read so far; both end full, the reading bar first named."""
    monkeypatch.setattr(aside, "ASIDE_FROM", 0)
    monkeypatch.setattr(aside, "_CHUNK", 3)
    text = "".join(f"PMID- {i}\nTI  - Title number {i}\nAU  - Doe J\n\n" for i in range(1, 12_001))
    export = tmp_path / "big.nbib"
    export.write_text(text)
    seen = []
    with Project.init(tmp_path / "p.mrv") as project:
        report = project.import_file(export, source="PubMed",
                                     progress=lambda stage, done, total: seen.append((stage, done, total)))
    assert report.n_records == 12_000
    assert [s for s, _, _ in seen][:1] == ["reading"] and {s for s, _, _ in seen} == {"reading", "storing"}
    reading = [done for s, done, total in seen if s == "reading"]
    assert reading[-1] == 100 and reading == sorted(reading) and 0 < len(set(reading)) - 2
    storing = [(done, total) for s, done, total in seen if s == "storing"]
    assert storing[-1] == (12_000, 12_000) and all(done <= total for done, total in storing)
    assert [done for done, _ in storing] == sorted(done for done, _ in storing)
    # some records were stored before the reading had ended
    assert seen.index(("reading", 100, 100)) > seen.index(("storing", 5000, storing[0][1]))


@pytest.mark.parametrize("content, mapping, message", [
    ("Title,Year\nA study,2019\n", {"title": "Name"}, "column 'Name': the mapping names column 'Name'"),
    ("Title,Year\n", None, "no csv records found in bad.csv"),
])
def test_an_error_met_aside_is_raised_by_the_import_and_leaves_nothing(tmp_path, monkeypatch, content, mapping,
                                                                       message):
    monkeypatch.setattr(aside, "ASIDE_FROM", 0)
    export = tmp_path / "bad.csv"
    export.write_text(content)
    with Project.init(tmp_path / "p.mrv") as project:
        project.import_file(EXPORTS / "pubmed.nbib", source="PubMed")
        before = _contents(project)
        with pytest.raises(DataError, match=message) as raised:
            project.import_file(export, source="Scopus", mapping=mapping)
        assert raised.value.column == (mapping and "Name")  # the error as raised where it was met
        assert _contents(project) == before and project.store.source("Scopus") is None
        assert project.store.integrity() == "ok"


def test_the_reading_process_is_ended_when_the_import_stops_early(tmp_path, monkeypatch):
    """A reader left before its records are all taken (the import failed while storing) ends its process."""
    monkeypatch.setattr(aside, "_CHUNK", 1)
    text = "".join(f"PMID- {i}\nTI  - Title number {i}\n\n" for i in range(1, 5001))
    with ReadAside(open_export(text.encode(), format="medline")) as reader:
        pid = reader._pid
        assert next(iter(reader)).title == "Title number 1"
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # ended and reaped: there is no such process


def test_a_reading_process_that_dies_is_an_error_of_the_import(monkeypatch):
    monkeypatch.setattr(aside, "_CHUNK", 1)
    text = "".join(f"PMID- {i}\nTI  - Title number {i}\n\n" for i in range(1, 50_001))  # more than the pipe holds
    with ReadAside(open_export(text.encode(), format="medline")) as reader:
        os.kill(reader._pid, signal.SIGKILL)
        with pytest.raises(ChildProcessError, match="ended before it had read"):
            for _ in reader:
                pass
        assert reader.count < 50_000


KILLED_WHILE_READING = """
    import metareview.review.aside as aside
    aside.ASIDE_FROM = 0
    aside._CHUNK = 1
""" + KILLED_IMPORT      # the import killed while it stores, every export now read aside, a record a chunk


def _processes_naming(path: Path) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if str(path).encode() in (entry / "cmdline").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="processes are listed from /proc")
def test_an_import_killed_while_reading_aside_leaves_the_project_consistent_and_no_reader(tmp_path):
    path = tmp_path / "review.mrv"
    with Project.init(path) as project:
        project.import_file(EXPORTS / "pubmed.nbib", source="PubMed")
    export = tmp_path / "big.ris"
    export.write_text("".join(f"TY  - JOUR\nTI  - Title number {i}\nER  - \n\n" for i in range(1, 20_001)))
    proc = _python(KILLED_WHILE_READING, str(path), str(export))
    try:
        assert proc.stdout.readline().strip() == "writing", proc.stderr.read()
        assert len(_processes_naming(path)) == 2  # the importing process and the one reading beside it
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 30
    while _processes_naming(path) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _processes_naming(path) == []  # the reader found nobody listening and left
    with Project.open(path) as project:
        assert project.store.integrity() == "ok"
        assert project.store.count_records() == 10
        assert [b["source"] for b in project.store.batches()] == ["PubMed"]
        assert project.store.source("Embase") is None
        report = project.import_file(export, source="Embase")
        assert report.n_records == 20_000


def test_the_command_shows_a_reading_and_a_storing_bar_that_each_end_full(tmp_path, monkeypatch, capsys):
    import re

    from .test_cli import ok, run
    monkeypatch.setattr(aside, "ASIDE_FROM", 0)
    project = tmp_path / "p.mrv"
    ok(capsys, "review", "init", project)
    code, _, err = run(capsys, "review", "import", EXPORTS / "pubmed.nbib", "-p", project, "--source", "PubMed")
    bars = {stage: (int(done), int(total))
            for stage, done, total in re.findall(r"^(\w[\w ]*?)\s+\S*\s+(\d+)/(\d+)", err, re.MULTILINE)}
    assert code == 0 and list(bars) == ["reading", "storing"], err
    assert bars == {"reading": (100, 100), "storing": (10, 10)}, err
