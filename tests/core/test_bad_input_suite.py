"""The bad-input suite: every command fed what a careless or unlucky user gives it.

Each case asserts the exit code, a one-line message, no traceback, input files
byte-identical afterwards and nothing left behind in the working folder (no half-written
outputs, no temporary files).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from metareview.base.exceptions import OutputError
from metareview.base.outputs import (
    MARKER,
    check_folder,
    from_spreadsheet,
    open_output,
    spreadsheet_safe,
    write_file,
    write_folder,
)
from metareview.cli import EXIT_INTERNAL, main

EXPORTS = Path(__file__).resolve().parents[1] / "data" / "exports"
EXAMPLE = Path(__file__).resolve().parents[2] / "src" / "metareview" / "data" / "examples" / "mrgfus-bone-metastases"

GOOD = "study,events,n\nNamba,8,10\nTsai,26,31\nWang B,26,30\n"


def _snapshot(folder: Path) -> dict[str, str]:
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            out[str(p.relative_to(folder))] = hashlib.sha256(p.read_bytes()).hexdigest()
        elif p.is_dir():
            out[str(p.relative_to(folder)) + "/"] = ""
    return out


@pytest.fixture
def cli(tmp_path, capsys, monkeypatch):
    """Run a command in-process from ``tmp_path``; check what every case must satisfy."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path.parent / f"{tmp_path.name}-cache"))

    def run(*args, code: int, says: str | None = None, creates: tuple[str, ...] = (),
            changes: tuple[str, ...] = ()):
        before = _snapshot(tmp_path)
        got = main([str(a) for a in args])
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err
        assert got == code, err
        if code == 2:
            lines = [ln for ln in err.splitlines() if ln.strip()]
            assert len(lines) == 1 and lines[0].startswith("error: "), err
        if says is not None:
            assert says in " ".join(err.split()) + " ".join(out.split()), err + out
        after = _snapshot(tmp_path)
        changed = {k for k in before if before[k] != after.get(k)} - set(changes)
        assert not changed, f"inputs changed: {changed}"
        assert set(after) - set(before) <= set(creates), f"left behind: {set(after) - set(before)}"
        return out, err

    return run


def _write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return p


# ----------------------------------------------------------------------------- tables

def test_a_row_with_more_cells_than_the_header_is_refused_by_pool_and_batch(tmp_path, cli):
    f = _write(tmp_path, "d.csv", "analysis,study,yi,vi\na,Smith, 2019,0.1,0.01\na,Lee,0.2,0.02\n")
    cli("pool", f, code=2, says="line 2: 5 cells for 4 columns")
    cli("batch", f, "-o", tmp_path / "out.csv", "--no-progress", code=2, says="line 2: 5 cells for 4 columns")
    short = _write(tmp_path, "short.csv", "study,events,n\nA,1,10\nB,2\n")
    cli("pool", short, code=2, says="line 3: 2 cells for 3 columns")


def test_hash_lines_are_rows_not_comments(tmp_path, cli):
    f = _write(tmp_path, "d.csv", "study,events,n\n#1 Smith,3,10\nLee,4,12\nPark,5,11\n")
    out, _ = cli("pool", f, "--json", code=0)
    assert json.loads(out)["k"] == 3


def test_fractional_counts_are_refused_as_check_refuses_them(tmp_path, cli):
    f = _write(tmp_path, "d.csv", "analysis,study,events,n\na,A,2.5,10\na,B,3,10\n")
    cli("pool", f, code=2, says="study 'A', column 'events'")
    cli("batch", f, "-o", tmp_path / "out.csv", "--no-progress", code=2, says="not a whole number")


@pytest.mark.parametrize("header, says", [
    ("study,events,n,yi,vi", "fit more than one design"),
    ("study,events,n,time", "rate (events, time"),
    ("study,events,n,mean,sd", "mean (mean, n, sd"),
    ("study,yi,vi,sei", "both vi and sei"),
    ("study,events,n,sd", "does not use the column(s) sd"),
])
def test_the_design_is_never_guessed(tmp_path, cli, header, says):
    ncol = header.count(",")
    rows = "".join(f"S{i}," + ",".join(str(5 + i + j) for j in range(ncol)) + "\n" for i in range(3))
    f = _write(tmp_path, "d.csv", header + "\n" + rows)
    cli("pool", f, code=2, says=says)


