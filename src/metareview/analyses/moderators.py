"""Moderators of a model: R formulas read by formulaic, design matrices with metafor's coefficient names.

Moderators are columns of a result (its covariates, or data columns such as ``n``), given
as an R formula string (``"~ year + design"``, ``"~ factor(alloc) + ablat"``,
``"~ ablat * year"``, ``"~ I(ablat^2)"``, ``"~ relevel(factor(alloc), ref = \"random\")"``,
``log()``, ``"~ ablat - 1"``), a list of column names or a mapping of names to arrays.  A
column whose values are all numbers is numeric; any other column, or one wrapped in
``factor()``, is categorical with treatment contrasts against its first level (sorted as
R's ``factor()`` does).  Coefficients are named as metafor names them (``intrcpt``,
``factor(alloc)random``, ``ablat:year``).  Used by meta-regression, subgroups with a
common tau² and the multilevel models.
"""

from __future__ import annotations

import functools
import re
import warnings
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from ..base.exceptions import DataError, MetaReviewWarning, SettingsError

__all__ = ["design_matrix", "Design", "Term", "formula_variables", "study_columns", "resolve_mods",
           "check_rank", "is_missing", "drop_missing", "as_number", "tau2_weights"]

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
                    level = _level_label(level[2:] if level.startswith("T.") else level)
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


def _term(column: str, values, in_factor: bool, labels) -> tuple[Term, list, list]:
    """How a column enters a model: numeric (all values numbers) or categorical with R's level
    order; the values as text and as numbers (None where not a number)."""
    vals = list(values)
    nums = [as_number(x) for x in vals]
    if all(n is not None for n in nums):
        return Term(column, "numeric", tuple(sorted(set(nums)))), vals, nums
    if not in_factor and any(n is not None for n in nums) and sum(n is not None for n in nums) >= len(nums) / 2:
        bad = [str(labels[i]) for i, n in enumerate(nums) if n is None]
        raise DataError(f"moderator {column!r} is mostly numeric but has non-numeric values in "
                        f"{', '.join(bad)}; correct them, or use factor({column}) for a categorical moderator",
                        study=bad[0], column=column, rule="numeric moderator")
    levels = _levels(vals)
    if len(levels) < 2:
        raise DataError(f"moderator {column!r} has a single level ({_fmt_level(levels[0])}) among the studies "
                        "used: it cannot be estimated", column=column, rule="at least two levels")
    return Term(column, "factor", tuple(levels)), vals, nums


def _variable(column: str, values, in_factor: bool, labels) -> tuple[Term, Any]:
    """How a column enters formulaic: numbers, or an ordered categorical (R's level order)."""
    import pandas as pd

    term, vals, nums = _term(column, values, in_factor, labels)
    if term.kind == "numeric":
        return term, np.array(nums, float)
    return term, pd.Categorical([str(x) for x in vals], categories=[str(lv) for lv in term.levels])


# ---------------------------------------------------------------------------------------

# Main effects only (``~ year + design``, ``~ factor(alloc) - 1``, ``~ 1``) are by far the
# most common moderator formulas, and for them formulaic's general machinery (parsing, then
# categorical encoding through pandas) costs several milliseconds per model, more than a
# multilevel fit itself: such formulas are read and encoded here, with the same columns, the
# same coefficient names and the same full-rank coding (without an intercept the first
# categorical term gets every level, as R's model.matrix codes it); tests compare both ways
# on every formula shape.  Anything else goes to formulaic.
_PLAIN_TERM = re.compile(r"(?:factor\(\s*(?P<fac>[A-Za-z_]\w*)\s*\)|(?P<col>[A-Za-z_]\w*)|(?P<const>[01]))")
#: names formulaic reads as functions or transforms, not columns
_RESERVED = frozenset(_FUNCTIONS) | {"C", "contr", "I", "np", "factor", "relevel"}


