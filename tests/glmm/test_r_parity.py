"""Mantel-Haenszel random effects, zero MH variance and studies with a missing cell, against R.

Mantel-Haenszel random effects against R meta 4.9-6 (meta is not installed here; the
values are from ../shared/reference/mh-random-effects.md, copied below with the R calls
that printed them).  The data are metadat's, in ``tests/fixtures/glmm/mh.json``::

    d <- dat.egger2001
    metabin(ai, n1i, ci, n2i, data = d, studlab = study, sm = "OR", method = "MH", method.tau = "DL")
    d <- dat.nielweise2007
    metabin(ai, n1i, ci, n2i, data = d, studlab = study, sm = "RR", method = "MH", method.tau = "DL")
    metabin(ai, n1i, ci, n2i, data = d, studlab = study, sm = "OR", method = "MH", method.tau = "DL")

Zero MH variance and missing cells against metafor 3.8-1, fixtures written by
``Rscript tests/r/make_reference_glmm.R`` (``mh_degenerate.json``: ``rma.mh(measure, ai,
n1i, ci, n2i)`` on tables without events, with events only, and with every event in one
group; ``missing.json``: ``rma(yi, vi, method = "DL")`` under ``options(na.action = "na.omit")`` and
``rma.mh(...)``, which omits studies with NAs, with one cell set to NA).  Closed forms: 1e-8.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest

import metareview as mr
from metareview.base.exceptions import DataError, MetaReviewWarning
from metareview.cli import main
from metareview.pooling.mh import mantel_haenszel

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "glmm"
RTOL = 1e-8

# name -> (dataset in mh.json, measure, R meta 4.9-6 values)
META_MH_RANDOM = {
    "egger2001_OR": ("egger2001", "OR", dict(
        k=16, common=(0.00607123953312, 0.0303489854433, -0.0534116789031, 0.0655541579694),
        random=(-0.727963363454, 0.196453875118, -1.11300588331, -0.3429208436),
        tau2=0.224448592718, q=47.1403307963, q_p=3.49615682755e-05, i2=0.681801129805)),
    "nielweise2007_RR": ("nielweise2007", "RR", dict(
        k=17, common=(-1.11830661832, 0.210163019622, -1.53021856766, -0.70639466898),
        random=(-0.925730320794, 0.23031818175, -1.37714566201, -0.47431497958),
        tau2=0.0, q=15.890100466, q_p=0.460657033894, i2=0.0)),
    "nielweise2007_OR": ("nielweise2007", "OR", dict(
        k=17, common=(-1.14857722594, 0.214430435836, -1.56885315737, -0.728301294513),
        random=(-0.976507502336, 0.241429379761, -1.44970039148, -0.503314613194),
        tau2=0.0252076652747, q=16.4063979805, q_p=0.424974826401, i2=0.0247707010998)),
}


def _tables():
    return json.loads((FIX / "mh.json").read_text())["datasets"]


@pytest.mark.parametrize("case", sorted(META_MH_RANDOM))
def test_mh_random_effects_as_r_meta(case):
    name, measure, ref = META_MH_RANDOM[case]
    d = _tables()[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = mr.metabin(d["ai"], d["n1i"], d["ci"], d["n2i"], measure=measure, method="MH")
    p = r.pooled
    assert r.k == ref["k"]
    got_common = (p["common_estimate"], p["common_se"], p["common_ci_low"], p["common_ci_high"])
    got_random = (p["random_estimate"], p["random_se"], p["random_ci_low"], p["random_ci_high"])
    np.testing.assert_allclose(got_common, ref["common"], rtol=RTOL)
    np.testing.assert_allclose(got_random, ref["random"], rtol=RTOL)
    assert p["tau2"] == pytest.approx(ref["tau2"], rel=RTOL, abs=1e-14)
    assert p["q"] == pytest.approx(ref["q"], rel=RTOL)
    assert p["q_p"] == pytest.approx(ref["q_p"], rel=RTOL)
    assert p["i2"] / 100 == pytest.approx(ref["i2"], rel=RTOL, abs=1e-14)
    assert "about the Mantel-Haenszel estimate" in r.to_dict()["method_details"]["random_effects"]


def test_mh_random_effects_differ_from_inverse_variance_tau2():
    # the previous rule (tau² from Q about the inverse-variance estimate) is 2.5e-3 off (relative)
    d = _tables()["egger2001"]
    args = (d["ai"], d["n1i"], d["ci"], d["n2i"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mh = mr.metabin(*args, method="MH")
        iv = mr.metabin(*args)
    assert abs(mh.pooled["tau2"] / iv.pooled["tau2"] - 1) > 1e-3
    # Hartung-Knapp and the prediction interval use the same tau²
    hk = mh.update(random_ci="hk")
    assert hk.pooled["tau2"] == pytest.approx(mh.pooled["tau2"], rel=1e-14)
    assert hk.pooled["random_estimate"] == pytest.approx(mh.pooled["random_estimate"], rel=1e-14)


def test_tau2_center_only_for_dl():
    from metareview.base.exceptions import SettingsError
    from metareview.pooling.inverse_variance import pool_arrays
    with pytest.raises(SettingsError, match="DerSimonian-Laird"):
        pool_arrays([0.1, 0.3], [0.1, 0.2], method_tau2="REML", tau2_center=0.0)
    # about the common estimate itself, the centre changes nothing
    y, v = np.array([0.1, 0.5, -0.2]), np.array([0.04, 0.09, 0.05])
    plain = pool_arrays(y, v).row(0)
    same = pool_arrays(y, v, tau2_center=plain["common_estimate"]).row(0)
    assert same["tau2"] == pytest.approx(plain["tau2"], rel=1e-12)


# ------------------------------------------------------------------ zero MH variance

def _degenerate():
    data = json.loads((FIX / "mh_degenerate.json").read_text())["datasets"]
    for name, d in data.items():
        for measure, ref in d["fits"].items():
            yield pytest.param(d, measure, ref, id=f"{name}-{measure}")


@pytest.mark.parametrize("d,measure,ref", list(_degenerate()))
def test_zero_mh_variance_as_metafor(d, measure, ref):
    args = (d["ai"], d["n1i"], d["ci"], d["n2i"])
    if ref["beta_is_na"]:
        # rma.mh returns NA: a one-line error naming the rule
        with pytest.raises(DataError, match="Mantel-Haenszel") as err:
            mantel_haenszel(*args, measure=measure, convention="metafor")
        assert err.value.rule == f"MH {'odds' if measure == 'OR' else 'risk'} ratio finite"
        return
    with pytest.warns(MetaReviewWarning, match="variance is zero"):
        r = mantel_haenszel(*args, measure=measure, convention="metafor")
    assert ref["se_is_zero"] and r.se == 0.0
    assert r.estimate == pytest.approx(ref["beta"], abs=1e-15)
    assert r.ci_low == r.ci_high == pytest.approx(ref["ci_lb"], abs=1e-15)
    # metafor: z = beta/0 (NaN at 0, infinite otherwise, written as null), p from it
    assert not math.isfinite(r.statistic)
    assert (math.isnan(r.p) and ref["pval"] is None) or r.p == ref["pval"]
    assert r.q == pytest.approx(ref["QE"], rel=RTOL)
    assert r.q_p == pytest.approx(ref["QEp"], rel=RTOL)
    assert r.i2 == pytest.approx(ref["I2"], rel=RTOL, abs=1e-12)


def test_zero_mh_variance_through_the_api_and_cli(tmp_path, capsys):
    d = json.loads((FIX / "mh_degenerate.json").read_text())["datasets"]["no_events"]
    with pytest.warns(MetaReviewWarning):
        r = mr.metabin(d["ai"], d["n1i"], d["ci"], d["n2i"], measure="RD", method="MH",
                       incr_style="metafor")
    assert r.pooled["common_se"] == 0.0 and r.pooled["common_estimate"] == 0.0
    assert r.to_dict()["common"]["p"] is None
    assert "variance is zero" in " ".join(r.notes)
    str(r)  # prints without dividing by zero
    csv = tmp_path / "zero.csv"
    csv.write_text("study,events_e,n_e,events_c,n_c\n" + "".join(
        f"S{i},{a},{n1},{c},{n2}\n" for i, (a, n1, c, n2) in
        enumerate(zip(d["ai"], d["n1i"], d["ci"], d["n2i"]))))
    assert main(["pool", str(csv), "--method", "MH", "--measure", "RD", "--incr-style", "metafor"]) == 0
    capsys.readouterr()
    assert main(["pool", str(csv), "--method", "MH", "--measure", "OR", "--incr-style", "metafor"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no study has events" in err
    with pytest.raises(DataError, match=r"undefined \(0/0\)"):
        mr.metabin(d["ai"], d["n1i"], d["ci"], d["n2i"], method="MH", incr_style="metafor",
                   allstudies=True)


# ------------------------------------------------------------------ a missing cell

def _missing():
    return json.loads((FIX / "missing.json").read_text())["datasets"]


def test_missing_cell_kept_in_table_not_pooled_as_metafor_na_omit():
    d = _missing()["bcg_or"]
    ai = [None if v is None else v for v in d["ai"]]
    with pytest.warns(MetaReviewWarning, match="missing") as rec:
        r = mr.metabin(ai, d["n1i"], d["ci"], d["n2i"], studlab=d["study"])
    miss = d["study"][d["missing_study"] - 1]
    msg = " ".join(str(w.message) for w in rec)
    assert miss in msg and "events_e" in msg
    ref = d["fit"]
    p = r.pooled
    assert r.k == ref["k"] and r.k_all == ref["k_all"]
    np.testing.assert_array_equal(r.included, ref["not_na"])
    for ours, theirs in (("random_estimate", "beta"), ("random_se", "se"), ("random_ci_low", "ci_lb"),
                         ("random_ci_high", "ci_ub"), ("tau2", "tau2"), ("q", "QE"), ("q_p", "QEp"),
                         ("i2", "I2")):
        assert p[ours] == pytest.approx(ref[theirs], rel=RTOL), ours
    # study table: the study is there, without an estimate
    yi = np.array([np.nan if v is None else v for v in d["yi"]])
    np.testing.assert_allclose(r.yi, yi, rtol=RTOL)
    row = r.to_dict()["studies"][d["missing_study"] - 1]
    assert row["study"] == miss and row["yi"] is None and row["weight_random"] == 0.0
    assert any(miss in n and "events_e" in n for n in r.notes)
    text = str(r)
    assert miss in text
    # Mantel-Haenszel leaves the study out in the same way (rma.mh omits studies with NAs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mh = mr.metabin(ai, d["n1i"], d["ci"], d["n2i"], studlab=d["study"], method="MH")
    ref = d["fit_mh"]
    assert mh.pooled["common_estimate"] == pytest.approx(ref["beta"], rel=RTOL)
    assert mh.pooled["common_se"] == pytest.approx(ref["se"], rel=RTOL)
    assert mh.pooled["q"] == pytest.approx(ref["QE"], rel=RTOL)


def test_missing_sample_size_of_a_proportion():
    d = _missing()["seed_plo"]
    with pytest.warns(MetaReviewWarning, match="'n'"):
        r = mr.metaprop(d["x"], d["n"])
    ref = d["fit"]
    assert r.k == ref["k"] == 19 and r.k_all == 20
    assert r.pooled["random_estimate"] == pytest.approx(ref["beta"], rel=RTOL)
    assert r.pooled["tau2"] == pytest.approx(ref["tau2"], rel=RTOL)
    assert r.pooled["q"] == pytest.approx(ref["QE"], rel=RTOL)
    # every analysis on the result works without the study
    r.leave1out()
    r.cumul()
    r.metabias()
    r.influence()
    import matplotlib
    matplotlib.use("Agg")
    r.forest()
    r.funnel()


def test_missing_cells_everywhere_is_an_error():
    with pytest.raises(DataError, match="no study has complete data"):
        mr.metaprop([None, None], [10, 12])
    # text in a number column is still an error naming study and column
    with pytest.raises(DataError, match="study 'B'.*column 'events'"):
        mr.metaprop([3, "x"], [10, 12], studlab=["A", "B"])


def test_missing_cell_from_the_command_line(tmp_path, capsys):
    csv = tmp_path / "tr.csv"
    csv.write_text("study,events,n\nA,8,10\nB,,31\nC,26,30\nD,6,9\n")
    assert main(["pool", str(csv)]) == 0
    out = capsys.readouterr()
    assert "B" in out.out and "missing" in (out.out + out.err)
    assert main(["pool", str(csv), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["k"] == 3 and doc["k_all"] == 4 and doc["studies"][1]["excluded"] is True
