"""Screening done in Rayyan or Covidence, brought into a stage of the project as decisions.

The tool's export is read by its importer (:mod:`.importers.rayyan`,
:mod:`.importers.covidence`) into records with votes; each record is found in the
project by DOI, then PMID, then title (with the year when both have one), and each vote
is appended to the decision log as the decision of a named reviewer (the tool's names
mapped to the project's with ``names``, its exclusion reasons with ``reasons``).  Every
row is checked before anything is written, and everything is written in one
transaction: a record not found, found twice, or a reason the project does not list
rejects the file with its line.  A vote that is already the reviewer's latest decision
on the record is not logged again, so importing the same export twice changes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

from ..base.exceptions import DataError, SettingsError
from .dedupe import clusters
from .importers import TOOL_READERS
from .importers.decisions import ToolRow
from .normalize import norm_title
from .project import Project, parse_stage
from .screening import check_decision, states

__all__ = ["import_tool_decisions", "TOOLS"]

#: Screening tools whose exports are read, with the name the decisions' notes give them.
TOOLS: dict[str, str] = {"rayyan": "Rayyan", "covidence": "Covidence"}


def _finder(project: Project, primary: Mapping[int, int]) -> Callable[[ToolRow], set[int]]:
    by_doi: dict[str, set[int]] = defaultdict(set)
    by_pmid: dict[str, set[int]] = defaultdict(set)
    by_title: dict[str, set[tuple[int, int | None]]] = defaultdict(set)
    for rec in project.store.iter_records(("id", "doi", "pmid", "title", "year")):
        unit = primary[rec["id"]]
        if rec["doi"]:
            by_doi[rec["doi"]].add(unit)
        if rec["pmid"]:
            by_pmid[rec["pmid"]].add(unit)
        if rec["title"]:
            by_title[norm_title(rec["title"])].add((unit, rec["year"]))

    def find(row: ToolRow) -> set[int]:
        if row.doi and by_doi.get(row.doi):
            return by_doi[row.doi]
        if row.pmid and by_pmid.get(row.pmid):
            return by_pmid[row.pmid]
        found = by_title.get(norm_title(row.title), set()) if row.title else set()
        return {u for u, year in found if row.year is None or year is None or year == row.year}

    return find


def import_tool_decisions(project: Project, text: str, *, tool: str, stage: str,
                          names: Mapping[str, str] | None = None,
                          reasons: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Append the votes of a Rayyan or Covidence export to ``stage``; return what was done.

    ``names`` maps the tool's reviewer names to the project's (unmapped names are kept);
    ``reasons`` maps the tool's exclusion reasons to the project's list.  Where the tool
    gives several reasons for one exclusion, the first is the decision's reason and all of
    them are kept in its note.
    """
    key = tool.strip().lower()
    if key not in TOOLS:
        raise SettingsError(f"unknown screening tool {tool!r}; tools are {list(TOOLS)}")
    parse: Callable[[str], list[ToolRow]] = TOOL_READERS[key]
    label = TOOLS[key]
    stage = parse_stage(stage)
    names, reasons = dict(names or {}), dict(reasons or {})
    rows = parse(text)
    cl = clusters(project.store)
    find = _finder(project, cl.primary)
    current = states(project, stage, cl=cl)
    latest = {}
    for entry in project.store.decision_log(stage):
        who = "\x00resolution" if entry["is_resolution"] else entry["reviewer"]
        latest[(cl.primary.get(entry["record_id"]), who)] = (entry["decision"], entry["reason"])
    out_rows: list[dict[str, Any]] = []
    already = unscreened = 0
    people: set[str] = set()
    for row in rows:
        if not row.votes:
            unscreened += 1
            continue
        where = f"line {row.line}: "
        units = find(row)
        what = row.title or row.doi or row.tool_id or "the record"
        if not units:
            raise DataError(f"{where}{what!r} is not in this project (no record with its DOI, PMID or title)",
                            study=row.tool_id, rule="record-match")
        if len(units) > 1:
            raise DataError(f"{where}{what!r} matches records {sorted(units)}, which are not linked as duplicates; "
                            f"link or tell them apart first", study=row.tool_id, rule="record-match")
        (unit,) = units
        if unit not in current:
            raise DataError(f"{where}record {unit} ({what!r}) is not at the {stage} stage", study=str(unit),
                            rule="stage")
        for vote in row.votes:
            who = names.get(vote.name, vote.name).strip()
            mapped = [reasons.get(r, r) for r in vote.reasons]
            reason = mapped[0] if mapped else None
            note_parts = [f"from {label}" + (f" ({row.tool_id})" if row.tool_id else "")]
            if len(mapped) > 1:
                note_parts.append(f"{label} reasons: {'; '.join(mapped)}")
            if vote.note:
                note_parts.append(vote.note)
            try:
                check_decision(project, stage, vote.decision, reason, resolution=vote.resolution, where=where)
            except DataError as exc:
                if reason is not None and exc.column == "reason":
                    raise DataError(f"{where}{label}'s reason {vote.reasons[0]!r} is not one of the project's "
                                    f"reasons for {stage} {project.reasons(stage)}; map it (--reason-map "
                                    f"'{vote.reasons[0]}=REASON') or add it with 'metareview review reasons'",
                                    column="reason", rule="reason") from None
                raise
            slot = (unit, "\x00resolution" if vote.resolution else who)
            if latest.get(slot) == (vote.decision, reason):
                already += 1
                continue
            latest[slot] = (vote.decision, reason)
            people.add(who)
            out_rows.append({"record_id": unit, "stage": stage, "reviewer": who, "decision": vote.decision,
                             "reason": reason, "note": "; ".join(note_parts), "is_resolution": vote.resolution})
    written = project.store.add_decisions(out_rows)
    return {"tool": label, "stage": stage, "written": written, "already_logged": already,
            "not_screened": unscreened, "reviewers": sorted(people)}
