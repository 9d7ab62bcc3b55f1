"""Certainty of the evidence (GRADE) for one outcome, with ratings suggested from the numbers.

GRADE rates the certainty of a body of evidence as high, moderate, low or very low
(Balshem et al. 2011, J Clin Epidemiol 64:401-406, GRADE 3): evidence from randomised
trials starts high, from observational studies low, and each of five domains can lower
it by one level ("serious") or two ("very serious").  This module suggests a rating for
the domains the numbers speak to, and the reviewer may replace any suggestion with a
rating and a reason; nothing is rated without either numbers or a reason.

Suggested ratings (the thresholds are choices of metareview, stated here and in
``docs/howto/risk-of-bias-and-grade.md``; every one can be overridden):

* **Risk of bias** (Guyatt et al. 2011, J Clin Epidemiol 64:407-415, GRADE 4: judge the
  body of evidence by the studies that carry most of the weight): from the studies'
  overall judgments weighted by their weight in the analysis (random-effects weights when
  the random-effects model is reported, else common-effect).  Very serious when studies
  at high risk (high, serious or critical) carry at least 50 % of the weight; serious when
  they carry at least 25 %, or studies not at low risk carry at least 50 %; not serious
  otherwise.  Without judgments: not assessed.
* **Inconsistency** (Guyatt et al. 2011, J Clin Epidemiol 64:1294-1302, GRADE 7: point
  estimates that vary widely, confidence intervals that overlap little, a large I²): not
  serious when I² < 50 %, or when the prediction interval (which carries tau²) lies on one
  side of every decision threshold (differences in size, not in direction); very serious
  when I² >= 75 %, the prediction interval includes a threshold, and studies whose
  confidence interval excludes that threshold lie on both sides of it; serious otherwise.
  One study: not applicable, rated not serious.
* **Imprecision** (Guyatt et al. 2011, J Clin Epidemiol 64:1283-1293, GRADE 6: the
  confidence interval against the thresholds that would change a decision, and the
  optimal information size): one level per decision threshold that the confidence
  interval includes, and one level when the reviewer gives an optimal information size
  that the participants do not reach, at most two.  Thresholds are the reviewer's, on the
  natural scale; without any, the measure's null (0 for differences, 1 for ratios) is the
  threshold, and a measure without a null (a single proportion, a mean) is not assessed.
* **Publication bias** (Guyatt et al. 2011, J Clin Epidemiol 64:1277-1282, GRADE 5): with
  at least 10 studies, Egger's regression test (Egger et al. 1997, BMJ 315:629-634);
  serious when p < 0.10, not serious otherwise.  With fewer than 10 studies the tests have
  too little power (Sterne et al. 2011, BMJ 343:d4002): not assessed.
* **Indirectness** (Guyatt et al. 2011, J Clin Epidemiol 64:1303-1310, GRADE 8) depends on
  the question and the populations, not on numbers: only the reviewer rates it.

When a domain is not assessed, the certainty computed from the others is an upper bound
(an unassessed domain can only lower it) and is shown as "at most ...".  Rating up
(large effects, dose-response; GRADE 9) is not offered.

>>> import metareview as mr
>>> r = mr.metabin([12, 8, 20], [100, 90, 150], [20, 15, 30], [100, 95, 150], ["A", "B", "C"], measure="RR")
>>> g = grade(r, outcome="Death", design="randomised")
>>> g.rating("imprecision").rating, g.certainty
('not serious', 'high')
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..base.exceptions import SettingsError

__all__ = ["grade", "GradeAssessment", "DomainRating", "DOMAINS", "RATINGS", "CERTAINTY", "DESIGNS",
           "DOMAIN_LABELS"]

DOMAINS = ("risk_of_bias", "inconsistency", "indirectness", "imprecision", "publication_bias")
DOMAIN_LABELS = {"risk_of_bias": "Risk of bias", "inconsistency": "Inconsistency", "indirectness": "Indirectness",
                 "imprecision": "Imprecision", "publication_bias": "Publication bias"}
#: A rating and how many levels it lowers the certainty.
RATINGS = {"not serious": 0, "serious": 1, "very serious": 2}
#: Certainty levels from 1 to 4.
CERTAINTY = {4: "high", 3: "moderate", 2: "low", 1: "very low"}
#: Where the certainty starts (GRADE 3, Balshem et al. 2011).
DESIGNS = {"randomised": 4, "observational": 2}

# thresholds of the suggestions (documented above and in the how-to page)
ROB_HIGH_VERY_SERIOUS = 0.50
ROB_HIGH_SERIOUS = 0.25
ROB_NOT_LOW_SERIOUS = 0.50
I2_SERIOUS = 50.0
I2_VERY_SERIOUS = 75.0
EGGER_ALPHA = 0.10
MIN_STUDIES_SMALL_STUDY_TESTS = 10


@dataclass(frozen=True)
class DomainRating:
    """The rating of one domain: ``rating`` is None when not assessed; ``suggested`` is what the
    numbers say (None when they say nothing); ``basis`` explains the suggestion; ``reason`` is
    the reviewer's when they rated it."""

    domain: str
    rating: str | None
    suggested: str | None
    basis: str
    reason: str = ""
    rated_by: str = ""

    @property
    def overridden(self) -> bool:
        return bool(self.reason)

    @property
    def downgrade(self) -> int:
        return RATINGS[self.rating] if self.rating else 0

    def explanation(self) -> str:
        if self.overridden:
            return self.reason + (f" (suggested {self.suggested}: {self.basis})" if self.suggested else "")
        return self.basis

    def to_dict(self) -> dict[str, Any]:
        return {"domain": self.domain, "rating": self.rating, "suggested": self.suggested, "basis": self.basis,
                "reason": self.reason or None, "rated_by": self.rated_by or None, "downgrade": self.downgrade}


