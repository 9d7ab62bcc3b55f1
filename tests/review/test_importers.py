"""Importers: the sample exports' quirks, encodings, malformed records, column mappings, re-import."""

from __future__ import annotations

import pytest

from metareview.base.exceptions import DataError, SettingsError
from metareview.review.importers import parse_bytes, parse_file
from metareview.review.normalize import clean_doi, expand_pages, first_author_key, journals_match, norm_title

from .conftest import EXPORTS


def test_pubmed_medline_fields_and_quirks():
    result = parse_file(EXPORTS / "pubmed.nbib")
    assert (result.format, result.encoding, len(result.records)) == ("medline", "utf-8", 10)
    first = result.records[0]
    assert first.pmid == "31012345"
    assert first.title.startswith("Magnetic resonance-guided") and first.title.endswith("multicenter study.")
    assert "  " not in first.title  # continuation lines joined
    assert first.doi == "10.1186/s40349-019-0132-4"  # from LID ... [doi], not the [pii]
    assert first.pages == "12-19"  # MEDLINE's abbreviated range written out
    assert first.authors == ["Namba, Hiroshi", "Kawasaki, Motohiro"]
    assert (first.year, first.volume, first.issue) == (2019, "7", "1")
    assert first.journal == "Journal of therapeutic ultrasound"
    assert result.records[1].pages == "1021-1029"
    assert result.records[2].authors[2] == "Müller, Anja"
    assert result.records[4].title.startswith("[Focused ultrasound")  # translated title kept as printed
    assert result.records[0].raw.splitlines()[0] == "PMID- 31012345"


def test_pubmed_record_without_pmid_is_kept_as_malformed_with_its_line():
    result = parse_file(EXPORTS / "pubmed.nbib")
    bad = result.malformed
    assert len(bad) == 1
    assert bad[0].line == 165 and "no PMID" in bad[0].problem
    assert "Record cut off" in bad[0].raw
    assert result.records[9].pmid == "33300002"  # the record after it is read normally


def test_embase_ris_crlf_link_to_lines_and_doi_sources():
    result = parse_file(EXPORTS / "embase.ris")
    assert result.format == "ris" and len(result.records) == 9
    recs = result.records
    assert recs[0].doi == "10.1186/s40349-019-0132-4"  # https://doi.org/ prefix removed
    assert recs[0].abstract.startswith("BACKGROUND")  # N2
    assert recs[0].year == 2019 and recs[0].pages == "12-19"
    assert recs[0].journal == "Journal of Therapeutic Ultrasound"
    # the untagged "Link to the Ovid Full Text" lines continue the UR field instead of breaking the record
    assert recs[1].status == "ok"
    assert any("ovidsp" in u for u in _as_list(recs[1].extra["urls"]))
    assert recs[1].doi == "10.1016/j.acra.2018.11.014"
    assert recs[2].type == "CONF" and recs[2].pages == "S45"
    assert recs[5].doi == "10.1186/s40349-020-0151-x"  # upper-case X lower-cased
    assert recs[7].doi == "10.1016/j.ijrobp.2020.02.010"  # only in the L2 link
    assert recs[8].status == "malformed" and recs[8].line == 142 and "TY" in recs[8].problem


def _as_list(value):
    return value if isinstance(value, list) else [value]


def test_scopus_ris_bom_pmid_in_c2_and_truncated_last_record():
    result = parse_file(EXPORTS / "scopus.ris")
    assert result.encoding == "utf-8-sig" and len(result.records) == 8
    recs = result.records
    assert recs[0].pmid == "31012345" and recs[0].pages == "12"  # article number in C7
    assert recs[0].authors == ["Namba, H.", "Kawasaki, M."]
    assert "Export Date" in recs[0].extra["notes"]
    assert recs[1].authors[2] == "Müller, A."
    assert recs[7].status == "malformed" and "ER" in recs[7].problem and recs[7].line == 115


