"""The seed paper's Table 2 (Baal et al. 2021) as transcribed, and what the data check finds in it.

Aggregates asserted here are the ones the paper's text and ../shared/reference/seed-analyses.md
give (R meta 4.9-6 on the same rows): 20 studies / 502 of 636 responders; 18 studies / 509
patients with baseline and 3-month means and SDs; 18 / 454 with baseline mean and SD and a
1-month mean; adverse events 27 studies / 796 patients / 7 high- and 47 low-grade events.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from metareview.cli import main
from metareview.tables.checks import check_table
from metareview.tables.parse import load_spec, parse_printed_table, read_table

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "mrgfus-bone-metastases"
CSV = EXAMPLE / "table2.csv"
SEED = ROOT.parent / "shared" / "seed" / "000_b7bbcee64d4df9ba.txt"

COLUMNS = ["study", "author", "year", "ref", "n", "age", "followup_months", "tr_printed", "baseline_mean",
           "baseline_sd", "pain_1mo_mean", "pain_3mo_mean", "pain_3mo_sd", "tox_g3_printed",
           "tox_lt3_printed", "fus_system"]

ORDER = ["Namba, 2019", "Tsai, 2019", "Wang B., 2019", "Giles, 2019", "Dababou, 2019", "Marrocchio, 2019",
         "Bertrand, 2018", "Wang S., 2018", "Chen Z., 2018", "Harding, 2018", "Xiong, 2018", "Lee H., 2017",
         "Bazzocchi, 2017", "Chan M., 2017", "Anzidei, 2016", "Wang Q., 2016", "Gu, 2015", "Joo, 2015",
         "Chen L., 2014", "Huisman, 2014", "Hurwitz, 2014", "Pfeffer, 2014", "Turkevich, 2014", "Zaccagna, 2014",
         "Boni, 2013", "Napoli, 2013", "Pfeffer, 2013", "Noce, 2013", "Meyer, 2013", "Catane, 2012",
         "Liberman, 2009", "Gianfelice, 2008", "Catane, 2007"]


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    return read_table(CSV)


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return parse_printed_table(CSV)


def test_table_has_33_rows_in_the_papers_order_and_every_column(raw):
    assert list(raw.columns) == COLUMNS
    assert raw["study"].tolist() == ORDER
    assert (raw["study"] == raw["author"] + ", " + raw["year"]).all()


def test_cells_are_kept_exactly_as_printed(raw):
    namba = raw.iloc[0]
    assert namba[["ref", "n", "age", "followup_months", "tr_printed", "baseline_mean", "baseline_sd",
                  "pain_1mo_mean", "pain_3mo_mean", "pain_3mo_sd", "tox_g3_printed", "tox_lt3_printed",
                  "fus_system"]].tolist() == ["13", "10", "69", "3", "8 (80)", "6", "2.7", "3", "2", "4.1*",
                                              "0 (0)", "4 (12.9)", "InSightec"]
    assert raw.loc[raw.study == "Joo, 2015", "tox_lt3_printed"].item() == "1 (20.0)"
    assert raw.loc[raw.study == "Gianfelice, 2008", "pain_3mo_sd"].item() == "0.54"
    assert raw.loc[raw.study == "Giles, 2019", "fus_system"].item() == "Profound Medical"
    # references the table does not give stay empty
    assert raw.loc[raw.ref == "", "study"].tolist() == ["Bazzocchi, 2017", "Zaccagna, 2014", "Pfeffer, 2013",
                                                        "Meyer, 2013"]
    assert sorted(raw.loc[raw.pain_3mo_sd.str.endswith("*"), "study"]) == sorted(
        ["Namba, 2019", "Lee H., 2017", "Hurwitz, 2014", "Zaccagna, 2014", "Liberman, 2009"])


@pytest.mark.skipif(not SEED.exists(), reason="the seed paper's text is not part of this checkout")
def test_transcription_matches_the_papers_text_cell_by_cell(raw):
    """Second, independent reading of Table 2 from the paper's text (tab-separated rows)."""
    lines = SEED.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Author, year\tN Pts"))
    rows = [line.split("\t") for line in lines[start + 1:start + 34]]
    assert len(rows) == 33
    for (_, mine), theirs in zip(raw.iterrows(), rows):
        label = re.sub(r" \[\d+\]$", "", theirs[0])
        ref = re.search(r"\[(\d+)\]$", theirs[0])
        assert mine["study"] == label
        assert mine["ref"] == (ref.group(1) if ref else "")
        assert mine.iloc[4:].tolist() == theirs[1:]


