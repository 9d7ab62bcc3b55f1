"""The measures COR, UCOR, ZCOR, PCOR, ZPCOR, SPCOR, SMDH, CVR, VR, ROMC, SMCRH, IRR, IRD and IRSD
against metafor 3.8-1's ``escalc`` and ``rma`` (tests/r/make_reference_toolkit.R; the R calls
are in each case's ``r_call``).  Closed forms: 1e-8 relative; REML: 1e-6."""

import numpy as np
import pytest

import metareview as mr
from metareview.effectsizes.escalc import escalc
from metareview.effectsizes.measures import backtransform

from ._reference import cases, close

CASES = cases("measures")


def _data(case):
    return {k: v for k, v in case["input"].items() if k != "study"}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["case"])
def test_escalc(case):
    """es <- escalc(measure, ...): yi and vi."""
    es = escalc(case["measure"], _data(case), incr_style="metafor", studlab=case["input"]["study"])
    close(es.yi, case["escalc"]["yi"], 1e-8)
    close(es.vi, case["escalc"]["vi"], 1e-8)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["case"])
@pytest.mark.parametrize("method", ["DL", "REML"])
def test_pooled_through_the_api(case, method):
    """rma(yi, vi, data = es, method = ...) and predict(fit, transf = ...), through metaanalysis()."""
    ref = case["fits"][method]
    table = dict(case["input"])
    res = mr.metaanalysis(table, case["measure"], method_tau2=method, incr_style="metafor")
    p = res.pooled
    tol = 1e-8 if method == "DL" else 1e-6
    close(p["random_estimate"], ref["estimate"], tol)
    close(p["random_se"], ref["se"], tol)
    close(p["random_ci_low"], ref["ci_low"], tol)
    close(p["random_ci_high"], ref["ci_high"], tol)
    close(p["random_p"], ref["p"], tol, atol=1e-15)
    close(p["tau2"], ref["tau2"], tol, atol=1e-12)
    close(p["q"], ref["q"], 1e-8)
    bt = ref.get("backtransformed")
    if bt:
        doc = res.to_dict()["backtransformed"]["random"]
        close(doc["estimate"], bt["estimate"], tol)
        close(doc["ci_low"], bt["ci_low"], tol)
        close(doc["ci_high"], bt["ci_high"], tol)
    else:
        assert not res.measure.transformed


def test_every_new_measure_is_covered():
    assert {c["measure"] for c in CASES} == {"COR", "UCOR", "ZCOR", "PCOR", "ZPCOR", "SPCOR", "SMDH", "CVR", "VR",
                                             "ROMC", "SMCRH", "IRR", "IRD", "IRSD"}


def test_fisher_z_goes_back_to_a_correlation():
    """transf.ztor is tanh; a pooled ZCOR prints as a correlation."""
    close(backtransform("ZCOR", [0.0, np.arctanh(0.3)]), [0.0, 0.3], 1e-14)
    res = mr.metacor([0.187, 0.162, 0.34], [109, 749, 55], ["A", "B", "C"])
    text = str(res)
    assert "COR" in text.splitlines()[0] and "ZCOR" not in text.splitlines()[0]
    assert "Fisher's z transformation" in text
    assert "Number of observations: o = 913" in text


def test_metainc_and_metacor_take_only_their_measures():
    with pytest.raises(mr.SettingsError, match="metainc takes IRR, IRD or IRSD"):
        mr.metainc([1], [10], [2], [10], measure="OR")
    with pytest.raises(mr.SettingsError, match="metacor takes COR, UCOR or ZCOR"):
        mr.metacor([0.1], [10], measure="PCOR")


def test_metainc_matches_the_table_interface():
    case = next(c for c in CASES if c["case"] == "hart1999_IRR")
    i = case["input"]
    res = mr.metainc(i["events_e"], i["time_e"], i["events_c"], i["time_c"], i["study"], incr_style="metafor")
    close(res.yi, case["escalc"]["yi"], 1e-8)
    assert res.measure.ratio


