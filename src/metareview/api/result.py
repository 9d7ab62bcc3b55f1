"""The result of a meta-analysis: immutable, carrying its settings and its data.

One vocabulary on every result (lifelines' habit): ``summary()`` (pooled estimates as a
DataFrame), ``studies()`` (the study table), ``print_summary()``/``str()`` (laid out as R
meta prints), ``_repr_html_()`` (notebooks), ``to_dict()`` (the ``--json`` contract),
``update(**changes)`` (refit with other settings) and ``forest()``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..base.deferred import deferrable
from ..base.format import Reportable, fmt as _f, num as _num
from ..effectsizes.measures import Measure, backtransform, get_measure
from ..pooling.settings import Settings
from ..pooling.summary import heterogeneity_text, pooled_block
from ..pooling.tau2 import ESTIMATORS

__all__ = ["METHOD_NAMES", "TAU2_NAMES", "SCALE_NAMES", "STUDY_CI_NAMES", "MetaResult"]
from ..pooling.values import Estimate, Heterogeneity, Interval, Pooled, same, value_hash

METHOD_NAMES = {
    "GLMM": "Random intercept logistic regression model (GLMM, maximum likelihood, adaptive "
            "Gauss-Hermite quadrature with {n_agq} point(s)); Wald-type and likelihood-ratio "
            "tests of heterogeneity",
    "MH": "Mantel-Haenszel method (common effect model); inverse variance random effects model",
    "Peto": "Peto method",
}
#: The estimators' names as R meta prints them ("... estimator for tau^2"), from the table of estimators.
TAU2_NAMES = {code: e.name for code, e in ESTIMATORS.items()}
SCALE_NAMES = {"logit": "Logit transformation", "log": "Log transformation",
               "arcsine": "Arcsine transformation", "freeman-tukey": "Freeman-Tukey double arcsine transformation",
               "fisher-z": "Fisher's z transformation of correlations"}
STUDY_CI_NAMES = {"CP": "Clopper-Pearson", "WS": "Wilson score", "WSCC": "Wilson score with continuity correction",
                  "AC": "Agresti-Coull", "SA": "Simple asymptotic (Wald)",
                  "SACC": "Simple asymptotic with continuity correction", "NAsm": "Normal approximation"}


# the study intervals may be given as Deferred, computed on first read (the exact intervals of
# proportions invert a beta distribution per study, the costliest step of one analysis)
@deferrable("ci_low", "ci_high", "nat_ci_low", "nat_ci_high")
@dataclass(frozen=True, eq=False)
class MetaResult(Reportable):
    """A pooled analysis (inverse variance, common and random effects).

    ``common``, ``random`` (:class:`~metareview.pooling.values.Estimate`), ``prediction``
    (:class:`~metareview.pooling.values.Interval`) and ``heterogeneity``
    (:class:`~metareview.pooling.values.Heterogeneity`) are its pooled values by name;
    ``pooled`` holds them all (:class:`~metareview.pooling.values.Pooled`, which also reads
    as the mapping of flat keys ``pooled["random_estimate"]``, ``pooled["se_tau2"]``, ...).

    Two results are equal (``==``) when their settings, data and estimates are: the
    function that made them, the settings, the study labels, data, covariates and exclusions,
    the effect sizes and study intervals, every pooled value and the notes, arrays compared
    element by element with NaN equal to NaN.  Where the data came from (``source``) and the
    version that computed them are not compared.  Results hash consistently with that
    equality (from the function, settings, labels and pooled values), so they can be kept
    in sets and as dictionary keys; like every frozen result, their arrays must not be
    changed in place.
    """

    func: str
    settings: Settings
    studlab: np.ndarray            # labels of the studies kept (after subset)
    data: dict                     # column role -> array (after subset)
    covariates: dict               # other columns -> array (after subset)
    excluded: np.ndarray           # True: shown, not pooled
    yi: np.ndarray
    vi: np.ndarray
    incr: np.ndarray
    n: np.ndarray | None
    ci_low: np.ndarray
    ci_high: np.ndarray
    nat_ci_low: np.ndarray | None
    nat_ci_high: np.ndarray | None
    pooled: Pooled
    source: dict = field(repr=False, default_factory=dict)
    notes: tuple = ()
    version: str = ""

    # ----- value semantics ----------------------------------------------------------
    #: what equality compares (not ``source``, the input the data came from, nor ``version``)
    _COMPARED = ("func", "settings", "studlab", "data", "covariates", "excluded", "yi", "vi", "incr", "n",
                 "ci_low", "ci_high", "nat_ci_low", "nat_ci_high", "pooled", "notes")

    def __eq__(self, other):
        if not isinstance(other, MetaResult):
            return NotImplemented
        return type(self) is type(other) and all(same(getattr(self, name), getattr(other, name))
                                                 for name in self._COMPARED)

    def __hash__(self):
        return value_hash(type(self).__name__, self.func, self.settings.to_dict(), self.studlab, self.pooled)

    @classmethod
    def of_fields(cls, **fields) -> MetaResult:
        """The result with every one of its fields given: the instance ``cls(**fields)`` makes,
        its fields (a :class:`~metareview.base.deferred.Deferred` included) placed in its
        ``__dict__`` at once.  A frozen dataclass's ``__init__`` sets them one by one through
        ``object.__setattr__`` (the deferrable ones through their descriptor, which puts them in
        the same ``__dict__``), which costs more than the rest of building a result of a few
        studies; the analysis functions make one per call."""
        if fields.keys() != _FIELD_NAMES:
            return cls(**fields)  # a field missing or unknown: the dataclass says which
        result = object.__new__(cls)
        result.__dict__.update(fields)
        return result

    # ----- the pooled values by name ------------------------------------------------
    @property
    def common(self) -> Estimate:
        """The common-effect (fixed) estimate, on the analysis scale."""
        return self.pooled.common

    @property
    def random(self) -> Estimate:
        """The random-effects estimate, on the analysis scale."""
        return self.pooled.random

    @property
    def prediction(self) -> Interval:
        """The prediction interval, on the analysis scale."""
        return self.pooled.prediction

    @property
    def heterogeneity(self) -> Heterogeneity:
        """Q, tau², tau, I² and H with their intervals."""
        return self.pooled.heterogeneity

    # ----- basic properties -------------------------------------------------------
    @property
    def measure(self) -> Measure:
        return get_measure(self.settings.measure)

    @property
    def design(self) -> str:
        """The study design of the data (``prepost`` for MD on follow-up and baseline columns)."""
        from ..effectsizes.measures import design_of
        return "generic" if "yi" in self.data else design_of(self.measure, self.data)

    @property
    def k(self) -> int:
        return int(self.pooled["k"])

    @property
    def k_all(self) -> int:
        return int(len(self.studlab))

    @property
    def included(self) -> np.ndarray:
        return ~self.excluded

    def _n_harmonic(self):
        if self.n is None:
            return None
        n = self.n[self.included]
        return 1.0 / np.mean(1.0 / n)

    def backtransform(self, x, n=None):
        """Map analysis-scale values to the natural scale (pooled values: harmonic-mean n)."""
        return backtransform(self.measure, x, self._n_harmonic() if n is None else n)

    # ----- tables -----------------------------------------------------------------
    def study_arrays(self) -> dict:
        """Study-level results as arrays (analysis scale, natural scale where it applies)."""
        m = self.measure
        out = {"study": self.studlab, "yi": self.yi, "vi": self.vi, "se": np.sqrt(self.vi),
               "ci_low": self.ci_low, "ci_high": self.ci_high,
               "weight_common": self.pooled["weight_common"], "weight_random": self.pooled["weight_random"],
               "excluded": self.excluded}
        if m.transformed:
            if m.design == "proportion" and "events" in self.data:
                est = self.data["events"] / self.data["n"]
            else:
                est = backtransform(m, self.yi, self.n)
            if self.nat_ci_low is not None:
                lo, hi = self.nat_ci_low, self.nat_ci_high
            else:
                lo, hi = backtransform(m, self.ci_low, self.n), backtransform(m, self.ci_high, self.n)
            out.update({"bt_estimate": est, "bt_ci_low": lo, "bt_ci_high": hi})
        return out

    def studies(self):
        """The study table as a pandas DataFrame."""
        import pandas as pd
        return pd.DataFrame(self.study_arrays())

    def summary(self):
        """Pooled estimates (common, random, prediction) as a pandas DataFrame."""
        import pandas as pd
        d = self.to_dict()
        rows = []
        for model in ("common", "random"):
            r = dict(d[model])
            r["model"] = model
            if d["backtransformed"]:
                bt = d["backtransformed"][model]
                r.update({"bt_estimate": bt["estimate"], "bt_ci_low": bt["ci_low"], "bt_ci_high": bt["ci_high"]})
            rows.append(r)
        pr = {"model": "prediction", "ci_low": d["prediction"]["low"], "ci_high": d["prediction"]["high"]}
        if d["backtransformed"]:
            pr.update({"bt_ci_low": d["backtransformed"]["prediction"]["low"],
                       "bt_ci_high": d["backtransformed"]["prediction"]["high"]})
        rows.append(pr)
        return pd.DataFrame(rows).set_index("model")

    # ----- the JSON contract --------------------------------------------------------
    def to_dict(self) -> dict:
        """The public ``--json`` document (see docs/json-contract.md); keys are only ever added."""
        p = self.pooled
        s = self.settings
        m = self.measure
        doc = {
            "k": self.k,
            "k_all": self.k_all,
            "measure": m.code,
            "method": s.method,
            "method_tau2": s.method_tau2,
            "level": s.level,
            "settings": s.to_dict(),
            **pooled_block(p, self),
            "studies": [],
            "notes": list(self.notes),
            "version": self.version,
            "method_details": p.get("method_details"),
        }
        sa = self.study_arrays()
        for i in range(self.k_all):
            row = {"study": str(sa["study"][i]), "yi": _num(sa["yi"][i]), "vi": _num(sa["vi"][i]),
                   "se": _num(sa["se"][i]), "ci_low": _num(sa["ci_low"][i]), "ci_high": _num(sa["ci_high"][i]),
                   "weight_common": _num(sa["weight_common"][i]) if self.included[i] else 0.0,
                   "weight_random": _num(sa["weight_random"][i]) if self.included[i] else 0.0,
                   "excluded": bool(self.excluded[i]), "incr": _num(self.incr[i])}
            if "bt_estimate" in sa:
                row["backtransformed"] = {"estimate": _num(sa["bt_estimate"][i]),
                                          "ci_low": _num(sa["bt_ci_low"][i]), "ci_high": _num(sa["bt_ci_high"][i])}
            doc["studies"].append(row)
        return doc

    # ----- printing -----------------------------------------------------------------
    def report(self):
        """The printout as a report model (text, HTML and Markdown renderings)."""
        from ..base.presets import print_style
        from ..base.report import Paragraph, Report, Table
        m, s, p = self.measure, self.settings, self.pooled
        st = print_style(s.preset)
        nat = m.transformed
        label = m.result_label
        pct = int(round(s.level * 100))
        sa = self.study_arrays()
        rows, classes = [], []
        for i in range(self.k_all):
            est = sa["bt_estimate"][i] if nat else sa["yi"][i]
            lo = sa["bt_ci_low"][i] if nat else sa["ci_low"][i]
            hi = sa["bt_ci_high"][i] if nat else sa["ci_high"][i]
            inc = self.included[i]
            rows.append([str(self.studlab[i]), st.num(est), st.ci(lo, hi),
                         _f(sa["weight_common"][i], 1) if inc else "--",
                         _f(sa["weight_random"][i], 1) if inc else "--"])
            classes.append("" if inc else "excluded")
        rep = Report()
        study_table = Table(["Study", label, f"{pct}%-CI", "%W(common)", "%W(random)"], rows,
                            row_classes=classes,
                            notes=["Excluded studies (--) are shown but not pooled."] if self.excluded.any() else [])
        rep.add(study_table)
        counts = [f"Number of studies: k = {self.k}"]
        inc = self.included
        if self.design == "proportion":
            counts.append(f"Number of observations: o = {int(self.data['n'][inc].sum())}")
            counts.append(f"Number of events: e = {int(self.data['events'][inc].sum())}")
        if self.design in ("cor", "pcor"):
            counts.append(f"Number of observations: o = {int(self.data['n'][inc].sum())}")
        if self.design == "rate2":
            counts.append(f"Number of events: e = {int((self.data['events_e'] + self.data['events_c'])[inc].sum())}")
        if self.design == "rate":
            counts.append(f"Number of events: e = {int(self.data['events'][inc].sum())}")
            counts.append(f"Person-time: {self.data['time'][inc].sum():g}")
        rep.add(Paragraph("\n".join(counts)))
        bt = self.backtransform if nat else (lambda x: x)
        pooled_rows = []
        has_test = m.null is not None
        cols = ["", label, f"{pct}%-CI"] + (["z/t", "p-value"] if has_test else [])
        for model, name in (("common", st.common_label), ("random", "Random effects model")):
            if not getattr(s, model):
                continue
            r = [name, st.num(bt(p[f"{model}_estimate"])),
                 st.ci(bt(p[f"{model}_ci_low"]), bt(p[f"{model}_ci_high"]))]
            if has_test:
                r += [_f(p[f"{model}_statistic"], 2), st.p(p[f"{model}_p"])]
            pooled_rows.append(r)
        if s.random and s.prediction != "none":
            r = ["Prediction interval", "", st.ci(bt(p["prediction_low"]), bt(p["prediction_high"]))]
            pooled_rows.append(r + (["", ""] if has_test else []))
        rep.add(Table(cols, pooled_rows))
        if self.k > 1:
            het = heterogeneity_text(p, self.k, s.level, st)
            if p.get("se_tau2") is not None and s.random:
                het += f"\n SE(τ²) = {_f(p['se_tau2'])}"
            sigma2 = (p.get("method_details") or {}).get("sigma2")
            if sigma2 is not None and s.random:   # GLMM UM.RS, as rma.glmm prints sigma^2
                het += f"\n σ² = {_f(sigma2, st.digits_tau2)} (variance of the studies' baseline log odds)"
            rep.add(Paragraph(het))
            het_rows = [[_f(p["q"], 2), str(int(p["q_df"])), st.p(p["q_p"])]]
            md = p.get("method_details") or {}
            if "q_lrt" in md:  # GLMM: Wald-type and likelihood-ratio tests, as meta prints them
                het_rows = [het_rows[0] + ["Wald-type"],
                            [_f(md["q_lrt"], 2), str(int(md["q_lrt_df"])), st.p(md["q_lrt_p"]),
                             "Likelihood-Ratio"]]
                rep.add(Table(["Q", "d.f.", "p-value", "Test"], het_rows, title="Test of heterogeneity:",
                              align="rrrl"))
            else:
                rep.add(Table(["Q", "d.f.", "p-value"], het_rows, title="Test of heterogeneity:",
                              align="rrr"))
        md = p.get("method_details") or {}
        tests = [(name, md[key], md[f"{key}_df"], md[f"{key}_p"]) for key, name in
                 (("cmh", "Cochran-Mantel-Haenszel test"), ("tarone", "Tarone's test for heterogeneity"),
                  ("mh", "Mantel-Haenszel test")) if md.get(key) is not None]
        if tests:
            rep.add(Table(["Test", "Statistic", "d.f.", "p-value"],
                          [[name, _f(stat, 2), str(int(df)), st.p(pv)] for name, stat, df, pv in tests],
                          title="Mantel-Haenszel tests:", align="lrrr"))
        rep.add(Paragraph("Details on meta-analytical method:\n" + "\n".join("- " + d for d in self.methods())))
        if self.notes:
            rep.add(Paragraph("Notes:\n" + "\n".join("- " + n for n in self.notes)))
        return rep

    def methods(self) -> list[str]:
        """The method lines of the printout (also used by reports' methods paragraphs)."""
        m, s = self.measure, self.settings
        out = [METHOD_NAMES.get(s.method, "Inverse variance method").format(n_agq=s.n_agq)]
        if s.method == "GLMM" and m.code == "OR":
            model = {"UM.FS": "Unconditional logistic model with fixed study effects",
                     "UM.RS": "Unconditional logistic model with random study effects",
                     "CM.AL": "Conditional logistic-normal model with the approximate (binomial) likelihood",
                     "CM.EL": "Conditional logistic-normal model with the exact (non-central hypergeometric) "
                              "likelihood"}
            from ..pooling.glmm import CM_EL_POINTS
            points = CM_EL_POINTS if s.model_glmm == "CM.EL" else s.n_agq
            integral = f"adaptive Gauss-Hermite quadrature with {points} point(s)"
            if s.model_glmm == "UM.RS":   # two random effects per study: Laplace, as glmer in rma.glmm
                integral = f"Laplace approximation; common-effect model: {integral}"
            out[0] = (f"{model[s.model_glmm]} (GLMM, {s.model_glmm}; maximum likelihood, {integral}); "
                      f"Wald-type and likelihood-ratio tests of heterogeneity")
        if s.random:
            out.append(f"{TAU2_NAMES[s.method_tau2]} estimator for τ²")
            if s.method != "GLMM":
                out.append("Q-profile method for confidence interval of τ² and τ")
            if s.random_ci == "hk":
                adhoc = {"se": " (ad hoc variance correction: Knapp-Hartung se >= classic se)",
                         "ci": " (ad hoc correction: wider of Hartung-Knapp and Wald intervals)"}.get(s.adhoc_hakn, "")
                out.append("Hartung-Knapp adjustment for random effects model" + adhoc)
            if s.prediction == "t":
                out.append("Prediction interval based on t-distribution with k - 2 df (Higgins et al. 2009)")
            elif s.prediction == "v":
                out.append("Prediction interval based on t-distribution with k - 1 df (Veroniki et al. 2019)")
            elif s.prediction == "z":
                out.append("Prediction interval as metafor's predict(): normal quantile "
                           "(t with k - 1 df under Hartung-Knapp)")
        out.append("I² and H from Q with test-based intervals (Higgins & Thompson 2002)" if s.i2_method == "q"
                   else "I² and H from τ² and the typical within-study variance (metafor)")
        if m.scale in SCALE_NAMES:
            out.append(SCALE_NAMES[m.scale] + (" (harmonic mean of sample sizes for back-transformation)"
                                               if m.scale == "freeman-tukey" else ""))
        if m.design == "proportion":
            out.append(f"{STUDY_CI_NAMES[s.study_ci]} confidence interval for individual studies")
        if m.code == "SMD":
            out.append("Hedges' g with exact small-sample correction" if s.exact_smd
                       else "Hedges' g with approximate correction (R meta: exact.smd = FALSE)")
        if (self.incr > 0).any():
            nz = int((self.incr > 0).sum())
            zero = "0 or all events" if m.design == "proportion" else (
                "no events" if m.design == "rate" else "a zero cell")
            which = {"only0": f"with {zero}", "if0all": f"(all studies, as one has {zero})",
                     "all": "(all studies)"}.get(s.method_incr, "")
            how = "R meta's way" if s.incr_style == "meta" else "metafor's way"
            out.append(f"Continuity correction of {_f(float(self.incr.max()), 2).rstrip('0').rstrip('.')} "
                       f"in {nz} stud{'y' if nz == 1 else 'ies'} {which}, applied {how}")
        if s.rr_cochrane and m.code == "RR" and (self.incr > 0).any():
            out.append("Risk ratios of studies with a zero cell with twice the increment added to the "
                       "group sizes (RevMan 5; R meta's RR.Cochrane = TRUE)")
        if m.null is None:
            out.append("No test of the pooled estimate (no natural null value), as R meta")
        if s.preset is not None:
            from ..base.presets import get_preset
            out.append(f"Settings of R meta's {get_preset(s.preset).r_call}")
        return out

    # ----- refit and plot -----------------------------------------------------------
    def update(self, **changes) -> "MetaResult":
        """Refit with some settings (or ``exclude``/``subset``) changed.

        The fitter that made the result travels in its ``source`` (so the result type does
        not import the functions that build it: :mod:`metareview.api.meta` imports this
        module, not the other way round)."""
        if "refit" not in self.source:
            raise TypeError("this result does not carry the data it was fitted from: update() is not available")
        return self.source["refit"](self, changes)

    def forest(self, ax=None, **kwargs):
        """Draw a forest plot (see :func:`metareview.plots.forest.forest`)."""
        from ..plots.forest import forest
        return forest(self, ax=ax, **kwargs)

    plot = forest

    def funnel(self, ax=None, **kwargs):
        """Draw a funnel plot (see :func:`metareview.plots.funnel.funnel`)."""
        from ..plots.funnel import funnel
        return funnel(self, ax=ax, **kwargs)

    # ----- analyses beyond the pooled estimate (R meta / metafor names) -------------------
    def subgroup(self, by, *, tau_common: bool = False):
        """Subgroup analysis (see :func:`metareview.analyses.subgroups.subgroup`)."""
        from ..analyses.subgroups import subgroup
        return subgroup(self, by, tau_common=tau_common)

    def leave1out(self):
        """Leave-one-out analysis (see :func:`metareview.analyses.sensitivity.leave1out`)."""
        from ..analyses.sensitivity import leave1out
        return leave1out(self)

    def cumul(self, order=None, *, decreasing: bool = False):
        """Cumulative meta-analysis (see :func:`metareview.analyses.sensitivity.cumul`)."""
        from ..analyses.sensitivity import cumul
        return cumul(self, order, decreasing=decreasing)

    def influence(self, *, model: str | None = None):
        """Influence diagnostics (see :func:`metareview.analyses.influence.influence`)."""
        from ..analyses.influence import influence
        return influence(self, model=model)

    def metareg(self, mods, **kwargs):
        """Meta-regression (see :func:`metareview.analyses.metareg.metareg`)."""
        from ..analyses.metareg import metareg
        return metareg(self, mods, **kwargs)

    def metabias(self, **kwargs):
        """Tests for small-study effects and trim-and-fill (see :func:`metareview.analyses.bias.metabias`)."""
        from ..analyses.bias import metabias
        return metabias(self, **kwargs)

    def fitstats(self, **kwargs):
        """Log likelihood, deviance, AIC, BIC, AICc (see :func:`metareview.pooling.likelihood.fitstats`)."""
        from ..pooling.likelihood import fitstats
        return fitstats(self, **kwargs)

    def tau2_ci(self, type: str = "PL", *, level: float | None = None):
        """A confidence interval for tau²: PL, Wald or QP (see :func:`metareview.pooling.likelihood.tau2_interval`)."""
        from ..pooling.likelihood import tau2_interval
        return tau2_interval(self, type, level=level)

    def blup(self):
        """Best linear unbiased predictions of the study effects (see :func:`metareview.analyses.blup.blup`)."""
        from ..analyses.blup import blup
        return blup(self)

    def ranef(self):
        """Predicted random effects of the studies (see :func:`metareview.analyses.blup.ranef`)."""
        from ..analyses.blup import ranef
        return ranef(self)

    def fsn(self, type: str = "Rosenthal", **kwargs):
        """Fail-safe N (see :func:`metareview.analyses.failsafe.fsn`)."""
        from ..analyses.failsafe import fsn
        return fsn(self, type=type, **kwargs)

    def trimfill(self, **kwargs):
        """Trim-and-fill (see :func:`metareview.analyses.bias.trimfill`)."""
        from ..analyses.bias import trimfill
        return trimfill(self, **kwargs)


#: the fields of a result, every one of which :meth:`MetaResult.of_fields` places at once
_FIELD_NAMES = frozenset(MetaResult.__dataclass_fields__)
