"""The statistical core against R metafor 3.8-1.

Reference values: tests/r/make_reference_core.R (the R calls are stored with each case
in ``r_call``).  Tolerances: 1e-8 relative for closed forms (FE, DL, HS, HE, SJ, effect
sizes, study intervals); 1e-6 relative for iterative estimators (PM, REML, ML, EB) and
the Q-profile interval, which R solves to about 1e-11 with the stored controls.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from metareview.effectsizes.escalc import escalc
from metareview.effectsizes.study_ci import proportion_ci
from metareview.pooling.inverse_variance import pool_arrays

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def load_core(name):
    """A fixture file written by tests/r/make_reference_core.R (metafor 3.8-1)."""
    return json.loads((FIXTURES / "core" / f"{name}.json").read_text())


def all_core_cases():
    return [case for path in sorted((FIXTURES / "core").glob("*.json"))
            for case in json.loads(path.read_text())["cases"]]

CASES = [c for c in all_core_cases() if c.get("fit") and not c.get("error")]
ITERATIVE = {"PM", "REML", "ML", "EB"}


def close(actual, expected, rtol, atol=1e-12):
    a = np.asarray(actual, dtype=float)
    e = np.asarray([np.nan if x is None else x for x in np.atleast_1d(expected)], dtype=float).reshape(a.shape)
    np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, equal_nan=True)


def _escalc_kwargs(case):
    opts = case.get("options") or {}
    return {"incr": float(opts.get("add", 0.5)), "method_incr": opts.get("to", "only0"),
            "incr_style": "metafor"}


@pytest.mark.parametrize("case", [c for c in CASES if c["method"] == "FE" and c["test"] == "z"
                                  and c["measure"] != "GEN"], ids=lambda c: c["case"])
def test_effect_sizes(case):
    """escalc(): yi and vi for every measure and continuity-correction rule."""
    data = {k: v for k, v in case["input"].items() if k != "study"}
    es = escalc(case["measure"], data, validate=False, **_escalc_kwargs(case))
    yi, vi = case["escalc"]["yi"], case["escalc"]["vi"]
    if case.get("variant") == "drop00":
        keep = [i for i, y in enumerate(yi) if y is not None]
        close(es.yi[keep], [yi[i] for i in keep], 1e-8)
        close(es.vi[keep], [vi[i] for i in keep], 1e-8)
        return
    close(np.where(np.isfinite(es.yi), es.yi, np.nan), yi, 1e-8)
    close(np.where(np.isfinite(es.yi), es.vi, np.nan), vi, 1e-8)


def _pool(case):
    yi = np.array([np.nan if v is None else v for v in case["escalc"]["yi"]], float)
    vi = np.array([np.nan if v is None else v for v in case["escalc"]["vi"]], float)
    method = "DL" if case["method"] == "FE" else case["method"]
    return pool_arrays(yi, vi, method_tau2=method, random_ci="hk" if case["test"] == "knha" else "wald",
                       prediction="z", i2_method="q" if case["method"] == "FE" else "tau2",
                       null=0.0, warn=False).row(0)


@pytest.mark.parametrize("case", [c for c in CASES if not (c["method"] == "FE" and c["test"] == "knha")],
                         ids=lambda c: c["case"])
def test_pooling(case):
    """rma(): estimate, CI, test, tau², Q, I², H², Q-profile CI, prediction and weights."""
    f = case["fit"]
    got = _pool(case)
    tol = 1e-6 if case["method"] in ITERATIVE else 1e-8
    model = "common" if case["method"] == "FE" else "random"
    k = f["k"]
    close(got[f"{model}_estimate"], f["estimate"], tol)
    if f["se"] == 0:  # identical estimates under Knapp-Hartung: s2w = 0
        close(got[f"{model}_se"], 0.0, 0, atol=1e-12)
    else:
        close(got[f"{model}_se"], f["se"], tol)
        close(got[f"{model}_ci_low"], f["ci_low"], tol)
        close(got[f"{model}_ci_high"], f["ci_high"], tol)
        close(got[f"{model}_statistic"], f["statistic"], tol)
        close(got[f"{model}_p"], f["p"], tol, atol=1e-14)
    if model == "random":
        if f["df"] is not None:
            assert got["random_df"] == f["df"]
        close(got["tau2"], f["tau2"], tol, atol=1e-10)
        close(got["weight_random"][np.isfinite(got["weight_random"])],
              [w for w in f["weights"] if w is not None], tol)
        if k > 1 and f["pred_low"] is not None:
            close(got["prediction_low"], f["pred_low"], tol)
            close(got["prediction_high"], f["pred_high"], tol)
    else:
        close(got["weight_common"][np.isfinite(got["weight_common"])],
              [w for w in f["weights"] if w is not None], 1e-8)
    close(got["q"], f["q"], 1e-8, atol=1e-10)
    if k > 1:
        close(got["q_p"], f["q_p"], 1e-8)
        if f["i2"] is not None:
            close(got["i2"], f["i2"], tol, atol=1e-8)
            # R meta (our "q" convention for the common-effect model) floors H at 1; metafor does not
            h2 = max(1.0, f["h2"]) if model == "common" else f["h2"]
            close(got["h"] ** 2, h2, tol)
        if model == "random" and f["tau2_ci_low"] is not None:
            close(got["tau2_ci_low"], f["tau2_ci_low"], 1e-6, atol=1e-10)
            close(got["tau2_ci_high"], f["tau2_ci_high"], 1e-6, atol=1e-10)
            close(got["i2_ci_low"], f["i2_ci_low"], 1e-6, atol=1e-8)
            close(got["i2_ci_high"], f["i2_ci_high"], 1e-6, atol=1e-8)


@pytest.mark.parametrize("name", ["pritz1997", "seed_tr"])
def test_study_intervals(name):
    """Clopper-Pearson (binom.test), Wilson and Wilson with continuity correction (prop.test)."""
    doc = load_core(name)
    inp = doc["cases"][0]["input"]
    ref = doc["study_ci"]
    for method, key in (("CP", "cp"), ("WS", "wilson"), ("WSCC", "wilsoncc")):
        lo, hi = proportion_ci(inp["events"], inp["n"], 0.95, method)
        close(lo, ref[f"{key}_low"], 1e-8)
        close(hi, ref[f"{key}_high"], 1e-8)


@pytest.mark.parametrize("case", [c for c in CASES if c.get("backtransformed") and c["measure"] in
                                  ("PLO", "PAS", "PFT", "PLN", "OR", "RR", "ROM", "MNLN")
                                  and c["method"] != "FE" and c["test"] == "z"], ids=lambda c: c["case"])
def test_backtransformation(case):
    """transf.ilogit, transf.iarcsin, transf.ipft.hm (harmonic mean of n) and exp."""
    from metareview.effectsizes.measures import backtransform

    bt = case["backtransformed"]
    f = case["fit"]
    n = None
    if case["measure"] == "PFT":
        n = 1 / np.mean(1 / np.asarray(case["input"]["n"], float))
    close(backtransform(case["measure"], f["estimate"], n), bt["estimate"], 1e-8)
    close(backtransform(case["measure"], f["ci_low"], n), bt["ci_low"], 1e-8)
    close(backtransform(case["measure"], f["ci_high"], n), bt["ci_high"], 1e-8)


def test_every_estimator_and_measure_is_covered():
    """The fixtures exercise all nine methods, both tests and every measure the core offers."""
    methods = {c["method"] for c in CASES}
    assert methods == {"FE", "DL", "PM", "REML", "ML", "HS", "SJ", "HE", "EB"}
    measures = {c["measure"] for c in CASES}
    assert {"PR", "PLO", "PLN", "PAS", "PFT", "MN", "MNLN", "MC", "SMCC", "SMCR", "MD", "SMD", "ROM",
            "OR", "RR", "RD", "GEN"} <= measures
    assert len({c["dataset"] for c in CASES}) >= 8
