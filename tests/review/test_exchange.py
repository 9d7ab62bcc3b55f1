"""Records out to reference managers: RIS and BibTeX read back by their importers lose nothing, for the
sample exports and for generated records; any set of records (all, primaries, the included studies)."""

from __future__ import annotations

import string

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from metareview.cli import main
from metareview.review import Project
from metareview.review.exchange import export_records, records_to_bibtex, records_to_ris, select_records
from metareview.review.importers import parse_bytes

from .conftest import EXPORTS, ONTO_PROJECT

FIELDS = ("title", "authors", "year", "journal", "volume", "issue", "pages", "doi", "pmid", "keywords")


def _fields(rec, *, one_line_abstract: bool) -> dict:
    out = {k: rec[k] if isinstance(rec, dict) else getattr(rec, k) for k in FIELDS}
    abstract = rec["abstract"] if isinstance(rec, dict) else rec.abstract
    out["abstract"] = " ".join(abstract.split()) if (abstract and one_line_abstract) else abstract
    return out


@pytest.mark.parametrize("fmt", ["ris", "bibtex"])
def test_sample_project_round_trip(imported, tmp_path, fmt):
    text = export_records(imported, format=fmt)
    originals = [r for r in imported.store.iter_records() if r["status"] == "ok"]
    copies = parse_bytes(text.encode("utf-8"), filename=f"x.{fmt}").records
    assert len(copies) == len(originals) == 28
    for a, b in zip(originals, copies):
        assert b.status == "ok"
        assert _fields(a, one_line_abstract=fmt == "ris") == _fields(b, one_line_abstract=fmt == "ris")
        if fmt == "ris" and a["source"] in ("Embase", "Scopus"):   # RIS codes stay RIS codes
            assert b.type == a["type"]
    if fmt == "ris":  # RIS fields the import kept come back under their tags
        scopus = next(c for a, c in zip(originals, copies) if a["source"] == "Scopus")
        assert "Export Date" in scopus.extra["notes"]


def test_ris_keeps_a_second_accession_number():
    row = {"id": 1, "status": "ok", "type": "JOUR", "title": "A trial", "authors": [], "year": 2021,
           "journal": None, "volume": None, "issue": None, "pages": None, "doi": None, "pmid": "33300002",
           "abstract": None, "keywords": [], "extra": {"accession_number": "WOS:000601234500012"}}
    (back,) = parse_bytes(records_to_ris([row]).encode(), filename="x.ris").records
    assert back.pmid == "33300002" and back.extra["accession_number"] == ["33300002", "WOS:000601234500012"]


def test_bibtex_file_round_trip_keeps_keys_types_and_fields():
    first = parse_bytes((EXPORTS / "zotero.bib").read_bytes(), filename="zotero.bib").records
    rows = [{**{k: getattr(r, k) for k in (*FIELDS, "abstract", "type", "extra", "status")}, "id": i}
            for i, r in enumerate(first, 1)]
    second = parse_bytes(records_to_bibtex(rows).encode("utf-8"), filename="x.bib").records
    ok = [r for r in first if r.status == "ok"]
    assert len(second) == len(ok) == 4
    for a, b in zip(ok, second):
        assert (_fields(a.__dict__, one_line_abstract=False), a.type, a.extra) == \
            (_fields(b.__dict__, one_line_abstract=False), b.type, b.extra)


_TEXT = st.text(alphabet=string.ascii_letters + string.digits + " .,:;'\"()[]{}\\&%$#_~^@=/-–éüßΩ", min_size=1,
                max_size=40).map(lambda s: " ".join(s.split())).filter(bool)
_WORD = st.text(alphabet=string.ascii_letters + "-'éü", min_size=1, max_size=12)
_RECORD = st.fixed_dictionaries({
    "title": _TEXT, "abstract": st.none() | _TEXT,
    "authors": st.lists(st.builds(lambda a, b: f"{a}, {b}", _WORD, _WORD), max_size=4),
    "year": st.none() | st.integers(1900, 2030), "journal": st.none() | _TEXT,
    "volume": st.none() | st.from_regex(r"[1-9][0-9]{0,2}", fullmatch=True),
    "issue": st.none() | st.from_regex(r"[1-9][0-9]?", fullmatch=True),
    "pages": st.none() | st.from_regex(r"[1-9][0-9]{0,3}", fullmatch=True).map(lambda p: f"{p}-{int(p) + 7}"),
    "doi": st.none() | st.from_regex(r"10\.[0-9]{4,5}/[a-z0-9.]{1,12}[a-z0-9]", fullmatch=True),
    "pmid": st.none() | st.from_regex(r"[1-9][0-9]{5,7}", fullmatch=True),
    "keywords": st.lists(st.text(alphabet=string.ascii_letters + " -", min_size=1, max_size=12)
                         .map(lambda s: " ".join(s.split())).filter(bool), max_size=3),
})


@settings(max_examples=120, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=st.lists(_RECORD, min_size=1, max_size=4), fmt=st.sampled_from(["ris", "bibtex"]))
def test_generated_records_round_trip(records, fmt):
    rows = [{**r, "id": i, "status": "ok", "type": "JOUR", "extra": {}} for i, r in enumerate(records, 1)]
    text = records_to_ris(rows) if fmt == "ris" else records_to_bibtex(rows)
    back = parse_bytes(text.encode("utf-8"), filename=f"x.{fmt}", format=fmt).records
    assert [_fields(r, one_line_abstract=True) for r in rows] == \
        [_fields(b, one_line_abstract=True) for b in back]


def test_included_studies_and_primaries(screened):
    included = select_records(screened, included="ft")
    assert [r["id"] for r in included] == [1, 2, 3, 6]
    text = export_records(screened, format="ris", included="ft")
    assert text.count("ER  - ") == 4 and "ID  - 6\r\n" in text
    primaries = select_records(screened, primaries_only=True)
    assert len(primaries) < screened.store.count_records()
    assert all(r["primary_id"] == r["id"] for r in primaries)
    assert export_records(screened, format="bib", included="ta").count("@") == 6


def test_export_records_command(screened, tmp_path, capsys):
    path = screened.store.location
    assert main(["review", "export-records", "-p", path, "-o", str(tmp_path / "included.bib"),
                 "--included", "ft"]) == 0
    assert "wrote" in capsys.readouterr().err
    assert (tmp_path / "included.bib").read_text(encoding="utf-8").count("@article") == 4
    assert main(["review", "export-records", "-p", path, "-o", path]) == 2
    assert ONTO_PROJECT[screened.store.backend] in capsys.readouterr().err
    assert main(["review", "export-records", "-p", path, "--format", "endnote"]) == 2
    assert "unknown export format" in capsys.readouterr().err
    assert main(["review", "export-records", "-p", path, "--format", "ris"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("TY  - ") and "could not be parsed are left out" in err
    with Project.open(path) as p:   # the project itself is untouched
        assert p.store.integrity() == "ok"
