"""Full-text reports: the PDF of each report sought, kept beside the project file (or, for a project on a
database server, in the folder given with ``metareview serve --files``).

A PDF is accepted only if its bytes say it is one (the ``%PDF-`` header every PDF
file starts with, ISO 32000-1 section 7.5.2) and it is not larger than the limit.  It is
stored under a generated name in the folder ``<project file>.files/`` next to the
project, never under a name or path the uploader chose, with its SHA-256 and who
uploaded it logged in the project.  The file is written (and synced) before its row,
so a process killed half-way leaves at most an unreferenced file, never a row that
points to nothing.  Uploads are never deleted: a newer upload for a report is the one
shown, the older ones stay listed.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from ..base.exceptions import DataError, SettingsError
from .dedupe import clusters
from .project import Project
from .screening import UnitState, states, study_labels

__all__ = ["MAX_PDF_BYTES", "PDF_MAGIC", "files_folder", "check_pdf", "attach_pdf", "fulltexts", "latest_fulltexts",
           "fulltext_path", "reports_sought"]

#: Largest PDF accepted (50 MB: a scanned article with figures stays well below it).
MAX_PDF_BYTES = 50 * 1024 * 1024
PDF_MAGIC = b"%PDF-"
_STORED = re.compile(r"^[0-9a-f]{32}\.pdf$")


def files_folder(project: Project) -> Path:
    """The folder the project's files live in: the one it was opened with (``metareview serve --files``),
    else ``<project file>.files`` beside the project file.  A project on a database server keeps its
    files on a local disk too, in the folder it is given; without one there is nowhere to keep them."""
    if project.files is not None:
        return project.files
    path = project.store.path
    if path is None:
        raise SettingsError("this project is on a database server and its full texts stay on a local disk, but "
                            "no folder was given for them: start the workspace with --files DIR (or set "
                            "METAREVIEW_FILES)")
    return path.with_name(path.name + ".files")


def _display_name(filename: str | None) -> str:
    """The last component of the name the browser sent, for display only (never used as a path)."""
    name = PureWindowsPath(PurePosixPath(filename or "").name).name
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[:200] or "upload.pdf"


def check_pdf(data: bytes, *, filename: str, max_bytes: int = MAX_PDF_BYTES) -> None:
    """Refuse bytes that are empty, too large or not a PDF (by their first bytes, not their name)."""
    if not data:
        raise DataError(f"{filename} is empty", column="file", rule="empty")
    if len(data) > max_bytes:
        raise DataError(f"{filename} is {len(data) / 2**20:.1f} MB; the limit is {max_bytes / 2**20:.0f} MB",
                        column="file", rule="size")
    if not data.startswith(PDF_MAGIC):
        raise DataError(f"{filename} is not a PDF (it does not start with %PDF-)", column="file", rule="pdf")


def attach_pdf(project: Project, record_id: int, data: bytes, *, filename: str, by: str,
               max_bytes: int = MAX_PDF_BYTES) -> dict[str, Any]:
    """Store the PDF of a report (the cluster of ``record_id``); returns its log entry."""
    by = (by or "").strip()
    if not by:
        raise DataError("say who uploaded the file", column="uploaded_by", rule="reviewer")
    display = _display_name(filename)
    cl = clusters(project.store)
    if record_id not in cl.primary:
        raise DataError(f"there is no record {record_id} in this project", study=str(record_id), rule="record-id")
    check_pdf(data, filename=display, max_bytes=max_bytes)
    unit = cl.primary[record_id]
    folder = files_folder(project)
    folder.mkdir(exist_ok=True)
    stored = secrets.token_hex(16) + ".pdf"
    target = folder / stored
    partial = folder / (stored + ".part")
    with open(partial, "xb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(partial, target)
    try:
        new_id = project.store.add_fulltext(record_id=unit, stored_name=stored, original_name=display,
                                            size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                                            uploaded_by=by)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    entry = project.store.fulltext(new_id)
    assert entry is not None
    return entry


def fulltexts(project: Project) -> list[dict[str, Any]]:
    """Every upload, oldest first."""
    return project.store.fulltexts()


def latest_fulltexts(project: Project) -> dict[int, dict[str, Any]]:
    """The latest upload of each report, keyed by the primary record of its cluster."""
    cl = clusters(project.store)
    out: dict[int, dict[str, Any]] = {}
    for row in project.store.fulltexts():
        unit = cl.primary.get(row["record_id"], row["record_id"])
        out[unit] = row
    return out


def fulltext_path(project: Project, fulltext_id: int) -> tuple[Path, dict[str, Any]]:
    """Where an upload's bytes are, and its log entry; a missing or tampered entry is an error."""
    entry = project.store.fulltext(fulltext_id)
    if entry is None:
        raise DataError(f"there is no uploaded file {fulltext_id}", column="file", rule="fulltext-id")
    if not _STORED.match(entry["stored_name"]):
        raise DataError(f"uploaded file {fulltext_id} has an invalid stored name", column="file", rule="fulltext-id")
    path = files_folder(project) / entry["stored_name"]
    if not path.is_file():
        raise DataError(f"the file of upload {fulltext_id} ({entry['original_name']}) is missing from "
                        f"{files_folder(project)}", column="file", rule="missing")
    return path, entry


def reports_sought(project: Project) -> list[dict[str, Any]]:
    """Every report sought for retrieval, in PRISMA's sense, with where it stands.

    A report is sought when its cluster was included at title/abstract, or when it was found
    by other methods (which skip that stage).  Each entry gives the primary ``record_id``,
    ``retrieved`` (True, False, or None while nobody has said), the latest uploaded ``file``,
    the full-text ``state`` (a :class:`~metareview.review.screening.UnitState`, None when the
    report was not retrieved) and the ``study`` label of an included report.
    """
    cl = clusters(project.store)
    ta = states(project, "title_abstract", cl=cl)
    ft = states(project, "full_text", cl=cl)
    kinds = {r["id"]: r["source_kind"] for r in project.store.iter_records(("id",))}
    other = [p for p, members in cl.members.items() if all(kinds[m] == "other" for m in members)]
    sought = sorted([u for u, s in ta.items() if s.state == "included"] + other)
    said = {r["record_id"]: (r["id"], bool(r["retrieved"]), r) for r in project.store.retrievals()}
    files = latest_fulltexts(project)
    labels = study_labels(project) if any(s.state == "included" for s in ft.values()) else {}
    out = []
    for unit in sorted(set(sought)):
        latest = max((said[m] for m in cl.members[unit] if m in said), default=None, key=lambda x: x[0])
        state: UnitState | None = ft.get(unit)
        out.append({"record_id": unit, "retrieved": None if latest is None else latest[1],
                    "retrieval": None if latest is None else latest[2], "file": files.get(unit),
                    "state": state, "study": labels.get(unit), "other_methods": unit in other})
    return out
