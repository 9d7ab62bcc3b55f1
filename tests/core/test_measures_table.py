"""The table of measures: each measure owns its formula, labels, designs and rules; escalc, the input
rules and the analysis functions read them from the table, and a measure added with register() is
used everywhere without touching another file."""

from __future__ import annotations

import numpy as np
import pytest

import metareview as mr
from metareview.base.exceptions import DataError, SettingsError
from metareview.effectsizes import measures
from metareview.effectsizes.escalc import escalc
from metareview.effectsizes.measures import DEFAULT_MEASURE, DESIGNS, MEASURES, Measure, backtransform, get_measure


@pytest.fixture
def scratch_table(monkeypatch):
    """A copy of the table for the test to register into, restored afterwards."""
    monkeypatch.setattr(measures, "MEASURES", dict(measures.MEASURES))
    monkeypatch.setattr(measures, "_ALIASES", dict(measures._ALIASES))
    return measures


def _plus_half(m, design, x, o):
    """A proportion with half an event added to every study: (x + 1/2)/(n + 1), variance p(1 - p)/(n + 1)."""
    p = (x["events"] + 0.5) / (x["n"] + 1)
    return p, p * (1 - p) / (x["n"] + 1), None


def test_a_registered_measure_is_used_by_escalc_validation_and_the_analysis_functions(scratch_table):
    m = scratch_table.register(Measure("PHALF", "proportion", "Proportion (plus one half)", "identity", None,
                                       _plus_half, aliases=("PHALF2",), short_label="Proportion"))
    assert get_measure("phalf2") is m and scratch_table.MEASURES["PHALF"] is m
    es = escalc("PHALF", {"events": [0, 3], "n": [10, 9]})
    np.testing.assert_allclose(es.yi, [0.5 / 11, 3.5 / 10], rtol=1e-15)
    np.testing.assert_allclose(es.vi, [0.5 / 11 * 10.5 / 11 / 11, 0.35 * 0.65 / 10], rtol=1e-15)
    np.testing.assert_array_equal(es.n, [10, 9])
    with pytest.raises(DataError, match="events"):  # the design's input rules apply to it
        escalc("PHALF", {"events": [12, 3], "n": [10, 9]}, studlab=["A", "B"])
    res = mr.metaprop([0, 3, 5], [10, 9, 12], ["A", "B", "C"], measure="phalf")
    assert res.measure is m and res.settings.measure == "PHALF"
    np.testing.assert_allclose(res.yi, [0.5 / 11, 0.35, 5.5 / 13], rtol=1e-15)
    with pytest.raises(SettingsError, match="metabin takes OR, RR or RD, not 'PHALF'"):
        mr.metabin([1], [10], [2], [10], measure="PHALF")
    with pytest.raises(SettingsError, match="metaprop takes PR, PLO, PLN, PAS, PFT or PHALF, not 'OR'"):
        mr.metaprop([1], [10], measure="OR")


def test_register_refuses_a_code_or_alias_already_taken(scratch_table):
    plo = MEASURES["PLO"]
    with pytest.raises(SettingsError, match="'PLO' is already registered"):
        scratch_table.register(plo)
    with pytest.raises(SettingsError, match="'plogit' is already registered"):
        scratch_table.register(Measure("NEW", "proportion", "New", "identity", None, _plus_half, aliases=("plogit",)))
    assert "NEW" not in scratch_table.MEASURES


@pytest.mark.parametrize("change, message", [
    ({"design": "survival"}, "unknown design 'survival'"),
    ({"scale": "probit"}, "no back-transformation for scale 'probit'"),
    ({"continuity": "always"}, "unknown continuity correction 'always'"),
])
def test_a_measure_must_name_a_known_design_scale_and_continuity_rule(change, message):
    spec = {"code": "X", "design": "proportion", "label": "X", "scale": "identity", "null": None,
            "formula": _plus_half, **change}
    with pytest.raises(SettingsError, match=message):
        Measure(**spec)


def test_a_measure_can_bring_its_own_back_transformation():
    m = Measure("PROBIT", "proportion", "Proportion (probit)", "probit", None, _plus_half,
                back=lambda x, n=None: 2 * x)
    np.testing.assert_array_equal(backtransform(m, [1.0, 2.0]), [2.0, 4.0])
    assert m.axis_label == "Proportion" and m.short_label == "PROBIT" and m.result_label == "PROBIT"


