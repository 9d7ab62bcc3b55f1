"""Duplicates (``/duplicates``): the queue of uncertain pairs, side by side, decided by a person.

Pairs that the automatic pass (:func:`~metareview.review.dedupe.run_dedupe`) found
similar but not certain wait here, most similar first.  A decision is a link in the log
(the same article, or two different ones), never a deletion; choosing which record of a
pair is screened makes it the cluster's primary.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from ...base.exceptions import DataError, MetaReviewError
from ...review.accounts import User
from ...review.dedupe import choose_primary, resolve_pair, review_queue, run_dedupe
from ...review.normalize import norm_text, norm_title
from ..render import render
from ..responses import wants_json
from ..routing import page, project
from ._shared import text

FIELDS = ("title", "authors", "year", "journal", "volume", "issue", "pages", "doi", "pmid", "source", "abstract")
PAGE_SIZE = 10


def _shown(rec: dict[str, Any], field: str) -> str:
    value = rec.get(field)
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    return "" if value is None else str(value)


def _differs(field: str, a: str, b: str) -> bool:
    """Whether two values differ beyond case, punctuation and spacing (as de-duplication compares them)."""
    if field == "title":
        return norm_title(a) != norm_title(b)
    return norm_text(a) != norm_text(b)


def _page(request: Request, user: User, *, error: str | None = None, status: int = 200) -> Response:
    store = project(request).store
    queue = review_queue(store)
    shown = queue[:PAGE_SIZE]
    ids = {i for c in shown for i in (c["record_a"], c["record_b"])}
    recs: dict[int, dict[str, Any]] = {}
    for i in ids:
        rec = store.record(i)
        assert rec is not None  # records are never deleted
        recs[i] = rec
    pairs = []
    for c in shown:
        a, b = recs[c["record_a"]], recs[c["record_b"]]
        rows: list[dict[str, Any]] = [{"field": f, "a": _shown(a, f), "b": _shown(b, f)} for f in FIELDS]
        for row in rows:
            row["differs"] = _differs(row["field"], row["a"], row["b"])
        pairs.append({"a": c["record_a"], "b": c["record_b"], "score": c["score"], "reason": c["reason"],
                      "rows": rows})
    runs = store.dedupe_runs()
    stale = store.count_records() - (runs[-1]["n_records"] if runs else 0)
    if wants_json(request):
        return JSONResponse({"open_pairs": len(queue), "pairs": pairs, "not_deduplicated": stale})
    return render(request, "duplicates.html", user=user, status=status, error=error, pairs=pairs, total=len(queue),
                  not_deduplicated=stale, runs=len(runs))


def duplicates(request: Request, user: User | None, form: FormData | None) -> Response:
    assert user is not None
    return _page(request, user)


def _record_id(form: FormData, name: str) -> int:
    raw = text(form, name) or ""
    if not raw.isdigit():
        raise DataError(f"{name} {raw!r} is not a record number", column=name, rule="record-id")
    return int(raw)


def decide_pair(request: Request, user: User | None, form: FormData | None) -> Response:
    assert user is not None and form is not None
    store = project(request).store
    try:
        a, b = _record_id(form, "a"), _record_id(form, "b")
        verdict = text(form, "verdict") or ""
        if verdict not in ("same", "distinct", "primary_a", "primary_b"):
            raise DataError(f"verdict must be same, distinct, primary_a or primary_b, not {verdict!r}",
                            column="verdict", rule="verdict")
        with store.transaction():
            resolve_pair(store, a, b, same=verdict != "distinct", by=user.name, note=text(form, "note"))
            if verdict.startswith("primary_"):
                choose_primary(store, a if verdict == "primary_a" else b, by=user.name)
    except MetaReviewError as exc:
        if wants_json(request):
            return JSONResponse({"error": str(exc)}, status_code=400)
        return _page(request, user, error=str(exc), status=400)
    if wants_json(request):
        return JSONResponse({"recorded": True, "a": a, "b": b, "verdict": verdict})
    return RedirectResponse("/duplicates", status_code=303)


def run(request: Request, user: User | None, form: FormData | None) -> Response:
    assert user is not None
    report = run_dedupe(project(request).store)
    if wants_json(request):
        return JSONResponse(report.to_dict())
    return RedirectResponse("/duplicates", status_code=303)


routes = [
    page("/duplicates", duplicates, action="dedupe", name="duplicates"),
    page("/duplicates/decide", decide_pair, action="dedupe", methods=["POST"], name="duplicates_decide"),
    page("/duplicates/run", run, action="dedupe", methods=["POST"], name="duplicates_run"),
]
