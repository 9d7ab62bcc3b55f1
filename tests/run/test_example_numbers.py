"""The bundled review reproduces the seed paper's analyses (R meta 4.9-6 reference values).

Targets copied from /work/shared/reference/seed-analyses.md ("Values (R meta 4.9-6), full
precision"), computed there with::

    metaprop(event, n, method = "Inverse", sm = "PLOGIT", method.tau = "DL")
    metacont(n, mean_3mo, sd_3mo, n, mean_baseline, sd_baseline, sm = "MD", method.tau = "DL")
    metacont(n, mean_1mo, sd_baseline, n, mean_baseline, sd_baseline, sm = "MD", method.tau = "DL")

relative tolerance 1e-6 on the unrounded values.
"""

from __future__ import annotations

import pytest

REL = 1e-6


def approx(x):
    return pytest.approx(x, rel=REL)


def test_treatment_response_random_and_common(example_run):
    _, res = example_run
    tr = res["treatment_response"]
    assert tr["k"] == 20 and tr["measure"] == "PLO" and tr["method_tau2"] == "DL"
    bt = tr["backtransformed"]
    assert bt["random"]["estimate"] == approx(0.7862675969)
    assert bt["random"]["ci_low"] == approx(0.7327309077)
    assert bt["random"]["ci_high"] == approx(0.8315457728)
    assert bt["common"]["estimate"] == approx(0.7628126603)
    assert tr["random"]["estimate"] == approx(1.3025724089)
    assert tr["heterogeneity"]["tau2"] == approx(0.1396397002)
    assert tr["heterogeneity"]["i2"] / 100 == approx(0.3867681485)
    assert bt["prediction"]["low"] == approx(0.6122027821)
    assert bt["prediction"]["high"] == approx(0.8955344946)


def test_treatment_response_without_wang_b(example_run):
    _, res = example_run
    s = res["treatment_response_without_paediatric"]
    assert s["k"] == 19 and s["k_all"] == 20
    assert [x["study"] for x in s["studies"] if x["excluded"]] == ["Wang B., 2019"]
    assert s["backtransformed"]["random"]["estimate"] == approx(0.7807068757)
    assert s["backtransformed"]["random"]["ci_low"] == approx(0.7249375923)
    assert s["backtransformed"]["random"]["ci_high"] == approx(0.8278539284)
    assert s["backtransformed"]["common"]["estimate"] == approx(0.7582217775)


def test_pain_3_months(example_run):
    _, res = example_run
    p = res["pain_3mo"]
    assert p["k"] == 18 and p["analysis"]["patients"] == 509
    assert p["random"]["estimate"] == approx(-4.3832095169)
    assert p["random"]["ci_low"] == approx(-5.0251143056)
    assert p["random"]["ci_high"] == approx(-3.7413047282)
    assert p["common"]["estimate"] == approx(-4.1615470752)
    assert p["heterogeneity"]["tau2"] == approx(1.4470295013)
    assert p["heterogeneity"]["i2"] / 100 == approx(0.8346100930)


def test_pain_1_month_imputed_from_baseline_sd(example_run):
    _, res = example_run
    p = res["pain_1mo"]
    assert p["k"] == 18 and p["analysis"]["patients"] == 454
    assert p["random"]["estimate"] == approx(-3.8404279369)
    assert p["random"]["ci_low"] == approx(-4.2994575593)
    assert p["random"]["ci_high"] == approx(-3.3813983145)
    imputed = [f for f in p["analysis"]["flagged"] if f["flag"] == "imputed"]
    assert len(imputed) == 18
    assert all(f["column"] == "pain_1mo_sd" and "baseline_sd" in f["method"] for f in imputed)


def test_adverse_events_crude_and_denominators(example_run):
    _, res = example_run
    hi, lo = res["ae_high_grade"], res["ae_low_grade"]
    assert (hi["crude"]["events"], hi["crude"]["n"], hi["crude"]["k"]) == (7, 796, 27)
    assert (lo["crude"]["events"], lo["crude"]["n"], lo["crude"]["k"]) == (47, 796, 27)
    assert hi["crude"]["estimate"] == approx(7 / 796)
    # Tsai 2019 prints a high-grade count and a blank low-grade cell: read as 0, flagged
    assert {"study": "Tsai, 2019", "column": "tox_lt3_events"}.items() <= lo["analysis"]["flagged"][0].items()
    wo = res["ae_low_grade_without_paediatric"]
    assert (wo["crude"]["events"], wo["crude"]["n"]) == (39, 766)
    # the GLMM needs no continuity correction and lies below the inverse-variance logit pooling
    assert hi["glmm"]["estimate"] < hi["crude"]["estimate"] < hi["backtransformed"]["random"]["estimate"]


