"""Inverse-variance pooling: one vectorised kernel for one analysis or a million.

``pool_arrays`` takes effect sizes of shape (analyses, studies) with a 0/1 mask and
returns every pooled quantity as arrays over analyses: the common-effect (fixed)
estimate, tau², the random-effects estimate with Wald or Hartung-Knapp intervals
(Hartung & Knapp 2001, Stat Med 20:3875; Knapp & Hartung 2003 for the ad hoc variance
correction "se"; Jackson et al. 2017 for "ci"), the prediction interval (Higgins,
Thompson & Spiegelhalter 2009, t with k - 2 df as R meta; or metafor's z, t with k - 1
df under Hartung-Knapp), Cochran's Q, the Q-profile interval of tau², the standard error
of tau² (metafor's ``se.tau2``), I² and H.
The kernel is written once for both shapes: on arrays of shape (analyses, studies) every
quantity of an analysis is an array over analyses; on the arrays of one analysis, shape
(studies,), the same code yields numpy scalars, whose arithmetic costs a tenth of an
operation on an array (:func:`pool_one`, what the single-analysis API
:mod:`metareview.api.meta` calls; :mod:`.per_analysis` keeps scalars scalars where numpy
would not), and both shapes give the same bits.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from functools import cached_property, lru_cache, partial

import numpy as np

from ..base import dist as _dist
from ..base.deferred import Deferred
from ..base.exceptions import ConvergenceWarning, SettingsError, SmallSampleWarning
from .heterogeneity import kernel_from_q, kernel_heterogeneity
from .per_analysis import absolute, all_of, any_of, maximum, minimum, pick, sqrt
from .projection import by_columns, row_sum
from .tau2 import estimator, kernel_estimate_tau2, non_convergence_message, q_generalised, q_profile
from .values import Estimate, Heterogeneity, Interval, Pooled

__all__ = ["PooledArrays", "pool_arrays", "pool_one", "kernel_warnings", "one_study_message", "RANDOM_CI",
           "PREDICTION", "ADHOC_HAKN"]

RANDOM_CI = ("wald", "hk")
#: t: k - 2 df (Higgins et al. 2009; R meta before 8.0, "HTS"); v: k - 1 df (Veroniki et al.
#: 2019, Res Synth Methods 10:23; R meta 8's default "V"); z: metafor's predict(); none
PREDICTION = ("t", "v", "z", "none")
ADHOC_HAKN = ("none", "se", "ci")


@dataclass(frozen=True)
class PooledArrays:
    """Every pooled quantity as an array over analyses (weights: analyses x studies, in %);
    ``level`` is the confidence level of every interval.  :meth:`row` is one analysis' view
    as named values (:class:`~metareview.pooling.values.Pooled`)."""

    k: np.ndarray
    common_estimate: np.ndarray
    common_se: np.ndarray
    common_ci_low: np.ndarray
    common_ci_high: np.ndarray
    common_statistic: np.ndarray
    common_p: np.ndarray
    random_estimate: np.ndarray
    random_se: np.ndarray
    random_ci_low: np.ndarray
    random_ci_high: np.ndarray
    random_statistic: np.ndarray
    random_p: np.ndarray
    random_df: np.ndarray
    prediction_low: np.ndarray
    prediction_high: np.ndarray
    q: np.ndarray
    q_df: np.ndarray
    q_p: np.ndarray
    tau2: np.ndarray
    tau2_ci_low: np.ndarray
    tau2_ci_high: np.ndarray
    tau: np.ndarray
    i2: np.ndarray
    i2_ci_low: np.ndarray
    i2_ci_high: np.ndarray
    h: np.ndarray
    h_ci_low: np.ndarray
    h_ci_high: np.ndarray
    tau2_iterations: np.ndarray
    tau2_converged: np.ndarray
    weight_common: np.ndarray | None    # None with weights=False
    weight_random: np.ndarray | None
    se_tau2: np.ndarray
    level: float = 0.95

    @cached_property
    def _scalars(self) -> np.ndarray:
        """The scalar fields as one (analyses x fields) float matrix, so that a row is one
        ``tolist()`` (leave-one-out and subgroups read a row per analysis)."""
        return np.column_stack([np.asarray(getattr(self, name), float) for name in _SCALAR_FIELDS])

    def row(self, i: int = 0) -> Pooled:
        """The pooled values of analysis ``i`` as named values (Python floats; weights as
        arrays over the studies, None where left out)."""
        values = (np.concatenate(list(map(self.__dict__.__getitem__, _SCALAR_FIELDS))).tolist()
                  if self.k.shape[0] == 1 else self._scalars[i].tolist())  # one analysis: not worth a matrix
        wc, wr = self.weight_common, self.weight_random
        return _named(values, self.level, None if wc is None else wc[i], None if wr is None else wr[i])


#: the fields of one value per analysis, in the order :meth:`PooledArrays.row` reads them
_SCALAR_FIELDS = ("k", "common_estimate", "common_se", "common_ci_low", "common_ci_high", "common_statistic",
                  "common_p", "random_estimate", "random_se", "random_ci_low", "random_ci_high",
                  "random_statistic", "random_p", "random_df", "prediction_low", "prediction_high", "q", "q_df",
                  "q_p", "tau2", "tau2_ci_low", "tau2_ci_high", "tau", "i2", "i2_ci_low", "i2_ci_high", "h",
                  "h_ci_low", "h_ci_high", "tau2_iterations", "tau2_converged", "se_tau2")


def _named(values, level: float, wc, wr, prediction: Deferred | None = None, fill=None) -> Pooled:
    """The named values of one analysis from its scalars (Python floats, in the order of
    :data:`_SCALAR_FIELDS`) and its study weights; ``prediction``: the interval computed on
    first read, in place of the scalars' bounds; ``fill``: what gives the heterogeneity
    intervals on first use (:meth:`Pooled.deferring`)."""
    (k, ce, cse, clo, chi, cst, cp, re, rse, rlo, rhi, rst, rp, rdf, plo, phi, q, qdf, qp, t2, t2lo, t2hi,
     tau, i2, i2lo, i2hi, h, hlo, hhi, it, conv, se_t2) = values
    if fill is None:
        t2_ci, i2_ci, h_ci = Interval(t2lo, t2hi, level), Interval(i2lo, i2hi, level), Interval(hlo, hhi, level)
    else:  # the intervals to come: one NaN interval holds their place
        t2_ci = i2_ci = h_ci = Interval(math.nan, math.nan, level)
    het = Heterogeneity(q, int(qdf), qp, t2, t2_ci, tau, i2, i2_ci, h, h_ci, bool(conv), int(it), se_t2)
    return Pooled(int(k), Estimate(ce, cse, Interval(clo, chi, level), cst, cp),
                  Estimate(re, rse, Interval(rlo, rhi, level), rst, rp, rdf),
                  Interval(plo, phi, level) if prediction is None else prediction, het, wc, wr, fill=fill)


def _all_finite(a: np.ndarray) -> bool:
    """Whether every cell of ``a`` is finite, screened by one sum (an infinity or a NaN makes
    it non-finite; only a sum that overflows needs the cell by cell check), under the
    caller's ``np.errstate``."""
    return math.isfinite(np.add.reduce(a, axis=None)) or bool(np.isfinite(a).all())


