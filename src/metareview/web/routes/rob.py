"""Risk of bias (``/rob``): the project's tool, answered independently by two assessors, then adjudicated.

The owner chooses the tool (a file of ``data/rob``).  Each assessor sees the included
studies and, per study, the tool's signalling questions grouped by domain with the
allowed answers, a quote and a page for each, and beside every domain and the overall
judgment what the tool's algorithm proposes from their answers (their own judgment
replaces it where they give one).  Assessors see their own entries only, exactly as
extractors do.  The adjudicator sees the assessors' entries side by side, questions,
domains and overall judgments that differ highlighted, and settles each with a reason.
Once everything is settled the page shows robvis's traffic-light and summary figures and
offers the table in robvis's layout, the same text as ``metareview review rob export``.

Every write goes through :mod:`metareview.review.assessment`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from markupsafe import Markup
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from ...appraisal.rob import RobTable, Tool, load_tool, tool_names
from ...base.exceptions import DataError, MetaReviewError, SettingsError
from ...review.accounts import User
from ...review.assessment import (
    OVERALL,
    adjudicate,
    canonical_entry,
    discrepancies,
    enter_answers,
    export_robvis,
    final_table,
    get_tool,
    items,
    proposed,
    set_tool,
)
from ...review.screening import study_labels
from ..permissions import allowed
from ..render import render
from ..responses import Refusal
from ..routing import page, project
from ._shared import ADJUDICATION_STATUSES, adjudication_page, inline_svg, settle_and_return, text

OPEN = ("differ", "incomplete")


def _tool_or_none(request: Request) -> Tool | None:
    try:
        return get_tool(project(request))
    except SettingsError:
        return None


def _choices() -> list[Tool]:
    """The tools an owner can choose: every bundled file with signalling questions of its own."""
    return [t for t in (load_tool(name) for name in tool_names()) if t.domains]


def _studies(request: Request) -> list[str]:
    return sorted(set(study_labels(project(request)).values()))


def _outcome(request: Request, form: FormData | None = None) -> str:
    """The outcome assessed (RoB 2 assesses a result); ``""`` for one assessment per study."""
    if form is not None:
        return text(form, "outcome") or ""
    return request.query_params.get("outcome", "").strip()


def _suffix(outcome: str) -> str:
    return f"&outcome={quote(outcome)}" if outcome else ""


def _mine(request: Request, tool: Tool, user: User, outcome: str,
          study: str | None = None) -> dict[str, dict[str, dict[str, Any]]]:
    """The signed-in assessor's latest entries, by study and item (blinded: nobody else's)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for row in project(request).store.current_rob_answers(tool.id, outcome):
        if row["assessor"] == user.name and (study is None or row["study"] == study):
            out.setdefault(row["study"], {})[row["item"]] = row
    return out


def _figures(table: RobTable) -> dict[str, Markup]:
    """The traffic-light and summary plots as inline SVG."""
    from ...plots.rob import rob_summary, traffic_light

    return {"traffic_light": Markup(inline_svg(traffic_light(table).figure_, "Traffic-light plot", "rob")),
            "summary": Markup(inline_svg(rob_summary(table).figure_, "Summary plot", "rob"))}


def overview(request: Request, user: User | None, form: FormData | None, *, error: str | None = None,
             status: int = 200) -> Response:
    assert user is not None
    tool = _tool_or_none(request)
    studies = _studies(request)
    outcome = _outcome(request)
    rows, open_items, settled, figures, unsettled, outcomes = [], 0, None, {}, None, [""]
    if tool is not None:
        outcomes = sorted({"", outcome, *project(request).store.rob_outcomes(tool.id)})
        mine = _mine(request, tool, user, outcome)
        questions = sum(len(d.questions) for d in tool.domains)
        for s in studies:
            answered = sum(1 for d in tool.domains for q in d.questions if q.id in mine.get(s, {}))
            rows.append({"study": s, "answered": answered, "questions": questions})
        if studies:
            report = discrepancies(project(request), outcome)
            open_items = sum(r["status"] in OPEN for r in report)
            try:
                settled = final_table(project(request), outcome)
            except DataError as exc:
                unsettled = str(exc)
            else:
                figures = _figures(settled)
    return render(request, "rob.html", user=user, tool=tool, tools=_choices(), rows=rows, error=error,
                  status=status, outcome=outcome, outcomes=outcomes, suffix=_suffix(outcome), open_items=open_items,
                  settled=settled, figures=figures, unsettled=unsettled,
                  can_adjudicate=allowed(user, "adjudicate"), can_manage=allowed(user, "manage"),
                  notice=request.session.pop("notice", None))


