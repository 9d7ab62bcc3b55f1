"""Screening (``/screen/{stage}``): one record at a time, decided from the keyboard.

A reviewer sees the next record they have not decided, with the project's include and
exclude keywords highlighted, and decides include (``i``), exclude (``e``, with a reason)
or maybe (``m``); ``u`` takes back their latest decision.  While screening is blinded (the
default for dual screening) nobody sees another reviewer's decision on a record until it
is settled, in the page or in its JSON, and the answer to a decision says only that it was
recorded: the record's new state would tell whether the other reviewer agreed.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from ...base.exceptions import DataError, MetaReviewError
from ...review.accounts import User
from ...review.dedupe import clusters
from ...review.project import parse_stage
from ...review.screening import UnitState, decide, states, undo
from ..render import render
from ..responses import wants_json
from ..routing import page, project
from ._shared import blinded_votes, text

SHOW = {"todo": "To screen", "mine": "Decided by me", "maybe": "My maybes"}
_TEXT_COLUMNS = ("id", "title", "abstract", "authors", "year", "journal", "volume", "issue", "pages", "doi", "pmid",
                 "keywords", "status", "problem", "raw", "type")


def _filters(params: Any) -> dict[str, str]:
    show = str(params.get("show") or "todo")
    return {"q": str(params.get("q") or "").strip(), "show": show if show in SHOW else "todo",
            "source": str(params.get("source") or "").strip()}


def _matches(rec: dict[str, Any], terms: list[str]) -> bool:
    haystack = " ".join([rec.get("title") or "", rec.get("abstract") or "", " ".join(rec.get("authors") or []),
                         rec.get("journal") or "", " ".join(rec.get("keywords") or []), rec.get("raw") or "",
                         str(rec["id"])]).lower()
    return all(t in haystack for t in terms)


def _queue(st: dict[int, UnitState], user: User, show: str) -> list[int]:
    if show == "mine":
        return [u for u, s in st.items() if user.name in s.votes]
    if show == "maybe":
        return [u for u, s in st.items() if s.votes.get(user.name, {}).get("decision") == "maybe"]
    return [u for u, s in st.items() if not s.decided and s.state != "conflict" and user.name not in s.votes]


def _screen(request: Request, user: User, *, error: str | None = None, status: int = 200) -> Response:
    proj = project(request)
    stage = parse_stage(request.path_params["stage"])
    filters = _filters(request.query_params)
    cl = clusters(proj.store)
    st = states(proj, stage, cl=cl)
    todo_total = len(_queue(st, user, "todo"))
    queue = _queue(st, user, filters["show"])
    records = {r["id"]: r for r in proj.store.iter_records(_TEXT_COLUMNS, ids=queue)}
    terms = filters["q"].lower().split()
    queue = [u for u in queue if (not terms or _matches(records[u], terms))
             and (not filters["source"] or records[u]["source"] == filters["source"])]
    wanted = request.query_params.get("record")
    current: int | None = queue[0] if queue else None
    if wanted and wanted.isdigit() and int(wanted) in cl.primary and cl.primary[int(wanted)] in st:
        current = cl.primary[int(wanted)]
        if current not in records:
            records.update({r["id"]: r for r in proj.store.iter_records(_TEXT_COLUMNS, ids=[current])})
    rec = records.get(current) if current is not None else None
    state = st[current] if current is not None else None
    votes = blinded_votes(proj, user, state) if state is not None else {}
    mine = votes.get(user.name)
    others = {k: v for k, v in votes.items() if k != user.name}
    visible_resolution = state.resolution if state is not None and (state.decided or not proj.blinded) else None
    duplicates = len(cl.members.get(current, [])) - 1 if current is not None else 0
    context: dict[str, Any] = {"stage": stage, "filters": filters, "record": rec, "mine": mine, "others": others,
               "resolution": visible_resolution, "remaining": todo_total, "matching": len(queue),
               "position": (queue.index(current) + 1) if current in queue else None, "duplicates": duplicates}
    if wants_json(request):
        return JSONResponse(_json(context))
    return render(request, "screen.html", user=user, status=status, error=error, show_labels=SHOW,
                  reasons=proj.reasons(stage), keywords=proj.keywords,
                  sources=[s["name"] for s in proj.store.sources()],
                  blinded=proj.blinded, **context)


def _json(context: dict[str, Any]) -> dict[str, Any]:
    rec = context["record"]

    def vote(v: Any) -> dict[str, Any]:
        return {k: v[k] for k in ("reviewer", "decision", "reason", "note", "created_at")}

    return {"stage": context["stage"], "remaining": context["remaining"], "matching": context["matching"],
            "record": None if rec is None else {k: rec[k] for k in ("id", "title", "abstract", "authors", "year",
                                                                    "journal", "doi", "pmid", "status", "problem")},
            "mine": vote(context["mine"]) if context["mine"] else None,
            "others": [vote(v) for v in context["others"].values()]}


def screen(request: Request, user: User | None, form: FormData | None) -> Response:
    assert user is not None
    return _screen(request, user)


def _back(request: Request, form: FormData, **extra: Any) -> str:
    params = {k: v for k, v in _filters(form).items() if v and not (k == "show" and v == "todo")}
    params.update({k: v for k, v in extra.items() if v is not None})
    query = urlencode(params)
    return f"/screen/{parse_stage(request.path_params['stage'])}" + (f"?{query}" if query else "")


def decide_record(request: Request, user: User | None, form: FormData | None) -> Response:
    assert user is not None and form is not None
    proj = project(request)
    stage = parse_stage(request.path_params["stage"])
    raw_id = text(form, "record_id") or ""
    try:
        if not raw_id.isdigit():
            raise DataError(f"record_id {raw_id!r} is not a record number", column="record_id", rule="record-id")
        decision = (text(form, "decision") or "").lower()
        reason = text(form, "reason") if decision == "exclude" else None
        decide(proj, int(raw_id), stage=stage, reviewer=user.name, decision=decision, reason=reason,
               note=text(form, "note"))
    except MetaReviewError as exc:
        if wants_json(request):
            return JSONResponse({"error": str(exc)}, status_code=400)
        request.scope["query_string"] = urlencode({**_filters(form), "record": raw_id}).encode()
        return _screen(Request(request.scope), user, error=str(exc), status=400)
    if wants_json(request):
        # nothing about the record's new state: under blinding it would reveal the other reviewer's vote
        return JSONResponse({"recorded": True, "record_id": int(raw_id), "decision": decision})
    return RedirectResponse(_back(request, form), status_code=303)


def undo_last(request: Request, user: User | None, form: FormData | None) -> Response:
    assert user is not None and form is not None
    taken = undo(project(request), stage=parse_stage(request.path_params["stage"]), reviewer=user.name)
    if wants_json(request):
        return JSONResponse({"undone": taken["id"], "record_id": taken["record_id"]})
    return RedirectResponse(_back(request, form, record=taken["record_id"]), status_code=303)


routes = [
    page("/screen/{stage}", screen, action="screen", name="screen"),
    page("/screen/{stage}/decide", decide_record, action="screen", methods=["POST"], name="screen_decide"),
    page("/screen/{stage}/undo", undo_last, action="screen", methods=["POST"], name="screen_undo"),
]
