"""Two-group GLMM for odds ratios (conditional model, approximate likelihood) against metafor 3.8-1.

Fixture: tests/fixtures/glmm/or_cmal.json, made by tests/r/make_reference_glmm_or.R with
``rma.glmm(measure = "OR", ai, n1i, ci, n2i, model = "CM.AL")`` (each record keeps its call);
the random-effects fits use a tight bobyqa tolerance inside lme4.  Tolerance 1e-5 (GLMMs).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import metareview as mr
from metareview.cli import main
from metareview.base.exceptions import DataError, SettingsError
from metareview.pooling.glmm import glmm_or

DATA = json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "glmm" / "or_cmal.json").read_text())["datasets"]
TOL = 1e-5


def close(actual, expected):
    np.testing.assert_allclose(float(actual), float(np.ravel(expected)[0]), rtol=TOL, atol=1e-9)


def fit(d, random):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return glmm_or(d["ai"], d["n1i"], d["ci"], d["n2i"], random=random)


@pytest.mark.parametrize("name", sorted(DATA))
@pytest.mark.parametrize("model", ["CE", "ML"])
def test_cm_al_matches_rma_glmm(name, model):
    """rma.glmm(measure = "OR", ai, n1i, ci, n2i, model = "CM.AL"[, method = "FE"])"""
    d = DATA[name]
    R = d[model]
    r = fit(d, random=model == "ML")
    assert r.k == R["k"] and r.q_df == R["QE_df"] and r.measure == "OR"
    for ours, theirs in (("estimate", "beta"), ("se", "se"), ("ci_low", "ci_lb"), ("ci_high", "ci_ub"),
                         ("statistic", "zval"), ("p", "pval"), ("q", "QE_Wld"), ("q_p", "QEp_Wld"),
                         ("q_lrt", "QE_LRT"), ("q_lrt_p", "QEp_LRT"), ("i2", "I2"), ("h2", "H2")):
        close(getattr(r, ours), R[theirs])
    close(r.tau2, R["tau2"]) if model == "ML" else None
    if model == "ML":
        close(r.pred_low, R["pi_lb"])
        close(r.pred_high, R["pi_ub"])


def test_double_zero_table_is_left_out():
    """dat.nielweise2007 has one table without events: rma.glmm's k is 17 of 18, as here."""
    d = DATA["nielweise2007"]
    assert len(d["ai"]) == 18 and fit(d, True).k == 17


def test_metabin_glmm_is_cm_al(tmp_path, capsys):
    d = DATA["bcg"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = mr.metabin(d["ai"], d["n1i"], d["ci"], d["n2i"], method="GLMM")
    close(res.pooled["random_estimate"], d["ML"]["beta"])
    close(res.pooled["common_estimate"], d["CE"]["beta"])
    close(res.pooled["tau2"], d["ML"]["tau2"])
    assert "CM.AL" in str(res)
    path = tmp_path / "bcg.csv"
    rows = ["study,events_e,n_e,events_c,n_c"] + [f"S{i},{a},{n1},{c},{n2}" for i, (a, n1, c, n2) in
                                                  enumerate(zip(d["ai"], d["n1i"], d["ci"], d["n2i"]))]
    path.write_text("\n".join(rows) + "\n")
    assert main(["pool", str(path), "--method", "GLMM", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert "CM.AL" in doc["method_details"]["model"]
    close(doc["random"]["estimate"], d["ML"]["beta"])
    close(doc["method_details"]["q_lrt"], d["ML"]["QE_LRT"])


def test_bad_input():
    with pytest.raises(SettingsError, match="CM.AL"):
        glmm_or([1, 2], [10, 10], [2, 3], [10, 10], model="UM.FS")
    with pytest.raises(DataError, match="study '1', column 'events_e'"):
        glmm_or([1, 12], [10, 10], [2, 3], [10, 10])
    with pytest.raises(DataError, match="no study has an event"):
        glmm_or([0, 0], [10, 10], [0, 0], [10, 10])
    with pytest.raises(SettingsError, match="GLMM"):
        mr.metabin([1, 2], [10, 10], [2, 3], [10, 10], measure="RR", method="GLMM")
