"""Mixed-effects meta-regression: moderators, tau² with a design matrix, Wald or Knapp-Hartung tests.

The model is y_i = x_i'b + u_i + e_i with u_i ~ N(0, tau²) and e_i ~ N(0, v_i)
(Raudenbush 2009, in *The Handbook of Research Synthesis and Meta-Analysis*, 2nd ed.,
pp. 295-315).  tau² is estimated by metafor's ``rma.uni`` definitions for a model with
moderators (DL, HE, HS, SJ, PM, ML, REML, EB), coefficients by weighted least squares
with weights 1/(v_i + tau²).  Tests are Wald-z or Knapp & Hartung's (2003, Stat Med
22:2693) t and F tests with the scale factor s² = sum w_i e_i² / (k - p).  The omnibus
test of moderators (QM), the test of residual heterogeneity (QE), metafor's I² and H²
for the residual heterogeneity and the pseudo R² (proportional reduction of tau²
against the intercept-only model) are reported as metafor does.

Moderators are columns of the result (its covariates, or data columns such as ``n``), given as an R
formula string read by formulaic (``"~ year + design"``, ``"~ factor(alloc) + ablat"``,
``"~ ablat * year"`` and ``"~ ablat:year"`` for interactions, ``"~ I(ablat^2)"``,
``"~ relevel(factor(alloc), ref = \"random\")"`` for another reference level, ``log()``,
``"~ ablat - 1"`` without intercept), a list of column names or a mapping of names to
arrays.  A column whose values are all numbers is numeric; any other column, or one
wrapped in ``factor()``, is categorical with treatment contrasts against its first level
(sorted as R's ``factor()`` does).  Coefficients are named as metafor names them
(``intrcpt``, ``factor(alloc)random``, ``ablat:year``).  Studies with a missing moderator
are dropped with a warning that names them and the column.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from scipy import special

from . import _dist
from .exceptions import ConvergenceWarning, DataError, MetaReviewWarning, SettingsError
from ._format import Reportable, fmt as _f, fmt_p as _p, fmt_peq as _peq, num as _num

__all__ = ["metareg", "MetaRegression", "rma_fit", "tau2_mods", "RmaFit", "design_matrix", "Design",
           "METAREG_TAU2", "METAREG_TESTS"]

METAREG_TAU2 = ("DL", "HE", "HS", "SJ", "PM", "ML", "REML", "EB", "FE")
METAREG_TESTS = ("z", "knha", "t")


# ---------------------------------------------------------------------------------------
# the numerical core: one model with a design matrix
# ---------------------------------------------------------------------------------------

def _wls(X, w):
    """(X'WX)^-1 and the projection P = W - W X (X'WX)^-1 X'W."""
    WX = X * w[:, None]
    inv = np.linalg.inv(X.T @ WX)
    P = np.diag(w) - WX @ inv @ WX.T
    return inv, P


def _ll(y, v, X, tau2, reml):
    w = 1 / (v + tau2)
    inv, _ = _wls(X, w)
    b = inv @ (X.T @ (w * y))
    rss = float(np.sum(w * (y - X @ b) ** 2))
    k, p = X.shape
    if reml:
        sign, logdet = np.linalg.slogdet(X.T @ (X * w[:, None]))
        return -0.5 * (k - p) * np.log(2 * np.pi) - 0.5 * np.sum(np.log(v + tau2)) - 0.5 * logdet - 0.5 * rss
    return -0.5 * k * np.log(2 * np.pi) - 0.5 * np.sum(np.log(v + tau2)) - 0.5 * rss


