"""``metareview review copy``: a project moved between SQLite and PostgreSQL and back, with nothing lost."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from metareview.base.exceptions import SettingsError
from metareview.cli import main
from metareview.review import Project
from metareview.review.copy import compare_projects, copy_project
from metareview.review.screening import decide
from metareview.review.store import Store


def _other(screened: Project, tmp_path: Path, request: pytest.FixtureRequest, name: str) -> str:
    """A new location on the other backend than ``screened``'s."""
    if screened.store.backend == "sqlite":
        return request.getfixturevalue("pg_urls")()
    return str(tmp_path / f"{name}.mrv")


def _same(screened: Project, tmp_path: Path, request: pytest.FixtureRequest, name: str) -> str:
    """A new location on the backend of ``screened``."""
    if screened.store.backend == "postgresql":
        return request.getfixturevalue("pg_urls")()
    return str(tmp_path / f"{name}.mrv")


def test_round_trip_keeps_every_row_of_every_table(screened, tmp_path, request):
    from metareview.review.dedupe import merge
    merge(screened.store, [4, 5], by="cat")  # a pair decision and a primary choice in the logs too
    there = _other(screened, tmp_path, request, "there")
    report = copy_project(screened.store.location, there)
    assert report.verified and report.rows["decisions"] == len(screened.store.decision_log())
    assert report.rows["records"] == 32 and sum(report.rows.values()) > 100
    back = _same(screened, tmp_path, request, "back")
    copy_project(there, back)
    with Store.open(there) as a, Store.open(back) as b:
        assert compare_projects(screened.store, a) == []
        assert compare_projects(screened.store, b) == []
        assert {a.backend, b.backend} == {"sqlite", "postgresql"}
        # decision by decision, as the application reads them
        assert b.decision_log() == screened.store.decision_log() == a.decision_log()
        assert b.pair_decision_log() == screened.store.pair_decision_log()
        assert a.current_values() == screened.store.current_values()
        assert a.version == screened.store.version
    # the copy goes on numbering after the ids it was given
    with Project.open(there) as p:
        before = max(d["id"] for d in p.store.decision_log())
        decide(p, 1, stage="ta", reviewer="dan", decision="include")
        assert p.store.decision_log()[-1]["id"] == before + 1


def test_a_difference_is_found(screened, tmp_path, request):
    there = _other(screened, tmp_path, request, "there")
    copy_project(screened.store.location, there)
    decide(screened, 1, stage="ta", reviewer="dan", decision="maybe")
    with Store.open(there) as copied:
        assert compare_projects(screened.store, copied) == [
            f"decisions: {len(screened.store.decision_log())} rows in one, "
            f"{len(screened.store.decision_log()) - 1} in the other"]


def test_a_used_destination_is_refused_and_the_source_left_alone(screened, tmp_path, request):
    taken = tmp_path / "taken.mrv"
    Project.init(taken).close()
    with pytest.raises(SettingsError, match="already exists"):
        copy_project(screened.store.location, taken)
    used = request.getfixturevalue("pg_urls")()
    Project.init(used).close()
    with pytest.raises(SettingsError, match="already holds tables"):
        copy_project(screened.store.location, used)
    with pytest.raises(SettingsError, match="same project"):
        copy_project(screened.store.location, screened.store.location)


def test_a_failed_copy_leaves_no_destination(screened, tmp_path, request, monkeypatch):
    there = _other(screened, tmp_path, request, "there")
    real = Store.load_rows

    def failing(self, table, rows):
        if table == "decisions":
            raise OSError("the cable was pulled")
        real(self, table, rows)

    monkeypatch.setattr(Store, "load_rows", failing)
    with pytest.raises(OSError):
        copy_project(screened.store.location, there)
    monkeypatch.setattr(Store, "load_rows", real)
    if screened.store.backend == "sqlite":
        with Store._empty(there, 5.0) as empty:  # still empty: a copy may go there now
            assert empty.tables() == [] and empty.version == 0
    else:
        assert not Path(there).exists() and not Path(there + "-wal").exists()
    copy_project(screened.store.location, there)


def test_cli_copy_says_it_compared_and_never_shows_a_password(screened, tmp_path, capsys, request):
    if screened.store.backend == "sqlite":
        url = request.getfixturevalue("pg_urls")().replace("postgres@", "postgres:s3cret-pw@")
        assert main(["review", "copy", screened.store.location, url]) == 0
    else:
        url = screened.store.location.replace("postgres@", "postgres:s3cret-pw@")
        assert main(["review", "copy", url, str(tmp_path / "copy.mrv")]) == 0
    out, err = capsys.readouterr()
    assert "compared row by row" in out and "postgres:***@" in out
    assert "s3cret" not in out + err
    target = str(tmp_path / "again.mrv")
    assert main(["review", "copy", "--json", screened.store.location, target]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["verified"] is True and doc["total_rows"] == sum(doc["rows"].values()) > 100
    assert main(["review", "copy", "--json", screened.store.location, target]) == 2
    out, err = capsys.readouterr()
    assert "already exists" in err and out == ""