def _quiet() -> np.errstate:
    """What the kernel does with floating-point exceptions: a NaN or an infinity where a value
    does not exist (no studies, one study, a zero sum) is the answer, not an error."""
    return np.errstate(divide="ignore", invalid="ignore", over="ignore")


@lru_cache(maxsize=64)
def _ones(shape: tuple) -> np.ndarray:
    """The mask of one analysis whose every study takes part: a read-only array of ones, made
    once per number of studies (the kernel reads its mask and never writes to it; filling an
    array of ones for each analysis cost about as much as one of its sums)."""
    ones = np.ones(shape)
    ones.flags.writeable = False
    return ones


def _prepare(yi, vi, mask, ndim: int = 2, finite: bool = False):
    """Arrays of ``ndim`` dimensions (2: analyses x studies; 1: the studies of one analysis)
    with the mask of the studies that take part (finite yi and vi), and the number of them
    per analysis; other cells hold harmless values (y = 0, v = 1) so that no NaN reaches a
    row's sums.  ``finite``: the caller has found every cell finite.  (Under the caller's
    ``np.errstate``.)"""
    y, v = np.asarray(yi, float), np.asarray(vi, float)
    if ndim == 2:
        y, v = by_columns(np.atleast_2d(y)), by_columns(np.atleast_2d(v))
        if mask is not None:
            mask = by_columns(np.atleast_2d(np.asarray(mask, float)))
    # every study of every analysis: a read-only view of one 1.0 (no array of ones to fill and read);
    # the studies of one analysis: their ones (a few cells, made faster than a view, and once per k)
    mk = (_ones(y.shape) if ndim == 1 else np.broadcast_to(1.0, y.shape)) if mask is None \
        else np.asarray(mask, float)
    if ndim == 2:
        mk = np.atleast_2d(mk)
    if mk.shape == y.shape == v.shape and (finite or _all_finite(y) and _all_finite(v)):
        # the usual case (every cell finite): the mask is the caller's, and with every
        # study taking part (a batch chunk without padding) there is nothing to replace
        if mask is None:  # every study of every analysis
            n = float(y.shape[-1])
            return y, v, mk, np.float64(n) if ndim == 1 else np.full(y.shape[:-1], n)
        if np.minimum.reduce(mk, axis=None) > 0:  # (mk.min() without its wrapper)
            return y, v, mk, row_sum(mk, -1)
        return np.where(mk > 0, y, 0.0), np.where(mk > 0, v, 1.0), mk, row_sum(mk, -1)
    mk = mk * np.isfinite(y) * np.isfinite(v)
    return np.where(mk > 0, y, 0.0), np.where(mk > 0, v, 1.0), mk, row_sum(mk, -1)


