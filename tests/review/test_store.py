"""The project file: WAL, schema version in the file, numbered migrations, transactions."""

from __future__ import annotations

import sqlite3

import pytest

from metareview.base.exceptions import SettingsError
from metareview.review.backends import CACHE_KIB, PAGE_SIZE
from metareview.review.records import Record
from metareview.review.schema import LATEST_VERSION, MIGRATIONS
from metareview.review.store import Store


def test_new_project_is_wal_at_latest_version(tmp_path):
    path = tmp_path / "p.mrv"
    with Store.create(path) as store:
        assert store.version == LATEST_VERSION
        assert store.integrity() == "ok"
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST_VERSION


def test_new_project_has_large_pages_and_an_older_file_keeps_its_own(tmp_path):
    path = tmp_path / "p.mrv"
    Store.create(path).close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA page_size").fetchone()[0] == PAGE_SIZE == 16_384
    with Store.open(path) as store:  # the pages of the indexes an import adds to stay in memory
        assert store._db.conn.execute("PRAGMA cache_size").fetchone()[0] == -CACHE_KIB == -32_768
    # a project made with SQLite's 4 KiB pages opens, is written and stays as it was made
    old = tmp_path / "old.mrv"
    conn = sqlite3.connect(old)
    conn.execute("PRAGMA page_size = 4096")
    conn.execute("PRAGMA journal_mode = WAL")
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    with Store.open(old) as store:
        assert store.version == LATEST_VERSION
        store.set_setting("name", "old")
        assert store.integrity() == "ok"
    with sqlite3.connect(old) as conn:
        assert conn.execute("PRAGMA page_size").fetchone()[0] == 4096
        assert conn.execute("SELECT value FROM settings WHERE key = 'name'").fetchone()[0] == '"old"'


def test_create_refuses_to_overwrite(tmp_path):
    path = tmp_path / "p.mrv"
    Store.create(path).close()
    with pytest.raises(SettingsError, match="already exists"):
        Store.create(path)


