"""Dual extraction on a TOML form: validation, discrepancies, adjudication, the analysis CSV."""

from __future__ import annotations

import csv
import io

import pytest

from metareview.base.exceptions import DataError, SettingsError
from metareview.review.extraction import (
    adjudicate,
    discrepancies,
    enter_values,
    export_analysis,
    get_form,
    import_values,
    load_form,
    set_form,
    template,
)

from .conftest import EXPORTS

ANN = """study,n,baseline_mean,pain_3mo_mean,design,blinded,fus_system
Namba 2019,10,6.0,3,prospective cohort,no,InSightec
Tsai 2019,31,5.6,,retrospective cohort,no,InSightec
Wang 2019,30,6.6,3.4,RCT,yes,InSightec
"""
BOB = """study,n,baseline_mean,pain_3mo_mean,design,blinded,fus_system
Namba 2019,10,6,3.0,Prospective cohort,No,InSightec
Tsai 2019,31,5.8,,retrospective cohort,no,InSightec
Wang 2019,30,6.6,3.4,RCT,no,Insightec ExAblate 2000
"""


@pytest.fixture
def extracting(screened):
    set_form(screened, load_form((EXPORTS / "extraction_form.toml").read_text()))
    return screened


def test_form_is_read_and_kept_in_the_project(extracting):
    form = get_form(extracting)
    assert [f.name for f in form.fields] == ["n", "baseline_mean", "pain_3mo_mean", "design", "blinded", "fus_system"]
    n = form.field("n")
    assert (n.type, n.unit, n.min, n.max, n.required) == ("integer", "patients", 1, 10000, True)
    assert "patients" in n.describe() and "required" in n.describe()


@pytest.mark.parametrize("text, message", [
    ("[[field]]\nname = 'x'\ntype = 'date'", "not one of"),
    ("[[field]]\nname = '2x'\n", "identifier"),
    ("[[field]]\nname = 'x'\n[[field]]\nname = 'x'\n", "twice"),
    ("[[field]]\nname = 'x'\ntype = 'number'\nmin = 5\nmax = 1\n", "greater than max"),
    ("[[field]]\nname = 'x'\ntype = 'choice'\n", "list of choices"),
    ("[[field]]\nname = 'x'\ntype = 'text'\nmin = 1\n", "integer and number fields only"),
    ("[[field]]\nname = 'x'\nunits = 'mg'\n", "unknown key"),
    ("extractors = 3\n[[field]]\nname = 'x'\n", "extractors must be 1 or 2"),
    ("title = 'no fields'", "declares no fields"),
    ("[[field]\n", "not valid TOML"),
])
def test_bad_forms_are_explained(text, message):
    with pytest.raises(SettingsError, match=message):
        load_form(text)


def test_template_lists_the_included_studies(extracting):
    rows = list(csv.reader(io.StringIO(template(extracting))))
    assert rows[0] == ["study", "n", "baseline_mean", "pain_3mo_mean", "design", "blinded", "fus_system"]
    assert [r[0] for r in rows[1:]] == ["Namba 2019", "Tsai 2019", "Wang 2019"]


def test_values_are_checked_against_the_form(extracting):
    bad = ANN.replace("Tsai 2019,31,5.6", "Tsai 2019,31,12.5")
    with pytest.raises(DataError, match="study 'Tsai 2019', column 'baseline_mean': 12.5 is above the maximum 10"):
        import_values(extracting, bad, extractor="ann")
    assert extracting.store.current_values() == []  # nothing of a rejected file is kept
    with pytest.raises(DataError, match="not a whole number"):
        import_values(extracting, ANN.replace(",10,6.0", ",10.5,6.0"), extractor="ann")
    with pytest.raises(DataError, match="required"):
        import_values(extracting, ANN.replace("Wang 2019,30", "Wang 2019,"), extractor="ann")
    with pytest.raises(DataError, match="not one of"):
        import_values(extracting, ANN.replace("RCT", "trial"), extractor="ann")
    with pytest.raises(DataError, match="not an included study"):
        import_values(extracting, ANN.replace("Wang 2019", "Bitton 2020"), extractor="ann")
    with pytest.raises(DataError, match="not fields of the form"):
        import_values(extracting, ANN.replace("fus_system", "device"), extractor="ann")
    with pytest.raises(DataError, match="name the extractor"):
        import_values(extracting, ANN, extractor="")


