"""Reading cells as papers print them, under a declared meaning."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from metareview.base.exceptions import DataError
from metareview.tables.parse import (
    ColumnSpec,
    TableSpec,
    infer_spec,
    load_spec,
    parse_cell,
    parse_number,
    parse_printed_table,
)


@pytest.mark.parametrize("text,kind,expected", [
    ("4 (12.9)", "count_percent", {"events": 4, "percent": 12.9, "percent_decimals": 1}),
    ("26 (84%)", "count_percent", {"events": 26, "percent": 84.0, "percent_decimals": 0}),
    ("26/31 (84 %)", "count_percent", {"events": 26, "percent": 84.0, "total": 31}),
    ("0 (0)", "count_percent", {"events": 0, "percent": 0.0}),
    ("3", "count_percent", {"events": 3, "percent": None, "percent_decimals": None}),
    ("6.6 ± 2.4", "mean_sd", {"mean": 6.6, "sd": 2.4}),
    ("6.6 (2.4)", "mean_sd", {"mean": 6.6, "sd": 2.4}),
    ("6.6 (SD 2.4)", "mean_sd", {"mean": 6.6, "sd": 2.4}),
    ("−1.5 +/- 0.7", "mean_sd", {"mean": -1.5, "sd": 0.7}),
    ("5.0 [3.0–7.0]", "median_iqr", {"median": 5.0, "q1": 3.0, "q3": 7.0}),
    ("5 (IQR 3-7)", "median_iqr", {"median": 5.0, "q1": 3.0, "q3": 7.0}),
    ("60 (range 4.3–69)", "median_range", {"median": 60.0, "min": 4.3, "max": 69.0}),
    ("3.1 (95% CI 2.2 to 4.0)", "estimate_ci", {"estimate": 3.1, "ci_low": 2.2, "ci_high": 4.0, "level": 0.95}),
    ("−3.8 (95% CI −4.3; −3.3)", "estimate_ci", {"estimate": -3.8, "ci_low": -4.3, "ci_high": -3.3}),
    ("−4.4 (−5.0 – −3.7)", "estimate_ci", {"estimate": -4.4, "ci_low": -5.0, "ci_high": -3.7}),
    ("0.42 (90% CI: 0.30, 0.55)", "estimate_ci", {"estimate": 0.42, "ci_low": 0.30, "ci_high": 0.55,
                                                  "level": 0.90}),
    ("3·1 (2·2–4·0)", "estimate_ci", {"estimate": 3.1, "ci_low": 2.2, "ci_high": 4.0}),
    ("4.1*", "number", {"value": 4.1, "estimated": True}),
    ("4.1", "number", {"value": 4.1, "estimated": False}),
    ("1,082", "count", {"value": 1082}),
    ("N/A", "number", {"value": None}),
    ("", "count_percent", {"events": None, "percent": None}),
])
def test_printed_forms(text, kind, expected):
    got = parse_cell(text, kind, estimated_mark="*")
    for key, value in expected.items():
        if isinstance(value, float):
            assert got[key] == pytest.approx(value, rel=1e-12), key
        else:
            assert got[key] == value, key
    assert got["text"] == text


@pytest.mark.parametrize("text", ["−3.8", "\u20133.8", "\u22123.8", "-3.8", " -3.8 ", "\u2212 3.8"])
def test_unicode_minus_signs(text):
    assert parse_number(text) == -3.8


@pytest.mark.parametrize("text,kind,rule", [
    ("4 (12.9)", "number", "not_a_number"),
    ("abc", "number", "not_a_number"),
    ("6.6", "mean_sd", "not_a_number"),
    ("4.5 (30)", "count", "not_a_number"),
    ("4.1*", "number", "estimate_flagged"),
    ("4.1†", "number", "estimate_flagged"),
    ("2.5 (1.1)", "count_percent", "not_a_number"),
    ("2.5", "count_percent", "not_a_number"),
])
def test_cells_not_of_their_declared_form_raise(text, kind, rule):
    with pytest.raises(DataError) as exc:
        parse_cell(text, kind)
    assert exc.value.rule == rule


@pytest.mark.parametrize("text,kind", [("5 (range 3-7)", "median_iqr"), ("5 (IQR 3-7)", "median_range"),
                                       ("3 (95% CI 2-4)", "median_iqr"), ("3 (IQR 2-4)", "estimate_ci")])
def test_a_printed_label_that_contradicts_the_declaration_is_refused(text, kind):
    with pytest.raises(DataError, match="cannot read"):
        parse_cell(text, kind)


@pytest.mark.parametrize("decl,match", [
    ({"kind": "mean_sd", "role": "mean"}, "role applies"),
    ({"kind": "number", "denominator": "n"}, "denominator"),
    ({"kind": "number", "level": 0.9}, "level applies"),
])
def test_options_that_would_be_ignored_are_refused(decl, match):
    with pytest.raises(DataError, match=match):
        ColumnSpec("x", **decl)


def test_unknown_kind_lists_the_valid_ones():
    with pytest.raises(DataError, match="count_percent"):
        parse_cell("1", "percentage")


def test_parse_table_keeps_the_printed_text_and_names_the_bad_cell():
    t = pd.DataFrame({"study": ["A, 2020", "B, 2021"], "n": ["10", "20"], "tr": ["8 (80)", "x"],
                      "sd": ["4.1*", "2.0"], "fu": ["3", "N/A"]})
    spec = TableSpec(columns={"n": ColumnSpec("n", kind="count"), "tr": ColumnSpec("tr", kind="count_percent"),
                              "sd": ColumnSpec("sd", estimated_mark="*"), "fu": ColumnSpec("fu")})
    with pytest.raises(DataError) as exc:
        parse_printed_table(t, spec)
    assert (exc.value.study, exc.value.column, exc.value.rule) == ("B, 2021", "tr", "not_a_number")
    t.loc[1, "tr"] = "12 (60)"
    out = parse_printed_table(t, spec)
    assert out.tr.tolist() == ["8 (80)", "12 (60)"]       # the printed column is kept
    assert out.sd_printed.tolist() == ["4.1*", "2.0"]     # replaced columns keep their text
    assert out.sd.tolist() == [4.1, 2.0] and out.sd_estimated.tolist() == [True, False]
    assert out.tr_events.tolist() == [8, 12] and out.tr_percent.tolist() == [80.0, 60.0]
    assert out.fu[0] == 3.0 and math.isnan(out.fu[1])
    assert "sd_printed" not in parse_printed_table(t, spec, keep_text=False).columns


def test_declarations_from_toml_reject_unknown_keys(tmp_path):
    path = tmp_path / "t.columns.toml"
    path.write_text('[columns.x]\nkind = "number"\nscael = "pain"\n', encoding="utf-8")
    with pytest.raises(DataError, match="scael"):
        load_spec(path)
    path.write_text('[columns.x]\nkind = "number"\nrole = "mean"\nscale = "pain"\n', encoding="utf-8")
    with pytest.raises(DataError, match="not declared") as exc:
        load_spec(path)
    assert exc.value.column == "x" and str(exc.value).count("column 'x'") == 1
    path.write_text('[scales]\npain = [0, 10]\n[columns.x]\nkind = "number"\nscale = "pain"\n', encoding="utf-8")
    with pytest.raises(DataError, match="declare a role"):
        load_spec(path)
    path.write_text('[table]\nestimated_mark = "*"\n[scales]\npain = [0, 10]\n'
                    '[columns.x]\nkind = "number"\nrole = "sd"\nscale = "pain"\n', encoding="utf-8")
    spec = load_spec(path)
    assert spec.columns["x"].estimated_mark == "*" and spec.scales["pain"] == (0.0, 10.0)


def test_declared_column_missing_from_table():
    with pytest.raises(DataError) as exc:
        parse_printed_table(pd.DataFrame({"a": ["1"]}), {"columns": {"b": {"kind": "number"}}})
    assert exc.value.column == "b"


def test_infer_spec_from_core_names():
    t = pd.DataFrame({"study": ["A"], "events": ["3"], "n": ["10"], "mean_pre": ["5"], "baseline_sd": ["1"],
                      "tox_printed": ["1 (10.0)"]})
    spec = infer_spec(t)
    assert spec.columns["events"].role == "events" and spec.columns["mean_pre"].group == "pre"
    assert spec.columns["baseline_sd"].group == "baseline" and spec.columns["tox_printed"].kind == "count_percent"
    out = parse_printed_table(t)
    assert out.tox_events[0] == 1 and np.isclose(out.mean_pre[0], 5.0)
