"""PRISMA 2020 counts derived from the store, in the docs/prisma-counts.md format."""

from __future__ import annotations

import json
import tomllib

import pytest

from metareview.base.exceptions import DataError
from metareview.review import run_dedupe
from metareview.review.prisma import check_arithmetic, prisma_counts, to_json, to_toml
from metareview.review.screening import decide, states

from .conftest import ONTO_PROJECT

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


def _prisma2020(text: str) -> dict:
    import csv
    import io
    rows = list(csv.DictReader(io.StringIO(text)))
    return {r["data"]: r["n"] for r in rows if r["data"] != "NA"}


def test_prisma2020_app_template(screened):
    from metareview.review.prisma import PRISMA2020_ROWS, to_prisma2020_csv

    text = to_prisma2020_csv(prisma_counts(screened))
    assert text.splitlines()[0] == "data,node,box,description,boxtext,tooltips,url,n"
    assert len(text.splitlines()) == 1 + len(PRISMA2020_ROWS) == 33
    n = _prisma2020(text)
    assert n["database_results"] == "32" and n["database_specific_results"] == \
        "Embase, 9; PubMed, 10; Scopus, 8; Web of Science, 5"
    assert (n["duplicates"], n["records_screened"], n["records_excluded"]) == ("13", "19", "13")
    assert (n["dbr_sought_reports"], n["dbr_notretrieved_reports"], n["dbr_assessed"]) == ("6", "1", "5")
    assert n["dbr_excluded"] == "wrong study design, 1"
    assert (n["new_studies"], n["new_reports"], n["total_studies"], n["total_reports"]) == ("3", "4", "3", "4")
    assert n["previous_studies"] == "0" and n["register_results"] == "0" and n["citations_results"] == "0"


def test_prisma2020_other_methods_by_name():
    from metareview.review.prisma import to_prisma2020_csv

    doc = {"records_databases": {"PubMed": 5}, "other_records": {"Citation searching": 3, "Websites": 2,
                                                                 "WHO organisation pages": 1},
           "other_reports_excluded": {"wrong population; adults, only": 1}}
    n = _prisma2020(to_prisma2020_csv(doc))
    assert (n["citations_results"], n["website_results"], n["organisation_results"]) == ("3", "2", "1")
    assert n["other_excluded"] == "wrong population - adults - only, 1"
    with pytest.raises(DataError, match="name the source 'Hand search'"):
        to_prisma2020_csv({"other_records": {"Hand search": 4}})


def test_prisma_command_writes_the_template(screened, tmp_path, capsys):
    from metareview.cli import main

    path = screened.store.location
    assert main(["review", "prisma", "-p", path, "-o", str(tmp_path / "prisma2020.csv")]) == 0
    assert _prisma2020((tmp_path / "prisma2020.csv").read_text())["records_screened"] == "19"
    assert main(["review", "prisma", "-p", path, "-f", "prisma2020", "--partial"]) == 2
    assert main(["review", "prisma", "-p", path, "-o", path]) == 2
    assert ONTO_PROJECT[screened.store.backend] in capsys.readouterr().err