def test_latin1_table_with_multiline_field_and_extra_cells():
    result = parse_file(EXPORTS / "table_latin1.csv")
    assert result.format == "csv" and result.encoding == "cp1252"
    recs = result.records
    assert len(recs) == 5
    assert recs[0].authors == ["Wang B", "Zhang L", "Müller A"]
    assert recs[0].doi == "10.1148/radiol.2019182301"
    assert recs[0].abstract == "A randomized trial of 30 patients\ncomparing MRgFUS with external beam radiotherapy."
    assert recs[1].line == 4  # the quoted abstract above spans two lines
    assert recs[1].pages == "880-887"
    assert recs[2].pmid == "34567890"
    assert recs[3].status == "malformed" and recs[3].line == 6 and "12 fields" in recs[3].problem
    assert recs[4].authors == ["Gonçalves R"] and "\u2013" in recs[4].title


def test_latin1_bytes_outside_cp1252_still_decode():
    data = "Title,Year\n\"Caf\xe9 \x81 study\",2020\n".encode("latin-1")
    result = parse_bytes(data, filename="x.csv")
    # the file is Windows-1252; its bytes that Windows-1252 leaves undefined are read as Latin-1
    assert result.encoding == "cp1252" and result.records[0].title == "Café \x81 study"


def test_utf16_and_stray_latin1_bytes_decode_as_the_analysis_tables_do():
    ris = "TY  - JOUR\nTI  - Ablación focal\nER  - \n"
    result = parse_bytes(ris.encode("utf-16"), filename="x.ris")
    assert result.encoding == "utf-16" and result.records[0].title == "Ablación focal"
    # one Latin-1 byte in a UTF-8 file: that byte is repaired, the UTF-8 around it is kept
    data = "TY  - JOUR\nTI  - Ablación focal à\nER  - \n".encode("utf-8").replace("à".encode(), b"\xe0")
    result = parse_bytes(data, filename="x.ris")
    assert result.encoding == "utf-8+cp1252" and result.records[0].title == "Ablación focal à"


def test_csv_column_mapping():
    data = b"Article Name;Yr;Writers\nA trial of things;2019;Smith J; Doe K\n"
    with pytest.raises(DataError, match="no title or DOI column"):
        parse_bytes(data, filename="x.csv")
    result = parse_bytes(data, filename="x.csv", mapping={"title": "Article Name", "year": "Yr"})
    assert result.records[0].title == "A trial of things" and result.records[0].year == 2019
    assert result.records[0].status == "malformed"  # the authors' ';' made extra cells: flagged, kept
    with pytest.raises(DataError, match="no such column"):
        parse_bytes(data, filename="x.csv", mapping={"title": "Name"})
    with pytest.raises(SettingsError, match="unknown field"):
        parse_bytes(data, filename="x.csv", mapping={"colour": "Yr"})
    with pytest.raises(SettingsError, match="CSV files only"):
        parse_bytes((EXPORTS / "scopus.ris").read_bytes(), mapping={"title": "TI"})


def test_csv_cells_blank_short_rows_and_spreadsheet_protection():
    """Each mapped cell is stripped; a blank one is no value; a row shorter than the header gives no
    value for the columns it lacks (and is flagged); an apostrophe metareview put before a formula is
    taken off, other apostrophes kept; pages from Scopus's start and end columns."""
    data = ("Title,Authors,Year,DOI,Page start,Page end,Author Keywords,Note\n"
            "  A trial  ,\"Smith J., Doe K.L.\",2019, ,12,19,pain; bone ,kept\n"
            "'=SUM(A1) looks like a formula,Roe A.,2020,10.1000/x,'5,,,\n"
            "A short row,Poe B.,2021\n").encode()
    first, second, third = parse_bytes(data, filename="x.csv").records
    assert (first.title, first.authors, first.year, first.doi, first.pages, first.keywords, first.extra) == (
        "A trial", ["Smith J.", "Doe K.L."], 2019, None, "12-19", ["pain", "bone"], {"Note": "kept"})
    assert first.status == "ok"
    assert (second.title, second.doi, second.pages, second.keywords, second.extra) == (
        "=SUM(A1) looks like a formula", "10.1000/x", "'5", [], {})
    assert (third.title, third.year, third.doi, third.pages, third.status) == (
        "A short row", 2021, None, None, "malformed")
    assert "truncated row" in third.problem


