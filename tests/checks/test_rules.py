"""Each data-check rule on small tables, the array API analyses call, and the findings API."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from metareview.base.exceptions import DataError
from metareview.tables.checks import RULES, CheckReport, Finding, check_arrays, check_table, sd_upper_bound
from metareview.tables.parse import ColumnSpec, TableSpec, Total


def table(**cols) -> pd.DataFrame:
    return pd.DataFrame({k: [str(v) for v in vals] for k, vals in cols.items()})


def rules(report: CheckReport) -> set[tuple]:
    return {(f.rule, f.study, f.column, f.severity) for f in report}


SPEC = {
    "scales": {"pain": [0, 10]},
    "columns": {
        "n": {"kind": "count", "role": "n"},
        "events": {"kind": "count", "role": "events"},
        "mean": {"kind": "number", "role": "mean", "group": "pain", "scale": "pain"},
        "sd": {"kind": "number", "role": "sd", "group": "pain", "scale": "pain"},
        "minimum": {"kind": "number", "role": "min", "group": "pain", "scale": "pain"},
        "maximum": {"kind": "number", "role": "max", "group": "pain", "scale": "pain"},
    },
}


def clean() -> pd.DataFrame:
    return table(study=["A, 2020", "B, 2021", "C, 2021"], n=[10, 20, 30], events=[3, 12, 30],
                 mean=[5.0, 6.5, 2.0], sd=[2.0, 1.5, 1.0], minimum=[1, 3, 0], maximum=[9, 10, 5])


def test_clean_table_has_no_finding():
    report = check_table(clean(), SPEC)
    assert len(report) == 0 and report.ok


@pytest.mark.parametrize("column,value,rule", [
    ("events", "11", "events_le_n"),
    ("events", "-1", "count_nonnegative"),
    ("n", "0", "n_positive"),
    ("sd", "0", "sd_positive"),
    ("sd", "-1.2", "sd_positive"),
    ("mean", "10.5", "within_scale"),
    ("mean", "0.5", "mean_within_range"),
    ("minimum", "-1", "within_scale"),
    ("n", "ten", "not_a_number"),
])
def test_each_error_rule(column, value, rule):
    t = clean()
    t.loc[0, column] = value
    report = check_table(t, SPEC)
    hits = [f for f in report if f.rule == rule]
    assert hits, str(report)
    assert hits[0].study == "A, 2020" and hits[0].row == 1 and hits[0].severity == "error"
    assert not report.ok
    with pytest.raises(DataError) as exc:
        report.raise_for_errors()
    assert exc.value.rule == report.errors[0].rule and exc.value.study == report.errors[0].study


def test_order_of_quartiles_and_ci():
    t = table(study=["A"], n=["20"], iqr=["5 (6-8)"], ci=["3.1 (95% CI 3.2 to 4.0)"])
    spec = {"columns": {"n": {"kind": "count"}, "iqr": {"kind": "median_iqr"}, "ci": {"kind": "estimate_ci"}}}
    got = {(f.rule, f.column) for f in check_table(t, spec)}
    assert got == {("order", "iqr_median"), ("order", "ci")}


def test_sd_impossible_on_a_bounded_scale_is_a_warning_with_rounding_allowance():
    # mean 6, SD 6.3 on 0-10: at most sqrt(n/(n-1) * 5.5 * 4.5) even if the printed 6 was 5.5
    t = table(study=["Z"], n=["72"], mean=["6"], sd=["6.3"])
    report = check_table(t, {"scales": {"pain": [0, 10]}, "columns": {
        "n": {"kind": "count"}, "mean": {"kind": "number", "role": "mean", "scale": "pain"},
        "sd": {"kind": "number", "role": "sd", "scale": "pain"}}})
    (f,) = report.findings
    assert (f.rule, f.severity, f.value) == ("sd_possible_on_scale", "warning", "6.3")
    assert f.expected == f"<= {math.sqrt(72 / 71 * 5.5 * 4.5):.3g}"
    # mean 2 (printed without decimals, so up to 2.5), SD 4.1, n = 10: possible (bound 4.56)
    t2 = table(study=["N"], n=["10"], mean=["2"], sd=["4.1"])
    assert len(check_table(t2, {"scales": {"pain": [0, 10]}, "columns": {
        "n": {"kind": "count"}, "mean": {"kind": "number", "role": "mean", "scale": "pain"},
        "sd": {"kind": "number", "role": "sd", "scale": "pain"}}})) == 0


def test_sd_upper_bound_closed_form():
    assert sd_upper_bound(6.0, 0, 10) == pytest.approx(math.sqrt(24), rel=1e-12)
    got = sd_upper_bound(np.array([2.0, 5.0, 10.0]), 0, 10, n=np.array([10, 2, 5]))
    np.testing.assert_allclose(got, [math.sqrt(16 * 10 / 9), math.sqrt(25 * 2), 0.0], rtol=1e-12)
    # unknown n: the population bound
    assert sd_upper_bound(2.0, 0, 10, n=np.nan) == pytest.approx(4.0, rel=1e-12)
    # the bound is attained: 2 of 10 values at 10 and 8 at 0 have mean 2 and this sample SD
    sample = np.array([10.0] * 2 + [0.0] * 8)
    assert np.std(sample, ddof=1) == pytest.approx(float(sd_upper_bound(2.0, 0, 10, n=10)), rel=1e-12)


def test_percent_rounding_at_printed_precision():
    t = table(study=["A", "B", "C", "D"], n=["30", "8", "72", "3"],
              x=["26 (86.7)", "1 (13)", "63 (87)", "1 (33.3%)"])
    spec = {"columns": {"n": {"kind": "count"}, "x": {"kind": "count_percent"}}}
    assert len(check_table(t, spec)) == 0   # 86.67 -> 86.7; 12.5 -> 13 (half up); 87.5 -> 87 (half even)
    t.loc[0, "x"] = "26 (86.6)"
    (f,) = check_table(t, spec).findings
    assert (f.rule, f.value, f.expected, f.severity) == ("percent_matches_count", "86.6", "86.7", "warning")


def test_percent_uses_a_denominator_printed_in_the_cell():
    t = table(study=["A"], n=["30"], x=["26/31 (84%)"])
    spec = {"columns": {"n": {"kind": "count"}, "x": {"kind": "count_percent"}}}
    assert len(check_table(t, spec)) == 0


def test_duplicate_cohort_same_author_year_and_n():
    t = table(study=["Pfeffer, 2014", "Pfeffer, 2014", "Pfeffer, 2013", "Wang B., 2019", "Wang S., 2019"],
              n=["22", "22", "22", "30", "30"])
    report = check_table(t, {"columns": {"n": {"kind": "count"}}})
    (f,) = report.findings
    assert (f.rule, f.row, f.severity) == ("duplicate_cohort", 2, "warning")
    assert "row 1" in f.message


def test_totals_reported_vs_rows():
    t = table(study=["A", "B", "C"], n=["10", "20", "5"], ae=["1 (10.0)", "", "0 (0)"])
    spec = TableSpec(columns={"n": ColumnSpec("n", kind="count"), "ae": ColumnSpec("ae", kind="count_percent")})
    totals = [Total("studies", "count", 3, rows_with=("ae",)),
              Total("patients", "sum", 15, column="n", rows_with=("ae",)),
              Total("events", "sum", 1, column="ae")]
    (f,) = check_table(t, spec, totals=totals).findings
    assert (f.rule, f.value, f.expected) == ("total_matches_rows", "3", "2")
    with pytest.raises(DataError, match="statistic"):
        Total("x", "mean", 1, column="n")


def test_undeclared_mark_is_reported_and_declared_mark_is_not():
    t = table(study=["A", "B"], n=["10", "20"], sd=["4.1*", "2.0"])
    plain = {"columns": {"n": {"kind": "count"}, "sd": {"kind": "number", "role": "sd"}}}
    (f,) = check_table(t, plain).findings
    assert (f.rule, f.severity, f.value) == ("estimate_flagged", "warning", "4.1*")
    plain["columns"]["sd"]["estimated_mark"] = "*"
    assert len(check_table(t, plain)) == 0


def test_inferred_declarations_for_core_column_names():
    t = pd.DataFrame({"study": ["A", "B"], "events": [3, 12], "n": [10, 11]})
    (f,) = check_table(t).findings
    assert (f.rule, f.study, f.column) == ("events_le_n", "B", "events")
    pre_post = pd.DataFrame({"study": ["A"], "n": [10], "mean_pre": [5.0], "sd_pre": [-1.0],
                             "mean_post": [4.0], "sd_post": [1.0]})
    (f,) = check_table(pre_post).findings
    assert (f.rule, f.column) == ("sd_positive", "sd_pre")


def test_scale_option_needs_a_matching_column():
    with pytest.raises(DataError, match="matches no"):
        check_table(clean(), SPEC, scales={"quality": (0, 100)})


def test_check_arrays_is_vectorised_and_quiet_on_clean_data():
    k = 10_000
    rng = np.random.default_rng(1)
    n = rng.integers(5, 200, k)
    events = rng.integers(0, 5, k)
    report = check_arrays(None, events=events, n=n)
    assert len(report) == 0 and report.n_rows == k
    report = check_arrays(["a", "b"], mean=[5.0, 11.0], sd=[1.0, np.nan], scale=(0, 10),
                          columns={"mean": "mean_3mo"})
    (f,) = report.findings
    assert (f.study, f.column, f.rule, f.row) == ("b", "mean_3mo", "within_scale", 2)
    with pytest.raises(DataError, match="values"):
        check_arrays(events=[1, 2], n=[3])


def test_findings_api_for_reports():
    report = check_table(clean().assign(events=["3", "21", "30"]), SPEC)
    frame = report.summary()
    assert list(frame.columns) == ["study", "row", "column", "value", "expected", "rule", "severity", "message"]
    assert frame.loc[0, "rule"] == "events_le_n"
    doc = json.loads(json.dumps(report.to_dict()))
    assert doc["errors"] == 1 and doc["findings"][0]["study"] == "B, 2021"
    assert "<table" in report._repr_html_() and "events_le_n" in str(report)
    assert isinstance(report.findings[0], Finding)
    assert set(RULES) >= {f.rule for f in report}
    assert all(sev in ("error", "warning") for sev, _ in RULES.values())