def test_comparison_verdicts(example_run):
    _, res = example_run
    by = {c["label"]: c for c in res["comparison"]}
    tr = by["Treatment response, random effects"]
    assert (tr["paper"], tr["ours_printed"], tr["verdict"]) == ("79% (73–83%)", "79% (73–83%)",
                                                               "agrees at printed precision")
    assert by["Treatment response, random effects, without Wang B."]["ours_printed"] == "78% (72–83%)"
    assert by["Pain at 3 months, mean difference"]["verdict"] == "agrees at printed precision"
    one = by["Pain at 1 month, mean difference"]
    assert one["verdict"] == "differs" and "imput" in one["why"]
    assert one["ours_printed"] == "-3.8 (-4.3; -3.4)"
    for label, printed in (("High-grade adverse events (crude: events / patients)", "0.9%"),
                           ("Low-grade adverse events (crude: events / patients)", "5.9%"),
                           ("Low-grade adverse events without Wang B. (crude)", "5.1%")):
        assert by[label]["ours_printed"] == printed and by[label]["verdict"] == "agrees at printed precision"
    ae = by["Table 1: High-grade toxicity (grade 3+)"]
    assert ae["verdict"] == "differs" and "799" in ae["why"] and ae["ours_printed"].startswith("27 studies, N = 796")
    cannot = {c["label"] for c in res["comparison"] if c["verdict"] == "cannot be recomputed"}
    assert "Treatment response with vs without prior radiotherapy" in cannot
    assert any(label.startswith("Quality of life") for label in cannot)


def test_table1_and_checks(example_run):
    _, res = example_run
    t1 = {r["key"]: r for r in res["table1"]}
    assert t1["studies"]["value"] == {"k": 33}
    assert t1["patients"]["value"] == {"sum": 1082.0, "median": 21.0, "min": 5.0, "max": 140.0}
    assert t1["age"]["value"]["k"] == 22 and t1["age"]["value"]["median"] == 60.0
    assert t1["followup"]["value"] == {"k": 29, "median": 3.0, "min": 1.0, "max": 12.0}
    assert t1["treatment_response"]["value"]["events"] == 502 and t1["treatment_response"]["value"]["n"] == 636
    findings = res["checks"]["table2"]["findings"]
    namba = [f for f in findings if f["study"] == "Namba, 2019" and f["rule"] == "percent_matches_count"]
    assert namba and namba[0]["value"] == "12.9"
    assert res["checks"]["table2"]["errors"] == 0


def test_output_files(example_run):
    out, res = example_run
    for name in ("treatment_response_forest", "pain_1mo_forest", "pain_3mo_forest", "ae_high_grade_forest",
                 "ae_low_grade_forest", "treatment_response_without_paediatric_forest", "prisma"):
        for ext in ("png", "svg", "pdf"):
            assert (out / "figures" / f"{name}.{ext}").stat().st_size > 1000, (name, ext)
    for table in ("comparison", "table1", "analyses", "checks_table2", "treatment_response_studies"):
        assert (out / "tables" / f"{table}.csv").exists()
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.count("<svg") >= 8                      # figures inline: the page needs no other file
    assert "<img" not in html and "<script" not in html
    assert "Paper vs reproduction" in html and "DerSimonian-Laird estimator for τ²" in html
    for package in ("metareview", "numpy", "scipy", "Python"):
        assert package in res["software"]
    assert sorted(res["figures"]) == res["figures"]


def test_grade_from_the_numbers_and_nothing_invented(example_run):
    """The paper assesses no risk of bias: no judgment is invented; the other domains come from the numbers."""
    out, res = example_run
    grades = {g["outcome"]: g for g in res["grade"]}
    assert len(grades) == 5
    for g in grades.values():
        domains = {d["domain"]: d for d in g["domains"]}
        assert domains["risk_of_bias"]["rating"] is None and domains["indirectness"]["rating"] is None
        assert domains["risk_of_bias"]["basis"] == "not assessed in the paper"
        assert g["upper_bound"] and g["design"] == "observational"
        for key in ("inconsistency", "imprecision", "publication_bias"):
            assert domains[key]["rating"] == domains[key]["suggested"] is not None   # 18+ studies each
    tr = {d["domain"]: d for d in grades["Pain response (complete or partial)"]["domains"]}
    i2 = res["treatment_response"]["heterogeneity"]["i2"]
    assert tr["inconsistency"]["basis"].startswith(f"I² = {i2:.0f}%")
    assert "Egger's test p = " in tr["publication_bias"]["basis"]
    assert grades["Pain response (complete or partial)"]["effect"]["per_1000"][0] == \
        pytest.approx(1000 * res["treatment_response"]["backtransformed"]["random"]["estimate"])
    rows = (out / "tables" / "summary_of_findings.csv").read_text(encoding="utf-8").splitlines()
    assert len(rows) == 6 and rows[1].startswith("Pain response (complete or partial),636 (20 studies)")
    assert (out / "tables" / "summary_of_findings.docx").stat().st_size > 5000
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Certainty of the evidence (GRADE)" in html and "Summary of findings" in html
