"""The pooled quantities of one analysis as the ``pool`` JSON document and as R meta prints them.

Shared by the full analysis (:class:`metareview.api.result.MetaResult`) and every
derived one (leave-one-out, subgroups, trim-and-fill, ...): :func:`pooled_block` (the
JSON shape of one analysis' named values, :class:`~metareview.pooling.values.Pooled`) and
:func:`heterogeneity_text` (meta's "Quantifying heterogeneity" block).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..base.format import fmt as _f, fmt_labelled
from .values import Pooled

__all__ = ["pooled_block", "heterogeneity_text"]


def heterogeneity_text(p: Mapping, k: int, level: float, style=None) -> str:
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


def pooled_block(p: Pooled, result) -> dict:
    """One pooled analysis (``p``: its named values, e.g. a row of the kernel's output) in
    the shape of the ``pool`` JSON document: k, common, random, prediction, heterogeneity,
    backtransformed (natural-scale estimates and intervals by ``result.backtransform``
    where the measure is transformed).  Shared by the full analysis and every derived one
    (leave-one-out, subgroups, trim-and-fill, ...)."""
    block = {**p.to_dict(), "backtransformed": None}
    if result.measure.transformed:
        bt = result.backtransform
        natural = {model: getattr(p, model).backtransform(bt).to_dict() for model in ("common", "random")}
        block["backtransformed"] = {
            "scale": "natural",
            **{model: {key: d[key] for key in ("estimate", "ci_low", "ci_high")} for model, d in natural.items()},
            "prediction": p.prediction.map(bt).to_dict(),
        }
    return block
