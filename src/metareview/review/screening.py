"""Screening: decisions by named reviewers in an append-only log, and the state derived from it.

Each cluster of duplicates is screened once, through its primary record, at two
stages: title/abstract, then full text for the clusters included at the first stage
(and for records found by other methods, which PRISMA 2020 sends straight to
retrieval).  With dual screening (the Cochrane Handbook's recommendation, chapter 4.6.4)
a record is decided when two reviewers agree; disagreement, a "maybe", or two
different exclusion reasons at full text make a conflict, which a third person
resolves with a recorded resolution.  A reviewer may change their mind: the latest
decision counts, the earlier ones stay in the log.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from ..base.exceptions import DataError
from ..base.outputs import spreadsheet_safe
from ._csv import dict_rows
from .agreement import Agreement, cohen_kappa
from .dedupe import Clusters, clusters
from .project import Project, parse_stage
from .store import now

__all__ = ["DECISIONS", "UnitState", "decide", "resolve", "states", "conflicts", "agreement",
           "export_decisions", "import_decisions", "screening_sheet", "set_retrieval", "study_labels",
           "assign_study", "pending_for", "progress", "undo", "LOG_COLUMNS"]

DECISIONS = ("include", "exclude", "maybe")
LOG_COLUMNS = ("id", "record_id", "stage", "reviewer", "decision", "reason", "note", "is_resolution", "created_at",
               "title")


@dataclass
class UnitState:
    """Where one cluster stands at one stage."""

    record_id: int
    stage: str
    state: str  # pending | included | excluded | conflict
    reason: str | None = None
    votes: dict[str, dict[str, Any]] = field(default_factory=dict)
    resolution: dict[str, Any] | None = None

    @property
    def decided(self) -> bool:
        return self.state in ("included", "excluded")


def _sources(project: Project, ids: list[int] | None = None) -> dict[int, str]:
    return {r["id"]: r["source_kind"] for r in project.store.iter_records(("id",), ids=ids)}


def _units(project: Project, cl: Clusters, stage: str, ta: dict[int, UnitState] | None,
           only: set[int] | None = None) -> list[int]:
    candidates = cl.members if only is None else {p: cl.members[p] for p in only if p in cl.members}
    kinds = _sources(project, None if only is None else [m for ms in candidates.values() for m in ms])
    main = [p for p, members in candidates.items() if any(kinds[m] != "other" for m in members)]
    if stage == "title_abstract":
        return sorted(main)
    other = [p for p, members in candidates.items() if all(kinds[m] == "other" for m in members)]
    assert ta is not None
    retrieved = {r["record_id"]: (r["id"], bool(r["retrieved"])) for r in project.store.retrievals()}
    sought = [p for p in main if ta[p].state == "included"] + other
    out = []
    for p in sought:
        # the latest word on any report in the cluster counts (clusters can change after it was recorded)
        status = max((retrieved[m] for m in cl.members[p] if m in retrieved), default=(0, True))
        if not status[1]:
            continue
        out.append(p)
    return sorted(out)


def states(project: Project, stage: str, *, cl: Clusters | None = None,
           only: set[int] | None = None) -> dict[int, UnitState]:
    """State of every cluster (keyed by primary record) eligible for ``stage``, or of the
    clusters in ``only`` (primary record ids) when given."""
    stage = parse_stage(stage)
    cl = cl or clusters(project.store)
    ta = states(project, "title_abstract", cl=cl, only=only) if stage == "full_text" else None
    units = _units(project, cl, stage, ta, only)
    members = None if only is None else [m for u in only if u in cl.members for m in cl.members[u]]
    log = project.store.decision_log(stage, active=True, record_ids=members)
    votes: dict[int, dict[str, dict[str, Any]]] = defaultdict(dict)
    resolutions: dict[int, dict[str, Any]] = {}
    for row in log:  # in id order: later rows replace earlier ones
        unit = cl.primary.get(row["record_id"])
        if unit is None:
            continue
        if row["is_resolution"]:
            resolutions[unit] = row
        else:
            votes[unit][row["reviewer"]] = row
    need = project.reviewers_per_record
    out: dict[int, UnitState] = {}
    for unit in units:
        st = UnitState(record_id=unit, stage=stage, state="pending", votes=votes.get(unit, {}),
                       resolution=resolutions.get(unit))
        if st.resolution is not None:
            st.state = "included" if st.resolution["decision"] == "include" else "excluded"
            st.reason = st.resolution["reason"]
        elif len(st.votes) >= need:
            decisions = {v["decision"] for v in st.votes.values()}
            reasons = {v["reason"] for v in st.votes.values()}
            if decisions == {"include"}:
                st.state = "included"
            elif decisions == {"exclude"} and (stage == "title_abstract" or len(reasons) == 1):
                st.state = "excluded"
                st.reason = sorted(r or "" for r in reasons)[0] or None
            else:
                st.state = "conflict"
        out[unit] = st
    return out


def check_decision(project: Project, stage: str, decision: str, reason: str | None, *,
                    resolution: bool, where: str = "") -> None:
    if decision not in DECISIONS:
        raise DataError(f"{where}{decision!r} is not a decision; use {', '.join(DECISIONS[:-1])} or "
                        f"{DECISIONS[-1]}", column="decision", rule="decision")
    if resolution and decision == "maybe":
        raise DataError(f"{where}a resolution must include or exclude, not 'maybe'", column="decision",
                        rule="decision")
    allowed = project.reasons(stage)
    if reason is not None and decision != "exclude":
        raise DataError(f"{where}an exclusion reason goes with 'exclude' only", column="reason", rule="reason")
    if reason is not None and reason not in allowed:
        raise DataError(f"{where}exclusion reason {reason!r} is not in the project's list for {stage}: {allowed}; "
                        f"add it with 'metareview review reasons'", column="reason", rule="reason")
    if stage == "full_text" and decision == "exclude" and not reason:
        raise DataError(f"{where}excluding a full text needs a reason (PRISMA reports them); reasons: {allowed}",
                        column="reason", rule="reason")


def _check_eligible(project: Project, record_id: int, stage: str, cl: Clusters) -> int:
    if record_id not in cl.primary:
        raise DataError(f"there is no record {record_id} in this project", study=str(record_id), rule="record-id")
    unit = cl.primary[record_id]
    if stage == "full_text" and unit not in states(project, "full_text", cl=cl, only={unit}):
        raise DataError(f"record {record_id} is not at the full-text stage (not included at title/abstract, "
                        f"or its report was not retrieved)", study=str(record_id), rule="stage")
    return unit


def decide(project: Project, record_id: int, *, stage: str, reviewer: str, decision: str,
           reason: str | None = None, note: str | None = None, cl: Clusters | None = None) -> UnitState:
    """Append one reviewer's decision on a record; returns the cluster's new state.

    ``cl`` (the current clusters) saves recomputing them when deciding many records in a row.
    """
    stage = parse_stage(stage)
    reviewer = (reviewer or "").strip()
    if not reviewer:
        raise DataError("a decision needs a named reviewer", column="reviewer", rule="reviewer")
    reason = reason.strip() if reason and reason.strip() else None
    check_decision(project, stage, decision, reason, resolution=False)
    cl = cl or clusters(project.store)
    unit = _check_eligible(project, record_id, stage, cl)
    project.store.add_decisions([{"record_id": unit, "stage": stage, "reviewer": reviewer, "decision": decision,
                                  "reason": reason, "note": note}])
    return states(project, stage, cl=cl, only={unit})[unit]


def undo(project: Project, *, stage: str, reviewer: str) -> dict[str, Any]:
    """Take back ``reviewer``'s latest decision at ``stage`` that is not taken back yet, and return it.

    The decision stays in the log, marked as retracted by its author; the reviewer's
    earlier decision on that record, if any, counts again.
    """
    stage = parse_stage(stage)
    with project.store.transaction():
        mine = [r for r in project.store.decision_log(stage, active=True)
                if r["reviewer"] == reviewer and not r["is_resolution"]]
        if not mine:
            raise DataError(f"{reviewer} has no decision at {stage} left to undo", column="reviewer", rule="undo")
        project.store.retract_decision(mine[-1]["id"], reviewer)
    return mine[-1]


def resolve(project: Project, record_id: int, *, stage: str, by: str, decision: str, reason: str | None = None,
            note: str | None = None) -> UnitState:
    """Record how a conflict (or any record) was settled, by whom and why."""
    stage = parse_stage(stage)
    if not (by or "").strip():
        raise DataError("a resolution needs the name of who resolved it", column="reviewer", rule="reviewer")
    reason = reason.strip() if reason and reason.strip() else None
    check_decision(project, stage, decision, reason, resolution=True)
    cl = clusters(project.store)
    unit = _check_eligible(project, record_id, stage, cl)
    project.store.add_decisions([{"record_id": unit, "stage": stage, "reviewer": by.strip(), "decision": decision,
                                  "reason": reason, "note": note, "is_resolution": True}])
    return states(project, stage, cl=cl, only={unit})[unit]


def conflicts(project: Project, stage: str) -> list[UnitState]:
    """Clusters whose reviewers disagree (or said "maybe") and that no one has resolved yet."""
    return [s for s in states(project, stage).values() if s.state == "conflict"]


def agreement(project: Project, stage: str) -> list[Agreement]:
    """Percent agreement and Cohen's kappa for each pair of reviewers, on the records both screened.

    Agreement is on the reviewers' own (latest) decisions, before any resolution.
    """
    stage = parse_stage(stage)
    st = states(project, stage)
    by_reviewer: dict[str, dict[int, str]] = defaultdict(dict)
    for unit, s in st.items():
        for reviewer, vote in s.votes.items():
            by_reviewer[reviewer][unit] = vote["decision"]
    out = []
    for ra, rb in combinations(sorted(by_reviewer), 2):
        common = sorted(set(by_reviewer[ra]) & set(by_reviewer[rb]))
        if common:
            out.append(cohen_kappa([by_reviewer[ra][u] for u in common], [by_reviewer[rb][u] for u in common],
                                   rater_a=ra, rater_b=rb, categories=DECISIONS))
    return out


def set_retrieval(project: Project, record_id: int, *, retrieved: bool, by: str, note: str | None = None) -> None:
    """Record whether the full text of an included record could be obtained (PRISMA "reports not retrieved")."""
    if not (by or "").strip():
        raise DataError("say who looked for the report (--by)", column="reviewer", rule="reviewer")
    cl = clusters(project.store)
    if record_id not in cl.primary:
        raise DataError(f"there is no record {record_id} in this project", study=str(record_id), rule="record-id")
    unit = cl.primary[record_id]
    ta = states(project, "title_abstract", cl=cl)
    kinds = _sources(project)
    other = all(kinds[m] == "other" for m in cl.members[unit])
    if not other and ta[unit].state != "included":
        raise DataError(f"record {record_id} was not included at title/abstract, so its report is not sought",
                        study=str(record_id), rule="stage")
    project.store.add_retrieval(unit, retrieved, by.strip(), note)


# -- studies ---------------------------------------------------------------------------------------------
def _default_label(rec: dict[str, Any]) -> str:
    from .normalize import first_author_key
    author = (rec.get("authors") or [""])[0]
    surname = author.split(",")[0].strip() if "," in author else (author.split()[0] if author.split() else "")
    surname = surname or first_author_key(rec.get("authors")) or f"Record {rec['id']}"
    return f"{surname} {rec.get('year') or 'n.d.'}"


def study_labels(project: Project) -> dict[int, str]:
    """Study label of each report included at full text (several reports may share a study).

    A report's label is the one assigned with :func:`assign_study`, else "Surname Year"
    with a letter added when two included reports would share it.  Assigning a report
    the label another report shows makes both reports of one study.
    """
    cl = clusters(project.store)
    ft = states(project, "full_text", cl=cl)
    included = sorted(u for u, s in ft.items() if s.state == "included")
    assigned = project.store.study_assignments()
    labels: dict[int, str] = {}
    for unit in included:
        for m in cl.members[unit]:
            if m in assigned:
                labels[unit] = assigned[m]
    recs = {r["id"]: r for r in project.store.iter_records(("id", "authors", "year"), ids=included)}
    auto = [u for u in included if u not in labels]
    base: dict[str, list[int]] = defaultdict(list)
    for u in auto:
        base[_default_label(recs[u])].append(u)
    taken = set(labels.values())
    for label, units in base.items():
        if len(units) == 1:
            labels[units[0]] = label  # a report assigned this label joins this study
            continue
        suffixes = (f"{chr(ord('a') + i)}" if i < 26 else str(i) for i in range(10 ** 6))
        for u in units:
            name = f"{label}{next(suffixes)}"
            while name in taken:
                name = f"{label}{next(suffixes)}"
            labels[u] = name
    return labels


def assign_study(project: Project, record_id: int, study: str, *, by: str | None = None) -> None:
    """Give a report a study label; reports with the same label are one study."""
    if not study.strip():
        raise DataError("the study label is empty", column="study", rule="study")
    cl = clusters(project.store)
    if record_id not in cl.primary:
        raise DataError(f"there is no record {record_id} in this project", study=str(record_id), rule="record-id")
    project.store.add_study_assignment(cl.primary[record_id], study.strip(), by)


# -- CSV exchange ------------------------------------------------------------------------------------------
def export_decisions(project: Project, *, stage: str | None = None) -> str:
    """The decision log (or one stage's) as CSV, with each record's title for context.

    Decisions their authors took back (:func:`undo`) stay in the project's log but are left
    out here, so that importing the file gives the same state.
    """
    log = project.store.decision_log(parse_stage(stage) if stage else None, active=True)
    titles = {r["id"]: r["title"] for r in project.store.iter_records(("id", "title"),
                                                                       ids=[r["record_id"] for r in log])}
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=LOG_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in log:
        titled = {**row, "title": titles.get(row["record_id"]) or ""}
        writer.writerow({k: spreadsheet_safe(v) for k, v in titled.items()})
    return buf.getvalue()


def screening_sheet(project: Project, *, stage: str, reviewer: str | None = None) -> str:
    """A spreadsheet for screening outside metareview: one row per record still to screen.

    A record that could not be parsed comes with its problem and raw text, so it can be
    screened like the others.  With ``reviewer`` the sheet lists what that reviewer has not decided yet; fill in
    the ``decision`` (and ``reason``) columns and import it with :func:`import_decisions`.
    """
    stage = parse_stage(stage)
    st = states(project, stage)
    todo = [u for u, s in st.items() if not s.decided and (reviewer is None or reviewer not in s.votes)]
    buf = io.StringIO()
    columns = ["record_id", "stage", "title", "abstract", "authors", "year", "journal", "doi", "problem", "raw",
               "decision", "reason", "note"]
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for rec in project.store.iter_records(("id", "title", "abstract", "authors", "year", "journal", "doi", "raw",
                                           "status", "problem"), ids=todo):
        malformed = rec["status"] == "malformed"
        row = {"record_id": rec["id"], "stage": stage, "title": rec["title"] or "",
               "problem": rec["problem"] or "", "raw": rec["raw"] if malformed else "",
               "abstract": rec["abstract"] or "", "authors": "; ".join(rec["authors"]),
               "year": rec["year"] or "", "journal": rec["journal"] or "", "doi": rec["doi"] or "",
               "decision": "", "reason": "", "note": ""}
        writer.writerow({k: spreadsheet_safe(v) for k, v in row.items()})
    return buf.getvalue()


def import_decisions(project: Project, text: str, *, reviewer: str | None = None,
                     stage: str | None = None) -> dict[str, int]:
    """Append decisions from CSV: a decision log (:func:`export_decisions`) or a filled-in sheet.

    Rows with no decision are skipped; rows identical to a logged entry (same record,
    stage, reviewer, decision, reason, note, resolution flag and time) are not logged
    twice, so importing the same file again changes nothing.  All rows are checked first
    and then written in one transaction: a bad row rejects the file with its line number.
    """
    header, rows_in = dict_rows(text, "decisions file")
    fields = set(header)
    missing = {"record_id", "decision"} - fields
    if missing:
        raise DataError(f"the decisions file lacks column(s) {sorted(missing)}", column=sorted(missing)[0],
                        rule="columns")
    if "reviewer" not in fields and not reviewer:
        raise DataError("the file has no reviewer column; say whose decisions these are (--reviewer)",
                        column="reviewer", rule="reviewer")
    if "stage" not in fields and not stage:
        raise DataError("the file has no stage column; give the stage (--stage)", column="stage", rule="stage")
    cl = clusters(project.store)
    existing = {(r["record_id"], r["stage"], r["reviewer"], r["decision"], r["reason"], r["note"],
                 r["is_resolution"], r["created_at"]) for r in project.store.decision_log()}
    titles = {r["id"]: r["title"] for r in project.store.iter_records(("id", "title"))}
    rows: list[dict[str, Any]] = []
    skipped = duplicates = 0
    eligible_ft: set[int] | None = None
    stamp = now()
    for line, row in rows_in:
        where = f"line {line}: "
        decision = (row.get("decision") or "").strip().lower()
        if not decision:
            skipped += 1
            continue
        try:
            record_id = int((row.get("record_id") or "").strip())
        except ValueError:
            raise DataError(f"{where}record_id {row.get('record_id')!r} is not a number", column="record_id",
                            rule="record-id") from None
        if record_id not in cl.primary:
            raise DataError(f"{where}there is no record {record_id} in this project", column="record_id",
                            rule="record-id")
        if "title" in fields and (row.get("title") or "") and titles.get(record_id) and \
                (row["title"] or "").strip() != (titles[record_id] or "").strip():
            raise DataError(f"{where}record {record_id} has title {titles[record_id]!r} here but "
                            f"{row['title']!r} in the file: the file belongs to another project", column="title",
                            rule="record-id")
        row_stage = parse_stage((row.get("stage") or "").strip() or stage or "")
        who = ((row.get("reviewer") or "").strip() or reviewer or "").strip()
        if not who:
            raise DataError(f"{where}no reviewer named", column="reviewer", rule="reviewer")
        reason = (row.get("reason") or "").strip() or None
        note = (row.get("note") or "").strip() or None
        is_resolution = (row.get("is_resolution") or "0").strip() in ("1", "true", "True", "yes")
        check_decision(project, row_stage, decision, reason, resolution=is_resolution, where=where)
        if row_stage == "full_text":
            if eligible_ft is None:
                eligible_ft = set(states(project, "full_text", cl=cl))
            if cl.primary[record_id] not in eligible_ft:
                raise DataError(f"{where}record {record_id} is not at the full-text stage", column="stage",
                                rule="stage")
        created = (row.get("created_at") or "").strip() or stamp
        key = (record_id, row_stage, who, decision, reason, note, int(is_resolution), created)
        if key in existing:
            duplicates += 1
            continue
        existing.add(key)
        rows.append({"record_id": record_id, "stage": row_stage, "reviewer": who, "decision": decision,
                     "reason": reason, "note": note, "is_resolution": is_resolution, "created_at": created})
    written = project.store.add_decisions(rows)
    return {"written": written, "already_logged": duplicates, "blank": skipped}


def pending_for(project: Project, stage: str, reviewer: str) -> list[int]:
    """Clusters at ``stage`` that ``reviewer`` has not decided and that are not settled."""
    st = states(project, stage)
    return [u for u, s in st.items() if not s.decided and s.state != "conflict" and reviewer not in s.votes]


def progress(project: Project, stage: str, *, st: dict[int, UnitState] | None = None) -> dict[str, Any]:
    """How far a stage is: the number of clusters to screen, how many are in each state, and how many each
    reviewer has decided (their own votes, not resolutions)."""
    st = states(project, parse_stage(stage)) if st is None else st
    by_reviewer: dict[str, int] = defaultdict(int)
    for s in st.values():
        for reviewer in s.votes:
            by_reviewer[reviewer] += 1
    counts = {k: 0 for k in ("pending", "conflict", "included", "excluded")}
    for s in st.values():
        counts[s.state] += 1
    return {"units": len(st), "states": counts, "by_reviewer": dict(sorted(by_reviewer.items())),
            "reviewers_per_record": project.reviewers_per_record}
