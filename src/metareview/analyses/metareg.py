"""Mixed-effects meta-regression: moderators, tau² with a design matrix, Wald or Knapp-Hartung tests.

The model is y_i = x_i'b + u_i + e_i with u_i ~ N(0, tau²) and e_i ~ N(0, v_i)
(Raudenbush 2009, in *The Handbook of Research Synthesis and Meta-Analysis*, 2nd ed.,
pp. 295-315).  tau² is estimated by any estimator of the table of
:mod:`metareview.pooling.tau2` (metafor's ``rma.uni`` definitions with moderators; all
thirteen take a design matrix), coefficients by weighted least squares
with weights 1/(v_i + tau²).  Tests are Wald-z or Knapp & Hartung's (2003, Stat Med
22:2693) t and F tests with the scale factor s² = sum w_i e_i² / (k - p).  The omnibus
test of moderators (QM), the test of residual heterogeneity (QE), metafor's I² and H²
for the residual heterogeneity and the pseudo R² (proportional reduction of tau²
against the intercept-only model) are reported as metafor does.

Moderators are columns of the result (its covariates, or data columns such as ``n``), given as an R
formula string read by formulaic (``"~ year + design"``, ``"~ factor(alloc) + ablat"``,
``"~ ablat * year"`` and ``"~ ablat:year"`` for interactions, ``"~ I(ablat^2)"``,
``"~ relevel(factor(alloc), ref = \"random\")"`` for another reference level, ``log()``,
``"~ ablat - 1"``, ``"~ 0 + ablat"`` or ``"~ -1 + ablat"`` without intercept, ``"~ 1"`` the
intercept-only model, which is the random-effects model itself, as in metafor), a list of
column names or a mapping of names to arrays.  A column whose values are all numbers is
numeric; any other column, or one wrapped in ``factor()``, is categorical with treatment
contrasts against its first level (sorted as R's ``factor()`` does).  Coefficients are named as metafor names them
(``intrcpt``, ``factor(alloc)random``, ``ablat:year``).  Studies with a missing moderator
are dropped with a warning that names them and the column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from ..base import dist as _dist
from ..base.exceptions import DataError, SettingsError
from ..base.format import Reportable, fmt as _f, fmt_p as _p, fmt_peq as _peq, num as _num
from ..pooling.rma import METAREG_TAU2, METAREG_TESTS, RmaFit, rma_fit, tau2_mods
from .moderators import Design, check_rank, design_matrix, drop_missing, formula_variables, resolve_mods, tau2_weights

__all__ = ["metareg", "MetaRegression", "rma_fit", "tau2_mods", "RmaFit", "design_matrix", "Design",
           "formula_variables", "METAREG_TAU2", "METAREG_TESTS"]

# ---------------------------------------------------------------------------------------
# the user-facing result
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MetaRegression(Reportable):
    """A mixed-effects meta-regression of a pooled result on moderators."""

    result: Any
    formula: str
    fit: RmaFit
    terms: tuple
    intercept: bool
    studlab: np.ndarray          # studies used
    yi: np.ndarray
    vi: np.ndarray
    X: np.ndarray
    columns: dict                # moderator values of the studies used
    dropped: tuple               # labels dropped for missing moderators
    r2: float | None
    tau2_null: float | None      # tau² of the intercept-only model (for R²)
    notes: tuple = field(default=())
    design: Any = field(default=None, repr=False)   # the formulaic model, for predict()

    # ---- tables ---------------------------------------------------------------------
    @property
    def names(self) -> tuple:
        return self.fit.names

    def coefficients(self):
        """The coefficient table as a pandas DataFrame (estimate, se, ci_low, ci_high, statistic, p)."""
        import pandas as pd
        f = self.fit
        return pd.DataFrame({"estimate": f.beta, "se": f.se, "ci_low": f.ci_low, "ci_high": f.ci_high,
                             "statistic": f.statistic, "p": f.p}, index=list(f.names))

    summary = coefficients

    def _x0(self, newmods) -> np.ndarray:
        if hasattr(newmods, "columns"):
            newmods = {c: list(newmods[c]) for c in newmods.columns}
        if not isinstance(newmods, Mapping):
            arr = np.atleast_2d(np.asarray(newmods, float))
            want = len(self.names) - (1 if self.intercept else 0)
            if arr.shape[1] != want:
                names = ", ".join(self.names[1 if self.intercept else 0:])
                raise SettingsError(f"newmods needs {want} values per row ({names})")
            return np.hstack([np.ones((arr.shape[0], 1)), arr]) if self.intercept else arr
        n = None
        cols = {}
        for t in self.terms:
            if t.column not in newmods:
                raise SettingsError(f"newmods lacks moderator {t.column!r}; give values for: "
                                    f"{', '.join(x.column for x in self.terms)}")
            vals = newmods[t.column]
            vals = [vals] if np.ndim(vals) == 0 else list(vals)
            cols[t.column] = vals
            n = len(vals) if n is None else n
            if len(vals) != n:
                raise SettingsError("every moderator in newmods needs the same number of values")
        if not self.terms:  # intercept only
            return np.ones((1, 1))
        return self.design.matrix(cols)

    def predict(self, newmods=None):
        """Predicted effects (analysis scale) with CI and prediction interval, as metafor's ``predict``.

        ``newmods``: a mapping of moderator columns to values (factor levels as labels), a
        DataFrame, or rows of numbers in the order of the coefficients; default the studies used.
        """
        import pandas as pd
        X0 = self.X if newmods is None else self._x0(newmods)
        f = self.fit
        pred = X0 @ f.beta
        se = np.sqrt(np.einsum("ij,jk,ik->i", X0, f.vb, X0))
        alpha = 1 - f.level
        crit = _dist.t_ppf(1 - alpha / 2, f.ddf) if f.ddf is not None else _dist.norm_ppf(1 - alpha / 2)
        spi = np.sqrt(se ** 2 + f.tau2)
        out = pd.DataFrame({"pred": pred, "se": se, "ci_low": pred - crit * se, "ci_high": pred + crit * se,
                            "pi_low": pred - crit * spi, "pi_high": pred + crit * spi})
        if self.result is not None and self.result.measure.transformed:
            bt = self.result.backtransform
            for c in ("pred", "ci_low", "ci_high", "pi_low", "pi_high"):
                out[f"bt_{c}"] = bt(out[c].to_numpy())
        return out

    # ---- JSON, printing -------------------------------------------------------------------
    def to_dict(self) -> dict:
        """The JSON ``metareg`` block."""
        f = self.fit
        coefs = [{"name": n, "estimate": _num(f.beta[j]), "se": _num(f.se[j]), "ci_low": _num(f.ci_low[j]),
                  "ci_high": _num(f.ci_high[j]), "statistic": _num(f.statistic[j]), "p": _num(f.p[j])}
                 for j, n in enumerate(f.names)]
        return {
            "formula": self.formula, "k": f.k, "method_tau2": f.method, "test": f.test, "level": f.level,
            "coefficients": coefs,
            "qm": {"statistic": _num(f.qm), "df": f.qm_df[0], "df2": f.qm_df[1], "p": _num(f.qm_p),
                   "distribution": "F" if f.ddf is not None else "chi2"},
            "qe": {"q": _num(f.qe), "df": int(f.qe_df), "p": _num(f.qe_p)},
            "tau2": _num(f.tau2), "tau": _num(np.sqrt(f.tau2)), "i2": _num(f.i2), "h2": _num(f.h2),
            "r2": _num(self.r2), "tau2_intercept_only": _num(self.tau2_null),
            "tau2_converged": f.converged,
            "studies_used": [str(s) for s in self.studlab], "studies_dropped": list(self.dropped),
            "notes": list(self.notes),
        }

    @property
    def intercept_only(self) -> bool:
        """``~ 1``: the random-effects model itself, as metafor's ``rma(yi, vi, mods = ~ 1)``."""
        return self.intercept and self.X.shape[1] == 1

    def report(self):
        from ..base.report import Heading, Paragraph, Report, Table
        f = self.fit
        rep = Report()
        rep.add(Heading(f"Meta-regression {self.formula}", 2))
        # metafor prints an intercept-only model as the random-effects model: total, not
        # residual, heterogeneity, and the Q test of heterogeneity
        what = "" if self.intercept_only else " (residual)"
        tests = 'Knapp-Hartung t and F tests' if f.test == 'knha' else 'Wald z tests'
        if f.method == "FE":   # no residual tau²: metafor's "Fixed-Effects (with Moderators) Model"
            model = f"Fixed-effects model{'' if self.intercept_only else ' with moderators'} (k = {f.k}; {tests})\n"
        else:
            model = (f"{'Random' if self.intercept_only else 'Mixed'}-effects model (k = {f.k}; "
                     f"τ² estimator: {f.method}; {tests})\n"
                     f"τ²{what} = {_f(f.tau2)}; τ = {_f(np.sqrt(f.tau2))}; ")
        rep.add(Paragraph(model + f"I²{what} = {_f(f.i2, 2)}%; H² = {_f(f.h2, 2)}"
                          + (f"; R^2 (amount of heterogeneity accounted for) = {_f(self.r2, 2)}%"
                             if self.r2 is not None else "")))
        lines = [f"Test for heterogeneity: Q = {_f(f.qe, 2)}, df = {f.qe_df}, p {_peq(f.qe_p)}"
                 if self.intercept_only else
                 f"Test for residual heterogeneity: QE = {_f(f.qe, 2)}, df = {f.qe_df}, p {_peq(f.qe_p)}"]
        # as metafor, the omnibus test only where it tests more than the one coefficient's own test
        if len(f.names) > 1:
            lines.append(f"Test of moderators: F({f.qm_df[0]}, {f.qm_df[1]}) = {_f(f.qm, 4)}, p {_peq(f.qm_p)}"
                         if f.ddf is not None else
                         f"Test of moderators: QM = {_f(f.qm, 4)}, df = {f.qm_df[0]}, p {_peq(f.qm_p)}")
        rep.add(Paragraph("\n".join(lines)))
        pct = int(round(f.level * 100))
        rows = [[n, _f(f.beta[j]), _f(f.se[j]), _f(f.statistic[j], 3), _p(f.p[j]),
                 f"[{_f(f.ci_low[j])}; {_f(f.ci_high[j])}]"] for j, n in enumerate(f.names)]
        rep.add(Table(["", "estimate", "se", "t" if f.ddf is not None else "z", "p-value", f"{pct}%-CI"], rows))
        if self.dropped or self.notes:
            rep.add(Paragraph("Notes:\n" + "\n".join("- " + n for n in self.notes)))
        return rep

    def influence(self):
        """Case-deletion diagnostics of the meta-regression (see :func:`metareview.analyses.influence.influence`)."""
        from .influence import influence
        return influence(self)

    def bubble(self, ax=None, **kwargs):
        """Bubble plot of the effects against one moderator (see :func:`metareview.plots.bubble.bubble`)."""
        from ..plots.bubble import bubble
        return bubble(self, ax=ax, **kwargs)

    plot = bubble


