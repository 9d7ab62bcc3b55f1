"""The new measures, estimators and statistics through ``metareview pool`` (text and the JSON contract)."""

import csv
import json

import pytest

from metareview.cli import main

from ._reference import cases, close


def _write(path, case):
    cols = list(case["input"])
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        for i in range(len(case["input"]["study"])):
            w.writerow([case["input"][c][i] for c in cols])
    return path


@pytest.fixture
def hart(tmp_path):
    return _write(tmp_path / "hart.csv", next(c for c in cases("measures") if c["case"] == "hart1999_IRR"))


@pytest.fixture
def molloy(tmp_path):
    return _write(tmp_path / "molloy.csv", next(c for c in cases("measures") if c["case"] == "molloy2014_ZCOR"))


def test_design_read_from_columns_and_default_measures(capsys, hart, molloy):
    """events_e,time_e,events_c,time_c is IRR by default (R meta's metainc); cor,n is ZCOR (metacor)."""
    assert main(["pool", str(hart), "--json", "--incr-style", "metafor", "--method-tau2", "REML"]) == 0
    doc = json.loads(capsys.readouterr().out)
    ref = next(c for c in cases("measures") if c["case"] == "hart1999_IRR")["fits"]["REML"]
    assert doc["measure"] == "IRR"
    close(doc["random"]["estimate"], ref["estimate"], 1e-6)
    close(doc["backtransformed"]["random"]["estimate"], ref["backtransformed"]["estimate"], 1e-6)
    assert main(["pool", str(molloy), "--measure", "cor"]) == 0
    out = capsys.readouterr().out
    assert "Number of observations: o = 3509" in out


def test_estimator_and_statistics_options(capsys, molloy):
    ref = next(c for c in cases("statistics") if c["case"] == "molloy2014_zcor_REML")
    assert main(["pool", str(molloy), "--json", "--method-tau2", "reml", "--fitstats", "--tau2-ci", "PL",
                 "--blup", "--ranef"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["method_tau2"] == "REML"
    close(doc["heterogeneity"]["se_tau2"], ref["fit"]["se_tau2"], 1e-6)
    close(doc["fitstats"]["aicc"], ref["fitstats"]["aicc"], 1e-6)
    assert doc["tau2_ci"]["type"] == "PL"
    close(doc["tau2_ci"]["tau2_ci_high"], ref["pl"]["tau2_ci_high"], 1e-6)
    close([r["pred"] for r in doc["ranef"]["rows"]], ref["ranef"]["pred"], 1e-6)
    assert doc["blup"]["kind"] == "blup" and "backtransformed" in doc["blup"]["rows"][0]
    assert main(["pool", str(molloy), "--method-tau2", "hsk", "--fitstats", "--tau2-ci", "wald"]) == 0
    out = capsys.readouterr().out
    assert "Hunter-Schmidt (small-sample corrected) estimator for τ²" in out
    assert "Fit statistics (random effects, ML)" in out and "Wald-type confidence interval" in out


def test_errors_are_one_line(capsys, molloy, hart):
    assert main(["pool", str(molloy), "--tau2-ci", "PL"]) == 2
    err = capsys.readouterr().err
    assert "needs a maximum-likelihood fit" in err and "Traceback" not in err
    assert main(["pool", str(hart), "--method-tau2", "GENQ"]) == 2
    assert "needs user weights" in capsys.readouterr().err


def test_genq_weights_from_a_column(capsys, tmp_path):
    case = next(c for c in cases("estimators") if c["case"] == "bcg_rr_GENQ")
    path = tmp_path / "bcg.csv"
    rows = zip(case["input"]["yi"], case["input"]["vi"], case["input"]["n"])
    path.write_text("yi,vi,persons\n" + "".join(f"{y!r},{v!r},{n!r}\n" for y, v, n in rows))
    assert main(["pool", str(path), "--json", "--method-tau2", "genq", "--col", "genq_weights=persons"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["method_tau2"] == "GENQ"
    close(doc["heterogeneity"]["tau2"], case["fit"]["tau2"], 1e-8)
    close(doc["heterogeneity"]["se_tau2"], case["fit"]["se_tau2"], 1e-8)


def test_fsn_option(capsys, molloy):
    ref = next(c for c in cases("fsn") if c["case"] == "molloy2014_zcor_Rosenberg")
    assert main(["pool", str(molloy), "--json", "--fsn", "Rosenberg"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["fsn"]["fsnum"] == ref["fsnum"] and doc["fsn"]["type"] == "Rosenberg"
    assert main(["pool", str(molloy), "--fsn", "Fisher"]) == 2
    assert "valid types are: Rosenthal, Orwin, Rosenberg" in capsys.readouterr().err


def test_lrt_and_btt_options(capsys, tmp_path):
    case = next(c for c in cases("anova") if c["case"] == "bcg_lrt_ML_ablat_vs_intercept")
    wald = next(c for c in cases("anova") if c["case"] == "bcg_wald_z_both_of_ablat_year")
    i = case["input"]
    path = tmp_path / "bcg.csv"
    path.write_text("study,yi,vi,ablat,year\n" + "".join(
        f"{s},{y!r},{v!r},{a!r},{yr!r}\n"
        for s, y, v, a, yr in zip(i["study"], i["yi"], i["vi"], i["ablat"], i["year"])))
    assert main(["pool", str(path), "--json", "--metareg", "~ ablat", "--lrt"]) == 0
    doc = json.loads(capsys.readouterr().out)
    close(doc["anova"]["lrt"], case["lrt"], 1e-6)
    assert doc["anova"]["likelihood"] == "ML" and doc["metareg"]["method_tau2"] == "REML"
    assert main(["pool", str(path), "--json", "--metareg", "~ ablat + year", "--btt", "ablat", "--btt", "year"]) == 0
    doc = json.loads(capsys.readouterr().out)
    close(doc["wald"]["statistic"], wald["qm"], 1e-6)
    assert main(["pool", str(path), "--lrt"]) == 2
    assert "need --metareg" in capsys.readouterr().err