def tau2_mods(y, v, X, method: str = "REML", *, tol: float = 1e-12, maxiter: int = 10000):
    """tau² of a meta-regression with design matrix ``X`` by metafor's definitions.

    Returns ``(tau2, iterations, converged)``.  As metafor's ``rma.uni``, the estimators
    work on the mean-centred outcomes; ML, REML and EB start from the HE estimate and use
    Fisher scoring with step halving at zero; ML and REML are set to zero when the
    likelihood at zero is higher; PM solves the generalised Q = k - p.
    """
    method = str(method).upper()
    if method not in METAREG_TAU2:
        raise SettingsError(f"unknown tau² estimator {method!r} for meta-regression; valid estimators are: "
                            f"{', '.join(METAREG_TAU2)}")
    y = np.asarray(y, float)
    v = np.asarray(v, float)
    X = np.asarray(X, float)
    k, p = X.shape
    ymc = y - y.mean()
    if method == "FE":
        return 0.0, 0, True
    it, conv = 0, True

    def rss_at(t):
        _, P = _wls(X, 1 / (v + t))
        return float(ymc @ P @ ymc)

    if method in ("DL", "HS"):
        w = 1 / v
        _, P = _wls(X, w)
        rss = float(ymc @ P @ ymc)
        tau2 = (rss - (k - p)) / np.trace(P) if method == "DL" else (rss - k) / w.sum()
    elif method == "SJ":
        t0 = float(np.var(y, ddof=1) * (k - 1) / k)
        tau2 = t0 * rss_at(t0) / (k - p)
    elif method == "PM":
        target = k - p
        if rss_at(0.0) < target:
            tau2 = 0.0
        else:
            lo, hi = 0.0, max(1.0, 10 * float(np.var(y)))
            while rss_at(hi) > target:
                lo, hi = hi, hi * 4
                if hi > 1e12:
                    break
            tau2 = 0.5 * (lo + hi)
            conv = False
            for it in range(1, maxiter + 1):
                f = rss_at(tau2) - target
                if f > 0:
                    lo = tau2
                else:
                    hi = tau2
                w = 1 / (v + tau2)
                _, P = _wls(X, w)
                Py = P @ ymc
                d = -float(Py @ Py)  # derivative of y'P(t)y
                new = tau2 - f / d if d != 0 else 0.5 * (lo + hi)
                if not lo < new < hi:
                    new = 0.5 * (lo + hi)
                done = abs(new - tau2) <= tol * (1 + abs(tau2)) or (hi - lo) <= tol * (1 + hi)
                tau2 = new
                if done:
                    conv = True
                    break
    else:  # HE, and the start of ML, REML, EB
        H = X @ np.linalg.inv(X.T @ X) @ X.T
        P = np.eye(k) - H
        rss = float(ymc @ P @ ymc)
        tau2 = (rss - float(np.trace(P * v[None, :]))) / (k - p)
        if method in ("ML", "REML", "EB"):
            tau2 = max(0.0, tau2)
            conv = False
            for it in range(1, maxiter + 1):
                w = 1 / (v + tau2)
                _, P = _wls(X, w)
                Py = P @ ymc
                if method == "ML":
                    adj = (float(Py @ Py) - w.sum()) / float((w * w).sum())
                elif method == "REML":
                    PP = P @ P
                    adj = (float(Py @ Py) - np.trace(P)) / np.trace(PP)
                else:
                    adj = (float(ymc @ Py) * k / (k - p) - k) / w.sum()
                if not np.isfinite(adj):
                    adj = 0.0
                while tau2 + adj < 0:
                    adj /= 2
                    if abs(adj) < 1e-300:
                        adj = 0.0
                        break
                old = tau2
                tau2 = tau2 + adj
                if abs(tau2 - old) <= tol:
                    conv = True
                    break
            if conv and method in ("ML", "REML") and tau2 > 0:
                reml = method == "REML"
                if _ll(y, v, X, 0.0, reml) - _ll(y, v, X, tau2, reml) > tol and tau2 > tol:
                    tau2 = 0.0
    tau2 = max(0.0, float(tau2)) if np.isfinite(tau2) else 0.0
    return tau2, it, conv


