"""PRISMA 2020 flow diagram (Page et al. 2021, BMJ 372:n71): counts, layout, drawing, CLI.

The baseline image is regenerated with ``METAREVIEW_UPDATE_BASELINES=1 pytest tests/plots``;
look at it before committing it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.testing.compare import compare_images  # noqa: E402

from metareview.base.exceptions import DataError, MetaReviewWarning, SettingsError  # noqa: E402
from metareview.cli import main  # noqa: E402
from metareview.plots._text import (  # noqa: E402
    assert_no_text_overlap,
    drawn_text_extents,
    find_text_outside,
    find_text_outside_artists,
    find_text_overlaps,
)
from metareview.plots.prisma import PrismaCounts, PrismaDiagram, resolve_format  # noqa: E402

HERE = Path(__file__).parent
BASELINE = HERE / "baseline" / "prisma_full.png"
REPO = HERE.parent.parent
SEED_TOML = REPO / "examples" / "mrgfus-bone-metastases" / "prisma.toml"

# A complete, consistent set of counts for the template with other methods:
# 1417 identified - 420 removed = 997 screened; 997 - 871 = 126 sought; 126 - 9 = 117 assessed;
# other methods 20 sought - 2 = 18 assessed; 117 + 18 assessed - 90 - 9 excluded = 36 reports.
FULL = {
    "records_databases": {"PubMed": 812, "Embase": 498, "Cochrane CENTRAL": 64},
    "records_registers": {"ClinicalTrials.gov": 31, "WHO ICTRP": 12},
    "duplicates_removed": 402,
    "automation_removed": 15,
    "other_removed": 3,
    "records_screened": 997,
    "records_excluded": 871,
    "reports_sought": 126,
    "reports_not_retrieved": 9,
    "reports_assessed": 117,
    "reports_excluded": {"No outcome data specific to MRgFUS": 41, "Follow-up shorter than 1 month": 12,
                         "Redundant patient cohort": 9, "Review, commentary or editorial": 22,
                         "Fewer than 5 patients": 6},
    "other_records": {"Citation searching": 14, "Conference proceedings": 6},
    "other_reports_sought": 20,
    "other_reports_not_retrieved": 2,
    "other_reports_assessed": 18,
    "other_reports_excluded": {"Fewer than 5 patients": 5, "No outcome data": 4},
    "studies_included": 33,
    "reports_included": 36,
}
DATABASES_ONLY = {k: v for k, v in FULL.items()
                  if not (k.startswith("other_reports") or k == "other_records")}
DATABASES_ONLY.update(studies_included=25, reports_included=27)

ALL_BOXES = {"records_identified", "records_removed", "records_screened", "records_excluded",
             "reports_sought", "reports_not_retrieved", "reports_assessed", "reports_excluded",
             "other_records", "other_reports_sought", "other_reports_not_retrieved",
             "other_reports_assessed", "other_reports_excluded", "included"}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def with_changes(base: dict, **changes) -> dict:
    data = json.loads(json.dumps(base))
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def assert_text_inside_boxes(diagram: PrismaDiagram) -> None:
    pairs = [(diagram.box_patches_[k], diagram.box_texts_[k]) for k in diagram.box_texts_]
    pairs += [(diagram.phase_patches_[k], diagram.phase_texts_[k]) for k in diagram.phase_texts_]
    pairs += [(diagram.header_patches_[k], diagram.header_texts_[k]) for k in diagram.header_texts_]
    outside = find_text_outside_artists(diagram.figure_, pairs, tol=0.0)
    assert not outside, [e.text for _, e in outside]


# --------------------------------------------------------------------------- rendering

def test_full_template_has_every_box_and_saves_png_svg_pdf(tmp_path):
    diagram = PrismaDiagram(FULL)
    assert set(diagram.layout.boxes) == ALL_BOXES
    assert {p.key for p in diagram.layout.phases} == {"identification", "screening", "included"}
    assert {h.key for h in diagram.layout.headers} == {"databases", "other"}
    fig = diagram.plot()
    assert diagram.figure_ is fig and diagram.ax_ is not None
    assert set(diagram.box_patches_) == ALL_BOXES
    assert len(diagram.arrows_) == len(diagram.layout.arrows) == 13
    magic = {"png": b"\x89PNG", "svg": b"<?xml", "pdf": b"%PDF"}
    for ext, head in magic.items():
        path = diagram.save(tmp_path / f"prisma.{ext}")
        assert path.read_bytes()[:len(head)] == head
    image = plt.imread(tmp_path / "prisma.png")
    width, height = diagram.size
    assert image.shape[0] == pytest.approx(height * 300, abs=1)  # 300 dpi by default
    assert image.shape[1] == pytest.approx(width * 300, abs=1)
    assert width <= 7.2 + 1e-9  # journal page width


def test_box_texts_use_template_wording_and_counts():
    d = PrismaDiagram(FULL)
    text = {k: " ".join(b.text.replace("\u00a0", " ").split()) for k, b in d.layout.boxes.items()}
    assert "Databases (n = 1374)" in text["records_identified"]
    assert "PubMed (n = 812)" in text["records_identified"]
    assert "Registers (n = 43)" in text["records_identified"]
    assert "Duplicate records removed (n = 402)" in text["records_removed"]
    assert text["records_screened"] == "Records screened (n = 997)"
    assert text["reports_assessed"].startswith("Reports assessed for")
    assert "Reports excluded (n = 90)" in text["reports_excluded"]
    assert "Redundant patient" in text["reports_excluded"]
    assert text["included"] == "Studies included in review (n = 33) Reports of included studies (n = 36)"


def test_seed_example_draws_only_the_boxes_its_text_gives(tmp_path):
    counts = PrismaCounts.from_file(SEED_TOML)
    assert counts.to_dict() == {"records_databases": {"PubMed and Embase": 1335}, "studies_included": 33}
    d = PrismaDiagram(counts)
    assert set(d.layout.boxes) == {"records_identified", "included"}
    assert {p.key for p in d.layout.phases} == {"identification", "included"}
    (arrow,) = d.layout.arrows
    assert (arrow.start, arrow.end) == ("records_identified", "included")
    assert "1335" in d.layout.boxes["records_identified"].text
    d.plot()
    assert_text_inside_boxes(d)
    assert_no_text_overlap(d.figure_)
    d.save(tmp_path / "seed.svg")


def test_without_other_methods_there_is_no_second_column():
    d = PrismaDiagram(DATABASES_ONLY)
    assert not any(k.startswith("other_") for k in d.layout.boxes)
    assert [h.key for h in d.layout.headers] == ["databases"]
    assert {b.column for b in d.layout.boxes.values()} == {0, 1}
    assert d.size[0] < PrismaDiagram(FULL).size[0]


def test_other_methods_join_the_included_box_from_the_right():
    d = PrismaDiagram(FULL)
    (join,) = [a for a in d.layout.arrows if (a.start, a.end) == ("other_reports_assessed", "included")]
    inc, oth = d.layout.boxes["included"], d.layout.boxes["other_reports_assessed"]
    assert len(join.points) == 3
    assert join.points[0] == pytest.approx((oth.x + oth.width / 2, oth.y))
    assert join.points[-1] == pytest.approx((inc.x + inc.width, inc.y + inc.height / 2))


def _on_edge(point, box, tol=1e-6):
    x, y = point
    inside_x = box.x - tol <= x <= box.x + box.width + tol
    inside_y = box.y - tol <= y <= box.y + box.height + tol
    on_vertical = abs(x - box.x) < tol or abs(x - box.x - box.width) < tol
    on_horizontal = abs(y - box.y) < tol or abs(y - box.y - box.height) < tol
    return inside_x and inside_y and (on_vertical or on_horizontal)


@pytest.mark.parametrize("counts", [FULL, DATABASES_ONLY], ids=["full", "databases"])
def test_boxes_align_and_arrows_meet_them(counts):
    lay = PrismaDiagram(counts).layout
    by_column, by_row = {}, {}
    for box in lay.boxes.values():
        by_column.setdefault(box.column, []).append(box)
        by_row.setdefault(box.row, []).append(box)
    for boxes in by_column.values():
        assert len({(round(b.x, 6), round(b.width, 6)) for b in boxes}) == 1
    for boxes in by_row.values():
        assert len({round(b.center[1], 6) for b in boxes}) == 1
    for arrow in lay.arrows:
        assert _on_edge(arrow.points[0], lay.boxes[arrow.start])
        assert _on_edge(arrow.points[-1], lay.boxes[arrow.end])
    # nothing outside the figure, no two boxes overlap
    for box in lay.boxes.values():
        assert 0 <= box.x and box.x + box.width <= lay.width
        assert 0 <= box.y and box.y + box.height <= lay.height
    boxes = list(lay.boxes.values())
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert (a.x + a.width <= b.x or b.x + b.width <= a.x
                    or a.y + a.height <= b.y or b.y + b.height <= a.y), (a.key, b.key)


def test_missing_boxes_are_skipped_by_the_arrows():
    counts = with_changes(FULL, records_screened=None, records_excluded=None, reports_sought=None,
                          reports_not_retrieved=None)
    # Without screening counts, the next box after identification is the eligibility box.
    d = PrismaDiagram(counts)
    ends = {(a.start, a.end) for a in d.layout.arrows}
    assert ("records_identified", "reports_assessed") in ends
    assert not any("screened" in k or k == "reports_sought" for k in d.layout.boxes)
    assert not any(b.row in ("screened", "sought") and b.column < 2 for b in d.layout.boxes.values())


def test_exclusion_box_without_its_own_box_branches_off_the_trunk():
    counts = with_changes(DATABASES_ONLY, records_screened=None)
    d = PrismaDiagram(counts)
    (branch,) = [a for a in d.layout.arrows if a.end == "records_excluded"]
    trunk = d.layout.boxes["records_identified"]
    assert branch.points[0][0] == pytest.approx(trunk.x + trunk.width / 2)
    assert _on_edge(branch.points[-1], d.layout.boxes["records_excluded"])
    d.plot()
    assert_no_text_overlap(d.figure_)


# --------------------------------------------------------------------------- text checks

LONG = with_changes(FULL, reports_excluded={
    "Wrong population: patients treated for primary bone tumours rather than metastases": 30,
    "Outcome not reported separately for MRgFUS": 20,
    "Conference abstract superseded by a full report of the same cohort": 20,
    "Pneumonoultramicroscopicsilicovolcanoconiosis-length-single-word": 20,
})


@pytest.mark.parametrize("counts", [FULL, DATABASES_ONLY, LONG, "seed"],
                         ids=["full", "databases", "long-reasons", "seed"])
@pytest.mark.parametrize("fontsize, dpi", [(6, 72), (7, 100), (7, 300), (9, 72), (9, 150)])
def test_no_overlapping_text_and_no_text_outside_its_box(counts, fontsize, dpi):
    d = PrismaDiagram(SEED_TOML if counts == "seed" else counts, fontsize=fontsize)
    fig = d.plot()
    fig.set_dpi(dpi)
    assert_no_text_overlap(fig)
    assert_text_inside_boxes(d)


def test_boxes_grow_for_a_word_that_cannot_be_wrapped():
    d = PrismaDiagram(LONG)
    normal = PrismaDiagram(FULL)
    assert d.layout.boxes["reports_excluded"].width > normal.layout.boxes["reports_excluded"].width
    word = "Pneumonoultramicroscopicsilicovolcanoconiosis-length-single-word"
    assert word in d.layout.boxes["reports_excluded"].text.split()
    assert d.size[0] > 7.2  # the figure grows past max_width rather than cut the word
    d.plot()
    assert_text_inside_boxes(d)


def test_text_checks_find_overlaps_and_cut_off_text():
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.set_axis_off()
    a = ax.text(0.5, 0.5, "first label")
    ax.text(0.52, 0.5, "second label")
    ax.text(0.1, 0.1, "far away")
    ax.text(0.98, 0.9, "cut off at the right edge", transform=fig.transFigure)
    pairs = find_text_overlaps(fig)
    assert [(p.text, q.text) for p, q in pairs] == [("first label", "second label")]
    assert [e.text for e in find_text_outside(fig)] == ["cut off at the right edge"]
    assert [e.text for e in find_text_outside(fig, a, texts=[a])] == []
    with pytest.raises(AssertionError, match="first label"):
        assert_no_text_overlap(fig)


def test_drawn_text_extents_skip_texts_that_are_not_drawn():
    fig, ax = plt.subplots()
    ax.set_axis_off()
    ax.text(0.5, 0.5, "shown")
    ax.text(0.5, 0.2, "hidden", visible=False)
    assert [e.text for e in drawn_text_extents(fig)] == ["shown"]
    ax.set_axis_on()
    assert len(drawn_text_extents(fig)) > 1  # tick labels


def test_plot_into_existing_axes_scales_to_fit():
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    right.plot([0, 1], [0, 1])
    d = PrismaDiagram(DATABASES_ONLY)
    assert d.plot(ax=left) is fig
    assert d.ax_ is left and not left.axison
    smaller = d.box_texts_["records_screened"].get_fontsize()
    assert smaller < d.layout.fontsize  # the axes is smaller than the diagram
    assert_text_inside_boxes(d)
    assert not find_text_outside(fig, left, texts=d.box_texts_.values())


def test_artists_are_kept_for_restyling(tmp_path):
    d = PrismaDiagram(FULL)
    d.plot()
    d.box_patches_["included"].set_facecolor("#eeeeee")
    d.box_texts_["included"].set_fontweight("bold")
    d.save(tmp_path / "restyled.png", dpi=50)
    assert d.box_patches_["included"].get_facecolor()[:3] == pytest.approx((0.933, 0.933, 0.933), abs=1e-3)


# --------------------------------------------------------------------------- baseline image

def _render_baseline(path: Path) -> PrismaDiagram:
    d = PrismaDiagram(FULL)
    d.plot()
    d.save(path, dpi=100)
    return d


def test_baseline_image(tmp_path):
    actual = tmp_path / "prisma_full.png"
    _render_baseline(actual)
    if os.environ.get("METAREVIEW_UPDATE_BASELINES"):
        BASELINE.parent.mkdir(exist_ok=True)
        BASELINE.write_bytes(actual.read_bytes())
    assert BASELINE.exists(), "baseline missing: run with METAREVIEW_UPDATE_BASELINES=1 and look at it"
    result = compare_images(str(BASELINE), str(actual), tol=2.0)
    assert result is None, result


def test_baseline_comparison_catches_a_moved_box(tmp_path):
    actual = tmp_path / "moved.png"
    d = PrismaDiagram(FULL)
    d.plot()
    patch, text = d.box_patches_["records_excluded"], d.box_texts_["records_excluded"]
    patch.set_x(patch.get_x() + 6)  # six points to the right
    x, y = text.get_position()
    text.set_position((x + 6, y))
    d.save(actual, dpi=100)
    assert compare_images(str(BASELINE), str(actual), tol=2.0) is not None


# --------------------------------------------------------------------------- counts

@pytest.mark.parametrize("key, value, expected", [
    ("records_screened", 990, "expected 997"),
    ("reports_sought", 120, "expected 126"),
    ("reports_assessed", 110, "expected 117"),
    ("other_reports_assessed", 17, "expected 18"),
    ("reports_excluded", {"Too many": 200}, "expected at most 99"),
    ("studies_included", 40, "expected at most 36"),
    ("other_reports_sought", 25, "expected at most 20"),
])
def test_counts_that_do_not_add_up_raise_naming_the_box(key, value, expected):
    bad = with_changes(FULL, **{key: value})
    if key == "other_reports_sought":  # keep the other methods' own chain consistent
        bad["other_reports_assessed"] = 23
        bad["reports_included"] = 41
    with pytest.raises(DataError, match=expected) as info:
        PrismaDiagram(bad)
    assert info.value.column == key
    assert key in str(info.value)


def test_missing_subtraction_is_named_in_the_hint():
    bad = with_changes(FULL, records_excluded=None)
    with pytest.raises(DataError, match="records_excluded is not given") as info:
        PrismaCounts.from_dict(bad).validate()
    assert info.value.column == "reports_sought"


def test_reports_included_exceeding_assessed_without_reasons():
    counts = {"reports_assessed": 10, "reports_included": 12}
    with pytest.raises(DataError, match="reports_included: expected at most 10"):
        PrismaCounts.from_dict(counts).validate()


def test_included_is_not_compared_with_one_column_when_the_other_is_unknown():
    # 30 reports included may come from the databases column, whose assessed count is not given.
    counts = {"records_databases": {"PubMed": 300}, "other_records": {"Websites": 6},
              "other_reports_sought": 6, "other_reports_not_retrieved": 1, "other_reports_assessed": 5,
              "reports_included": 30}
    assert PrismaCounts.from_dict(counts).inconsistencies() == []
    counts["reports_assessed"] = 20
    (problem,) = PrismaCounts.from_dict(counts).inconsistencies()
    assert (problem.box, problem.expected, problem.observed) == ("reports_included", 25, 30)


def test_allow_inconsistent_warns_and_draws():
    bad = with_changes(FULL, records_screened=990, records_excluded=864)
    with pytest.warns(MetaReviewWarning, match=r"records_screened: expected 997.*got 990"):
        d = PrismaDiagram(bad, strict=False)
    d.plot()
    assert "990" in d.box_texts_["records_screened"].get_text()
    assert_no_text_overlap(d.figure_)


def test_consistent_counts_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        PrismaCounts.from_dict(FULL).validate()
        PrismaCounts.from_dict(DATABASES_ONLY).validate(strict=False)


@pytest.mark.parametrize("data, key, message", [
    ({"records_screened": -1}, "records_screened", "must not be negative"),
    ({"records_screened": 12.5}, "records_screened", "whole number"),
    ({"records_screened": "12"}, "records_screened", "whole number"),
    ({"records_screened": True}, "records_screened", "whole number"),
    ({"records_databases": {"PubMed": -3}}, "records_databases", r"records_databases\['PubMed'\]"),
    ({"records_databases": 1335}, "records_databases", "table"),
    ({"reports_excluded": {"": 3}}, "reports_excluded", "empty"),
    ({"record_screened": 10}, "record_screened", "did you mean 'records_screened'"),
    ({"colour": "red"}, "colour", "unknown key"),
])
def test_bad_values_and_unknown_keys_name_the_key(data, key, message):
    with pytest.raises(DataError, match=message) as info:
        PrismaCounts.from_dict(data)
    assert info.value.column == key


def test_bad_values_raise_even_when_inconsistency_is_allowed():
    with pytest.raises(DataError, match="must not be negative"):
        PrismaDiagram({"records_screened": -1}, strict=False)


def test_whole_floats_and_empty_tables_are_accepted():
    counts = PrismaCounts.from_dict({"records_screened": 12.0, "records_registers": {}})
    assert counts.records_screened == 12 and isinstance(counts.records_screened, int)
    assert counts.records_registers is None


def test_nothing_to_draw():
    with pytest.raises(DataError, match="nothing to draw"):
        PrismaDiagram({})


def test_json_and_toml_files_round_trip(tmp_path):
    json_path = tmp_path / "counts.json"
    json_path.write_text(json.dumps(FULL), encoding="utf-8")
    assert PrismaCounts.from_file(json_path).to_dict() == FULL
    toml_path = tmp_path / "counts.toml"
    toml_path.write_text('records_screened = 5\nrecords_excluded = 2\nreports_sought = 3\n'
                         '[reports_excluded]\n"Wrong design" = 1\n', encoding="utf-8")
    counts = PrismaCounts.from_file(toml_path)
    assert counts.reports_excluded == {"Wrong design": 1}
    assert PrismaDiagram.from_file(toml_path).counts == counts


@pytest.mark.parametrize("name, content, message", [
    ("counts.yaml", "a: 1", ".json or .toml"),
    ("counts.toml", "records_screened = [", "not valid TOML"),
    ("counts.json", '{"records_screened": -2}', "counts.json: records_screened must not be negative"),
])
def test_bad_files(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        PrismaCounts.from_file(path)


def test_settings_are_checked():
    with pytest.raises(SettingsError, match="fontsize"):
        PrismaDiagram(FULL, fontsize=0)
    with pytest.raises(SettingsError, match="max_width"):
        PrismaDiagram(FULL, max_width="wide")
    with pytest.raises(SettingsError, match="vector format"):
        PrismaDiagram(FULL).save("unused.svg", dpi=100)
    assert resolve_format("a.PDF") == "pdf"
    assert resolve_format("a", "svg") == "svg"
    with pytest.raises(SettingsError, match="does not match"):
        resolve_format("a.png", "pdf")
    with pytest.raises(SettingsError, match="cannot tell"):
        resolve_format("a.jpg")


def test_font_size_and_width_change_the_layout():
    small = PrismaDiagram(FULL, fontsize=6)
    big = PrismaDiagram(FULL, fontsize=9)
    assert big.size[1] > small.size[1]
    narrow = PrismaDiagram(FULL, max_width=5.5)
    assert narrow.size[0] < PrismaDiagram(FULL).size[0]
    assert narrow.size[1] > PrismaDiagram(FULL).size[1]  # more wrapping


def test_phase_labels_and_headers_can_be_left_out():
    plain = PrismaDiagram(FULL, phase_labels=False, headers=False)
    assert plain.layout.phases == () and plain.layout.headers == ()
    plain.plot()
    assert plain.phase_texts_ == {} and plain.header_texts_ == {}
    full = PrismaDiagram(FULL)
    assert plain.size[1] < full.size[1]
    assert min(b.x for b in plain.layout.boxes.values()) < min(b.x for b in full.layout.boxes.values())
    assert_no_text_overlap(plain.figure_)


# --------------------------------------------------------------------------- command line

def test_cli_writes_png_svg_pdf(tmp_path, capsys):
    for ext, head in (("png", b"\x89PNG"), ("svg", b"<?xml"), ("pdf", b"%PDF")):
        out = tmp_path / f"seed.{ext}"
        assert main(["prisma", str(SEED_TOML), "-o", str(out)]) == 0
        assert out.read_bytes()[:len(head)] == head
    out = tmp_path / "figure"
    assert main(["prisma", str(SEED_TOML), "-o", str(out), "--format", "pdf"]) == 0
    assert out.read_bytes()[:4] == b"%PDF"
    assert f"wrote {out}" in capsys.readouterr().err


def test_cli_png_is_300_dpi(tmp_path):
    out = tmp_path / "seed.png"
    assert main(["prisma", str(SEED_TOML), "-o", str(out)]) == 0
    w, h = PrismaDiagram(SEED_TOML).size
    assert plt.imread(out).shape[:2] == (pytest.approx(h * 300, abs=1), pytest.approx(w * 300, abs=1))


def test_cli_font_size_and_width(tmp_path):
    counts = tmp_path / "full.json"
    counts.write_text(json.dumps(FULL), encoding="utf-8")
    wide, narrow = tmp_path / "wide.png", tmp_path / "narrow.png"
    assert main(["prisma", str(counts), "-o", str(wide)]) == 0
    assert main(["prisma", str(counts), "-o", str(narrow), "--max-width", "5.5", "--font-size", "6"]) == 0
    assert plt.imread(narrow).shape[1] < plt.imread(wide).shape[1]
    assert plt.imread(wide).shape[1] == pytest.approx(7.2 * 300, abs=1)


def test_cli_inconsistent_counts(tmp_path, capsys):
    counts = tmp_path / "bad.json"
    counts.write_text(json.dumps(with_changes(FULL, records_screened=990)), encoding="utf-8")
    out = tmp_path / "bad.png"
    assert main(["prisma", str(counts), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "records_screened" in err and "expected 997" in err and "--allow-inconsistent" in err
    assert not out.exists()
    assert main(["prisma", str(counts), "-o", str(out), "--allow-inconsistent"]) == 0
    assert "warning" in capsys.readouterr().err
    assert out.exists()


@pytest.mark.parametrize("args, message", [
    (["-o", "x.jpg"], "cannot tell the format"),
    (["-o", "x.png", "--format", "svg"], "does not match"),
    (["-o", "x.png", "--font-size", "100"], "fontsize"),
])
def test_cli_bad_options(tmp_path, capsys, args, message):
    args = [a if not a.startswith("x.") else str(tmp_path / a) for a in args]
    assert main(["prisma", str(SEED_TOML), *args]) == 2
    assert message in capsys.readouterr().err


def test_cli_unknown_key(tmp_path, capsys):
    counts = tmp_path / "c.toml"
    counts.write_text("records_screend = 3\n", encoding="utf-8")
    assert main(["prisma", str(counts), "-o", str(tmp_path / "c.png")]) == 2
    assert "did you mean 'records_screened'" in capsys.readouterr().err


def test_importing_the_plots_package_does_not_import_matplotlib():
    code = "import sys, metareview.plots, metareview.cli; print('matplotlib' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
