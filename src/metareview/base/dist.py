"""Distribution functions from ``scipy.special``.

``scipy.stats`` takes most of a second to import; the command line must start in a
fraction of that, so the statistical core uses these thin wrappers of the special
functions that ``scipy.stats`` itself is built on.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import special

__all__ = ["two_sided", "t_quantile", "norm_ppf", "norm_sf", "chi2_sf", "chi2_ppf", "t_ppf", "t_sf", "beta_ppf"]


def norm_ppf(p):
    return special.ndtri(p)


@lru_cache(maxsize=32)
def two_sided(level: float) -> tuple[float, np.float64]:
    """The upper tail probability of a two-sided interval at ``level``, 1 - (1 - level)/2, and
    its normal quantile (computed once per level: an analysis asks for it several times)."""
    p = 1 - (1 - level) / 2
    return p, norm_ppf(p)


def _negated(x):
    """-x as floats (a numpy scalar stays a scalar: no 0-d array is made of it)."""
    return -x if isinstance(x, (float, np.floating)) else -np.asarray(x, float)


def norm_sf(x):
    return special.ndtr(_negated(x))


def chi2_sf(x, df, out=None):
    """P(X > x) for chi² with ``df`` degrees of freedom (into the array ``out`` when given)."""
    if type(df) is np.ndarray and df.size >= 64:
        df = _one_df(df, x)
    return special.chdtrc(df, x) if out is None else special.chdtrc(df, x, out=out)


def _one_df(df: np.ndarray, x):
    """``df`` as one number when it is the same for every value of ``x`` (a batch of analyses
    of one k): the same function of each pair, up to a quarter faster over a chunk (scipy's
    loop over two arrays costs more than its loop over one)."""
    first = df.flat[0]
    return first if df.shape == np.shape(x) and (df == first).all() else df


def _per_distinct_df(fn, df, p):
    """``fn(df, p)`` evaluated once per distinct df: quantile functions invert the CDF
    iteratively, and a batch of analyses has many analyses but few distinct k."""
    df = np.asarray(df, float)
    if df.size < 64 or np.ndim(p) != 0:
        return fn(df, p)
    first = df.flat[0]
    if (df == first).all():  # every analysis with the same k (a simulation's usual case): no sort
        return np.full(df.shape, fn(np.asarray([first]), p)[0])
    distinct, inverse = np.unique(df, return_inverse=True)
    return fn(distinct, p)[inverse].reshape(df.shape)


def chi2_ppf(p, df):
    return _per_distinct_df(special.chdtri, df, 1 - np.asarray(p, float))


def t_ppf(p, df):
    return _per_distinct_df(special.stdtrit, df, p)


@lru_cache(maxsize=256)
def t_quantile(p: float, df: float) -> np.float64:
    """``t_ppf`` of one p and one df, computed once: an analysis of k studies asks for the same
    quantiles as the last analysis of k studies."""
    return special.stdtrit(df, p)


def t_sf(x, df):
    return special.stdtr(df, _negated(x))


def beta_ppf(p, a, b):
    return special.betaincinv(a, b, p)
