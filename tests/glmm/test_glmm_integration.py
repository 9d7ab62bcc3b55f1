"""GLMM, Mantel-Haenszel and Peto through the API, the result type and the CLI's JSON."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest

from metareview.api.meta import metabin, metaprop
from metareview.api.result import MetaResult
from metareview.base.exceptions import SettingsError, SmallSampleWarning
from metareview.cli import main
from metareview.pooling.glmm import glmm_proportion
from metareview.pooling.mh import mantel_haenszel
from metareview.pooling.peto import peto

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "glmm"
X = [8, 26, 26, 6, 109, 14, 13, 16, 6, 22, 7, 72, 16, 32, 63, 8, 16, 13, 18, 11]
N = [10, 31, 30, 9, 140, 17, 18, 21, 6, 23, 11, 112, 22, 32, 72, 11, 18, 17, 25, 11]


def _expit(v):
    return 1 / (1 + math.exp(-v))


def test_metaprop_glmm_gives_meta_default_result():
    """meta 4.9-6 ``metaprop(event, n)`` (GLMM): 0.8189 (0.7604-0.8656); metafor's values."""
    r = metaprop(X, N, method="GLMM")
    assert isinstance(r, MetaResult)
    d = r.to_dict()
    assert d["method"] == "GLMM" and d["method_tau2"] == "ML" and d["settings"]["n_agq"] == 7
    bt = d["backtransformed"]["random"]
    assert [round(bt[k], 4) for k in ("estimate", "ci_low", "ci_high")] == [0.8189, 0.7604, 0.8656]
    ref = json.loads((FIX / "glmm_plo.json").read_text())["datasets"]["seed_tr"]["fits"]
    assert d["random"]["estimate"] == pytest.approx(ref["ML_nAGQ7_default"]["beta"], rel=1e-5)
    assert d["common"]["estimate"] == pytest.approx(ref["CE"]["beta"], rel=1e-8)
    assert d["common"]["se"] == pytest.approx(ref["CE"]["se"], rel=1e-8)
    het = d["heterogeneity"]
    assert het["q"] == pytest.approx(ref["CE"]["QE_Wld"], rel=2e-5)
    assert het["i2"] == pytest.approx(ref["ML_nAGQ7_default"]["I2"], rel=5e-5)
    assert het["tau2"] == pytest.approx(ref["ML_nAGQ7_default"]["tau2"], rel=5e-5)
    md = d["method_details"]
    assert md["q_lrt"] == pytest.approx(ref["CE"]["QE_LRT"], rel=1e-8) and md["converged"]
    # single proportions: no test of the pooled value, no study weights (as meta)
    assert d["random"]["p"] is None and all(s["weight_random"] is None for s in d["studies"])
    # metafor/meta 4.9-6 prediction interval for GLMMs is z-based
    rz = metaprop(X, N, method="GLMM", prediction="z").to_dict()
    assert rz["prediction"]["low"] == pytest.approx(ref["ML_nAGQ7_default"]["pi_lb"], rel=5e-5)
    text = str(r)
    assert "Wald-type" in text and "Likelihood-Ratio" in text and "Gauss-Hermite" in text


def test_metaprop_glmm_options():
    r1 = metaprop(X, N, method="glmm", n_agq=1)
    assert r1.settings.method == "GLMM" and r1.settings.n_agq == 1
    assert r1.pooled["random_estimate"] == pytest.approx(glmm_proportion(X, N, n_agq=1).estimate)
    rq = metaprop(X, N, method="GLMM", i2_method="q")
    q = rq.pooled["q"]
    assert rq.pooled["i2"] == pytest.approx(100 * (q - 19) / q, rel=1e-12)
    with pytest.raises(SettingsError):
        metaprop(X, N, method="GLMM", method_tau2="DL")
    with pytest.raises(SettingsError):
        metaprop(X, N, method="GLMM", measure="PFT")
    with pytest.raises(SettingsError):
        metaprop(X, N, n_agq=3)  # quadrature points mean nothing for inverse variance
    with pytest.raises(SettingsError):
        metaprop(X, N, method="MH")
    with pytest.raises(SettingsError):
        metaprop(X, N, method="REML")