@functools.lru_cache(maxsize=512)
def _plain_terms(formula: str) -> tuple[bool, tuple[tuple[str, bool], ...]] | None:
    """``(intercept, ((column, written as factor()), ...))`` of a main-effects formula, or
    None when the formula has anything else (interactions, functions, ``I()``, ``relevel``)."""
    text = formula.strip()
    text = text[1:] if text.startswith("~") else text
    parts = re.split(r"\s*([+-])\s*", text.strip())
    if parts and parts[0] == "":
        parts = parts[1:]
    else:
        parts = ["+"] + parts
    if len(parts) < 2 or len(parts) % 2:
        return None
    intercept, terms, seen = True, [], set()
    for op, term in zip(parts[::2], parts[1::2]):
        m = _PLAIN_TERM.fullmatch(term)
        if m is None:
            return None
        if m.group("const") is not None:
            if op == "-" and m.group("const") == "1" or op == "+" and m.group("const") == "0":
                intercept = False
            elif op == "-":
                return None
            continue
        col = m.group("fac") or m.group("col")
        if op == "-" or col in seen or col in _RESERVED:
            return None
        seen.add(col)
        terms.append((col, m.group("fac") is not None))
    if not terms and not intercept:
        return None
    return intercept, tuple(terms)


def _plain_matrix(intercept: bool, coding: tuple, columns: Mapping[str, Any], n: int) -> np.ndarray:
    """The model matrix of a main-effects formula: ``coding`` holds, per term, its column and
    the levels that get an indicator column (None for a numeric column)."""
    out = [np.ones((n, 1))] if intercept else []
    for column, levels, _ in coding:
        vals = columns[column]
        if levels is None:
            out.append(np.array([as_number(x) for x in vals], float).reshape(n, 1))
            continue
        numeric = isinstance(levels[0], float)
        keys = [as_number(x) if numeric else str(x) for x in vals]
        out.append(np.array([[key == lv for lv in levels] for key in keys], float).reshape(n, len(levels)))
    return np.hstack(out) if out else np.zeros((n, 0))


def _plain_design(columns: Mapping[str, Any], plain, labels) -> Design | None:
    """:func:`design_matrix` of a main-effects formula, or None to leave it to formulaic."""
    intercept, cols = plain
    terms: list[Term] = []
    coding: list[tuple[str, tuple | None, str]] = []
    names = ["intrcpt"] if intercept else []
    full = not intercept            # without an intercept the first categorical term is coded in full
    for col, in_factor in cols:
        term, _, _ = _term(col, columns[col], in_factor, labels)
        terms.append(term)
        if term.kind == "numeric" and not in_factor:
            coding.append((col, None, col))
            names.append(col)
            continue
        if len(term.levels) < 2:    # factor() of a constant column: formulaic says what it makes of it
            return None
        levels = term.levels if full else term.levels[1:]
        full = False
        prefix = f"factor({col})" if in_factor else col
        coding.append((col, tuple(levels), prefix))
        names.extend(prefix + _level_label(lv) for lv in levels)
    X = _plain_matrix(intercept, tuple(coding), columns, len(labels))
    return Design(X, names, tuple(terms), intercept, plain=(intercept, tuple(coding)))


def formula_variables(formula: str) -> list[str]:
    """The data columns an R-style moderator formula uses, in order of appearance."""
    return list(_formula_variables(formula))


@functools.lru_cache(maxsize=512)
def _formula_variables(formula: str) -> tuple[str, ...]:
    plain = _plain_terms(formula)
    if plain is not None:
        return tuple(col for col, _ in plain[1])
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
    return tuple(sorted(names, key=lambda n: (first(n), n)))