def test_aggregates_match_the_paper_and_the_reference(data):
    tr = data.dropna(subset=["tr_events"])
    assert (len(tr), int(tr.tr_events.sum()), int(tr.n.sum())) == (20, 502, 636)
    three = data.dropna(subset=["baseline_mean", "baseline_sd", "pain_3mo_mean", "pain_3mo_sd"])
    assert (len(three), int(three.n.sum())) == (18, 509)
    one = data.dropna(subset=["baseline_mean", "baseline_sd", "pain_1mo_mean"])
    assert (len(one), int(one.n.sum())) == (18, 454)
    ae = data[data.tox_g3_events.notna() | data.tox_lt3_events.notna()]
    assert (len(ae), int(ae.n.sum()), int(ae.tox_g3_events.sum()), int(ae.tox_lt3_events.sum())) == \
        (27, 796, 7, 47)
    assert int(data.n.sum()) == 1082
    # Table 1: median age 60.0 (22 studies, range 4.3-69.0); median follow-up 3 (29 studies, 1-12)
    age = data.age.dropna()
    assert (len(age), age.median(), age.min(), age.max()) == (22, 60.0, 4.3, 69.0)
    fu = data.followup_months.dropna()
    assert (len(fu), fu.median(), fu.min(), fu.max()) == (29, 3.0, 1.0, 12.0)


def test_parsed_columns_and_estimated_flags(data):
    assert {"tr_events", "tr_percent", "pain_3mo_sd", "pain_3mo_sd_estimated", "tox_g3_events",
            "tox_g3_percent", "tox_lt3_events", "tox_lt3_percent", "pain_3mo_sd_printed"} <= set(data.columns)
    namba = data.iloc[0]
    assert (namba.tr_events, namba.tr_percent, namba.pain_3mo_sd, bool(namba.pain_3mo_sd_estimated)) == \
        (8, 80.0, 4.1, True)
    assert namba.pain_3mo_sd_printed == "4.1*"
    assert int(data.pain_3mo_sd_estimated.sum()) == 5
    assert data.tr_events.dtype == "Int64"
    assert np.isnan(data.loc[data.study == "Tsai, 2019", "pain_3mo_sd"].item())
    assert pd.isna(data.loc[data.study == "Tsai, 2019", "tox_lt3_events"].item())


EXPECTED = {
    ("percent_matches_count", "Namba, 2019", "tox_lt3_printed", "12.9", "40.0"),
    ("percent_matches_count", "Wang B., 2019", "tox_lt3_printed", "2.7", "26.7"),
    ("percent_matches_count", "Giles, 2019", "tox_lt3_printed", "2.2", "22.2"),
    ("percent_matches_count", "Xiong, 2018", "tox_lt3_printed", "3.6", "35.7"),
    ("sd_possible_on_scale", "Zaccagna, 2014", "baseline_sd", "6.3", "<= 5.01"),
    ("sd_possible_on_scale", "Zaccagna, 2014", "pain_3mo_sd", "6.3*", "<= 4.36"),
    ("sd_possible_on_scale", "Xiong, 2018", "pain_3mo_sd", "4.75", "<= 4.52"),
    ("total_matches_rows", None, "tox_g3_printed, tox_lt3_printed", "26", "27"),
    ("total_matches_rows", None, "n", "799", "796"),
}


def test_check_lists_the_known_inconsistencies_and_nothing_else():
    report = check_table(CSV)
    got = {(f.rule, f.study, f.column, f.value, f.expected) for f in report}
    assert got == EXPECTED
    assert report.ok and not report.errors and len(report.warnings) == 9
    namba = next(f for f in report if f.study == "Namba, 2019")
    assert "4/31" in namba.message and "Tsai, 2019" in namba.message
    wang = next(f for f in report if f.study == "Wang B., 2019")
    assert "decimal point" in wang.message
    patients = next(f for f in report if f.rule == "total_matches_rows" and f.column == "n")
    assert "799" in patients.message and "796" in patients.message


def _clean_copy(tmp_path: Path) -> Path:
    """Table 2 with its inconsistencies repaired, and totals that agree with the rows."""
    raw = read_table(CSV)
    fixes = {("Namba, 2019", "tox_lt3_printed"): "4 (40.0)", ("Wang B., 2019", "tox_lt3_printed"): "8 (26.7)",
             ("Giles, 2019", "tox_lt3_printed"): "2 (22.2)", ("Xiong, 2018", "tox_lt3_printed"): "5 (35.7)",
             ("Zaccagna, 2014", "baseline_sd"): "2.3", ("Zaccagna, 2014", "pain_3mo_sd"): "2.3*",
             ("Xiong, 2018", "pain_3mo_sd"): "2.75"}
    for (study, column), value in fixes.items():
        raw.loc[raw.study == study, column] = value
    out = tmp_path / "clean.csv"
    raw.to_csv(out, index=False)
    toml = (EXAMPLE / "table2.columns.toml").read_text(encoding="utf-8")
    toml = toml.replace("reported = 26\n", "reported = 27\n").replace("reported = 799\n", "reported = 796\n")
    (tmp_path / "clean.columns.toml").write_text(toml, encoding="utf-8")
    return out


