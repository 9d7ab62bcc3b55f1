"""Settings presets as R meta's settings.meta(): what each one sets, and the numbers it gives.

The settings of each preset are those listed on meta's help page of ``settings.meta``
(meta 8.x): "RevMan5", "JAMA", "meta4", and meta 8's defaults (``settings.meta(reset =
TRUE)``) for the arguments "meta4"/"meta7" set.  Numbers: ``tests/fixtures/glmm/presets.json``
from ``Rscript tests/r/make_reference_glmm.R`` (metafor 3.8-1):

    predict(rma(yi, vi, data = escalc("PLO", xi = x, ni = n), method = "REML", test = "t"))
    escalc(measure = "RR", ai, n1i, ci, n2i, add = 1/2, to = "only0", drop00 = TRUE)
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import metareview as mr
from metareview.base.exceptions import SettingsError
from metareview.base.presets import PRESETS, print_style
from metareview.cli import main
from metareview.pooling.settings import Settings

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "glmm" / "presets.json"
EV, N = [8, 26, 26, 6, 109], [10, 31, 30, 9, 140]

EXPECTED = {
    # settings.meta("RevMan5"): method.random.ci "classic", method.tau "DL", method.I2 "Q",
    # RR.Cochrane TRUE, exact.smd FALSE, prediction FALSE
    "revman5": {"random_ci": "wald", "method_tau2": "DL", "i2_method": "q", "rr_cochrane": True,
                "exact_smd": False, "prediction": "none"},
    # settings.meta("JAMA"): layout and printing only
    "jama": {},
    # settings.meta("meta4"): method.tau "DL", method.I2 "Q", method.predict "HTS", exact.smd FALSE
    "meta4": {"method_tau2": "DL", "i2_method": "q", "prediction": "t", "exact_smd": False},
    # meta 8 defaults: method.tau "REML", method.I2 "Q", method.predict "V", exact.smd TRUE
    "meta8": {"method_tau2": "REML", "i2_method": "q", "prediction": "v", "exact_smd": True},
}
STYLE = {
    "revman5": dict(digits=2, digits_tau2=3, digits_tau=4, digits_i2=0, ci_open="[", ci_sep=", ",
                    common_label="Fixed effect model", forest_layout="revman5"),
    "jama": dict(digits_i2=0, digits_pval=3, ci_open="(", ci_sep="-", ci_close=")", zero_pval=False,
                 jama_pval=True, forest_layout="jama"),
    "meta4": dict(common_label="Fixed effect model", forest_layout="meta"),
    "meta8": dict(common_label="Common effect model", forest_layout="meta"),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_preset_sets_what_meta_documents(name):
    assert PRESETS[name].settings == EXPECTED[name]
    s, _ = Settings.split({"measure": "SMD", "preset": name})
    for key, value in EXPECTED[name].items():
        assert getattr(s, key) == value, key
    assert s.preset == name
    for key, value in STYLE[name].items():
        assert getattr(print_style(name), key) == value, key


def test_user_values_win_over_the_preset_and_glmm_keeps_ml():
    s, _ = Settings.split({"measure": "PLO", "preset": "meta8", "method_tau2": "PM", "prediction": "t"})
    assert (s.method_tau2, s.prediction, s.exact_smd) == ("PM", "t", True)
    g, _ = Settings.split({"measure": "PLO", "preset": "revman5", "method": "GLMM"})
    assert g.method_tau2 == "ML" and g.random_ci == "wald"
    with pytest.raises(SettingsError, match="valid presets are: revman5, jama, meta4, meta8"):
        Settings.split({"preset": "RevMan"})
    r = mr.metaprop(EV, N).update(preset="meta4")
    assert r.settings.exact_smd is False and r.settings.preset == "meta4"


def test_meta8_prediction_interval_is_t_with_k_minus_1_df():
    d = json.loads(FIX.read_text())["datasets"]["seed_tr_meta8"]
    r = mr.metaprop(d["x"], d["n"], preset="meta8")
    p = r.pooled
    assert p["random_estimate"] == pytest.approx(d["beta"], rel=1e-6)
    assert p["tau2"] == pytest.approx(d["tau2"], rel=1e-6)
    assert p["prediction_low"] == pytest.approx(d["pi_lb"], rel=1e-6)
    assert p["prediction_high"] == pytest.approx(d["pi_ub"], rel=1e-6)
    assert "k - 1 df (Veroniki et al. 2019)" in str(r)


def test_revman5_risk_ratio_uses_rr_cochrane():
    d = json.loads(FIX.read_text())["datasets"]["nielweise2007_rr_cochrane"]
    args = (d["ai"], d["n1i"], d["ci"], d["n2i"])
    yi = np.array([np.nan if v is None else v for v in d["yi"]])
    vi = np.array([np.nan if v is None else v for v in d["vi"]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rev = mr.metabin(*args, measure="RR", method="MH", preset="revman5")
        plain = mr.metabin(*args, measure="RR", method="MH")
    inc = rev.included
    np.testing.assert_allclose(rev.yi[inc], yi[inc], rtol=1e-8)
    np.testing.assert_allclose(rev.vi[inc], vi[inc], rtol=1e-8)
    zero = inc & (rev.incr > 0)
    assert zero.any() and not np.allclose(plain.yi[zero], rev.yi[zero])
    # the MH estimate itself does not depend on the study values; Q does
    assert rev.pooled["common_estimate"] == pytest.approx(plain.pooled["common_estimate"], rel=1e-14)
    assert rev.pooled["q"] != pytest.approx(plain.pooled["q"], rel=1e-6)
    assert "RR.Cochrane = TRUE" in str(rev)


def test_printout_follows_the_preset():
    args = ([4, 6, 1, 12], [100, 90, 40, 120], [10, 12, 3, 20], [100, 95, 42, 118], ["A", "B", "C", "D"])
    rev = str(mr.metabin(*args, measure="RR", preset="revman5"))
    assert "Fixed effect model    0.52  [0.32, 0.84]" in rev
    assert "Prediction interval" not in rev
    assert 'Settings of R meta\'s settings.meta("RevMan5")' in rev
    assert " I² = 0% [0%, 85%]" in rev
    jama = str(mr.metabin(*args, measure="RR", preset="jama"))
    assert "(0.3231-0.8415)" in jama and "  .008" in jama and "0.0077" not in jama
    assert "Common effect model" in jama
    assert print_style("jama").p(0.0004) == "< .001" and print_style("jama").p(0.0312) == ".03"
    assert "Fixed effect model" in str(mr.metabin(*args, measure="RR", preset="meta4"))


def test_forest_layout_follows_the_preset():
    import matplotlib
    matplotlib.use("Agg")
    r = mr.metaprop(EV, N, preset="revman5")
    assert r.forest().layout == "revman5"
    assert r.forest(layout="meta").layout == "meta"
    assert mr.metaprop(EV, N).forest().layout == "meta"


def test_cli_preset(tmp_path, capsys):
    csv = tmp_path / "tr.csv"
    csv.write_text("study,events,n\n" + "".join(f"S{i},{e},{n}\n" for i, (e, n) in enumerate(zip(EV, N))))
    assert main(["pool", str(csv), "--preset", "meta8", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["settings"]["preset"] == "meta8" and doc["method_tau2"] == "REML"
    assert main(["pool", str(csv), "--preset", "meta8", "--method-tau2", "DL", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["method_tau2"] == "DL"
    assert main(["pool", str(csv), "--preset", "revman"]) == 2
    assert "valid presets are" in capsys.readouterr().err
