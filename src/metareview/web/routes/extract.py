"""Extraction (``/extract``): the project's form, filled independently by two extractors, then adjudicated.

Each extractor sees their own values only.  Every value is checked against the form
(type, unit, range, choices) and comes with where in the report it was found (page,
table, figure); the browser checks what HTML can (number, minimum, maximum), the server
checks everything and shows each problem beside its field, and ``app``'s script asks the
server as soon as a field is left.  The adjudicator sees the extractors' values side by
side, discrepancies first, and settles each with a reason.  The analysis table and its
provenance are exported as CSV (:func:`metareview.review.extraction.export_analysis`).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any
from urllib.parse import quote

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from ...base.exceptions import DataError, MetaReviewError, SettingsError
from ...review.accounts import User
from ...review.extraction import (
    adjudicate,
    check_entries,
    discrepancies,
    export_analysis,
    get_form,
    load_form,
    save_entries,
    set_form,
)
from ...review.fulltext import latest_fulltexts
from ...review.screening import study_labels
from ..permissions import allowed
from ..render import render
from ..responses import Refusal
from ..routing import page, project
from ._shared import adjudication_page, settle_and_return, text

_MAX_FORM_BYTES = 200_000


def _form_or_none(request: Request):
    try:
        return get_form(project(request))
    except SettingsError:
        return None


def _studies(request: Request) -> dict[str, list[int]]:
    """Included studies and their reports (primary record ids), derived once per request."""
    cached = getattr(request.state, "studies", None)
    if cached is None:
        out: dict[str, list[int]] = defaultdict(list)
        for unit, label in sorted(study_labels(project(request)).items()):
            out[label].append(unit)
        cached = request.state.studies = dict(sorted(out.items()))
    return cached


def extract(request: Request, user: User | None, form: FormData | None, *, error: str | None = None,
            status: int = 200) -> Response:
    assert user is not None
    proj = project(request)
    xform = _form_or_none(request)
    studies = _studies(request)
    mine: dict[str, int] = defaultdict(int)
    if xform is not None:
        for v in proj.store.current_values():
            if v["extractor"] == user.name:
                mine[v["study"]] += 1
    rows = [{"study": s, "reports": r, "filled": mine.get(s, 0)} for s, r in studies.items()]
    open_items = 0
    if xform is not None and studies and allowed(user, "adjudicate"):
        open_items = sum(r["status"] in ("differ", "incomplete") for r in discrepancies(proj))
    return render(request, "extract.html", user=user, xform=xform, rows=rows, error=error, status=status,
                  can_adjudicate=allowed(user, "adjudicate"), can_manage=allowed(user, "manage"),
                  open_items=open_items, notice=request.session.pop("notice", None))


def set_extraction_form(request: Request, user: User | None, form: FormData | None) -> Response:
    assert user is not None and form is not None
    upload = form.get("toml")
    if isinstance(upload, UploadFile) and upload.filename:
        upload.file.seek(0)
        raw = upload.file.read(_MAX_FORM_BYTES + 1)
        if len(raw) > _MAX_FORM_BYTES:
            return extract(request, user, None, error="the form file is larger than 200 kB", status=400)
        try:
            source = raw.decode("utf-8")
        except UnicodeDecodeError:
            return extract(request, user, None, error="the form file is not UTF-8 text", status=400)
    else:
        source = text(form, "form_text") or ""
    try:
        set_form(project(request), load_form(source))
    except MetaReviewError as exc:
        return extract(request, user, None, error=str(exc), status=400)
    request.session["notice"] = "extraction form saved"
    return RedirectResponse("/extract", status_code=303)


def _study_param(request: Request, form: FormData | None = None) -> str:
    study = (text(form, "study") if form is not None else None) or request.query_params.get("study", "").strip()
    if study not in _studies(request):
        raise Refusal(404, f"{study!r} is not an included study")
    return study


def _fields(xform, values: dict[str, Any], locations: dict[str, Any], errors: dict[str, str]) -> list[dict]:
    out = []
    for f in xform.fields:
        out.append({"field": f, "value": values.get(f.name) or "", "location": locations.get(f.name) or "",
                    "error": errors.get(f.name), "describe": f.describe()})
    return out


def entry(request: Request, user: User | None, form: FormData | None) -> Response:
    assert user is not None
    proj = project(request)
    xform = _form_or_none(request)
    if xform is None:
        raise Refusal(404, "the project has no extraction form yet")
    study = _study_param(request)
    values, locations = {}, {}
    for v in proj.store.current_values():
        if v["study"] == study and v["extractor"] == user.name:  # blinded: one's own values only
            values[v["field"]] = v["value"]
            locations[v["field"]] = v["location"]
    return _entry_page(request, user, study, values, locations, {})


def _entry_page(request: Request, user: User, study: str, values: dict, locations: dict, errors: dict[str, str],
                status: int = 200) -> Response:
    proj = project(request)
    xform = get_form(proj)
    studies = list(_studies(request))
    reports = _studies(request)[study]
    files = latest_fulltexts(proj)
    pdfs = [files[u] for u in reports if u in files]
    later = studies[studies.index(study) + 1:] if study in studies else []
    return render(request, "extract_entry.html", user=user, study=study, fields=_fields(xform, values, locations,
                                                                                       errors),
                  pdfs=pdfs, reports=reports, next_study=later[0] if later else None, errors=errors,
                  status=status, notice=request.session.pop("notice", None))


def _entered(form: FormData) -> tuple[dict[str, str | None], dict[str, str | None]]:
    values: dict[str, str | None] = {}
    locations: dict[str, str | None] = {}
    for key in form.keys():
        if key.startswith("value:"):
            values[key[6:]] = text(form, key)
        elif key.startswith("where:"):
            locations[key[6:]] = text(form, key)
    return values, locations


def _short(exc: DataError) -> str:
    """The message without the study and column it is shown beside."""
    message = str(exc)
    for prefix in (f"study {exc.study!r}, column {exc.column!r}: ", f"column {exc.column!r}: "):
        if message.startswith(prefix):
            return message[len(prefix):]
    return message


def save(request: Request, user: User | None, form: FormData | None) -> Response:
    assert user is not None and form is not None
    proj = project(request)
    study = _study_param(request, form)
    values, locations = _entered(form)
    try:
        _, problems = check_entries(proj, study=study, values=values, locations=locations)
    except DataError as exc:
        raise Refusal(400, str(exc)) from None
    if problems:
        return _entry_page(request, user, study, values, locations,
                           {k: _short(e) for k, e in problems.items()}, status=422)
    n = save_entries(proj, extractor=user.name, study=study, values=values, locations=locations)
    request.session["notice"] = f"{study}: {n} value(s) saved"
    after = text(form, "next")
    if after and after in _studies(request):
        return RedirectResponse(f"/extract/entry?study={quote(after)}", status_code=303)
    return RedirectResponse("/extract", status_code=303)


def check(request: Request, user: User | None, form: FormData | None) -> Response:
    """The problems of the values entered so far, as JSON, for the script's inline messages."""
    assert form is not None
    study = _study_param(request, form)
    values, locations = _entered(form)
    try:
        _, problems = check_entries(project(request), study=study, values=values, locations=locations)
    except DataError as exc:
        raise Refusal(400, str(exc)) from None
    return JSONResponse({"errors": {k: _short(e) for k, e in problems.items()}})


