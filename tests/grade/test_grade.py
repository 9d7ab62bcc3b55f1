"""GRADE: each suggestion rule at its thresholds, overrides, certainty and absolute effects."""

from __future__ import annotations

import numpy as np
import pytest

import metareview as mr
from metareview.analyses.bias import egger_test
from metareview.appraisal.grade import effects, grade
from metareview.base.exceptions import DataError, SettingsError

pytestmark = pytest.mark.filterwarnings("ignore::metareview.base.exceptions.MetaReviewWarning")


def _gen(yi, sei, labels=None, measure="MD"):
    labels = labels or [f"S{i}" for i in range(len(yi))]
    return mr.metagen(np.array(yi, float), np.array(sei, float), labels, measure=measure)


def test_inconsistency_rules():
    same = _gen([1.0, 1.1, 0.9, 1.05], [0.3, 0.3, 0.3, 0.3])
    assert same.to_dict()["heterogeneity"]["i2"] < 50
    assert grade(same, outcome="x").rating("inconsistency").rating == "not serious"
    # large I², all studies far from the null: the prediction interval stays on one side of 0
    size = _gen([10.0, 12.0, 14.0, 11.0, 13.0, 12.5, 11.5], [0.2] * 7)
    d = size.to_dict()
    assert d["heterogeneity"]["i2"] > 75 and d["prediction"]["low"] > 0
    r = grade(size, outcome="x").rating("inconsistency")
    assert r.rating == "not serious" and "one side" in r.basis
    # large I², studies excluding 0 on both sides: very serious
    opposite = _gen([-2.0, -1.5, 2.0, 1.5, 0.1], [0.3] * 5)
    assert opposite.to_dict()["heterogeneity"]["i2"] >= 75
    assert grade(opposite, outcome="x").rating("inconsistency").rating == "very serious"
    # I² between 50 and 75 % with the prediction interval over the null: serious
    mid = _gen([0.2, 0.9, -0.1, 0.6, 0.4, 1.1], [0.25] * 6)
    i2 = mid.to_dict()["heterogeneity"]["i2"]
    assert 50 <= i2 < 75
    assert grade(mid, outcome="x").rating("inconsistency").rating == "serious"
    assert grade(_gen([1.0], [0.3]), outcome="x").rating("inconsistency").basis == "one study: not applicable"


def test_imprecision_counts_thresholds_inside_the_interval_and_the_information_size():
    r = _gen([0.5, 0.4, 0.6], [0.3, 0.3, 0.3])      # pooled 0.5 (CI about 0.16 to 0.84)
    d = r.to_dict()["random"]
    assert grade(r, outcome="x").rating("imprecision").rating == "not serious"     # excludes the null 0
    assert grade(r, outcome="x", thresholds=[0.3]).rating("imprecision").rating == "serious"
    assert grade(r, outcome="x", thresholds=[0.3, 0.7]).rating("imprecision").rating == "very serious"
    assert d["ci_low"] < 0.3 < 0.7 < d["ci_high"]
    p = mr.metaprop([20, 30, 25], [40, 50, 45], ["A", "B", "C"])
    assert grade(p, outcome="x").rating("imprecision").rating is None             # no null, no threshold
    assert grade(p, outcome="x", thresholds=[0.2]).rating("imprecision").rating == "not serious"
    short = grade(p, outcome="x", thresholds=[0.2], ois=200).rating("imprecision")
    assert short.rating == "serious" and "135 participants below" in short.basis
    assert grade(p, outcome="x", thresholds=[0.2], ois=100).rating("imprecision").rating == "not serious"


def test_publication_bias_needs_ten_studies_and_uses_eggers_test():
    rng = np.random.default_rng(1)
    se = rng.uniform(0.1, 0.6, 12)
    yi = 0.3 + 2.5 * se + rng.normal(0, 0.05, 12)       # small studies with larger effects
    r = _gen(list(yi), list(se))
    rating = grade(r, outcome="x").rating("publication_bias")
    p = egger_test(r).p
    assert p < 0.10 and rating.rating == "serious" and f"{p:.3f}" in rating.basis
    nine = _gen(list(yi[:9]), list(se[:9]))
    assert grade(nine, outcome="x").rating("publication_bias").rating is None


