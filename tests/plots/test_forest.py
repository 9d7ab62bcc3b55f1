"""Forest plots: every design and layout, text collisions, axes, excluded studies, subgroups, CLI.

Baseline images are regenerated with ``METAREVIEW_UPDATE_BASELINES=1 pytest tests/plots``;
look at them before committing them.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.testing.compare import compare_images  # noqa: E402

import metareview as mr  # noqa: E402
from metareview.base.exceptions import SettingsError  # noqa: E402
from metareview.cli import main  # noqa: E402
from metareview.plots._text import drawn_text_extents  # noqa: E402
from metareview.plots.forest import ForestDisplay, forest, forest_table  # noqa: E402
from metareview.tables.io import read_table  # noqa: E402

HERE = Path(__file__).parent
REPO = HERE.parent.parent
SEED_TR = REPO / "tests" / "fixtures" / "seed_tr.csv"
SEED_PAIN3 = REPO / "tests" / "fixtures" / "seed_pain3.csv"

# BCG vaccine trials (Colditz et al. 1994), as in metafor's dat.bcg
BCG = {
    "study": ["Aronson 1948", "Ferguson & Simes 1949", "Rosenthal et al 1960", "Hart & Sutherland 1977",
              "Frimodt-Moller et al 1973", "Stein & Aronson 1953", "Vandiviere et al 1973", "TPT Madras 1980",
              "Coetzee & Berjak 1968", "Rosenthal et al 1961", "Comstock et al 1974",
              "Comstock & Webster 1969", "Comstock et al 1976"],
    "events_e": [4, 6, 3, 62, 33, 180, 8, 505, 29, 17, 186, 5, 27],
    "n_e": [123, 306, 231, 13598, 5069, 1541, 2545, 88391, 7499, 1716, 50634, 2498, 16913],
    "events_c": [11, 29, 11, 248, 47, 372, 10, 499, 45, 65, 141, 3, 29],
    "n_c": [139, 303, 220, 12867, 5808, 1451, 629, 88391, 7277, 1665, 27338, 2341, 17854],
    "year": [1948, 1949, 1960, 1977, 1973, 1953, 1973, 1980, 1968, 1961, 1974, 1969, 1976],
}
LABELS = ["Adams", "Brown", "Chen", "Diaz", "Evans", "Fox"]
CONT = dict(n_e=[20, 35, 48, 15, 60, 27], mean_e=[5.1, 4.8, 6.0, 5.5, 4.2, 5.0],
            sd_e=[1.2, 1.5, 1.1, 2.0, 1.4, 1.3], n_c=[22, 30, 50, 16, 58, 25],
            mean_c=[5.9, 5.6, 6.1, 6.6, 5.0, 5.4], sd_c=[1.3, 1.4, 1.2, 1.8, 1.5, 1.2])


def seed():
    return mr.metaanalysis(read_table(SEED_TR))


def bcg(measure="OR", **kw):
    return mr.metaanalysis(BCG, measure, **kw)


def results_by_design():
    c = CONT
    return {
        "proportion PLO": seed(),
        "proportion PR": mr.metaanalysis(read_table(SEED_TR), "PR"),
        "mean MN": mr.metamean(c["n_e"], c["mean_e"], c["sd_e"], LABELS),
        "prepost MD": mr.metaanalysis(read_table(SEED_PAIN3)),
        "prepost MC": mr.metaprepost(c["n_e"], c["mean_c"], c["sd_c"], c["mean_e"], c["sd_e"], LABELS, r=[0.5] * 6,
                                     measure="MC"),
        "cont2 MD": mr.metacont(c["n_e"], c["mean_e"], c["sd_e"], c["n_c"], c["mean_c"], c["sd_c"], LABELS),
        "cont2 SMD": mr.metacont(c["n_e"], c["mean_e"], c["sd_e"], c["n_c"], c["mean_c"], c["sd_c"], LABELS,
                                 measure="SMD"),
        "bin2 OR": bcg("OR"),
        "bin2 RD": bcg("RD"),
        "bin2 RR": bcg("RR"),
        "generic GEN": mr.metagen([0.2, 0.5, -0.1, 0.3], [0.1, 0.2, 0.15, 0.12], LABELS[:4]),
        "generic OR": mr.metagen([-0.9, -1.6, -0.2, 0.1], [0.6, 0.45, 0.2, 0.06], LABELS[:4], measure="OR"),
    }


RESULTS = results_by_design()


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def assert_clean(fig, tol: float = 0.0):
    """No two drawn texts overlap and none leaves the figure (vectorised, for 150-study plots)."""
    ext = drawn_text_extents(fig)
    assert ext, "nothing drawn"
    b = np.array([[e.bbox.x0, e.bbox.y0, e.bbox.x1, e.bbox.y1] for e in ext])
    w = np.minimum(b[:, None, 2], b[None, :, 2]) - np.maximum(b[:, None, 0], b[None, :, 0])
    h = np.minimum(b[:, None, 3], b[None, :, 3]) - np.maximum(b[:, None, 1], b[None, :, 1])
    over = np.triu((w > tol) & (h > tol), 1)
    pairs = [(ext[i].text, ext[j].text) for i, j in np.argwhere(over)]
    assert not pairs, f"overlapping texts: {pairs[:10]}"
    fb = fig.bbox
    out = [e.text for e in ext if e.bbox.x0 < fb.x0 - 0.5 or e.bbox.x1 > fb.x1 + 0.5
           or e.bbox.y0 < fb.y0 - 0.5 or e.bbox.y1 > fb.y1 + 0.5]
    assert not out, f"texts leaving the figure: {out}"


def texts(d, key=None):
    """Drawn texts of the display; with ``key`` those of one column below its header."""
    return [t.get_text() for i, k, t in d.texts_ if key is None or (k == key and i != -1)]


def study_rows(d):
    return [r for r in d.rows if r.kind in ("study", "excluded")]


# --------------------------------------------------------------------------- every design

@pytest.mark.parametrize("name", list(RESULTS))
@pytest.mark.parametrize("layout", ["meta", "revman5", "jama"])
def test_every_design_renders_without_text_collisions(name, layout, tmp_path):
    r = RESULTS[name]
    d = r.forest(layout=layout)
    assert isinstance(d, ForestDisplay)
    assert len(study_rows(d)) == r.k_all
    assert_clean(d.figure_)
    # one diamond per model drawn: both for meta, one for RevMan and JAMA
    assert len(d.diamonds_) == (2 if layout == "meta" else 1)
    # the data columns of the design are in the table
    heads = texts(d)
    if r.design in ("proportion", "bin2"):
        assert "Events" in heads and "Total" in heads
    if r.design == "cont2":
        assert {"Experimental", "Control", "Mean", "SD"} <= set(heads)
    if r.design == "mean":
        assert {"Mean", "SD", "Total"} <= set(heads)
    if r.design == "prepost":
        assert {"Baseline", "Follow-up"} <= set(heads)
    if r.design == "generic":
        assert "SE" in heads
    d.savefig(tmp_path / "f.png", dpi=50)
    assert (tmp_path / "f.png").stat().st_size > 1000


@pytest.mark.parametrize("name", list(RESULTS))
def test_drawn_estimates_are_the_results(name):
    """Squares at the study estimates, diamonds spanning the pooled intervals (natural scale)."""
    r = RESULTS[name]
    d = r.forest()
    sa = r.study_arrays()
    est = sa["bt_estimate"] if r.measure.transformed else sa["yi"]
    lo, hi = d.plot_ax_.get_xlim()
    inside = (est >= lo) & (est <= hi) & r.included
    drawn = np.sort(d.squares_.get_offsets()[:, 0][d.squares_.get_facecolors()[:, 3] > 0])
    np.testing.assert_allclose(drawn, np.sort(est[inside]), rtol=1e-12)
    p = r.pooled
    bt = r.backtransform if r.measure.transformed else (lambda x: x)
    for (_, poly), model in zip(d.diamonds_, ("common", "random")):
        xy = poly.get_xy()
        np.testing.assert_allclose([xy[0, 0], xy[1, 0], xy[2, 0]],
                                   [bt(p[f"{model}_ci_low"]), bt(p[f"{model}_estimate"]), bt(p[f"{model}_ci_high"])])


# --------------------------------------------------------------------------- seed figure 2

def test_seed_treatment_response_has_the_content_of_figure_2():
    r = seed()
    d = r.forest()
    t = texts(d)
    assert len(study_rows(d)) == 20
    # study, events/total, proportion with CI, weights (Namba: 8/10, 0.80 [0.44; 0.97], 1.6%, 2.9%)
    namba = [c for c in d.rows if c.cells.get("study") == "Namba"][0].cells
    assert (namba["events"], namba["n"], namba["effect"], namba["ci"]) == ("8", "10", "0.80", "[0.44; 0.97]")
    assert (namba["weight_common"], namba["weight_random"]) == ("1.6%", "2.9%")
    assert {"Common effect model", "Random effects model", "Prediction interval"} <= set(t)
    assert "0.76" in t and "[0.73; 0.80]" in t          # common effect, as R meta prints it
    assert "0.79" in t and "[0.73; 0.83]" in t          # random effects
    assert "Heterogeneity: I\u00b2 = 39%, \u03c4\u00b2 = 0.1396, p = 0.04" in t
    assert not any(s.startswith("Test for overall effect") for s in t)  # no null for a proportion
    assert [k for k, _ in d.diamonds_] and len(d.diamonds_) == 2
    assert d.null is None and not d.reference_line_
    assert d.plot_ax_.get_xlim() == (0.2, 1.0)


@pytest.mark.parametrize("dpi", [72, 150, 300])
def test_seed_at_journal_width_has_no_collisions(dpi):
    d = seed().forest(width=7.0)
    assert d.figure_.get_size_inches()[0] == pytest.approx(7.0)
    d.figure_.set_dpi(dpi)
    assert_clean(d.figure_)


def test_a_width_too_narrow_for_the_table_is_an_error_that_says_what_to_do():
    with pytest.raises(SettingsError, match="drop columns"):
        seed().forest(width=2.0)


def test_a_narrower_width_shrinks_the_font_before_giving_up():
    d = seed().forest(width=5.2)
    assert d.geometry.fontsize < 7.0
    assert_clean(d.figure_)


# --------------------------------------------------------------------------- size and rows

def _props(k, seed_=0):
    rng = np.random.default_rng(seed_)
    n = rng.integers(5, 400, k)
    return mr.metaprop(rng.binomial(n, 0.7), n, [f"Study {i + 1:03d} et al. ({2000 + i % 24})" for i in range(k)])


@pytest.mark.parametrize("k", [2, 150])
def test_two_and_150_studies_without_overlapping_text(k):
    d = _props(k).forest()
    assert len(study_rows(d)) == k
    assert_clean(d.figure_)


def test_height_grows_with_the_rows_by_one_row_height_each():
    h = {k: _props(k).forest().size[1] for k in (2, 20, 150)}
    assert h[2] < h[20] < h[150]
    row = 1.45 * 7.0 / 72.0
    assert h[150] - h[20] == pytest.approx(130 * row, rel=1e-6)


# --------------------------------------------------------------------------- axes

def test_ratios_are_drawn_on_a_log_axis_with_a_reference_line_at_one():
    d = bcg("OR").forest()
    ax = d.plot_ax_
    assert ax.get_xscale() == "log"
    assert 1.0 in list(ax.get_xticks())
    assert d.reference_line_ and all(np.allclose(seg[:, 0], 1.0) for lc in d.reference_line_
                                      for seg in lc.get_segments())
    assert "Odds ratio" in texts(d, "xlabel")


def test_differences_have_a_linear_axis_with_a_reference_line_at_zero():
    d = bcg("RD").forest()
    assert d.plot_ax_.get_xscale() == "linear"
    assert all(np.allclose(seg[:, 0], 0.0) for lc in d.reference_line_ for seg in lc.get_segments())


def test_arrows_where_a_confidence_interval_leaves_the_axis():
    r = seed()
    assert seed().forest().arrows_ == []
    d = r.forest(xlim=(0.5, 0.95))
    assert d.plot_ax_.get_xlim() == (0.5, 0.95)
    sa = r.study_arrays()
    n_left = int((sa["bt_ci_low"] < 0.5).sum())
    n_right = int((sa["bt_ci_high"] > 0.95).sum())
    xs = [a.get_xdata()[0] for a in d.arrows_ if a.get_marker() in "<>"]
    study_arrows = n_left + n_right
    assert xs.count(0.5) >= n_left and xs.count(0.95) >= n_right
    assert len(xs) >= study_arrows
    # whiskers stop at the limits
    segs = np.concatenate([s[:, 0] for s in d.whiskers_.get_segments()])
    assert segs.min() >= 0.5 and segs.max() <= 0.95


def test_arrows_on_a_log_axis_and_invalid_limits():
    d = bcg("OR").forest(xlim=(0.3, 2))
    assert any(a.get_marker() == "<" for a in d.arrows_)
    with pytest.raises(SettingsError, match="positive"):
        bcg("OR").forest(xlim=(0, 2))
    with pytest.raises(SettingsError, match="low < high"):
        seed().forest(xlim=(1, 0))


def test_percent_scale_for_proportions_only():
    d = seed().forest(percent=True)
    t = texts(d)
    assert "80.0" in t and "[44.4; 97.5]" in t
    assert d.plot_ax_.get_xlim()[1] == 100.0
    assert texts(d, "xlabel") == ["Proportion (%)"]
    with pytest.raises(SettingsError, match="percent"):
        bcg("OR").forest(percent=True)


def test_axis_label_and_favours_labels():
    d = bcg("OR").forest(xlabel="Odds ratio of tuberculosis", favours=("Favours vaccine", "Favours control"))
    assert texts(d, "xlabel") == ["Odds ratio of tuberculosis"]
    left, right = [t for _, k, t in d.texts_ if k == "favours"]
    assert left.get_ha() == "right" and right.get_ha() == "left"
    assert_clean(d.figure_)
    with pytest.raises(SettingsError, match="two labels"):
        bcg("OR").forest(favours="Favours vaccine")


# --------------------------------------------------------------------------- squares, excluded, tests

def test_square_area_is_proportional_to_weight():
    r = bcg("OR")
    d = r.forest()
    w = r.study_arrays()["weight_common"]
    sizes = d.squares_.get_sizes()      # points², in row order
    big = w / w.max() > 0.05           # tiny squares have a minimum side to stay visible
    np.testing.assert_allclose(sizes[big] / sizes[big].max(), w[big] / w.max(), rtol=1e-9)
    d2 = r.forest(square_weights="random")
    wr = r.study_arrays()["weight_random"]
    np.testing.assert_allclose(d2.squares_.get_sizes() / d2.squares_.get_sizes().max(), wr / wr.max(), rtol=1e-9)


def test_excluded_studies_are_shown_grey_with_no_weight_and_not_pooled():
    r = bcg("OR", exclude=["TPT Madras 1980"])
    d = r.forest()
    row = [i for i, x in enumerate(d.rows) if x.cells.get("study") == "TPT Madras 1980"][0]
    assert d.rows[row].kind == "excluded"
    assert d.rows[row].cells["weight_common"] == "--" and d.rows[row].cells["weight_random"] == "--"
    cells = [t for i, _, t in d.texts_ if i == row]
    assert cells and all(matplotlib.colors.to_hex(t.get_color()) == "#9a9a9a" for t in cells)
    # the diamond is the result's pooled estimate, which leaves the excluded study out
    common = d.diamonds_[0][1].get_xy()[1, 0]
    assert common == pytest.approx(float(np.exp(r.pooled["common_estimate"])))
    assert common != pytest.approx(float(np.exp(bcg("OR").pooled["common_estimate"])))
    # its total is left out of the totals row
    total = [x for x in d.rows if x.kind == "common"][0].cells["n_e"]
    assert total == str(sum(BCG["n_e"]) - 88391)


def test_tests_for_overall_effect_and_heterogeneity_lines():
    r = bcg("OR")
    t = texts(bcg("OR").forest(), "text")
    assert t[0].startswith("Heterogeneity: I\u00b2 = 93%, \u03c4\u00b2 = 0.3663, p < 0.001")
    assert "Test for overall effect (common effect): z = \u221210.32 (p < 0.001)" in t
    assert any(s.startswith("Test for overall effect (random effects): z = \u22123.89") for s in t)
    rv = texts(r.forest(layout="revman5"), "text")
    assert rv[0].startswith("Heterogeneity: Tau\u00b2 = 0.37; Chi\u00b2 = 163.16, df = 12 (P < 0.001); I\u00b2 = 93%")
    assert rv[1] == "Test for overall effect: Z = \u22123.89 (P < 0.001)"
    hk = bcg("OR", random_ci="hk")
    assert any("t(12)" in s for s in texts(hk.forest(), "text"))


def test_no_heterogeneity_line_for_a_single_study():
    r = mr.metaprop([8, 26], [10, 31], ["A", "B"], exclude=["B"])
    d = r.forest()
    assert not any(s.startswith("Heterogeneity") for s in texts(d, "text"))
    assert_clean(d.figure_)


# --------------------------------------------------------------------------- columns and sorting

def test_choice_of_columns():
    d = bcg("OR").forest(columns=["study", "year", "effect_ci", "weight_random"])
    assert {c.key for c in d.columns} == {"study", "year", "effect_ci", "weight_random"}
    assert "Weight\n(common)" not in texts(d)
    assert "1948" in texts(d, "year")
    with pytest.raises(SettingsError, match="unknown column 'bogus'"):
        bcg("OR").forest(columns=["study", "bogus"])


def test_show_weights_and_models_follow_what_was_fitted():
    d = seed().forest(show_weights=("random",))
    assert [c.key for c in d.columns if c.key.startswith("weight")] == ["weight_random"]
    d = seed().forest(show_weights=())
    assert not [c for c in d.columns if c.key.startswith("weight")]
    d = seed().forest(models=["common"], show_prediction=False)
    assert [r.kind for r in d.rows if r.kind in ("common", "random", "prediction")] == ["common"]
    only_common = seed().update(random=False)
    with pytest.raises(SettingsError, match="fitted models: common"):
        only_common.forest(models=["random"])
    with pytest.raises(SettingsError, match="show_weights"):
        only_common.forest(show_weights=("random",))


@pytest.mark.parametrize("key", ["effect", "-effect", "weight_random", "-weight_common", "study", "n",
                                 "events", "se"])
def test_sorting_by_any_column(key):
    r = seed()
    d = r.forest(sort_by=key)
    rows = study_rows(d)
    sa = r.study_arrays()
    base = key.lstrip("-")
    values = {"effect": sa["bt_estimate"], "weight_random": sa["weight_random"],
              "weight_common": sa["weight_common"], "n": r.data["n"], "events": r.data["events"],
              "se": sa["se"]}.get(base)
    label_to_value = dict(zip(r.studlab, values if values is not None else r.studlab))
    got = [label_to_value[x.cells["study"]] for x in rows]
    assert got == sorted(got, reverse=key.startswith("-"))


def test_sorting_by_a_covariate_and_unknown_keys():
    d = bcg("OR").forest(sort_by="year", columns=["study", "year", "effect_ci"])
    assert texts(d, "year") == [str(y) for y in sorted(BCG["year"])]
    with pytest.raises(SettingsError, match="cannot sort by 'nope'"):
        bcg("OR").forest(sort_by="nope")


def test_unknown_layout():
    with pytest.raises(SettingsError, match="meta, revman5, jama"):
        seed().forest(layout="cochrane")


# --------------------------------------------------------------------------- subgroups

def _standin():
    """A subgroup result built from real pooled results, as metareview.analyses.subgroups returns them."""
    tab = read_table(SEED_TR)
    ev = np.array(tab["events"], float)
    n = np.array(tab["n"], float)
    rt = np.array([i % 3 == 0 for i in range(len(ev))])
    overall = mr.metaprop(ev, n, tab["study"])
    groups = {"yes": mr.metaprop(ev, n, tab["study"], subset=rt),
              "no": mr.metaprop(ev, n, tab["study"], subset=~rt)}
    test = {"common": {"q": 1.2345, "df": 1, "p": 0.2665}, "random": {"q": 0.5432, "df": 1, "p": 0.4611}}
    return SimpleNamespace(overall=overall, groups=groups, test=test, variable="radiotherapy")


@pytest.mark.parametrize("layout", ["meta", "revman5", "jama"])
def test_subgroup_sections(layout):
    sg = _standin()
    d = forest(sg, layout=layout)
    kinds = [r.kind for r in d.rows]
    assert kinds.count("heading") == 2
    per_model = 2 if layout == "meta" else 1
    assert len(d.diamonds_) == 3 * per_model
    t = texts(d)
    head = "radiotherapy = yes" if layout == "meta" else "yes"
    assert head in t
    assert sum(s.startswith("Heterogeneity") for s in t) == 3
    diffs = [s for s in t if "ubgroup differences" in s]
    assert len(diffs) == per_model
    assert "1.23" in diffs[0] or "0.54" in diffs[0]
    # study weights are the overall analysis', subgroup rows carry their sums
    subtotal = [r for r in d.rows if r.kind == ("random" if layout != "meta" else "common")][:2]
    key = "weight_random" if layout != "meta" else "weight_common"
    shares = [float(r.cells[key].rstrip("%")) for r in subtotal]
    assert sum(shares) == pytest.approx(100.0, abs=0.11)
    assert_clean(d.figure_)


def test_subgroups_from_metareview_subgroups():
    subgroups = pytest.importorskip("metareview.analyses.subgroups")
    tab = read_table(SEED_TR)
    rt = ["yes" if i % 3 == 0 else "no" for i in range(len(tab["study"]))]
    r = mr.metaprop(tab["events"], tab["n"], tab["study"], covariates={"radiotherapy": rt})
    sg = subgroups.subgroup(r, "radiotherapy")
    d = forest(sg)
    t = texts(d)
    assert "radiotherapy = yes" in t and "radiotherapy = no" in t
    q = sg.test["random"]["q"]
    assert any(s.startswith("Test for subgroup differences (random effects): \u03c7\u00b2 = " + f"{q:.2f}")
               for s in t)
    assert_clean(d.figure_)


# --------------------------------------------------------------------------- forest_table

def test_forest_table_draws_rows_without_weights():
    labels = ["Omitting A", "Omitting B", "Omitting C"]
    d = forest_table(labels, [0.6, 0.7, 0.5], [0.4, 0.5, 0.3], [0.9, 1.0, 0.8], measure="OR",
                     columns={"I\u00b2": ["12%", "0%", "40%"]}, overall=(0.62, 0.45, 0.85),
                     notes=["Leave-one-out analysis (random effects)"])
    assert d.plot_ax_.get_xscale() == "log"
    assert not [c for c in d.columns if c.key.startswith("weight")]
    assert texts(d, "extra0") == ["12%", "0%", "40%"]
    assert len(d.diamonds_) == 1 and len(d.squares_.get_offsets()) == 3
    assert "Leave-one-out analysis (random effects)" in texts(d, "text")
    assert_clean(d.figure_)
    with pytest.raises(SettingsError, match="one of each per row"):
        forest_table(labels, [0.6, 0.7], [0.4, 0.5], [0.9, 1.0], measure="OR")


# --------------------------------------------------------------------------- display pattern

def test_plot_into_existing_axes_and_restyle(tmp_path):
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 5))
    d = seed().forest(ax=a2)
    assert d.figure_ is fig and d.ax_ is a2
    bbox = a2.get_window_extent()
    pb = d.plot_ax_.get_window_extent()
    assert bbox.x0 - 1 <= pb.x0 and pb.x1 <= bbox.x1 + 1
    d.squares_.set_color("tab:blue")
    d.plot()                           # drawn again in its own figure, same layout
    assert d.figure_ is not fig
    d.savefig(tmp_path / "again.pdf")


@pytest.mark.parametrize("suffix", ["png", "svg", "pdf"])
def test_savefig_formats(tmp_path, suffix):
    d = seed().forest()
    path = d.savefig(tmp_path / f"seed.{suffix}")
    head = path.read_bytes()[:8]
    assert {"png": b"\x89PNG", "svg": b"<?xml", "pdf": b"%PDF"}[suffix] in head
    if suffix == "png":
        img = matplotlib.image.imread(path)
        w, h = d.size
        assert img.shape[1] == pytest.approx(w * 300, abs=2) and img.shape[0] == pytest.approx(h * 300, abs=2)
    with pytest.raises(SettingsError, match="png, .svg or .pdf"):
        d.savefig(tmp_path / "seed.jpg")


# --------------------------------------------------------------------------- baseline images

BASELINES = {
    "forest_seed_meta.png": lambda: seed().forest(),
    "forest_bcg_revman5.png": lambda: bcg("OR").forest(layout="revman5", favours=("Favours vaccine",
                                                                                    "Favours control")),
}


@pytest.mark.parametrize("name", list(BASELINES))
def test_baseline_image(name, tmp_path):
    actual = tmp_path / name
    BASELINES[name]().savefig(actual, dpi=60)
    baseline = HERE / "baseline" / name
    if os.environ.get("METAREVIEW_UPDATE_BASELINES"):
        baseline.parent.mkdir(exist_ok=True)
        baseline.write_bytes(actual.read_bytes())
    assert baseline.exists(), "baseline missing: run with METAREVIEW_UPDATE_BASELINES=1 and look at it"
    result = compare_images(str(baseline), str(actual), tol=2.0)
    assert result is None, result


def test_baseline_comparison_catches_a_layout_change(tmp_path):
    actual = tmp_path / "moved.png"
    d = seed().forest()
    for _, key, t in d.texts_:
        if key == "effect":
            x, y = t.get_position()
            t.set_position((x + 8, y))
    d.savefig(actual, dpi=60)
    assert compare_images(str(HERE / "baseline" / "forest_seed_meta.png"), str(actual), tol=2.0) is not None


# --------------------------------------------------------------------------- command line

@pytest.mark.parametrize("suffix", ["png", "svg", "pdf"])
def test_cli_forest_writes_each_format(tmp_path, suffix, capsys):
    out = tmp_path / f"tr.{suffix}"
    assert main(["forest", str(SEED_TR), "-o", str(out)]) == 0
    assert out.exists() and out.stat().st_size > 5000
    assert f"wrote {out}" in capsys.readouterr().err


def test_cli_forest_options(tmp_path):
    out = tmp_path / "tr.png"
    assert main(["forest", str(SEED_TR), "-o", str(out), "--layout", "jama", "--sort", "-effect", "--percent",
                 "--method-tau2", "REML", "--exclude", "Namba", "--dpi", "50"]) == 0
    img = matplotlib.image.imread(out)
    assert img.shape[0] > 150
    assert main(["forest", str(SEED_TR), "-o", str(tmp_path / "x.png"), "--layout", "nope"]) == 2
    assert main(["forest", str(SEED_TR), "-o", str(tmp_path / "x.gif")]) == 2
    assert main(["forest", str(SEED_TR), "-o", str(tmp_path / "x.png"), "--sort", "nope"]) == 2
    assert not (tmp_path / "x.png").exists()


def test_cli_start_up_does_not_import_matplotlib():
    import subprocess
    import sys
    code = "import sys, metareview.cli; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_a_method_without_study_weights_draws_equal_squares_and_no_weight_columns():
    r = mr.metaanalysis(read_table(SEED_TR), method="GLMM")
    d = r.forest()
    assert not [c for c in d.columns if c.key.startswith("weight")]
    sizes = d.squares_.get_sizes()
    assert len(sizes) == 20 and np.allclose(sizes, sizes[0])
    assert (d.squares_.get_facecolors()[:, 3] > 0).all()
    assert_clean(d.figure_)


def test_spanning_lines_wrap_when_the_width_is_fixed():
    note = ("Estimates re-pooled with each study omitted in turn, random effects model with the "
            "DerSimonian-Laird estimator; intervals are Wald intervals at the 95% level")
    d = forest_table(["A", "B", "C"], [0.6, 0.7, 0.5], [0.4, 0.5, 0.3], [0.9, 1.0, 0.8], measure="OR",
                     notes=[note], width=3.5)
    (lines,) = d.geometry.text_rows.values()
    assert len(lines) > 1 and " ".join(lines) == note
    assert d.figure_.get_size_inches()[0] == pytest.approx(3.5)
    assert_clean(d.figure_)
    # without a width the figure grows to take the line instead
    d = forest_table(["A", "B", "C"], [0.6, 0.7, 0.5], [0.4, 0.5, 0.3], [0.9, 1.0, 0.8], measure="OR",
                     notes=[note])
    assert [len(v) for v in d.geometry.text_rows.values()] == [1]
    assert_clean(d.figure_)


def test_sorting_within_subgroup_sections():
    sg = _standin()
    d = forest(sg, sort_by="-effect")
    sections, current = [], None
    for row in d.rows:
        if row.kind == "heading":
            current = []
            sections.append(current)
        elif row.kind in ("study", "excluded"):
            current.append(row.est)
    assert len(sections) == 2
    for ests in sections:
        assert ests == sorted(ests, reverse=True)


def _forest_files(display) -> dict[str, bytes]:
    import io

    files = {}
    for fmt, meta in (("rgba", None), ("svg", {"Date": None}), ("pdf", {"CreationDate": None})):
        buf = io.BytesIO()
        with matplotlib.rc_context({"svg.hashsalt": "test"}):
            display.figure_.savefig(buf, format=fmt, dpi=120, metadata=meta)
        files[fmt] = buf.getvalue()
    plt.close(display.figure_)
    return files


def test_the_texts_share_one_clip_box_and_draw_as_ax_text_draws_them(monkeypatch):
    """The texts of a forest plot share the axes' clip box (made once, not once per text): the
    same files as with ``ax.text``, and a text whose clipping is switched on is clipped there."""
    from metareview.plots import forest as forest_module

    ours = forest(seed(), favours=("Favours A", "Favours B"))
    texts = [t for _, _, t in ours.texts_]
    assert len(texts) > 100 and len({id(t.get_clip_box()) for t in texts}) == 1
    assert not any(t.get_clip_on() for t in texts)
    box = texts[0].get_clip_box()
    assert np.allclose(box.get_points(), ours.ax_.bbox.get_points())
    got = _forest_files(ours)
    monkeypatch.setattr(forest_module, "_text_adder", lambda ax: ax.text)
    theirs = forest(seed(), favours=("Favours A", "Favours B"))
    assert np.allclose(theirs.texts_[0][2].get_clip_box().get_points(), box.get_points())
    assert got == _forest_files(theirs)
    clipped = forest(seed())
    clipped.ax_.set_position((0.1, 0.1, 0.5, 0.5))
    for _, _, t in clipped.texts_:
        t.set_clip_on(True)
    # the box follows the axes when they move
    assert np.allclose(clipped.texts_[0][2].get_clip_box().get_points(), clipped.ax_.bbox.get_points())
    plt.close(clipped.figure_)