@dataclass(frozen=True)
class RmaFit:
    """One fitted (meta-)regression model: coefficients, their covariance, tests, heterogeneity."""

    names: tuple
    beta: np.ndarray
    vb: np.ndarray
    se: np.ndarray
    statistic: np.ndarray
    p: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    ddf: float | None
    tau2: float
    s2w: float
    qm: float
    qm_df: tuple
    qm_p: float
    qe: float
    qe_df: int
    qe_p: float
    i2: float
    h2: float
    k: int
    method: str
    test: str
    level: float
    converged: bool
    iterations: int
    weights: np.ndarray   # 1 / (v + tau2)
    btt: tuple


def rma_fit(y, v, X, *, method: str = "REML", test: str = "z", level: float = 0.95,
            names: Sequence[str] | None = None, intercept: bool = True, tau2: float | None = None,
            tol: float = 1e-12, maxiter: int = 10000) -> RmaFit:
    """Fit y = Xb + u + e as metafor's ``rma.uni(yi, vi, mods = X, intercept = FALSE)``.

    ``intercept`` says whether the first column of ``X`` is the intercept (then QM tests
    the other coefficients, as metafor's default ``btt``).  ``tau2`` fixes tau².
    """
    test = str(test).lower()
    if test not in METAREG_TESTS:
        raise SettingsError(f"unknown test {test!r}; valid tests are: {', '.join(METAREG_TESTS)}")
    y = np.asarray(y, float)
    v = np.asarray(v, float)
    X = np.asarray(X, float)
    k, p = X.shape
    method = str(method).upper()
    if tau2 is None:
        t2, iters, conv = tau2_mods(y, v, X, method, tol=tol, maxiter=maxiter)
        if not conv:
            warnings.warn(f"the {method} estimator of tau² did not converge in {maxiter} iterations; "
                          "the last iterate is reported", ConvergenceWarning, stacklevel=3)
    else:
        t2, iters, conv = float(tau2), 0, True
    w = 1 / (v + t2)
    inv, _ = _wls(X, w)
    beta = inv @ (X.T @ (w * y))
    s2w = 1.0
    if test == "knha":
        rss = float(np.sum(w * (y - X @ beta) ** 2))
        s2w = 0.0 if rss <= np.finfo(float).eps else rss / (k - p)
    vb = s2w * inv
    se = np.sqrt(np.diag(vb))
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = beta / se
    btt = tuple(range(1, p)) if (intercept and p > 1) else tuple(range(p))
    m = len(btt)
    bb = beta[list(btt)]
    try:
        qm = float(bb @ np.linalg.solve(vb[np.ix_(btt, btt)], bb))
    except np.linalg.LinAlgError:
        qm = float("nan")
    ddf = k - p if test in ("knha", "t") else None
    alpha = 1 - level
    if test in ("knha", "t"):
        qm = qm / m
        qm_df = (m, k - p)
        qm_p = float(special.fdtrc(m, k - p, qm)) if k - p > 0 else float("nan")
        pv = 2 * _dist.t_sf(np.abs(stat), k - p) if k - p > 0 else np.full(p, np.nan)
        crit = float(_dist.t_ppf(1 - alpha / 2, k - p)) if k - p > 0 else float("nan")
    else:
        qm_df = (m, None)
        qm_p = float(_dist.chi2_sf(qm, m))
        pv = 2 * _dist.norm_sf(np.abs(stat))
        crit = float(_dist.norm_ppf(1 - alpha / 2))
    if k > p:
        w0 = 1 / v
        _, P0 = _wls(X, w0)
        ymc = y - y.mean()  # metafor 3.8-1 computes QE from mean-centred outcomes
        qe = max(0.0, float(ymc @ P0 @ ymc))
        qe_p = float(_dist.chi2_sf(qe, k - p))
        vt = (k - p) / np.trace(P0)
        if method == "FE":
            i2 = max(0.0, 100 * (qe - (k - p)) / qe) if qe > 0 else 0.0
            h2 = qe / (k - p)
        else:
            i2 = 100 * t2 / (vt + t2)
            h2 = t2 / vt + 1
    else:
        qe, qe_p, i2, h2 = 0.0, 1.0, 0.0, 1.0
    nm = tuple(names) if names is not None else tuple(f"x{j}" for j in range(p))
    return RmaFit(names=nm, beta=beta, vb=vb, se=se, statistic=stat, p=np.asarray(pv, float),
                  ci_low=beta - crit * se, ci_high=beta + crit * se, ddf=ddf, tau2=t2, s2w=s2w,
                  qm=qm, qm_df=qm_df, qm_p=qm_p, qe=qe, qe_df=k - p, qe_p=qe_p, i2=i2, h2=h2, k=k,
                  method=method, test=test, level=level, converged=bool(conv), iterations=int(iters),
                  weights=w, btt=btt)


