"""The pooled quantities of one analysis as the ``pool`` JSON document and as R meta prints them.

Shared by the full analysis (:class:`metareview.api.result.MetaResult`) and every
derived one (leave-one-out, subgroups, trim-and-fill, ...): :class:`PooledValues` (the
kernel's row, with the Q-profile interval of tau² computed on first use),
:func:`pooled_block` (its JSON shape) and :func:`heterogeneity_text` (meta's
"Quantifying heterogeneity" block).
"""

from __future__ import annotations

import numpy as np

from ..base.format import fmt as _f, fmt_labelled, num as _num

__all__ = ["PooledValues", "pooled_block", "heterogeneity_text"]


class PooledValues(dict):
    """The pooled quantities of one analysis, as a dict.

    The Q-profile interval of tau² (an iterative solve, what metafor computes in a
    separate ``confint()``) and the bounds that depend on it are computed on first use of
    one of their keys, or of the whole dict (iteration, copies, pickling); every other key
    is there from the start.  Values are the same as when computed at once.
    """

    LAZY = frozenset(("tau2_ci_low", "tau2_ci_high", "i2_ci_low", "i2_ci_high", "h_ci_low", "h_ci_high"))

    def __init__(self, values, fill=None):
        super().__init__(values)
        self._fill = fill

    def _complete(self) -> None:
        fill, self._fill = self._fill, None
        if fill is not None:
            dict.update(self, fill())

    def __getitem__(self, key):
        if self._fill is not None and key in self.LAZY:
            self._complete()
        return dict.__getitem__(self, key)

    def get(self, key, default=None):
        if self._fill is not None and key in self.LAZY:
            self._complete()
        return dict.get(self, key, default)

    def __iter__(self):
        self._complete()
        return dict.__iter__(self)

    def items(self):
        self._complete()
        return dict.items(self)

    def values(self):
        self._complete()
        return dict.values(self)

    def copy(self) -> dict:
        self._complete()
        return dict(dict.items(self))

    def __eq__(self, other):
        self._complete()
        return dict.__eq__(self, other)

    __hash__ = None

    def __reduce__(self):
        return (dict, (self.copy(),))



def heterogeneity_text(p: dict, k: int, level: float, style=None) -> str:
    """The "Quantifying heterogeneity" block as R meta prints it: τ² and τ with their
    Q-profile intervals on one line, I² and H with theirs on the next; ``--`` for what
    cannot be estimated, an interval only where there is one (R meta's rule for I²: not
    for two studies with Q <= 2); ``style`` is a preset's :class:`~metareview.base.presets.PrintStyle`."""
    from ..base.presets import print_style
    st = style or print_style(None)

    def ci(lo, hi, digits, unit=""):
        ok = lo is not None and hi is not None and np.isfinite(lo) and np.isfinite(hi)
        return f" {st.ci(lo, hi, digits, unit)}" if ok else ""

    tau_lo, tau_hi = (np.sqrt(v) if v is not None and np.isfinite(v) else np.nan
                      for v in (p.get("tau2_ci_low"), p.get("tau2_ci_high")))
    show_i2_ci = not (k == 2 and p["q"] is not None and p["q"] <= 2)
    i2 = p["i2"]
    i2_text = f"I² = {_f(i2, st.digits_i2)}%" if i2 is not None and np.isfinite(i2) else "I² = --"
    h_text = f"H = {_f(p['h'], 2)}"
    lines = [f" {fmt_labelled('τ²', p['tau2'], st.digits_tau2)}"
             f"{ci(p.get('tau2_ci_low'), p.get('tau2_ci_high'), st.digits_tau2)}; "
             f"{fmt_labelled('τ', p['tau'], st.digits_tau)}{ci(tau_lo, tau_hi, st.digits_tau)}",
             f" {i2_text}{ci(p.get('i2_ci_low'), p.get('i2_ci_high'), st.digits_i2, '%') if show_i2_ci else ''}; "
             f"{h_text}{ci(p.get('h_ci_low'), p.get('h_ci_high'), 2) if show_i2_ci else ''}"]
    pct = int(round(level * 100))
    return f"Quantifying heterogeneity (with {pct}% CIs):\n" + "\n".join(lines)


def pooled_block(p: dict, result) -> dict:
    """One pooled analysis (``p``: a row of the kernel's output) in the shape of the
    ``pool`` JSON document: common, random, prediction, heterogeneity, backtransformed.
    Shared by the full analysis and every derived one (leave-one-out, subgroups, ...)."""
    block = {
        "k": int(p["k"]),
        "common": {"estimate": _num(p["common_estimate"]), "se": _num(p["common_se"]),
                   "ci_low": _num(p["common_ci_low"]), "ci_high": _num(p["common_ci_high"]),
                   "statistic": _num(p["common_statistic"]), "p": _num(p["common_p"])},
        "random": {"estimate": _num(p["random_estimate"]), "se": _num(p["random_se"]),
                   "ci_low": _num(p["random_ci_low"]), "ci_high": _num(p["random_ci_high"]),
                   "statistic": _num(p["random_statistic"]), "p": _num(p["random_p"]),
                   "df": _num(p["random_df"])},
        "prediction": {"low": _num(p["prediction_low"]), "high": _num(p["prediction_high"])},
        "heterogeneity": {
            "q": _num(p["q"]), "df": int(p["q_df"]), "p": _num(p["q_p"]),
            "tau2": _num(p["tau2"]), "tau2_ci_low": _num(p["tau2_ci_low"]),
            "tau2_ci_high": _num(p["tau2_ci_high"]), "tau": _num(p["tau"]),
            "i2": _num(p["i2"]), "i2_ci_low": _num(p["i2_ci_low"]), "i2_ci_high": _num(p["i2_ci_high"]),
            "h": _num(p["h"]), "h_ci_low": _num(p["h_ci_low"]), "h_ci_high": _num(p["h_ci_high"]),
            "tau2_converged": bool(p["tau2_converged"]), "tau2_iterations": int(p["tau2_iterations"]),
            "se_tau2": _num(p.get("se_tau2")),
        },
        "backtransformed": None,
    }
    if result.measure.transformed:
        bt = result.backtransform
        block["backtransformed"] = {
            "scale": "natural",
            "common": {k: _num(bt(p[f"common_{k}"])) for k in ("estimate", "ci_low", "ci_high")},
            "random": {k: _num(bt(p[f"random_{k}"])) for k in ("estimate", "ci_low", "ci_high")},
            "prediction": {"low": _num(bt(p["prediction_low"])), "high": _num(bt(p["prediction_high"]))},
        }
    return block
