"""Fail-safe N against metafor 3.8-1's ``fsn`` (tests/r/make_reference_toolkit.R; the R call of each
case is in ``r_call``): Rosenthal, Orwin (also weighted with a target) and Rosenberg; the
numbers at 1e-8 relative and the (rounded-up) N exactly."""

import pytest

import metareview as mr
from metareview.analyses.failsafe import fsn

from ._reference import cases, close

CASES = cases("fsn")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["case"])
def test_fsn(case):
    i, o = case["input"], case["options"]
    kw = {"alpha": o["alpha"], "weighted": o["weighted"]}
    if o["target"] is not None:
        kw["target"] = o["target"]
    got = fsn(yi=i["yi"], vi=i["vi"], type=case["type"], **kw)
    assert got.fsnum == case["fsnum"]
    for key, ref in (("pval", "pval"), ("meanes", "meanes"), ("target", "target")):
        if case[ref] is None:
            assert getattr(got, key) is None
        else:
            close(getattr(got, key), case[ref], 1e-8, atol=1e-300)


def test_fsn_of_a_result_uses_the_pooled_studies():
    case = next(c for c in CASES if c["case"] == "bcg_rr_Rosenberg")
    i = case["input"]
    res = mr.metagen(i["yi"] + [5.0], vi=i["vi"] + [0.01], exclude=[len(i["yi"])])
    got = res.fsn("rosenberg")
    assert got.fsnum == case["fsnum"] and got.k == len(i["yi"])
    assert "Fail-safe N: 370" in str(got)
    assert got.to_dict()["type"] == "Rosenberg"


def test_fsn_options_are_checked():
    with pytest.raises(mr.SettingsError, match="valid types are: Rosenthal, Orwin, Rosenberg"):
        fsn(yi=[0.1], vi=[0.1], type="REM")
    with pytest.raises(mr.SettingsError, match="only to Orwin"):
        fsn(yi=[0.1], vi=[0.1], type="Rosenthal", target=0.1)
