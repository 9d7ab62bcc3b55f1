"""Traffic-light and summary plots: no text overlaps at 5, 30 and 100 studies, every format, CLI."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from metareview.appraisal.rob import load_tool, read_robvis  # noqa: E402
from metareview.cli import main  # noqa: E402
from metareview.plots._text import assert_no_text_overlap, drawn_text_extents  # noqa: E402
from metareview.plots.rob import ROB_COLOURS, rob_summary, traffic_light  # noqa: E402


def _table(k: int, tool: str = "rob2", seed: int = 3):
    rng = np.random.default_rng(seed)
    t = load_tool(tool)
    names = [j.name for j in t.judgments if j.level >= 1]
    rows = []
    for i in range(k):
        d = [str(rng.choice(names)) for _ in t.domains]
        overall = t.overall_judgment(d) if t.overall == "worst" else str(rng.choice(names))
        rows.append([f"García-Fernández {1990 + i % 30}{'abcd'[i // 30]}", *d, overall, float(rng.uniform(1, 30))])
    return read_robvis(pd.DataFrame(rows, columns=["Study", *[d.id for d in t.domains], "Overall", "Weight"]), t)


def _assert_clean(fig):
    assert drawn_text_extents(fig)
    assert_no_text_overlap(fig)


@pytest.mark.parametrize("k", [5, 30, 100])
@pytest.mark.parametrize("tool", ["rob2", "robins-i", "jbi-case-series"])
def test_traffic_light_without_overlapping_text(k, tool):
    table = _table(k, tool)
    d = traffic_light(table)
    _assert_clean(d.figure_)
    n_cols = len(table.domains) + 1
    assert len(d.circles_) == k * n_cols
    # the circles carry each study's judgments, overall last
    _, _, circle = d.circles_[n_cols - 1]
    assert matplotlib.colors.to_hex(circle.get_facecolor()).upper() == ROB_COLOURS[table.level(table.overall[0])]
    drawn = {t.get_text() for t in d.texts_}
    assert set(table.studies) <= drawn


@pytest.mark.parametrize("k", [5, 30, 100])
def test_summary_without_overlapping_text_and_weighted_shares(k):
    table = _table(k)
    d = rob_summary(table)
    _assert_clean(d.figure_)
    w = np.array(table.weights)
    high = sum(wi for wi, o in zip(w, table.overall) if o == "High") / w.sum() * 100
    assert d.shares_["Overall risk of bias"].get("High", 0.0) == pytest.approx(high)
    counted = rob_summary(table, weighted=False)
    n_high = sum(o == "High" for o in table.overall) / k * 100
    assert counted.shares_["Overall risk of bias"].get("High", 0.0) == pytest.approx(n_high)
    for shares in d.shares_.values():
        assert sum(shares.values()) == pytest.approx(100)


@pytest.mark.parametrize("suffix", ["png", "svg", "pdf"])
@pytest.mark.parametrize("kind", ["traffic-light", "summary"])
def test_cli_writes_each_format(tmp_path, suffix, kind):
    data = tmp_path / "rob.csv"
    _table(6).to_frame().to_csv(data, index=False)
    out = tmp_path / f"fig.{suffix}"
    assert main(["rob", "plot", str(data), "-o", str(out), "--type", kind, "--tool", "rob2"]) == 0
    head = out.read_bytes()[:8]
    assert {"png": b"\x89PNG", "svg": b"<?xml", "pdf": b"%PDF"}[suffix] in head


def test_cli_refuses_to_write_onto_its_input_and_bad_tables(tmp_path, capsys):
    data = tmp_path / "rob.csv"
    text = "Study,D1,D2,D3,D4,D5,Overall\nA,Low,Low,Low,Low,Low,Low\n"
    data.write_text(text, encoding="utf-8")
    assert main(["rob", "plot", str(data), "-o", str(data)]) == 2
    assert data.read_text(encoding="utf-8") == text
    assert "is an input" in capsys.readouterr().err
    data.write_text(text.replace("A,Low,Low", "A,Lo,Low"), encoding="utf-8")
    assert main(["rob", "plot", str(data), "-o", str(tmp_path / "x.png")]) == 2
    assert "study 'A', column 'D1'" in capsys.readouterr().err
    assert main(["rob", "plot", str(data), "-o", str(tmp_path / "x.png"), "--type", "pie"]) == 2


@pytest.mark.parametrize("k", [5, 30, 100])
@pytest.mark.parametrize("layout", ["meta", "revman5"])
def test_forest_with_risk_of_bias_columns(k, layout):
    import metareview as mr
    table = _table(k)
    rng = np.random.default_rng(k)
    n = rng.integers(10, 200, k)
    res = mr.metaprop(rng.binomial(n, 0.7), n, list(table.studies))
    d = res.forest(layout=layout, rob=table)
    _assert_clean(d.figure_)
    assert len(d.rob_marks_) == k * 6
    first = [(key, disc) for i, key, disc in d.rob_marks_ if d.rows[i].cells["study"] == table.studies[0]]
    assert [key for key, _ in first] == ["rob:D1", "rob:D2", "rob:D3", "rob:D4", "rob:D5", "rob:Overall"]
    expected = [ROB_COLOURS[table.level(j)] for j in (*table.judgments[0], table.overall[0])]
    assert [matplotlib.colors.to_hex(disc.get_facecolor()).upper() for _, disc in first] == expected
    drawn = [t.get_text() for _, key, t in d.texts_]
    assert "D5: Bias in selection of the reported result" in drawn


def test_forest_rob_by_subgroup_and_missing_study():
    import metareview as mr
    from metareview.analyses.subgroups import subgroup
    from metareview.base.exceptions import DataError
    table = _table(6)
    res = mr.metaprop([5, 6, 7, 8, 9, 10], [10] * 6, list(table.studies),
                      covariates={"site": ["a", "a", "b", "b", "a", "b"]})
    from metareview.plots.forest import forest
    d = forest(subgroup(res, "site"), rob=table)
    assert len(d.rob_marks_) == 6 * 6
    _assert_clean(d.figure_)
    other = mr.metaprop([5, 6], [10, 10], ["Somebody 2001", table.studies[0]])
    with pytest.raises(DataError, match="study 'Somebody 2001'"):
        forest(other, rob=table)


def test_forest_cli_with_rob(tmp_path):
    data = tmp_path / "d.csv"
    rob = tmp_path / "rob.csv"
    table = _table(5)
    rob.write_text(table.to_csv(), encoding="utf-8")
    data.write_text("study,events,n\n" + "".join(f"{s},{5 + i},{20}\n" for i, s in enumerate(table.studies)),
                    encoding="utf-8")
    assert main(["forest", str(data), "-o", str(tmp_path / "f.png"), "--rob", str(rob), "--rob-tool", "rob2"]) == 0
    assert (tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG"


def test_forest_and_funnel_refuse_to_write_onto_their_inputs(tmp_path, capsys):
    data = tmp_path / "d.csv"
    rob = tmp_path / "rob.csv"
    table = _table(4)
    rob.write_text(table.to_csv(), encoding="utf-8")
    text = "study,events,n\n" + "".join(f"{s},{5 + i},{20}\n" for i, s in enumerate(table.studies))
    data.write_text(text, encoding="utf-8")
    for command, target in (("forest", rob), ("forest", data), ("funnel", data)):
        assert main([command, str(data), "-o", str(target), "--rob", str(rob)]) == 2
        assert "is an input" in capsys.readouterr().err
    assert data.read_text(encoding="utf-8") == text and rob.read_text(encoding="utf-8") == table.to_csv()