def test_unrecognised_and_empty_input_raise_data_errors():
    with pytest.raises(DataError, match="cannot tell the format"):
        parse_bytes(b"just a sentence", filename="notes.txt")
    with pytest.raises(DataError, match="no ris records"):
        parse_bytes(b"", filename="x.ris", format="ris")
    with pytest.raises(DataError, match="looks binary"):
        parse_bytes(b"TY  - JOUR\x00\x01", filename="x.ris")
    with pytest.raises(SettingsError, match="unknown format"):
        parse_bytes(b"TY  - JOUR\nER  - \n", format="refworks")


def test_reimport_is_detected(project):
    first = project.import_file(EXPORTS / "pubmed.nbib", source="PubMed")
    assert first.n_records == 10 and first.n_malformed == 1
    with pytest.raises(DataError, match="already imported.*batch 1"):
        project.import_file(EXPORTS / "pubmed.nbib", source="PubMed")
    again = project.import_file(EXPORTS / "pubmed.nbib", source="PubMed", allow_reimport=True)
    assert again.batch_id == 2 and project.store.count_records() == 20


def test_records_keep_raw_text_source_and_batch(imported):
    batches = imported.store.batches()
    assert [(b["source"], b["n_records"], b["n_malformed"]) for b in batches] == [
        ("PubMed", 10, 1), ("Embase", 9, 1), ("Scopus", 8, 1), ("Web of Science", 5, 1)]
    rec = imported.store.record(27)
    assert rec["source"] == "Scopus" and rec["batch_id"] == 3 and rec["status"] == "malformed"
    assert rec["raw"].startswith("TY  - JOUR") and "Ferrer" in rec["raw"]


def test_source_kind_is_fixed_once_registered(project):
    project.import_file(EXPORTS / "pubmed.nbib", source="PubMed")
    with pytest.raises(SettingsError, match="registered as a database"):
        project.import_file(EXPORTS / "embase.ris", source="PubMed", kind="other")
    with pytest.raises(SettingsError, match="unknown source kind"):
        project.import_file(EXPORTS / "embase.ris", source="Embase", kind="website")


@pytest.mark.parametrize("raw, expected", [
    ("https://doi.org/10.1000/ABC.1", "10.1000/abc.1"), ("doi:10.1000/x.", "10.1000/x"),
    ("http://dx.doi.org/10.1016/j.x.2020.01.001", "10.1016/j.x.2020.01.001"), ("no doi here", None), (None, None)])
def test_clean_doi(raw, expected):
    assert clean_doi(raw) == expected


def test_normalisers():
    assert expand_pages("1021-9") == "1021-1029" and expand_pages("e123") == "e123"
    assert norm_title("[Focused <i>ultrasound</i> surgery: initial experience].") == \
        "focused ultrasound surgery initial experience"
    assert first_author_key(["Smith JA"]) == first_author_key(["Smith, J.A."]) == first_author_key(["J. Smith"])
    assert first_author_key(["Müller A"]) == "muller"
    assert journals_match("n engl j med", "new england journal of medicine")
    assert not journals_match("radiology", "european radiology journal of x")


def test_web_of_science_and_endnote_ris_quirks():
    wos = ("TY  - JOUR\nAU  - Napoli, A\nTI  - Safety of focused ultrasound in spinal metastases near the cord\n"
           "T2  - RADIOLOGY\nPY  - 2021\nDA  - JAN\nVL  - 298\nSP  - 102\nEP  - 110\nDO  - 10.1148/radiol.2020201234\n"
           "AN  - WOS:000601234500012\nER  -\n")
    endnote = ("TY  - JOUR\nT1  - Cost-effectiveness of focused ultrasound\nA1  - Bitton, R. R.\n"
               "Y1  - 2020/04/01/\nJO  - Int J Radiat Oncol Biol Phys\nSP  - 410-8\n"
               "M3  - doi: 10.1016/j.ijrobp.2020.02.010\n"
               "N1  - PMID: 32200001\nID  - 57\nER  - \n")
    (w,) = parse_bytes(wos.encode(), filename="wos.ris").records
    assert w.status == "ok" and w.pmid is None and w.extra["accession_number"] == "WOS:000601234500012"
    assert (w.year, w.pages, w.doi) == (2021, "102-110", "10.1148/radiol.2020201234")
    (e,) = parse_bytes(endnote.encode(), filename="endnote.ris").records
    assert (e.year, e.pages, e.doi, e.pmid) == (2020, "410-418", "10.1016/j.ijrobp.2020.02.010", "32200001")
    assert e.journal == "Int J Radiat Oncol Biol Phys" and e.authors == ["Bitton, R. R."]


