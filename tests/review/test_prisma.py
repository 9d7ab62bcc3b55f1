"""PRISMA 2020 counts derived from the store, in the docs/prisma-counts.md format."""

from __future__ import annotations

import json
import tomllib

import pytest

from metareview.exceptions import DataError
from metareview.review import run_dedupe
from metareview.review.prisma import check_arithmetic, prisma_counts, to_json, to_toml
from metareview.review.screening import decide, states

EXPECTED = {
    "records_databases": {"Embase": 9, "PubMed": 10, "Scopus": 8, "Web of Science": 5},
    "duplicates_removed": 13,
    "records_screened": 19,
    "records_excluded": 13,
    "reports_sought": 6,
    "reports_not_retrieved": 1,
    "reports_assessed": 5,
    "reports_excluded": {"wrong study design": 1},
    "studies_included": 3,
    "reports_included": 4,
}


def test_counts_of_a_finished_review(screened):
    doc = prisma_counts(screened)
    assert doc == EXPECTED
    assert check_arithmetic(doc) == []
    # every imported record is accounted for: a duplicate or a screened record
    assert sum(doc["records_databases"].values()) == doc["duplicates_removed"] + doc["records_screened"]


def test_json_and_toml_renderings_hold_the_same_counts(screened):
    doc = prisma_counts(screened)
    assert json.loads(to_json(doc)) == doc
    assert tomllib.loads(to_toml(doc)) == doc


def test_unfinished_screening_is_refused_or_partial(deduped):
    with pytest.raises(DataError, match="title/abstract screening is not finished: 19 record"):
        prisma_counts(deduped)
    partial = prisma_counts(deduped, partial=True)
    assert partial == {k: EXPECTED[k] for k in ("records_databases", "duplicates_removed", "records_screened")}
    assert check_arithmetic(partial) == []


def test_full_text_unfinished(deduped):
    for unit in states(deduped, "ta"):
        for who in ("ann", "bob"):
            decide(deduped, unit, stage="ta", reviewer=who, decision="include" if unit == 1 else "exclude")
    with pytest.raises(DataError, match="full-text screening is not finished: 1 report"):
        prisma_counts(deduped)
    partial = prisma_counts(deduped, partial=True)
    assert partial["reports_assessed"] == 1 and "reports_included" not in partial


def test_other_methods_go_to_the_right_hand_column(screened, tmp_path):
    extra = tmp_path / "citations.csv"
    extra.write_text("Title,Year,DOI\n"
                     "\"Magnetic resonance-guided focused ultrasound for palliation of painful bone metastases: "
                     "a prospective multicenter study\",2019,10.1186/s40349-019-0132-4\n"
                     "\"Focused ultrasound in the pelvis and sacrum: technical notes\",2021,\n", encoding="utf-8")
    screened.import_file(extra, source="Citation searching", kind="other")
    run_dedupe(screened.store)
    for who in ("ann", "bob"):
        decide(screened, 34, stage="ft", reviewer=who, decision="include")
    doc = prisma_counts(screened)
    assert doc["other_records"] == {"Citation searching": 2}
    assert doc["records_screened"] == 19 and doc["duplicates_removed"] == 13  # the duplicate joins a database record
    assert (doc["other_reports_sought"], doc["other_reports_not_retrieved"], doc["other_reports_assessed"]) == (1, 0, 1)
    assert doc["other_reports_excluded"] == {}
    assert (doc["studies_included"], doc["reports_included"]) == (4, 5)
