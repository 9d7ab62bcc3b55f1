"""Named values of one pooled analysis: an interval, an estimate, heterogeneity, and the whole.

The batch kernel (:func:`metareview.pooling.inverse_variance.pool_arrays`) computes arrays
over analyses; these frozen types are one analysis' view of them, and what the likelihood
(GLMM) and fixed-cell (Mantel-Haenszel, Peto) methods produce:

* :class:`Interval` ``(low, high, level)``: a confidence or prediction interval;
* :class:`Estimate` ``(estimate, se, interval, statistic, p, df)``: a pooled estimate with
  its Wald-type test (statistic and p against the measure's null, NaN where there is none);
* :class:`Heterogeneity`: Cochran's Q and its test, tau² (with its Q-profile interval, its
  standard error and the estimator's convergence), tau, I² and H with their intervals
  (Higgins & Thompson 2002, Stat Med 21:1539);
* :class:`Pooled`: the values of one analysis (k, common, random, prediction,
  heterogeneity, study weights, method details).

Each ``to_dict()`` gives the shape of the ``pool`` JSON document (docs/json-contract.md).
Values compare NaN-aware (:func:`same`: a NaN equals a NaN, arrays compare element by
element), so two fits of the same data with the same settings are equal, and they hash
consistently with that equality.

:class:`Pooled` also reads as the mapping of the kernel's flat keys (``"random_estimate"``,
``"tau2_ci_low"``, ...), the layout that ``MetaResult.pooled`` has always offered.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import FrozenInstanceError, dataclass, replace
from typing import Any, ClassVar

import numpy as np

from ..base.deferred import Deferred
from ..base.format import num as _num

__all__ = ["FLAT_KEYS", "Estimate", "Heterogeneity", "Interval", "Pooled", "same", "value_hash"]


# ---------------------------------------------------------------------------------------
# NaN-aware equality and a hash consistent with it
# ---------------------------------------------------------------------------------------

def _is_nan(x) -> bool:
    return isinstance(x, (float, np.floating)) and math.isnan(x)


def same(a, b) -> bool:
    """Whether two values are the same value: NaN equals NaN, arrays compare element by
    element (``np.array_equal``, NaN-aware for floating arrays), dicts key by key, lists and
    tuples item by item; anything else with ``==``.  Never raises on arrays (``==`` on two
    arrays is an array, which ``bool()`` refuses)."""
    if a is b:
        return True
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)) or a.shape != b.shape:
            return False
        if a.dtype.kind in "fc" and b.dtype.kind in "fc":
            return bool(np.array_equal(a, b, equal_nan=True))
        if a.dtype.kind == "O" or b.dtype.kind == "O":
            return all(same(x, y) for x, y in zip(a.ravel().tolist(), b.ravel().tolist()))
        return bool(np.array_equal(a, b))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if _is_nan(a) or _is_nan(b):
        return _is_nan(a) and _is_nan(b)
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def _hashable(x):
    """``x`` as something hashable that equal values (by :func:`same`) map to equally."""
    if x is None or isinstance(x, (bool, int, str)):
        return x
    if isinstance(x, (float, np.floating)):
        return "nan" if math.isnan(x) else float(x)
    if isinstance(x, (np.integer, np.bool_)):
        return x.item()
    if isinstance(x, np.ndarray):
        return ("array", x.shape, tuple(_hashable(v) for v in x.ravel().tolist()))
    if isinstance(x, Mapping):
        return ("map", tuple(sorted((str(k), _hashable(v)) for k, v in x.items())))
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, tuple(_hashable(v) for v in x))
    return x


def value_hash(*parts) -> int:
    """A hash of ``parts`` consistent with :func:`same`: values that are the same (NaN
    included: ``hash(float("nan"))`` differs between NaN objects) hash the same."""
    return hash(tuple(_hashable(p) for p in parts))


class _Value:
    """NaN-aware ``==`` and a hash consistent with it, for the frozen dataclasses below."""

    __slots__ = ()
    __dataclass_fields__: ClassVar[dict]

    def _parts(self) -> tuple:
        return tuple(getattr(self, name) for name in self.__dataclass_fields__)

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return all(same(a, b) for a, b in zip(self._parts(), other._parts()))

    def __hash__(self):
        return value_hash(type(self).__name__, *self._parts())


# ---------------------------------------------------------------------------------------
# the value types
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False, slots=True)
class Interval(_Value):
    """An interval ``[low, high]`` at confidence (or prediction) ``level``; NaN bounds where
    it does not exist (a prediction interval from fewer than three studies, ...)."""

    low: float
    high: float
    level: float

    def map(self, f: Callable) -> Interval:
        """The interval with both bounds mapped by the increasing function ``f`` (a
        back-transformation: exp, inverse logit, ...)."""
        return Interval(float(f(self.low)), float(f(self.high)), self.level)

    def to_dict(self) -> dict:
        """``{low, high}``, the shape of the JSON ``prediction`` block (NaN as None)."""
        return {"low": _num(self.low), "high": _num(self.high)}


@dataclass(frozen=True, eq=False, slots=True)
class Estimate(_Value):
    """A pooled estimate on the analysis scale with its confidence interval and its test.

    ``statistic``/``p``: the z (or, under Hartung-Knapp, t) test against the measure's null
    value, NaN where the measure has none (single proportions and means, as R meta).
    ``df``: the degrees of freedom of a t reference distribution; NaN for a normal one, and
    None where the model reports none (the common-effect model: its JSON block has no
    ``df`` key).
    """

    estimate: float
    se: float
    interval: Interval
    statistic: float
    p: float
    df: float | None = None

    @property
    def ci_low(self) -> float:
        return self.interval.low

    @property
    def ci_high(self) -> float:
        return self.interval.high

    def backtransform(self, f: Callable) -> Estimate:
        """The estimate and its interval mapped to the natural scale by ``f`` (the measure's
        back-transformation, e.g. ``MetaResult.backtransform``).  The test is the analysis
        scale's (it does not change); the standard error has no natural-scale value (NaN)."""
        return Estimate(float(f(self.estimate)), math.nan, self.interval.map(f), self.statistic, self.p, self.df)

    def to_dict(self) -> dict:
        """``{estimate, se, ci_low, ci_high, statistic, p[, df]}``, the JSON ``common`` and
        ``random`` blocks (NaN as None; ``df`` only where the model has one)."""
        out = {"estimate": _num(self.estimate), "se": _num(self.se), "ci_low": _num(self.interval.low),
               "ci_high": _num(self.interval.high), "statistic": _num(self.statistic), "p": _num(self.p)}
        if self.df is not None:
            out["df"] = _num(self.df)
        return out


