"""Distribution functions from ``scipy.special``.

``scipy.stats`` takes most of a second to import; the command line must start in a
fraction of that, so the statistical core uses these thin wrappers of the special
functions that ``scipy.stats`` itself is built on.
"""

from __future__ import annotations

import numpy as np
from scipy import special


def norm_ppf(p):
    return special.ndtri(p)


def norm_sf(x):
    return special.ndtr(-np.asarray(x, float))


def chi2_sf(x, df):
    return special.chdtrc(df, x)


def chi2_ppf(p, df):
    return special.chdtri(df, 1 - np.asarray(p, float))


def t_ppf(p, df):
    return special.stdtrit(df, p)


def t_sf(x, df):
    return special.stdtr(df, -np.asarray(x, float))


def beta_ppf(p, a, b):
    return special.betaincinv(a, b, p)
