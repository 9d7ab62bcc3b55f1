"""Weighted least-squares projections of a meta-analytic design, vectorised over analyses.

Every tau² estimator is a statement about the residual projection of a weighted
least-squares fit of the outcomes on the design matrix X,

    P = W - W X (X'W X)^-1 X'W,     W = diag(w),

at some weights w (1/v_i, 1/(v_i + tau²), 1, or user weights): y'P y is the (generalised)
Q statistic, P y the weighted residuals, tr(P) and tr(PP) the traces in the moment and
likelihood equations (Raudenbush 2009, in *The Handbook of Research Synthesis and
Meta-Analysis*, 2nd ed., pp. 295-315; Viechtbauer 2005, JEBS 30:261).

Two designs give the same operations on arrays of shape (analyses, studies), where a 0/1
mask says which studies take part (their weights are zero elsewhere):

* :class:`Intercept`, the column of ones of a model without moderators.  It is never
  built: P y = w (y - mu_w) and the traces are row sums, so one call serves a million
  analyses as fast as the closed forms of the intercept-only estimators;
* :class:`Matrix`, any design matrix X of shape (studies, p), shared by all analyses, or
  (analyses, studies, p).  P is formed explicitly (analyses x studies x studies).
"""

from __future__ import annotations

import numpy as np

__all__ = ["Intercept", "Matrix", "design_of", "row_sum", "by_columns"]

_reduce = np.add.reduce


def row_sum(x, axis=-1, out=None):
    """Sums over the last axis, bit for bit those of ``np.add.reduce(x, -1)``.

    numpy sums each row of a C-contiguous float array by pairwise summation (a plain
    left-to-right sum below 8 terms; up to 128 terms, 8 running sums over blocks of 8, added
    pairwise, then the terms past the last whole block one by one), with a call of its inner
    loop per row: for a few studies per analysis the calls cost far more than the additions.
    With fewer than :data:`_COLUMN_SUMS` columns this adds the columns in the same order over
    all rows at once (and adds numpy's starting 0.0 last: it turns a sum of -0.0 into 0.0),
    several times faster for many short rows (a fifth faster at 20 columns; from about 25
    columns numpy's own loop is faster).  ``out``: the array to form the sums in.

    On an array stored column by column (Fortran order, :func:`by_columns`) each column is
    contiguous and the same additions run at memory speed: about four times faster at 20
    columns than on rows, and as fast as numpy's loop on a row-major array gives them.
    (numpy's own reduction of such an array would add the columns left to right, which from
    8 columns on is not its pairwise sum of a row.)
    """
    if (type(x) is np.ndarray and x.ndim == 2 and 1 < x.shape[1] < _COLUMN_SUMS and x.shape[0] >= 64
            and x.dtype == np.float64 and (x.flags.c_contiguous or x.flags.f_contiguous) and axis in (-1, 1)):
        k = x.shape[1]
        if k < 8:
            s = np.add(x[:, 0], x[:, 1], out=out)
            for j in range(2, k):
                s += x[:, j]
        elif x.flags.f_contiguous:
            # the same additions on blocks of columns: columns j..j+7 of a Fortran-order array are
            # one contiguous block, so each step is one call instead of eight (a chunk's row sums
            # were dozens of calls, each on a few thousand values)
            whole = k - k % 8
            block = x[:, 0:8] + x[:, 8:16] if whole > 8 else x[:, 0:8]  # the 8 running sums
            for i in range(16, whole, 8):
                block += x[:, i:i + 8]
            pairs = block[:, 0::2] + block[:, 1::2]  # r0 + r1, r2 + r3, r4 + r5, r6 + r7
            s = np.add(pairs[:, 0] + pairs[:, 1], pairs[:, 2] + pairs[:, 3], out=out)
            for j in range(whole, k):
                s += x[:, j]
        else:
            whole = k - k % 8
            r = [x[:, j] + x[:, 8 + j] for j in range(8)] if whole > 8 else [x[:, j] for j in range(8)]
            for i in range(16, whole, 8):
                for j in range(8):
                    r[j] += x[:, i + j]
            s = np.add(r[0], r[1], out=out)
            s += r[2] + r[3]
            s += (r[4] + r[5]) + (r[6] + r[7])
            for j in range(whole, k):
                s += x[:, j]
        s += 0.0
        return s
    return _reduce(x, axis, out=out)


#: Rows of fewer columns than this are summed column by column (:func:`row_sum`).
_COLUMN_SUMS = 25


def by_columns(x: np.ndarray) -> np.ndarray:
    """``x`` (analyses x studies) stored column by column when :func:`row_sum` sums its rows
    column by column (fewer than :data:`_COLUMN_SUMS` studies, 64 analyses or more): each
    study's column is then contiguous, so that the row sums and every operation that
    broadcasts a value per analysis over its studies run over contiguous memory instead of
    rows of a few cells.  The values are the same; arithmetic on them gives the same bits in
    either order (the row sums by :func:`row_sum`).  One copy of the array, a fraction of
    one row sum's cost on rows."""
    if x.ndim == 2 and 1 < x.shape[1] < _COLUMN_SUMS and x.shape[0] >= 64 and x.strides[1] != 0:
        return np.asfortranarray(x)
    return x


