"""The project store: the one module that speaks SQL.

A review project is one SQLite file in WAL mode, so a reader never blocks the
writer and a process killed mid-write leaves the last committed state; or, for a team
that shares a server, a PostgreSQL database named by a URL (``postgresql://...``).
Every write goes through :meth:`Store.transaction`: one writer at a time (SQLite's
``BEGIN IMMEDIATE``, an advisory lock on PostgreSQL), a second writer waits for the
first, up to ``timeout`` seconds, instead of failing half-way.  Callers use the
methods below and never see a cursor; what differs between the two databases lives in
:mod:`metareview.review.backends`.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..base.exceptions import SettingsError
from .backends import Backend, PostgresBackend, SQLiteBackend, database_name, display, is_url
from .records import Record
from .schema import LATEST_VERSION, MIGRATIONS, TABLES

__all__ = ["Store", "now", "is_url", "display"]

_RECORD_COLUMNS = ("id", "batch_id", "source_id", "position", "line", "status", "problem", "raw", "type",
                   "title", "abstract", "authors", "year", "journal", "volume", "issue", "pages", "doi",
                   "pmid", "keywords", "extra")
_JSON_COLUMNS = {"authors", "keywords", "extra"}


def now() -> str:
    """UTC timestamp with microseconds, so the order of log entries is the order of time."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def json_encoder() -> Callable[[Any], str]:
    """``json.dumps(value, ensure_ascii=False)`` as a function made once, for encoding many values.

    ``json.dumps`` builds the C encoder anew at every call, which for a record's three short JSON
    columns costs more than the encoding; this builds it once (with CPython's accelerator, the
    same text; without it, ``json.dumps`` as it is).  Values with reference cycles are not
    checked for: records hold none.
    """
    encode = json.JSONEncoder(ensure_ascii=False).encode
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - CPython has it; other interpreters encode in Python
        return encode
    try:
        chunks = make(None, json.JSONEncoder().default, json.encoder.encode_basestring, None, ": ", ", ", False,
                      False, True)
    except TypeError:  # pragma: no cover - an interpreter whose accelerator takes other arguments
        return encode

    def dumps(value: Any) -> str:
        return "".join(chunks(value, 0))
    return dumps


def _row_dict(row: dict[str, Any]) -> dict[str, Any]:
    """A record's row (a new dict from the backend, changed in place) with its JSON columns read."""
    for key in _JSON_COLUMNS & row.keys():
        row[key] = json.loads(row[key])
    return row