def test_glmm_result_refuses_inverse_variance_repooling():
    from metareview.analyses.sensitivity import leave1out
    with pytest.raises(SettingsError):
        leave1out(metaprop(X, N, method="GLMM"))


@pytest.mark.parametrize("name", ["bcg", "nielweise2007", "li2007"])
def test_metabin_mh_and_peto_match_r(name):
    d = json.loads((FIX / "mh.json").read_text())["datasets"][name]
    args = (d["ai"], d["n1i"], d["ci"], d["n2i"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for m in ("OR", "RR", "RD"):
            for style in ("meta", "metafor"):
                r = metabin(*args, measure=m, method="MH", incr_style=style).to_dict()
                ref = d["fits"][f"{m}_{style}"]
                assert r["common"]["estimate"] == pytest.approx(ref["beta"], rel=1e-8)
                assert r["common"]["se"] == pytest.approx(ref["se"], rel=1e-8)
                assert r["heterogeneity"]["q"] == pytest.approx(ref["QE"], rel=1e-8)
                assert r["method_details"]["method"] == "MH"
        r = metabin(*args, method="Peto").to_dict()
    ref = json.loads((FIX / "peto.json").read_text())["datasets"][name]["fit"]
    assert r["common"]["estimate"] == pytest.approx(ref["beta"], rel=1e-8)
    assert r["common"]["se"] == pytest.approx(ref["se"], rel=1e-8)
    assert r["heterogeneity"]["q"] == pytest.approx(ref["QE"], rel=1e-8)
    assert r["heterogeneity"]["df"] == ref["k_yi"] - 1
    assert sum(s["weight_common"] for s in r["studies"] if s["weight_common"]) == pytest.approx(100)


def test_metabin_mh_weights_and_random_effects():
    d = json.loads((FIX / "mh.json").read_text())["datasets"]["bcg"]
    args = (d["ai"], d["n1i"], d["ci"], d["n2i"])
    r = metabin(*args, method="MH")
    iv = metabin(*args)
    direct = mantel_haenszel(*args)
    np.testing.assert_allclose(r.pooled["weight_common"], direct.weights, rtol=1e-12)
    # random effects: the inverse-variance model of the same study estimates; the DL tau²
    # comes from Q about the MH estimate (RevMan, R meta), other estimators use the
    # study estimates alone
    assert r.pooled["tau2"] != pytest.approx(iv.pooled["tau2"], rel=1e-6)
    assert r.pooled["q"] == pytest.approx(direct.q, rel=1e-12)
    reml = metabin(*args, method="MH", method_tau2="REML")
    iv_reml = metabin(*args, method_tau2="REML")
    assert reml.pooled["random_estimate"] == pytest.approx(iv_reml.pooled["random_estimate"], rel=1e-12)
    assert r.pooled["common_estimate"] != pytest.approx(iv.pooled["common_estimate"], rel=1e-6)
    p = metabin(*args, method="Peto")
    assert p.pooled["common_estimate"] == pytest.approx(peto(*args).estimate, rel=1e-12)
    with pytest.raises(SettingsError):
        metabin(*args, method="Peto", measure="RR")
    with pytest.raises(SettingsError):
        metabin(*args, method="MH", method_incr="all")
    with pytest.raises(SettingsError):       # odds ratios only (conditional model CM.AL)
        metabin(*args, method="GLMM", measure="RR")


def test_cli_pool_methods(tmp_path, capsys):
    csv = tmp_path / "tr.csv"
    csv.write_text("study,events,n\n" + "".join(f"S{i},{a},{b}\n" for i, (a, b) in enumerate(zip(X, N))))
    assert main(["pool", str(csv), "--method", "GLMM", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    for key in ("k", "measure", "method_tau2", "level", "common", "random", "prediction",
                "heterogeneity", "backtransformed", "studies"):
        assert key in d
    assert d["method"] == "GLMM" and round(d["backtransformed"]["random"]["estimate"], 4) == 0.8189
    assert main(["pool", str(csv), "--method", "GLMM", "--n-agq", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["method_details"]["n_agq"] == 1
    assert main(["pool", str(csv), "--method", "GLMM", "--method-tau2", "DL"]) == 2
    assert "maximum likelihood" in capsys.readouterr().err
    bin_csv = tmp_path / "bcg.csv"
    d = json.loads((FIX / "mh.json").read_text())["datasets"]["bcg"]
    bin_csv.write_text("study,events_e,n_e,events_c,n_c\n" + "".join(
        f"T{i},{a},{n1},{c},{n2}\n" for i, (a, n1, c, n2) in
        enumerate(zip(d["ai"], d["n1i"], d["ci"], d["n2i"]))))
    for method, key in (("MH", "OR_meta"), ("Peto", None)):
        assert main(["pool", str(bin_csv), "--method", method, "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["method"] == method
        if key:
            assert out["common"]["estimate"] == pytest.approx(d["fits"][key]["beta"], rel=1e-8)
    assert main(["pool", str(bin_csv), "--method", "MH"]) == 0
    assert "Mantel-Haenszel" in capsys.readouterr().out


def test_glmm_analysis_runs_no_inverse_variance_kernel(monkeypatch):
    """A GLMM replaces every value of the inverse-variance kernel, and rma.glmm fits no inverse-variance
    model: the analysis does not run the kernel; k counts the studies pooled, and a single study gets a
    note of its own (no Q to report)."""
    import metareview.api.meta as meta

    def refuse(*args, **kwargs):
        raise AssertionError("the inverse-variance kernel was run for a GLMM")

    monkeypatch.setattr(meta, "pool_one", refuse)
    r = metaprop(X, N, method="GLMM", exclude=[2, 5])
    assert r.pooled["k"] == r.k == len(X) - 2
    fit = glmm_proportion([x for i, x in enumerate(X) if i not in (2, 5)],
                          [n for i, n in enumerate(N) if i not in (2, 5)])
    assert r.pooled["random_estimate"] == fit.estimate and r.pooled["tau2"] == fit.tau2
    assert np.isnan(r.pooled.weight_random).all()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        one = metaprop([5], [20], method="GLMM")
    for start in ("only one study: tau² = 0", "k = 1: tau² cannot be estimated"):
        assert sum(n.startswith(start) for n in one.notes) == 1
        assert sum(str(w.message).startswith(start) and w.category is SmallSampleWarning for w in caught) == 1
    assert one.pooled["k"] == 1
    # a GLMM of one study has no Q: its note does not claim one
    assert np.isnan(one.pooled["q"])
    assert any("no test of heterogeneity" in n for n in one.notes)
    assert not any("Q = 0" in n for n in one.notes)
    monkeypatch.undo()
    # the inverse-variance analysis of the same data runs it (the refusal above is what was tested)
    original, calls = meta.pool_one, []

    def counted(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(meta, "pool_one", counted)
    metaprop(X, N)
    assert calls


@pytest.mark.parametrize("prediction,df", [("t", len(X) - 2), ("z", None), ("v", len(X) - 1)])
def test_glmm_prediction_interval_is_computed_on_first_read(prediction, df):
    """rma.glmm leaves the prediction interval to predict(): a GLMM analysis computes it when it is
    first read, mu ± q sqrt(se² + tau²) with the quantile ``prediction`` asks for."""
    from scipy import stats

    from metareview.base.deferred import Deferred
    r = metaprop(X, N, method="GLMM", prediction=prediction)
    assert type(r.pooled._prediction) is Deferred
    q = stats.norm.ppf(0.975) if df is None else stats.t.ppf(0.975, df)
    half = q * math.sqrt(r.pooled["random_se"] ** 2 + r.pooled["tau2"])
    got = r.pooled.prediction
    assert got.low == pytest.approx(r.pooled["random_estimate"] - half, rel=1e-12)
    assert got.high == pytest.approx(r.pooled["random_estimate"] + half, rel=1e-12)
    assert type(r.pooled._prediction) is not Deferred and r.pooled.prediction is got