def test_zero_counts_get_the_increment_in_both_groups():
    """to = "only0": 1/2 in both groups of a study with a zero count (IRR, IRD), none for IRSD."""
    case = next(c for c in CASES if c["case"] == "ratezero_IRR")
    res = mr.metaanalysis(case["input"], "IRR")
    assert list(res.incr) == [0.5, 0.5, 0.0, 0.0]
    res = mr.metaanalysis(case["input"], "IRSD")
    assert not res.incr.any()


@pytest.mark.parametrize("table, measure, column, rule", [
    ({"study": ["A", "B"], "cor": [0.2, 1.3], "n": [20, 30]}, "ZCOR", "cor", "-1 <= cor <= 1"),
    ({"study": ["A", "B"], "cor": [0.2, 0.3], "n": [20, 3]}, "COR", "n", "n >= 4"),
    ({"study": ["A", "B"], "cor": [0.2, 0.3], "n": [20, 4]}, "UCOR", "n", "n >= 5"),
    ({"study": ["A", "B"], "tstat": [2.0, 3.0], "n": [20, 5], "predictors": [2, 4]}, "PCOR", "n",
     "n - predictors - 1 > 0"),
    ({"study": ["A", "B"], "tstat": [2.0, 3.0], "n": [20, 50], "predictors": [2, 4]}, "SPCOR", "r2", "missing column"),
    ({"study": ["A", "B"], "tstat": [2.0, 3.0], "n": [20, 50], "predictors": [2, 4], "r2": [0.2, 1.2]}, "SPCOR",
     "r2", "0 <= r2 <= 1"),
    ({"study": ["A", "B"], "events_e": [2, -1], "time_e": [10, 10], "events_c": [1, 1], "time_c": [10, 10]}, "IRR",
     "events_e", "events_e >= 0"),
    ({"study": ["A", "B"], "events_e": [2, 1], "time_e": [10, 10], "events_c": [1, 1], "time_c": [10, 0]}, "IRD",
     "time_c", "time_c > 0"),
])
def test_bad_input_names_study_column_and_rule(table, measure, column, rule):
    with pytest.raises(mr.DataError) as err:
        mr.metaanalysis(table, measure)
    assert err.value.column == column and err.value.rule == rule
    if rule != "missing column":
        assert err.value.study == "B"


def test_forest_plot_names_the_natural_scale():
    import matplotlib
    matplotlib.use("Agg")
    res = mr.metacor([0.187, 0.162, 0.34], [109, 749, 55], ["A", "B", "C"])
    texts = [t.get_text() for t in res.forest().figure_.findobj(matplotlib.text.Text)]
    assert "COR" in texts and "ZCOR" not in texts
    res = mr.metainc([9, 8, 3], [413, 263, 487], [19, 19, 13], [398, 245, 435], ["A", "B", "C"])
    disp = res.forest()
    assert disp.plot_ax_.get_xscale() == "log"


def test_named_functions_take_the_new_measures_of_their_design():
    """metacont(..., measure="SMDH" | "VR" | "CVR") and metaprepost(..., measure="ROMC" | "SMCRH")
    give what the table interface gives."""
    for case in CASES:
        i = case["input"]
        if case["dataset"] == "normand1999":
            res = mr.metacont(i["n_e"], i["mean_e"], i["sd_e"], i["n_c"], i["mean_c"], i["sd_c"], i["study"],
                              measure=case["measure"])
        elif case["dataset"] == "seed_pain3_r05":
            res = mr.metaprepost(i["n"], i["mean_pre"], i["sd_pre"], i["mean_post"], i["sd_post"], i["study"],
                                 r=i["r"], measure=case["measure"])
        else:
            continue
        close(res.yi, case["escalc"]["yi"], 1e-8)
        close(res.vi, case["escalc"]["vi"], 1e-8)
