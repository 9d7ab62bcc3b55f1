"""Missing-SD imputation: values filled, and every filled value flagged with its method."""

from __future__ import annotations

import doctest
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import metareview.tables.impute as impute_module
from metareview.base.exceptions import DataError
from metareview.tables.convert import sd_from_ci
from metareview.tables.impute import flagged_values, impute_sd
from metareview.tables.parse import parse_printed_table

CSV = Path(__file__).resolve().parents[2] / "examples" / "mrgfus-bone-metastases" / "table2.csv"
nan = np.nan


def frame() -> pd.DataFrame:
    return pd.DataFrame({"study": ["A", "B", "C", "D"], "n": [10, 20, 30, 40],
                         "mean_pre": [6.0, 7.0, 5.0, 6.5], "sd_pre": [2.0, nan, 1.0, 1.5],
                         "mean_1mo": [3.0, 4.0, nan, 2.0], "sd_1mo": [nan, nan, nan, 1.2],
                         "mean_3mo": [2.0, 2.5, 2.2, 1.9], "sd_3mo": [1.1, 1.4, 0.9, 2.6]})


def test_same_study_baseline_only_where_needed():
    out = impute_sd(frame(), "sd_1mo", "same_study", source="sd_pre", where="mean_1mo")
    assert out.sd_1mo.tolist()[0] == 2.0 and np.isnan(out.sd_1mo[1]) and np.isnan(out.sd_1mo[2])
    assert out.sd_1mo[3] == 1.2
    assert out.sd_1mo_imputed.tolist() == [True, False, False, False]
    assert out.sd_1mo_imputation.tolist() == ["same study: sd_pre", "", "", ""]
    # the input is not modified
    assert np.isnan(frame().sd_1mo[0])


def test_same_study_tries_sources_in_order_then_other_studies():
    out = impute_sd(frame(), "sd_1mo", "same_study", source=["sd_pre", "sd_3mo"], where="mean_1mo")
    assert out.sd_1mo.tolist()[:2] == [2.0, 1.4]
    assert out.sd_1mo_imputation.tolist()[:2] == ["same study: sd_pre", "same study: sd_3mo"]
    chained = impute_sd(impute_sd(frame(), "sd_1mo", "same_study", source="sd_pre"), "sd_1mo", "max")
    # 'max' borrows only from reported SDs (1.2), never from imputed ones (2.0, 1.0)
    assert chained.sd_1mo.tolist() == [2.0, 1.2, 1.0, 1.2]
    assert chained.sd_1mo_imputation[1] == "max of 1 reported SDs (1.2)"
    assert chained.sd_1mo_imputed.tolist() == [True, True, True, False]


@pytest.mark.parametrize("method,value", [("mean", np.mean([1.1, 1.4, 0.9, 2.6])),
                                          ("median", np.median([1.1, 1.4, 0.9, 2.6])),
                                          ("max", 2.6)])
def test_borrow_from_other_studies(method, value):
    t = frame()
    t.loc[1, "sd_3mo"] = nan
    reported = [1.1, 0.9, 2.6]
    expected = {"mean": np.mean(reported), "median": np.median(reported), "max": max(reported)}[method]
    out = impute_sd(t, "sd_3mo", method)
    assert out.sd_3mo[1] == pytest.approx(expected, rel=1e-12)
    assert out.sd_3mo_imputed.tolist() == [False, True, False, False]
    assert out.sd_3mo_imputation[1].startswith(f"{method} of 3 reported SDs")


def test_fixed_value_and_from_ci():
    out = impute_sd(frame(), "sd_1mo", "value", value=2.5, where="mean_1mo")
    assert out.sd_1mo.tolist()[:2] == [2.5, 2.5] and out.sd_1mo_imputation[0] == "fixed value 2.5"
    t = frame().assign(lo=[2.0, nan, nan, nan], hi=[4.0, nan, nan, nan])
    out = impute_sd(t, "sd_1mo", "ci", source=("lo", "hi"))
    assert out.sd_1mo[0] == pytest.approx(sd_from_ci(2.0, 4.0, 10), rel=1e-12)
    assert out.sd_1mo_imputed.tolist() == [True, False, False, False]
    assert "CI" in out.sd_1mo_imputation[0]


