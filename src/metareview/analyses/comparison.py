"""Model comparison as metafor's ``anova()``: likelihood-ratio tests of nested fits and Wald
tests of a subset of coefficients.

* Likelihood-ratio test of a full model against a reduced one fitted to the same studies
  by the same likelihood (ML, or REML when both have the same fixed effects): LRT =
  2 (ll_full - ll_reduced) on chi² with the difference in the number of parameters as df
  (Hedges & Olkin 1985; Viechtbauer 2010, J Stat Softw 36(3)).  Both fits are reported
  with their fit statistics (:mod:`metareview.pooling.likelihood` for the formulas), Q_E, tau² and
  the proportional reduction of tau² (pseudo R², in percent, as metafor).
* Wald test of the coefficients ``btt`` of one meta-regression: QM = b' V^-1 b on chi² with
  m df, or QM/m on F(m, k - p) under Knapp-Hartung, as ``anova(fit, btt = ...)``.

A model is a meta-regression (:func:`metareview.analyses.metareg.metareg`) or a pooled result, which
is the intercept-only model.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from scipy import special

from ..base import dist as _dist
from ..base.exceptions import MetaReviewWarning, SettingsError
from ..base.format import Reportable, fmt as _f, fmt_p as _p, num as _num

__all__ = ["anova", "LikelihoodRatioTest", "WaldTest"]


@dataclass(frozen=True)
class _Model:
    """What a comparison needs of a fit: data, design, tau² and how it was estimated."""

    label: str
    studies: tuple
    y: np.ndarray
    v: np.ndarray
    X: np.ndarray
    tau2: float
    method: str
    qe: float


def _as_model(obj, label: str) -> _Model:
    from .metareg import MetaRegression
    if isinstance(obj, MetaRegression):
        f = obj.fit
        return _Model(label, tuple(map(str, obj.studlab)), np.asarray(obj.yi, float), np.asarray(obj.vi, float),
                      np.asarray(obj.X, float), float(f.tau2), f.method, float(f.qe))
    if hasattr(obj, "pooled") and hasattr(obj, "included"):
        if obj.settings.method != "Inverse":
            raise SettingsError("model comparison uses inverse-variance fits, not method " + obj.settings.method)
        inc = obj.included
        y, v = np.asarray(obj.yi, float)[inc], np.asarray(obj.vi, float)[inc]
        return _Model(label, tuple(map(str, obj.studlab[inc])), y, v, np.ones((y.size, 1)),
                      float(obj.pooled["tau2"]), obj.settings.method_tau2, float(obj.pooled["q"]))
    raise SettingsError(f"anova compares meta-regressions and pooled results, not {type(obj).__name__}")


def _fit_statistics(m: _Model) -> dict:
    """metafor's fit statistics of a model with design X (ML or REML by the model's method)."""
    k, p = m.X.shape
    reml = m.method == "REML"
    w = 1 / (m.v + m.tau2)
    xtwx = m.X.T @ (m.X * w[:, None])
    beta = np.linalg.solve(xtwx, m.X.T @ (w * m.y))
    rss = float(np.sum(w * (m.y - m.X @ beta) ** 2))
    logdet_v = float(np.sum(np.log(m.v + m.tau2)))
    if reml:
        ll = (-0.5 * (k - p) * np.log(2 * np.pi) + 0.5 * np.linalg.slogdet(m.X.T @ m.X)[1] - 0.5 * logdet_v
              - 0.5 * np.linalg.slogdet(xtwx)[1] - 0.5 * rss)
        dev, n_eff = -2 * ll, k - p
    else:
        ll = -0.5 * k * np.log(2 * np.pi) - 0.5 * logdet_v - 0.5 * rss
        dev, n_eff = -2 * (ll - float(np.sum(-0.5 * np.log(2 * np.pi * m.v)))), k
    parms = p + 1
    big = max(n_eff, parms + 2)
    return {"parameters": parms, "loglik": ll, "deviance": dev, "aic": -2 * ll + 2 * parms,
            "bic": -2 * ll + parms * np.log(n_eff), "aicc": -2 * ll + 2 * parms * big / (big - parms - 1),
            "qe": m.qe, "tau2": m.tau2}


@dataclass(frozen=True)
class LikelihoodRatioTest(Reportable):
    """A likelihood-ratio test of a reduced model against a full one."""

    method: str
    full: dict
    reduced: dict
    lrt: float
    df: int
    p: float
    r2: float | None
    notes: tuple = field(default=())

    def to_dict(self) -> dict:
        clean = lambda d: {k: (_num(v) if isinstance(v, float) else v) for k, v in d.items()}  # noqa: E731
        return {"test": "LRT", "likelihood": self.method, "full": clean(self.full), "reduced": clean(self.reduced),
                "lrt": _num(self.lrt), "df": self.df, "p": _num(self.p), "r2": _num(self.r2),
                "notes": list(self.notes)}

    def report(self):
        from ..base.report import Paragraph, Report, Table
        rows = []
        for name, d in (("Full", self.full), ("Reduced", self.reduced)):
            rows.append([name, str(d["parameters"]), _f(d["aic"]), _f(d["bic"]), _f(d["aicc"]), _f(d["loglik"]),
                         _f(self.lrt) if name == "Reduced" else "", _p(self.p) if name == "Reduced" else "",
                         _f(d["qe"]), _f(d["tau2"]),
                         (_f(self.r2, 2) + "%" if self.r2 is not None else "") if name == "Reduced" else ""])
        rep = Report().add(Table([f"Likelihood-ratio test ({self.method})", "df", "AIC", "BIC", "AICc", "logLik",
                                  "LRT", "p-value", "QE", "tau^2", "R^2"], rows))
        if self.notes:
            rep.add(Paragraph("Notes:\n" + "\n".join("- " + n for n in self.notes)))
        return rep

    def summary(self):
        """The two models side by side, as R's ``anova``: one row each (full, reduced) with their fit
        statistics; the reduced row carries the test (LRT, df, p) and the pseudo R²."""
        import pandas as pd
        rows = []
        for name, d in (("full", self.full), ("reduced", self.reduced)):
            rows.append({"model": name, **{k: d[k] for k in ("parameters", "aic", "bic", "aicc", "loglik", "deviance",
                                                                 "qe", "tau2")},
                         "lrt": self.lrt if name == "reduced" else None, "df": self.df if name == "reduced" else None,
                         "p": self.p if name == "reduced" else None, "r2": self.r2 if name == "reduced" else None})
        return pd.DataFrame(rows).set_index("model")


@dataclass(frozen=True)
class WaldTest(Reportable):
    """A Wald-type test that the coefficients ``btt`` are all zero."""

    coefficients: tuple
    statistic: float
    df: int
    df2: int | None
    p: float
    test: str

    def to_dict(self) -> dict:
        return {"test": "Wald", "coefficients": list(self.coefficients), "statistic": _num(self.statistic),
                "df": self.df, "df2": self.df2, "p": _num(self.p), "distribution": "F" if self.df2 else "chi2"}

    def report(self):
        from ..base.report import Paragraph, Report
        what = ", ".join(self.coefficients)
        if self.df2:
            line = f"F({self.df}, {self.df2}) = {_f(self.statistic)}, p-value {_p(self.p)}"
        else:
            line = f"QM(df = {self.df}) = {_f(self.statistic)}, p-value {_p(self.p)}"
        return Report().add(Paragraph(f"Test of moderators (coefficients {what}):\n {line}"))


def _btt_indices(btt, names: Sequence[str]) -> list[int]:
    """Coefficients by 0-based position or by name (an exact name, or every name that
    contains the text, as metafor's character ``btt``)."""
    items = [btt] if isinstance(btt, (str, int, np.integer)) else list(btt)
    out: list[int] = []
    for item in items:
        if isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            if not 0 <= int(item) < len(names):
                raise SettingsError(f"btt: coefficient index {item} is out of range (0 to {len(names) - 1}); "
                                    f"coefficients are: {', '.join(names)}")
            out.append(int(item))
            continue
        hits = [j for j, n in enumerate(names) if n == str(item)] or \
               [j for j, n in enumerate(names) if str(item) in n]
        if not hits:
            raise SettingsError(f"btt: no coefficient matches {item!r}; coefficients are: {', '.join(names)}")
        out.extend(hits)
    return sorted(set(out))


def _wald(reg, btt) -> WaldTest:
    f = reg.fit
    idx = _btt_indices(btt, f.names)
    b = f.beta[idx]
    qm = float(b @ np.linalg.solve(f.vb[np.ix_(idx, idx)], b))
    m = len(idx)
    if f.test in ("knha", "t"):
        df2 = f.k - len(f.names)
        stat = qm / m
        return WaldTest(tuple(f.names[j] for j in idx), stat, m, df2, float(special.fdtrc(m, df2, stat)), f.test)
    return WaldTest(tuple(f.names[j] for j in idx), qm, m, None, float(_dist.chi2_sf(qm, m)), f.test)


def anova(full, reduced=None, *, btt=None):
    """Compare two nested fits by a likelihood-ratio test (``anova(full, reduced)``), or test
    coefficients ``btt`` of one meta-regression (``anova(fit, btt=...)``; positions from 0 or
    names).  ``full`` and ``reduced`` are meta-regressions or pooled results
    (intercept-only); the model with more parameters is taken as the full one, as metafor.
    """
    from .metareg import MetaRegression
    if reduced is None:
        if btt is None:
            raise SettingsError("anova needs a second model (likelihood-ratio test) or btt (Wald test)")
        if not isinstance(full, MetaRegression):
            raise SettingsError("a Wald test of coefficients needs a meta-regression")
        return _wald(full, btt)
    if btt is not None:
        raise SettingsError("btt tests coefficients of one model; give either a second model or btt")
    a, b = _as_model(full, "full"), _as_model(reduced, "reduced")
    if a.X.shape[1] < b.X.shape[1]:
        a, b = b, a
    if a.studies != b.studies or not (np.array_equal(a.y, b.y) and np.array_equal(a.v, b.v)):
        raise SettingsError("the two models are fitted to different studies or data; a likelihood-ratio test "
                            "needs the same studies in both")
    if a.method != b.method or a.method not in ("ML", "REML"):
        raise SettingsError(f"a likelihood-ratio test needs two ML (or two REML) fits, not {a.method} and "
                            f"{b.method}; refit with method_tau2='ML'")
    if a.X.shape[1] == b.X.shape[1]:
        raise SettingsError("the two models have the same number of parameters: they are not nested")
    notes = []
    if a.method == "REML":
        msg = ("REML likelihoods of models with different fixed effects are not comparable; "
               "a likelihood-ratio test of moderators should compare ML fits")
        warnings.warn(msg, MetaReviewWarning, stacklevel=2)
        notes.append(msg)
    fa, fb = _fit_statistics(a), _fit_statistics(b)
    lrt = max(0.0, 2 * (fa["loglik"] - fb["loglik"]))
    df = fa["parameters"] - fb["parameters"]
    r2 = None
    if fb["tau2"] > 0:
        r2 = max(0.0, 100 * (fb["tau2"] - fa["tau2"]) / fb["tau2"])
    elif fb["tau2"] == 0:
        r2 = 0.0
    return LikelihoodRatioTest(a.method, fa, fb, lrt, df, float(_dist.chi2_sf(lrt, df)), r2, tuple(notes))