@dataclass(frozen=True)
class Design:
    """A model matrix with metafor's coefficient names and what is needed to build it again
    for new moderator values (``predict``)."""

    X: np.ndarray
    names: list
    terms: tuple
    intercept: bool
    spec: Any = field(repr=False, default=None)     # formulaic's ModelSpec
    plain: Any = field(repr=False, default=None)    # or the coding of a main-effects formula

    def matrix(self, columns: Mapping[str, Any], labels=None) -> np.ndarray:
        """The model matrix of other moderator values (levels as in the fitted data)."""
        values = {}
        for t in self.terms:
            vals = list(columns[t.column])
            if t.kind == "numeric" and not all(as_number(x) is not None for x in vals):
                bad = next(x for x in vals if as_number(x) is None)
                raise DataError(f"moderator {t.column!r} needs a number, not {bad!r}", column=t.column,
                                rule="numeric moderator")
            if t.kind == "factor":
                known = {str(lv) for lv in t.levels}
                bad = [x for x in vals if str(x) not in known]
                if bad:
                    raise DataError(f"unknown level {bad[0]!r} of moderator {t.column!r}; levels are: "
                                    f"{', '.join(map(_fmt_level, t.levels))}", column=t.column,
                                    rule="known factor level")
            values[t.column] = vals
        if self.plain is not None:
            intercept, coding = self.plain
            levels_of = {t.column: t.levels for t in self.terms}
            for column, levels, prefix in coding:
                if levels is not None and isinstance(levels[0], float):    # factor() of a numeric column
                    bad = [x for x in values[column] if as_number(x) not in levels_of[column]]
                    if bad:
                        raise DataError(f"unknown level {bad[0]!r} of moderator {prefix}; levels are: "
                                        f"{', '.join(map(_fmt_level, levels_of[column]))}", column=column,
                                        rule="known factor level")
            n = len(next(iter(values.values()))) if values else 1
            return _plain_matrix(intercept, coding, values, n)
        import pandas as pd

        data = {}
        for t in self.terms:
            vals = values[t.column]
            if t.kind == "factor":
                data[t.column] = pd.Categorical([str(x) for x in vals], categories=[str(lv) for lv in t.levels])
            else:
                data[t.column] = np.array([as_number(x) for x in vals], float)
        mm = self.spec.get_model_matrix(pd.DataFrame(data), context=_FUNCTIONS)
        return np.asarray(mm, float)


def design_matrix(columns: Mapping[str, Any], formula: str, labels) -> Design:
    """The model matrix of an R-style formula over ``columns`` (name -> values), with
    metafor's coefficient names (main-effects formulas read here, any other through formulaic)."""
    plain = _plain_terms(formula)
    if plain is not None:
        design = _plain_design(columns, plain, labels)
        if design is not None:
            return design
    return _formulaic_design(columns, formula, labels)


def _formulaic_design(columns: Mapping[str, Any], formula: str, labels) -> Design:
    """:func:`design_matrix` through formulaic (any formula)."""
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
    # the index carries the number of studies when no column does (``~ 1``, the intercept-only model)
    frame = pd.DataFrame(data, index=pd.RangeIndex(len(labels)))
    try:
        mm = model_matrix(text, frame, context=_FUNCTIONS, ensure_full_rank=True)
    except Exception as exc:  # formulaic's evaluation errors are not ours
        raise SettingsError(f"cannot build the model {formula!r}: {exc}") from None
    spec = mm.model_spec
    X = np.asarray(mm, float)
    if X.shape[1] == 0:
        raise SettingsError("the model has no coefficients")
    names = _r_names(spec, prefixes)
    intercept = any(str(t) == "1" for t in spec.terms)
    return Design(X, names, tuple(terms), intercept, spec)


def check_rank(X, names, k):
    p = X.shape[1]
    if p >= k:
        raise DataError(f"the model has {p} coefficients ({', '.join(names)}) but only {k} studies: at least "
                        f"{p + 1} studies are needed (fewer moderators or more studies)",
                        rule="more studies than coefficients")
    if np.linalg.matrix_rank(X) == p:
        return
    rank = 0                    # name the first coefficient that adds nothing to the ones before it
    for j in range(p):
        r = np.linalg.matrix_rank(X[:, : j + 1])
        if r == rank:
            raise DataError(f"coefficient {names[j]!r} is collinear with the ones before it (a linear "
                            f"combination of {', '.join(names[:j]) or 'nothing'}): drop its moderator or one "
                            "of them", column=names[j], rule="collinear moderators")
        rank = r


