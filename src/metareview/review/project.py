"""A review project: the store plus the project's settings, and importing exports into it.

The settings (exclusion reasons, how many reviewers screen each record, highlight
keywords, the extraction form) live in the project file, so the file alone is the
whole review.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..base.collector import collector_paused
from ..base.exceptions import DataError, SettingsError
from .store import Store

if TYPE_CHECKING:
    from .dedupe import Progress
    from .records import Record

__all__ = ["Project", "ImportReport", "STAGES", "DEFAULT_REASONS", "SOURCE_KINDS", "parse_stage"]

STAGES = ("title_abstract", "full_text")
SOURCE_KINDS = ("database", "register", "other")
_STAGE_ALIASES = {"ta": "title_abstract", "title-abstract": "title_abstract", "tiab": "title_abstract",
                  "title_abstract": "title_abstract", "ft": "full_text", "full-text": "full_text",
                  "fulltext": "full_text", "full_text": "full_text"}
DEFAULT_REASONS = {
    "title_abstract": ["wrong population", "wrong intervention", "wrong comparator", "wrong outcome",
                       "wrong study design", "not a primary study"],
    "full_text": ["wrong population", "wrong intervention", "wrong comparator", "wrong outcome",
                  "wrong study design", "not a primary study", "duplicate report", "no usable data",
                  "language"],
}


def _counted(records: Iterable[Record], stage: str, progress: Progress | None, total: Callable[[], int],
             malformed: list[Record]) -> Iterator[Record]:
    """The records, reporting every 5,000 of them to ``progress`` (out of ``total()``, the records read so
    far) and at the end, and keeping the malformed ones in ``malformed``."""
    done = 0
    for done, rec in enumerate(records, start=1):  # noqa: B007 - the count is read below
        if progress and done % 5000 == 0:
            progress(stage, done, total())
        if rec.status == "malformed":
            malformed.append(rec)
        yield rec
    if progress:
        progress(stage, done, done)


def parse_stage(stage: str) -> str:
    """``title_abstract`` or ``full_text`` from the spellings people type (``ta``, ``full-text``)."""
    try:
        return _STAGE_ALIASES[stage.strip().lower()]
    except (KeyError, AttributeError):
        raise SettingsError(f"unknown screening stage {stage!r}; stages are title_abstract (ta) and "
                            f"full_text (ft)") from None


@dataclass
class ImportReport:
    batch_id: int
    source: str
    filename: str
    format: str
    encoding: str
    n_records: int
    n_malformed: int
    malformed: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Project:
    """An open review project.

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "review.mrv"
    >>> with Project.init(path, name="demo") as project:
    ...     project.name
    'demo'
    """

    def __init__(self, store: Store, *, files: str | os.PathLike | None = None):
        self.store = store
        #: where the project's own files (full-text PDFs) are kept when it is not beside a project file
        self.files: Path | None = Path(files) if files is not None else None

    # -- life cycle ---------------------------------------------------------------------------------
    @classmethod
    def init(cls, path: str | os.PathLike, *, name: str | None = None, reviewers_per_record: int = 2,
             reasons: dict[str, list[str]] | None = None) -> "Project":
        """Create a project file, or a project in an empty PostgreSQL database when ``path`` is a
        ``postgresql://`` URL.  ``reviewers_per_record`` is 2 for dual screening, 1 for single."""
        if reviewers_per_record not in (1, 2):
            raise SettingsError(f"reviewers per record must be 1 or 2, not {reviewers_per_record}")
        store = Store.create(path)
        project = cls(store)
        with store.transaction():
            store.set_setting("name", name or store.default_name)
            store.set_setting("reviewers_per_record", reviewers_per_record)
            store.set_setting("exclusion_reasons", reasons or DEFAULT_REASONS)
            store.set_setting("keywords", {"include": [], "exclude": []})
        return project

    @classmethod
    def open(cls, path: str | os.PathLike, *, files: str | os.PathLike | None = None) -> "Project":
        """Open a project file or a ``postgresql://`` URL; ``files`` is the folder of its full texts
        (by default ``<project file>.files`` beside a file; a database has none unless given)."""
        return cls(Store.open(path), files=files)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> "Project":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- settings -------------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return str(self.store.get_setting("name", self.store.default_name))

    @property
    def reviewers_per_record(self) -> int:
        return int(self.store.get_setting("reviewers_per_record", 2))

    def reasons(self, stage: str) -> list[str]:
        return list(self.store.get_setting("exclusion_reasons", DEFAULT_REASONS).get(parse_stage(stage), []))

    def set_reasons(self, stage: str, reasons: Sequence[str]) -> None:
        cleaned = [r.strip() for r in reasons if r.strip()]
        if len(set(cleaned)) != len(cleaned):
            raise SettingsError("exclusion reasons must be unique")
        table = dict(self.store.get_setting("exclusion_reasons", DEFAULT_REASONS))
        table[parse_stage(stage)] = cleaned
        self.store.set_setting("exclusion_reasons", table)

    @property
    def keywords(self) -> dict[str, list[str]]:
        return dict(self.store.get_setting("keywords", {"include": [], "exclude": []}))

    def set_keywords(self, include: Sequence[str] = (), exclude: Sequence[str] = ()) -> None:
        self.store.set_setting("keywords", {"include": [k for k in include if k.strip()],
                                            "exclude": [k for k in exclude if k.strip()]})

    @property
    def blinded(self) -> bool:
        """Whether a screener sees other reviewers' decisions on a record before it is settled (not when True,
        the default for dual screening; the owner may switch it off, as Rayyan allows)."""
        return bool(self.store.get_setting("blinded", True))

    def set_blinded(self, blinded: bool) -> None:
        self.store.set_setting("blinded", bool(blinded))

    # -- import ---------------------------------------------------------------------------------------
    def import_file(self, path: str | os.PathLike, *, source: str, kind: str = "database",
                    format: str | None = None, mapping: dict[str, str] | None = None,
                    allow_reimport: bool = False, imported_by: str | None = None,
                    progress: Progress | None = None) -> ImportReport:
        """Import one export as a batch from ``source`` (a database, register or other method).

        The same file (by SHA-256 of its bytes) is refused a second time unless
        ``allow_reimport``; a second copy would then be linked as duplicates by
        de-duplication, never silently merged.  ``progress`` is called with a stage
        ("reading": percent of the export read; "storing": records), the work done and the work in all.
        """
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise DataError(f"cannot read {path}: {exc.strerror}", rule="file") from None
        return self.import_bytes(data, filename=path.name, source=source, kind=kind, format=format,
                                 mapping=mapping, allow_reimport=allow_reimport, imported_by=imported_by,
                                 progress=progress)

    def _check_reimport(self, sha: str, filename: str, allow: bool) -> None:
        earlier = self.store.batches_with_hash(sha)
        if earlier and not allow:
            first = earlier[0]
            raise DataError(f"{filename} was already imported (batch {first['id']}, from {first['source']}, "
                            f"on {first['imported_at'][:10]}, as {first['filename']}); pass --allow-reimport "
                            f"to import it again", rule="reimport")

    def import_bytes(self, data: bytes, *, filename: str, source: str, kind: str = "database",
                     format: str | None = None, mapping: dict[str, str] | None = None,
                     allow_reimport: bool = False, imported_by: str | None = None,
                     progress: Progress | None = None) -> ImportReport:
        """Import an export held in memory; ``filename`` names it in messages and the batch."""
        from .aside import ASIDE_FROM, ReadAside, can_fork
        from .importers import open_export
        if kind not in SOURCE_KINDS:
            raise SettingsError(f"unknown source kind {kind!r}; kinds are {list(SOURCE_KINDS)}")
        if not source.strip():
            raise SettingsError("the source needs a name (e.g. --source PubMed)")
        sha = hashlib.sha256(data).hexdigest()
        self._check_reimport(sha, filename, allow_reimport)
        if progress:
            progress("reading", 0, 100)
        reading = functools.partial(progress, "reading") if progress else None
        export = open_export(data, filename=filename, format=format, mapping=mapping)
        reader: contextlib.AbstractContextManager[Any]
        records: Iterable[Record]
        read_so_far: Callable[[], int]
        if len(data) >= ASIDE_FROM and can_fork():
            # a large export is read in a second process while this one stores what has been read
            aside = ReadAside(export, reading)
            reader, records, read_so_far = aside, aside, lambda: aside.count
        else:
            with collector_paused():
                records = list(export.records(reading))
            reader = contextlib.nullcontext()
            read_so_far = functools.partial(len, records)
        malformed: list[Record] = []
        with reader, self.store.transaction(), collector_paused():
            # checked again inside the write lock: another process may have imported it meanwhile
            self._check_reimport(sha, filename, allow_reimport)
            existing = self.store.source(source)
            if existing is None:
                source_id = self.store.add_source(source, kind)
            elif existing["kind"] != kind:
                raise SettingsError(f"source {source!r} was registered as a {existing['kind']}, not a {kind}")
            else:
                source_id = existing["id"]
            batch_id, n, bad = self.store.add_batch(source_id=source_id, filename=filename, sha256=sha,
                                                    format=export.format, encoding=export.encoding,
                                                    imported_by=imported_by,
                                                    records=_counted(records, "storing", progress, read_so_far,
                                                                     malformed))
        return ImportReport(batch_id=batch_id, source=source, filename=filename, format=export.format,
                            encoding=export.encoding, n_records=n, n_malformed=bad,
                            malformed=[{"line": r.line, "problem": r.problem} for r in malformed])
