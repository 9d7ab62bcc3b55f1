"""Where a review project lives: a SQLite file or a PostgreSQL database, and how each speaks SQL.

:class:`~metareview.review.store.Store` writes one SQL text for both; every difference
between the two dialects lives here, behind five operations (connect, execute, begin,
commit, roll back) and a few facts (the schema version, the tables, what a failure looks
like):

* **Placeholders**: the store writes ``?``; psycopg takes ``%s``.
* **Identifiers and types**: ``id INTEGER PRIMARY KEY`` (SQLite's rowid) becomes an identity
  column, ``REAL`` a ``DOUBLE PRECISION``, and text compares byte by byte on both
  (``COLLATE "C"``, SQLite's ``BINARY``), so that every ``ORDER BY`` lists the same rows in
  the same order on either backend.
* **Writers**: SQLite's ``BEGIN IMMEDIATE`` lets one writer in at a time and makes the
  others wait.  On PostgreSQL a write transaction runs at ``READ COMMITTED`` and first takes
  a transaction-level advisory lock of the project: writers queue as on SQLite, readers
  never wait, and every statement after the lock sees everything committed before it, so
  a check made inside a transaction (has this file been imported already?) still holds
  when the transaction commits.  Transactions that touch the same rows therefore never
  fail with a serialization error and never need to be replayed.  A writer waits up to
  ``timeout`` seconds (``lock_timeout``) as SQLite's ``busy_timeout`` does.
* **Schema version**: SQLite keeps it in the file (``PRAGMA user_version``), PostgreSQL in
  the table ``metareview_schema``.
* **Durability**: SQLite is put in WAL mode with ``synchronous = FULL``; PostgreSQL
  commits durably by default.
* **Pages**: a new SQLite file is made of 16 KiB pages (:data:`PAGE_SIZE`) instead of SQLite's
  4 KiB.  A record (its raw text, its abstract) takes a few KiB, so a 4 KiB page holds one
  and leaves a quarter of the file empty; larger pages hold several, and the file of the
  same records is a sixth smaller.  A file made with another page size keeps it (SQLite
  fixes it when the file is made).  A connection keeps up to 32 MiB of pages in memory
  (:data:`CACHE_KIB`; SQLite's default is 2 MiB): an import adds its records at the end of
  their table, but their DOIs and PMIDs anywhere in those indexes, whose pages a small
  cache wrote to the WAL and read back again and again.  An import then writes little more
  than its pages twice, once to the WAL and once when they are copied into the file.

A PostgreSQL project is named by a URL (``postgresql://user@host:5432/dbname``); its tables
live in the connection's current schema, so one database can hold several projects, one
schema each (``?options=-csearch_path%3Dname``).  The password of a URL is never shown:
:func:`display` masks it in every message.
"""

from __future__ import annotations

import re
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..base.exceptions import SettingsError

__all__ = ["URL_SCHEMES", "PAGE_SIZE", "CACHE_KIB", "is_url", "display", "database_name", "Backend", "SQLiteBackend",
           "PostgresBackend", "connect", "database_errors"]

URL_SCHEMES = ("postgresql://", "postgres://")
#: the page size of a new SQLite project file, in bytes
PAGE_SIZE = 16_384
#: the most memory a SQLite connection keeps pages in, in KiB
CACHE_KIB = 32_768


def is_url(location: object) -> bool:
    """Whether ``location`` names a PostgreSQL database rather than a project file."""
    return isinstance(location, str) and location.lower().startswith(URL_SCHEMES)


def display(location: object) -> str:
    """``location`` as it may be shown: a URL with its password replaced by ``***``."""
    text = str(location)
    if not is_url(text):
        return text
    parts = urlsplit(text)
    if parts.password is not None:
        host = parts.netloc.rsplit("@", 1)[1]
        user = parts.netloc.rsplit("@", 1)[0].split(":", 1)[0]
        parts = parts._replace(netloc=f"{user}:***@{host}")
    query = re.sub(r"(?i)(password=)[^&]*", r"\1***", parts.query)
    return urlunsplit(parts._replace(query=query))


def database_name(url: str) -> str:
    """The database a URL names (its path without the slash), or ``review`` when it names none."""
    return urlsplit(url).path.lstrip("/") or "review"


