from __future__ import annotations

from pathlib import Path

import pytest

from metareview.review import Project, run_dedupe

EXPORTS = Path(__file__).resolve().parents[1] / "data" / "exports"
SOURCES = [("pubmed.nbib", "PubMed"), ("embase.ris", "Embase"), ("scopus.ris", "Scopus"),
           ("table_latin1.csv", "Web of Science")]


@pytest.fixture
def project(tmp_path: Path):
    with Project.init(tmp_path / "review.mrv", name="MRgFUS bone metastases") as p:
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