def test_measure_chooses_the_design_and_the_notes_say_what_was_left_out(tmp_path, cli):
    f = _write(tmp_path, "d.csv", "study,events,n,time\nA,3,10,5\nB,4,12,6\nC,5,11,7\n")
    out, _ = cli("pool", f, "--measure", "PLO", "--json", code=0)
    doc = json.loads(out)
    assert doc["measure"] == "PLO" and any("time not used" in n for n in doc["notes"])


def test_encodings_pool_check_and_import_agree(tmp_path, cli):
    text = "study,events,n\nMüller,3,10\nGonçalves,4,12\nPérez,5,11\n"
    for name, data in (("cp1252.csv", text.encode("cp1252")), ("utf16.csv", text.encode("utf-16")),
                       ("bom.csv", text.encode("utf-8-sig"))):
        f = _write(tmp_path, name, data)
        out, _ = cli("pool", f, "--json", code=0)
        assert [s["study"] for s in json.loads(out)["studies"]] == ["Müller", "Gonçalves", "Pérez"]
        cli("check", f, code=0)
    # a UTF-8 file with one stray Latin-1 byte: the rest stays UTF-8, the line is named
    mixed = text.encode("utf-8").replace("Pérez".encode(), "Pérez".encode("latin-1"))
    f = _write(tmp_path, "mixed.csv", mixed)
    out, _ = cli("pool", f, "--json", code=0)
    doc = json.loads(out)
    assert [s["study"] for s in doc["studies"]] == ["Müller", "Gonçalves", "Pérez"]
    assert any("line 4" in n for n in doc["notes"])


@pytest.mark.parametrize("command", ["pool", "check", "forest", "batch"])
def test_empty_folder_and_binary_inputs(tmp_path, cli, command):
    extra = {"forest": ["-o", tmp_path / "f.png"], "batch": ["-o", tmp_path / "o.csv", "--no-progress"]}
    args = extra.get(command, [])
    cli(command, _write(tmp_path, "empty.csv", ""), *args, code=2, says="is empty")
    (tmp_path / "dir.csv").mkdir()
    cli(command, tmp_path / "dir.csv", *args, code=2, says="is a folder")
    cli(command, _write(tmp_path, "bin.csv", b"\x00\x01\x02study"), *args, code=2, says="looks binary")


def test_corrupt_parquet_and_spreadsheet(tmp_path, cli):
    cli("batch", _write(tmp_path, "d.parquet", b"PAR1 not really"), "-o", tmp_path / "o.csv", "--no-progress",
        code=2, says="cannot read")
    cli("pool", _write(tmp_path, "d.xlsx", b"PK\x03\x04 not a workbook"), code=2, says="as a spreadsheet")


def test_absurd_magnitudes_are_refused(tmp_path, cli):
    f = _write(tmp_path, "d.csv", "study,yi,vi\nA,1e308,0.1\nB,0.2,0.1\n")
    cli("pool", f, code=2, says="beyond what can be pooled")


# ----------------------------------------------------------------------------- labels

def test_ambiguous_exclude_is_refused_and_duplicate_labels_noted(tmp_path, cli):
    f = _write(tmp_path, "d.csv", "study,events,n\nSmith,3,10\nSmith,4,12\nLee,5,11\n")
    cli("pool", f, "--exclude", "Smith", code=2, says="2 studies are labelled 'Smith' (rows 1, 2")
    out, _ = cli("pool", f, "--json", code=0)
    assert any("duplicate study labels: 'Smith' (rows 1, 2)" in n for n in json.loads(out)["notes"])


def test_control_characters_never_reach_the_terminal(tmp_path, cli):
    f = _write(tmp_path, "d.csv", "study,events,n\n\"Red\x1b[31m\x1b]0;owned\x07 \u202eevil\",3,10\nLee,4,12\n")
    out, _ = cli("pool", f, code=0)
    assert "\x1b" not in out and "\u202e" not in out and "Red" in out
    out, _ = cli("pool", f, "--json", code=0)
    assert "\x1b" not in out and "\u202e" not in out and "\\u001b" in out


def test_labels_with_dollars_and_overlong_labels_draw_as_text(tmp_path, cli):
    long = "L" * 20000
    f = _write(tmp_path, "d.csv", f"study,events,n\n\"Cost $5 and $10\",3,10\nOne $ sign,4,12\n{long},5,11\n")
    cli("forest", f, "-o", tmp_path / "f.png", "--dpi", "50", code=0, creates=("f.png",))
    cli("funnel", f, "-o", tmp_path / "u.png", "--labels", "--dpi", "50", code=0, creates=("u.png",))
    from PIL import Image
    with Image.open(tmp_path / "f.png") as im:
        assert im.size[0] < 2000