def _single_study(het: dict, k) -> dict:
    """One study: I² = 0 and H = 1, as metafor reports them."""
    single = k <= 1
    if any_of(single):
        het = dict(het, i2=pick(single, 0.0, het["i2"]), h=pick(single, 1.0, het["h"]))
    return het


#: The quantities that depend on the Q-profile interval of tau².
TAU2_CI_FIELDS = ("tau2_ci_low", "tau2_ci_high", "i2_ci_low", "i2_ci_high", "h_ci_low", "h_ci_high")


def tau2_interval(yi, vi, mask, tau2, q, *, level: float = 0.95, i2_method: str = "q",
                  tau2_tol: float = 1e-12) -> dict:
    """The Q-profile interval of tau² and what depends on it (I² and H bounds under
    ``i2_method="tau2"``), for arrays as :func:`pool_arrays` takes them: what
    ``pool_arrays(..., tau2_ci=True)`` adds to a result computed with ``tau2_ci=False``."""
    with _quiet():
        y, v, mk, k = _prepare(yi, vi, mask)
        lo, hi = q_profile(y, v, mk, level, tol=tau2_tol)
        het = _single_study(kernel_heterogeneity(np.atleast_1d(q), k, np.atleast_1d(tau2), v, mk, level,
                                                 i2_method, (lo, hi)), k)
    out = {"tau2_ci_low": lo, "tau2_ci_high": hi}
    if i2_method == "tau2":
        out.update({key: het[key] for key in TAU2_CI_FIELDS[2:]})
    return out


def prediction_quantile(prediction: str, k, level: float, random_ci: str = "wald") -> np.ndarray:
    """The quantile of a prediction interval mu ± q sqrt(se² + tau²) for ``k`` studies (an
    array over analyses; NaN where there are too few studies): ``t`` with k - 2 df, ``v``
    with k - 1 df, ``z`` the normal quantile (t with k - 1 df under Hartung-Knapp)."""
    k = np.atleast_1d(np.asarray(k, float))
    with np.errstate(invalid="ignore"):
        crit = _prediction_quantile(prediction, k, level, random_ci)
    return crit if isinstance(crit, np.ndarray) else np.full(k.shape, crit)


