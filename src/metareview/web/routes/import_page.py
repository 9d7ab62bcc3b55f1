"""Import (``/import``, owner only): upload a PubMed, RIS, Web of Science or CSV export as a batch.

The upload goes through the same :meth:`Project.import_bytes` as ``metareview review
import``: the file is parsed in memory, its records are stored in one transaction, and
nothing is written to disk under the uploaded name (it only labels the batch).
Records that could not be parsed are kept, listed with their line, and screened like
the others.
"""

from __future__ import annotations

import re
from pathlib import PurePath

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response

from ...base.exceptions import DataError, MetaReviewError
from ...review.accounts import User
from ...review.importers import FORMATS
from ...review.project import SOURCE_KINDS
from ..render import render
from ..routing import page, project
from ._shared import text

MAX_EXPORT = 50 * 1024 * 1024
"""Largest export accepted, in bytes (a PubMed export of 10,000 records with abstracts is about 25 MB)."""


def _label(filename: str | None) -> str:
    """The upload's own name, reduced to a plain label (no folders, no control characters)."""
    name = PurePath((filename or "").replace("\\", "/")).name
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip()
    return name[:200] or "upload"


def _page(request: Request, user: User, *, report=None, error: str | None = None, status: int = 200,
          entered: dict[str, str] | None = None) -> Response:
    proj = project(request)
    store = proj.store
    runs = store.dedupe_runs()
    stale = store.count_records() - (runs[-1]["n_records"] if runs else 0)
    return render(request, "import.html", user=user, status=status, report=report, error=error,
                  batches=store.batches(), formats=FORMATS, kinds=SOURCE_KINDS,
                  sources=[s["name"] for s in store.sources()], not_deduplicated=stale, entered=entered or {},
                  max_mb=MAX_EXPORT // (1024 * 1024))


def import_page(request: Request, user: User | None, form: FormData | None) -> Response:
    assert user is not None
    return _page(request, user)


def upload(request: Request, user: User | None, form: FormData | None) -> Response:
    assert user is not None and form is not None
    entered = {"source": text(form, "source") or "", "kind": text(form, "kind") or "database",
               "format": text(form, "format") or ""}
    try:
        file = form.get("file")
        if not isinstance(file, UploadFile) or not file.filename:
            raise DataError("choose an export file to upload", column="file", rule="file")
        data = file.file.read(MAX_EXPORT + 1)
        if len(data) > MAX_EXPORT:
            raise DataError(f"{_label(file.filename)} is larger than {MAX_EXPORT // (1024 * 1024)} MB; split the "
                            f"export", column="file", rule="size")
        if not data:
            raise DataError(f"{_label(file.filename)} is empty", column="file", rule="file")
        report = project(request).import_bytes(
            data, filename=_label(file.filename), source=entered["source"], kind=entered["kind"],
            format=entered["format"] or None, allow_reimport=text(form, "allow_reimport") == "on",
            imported_by=user.name)
    except MetaReviewError as exc:
        return _page(request, user, error=str(exc), status=400, entered=entered)
    return _page(request, user, report=report)


routes = [
    page("/import", import_page, action="import", name="import_page"),
    page("/import", upload, action="import", methods=["POST"], name="import_upload"),
]