def test_discrepancy_report_adjudication_and_export(extracting):
    assert import_values(extracting, ANN, extractor="ann") == 18
    assert import_values(extracting, BOB, extractor="bob") == 18
    report = {(r["study"], r["field"]): r for r in discrepancies(extracting)}
    assert report[("Namba 2019", "baseline_mean")]["status"] == "agree"  # 6.0 and 6 are one number
    assert report[("Namba 2019", "design")]["final"] == "prospective cohort"  # choices are case-insensitive
    assert report[("Tsai 2019", "pain_3mo_mean")] ["status"] == "agree"  # both left it empty
    differ = sorted(k for k, r in report.items() if r["status"] == "differ")
    assert differ == [("Tsai 2019", "baseline_mean"), ("Wang 2019", "blinded"), ("Wang 2019", "fus_system")]
    assert report[("Tsai 2019", "baseline_mean")]["values"] == {"ann": "5.6", "bob": "5.8"}
    with pytest.raises(DataError, match="3 value\\(s\\) are not settled"):
        export_analysis(extracting)
    with pytest.raises(DataError, match="say why"):
        adjudicate(extracting, study="Tsai 2019", field="baseline_mean", value="5.6", by="cat", reason=" ")
    adjudicate(extracting, study="Tsai 2019", field="baseline_mean", value="5.6", by="cat",
               reason="Table 2 gives 5.6; 5.8 is the median")
    adjudicate(extracting, study="Wang 2019", field="blinded", value="yes", by="cat", reason="assessor-blinded")
    adjudicate(extracting, study="Wang 2019", field="fus_system", value="InSightec", by="cat", reason="vendor only")
    table, provenance = export_analysis(extracting)
    rows = list(csv.DictReader(io.StringIO(table)))
    assert [r["study"] for r in rows] == ["Namba 2019", "Tsai 2019", "Wang 2019"]
    assert rows[1] == {"study": "Tsai 2019", "n": "31", "baseline_mean": "5.6", "pain_3mo_mean": "",
                       "design": "retrospective cohort", "blinded": "false", "fus_system": "InSightec"}
    prov = {(r["study"], r["field"]): r for r in csv.DictReader(io.StringIO(provenance))}
    tsai = prov[("Tsai 2019", "baseline_mean")]
    assert (tsai["how"], tsai["extractor_values"], tsai["adjudicator"]) == ("adjudicated", "ann=5.6; bob=5.8", "cat")
    assert tsai["reason"].startswith("Table 2") and tsai["unit"] == "NRS 0-10"
    assert prov[("Namba 2019", "n")]["how"] == "agreed" and prov[("Namba 2019", "n")]["records"] == "1 6"


def test_single_extractor_value_is_incomplete(extracting):
    import_values(extracting, ANN, extractor="ann")
    assert {r["status"] for r in discrepancies(extracting)} == {"incomplete"}
    with pytest.raises(DataError, match="incomplete"):
        export_analysis(extracting)


def test_terminal_entry_asks_again_until_the_value_fits(extracting):
    answers = iter(["ten", "0", "10", "6", "", "case series", "", "InSightec"])
    told = []
    n = enter_values(extracting, extractor="ann", study="Namba 2019", ask=lambda field, previous: next(answers),
                     tell=told.append)
    assert n == 6
    assert told[0].endswith("'ten' is not a number") and "below the minimum 1" in told[1]
    values = {v["field"]: v["value"] for v in extracting.store.current_values()}
    assert values == {"n": "10", "baseline_mean": "6.0", "pain_3mo_mean": None, "design": "case series",
                      "blinded": None, "fus_system": "InSightec"}
    seen = []
    again = iter(["10", "6", "", "case series", "", "InSightec"])
    enter_values(extracting, extractor="ann", study="Namba 2019",
                 ask=lambda field, previous: (seen.append(previous), next(again))[1])
    assert seen[0] == "10"  # the previous value is offered as the default


def test_no_form_no_extraction(screened):
    with pytest.raises(SettingsError, match="no extraction form"):
        get_form(screened)


# -- where each value was found, and entry from a form (the browser's) -------------------------------------
@pytest.mark.parametrize("text, canonical", [
    ("p. 4", "page 4"), ("pp 4-5", "page 4-5"), ("Table 2", "table 2"), ("Fig. 3b", "figure 3b"),
    ("page 5; Table S1", "page 5; table S1"), ("tab 2, fig 1", "table 2; figure 1"), ("  ", None), (None, None),
])
def test_locations_are_read_to_one_spelling(text, canonical):
    from metareview.review.extraction import parse_location
    assert parse_location(text) == canonical


