"""Tests for small-study effects and trim-and-fill against metafor 3.8-1 (and R meta's definitions).

R calls (fixture ``r_call``): ``fit <- rma(yi, vi, method, control = list(threshold = 1e-12, maxiter =
10000, tol = 1e-12, tau2.max = 1e6))``; ``regtest(fit, model = "lm")`` (= meta's Egger test);
``regtest(fit)`` and ``regtest(update(fit, test = "knha"))``; ``rma(yi, vi, mods = ~ sqrt(vi), method,
test = "t")`` (meta's Thompson-Sharp, linregcore); ``ranktest(fit)`` and ``ranktest(fit, exact = FALSE)``;
Peters as meta: ``lm(yi ~ I(1/N), weights = 1/(1/(a+c) + 1/(b+d)))``; ``trimfill(fit, estimator, side)``
on the FE fit (common-effect iterations, R meta) or the random-effects fit (metafor), the filled data
pooled by ``rma(yi, vi, method)``.  Tolerance 1e-8 for DL and FE, 1e-6 for REML.
"""

import warnings

import numpy as np
import pytest

import metareview as mr
from metareview.analyses.bias import begg_test, egger_test, metabias, peters_test, regtest, thompson_sharp, trimfill
from metareview.base.exceptions import SmallSampleWarning

from ._reference import DATASETS, cases, close, result, tol

BIAS = cases("bias")
TF = cases("trimfill")


def _quiet(f, *a, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallSampleWarning)
        return f(*a, **kw)


@pytest.mark.parametrize("case", BIAS, ids=[c["case"] for c in BIAS])
def test_regression_and_rank_tests_match_r(case):
    t = tol(case["method"])
    r = result(case["dataset"], case["method"])
    rk = result(case["dataset"], case["method"], "knha")
    eg = _quiet(egger_test, r)
    e = case["egger"]
    for key, val in (("statistic", eg.statistic), ("df", eg.df), ("p", eg.p), ("bias", eg.bias),
                     ("se_bias", eg.se_bias), ("estimate", eg.estimate), ("ci_low", eg.ci_low),
                     ("ci_high", eg.ci_high)):
        close(val, e[key], 1e-8, f"egger {key}")
    for fit, ref in ((_quiet(regtest, r), case["egger_rma_z"]), (_quiet(regtest, rk), case["egger_rma_knha"])):
        for key in ("statistic", "p", "bias", "se_bias", "estimate", "ci_low", "ci_high"):
            close(getattr(fit, key), ref[key], t, f"regtest {key}")
    ts = _quiet(thompson_sharp, r)
    for key in ("statistic", "df", "p", "bias", "se_bias", "tau2"):
        close(getattr(ts, key), case["thompson_sharp"][key], t, f"Thompson-Sharp {key}")
    bg = _quiet(begg_test, r)
    close(bg.extra["tau"], case["begg"]["tau"], 1e-10, "Kendall tau")
    close(bg.p, case["begg"]["p_normal"], 1e-10, "Begg p (normal)")
    expected_metafor = bg.extra["p_exact"] if bg.extra["p_exact"] is not None else bg.p
    close(expected_metafor, case["begg"]["p"], 1e-10, "ranktest p")


def test_peters_matches_meta_definition():
    case = next(c for c in BIAS if c["dataset"] == "bcg_or")
    c = DATASETS["bcg_or"]["counts"]
    r = mr.metabin(c["events_e"], c["n_e"], c["events_c"], c["n_c"], DATASETS["bcg_or"]["study"], measure="OR")
    close(r.yi, DATASETS["bcg_or"]["yi"], 1e-12, "log OR")
    pt = _quiet(peters_test, r)
    for key in ("statistic", "df", "p", "bias", "se_bias", "estimate"):
        close(getattr(pt, key), case["peters"][key], 1e-8, f"Peters {key}")


@pytest.mark.parametrize("case", TF, ids=[c["case"] for c in TF])
def test_trimfill_matches_metafor(case):
    r = result(case["dataset"], case["method"])
    side = case["side_requested"]
    tf = _quiet(trimfill, r, estimator=case["estimator"], side=side, iterate=case["iterate"])
    t = tol(case["method"])
    assert tf.k0 == case["k0"]
    assert tf.side == case["side"]
    close(tf.se_k0, case["se_k0"], 1e-10, "se k0")
    if case["estimator"] == "R0":
        close(tf.p_k0, case["p_k0"], 1e-12, "p k0")
    close(tf.yi[tf.filled], case["filled_yi"] or [], 1e-8, "filled yi")
    close(tf.vi[tf.filled], case["filled_vi"] or [], 1e-12, "filled vi")
    p = tf.pooled
    for key in ("estimate", "se", "ci_low", "ci_high"):
        close(p[f"random_{key}"], case["random"][key], t, f"random {key}")
        close(p[f"common_{key}"], case["common"][key], 1e-8, f"common {key}")
    close(p["tau2"], case["random"]["tau2"], t, "tau2")


def test_seed_trimfill_meta_vs_metafor_conventions():
    """The seed's treatment response (logit, DL): 7 filled with R meta's common-effect iterations, 4 with metafor's."""
    r = result("seed_plo", "DL")
    assert _quiet(trimfill, r).k0 == 7
    assert _quiet(trimfill, r, iterate="random").k0 == 4


def test_fewer_than_ten_studies_warn_and_still_report():
    d = DATASETS["bcg_rr"]
    r = mr.metagen(np.array(d["yi"][:8]), vi=np.array(d["vi"][:8]))
    with pytest.warns(SmallSampleWarning, match="fewer than 10"):
        eg = egger_test(r)
    assert np.isfinite(eg.p) and any("fewer than 10" in n for n in eg.notes)
    with pytest.warns(SmallSampleWarning):
        sse = metabias(r)
    doc = sse.to_dict()
    assert doc["tests"]["egger"]["p"] is not None and doc["notes"]
    assert "peters" not in doc["tests"]
