"""Risk of bias in analyses: pool --rob/--exclude-rob, subgroups by judgment, and the plan."""

from __future__ import annotations

import json

import pytest

import metareview as mr
from metareview.cli import main

DATA = """study,events,n
Namba,8,10
Tsai,26,31
Wang B,26,30
Giles,6,9
Bertrand,18,23
Harding,19,24
"""
ROB = """Study,D1,D2,D3,D4,D5,Overall
Namba,Low,Low,Low,Low,Low,Low
Tsai,High,Low,Low,Low,Low,High
Wang B,Some concerns,Low,Low,Low,Low,Some concerns
Giles,Low,Low,Low,Low,Low,Low
Bertrand,Low,Low,Low,Low,High,High
Harding,Low,Some concerns,Low,Low,Low,Some concerns
"""


@pytest.fixture
def files(tmp_path):
    (tmp_path / "data.csv").write_text(DATA, encoding="utf-8")
    (tmp_path / "rob.csv").write_text(ROB, encoding="utf-8")
    return tmp_path


def _pool(capsys, *args):
    capsys.readouterr()
    assert main(["pool", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _studies(doc):
    return {s["study"]: s for s in doc["studies"]} if isinstance(doc["studies"], list) else doc["studies"]


@pytest.mark.parametrize("which,dropped", [("high", ["Tsai", "Bertrand"]),
                                           ("some", ["Tsai", "Wang B", "Bertrand", "Harding"])])
def test_exclude_rob_equals_excluding_those_studies(files, capsys, which, dropped):
    data, rob = str(files / "data.csv"), str(files / "rob.csv")
    by_rob = _pool(capsys, data, "--rob", rob, "--rob-tool", "rob2", "--exclude-rob", which)
    by_name = _pool(capsys, data, *[x for s in dropped for x in ("--exclude", s)])
    assert by_rob["random"] == by_name["random"] and by_rob["common"] == by_name["common"]
    assert by_rob["k"] == 6 - len(dropped)
    assert any(f"--exclude-rob {which}" in n and ", ".join(dropped) in n for n in by_rob["notes"])


def test_subgroup_by_overall_judgment(files, capsys):
    doc = _pool(capsys, str(files / "data.csv"), "--rob", str(files / "rob.csv"), "--subgroup", "rob")
    assert sorted(doc["subgroups"]["levels"]) == ["High", "Low", "Some concerns"]
    low = next(g for g in doc["subgroups"]["groups"] if g["level"] == "Low")
    alone = mr.metaprop([8, 6], [10, 9], ["Namba", "Giles"]).to_dict()
    assert low["k"] == 2 and low["random"]["estimate"] == pytest.approx(alone["random"]["estimate"], rel=1e-12)


def test_errors_name_the_study_and_what_is_missing(files, capsys):
    (files / "short.csv").write_text("\n".join(ROB.splitlines()[:-1]) + "\n", encoding="utf-8")
    assert main(["pool", str(files / "data.csv"), "--rob", str(files / "short.csv"), "--exclude-rob", "high"]) == 2
    assert "study 'Harding'" in capsys.readouterr().err
    assert main(["pool", str(files / "data.csv"), "--exclude-rob", "high"]) == 2
    assert "--rob FILE" in capsys.readouterr().err
    assert main(["pool", str(files / "data.csv"), "--rob", str(files / "rob.csv"), "--exclude-rob", "all"]) == 2
    assert "high or some" in capsys.readouterr().err


PLAN = """
[data.t]
file = "data.csv"
rob = "rob.csv"
rob_tool = "rob2"

[sensitivity.low_risk]
title = "Without studies at high risk of bias"
exclude_rob = "high"
reason = "RoB 2 overall judgment high"

[analysis.tr]
title = "Response"
data = "t"
columns = { events = "events", n = "n" }
measure = "PLO"
sensitivity = ["low_risk"]
subgroups = ["rob"]
figures = []

[grade.tr]
design = "randomised"
thresholds = [0.5]
threshold_reason = "half of the patients"
rate = { indirectness = { rating = "not serious", reason = "the question's population" } }
"""


def test_plan_sensitivity_and_subgroups_by_risk_of_bias(files):
    from metareview.run import run_review
    (files / "review.toml").write_text(PLAN, encoding="utf-8")
    run = run_review(files, files / "out")
    sens = run.results["tr_low_risk"]
    assert sens["analysis"]["exclude"] == ["Tsai", "Bertrand"]
    assert sens["k"] == 4
    assert set(run.results["tr"]["subgroups"]["rob"]["levels"]) == {"Low", "High", "Some concerns"}
    # GRADE weighs the judgments by the studies' weights in the analysis
    g = {d["domain"]: d for d in run.results["grade"][0]["domains"]}
    w = {st["study"]: st["weight_random"] for st in run.results["tr"]["studies"]}
    high = (w["Tsai"] + w["Bertrand"]) / sum(w.values())
    assert 0.25 <= high < 0.5
    assert g["risk_of_bias"]["rating"] == "serious"
    assert g["risk_of_bias"]["basis"].startswith(f"studies at high risk of bias carry {100 * high:.0f}% of the weight")
    assert g["indirectness"]["rating"] == "not serious" and g["indirectness"]["reason"] == "the question's population"
    for kind in ("traffic_light", "summary"):
        assert (files / "out" / "figures" / f"rob_t_{kind}.png").exists()
    html = (files / "out" / "report.html").read_text(encoding="utf-8")
    assert "Risk of bias (RoB 2)" in html and "Summary of findings" in html
    (files / "review.toml").write_text(PLAN.replace('exclude_rob = "high"', 'exclude_rob = "worst"'),
                                       encoding="utf-8")
    from metareview.run.plan import PlanError
    with pytest.raises(PlanError, match="exclude_rob takes high or some"):
        run_review(files, files / "out2")


@pytest.mark.parametrize("change,message", [
    ('design = "randomised"', 'design = "rct"'),
    ('thresholds = [0.5]', 'thresholds = ["half"]'),
    ('threshold_reason = "half of the patients"', 'threshold_reason = ""'),
    ('rating = "not serious", reason', 'rating = "fine", reason'),
    ('[grade.tr]', '[grade.nothing]'),
])
def test_plan_grade_errors_name_the_key(files, change, message):
    from metareview.run.plan import PlanError, load_plan
    (files / "review.toml").write_text(PLAN.replace(change, message), encoding="utf-8")
    with pytest.raises(PlanError, match=r"review.toml:\d+: \[grade\."):
        load_plan(files)