@pytest.mark.parametrize("dpi", ["0", "-5", "nan", "100000"])
def test_dpi_is_validated_before_any_work(tmp_path, cli, dpi):
    f = _write(tmp_path, "d.csv", GOOD)
    cli("forest", f, "-o", tmp_path / "f.png", "--dpi", dpi, code=2, says="dpi must be between 10 and 2400")


# ----------------------------------------------------------------------------- outputs

def test_outputs_that_would_destroy_an_input_or_cannot_be_written(tmp_path, cli):
    f = _write(tmp_path, "d.csv", GOOD)
    _write(tmp_path, "afile", "x")
    for command in ("forest", "funnel"):
        cli(command, f, "-o", f, code=2, says="is an input of this command")
        cli(command, f, "-o", tmp_path / "missing" / "f.png", code=2, says="does not exist")
        cli(command, f, "-o", tmp_path / "afile" / "f.png", code=2, says="is a file, not a folder")
        cli(command, f, "-o", tmp_path, code=2, says="is a folder")
    os.link(f, tmp_path / "hardlink.csv")
    cli("batch", f, "-o", tmp_path / "hardlink.csv", "--no-progress", code=2, says="is an input")
    counts = _write(tmp_path, "counts.json", json.dumps({"identification": {"databases": 10}}))
    os.link(counts, tmp_path / "counts.png")
    cli("prisma", counts, "-o", tmp_path / "counts.png", code=2, says="is an input")


@pytest.fixture
def project(tmp_path, capsys):
    p = tmp_path / "review.mrv"
    assert main(["review", "init", "--json", str(p)]) == 0
    assert main(["review", "import", "--json", str(EXPORTS / "pubmed.nbib"), "-p", str(p), "--source", "PubMed"]) == 0
    capsys.readouterr()
    return p


@pytest.mark.parametrize("args", [
    ("review", "export", "--json", "-o", "{p}"),
    ("review", "export", "--json", "-o", "{dir}/a.csv", "--provenance", "{p}"),
    ("review", "decisions", "export", "-o", "{p}"),
    ("review", "decisions", "export", "--sheet", "-o", "{p}"),
    ("review", "prisma", "-o", "{p}"),
    ("review", "export-records", "-o", "{p}"),
    ("review", "extract", "template", "-o", "{p}"),
    ("review", "discrepancies", "--json", "-o", "{p}"),
])
def test_no_review_command_writes_onto_the_project_file(tmp_path, cli, project, args):
    argv = [a.format(p=project, dir=tmp_path) for a in args] + ["-p", str(project)]
    cli(*argv, code=2, says="is an input of this command")
    with sqlite3.connect(project) as conn:
        assert conn.execute("SELECT count(*) FROM records").fetchone()[0] == 10


def test_review_outputs_onto_another_project_file_are_refused(tmp_path, cli, project):
    other = tmp_path / "other.mrv"
    shutil.copy(project, other)
    cli("review", "export-records", "-o", other, "-p", project, code=2, says="is a database")


def test_foreign_and_empty_files_are_not_turned_into_projects(tmp_path, cli):
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE t (x)")
    conn.close()
    empty = _write(tmp_path, "empty.mrv", b"")
    cli("review", "status", "--json", "-p", foreign, code=2, says="not a review project")
    cli("review", "status", "--json", "-p", empty, code=2, says="is empty, not a review project")
    assert empty.stat().st_size == 0
    with sqlite3.connect(foreign) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"


def test_a_damaged_project_file_is_a_message_not_a_traceback(tmp_path, cli, project):
    with sqlite3.connect(project) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = bytearray(project.read_bytes())
    size = int.from_bytes(data[16:18], "big")  # the page size, from the file's header
    assert len(data) >= 6 * size
    data[2 * size:6 * size] = b"Z" * (4 * size)  # pages 3 to 6: the tables', not the schema's
    project.write_bytes(bytes(data))
    cli("review", "status", "--json", "-p", project, code=2, says="review project file is damaged",
        changes=("review.mrv-wal", "review.mrv-shm"))