class Backend(ABC):
    """An open connection and its dialect.  Rows come back as dicts."""

    kind = ""
    #: the errors of this driver that mean the database refused or failed a statement
    errors: tuple[type[BaseException], ...] = ()

    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> Iterator[dict[str, Any]]:
        ...

    def columns(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows of a query as one tuple per column, in the order the query names them (for reading a few
        columns of many rows at once)."""
        rows = [tuple(row.values()) for row in self.execute(sql, params)]
        return list(zip(*rows))

    @abstractmethod
    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        ...

    @abstractmethod
    def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one ``INSERT`` and return the id it gave the new row."""

    @abstractmethod
    def begin(self) -> None:
        ...

    @abstractmethod
    def begin_read(self) -> None:
        """A read-only transaction that sees one snapshot of the whole project until it ends."""

    def commit(self) -> None:
        self._run("COMMIT")

    def rollback(self) -> None:
        self._run("ROLLBACK")

    @abstractmethod
    def _run(self, sql: str) -> None:
        ...

    @abstractmethod
    def close(self) -> None:
        ...

    @abstractmethod
    def get_version(self) -> int:
        ...

    @abstractmethod
    def set_version(self, number: int) -> None:
        ...

    def ddl(self, statement: str) -> str:
        """A migration statement (written for SQLite) in this dialect."""
        return statement

    @abstractmethod
    def tables(self) -> list[str]:
        """The project's tables, by name."""

    @abstractmethod
    def integrity(self) -> str:
        """The database's own check of itself ("ok" when it finds nothing)."""

    def after_load(self, table: str) -> None:  # noqa: B027 - a hook: nothing to do unless a backend says so
        """Called after rows with their own ids were copied into ``table``."""


# -- SQLite ---------------------------------------------------------------------------------------------
class SQLiteBackend(Backend):
    kind = "sqlite"
    errors = (sqlite3.Error,)

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    @classmethod
    def connect(cls, path: Path, timeout: float) -> "SQLiteBackend":
        conn = sqlite3.connect(str(path), timeout=timeout, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
        # before the journal mode, which writes the header of a new file: a file that has one keeps its size
        conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            conn.close()
            raise SettingsError(f"{path}: the project file system does not support SQLite's WAL mode "
                                f"(journal mode stayed {mode!r}); put the project on a local disk")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        return cls(conn)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Iterator[dict[str, Any]]:
        # rows are read as they are used, so a large project is never held in memory at once; each
        # as a tuple zipped with the column names (faster than a dict of a sqlite3.Row)
        cursor = self.conn.cursor()
        cursor.row_factory = None
        cursor.execute(sql, params)
        if cursor.description is None:
            return iter(())
        names = [column[0] for column in cursor.description]
        return (dict(zip(names, row)) for row in cursor)

    def columns(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cursor = self.conn.cursor()
        cursor.row_factory = None  # tuples as SQLite gives them, no dict per row
        cursor.execute(sql, params)
        return list(zip(*cursor.fetchall()))

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self.conn.executemany(sql, rows)

    def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        # lastrowid rather than RETURNING, which needs SQLite 3.35 (2021)
        rowid = self.conn.execute(sql, params).lastrowid
        assert rowid is not None  # an INSERT always sets it
        return int(rowid)

    def begin(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def begin_read(self) -> None:
        # deferred: the WAL snapshot is taken at the first read and kept until the end
        self.conn.execute("BEGIN DEFERRED")

    def _run(self, sql: str) -> None:
        self.conn.execute(sql)

    def close(self) -> None:
        self.conn.close()

    def get_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def set_version(self, number: int) -> None:
        self.conn.execute(f"PRAGMA user_version = {int(number)}")

    def tables(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                                "AND name NOT LIKE 'sqlite_%' ORDER BY name")]

    def integrity(self) -> str:
        return str(self.conn.execute("PRAGMA integrity_check").fetchone()[0])


# -- PostgreSQL -----------------------------------------------------------------------------------------
_TEXT = re.compile(r"\bTEXT\b")
_REAL = re.compile(r"\bREAL\b")
_ROWID = re.compile(r"\bINTEGER PRIMARY KEY\b")
#: the advisory lock that stands for SQLite's write lock (pg_advisory_xact_lock's first key: "mrv")
_LOCK_CLASS = 0x6D7276
_VERSION_TABLE = "metareview_schema"


def _placeholders(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


class PostgresBackend(Backend):
    kind = "postgresql"

    def __init__(self, conn: Any, url: str):
        import psycopg
        self.conn = conn
        self.url = url
        self.errors = (psycopg.Error,)

    @classmethod
    def connect(cls, url: str, timeout: float) -> "PostgresBackend":
        try:
            import psycopg
            from psycopg.rows import dict_row
        except ImportError:
            raise SettingsError(f"{display(url)}: PostgreSQL projects need psycopg; install it with "
                                f"pip install 'metareview[postgres]'") from None
        try:
            conn = psycopg.connect(url, autocommit=True, row_factory=dict_row, connect_timeout=max(1, int(timeout)))
        except psycopg.Error as exc:
            raise SettingsError(f"cannot connect to {display(url)}: {_first_line(exc)}") from None
        conn.execute(f"SET lock_timeout = {int(timeout * 1000)}")
        return cls(conn, url)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Iterator[dict[str, Any]]:
        cur = self.conn.execute(_placeholders(sql), tuple(params))
        return iter(cur.fetchall() if cur.description is not None else [])

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self.conn.cursor() as cur:
            cur.executemany(_placeholders(sql), [tuple(r) for r in rows])

    def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        row = self.conn.execute(_placeholders(sql + " RETURNING id"), tuple(params)).fetchone()
        return int(row["id"])

    def begin(self) -> None:
        self.conn.execute("BEGIN ISOLATION LEVEL READ COMMITTED")
        try:
            self.conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(current_schema()))", (_LOCK_CLASS,))
        except BaseException:
            self.rollback()
            raise

    def begin_read(self) -> None:
        self.conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")

    def _run(self, sql: str) -> None:
        self.conn.execute(sql)

    def rollback(self) -> None:
        if not self.conn.closed:
            self.conn.execute("ROLLBACK")

    def close(self) -> None:
        self.conn.close()

    def get_version(self) -> int:
        row = self.conn.execute("SELECT to_regclass(%s) AS t", (_VERSION_TABLE,)).fetchone()
        if row["t"] is None:
            return 0
        row = self.conn.execute(f"SELECT version FROM {_VERSION_TABLE}").fetchone()
        return 0 if row is None else int(row["version"])

    def set_version(self, number: int) -> None:
        self.conn.execute(f"CREATE TABLE IF NOT EXISTS {_VERSION_TABLE} (version INTEGER NOT NULL)")
        self.conn.execute(f"DELETE FROM {_VERSION_TABLE}")
        self.conn.execute(f"INSERT INTO {_VERSION_TABLE} (version) VALUES (%s)", (int(number),))

    def ddl(self, statement: str) -> str:
        statement = _ROWID.sub("INTEGER GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", statement)
        statement = _REAL.sub("DOUBLE PRECISION", statement)
        return _TEXT.sub('TEXT COLLATE "C"', statement)

    def tables(self) -> list[str]:
        rows = self.conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = "
                                 "current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name").fetchall()
        return [r["table_name"] for r in rows if r["table_name"] != _VERSION_TABLE]

    def integrity(self) -> str:
        # the server checks its own pages (data checksums, WAL); what is left to ask is that it answers
        self.conn.execute("SELECT 1")
        return "ok"

    def after_load(self, table: str) -> None:
        # rows came with their ids: the identity continues after the largest
        self.conn.execute(f"SELECT setval(pg_get_serial_sequence(%s, 'id'), coalesce(max(id), 0) + 1, false) "
                          f"FROM {table}", (table,))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def connect(location: str | Path, timeout: float) -> Backend:
    """Open ``location`` (a URL or a file path) with the backend it needs."""
    if is_url(location):
        return PostgresBackend.connect(str(location), timeout)
    return SQLiteBackend.connect(Path(location), timeout)


def database_errors() -> tuple[type[BaseException], ...]:
    """The exception classes that mean a database failed, for every backend installed."""
    out: list[type[BaseException]] = [sqlite3.Error]
    try:
        import psycopg
        out.append(psycopg.Error)
    except ImportError:
        pass
    return tuple(out)