def test_risk_of_bias_by_weight():
    r = _gen([1.0, 1.0, 1.0, 1.0], [0.1, 0.2, 0.2, 0.2], ["A", "B", "C", "D"])
    w = r.pooled["weight_random"] / r.pooled["weight_random"].sum()
    assert w[0] > 0.5
    low = {"A": "Low", "B": "Low", "C": "Low", "D": "Low"}
    assert grade(r, outcome="x", rob=low).rating("risk_of_bias").rating == "not serious"
    assert grade(r, outcome="x", rob={**low, "A": "High"}).rating("risk_of_bias").rating == "very serious"
    assert grade(r, outcome="x", rob={**low, "B": "High"}).rating("risk_of_bias").rating == "not serious"   # < 25 %
    assert grade(r, outcome="x", rob={**low, "B": "High", "C": "High"}).rating("risk_of_bias").rating == "serious"
    assert grade(r, outcome="x", rob={**low, "A": "Some concerns"}).rating("risk_of_bias").rating == "serious"
    with pytest.raises(DataError, match="study 'D'"):
        grade(r, outcome="x", rob={"A": "Low", "B": "Low", "C": "Low"})


def test_certainty_overrides_and_upper_bound():
    r = _gen([0.5, 0.4, 0.6], [0.3, 0.3, 0.3])
    low = {"S0": "Low", "S1": "Low", "S2": "Low"}
    g = grade(r, outcome="x", rob=low, overrides={"indirectness": ("not serious", "same population"),
                                                  "publication_bias": ("not serious", "registries searched")})
    assert g.certainty == "high" and not g.upper_bound
    g = grade(r, outcome="x", rob=low, overrides={"indirectness": ("serious", "surrogate outcome"),
                                                  "publication_bias": ("very serious", "industry funded, "
                                                                       "unpublished trials known")})
    assert g.certainty == "very low" and g.level == 1
    g = grade(r, outcome="x", design="observational")
    assert g.upper_bound and g.certainty == "low" and "At most low" in g.certainty_text()
    with pytest.raises(SettingsError, match="a reason is required"):
        grade(r, outcome="x", overrides={"indirectness": ("serious", " ")})
    with pytest.raises(SettingsError, match="unknown GRADE domain"):
        grade(r, outcome="x", overrides={"precision": ("serious", "x")})
    with pytest.raises(SettingsError, match="design"):
        grade(r, outcome="x", design="rct")


def test_absolute_effects_per_1000():
    r = mr.metabin([12, 8, 20], [100, 90, 150], [20, 15, 30], [100, 95, 150], ["A", "B", "C"], measure="RR")
    e = effects(r, baseline_risk=0.2)
    est = r.to_dict()["backtransformed"]["random"]["estimate"]
    assert e["difference_per_1000"][0] == pytest.approx(1000 * (0.2 * est - 0.2), rel=1e-12)
    e = effects(r)        # median comparator risk of the studies: 0.2, 15/95, 0.2
    assert e["comparator_risk"] == pytest.approx(0.2)
    o = mr.metabin([12, 8, 20], [100, 90, 150], [20, 15, 30], [100, 95, 150], ["A", "B", "C"], measure="OR")
    e = effects(o, baseline_risk=0.3)
    orr = o.to_dict()["backtransformed"]["random"]["estimate"]
    assert e["difference_per_1000"][0] == pytest.approx(1000 * (0.3 * orr / (1 - 0.3 + 0.3 * orr) - 0.3), rel=1e-12)
    p = mr.metaprop([20, 30, 25], [40, 50, 45], ["A", "B", "C"])
    e = effects(p)
    assert e["per_1000"][0] == pytest.approx(1000 * p.to_dict()["backtransformed"]["random"]["estimate"])