def test_spreadsheets_for_people_carry_no_formulas(tmp_path, cli):
    data = "Title,Year\n\"=HYPERLINK(\"\"http://x\"\",\"\"click\"\")\",2020\n\"-3.5 degrees\",2021\n"
    export = _write(tmp_path, "export.csv", data)
    p = tmp_path / "p.mrv"
    cli("review", "init", "--json", p, code=0, creates=("p.mrv",))
    created = ("p.mrv-wal", "p.mrv-shm")
    cli("review", "import", "--json", export, "-p", p, "--source", "WoS", "--map", "title=Title", code=0,
        creates=created, changes=("p.mrv",))
    out, _ = cli("review", "export-records", "-p", p, code=0, changes=created)
    assert "'=HYPERLINK" in out and "\n=" not in out and ",=" not in out
    assert spreadsheet_safe("-3.5") == "-3.5" and spreadsheet_safe("@SUM(A1)") == "'@SUM(A1)"
    assert from_spreadsheet(spreadsheet_safe("=1+1")) == "=1+1"
    sheet = tmp_path / "records.csv"
    cli("review", "export-records", "-p", p, "-o", sheet, code=0, creates=("records.csv",), changes=created)
    q = tmp_path / "q.mrv"
    cli("review", "init", "--json", q, code=0, creates=("q.mrv", "q.mrv-wal", "q.mrv-shm"), changes=created)
    cli("review", "import", "--json", sheet, "-p", q, "--source", "again", code=0,
        changes=created + ("q.mrv", "q.mrv-wal", "q.mrv-shm"))
    with sqlite3.connect(q) as conn:
        titles = {r[0] for r in conn.execute("SELECT title FROM records")}
    assert '=HYPERLINK("http://x","click")' in titles


def test_run_never_replaces_a_folder_it_did_not_write(tmp_path, cli):
    review = tmp_path / "review"
    shutil.copytree(EXAMPLE, review)
    (review / "results.json").write_text("{}")  # what the old rule took as a previous run
    cli("run", review, "-o", review, "--force", "-q", code=2, says="holds")
    cli("run", review / "review.toml", "-o", review, "--force", "-q", code=2, says="holds")
    other = tmp_path / "other"
    other.mkdir()
    (other / "results.json").write_text("{}")
    (other / "notes.txt").write_text("mine")
    cli("run", review, "-o", other, "--force", "-q", code=2, says="was not written by metareview")
    _write(tmp_path, "afile.txt", "x")
    cli("run", review, "-o", tmp_path / "afile.txt" / "out", "-q", code=2, says="is a file, not a folder")


def test_folder_outputs_carry_a_marker_and_are_swapped_whole(tmp_path):
    out = tmp_path / "out"
    write_folder(out, {"a.txt": b"1", "sub/b.txt": b"2"})
    assert (out / MARKER).is_file() and (out / "sub" / "b.txt").read_bytes() == b"2"
    with pytest.raises(OutputError, match="--force"):
        write_folder(out, {"a.txt": b"3"})
    write_folder(out, {"c.txt": b"3"}, force=True)
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "c.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # nothing left beside it
    (out / MARKER).unlink()
    with pytest.raises(OutputError, match="not written by metareview"):
        check_folder(out, force=True)


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path, monkeypatch):
    target = _write(tmp_path, "out.csv", "old")

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OutputError, match="disk holding .* is full"):
        write_file(target, "new")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]
    monkeypatch.undo()
    with pytest.raises(RuntimeError):
        with open_output(target, "w") as fh:
            fh.write("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


# ----------------------------------------------------------------------------- exit codes

def test_an_unexpected_error_exits_3_with_one_line_and_a_saved_traceback(tmp_path, capsys, monkeypatch):
    import metareview.cli.cmd_pool as cmd_pool

    cache = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(cmd_pool, "analyse_file", broken)
    f = _write(tmp_path, "d.csv", GOOD)
    assert main(["pool", str(f)]) == EXIT_INTERNAL == 3
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err and "ZeroDivisionError: a bug" in err
    (saved,) = (cache / "metareview" / "crashes").iterdir()
    assert saved.name in " ".join(err.split()).replace(" ", "") or str(saved) in err.replace("\n", "")
    assert "Traceback" in saved.read_text() and "ZeroDivisionError" in saved.read_text()


def test_exit_codes_are_in_the_help(capsys):
    assert main(["--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "Exit codes: 0 success; 1 findings" in out and "3 unexpected internal error" in out