@dataclass(frozen=True, eq=False, slots=True)
class Heterogeneity(_Value):
    """Between-study heterogeneity of one analysis.

    Cochran's Q with ``df`` and its ``p``; ``tau2`` with its Q-profile interval (Viechtbauer
    2007, Stat Med 26:37), its standard error ``se_tau2`` (metafor's ``se.tau2``; None where
    the method has none, as GLMM) and the estimator's ``converged``/``iterations``; ``tau``;
    ``i2`` (percent) and ``h`` with their intervals (Higgins & Thompson 2002).
    """

    q: float
    df: int
    p: float
    tau2: float
    tau2_interval: Interval
    tau: float
    i2: float
    i2_interval: Interval
    h: float
    h_interval: Interval
    converged: bool = True
    iterations: int = 0
    se_tau2: float | None = None

    @property
    def tau_interval(self) -> Interval:
        """The interval of tau: the square roots of tau²'s bounds."""
        return self.tau2_interval.map(lambda v: math.sqrt(v) if v >= 0 else math.nan)

    def to_dict(self) -> dict:
        """The JSON ``heterogeneity`` block (NaN as None)."""
        return {"q": _num(self.q), "df": int(self.df), "p": _num(self.p),
                "tau2": _num(self.tau2), "tau2_ci_low": _num(self.tau2_interval.low),
                "tau2_ci_high": _num(self.tau2_interval.high), "tau": _num(self.tau),
                "i2": _num(self.i2), "i2_ci_low": _num(self.i2_interval.low),
                "i2_ci_high": _num(self.i2_interval.high),
                "h": _num(self.h), "h_ci_low": _num(self.h_interval.low), "h_ci_high": _num(self.h_interval.high),
                "tau2_converged": bool(self.converged), "tau2_iterations": int(self.iterations),
                "se_tau2": _num(self.se_tau2)}