@dataclass(frozen=True)
class GradeAssessment:
    """GRADE for one outcome: the domains, the certainty and the numbers of the summary of findings."""

    outcome: str
    design: str
    domains: tuple[DomainRating, ...]
    k: int
    participants: float | None
    effect: dict[str, Any] = field(default_factory=dict)
    thresholds: tuple[float, ...] = ()
    ois: float | None = None

    def rating(self, domain: str) -> DomainRating:
        for d in self.domains:
            if d.domain == domain:
                return d
        raise SettingsError(f"unknown GRADE domain {domain!r}; domains are {', '.join(DOMAINS)}")

    @property
    def level(self) -> int:
        return max(1, DESIGNS[self.design] - sum(d.downgrade for d in self.domains))

    @property
    def certainty(self) -> str:
        return CERTAINTY[self.level]

    @property
    def not_assessed(self) -> tuple[str, ...]:
        return tuple(d.domain for d in self.domains if d.rating is None)

    @property
    def upper_bound(self) -> bool:
        """True when some domain is not assessed: the certainty is then at most :attr:`certainty`."""
        return bool(self.not_assessed)

    def certainty_text(self) -> str:
        symbols = "\u2295" * self.level + "\u25ef" * (4 - self.level)
        name = self.certainty.capitalize()
        # "at most very low" says no more than "very low"
        return f"{symbols} {'At most ' + self.certainty if self.upper_bound and self.level > 1 else name}"

    def to_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "design": self.design, "start": CERTAINTY[DESIGNS[self.design]],
                "certainty": self.certainty, "upper_bound": self.upper_bound, "k": self.k,
                "participants": self.participants, "thresholds": list(self.thresholds), "ois": self.ois,
                "domains": [d.to_dict() for d in self.domains], "effect": dict(self.effect)}

    def summary(self):
        import pandas as pd
        return pd.DataFrame([{"domain": DOMAIN_LABELS[d.domain], "rating": d.rating or "not assessed",
                              "suggested": d.suggested or "", "explanation": d.explanation()} for d in self.domains])

    def __str__(self) -> str:
        lines = [f"GRADE: {self.outcome} ({self.k} studies, {self.design} evidence starts "
                 f"{CERTAINTY[DESIGNS[self.design]]})"]
        for d in self.domains:
            how = "reviewer" if d.overridden else "suggested"
            lines.append(f"  {DOMAIN_LABELS[d.domain]:17} {d.rating or 'not assessed':13} "
                         f"[{how if d.rating else '-'}] {d.explanation()}")
        lines.append(f"Certainty: {self.certainty_text()}")
        return "\n".join(lines) + "\n"


