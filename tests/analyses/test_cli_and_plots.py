"""``metareview pool`` with the analysis options, the printed sections, and the plots of the analyses."""

import json

import numpy as np
import pandas as pd
import pytest

from metareview.cli import main

from ._reference import result


@pytest.fixture()
def seed_csv(tmp_path):
    d = pd.read_csv("tests/fixtures/seed_tr.csv")
    d["size"] = np.where(d["n"] >= 20, "large", "small")
    d["year"] = np.arange(2000, 2020)[::-1]
    path = tmp_path / "seed.csv"
    d.to_csv(path, index=False)
    return path


def test_pool_json_has_analysis_keys(seed_csv, capsys):
    rc = main(["pool", str(seed_csv), "--json", "--subgroup", "size", "--leave-one-out", "--cumulative", "year",
               "--influence", "--metareg", "~ n", "--bias"])
    assert rc == 0
    doc = json.loads(capsys.readouterr().out)
    for key in ("k", "common", "random", "heterogeneity", "studies"):  # the existing contract is untouched
        assert key in doc
    assert doc["subgroups"]["variable"] == "size" and set(doc["subgroups"]["test"]) == {"common", "random"}
    assert len(doc["leave_one_out"]["rows"]) == 20 and doc["leave_one_out"]["rows"][0]["omitted"] == "Namba"
    assert doc["cumulative"]["order_by"] == "year" and doc["cumulative"]["rows"][0]["added"] == "Gianfelice"
    assert len(doc["influence"]["rows"]) == 20
    assert [c["name"] for c in doc["metareg"]["coefficients"]] == ["intrcpt", "n"]
    assert doc["bias"]["trimfill"]["k0"] == 7
    assert set(doc["bias"]["tests"]) == {"egger", "egger_rma", "thompson_sharp", "begg"}


def test_pool_prints_sections(seed_csv, capsys):
    rc = main(["pool", str(seed_csv), "--subgroup", "size", "--tau-common", "--leave-one-out", "--bias"])
    assert rc == 0
    out = capsys.readouterr().out
    for text in ("Subgroup analysis by size", "Test for subgroup differences", "Common τ² across subgroups",
                 "Leave-one-out analysis", "Egger's regression test", "Trim-and-fill"):
        assert text in out


def test_pool_option_errors(seed_csv, capsys):
    assert main(["pool", str(seed_csv), "--tau-common"]) == 2
    assert "--tau-common needs --subgroup" in capsys.readouterr().err
    assert main(["pool", str(seed_csv), "--subgroup", "nosuch"]) == 2
    assert main(["pool", str(seed_csv), "--metareg", "~ nosuch"]) == 2


def test_plots_of_analyses():
    pytest.importorskip("matplotlib")
    import matplotlib
    matplotlib.use("Agg")
    r = result("bcg_rr", "REML")
    lo = r.leave1out().forest()
    assert lo.figure_ is not None
    assert r.cumul("year").forest().figure_ is not None
    assert r.subgroup("alloc").forest().figure_ is not None
    tf = r.trimfill(side="left")
    fd = tf.funnel()
    assert (fd.filled_points_ is None) == (tf.k0 == 0)
    d = r.metareg("~ ablat + factor(alloc)").bubble(prediction=True)
    assert len(d.points_.get_offsets()) == 13 and d.pi_band_ is not None
    with pytest.raises(Exception, match="numeric moderator"):
        r.metareg("~ factor(alloc)").bubble()


def test_bubble_plot_names_the_scale_it_draws(tmp_path):
    """Log ratios are labelled as R meta's bubble() labels them: "Log risk ratio" on the analysis scale, "Risk
    ratio" on a log axis when back-transformed; other transformations keep their name."""
    pytest.importorskip("matplotlib")
    import matplotlib

    import metareview as mr
    matplotlib.use("Agg")
    for measure, analysis, natural in (("RR", "Log risk ratio", "Risk ratio"), ("OR", "Log odds ratio", "Odds ratio")):
        reg = result("bcg_rr", "REML", measure=measure).metareg("~ ablat")
        d = reg.bubble()
        assert d.ax_.get_ylabel() == analysis and d.ax_.get_yscale() == "linear"
        assert max(d.y) < 1  # log ratios: the largest bcg log RR is 0.45
        b = reg.bubble(transf=True)
        assert b.ax_.get_ylabel() == natural and b.ax_.get_yscale() == "log"
        assert np.allclose(b.y, np.exp(d.y))
        b.figure_.canvas.draw()  # the log axis writes plain numbers, not matplotlib's math ("2×10⁻¹")
        shown = [t.get_text() for t in b.ax_.yaxis.get_ticklabels(which="both") if t.get_text()]
        assert "0.5" in shown and all(float(t) > 0 for t in shown)
    plo = mr.metagen([-0.9, -1.6, -1.4, -1.5, -0.2, -0.5], vi=[0.6, 0.4, 0.6, 0.1, 0.1, 0.3], measure="PLO",
                     covariates={"lat": [44, 55, 42, 52, 13, 44]}).metareg("~ lat")
    assert plo.bubble().ax_.get_ylabel() == "Proportion (logit)"
    assert plo.bubble(transf=True).ax_.get_ylabel() == "Proportion"
    assert result("bcg_rr", "REML").metareg("~ ablat").bubble().ax_.get_ylabel() == "Estimate"