def _prediction_quantile(prediction: str, k, level: float, random_ci: str):
    """:func:`prediction_quantile` for ``k`` an array over analyses or the numpy scalar of one
    analysis (then a scalar, as for many analyses of one k), under the caller's ``np.errstate``."""
    if type(k) is np.ndarray and k.size >= 64 and (k == k[0]).all():
        return _prediction_quantile(prediction, k[0], level, random_ci)  # one quantile for the chunk
    p = _dist.two_sided(level)[0]
    if prediction == "t":
        return pick(k - 2 > 0, _t_ppf(p, maximum(k - 2, 1)), np.nan)
    if prediction == "v" or (prediction == "z" and random_ci == "hk"):
        return pick(k - 1 > 0, _t_ppf(p, maximum(k - 1, 1)), np.nan)
    if prediction == "z":
        return _dist.two_sided(level)[1]
    return np.nan


def _interval(estimate, crit, se, out=(None, None)):
    """estimate ∓ crit se, the product formed once (into the arrays ``out`` when given)."""
    half = crit * se
    if out[0] is None:
        return estimate - half, estimate + half
    return np.subtract(estimate, half, out=out[0]), np.add(estimate, half, out=out[1])


def _divide(a, b, out=None):
    """a / b, into the array ``out`` when given (the operator on the scalars of one analysis)."""
    return a / b if out is None else np.divide(a, b, out=out)


def _two_sided_p(stat, out=None):
    """2 P(Z > |stat|), into the array ``out`` when given."""
    p = _dist.norm_sf(absolute(stat))
    return 2 * p if out is None else np.multiply(2, p, out=out)


def _t_ppf(p: float, df):
    """The t quantile for df over analyses, or for one analysis' df (computed once per p and df)."""
    return _dist.t_ppf(p, df) if isinstance(df, np.ndarray) else _dist.t_quantile(p, float(df))


def _check_option(name, value, valid):
    if value not in valid:
        raise SettingsError(f"unknown {name} {value!r}; valid values are: {', '.join(valid)}")


def _check_options(method_tau2, level, random_ci, adhoc_hakn, prediction, tau2_center) -> None:
    _check_option("random-effects CI method", random_ci, RANDOM_CI)
    _check_option("prediction interval", prediction, PREDICTION)
    _check_option("Hartung-Knapp ad hoc correction", adhoc_hakn, ADHOC_HAKN)
    if not 0 < level < 1:
        raise SettingsError(f"the confidence level must lie between 0 and 1, not {level!r}")
    if tau2_center is not None and str(method_tau2).upper() != "DL":
        raise SettingsError("a centre for the Q behind tau² (the Mantel-Haenszel estimate) is "
                            f"defined for the DerSimonian-Laird estimator only, not {method_tau2}")


def pool_arrays(yi, vi, mask=None, *, method_tau2: str = "DL", level: float = 0.95,
                random_ci: str = "wald", adhoc_hakn: str = "none", prediction: str = "t",
                i2_method: str = "q", null: float | None = 0.0, tau2_tol: float = 1e-12,
                tau2_maxiter: int = 1000, tau2_ci: bool = True, weights: bool = True,
                warn: bool = True, tau2_weights=None, tau2_center=None, _screened: bool = False,
                _out: dict | None = None) -> PooledArrays:
    """Pool effect sizes ``yi`` with sampling variances ``vi``.

    ``yi``, ``vi`` (and ``mask``, 1 where a study takes part) have shape (studies,) or
    (analyses, studies).  ``null`` is the value tested on the analysis scale; ``None``
    means no test (single proportions and means, as R meta).  ``tau2_ci=False`` skips the
    iterative Q-profile interval of tau² (its bounds, and the I² and H bounds derived from
    them under ``i2_method="tau2"``, are then NaN): the batch engine offers it for speed.
    ``weights=False`` leaves out the study weights (``weight_common``/``weight_random`` are
    None), which a batch does not report.  ``tau2_weights`` are the user weights of the
    GENQ estimator of tau² (used for tau² only; the random-effects estimate is weighted by
    1/(v + tau²) as with every other estimator).  ``tau2_center`` (one value per analysis, DL
    only) is the estimate around which the Q behind the DerSimonian-Laird tau² is taken,
    instead of the inverse-variance common effect: the Mantel-Haenszel estimate, as
    RevMan 5 and R meta (``Q.Cochrane``) pool a Mantel-Haenszel random-effects model.
    ``_screened=True`` is the batch engine's alone (private: it is not an option for users):
    the engine has found every cell of ``yi`` and ``vi`` finite from each column's least and
    largest value, so the kernel does not screen them again; cells it was wrong about would
    reach the sums unflagged.  ``_out`` (also the batch engine's alone) maps fields to float
    arrays over the analyses (its result columns) into which the kernel forms those fields it
    computes last, instead of arrays of their own that the engine would copy there; the fields
    returned are then these arrays.
    """
    _check_options(method_tau2, level, random_ci, adhoc_hakn, prediction, tau2_center)
    with _quiet():
        y, v, mk, k = _prepare(yi, vi, mask, finite=_screened)
        values = _pool(y, v, mk, k, method_tau2=method_tau2, level=level, random_ci=random_ci,
                       adhoc_hakn=adhoc_hakn, prediction=prediction, i2_method=i2_method, null=null,
                       tau2_tol=tau2_tol, tau2_maxiter=tau2_maxiter, tau2_ci=tau2_ci, weights=weights, warn=warn,
                       tau2_weights=tau2_weights, tau2_center=tau2_center, out=_out)
    return PooledArrays(**values, level=level)