# -------------------------------------------------------------------------------------- numbers

def _natural(result) -> dict[str, Any]:
    d = result.to_dict()
    bt = d["backtransformed"]
    model = "random" if d["settings"]["random"] else "common"
    est = bt[model] if bt else d[model]
    pi = (bt["prediction"] if bt else d["prediction"]) if model == "random" else None
    pi_low = pi.get("low") if pi is not None else None
    pi_high = pi.get("high") if pi is not None and pi_low is not None else None
    return {"model": model, "estimate": est["estimate"], "ci_low": est["ci_low"], "ci_high": est["ci_high"],
            "pi_low": pi_low, "pi_high": pi_high,
            "i2": d["heterogeneity"]["i2"], "tau2": d["heterogeneity"]["tau2"], "level": d["settings"]["level"]}


def participants(result) -> float | None:
    """Participants of the pooled studies (``n``, or ``n_e + n_c`` for two groups)."""
    inc = result.included
    data = result.data
    if "n" in data:
        return float(np.sum(np.asarray(data["n"], dtype=float)[inc]))
    if "n_e" in data and "n_c" in data:
        return float(np.sum(np.asarray(data["n_e"], dtype=float)[inc] + np.asarray(data["n_c"], dtype=float)[inc]))
    return None


def _study_intervals(result) -> tuple[np.ndarray, np.ndarray]:
    sa = result.study_arrays()
    lo = sa.get("bt_ci_low", sa["ci_low"])
    hi = sa.get("bt_ci_high", sa["ci_high"])
    inc = result.included
    return np.asarray(lo, dtype=float)[inc], np.asarray(hi, dtype=float)[inc]


def _g(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "NA"
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:,.0f}"


def _thresholds(result, thresholds: Sequence[float]) -> tuple[tuple[float, ...], str]:
    if thresholds:
        return tuple(float(t) for t in thresholds), "the reviewer's decision threshold"
    null = result.measure.natural_null
    if null is None:
        return (), ""
    return (float(null),), "the null effect"


# -------------------------------------------------------------------------------------- domains

def suggest_risk_of_bias(result, rob: Mapping[str, str] | None, tool=None) -> DomainRating:
    """GRADE 4 from the studies' overall judgments weighted by their weight in the analysis."""
    if not rob:
        return DomainRating("risk_of_bias", None, None, "no risk-of-bias assessment")
    from .rob import load_tool
    tool = tool or load_tool("generic")
    nat = _natural(result)
    w = np.asarray(result.pooled[f"weight_{nat['model']}"], dtype=float)
    inc = result.included
    labels = [str(s) for s in np.asarray(result.studlab)[inc]]
    w = w[inc]
    w = w / w.sum()
    from ..base.exceptions import DataError
    levels = []
    for s in labels:
        if s not in rob:
            raise DataError("no overall risk-of-bias judgment for this study", study=s, column="rob",
                            rule="risk of bias")
        levels.append(tool.level(rob[s]))
    levels_a = np.array(levels)
    high = float(w[levels_a >= 3].sum())
    not_low = float(w[levels_a != 1].sum())
    if high >= ROB_HIGH_VERY_SERIOUS:
        rating = "very serious"
    elif high >= ROB_HIGH_SERIOUS or not_low >= ROB_NOT_LOW_SERIOUS:
        rating = "serious"
    else:
        rating = "not serious"
    basis = (f"studies at high risk of bias carry {100 * high:.0f}% of the weight, studies not at low risk "
             f"{100 * not_low:.0f}%")
    return DomainRating("risk_of_bias", rating, rating, basis)


