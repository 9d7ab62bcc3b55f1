"""The public API, the result vocabulary and the ``pool`` command's JSON contract."""

import json
from pathlib import Path

import numpy as np
import pytest

import metareview as mr
from metareview.cli import main

SEED_TR = Path(__file__).resolve().parents[1] / "fixtures" / "seed_tr.csv"

CONTRACT = {
    "k": None, "measure": None, "method_tau2": None, "level": None,
    "common": {"estimate", "se", "ci_low", "ci_high", "statistic", "p"},
    "random": {"estimate", "se", "ci_low", "ci_high", "statistic", "p", "df"},
    "prediction": {"low", "high"},
    "heterogeneity": {"q", "df", "p", "tau2", "tau2_ci_low", "tau2_ci_high", "tau", "i2", "i2_ci_low",
                      "i2_ci_high", "h", "h_ci_low", "h_ci_high"},
}


def run_json(capsys, *args):
    assert main(["pool", *map(str, args), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_public_api_is_pinned():
    assert set(mr.__all__) >= {"metaprop", "metamean", "metacont", "metaprepost", "metabin", "metagen",
                               "metaanalysis", "escalc", "MetaResult", "DataError", "SettingsError", "metamv",
                               "vcalc", "MultilevelResult"}
    for name in mr.__all__:
        assert hasattr(mr, name)


def test_json_contract_keys(capsys):
    d = run_json(capsys, SEED_TR)
    for key, sub in CONTRACT.items():
        assert key in d
        if sub:
            assert sub <= set(d[key]), key
    assert {"common", "random", "prediction"} <= set(d["backtransformed"])
    assert {"study", "yi", "vi", "ci_low", "ci_high", "weight_common", "weight_random"} <= set(d["studies"][0])
    assert d["k"] == 20 and d["measure"] == "PLO" and d["method_tau2"] == "DL"
    assert d["backtransformed"]["random"]["estimate"] == pytest.approx(0.7862675969, rel=1e-8)


def test_json_untransformed_has_null_backtransformed(tmp_path, capsys):
    f = tmp_path / "g.csv"
    f.write_text("study,yi,sei\nA,0.1,0.2\nB,0.3,0.1\nC,-0.2,0.3\n")
    d = run_json(capsys, f)
    assert d["backtransformed"] is None and d["measure"] == "GEN" and d["random"]["p"] is not None


def test_cli_options_change_results(capsys):
    base = run_json(capsys, SEED_TR)
    hk = run_json(capsys, SEED_TR, "--random-ci", "hk")
    assert hk["random"]["df"] == 19 and hk["random"]["se"] != base["random"]["se"]
    reml = run_json(capsys, SEED_TR, "--method-tau2", "reml")
    assert reml["method_tau2"] == "REML" and reml["heterogeneity"]["tau2"] != base["heterogeneity"]["tau2"]
    z = run_json(capsys, SEED_TR, "--prediction", "z")
    assert z["prediction"]["low"] > base["prediction"]["low"]
    none = run_json(capsys, SEED_TR, "--prediction", "none")
    assert none["prediction"]["low"] is None
    lvl = run_json(capsys, SEED_TR, "--level", "0.9")
    assert lvl["random"]["ci_low"] > base["random"]["ci_low"]
    ex = run_json(capsys, SEED_TR, "--exclude", "Wang B")
    assert ex["k"] == 19 and ex["backtransformed"]["random"]["estimate"] == pytest.approx(0.7807068757, rel=1e-8)
    pft = run_json(capsys, SEED_TR, "--measure", "PFT")
    assert pft["measure"] == "PFT" and sum(s["incr"] for s in pft["studies"]) == 0  # meta: no correction


def test_col_mapping_tsv_and_xlsx(tmp_path, capsys):
    f = tmp_path / "d.tsv"
    f.write_text("author\tresp\ttotal\nA\t3\t10\nB\t5\t11\nC\t7\t9\n")
    d = run_json(capsys, f, "--col", "events=resp", "--col", "n=total", "--col", "study=author")
    assert [s["study"] for s in d["studies"]] == ["A", "B", "C"]
    import pandas as pd
    x = tmp_path / "d.xlsx"
    pd.DataFrame({"study": ["A", "B", "C"], "events": [3, 5, 7], "n": [10, 11, 9]}).to_excel(x, index=False)
    d2 = run_json(capsys, x)
    assert d2["random"]["estimate"] == pytest.approx(d["random"]["estimate"], rel=1e-12)


def test_printed_summary(capsys):
    assert main(["pool", str(SEED_TR)]) == 0
    out = capsys.readouterr().out
    assert "Random effects model      0.7863  [0.7327; 0.8315]" in out
    assert "DerSimonian-Laird estimator for τ²" in out and "Clopper-Pearson" in out
    # heterogeneity as R meta prints it: τ² and τ with their CIs, then I² and H, then the Q test
    # (tau2 0.1396, tau 0.3737, I2 38.7% [0.0%; 64.1%]: ../shared/reference/seed-analyses.md)
    assert ("Quantifying heterogeneity (with 95% CIs):\n"
            " τ² = 0.1396 [0.0000; 0.8702]; τ = 0.3737 [0.0000; 0.9329]\n"
            " I² = 38.7% [0.0%; 64.1%]; H = 1.28 [1.00; 1.67]\n") in out
    assert "Test of heterogeneity:\n    Q  d.f.  p-value\n30.98    19   0.0405" in out
    assert "Continuity correction of 0.5 in 3 studies with 0 or all events, applied R meta's way" in out
    assert "only0" not in out and "tau^2" not in out


def test_heterogeneity_text_edge_cases():
    from metareview.pooling.summary import heterogeneity_text
    base = {"tau2": 0.0, "tau": 0.0, "tau2_ci_low": 0.0, "tau2_ci_high": 0.25, "i2": 0.0,
            "i2_ci_low": np.nan, "i2_ci_high": np.nan, "h": 1.0, "h_ci_low": np.nan,
            "h_ci_high": np.nan, "q": 0.4}
    text = heterogeneity_text(base, 2, 0.95)
    # zero printed as R meta prints it; no I² interval for two studies with Q <= 2
    assert " τ² = 0 [0.0000; 0.2500]; τ = 0 [0.0000; 0.5000]\n I² = 0.0%; H = 1.00" in text
    tiny = dict(base, tau2=3e-6, tau=np.sqrt(3e-6), tau2_ci_low=np.nan, tau2_ci_high=np.nan)
    assert " τ² < 0.0001; τ = 0.0017\n" in heterogeneity_text(tiny, 3, 0.95)
    assert "τ² = --" in heterogeneity_text(dict(base, tau2=np.nan, tau=np.nan), 3, 0.9)
    assert "(with 90% CIs)" in heterogeneity_text(base, 3, 0.9)


def test_result_vocabulary():
    r = mr.metaprop([8, 26, 26, 6], [10, 31, 30, 9], ["A", "B", "C", "D"])
    s = r.summary()
    assert list(s.index) == ["common", "random", "prediction"] and "bt_estimate" in s
    st = r.studies()
    assert list(st["study"]) == ["A", "B", "C", "D"] and np.isclose(st["weight_random"].sum(), 100)
    assert "<table" in r._repr_html_() and "Random effects model" in str(r)
    d = r.to_dict()
    assert d["settings"]["method_tau2"] == "DL" and d["version"] == mr.__version__
    r2 = r.update(method_tau2="PM", random_ci="hk")
    assert r2.settings.method_tau2 == "PM" and r.settings.method_tau2 == "DL"
    with pytest.raises(mr.SettingsError, match="unknown setting"):
        r.update(method_tau="PM")
    with pytest.raises(AttributeError):
        r.settings = None  # results are immutable


def test_subset_drops_exclude_shows():
    r = mr.metaprop([8, 26, 26, 6], [10, 31, 30, 9], ["A", "B", "C", "D"])
    sub = r.update(subset=[True, True, False, True])
    exc = r.update(exclude=["C"])
    assert sub.k_all == 3 and exc.k_all == 4 and exc.k == 3
    assert sub.pooled["random_estimate"] == pytest.approx(exc.pooled["random_estimate"], rel=1e-14)
    assert exc.to_dict()["studies"][2]["weight_random"] == 0.0


def test_metabin_double_zero_follows_meta():
    r = mr.metabin([0, 2, 3], [10, 20, 30], [0, 4, 5], [10, 20, 30], ["A", "B", "C"])
    assert r.k == 2 and r.k_all == 3 and "allstudies" in r.notes[0]
    assert mr.metabin([0, 2, 3], [10, 20, 30], [0, 4, 5], [10, 20, 30], allstudies=True).k == 3


def test_smd_conventions():
    args = ([20, 25], [5.0, 6.0], [2.0, 2.5], [22, 24], [4.0, 4.5], [2.1, 2.4])
    g_exact = mr.metacont(*args, measure="SMD")
    g_meta = mr.metacont(*args, measure="SMD", exact_smd=False)
    big_n = np.array([42, 49])
    j = 1 - 3 / (4 * big_n - 9)
    sdp = np.sqrt((19 * 4.0 + 21 * 2.1 ** 2) / 40)
    assert g_meta.yi[0] == pytest.approx(j[0] * 1.0 / sdp, rel=1e-12)
    assert g_meta.vi[0] == pytest.approx(42 / (20 * 22) + g_meta.yi[0] ** 2 / (2 * (42 - 3.94)), rel=1e-12)
    assert g_exact.yi[0] != g_meta.yi[0]


def test_backtransformation_pft_uses_harmonic_mean():
    ev, n = [8, 26, 26, 6], [10, 31, 30, 9]
    r = mr.metaprop(ev, n, measure="PFT")
    from metareview.effectsizes.measures import ipft
    hm = 1 / np.mean(1 / np.array(n, float))
    assert r.to_dict()["backtransformed"]["random"]["estimate"] == pytest.approx(
        float(ipft(r.pooled["random_estimate"], hm)), rel=1e-12)


def test_hartung_knapp_ad_hoc_corrections():
    """Knapp & Hartung (2003): q* = max(1, q*) ("se"); Jackson et al. (2017): wider interval ("ci")."""
    y = [0.10, 0.12, 0.11, 0.13]  # homogeneous: the Hartung-Knapp SE falls below the Wald SE
    se = [0.2, 0.25, 0.3, 0.22]
    wald = mr.metagen(y, se).pooled
    hk = mr.metagen(y, se, random_ci="hk").pooled
    hk_se = mr.metagen(y, se, random_ci="hk", adhoc_hakn="se").pooled
    hk_ci = mr.metagen(y, se, random_ci="hk", adhoc_hakn="ci").pooled
    assert hk["random_se"] < wald["random_se"]
    assert hk_se["random_se"] == pytest.approx(wald["random_se"], rel=1e-14)
    assert hk_ci["random_ci_low"] == pytest.approx(min(hk["random_ci_low"], wald["random_ci_low"]), rel=1e-14)
    from metareview.base import dist as _dist
    t = float(_dist.t_ppf(0.975, 3))
    assert hk_se["random_ci_high"] == pytest.approx(hk_se["random_estimate"] + t * wald["random_se"], rel=1e-12)


def test_i2_conventions_differ_only_off_dl():
    y, se = [0.1, 0.5, -0.2, 0.8, 0.3], [0.2, 0.25, 0.3, 0.22, 0.15]
    for method in ("DL", "REML"):
        q = mr.metagen(y, se, method_tau2=method).pooled
        t = mr.metagen(y, se, method_tau2=method, i2_method="tau2").pooled
        if method == "DL":
            assert q["i2"] == pytest.approx(t["i2"], rel=1e-10)
        else:
            assert q["i2"] != pytest.approx(t["i2"], rel=1e-6)


def test_imputed_and_estimated_values_are_shown():
    table = {"study": ["A", "B", "C"], "mean_pre": [6, 7, 6.5], "sd_pre": [2, 2.2, 1.9],
             "mean_post": [3, 3.5, 2.9], "sd_post": [2, 2.1, 2.0], "n": [10, 12, 14],
             "sd_post_imputed": [True, False, False], "sd_post_imputation": ["same study: sd_pre", "", ""],
             "sd_pre_estimated": [False, False, True]}
    r = mr.metaanalysis(table)
    assert "sd_post imputed in 1 study: A (same study: sd_pre)" in r.notes
    assert "sd_pre estimated in the source in 1 study: C" in r.notes
    assert "sd_post imputed" in str(r) and "sd_post imputed" in r.to_dict()["notes"][0]


def test_pool_runs_the_data_checks_when_the_table_is_declared(tmp_path, capsys):
    f = tmp_path / "d.csv"
    f.write_text("study,events,n,pct\nA,4,10,4 (12.9)\nB,5,12,5 (41.7)\nC,7,9,7 (77.8)\n")
    (tmp_path / "d.columns.toml").write_text('[columns.pct]\nkind = "count_percent"\ndenominator = "n"\n')
    d = run_json(capsys, f)
    assert any("percent_matches_count" in n and "12.9" in n for n in d["notes"])
    (tmp_path / "d.columns.toml").write_text('[scales]\npain = [0, 10]\n[columns.n]\nkind = "count"\n'
                                             '[columns.events]\nkind = "count"\n')
    f.write_text("study,events,n\nA,4,10\nB,5,-12\n")
    assert main(["pool", str(f)]) == 2
    assert "study 'B'" in capsys.readouterr().err


def test_generic_estimates_on_a_proportion_scale():
    """Logits with variances (no counts): normal study intervals, back-transformed results."""
    r = mr.metaanalysis({"study": ["A", "B", "C"], "yi": [1.2, 0.8, 1.5], "vi": [0.1, 0.2, 0.15]}, "PLO")
    d = r.to_dict()
    assert d["measure"] == "PLO" and d["studies"][0]["ci_low"] == pytest.approx(1.2 - 1.959963984540054 * 0.1 ** 0.5)
    assert d["backtransformed"]["random"]["estimate"] == pytest.approx(
        1 / (1 + np.exp(-d["random"]["estimate"])), rel=1e-12)
