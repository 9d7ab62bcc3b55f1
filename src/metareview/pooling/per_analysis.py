"""Values of an analysis, over a batch or for one: the few array operations the kernel needs,
for both shapes.

The pooling kernel (:mod:`.inverse_variance`) and the heterogeneity statistics are written
once for arrays over analyses; run on the arrays of one analysis (shape (studies,) instead of
(analyses, studies)), every per-analysis quantity is a numpy scalar instead, whose arithmetic
costs a tenth of an operation on an array of length one.  numpy's ``where``, ``maximum`` and
``minimum`` on scalars would make 0-d arrays of them, again at ten times the cost: these
versions keep scalars scalars and follow numpy's rules on them (NaN included), so that both
shapes give the same bits.  (For the same reason the code written for both shapes squares
by ``x * x``: ``x ** 2`` is numpy's exact square on arrays but ``pow()`` on a numpy scalar,
which differs in the last bit about once in a thousand.)
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["absolute", "all_of", "any_of", "as_float", "isfinite", "maximum", "minimum", "pick", "sqrt"]


def pick(cond, a, b):
    """``np.where(cond, a, b)`` for values over analyses; for the scalars of one analysis,
    the value chosen."""
    if isinstance(cond, np.ndarray):
        return np.where(cond, a, b)
    return a if cond else b


def maximum(a, b):
    """``np.maximum``; on scalars the same rule without a ufunc call (a NaN wins; of two equal
    values, the second, as numpy: 0.0 and -0.0 give -0.0)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.maximum(a, b)
    return a if (a > b or a != a) else b


def minimum(a, b):
    """``np.minimum``; on scalars the same rule without a ufunc call (a NaN wins; of two equal
    values, the second)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.minimum(a, b)
    return a if (a < b or a != a) else b


def isfinite(x):
    """``np.isfinite``; on a scalar ``math.isfinite`` (a tenth of a ufunc call)."""
    return np.isfinite(x) if isinstance(x, np.ndarray) else math.isfinite(x)


def sqrt(x):
    """``np.sqrt``; on a numpy float that is not negative (nor NaN) ``math.sqrt``, which is the
    same correctly rounded square root of IEEE 754 (the same bits) without a ufunc call."""
    if type(x) is np.float64 and x >= 0.0:
        return np.float64(math.sqrt(x))
    return np.sqrt(x)


def absolute(x):
    """``np.abs``; on a numpy float its own ``abs()`` (the sign bit cleared, as numpy's ufunc
    clears it: the same bits) without a ufunc call."""
    return abs(x) if type(x) is np.float64 else np.abs(x)


def as_float(x):
    """An array of floats, or a numpy float for a single value (not a 0-d array)."""
    if type(x) is np.float64:  # the kernel's values of one analysis, as they are
        return x
    x = np.asarray(x, float)
    return x[()] if x.ndim == 0 else x


def any_of(x) -> bool:
    """Whether any analysis has ``x`` true (a numpy bool's ``any()`` costs a 0-d array)."""
    return bool(x.any()) if isinstance(x, np.ndarray) else bool(x)


def all_of(x) -> bool:
    """Whether every analysis has ``x`` true."""
    return bool(x.all()) if isinstance(x, np.ndarray) else bool(x)
