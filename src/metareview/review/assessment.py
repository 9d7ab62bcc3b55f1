"""Dual risk-of-bias assessment with adjudication, on the machinery of dual extraction.

The project names its tool (:func:`set_tool`; a file of :mod:`metareview.appraisal.rob`).  Each
assessor answers the signalling questions for every included study, independently, with
the quote and page that support each answer (a CSV sheet from :func:`template`, or
:func:`enter_answers` one item at a time), and may give their own domain or overall
judgment where the tool leaves it to the assessor or where they depart from the
algorithm's proposal.  :func:`discrepancies` lists, per study, every question, domain and
overall judgment with each assessor's value and whether they agree (status as in
:func:`metareview.review.extraction.settle`); an adjudicator settles each difference with
a reason (:func:`adjudicate`).  :func:`final_table` gives the settled judgments as a
:class:`metareview.appraisal.rob.RobTable`, which :func:`export_robvis` writes in robvis's layout
for ``metareview rob plot`` and ``metareview pool --rob``.

Assessments can be kept per outcome (RoB 2 assesses a result, not a study): every
function takes ``outcome`` (``""`` for one assessment per study).  Dual assessment with
consensus follows the Cochrane Handbook (Higgins et al. 2023, chapter 7.6; chapter 8.2
for RoB 2).  Nothing is ever overwritten: answers and adjudications are append-only logs.

These functions are what ``metareview review rob ...`` calls; a web page can call them too.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from ..appraisal.rob import RobTable, Tool, load_tool
from ..base.exceptions import DataError, SettingsError
from ._csv import dict_rows
from .extraction import included_studies, settle
from .project import Project

__all__ = ["set_tool", "get_tool", "items", "template", "import_answers", "enter_answers", "discrepancies",
           "adjudicate", "final_table", "export_robvis", "canonical_entry", "proposed", "OVERALL", "SHEET_COLUMNS"]

OVERALL = "Overall"
#: Columns of an assessment sheet (one row per study and item).
SHEET_COLUMNS = ("study", "domain", "item", "question", "answer", "quote", "page")


def set_tool(project: Project, tool: str, *, assessors: int = 2) -> Tool:
    """Choose the project's tool (an id of :func:`metareview.appraisal.rob.tool_names` or a file) and how many
    assessors answer independently (1 or 2)."""
    if assessors not in (1, 2):
        raise SettingsError(f"assessors must be 1 or 2, not {assessors!r}")
    t = load_tool(tool)
    if not t.domains:
        raise SettingsError(f"{t.name} has no domains of its own; choose a tool with signalling questions")
    project.store.set_setting("rob_tool", {"tool": t.id if t.path and t.path.parent.name == "rob" else str(t.path),
                                           "assessors": assessors})
    return t


def _setting(project: Project) -> dict[str, Any]:
    doc = project.store.get_setting("rob_tool")
    if doc is None:
        raise SettingsError("the project has no risk-of-bias tool yet; choose one with "
                            "'metareview review rob tool rob2' (or robins-i, quadas-2, jbi-case-series)")
    return doc


def get_tool(project: Project) -> Tool:
    return load_tool(_setting(project)["tool"])


def items(tool: Tool) -> list[tuple[str, str, str]]:
    """Every item an assessor can enter, in order: ``(domain id, item id, text)``.

    A domain's questions, then the domain itself (its judgment: the assessor's own, which
    replaces the algorithm's proposal), and last ``Overall``.
    """
    out = []
    for d in tool.domains:
        for q in d.questions:
            out.append((d.id, q.id, q.text))
        how = "the assessor's judgment" if not d.algorithmic else \
            "leave blank for the algorithm's proposal, or give your judgment"
        out.append((d.id, d.id, f"{d.name}: {how}"))
    how = "the assessor's judgment" if tool.overall == "assessor" else \
        "leave blank for the tool's rule, or give your judgment"
    out.append((OVERALL, OVERALL, f"Overall risk of bias: {how}"))
    return out


def canonical_entry(tool: Tool, item: str, value: Any, study: str) -> str | None:
    """An entry in canonical form: an answer for a question, a judgment for a domain or Overall."""
    text = "" if value is None else str(value).strip()
    if item == OVERALL or any(d.id == item for d in tool.domains):
        return tool.judgment(text, study=study, column=item) if text else None
    _, question = tool.question(item)
    return tool.answer(question, text, study=study)


def template(project: Project, outcome: str = "") -> str:
    """An empty assessment sheet: one row per included study and item (see :data:`SHEET_COLUMNS`)."""
    tool = get_tool(project)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(SHEET_COLUMNS)
    for study in included_studies(project, "assess"):
        for domain, item, text in items(tool):
            writer.writerow([study, domain, item, text, "", "", ""])
    return buf.getvalue()


def import_answers(project: Project, text: str, *, assessor: str, outcome: str = "") -> int:
    """Append one assessor's sheet (CSV with :data:`SHEET_COLUMNS`; ``question`` is optional).

    Every row is checked first (the study is included, the item is the tool's, the answer
    is allowed, a quote or page goes with an answer); the sheet is rejected as a whole,
    naming the study and item, if one is wrong.  Blank answers are not logged.  Returns
    how many entries were logged.
    """
    assessor = _who(assessor, "assessor (--assessor)")
    tool = get_tool(project)
    studies = set(included_studies(project, "assess"))
    header, rows_in = dict_rows(text, "assessment sheet")
    missing = [c for c in ("study", "item", "answer") if c not in header]
    if missing:
        raise DataError(f"the assessment sheet has no {missing[0]!r} column (columns: {', '.join(SHEET_COLUMNS)})",
                        column=missing[0], rule="columns")
    known = {item for _, item, _ in items(tool)}
    rows, seen = [], set()
    for line, row in rows_in:
        study = (row.get("study") or "").strip()
        item = (row.get("item") or "").strip()
        if study not in studies:
            raise DataError(f"line {line}: {study!r} is not an included study; included studies are "
                            f"{sorted(studies)}", study=study or None, column="study", rule="study")
        if item not in known:
            raise DataError(f"line {line}: {item!r} is not an item of {tool.name}", study=study, column="item",
                            rule="item")
        if (study, item) in seen:
            raise DataError(f"line {line}: item {item} appears twice for the study", study=study, column=item,
                            rule="item")
        seen.add((study, item))
        value = canonical_entry(tool, item, row.get("answer"), study)
        quote, page = (row.get("quote") or "").strip() or None, (row.get("page") or "").strip() or None
        if value is None:
            if quote or page:
                raise DataError(f"line {line}: a quote or page without an answer", study=study, column=item,
                                rule="support")
            continue
        rows.append((tool.id, outcome, study, item, assessor, value, quote, page, "csv"))
    return project.store.add_rob_answers(rows)


def enter_answers(project: Project, *, assessor: str, study: str, entries: Iterable[tuple[str, str, str | None,
                                                                                          str | None]],
                  outcome: str = "", via: str = "terminal") -> int:
    """Log ``(item, answer, quote, page)`` entries of one assessor for one study (all or none).

    A blank answer withdraws the assessor's earlier entry where blank has a meaning: their own
    judgment of a domain or overall (the tool's proposal stands again) and a conditional
    question (not asked).  A question that is always asked needs an answer.
    """
    assessor = _who(assessor, "assessor (--assessor)")
    tool = get_tool(project)
    if study not in included_studies(project, "assess"):
        raise DataError(f"{study!r} is not an included study", study=study, column="study", rule="study")
    known = {item for _, item, _ in items(tool)}
    rows = []
    for item, answer, quote, page in entries:
        if item not in known:
            raise DataError(f"{item!r} is not an item of {tool.name}", study=study, column="item", rule="item")
        value = canonical_entry(tool, item, answer, study)
        judgment = item == OVERALL or any(d.id == item for d in tool.domains)
        if value is None and not (judgment or tool.question(item)[1].conditional):
            raise DataError("an entry needs an answer", study=study, column=item, rule="answer")
        if value is None and (quote or page):
            raise DataError("a quote or page without an answer", study=study, column=item, rule="support")
        rows.append((tool.id, outcome, study, item, assessor, value, quote or None, page or None, via))
    return project.store.add_rob_answers(rows)


def _who(name: str | None, what: str) -> str:
    name = (name or "").strip()
    if not name:
        raise DataError(f"name the {what}", rule="who")
    return name


def _judge(tool: Tool, study: str, answers: dict[str, str | None]) -> dict[str, str | None]:
    """Domain and overall judgments from one set of entries: the entered judgment where there is
    one, else the tool's algorithm where it applies and the answers suffice, else None."""
    out: dict[str, str | None] = {}
    for d in tool.domains:
        if answers.get(d.id):
            out[d.id] = answers[d.id]
        elif d.algorithmic:
            try:
                out[d.id] = tool.domain_judgment(d.id, answers, study=study)
            except DataError:
                out[d.id] = None
        else:
            out[d.id] = None
    if answers.get(OVERALL):
        out[OVERALL] = answers[OVERALL]
    elif tool.overall == "worst" and all(out[d.id] for d in tool.domains):
        out[OVERALL] = tool.overall_judgment([out[d.id] for d in tool.domains], study=study)  # type: ignore[misc]
    else:
        out[OVERALL] = None
    return out


def proposed(tool: Tool, study: str, answers: dict[str, str | None]) -> dict[str, str | None]:
    """What the tool proposes from one assessor's entries: each domain's judgment by its algorithm
    from the signalling answers alone (None where the assessor judges or the answers do not yet
    suffice), and the overall judgment by the tool's rule from the domains as the assessor judged
    them (their own judgment where they gave one).  This is what an assessor sees beside the answers."""
    questions = {q.id for d in tool.domains for q in d.questions}
    algorithm = _judge(tool, study, {k: v for k, v in answers.items() if k in questions})
    effective = _judge(tool, study, {k: v for k, v in answers.items() if k != OVERALL})
    return {**{d.id: algorithm[d.id] for d in tool.domains}, OVERALL: effective[OVERALL]}


def discrepancies(project: Project, outcome: str = "") -> list[dict[str, Any]]:
    """One row per study and item: each assessor's value (domains and Overall: their judgment,
    entered or proposed by the algorithm from their answers), status and final value.

    ``status`` is ``agree``, ``differ``, ``incomplete``, ``adjudicated``, ``derived`` (a domain or
    overall judgment that follows from settled answers) or ``not answered`` (a question that
    only informs the assessor's judgment and no one answered).  A domain's final
    judgment without an adjudication of the domain is the algorithm's on the settled answers
    when its questions are settled, so that adjudicating a question settles its domain.
    """
    tool = get_tool(project)
    needed = int(_setting(project).get("assessors", 2))
    entries: dict[str, dict[str, dict[str, dict[str, Any]]]] = defaultdict(lambda: defaultdict(dict))
    for row in project.store.current_rob_answers(tool.id, outcome):
        entries[row["study"]][row["assessor"]][row["item"]] = row
    adjudicated = {(a["study"], a["item"]): a for a in project.store.current_rob_adjudications(tool.id, outcome)}
    out = []
    for study in included_studies(project, "assess"):
        by = entries.get(study, {})
        judged = {who: _judge(tool, study, {k: v["value"] for k, v in rows.items()}) for who, rows in by.items()}
        final_answers: dict[str, str | None] = {}
        study_rows = []
        for domain, item, text in items(tool):
            is_question = item != domain and item != OVERALL
            if is_question:
                if tool.question(item)[1].conditional:
                    # a conditional question left blank was not asked: that is the assessor's answer
                    values = {who: rows[item]["value"] if item in rows else None for who, rows in by.items()}
                else:
                    values = {who: rows[item]["value"] for who, rows in by.items() if item in rows}
            else:
                values = {who: judged[who][item] for who in by if judged[who][item] is not None}
            status, final = settle(values, adjudicated.get((study, item)), needed)
            if is_question and not values and not tool.question(item)[0].algorithmic:
                status = "not answered"   # questions that only inform the assessor's judgment
            if is_question:
                final_answers[item] = final
            support = {who: {"quote": rows[item]["support"], "page": rows[item]["location"]}
                       for who, rows in by.items()
                       if item in rows and (rows[item]["support"] or rows[item]["location"])}
            adj = adjudicated.get((study, item))
            study_rows.append({"study": study, "domain": domain, "item": item, "text": text, "status": status,
                               "values": dict(sorted(values.items())), "final": final, "support": support,
                               "adjudicator": adj["adjudicator"] if adj else None,
                               "reason": adj["reason"] if adj else None,
                               "adjudication_support": ({"quote": adj["support"], "page": adj["location"]}
                                                        if adj and (adj["support"] or adj["location"]) else None)})
        _settle_judgments(tool, study, study_rows, final_answers)
        out.extend(study_rows)
    return out


def _settle_judgments(tool: Tool, study: str, rows: list[dict[str, Any]], answers: dict[str, str | None]) -> None:
    """A domain (or Overall) that differs or is incomplete, but whose inputs are all settled, is settled by
    the tool's rule on the settled inputs (``status`` becomes ``derived``)."""
    by_item = {r["item"]: r for r in rows}
    for d in tool.domains:
        r = by_item[d.id]
        questions = [by_item[q.id] for q in d.questions]
        if r["status"] in ("differ", "incomplete") and d.algorithmic and \
                all(q["status"] in ("agree", "adjudicated") for q in questions):
            try:
                r["final"] = tool.domain_judgment(d.id, answers, study=study)
                r["status"] = "derived"
            except DataError:
                pass
    r = by_item[OVERALL]
    if r["status"] in ("differ", "incomplete") and tool.overall == "worst":
        finals = [by_item[d.id]["final"] for d in tool.domains]
        if all(by_item[d.id]["status"] in ("agree", "adjudicated", "derived") for d in tool.domains) and all(finals):
            r["final"] = tool.overall_judgment(finals, study=study)
            r["status"] = "derived"


def adjudicate(project: Project, *, study: str, item: str, value: str | None, by: str, reason: str,
               quote: str | None = None, page: str | None = None, outcome: str = "") -> str | None:
    """Record the settled answer or judgment of one item, who decided and why (and its support)."""
    by = _who(by, "adjudicator (--by)")
    if not (reason or "").strip():
        raise DataError("say why (--reason)", study=study, column=item, rule="reason")
    tool = get_tool(project)
    if study not in included_studies(project, "assess"):
        raise DataError(f"{study!r} is not an included study", study=study, column="study", rule="study")
    if item not in {i for _, i, _ in items(tool)}:
        raise DataError(f"{item!r} is not an item of {tool.name}", study=study, column="item", rule="item")
    canonical = canonical_entry(tool, item, value, study)
    if canonical is None and (item == OVERALL or any(d.id == item for d in tool.domains)):
        raise DataError("a judgment is required", study=study, column=item, rule="judgment")
    if canonical is None and not tool.question(item)[1].conditional:
        raise DataError("this question is always asked: give an answer", study=study, column=item, rule="answer")
    project.store.add_rob_adjudication(tool=tool.id, outcome=outcome, study=study, item=item, value=canonical,
                                       adjudicator=by, reason=reason.strip(), support=quote or None,
                                       location=page or None)
    return canonical


def final_table(project: Project, outcome: str = "") -> RobTable:
    """The settled domain and overall judgments of every included study; refuses while any
    question, domain or overall judgment is unsettled, naming the first."""
    tool = get_tool(project)
    rows = discrepancies(project, outcome)
    # questions of a domain whose judgment was adjudicated no longer decide anything
    settled_domains = {(r["study"], r["item"]) for r in rows if r["item"] == r["domain"] and
                       r["status"] == "adjudicated"}
    open_items = [r for r in rows if r["status"] in ("differ", "incomplete")
                  and (r["study"], r["domain"]) not in settled_domains]
    if open_items:
        first = open_items[0]
        n_differ = sum(r["status"] == "differ" for r in open_items)
        raise DataError(f"{len(open_items)} item(s) are not settled ({n_differ} differ, "
                        f"{len(open_items) - n_differ} incomplete); adjudicate them first", study=first["study"],
                        column=first["item"], rule="unsettled")
    final = {(r["study"], r["item"]): r["final"] for r in rows}
    studies = included_studies(project, "assess")
    return RobTable(tool=tool, studies=tuple(studies), domains=tuple(d.id for d in tool.domains),
                    names=tuple(d.name for d in tool.domains),
                    judgments=tuple(tuple(final[(s, d.id)] for d in tool.domains) for s in studies),
                    overall=tuple(final[(s, OVERALL)] for s in studies))


def export_robvis(project: Project, outcome: str = "") -> str:
    """The settled judgments as a robvis CSV (``Study, D1..Dn, Overall``)."""
    return final_table(project, outcome).to_csv()