def suggest_inconsistency(result, thresholds: Sequence[float] = ()) -> DomainRating:
    """GRADE 7 from I², the prediction interval (tau²) and the studies' intervals."""
    nat = _natural(result)
    if result.k < 2:
        return DomainRating("inconsistency", "not serious", "not serious", "one study: not applicable")
    i2 = nat["i2"]
    th, th_name = _thresholds(result, thresholds)
    pi_lo, pi_hi = nat["pi_low"], nat["pi_high"]
    basis = f"I² = {i2:.0f}%, τ² = {_g(nat['tau2'])}"
    if pi_lo is not None:
        basis += f", prediction interval {_g(pi_lo)} to {_g(pi_hi)}"
    spanned = [t for t in th if pi_lo is not None and pi_lo < t < pi_hi]
    if i2 < I2_SERIOUS:
        rating = "not serious"
    elif th and pi_lo is not None and not spanned:
        rating = "not serious"
        basis += f" (on one side of {th_name})"
    else:
        rating = "serious"
        lo, hi = _study_intervals(result)
        for t in spanned:
            if i2 >= I2_VERY_SERIOUS and np.any(hi < t) and np.any(lo > t):
                rating = "very serious"
                basis += f"; studies excluding {_g(t)} lie on both sides of it"
                break
        if th and pi_lo is not None:
            basis += f" (includes {th_name} {', '.join(_g(t) for t in spanned)})"
    return DomainRating("inconsistency", rating, rating, basis)


def suggest_imprecision(result, thresholds: Sequence[float] = (), ois: float | None = None) -> DomainRating:
    """GRADE 6: the confidence interval against the decision thresholds, and the optimal information size."""
    nat = _natural(result)
    th, th_name = _thresholds(result, thresholds)
    n = participants(result)
    if not th and ois is None:
        return DomainRating("imprecision", None, None,
                            f"{result.measure.label} has no null effect and no decision threshold was set")
    lo, hi = nat["ci_low"], nat["ci_high"]
    crossed = [t for t in th if lo <= t <= hi]
    pct = int(round(100 * nat["level"]))
    parts = [f"{pct}% CI {_g(lo)} to {_g(hi)}"]
    if th:
        parts.append(f"includes {th_name} {', '.join(_g(t) for t in crossed)}" if crossed else
                     f"excludes {th_name} {', '.join(_g(t) for t in th)}")
    short = ois is not None and (n is None or n < ois)
    if ois is not None:
        parts.append(f"{_g(n) if n is not None else 'unknown'} participants "
                     f"{'below' if short else 'reach'} the optimal information size {_g(ois)}")
    levels = min(2, len(crossed) + int(short))
    rating = {0: "not serious", 1: "serious", 2: "very serious"}[levels]
    return DomainRating("imprecision", rating, rating, "; ".join(parts))


def suggest_publication_bias(result) -> DomainRating:
    """GRADE 5 from Egger's test when there are at least 10 studies."""
    if result.k < MIN_STUDIES_SMALL_STUDY_TESTS:
        return DomainRating("publication_bias", None, None,
                            f"{result.k} studies: too few for tests of small-study effects (10 or more needed)")
    from ..analyses.bias import egger_test
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        test = egger_test(result)
    rating = "serious" if test.p < EGGER_ALPHA else "not serious"
    return DomainRating("publication_bias", rating, rating,
                        f"Egger's test p = {test.p:.3f} ({'<' if test.p < EGGER_ALPHA else '>='} {EGGER_ALPHA:g}), "
                        f"{result.k} studies")


def suggest_indirectness() -> DomainRating:
    return DomainRating("indirectness", None, None, "judged by the reviewer (population, intervention, "
                                                    "comparator and outcome against the question)")


# -------------------------------------------------------------------------------------- effects