def choose_tool(request: Request, user: User | None, form: FormData | None) -> Response:
    assert form is not None
    try:
        tool = set_tool(project(request), text(form, "tool") or "")
    except MetaReviewError as exc:
        return overview(request, user, None, error=str(exc), status=400)
    request.session["notice"] = f"the project's risk-of-bias tool is {tool.name}"
    return RedirectResponse("/rob", status_code=303)


def _need_tool(request: Request) -> Tool:
    tool = _tool_or_none(request)
    if tool is None:
        raise Refusal(404, "the project has no risk-of-bias tool yet")
    return tool


def _study_param(request: Request, form: FormData | None = None) -> str:
    study = (text(form, "study") if form is not None else None) or request.query_params.get("study", "").strip()
    if study not in _studies(request):
        raise Refusal(404, f"{study!r} is not an included study")
    return study


def _entered(form: FormData) -> dict[str, tuple[str | None, str | None, str | None]]:
    """``item -> (answer, quote, page)`` as typed in the form."""
    out: dict[str, tuple[str | None, str | None, str | None]] = {}
    for key in form.keys():
        if key.startswith("answer:"):
            item = key[7:]
            out[item] = (text(form, key), text(form, f"quote:{item}"), text(form, f"page:{item}"))
    return out


def _domains(tool: Tool, entries: dict[str, tuple[str | None, str | None, str | None]],
             suggestions: dict[str, str | None]) -> list[dict[str, Any]]:
    labels = dict(zip(tool.answers, tool.answer_labels))
    out = []
    for d in tool.domains:
        out.append({"domain": d, "proposed": suggestions.get(d.id), "entry": entries.get(d.id, (None, None, None)),
                    "questions": [{"q": q, "entry": entries.get(q.id, (None, None, None)),
                                   "answers": [(a, labels.get(a, a)) for a in q.answers]} for q in d.questions]})
    return out


def assess(request: Request, user: User | None, form: FormData | None) -> Response:
    assert user is not None
    tool = _need_tool(request)
    study = _study_param(request)
    outcome = _outcome(request)
    rows = _mine(request, tool, user, outcome, study).get(study, {})
    entries = {item: (r["value"], r["support"], r["location"]) for item, r in rows.items()}
    return _assess_page(request, user, tool, study, outcome, entries)


def _assess_page(request: Request, user: User, tool: Tool, study: str, outcome: str,
                 entries: dict[str, tuple[str | None, str | None, str | None]], *, error: str | None = None,
                 status: int = 200) -> Response:
    try:
        suggestions = proposed(tool, study, {k: v[0] for k, v in entries.items() if v[0]})
    except DataError:  # what was typed is not valid (the error says so): propose nothing from it
        suggestions = {OVERALL: None}
    studies = _studies(request)
    later = studies[studies.index(study) + 1:]
    return render(request, "rob_assess.html", user=user, tool=tool, study=study, outcome=outcome,
                  suffix=_suffix(outcome),
                  domains=_domains(tool, entries, suggestions), overall=entries.get(OVERALL, (None, None, None)),
                  overall_proposed=suggestions[OVERALL], next_study=later[0] if later else None, error=error,
                  status=status, notice=request.session.pop("notice", None))


def save(request: Request, user: User | None, form: FormData | None) -> Response:
    assert user is not None and form is not None
    tool = _need_tool(request)
    study = _study_param(request, form)
    outcome = _outcome(request, form)
    typed = _entered(form)
    current = {item: (r["value"], r["support"], r["location"])
               for item, r in _mine(request, tool, user, outcome, study).get(study, {}).items()}
    # only what changed is logged; a blank where there was an entry withdraws it (a judgment of one's own, the
    # answer to a conditional question), and is refused, naming the question, where an answer is required
    changed = [(item, answer, support, where) for item, (answer, support, where) in typed.items()
               if (answer, support, where) != current.get(item, (None, None, None))]
    try:
        n = enter_answers(project(request), assessor=user.name, study=study, entries=changed, via="web",
                          outcome=outcome)
    except DataError as exc:
        return _assess_page(request, user, tool, study, outcome, {**current, **typed}, error=str(exc), status=422)
    request.session["notice"] = f"{study}: {n} entr{'y' if n == 1 else 'ies'} saved"
    after = text(form, "next")
    if after and after in _studies(request):
        return RedirectResponse(f"/rob/assess?study={quote(after)}{_suffix(outcome)}", status_code=303)
    return RedirectResponse(f"/rob/assess?study={quote(study)}{_suffix(outcome)}", status_code=303)


