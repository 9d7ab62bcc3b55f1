"""Funnel plots: axes and scales, pseudo confidence region, contours, labels, filled studies, CLI.

The baseline image is regenerated with ``METAREVIEW_UPDATE_BASELINES=1 pytest tests/plots``;
look at it before committing it.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from statistics import NormalDist

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.testing.compare import compare_images  # noqa: E402

import metareview as mr  # noqa: E402
from metareview.base.exceptions import MetaReviewWarning, SettingsError  # noqa: E402
from metareview.cli import main  # noqa: E402
from metareview.plots._text import find_text_overlaps  # noqa: E402
from metareview.plots.funnel import FunnelDisplay, funnel  # noqa: E402
from metareview.tables.io import read_table  # noqa: E402

HERE = Path(__file__).parent
SEED_TR = HERE.parent / "fixtures" / "seed_tr.csv"
SEED_PAIN3 = HERE.parent / "fixtures" / "seed_pain3.csv"

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
}
LABELS = ["Adams", "Brown", "Chen", "Diaz", "Evans", "Fox"]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def bcg(measure="OR", **kw):
    return mr.metaanalysis(BCG, measure, **kw)


def seed():
    return mr.metaanalysis(read_table(SEED_TR))


RESULTS = {
    "proportion": seed,
    "mean": lambda: mr.metamean([20, 35, 48, 15, 60, 27], [5.1, 4.8, 6.0, 5.5, 4.2, 5.0],
                                [1.2, 1.5, 1.1, 2.0, 1.4, 1.3], LABELS),
    "prepost": lambda: mr.metaanalysis(read_table(SEED_PAIN3)),
    "cont2 SMD": lambda: mr.metacont([20, 35, 48, 15, 60, 27], [5.1, 4.8, 6.0, 5.5, 4.2, 5.0],
                                     [1.2, 1.5, 1.1, 2.0, 1.4, 1.3], [22, 30, 50, 16, 58, 25],
                                     [5.9, 5.6, 6.1, 6.6, 5.0, 5.4], [1.3, 1.4, 1.2, 1.8, 1.5, 1.2], LABELS,
                                     measure="SMD"),
    "bin2 OR": bcg,
    "bin2 RD": lambda: bcg("RD"),
    "generic": lambda: mr.metagen([0.2, 0.5, -0.1, 0.3], [0.1, 0.2, 0.15, 0.12], LABELS[:4]),
}


@pytest.mark.parametrize("name", list(RESULTS))
def test_every_design_renders_estimates_against_standard_errors(name, tmp_path):
    r = RESULTS[name]()
    d = r.funnel()
    assert isinstance(d, FunnelDisplay)
    ax = d.ax_
    assert ax.yaxis_inverted() and ax.get_ylim()[1] == 0.0
    xy = d.points_.get_offsets()
    x = np.log(xy[:, 0]) if r.measure.scale == "log" else xy[:, 0]
    np.testing.assert_allclose(x, r.yi[r.included], rtol=1e-10)
    np.testing.assert_allclose(xy[:, 1], np.sqrt(r.vi[r.included]), rtol=1e-10)
    assert ax.get_xscale() == ("log" if r.measure.scale == "log" else "linear")
    assert not find_text_overlaps(d.figure_)
    d.savefig(tmp_path / "f.png", dpi=50)


def test_pseudo_confidence_region_is_centred_on_the_pooled_estimate():
    r = bcg("RD")
    z = NormalDist().inv_cdf(0.975)
    for model in ("common", "random"):
        d = r.funnel(pooled=model)
        centre = r.pooled[f"{model}_estimate"]
        assert d.centre_line_.get_xdata()[0] == pytest.approx(centre)
        left, right = (line.get_data() for line in d.pseudo_ci_)
        np.testing.assert_allclose(left[0], centre - z * left[1])
        np.testing.assert_allclose(right[0], centre + z * right[1])
    with pytest.raises(SettingsError, match="fitted models: common"):
        r.update(random=False).funnel(pooled="random")


def test_level_of_the_result_sets_the_region():
    r = bcg("RD", level=0.9)
    d = r.funnel()
    left, _ = (line.get_data() for line in d.pseudo_ci_)
    z = NormalDist().inv_cdf(0.95)
    np.testing.assert_allclose(left[0], r.pooled["common_estimate"] - z * left[1])
    assert d.pseudo_ci_[0].get_label() == "Pseudo 90% CI"


def test_ratio_funnel_on_a_log_axis_is_symmetric_in_logs():
    r = bcg("OR")
    d = r.funnel()
    left, right = (line.get_data() for line in d.pseudo_ci_)
    np.testing.assert_allclose(np.log(left[0]) + np.log(right[0]), 2 * r.pooled["common_estimate"])
    assert "Odds ratio" in d.ax_.get_xlabel()


def test_contour_enhanced_bands_around_the_null():
    r = bcg("OR")
    d = r.funnel(contour=True)
    assert len(d.contours_) == 6
    labels = [t.get_text() for t in d.legend_.get_texts()]
    assert {"0.05 \u2264 p < 0.10", "0.01 \u2264 p < 0.05", "p < 0.01"} <= set(labels)
    # the innermost band starts at the null +- z(0.05) SE (log OR 0: OR 1)
    verts = d.contours_[0].get_paths()[0].vertices
    se_max = d.se_max
    z10 = NormalDist().inv_cdf(0.95)
    bottom = verts[np.isclose(verts[:, 1], se_max)]
    assert np.isclose(np.log(bottom[:, 0]), z10 * se_max).any()


def test_contours_need_a_null():
    with pytest.raises(SettingsError, match="contour_null"):
        seed().funnel(contour=True)
    d = seed().funnel(contour=True, contour_null=0.0)
    assert len(d.contours_) == 6
    with pytest.raises(SettingsError, match="contour=True"):
        seed().funnel(contour_null=0.0)


def test_excluded_studies_are_marked_apart():
    r = bcg("OR", exclude=["TPT Madras 1980"])
    d = r.funnel()
    assert len(d.points_.get_offsets()) == 12
    assert len(d.excluded_points_.get_offsets()) == 1
    assert "Excluded (not pooled)" in [t.get_text() for t in d.legend_.get_texts()]


def _leader_crossings(d) -> list:
    """Leader lines that pass through a label other than their own (display pixels)."""
    from metareview.plots._text import get_renderer
    from metareview.plots.funnel import _segment_hits

    renderer = get_renderer(d.figure_)
    boxes = [t.get_window_extent(renderer) for t in d.labels_]
    out = []
    for line in d.leaders_:
        a, b = line.get_transform().transform(np.column_stack(line.get_data()))
        for t, box in zip(d.labels_, boxes):
            own = np.allclose(np.clip(b, box.min, box.max), b)      # the leader ends on its label
            if not own and _segment_hits(a, b, box, shrink=3):
                out.append((line, t.get_text()))
    return out


def test_study_labels_do_not_cover_each_other():
    r = bcg("OR")
    d = r.funnel(labels=True)
    assert [t.get_text() for t in d.labels_] == BCG["study"]
    assert not find_text_overlaps(d.figure_)
    assert not _leader_crossings(d)
    assert r.funnel().labels_ == []


def test_dense_labels_placed_by_adjusttext_without_overlaps_or_crossing_leaders(tmp_path):
    # 25 studies in a tight cluster (the PNG was looked at: labels clear, leaders short)
    rng = np.random.default_rng(1)
    n = rng.integers(30, 120, 25)
    r = mr.metabin(rng.binomial(n, 0.3), n, rng.binomial(n, 0.4), n,
                   [f"Study {chr(65 + i % 26)}{i} {2000 + i % 20}" for i in range(25)])
    with warnings.catch_warnings():
        warnings.simplefilter("error", MetaReviewWarning)   # every label found a free place
        d = r.funnel(labels=True)
    d.figure_.draw_without_rendering()
    assert not find_text_overlaps(d.figure_)
    assert not _leader_crossings(d)
    assert d.leaders_                               # some labels had to move away from their points
    # each leader joins its point to its label
    pts = {(round(float(x), 9), round(float(y), 9)) for x, y in d.points_.get_offsets()}
    for line in d.leaders_:
        x, y = line.get_data()
        assert (round(float(x[0]), 9), round(float(y[0]), 9)) in pts
    d.savefig(tmp_path / "dense.png")


def test_labels_that_find_no_place_are_a_warning():
    rng = np.random.default_rng(3)
    n = rng.integers(30, 120, 30)
    r = mr.metabin(rng.binomial(n, 0.3), n, rng.binomial(n, 0.4), n,
                   [f"A rather long study label number {i}" for i in range(30)])
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(2.0, 1.6))      # the caller's axes cannot grow
    with pytest.warns(MetaReviewWarning, match="no free place"):
        r.funnel(ax=ax, labels=True)


def test_filled_studies_are_open_markers():
    r = bcg("OR")
    d = r.funnel(filled=([0.4, 0.9], [0.2, 0.3]))
    pts = d.filled_points_
    np.testing.assert_allclose(pts.get_offsets()[:, 0], np.exp([0.4, 0.9]))
    np.testing.assert_allclose(pts.get_offsets()[:, 1], np.sqrt([0.2, 0.3]))
    assert (pts.get_facecolors()[:, :3] == 1).all()
    with pytest.raises(SettingsError, match="variances"):
        r.funnel(filled=([0.4], [0.2, 0.3]))
    with pytest.raises(SettingsError, match="positive"):
        r.funnel(filled=([0.4], [-1.0]))


def test_into_existing_axes_and_limits():
    fig, ax = plt.subplots()
    d = funnel(bcg("OR"), ax=ax, xlim=(0.1, 3))
    assert d.figure_ is fig and d.ax_ is ax
    assert ax.get_xlim() == pytest.approx((0.1, 3))
    with pytest.raises(SettingsError, match="positive"):
        funnel(bcg("OR"), xlim=(0, 3))


@pytest.mark.parametrize("suffix", ["png", "svg", "pdf"])
def test_savefig_formats(tmp_path, suffix):
    path = bcg("OR").funnel(contour=True).savefig(tmp_path / f"f.{suffix}")
    assert {"png": b"\x89PNG", "svg": b"<?xml", "pdf": b"%PDF"}[suffix] in path.read_bytes()[:8]


BASELINE = HERE / "baseline" / "funnel_bcg_contour.png"


def test_baseline_image(tmp_path):
    actual = tmp_path / BASELINE.name
    bcg("OR").funnel(contour=True).savefig(actual, dpi=60)
    if os.environ.get("METAREVIEW_UPDATE_BASELINES"):
        BASELINE.parent.mkdir(exist_ok=True)
        BASELINE.write_bytes(actual.read_bytes())
    assert BASELINE.exists(), "baseline missing: run with METAREVIEW_UPDATE_BASELINES=1 and look at it"
    result = compare_images(str(BASELINE), str(actual), tol=2.0)
    assert result is None, result
    moved = tmp_path / "moved.png"
    bcg("OR").funnel(contour=True, pooled="random").savefig(moved, dpi=60)
    assert compare_images(str(BASELINE), str(moved), tol=2.0) is not None


@pytest.mark.parametrize("suffix", ["png", "svg", "pdf"])
def test_cli_funnel(tmp_path, suffix):
    out = tmp_path / f"f.{suffix}"
    assert main(["funnel", str(SEED_TR), "-o", str(out), "--labels"]) == 0
    assert out.stat().st_size > 3000


def test_cli_funnel_options(tmp_path):
    out = tmp_path / "f.png"
    assert main(["funnel", str(SEED_TR), "-o", str(out), "--contour"]) == 2      # no null for proportions
    assert not out.exists()
    assert main(["funnel", str(SEED_TR), "-o", str(out), "--contour", "--contour-null", "0",
                 "--pooled", "random", "--method-tau2", "REML", "--dpi", "60"]) == 0
    assert out.exists()


def test_size_is_for_a_new_figure_only():
    d = bcg("OR").funnel(size=(5, 4))
    assert tuple(d.figure_.get_size_inches()) == (5, 4)
    fig, ax = plt.subplots()
    with pytest.raises(SettingsError, match="size"):
        bcg("OR").funnel(ax=ax, size=(5, 4))
