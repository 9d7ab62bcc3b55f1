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
from .dedupe import Clusters, DedupeReport, DedupeSettings, choose_primary, clusters, merge, resolve_pair, \
    review_queue, run_dedupe, split
from .project import DEFAULT_REASONS, STAGES, ImportReport, Project, parse_stage
from .records import ParseResult, Record
from .store import Store

__all__ = [
    "Project", "Store", "Record", "ParseResult", "ImportReport", "STAGES", "DEFAULT_REASONS", "parse_stage",
    "run_dedupe", "DedupeSettings", "DedupeReport", "Clusters", "clusters", "merge", "split", "choose_primary",
    "resolve_pair", "review_queue", "cohen_kappa", "Agreement",
]
