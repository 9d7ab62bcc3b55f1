"""The multilevel model's API, bad input, command line, JSON block and forest plot."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import metareview as mr
from metareview.cli import main
from metareview.base.exceptions import DataError, MetaReviewWarning, SettingsError
from metareview.analyses.multilevel import parse_random

from .test_multilevel_reference import load


@pytest.fixture()
def konst():
    return load("konstantopoulos_reml")


@pytest.fixture()
def pain_csv(tmp_path):
    """Pain before and after at two time points of the same patients (rows share a study)."""
    rows = []
    rng = np.random.default_rng(3)
    for s in range(8):
        n = int(rng.integers(10, 40))
        for month in (1, 3):
            rows.append({"study": f"S{s}", "month": month, "n": n, "mean_pre": 7.0, "sd_pre": 1.5,
                         "mean_post": round(float(3 + rng.normal(0, 0.8) - 0.3 * month), 2), "sd_post": 1.8})
    path = tmp_path / "pain.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_parse_random_nests_and_crosses():
    assert parse_random("~ 1 | a/b") == [("a", ("a",)), ("a/b", ("a", "b"))]
    assert parse_random(["~ 1 | a", "~ 1 | c"]) == [("a", ("a",)), ("c", ("c",))]
    for bad in ("~ x | a", "a/b", "~ 1 | a//b", []):
        with pytest.raises(SettingsError):
            parse_random(bad)
    with pytest.raises(SettingsError, match="twice"):
        parse_random(["~ 1 | a", "~ 1 | a/b"])


def test_result_vocabulary(konst):
    res = mr.metamv("yi", "vi", data=konst["data"], random="~ 1 | district/school", robust=True)
    table = res.summary()
    assert list(table.index) == ["intrcpt"] and {"robust_se", "robust_df", "robust_p"} <= set(table.columns)
    vc = res.variance_components()
    assert list(vc.index) == ["district", "district/school"] and list(vc["nlevels"]) == [11, 56]
    text = str(res)
    for piece in ("Multivariate Meta-Analysis Model (k = 56; method: REML)", "sigma^2.1", "district/school",
                  "Q(df = 55) = 578.8640", "Cluster-robust tests (CR2", "Prediction interval"):
        assert piece in text
    assert "<table" in res._repr_html_()
    doc = res.to_dict()
    json.dumps(doc)
    assert doc["variance_components"][0]["lrt"]["df"] == 1 and doc["robust"]["type"] == "CR2"
    assert doc["fit"]["parameters"] == 3 and len(doc["estimates"]) == 56


@pytest.mark.parametrize("change, message", [
    ({"vi": [0.1, -0.2, 0.1, 0.1]}, "study '2', column 'vi'"),
    ({"yi": [0.1, None, 0.1, 0.1]}, "study '2', column 'yi'"),
    ({"study": ["a", None, "b", "b"]}, "study '2', column 'study'"),
    ({"yi": [0.1, "x", 0.1, 0.1]}, "non-numeric"),
])
def test_bad_input_names_row_and_column(change, message):
    data = {"yi": [0.1, 0.2, 0.3, 0.4], "vi": [0.1, 0.1, 0.1, 0.1], "study": ["a", "a", "b", "b"], "es": [1, 2, 1, 2]}
    data.update(change)
    with pytest.raises(DataError, match=message):
        mr.metamv("yi", "vi", data=data, random="~ 1 | study/es")


def test_bad_settings():
    data = {"yi": [0.1, 0.2, 0.3, 0.4], "vi": [0.1, 0.1, 0.1, 0.1], "study": ["a", "a", "b", "b"], "es": [1, 2, 1, 2]}
    with pytest.raises(SettingsError, match="REML, ML"):
        mr.metamv("yi", "vi", data=data, random="~ 1 | study/es", method="DL")
    with pytest.raises(SettingsError, match="rho"):
        mr.metamv("yi", "vi", data=data, random="~ 1 | study/es", rho=1.2)
    with pytest.raises(SettingsError, match="one of them"):
        mr.metamv("yi", data=data, random="~ 1 | study/es")
    with pytest.raises(DataError, match="not in the data"):
        mr.metamv("yi", "vi", data=data, random="~ 1 | trial/es")
    with pytest.raises(DataError, match="symmetric"):
        mr.metamv("yi", V=np.array([[1, 0.5, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1.0]]), data=data,
                  random="~ 1 | study/es")
    with pytest.raises(DataError, match="positive definite"):
        mr.metamv("yi", V=np.array([[1, 2, 0, 0], [2, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1.0]]), data=data,
                  random="~ 1 | study/es")


def test_single_level_component_is_fixed_at_zero_with_a_warning():
    data = {"yi": [0.1, 0.5, 0.3, 0.9], "vi": [0.01, 0.02, 0.01, 0.02], "all": ["x"] * 4, "es": [1, 2, 3, 4]}
    with pytest.warns(MetaReviewWarning, match="single level"):
        res = mr.metamv("yi", "vi", data=data, random="~ 1 | all/es")
    assert res.fit.sigma2[0] == 0 and res.lrt[0] is None and res.fit.parms == 2
    assert any("single level" in n for n in res.notes)


def test_missing_moderator_drops_the_row_with_a_note(konst):
    data = dict(konst["data"])
    data["year"] = [None] + list(data["year"][1:])
    with pytest.warns(MetaReviewWarning, match="dropped"):
        res = mr.metamv("yi", "vi", data=data, random="~ 1 | district/school", mods="~ year")
    assert res.k == 55 and res.dropped == ("1",)


def test_metaanalysis_cluster_is_the_three_level_model(pain_csv):
    table = pd.read_csv(pain_csv)
    res = mr.metaanalysis(table, "MD", cluster="study")
    assert isinstance(res, mr.MultilevelResult)
    assert res.fit.components == ("study", "study/estimate") and res.fit.nlevels == (8, 16)
    # the same model written out with metamv on the effect sizes of the univariate analysis
    uni = mr.metaanalysis(table, "MD", method_tau2="REML")
    direct = mr.metamv(uni.yi, uni.vi, data={"study": uni.studlab, "row": np.arange(16)},
                       random="~ 1 | study/row")
    np.testing.assert_allclose(res.fit.beta, direct.fit.beta, rtol=1e-12)
    np.testing.assert_allclose(res.fit.sigma2, direct.fit.sigma2, rtol=1e-12)
    assert mr.metaanalysis(table, "MD", cluster="study", random_ci="hk").fit.ddf == 15
    with pytest.raises(SettingsError, match="REML or ML"):
        mr.metaanalysis(table, "MD", cluster="study", method_tau2="DL")
    with pytest.raises(DataError, match="cluster column 'trial'"):
        mr.metaanalysis(table, "MD", cluster="trial")
    with pytest.raises(SettingsError, match="prediction is not offered"):
        mr.metaanalysis(table, "MD", cluster="study", prediction="z")


def test_pool_cluster_json_adds_a_block(pain_csv, capsys):
    assert main(["pool", str(pain_csv), "--measure", "MD", "--cluster", "study", "--robust", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    for key in ("k", "common", "random", "heterogeneity", "studies"):  # the existing contract is untouched
        assert key in doc
    ml = doc["multilevel"]
    assert ml["model"] == "rma.mv" and ml["cluster"] == "study" and ml["method"] == "REML"
    assert [c["component"] for c in ml["variance_components"]] == ["study", "study/estimate"]
    assert ml["coefficients"][0]["robust"]["df"] > 0 and ml["robust"]["n_clusters"] == 8
    assert {"loglik", "deviance", "aic", "bic", "aicc"} <= set(ml["fit"])


def test_pool_cluster_text_and_errors(pain_csv, capsys):
    assert main(["pool", str(pain_csv), "--measure", "MD", "--cluster", "study", "--method-tau2", "ML"]) == 0
    out = capsys.readouterr().out
    assert "Multivariate Meta-Analysis Model (k = 16; method: ML)" in out
    for argv, message in ((["--robust"], "--robust needs --cluster"),
                          (["--cluster", "study", "--method-tau2", "DL"], "REML or ML"),
                          (["--cluster", "study", "--leave-one-out"], "--leave-one-out"),
                          (["--cluster", "study", "--prediction", "z"], "--prediction is not offered"),
                          (["--cluster", "trial"], "cluster column 'trial'")):
        assert main(["pool", str(pain_csv), "--measure", "MD", *argv]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_forest_grouped_by_cluster(pain_csv, tmp_path):
    res = mr.metaanalysis(pd.read_csv(pain_csv), "MD", cluster="study")
    d = res.forest(labels="month")
    kinds = [row.kind for row in d.rows]
    assert kinds.count("heading") == 8 and kinds.count("study") == 16 and kinds.count("random") == 1
    assert d.rows[0].cells["study"] == "study = S0" and d.rows[1].cells["study"] == "1"
    pooled = next(r for r in d.rows if r.kind == "random")
    assert pooled.est == pytest.approx(res.fit.beta[0])
    assert d.savefig(tmp_path / "f.png").stat().st_size > 1000
    with pytest.raises(SettingsError, match="not a column"):
        res.forest(labels="nope")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d2 = mr.metamv(res.yi, res.vi, data={"study": res.groups["study"], "es": np.arange(16),
                                             "month": res.covariates["month"]},
                       random="~ 1 | study/es", mods="~ factor(month)").forest()
    assert not any(r.kind == "random" for r in d2.rows)   # with moderators: no single pooled estimate


def test_forest_command_with_cluster(pain_csv, tmp_path, capsys):
    out = tmp_path / "f.png"
    assert main(["forest", str(pain_csv), "--measure", "MD", "--cluster", "study", "--row-labels", "month",
                 "-o", str(out)]) == 0
    assert out.stat().st_size > 1000
    capsys.readouterr()
    for argv, message in ((["--row-labels", "month"], "--row-labels needs --cluster"),
                          (["--cluster", "study", "--layout", "jama"], "one layout")):
        assert main(["forest", str(pain_csv), "--measure", "MD", *argv, "-o", str(out)]) == 2
        assert message in capsys.readouterr().err


def test_json_estimates_keep_label_and_groups(pain_csv, capsys):
    assert main(["pool", str(pain_csv), "--measure", "MD", "--cluster", "study", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)["multilevel"]["estimates"][0]
    assert first == {"label": "S0", "yi": pytest.approx(first["yi"]), "vi": pytest.approx(first["vi"]),
                     "groups": {"study": "S0", "estimate": "1"}}


def test_robust_test_of_moderators_is_printed_and_in_the_json():
    """The cluster-robust omnibus test (HTZ for several moderators) beside the CR2 table and in
    the JSON ``robust.qm``; without moderators there is nothing to test, as metafor prints none."""
    d = load("assink_vcalc_deltype_year")
    res = mr.metamv("yi", "vi", data=d["data"], random="~ 1 | study/esid", rho=0.6, mods="~ deltype + year",
                    robust=True)
    assert "Cluster-robust test of moderators (HTZ Wald test): F(3, 1.36) = 21.7469, p = 0.0961" in str(res)
    qm = res.to_dict()["robust"]["qm"]
    assert qm["test"] == "HTZ" and qm["df"] == 3 and abs(qm["df2"] - d["robust"]["QMdf"][1]) < 1e-6
    one = mr.metamv("yi", "vi", data=d["data"], random="~ 1 | study/esid", mods="~ year", robust=True)
    assert "(squared t test): F(1, " in str(one) and one.to_dict()["robust"]["qm"]["test"] == "t"
    plain = mr.metamv("yi", "vi", data=d["data"], random="~ 1 | study/esid", robust=True)
    assert "Cluster-robust test of moderators" not in str(plain)