@pytest.mark.parametrize("text", ["somewhere", "chapter 2", "Table", "p. four", "page 4; abstract"])
def test_a_location_that_names_no_page_table_or_figure_is_refused(text):
    from metareview.review.extraction import parse_location
    with pytest.raises(DataError, match="not a page, table or figure") as info:
        parse_location(text, study="Tsai 2019", field="n")
    assert info.value.rule == "location" and "Tsai 2019" in str(info.value)


def test_form_entries_report_every_problem_and_write_nothing_until_all_are_valid(extracting):
    from metareview.review.extraction import check_entries, save_entries
    values = {"n": "0", "baseline_mean": "abc", "pain_3mo_mean": "3", "design": "RCT", "blinded": "maybe",
              "fus_system": "InSightec"}
    parsed, errors = check_entries(extracting, study="Tsai 2019", values=values, locations={"design": "chapter 1"})
    assert set(errors) == {"n", "baseline_mean", "blinded", "design"}
    assert errors["n"].rule == "range" and errors["baseline_mean"].rule == "type"
    assert errors["design"].rule == "location"
    assert parsed["pain_3mo_mean"] == ("3.0", None)
    with pytest.raises(DataError, match="below the minimum"):
        save_entries(extracting, extractor="ann", study="Tsai 2019", values=values)
    assert extracting.store.current_values() == []


def test_form_entries_keep_their_location_through_adjudication_and_provenance(extracting):
    from metareview.review.extraction import save_entries
    for who, base, where in (("ann", "5.6", "Table 2"), ("bob", "5.8", "p. 3")):
        for study in ("Namba 2019", "Tsai 2019", "Wang 2019"):
            values = {"n": "31", "baseline_mean": base if study == "Tsai 2019" else "6", "pain_3mo_mean": "",
                      "design": "RCT", "blinded": "no", "fus_system": "InSightec"}
            assert save_entries(extracting, extractor=who, study=study, values=values,
                                locations={"baseline_mean": where}) == 6
    stored = {(v["study"], v["field"], v["extractor"]): v for v in extracting.store.current_values()}
    assert stored[("Tsai 2019", "baseline_mean", "ann")]["location"] == "table 2"
    assert stored[("Tsai 2019", "baseline_mean", "bob")]["entered_via"] == "web"
    row = next(r for r in discrepancies(extracting) if (r["study"], r["field"]) == ("Tsai 2019", "baseline_mean"))
    assert row["status"] == "differ" and row["locations"] == {"ann": "table 2", "bob": "page 3"}
    adjudicate(extracting, study="Tsai 2019", field="baseline_mean", value="5.6", by="cat", reason="Table 2")
    _, provenance = export_analysis(extracting)
    prov = {(r["study"], r["field"]): r for r in csv.DictReader(io.StringIO(provenance))}
    assert prov[("Tsai 2019", "baseline_mean")]["locations"] == "ann=table 2 | bob=page 3"
    assert prov[("Tsai 2019", "n")]["locations"] == ""


def test_form_entries_refuse_unknown_fields_and_studies(extracting):
    from metareview.review.extraction import save_entries
    with pytest.raises(DataError, match="not fields of the form"):
        save_entries(extracting, extractor="ann", study="Tsai 2019", values={"weight": "3"})
    with pytest.raises(DataError, match="not an included study"):
        save_entries(extracting, extractor="ann", study="Nobody 2020", values={})
    with pytest.raises(DataError, match="name the extractor"):
        save_entries(extracting, extractor=" ", study="Tsai 2019", values={})


def test_the_analysis_table_declares_its_columns_from_the_form(extracting, tmp_path):
    from metareview.review.extraction import analysis_columns
    from metareview.tables.parse import load_spec
    path = tmp_path / "analysis.columns.toml"
    path.write_text(analysis_columns(extracting), encoding="utf-8")
    spec = load_spec(path)
    kinds = {name: col.kind for name, col in spec.columns.items()}
    assert kinds == {"n": "count", "baseline_mean": "number", "pain_3mo_mean": "number", "design": "text",
                     "blinded": "text", "fus_system": "text"}
    assert spec.study == "study"