def test_web_of_science_plain_text_export():
    result = parse_file(EXPORTS / "wos.txt")
    assert result.format == "wos" and len(result.records) == 3
    first, second, cut = result.records
    assert first.authors == ["Napoli, Alessandro", "Bazzocchi, Alberto"]  # AF, one author per line
    assert (first.year, first.volume, first.pages, first.pmid) == (2021, "298", "102-110", "33300002")
    assert first.keywords == ["focused ultrasound", "spinal metastases", "pain"]
    assert first.abstract == "Twenty patients with spinal metastases were treated. No cord injury occurred."
    assert first.extra["accession_number"] == "WOS:000601234500012"
    assert second.title.endswith("a qualitative study") and second.pages == "44"  # article number
    assert cut.status == "malformed" and cut.line == 42 and "ER" in cut.problem


def test_wos_record_joins_its_pubmed_and_scopus_copies(project):
    from metareview.review import clusters, run_dedupe
    for name, source in (("pubmed.nbib", "PubMed"), ("scopus.ris", "Scopus"), ("wos.txt", "Web of Science"),
                         ("table_latin1.csv", "Table")):
        project.import_file(EXPORTS / name, source=source)
    run_dedupe(project.store)
    members = sorted(m for m in clusters(project.store).members.values() if len(m) > 1)
    # ids: PubMed 1-10, Scopus 11-18, WoS 19-21, table 22-26
    assert [10, 17, 19] in members  # Napoli in PubMed, Scopus and WoS (the WoS record is the most complete)
    assert [20, 26] in members  # Gonçalves: WoS and the Latin-1 table
    assert [21, 24] in members  # the cut-off WoS record still finds its copy


def test_zotero_bibtex_fields_latex_and_broken_entry():
    result = parse_file(EXPORTS / "zotero.bib")
    assert (result.format, len(result.records)) == ("bibtex", 5)
    namba, wang, napoli, broken, goncalves = result.records
    assert (namba.line, namba.type, namba.pmid, namba.pages, namba.issue) == (2, "article", "31012345", "12-19", "1")
    assert namba.abstract.endswith("treated with MRgFUS.")          # protective braces removed
    assert namba.keywords == ["bone metastases", "focused ultrasound"] and namba.extra["key"] == "namba_magnetic_2019"
    assert wang.authors == ["Wang, Bin", "Zhang, Li", "Müller, Anja"]  # {\"u} decoded
    assert napoli.title == "Safety of MR-guided focused ultrasound near the spinal cord: 50% dose reduction & outcomes"
    assert napoli.journal.startswith("Proceedings of the International Society")  # booktitle of a paper
    assert napoli.authors == ["Napoli, Alessandro", "Focused Ultrasound Foundation"]  # braced name not split
    assert broken.status == "malformed" and broken.line == 39 and "not closed" in broken.problem
    assert broken.raw.startswith("@article{harding_retreatment_2020")
    assert goncalves.authors == ["Gonçalves, Rita"] and "\u2013" in goncalves.title


