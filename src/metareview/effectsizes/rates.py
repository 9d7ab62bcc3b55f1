"""Single incidence rates: events over person-time, on four analysis scales.

Each ``*_yi_vi`` function takes arrays of event counts ``events`` and person-times
``time`` and returns the study estimates and their sampling variances ``(yi, vi)`` as
float arrays, vectorised over studies, with the definitions of metafor's ``escalc``:

=======  =====================================  ==========================  ==============
code     yi                                     vi                          default add
=======  =====================================  ==========================  ==============
IR       x / t                                  x / t²                      0.5 (x = 0)
IRLN     log(x / t)                             1 / x                       0.5 (x = 0)
IRS      sqrt(x / t)                            1 / (4 t)                   none
IRFT     (sqrt(x / t) + sqrt((x + 1) / t)) / 2  1 / (4 t)                   none
=======  =====================================  ==========================  ==============

``add`` is the increment for the event count and ``to`` says which studies receive it:
``"only0"`` (studies with zero events, the default), ``"all"``, ``"if0all"`` (every
study when any has zero events) or ``"none"``.  IRS and IRFT are defined at zero events
and take no increment unless one is asked for, as in ``escalc``.

The back-transformations map pooled or study values to the rate scale; the
Freeman-Tukey inverse needs a person-time, for a pooled value the harmonic mean of the
person-times (as meta's ``metarate`` does).  References: Freeman & Tukey (1950),
Ann Math Stat 21:607-611 for the double square-root transformation; the rate variances
are the Poisson ones (e.g. Rothman, Greenland & Lash, Modern Epidemiology, 3rd ed.).
"""

from __future__ import annotations

import numpy as np

from ..base.exceptions import DataError, SettingsError

__all__ = [
    "RATE_MEASURES",
    "rate_yi_vi",
    "ir_yi_vi",
    "irln_yi_vi",
    "irs_yi_vi",
    "irft_yi_vi",
    "backtransform_rate",
    "harmonic_mean",
]

RATE_MEASURES = ("IR", "IRLN", "IRS", "IRFT")
_TO = ("only0", "all", "if0all", "none")
_DEFAULT_ADD = {"IR": 0.5, "IRLN": 0.5, "IRS": 0.0, "IRFT": 0.0}


def _check(events, time) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(events, dtype=float)
    t = np.asarray(time, dtype=float)
    if x.shape != t.shape or x.ndim != 1:
        raise DataError("events and time must be one-dimensional arrays of the same length",
                        rule="shape")
    for name, arr in (("events", x), ("time", t)):
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            raise DataError("value is missing or not finite", study=str(bad[0]), column=name,
                            rule="finite")
    bad = np.flatnonzero(x < 0)
    if bad.size:
        raise DataError("event count is negative", study=str(bad[0]), column="events",
                        rule="events >= 0")
    bad = np.flatnonzero(t <= 0)
    if bad.size:
        raise DataError("person-time must be positive", study=str(bad[0]), column="time",
                        rule="time > 0")
    return x, t


def _add(x: np.ndarray, add: float, to: str) -> np.ndarray:
    if to not in _TO:
        raise SettingsError(f"unknown 'to' {to!r}; valid: {', '.join(_TO)}")
    if add < 0:
        raise SettingsError("the increment 'add' must be >= 0")
    if to == "all":
        return x + add
    zero = x == 0
    if to == "only0":
        return np.where(zero, x + add, x)
    if to == "if0all":
        return x + add if zero.any() else x
    return x


def ir_yi_vi(events, time, *, add: float = 0.5, to: str = "only0"):
    """Raw incidence rate x/t with Poisson variance x/t²."""
    x, t = _check(events, time)
    xa = _add(x, add, to)
    yi = xa / t
    return yi, yi / t


def irln_yi_vi(events, time, *, add: float = 0.5, to: str = "only0"):
    """Log incidence rate log(x/t) with variance 1/x (delta method).

    A study with zero events and no increment has an infinite estimate: that is an
    error, since the study cannot be pooled on this scale.
    """
    x, t = _check(events, time)
    xa = _add(x, add, to)
    bad = np.flatnonzero(xa <= 0)
    if bad.size:
        raise DataError("zero events: the log rate is undefined without an increment",
                        study=str(bad[0]), column="events", rule="events > 0 for IRLN")
    return np.log(xa / t), 1.0 / xa


def irs_yi_vi(events, time, *, add: float = 0.0, to: str = "only0"):
    """Square-root incidence rate sqrt(x/t) with variance 1/(4t)."""
    x, t = _check(events, time)
    xa = _add(x, add, to)
    return np.sqrt(xa / t), 1.0 / (4.0 * t)


def irft_yi_vi(events, time, *, add: float = 0.0, to: str = "only0"):
    """Freeman-Tukey double square-root rate (sqrt(x/t) + sqrt((x+1)/t))/2, variance 1/(4t)."""
    x, t = _check(events, time)
    xa = _add(x, add, to)
    return 0.5 * (np.sqrt(xa / t) + np.sqrt((xa + 1.0) / t)), 1.0 / (4.0 * t)


_FUNCS = {"IR": ir_yi_vi, "IRLN": irln_yi_vi, "IRS": irs_yi_vi, "IRFT": irft_yi_vi}


def rate_yi_vi(measure: str, events, time, *, add: float | None = None, to: str = "only0"):
    """(yi, vi) for ``measure`` in IR, IRLN, IRS, IRFT (case-insensitive).

    ``add=None`` takes the measure's default increment (0.5 for IR and IRLN, 0 for IRS
    and IRFT).

    >>> yi, vi = rate_yi_vi("IRLN", [4, 0], [100.0, 50.0])
    >>> [round(float(v), 4) for v in yi]
    [-3.2189, -4.6052]
    """
    code = str(measure).upper()
    if code not in _FUNCS:
        raise SettingsError(f"unknown rate measure {measure!r}; valid: {', '.join(RATE_MEASURES)}")
    return _FUNCS[code](events, time, add=_DEFAULT_ADD[code] if add is None else add, to=to)


def harmonic_mean(time) -> float:
    """Harmonic mean of the person-times (the time used to back-transform pooled IRFT values)."""
    t = np.asarray(time, dtype=float)
    return float(t.size / np.sum(1.0 / t))


def backtransform_rate(measure: str, value, time=None) -> np.ndarray:
    """Map values on the analysis scale of ``measure`` back to incidence rates.

    IR: identity; IRLN: exp; IRS: square (negative values give 0); IRFT: the inverse of
    the double square-root transformation for person-time ``time`` (a scalar, e.g.
    :func:`harmonic_mean` of the studies' times, or one per value), with values below the
    transform of zero events mapped to 0.
    """
    code = str(measure).upper()
    z = np.asarray(value, dtype=float)
    if code == "IR":
        return z.copy()
    if code == "IRLN":
        return np.exp(z)
    if code == "IRS":
        return np.where(z < 0, 0.0, z * z)
    if code == "IRFT":
        if time is None:
            raise SettingsError("the IRFT back-transformation needs a person-time 'time'")
        t = np.broadcast_to(np.asarray(time, dtype=float), z.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            r = (1.0 / t - 8.0 * z**2 + 16.0 * t * z**4) / (16.0 * z**2 * t)
        floor = 0.5 * np.sqrt(1.0 / t)  # transform of zero events
        r = np.where(z < floor, 0.0, r)
        return np.where(r <= np.finfo(float).eps, 0.0, r)
    raise SettingsError(f"unknown rate measure {measure!r}; valid: {', '.join(RATE_MEASURES)}")
