"""Model comparison against metafor 3.8-1's ``anova()`` (tests/r/make_reference_toolkit.R; R calls in
``r_call``): likelihood-ratio tests of nested ML (and REML) fits of dat.bcg's log risk ratios, and
Wald tests of coefficient subsets (btt) under z and Knapp-Hartung tests.  Iterative fits: 1e-6."""

import pytest

import metareview as mr
from metareview.analyses.comparison import anova

from ._reference import cases, close

CASES = cases("anova")


def _result(case):
    i = case["input"]
    return mr.metagen(i["yi"], vi=i["vi"], studlab=i["study"],
                      covariates={"ablat": i["ablat"], "year": i["year"], "alloc": i["alloc"]})


def _model(res, formula, method):
    if formula == "~ 1":
        return res.update(method_tau2=method)
    return res.metareg(formula, method_tau2=method)


@pytest.mark.parametrize("case", [c for c in CASES if c["kind"] == "LRT"], ids=lambda c: c["case"])
def test_likelihood_ratio_test(case):
    """anova(full, reduced): LRT, df, p, pseudo R² and both fits' statistics."""
    res = _result(case)
    full, reduced = _model(res, case["full"], case["method"]), _model(res, case["reduced"], case["method"])
    with pytest.warns(mr.MetaReviewWarning) if case["method"] == "REML" else _nothing():
        got = anova(reduced, full)  # either order, as metafor
    close(got.lrt, case["lrt"], 1e-6)
    assert got.df == case["df"]
    close(got.p, case["p"], 1e-6)
    close(got.r2, case["r2"], 1e-6)
    for mine, ref in ((got.full, case["fit_full"]), (got.reduced, case["fit_reduced"])):
        assert mine["parameters"] == ref["parms"]
        for key in ("loglik", "deviance", "aic", "bic", "aicc", "tau2", "qe"):
            close(mine[key], ref[key], 1e-6, atol=1e-10)
    assert got.to_dict()["test"] == "LRT" and "Likelihood-ratio test" in str(got)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.parametrize("case", [c for c in CASES if c["kind"] == "Wald"], ids=lambda c: c["case"])
def test_wald_test_of_coefficients(case):
    """anova(fit, btt = ...): QM (chi²) or F under Knapp-Hartung."""
    res = _result(case)
    reg = res.metareg(case["mods"], method_tau2="REML", test=case["test"])
    btt = [j - 1 for j in case["btt"]]  # R counts from 1
    got = anova(reg, btt=btt)
    close(got.statistic, case["qm"], 1e-6)
    assert got.df == case["qm_df"] and got.df2 == case["qm_df2"]
    close(got.p, case["p"], 1e-6)
    by_name = anova(reg, btt=[case["coef_names"][j] for j in btt])
    assert by_name.statistic == got.statistic


def test_comparisons_that_make_no_sense_are_refused():
    case = CASES[0]
    res = _result(case)
    ml = res.metareg("~ ablat", method_tau2="ML")
    with pytest.raises(mr.SettingsError, match="two ML"):
        anova(ml, res)  # res is a DL fit
    with pytest.raises(mr.SettingsError, match="different studies"):
        anova(ml, res.update(method_tau2="ML", exclude=[0]))
    with pytest.raises(mr.SettingsError, match="no coefficient matches"):
        anova(ml, btt="latitude")
    with pytest.raises(mr.SettingsError, match="second model"):
        anova(ml)


def test_the_exported_function_is_not_shadowed_by_its_module():
    import importlib

    importlib.import_module("metareview.analyses.comparison")
    assert callable(mr.anova) and callable(mr.fsn)