def test_endnote_xml_fields_and_cut_off_record():
    result = parse_file(EXPORTS / "endnote.xml")
    assert (result.format, len(result.records)) == ("endnote", 5)
    tsai, giles, no_title, harding, cut = result.records
    assert (tsai.pmid, tsai.doi, tsai.pages, tsai.journal) == ("30987654", "10.1016/j.acra.2018.11.014",
                                                               "1021-1029", "Academic Radiology")
    assert tsai.authors == ["Tsai, Yu-Chen", "Lee, Jo-Ting"] and tsai.type == "Journal Article"
    assert tsai.keywords[1] == "High-Intensity Focused Ultrasound Ablation" and tsai.extra["isbn"] == "1076-6332"
    assert giles.doi == "10.1007/s00330-019-06201-x" and giles.line == 2  # DOI from the URL
    assert no_title.status == "malformed" and "neither a title nor a DOI" in no_title.problem
    assert harding.status == "ok" and harding.year == 2020
    assert cut.status == "malformed" and cut.line == 5 and "XML is broken" in cut.problem
    assert cut.raw.startswith("<record><rec-number>5")


def test_csl_json_items_with_their_lines():
    result = parse_file(EXPORTS / "zotero-csl.json")
    assert (result.format, len(result.records)) == ("csljson", 3)
    namba, lee, empty = result.records
    assert (namba.line, namba.year, namba.pmid, namba.authors) == (2, 2019, "31012345", ["Namba, Hiroshi",
                                                                                           "Kawasaki, Motohiro"])
    assert lee.authors == ["Lee, Hye Lim", "MRgFUS Bone Study Group"] and lee.year == 2017
    assert lee.pages == "1402-1411" and lee.keywords == ["bone metastases", "pain palliation"]
    assert empty.status == "malformed" and empty.line == 56 and empty.extra["URL"] == "https://example.org/no-title"
    assert '"id": "EMPTY"' in empty.raw
    with pytest.raises(DataError, match="line 2, column 1: not valid JSON"):
        parse_bytes(b'[{"title": "x"},\n]', filename="x.json")
    (one,) = parse_bytes(b'{"items": [{"title": "Only", "DOI": "10.1000/x"}]}', filename="x.json").records
    assert one.title == "Only" and one.doi == "10.1000/x"


def test_utf16_endnote_unicode_export():
    result = parse_file(EXPORTS / "endnote-unicode.ris")
    assert (result.format, result.encoding, len(result.records)) == ("ris", "utf-16", 2)
    chan, goncalves = result.records
    assert chan.pmid == "27440000" and chan.journal == "Technology in Cancer Research & Treatment"
    assert "Sørensen" in chan.extra["notes"] and goncalves.authors == ["Gonçalves, Rita"]
    big_endian = "\ufeffTitle,Year\nA study,2020\n".encode("utf-16-be")
    assert parse_bytes(big_endian, filename="x.csv").records[0].title == "A study"


def test_latex_text_round_trip():
    from metareview.review.importers.bibtex import latex_to_text, text_to_latex
    assert latex_to_text(r"M{\"u}ller \'{e} \v{s} \c c \ss{} \o{} 5\% \& {DNA} a~b") == "Müller é š ç ß ø 5% & DNA a b"
    for text in ("a\\b{c}%$&#_~^ é", "x\\", "{}}{", r"\textbackslash", "α β"):
        assert latex_to_text(text_to_latex(text)) == text


def test_import_reports_its_progress(project):
    from .conftest import EXPORTS
    seen = []
    report = project.import_file(EXPORTS / "embase.ris", source="Embase",
                                 progress=lambda stage, done, total: seen.append((stage, done, total)))
    assert seen[0] == ("reading", 0, 100) and seen[1] == ("reading", 100, 100)
    assert seen[-1] == ("storing", report.n_records, report.n_records) and report.n_records == 9


@pytest.mark.parametrize("fmt", ["medline", "ris"])
def test_reading_a_large_export_reports_how_far_it_is(fmt):
    """MEDLINE and RIS (the large exports) tell how far into the text they have read as they go,
    in percent, rising, never 100 before the end; the records are the same as without progress."""
    n = 5000
    if fmt == "medline":
        text = "".join(f"PMID- {i}\nTI  - Title number {i}\nAU  - Doe J\n\n" for i in range(1, n + 1))
    else:
        text = "".join(f"TY  - JOUR\nTI  - Title number {i}\nAU  - Doe, J\nER  - \n\n" for i in range(1, n + 1))
    seen = []
    result = parse_bytes(text.encode(), format=fmt, progress=lambda done, total: seen.append((done, total)))
    assert len(result.records) == n
    assert [(r.line, r.title) for r in result.records] == [
        (r.line, r.title) for r in parse_bytes(text.encode(), format=fmt).records]
    assert seen[-1] == (100, 100) and all(total == 100 for _, total in seen)
    during = [done for done, _ in seen[:-1]]
    assert len(during) == n // 2000 and during == sorted(during) and 0 < during[0] < during[-1] < 100