def _r2_weighted_lm(y: np.ndarray, w: np.ndarray, X: np.ndarray) -> float:
    """R² (%) of a fixed-effects model with moderators, as rma.uni reports it: the adjusted R² of
    the weighted least-squares fit ``lm(yi ~ X, weights = 1/vi)``, at least 0 (0 when every
    estimate is the same)."""
    if np.all(y == y[0]):
        return 0.0
    sw = np.sqrt(w)
    beta = np.linalg.lstsq(X * sw[:, None], y * sw, rcond=None)[0]
    fitted = X @ beta
    rss = float(np.sum(w * (y - fitted) ** 2))
    mss = float(np.sum(w * (fitted - np.sum(w * fitted) / np.sum(w)) ** 2))
    n, p = X.shape
    adj = 1.0 - (1.0 - mss / (mss + rss)) * (n - 1) / (n - p)
    return max(0.0, 100.0 * adj)


def metareg(result, mods, *, method_tau2: str = "REML", test: str | None = None, level: float | None = None,
            control: Mapping[str, float] | None = None) -> MetaRegression:
    """Mixed-effects meta-regression of a pooled result on moderators (Raudenbush 2009).

    ``mods``: a formula string such as ``"~ ablat + factor(alloc)"`` (``- 1`` drops the
    intercept), a list of column names of ``result.covariates``, or a mapping of names to
    values.  ``method_tau2``: any estimator of :data:`~metareview.pooling.tau2.ESTIMATORS`
    (all take moderators, as in metafor's ``rma.uni``; REML by default; GENQ with the
    result's ``genq_weights``), or FE (no residual heterogeneity; R² is then, as metafor's, the
    adjusted R² of the weighted least-squares fit ``lm(yi ~ X, weights = 1/vi)``).
    ``test``: ``"z"`` or ``"knha"`` (Knapp & Hartung 2003); by default ``"knha"`` when the
    result uses Hartung-Knapp (``random_ci="hk"``), else ``"z"``.

    >>> import metareview as mr
    >>> r = mr.metagen([-0.9, -1.6, -1.4, -1.5, -0.2, -0.5], [0.6, 0.4, 0.6, 0.1, 0.1, 0.3],
    ...                covariates={"lat": [44, 55, 42, 52, 13, 44]})
    >>> round(float(metareg(r, "~ lat").fit.beta[1]), 4)
    -0.0308
    """
    if getattr(result.settings, "method", "Inverse") == "GLMM":
        raise SettingsError("meta-regression here is the inverse-variance mixed-effects model (rma.uni); "
                            "refit the result with method='Inverse' (a GLMM meta-regression is rma.glmm's)")
    if test is None:
        test = "knha" if getattr(result.settings, "random_ci", "wald") == "hk" else "z"
    test = str(test).lower()
    if test in ("hk", "hakn"):
        test = "knha"
    level = result.settings.level if level is None else float(level)
    ctl = {"tol": 1e-12, "maxiter": 10000, **(control or {})}
    columns, text = resolve_mods(result, mods)
    labels_all = np.asarray(result.studlab, dtype=object)
    use, notes, dropped = drop_missing(columns, labels_all, result.included, context=" from the meta-regression")
    labels = labels_all[use]
    y, v = np.asarray(result.yi, float)[use], np.asarray(result.vi, float)[use]
    cols_used = {n: c[use] for n, c in columns.items()}
    if labels.size < 2:
        raise DataError(f"only {labels.size} stud{'y' if labels.size == 1 else 'ies'} with all moderators "
                        f"({', '.join(columns)}): a meta-regression needs more", rule="enough studies")
    design = design_matrix(cols_used, text, labels)
    X, names, terms, intercept = design.X, design.names, design.terms, design.intercept
    check_rank(X, names, labels.size)
    genq = tau2_weights(result, method_tau2, use)
    fit = rma_fit(y, v, X, method=method_tau2, test=test, level=level, names=names, intercept=intercept,
                  tol=ctl["tol"], maxiter=int(ctl["maxiter"]), tau2_weights=genq)
    r2 = tau2_null = None
    if intercept and X.shape[1] > 1 and fit.method == "FE":
        r2 = _r2_weighted_lm(y, 1.0 / v, X)
    elif intercept and X.shape[1] > 1:
        tau2_null, _, _ = tau2_mods(y, v, np.ones((labels.size, 1)), fit.method, tol=ctl["tol"],
                                    maxiter=int(ctl["maxiter"]), weights=genq)
        r2 = 0.0 if tau2_null == 0 else max(0.0, 100 * (tau2_null - fit.tau2) / tau2_null)
    if labels.size < 10:
        notes.append(f"only {labels.size} studies for {X.shape[1]} coefficient{'s' if X.shape[1] > 1 else ''}: "
                     "estimates are imprecise")
    return MetaRegression(result=result, formula=text, fit=fit, terms=tuple(terms), intercept=intercept,
                          studlab=labels, yi=y, vi=v, X=X, columns=cols_used, dropped=tuple(dropped),
                          r2=r2, tau2_null=tau2_null, notes=tuple(notes), design=design)