def is_missing(x) -> bool:
    if x is None:
        return True
    if isinstance(x, str):
        # what spreadsheets and R write for an empty cell ("N/A" is no subgroup level)
        return x.strip() == "" or x.strip().upper() in ("NA", "N/A", "NAN", "NULL")
    try:
        return bool(np.isnan(x))
    except (TypeError, ValueError):
        return False


def drop_missing(columns: Mapping[str, Any], labels, use, *, unit: tuple[str, str] = ("study", "studies"),
                 context: str = "", stacklevel: int = 3) -> tuple[np.ndarray, list[str], list[str]]:
    """Leave out the rows (of ``use``) with a missing value of a moderator, column by column, each
    time with a warning that names the column and the rows (``unit``: singular and plural).

    Returns the rows still used, the warnings (for the result's notes) and the labels dropped.
    """
    use = np.asarray(use, bool).copy()
    labels = np.asarray(labels, dtype=object)
    notes: list[str] = []
    dropped: list[str] = []
    for name, col in columns.items():
        miss = np.array([is_missing(x) for x in np.asarray(col, dtype=object).ravel()], bool) & use
        if miss.any():
            who = [str(s) for s in labels[miss]]
            msg = (f"{len(who)} {unit[len(who) != 1]} dropped{context} for a missing value of moderator "
                   f"{name!r}: {', '.join(who)}")
            warnings.warn(msg, MetaReviewWarning, stacklevel=stacklevel)
            notes.append(msg)
            dropped.extend(who)
            use &= ~miss
    return use, notes, dropped


def as_number(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def _levels(values) -> list:
    """Levels sorted as R's factor(): numerically when all values are numbers, else as text."""
    nums = [as_number(x) for x in values]
    if all(n is not None for n in nums):
        uniq = sorted(set(nums))
        return uniq
    return sorted({str(x) for x in values})


def _level_label(level) -> str:
    """A factor level as it ends a coefficient name (``design`` + ``RCT``; numbers as R prints them)."""
    num = as_number(level)
    return _fmt_level(num) if num is not None else str(level)


def _fmt_level(lv) -> str:
    if isinstance(lv, float) and lv.is_integer():
        return str(int(lv))
    return str(lv)


def study_columns(result) -> dict:
    """The columns of a result that analyses may use: its data roles (``n``, ``events``, ...) and covariates."""
    cols = {c: np.asarray(v, dtype=object) for c, v in (getattr(result, "data", {}) or {}).items()}
    cols.update({c: np.asarray(v, dtype=object) for c, v in (getattr(result, "covariates", {}) or {}).items()})
    return cols


def resolve_mods(result, mods) -> tuple[dict, str]:
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
        return resolve_mods(result, "~ " + " + ".join(_quoted(str(m)) for m in mods))
    raise SettingsError("mods must be a formula string ('~ year + design'), a list of column names or a "
                        "mapping of names to values")


def _quoted(name: str) -> str:
    """A column name as a formula term (backticks around one that is not an identifier)."""
    return name if name.isidentifier() else f"`{name}`"


def tau2_weights(result, method_tau2: str, use):
    """The user weights of the GENQ estimator of tau² for the studies ``use`` of a model with
    moderators: the result's column ``genq_weights`` (None for every other estimator)."""
    if str(method_tau2).upper() != "GENQ":
        return None
    weights = (getattr(result, "data", None) or {}).get("genq_weights")
    if weights is None:
        raise SettingsError("the GENQ estimator of tau² needs user weights: pool the result with genq_weights= "
                            "(or a column genq_weights, --col genq_weights=COLUMN) before fitting moderators")
    return np.asarray(weights, float)[use]
