"""Leave-one-out, cumulative analysis, influence diagnostics and Baujat coordinates against metafor 3.8-1.

R calls (fixture ``r_call``): ``fit <- rma(yi, vi, method, test, control = list(threshold = 1e-12,
maxiter = 10000, tol = 1e-12, tau2.max = 1e6))``; ``leave1out(fit)``; ``cumul(fit, order = dat$year)``;
``influence(fit)``; ``baujat(fit)``.  metareview is run with metafor's I² convention
(``i2_method="tau2"``) so that I² and H² are comparable.  Tolerance 1e-8 for FE and DL (closed
form), 1e-6 for REML and PM (iterative).
"""

import numpy as np
import pytest

from metareview.analyses.influence import influence
from metareview.analyses.metareg import metareg
from metareview.analyses.sensitivity import compare_exclusion, cumul, leave1out
from metareview.base.exceptions import SettingsError

from ._reference import DATASETS, cases, close, result, tol

L1O = cases("leave1out")
CUM = cases("cumul")
INF = cases("influence")
BJ = cases("baujat")


def _model(case):
    return "common" if case["method"] == "FE" else "random"


@pytest.mark.parametrize("case", L1O, ids=[c["case"] for c in L1O])
def test_leave1out_matches_metafor(case):
    r = result(case["dataset"], case["method"], case["test"], i2_method="tau2")
    lo = leave1out(r)
    p, m, t = lo.pooled, _model(case), tol(case["method"])
    for key in ("estimate", "se", "statistic", "p", "ci_low", "ci_high"):
        close(getattr(p, f"{m}_{key}"), case[key], t, key)
    close(p.q, case["q"], t, "Q")
    close(p.q_p, case["q_p"], t, "Q p")
    if m == "random":
        close(p.tau2, case["tau2"], t, "tau2")
        close(p.i2, case["i2"], t, "I2")
        close(p.h ** 2, case["h2"], t, "H2")
    assert list(lo.studlab) == DATASETS[case["dataset"]]["study"]


@pytest.mark.parametrize("case", CUM, ids=[c["case"] for c in CUM])
def test_cumul_matches_metafor(case):
    r = result(case["dataset"], case["method"], case["test"], i2_method="tau2")
    cu = cumul(r, case["order_by"])
    assert list(cu.studlab) == case["study"]
    p, m, t = cu.pooled, _model(case), tol(case["method"])
    # step 1 pools one study: metafor replaces Knapp-Hartung by z there (with a warning); from
    # step 2 on every quantity is compared
    start = 1 if case["test"] == "knha" else 0
    for key in ("estimate", "se", "statistic", "p", "ci_low", "ci_high"):
        close(getattr(p, f"{m}_{key}")[start:], case[key][start:], t, key)
    close(p.q[1:], case["q"][1:], t, "Q")
    close(p.q_p[1:], case["q_p"][1:], t, "Q p")
    if m == "random":
        close(p.tau2, case["tau2"], t, "tau2")
        close(p.i2[1:], case["i2"][1:], t, "I2")


@pytest.mark.parametrize("case", INF, ids=[c["case"] for c in INF])
def test_influence_matches_metafor(case):
    """Pooled results, and meta-regressions (``influence(rma(yi, vi, mods = ...))``, dfbetas per coefficient)."""
    r = result(case["dataset"], case["method"], case["test"])
    if "formula" in case:
        reg = metareg(r, case["formula"], method_tau2=case["method"], test=case["test"])
        inf = influence(reg)
        assert list(inf.coef_names) == case["dfbetas_names"]
        close(np.asarray(inf.values["dfbetas"]).T, np.array(case["dfbetas"], float), tol(case["method"]), "dfbetas")
    else:
        inf = influence(r, model=_model(case))
        close(inf.values["dfbetas"], case["dfbetas"], tol(case["method"]), "dfbetas")
    t = tol(case["method"])
    for key in ("rstudent", "dffits", "cook_d", "cov_r", "tau2_del", "qe_del", "hat", "weight"):
        close(inf.values[key], case[key], t, key)
    assert list(inf.values["influential"]) == case["influential"]


@pytest.mark.parametrize("case", BJ, ids=[c["case"] for c in BJ])
def test_baujat_matches_metafor(case):
    r = result(case["dataset"], case["method"], case["test"])
    b = influence(r, model=_model(case)).baujat()
    t = tol(case["method"])
    close(b["x"].to_numpy(), case["x"], t, "x")
    close(b["y"].to_numpy(), case["y"], t, "y")


def test_leave1out_is_one_batched_call(monkeypatch):
    """Leave-one-out and cumulative analyses call the pooling kernel once, whatever k."""
    import metareview.analyses.sensitivity as sens
    calls = []
    real = sens.pool_arrays

    def counting(*a, **kw):
        calls.append(np.atleast_2d(a[0]).shape)
        return real(*a, **kw)
    monkeypatch.setattr(sens, "pool_arrays", counting)
    r = result("bcg_rr")
    leave1out(r)
    cumul(r, "year")
    assert calls == [(13, 13), (13, 13)]


def test_exclusion_side_by_side_matches_refit():
    r = result("bcg_rr", "REML")
    cmp = compare_exclusion(r, [r.studlab[0], r.studlab[5]])
    refit = result("bcg_rr", "REML", subset=[i for i in range(13) if i not in (0, 5)])
    assert cmp.reduced.k == 11
    close(cmp.reduced.pooled["random_estimate"], refit.pooled["random_estimate"], 1e-10)
    d = cmp.to_dict()
    assert d["full"]["k"] == 13 and d["reduced"]["k"] == 11
    by_rule = compare_exclusion(r, rule=lambda row: row["alloc"] == "systematic")
    assert by_rule.reduced.k == 9  # four studies with systematic allocation


def test_exclusion_rule_that_is_neither_a_function_nor_a_column_is_refused():
    r = result("bcg_rr", "REML")
    with pytest.raises(SettingsError, match="rule must be a function of a study's row or a column name, not 3"):
        compare_exclusion(r, rule=3)
