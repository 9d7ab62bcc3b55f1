"""Copying a review project between a SQLite file and a PostgreSQL database, with nothing lost.

The source is read inside one snapshot (others may go on working on it meanwhile; the
copy is the project as it was at one instant) and never written, not even upgraded: the
destination is created at the source's schema version.  The destination must be new (a
file that does not exist, or a database or schema without tables), and is written in one
transaction: the schema, then every table in the order the migrations made them, each
row with its own id, so that every reference, every log entry and its order survive.
Before that transaction commits, every table of the destination is read back and
compared with the source row by row and column by column; a difference rolls the whole
copy back.  A copy that fails leaves no destination behind (a file it created is
removed; a database is left as empty as it was).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..base.exceptions import DataError, SettingsError
from .backends import display, is_url
from .store import Store

__all__ = ["CopyReport", "copy_project", "compare_projects"]


@dataclass
class CopyReport:
    source: str
    destination: str
    schema_version: int
    rows: dict[str, int] = field(default_factory=dict)
    verified: bool = False

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["total_rows"] = sum(self.rows.values())
        return out


def compare_projects(a: Store, b: Store) -> list[str]:
    """Where two projects differ, table by table and row by row (an empty list: they are identical)."""
    out: list[str] = []
    tables_a, tables_b = a.tables(), b.tables()
    if tables_a != tables_b:
        out.append(f"tables differ: {sorted(set(tables_a) ^ set(tables_b))}")
    for table in tables_a:
        if table not in tables_b:
            continue
        rows_a, rows_b = a.table_rows(table), b.table_rows(table)
        if len(rows_a) != len(rows_b):
            out.append(f"{table}: {len(rows_a)} rows in one, {len(rows_b)} in the other")
            continue
        for ra, rb in zip(rows_a, rows_b):
            if ra != rb:
                key = ra.get("id", ra.get("key"))
                columns = sorted(c for c in ra.keys() | rb.keys() if ra.get(c) != rb.get(c))
                out.append(f"{table}: row {key} differs in {', '.join(columns)}")
                break
    return out


def _remove_file(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        try:
            os.unlink(f"{path}{suffix}")
        except FileNotFoundError:
            pass


def copy_project(source: str | os.PathLike, destination: str | os.PathLike, *,
                 timeout: float = 60.0) -> CopyReport:
    """Copy the project at ``source`` to the new project ``destination`` (files or ``postgresql://`` URLs)."""
    if str(source) == str(destination) or (not is_url(source) and not is_url(destination)
                                           and Path(source).resolve() == Path(destination).resolve()):
        raise SettingsError("the source and the destination are the same project")
    if not is_url(destination) and Path(destination).exists():
        raise SettingsError(f"{destination} already exists; a project is copied only into a new file or an empty "
                            f"database")
    with Store.open(source, timeout=timeout, upgrade=False) as src, src.snapshot():
        version = src.version
        report = CopyReport(source=display(source), destination=display(destination), schema_version=version)
        dst = Store._empty(destination, timeout)
        try:
            with dst.transaction():
                dst.migrate(version)
                for table in src.tables():
                    rows = src.table_rows(table)
                    dst.load_rows(table, rows)
                    report.rows[table] = len(rows)
                differences = compare_projects(src, dst)
                if differences:
                    raise DataError(f"the copy in {report.destination} differs from {report.source} "
                                    f"({differences[0]}); nothing was written", rule="copy")
        except BaseException:
            dst.close()
            if dst.path is not None:
                _remove_file(dst.path)
            raise
        dst.close()
    report.verified = True
    return report