def effects(result, baseline_risk: float | None = None) -> dict[str, Any]:
    """Relative and absolute effects on the natural scale, as a summary of findings shows them.

    Ratio measures (OR, RR): the relative effect, and with an assumed comparator risk (the
    reviewer's ``baseline_risk``, else the median risk of the comparator groups) the risk
    with the comparator and the difference per 1,000.  Single proportions: events per 1,000.
    Differences: the pooled difference.
    """
    nat = _natural(result)
    m = result.measure
    out: dict[str, Any] = {"measure": m.code, "label": m.label, "model": nat["model"], "level": nat["level"],
                           "estimate": nat["estimate"], "ci_low": nat["ci_low"], "ci_high": nat["ci_high"]}
    if m.design == "proportion":
        out["kind"] = "per_1000"
        out["per_1000"] = [1000 * nat["estimate"], 1000 * nat["ci_low"], 1000 * nat["ci_high"]]
    elif m.code in ("OR", "RR") and "events_c" in result.data:
        cr = baseline_risk
        if cr is None:
            ev = np.asarray(result.data["events_c"], dtype=float)[result.included]
            nc = np.asarray(result.data["n_c"], dtype=float)[result.included]
            cr = float(np.median(ev / nc))
        if not 0 < cr < 1:
            raise SettingsError(f"the comparator risk must be between 0 and 1, not {cr!r}")

        def treated(x: float) -> float:
            return cr * x if m.code == "RR" else cr * x / (1 - cr + cr * x)

        out["kind"] = "ratio"
        out["comparator_risk"] = cr
        out["comparator_per_1000"] = 1000 * cr
        out["difference_per_1000"] = [1000 * (treated(v) - cr) for v in (nat["estimate"], nat["ci_low"],
                                                                          nat["ci_high"])]
    elif m.ratio:
        out["kind"] = "ratio_only"
    else:
        out["kind"] = "difference"
    return out


# -------------------------------------------------------------------------------------- assessment

def grade(result, *, outcome: str, design: str = "randomised", thresholds: Sequence[float] = (),
          ois: float | None = None, rob: Mapping[str, str] | None = None, rob_tool=None,
          overrides: Mapping[str, tuple[str, str] | tuple[str, str, str]] | None = None,
          baseline_risk: float | None = None, not_assessed: str | None = None) -> GradeAssessment:
    """GRADE one outcome from its pooled ``result``.

    ``design``: ``randomised`` (starts high) or ``observational`` (starts low).
    ``thresholds``: decision thresholds on the natural scale (imprecision, inconsistency).
    ``ois``: optimal information size in participants.  ``rob``: study label -> overall
    risk-of-bias judgment (of ``rob_tool``, default robvis's generic judgments).
    ``overrides``: domain -> ``(rating, reason[, rated_by])``; the reason is required.
    ``not_assessed``: the explanation shown for domains left without a rating (e.g.
    "not assessed in the paper").
    """
    if design not in DESIGNS:
        raise SettingsError(f"design must be one of {', '.join(DESIGNS)}, not {design!r}")
    if ois is not None and not (isinstance(ois, (int, float)) and ois > 0):
        raise SettingsError(f"the optimal information size must be a positive number, not {ois!r}")
    domains = {
        "risk_of_bias": suggest_risk_of_bias(result, rob, rob_tool),
        "inconsistency": suggest_inconsistency(result, thresholds),
        "indirectness": suggest_indirectness(),
        "imprecision": suggest_imprecision(result, thresholds, ois),
        "publication_bias": suggest_publication_bias(result),
    }
    for domain, value in (overrides or {}).items():
        if domain not in DOMAINS:
            raise SettingsError(f"unknown GRADE domain {domain!r}; domains are {', '.join(DOMAINS)}")
        rating, reason, *who = value
        if rating not in RATINGS:
            raise SettingsError(f"{domain}: rating {rating!r} is not one of {', '.join(RATINGS)}")
        if not (reason or "").strip():
            raise SettingsError(f"{domain}: say why it is rated {rating!r} (a reason is required)")
        domains[domain] = replace(domains[domain], rating=rating, reason=reason.strip(),
                                  rated_by=who[0] if who else "")
    if not_assessed:
        for key, d in domains.items():
            if d.rating is None and d.suggested is None:
                # the numbers' own reason stays where they had one (too few studies, no threshold)
                own = d.basis if key in ("imprecision", "publication_bias") else ""
                domains[key] = replace(d, basis=not_assessed + (f" ({own})" if own else ""))
    return GradeAssessment(outcome=outcome, design=design, domains=tuple(domains[d] for d in DOMAINS),
                           k=int(result.k), participants=participants(result),
                           effect=effects(result, baseline_risk), thresholds=tuple(float(t) for t in thresholds),
                           ois=ois)
