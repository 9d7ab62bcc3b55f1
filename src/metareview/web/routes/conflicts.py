"""Conflicts (``/conflicts/{stage}``): records the reviewers disagree on, settled by an adjudicator with a reason."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from ...base.exceptions import DataError, MetaReviewError
from ...review.accounts import User
from ...review.project import parse_stage
from ...review.screening import conflicts as open_conflicts, resolve
from ..render import render
from ..responses import wants_json
from ..routing import page, project
from ._shared import text


def _page(request: Request, user: User, *, error: str | None = None, failed: int | None = None,
          status: int = 200) -> Response:
    proj = project(request)
    stage = parse_stage(request.path_params["stage"])
    items = open_conflicts(proj, stage)
    recs = {r["id"]: r for r in proj.store.iter_records(("id", "title", "authors", "year", "journal", "abstract"),
                                                        ids=[s.record_id for s in items])}
    rows: list[dict[str, Any]] = [{"record": recs[s.record_id],
                                   "votes": sorted(s.votes.values(), key=lambda v: v["reviewer"])}
                                  for s in items]
    if wants_json(request):
        return JSONResponse({"stage": stage, "conflicts": [
            {"record_id": r["record"]["id"], "title": r["record"]["title"],
             "votes": [{k: v[k] for k in ("reviewer", "decision", "reason", "note")} for v in r["votes"]]}
            for r in rows]})
    return render(request, "conflicts.html", user=user, status=status, stage=stage, rows=rows, error=error,
                  failed=failed, reasons=proj.reasons(stage))


def conflicts(request: Request, user: User | None, form: FormData | None) -> Response:
    assert user is not None
    return _page(request, user)


def settle(request: Request, user: User | None, form: FormData | None) -> Response:
    assert user is not None and form is not None
    stage = parse_stage(request.path_params["stage"])
    raw_id = text(form, "record_id") or ""
    try:
        if not raw_id.isdigit():
            raise DataError(f"record_id {raw_id!r} is not a record number", column="record_id", rule="record-id")
        why = text(form, "note")
        if not why:
            raise DataError("say why the conflict is settled this way", study=raw_id, column="note",
                            rule="resolution-reason")
        decision = (text(form, "decision") or "").lower()
        resolve(project(request), int(raw_id), stage=stage, by=user.name, decision=decision,
                reason=text(form, "reason") if decision == "exclude" else None, note=why)
    except MetaReviewError as exc:
        if wants_json(request):
            return JSONResponse({"error": str(exc)}, status_code=400)
        return _page(request, user, error=str(exc), failed=int(raw_id) if raw_id.isdigit() else None, status=400)
    if wants_json(request):
        return JSONResponse({"resolved": int(raw_id), "decision": decision})
    return RedirectResponse(f"/conflicts/{stage}", status_code=303)


routes = [
    page("/conflicts/{stage}", conflicts, action="resolve", name="conflicts"),
    page("/conflicts/{stage}/resolve", settle, action="resolve", methods=["POST"], name="conflicts_resolve"),
]
