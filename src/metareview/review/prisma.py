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

from ..base.exceptions import DataError
from .dedupe import clusters
from .project import Project
from .screening import states, study_labels

__all__ = ["prisma_counts", "to_toml", "to_json", "to_prisma2020_csv", "check_arithmetic", "PRISMA2020_ROWS"]


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
            problems.append(f"records_screened {doc['records_screened']} != identified {identified}"
                            f" - removed {removed}")
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


# -- the PRISMA2020 app's CSV template -------------------------------------------------------------------------
#: Rows of the CSV template of the PRISMA2020 R package and Shiny app (Haddaway et al., Campbell Systematic
#: Reviews 2022;18:e1230), in its order: (data, node, box, box text).  The app reads ``data`` and ``n``.
PRISMA2020_ROWS = [
    ("NA", "node4", "prevstud", "Previous studies"),
    ("previous_studies", "node5", "box1", "Studies included in previous version of review"),
    ("previous_reports", "NA", "box1", "Reports of studies included in previous version of review"),
    ("NA", "node6", "newstud", "Identification of new studies via databases and registers"),
    ("database_results", "node7", "box2", "Databases"),
    ("database_specific_results", "NA", "box2", "Specific Databases"),
    ("register_results", "NA", "box2", "Registers"),
    ("register_specific_results", "NA", "box2", "Specific Registers"),
    ("NA", "node16", "othstud", "Identification of new studies via other methods"),
    ("website_results", "node17", "box11", "Websites"),
    ("organisation_results", "NA", "box11", "Organisations"),
    ("citations_results", "NA", "box11", "Citation searching"),
    ("duplicates", "node8", "box3", "Duplicate records"),
    ("excluded_automatic", "NA", "box3", "Records marked as ineligible by automation tools"),
    ("excluded_other", "NA", "box3", "Records removed for other reasons"),
    ("records_screened", "node9", "box4", "Records screened"),
    ("records_excluded", "node10", "box5", "Records excluded"),
    ("dbr_sought_reports", "node11", "box6", "Reports sought for retrieval"),
    ("dbr_notretrieved_reports", "node12", "box7", "Reports not retrieved"),
    ("other_sought_reports", "node18", "box12", "Reports sought for retrieval"),
    ("other_notretrieved_reports", "node19", "box13", "Reports not retrieved"),
    ("dbr_assessed", "node13", "box8", "Reports assessed for eligibility"),
    ("dbr_excluded", "node14", "box9", "Reports excluded"),
    ("other_assessed", "node20", "box14", "Reports assessed for eligibility"),
    ("other_excluded", "node21", "box15", "Reports excluded"),
    ("new_studies", "node15", "box10", "New studies included in review"),
    ("new_reports", "NA", "box10", "Reports of new included studies"),
    ("total_studies", "node22", "box16", "Total studies included in review"),
    ("total_reports", "NA", "box16", "Reports of total included studies"),
    ("identification", "node1", "identification", "Identification"),
    ("screening", "node2", "screening", "Screening"),
    ("included", "node3", "included", "Included"),
]
# other methods, by a word in the source's name
_OTHER_KINDS = (("website_results", ("website", "web site", "web search")), ("organisation_results",
                ("organisation", "organization")), ("citations_results", ("citation",)))


def _named_counts(table: dict[str, int]) -> str:
    """The app's ``Name, n; Name, n`` lists; commas and semicolons inside a name would split it."""
    return "; ".join(f"{name.replace(';', ' -').replace(',', ' -')}, {int(n)}" for name, n in table.items())


def to_prisma2020_csv(doc: dict[str, Any]) -> str:
    """The counts in the PRISMA2020 app's CSV template (``data``/``n`` rows), for its flow diagram.

    The mapping is documented in docs/prisma-counts.md.  Boxes metareview does not count
    (a previous version of the review) are 0, as in the app's template; counts of an
    unfinished stage are refused by :func:`prisma_counts` before this is called.
    """
    import csv
    import io

    others = {key: 0 for key, _ in _OTHER_KINDS}
    for name, n in doc.get("other_records", {}).items():
        kind = next((key for key, words in _OTHER_KINDS if any(w in name.lower() for w in words)), None)
        if kind is None:
            raise DataError(f"the PRISMA2020 template counts other methods as websites, organisations or citation "
                            f"searching; name the source {name!r} so that it says which (e.g. 'citation "
                            f"searching')", column="source", rule="prisma2020")
        others[kind] += int(n)
    databases, registers = doc.get("records_databases", {}), doc.get("records_registers", {})
    n = {
        "previous_studies": 0, "previous_reports": 0,
        "database_results": sum(databases.values()), "database_specific_results": _named_counts(databases),
        "register_results": sum(registers.values()), "register_specific_results": _named_counts(registers),
        **others,
        "duplicates": doc.get("duplicates_removed", 0), "excluded_automatic": doc.get("automation_removed", 0),
        "excluded_other": doc.get("other_removed", 0),
        "records_screened": doc.get("records_screened", 0), "records_excluded": doc.get("records_excluded", 0),
        "dbr_sought_reports": doc.get("reports_sought", 0),
        "dbr_notretrieved_reports": doc.get("reports_not_retrieved", 0),
        "other_sought_reports": doc.get("other_reports_sought", 0),
        "other_notretrieved_reports": doc.get("other_reports_not_retrieved", 0),
        "dbr_assessed": doc.get("reports_assessed", 0), "dbr_excluded": _named_counts(doc.get("reports_excluded", {})),
        "other_assessed": doc.get("other_reports_assessed", 0),
        "other_excluded": _named_counts(doc.get("other_reports_excluded", {})),
        "new_studies": doc.get("studies_included", 0), "new_reports": doc.get("reports_included", 0),
        "total_studies": doc.get("studies_included", 0), "total_reports": doc.get("reports_included", 0),
    }
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["data", "node", "box", "description", "boxtext", "tooltips", "url", "n"])
    for data, node, box, text in PRISMA2020_ROWS:
        url = f"{data if data != 'NA' else box}.html"
        writer.writerow([data, node, box, text, text, text if node != "NA" else "NA", url, n.get(data, 0)])
    return buf.getvalue()