# ---------------------------------------------------------------------------------------
# moderators: formula, coding, missing values
# ---------------------------------------------------------------------------------------

# R formula syntax read by formulaic (https://matthewwardrop.github.io/formulaic/): R's
# ``factor(x)`` and ``relevel(factor(x), ref = "B")`` become formulaic's ``C()`` with
# treatment contrasts, ``I(x^2)`` its ``I(x**2)``; interactions (``a:b``, ``a*b``), ``- 1``
# and ``+ 0`` are the same in both.  Coefficient names are then written as R (and metafor)
# write them: ``intrcpt``, ``ablat``, ``factor(alloc)random``, ``ablat:year``, ``I(ablat^2)``.
_RELEVEL = re.compile(r"""relevel\(\s*(?:factor\(\s*(?P<a>[^()]+?)\s*\)|(?P<b>[^(),]+?))\s*,\s*ref\s*=\s*
                          (?:"(?P<r1>[^"]*)"|'(?P<r2>[^']*)'|(?P<r3>[^)\s]+))\s*\)""", re.X)
_FACTOR = re.compile(r"\bfactor\(\s*([^()]+?)\s*\)")
_I_TERM = re.compile(r"\bI\(")
#: functions of a column a formula may use, as R names them
_FUNCTIONS = {"log": np.log, "log2": np.log2, "log10": np.log10, "exp": np.exp, "sqrt": np.sqrt}


def _python_formula(formula: str) -> tuple[str, dict[str, str]]:
    """The formulaic spelling of an R formula, and the R name of each categorical factor."""
    text = formula.strip()
    if text.startswith("~"):
        text = text[1:]
    if not text.strip():
        raise SettingsError(f"the formula {formula!r} has no terms")
    prefixes: dict[str, str] = {}

    def relevel(m):
        col = (m.group("a") or m.group("b")).strip()
        ref = next(g for g in (m.group("r1"), m.group("r2"), m.group("r3")) if g is not None)
        expr = f"C({col}, contr.treatment({ref!r}))"
        prefixes[expr] = f'relevel(factor({col}), ref = "{ref}")'
        return expr

    def factor(m):
        col = m.group(1).strip()
        prefixes[f"C({col})"] = f"factor({col})"
        return f"C({col})"

    text = _FACTOR.sub(factor, _RELEVEL.sub(relevel, text))
    # R's power operator inside I(): x^2 is x**2 in Python (outside I() ^ has no meaning here)
    out, i = [], 0
    for m in _I_TERM.finditer(text):
        depth, j = 1, m.end()
        while j < len(text) and depth:
            depth += {"(": 1, ")": -1}.get(text[j], 0)
            j += 1
        out.append(text[i:m.end()] + text[m.end():j].replace("^", "**"))
        i = j
    out.append(text[i:])
    return "".join(out), prefixes


def _r_expression(expr: str) -> str:
    """formulaic's text of an ``I()`` or function term as R deparses it (``I(ablat^2)``,
    ``I(ablat/10)``, ``I(year - 1900)``)."""
    return re.sub(r"\s*\*\*\s*", "^", re.sub(r"\s*/\s*", "/", expr))