def pool_one(yi, vi, mask=None, *, method_tau2: str = "DL", level: float = 0.95,
             random_ci: str = "wald", adhoc_hakn: str = "none", prediction: str = "t",
             i2_method: str = "q", null: float | None = 0.0, tau2_tol: float = 1e-12,
             tau2_maxiter: int = 1000, tau2_ci: bool = True, weights: bool = True,
             warn: bool = True, tau2_weights=None, tau2_center=None, deferred: bool = False,
             _screened: bool = False) -> Pooled:
    """One analysis, studies ``yi`` and ``vi`` of shape (studies,): the named values that
    ``pool_arrays(yi, vi, ...).row(0)`` gives, bit for bit, from the same kernel run on the
    arrays of one analysis (its per-analysis quantities numpy scalars instead of arrays of
    length one).  The arguments are :func:`pool_arrays`'s.

    ``deferred=True`` leaves what metafor's ``rma()`` itself leaves to ``confint()``,
    ``predict()`` and ``weights()`` to the first read of the result: the Q-profile interval of
    tau² (with ``tau2_ci``), the I² and H intervals, the prediction interval and the study
    weights (with ``weights``).  They are computed then by the same code from the same
    values, so they are the values given at once.

    ``_screened=True`` is the single-analysis API's alone, as :func:`pool_arrays`'s is the
    batch engine's: its settings have checked the options (:class:`~metareview.pooling.settings.Settings`)
    and its input rules have found every cell of ``yi`` and ``vi`` finite from their extremes,
    so the kernel checks neither again.
    """
    if not _screened:
        _check_options(method_tau2, level, random_ci, adhoc_hakn, prediction, tau2_center)
    with _quiet():
        y, v, mk, k = _prepare(yi, vi, mask, ndim=1, finite=_screened)
        values, wc, wr, later = _pool(y, v, mk, k, method_tau2=method_tau2, level=level, random_ci=random_ci,
                                      adhoc_hakn=adhoc_hakn, prediction=prediction, i2_method=i2_method, null=null,
                                      tau2_tol=tau2_tol, tau2_maxiter=tau2_maxiter, tau2_ci=tau2_ci, weights=weights,
                                      warn=warn, tau2_weights=tau2_weights, tau2_center=tau2_center,
                                      deferred=deferred)
    prediction_interval, fill = (None, None) if later is None else later
    return _named(values, level, wc, wr, prediction_interval, fill)


