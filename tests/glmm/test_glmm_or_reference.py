"""Two-group GLMMs for odds ratios against metafor 3.8-1's ``rma.glmm(measure = "OR", model = ...)``.

Fixtures: tests/fixtures/glmm/or_cmal.json and or_umfs.json, made by tests/r/make_reference_glmm_or.R
(each record keeps its call); the random-effects fits use a tight bobyqa tolerance inside lme4.
Tolerance 1e-5 (GLMMs).

UM.FS estimates a coefficient per study; lme4 takes its standard error from a Hessian by central
differences with step 1e-4 of a deviance whose conditional modes it solves to 1e-7, which leaves
errors of a few 1e-5 in rma.glmm's ``se`` (2e-5 to 5e-5 here).  The fixture also records
``se_devfun``: the same standard error from lme4's own deviance function at rma.glmm's solution,
differentiated by numDeriv from steps of 0.01.  The standard error is compared with that at 1e-5 and
with rma.glmm's at 1e-4, and so are the quantities made from it (CI, z, p).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import metareview as mr
from metareview.base.exceptions import DataError, SettingsError, SmallSampleWarning
from metareview.cli import main
from metareview.pooling.glmm import GLMM_OR_MODELS, glmm_or

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "glmm"
DATA = {model: json.loads((FIXTURES / f"or_{model.replace('.', '').lower()}.json").read_text())["datasets"]
        for model in ("CM.AL", "UM.FS", "CM.EL")}
UMRS = json.loads((FIXTURES / "or_umrs.json").read_text())["datasets"]
TOL = 1e-5


def close(actual, expected, rtol=TOL, atol=1e-9):
    np.testing.assert_allclose(float(actual), float(np.ravel(expected)[0]), rtol=rtol, atol=atol)


def fit(d, model, random):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return glmm_or(d["ai"], d["n1i"], d["ci"], d["n2i"], model=model, random=random)


CASES = [(model, name, kind) for model in DATA for name in sorted(DATA[model]) for kind in ("CE", "ML")]


def with_devfun_se(R):
    """rma.glmm's UM.FS record with its standard error and what is made from it taken from
    se_devfun (z test and intervals as rma.glmm and predict() make them)."""
    b, se, tau2 = (float(np.ravel(R[key])[0]) for key in ("beta", "se_devfun", "tau2"))
    z = float(stats.norm.ppf(0.975))
    return {**R, "se": se, "zval": b / se, "pval": 2 * stats.norm.sf(abs(b / se)), "ci_lb": b - z * se,
            "ci_ub": b + z * se, "pi_lb": b - z * np.hypot(se, np.sqrt(tau2)),
            "pi_ub": b + z * np.hypot(se, np.sqrt(tau2))}


PAIRS = (("estimate", "beta"), ("se", "se"), ("ci_low", "ci_lb"), ("ci_high", "ci_ub"), ("statistic", "zval"),
         ("p", "pval"), ("q", "QE_Wld"), ("q_p", "QEp_Wld"), ("q_lrt", "QE_LRT"), ("q_lrt_p", "QEp_LRT"),
         ("i2", "I2"), ("h2", "H2"), ("tau2", "tau2"), ("pred_low", "pi_lb"), ("pred_high", "pi_ub"))


@pytest.mark.parametrize("model, name, kind", CASES)
def test_matches_rma_glmm(model, name, kind):
    """rma.glmm(measure = "OR", ai, n1i, ci, n2i, model = MODEL[, method = "FE"])"""
    R = DATA[model][name][kind]
    r = fit(DATA[model][name], model, random=kind == "ML")
    assert r.k == R["k"] and r.q_df == R["QE_df"] and r.measure == "OR" and r.model_glmm == model
    lme4_se = model == "UM.FS" and kind == "ML"
    for ours, theirs in PAIRS:
        if ours.startswith("pred") and kind == "CE":
            continue   # predict() of a common-effect rma.glmm fit has no prediction interval
        # interval limits near 0 (log odds ratio scale): 1e-6 absolute
        close(getattr(r, ours), (with_devfun_se(R) if lme4_se else R)[theirs],
              atol=1e-6 if ours.startswith(("ci", "pred")) else 1e-9)
        if lme4_se and ours in ("se", "ci_low", "ci_high", "statistic"):
            close(getattr(r, ours), R[theirs], rtol=1e-4)   # rma.glmm's own, through lme4's Hessian


def test_models_differ_and_are_offered():
    """The models are different fits (same data, different numbers), all listed."""
    d = DATA["UM.FS"]["bcg"]
    assert GLMM_OR_MODELS == ("UM.FS", "UM.RS", "CM.AL", "CM.EL")
    estimates = [fit(d, model, True).estimate for model in GLMM_OR_MODELS]
    assert min(abs(x - y) for i, x in enumerate(estimates) for y in estimates[i + 1:]) > 1e-3
    assert fit(d, "um.fs", True).model_glmm == "UM.FS"   # codes are case-insensitive


def test_double_zero_table_is_left_out():
    """dat.nielweise2007 has one table without events: rma.glmm's k is 17 of 18, as here, with a warning."""
    d = DATA["UM.FS"]["nielweise2007"]
    assert len(d["ai"]) == 18
    for model in GLMM_OR_MODELS:
        with pytest.warns(SmallSampleWarning, match="1 table without events"):
            assert glmm_or(d["ai"], d["n1i"], d["ci"], d["n2i"], model=model).k == 17


