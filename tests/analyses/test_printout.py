"""Printouts laid out as R meta prints them: one-study subgroups, the leave-one-out and
cumulative tables with the all-studies row, missing subgroup values (an explicit level)."""

from __future__ import annotations

import warnings

import pytest

import metareview as mr
from metareview.base.exceptions import MetaReviewWarning

EV, N = [8, 20, 26, 6, 9], [10, 31, 30, 9, 12]
LAB = ["A", "B", "C", "D", "E"]


def _fit(size):
    return mr.metaprop(EV, N, LAB, covariates={"size": size})


def test_one_study_subgroup_prints_dashes():
    r = _fit(["small", "large", "large", "small", "mid"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        text = str(r.subgroup("size"))
    mid = [line for line in text.splitlines() if line.startswith("size = mid")]
    assert mid and all(line.split()[-3:-1] == ["--", "--"] for line in mid)
    small = [line for line in text.splitlines() if line.startswith("size = small")][0]
    assert "--" not in small


def test_leave_one_out_and_cumulative_end_with_all_studies():
    r = _fit(["s"] * 5)
    loo = str(r.leave1out()).splitlines()
    assert loo[-1].startswith("Pooled estimate (all studies)  5")
    est = f"{float(r.backtransform(r.pooled['random_estimate'])):.4f}"
    assert est in loo[-1]
    assert [line.split()[1] for line in loo if line.startswith("Omitting")] == LAB
    cum = str(r.cumul()).splitlines()
    assert cum[-1].startswith("Pooled estimate (all studies)")
    first = [line for line in cum if line.startswith("Adding A")][0]
    assert first.split()[-3:] == ["--", "--", "--"]  # one study: τ², τ, I² not estimable


@pytest.mark.parametrize("blank", ["", "N/A", "NA", None, float("nan")])
def test_missing_subgroup_values_form_an_explicit_level_with_a_warning(blank):
    r = _fit(["small", blank, "large", "small", blank])
    with pytest.warns(MetaReviewWarning, match="no value in column 'size' for B, E"):
        sg = r.subgroup("size")
    assert sg.levels == ["small", "(missing)", "large"]
    assert list(sg.groups["(missing)"].studlab) == ["B", "E"]
    assert any("B, E" in n for n in sg.notes)
    assert "size = (missing)" in str(sg) and "N/A" not in str(sg)
