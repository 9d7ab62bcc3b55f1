"""The tau² estimators PMM, HSk, DLIT, SJIT and GENQ against metafor 3.8-1's ``rma.uni``
(tests/r/make_reference_toolkit.R, control threshold = 1e-12; R calls in ``r_call``).

Closed forms (HSk, GENQ): 1e-8 relative; iterative ones (PMM, DLIT, SJIT): 1e-6.  GENQ:
metafor's ``rma(..., weights = n, method = "GENQ")`` also weights the pooled estimate by the
user weights; metareview uses them for tau² only and pools by 1/(v + tau²), so its estimate
is checked against ``rma(yi, vi, tau2 = <GENQ tau²>)`` (``iv_fit``)."""

import numpy as np
import pytest

import metareview as mr
from metareview.pooling.tau2 import TAU2_METHODS, estimate_tau2

from ._reference import arr, cases, close

CASES = cases("estimators")


def _tol(method):
    return 1e-8 if method in ("HSk", "GENQ") else 1e-6


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["case"])
def test_tau2_and_pooled_estimate(case):
    """fit <- rma(yi, vi, method = ...): tau², estimate, se, CI; GENQ with weights = n."""
    i = case["input"]
    method = case["method"]
    kw = {"genq_weights": i["n"]} if method == "GENQ" else {}
    res = mr.metagen(i["yi"], vi=i["vi"], method_tau2=method, **kw)
    ref = case["iv_fit"] if method == "GENQ" else case["fit"]
    p = res.pooled
    tol = _tol(method)
    close(p["tau2"], case["fit"]["tau2"], tol, atol=1e-12)
    close(p["random_estimate"], ref["estimate"], tol)
    close(p["random_se"], ref["se"], tol)
    close(p["random_ci_low"], ref["ci_low"], tol)
    close(p["random_ci_high"], ref["ci_high"], tol)
    assert p["tau2_converged"]


def test_vectorised_over_analyses():
    """A batch of analyses gives each analysis the estimate it gets alone."""
    rows = [c for c in CASES if c["method"] == "DLIT"]
    k = max(len(c["input"]["yi"]) for c in rows)
    y = np.zeros((len(rows), k))
    v = np.ones((len(rows), k))
    mask = np.zeros((len(rows), k))
    for j, c in enumerate(rows):
        n = len(c["input"]["yi"])
        y[j, :n], v[j, :n], mask[j, :n] = arr(c["input"]["yi"]), arr(c["input"]["vi"]), 1
    for method in ("PMM", "HSk", "DLIT", "SJIT"):
        both = estimate_tau2(y, v, mask, method).tau2
        alone = [estimate_tau2(y[j:j + 1], v[j:j + 1], mask[j:j + 1], method).tau2[0] for j in range(len(rows))]
        close(both, alone, 1e-12)
    w = np.where(mask > 0, 1 / v, 0.0)
    both = estimate_tau2(y, v, mask, "GENQ", weights=w).tau2
    np.testing.assert_allclose(both, estimate_tau2(y, v, mask, "DL").tau2, rtol=1e-12)  # GENQ(1/v) is DL


def test_codes_are_metafors_and_case_insensitive():
    assert {"PMM", "HSk", "DLIT", "SJIT", "GENQ"} <= set(TAU2_METHODS)
    res = mr.metagen([0.1, 0.5, 0.9], vi=[0.02, 0.03, 0.04], method_tau2="hsk")
    assert res.settings.method_tau2 == "HSk"
    assert "Hunter-Schmidt (small-sample corrected) estimator for τ²" in str(res)


def test_genq_weights_are_required_and_only_for_genq():
    with pytest.raises(mr.SettingsError, match="GENQ estimator of tau² needs user weights"):
        mr.metagen([0.1, 0.5, 0.9], vi=[0.02, 0.03, 0.04], method_tau2="GENQ")
    with pytest.raises(mr.SettingsError, match="apply only to the GENQ estimator"):
        mr.metagen([0.1, 0.5, 0.9], vi=[0.02, 0.03, 0.04], method_tau2="DL", genq_weights=[1, 2, 3])
    with pytest.raises(mr.DataError) as err:
        mr.metagen([0.1, 0.5, 0.9], vi=[0.02, 0.03, 0.04], studlab=["A", "B", "C"], method_tau2="GENQ",
                   genq_weights=[1, 0, 3])
    assert err.value.study == "B" and err.value.column == "genq_weights"


def test_genq_weights_from_a_table_column():
    case = next(c for c in CASES if c["case"] == "bcg_rr_GENQ")
    i = case["input"]
    table = {"yi": i["yi"], "vi": i["vi"], "size": i["n"]}
    res = mr.metaanalysis(table, method_tau2="GENQ", genq_weights="size")
    close(res.pooled["tau2"], case["fit"]["tau2"], 1e-8)
    assert res.update(method_tau2="GENQ").pooled["tau2"] == res.pooled["tau2"]


def test_genq_leave_one_out_uses_the_weights():
    """Leave-one-out with GENQ: each deletion fit is the GENQ fit of the remaining studies."""
    case = next(c for c in CASES if c["case"] == "bcg_rr_GENQ")
    i = case["input"]
    res = mr.metagen(i["yi"], vi=i["vi"], method_tau2="GENQ", genq_weights=i["n"])
    loo = res.leave1out()
    first = mr.metagen(i["yi"][1:], vi=i["vi"][1:], method_tau2="GENQ", genq_weights=i["n"][1:])
    close(loo.to_dict()["rows"][0]["heterogeneity"]["tau2"], first.pooled["tau2"], 1e-12)