def test_open_refuses_missing_foreign_and_newer_files(tmp_path):
    with pytest.raises(SettingsError, match="no such file"):
        Store.open(tmp_path / "missing.mrv")
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(SettingsError, match="not a review project"):
        Store.open(other)
    text = tmp_path / "notes.txt"
    text.write_text("not a database at all, just some words" * 20)
    with pytest.raises(SettingsError, match="not a review project"):
        Store.open(text)
    newer = tmp_path / "newer.mrv"
    Store.create(newer).close()
    conn = sqlite3.connect(newer)
    conn.execute(f"PRAGMA user_version = {LATEST_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(SettingsError, match="newer than this metareview"):
        Store.open(newer)


def _store_at(path, version: int) -> Store:
    store = Store(path, Store._connect(path, 5.0))
    store.migrate(version)
    return store


def _seed(store: Store, version: int) -> None:
    """Rows in every table that exists at ``version``."""
    with store.transaction():
        store._write("INSERT INTO settings (key, value) VALUES ('name', '\"x\"')")
        store._write("INSERT INTO sources (name, kind) VALUES ('PubMed', 'database')")
        store._write("INSERT INTO batches (source_id, filename, sha256, format, encoding, imported_at, n_records, "
                     "n_malformed) VALUES (1, 'a.nbib', 'abc', 'medline', 'utf-8', 't', 2, 0)")
        for pos in (1, 2):
            store._write("INSERT INTO records (batch_id, source_id, position, line, status, raw, title) "
                         "VALUES (1, 1, ?, ?, 'ok', 'raw', 'A title')", (pos, pos))
        if version >= 2:
            store._write("INSERT INTO pair_decisions (record_a, record_b, same, method, created_at) "
                         "VALUES (1, 2, 1, 'manual', 't')")
        if version >= 3:
            store._write("INSERT INTO decisions (record_id, stage, reviewer, decision, created_at) "
                         "VALUES (1, 'title_abstract', 'ann', 'include', 't')")


@pytest.mark.parametrize("target", range(1, LATEST_VERSION + 1))
def test_each_migration_upgrades_in_place_and_keeps_data(tmp_path, target):
    path = tmp_path / "p.mrv"
    store = _store_at(path, target - 1) if target > 1 else Store(path, Store._connect(path, 5.0))
    if target > 1:
        _seed(store, target - 1)
    before = {t: store._all(f"SELECT * FROM {t}") for t in _tables(store)}
    assert store.migrate(target) == target
    assert store.integrity() == "ok"
    for table, rows in before.items():
        assert store._all(f"SELECT * FROM {table}") == rows
    created = _tables(store) - set(before)
    statements = " ".join(MIGRATIONS[target - 1])
    assert created and all(f"CREATE TABLE {t} " in statements for t in created)
    store.close()


def _tables(store: Store) -> set[str]:
    return {r["name"] for r in store._all("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_open_upgrades_an_old_project(tmp_path):
    path = tmp_path / "old.mrv"
    store = _store_at(path, 1)
    _seed(store, 1)
    store.close()
    with Store.open(path) as upgraded:
        assert upgraded.version == LATEST_VERSION
        assert upgraded.count_records() == 2


def test_a_failed_migration_leaves_the_old_version(tmp_path, monkeypatch):
    path = tmp_path / "p.mrv"
    store = _store_at(path, 1)
    broken = [list(m) for m in MIGRATIONS]
    broken[1] = broken[1] + ["CREATE TABLE oops (x"]
    monkeypatch.setattr("metareview.review.store.MIGRATIONS", broken)
    with pytest.raises(sqlite3.OperationalError):
        store.migrate(2)
    assert store.version == 1
    assert "dedupe_runs" not in _tables(store)


def test_transaction_rolls_back_everything_on_error(tmp_path):
    store = Store.create(tmp_path / "p.mrv")
    source = store.add_source("PubMed", "database")

    def records():
        yield Record(line=1, raw="one", title="one")
        raise RuntimeError("export stream broke")

    with pytest.raises(RuntimeError):
        store.add_batch(source_id=source, filename="f", sha256="s", format="ris", encoding="utf-8",
                        imported_by=None, records=records())
    assert store.count_records() == 0
    assert store.batches() == []


def test_writes_outside_a_transaction_are_refused(tmp_path):
    store = Store.create(tmp_path / "p.mrv")
    with pytest.raises(RuntimeError, match="outside a transaction"):
        store._write("INSERT INTO settings (key, value) VALUES ('a', '1')")


def test_settings_round_trip(tmp_path):
    store = Store.create(tmp_path / "p.mrv")
    store.set_setting("reasons", {"full_text": ["wrong population", "ünïcode"]})
    assert store.get_setting("reasons") == {"full_text": ["wrong population", "ünïcode"]}
    assert store.get_setting("missing", 7) == 7


def test_opening_a_project_again_keeps_other_processes_seeing_the_writes(tmp_path):
    """A server opens the project once per worker thread while the command line opens and closes
    it in other processes: no open may drop this process's locks on the file, or another
    process takes the file for unused and deletes the WAL the server is still writing to."""
    import subprocess
    import sys

    from metareview.review.project import Project

    path = tmp_path / "team.mrv"
    server = Project.init(path, name="team")
    again = Project.open(path)   # a second worker thread of the same server
    script = "import sys; from metareview.review.project import Project; p = Project.open(sys.argv[1]); "
    subprocess.run([sys.executable, "-c", script + "p.close()", str(path)], check=True, timeout=120)
    server.store.set_setting("marker", "written after the other process closed")
    seen = subprocess.run([sys.executable, "-c", script + "print(p.store.get_setting('marker'))", str(path)],
                          check=True, capture_output=True, text=True, timeout=120).stdout.strip()
    again.close()
    server.close()
    assert seen == "written after the other process closed"


def test_json_columns_are_written_as_json_dumps_writes_them():
    """The encoder made once for a batch's JSON columns writes json.dumps(ensure_ascii=False)'s text: lists
    and dicts of text with quotes, escapes, control characters, other scripts and emoji, numbers, None,
    booleans, NaN, keys that are not text, nesting; what json.dumps refuses it refuses."""
    import json

    from metareview.review.store import json_encoder

    dumps = json_encoder()
    values = [[], {}, ["Smith J"],
              ['M\u00fcller "K"', "back\\slash", "tab\tnew\nline\x00\x1f", "\u2028\u4e2d\U0001f600"],
              {"LID": ["10.1/x [doi]", "S0 [pii]"], "n": 1, "f": 1.5, "none": None, "yes": True,
               "nan": float("nan"), "inf": float("-inf"), "big": 10**30, "nest": {"a": [1, {"b": "c"}]}},
              {1: "int key", None: "none key", 2.5: "float key", False: "bool key"}, "text", 3, 1e300, None]
    for value in values:
        assert dumps(value) == json.dumps(value, ensure_ascii=False)
    with pytest.raises(TypeError):
        dumps({"a": object()})