def _pool(y, v, mk, k, *, method_tau2, level, random_ci, adhoc_hakn, prediction, i2_method, null, tau2_tol,
          tau2_maxiter, tau2_ci, weights, warn, tau2_weights, tau2_center, deferred: bool = False,
          out: dict | None = None):
    """The kernel: every field of :class:`PooledArrays` but ``level``, as arrays over analyses
    for ``y`` of shape (analyses, studies) (a dict by field); or for one analysis' ``y`` of
    shape (studies,), computed on numpy scalars, ``(values, weight_common, weight_random,
    later)``, the values Python floats in the order of :data:`_SCALAR_FIELDS`; under the
    caller's ``np.errstate`` (:func:`_quiet`).

    ``deferred`` (one analysis): the prediction interval, the weights and the heterogeneity
    intervals are left NaN (None), and ``later`` holds what computes them on first use: the
    prediction interval (a :class:`~metareview.base.deferred.Deferred`) and the function that
    fills the heterogeneity intervals (None when nothing is deferred); the weights are deferred
    in place.  ``out``: arrays to form fields in (:func:`pool_arrays`'s ``_out``)."""
    one = y.ndim == 1
    o = (lambda name: None) if out is None or one else out.get
    p, z = _dist.two_sided(level)
    if warn and any_of(k == 1):
        warnings.warn(one_study_message(random_ci), SmallSampleWarning, stacklevel=3)

    def blank(name=None):
        """NaN for each analysis (an array of its own for each field over analyses: the field
        ``name``'s array in ``out`` when there is one)."""
        if one:
            return np.nan
        into = o(name)
        if into is None:
            return np.full(y.shape[0], np.nan)
        into.fill(np.nan)
        return into

    # common effect
    w = mk / v
    sw = row_sum(w, -1)
    # one scratch array (analyses x studies) holds w y, then w (y - mu)², then w* y: each is
    # summed before the next is formed, and fewer arrays of cells stay in the caches
    scratch = w * y
    mu_c = _divide(row_sum(scratch, -1), sw, o("common_estimate"))
    se_c = _divide(1, sqrt(sw), o("common_se"))
    r = np.subtract(y, mu_c if one else mu_c[..., None], out=scratch)  # (a scalar broadcasts as it is)
    np.square(r, out=r)
    q = row_sum(np.multiply(w, r, out=r), -1, out=o("q"))
    q_df = k - 1
    positive = q_df > 0
    q_p = (_dist.chi2_sf(q, q_df, out=o("q_p")) if all_of(positive) and (one or q_df.size)
           else pick(positive, _dist.chi2_sf(q, maximum(q_df, 1)), np.nan))

    genq = None if tau2_weights is None else np.where(mk > 0, np.asarray(tau2_weights, float), 0.0)
    q_tau2 = q
    if tau2_center is not None:
        centre = np.asarray(tau2_center, float)
        centre = centre.reshape(()) if one else np.broadcast_to(centre, y.shape[:1])
        q_tau2 = row_sum(w * (y - centre[..., None]) ** 2, -1)
    fit = kernel_estimate_tau2(y, v, mk, method_tau2, tol=tau2_tol, maxiter=tau2_maxiter, warn=warn,
                               common=(w, sw, q_tau2), weights=genq, counts=k, se=True)
    tau2, se_t2 = fit.tau2, fit.se
    assert se_t2 is not None  # asked for with se=True
    # the random-effects weights w*: in the array of w when the common-effect weights are not
    # read again (no study weights reported, nothing deferred)
    ws = np.add(v, tau2 if one else tau2[..., None], out=None if weights or deferred else w)
    np.divide(mk, ws, out=ws)
    sws = row_sum(ws, -1)
    mu_r = _divide(row_sum(np.multiply(ws, y, out=scratch), -1), sws, o("random_estimate"))
    se_wald = _divide(1, sqrt(sws), None if random_ci == "hk" else o("random_se"))

    if random_ci == "hk":
        q_star, _ = q_generalised(y, v, mk, tau2, derivative=False)
        se_hk = np.sqrt(q_star / ((k - 1) * sws))
        if adhoc_hakn == "se":
            se_hk = maximum(se_hk, se_wald)
        # one study: metafor falls back to the Wald test (there is no df left)
        df_r = pick(k > 1, k - 1, np.nan)
        crit = pick(k > 1, _t_ppf(p, pick(k > 1, k - 1, 1)), z)
        se_hk = pick(k > 1, se_hk, se_wald)
        se_r = se_hk
        lo_r, hi_r = _interval(mu_r, crit, se_r)
        if adhoc_hakn == "ci":
            lo_r = minimum(lo_r, mu_r - z * se_wald)
            hi_r = maximum(hi_r, mu_r + z * se_wald)
    else:
        df_r = blank("random_df")
        se_r = se_wald
        lo_r, hi_r = _interval(mu_r, z, se_r, (o("random_ci_low"), o("random_ci_high")))

    if null is None:
        stat_c, p_c, stat_r, p_r = (blank(name) for name in ("common_statistic", "common_p", "random_statistic",
                                                             "random_p"))
    else:
        # x - 0.0 is x, bit for bit (-0.0 and NaN included): no pass for the usual null 0
        stat_c = _divide(mu_c if null == 0 else mu_c - null, se_c, o("common_statistic"))
        p_c = _two_sided_p(stat_c, o("common_p"))
        stat_r = _divide(mu_r if null == 0 else mu_r - null, se_r, o("random_statistic"))
        if random_ci == "hk":
            p_r = pick(k > 1, 2 * _dist.t_sf(np.abs(stat_r), pick(k > 1, k - 1, 1)),
                       2 * _dist.norm_sf(np.abs(stat_r)))
        else:
            p_r = _two_sided_p(stat_r, o("random_p"))

    wc: np.ndarray | Deferred | None
    wr: np.ndarray | Deferred | None
    later = None
    if deferred:
        pred_lo = pred_hi = tau2_lo = tau2_hi = blank()
        het = kernel_heterogeneity(q, k, tau2, v, mk, level, i2_method, (tau2_lo, tau2_hi), intervals=False)
        prediction_interval = Deferred(_later_prediction, mu_r, se_r, tau2, k, prediction, level, random_ci)
        fill = partial(_later_intervals, y, v, mk, q, k, tau2, level, i2_method, tau2_ci, tau2_tol)
        later = (prediction_interval, fill)
        wc = wr = None
        if weights:
            both = Deferred(_later_weights, w, sw, ws, sws, mk)
            wc, wr = both.part(0), both.part(1)
    else:
        pred_lo, pred_hi = _prediction_interval(mu_r, se_r, tau2, k, prediction, level, random_ci,
                                                (o("prediction_low"), o("prediction_high")))
        if tau2_ci:
            tau2_lo, tau2_hi = q_profile(y, v, mk, level, tol=tau2_tol)
        else:
            tau2_lo, tau2_hi = blank("tau2_ci_low"), blank("tau2_ci_high")
        het = kernel_heterogeneity(q, k, tau2, v, mk, level, i2_method, (tau2_lo, tau2_hi), into=out)
        wc, wr = _study_weights(w, sw, ws, sws, mk) if weights else (None, None)
    het = _single_study(het, k)

    # one study: Q = 0 and p = 1, as metafor reports them (I² and H: _single_study)
    single = k <= 1
    if any_of(single):
        q = pick(single, 0.0, q)
        q_p = pick(single, 1.0, q_p)
    ci_c = _interval(mu_c, z, se_c, (o("common_ci_low"), o("common_ci_high")))
    if one:
        # the scalars of one analysis as Python floats, in the order of _SCALAR_FIELDS (what
        # pool_one names), with the weights and what is left for later
        return ([float(x) for x in (
            k, mu_c, se_c, ci_c[0], ci_c[1], stat_c, p_c, mu_r, se_r, lo_r, hi_r, stat_r, p_r, df_r, pred_lo,
            pred_hi, q, q_df, q_p, tau2, tau2_lo, tau2_hi, sqrt(tau2), het["i2"], het["i2_ci_low"],
            het["i2_ci_high"], het["h"], het["h_ci_low"], het["h_ci_high"], fit.iterations, fit.converged,
            se_t2)], wc, wr, later)
    return dict(
        k=k.astype(int), common_estimate=mu_c, common_se=se_c, common_ci_low=ci_c[0], common_ci_high=ci_c[1],
        common_statistic=stat_c, common_p=p_c,
        random_estimate=mu_r, random_se=se_r, random_ci_low=lo_r, random_ci_high=hi_r,
        random_statistic=stat_r, random_p=p_r, random_df=df_r,
        prediction_low=pred_lo, prediction_high=pred_hi,
        q=q, q_df=q_df.astype(int), q_p=q_p, tau2=tau2, tau2_ci_low=tau2_lo, tau2_ci_high=tau2_hi,
        tau=np.sqrt(tau2, out=o("tau")), tau2_iterations=fit.iterations, tau2_converged=fit.converged,
        weight_common=wc, weight_random=wr, se_tau2=se_t2, **het,
    )