# ---------------------------------------------------------------------------------------
# one analysis
# ---------------------------------------------------------------------------------------

#: The flat keys of one analysis (the kernel's fields; ``method_details`` where a method has them).
FLAT_KEYS = ("k", "common_estimate", "common_se", "common_ci_low", "common_ci_high", "common_statistic",
             "common_p", "random_estimate", "random_se", "random_ci_low", "random_ci_high",
             "random_statistic", "random_p", "random_df", "prediction_low", "prediction_high",
             "q", "q_df", "q_p", "tau2", "tau2_ci_low", "tau2_ci_high", "tau", "i2", "i2_ci_low",
             "i2_ci_high", "h", "h_ci_low", "h_ci_high", "tau2_iterations", "tau2_converged",
             "weight_common", "weight_random", "se_tau2")

_ESTIMATE_KEYS = {"estimate": lambda e: e.estimate, "se": lambda e: e.se, "ci_low": lambda e: e.interval.low,
                  "ci_high": lambda e: e.interval.high, "statistic": lambda e: e.statistic, "p": lambda e: e.p,
                  "df": lambda e: e.df}
_HET_KEYS = {"q": lambda h: h.q, "q_df": lambda h: h.df, "q_p": lambda h: h.p, "tau2": lambda h: h.tau2,
             "tau2_ci_low": lambda h: h.tau2_interval.low, "tau2_ci_high": lambda h: h.tau2_interval.high,
             "tau": lambda h: h.tau, "i2": lambda h: h.i2, "i2_ci_low": lambda h: h.i2_interval.low,
             "i2_ci_high": lambda h: h.i2_interval.high, "h": lambda h: h.h,
             "h_ci_low": lambda h: h.h_interval.low, "h_ci_high": lambda h: h.h_interval.high,
             "tau2_iterations": lambda h: h.iterations, "tau2_converged": lambda h: h.converged,
             "se_tau2": lambda h: h.se_tau2}
#: the keys whose values wait for a deferred fill of the heterogeneity (its intervals)
_DEFERRED = frozenset(("tau2_ci_low", "tau2_ci_high", "i2_ci_low", "i2_ci_high", "h_ci_low", "h_ci_high"))


def _of_model(model: str, get: Callable) -> Callable:
    return lambda p: get(getattr(p, model))


def _of_heterogeneity(key: str, get: Callable) -> Callable:
    if key in _DEFERRED:
        return lambda p: get(p.heterogeneity)
    return lambda p: get(p._heterogeneity)  # the other keys do not wait for the deferred intervals


_GETTERS: dict = {"k": lambda p: p.k, "prediction_low": lambda p: p.prediction.low,
                  "prediction_high": lambda p: p.prediction.high,
                  "weight_common": lambda p: p.weight_common, "weight_random": lambda p: p.weight_random,
                  "method_details": lambda p: p.method_details,
                  **{f"{model}_{key}": _of_model(model, get) for model in ("common", "random")
                     for key, get in _ESTIMATE_KEYS.items() if (model, key) != ("common", "df")},
                  **{key: _of_heterogeneity(key, get) for key, get in _HET_KEYS.items()}}
_FIELDS = ("k", "common", "random", "prediction", "heterogeneity", "weight_common", "weight_random",
           "method_details")
#: the slots of the fields that may hold a value computed on first read
_SLOTS = {"prediction": "_prediction", "weight_common": "_weight_common", "weight_random": "_weight_random"}


