"""Mantel-Haenszel pooling of incidence rates (IRR, IRD), its Mantel-Haenszel test, and the
Cochran-Mantel-Haenszel and Tarone tests for odds ratios, against metafor 3.8-1's ``rma.mh``
(tests/r/make_reference_toolkit.R; R calls in ``r_call``), all closed forms: 1e-8."""

import pytest

import metareview as mr
from metareview.pooling.mh import cmh_tarone, mantel_haenszel_rates, mh_rate_test

from ._reference import cases, close

CASES = cases("mh")
RATES = [c for c in CASES if c["measure"] in ("IRR", "IRD")]
BINARY = [c for c in CASES if c["measure"] in ("OR", "RR", "RD")]


@pytest.mark.parametrize("case", RATES, ids=lambda c: c["case"])
def test_rates(case):
    """rma.mh(x1i, t1i, x2i, t2i, measure = "IRR" | "IRD"): estimate, se, CI, z test, Q, MH test."""
    i = case["input"]
    r = mantel_haenszel_rates(i["events_e"], i["time_e"], i["events_c"], i["time_c"], measure=case["measure"])
    for key in ("estimate", "se", "ci_low", "ci_high", "statistic", "p", "q", "q_p"):
        close(getattr(r, key), case[key], 1e-8, atol=1e-300)
    if case["measure"] == "IRR":
        t = mh_rate_test(i["events_e"], i["time_e"], i["events_c"], i["time_c"])
        close(t["mh"], case["mh"], 1e-8)
    # the same through the API (metainc(..., method = "MH")) and the printout
    res = mr.metainc(i["events_e"], i["time_e"], i["events_c"], i["time_c"], i["study"], measure=case["measure"],
                     method="MH")
    close(res.pooled["common_estimate"], case["estimate"], 1e-8)
    close(res.pooled["q"], case["q"], 1e-8)
    if case["measure"] == "IRR":
        close(res.to_dict()["method_details"]["mh"], case["mh"], 1e-8)
        assert "Mantel-Haenszel test" in str(res)


@pytest.mark.parametrize("case", BINARY, ids=lambda c: c["case"])
def test_cmh_and_tarone(case):
    """rma.mh(ai, n1i, ci, n2i, measure = "OR"): CMH and Tarone's test (correct = TRUE)."""
    i = case["input"]
    t = cmh_tarone(i["events_e"], i["n_e"], i["events_c"], i["n_c"])
    close(t["cmh"], case["cmh"] if case["measure"] == "OR" else t["cmh"], 1e-8)
    if case["measure"] != "OR":
        return
    close(t["cmh_p"], case["cmh_p"], 1e-8, atol=1e-300)
    close(t["tarone"], case["tarone"], 1e-8)
    close(t["tarone_p"], case["tarone_p"], 1e-8, atol=1e-300)
    res = mr.metabin(i["events_e"], i["n_e"], i["events_c"], i["n_c"], i["study"], method="MH",
                     incr_style="metafor")
    close(res.pooled["common_estimate"], case["estimate"], 1e-8)
    md = res.to_dict()["method_details"]
    close(md["cmh"], case["cmh"], 1e-8)
    close(md["tarone"], case["tarone"], 1e-8)
    text = str(res)
    assert "Cochran-Mantel-Haenszel test" in text and "Tarone's test for heterogeneity" in text


def test_mh_rates_refuses_irsd_and_zero_events():
    with pytest.raises(mr.SettingsError, match="IRR or IRD"):
        mr.metainc([1, 2], [10, 10], [2, 3], [10, 10], measure="IRSD", method="MH")
    with pytest.raises(mr.DataError, match="rate ratio is 0 or infinite"):
        mr.metainc([0, 0], [10, 10], [2, 3], [10, 10], method="MH")
