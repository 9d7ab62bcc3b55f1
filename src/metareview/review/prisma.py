"""PRISMA 2020 flow-diagram counts, derived from what the store recorded.

Boxes follow Page et al. (2021, "The PRISMA 2020 statement", BMJ 372:n71), in the
exchange format of ``docs/prisma-counts.md``.  Every imported record is accounted
for: records from databases and registers either are duplicates of another record
(``duplicates_removed``) or are the screened primary of their cluster
(``records_screened``); malformed records are screened like any other.  Records found
by other methods (citation searching, websites) go straight to retrieval, as in the
diagram's right-hand column, unless they duplicate a database record.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from ..exceptions import DataError
from .dedupe import clusters
from .project import Project
from .screening import states, study_labels

__all__ = ["prisma_counts", "to_toml", "to_json", "check_arithmetic"]


def _state_counts(st: dict) -> Counter:
    return Counter(s.state for s in st.values())


def prisma_counts(project: Project, *, partial: bool = False) -> dict[str, Any]:
    """The counts document.  Screening must be complete unless ``partial``, in which case the
    boxes after an unfinished stage are left out (the diagram then omits them)."""
    store = project.store
    runs = store.dedupe_runs()
    n_records = store.count_records()
    if not partial and (not runs or runs[-1]["n_records"] != n_records):
        since = n_records - (runs[-1]["n_records"] if runs else 0)
        raise DataError(f"{since} record(s) were imported after the last de-duplication, so the duplicates box "
                        f"would be wrong; run 'metareview review dedupe' first", rule="incomplete")
    cl = clusters(store)
    kinds: dict[int, str] = {}
    per_source: dict[str, Counter] = {"database": Counter(), "register": Counter(), "other": Counter()}
    for rec in store.iter_records(("id",)):
        kinds[rec["id"]] = rec["source_kind"]
        per_source[rec["source_kind"]][rec["source"]] += 1
    main = [p for p, m in cl.members.items() if any(kinds[i] != "other" for i in m)]
    other = [p for p, m in cl.members.items() if all(kinds[i] == "other" for i in m)]
    n_identified = sum(per_source["database"].values()) + sum(per_source["register"].values())
    doc: dict[str, Any] = {}
    if per_source["database"]:
        doc["records_databases"] = dict(sorted(per_source["database"].items()))
    if per_source["register"]:
        doc["records_registers"] = dict(sorted(per_source["register"].items()))
    if per_source["other"]:
        doc["other_records"] = dict(sorted(per_source["other"].items()))
    doc["duplicates_removed"] = n_identified - len(main)
    doc["records_screened"] = len(main)

    ta = states(project, "title_abstract", cl=cl)
    open_ta = [u for u, s in ta.items() if not s.decided]
    if open_ta:
        if not partial:
            counts = _state_counts({u: ta[u] for u in open_ta})
            raise DataError(f"title/abstract screening is not finished: {counts.get('pending', 0)} record(s) "
                            f"pending and {counts.get('conflict', 0)} conflict(s), e.g. record {open_ta[0]}; "
                            f"finish screening or ask for partial counts (--partial)", rule="incomplete")
        return doc
    doc["records_excluded"] = sum(1 for s in ta.values() if s.state == "excluded")
    ft = states(project, "full_text", cl=cl)
    open_ft = [u for u, s in ft.items() if not s.decided]
    main_set = set(main)

    def flow(prefix: str, sought: list[int]) -> None:
        not_retrieved = [u for u in sought if u not in ft]
        doc[f"{prefix}reports_sought"] = len(sought)
        doc[f"{prefix}reports_not_retrieved"] = len(not_retrieved)
        doc[f"{prefix}reports_assessed"] = len(sought) - len(not_retrieved)

    sought_main = [u for u in main if ta[u].state == "included"]
    flow("", sought_main)
    if other:
        flow("other_", other)
    if open_ft:
        if not partial:
            counts = _state_counts({u: ft[u] for u in open_ft})
            raise DataError(f"full-text screening is not finished: {counts.get('pending', 0)} report(s) pending "
                            f"and {counts.get('conflict', 0)} conflict(s), e.g. record {open_ft[0]}; finish "
                            f"screening or ask for partial counts (--partial)", rule="incomplete")
        return doc
    for prefix, units in (("", [u for u in ft if u in main_set]), ("other_", [u for u in ft if u not in main_set])):
        if prefix and not other:
            continue
        reasons = Counter(ft[u].reason or "no reason given" for u in units if ft[u].state == "excluded")
        doc[f"{prefix}reports_excluded"] = dict(sorted(reasons.items()))
    labels = study_labels(project)
    doc["studies_included"] = len(set(labels.values()))
    doc["reports_included"] = len(labels)
    return doc


def check_arithmetic(doc: dict[str, Any]) -> list[str]:
    """The identities docs/prisma-counts.md requires, as messages for those that fail."""
    problems = []
    if "records_screened" in doc:
        identified = sum(doc.get("records_databases", {}).values()) + sum(doc.get("records_registers", {}).values())
        removed = sum(doc.get(k, 0) for k in ("duplicates_removed", "automation_removed", "other_removed"))
        if doc["records_screened"] != identified - removed:
            problems.append(f"records_screened {doc['records_screened']} != identified {identified} - removed {removed}")
    if "reports_sought" in doc and "records_excluded" in doc:
        if doc["reports_sought"] != doc["records_screened"] - doc["records_excluded"]:
            problems.append("reports_sought != records_screened - records_excluded")
    if "reports_assessed" in doc:
        if doc["reports_assessed"] != doc["reports_sought"] - doc.get("reports_not_retrieved", 0):
            problems.append("reports_assessed != reports_sought - reports_not_retrieved")
    return problems


def to_json(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _toml_key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() and key.isascii() else json.dumps(key)


def to_toml(doc: dict[str, Any]) -> str:
    """The counts as TOML (scalars first, then one table per reason/source table)."""
    lines = [f"{_toml_key(k)} = {int(v)}" for k, v in doc.items() if not isinstance(v, dict)]
    for key, table in doc.items():
        if isinstance(table, dict):
            lines.append("")
            lines.append(f"[{_toml_key(key)}]")
            lines.extend(f"{_toml_key(name)} = {int(n)}" for name, n in table.items())
    return "\n".join(lines) + "\n"