def test_tables_with_events_only_are_left_out():
    """rma.glmm's drop00 also drops tables where everybody had the event (b = d = 0)."""
    a, n1, c, n2 = [4, 6, 3, 12, 5], [50, 60, 40, 100, 5], [9, 12, 8, 20, 7], [50, 60, 40, 100, 7]
    with pytest.warns(SmallSampleWarning, match="events only"):
        r = glmm_or(a, n1, c, n2, model="CM.AL")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert r.k == 4 and r.estimate == glmm_or(a[:4], n1[:4], c[:4], n2[:4], model="CM.AL").estimate


@pytest.mark.parametrize("model", sorted(DATA))     # UM.RS: test_glmm_umrs_reference.py
def test_metabin_glmm(model, tmp_path, capsys):
    """metabin(method = "GLMM", model.glmm = MODEL) and `metareview pool --method GLMM --model-glmm MODEL`."""
    d = DATA[model]["bcg"]
    args = {} if model == "UM.FS" else {"model_glmm": model}   # UM.FS is the default, as in R meta
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = mr.metabin(d["ai"], d["n1i"], d["ci"], d["n2i"], method="GLMM", **args)
    close(res.pooled["random_estimate"], d["ML"]["beta"])
    close(res.pooled["common_estimate"], d["CE"]["beta"])
    close(res.pooled["tau2"], d["ML"]["tau2"])
    points = 21 if model == "CM.EL" else 7   # CM.EL integrates to full precision, as rma.glmm
    assert res.settings.model_glmm == model and f"GLMM, {model}; maximum likelihood, adaptive Gauss-Hermite " \
        f"quadrature with {points} point(s)" in str(res)
    path = tmp_path / "bcg.csv"
    rows = ["study,events_e,n_e,events_c,n_c"] + [f"S{i},{a},{n1},{c},{n2}" for i, (a, n1, c, n2) in
                                                  enumerate(zip(d["ai"], d["n1i"], d["ci"], d["n2i"]))]
    path.write_text("\n".join(rows) + "\n")
    extra = [] if model == "UM.FS" else ["--model-glmm", model]
    assert main(["pool", str(path), "--method", "GLMM", "--json"] + extra) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["method_details"]["model_glmm"] == model and model in doc["method_details"]["model"]
    assert doc["settings"]["model_glmm"] == model
    close(doc["random"]["estimate"], d["ML"]["beta"])
    close(doc["method_details"]["q_lrt"], d["ML"]["QE_LRT"])


def test_bad_input(capsys, tmp_path):
    with pytest.raises(SettingsError, match="UM.FS, UM.RS, CM.AL, CM.EL"):
        glmm_or([1, 2], [10, 10], [2, 3], [10, 10], model="UM.XX")
    with pytest.raises(DataError, match="study '1', column 'events_e'"):
        glmm_or([1, 12], [10, 10], [2, 3], [10, 10])
    with pytest.raises(DataError, match="odds ratio cannot be estimated"):
        glmm_or([0, 0], [10, 10], [0, 0], [10, 10])
    for model in GLMM_OR_MODELS:   # separation: no finite estimate in any model
        with pytest.raises(DataError, match="column 'events_c'.*no events in the control group of any study"):
            glmm_or([3, 5, 2], [50, 60, 40], [0, 0, 0], [50, 60, 40], model=model)
        with pytest.raises(DataError, match="column 'events_e'.*only events in the experimental group"):
            glmm_or([50, 60, 2], [50, 60, 2], [3, 5, 1], [50, 60, 4], model=model)
    with pytest.raises(SettingsError, match="GLMM"):
        mr.metabin([1, 2], [10, 10], [2, 3], [10, 10], measure="RR", method="GLMM")
    with pytest.raises(SettingsError, match="model_glmm"):      # not accepted and ignored
        mr.metabin([1, 2], [10, 10], [2, 3], [10, 10], model_glmm="CM.AL")
    with pytest.raises(SettingsError, match="model_glmm"):
        mr.metaprop([1, 2], [10, 10], method="GLMM", model_glmm="CM.AL")
    with pytest.raises(SettingsError, match="n_agq does not apply"):
        glmm_or([1, 2], [10, 10], [2, 3], [10, 10], model="CM.EL", n_agq=9)
    with pytest.raises(SettingsError, match="n_agq does not apply"):
        mr.metabin([1, 2], [10, 10], [2, 3], [10, 10], method="GLMM", model_glmm="CM.EL", n_agq=9)
    with pytest.raises(SettingsError, match="valid values are: UM.FS, UM.RS, CM.AL, CM.EL"):
        mr.metabin([1, 2], [10, 10], [2, 3], [10, 10], method="GLMM", model_glmm="XX")
    path = tmp_path / "t.csv"
    path.write_text("study,events_e,n_e,events_c,n_c\nA,1,10,2,10\nB,2,10,3,10\n")
    assert main(["pool", str(path), "--method", "GLMM", "--model-glmm", "UM.XX"]) == 2
    err = capsys.readouterr().err
    assert "UM.RS" in err and "Traceback" not in err


def test_tables_left_out_are_named_when_allstudies_lets_them_through():
    d = DATA["UM.FS"]["nielweise2007"]
    labels = [f"S{i}" for i in range(18)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = mr.metabin(d["ai"], d["n1i"], d["ci"], d["n2i"], labels, method="GLMM", allstudies=True)
    assert any("left out of the GLMM" in n and n.endswith(": S14") for n in res.notes)
    close(res.pooled["random_estimate"], d["ML"]["beta"])
