"""The seed paper's analyses against R meta 4.9-6.

Reference values: ../shared/reference/seed-analyses.md (R 4.2.2, meta 4.9-6), copied
here with their R calls.  Relative tolerance 1e-8 (DerSimonian-Laird: closed form).
"""

import csv
from pathlib import Path

import numpy as np
import pytest

import metareview as mr

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def read(name):
    with open(FIXTURES / name, newline="") as fh:
        return list(csv.DictReader(fh))


def close(a, e, rtol=1e-8):
    np.testing.assert_allclose(np.asarray(a, float), np.asarray(e, float), rtol=rtol, atol=1e-12)


@pytest.fixture(scope="module")
def tr():
    """metaprop(event, n, method = "Inverse", sm = "PLOGIT", method.tau = "DL")"""
    rows = read("seed_tr.csv")
    return mr.metaprop([r["events"] for r in rows], [r["n"] for r in rows], [r["study"] for r in rows])


def test_treatment_response_pooled(tr):
    d = tr.to_dict()
    close([d["common"]["estimate"], d["common"]["ci_low"], d["common"]["ci_high"]],
          [1.1681621791, 0.9723969867, 1.3639273715])
    close([d["random"]["estimate"], d["random"]["ci_low"], d["random"]["ci_high"]],
          [1.3025724089, 1.0085225363, 1.5966222815])
    bt = d["backtransformed"]
    close([bt["common"]["estimate"], bt["common"]["ci_low"], bt["common"]["ci_high"]],
          [0.7628126603, 0.7255970102, 0.7963972571])
    close([bt["random"]["estimate"], bt["random"]["ci_low"], bt["random"]["ci_high"]],
          [0.7862675969, 0.7327309077, 0.8315457728])
    close([d["prediction"]["low"], d["prediction"]["high"]], [0.4565810021, 2.1485638157])
    close([bt["prediction"]["low"], bt["prediction"]["high"]], [0.6122027821, 0.8955344946])
    # meta reports no test for a single proportion
    assert d["random"]["p"] is None and d["common"]["statistic"] is None


def test_treatment_response_heterogeneity(tr):
    h = tr.to_dict()["heterogeneity"]
    close([h["tau2"], h["tau"], h["i2"] / 100, h["i2_ci_low"] / 100, h["i2_ci_high"] / 100],
          [0.1396397002, 0.3736839576, 0.3867681485, 0.0, 0.6411015636])
    close([h["q"], h["df"], h["p"]], [30.9833873677, 19, 0.0405426035])
    close([h["h"], h["h_ci_low"], h["h_ci_high"]], [1.2769904457, 1.0, 1.6692224492])


def test_treatment_response_studies(tr):
    studies = tr.to_dict()["studies"]
    close([s["weight_random"] for s in studies], [
        2.9436689449, 5.9530250352, 5.2577426466, 3.5189281385, 12.4306639738, 4.1345325198, 5.4033779857,
        5.5971746596, 0.9814083377, 1.8992971637, 4.2269661668, 12.6077629991, 6.1030566222, 1.0370608540,
        8.4420292194, 3.7641264962, 3.2056955886, 4.8243157190, 6.6582759030, 1.0108910261])
    close([s["backtransformed"]["ci_low"] for s in studies], [
        0.4439045377, 0.6627284150, 0.6927816497, 0.2992950562, 0.7006666165, 0.5656821272, 0.4651980344,
        0.5283401723, 0.5407418736, 0.7805133925, 0.3079047150, 0.5467953158, 0.4977787987, 0.8911188393,
        0.7759280643, 0.3902574404, 0.6528795614, 0.5010067268, 0.5061231782, 0.7150858471])
    close([s["backtransformed"]["ci_high"] for s in studies], [
        0.9747892737, 0.9454756738, 0.9624465037, 0.9251453686, 0.8443188720, 0.9620149319, 0.9030507875,
        0.9178241244, 1.0000000000, 0.9988998314, 0.8907365562, 0.7311603731, 0.8927107516, 1.0000000000,
        0.9412166829, 0.9397822658, 0.9862487843, 0.9318922596, 0.8792833115, 1.0000000000])


def test_without_paediatric_study(tr):
    """update(tr, subset = studlab != "Wang B"): the paper's sensitivity analysis."""
    d = tr.update(subset=[s != "Wang B" for s in tr.studlab]).to_dict()
    bt = d["backtransformed"]
    close([bt["random"]["estimate"], bt["random"]["ci_low"], bt["random"]["ci_high"]],
          [0.7807068757, 0.7249375923, 0.8278539284])
    close([bt["common"]["estimate"], bt["common"]["ci_low"], bt["common"]["ci_high"]],
          [0.7582217775, 0.7198492938, 0.7928508292])
    assert d["k"] == 19
    # exclude= gives the same pooled numbers but keeps the study in the table
    e = tr.update(exclude=["Wang B"]).to_dict()
    close(e["backtransformed"]["random"]["estimate"], 0.7807068757)
    assert e["k"] == 19 and e["k_all"] == 20 and e["studies"][2]["excluded"]


def test_pain_three_months():
    """metacont(n, mean_3mo, sd_3mo, n, mean_baseline, sd_baseline, sm = "MD", method.tau = "DL")"""
    rows = read("seed_pain3.csv")
    col = lambda c: [r[c] for r in rows]  # noqa: E731
    res = mr.metaprepost(col("n"), col("mean_pre"), col("sd_pre"), col("mean_post"), col("sd_post"), col("study"))
    d = res.to_dict()
    close([d["random"]["estimate"], d["random"]["ci_low"], d["random"]["ci_high"]],
          [-4.3832095169, -5.0251143056, -3.7413047282])
    close([d["common"]["estimate"], d["common"]["ci_low"], d["common"]["ci_high"]],
          [-4.1615470752, -4.4050188383, -3.9180753120])
    close([d["heterogeneity"]["tau2"], d["heterogeneity"]["i2"] / 100], [1.4470295013, 0.8346100930])
    # the same data as two independent groups through metacont
    two = mr.metacont(col("n"), col("mean_post"), col("sd_post"), col("n"), col("mean_pre"), col("sd_pre"))
    close(two.pooled["random_estimate"], -4.3832095169)