def adjudication(request: Request, user: User | None, form: FormData | None, *, error: str | None = None,
                 status: int = 200) -> Response:
    assert user is not None
    proj = project(request)
    xform = _form_or_none(request)
    if xform is None:
        raise Refusal(404, "the project has no extraction form yet")
    show = request.query_params.get("show", "open")
    report = discrepancies(proj) if _studies(request) else []
    fields = {f.name: f for f in xform.fields}
    rows = []
    for r in report:
        if show == "open" and r["status"] not in ("differ", "incomplete"):
            continue
        distinct = sorted({v for v in r["values"].values() if v is not None})
        rows.append({**r, "field_def": fields[r["field"]], "distinct": distinct})
    return adjudication_page(request, "extract_adjudicate.html", user, report, rows, show=show, error=error,
                             status=status)


def settle(request: Request, user: User | None, form: FormData | None) -> Response:
    assert user is not None and form is not None
    study = _study_param(request, form)
    field = text(form, "field") or ""
    value = text(form, "value")
    if value == "__other__":
        value = text(form, "other")
    return settle_and_return(
        request, form, lambda: adjudicate(project(request), study=study, field=field, value=value, by=user.name,
                                          reason=text(form, "reason") or ""),
        what=f"{study}, {field}", page="/extract/adjudicate",
        again=lambda error: adjudication(request, user, None, error=error, status=400))


def _export(request: Request, which: int) -> Response:
    try:
        table = export_analysis(project(request))[which]
    except MetaReviewError as exc:
        raise Refusal(409, str(exc)) from None
    name = "analysis.csv" if which == 0 else "analysis.provenance.csv"
    return Response(table, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def export_table(request: Request, user: User | None, form: FormData | None) -> Response:
    return _export(request, 0)


def export_provenance(request: Request, user: User | None, form: FormData | None) -> Response:
    return _export(request, 1)


routes = [
    page("/extract", extract, action="extract", name="extract"),
    page("/extract/form", set_extraction_form, action="manage", methods=["POST"], name="extract_form"),
    page("/extract/entry", entry, action="extract", name="extract_entry"),
    page("/extract/entry", save, action="extract", methods=["POST"], name="extract_save"),
    page("/extract/check", check, action="extract", methods=["POST"], name="extract_check"),
    page("/extract/adjudicate", adjudication, action="adjudicate", name="extract_adjudicate"),
    page("/extract/adjudicate", settle, action="adjudicate", methods=["POST"], name="extract_settle"),
    page("/extract/analysis.csv", export_table, action="view", name="extract_export"),
    page("/extract/analysis.provenance.csv", export_provenance, action="view", name="extract_provenance"),
]
