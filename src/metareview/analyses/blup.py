"""Best linear unbiased predictions of the study effects (metafor's ``blup`` and ``ranef``).

In the random-effects model y_i = mu + u_i + e_i, with u_i ~ N(0, tau²) and e_i ~ N(0, v_i),
the shrinkage factor of study i is lambda_i = tau²/(tau² + v_i) and (Raudenbush & Bryk 1985,
J Educ Stat 10:75; Robinson 1991, Stat Sci 6:15)

* ``blup``: the study's true effect mu + u_i, predicted by lambda_i y_i + (1 - lambda_i) mu,
  with variance lambda_i v_i + (1 - lambda_i)² Var(mu);
* ``ranef``: the study's deviation u_i, predicted by lambda_i (y_i - mu), with variance
  lambda_i v_i + lambda_i² Var(mu);

where mu and Var(mu) are the result's random-effects estimate and its variance (Hartung-Knapp
scaled when the result uses it, with t quantiles on k - 1 df for the intervals), exactly as
metafor 3.8-1's ``blup.rma.uni`` and ``ranef.rma.uni``.  Studies that are not pooled get no
prediction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..base import dist as _dist
from ..base.exceptions import SettingsError
from ..base.format import Reportable, fmt as _f, fmt_ci as _ci, num as _num

__all__ = ["blup", "ranef", "StudyPredictions"]


@dataclass(frozen=True)
class StudyPredictions(Reportable):
    """Predicted study effects (``kind="blup"``) or study deviations (``kind="ranef"``)."""

    kind: str
    result: Any
    studlab: np.ndarray
    pred: np.ndarray
    se: np.ndarray
    pi_low: np.ndarray
    pi_high: np.ndarray
    level: float

    def _natural(self) -> dict | None:
        """The blup back-transformed to the natural scale (metafor's ``transf``); deviations
        (ranef) stay on the analysis scale."""
        m = self.result.measure
        if self.kind != "blup" or not m.transformed:
            return None
        bt = self.result.backtransform
        n = self.result.n
        return {"estimate": bt(self.pred, n), "ci_low": bt(self.pi_low, n), "ci_high": bt(self.pi_high, n)}

    def summary(self):
        import pandas as pd
        cols = {"study": self.studlab, "pred": self.pred, "se": self.se, "pi_low": self.pi_low,
                "pi_high": self.pi_high}
        nat = self._natural()
        if nat:
            cols.update({"bt_pred": nat["estimate"], "bt_pi_low": nat["ci_low"], "bt_pi_high": nat["ci_high"]})
        return pd.DataFrame(cols).set_index("study")

    def to_dict(self) -> dict:
        nat = self._natural()
        rows = []
        for i, s in enumerate(self.studlab):
            row = {"study": str(s), "pred": _num(self.pred[i]), "se": _num(self.se[i]),
                   "pi_low": _num(self.pi_low[i]), "pi_high": _num(self.pi_high[i])}
            if nat:
                row["backtransformed"] = {key: _num(val[i]) for key, val in nat.items()}
            rows.append(row)
        return {"kind": self.kind, "level": self.level, "rows": rows}

    def report(self):
        from ..base.report import Heading, Report, Table
        nat = self._natural()
        title = ("Best linear unbiased predictions of the study effects" if self.kind == "blup"
                 else "Predicted random effects (study deviations from the pooled estimate)")
        pct = int(round(self.level * 100))
        rows = []
        for i, s in enumerate(self.studlab):
            if nat:
                est, lo, hi = nat["estimate"][i], nat["ci_low"][i], nat["ci_high"][i]
            else:
                est, lo, hi = self.pred[i], self.pi_low[i], self.pi_high[i]
            rows.append([str(s), _f(est), _ci(lo, hi)] if nat else [str(s), _f(est), _f(self.se[i]), _ci(lo, hi)])
        head = ["Study", f"pred ({self.result.measure.code})", f"{pct}%-PI"] if nat else \
            ["Study", "pred", "se", f"{pct}%-PI"]
        return Report().add(Heading(title, 2)).add(Table(head, rows))


def _predict(result, kind: str) -> StudyPredictions:
    s = result.settings
    if s.method == "GLMM":
        raise SettingsError("BLUPs here are those of the inverse-variance random-effects model, not of method GLMM")
    p = result.pooled
    tau2, mu, var_mu = p["tau2"], p["random_estimate"], p["random_se"] ** 2
    y, v = np.asarray(result.yi, float), np.asarray(result.vi, float)
    lam = tau2 / (tau2 + v)
    if kind == "blup":
        pred = lam * y + (1 - lam) * mu
        vpred = lam * v + (1 - lam) ** 2 * var_mu
    else:
        pred = lam * (y - mu)
        vpred = lam * v + lam ** 2 * var_mu
    if s.random_ci == "hk" and result.k > 1:
        crit = _dist.t_ppf(1 - (1 - s.level) / 2, result.k - 1)
    else:
        crit = _dist.norm_ppf(1 - (1 - s.level) / 2)
    se = np.sqrt(vpred)
    excl = result.excluded
    pred, se = np.where(excl, np.nan, pred), np.where(excl, np.nan, se)
    return StudyPredictions(kind, result, result.studlab, pred, se, pred - crit * se, pred + crit * se, s.level)


def blup(result) -> StudyPredictions:
    """Best linear unbiased predictions of each pooled study's true effect (metafor's ``blup``)."""
    return _predict(result, "blup")


def ranef(result) -> StudyPredictions:
    """Predicted random effects u_i, each study's deviation from the pooled estimate (metafor's ``ranef``)."""
    return _predict(result, "ranef")