def _r_names(spec, prefixes: dict[str, str]) -> list[str]:
    """metafor's coefficient names for the columns of a formulaic model matrix."""
    names = list(spec.column_names)
    for term, idx in spec.term_indices.items():
        factors = [str(f.expr) for f in term.factors]
        for j in idx:
            col = str(spec.column_names[j])
            if factors == ["1"]:
                names[j] = "intrcpt"
                continue
            parts, rest = [], col
            for n, fx in enumerate(factors):
                if not rest.startswith(fx):  # pragma: no cover - formulaic writes its own factor names
                    raise SettingsError(f"cannot name the coefficient {col!r}")
                rest = rest[len(fx):]
                level = ""
                if rest.startswith("["):
                    end = rest.index("]:") if n < len(factors) - 1 else len(rest) - 1
                    level = rest[1:end]
                    rest = rest[end + 1:]
                    level = level[2:] if level.startswith("T.") else level
                    num = _as_number(level)
                    level = _fmt_level(num) if num is not None else level
                rest = rest[1:] if rest.startswith(":") else rest
                if fx in prefixes:            # factor(x), relevel(factor(x), ref = ...)
                    prefix = prefixes[fx]
                elif "(" in fx:               # I(...), log(...)
                    prefix = _r_expression(fx)
                else:                         # a column (categorical ones get their levels)
                    prefix = fx
                parts.append(prefix + level)
            names[j] = ":".join(parts)
    return names


@dataclass(frozen=True)
class Term:
    """A column a model uses: numeric, or categorical with its levels (the first is the
    reference of treatment contrasts, sorted as R's ``factor()`` sorts them)."""

    column: str
    kind: str                 # "numeric" | "factor"
    levels: tuple = ()


def _variable(column: str, values, in_factor: bool, labels) -> tuple[Term, Any]:
    """How a column enters formulaic: numbers, or an ordered categorical (R's level order)."""
    import pandas as pd

    vals = list(values)
    nums = [_as_number(x) for x in vals]
    if all(n is not None for n in nums):
        return Term(column, "numeric", tuple(sorted(set(nums)))), np.array(nums, float)
    if not in_factor and any(n is not None for n in nums) and sum(n is not None for n in nums) >= len(nums) / 2:
        bad = [str(labels[i]) for i, n in enumerate(nums) if n is None]
        raise DataError(f"moderator {column!r} is mostly numeric but has non-numeric values in "
                        f"{', '.join(bad)}; correct them, or use factor({column}) for a categorical moderator",
                        study=bad[0], column=column, rule="numeric moderator")
    levels = _levels(vals)
    if len(levels) < 2:
        raise DataError(f"moderator {column!r} has a single level ({_fmt_level(levels[0])}) among the studies "
                        "used: it cannot be estimated", column=column, rule="at least two levels")
    text = [str(x) for x in vals]
    return Term(column, "factor", tuple(levels)), pd.Categorical(text, categories=[str(lv) for lv in levels])


def formula_variables(formula: str) -> list[str]:
    """The data columns an R-style moderator formula uses, in order of appearance."""
    from formulaic import Formula

    text, _ = _python_formula(formula)
    try:
        found = Formula(text).required_variables
    except Exception as exc:  # formulaic's parser errors are not ours
        raise SettingsError(f"cannot read the formula {formula!r}: {exc}") from None
    names = {str(v) for v in found} - set(_FUNCTIONS) - {"C", "contr", "I", "np"}

    def first(name):
        m = re.search(rf"(?<![\w.`]){re.escape(name)}(?![\w`])", text)
        return m.start() if m else len(text)
    return sorted(names, key=lambda n: (first(n), n))