class Pooled(Mapping):
    """The pooled values of one analysis: ``k``, ``common`` and ``random``
    (:class:`Estimate`), ``prediction`` (:class:`Interval`), ``heterogeneity``
    (:class:`Heterogeneity`), the study weights in percent (``weight_common``,
    ``weight_random``: arrays over the studies, NaN where a study is not pooled; None where
    not computed) and ``method_details`` (GLMM, Mantel-Haenszel and Peto: what the method
    reports beyond these; None for inverse variance).

    Immutable: :meth:`replace` gives a copy with some values changed, which is how the
    GLMM, Mantel-Haenszel and Peto methods put their values in place of the kernel's.

    ``fill`` defers the intervals of the heterogeneity (the Q-profile interval of tau², what
    metafor computes in a separate ``confint()``, and the I² and H intervals): see
    :meth:`deferring`; it is called on first use of ``heterogeneity`` (or of one of its
    interval keys, or of the whole mapping).  ``prediction`` and the weights may likewise be
    given as :class:`~metareview.base.deferred.Deferred` (what metafor leaves to
    ``predict()`` and ``weights()``), computed on first read.  The values are the same as
    when computed at once.

    As a mapping it has the kernel's flat keys (:data:`FLAT_KEYS`: ``"random_estimate"``,
    ``"tau2_ci_low"``, ...; and ``"method_details"`` where there are details), as
    ``MetaResult.pooled`` has always read.
    """

    __slots__ = ("_fill", "_heterogeneity", "_prediction", "_weight_common", "_weight_random", "common", "k",
                 "method_details", "random")
    k: int
    common: Estimate
    random: Estimate
    method_details: dict | None
    _heterogeneity: Heterogeneity
    _prediction: Interval | Deferred
    _weight_common: np.ndarray | Deferred | None
    _weight_random: np.ndarray | Deferred | None
    _fill: Callable[[], dict] | None

    def __init__(self, k: int, common: Estimate, random: Estimate, prediction: Interval | Deferred,
                 heterogeneity: Heterogeneity, weight_common=None, weight_random=None,
                 method_details: dict | None = None, *, fill: Callable[[], dict] | None = None):
        put = object.__setattr__  # (one call per field: a pooled analysis is made for every analysis)
        put(self, "k", k)
        put(self, "common", common)
        put(self, "random", random)
        put(self, "_prediction", prediction)
        put(self, "_heterogeneity", heterogeneity)
        put(self, "_weight_common", weight_common)
        put(self, "_weight_random", weight_random)
        put(self, "method_details", method_details)
        put(self, "_fill", fill)

    def __setattr__(self, name, value):
        raise FrozenInstanceError(f"cannot assign to field {name!r}: pooled values are immutable (use replace())")

    def __delattr__(self, name):
        raise FrozenInstanceError(f"cannot delete field {name!r}: pooled values are immutable")

    def _resolved(self, name: str):
        """The value of the field kept in slot ``name``, computed here (once) if deferred."""
        value = getattr(self, name)
        if type(value) is Deferred:
            value = value.get()
            object.__setattr__(self, name, value)
        return value

    @property
    def prediction(self) -> Interval:
        """The prediction interval (a deferred one is computed here, once)."""
        return self._resolved("_prediction")

    @property
    def weight_common(self) -> np.ndarray | None:
        """The common-effect weights of the studies in percent (computed here if deferred)."""
        return self._resolved("_weight_common")

    @property
    def weight_random(self) -> np.ndarray | None:
        """The random-effects weights of the studies in percent (computed here if deferred)."""
        return self._resolved("_weight_random")

    @property
    def heterogeneity(self) -> Heterogeneity:
        """Q, tau², I² and H with their intervals (a deferred interval is computed here, once)."""
        if self._fill is not None:
            fill = self._fill
            object.__setattr__(self, "_heterogeneity", _with_intervals(self._heterogeneity, fill()))
            object.__setattr__(self, "_fill", None)
        return self._heterogeneity

    def deferring(self, fill: Callable[[], dict]) -> Pooled:
        """A copy whose heterogeneity intervals come from ``fill()`` on first use: a function
        returning some of the flat keys ``tau2_ci_low``, ``tau2_ci_high``, ``i2_ci_low``,
        ``i2_ci_high``, ``h_ci_low``, ``h_ci_high`` (the others keep their values)."""
        return Pooled(self.k, self.common, self.random, self._prediction, self.heterogeneity, self._weight_common,
                      self._weight_random, self.method_details, fill=fill)

    def replace(self, **changes) -> Pooled:
        """A copy with some of ``k``, ``common``, ``random``, ``prediction``,
        ``heterogeneity``, ``weight_common``, ``weight_random``, ``method_details`` changed
        (a deferred heterogeneity stays deferred unless it is replaced)."""
        unknown = set(changes) - set(_FIELDS)
        if unknown:
            raise TypeError(f"Pooled has no field {', '.join(sorted(unknown))}; fields: {', '.join(_FIELDS)}")
        values = {name: changes[name] if name in changes else getattr(self, _SLOTS.get(name, name))
                  for name in _FIELDS if name != "heterogeneity"}  # (a deferred value stays deferred)
        if "heterogeneity" in changes:
            return Pooled(heterogeneity=changes["heterogeneity"], **values)
        return Pooled(heterogeneity=self._heterogeneity, fill=self._fill, **values)

    # ----- the flat mapping -----------------------------------------------------------
    def _keys(self) -> tuple:
        return FLAT_KEYS + (("method_details",) if self.method_details is not None else ())

    def __getitem__(self, key):
        if key == "method_details" and self.method_details is None:
            raise KeyError(key)
        try:
            get = _GETTERS[key]
        except (KeyError, TypeError):
            raise KeyError(key) from None
        return get(self)

    def __iter__(self):
        return iter(self._keys())

    def __len__(self) -> int:
        return len(self._keys())

    def __contains__(self, key) -> bool:
        return key in self._keys()

    # ----- value semantics ------------------------------------------------------------
    def _parts(self) -> tuple:
        return tuple(getattr(self, name) for name in _FIELDS)

    def __eq__(self, other):
        if isinstance(other, Pooled):
            return all(same(a, b) for a, b in zip(self._parts(), other._parts()))
        if isinstance(other, Mapping):
            return same(dict(self.items()), dict(other.items()))
        return NotImplemented

    def __hash__(self):
        # the weights are left out (equal values hash equally all the same)
        return value_hash("Pooled", self.k, self.common, self.random, self.prediction, self.heterogeneity)

    def __reduce__(self):
        return (_rebuild, self._parts())

    def __repr__(self) -> str:
        return (f"Pooled(k={self.k}, common={self.common!r}, random={self.random!r}, "
                f"prediction={self.prediction!r}, heterogeneity={self.heterogeneity!r})")

    def to_dict(self) -> dict:
        """``{k, common, random, prediction, heterogeneity}`` in the ``pool`` JSON shape."""
        return {"k": int(self.k), "common": self.common.to_dict(), "random": self.random.to_dict(),
                "prediction": self.prediction.to_dict(), "heterogeneity": self.heterogeneity.to_dict()}


def _with_intervals(het: Heterogeneity, flat: dict) -> Heterogeneity:
    """``het`` with the interval bounds given by their flat keys (``tau2_ci_low``, ...)."""
    changes: dict[str, Any] = {}
    for name, interval in (("tau2", het.tau2_interval), ("i2", het.i2_interval), ("h", het.h_interval)):
        low, high = flat.get(f"{name}_ci_low", interval.low), flat.get(f"{name}_ci_high", interval.high)
        if not (same(low, interval.low) and same(high, interval.high)):
            changes[f"{name}_interval"] = Interval(low, high, interval.level)
    return replace(het, **changes) if changes else het


def _rebuild(k, common, random, prediction, heterogeneity, weight_common, weight_random, method_details):
    return Pooled(k, common, random, prediction, heterogeneity, weight_common, weight_random, method_details)