def test_a_clean_table_gives_no_finding(tmp_path):
    report = check_table(_clean_copy(tmp_path))
    assert len(report) == 0, str(report)
    assert report.summary().empty and list(report.summary().columns) == \
        ["study", "row", "column", "value", "expected", "rule", "severity", "message"]


def test_cli_check_prints_findings_and_exits_0_with_warnings_only(capsys):
    assert main(["check", str(CSV)]) == 0
    out = capsys.readouterr().out
    assert "9 warning(s)" in out and "Zaccagna, 2014" in out and "percent_matches_count" in out


def test_cli_check_json(capsys):
    assert main(["check", str(CSV), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["n_rows"] == 33 and doc["errors"] == 0 and doc["warnings"] == 9
    assert doc["columns"].endswith("table2.columns.toml")
    assert {f["rule"] for f in doc["findings"]} == {"percent_matches_count", "sd_possible_on_scale",
                                                    "total_matches_rows"}
    assert set(doc["findings"][0]) == {"study", "row", "column", "value", "expected", "rule", "severity",
                                       "message"}


def test_cli_check_without_sidecar_uses_scale_option(tmp_path, capsys):
    """Without declarations, --scale pain=0:10 applies to the pain_* columns (baseline_* is not named pain)."""
    copy = tmp_path / "table2.csv"
    shutil.copy(CSV, copy)
    assert main(["check", str(copy), "--scale", "pain=0:10", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["columns"] is None
    rules = {(f["rule"], f["study"], f["column"]) for f in doc["findings"]}
    assert ("sd_possible_on_scale", "Xiong, 2018", "pain_3mo_sd") in rules
    assert ("percent_matches_count", "Namba, 2019", "tox_lt3_printed") in rules
    # an undeclared '*' is reported: the estimated SDs would otherwise go unflagged
    assert ("estimate_flagged", "Namba, 2019", "pain_3mo_sd") in rules
    assert not any(r[0] == "total_matches_rows" for r in rules)


def test_cli_check_exits_1_on_errors(tmp_path, capsys):
    raw = read_table(CSV)
    raw.loc[raw.study == "Namba, 2019", "tr_printed"] = "12 (120)"
    bad = tmp_path / "bad.csv"
    raw.to_csv(bad, index=False)
    assert main(["check", str(bad), "--columns", str(EXAMPLE / "table2.columns.toml")]) == 1
    assert "events_le_n" in capsys.readouterr().out


def test_cli_check_bad_scale_option_is_a_message_not_a_traceback(capsys):
    assert main(["check", str(CSV), "--scale", "pain=0-10"]) == 2
    assert "NAME=LOW:HIGH" in capsys.readouterr().err


def test_sidecar_declares_what_the_readme_says():
    spec = load_spec(EXAMPLE / "table2.columns.toml")
    assert spec.scales == {"pain": (0.0, 10.0)}
    assert spec.columns["tr_printed"].kind == "count_percent"
    assert spec.columns["pain_3mo_sd"].estimated_mark == "*"
    assert {t.label for t in spec.totals} >= {"Adverse events: studies", "Adverse events: patients"}


@pytest.mark.parametrize("suffix", [".tsv", ".xlsx"])
def test_tsv_and_xlsx_copies_give_the_same_findings(tmp_path, suffix):
    raw = read_table(CSV)
    path = tmp_path / f"table2{suffix}"
    if suffix == ".tsv":
        raw.to_csv(path, sep="\t", index=False)
    else:
        raw.to_excel(path, index=False)
    shutil.copy(EXAMPLE / "table2.columns.toml", tmp_path / "table2.columns.toml")
    assert read_table(path).equals(raw)
    got = {(f.rule, f.study, f.column, f.value, f.expected) for f in check_table(path)}
    assert got == EXPECTED


def test_cli_check_fits_80_columns_and_lists_each_finding_once(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")   # a wide terminal still gets 80 columns
    copy = tmp_path / "table2.csv"
    shutil.copy(CSV, copy)
    assert main(["check", str(copy), "--scale", "pain=0:10"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines and max(len(line) for line in lines) <= 80, out
    report = check_table(copy, scales={"pain": (0.0, 10.0)})
    flat = " ".join(out.split())
    for f in report.findings:
        # each finding once, its study label whole on one line
        assert flat.count(f"{f.study}: {' '.join(f.message.split())} ({f.rule})") == 1, f.message
        assert any(f"- {f.study}:" in line for line in lines), f.study
    assert flat.count(f"{report.findings[0].study}: ") == sum(r.study == report.findings[0].study
                                                             for r in report.findings)