def test_medline_blocks_lines_and_continuations_read_from_the_whole_text():
    """Records are runs of non-blank lines (whitespace-only lines and CRLF included), a PMID line
    without a blank line before it opens a new record, and line numbers count every line."""
    text = ("PMID- 1\nTI  - A\n      title\nAB  - \n      abs\n\n\n  \nPMID- 2\nTI  - B\nPMID- 3\nTI  - C\n"
            "bad line\n   \t\nPMID- 4\r\nTI  - D  \r\n")
    records = parse_bytes(text.encode(), filename="x.nbib").records
    assert [(r.line, r.status, r.title, r.raw) for r in records] == [
        (1, "ok", "A title", "PMID- 1\nTI  - A\n      title\nAB  - \n      abs"),
        (9, "ok", "B", "PMID- 2\nTI  - B"),
        (11, "malformed", "C", "PMID- 3\nTI  - C\nbad line"),
        (15, "ok", "D", "PMID- 4\nTI  - D  "),
    ]
    assert records[0].abstract == " abs"  # an empty first line is kept as the value's start
    assert records[2].problem == "line 13 is neither a MEDLINE field nor a continuation: 'bad line'"
    records = parse_bytes(b"\n\nPMID- 1\nTI  - A\n      title   \n  x\n PMID- 5\nPMID- 6\n", filename="y.nbib").records
    assert [(r.line, r.title) for r in records] == [(3, "A title x"), (8, None)]
    assert records[0].problem == "line 7 is neither a MEDLINE field nor a continuation: ' PMID- 5'"


def test_ris_records_found_by_their_opening_and_closing_lines():
    """Text between records, a closing line without an opening one, byte-order marks at the start
    of any line (concatenated files), CRLF, untagged continuation lines and a truncated last record."""
    text = ("TY  - JOUR\r\nTI  - One\r\nER  - \r\nstray text\r\n\r\nmore\r\nTY  - BOOK\r\nT1  - X\r\nER  -\r\n"
            "   \r\nER  - \r\n\ufeffTY  - JOUR\nTI  - Y\nER  - \n")
    records = parse_bytes(text.encode(), filename="x.ris").records
    assert [(r.line, r.status, r.title, r.raw) for r in records] == [
        (1, "ok", "One", "TY  - JOUR\nTI  - One\nER  - "),
        (4, "malformed", None, "stray text\n\nmore"),
        (7, "ok", "X", "TY  - BOOK\nT1  - X\nER  -"),
        (11, "malformed", None, "ER  - "),
        (12, "ok", "Y", "TY  - JOUR\nTI  - Y\nER  - "),
    ]
    assert records[3].problem == "record on line 11 does not start with a 'TY  - ' line"
    text = "\ufeffTY  - JOUR\nTI  - One\nAU  - A\n  continued\n\nER  - \n\n\nTY  - JOUR\nTI  - Two\n"
    records = parse_bytes(text.encode(), filename="y.ris").records
    assert [(r.line, r.status, r.authors) for r in records] == [(1, "ok", ["A continued"]), (9, "malformed", [])]
    assert records[1].raw == "TY  - JOUR\nTI  - Two\n"
    assert records[1].problem == "record starting on line 9 is not closed by 'ER  - ' (truncated file?)"
    records = parse_bytes(b"TY  - JOUR\nTI  - One\nER  - \n\nsome trailing note\n\n", filename="z.ris").records
    assert (records[1].line, records[1].raw) == (5, "some trailing note\n\n")
    assert records[1].problem == "text on lines 5-7 is outside any RIS record"


