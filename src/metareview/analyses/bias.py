"""Small-study effects: regression and rank tests for funnel-plot asymmetry, and trim-and-fill.

* Egger's regression test (Egger et al. 1997, BMJ 315:629): the weighted least-squares
  regression of the effects on their standard errors with weights 1/v_i and a
  multiplicative dispersion, t test of the slope on k - 2 df (R meta's
  ``metabias(method.bias = "Egger")`` = metafor's ``regtest(model = "lm")``); and
  metafor's default mixed-effects variant ``regtest()`` (the standard error as a moderator
  in the random-effects model, Wald z or Knapp-Hartung test).
* Thompson & Sharp (1999, Stat Med 18:2693): the additive-heterogeneity version, a
  meta-regression on the standard error with tau² by the result's estimator and a t test
  on k - 2 df (R meta's ``method.bias = "Thompson"``).
* Begg & Mazumdar (1994, Biometrics 50:1088): Kendall's tau between the standardised
  deviations from the common effect, (y_i - mu)/sqrt(v_i - 1/sum w), and the variances;
  p from the normal approximation with the tie-corrected variance of Kendall's score (R
  meta) and, without ties, the exact permutation distribution (metafor's ``ranktest``).
* Peters et al. (2006, JAMA 295:676) for binary outcomes: weighted regression of the log
  effect on 1/N with weights 1/(1/(a + c) + 1/(b + d)), t test of the slope.
* Trim-and-fill (Duval & Tweedie 2000, Biometrics 56:455; JASA 95:89) with the L0 and R0
  estimators of the number of missing studies.  The side is chosen as metafor does (the
  sign of the slope of the regression on the standard error under the iteration model);
  the iterations use the common-effect model (R meta's default, ``ma.common = TRUE``) or
  the random-effects model with the result's tau² estimator (metafor's default for a
  random-effects fit); the filled data are pooled with the result's settings.

R meta does not run these tests with fewer than 10 studies; here they run, with a
:class:`~metareview.base.exceptions.SmallSampleWarning` and a note in the result.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..base import dist as _dist
from ..base.exceptions import DataError, SettingsError, SmallSampleWarning
from ..base.format import Reportable, fmt as _f, fmt_peq as _peq, num as _num
from ..pooling.rma import rma_fit, tau2_mods
from ..pooling.values import Pooled

__all__ = ["egger_test", "regtest", "thompson_sharp", "begg_test", "peters_test", "trimfill", "metabias",
           "BiasTest", "TrimFill", "SmallStudyEffects", "K_MIN"]

#: Fewest studies for which R meta runs a test for small-study effects (``k.min``).
K_MIN = 10


def _data(result):
    inc = np.asarray(result.included, bool)
    y = np.asarray(result.yi, float)[inc]
    v = np.asarray(result.vi, float)[inc]
    return y, v, inc


def _small(k: int, what: str, notes: list, stacklevel: int = 3):
    if k < K_MIN:
        msg = (f"{what} with k = {k} studies: fewer than {K_MIN} (R meta does not run the test below "
               f"{K_MIN}); the test has low power and is shown for completeness")
        warnings.warn(msg, SmallSampleWarning, stacklevel=stacklevel)
        notes.append(msg)


@dataclass(frozen=True)
class BiasTest(Reportable):
    """One test for funnel-plot asymmetry."""

    method: str
    label: str
    k: int
    statistic: float
    df: float | None
    p: float
    bias: float | None = None          # the asymmetry coefficient (Egger's intercept, Peters' slope, ...)
    se_bias: float | None = None
    estimate: float | None = None      # limit estimate (intercept: effect at se = 0)
    ci_low: float | None = None
    ci_high: float | None = None
    tau2: float | None = None
    extra: dict = field(default_factory=dict)
    notes: tuple = ()
    reference: str = ""

    def to_dict(self) -> dict:
        d = {"method": self.method, "label": self.label, "k": self.k, "statistic": _num(self.statistic),
             "df": _num(self.df), "p": _num(self.p), "bias": _num(self.bias), "se_bias": _num(self.se_bias),
             "estimate": _num(self.estimate), "ci_low": _num(self.ci_low), "ci_high": _num(self.ci_high),
             "tau2": _num(self.tau2), "reference": self.reference, "notes": list(self.notes)}
        d.update({k: (_num(v) if isinstance(v, (float, np.floating)) else v) for k, v in self.extra.items()})
        return d

    def line(self) -> str:
        stat = "t" if self.df is not None else "z"
        df = f", df = {int(self.df)}" if self.df is not None else ""
        bias = f", bias = {_f(self.bias)} (SE {_f(self.se_bias)})" if self.bias is not None else ""
        if self.method == "begg":
            return (f"{self.label}: Kendall's tau = {_f(self.extra.get('tau'))}, z = {_f(self.statistic, 2)}, "
                    f"p {_peq(self.p)}" + (f" (exact p {_peq(self.extra['p_exact'])})"
                                           if self.extra.get("p_exact") is not None else ""))
        return f"{self.label}: {stat} = {_f(self.statistic, 2)}{df}, p {_peq(self.p)}{bias}"

    def report(self):
        from ..base.report import Paragraph, Report
        return Report().add(Paragraph(self.line() + "".join("\n- " + n for n in self.notes)))


def _wls_lm(y, X, w):
    """Weighted least squares with estimated dispersion (R's ``lm(weights = w)``)."""
    k, p = X.shape
    WX = X * w[:, None]
    inv = np.linalg.inv(X.T @ WX)
    b = inv @ (WX.T @ y)
    r = y - X @ b
    sigma2 = float(np.sum(w * r * r) / (k - p))
    vb = sigma2 * inv
    return b, np.sqrt(np.diag(vb)), k - p, sigma2


def _lm_test(y, v, x, label, method, reference, level, notes):
    k = y.size
    if k < 3:
        raise DataError(f"{label} needs at least 3 studies, not {k}", rule="k >= 3")
    if np.ptp(x) == 0:
        raise DataError(f"{label} is not possible: every study has the same predictor value",
                        rule="varying precision")
    X = np.column_stack([np.ones(k), x])
    b, se, df, sigma2 = _wls_lm(y, X, 1 / v)
    t = b[1] / se[1]
    p = float(2 * _dist.t_sf(abs(t), df))
    crit = float(_dist.t_ppf(1 - (1 - level) / 2, df))
    return BiasTest(method=method, label=label, k=k, statistic=float(t), df=float(df), p=p, bias=float(b[1]),
                    se_bias=float(se[1]), estimate=float(b[0]), ci_low=float(b[0] - crit * se[0]),
                    ci_high=float(b[0] + crit * se[0]), extra={"sigma": float(np.sqrt(sigma2))},
                    notes=tuple(notes), reference=reference)


def egger_test(result) -> BiasTest:
    """Egger's regression test (Egger et al. 1997): R meta's ``linreg``, metafor's ``regtest(model = "lm")``.

    ``bias`` is the slope on the standard error (Egger's intercept of the radial
    regression); ``estimate`` the intercept (the effect of a study with se = 0) with its
    t-based CI.
    """
    y, v, _ = _data(result)
    notes: list = []
    _small(y.size, "Egger's test", notes)
    return _lm_test(y, v, np.sqrt(v), "Egger's regression test (weighted linear regression on the standard "
                    "error)", "egger", "Egger et al. (1997), BMJ 315:629", result.settings.level, notes)


def regtest(result, *, method_tau2: str | None = None, test: str | None = None) -> BiasTest:
    """metafor's default ``regtest()``: the standard error as a moderator of the random-effects model.

    tau² by the result's estimator, Wald z test (or Knapp-Hartung when the result uses it).
    """
    y, v, _ = _data(result)
    notes: list = []
    _small(y.size, "the mixed-effects regression test", notes)
    if y.size < 3:
        raise DataError(f"the regression test needs at least 3 studies, not {y.size}", rule="k >= 3")
    s = result.settings
    method = (method_tau2 or s.method_tau2) if s.random else "FE"
    test = test or ("knha" if s.random_ci == "hk" else "z")
    X = np.column_stack([np.ones(y.size), np.sqrt(v)])
    fit = rma_fit(y, v, X, method=method, test=test, level=s.level, names=("intrcpt", "sei"))
    return BiasTest(method="egger_rma", label=f"Regression test, mixed-effects model ({method}, "
                    f"{'t' if fit.ddf is not None else 'z'} test; metafor's regtest)", k=y.size,
                    statistic=float(fit.statistic[1]), df=None if fit.ddf is None else float(fit.ddf),
                    p=float(fit.p[1]), bias=float(fit.beta[1]), se_bias=float(fit.se[1]),
                    estimate=float(fit.beta[0]), ci_low=float(fit.ci_low[0]), ci_high=float(fit.ci_high[0]),
                    tau2=fit.tau2, notes=tuple(notes), reference="Egger et al. (1997); Sterne & Egger (2005)")


def thompson_sharp(result, *, method_tau2: str | None = None) -> BiasTest:
    """Thompson & Sharp (1999): meta-regression on the standard error with additive heterogeneity.

    As R meta's ``metabias(method.bias = "Thompson")``: tau² by the result's estimator,
    t test of the slope on k - 2 df with the model-based standard error.
    """
    y, v, _ = _data(result)
    notes: list = []
    _small(y.size, "the Thompson-Sharp test", notes)
    if y.size < 3:
        raise DataError(f"the Thompson-Sharp test needs at least 3 studies, not {y.size}", rule="k >= 3")
    s = result.settings
    X = np.column_stack([np.ones(y.size), np.sqrt(v)])
    fit = rma_fit(y, v, X, method=method_tau2 or s.method_tau2, test="t", level=s.level,
                  names=("intrcpt", "sei"))
    assert fit.ddf is not None  # test="t" has residual degrees of freedom
    return BiasTest(method="thompson_sharp", label="Thompson-Sharp test (meta-regression on the standard "
                    "error, additive between-study variance)", k=y.size, statistic=float(fit.statistic[1]),
                    df=float(fit.ddf), p=float(fit.p[1]), bias=float(fit.beta[1]), se_bias=float(fit.se[1]),
                    estimate=float(fit.beta[0]), ci_low=float(fit.ci_low[0]), ci_high=float(fit.ci_high[0]),
                    tau2=fit.tau2, notes=tuple(notes), reference="Thompson & Sharp (1999), Stat Med 18:2693")


_COUNTS = ("events_e", "n_e", "events_c", "n_c")


def peters_test(result) -> BiasTest:
    """Peters' test (Peters et al. 2006) for binary outcomes, as R meta's ``method.bias = "Peters"``."""
    if result.measure.design != "bin2":
        raise SettingsError(f"Peters' test is for two-group binary outcomes (OR, RR, RD), not "
                            f"{result.measure.code}")
    missing = [c for c in _COUNTS if c not in result.data]
    if missing:
        raise DataError(f"Peters' test needs each study's 2x2 counts ({', '.join(_COUNTS)}); the result has "
                        f"estimates only (missing: {', '.join(missing)})", column=missing[0], rule="2x2 counts")
    y, v, inc = _data(result)
    d = {c: np.asarray(result.data[c], float)[inc] for c in _COUNTS}
    ev = d["events_e"] + d["events_c"]
    nonev = d["n_e"] - d["events_e"] + d["n_c"] - d["events_c"]
    if (ev == 0).any() or (nonev == 0).any():
        bad = np.asarray(result.studlab)[inc][(ev == 0) | (nonev == 0)]
        raise DataError(f"Peters' test needs events and non-events in every study; none in {', '.join(bad)}",
                        study=str(bad[0]), rule="events and non-events")
    notes: list = []
    _small(y.size, "Peters' test", notes)
    vp = 1 / ev + 1 / nonev
    return _lm_test(y, vp, 1 / (d["n_e"] + d["n_c"]), "Peters' regression test (weighted regression on the "
                    "inverse of the total sample size)", "peters", "Peters et al. (2006), JAMA 295:676",
                    result.settings.level, notes)


# --- Begg and Mazumdar ---------------------------------------------------------------------

def _kendall(x, y):
    """Kendall's score S, tau-b and the tie counts (pairs, O(k²) for the small k of a meta-analysis)."""
    dx = np.sign(x[:, None] - x[None, :])
    dy = np.sign(y[:, None] - y[None, :])
    iu = np.triu_indices(x.size, 1)
    s = float(np.sum(dx[iu] * dy[iu]))
    n0 = x.size * (x.size - 1) / 2
    tx = np.unique(x, return_counts=True)[1]
    ty = np.unique(y, return_counts=True)[1]
    n1 = np.sum(tx * (tx - 1)) / 2
    n2 = np.sum(ty * (ty - 1)) / 2
    tau_b = s / np.sqrt((n0 - n1) * (n0 - n2))
    return s, tau_b, tx, ty


def _kendall_exact_cdf(q: int, n: int) -> float:
    """P(T <= q) for T the number of concordant pairs of n untied pairs (R's ``ckendall``)."""
    m = n * (n - 1) // 2
    dist = np.zeros(m + 1)
    dist[0] = 1.0
    top = 0
    for j in range(2, n + 1):  # permutations of j elements: add 0..j-1 inversions
        new = np.zeros(m + 1)
        c = np.concatenate([[0.0], np.cumsum(dist[: top + 1])])
        hi = top + j - 1
        for t in range(hi + 1):
            lo_i = max(0, t - (j - 1))
            up_i = min(t, top)
            new[t] = (c[up_i + 1] - c[lo_i]) / j
        dist = new
        top = hi
    if q < 0:
        return 0.0
    return float(min(1.0, dist[: min(q, m) + 1].sum()))


def begg_test(result, *, correct: bool = False) -> BiasTest:
    """Begg & Mazumdar's rank correlation test (1994).

    ``p`` is the normal approximation with the tie-corrected variance of Kendall's score
    (R meta's ``metabias(method.bias = "Begg")``, continuity correction with
    ``correct=True``); ``p_exact`` the exact permutation p-value when there are no ties
    (what metafor's ``ranktest()`` reports then; with ties metafor uses the normal
    approximation, equal to ``p``).
    """
    y, v, _ = _data(result)
    k = y.size
    notes: list = []
    _small(k, "Begg's test", notes)
    if k < 3:
        raise DataError(f"Begg's test needs at least 3 studies, not {k}", rule="k >= 3")
    w = 1 / v
    mu = np.sum(w * y) / np.sum(w)
    ys = (y - mu) / np.sqrt(v - 1 / np.sum(w))
    s, tau_b, tx, ty = _kendall(ys, v)
    var_s = ((k * (k - 1) * (2 * k + 5) - np.sum(tx * (tx - 1) * (2 * tx + 5)) - np.sum(ty * (ty - 1) * (2 * ty + 5)))
             / 18 + np.sum(tx * (tx - 1) * (tx - 2)) * np.sum(ty * (ty - 1) * (ty - 2)) / (9 * k * (k - 1) * (k - 2))
             + np.sum(tx * (tx - 1)) * np.sum(ty * (ty - 1)) / (2 * k * (k - 1)))
    s_c = s - np.sign(s) * (1 if correct else 0)
    z = s_c / np.sqrt(var_s)
    p = float(2 * _dist.norm_sf(abs(z)))
    ties = (tx > 1).any() or (ty > 1).any()
    p_exact = None
    if not ties:
        q = int(round((tau_b + 1) * k * (k - 1) / 4))
        if q > k * (k - 1) / 4:
            pe = 1 - _kendall_exact_cdf(q - 1, k)
        else:
            pe = _kendall_exact_cdf(q, k)
        p_exact = float(min(2 * pe, 1.0))
    else:
        notes.append("tied values: no exact p-value (metafor's ranktest then uses the normal approximation)")
    return BiasTest(method="begg", label="Begg and Mazumdar's rank correlation test", k=k, statistic=float(z),
                    df=None, p=p, extra={"tau": float(tau_b), "score": float(s_c), "se_score": float(np.sqrt(var_s)),
                                         "p_exact": p_exact, "continuity_correction": bool(correct)},
                    notes=tuple(notes), reference="Begg & Mazumdar (1994), Biometrics 50:1088")


# --- trim and fill -----------------------------------------------------------------------------

def _rank_first(a):
    """Ranks 1..n with ties in order of appearance (R's ``rank(ties.method = "first")``)."""
    order = np.argsort(a, kind="stable")
    r = np.empty(a.size, dtype=float)
    r[order] = np.arange(1, a.size + 1)
    return r


@dataclass(frozen=True)
class TrimFill(Reportable):
    """Trim-and-fill: the estimated number of missing studies and the analysis with them filled in."""

    result: Any
    k0: int
    se_k0: float
    side: str
    estimator: str
    iterate: str
    iterations: int
    yi: np.ndarray              # observed (included) studies, then the filled ones
    vi: np.ndarray
    studlab: np.ndarray         # filled studies are labelled "Filled: <mirrored study>"
    filled: np.ndarray          # True for filled studies
    pooled: Pooled              # the observed and filled studies pooled with the result's settings
    p_k0: float | None = None
    notes: tuple = ()

    @property
    def k(self) -> int:
        return int(self.yi.size)

    @property
    def adjusted(self) -> dict:
        """The pooled estimates with the filled studies (common and random), in the ``pool`` JSON shape."""
        from .sensitivity import pooled_block
        return pooled_block(self.pooled, self.result)

    def to_dict(self) -> dict:
        return {"estimator": self.estimator, "side": self.side, "iterate": self.iterate,
                "k0": int(self.k0), "se_k0": _num(self.se_k0), "p_k0": _num(self.p_k0),
                "iterations": self.iterations,
                "filled": [{"study": str(self.studlab[i]), "yi": _num(self.yi[i]), "vi": _num(self.vi[i])}
                           for i in np.flatnonzero(self.filled)],
                "adjusted": self.adjusted, "notes": list(self.notes)}

    def report(self):
        from ..base.report import Heading, Paragraph, Report, Table
        r = self.result
        rep = Report()
        rep.add(Heading("Trim-and-fill (Duval & Tweedie 2000)", 2))
        rep.add(Paragraph(f"Estimator {self.estimator}; missing studies on the {self.side} side; iterations "
                          f"with the {'common' if self.iterate == 'common' else 'random'} effects model; "
                          f"estimated number of missing studies: {self.k0} (SE {_f(self.se_k0)})"))
        pct = int(round(r.settings.level * 100))
        rows = []
        bt = r.backtransform if r.measure.transformed else (lambda x: x)
        for name, p in (("Observed", r.pooled), ("Observed and filled", self.pooled)):
            for model in ("common", "random"):
                if not getattr(r.settings, model):
                    continue
                rows.append([name, model, str(int(p["k"])), _f(bt(p[f"{model}_estimate"])),
                             f"[{_f(bt(p[f'{model}_ci_low']))}; {_f(bt(p[f'{model}_ci_high']))}]"])
        rep.add(Table(["Studies", "Model", "k", "Estimate", f"{pct}%-CI"], rows))
        if self.notes:
            rep.add(Paragraph("Notes:\n" + "\n".join("- " + n for n in self.notes)))
        return rep

    def summary(self):
        """The pooled estimates without and with the filled studies: one row per analysis and model, on the
        analysis scale (natural scale in ``bt_*`` columns for transformed measures)."""
        import pandas as pd
        r = self.result
        rows = []
        for name, p in (("observed", r.pooled), ("observed and filled", self.pooled)):
            for model in ("common", "random"):
                if not getattr(r.settings, model):
                    continue
                row = {"studies": name, "model": model, "k": int(p["k"])}
                for key in ("estimate", "ci_low", "ci_high"):
                    row[key] = p[f"{model}_{key}"]
                if r.measure.transformed:
                    row.update({f"bt_{key}": r.backtransform(row[key]) for key in ("estimate", "ci_low", "ci_high")})
                rows.append(row)
        return pd.DataFrame(rows)

    def funnel(self, ax=None, **kwargs):
        """Funnel plot with the filled studies (see :func:`metareview.plots.funnel.funnel`)."""
        from ..plots.funnel import funnel
        return funnel(self.result, ax=ax, filled=(self.yi[self.filled], self.vi[self.filled]), **kwargs)

    plot = funnel

def trimfill(result, *, estimator: str = "L0", side: str | None = None, iterate: str = "common",
             maxiter: int = 100) -> TrimFill:
    """Trim-and-fill (Duval & Tweedie 2000).

    ``estimator``: ``"L0"`` or ``"R0"``.  ``side``: ``"left"``/``"right"`` (where studies
    are missing) or None to choose as metafor: right when the slope of the regression of
    the effects on their standard errors (under the iteration model) is negative, else
    left.  ``iterate``: ``"common"`` (R meta) or ``"random"`` (metafor with a random-effects
    fit: the result's tau² estimator).  Ranks break ties in order (metafor); k0 is rounded
    half to even (R's ``round``).  The observed and filled studies are pooled with the
    result's settings.
    """
    estimator = str(estimator).upper()
    if estimator not in ("L0", "R0"):
        raise SettingsError(f"unknown trim-and-fill estimator {estimator!r}; valid: L0, R0")
    iterate = str(iterate).lower()
    if iterate not in ("common", "random"):
        raise SettingsError(f"unknown iteration model {iterate!r}; valid: common, random")
    y0, v0, inc = _data(result)
    k = y0.size
    notes: list = []
    if k < 3:
        raise DataError(f"trim-and-fill needs at least 3 studies, not {k}", rule="k >= 3")
    _small(k, "Trim-and-fill", notes)
    method = result.settings.method_tau2 if iterate == "random" else "FE"
    if side is None:
        X = np.column_stack([np.ones(k), np.sqrt(v0)])
        fit = rma_fit(y0, v0, X, method=method, test="z")
        side = "right" if fit.beta[1] < 0 else "left"
    else:
        side = str(side).lower()
        if side not in ("left", "right"):
            raise SettingsError(f"unknown side {side!r}; valid: left, right")
    sign = -1.0 if side == "right" else 1.0
    y = sign * y0
    ix = np.argsort(y, kind="stable")
    y, v = y[ix], v0[ix]
    labels = np.asarray(result.studlab)[inc][ix]

    def centre(kk):
        yy, vv = y[:kk], v[:kk]
        if method == "FE":
            t2 = 0.0
        else:
            t2 = tau2_mods(yy, vv, np.ones((kk, 1)), method)[0]
        w = 1 / (vv + t2)
        return float(np.sum(w * yy) / np.sum(w))

    k0, k0_prev, it = 0, -1, 0
    beta, se_k0 = centre(k), 0.0
    while k0 != k0_prev:
        k0_prev = k0
        it += 1
        if it > maxiter:
            notes.append(f"trim-and-fill did not settle in {maxiter} iterations")
            break
        beta = centre(k - k0)
        yc = y - beta
        r = _rank_first(np.abs(yc)) * np.sign(yc)
        if estimator == "R0":
            neg = -r[r < 0]
            est = (k - (neg.max() if neg.size else 0)) - 1
            se_k0 = np.sqrt(2 * max(0, est) + 2)
        else:
            sr = r[r > 0].sum()
            est = (4 * sr - k * (k + 1)) / (2 * k - 1)
            var_sr = (k * (k + 1) * (2 * k + 1) + 10 * est ** 3 + 27 * est ** 2 + 17 * est - 18 * k * est ** 2
                      - 18 * k * est + 6 * k ** 2 * est) / 24
            se_k0 = 4 * np.sqrt(var_sr) / (2 * k - 1) if var_sr >= 0 else float("nan")
        k0 = int(min(max(0, np.round(est)), k - 1))
        se_k0 = max(0.0, se_k0) if np.isfinite(se_k0) else float("nan")  # R: max(0, NaN) is NaN
    p_k0 = None
    if estimator == "R0":
        m = np.arange(-1, k0)
        from scipy.special import comb
        p_k0 = float(1 - np.sum(comb(m + 1, m + 1) * 0.5 ** (m + 2)))
    fill_y = sign * (2 * beta - y[k - k0:]) if k0 > 0 else np.array([])
    fill_v = v[k - k0:] if k0 > 0 else np.array([])
    fill_lab = np.array([f"Filled: {s}" for s in labels[k - k0:]], dtype=object) if k0 > 0 else np.array([], object)
    all_y = np.concatenate([y0, fill_y])
    all_v = np.concatenate([v0, fill_v])
    all_lab = np.concatenate([np.asarray(result.studlab)[inc], fill_lab])
    from .sensitivity import pool_masks
    pooled = pool_masks(result, np.ones((1, all_y.size)), yi=all_y, vi=all_v).row(0)
    filled = np.concatenate([np.zeros(k, bool), np.ones(k0, bool)])
    return TrimFill(result=result, k0=k0, se_k0=float(se_k0), side=side, estimator=estimator, iterate=iterate,
                    iterations=it, yi=all_y, vi=all_v, studlab=all_lab, filled=filled, pooled=pooled,
                    p_k0=p_k0, notes=tuple(notes))


# --- all together --------------------------------------------------------------------------

@dataclass(frozen=True)
class SmallStudyEffects(Reportable):
    """Every test for small-study effects that applies to the result, and trim-and-fill."""

    result: Any
    tests: dict
    trimfill: TrimFill | None
    notes: tuple = ()

    def to_dict(self) -> dict:
        return {"k": self.result.k, "k_min": K_MIN, "tests": {k: t.to_dict() for k, t in self.tests.items()},
                "trimfill": None if self.trimfill is None else self.trimfill.to_dict(), "notes": list(self.notes)}

    def report(self):
        from ..base.report import Heading, Paragraph, Report
        rep = Report()
        rep.add(Heading("Small-study effects", 2))
        rep.add(Paragraph("\n".join(t.line() for t in self.tests.values())))
        if self.notes:
            rep.add(Paragraph("Notes:\n" + "\n".join("- " + n for n in self.notes)))
        if self.trimfill is not None:
            rep.blocks.extend(self.trimfill.report().blocks)
        return rep

    def summary(self):
        """One row per test: method, k, statistic, df, p, the asymmetry coefficient (``bias``, ``se_bias``) and
        the limit estimate with its interval where the test has them."""
        import pandas as pd
        keys = ("method", "label", "k", "statistic", "df", "p", "bias", "se_bias", "estimate", "ci_low", "ci_high")
        return pd.DataFrame([{key: t.to_dict()[key] for key in keys} for t in self.tests.values()], columns=keys)

def metabias(result, *, methods=None, trim_fill: bool = True, estimator: str = "L0",
             iterate: str = "common") -> SmallStudyEffects:
    """Run the tests for small-study effects that apply to ``result`` (and trim-and-fill).

    ``methods``: any of ``"egger"`` (R meta's ``"linreg"``), ``"egger_rma"`` (metafor's
    ``regtest``), ``"thompson_sharp"`` (``"mm"``), ``"begg"`` (``"rank"``, metafor's ``ranktest``),
    ``"peters"``; default all that apply (Peters only for binary outcomes given as 2x2 counts).  With fewer
    than 10 studies one :class:`SmallSampleWarning` is given and every test carries the note.
    """
    counts = result.measure.design == "bin2" and all(c in result.data for c in _COUNTS)
    default = ["egger", "egger_rma", "thompson_sharp", "begg"] + (["peters"] if counts else [])
    aliases = {"linreg": "egger", "rank": "begg", "mm": "thompson_sharp", "thompson": "thompson_sharp",
               "regtest": "egger_rma", "ranktest": "begg"}  # R meta's and metafor's names
    methods = default if methods is None else [aliases.get(str(m).lower(), str(m).lower()) for m in methods]
    funcs = {"egger": egger_test, "egger_rma": regtest, "thompson_sharp": thompson_sharp, "begg": begg_test,
             "peters": peters_test}
    unknown = [m for m in methods if m not in funcs]
    if unknown:
        raise SettingsError(f"unknown test(s) {', '.join(unknown)}; valid: {', '.join(funcs)}")
    notes: list = []
    _small(result.k, "Tests for small-study effects", notes)
    tests = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallSampleWarning)
        for m in methods:
            try:
                tests[m] = funcs[m](result)
            except DataError as exc:
                notes.append(f"{m}: not computed ({exc})")
        tf = trimfill(result, estimator=estimator, iterate=iterate) if trim_fill and result.k >= 3 else None
    return SmallStudyEffects(result=result, tests=tests, trimfill=tf, notes=tuple(notes))