@dataclass(frozen=True)
class Design:
    """A model matrix with metafor's coefficient names and what is needed to build it again
    for new moderator values (``predict``)."""

    X: np.ndarray
    names: list
    terms: tuple
    intercept: bool
    spec: Any = field(repr=False, default=None)

    def matrix(self, columns: Mapping[str, Any], labels=None) -> np.ndarray:
        """The model matrix of other moderator values (levels as in the fitted data)."""
        import pandas as pd

        data = {}
        for t in self.terms:
            vals = list(columns[t.column])
            if t.kind == "numeric" and not all(_as_number(x) is not None for x in vals):
                bad = next(x for x in vals if _as_number(x) is None)
                raise DataError(f"moderator {t.column!r} needs a number, not {bad!r}", column=t.column,
                                rule="numeric moderator")
            if t.kind == "factor":
                known = {str(lv) for lv in t.levels}
                bad = [x for x in vals if str(x) not in known]
                if bad:
                    raise DataError(f"unknown level {bad[0]!r} of moderator {t.column!r}; levels are: "
                                    f"{', '.join(map(_fmt_level, t.levels))}", column=t.column,
                                    rule="known factor level")
                data[t.column] = pd.Categorical([str(x) for x in vals], categories=[str(lv) for lv in t.levels])
            else:
                data[t.column] = np.array([_as_number(x) for x in vals], float)
        mm = self.spec.get_model_matrix(pd.DataFrame(data), context=_FUNCTIONS)
        return np.asarray(mm, float)


def design_matrix(columns: Mapping[str, Any], formula: str, labels) -> Design:
    """The model matrix of an R-style formula over ``columns`` (name -> values), through
    formulaic, with metafor's coefficient names."""
    import pandas as pd
    from formulaic import model_matrix

    text, prefixes = _python_formula(formula)
    used = formula_variables(formula)
    in_factor = {c for c in used if re.search(rf"C\(\s*{re.escape(c)}\s*[,)]", text)}
    terms, data = [], {}
    for col in used:
        term, values = _variable(col, columns[col], col in in_factor, labels)
        terms.append(term)
        data[col] = values
    try:
        mm = model_matrix(text, pd.DataFrame(data), context=_FUNCTIONS, ensure_full_rank=True)
    except Exception as exc:  # formulaic's evaluation errors are not ours
        raise SettingsError(f"cannot build the model {formula!r}: {exc}") from None
    spec = mm.model_spec
    X = np.asarray(mm, float)
    if X.shape[1] == 0:
        raise SettingsError("the model has no coefficients")
    names = _r_names(spec, prefixes)
    intercept = any(str(t) == "1" for t in spec.terms)
    return Design(X, names, tuple(terms), intercept, spec)


def _check_rank(X, names, k):
    p = X.shape[1]
    if p >= k:
        raise DataError(f"the model has {p} coefficients ({', '.join(names)}) but only {k} studies: at least "
                        f"{p + 1} studies are needed (fewer moderators or more studies)",
                        rule="more studies than coefficients")
    rank = 0
    for j in range(p):
        r = np.linalg.matrix_rank(X[:, : j + 1])
        if r == rank:
            raise DataError(f"coefficient {names[j]!r} is collinear with the ones before it (a linear "
                            f"combination of {', '.join(names[:j]) or 'nothing'}): drop its moderator or one "
                            "of them", column=names[j], rule="collinear moderators")
        rank = r


def _missing(x) -> bool:
    if x is None:
        return True
    if isinstance(x, str):
        # what spreadsheets and R write for an empty cell ("N/A" is no subgroup level)
        return x.strip() == "" or x.strip().upper() in ("NA", "N/A", "NAN", "NULL")
    try:
        return bool(np.isnan(x))
    except (TypeError, ValueError):
        return False


