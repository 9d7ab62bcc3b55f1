"""The review project: search exports in, PRISMA counts and an adjudicated analysis table out.

One SQLite file holds the whole review: imported records with their raw text,
duplicate links, screening decisions, extracted values and adjudications, each an
append-only log from which the current state is derived.

>>> import tempfile, pathlib
>>> from metareview.review import Project
>>> project = Project.init(pathlib.Path(tempfile.mkdtemp()) / "review.mrv")
>>> project.reviewers_per_record
2
>>> project.close()
"""

from __future__ import annotations

from .agreement import Agreement, cohen_kappa
from .dedupe import (
    Clusters,
    DedupeReport,
    DedupeSettings,
    choose_primary,
    clusters,
    merge,
    resolve_pair,
    review_queue,
    run_dedupe,
    split,
)
from .exchange import export_records, select_records
from .extraction import (
    Field,
    Form,
    adjudicate,
    check_entries,
    discrepancies,
    enter_values,
    export_analysis,
    get_form,
    import_values,
    load_form,
    parse_location,
    save_entries,
    set_form,
)
from .fulltext import attach_pdf, fulltext_path, reports_sought
from .prisma import prisma_counts
from .project import DEFAULT_REASONS, STAGES, ImportReport, Project, parse_stage
from .records import ParseResult, Record
from .screen_tui import run_screen
from .screening import (
    UnitState,
    agreement,
    assign_study,
    conflicts,
    decide,
    export_decisions,
    import_decisions,
    resolve,
    screening_sheet,
    set_retrieval,
    states,
    study_labels,
)
from .store import Store
from .tool_decisions import import_tool_decisions

__all__ = [
    # project and records
    "Project", "Store", "Record", "ParseResult", "ImportReport", "STAGES", "DEFAULT_REASONS", "parse_stage",
    "export_records", "select_records",
    # duplicates
    "run_dedupe", "DedupeSettings", "DedupeReport", "Clusters", "clusters", "merge", "split", "choose_primary",
    "resolve_pair", "review_queue",
    # screening
    "decide", "resolve", "states", "UnitState", "conflicts", "agreement", "cohen_kappa", "Agreement",
    "export_decisions", "import_decisions", "screening_sheet", "set_retrieval", "assign_study", "study_labels",
    "run_screen", "import_tool_decisions",
    # extraction
    "Form", "Field", "load_form", "set_form", "get_form", "import_values", "enter_values", "discrepancies",
    "adjudicate", "export_analysis", "check_entries", "save_entries", "parse_location",
    # full texts
    "attach_pdf", "fulltext_path", "reports_sought",
    # reporting
    "prisma_counts",
]