@pytest.mark.parametrize("kwargs,match", [
    ({"method": "guess"}, "valid"),
    ({"method": "same_study"}, "source"),
    ({"method": "mean", "source": "sd_pre"}, "no source"),
    ({"method": "value"}, "value"),
    ({"method": "ci", "source": "lo"}, "lower"),
    ({"method": "same_study", "source": "nope"}, "not in the table"),
])
def test_bad_requests_raise(kwargs, match):
    with pytest.raises(DataError, match=match):
        impute_sd(frame(), "sd_1mo", **kwargs)


def test_nothing_to_borrow():
    t = frame().assign(sd_1mo=nan)
    with pytest.raises(DataError, match="nothing to borrow"):
        impute_sd(t, "sd_1mo", "median")


def test_text_columns_must_be_parsed_first():
    t = frame().assign(sd_pre=["2.0", "", "1.0", "1.5"])
    with pytest.raises(DataError, match="parse"):
        impute_sd(t, "sd_1mo", "same_study", source="sd_pre")


def test_seed_one_month_sd_from_baseline():
    """The reference's 1-month analysis: 18 studies, 454 patients, each 1-month SD = its baseline SD."""
    data = parse_printed_table(CSV)
    out = impute_sd(data, "pain_1mo_sd", "same_study", source="baseline_sd", where="pain_1mo_mean")
    usable = out.dropna(subset=["baseline_mean", "baseline_sd", "pain_1mo_mean", "pain_1mo_sd"])
    assert (len(usable), int(usable.n.sum())) == (18, 454)
    assert usable.pain_1mo_sd_imputed.all()
    np.testing.assert_array_equal(usable.pain_1mo_sd, usable.baseline_sd)
    flags = flagged_values(out)
    assert set(flags.flag) == {"estimated in source", "imputed"}
    imputed = flags[flags.flag == "imputed"]
    # every row with a 1-month mean and a baseline SD (Turkevich, Pfeffer 2013, Catane have no baseline SD)
    assert sorted(imputed.study) == sorted(usable.study)
    assert set(imputed.method) == {"same study: baseline_sd"}
    estimated = flags[flags.flag == "estimated in source"]
    assert sorted(estimated.study) == sorted(["Namba, 2019", "Lee H., 2017", "Hurwitz, 2014", "Zaccagna, 2014",
                                              "Liberman, 2009"])
    assert list(flags.columns) == ["study", "column", "value", "flag", "method"]


def test_docstring_examples_run():
    result = doctest.testmod(impute_module)
    assert result.attempted >= 1 and result.failed == 0


def test_fill_from_quantiles_flags_mean_and_sd():
    from metareview.tables.convert import mean_sd_from_quantiles
    from metareview.tables.impute import fill_from_quantiles

    t = pd.DataFrame({"study": ["A", "B", "C"], "n": [40, 25, 30], "mean": [nan, 5.0, nan], "sd": [nan, 1.0, nan],
                      "median": [6.0, 5.1, nan], "q1": [4.0, 4.0, nan], "q3": [9.0, 6.0, nan],
                      "lo": [nan, 1.0, nan], "hi": [nan, 9.0, nan]})
    out = fill_from_quantiles(t, mean="mean", sd="sd", q1="q1", q3="q3", minimum="lo", maximum="hi")
    est = mean_sd_from_quantiles(40, 6.0, q1=4.0, q3=9.0)
    assert out["mean"][0] == pytest.approx(est.mean, rel=1e-12) and out["sd"][0] == pytest.approx(est.sd, rel=1e-12)
    assert out["mean"][1] == 5.0 and out["sd"][1] == 1.0          # reported values are kept
    assert np.isnan(out["mean"][2])                               # nothing to convert from
    assert out.mean_imputed.tolist() == [True, False, False] and out.sd_imputed.tolist() == [True, False, False]
    assert out.mean_imputation[0] == "Luo et al. 2018 from median, q1, q3 (S2)"
    assert out.sd_imputation[0] == "Shi et al. 2020 from median, q1, q3 (S2)"
    flags = flagged_values(out)
    assert sorted(flags.column) == ["mean", "sd"] and set(flags.study) == {"A"}
