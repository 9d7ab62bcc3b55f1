"""What only a project on a PostgreSQL server has to show: its schema version table, many writers at once,
a connection lost in the middle of an import, and URLs whose passwords are never shown."""

from __future__ import annotations

import threading

import pytest

from metareview.base.exceptions import DataError, SettingsError
from metareview.cli import main
from metareview.review import Project
from metareview.review.backends import display
from metareview.review.schema import LATEST_VERSION
from metareview.review.store import Store

from .conftest import EXPORTS


def _admin(url: str):
    import psycopg
    return psycopg.connect(url, autocommit=True)


def test_schema_version_lives_in_a_table_and_migrations_run_step_by_step(pg_url):
    with Store.create(pg_url, version=1) as store:
        assert store.version == 1 and store.tables() == ["settings", "sources", "batches", "records"]
    with _admin(pg_url) as conn:
        assert conn.execute("SELECT version FROM metareview_schema").fetchall() == [(1,)]
    with Store.open(pg_url) as store:  # upgraded in place, in one transaction
        assert store.version == LATEST_VERSION and "grade_ratings" in store.tables()
    with _admin(pg_url) as conn:
        conn.execute("UPDATE metareview_schema SET version = 99")
    with pytest.raises(SettingsError, match="schema version 99, newer than"):
        Store.open(pg_url)


def test_a_foreign_or_empty_database_is_not_taken_for_a_project(pg_url):
    with pytest.raises(SettingsError, match="not a review project"):
        Store.open(pg_url)
    with _admin(pg_url) as conn:
        conn.execute("CREATE TABLE invoices (id integer)")
    with pytest.raises(SettingsError, match=r"already holds tables \(invoices\)"):
        Project.init(pg_url)
    with pytest.raises(SettingsError, match="not a review project"):
        Store.open(pg_url)


def test_passwords_in_urls_are_never_shown(capsys):
    url = "postgresql://ann:hunter2@127.0.0.1:1/review?sslmode=disable&password=hunter2"
    assert display(url) == "postgresql://ann:***@127.0.0.1:1/review?sslmode=disable&password=***"
    assert display("postgresql://ann@db.example/review") == "postgresql://ann@db.example/review"
    assert main(["review", "status", "-p", url]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot connect to postgresql://ann:***@127.0.0.1:1/review") and "hunter2" not in err
    assert err.count("\n") == 1


def _killing_the_connection_at(monkeypatch, n: int) -> list[int]:
    """Make the next import lose its connection (the server ends it) after ``n`` records were read."""
    real = Store.add_batch
    killed: list[int] = []

    def add_batch(self, *, records, **kwargs):
        pid = self._db.conn.info.backend_pid

        def lossy():
            for i, rec in enumerate(records):
                if i == n:
                    with _admin(self.location) as admin:
                        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
                    killed.append(pid)
                yield rec
        return real(self, records=lossy(), **kwargs)

    monkeypatch.setattr(Store, "add_batch", add_batch)
    return killed


def test_a_connection_lost_mid_import_leaves_no_partial_batch(pg_url, monkeypatch, capsys):
    import psycopg
    project = Project.init(pg_url)
    project.import_file(EXPORTS / "pubmed.nbib", source="PubMed")
    killed = _killing_the_connection_at(monkeypatch, 4)
    with pytest.raises(psycopg.OperationalError):
        project.import_file(EXPORTS / "embase.ris", source="Embase")
    assert killed
    with Store.open(project.store.location) as fresh:
        assert [b["filename"] for b in fresh.batches()] == ["pubmed.nbib"]
        assert fresh.count_records() == 10 and [s["name"] for s in fresh.sources()] == ["PubMed"]
    # the command line says so in one line, and the import can simply be run again
    killed = _killing_the_connection_at(monkeypatch, 2)
    url = project.store.location
    assert main(["review", "import", str(EXPORTS / "embase.ris"), "-p", url, "--source", "Embase", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "connection to the database server was lost" in err and "nothing was saved" in err
    assert err.count("\n") == 1 and "Traceback" not in err
    monkeypatch.undo()
    assert main(["review", "import", "--json", str(EXPORTS / "embase.ris"), "-p", url, "--source", "Embase"]) == 0
    with Store.open(url) as fresh:
        assert [b["filename"] for b in fresh.batches()] == ["pubmed.nbib", "embase.ris"]
        assert fresh.count_records() == 19
    project.close()


def test_an_error_raised_mid_import_leaves_no_partial_batch(project, monkeypatch):
    real = Store.add_batch

    def add_batch(self, *, records, **kwargs):
        def broken():
            for i, rec in enumerate(records):
                if i == 3:
                    raise KeyboardInterrupt
                yield rec
        return real(self, records=broken(), **kwargs)

    monkeypatch.setattr(Store, "add_batch", add_batch)
    with pytest.raises(KeyboardInterrupt):
        project.import_file(EXPORTS / "pubmed.nbib", source="PubMed")
    with Store.open(project.store.location) as fresh:
        assert fresh.batches() == [] and fresh.count_records() == 0 and fresh.sources() == []


def test_many_writers_at_once_lose_nothing_and_a_check_holds_until_commit(location):
    """Eight reviewers deciding at once, each on a connection of their own: every decision is in the log;
    four importing one file at once: exactly one import, the others told it was imported already."""
    with Project.init(location) as p:
        p.import_file(EXPORTS / "pubmed.nbib", source="PubMed")
        ids = p.store.record_ids()
    errors: list[BaseException] = []

    def reviewer(k: int) -> None:
        try:
            with Store.open(location) as store:
                for rid in ids * 5:
                    store.add_decisions([{"record_id": rid, "stage": "title_abstract", "reviewer": f"r{k}",
                                          "decision": "include"}])
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=reviewer, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with Store.open(location) as store:
        log = store.decision_log()
    assert len(log) == 8 * 5 * len(ids) and len({d["id"] for d in log}) == len(log)

    outcomes: list[str] = []

    def importer() -> None:
        with Project.open(location) as p:
            try:
                p.import_file(EXPORTS / "embase.ris", source="Embase")
                outcomes.append("imported")
            except DataError as exc:
                outcomes.append("refused" if "already imported" in str(exc) else str(exc))

    threads = [threading.Thread(target=importer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["imported", "refused", "refused", "refused"]
    with Store.open(location) as store:
        assert [b["filename"] for b in store.batches()] == ["pubmed.nbib", "embase.ris"]