class Store:
    """An open project (file or database).  Use :meth:`create` or :meth:`open`, not the constructor."""

    def __init__(self, location: str | os.PathLike, db: Backend):
        self.location = str(location)
        #: the project file, or None for a project on a database server
        self.path: Path | None = None if is_url(self.location) else Path(location)
        self._db = db
        self._depth = 0
        self.memo: dict[str, Any] = {}  # derived state, keyed by what it was derived from; cleared on rollback

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._db.kind

    @property
    def display(self) -> str:
        """Where the project is, as it may be shown (a URL's password masked)."""
        return display(self.location)

    @property
    def default_name(self) -> str:
        """A name for a project that was given none: the file's stem or the database's name."""
        return self.path.stem if self.path is not None else database_name(self.location)

    # -- opening -------------------------------------------------------------------------------
    @staticmethod
    def _connect(path: Path, timeout: float) -> Backend:
        return SQLiteBackend.connect(path, timeout)

    @classmethod
    def create(cls, location: str | os.PathLike, *, timeout: float = 60.0,
               version: int = LATEST_VERSION) -> "Store":
        """Create a new project at ``version`` (the latest); refuse to overwrite one.

        A file must not exist yet; a database must exist (its owner creates it) and hold no tables.
        """
        store = cls._empty(location, timeout)
        try:
            store.migrate(version)
        except BaseException:
            store.close()
            raise
        return store

    @classmethod
    def _empty(cls, location: str | os.PathLike, timeout: float) -> "Store":
        """A connection to a new, empty project without any schema yet (see :meth:`create`)."""
        if is_url(location):
            db = PostgresBackend.connect(str(location), timeout)
            present = db.tables() or ([] if db.get_version() == 0 else ["metareview_schema"])
            if present:
                db.close()
                raise SettingsError(f"{display(location)} already holds tables ({', '.join(present[:5])}); a "
                                    f"project is created only in an empty database or schema")
            return cls(str(location), db)
        path = Path(location)
        if path.exists():
            raise SettingsError(f"{path} already exists; open it instead of creating it")
        if not path.parent.exists():
            raise SettingsError(f"{path.parent} does not exist; create the folder first")
        return cls(path, cls._connect(path, timeout))

    @classmethod
    def open(cls, location: str | os.PathLike, *, timeout: float = 60.0, upgrade: bool = True) -> "Store":
        """Open an existing project, upgrading its schema in place if it is older than this code."""
        if is_url(location):
            return cls._open_database(str(location), timeout, upgrade)
        path = Path(location)
        if not path.is_file():
            raise SettingsError(f"{path} is not a review project (no such file); create one with "
                                f"'metareview review init {path}'")
        # The file is never opened outside SQLite: closing any descriptor of a database file
        # drops the POSIX locks SQLite holds on it in this process (a server with the project
        # open), after which another process may take the file for unused and delete its WAL.
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise SettingsError(f"cannot read {path}: {exc.strerror}") from None
        if size == 0:
            raise SettingsError(f"{path} is empty, not a review project; create one with "
                                f"'metareview review init NEW_FILE'")
        if not os.access(path, os.R_OK):
            raise SettingsError(f"cannot read {path}: permission denied")
        # look before changing anything (read-only): a foreign or newer file is left exactly as it was
        try:
            probe = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=timeout)
            try:
                version = probe.execute("PRAGMA user_version").fetchone()[0]
                names = {r[0] for r in probe.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            finally:
                probe.close()
        except sqlite3.DatabaseError as exc:
            raise SettingsError(f"{path} is not a review project: {exc}") from None
        cls._check_version(path, version, names)
        try:
            db = cls._connect(path, timeout)
        except sqlite3.DatabaseError as exc:
            raise SettingsError(f"{path} is not a review project: {exc}") from None
        store = cls(path, db)
        if upgrade and version < LATEST_VERSION:
            store.migrate()
        return store

    @classmethod
    def _open_database(cls, url: str, timeout: float, upgrade: bool) -> "Store":
        db = PostgresBackend.connect(url, timeout)
        try:
            cls._check_version(display(url), db.get_version(), set(db.tables()))
        except BaseException:
            db.close()
            raise
        store = cls(url, db)
        if upgrade and store.version < LATEST_VERSION:
            store.migrate()
        return store

    @staticmethod
    def _check_version(where: object, version: int, names: set[str]) -> None:
        if version == 0 or "records" not in names:
            raise SettingsError(f"{where} is not a review project (no metareview schema in it)")
        if version > LATEST_VERSION:
            raise SettingsError(f"{where} has schema version {version}, newer than this metareview "
                                f"understands ({LATEST_VERSION}); upgrade metareview")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema ----------------------------------------------------------------------------------
    @property
    def version(self) -> int:
        return self._db.get_version()

    def migrate(self, target: int = LATEST_VERSION) -> int:
        """Apply the numbered migrations after the project's version up to ``target``, atomically."""
        with self.transaction():
            current = self.version
            for number in range(current + 1, target + 1):
                for statement in MIGRATIONS[number - 1]:
                    self._db.execute(self._db.ddl(statement))
                self._db.set_version(number)
        return self.version

    def integrity(self) -> str:
        """The database's own check of the project (``"ok"`` when sound)."""
        return self._db.integrity()

    # -- transactions ------------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator["Store"]:
        """One atomic write: everything inside commits together or not at all (nestable)."""
        if self._depth < 0:
            raise RuntimeError("a write inside a read-only snapshot")
        if self._depth:
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
            return
        self._db.begin()
        self._depth = 1
        try:
            yield self
        except BaseException:
            self._depth = 0
            self.memo.clear()  # ids seen inside the rolled-back transaction may be given again
            try:
                self._db.rollback()
            except self._db.errors:
                pass  # the database already rolled back (a full disk, a lost connection): the original error tells
            raise
        self._depth = 0
        try:
            self._db.commit()
        except BaseException:
            self.memo.clear()
            raise

    @contextmanager
    def snapshot(self) -> Iterator["Store"]:
        """Reads inside see the project as it was when the first one ran, whatever others write meanwhile."""
        if self._depth:
            yield self
            return
        self._db.begin_read()
        self._depth = -1  # no write may start inside (see _write)
        try:
            yield self
        finally:
            self._depth = 0
            self._db.rollback()

    def _write(self, sql: str, params: Sequence[Any] = ()) -> None:
        if self._depth <= 0:
            raise RuntimeError("write outside a transaction")
        for _ in self._db.execute(sql, params):
            pass

    def _insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one ``INSERT`` and return the id it gave the new row."""
        if self._depth <= 0:
            raise RuntimeError("write outside a transaction")
        return self._db.insert(sql, params)

    def _writemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        if self._depth <= 0:
            raise RuntimeError("write outside a transaction")
        self._db.executemany(sql, rows)

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return list(self._db.execute(sql, params))

    def _one(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        return next(self._db.execute(sql, params), None)

    def _scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self._one(sql, params)
        return None if row is None else next(iter(row.values()))

    # -- whole tables (copying a project between backends) -------------------------------------------
    def tables(self) -> list[str]:
        """The project's tables in the order the migrations created them (parents before children)."""
        present = set(self._db.tables())
        return [t for t in TABLES if t in present]

    def table_rows(self, table: str) -> list[dict[str, Any]]:
        """Every row of ``table`` as stored, in the order of its key."""
        if table not in TABLES:
            raise ValueError(f"unknown table {table!r}")
        key = "key" if table == "settings" else "id"
        return self._all(f"SELECT * FROM {table} ORDER BY {key}")

    def load_rows(self, table: str, rows: Sequence[dict[str, Any]]) -> None:
        """Insert ``rows`` into ``table`` as they are, ids included (inside a transaction)."""
        if table not in TABLES:
            raise ValueError(f"unknown table {table!r}")
        if not rows:
            return
        columns = list(rows[0])
        self._writemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                        ([row[c] for c in columns] for row in rows))
        if "id" in columns:
            self._db.after_load(table)

    # -- settings ---------------------------------------------------------------------------------
    def get_setting(self, key: str, default: Any = None) -> Any:
        row = self._one("SELECT value FROM settings WHERE key = ?", (key,))
        return default if row is None else json.loads(row["value"])

    def set_setting(self, key: str, value: Any) -> None:
        with self.transaction():
            self._write("INSERT INTO settings (key, value) VALUES (?, ?) "
                        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                        (key, json.dumps(value, ensure_ascii=False)))

    # -- sources and batches -------------------------------------------------------------------------
    def source(self, name: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM sources WHERE name = ?", (name,))

    def sources(self) -> list[dict[str, Any]]:
        return self._all("SELECT * FROM sources ORDER BY id")

    def add_source(self, name: str, kind: str) -> int:
        with self.transaction():
            return self._insert("INSERT INTO sources (name, kind) VALUES (?, ?)", (name, kind))

    def batches_with_hash(self, sha256: str) -> list[dict[str, Any]]:
        return self._all("SELECT b.*, s.name AS source FROM batches b JOIN sources s ON s.id = b.source_id "
                         "WHERE sha256 = ? ORDER BY b.id", (sha256,))

    def batches(self) -> list[dict[str, Any]]:
        return self._all("SELECT b.*, s.name AS source FROM batches b JOIN sources s ON s.id = b.source_id "
                         "ORDER BY b.id")

    def add_batch(self, *, source_id: int, filename: str, sha256: str, format: str, encoding: str,
                  imported_by: str | None, records: Iterable[Record]) -> tuple[int, int, int]:
        """Insert a batch and all its records in one transaction; return (batch id, n, n malformed).

        The batch row is written first and its counts last, all inside one
        transaction: a process killed half-way leaves neither the batch nor any of its
        records behind.
        """
        with self.transaction():
            batch_id = self._insert(
                "INSERT INTO batches (source_id, filename, sha256, format, encoding, imported_at, imported_by, "
                "n_records, n_malformed) VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0)",
                (source_id, filename, sha256, format, encoding, now(), imported_by))
            n = bad = 0
            sql = ("INSERT INTO records (batch_id, source_id, position, line, status, problem, raw, type, title, "
                   "abstract, authors, year, journal, volume, issue, pages, doi, pmid, keywords, extra) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
            dumps = json_encoder()

            def rows() -> Iterator[tuple]:
                # consumed as they come: records read from a file one by one are never all held at once
                nonlocal n, bad
                for rec in records:
                    n += 1
                    bad += rec.status == "malformed"
                    yield (batch_id, source_id, n, rec.line, rec.status, rec.problem, rec.raw, rec.type, rec.title,
                           rec.abstract, dumps(rec.authors), rec.year, rec.journal, rec.volume, rec.issue, rec.pages,
                           rec.doi, rec.pmid, dumps(rec.keywords), dumps(rec.extra))
            self._writemany(sql, rows())
            self._write("UPDATE batches SET n_records = ?, n_malformed = ? WHERE id = ?", (n, bad, batch_id))
        return batch_id, n, bad

    # -- records ---------------------------------------------------------------------------------------
    def count_records(self) -> int:
        return int(self._scalar("SELECT count(*) FROM records"))

    def record(self, record_id: int) -> dict[str, Any] | None:
        row = self._one(
            "SELECT r.*, s.name AS source, s.kind AS source_kind FROM records r "
            "JOIN sources s ON s.id = r.source_id WHERE r.id = ?", (record_id,))
        return None if row is None else _row_dict(row)

    def iter_records(self, columns: Sequence[str] = _RECORD_COLUMNS, *,
                     ids: Sequence[int] | None = None) -> Iterator[dict[str, Any]]:
        """Records in id order, with only ``columns`` (plus ``source`` and ``source_kind``)."""
        unknown = set(columns) - set(_RECORD_COLUMNS)
        if unknown:
            raise ValueError(f"unknown record columns {sorted(unknown)}")
        cols = ", ".join(f"r.{c}" for c in columns)
        sql = (f"SELECT {cols}, s.name AS source, s.kind AS source_kind FROM records r "
               f"JOIN sources s ON s.id = r.source_id")
        if ids is not None:
            wanted = sorted(set(int(i) for i in ids))
            for start in range(0, len(wanted), 500):
                chunk = wanted[start:start + 500]
                marks = ",".join("?" * len(chunk))
                for row in self._db.execute(f"{sql} WHERE r.id IN ({marks}) ORDER BY r.id", chunk):
                    yield _row_dict(row)
            return
        for row in self._db.execute(f"{sql} ORDER BY r.id"):
            yield _row_dict(row)

    def record_columns(self, columns: Sequence[str]) -> list[tuple[Any, ...]]:
        """Every record's ``columns`` as one tuple per column, in id order; the JSON columns as their stored
        text.  For reading a few fields of every record at once (de-duplication's keys)."""
        unknown = set(columns) - set(_RECORD_COLUMNS)
        if unknown:
            raise ValueError(f"unknown record columns {sorted(unknown)}")
        found = self._db.columns(f"SELECT {', '.join(columns)} FROM records ORDER BY id")
        return found or [() for _ in columns]

    def links_version(self) -> tuple[int, int, int]:
        """Last ids of records, pair decisions and primary choices: rows are only ever added, so the clusters
        derived from them are unchanged while this is."""
        row = self._one("SELECT (SELECT max(id) FROM records) AS r, (SELECT max(id) FROM pair_decisions) AS d, "
                        "(SELECT max(id) FROM primary_choices) AS p")
        assert row is not None
        return (int(row["r"] or 0), int(row["d"] or 0), int(row["p"] or 0))

    def record_ids(self) -> list[int]:
        return [r["id"] for r in self._db.execute("SELECT id FROM records ORDER BY id")]

    # -- duplicates -------------------------------------------------------------------------------------
    def add_dedupe_run(self, *, settings: dict[str, Any], n_records: int, n_compared: int, n_linked: int,
                       n_queued: int) -> int:
        with self.transaction():
            return self._insert(
                "INSERT INTO dedupe_runs (started_at, settings, n_records, n_compared, n_linked, n_queued) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (now(), json.dumps(settings), n_records, n_compared, n_linked, n_queued))

    def update_dedupe_run(self, run_id: int, *, n_linked: int, n_queued: int) -> None:
        with self.transaction():
            self._write("UPDATE dedupe_runs SET n_linked = ?, n_queued = ? WHERE id = ?", (n_linked, n_queued, run_id))

    def dedupe_runs(self) -> list[dict[str, Any]]:
        return self._all("SELECT * FROM dedupe_runs ORDER BY id")

    def add_pair_decisions(self, rows: Iterable[tuple[int, int, bool, str, float | None, int | None,
                                                      str | None, str | None]]) -> None:
        """Append (a, b, same, method, score, run id, decided by, note); a < b is enforced here."""
        stamp = now()
        with self.transaction():
            self._writemany(
                "INSERT INTO pair_decisions (record_a, record_b, same, method, score, run_id, decided_by, note, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                ((min(a, b), max(a, b), int(same), method, score, run, by, note, stamp)
                 for a, b, same, method, score, run, by, note in rows))

    def pair_decisions(self) -> list[dict[str, Any]]:
        """The latest decision on each pair (the log itself is kept whole)."""
        return self._all(
            "SELECT * FROM pair_decisions WHERE id IN "
            "(SELECT max(id) FROM pair_decisions GROUP BY record_a, record_b) ORDER BY id")

    def pair_decision_log(self) -> list[dict[str, Any]]:
        return self._all("SELECT * FROM pair_decisions ORDER BY id")

    def add_candidates(self, rows: Iterable[tuple[int, int, float, str, int | None]]) -> None:
        stamp = now()
        with self.transaction():
            self._writemany(
                "INSERT INTO pair_candidates (record_a, record_b, score, reason, run_id, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (record_a, record_b) DO NOTHING",
                ((min(a, b), max(a, b), score, reason, run, stamp) for a, b, score, reason, run in rows))

    def open_candidates(self) -> list[dict[str, Any]]:
        """Queued pairs that no one has decided yet, most similar first."""
        return self._all(
            "SELECT c.* FROM pair_candidates c WHERE NOT EXISTS (SELECT 1 FROM pair_decisions d "
            "WHERE d.record_a = c.record_a AND d.record_b = c.record_b) ORDER BY c.score DESC, c.id")

    def candidates(self) -> list[dict[str, Any]]:
        return self._all("SELECT * FROM pair_candidates ORDER BY id")

    def add_primary_choice(self, record_id: int, chosen_by: str | None) -> None:
        with self.transaction():
            self._write("INSERT INTO primary_choices (record_id, chosen_by, created_at) VALUES (?, ?, ?)",
                        (record_id, chosen_by, now()))

    def primary_choices(self) -> list[dict[str, Any]]:
        return self._all("SELECT * FROM primary_choices ORDER BY id")

    # -- screening ----------------------------------------------------------------------------------------
    def add_decisions(self, rows: Iterable[dict[str, Any]]) -> int:
        """Append screening decisions (record_id, stage, reviewer, decision, reason, note, is_resolution,
        created_at optional); return how many were written."""
        stamp = now()
        n = 0
        with self.transaction():
            for row in rows:
                self._write(
                    "INSERT INTO decisions (record_id, stage, reviewer, decision, reason, note, is_resolution, "
                    "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (row["record_id"], row["stage"], row["reviewer"], row["decision"], row.get("reason"),
                     row.get("note"), int(bool(row.get("is_resolution", False))), row.get("created_at") or stamp))
                n += 1
        return n

    def decision_log(self, stage: str | None = None, *, active: bool = False,
                     record_ids: Iterable[int] | None = None) -> list[dict[str, Any]]:
        """Decisions in the order they were made; ``active``: without those their authors took back;
        ``record_ids``: on these records only."""
        where, params = [], []
        if stage is not None:
            where.append("stage = ?")
            params.append(stage)
        if active:
            where.append("NOT EXISTS (SELECT 1 FROM decision_retractions x WHERE x.decision_id = decisions.id)")
        if record_ids is not None:
            ids = sorted({int(i) for i in record_ids})
            where.append(f"record_id IN ({','.join('?' * len(ids)) or 'NULL'})")
            params.extend(ids)
        sql = "SELECT * FROM decisions" + (f" WHERE {' AND '.join(where)}" if where else "") + " ORDER BY id"
        return self._all(sql, params)

    def retract_decision(self, decision_id: int, by: str) -> None:
        with self.transaction():
            self._write("INSERT INTO decision_retractions (decision_id, retracted_by, created_at) VALUES (?, ?, ?)",
                        (decision_id, by, now()))

    def add_retrieval(self, record_id: int, retrieved: bool, recorded_by: str, note: str | None) -> None:
        with self.transaction():
            self._write("INSERT INTO retrievals (record_id, retrieved, recorded_by, note, created_at) "
                        "VALUES (?, ?, ?, ?, ?)", (record_id, int(retrieved), recorded_by, note, now()))

    def retrievals(self) -> list[dict[str, Any]]:
        """The latest retrieval status of each report."""
        return self._all("SELECT * FROM retrievals WHERE id IN (SELECT max(id) FROM retrievals GROUP BY record_id)")

    # -- studies and extraction ---------------------------------------------------------------------------
    def add_study_assignment(self, record_id: int, study: str, assigned_by: str | None) -> None:
        with self.transaction():
            self._write("INSERT INTO study_assignments (record_id, study, assigned_by, created_at) "
                        "VALUES (?, ?, ?, ?)", (record_id, study, assigned_by, now()))

    def study_assignments(self) -> dict[int, str]:
        rows = self._all("SELECT record_id, study FROM study_assignments WHERE id IN "
                         "(SELECT max(id) FROM study_assignments GROUP BY record_id)")
        return {r["record_id"]: r["study"] for r in rows}

    def add_values(self, rows: Iterable[Sequence[str | None]]) -> int:
        """Append extracted values (study, field, extractor, value, entered via[, location])."""
        stamp = now()
        rows = [(*r, None) if len(r) == 5 else tuple(r) for r in rows]
        with self.transaction():
            self._writemany("INSERT INTO extraction_values (study, field, extractor, value, entered_via, location, "
                            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)", ((*r, stamp) for r in rows))
        return len(rows)

    def current_values(self) -> list[dict[str, Any]]:
        """The latest value each extractor entered for each study and field."""
        return self._all("SELECT * FROM extraction_values WHERE id IN (SELECT max(id) FROM extraction_values "
                         "GROUP BY study, field, extractor) ORDER BY study, field, extractor")

    def add_adjudication(self, study: str, field: str, value: str | None, adjudicator: str, reason: str) -> None:
        with self.transaction():
            self._write("INSERT INTO adjudications (study, field, value, adjudicator, reason, created_at) "
                        "VALUES (?, ?, ?, ?, ?, ?)", (study, field, value, adjudicator, reason, now()))

    def current_adjudications(self) -> list[dict[str, Any]]:
        return self._all("SELECT * FROM adjudications WHERE id IN (SELECT max(id) FROM adjudications "
                         "GROUP BY study, field) ORDER BY study, field")

    # -- risk of bias and GRADE --------------------------------------------------------------------------
    def add_rob_answers(self, rows: Iterable[tuple[str, str, str, str, str, str | None, str | None, str | None,
                                                   str]]) -> int:
        """Append assessors' entries (tool, outcome, study, item, assessor, value, support, location,
        entered via); an item is a signalling question, a domain or ``Overall``."""
        stamp = now()
        rows = list(rows)
        with self.transaction():
            self._writemany("INSERT INTO rob_answers (tool, outcome, study, item, assessor, value, support, location, "
                            "entered_via, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            ((*r, stamp) for r in rows))
        return len(rows)

    def current_rob_answers(self, tool: str, outcome: str) -> list[dict[str, Any]]:
        """The latest entry of each assessor for each study and item."""
        return self._all("SELECT * FROM rob_answers WHERE id IN (SELECT max(id) FROM rob_answers "
                         "WHERE tool = ? AND outcome = ? GROUP BY study, item, assessor) "
                         "ORDER BY study, item, assessor",
                         (tool, outcome))

    def add_rob_adjudication(self, *, tool: str, outcome: str, study: str, item: str, value: str | None,
                             adjudicator: str, reason: str, support: str | None, location: str | None) -> None:
        with self.transaction():
            self._write("INSERT INTO rob_adjudications (tool, outcome, study, item, value, adjudicator, reason, "
                        "support, location, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (tool, outcome, study, item, value, adjudicator, reason, support, location, now()))

    def current_rob_adjudications(self, tool: str, outcome: str) -> list[dict[str, Any]]:
        return self._all("SELECT * FROM rob_adjudications WHERE id IN (SELECT max(id) FROM rob_adjudications "
                         "WHERE tool = ? AND outcome = ? GROUP BY study, item) ORDER BY study, item", (tool, outcome))

    def rob_outcomes(self, tool: str) -> list[str]:
        return [r["outcome"] for r in self._db.execute("SELECT DISTINCT outcome FROM rob_answers WHERE tool = ? "
                                                 "ORDER BY outcome", (tool,))]

    def add_grade_rating(self, outcome: str, domain: str, rating: str, reason: str, rated_by: str) -> None:
        with self.transaction():
            self._write("INSERT INTO grade_ratings (outcome, domain, rating, reason, rated_by, created_at) "
                        "VALUES (?, ?, ?, ?, ?, ?)", (outcome, domain, rating, reason, rated_by, now()))

    def current_grade_ratings(self, outcome: str | None = None) -> list[dict[str, Any]]:
        """The latest rating of each outcome's domains (the log itself is kept whole)."""
        sql = "SELECT * FROM grade_ratings WHERE id IN (SELECT max(id) FROM grade_ratings GROUP BY outcome, domain)"
        if outcome is None:
            return self._all(sql + " ORDER BY outcome, domain")
        return self._all(sql + " AND outcome = ? ORDER BY domain", (outcome,))

    # -- full texts ------------------------------------------------------------------------------------------
    def add_fulltext(self, *, record_id: int, stored_name: str, original_name: str, size: int, sha256: str,
                     uploaded_by: str) -> int:
        with self.transaction():
            return self._insert(
                "INSERT INTO fulltexts (record_id, stored_name, original_name, size, sha256, uploaded_by, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (record_id, stored_name, original_name, size, sha256, uploaded_by, now()))

    def fulltext(self, fulltext_id: int) -> dict[str, Any] | None:
        return self._one("SELECT * FROM fulltexts WHERE id = ?", (fulltext_id,))

    def fulltexts(self) -> list[dict[str, Any]]:
        """Every uploaded file, oldest first (a newer upload for a record replaces the older one on screen)."""
        return self._all("SELECT * FROM fulltexts ORDER BY id")

    # -- accounts -------------------------------------------------------------------------------------------
    def add_user(self, name: str, role: str, password_hash: str, created_by: str | None) -> int:
        with self.transaction():
            return self._insert("INSERT INTO users (name, role, password_hash, created_at, created_by) "
                                   "VALUES (?, ?, ?, ?, ?)", (name, role, password_hash, now(), created_by))

    def user(self, name: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM users WHERE name = ?", (name,))

    def users(self) -> list[dict[str, Any]]:
        return self._all("SELECT * FROM users ORDER BY id")

    def mark_user_removed(self, name: str) -> None:
        """Accounts are never deleted: the decision log keeps naming the people who made its entries."""
        with self.transaction():
            self._write("UPDATE users SET removed_at = ? WHERE name = ? AND removed_at IS NULL", (now(), name))
