"""Loading the R reference fixtures of tests/fixtures/analyses (made by tests/r/make_reference_analyses.R)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np

import metareview as mr

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "analyses"

#: Tolerances: closed-form estimators (FE, DL, HE, HS, SJ) 1e-8; iterative ones (PM, ML, REML, EB) 1e-6.
CLOSED_FORM = {"FE", "DL", "HE", "HS", "SJ"}


def tol(method: str) -> float:
    return 1e-8 if method.upper() in CLOSED_FORM else 1e-6


def load(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def cases(name: str) -> list[dict]:
    return load(name)["cases"]


DATASETS = load("datasets")["datasets"]


def result(dataset: str, method: str = "DL", test: str = "z", **kwargs):
    """The dataset pooled from the fixture's yi/vi with metareview (generic estimates)."""
    d = DATASETS[dataset]
    method_tau2 = "DL" if method == "FE" else method
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mr.metagen(np.array(d["yi"], float), vi=np.array(d["vi"], float), studlab=d["study"],
                          method_tau2=method_tau2, random_ci="hk" if test == "knha" else "wald",
                          covariates=d["covariates"], **kwargs)


def close(actual, expected, t, what=""):
    """Compare where R gives a number; a None in the fixture must be NaN/None here."""
    exp = np.array([np.nan if e is None else e for e in np.atleast_1d(expected)], float)
    act = np.array([np.nan if a is None else a for a in np.atleast_1d(actual)], float)
    assert act.shape == exp.shape, f"{what}: shape {act.shape} vs {exp.shape}"
    np.testing.assert_allclose(act, exp, rtol=t, atol=t, equal_nan=True, err_msg=what)