def test_parsing_pauses_the_garbage_collector_and_restores_it(monkeypatch):
    import gc

    from metareview.review import importers
    seen = []

    def spy(flat, progress=None):
        seen.append(gc.isenabled())
        if "boom" in flat:
            raise RuntimeError("boom")
        return parse_medline(flat, progress)

    from metareview.review.importers.medline import parse_medline
    monkeypatch.setitem(importers._TEXT_PARSERS, "medline", spy)
    assert gc.isenabled()
    assert len(parse_bytes(b"PMID- 1\nTI  - A\n", filename="x.nbib").records) == 1
    assert seen == [False] and gc.isenabled()
    with pytest.raises(RuntimeError, match="boom"):
        parse_bytes(b"PMID- 1\nTI  - boom\n", format="medline")
    assert gc.isenabled()
    gc.disable()
    try:
        parse_bytes(b"PMID- 1\nTI  - A\n", filename="x.nbib")
        assert not gc.isenabled()  # left as the caller had it
    finally:
        gc.enable()


RIS_SHAPES = ["TY  - JOUR\nTI  - A\nER  - ", "TY  - JOUR\nER  -\n", "\nTY  - JOUR\nER  - \n\n", "junk\nTY - BOOK\nER -",
              "TY  -\nT1  - wrapped\n  continued\nER  - x\nTY  - JOUR", "ER  - \nTY  - JOUR\nXTY  - no\n TY  - no",
              "TY  - JOUR\r\nER  - ", "", "\n", "TY  - \u00e9\u2028ER  - \nER  - ", "TY  -x\nTYP - no\nER  - end"]


@pytest.mark.parametrize("text", RIS_SHAPES)
def test_ris_lines_found_from_line_starts_are_the_multiline_pattern_s(text):
    """The RIS reader looks for TY/ER lines and tagged lines only where lines start; it finds what the
    multiline patterns find (first line, last line without a newline, lines that only look alike)."""
    import re

    from metareview.review.importers import ris

    multiline = re.compile(r"^(TY|ER) {1,2}-(?: .*)?$", re.MULTILINE)
    assert list(ris._boundaries(text)) == [(m.group(1), m.start(), m.end()) for m in multiline.finditer(text)]
    old, new = ris._TAGS.split(text), ris._NEWLINE_TAGS.split("\n" + text)
    assert old[1::3] == new[1::3] and old[2::3] == new[2::3]
    assert [[line.strip() for line in b.split("\n") if line.strip()] for b in old[3::3]] == \
        [[line.strip() for line in b.split("\n") if line.strip()] for b in new[3::3]]


def test_medline_fields_read_from_the_whole_record_as_line_by_line(monkeypatch):
    """The fields of a record whose every line is a field or a continuation are taken by two regular
    expressions over the record; the same record read line by line (the way of records with a line that
    is neither) gives the same values: tags of two to four characters, zero to three spaces before the
    hyphen, no space after it, continuations indented by two or more spaces, empty first lines,
    whitespace of every kind at the ends of lines."""
    from metareview.review.importers import medline

    text = ("PMID- 1\nTI  - A title\n      goes on  \n  and on\nAB  -\n        from the second line\xa0\n"
            "FAU - Smith, J\nFAU -  Jones, K \t\nLID -10.1/x [doi]\nDP  - 2019 Mar-Apr\nPG  - 1021-9\n"
            "OT  - one\nOT  - \u2003two\u2003\nMH  - \nMH  - three\n  four\n\n"
            "PMID- 2\nTI  - [Translated title].\nPHST- 2020/01/01 [received]\nAID - 10.2/y [doi]\n"
            "JT  - J\n  Continued\n      journal\n\n")
    fast = parse_bytes(text.encode(), filename="x.nbib").records
    assert [medline._RECORD.fullmatch(r.raw) is not None for r in fast] == [True, True]
    monkeypatch.setattr(medline, "_fields", lambda raw: None)
    slow = parse_bytes(text.encode(), filename="x.nbib").records
    assert fast == slow
    assert fast[0].title == "A title goes on and on" and fast[0].abstract == " from the second line"
    assert fast[0].keywords == ["one", "two", "three four"] and fast[1].journal == "J Continued journal"
