"""Behaviour of the analyses beyond R reference values: excluded studies, options, bad input."""

import warnings

import numpy as np
import pytest

import metareview as mr
from metareview.analyses.bias import _kendall_exact_cdf, begg_test, metabias, peters_test, trimfill
from metareview.analyses.metareg import metareg
from metareview.analyses.sensitivity import cumul, leave1out
from metareview.base.exceptions import DataError, SettingsError, SmallSampleWarning

from ._reference import DATASETS, close, result


def test_excluded_studies_take_part_in_no_reanalysis():
    r = result("bcg_rr", "DL", exclude=[DATASETS["bcg_rr"]["study"][2]])
    lo = leave1out(r)
    assert lo.pooled.k.tolist() == [11] * 12 and DATASETS["bcg_rr"]["study"][2] not in lo.studlab
    cu = cumul(r, "year")
    assert cu.pooled.k.tolist() == list(range(1, 13))
    full = result("bcg_rr", "DL", subset=[i for i in range(13) if i != 2])
    close(lo.pooled.random_estimate, leave1out(full).pooled.random_estimate, 1e-12)
    m = metareg(r, "~ ablat")
    assert m.fit.k == 12


def test_cumul_decreasing_and_ties_keep_data_order():
    r = result("bcg_rr")
    years = np.array(DATASETS["bcg_rr"]["covariates"]["year"])
    cu = cumul(r, "year", decreasing=True)
    order = sorted(range(13), key=lambda i: -years[i])  # Python's sort is stable, as R's order()
    assert list(cu.studlab) == [DATASETS["bcg_rr"]["study"][i] for i in order]


def test_metabias_accepts_r_names_and_rejects_unknown():
    r = result("bcg_rr")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = metabias(r, methods=["linreg", "rank", "mm"], trim_fill=False)
    assert set(out.tests) == {"egger", "begg", "thompson_sharp"} and out.trimfill is None
    with pytest.raises(SettingsError, match="unknown test"):
        metabias(r, methods=["funnel"])


def test_kendall_exact_distribution():
    # n = 4: concordant-pair counts 0..6 occur 1, 3, 5, 6, 5, 3, 1 times in 24 permutations
    cdf = [_kendall_exact_cdf(q, 4) for q in range(7)]
    close(np.diff([0.0] + cdf) * 24, [1, 3, 5, 6, 5, 3, 1], 1e-12)


def test_begg_exact_p_matches_scipy():
    stats = pytest.importorskip("scipy.stats")
    r = result("bcg_rr")
    b = begg_test(r)
    y, v = np.array(r.yi), np.array(r.vi)
    w = 1 / v
    mu = (w * y).sum() / w.sum()
    ys = (y - mu) / np.sqrt(v - 1 / w.sum())
    ref = stats.kendalltau(ys, v, method="exact")
    close(b.extra["tau"], ref.statistic, 1e-12)
    close(b.extra["p_exact"], ref.pvalue, 1e-10)


def test_trimfill_options_and_small_k():
    r = result("seed_plo")
    with pytest.raises(SettingsError, match="L0, R0"):
        trimfill(r, estimator="Q9")
    with pytest.raises(SettingsError, match="left, right"):
        trimfill(r, side="up")
    tiny = mr.metagen([0.1, 0.3], vi=[0.01, 0.02])
    with pytest.raises(DataError, match="at least 3"):
        trimfill(tiny)
    with pytest.warns(SmallSampleWarning):
        tf = trimfill(mr.metagen([0.1, 0.3, 0.5, 0.9], vi=[0.01, 0.02, 0.05, 0.2]))
    assert tf.to_dict()["notes"]


def test_metareg_without_intercept_and_formula_errors():
    r = result("bcg_rr")
    m = metareg(r, "~ factor(alloc) - 1", method_tau2="DL")
    assert m.names == ("factor(alloc)alternate", "factor(alloc)random", "factor(alloc)systematic")
    assert m.r2 is None
    # interactions are read (formulaic); a broken formula is a one-line error
    assert metareg(r, "~ ablat * year").names[-1] == "ablat:year"
    with pytest.raises(SettingsError, match="cannot read the formula"):
        metareg(r, "~ ablat +* year")
    with pytest.raises(DataError, match="'latitude' is not a column"):
        metareg(r, "~ I(latitude^2)")
    with pytest.raises(SettingsError, match="test"):
        metareg(r, "~ ablat", test="wald")
    pr = metareg(r, "~ ablat").predict({"ablat": 20})
    assert list(pr.columns[:6]) == ["pred", "se", "ci_low", "ci_high", "pi_low", "pi_high"]


def test_peters_needs_counts_and_is_not_run_by_default_without_them():
    """A generic RR result (estimates only) gets the tests that apply; Peters' test, asked for, names what is
    missing instead of failing with a KeyError."""
    r = mr.metagen([-0.9, -1.6, -1.4, -0.2, -0.3], vi=[0.3, 0.2, 0.4, 0.01, 0.05], measure="RR")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallSampleWarning)
        assert "peters" not in metabias(r, trim_fill=False).tests
        with pytest.raises(DataError, match=r"Peters' test needs each study's 2x2 counts .*missing: events_e"):
            peters_test(r)
        asked = metabias(r, methods=["peters"], trim_fill=False)
    assert not asked.tests and "Peters' test needs each study's 2x2 counts" in asked.notes[-1]
