"""Full text (``/fulltext``): each report sought, its PDF beside the form, retrieval, decision, study.

A reviewer opens a report, uploads its PDF (checked and stored by
:mod:`metareview.review.fulltext`), reads it in the browser's own PDF viewer beside the
form, records whether it could be retrieved, includes it or excludes it with one of the
project's PRISMA reasons, and says which study it reports.  Decisions are blinded as on
the screening page: until the report is settled a reviewer sees their own decision only.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ...base.exceptions import DataError
from ...review.accounts import User
from ...review.fulltext import MAX_PDF_BYTES, attach_pdf, fulltext_path, reports_sought
from ...review.screening import assign_study, decide, set_retrieval
from ..permissions import allowed
from ..render import render
from ..responses import Refusal
from ..routing import page, project
from ._shared import blinded_votes, text

_STAGE = "full_text"


def _record_summary(rec: dict[str, Any]) -> dict[str, Any]:
    authors = rec.get("authors") or []
    return {"id": rec["id"], "title": rec.get("title") or "(no title)", "year": rec.get("year"),
            "authors": ", ".join(authors[:3]) + (" et al." if len(authors) > 3 else ""),
            "journal": rec.get("journal"), "abstract": rec.get("abstract"), "doi": rec.get("doi"),
            "doi_url": f"https://doi.org/{quote(rec['doi'], safe='/:;()._-')}" if rec.get("doi") else None}


def _status(row: dict[str, Any], user: User, proj: Any) -> str:
    """Where a report stands, as ``user`` may know it: while screening is blinded, a conflict looks like any
    unsettled report to those who do not settle conflicts (it would tell them how the other reviewer voted)."""
    if row["retrieved"] is False:
        return "not retrieved"
    st = row["state"]
    if st is None:
        return "awaiting retrieval"
    if st.state in ("pending", "conflict"):
        hide = proj.blinded and not allowed(user, "resolve")
        return "awaiting decisions" if hide or st.state == "pending" else "conflict"
    return str(st.state)


def fulltext(request: Request, user: User | None, form: FormData | None) -> Response:
    proj = project(request)
    rows = reports_sought(proj)
    records = {r["id"]: r for r in proj.store.iter_records(("id", "title", "authors", "year", "journal", "abstract",
                                                            "doi"), ids=[r["record_id"] for r in rows])}
    show = request.query_params.get("show", "all")
    items = []
    for row in rows:
        mine = row["state"].votes.get(user.name) if row["state"] is not None and user else None
        status = _status(row, user, proj)
        if show == "todo" and (mine is not None or status in ("included", "excluded", "not retrieved")):
            continue
        items.append({**row, "record": _record_summary(records[row["record_id"]]), "status": status,
                      "mine": mine})
    return render(request, "fulltext.html", user=user, items=items, show=show, total=len(rows),
                  can_resolve=allowed(user, "resolve"),
                  notice=request.session.pop("notice", None))


def _report(request: Request, record_id: int) -> dict[str, Any]:
    for row in reports_sought(project(request)):
        if row["record_id"] == record_id:
            return row
    raise Refusal(404, f"record {record_id} is not a report sought at full text (it was not included at "
                       f"title/abstract)")


def report(request: Request, user: User | None, form: FormData | None, *, error: str | None = None,
           status: int = 200) -> Response:
    assert user is not None
    proj = project(request)
    record_id = int(request.path_params["record_id"])
    row = _report(request, record_id)
    rec = proj.store.record(record_id)
    assert rec is not None
    st = row["state"]
    uploads = [f for f in proj.store.fulltexts() if f["record_id"] == record_id]
    return render(request, "fulltext_report.html", user=user, row=row, record=_record_summary(rec),
                  status_text=_status(row, user, proj), votes=blinded_votes(proj, user, st) if st is not None else {},
                  mine=st.votes.get(user.name) if st is not None else None,
                  reasons=proj.reasons(_STAGE), uploads=uploads, error=error, max_mb=MAX_PDF_BYTES // 2**20,
                  can_resolve=allowed(user, "resolve"), notice=request.session.pop("notice", None),
                  status=status)


def _back(request: Request, record_id: int, notice: str) -> Response:
    request.session["notice"] = notice
    return RedirectResponse(f"/fulltext/{record_id}", status_code=303)


def _again(request: Request, user: User, exc: DataError) -> Response:
    return report(request, user, None, error=str(exc), status=400)


def upload(request: Request, user: User | None, form: FormData | None) -> Response:
    assert user is not None and form is not None
    record_id = int(request.path_params["record_id"])
    _report(request, record_id)
    file = form.get("pdf")
    if not isinstance(file, UploadFile) or not file.filename:
        return _again(request, user, DataError("choose a PDF file to upload", column="file", rule="file"))
    file.file.seek(0)
    data = file.file.read(MAX_PDF_BYTES + 1)
    try:
        entry = attach_pdf(project(request), record_id, data, filename=file.filename, by=user.name)
    except DataError as exc:
        return _again(request, user, exc)
    return _back(request, record_id, f"{entry['original_name']} uploaded")


def retrieval(request: Request, user: User | None, form: FormData | None) -> Response:
    assert user is not None and form is not None
    record_id = int(request.path_params["record_id"])
    _report(request, record_id)
    value = text(form, "retrieved")
    if value not in ("yes", "no"):
        return _again(request, user, DataError("say whether the report was retrieved (yes or no)",
                                               column="retrieved", rule="retrieved"))
    try:
        set_retrieval(project(request), record_id, retrieved=value == "yes", by=user.name, note=text(form, "note"))
    except DataError as exc:
        return _again(request, user, exc)
    return _back(request, record_id, "retrieval recorded" if value == "yes" else "recorded as not retrieved")


def decision(request: Request, user: User | None, form: FormData | None) -> Response:
    assert user is not None and form is not None
    record_id = int(request.path_params["record_id"])
    row = _report(request, record_id)
    if row["state"] is None:
        return _again(request, user, DataError("the report was recorded as not retrieved; record it as retrieved "
                                               "before deciding", study=str(record_id), rule="stage"))
    try:
        decide(project(request), record_id, stage=_STAGE, reviewer=user.name, decision=text(form, "decision") or "",
               reason=text(form, "reason"), note=text(form, "note"))
    except DataError as exc:
        return _again(request, user, exc)
    return _back(request, record_id, "your decision is recorded")


def study(request: Request, user: User | None, form: FormData | None) -> Response:
    assert user is not None and form is not None
    record_id = int(request.path_params["record_id"])
    _report(request, record_id)
    try:
        assign_study(project(request), record_id, text(form, "study") or "", by=user.name)
    except DataError as exc:
        return _again(request, user, exc)
    return _back(request, record_id, f"assigned to study {text(form, 'study')}")


def pdf(request: Request, user: User | None, form: FormData | None) -> Response:
    try:
        path, entry = fulltext_path(project(request), int(request.path_params["fulltext_id"]))
    except DataError as exc:
        raise Refusal(404, str(exc)) from None
    name = quote(entry["original_name"])
    # the browser's own viewer shows it in place; nosniff keeps it a PDF whatever its bytes say
    return Response(path.read_bytes(), media_type="application/pdf",
                    headers={"Content-Disposition": f"inline; filename*=UTF-8''{name}",
                             "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"})


routes = [
    page("/fulltext", fulltext, action="fulltext", name="fulltext"),
    page("/fulltext/{record_id:int}", report, action="fulltext", name="fulltext_report"),
    page("/fulltext/{record_id:int}/upload", upload, action="fulltext", methods=["POST"], name="fulltext_upload"),
    page("/fulltext/{record_id:int}/retrieval", retrieval, action="fulltext", methods=["POST"],
         name="fulltext_retrieval"),
    page("/fulltext/{record_id:int}/decision", decision, action="screen", methods=["POST"],
         name="fulltext_decision"),
    page("/fulltext/{record_id:int}/study", study, action="fulltext", methods=["POST"], name="fulltext_study"),
    page("/fulltext/file/{fulltext_id:int}", pdf, action="fulltext", name="fulltext_file"),
]
