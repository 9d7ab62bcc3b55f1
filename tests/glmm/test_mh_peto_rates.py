"""Mantel-Haenszel, Peto and incidence-rate measures against R metafor.

Fixtures written by ``Rscript tests/r/make_reference_glmm.R`` (metafor 3.8-1):

    rma.mh(measure = m, ai, n1i, ci, n2i)                                  # metafor
    rma.mh(measure = m, ai, n1i, ci, n2i, add = c(1/2, 1/2),
           to = c("only0", "only0"))                                       # metafor + 0.5
    rma.mh(measure = m, ai, n1i, ci, n2i, add = c(1/2, 1/2),
           to = c("only0", "only0"), drop00 = c(TRUE, TRUE))               # meta (OR, RR)
    rma.peto(ai, n1i, ci, n2i); escalc(measure = "PETO", ..., drop00 = TRUE)
    escalc(measure = "IR" | "IRLN" | "IRS" | "IRFT", xi = x, ti = t)

meta 4.9-6's MH risk difference and its study-level RR/RD values (meta is not
installed) are written out in the R script from their published formulas.  All
closed-form values are compared at 1e-8 relative (measured <= 4e-14).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from metareview.base.exceptions import DataError, SettingsError
from metareview.effectsizes.rates import backtransform_rate, harmonic_mean, rate_yi_vi
from metareview.pooling.mh import mantel_haenszel
from metareview.pooling.peto import peto

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "glmm"
RTOL = 1e-8


def _arr(v):
    return np.array([np.nan if e is None else e for e in v], dtype=float)


def _mh_cases():
    data = json.loads((FIX / "mh.json").read_text())["datasets"]
    for name, d in data.items():
        for case, ref in d["fits"].items():
            yield pytest.param(d, case, ref, id=f"{name}-{case}")


@pytest.mark.parametrize("d,case,ref", list(_mh_cases()))
def test_mantel_haenszel_against_r(d, case, ref):
    measure, conv = case.split("_", 1)
    kw = {}
    if conv == "metafor_corrected":
        conv, kw = "metafor", {"correction": 0.5}
    r = mantel_haenszel(d["ai"], d["n1i"], d["ci"], d["n2i"], measure=measure,
                        convention=conv, **kw)
    assert r.estimate == pytest.approx(ref["beta"], rel=RTOL)
    assert r.se == pytest.approx(ref["se"], rel=RTOL)
    assert r.q == pytest.approx(ref["QE"], rel=RTOL)
    assert r.q_p == pytest.approx(ref["QEp"], rel=1e-7, abs=1e-300)
    assert r.i2 == pytest.approx(ref["I2"], rel=RTOL, abs=1e-10)
    if "ci_lb" in ref:
        assert r.ci_low == pytest.approx(ref["ci_lb"], rel=RTOL)
        assert r.ci_high == pytest.approx(ref["ci_ub"], rel=RTOL)
        assert r.statistic == pytest.approx(ref["zval"], rel=RTOL)
        assert r.q_df == ref["k_yi"] - 1
    if "study_yi" in ref:
        yi, vi = _arr(ref["study_yi"]), _arr(ref["study_vi"])
        np.testing.assert_array_equal(np.isnan(r.yi), np.isnan(yi))
        np.testing.assert_allclose(r.yi, yi, rtol=RTOL, atol=1e-15)
        np.testing.assert_allclose(r.vi, vi, rtol=RTOL)
        assert r.q_df == ref["QE_df"]


def test_meta_and_metafor_differ_only_with_zero_cells():
    data = json.loads((FIX / "mh.json").read_text())["datasets"]
    bcg, li = data["bcg"], data["li2007"]
    args = lambda d: (d["ai"], d["n1i"], d["ci"], d["n2i"])  # noqa: E731
    for m in ("OR", "RR"):
        a = mantel_haenszel(*args(bcg), measure=m, convention="meta")
        b = mantel_haenszel(*args(bcg), measure=m, convention="metafor")
        assert a.estimate == pytest.approx(b.estimate, rel=1e-14)
    a = mantel_haenszel(*args(li), measure="OR")
    b = mantel_haenszel(*args(li), measure="OR", convention="metafor")
    assert a.correction == 0.5 and b.correction == 0.0
    assert 1e-6 < abs(a.estimate - b.estimate) / abs(b.estimate) < 1e-2


def test_peto_against_r():
    data = json.loads((FIX / "peto.json").read_text())["datasets"]
    for name, d in data.items():
        ref = d["fit"]
        for conv in ("meta", "metafor"):
            r = peto(d["ai"], d["n1i"], d["ci"], d["n2i"], convention=conv)
            assert r.estimate == pytest.approx(ref["beta"], rel=RTOL), name
            assert r.se == pytest.approx(ref["se"], rel=RTOL), name
            assert r.ci_low == pytest.approx(ref["ci_lb"], rel=RTOL), name
            assert r.q == pytest.approx(ref["QE"], rel=RTOL), name
            assert r.q_p == pytest.approx(ref["QEp"], rel=1e-7), name
            assert r.i2 == pytest.approx(ref["I2"], rel=RTOL, abs=1e-10), name
            assert r.q_df == ref["k_yi"] - 1
        # metafor's study values add 0.5 to zero-cell tables; meta's do not
        r = peto(d["ai"], d["n1i"], d["ci"], d["n2i"], convention="metafor")
        np.testing.assert_allclose(r.yi, _arr(d["escalc_yi"]), rtol=RTOL)
        np.testing.assert_allclose(r.vi, _arr(d["escalc_vi"]), rtol=RTOL)


def test_mh_weights_and_exclusions():
    # one double-zero table: left out of the meta OR, kept (with weight 0) by metafor
    a, n1, c, n2 = [0, 2, 5], [50, 40, 60], [0, 6, 9], [50, 41, 58]
    r = mantel_haenszel(a, n1, c, n2)
    assert r.k == 2 and math.isnan(r.weights[0]) and np.nansum(r.weights) == pytest.approx(100)
    assert math.isnan(r.yi[0]) and r.q_df == 1
    r2 = mantel_haenszel(a, n1, c, n2, convention="metafor")
    assert r2.k == 3 and r2.weights[0] == 0.0


def test_mh_and_peto_bad_input():
    with pytest.raises(DataError) as err:
        mantel_haenszel([1, 7], [10, 5], [2, 3], [10, 10])
    assert err.value.study == "1" and err.value.column == "events_e"
    with pytest.raises(DataError):
        mantel_haenszel([1, 2], [10, 5], [2, 3], [10])
    with pytest.raises(DataError) as err:
        mantel_haenszel([0, 0], [10, 5], [2, 3], [10, 10], convention="metafor")
    assert err.value.rule == "MH odds ratio finite"
    with pytest.raises(SettingsError):
        mantel_haenszel([1], [10], [2], [10], measure="SMD")
    with pytest.raises(SettingsError):
        mantel_haenszel([1], [10], [2], [10], convention="revman")
    with pytest.raises(DataError):
        peto([0, 0], [10, 5], [0, 0], [10, 10])


def test_single_table():
    r = mantel_haenszel([3], [20], [7], [21])
    assert r.estimate == pytest.approx(math.log(3 * 14 / (17 * 7)), rel=1e-12)
    assert r.q == 0.0 and r.q_df == 0 and r.q_p == 1.0


# ----------------------------------------------------------------------------- rates

def test_rate_measures_against_escalc():
    data = json.loads((FIX / "rates.json").read_text())["datasets"]
    for name, d in data.items():
        for m in ("IR", "IRLN", "IRS", "IRFT"):
            yi, vi = rate_yi_vi(m.lower(), d["x"], d["t"])
            ref = d["measures"][m]
            np.testing.assert_allclose(yi, ref["yi"], rtol=1e-12, atol=1e-15, err_msg=name + m)
            np.testing.assert_allclose(vi, ref["vi"], rtol=1e-12, err_msg=name + m)
        b = d["measures"]["back"]
        assert harmonic_mean(d["t"]) == pytest.approx(b["harmonic_t"], rel=1e-14)
        np.testing.assert_allclose(backtransform_rate("IRFT", b["z"], b["harmonic_t"]),
                                   b["iirft"], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(backtransform_rate("IRS", b["z"]), b["isqrt"], rtol=1e-14)
        np.testing.assert_allclose(backtransform_rate("IRLN", b["z"]), b["exp"], rtol=1e-14)


def test_rate_back_transformations_invert():
    x, t = np.array([0, 3, 12.0]), np.array([100, 250, 80.0])
    for m in ("IR", "IRLN", "IRS"):
        yi, _ = rate_yi_vi(m, x, t, add=0.0 if m != "IRLN" else 0.5)
        expect = (x + (m == "IRLN") * (x == 0) * 0.5) / t
        np.testing.assert_allclose(backtransform_rate(m, yi), expect, rtol=1e-12)
    yi, _ = rate_yi_vi("IRFT", x[1:], t[1:])
    np.testing.assert_allclose(backtransform_rate("IRFT", yi, t[1:]), x[1:] / t[1:], rtol=1e-10)


def test_rate_errors():
    with pytest.raises(DataError) as err:
        rate_yi_vi("IR", [1, -2], [10, 10])
    assert err.value.rule == "events >= 0" and err.value.study == "1"
    with pytest.raises(DataError):
        rate_yi_vi("IRLN", [0, 2], [10, 10], add=0.0)
    with pytest.raises(DataError):
        rate_yi_vi("IRS", [1, 2], [10, 0])
    with pytest.raises(SettingsError):
        rate_yi_vi("IRX", [1], [10])
    with pytest.raises(SettingsError):
        rate_yi_vi("IR", [1], [10], to="some")
    with pytest.raises(SettingsError):
        backtransform_rate("IRFT", [0.1])