class _InterceptProjection:
    """P = W - w w'/sum(w) for the intercept-only design (w zero outside the mask)."""

    __slots__ = ("w", "sw", "_w2", "_trace", "_traces")

    def __init__(self, w, sw=None):
        self.w = w
        self.sw = row_sum(w, -1) if sw is None else sw
        self._w2 = None
        self._trace = None
        self._traces = None

    def squares(self):
        """w² and its row sums, computed once for the traces (w² itself, None once
        :meth:`traces` has formed w³ in its array)."""
        if self._w2 is None:
            # np.square: the bits of w * w (one rounding of the same product) in half its time
            w2 = np.square(self.w)
            self._w2 = (w2, row_sum(w2, -1))
        return self._w2

    def fitted(self, z):
        """The weighted mean of ``z`` (the fitted value of every study), per analysis (or of
        one analysis' 1-D arrays)."""
        return (row_sum(self.w * z, -1) / self.sw)[..., None]

    def apply(self, z):
        """P z, the weighted residuals of ``z``."""
        return self.w * (z - self.fitted(z))

    def quad(self, z):
        """z'P z: Q when w = 1/v, the generalised Q when w = 1/(v + tau²)."""
        r = z - self.fitted(z)
        return row_sum(self.w * r * r, -1)

    def residuals(self, z):
        """P z and z'P z in one pass."""
        e = z - self.fitted(z)
        r = self.w * e
        return r, row_sum(r * e, -1)

    def rpr(self, r):
        """r'P r for a vector r = P z (the observed information of the likelihood equations)."""
        return row_sum(self.w * r * r, -1) - row_sum(self.w * r, -1) ** 2 / self.sw

    def trace(self):
        """tr(P), computed once (the estimate of tau² and its standard error both need it)."""
        if self._trace is None:
            self._trace = self.sw - self.squares()[1] / self.sw
        return self._trace

    def trace_pp(self):
        return self.traces()[1]

    def traces(self):
        """tr(P) and tr(PP) together (they share sum w²), computed once: w³ is formed in the
        array of w², which nothing reads again (only its sums are kept)."""
        if self._traces is None:
            w2, s2 = self.squares()
            tr_p = self.trace()
            w3 = np.multiply(w2, self.w, out=w2)
            self._w2 = (None, s2)
            self._traces = (tr_p, s2 - 2 * row_sum(w3, -1) / self.sw + s2 ** 2 / self.sw ** 2)
        return self._traces

    def trace_v(self, v):
        """tr(P V) with V = diag(v)."""
        return row_sum(self.w * v, -1) - row_sum(self.w * self.w * v, -1) / self.sw

    def logdet(self):
        """log det(X'W X), the REML likelihood's term for the fixed effects."""
        return np.log(self.sw)


class _MatrixProjection:
    """P = W - W X (X'W X)^-1 X'W, formed explicitly for each analysis."""

    __slots__ = ("w", "sw", "xwx", "p")

    def __init__(self, w, X):
        self.w = w
        self.sw = row_sum(w, -1)
        wx = w[:, :, None] * X
        self.xwx = np.swapaxes(X, -1, -2) @ wx
        self.p = -(wx @ np.linalg.inv(self.xwx) @ np.swapaxes(wx, -1, -2))
        idx = np.arange(w.shape[-1])
        self.p[:, idx, idx] += w

    def apply(self, z):
        return np.einsum("...ij,...j->...i", self.p, z)

    def quad(self, z):
        return row_sum(self.apply(z) * z, -1)

    def residuals(self, z):
        r = self.apply(z)
        return r, row_sum(r * z, -1)

    def rpr(self, r):
        return row_sum(self.apply(r) * r, -1)

    def trace(self):
        return np.trace(self.p, axis1=-2, axis2=-1)

    def trace_pp(self):
        return (self.p * self.p).sum((-2, -1))

    def traces(self):
        return self.trace(), self.trace_pp()

    def trace_v(self, v):
        return row_sum(np.diagonal(self.p, axis1=-2, axis2=-1) * v, -1)

    def logdet(self):
        return np.linalg.slogdet(self.xwx)[1]


class Intercept:
    """The design of a model without moderators: one column of ones, never materialised."""

    p = 1
    name = "intercept"

    def project(self, w, sw=None) -> _InterceptProjection:
        """The projection at weights ``w`` (analyses x studies, zero outside the mask);
        ``sw``, their row sums, when the caller has them."""
        return _InterceptProjection(w, sw)

    def take(self, rows) -> "Intercept":
        return self

    def centre(self, y, mask):
        """The outcomes the estimators work on: y itself (centring does not change P y when
        the design holds the intercept, and the kernel is spared a pass over the data)."""
        return y


class Matrix:
    """A design matrix X of shape (studies, p), shared by every analysis, or (analyses, studies, p)."""

    name = "matrix"

    def __init__(self, X):
        X = np.asarray(X, float)
        if X.ndim == 2:
            X = X[None]
        self.X = X
        self.p = X.shape[-1]

    def project(self, w, sw=None) -> _MatrixProjection:
        return _MatrixProjection(w, self.X)

    def take(self, rows) -> "Matrix":
        return self if self.X.shape[0] == 1 else Matrix(self.X[rows])

    def centre(self, y, mask):
        """The outcomes minus their (unweighted) mean, as metafor's ``rma.uni`` estimates tau²
        from them with moderators (y'P y changes only when X does not span the intercept)."""
        k = row_sum(mask, -1)
        return np.where(mask > 0, y - (row_sum(mask * y, -1) / k)[:, None], 0.0)


#: the intercept-only design (it holds nothing: one serves every analysis)
_INTERCEPT = Intercept()


def design_of(X) -> Intercept | Matrix:
    """The design for ``X``: None, or a single column of ones, is the intercept-only model."""
    if X is None:
        return _INTERCEPT
    X = np.asarray(X, float)
    if X.shape[-1] == 1 and bool(np.all(X == 1.0)):
        return Intercept()
    return Matrix(X)
