"""Every tau² estimator of the table with moderators, against metafor 3.8-1's ``rma.uni``.

Fixture ``tests/fixtures/analyses/metareg_estimators.json`` from ``tests/r/make_reference_estimators.R``
(the R call of each case in its ``r_call``), e.g.
``rma(yi, vi, mods = ~ ablat + factor(alloc), data = dat, method = "PMM", test = "knha",
control = list(threshold = 1e-12, maxiter = 10000, tol = 1e-12, tau2.max = 1e6))`` on dat.bcg.
Tolerance 1e-8 for the closed forms, 1e-6 for the iterative estimators (the table says which).
GENQ (weights = n): tau² and R² from the weighted fit, the rest from metafor's refit with that tau²
(``iv_call``), as metareview weights the coefficients by 1/(v + tau²).
"""

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import metareview as mr
from metareview.analyses.metareg import METAREG_TAU2, metareg
from metareview.analyses.subgroups import subgroup
from metareview.pooling.tau2 import ESTIMATORS

from ._reference import close

FIXTURE = json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "analyses"
                      / "metareg_estimators.json").read_text())
DATA = FIXTURE["data"]
CASES = FIXTURE["cases"]


def _result(method: str):
    kw = {"genq_weights": np.array(DATA["n"], float)} if method == "GENQ" else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mr.metagen(np.array(DATA["yi"], float), vi=np.array(DATA["vi"], float), studlab=DATA["study"],
                          method_tau2=method, covariates=DATA["covariates"], **kw)


def test_every_estimator_of_the_table_is_checked_with_moderators():
    assert {c["method"] for c in CASES} == set(ESTIMATORS)
    assert set(METAREG_TAU2) == set(ESTIMATORS) | {"FE"}


@pytest.mark.parametrize("case", CASES, ids=[c["case"] for c in CASES])
def test_metareg_estimator_matches_metafor(case):
    method = case["method"]
    m = metareg(_result(method), case["formula"], method_tau2=method, test=case["test"])
    t = 1e-6 if ESTIMATORS[method].iterative else 1e-8
    f = m.fit
    assert f.converged
    close(f.tau2, case["tau2"], t, "tau2")
    co = case["coefficients"]
    assert list(f.names) == co["names"]
    for key in ("estimate", "se", "statistic", "p", "ci_low", "ci_high"):
        close(getattr(f, {"estimate": "beta"}.get(key, key)), co[key], t, key)
    for key in ("qm", "qm_p", "qe", "qe_p", "i2", "h2"):
        close(getattr(f, key), case[key], t, key)
    close(m.r2, case["r2"], t, "R2")


@pytest.mark.parametrize("case", [c for c in CASES if c["formula"] == "~ factor(alloc)" and c["test"] == "z"],
                         ids=lambda c: c["method"])
def test_subgroups_common_tau2_is_the_estimators_fit_with_the_factor(case):
    """subgroup(..., tau_common=True): tau² of rma(yi, vi, mods = ~ factor(alloc), method)."""
    method = case["method"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sg = subgroup(_result(method), "alloc", tau_common=True)
    close(sg.tau2_common, case["tau2"], 1e-6 if ESTIMATORS[method].iterative else 1e-8, "common tau2")
