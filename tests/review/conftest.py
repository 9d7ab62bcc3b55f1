from __future__ import annotations

from pathlib import Path

import pytest

from metareview.review import Project, run_dedupe

#: how the command line refuses an output that is the project itself, for each backend
ONTO_PROJECT = {"sqlite": "is an input of this command", "postgresql": "names a database"}
EXPORTS = Path(__file__).resolve().parents[1] / "data" / "exports"
SOURCES = [("pubmed.nbib", "PubMed"), ("embase.ris", "Embase"), ("scopus.ris", "Scopus"),
           ("table_latin1.csv", "Web of Science")]


@pytest.fixture
def project(location: str, tmp_path: Path):
    """A new project, once as a SQLite file and once on the PostgreSQL test server (``location``); on the
    server its full texts go where a file's would (``metareview serve --files``)."""
    with Project.init(location, name="MRgFUS bone metastases") as p:
        if p.store.path is None:
            p.files = tmp_path / "review.mrv.files"
        yield p


@pytest.fixture
def imported(project: Project) -> Project:
    """All four sample exports imported (32 records, 4 malformed)."""
    for name, source in SOURCES:
        project.import_file(EXPORTS / name, source=source)
    return project


@pytest.fixture
def deduped(imported: Project) -> Project:
    run_dedupe(imported.store)
    return imported


def labels() -> dict[tuple[str, int], str]:
    import csv
    with open(EXPORTS / "labels.csv", newline="", encoding="utf-8") as fh:
        return {(row["file"], int(row["position"])): row["article"] for row in csv.DictReader(fh)}


def screen_all(project: Project) -> None:
    """Dual-screen every record of the sample project to the end of full text.

    Title/abstract: six clusters included (one after a resolved conflict), the rest
    excluded.  Full text: one report not retrieved, one excluded, four included, two
    of which are reports of one study.
    """
    from metareview.review.dedupe import clusters
    from metareview.review.screening import assign_study, decide, resolve, set_retrieval

    keep = {1, 2, 3, 6, 8, 10}
    for unit in sorted(clusters(project.store).members):
        for who in ("ann", "bob"):
            if unit in keep:
                decision = "exclude" if (unit, who) == (2, "bob") else "include"
                decide(project, unit, stage="ta", reviewer=who, decision=decision)
            else:
                decide(project, unit, stage="ta", reviewer=who, decision="exclude")
    resolve(project, 2, stage="ta", by="cat", decision="include", note="adult cohort after all")
    set_retrieval(project, 10, retrieved=False, by="ann", note="not held by any library")
    for unit in (1, 2, 3, 6):
        for who in ("ann", "bob"):
            decide(project, unit, stage="ft", reviewer=who, decision="include")
    for who in ("ann", "bob"):
        decide(project, 8, stage="ft", reviewer=who, decision="exclude", reason="wrong study design")
    assign_study(project, 6, "Namba 2019", by="cat")


@pytest.fixture
def screened(deduped: Project) -> Project:
    screen_all(deduped)
    return deduped