def propose(request: Request, user: User | None, form: FormData | None) -> Response:
    """The judgments the tool proposes from the answers in the form, as JSON, for the script."""
    assert form is not None
    tool = _need_tool(request)
    study = _study_param(request, form)
    known = {item for _, item, _ in items(tool)}
    try:
        answers = {item: canonical_entry(tool, item, answer, study) for item, (answer, _, _) in _entered(form).items()
                   if item in known}
        suggestions = proposed(tool, study, {k: v for k, v in answers.items() if v})
    except DataError as exc:
        raise Refusal(400, str(exc)) from None
    return JSONResponse({"proposed": {k: v or "" for k, v in suggestions.items()}})


def adjudication(request: Request, user: User | None, form: FormData | None, *, error: str | None = None,
                 status: int = 200, outcome: str | None = None) -> Response:
    assert user is not None
    tool = _need_tool(request)
    show = request.query_params.get("show", "open")
    outcome = _outcome(request) if outcome is None else outcome
    report = discrepancies(project(request), outcome) if _studies(request) else []
    # questions of a domain whose judgment was adjudicated no longer decide anything
    settled_domains = {(r["study"], r["item"]) for r in report if r["item"] == r["domain"]
                       and r["status"] == "adjudicated"}
    labels = dict(zip(tool.answers, tool.answer_labels))
    rows = []
    for r in report:
        moot = r["item"] not in (r["domain"], OVERALL) and (r["study"], r["domain"]) in settled_domains
        if show == "open" and (r["status"] not in OPEN or moot):
            continue
        kind = "question" if r["item"] not in (r["domain"], OVERALL) else "judgment"
        choices = ([j.name for j in tool.judgments] if kind == "judgment"
                   else list(tool.question(r["item"])[1].answers))
        label = r["text"] if kind == "question" else \
            ("Overall risk of bias" if r["item"] == OVERALL else tool.domain(r["item"]).name)
        follows = kind == "judgment" and (tool.domain(r["item"]).algorithmic if r["item"] != OVERALL
                                          else tool.overall == "worst")
        rows.append({**r, "kind": kind, "label": label, "follows": follows,
                     "choices": [(c, labels.get(c, c)) for c in choices],
                     "conditional": kind == "question" and tool.question(r["item"])[1].conditional})
    return adjudication_page(request, "rob_adjudicate.html", user, report, rows, show=show, error=error,
                             status=status, statuses=(*ADJUDICATION_STATUSES, "derived"), suffix=_suffix(outcome),
                             tool=tool, outcome=outcome)


def settle(request: Request, user: User | None, form: FormData | None) -> Response:
    assert user is not None and form is not None
    _need_tool(request)
    study = _study_param(request, form)
    item = text(form, "item") or ""
    outcome = _outcome(request, form)
    return settle_and_return(
        request, form, lambda: adjudicate(project(request), study=study, item=item, value=text(form, "value"),
                                          by=user.name, reason=text(form, "reason") or "",
                                          quote=text(form, "quote"), page=text(form, "page"), outcome=outcome),
        what=f"{study}, {item}", page="/rob/adjudicate", suffix=_suffix(outcome),
        again=lambda error: adjudication(request, user, None, error=error, status=400, outcome=outcome))


def robvis(request: Request, user: User | None, form: FormData | None) -> Response:
    _need_tool(request)
    try:
        table = export_robvis(project(request), _outcome(request))
    except MetaReviewError as exc:
        raise Refusal(409, str(exc)) from None
    return Response(table, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="rob.csv"'})


routes = [
    page("/rob", overview, action="assess", name="rob"),
    page("/rob/tool", choose_tool, action="manage", methods=["POST"], name="rob_tool"),
    page("/rob/assess", assess, action="assess", name="rob_assess"),
    page("/rob/assess", save, action="assess", methods=["POST"], name="rob_save"),
    page("/rob/propose", propose, action="assess", methods=["POST"], name="rob_propose"),
    page("/rob/adjudicate", adjudication, action="adjudicate", name="rob_adjudicate"),
    page("/rob/adjudicate", settle, action="adjudicate", methods=["POST"], name="rob_settle"),
    page("/rob/robvis.csv", robvis, action="view", name="rob_export"),
]