def _as_number(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def _levels(values) -> list:
    """Levels sorted as R's factor(): numerically when all values are numbers, else as text."""
    nums = [_as_number(x) for x in values]
    if all(n is not None for n in nums):
        uniq = sorted(set(nums))
        return uniq
    return sorted({str(x) for x in values})


def _fmt_level(lv) -> str:
    if isinstance(lv, float) and lv.is_integer():
        return str(int(lv))
    return str(lv)


def study_columns(result) -> dict:
    """The columns of a result that analyses may use: its data roles (``n``, ``events``, ...) and covariates."""
    cols = {c: np.asarray(v, dtype=object) for c, v in (getattr(result, "data", {}) or {}).items()}
    cols.update({c: np.asarray(v, dtype=object) for c, v in (getattr(result, "covariates", {}) or {}).items()})
    return cols


def _resolve_mods(result, mods) -> tuple[dict, str]:
    """The moderator columns a model uses (name -> values over all studies) and its formula."""
    cov = study_columns(result)
    if isinstance(mods, str):
        text = mods.strip() if mods.strip().startswith("~") else "~ " + mods.strip()
        columns = {}
        for name in formula_variables(text):
            if name not in cov:
                raise DataError(f"moderator {name!r} is not a column of the data; columns are: "
                                f"{', '.join(cov) or '(none)'}", column=name, rule="missing column")
            columns[name] = np.asarray(cov[name], dtype=object)
        return columns, text
    if isinstance(mods, Mapping) or hasattr(mods, "columns"):
        names = list(mods.columns) if hasattr(mods, "columns") else list(mods.keys())
        columns = {str(n): np.asarray(mods[n], dtype=object).ravel() for n in names}
        for n, c in columns.items():
            if c.size != result.k_all:
                raise DataError(f"moderator {n!r} has {c.size} values for {result.k_all} studies", column=n,
                                rule="one value per study")
        return columns, "~ " + " + ".join(_quoted(n) for n in columns)
    if isinstance(mods, Sequence):
        return _resolve_mods(result, "~ " + " + ".join(_quoted(str(m)) for m in mods))
    raise SettingsError("mods must be a formula string ('~ year + design'), a list of column names or a "
                        "mapping of names to values")


def _quoted(name: str) -> str:
    """A column name as a formula term (backticks around one that is not an identifier)."""
    return name if name.isidentifier() else f"`{name}`"


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
                raise SettingsError(f"newmods needs {want} values per row ({', '.join(self.names[1 if self.intercept else 0:])})")
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

    def report(self):
        from .report import Heading, Paragraph, Report, Table
        f = self.fit
        rep = Report()
        rep.add(Heading(f"Meta-regression {self.formula}", 2))
        rep.add(Paragraph(f"Mixed-effects model (k = {f.k}; τ² estimator: {f.method}; "
                          f"{'Knapp-Hartung t and F tests' if f.test == 'knha' else 'Wald z tests'})\n"
                          f"τ² (residual) = {_f(f.tau2)}; τ = {_f(np.sqrt(f.tau2))}; "
                          f"I² (residual) = {_f(f.i2, 2)}%; H² = {_f(f.h2, 2)}"
                          + (f"; R^2 (amount of heterogeneity accounted for) = {_f(self.r2, 2)}%"
                             if self.r2 is not None else "")))
        rep.add(Paragraph(f"Test for residual heterogeneity: QE = {_f(f.qe, 2)}, df = {f.qe_df}, p {_peq(f.qe_p)}\n"
                          + (f"Test of moderators: F({f.qm_df[0]}, {f.qm_df[1]}) = {_f(f.qm, 4)}, p {_peq(f.qm_p)}"
                             if f.ddf is not None else
                             f"Test of moderators: QM = {_f(f.qm, 4)}, df = {f.qm_df[0]}, p {_peq(f.qm_p)}")))
        pct = int(round(f.level * 100))
        rows = [[n, _f(f.beta[j]), _f(f.se[j]), _f(f.statistic[j], 3), _p(f.p[j]),
                 f"[{_f(f.ci_low[j])}; {_f(f.ci_high[j])}]"] for j, n in enumerate(f.names)]
        rep.add(Table(["", "estimate", "se", "t" if f.ddf is not None else "z", "p-value", f"{pct}%-CI"], rows))
        if self.dropped or self.notes:
            rep.add(Paragraph("Notes:\n" + "\n".join("- " + n for n in self.notes)))
        return rep

    def influence(self):
        """Case-deletion diagnostics of the meta-regression (see :func:`metareview.influence.influence`)."""
        from .influence import influence
        return influence(self)

    def bubble(self, ax=None, **kwargs):
        """Bubble plot of the effects against one moderator (see :func:`metareview.plots.bubble.bubble`)."""
        from .plots.bubble import bubble
        return bubble(self, ax=ax, **kwargs)

def metareg(result, mods, *, method_tau2: str = "REML", test: str | None = None, level: float | None = None,
            control: Mapping[str, float] | None = None) -> MetaRegression:
    """Mixed-effects meta-regression of a pooled result on moderators (Raudenbush 2009).

    ``mods``: a formula string such as ``"~ ablat + factor(alloc)"`` (``- 1`` drops the
    intercept), a list of column names of ``result.covariates``, or a mapping of names to
    values.  ``method_tau2``: DL, HE, HS, SJ, PM, ML, REML (default), EB, or FE (no
    residual heterogeneity; then no pseudo R², which metafor takes from a weighted ``lm``).  ``test``: ``"z"`` or ``"knha"`` (Knapp & Hartung 2003); by
    default ``"knha"`` when the result uses Hartung-Knapp (``random_ci="hk"``), else ``"z"``.

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
    columns, text = _resolve_mods(result, mods)
    labels_all = np.asarray(result.studlab, dtype=object)
    use = np.asarray(result.included, bool).copy()
    notes = []
    dropped: list[str] = []
    for name, col in columns.items():
        miss = np.array([_missing(x) for x in col]) & use
        if miss.any():
            who = [str(s) for s in labels_all[miss]]
            msg = (f"{len(who)} stud{'y' if len(who) == 1 else 'ies'} dropped from the meta-regression "
                   f"for a missing value of moderator {name!r}: {', '.join(who)}")
            warnings.warn(msg, MetaReviewWarning, stacklevel=2)
            notes.append(msg)
            dropped.extend(who)
            use &= ~miss
    labels = labels_all[use]
    y, v = np.asarray(result.yi, float)[use], np.asarray(result.vi, float)[use]
    cols_used = {n: c[use] for n, c in columns.items()}
    if labels.size < 2:
        raise DataError(f"only {labels.size} stud{'y' if labels.size == 1 else 'ies'} with all moderators "
                        f"({', '.join(columns)}): a meta-regression needs more", rule="enough studies")
    design = design_matrix(cols_used, text, labels)
    X, names, terms, intercept = design.X, design.names, design.terms, design.intercept
    _check_rank(X, names, labels.size)
    fit = rma_fit(y, v, X, method=method_tau2, test=test, level=level, names=names, intercept=intercept,
                  tol=ctl["tol"], maxiter=int(ctl["maxiter"]))
    r2 = tau2_null = None
    if intercept and X.shape[1] > 1 and fit.method != "FE":
        tau2_null, _, _ = tau2_mods(y, v, np.ones((labels.size, 1)), fit.method, tol=ctl["tol"],
                                    maxiter=int(ctl["maxiter"]))
        r2 = 0.0 if tau2_null == 0 else max(0.0, 100 * (tau2_null - fit.tau2) / tau2_null)
    if labels.size < 10:
        notes.append(f"only {labels.size} studies for {X.shape[1]} coefficients: estimates are imprecise")
    return MetaRegression(result=result, formula=text, fit=fit, terms=tuple(terms), intercept=intercept,
                          studlab=labels, yi=y, vi=v, X=X, columns=cols_used, dropped=tuple(dropped),
                          r2=r2, tau2_null=tau2_null, notes=tuple(notes), design=design)