def one_study_message(random_ci: str, *, glmm: bool = False) -> str:
    """The warning of an analysis of one study.  A GLMM of one study has no test of
    heterogeneity (its Q is missing, rma.glmm fits no such model), so its note does not
    say Q = 0."""
    return ("only one study: tau² = 0 and I² = 0; no test of heterogeneity" if glmm else
            "only one study: tau² = 0, Q = 0 and I² = 0 as metafor sets them"
            ) + ("; the Hartung-Knapp method needs two studies, the Wald interval is used" if random_ci == "hk" else "")


def kernel_warnings(pooled: Pooled, *, method_tau2: str, random_ci: str,
                    tau2_maxiter: int = 1000) -> list[tuple[str, type[Warning]]]:
    """The warnings (message, category) that ``pool_one(..., warn=True)`` gives for the analysis
    it returned as ``pooled``: one study, and an estimator of tau² that did not converge (all it
    gives: floating-point exceptions are its answers, not warnings), for a caller that pools
    with ``warn=False`` and notes them itself, instead of recording every warning (which costs
    more than pooling a few studies)."""
    out: list[tuple[str, type[Warning]]] = []
    if pooled.k == 1:
        out.append((one_study_message(random_ci), SmallSampleWarning))
    if not pooled["tau2_converged"]:
        out.append((non_convergence_message(estimator(method_tau2).code, tau2_maxiter, 1), ConvergenceWarning))
    return out


