"""The bundled tools load, their overall rules, and the robvis table reader."""

from __future__ import annotations

import pytest

from metareview.appraisal.rob import load_tool, read_robvis, rob_exclusions, tool_names
from metareview.base.exceptions import DataError, SettingsError


def test_every_bundled_tool_loads():
    assert {"rob2", "robins-i", "quadas-2", "jbi-case-series", "generic"} <= set(tool_names())
    for name in tool_names():
        tool = load_tool(name)
        assert tool.citation and tool.judgments


def test_unknown_tool_lists_the_tools():
    with pytest.raises(SettingsError, match="rob2"):
        load_tool("rob3")


@pytest.mark.parametrize("domains,expected", [
    (["Low"] * 7, "Low"),
    (["Low", "Moderate", "Low", "Low", "Low", "Low", "Low"], "Moderate"),
    (["Low", "Serious", "Moderate", "Low", "Low", "Low", "Low"], "Serious"),
    (["Critical", "Serious", "Moderate", "Low", "Low", "Low", "Low"], "Critical"),
    # no domain at serious or critical risk, information lacking in one: "No information"
    (["Low", "Moderate", "No information", "Low", "Low", "Low", "Low"], "No information"),
    (["Low", "Serious", "No information", "Low", "Low", "Low", "Low"], "Serious"),
])
def test_robins_i_overall_rule(domains, expected):
    assert load_tool("robins-i").overall_judgment(domains) == expected


def test_robins_i_domains_are_judged_by_the_assessor():
    with pytest.raises(DataError, match="the assessor judges it"):
        load_tool("robins-i").domain_judgment("D1", {"1.1": "N"})


@pytest.mark.parametrize("answers,expected", [
    ({"1.1": "Yes", "1.2": "Yes", "1.3": "Yes"}, "Low"),
    ({"1.1": "Yes", "1.2": "Unclear", "1.3": "Yes"}, "Unclear"),
    ({"1.1": "No", "1.2": "Unclear", "1.3": "Yes"}, "High"),
])
def test_quadas2_proposals(answers, expected):
    assert load_tool("quadas-2").domain_judgment("D1", answers) == expected


def test_jbi_items_and_assessor_overall():
    tool = load_tool("jbi-case-series")
    assert len(tool.domains) == 10
    assert tool.domain_judgment("Q4", {"4": "No"}) == "High"
    assert tool.domain_judgment("Q4", {"4": "Not applicable"}) == "Not applicable"
    with pytest.raises(DataError, match="assessor gives it"):
        tool.overall_judgment(["Low"] * 10)


ROBVIS = """Study,D1,D2,D3,D4,D5,Overall,Weight
Study 1,Low,Low,Low,Low,Low,Low,33.3
Study 2,Some concerns,Low,high,Low,Low,High,10
Study 3,Low,Some concerns,Low,Low,Low,Some concerns,5
"""


def test_robvis_round_trip(tmp_path):
    path = tmp_path / "rob.csv"
    path.write_text(ROBVIS, encoding="utf-8")
    table = read_robvis(path, "rob2")
    assert table.studies == ("Study 1", "Study 2", "Study 3")
    assert table.judgments[1][2] == "High"          # case-insensitive, written canonically
    assert table.weights == (33.3, 10.0, 5.0)
    assert table.names[0] == "Bias arising from the randomisation process"
    again = tmp_path / "again.csv"
    again.write_text(table.to_csv(), encoding="utf-8")
    assert read_robvis(again, "rob2") == table
    assert table.to_csv() == ROBVIS.replace("high", "High").replace("33.3", "33.3").replace(",10\n", ",10.0\n") \
        .replace(",5\n", ",5.0\n")


def test_robvis_errors_name_study_and_column(tmp_path):
    path = tmp_path / "rob.csv"
    path.write_text(ROBVIS.replace("Some concerns,Low,high", "Some concerns,Low,Serious"), encoding="utf-8")
    with pytest.raises(DataError, match="study 'Study 2', column 'D3': 'Serious' is not a RoB 2 judgment"):
        read_robvis(path, "rob2")
    path.write_text("Study,D1,D2,Overall\nA,Low,Low,Low\n", encoding="utf-8")
    with pytest.raises(DataError, match="RoB 2 has 5 domains"):
        read_robvis(path, "rob2")
    table = read_robvis(path)   # generic: domains named by the table
    assert table.names == ("D1", "D2")
    path.write_text("Study,D1,Overall,Weight\nA,Low,Low,-1\n", encoding="utf-8")
    with pytest.raises(DataError, match="column 'Weight'"):
        read_robvis(path)


def test_exclusions_by_overall_judgment():
    tool = load_tool("robins-i")
    overall = {"A": "Low", "B": "Moderate", "C": "Serious", "D": "No information", "E": "Critical"}
    assert rob_exclusions(overall, tool, list(overall), "high") == ["C", "E"]
    assert rob_exclusions(overall, tool, list(overall), "some") == ["B", "C", "D", "E"]
    with pytest.raises(DataError, match="study 'F'"):
        rob_exclusions(overall, tool, ["A", "F"], "high")