def test_ratio_measures_are_the_log_scale_measures_with_a_null():
    ratios = {c for c, m in MEASURES.items() if m.ratio}
    assert ratios == {"ROM", "ROMC", "CVR", "VR", "OR", "RR", "IRR"}
    assert ratios == {c for c, m in MEASURES.items() if m.scale == "log" and m.null is not None}
    assert all(MEASURES[c].natural_null == 1.0 for c in ratios)


def test_every_design_has_one_default_measure_of_its_own():
    assert set(DEFAULT_MEASURE) == set(DESIGNS)
    assert DEFAULT_MEASURE == {"proportion": "PLO", "mean": "MN", "prepost": "MD", "cont2": "MD", "bin2": "OR",
                               "generic": "GEN", "rate": "IRLN", "rate2": "IRR", "cor": "ZCOR", "pcor": "ZPCOR"}
    for design, code in DEFAULT_MEASURE.items():
        assert design in MEASURES[code].designs
    assert mr.api.meta.DEFAULT_MEASURE is DEFAULT_MEASURE


def test_labels_are_the_measures_own():
    """The forest plot's column header, the axis label and the printout's label, as before the table
    owned them (plots/forest.py's SHORT, the label without its parenthesis, result.py's NATURAL_LABELS)."""
    short = {c: m.short_label for c, m in MEASURES.items()}
    assert short == {"PR": "Proportion", "PLO": "Proportion", "PLN": "Proportion", "PAS": "Proportion",
                     "PFT": "Proportion", "MN": "Mean", "MNLN": "Mean", "MD": "MD", "SMD": "SMD", "ROM": "ROM",
                     "MC": "MC", "SMCC": "SMC", "SMCR": "SMC", "OR": "OR", "RR": "RR", "RD": "RD", "GEN": "Estimate",
                     "IR": "Rate", "IRLN": "Rate", "IRS": "Rate", "IRFT": "Rate", "SMDH": "SMD", "VR": "VR",
                     "CVR": "CVR", "ROMC": "ROM", "SMCRH": "SMC", "IRR": "IRR", "IRD": "IRD", "IRSD": "IRSD",
                     "COR": "COR", "UCOR": "COR", "ZCOR": "COR", "PCOR": "PCOR", "ZPCOR": "PCOR", "SPCOR": "SPCOR"}
    assert MEASURES["OR"].axis_label == "Odds ratio" and MEASURES["PLO"].axis_label == "Proportion"
    assert MEASURES["SMD"].axis_label == "Standardised mean difference (Hedges' g)"
    printed = {c: m.result_label for c, m in MEASURES.items() if m.result_label != c}
    assert printed == {**{c: "Proportion" for c in ("PR", "PLO", "PLN", "PAS", "PFT")}, "MN": "Mean", "MNLN": "Mean",
                       **{c: "Rate" for c in ("IR", "IRLN", "IRS", "IRFT")}, "ZCOR": "COR", "ZPCOR": "PCOR"}


def test_md_is_computed_for_pre_post_columns_too():
    md = MEASURES["MD"]
    assert md.designs == ("cont2", "prepost")
    assert measures.design_of(md, {"mean_pre": 1}) == "prepost"
    assert measures.required_columns(md, {"mean_pre": 1}) == DESIGNS["prepost"]
    assert measures.required_columns(MEASURES["SMCR"], {}) == DESIGNS["prepost"] + ("r",)
    assert measures.design_columns("prepost") == (DESIGNS["prepost"], ("r",))


def test_codes_and_measures_are_accepted_at_the_public_entry_points():
    data = {"events": [8, 26], "n": [10, 31]}
    by_code = escalc("plogit", data)
    by_measure = escalc(MEASURES["PLO"], data)
    np.testing.assert_array_equal(by_code.yi, by_measure.yi)
    assert by_code.measure is by_measure.measure is MEASURES["PLO"]
    np.testing.assert_array_equal(backtransform("PLO", [0.0]), backtransform(MEASURES["PLO"], [0.0]))