def _prediction_interval(mu_r, se_r, tau2, k, prediction: str, level: float, random_ci: str,
                         out=(None, None)):
    """The bounds of the prediction interval mu ± q sqrt(se² + tau²) (Higgins, Thompson &
    Spiegelhalter 2009), under the caller's ``np.errstate`` (into the arrays ``out`` when given)."""
    crit_p = _prediction_quantile(prediction, k, level, random_ci)
    se_p = np.sqrt(se_r * se_r + tau2)
    return _interval(mu_r, crit_p, se_p, out)


def _study_weights(w, sw, ws, sws, mk):
    """The common-effect and random-effects weights of the studies in percent (NaN where a
    study is not pooled)."""
    if mk.min() > 0:  # every study takes part: no weight to blank out
        return 100 * w / sw[..., None], 100 * ws / sws[..., None]
    return np.where(mk > 0, 100 * w / sw[..., None], np.nan), np.where(mk > 0, 100 * ws / sws[..., None], np.nan)


def _later_prediction(mu_r, se_r, tau2, k, prediction: str, level: float, random_ci: str) -> Interval:
    """The prediction interval of one analysis, computed on first read (``pool_one(deferred=True)``)."""
    with _quiet():
        low, high = _prediction_interval(mu_r, se_r, tau2, k, prediction, level, random_ci)
    return Interval(float(low), float(high), level)


def _later_weights(w, sw, ws, sws, mk):
    """The study weights of one analysis, computed on first read."""
    with _quiet():
        return _study_weights(w, sw, ws, sws, mk)


def _later_intervals(y, v, mk, q, k, tau2, level: float, i2_method: str, tau2_ci: bool, tau2_tol: float) -> dict:
    """The heterogeneity intervals of one analysis, computed on first use: the Q-profile
    interval of tau² (with ``tau2_ci``; and the I² and H bounds from it under
    ``i2_method="tau2"``) and the test-based I² and H bounds from Q (``"q"``)."""
    out = {}
    if tau2_ci:
        ci = tau2_interval(y, v, mk, tau2, q, level=level, i2_method=i2_method, tau2_tol=tau2_tol)
        out = {key: value[0].item() for key, value in ci.items()}
    if i2_method == "q":
        with _quiet():
            het = kernel_from_q(q, k, level)
        out.update((key, het[key]) for key in TAU2_CI_FIELDS[2:])
    return out
