"""Formatting shared by every result: numbers for printouts, JSON-safe values, and the
printing methods that all results derive from their ``report()``."""

from __future__ import annotations

import numpy as np

__all__ = ["num", "fmt", "fmt_ci", "fmt_labelled", "fmt_p", "fmt_peq", "Reportable"]


def num(x):
    """A JSON-safe float: None for a missing, NaN or infinite value."""
    if x is None:
        return None
    x = float(x)
    return x if np.isfinite(x) else None


def fmt(x, digits: int = 4) -> str:
    """A number with ``digits`` decimals, ``--`` where there is none."""
    if x is None or not np.isfinite(x):
        return "--"
    return f"{x:.{digits}f}"


def fmt_ci(lo, hi, digits: int = 4, unit: str = "") -> str:
    return f"[{fmt(lo, digits)}{unit}; {fmt(hi, digits)}{unit}]"


def fmt_labelled(label: str, x, digits: int = 4) -> str:
    """``label = value`` as R meta prints a variance: ``= 0`` when it is zero, ``< 0.0001``
    when it rounds to zero, ``= --`` when it cannot be estimated."""
    if x is None or not np.isfinite(x):
        return f"{label} = --"
    if x == 0:
        return f"{label} = 0"
    if 0 < x < 0.5 * 10.0 ** -digits:
        return f"{label} < {10.0 ** -digits:.{digits}f}"
    return f"{label} = {fmt(x, digits)}"


def fmt_p(p) -> str:
    """A p-value as R meta prints it: four decimals, ``< 0.0001`` below that."""
    if p is None or not np.isfinite(p):
        return "--"
    return "< 0.0001" if p < 1e-4 else f"{p:.4f}"


def fmt_peq(p) -> str:
    """'= 0.0123' or '< 0.0001', to follow a 'p'."""
    t = fmt_p(p)
    return t if t.startswith("<") else f"= {t}"


class Reportable:
    """The vocabulary every result shares, derived from two methods each result defines: ``report()`` (the report
    model, which ``str()``, ``print_summary()`` and the notebook's HTML render) and ``to_dict()`` (plain values:
    the JSON contract, and the default ``summary()``).  A result that has a figure offers it as ``plot`` too, the
    same method as its ``forest``, ``funnel`` or ``bubble``."""

    def report(self):  # pragma: no cover - every subclass defines it
        raise TypeError(f"{type(self).__name__} has no report")

    def to_dict(self) -> dict:  # pragma: no cover - every subclass defines it
        raise TypeError(f"{type(self).__name__} has no to_dict")

    def summary(self):
        """The result as a pandas DataFrame.  Here one row of the single values of :meth:`to_dict` (a list of
        texts, such as notes, joined by ``; ``); results made of several rows (studies, subgroups, coefficients,
        tests) give those rows instead."""
        import pandas as pd
        row = {}
        for key, value in self.to_dict().items():
            if value is None or isinstance(value, (str, bool, int, float)):
                row[key] = value
            elif isinstance(value, (list, tuple)) and all(isinstance(x, str) for x in value):
                row[key] = "; ".join(value)
        return pd.DataFrame([row])

    def __str__(self) -> str:
        return self.report().to_text()

    def print_summary(self) -> None:
        print(str(self), end="")

    def _repr_html_(self) -> str:
        return self.report().to_html()
