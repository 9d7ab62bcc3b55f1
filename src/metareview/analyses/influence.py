"""Influence diagnostics for a pooled result (Viechtbauer & Cheung 2010) and Baujat coordinates.

For each pooled study i the model is fitted again without it (all deletions in ONE
batched call of the kernel), giving the case-deletion quantities of metafor's
``influence.rma.uni``:

* ``rstudent``: externally studentised residual (y_i - mu_(-i)) / sqrt(v_i + tau²_(-i) + Var(mu_(-i)))
  (with the Knapp-Hartung scale factor of the deletion fit when the result uses it);
* ``dffits``: (mu - mu_(-i)) / sqrt(h_i (tau²_(-i) + v_i));
* ``cook_d``: Cook's distance (mu - mu_(-i))² / Var(mu);
* ``cov_r``: covariance ratio Var(mu_(-i)) / Var(mu);
* ``tau2_del``, ``qe_del``: tau² and Cochran's Q without the study;
* ``hat``: leverage w_i / sum w; ``weight``: weight in percent;
* ``dfbetas``: (mu - mu_(-i)) / sqrt(1 / sum_j 1/(v_j + tau²_(-i))).

Influential studies are flagged with metafor's rules (|DFFITS| > 3 sqrt(p/(k-p)), the
chi² (1 df) CDF of Cook's distance > 0.5, hat > 3p/k, |DFBETAS| > 1).  Baujat et al.
(2002, Stat Med 21:2641) plot each study's contribution to the heterogeneity,
(y_i - mu)² / (v_i + tau²), against its influence on the pooled estimate,
(mu_(-i) - mu)² / Var(mu_(-i)), as metafor's ``baujat()``.

Viechtbauer W, Cheung MW-L (2010). Outlier and influence diagnostics for meta-analysis.
Research Synthesis Methods 1:112-125.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..base import dist as _dist
from ..base.exceptions import DataError, SettingsError
from ..base.format import Reportable, fmt as _f, num as _num
from .sensitivity import pool_masks

__all__ = ["influence", "baujat", "Influence"]

COLUMNS = ("rstudent", "dffits", "cook_d", "cov_r", "tau2_del", "qe_del", "hat", "weight", "dfbetas",
           "influential", "baujat_x", "baujat_y")


@dataclass(frozen=True)
class Influence(Reportable):
    """Case-deletion diagnostics of each pooled study."""

    result: Any
    model: str                 # "random" | "common" | "metareg"
    test: str                  # "z" | "knha"
    studlab: np.ndarray
    values: dict               # column -> array over the pooled studies (dfbetas: studies x coefficients
                               # for a meta-regression)
    coef_names: tuple = ("intrcpt",)
    method_tau2: str | None = None

    def _columns(self) -> dict:
        cols = {c: v for c, v in self.values.items() if c != "dfbetas"}
        dfb = np.asarray(self.values["dfbetas"])
        if dfb.ndim == 1:
            cols["dfbetas"] = dfb
        else:
            cols.update({f"dfbetas_{n}": dfb[:, j] for j, n in enumerate(self.coef_names)})
        return cols

    def summary(self):
        import pandas as pd
        return pd.DataFrame({"study": self.studlab, **self._columns()}).set_index("study")

    def baujat(self):
        """Baujat coordinates (x: contribution to heterogeneity, y: influence on the estimate)."""
        import pandas as pd
        return pd.DataFrame({"study": self.studlab, "x": self.values["baujat_x"],
                             "y": self.values["baujat_y"]}).set_index("study")

    def to_dict(self) -> dict:
        """The JSON ``influence`` block: one row per pooled study."""
        rows = []
        for i, s in enumerate(self.studlab):
            row: dict[str, Any] = {"study": str(s)}
            for c in COLUMNS:
                v = self.values[c][i]
                if c == "influential":
                    row[c] = bool(v)
                elif np.ndim(v):
                    row[c] = {n: _num(x) for n, x in zip(self.coef_names, v)}
                else:
                    row[c] = _num(v)
            rows.append(row)
        method = self.method_tau2 or (self.result.settings.method_tau2 if self.model == "random" else "FE")
        return {"model": self.model, "test": self.test, "method_tau2": method, "rows": rows}

    def report(self):
        from ..base.report import Heading, Paragraph, Report, Table
        rep = Report()
        what = "meta-regression" if self.model == "metareg" else f"{self.model} effects model"
        rep.add(Heading(f"Influence diagnostics ({what})", 2))
        rows = []
        for i, s in enumerate(self.studlab):
            v = {c: self.values[c][i] for c in COLUMNS}
            dfb = np.atleast_1d(v["dfbetas"])
            rows.append([str(s), _f(v["rstudent"], 3), _f(v["dffits"], 3), _f(v["cook_d"], 3), _f(v["cov_r"], 3),
                         _f(v["tau2_del"]), _f(v["qe_del"], 2), _f(v["hat"], 3), _f(v["weight"], 2)]
                        + [_f(x, 3) for x in dfb] + ["*" if v["influential"] else ""])
        dfb_heads = (["dfbetas"] if np.ndim(self.values["dfbetas"]) == 1
                     else [f"dfbetas {n}" for n in self.coef_names])
        rep.add(Table(["Study", "rstudent", "dffits", "cook.d", "cov.r", "tau2.del", "QE.del", "hat", "weight"]
                      + dfb_heads + ["inf"], rows))
        rep.add(Paragraph("* influential by metafor's criteria (Viechtbauer & Cheung 2010)"))
        return rep

def _influence_metareg(reg) -> Influence:
    """Case deletion for a meta-regression (metafor's ``influence.rma.uni`` with moderators).

    The deletion fits are k separate fits (each with its own design), as metafor's.
    """
    from ..pooling.rma import rma_fit
    f = reg.fit
    y, v, X = np.asarray(reg.yi, float), np.asarray(reg.vi, float), np.asarray(reg.X, float)
    k, p = X.shape
    w = f.weights
    WX = X * w[:, None]
    hat = np.einsum("ij,jk,ik->i", X, np.linalg.inv(X.T @ WX), WX)
    hat = np.where(hat > 1 - 10 * np.finfo(float).eps, 1.0, hat)
    pred_full = X @ f.beta
    svb = np.linalg.inv(f.vb)
    det_full = np.linalg.det(f.vb)
    out = {c: np.full(k, np.nan) for c in ("tau2_del", "qe_del", "delpred", "vdelpred", "s2w", "dffits",
                                           "cook_d", "cov_r")}
    dfbetas = np.full((k, p), np.nan)
    for i in range(k):  # each deletion has its own design matrix: k small fits
        keep = np.arange(k) != i
        if np.linalg.matrix_rank(X[keep]) < p or keep.sum() <= p:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            d = rma_fit(y[keep], v[keep], X[keep], method=f.method, test=f.test, level=f.level,
                        intercept=reg.intercept)
        xi = X[i]
        out["tau2_del"][i], out["qe_del"][i], out["s2w"][i] = d.tau2, d.qe, d.s2w
        out["delpred"][i] = xi @ d.beta
        out["vdelpred"][i] = xi @ d.vb @ xi
        out["dffits"][i] = (pred_full[i] - out["delpred"][i]) / np.sqrt(d.s2w * hat[i] * (d.tau2 + v[i]))
        vb_del = np.linalg.inv(X.T @ (X / (v + d.tau2)[:, None]))
        dfb = f.beta - d.beta
        dfbetas[i] = dfb / np.sqrt(d.s2w * np.diag(vb_del))
        out["cook_d"][i] = dfb @ svb @ dfb
        out["cov_r"][i] = np.linalg.det(d.vb) / det_full
    resid = y - out["delpred"]
    resid = np.where(np.abs(resid) < 100 * np.finfo(float).eps, 0.0, resid)
    s2w = out["s2w"]
    rstudent = resid / np.sqrt(v * s2w + out["vdelpred"] + out["tau2_del"] * s2w)
    with np.errstate(invalid="ignore"):
        infl = ((np.abs(out["dffits"]) > 3 * np.sqrt(p / (k - p))) | (_dist.chi2_sf(out["cook_d"], p) < 0.5)
                | (hat > 3 * p / k) | (np.abs(dfbetas) > 1).any(axis=1))
    vals = {"rstudent": rstudent, "dffits": out["dffits"], "cook_d": out["cook_d"], "cov_r": out["cov_r"],
            "tau2_del": out["tau2_del"], "qe_del": out["qe_del"], "hat": hat, "weight": 100 * w / w.sum(),
            "dfbetas": dfbetas, "influential": infl,
            "baujat_x": (y - pred_full) ** 2 / (f.tau2 + v),
            "baujat_y": (out["delpred"] - pred_full) ** 2 / out["vdelpred"]}
    return Influence(result=reg.result, model="metareg", test=f.test, studlab=np.asarray(reg.studlab), values=vals,
                     coef_names=tuple(f.names), method_tau2=f.method)


def influence(result, *, model: str | None = None) -> Influence:
    """Influence diagnostics of every pooled study (metafor's ``influence()``; Viechtbauer & Cheung 2010).

    ``result``: a pooled result, or a :class:`~metareview.analyses.metareg.MetaRegression` (then
    the deletion fits are meta-regressions and ``dfbetas`` has one column per coefficient).
    ``model``: ``"random"`` (the result's tau² estimator; Knapp-Hartung scaling when the
    result uses Hartung-Knapp) or ``"common"``; default random when the result shows the
    random effects model.
    """
    if hasattr(result, "fit") and hasattr(result, "X"):
        if model is not None:
            raise SettingsError("model= is for pooled results; a meta-regression is diagnosed under its own model")
        return _influence_metareg(result)
    model = model or ("random" if result.settings.random else "common")
    if model not in ("random", "common"):
        raise SettingsError(f"unknown model {model!r}; valid: random, common")
    inc_idx = np.flatnonzero(result.included)
    k = inc_idx.size
    if k < 2:
        raise DataError(f"influence diagnostics need at least two pooled studies, not {k}", rule="k >= 2")
    y = np.asarray(result.yi, float)[inc_idx]
    v = np.asarray(result.vi, float)[inc_idx]
    knha = model == "random" and result.settings.random_ci == "hk"
    masks = np.tile(result.included.astype(float), (k, 1))
    masks[np.arange(k), inc_idx] = 0.0
    dele = pool_masks(result, masks)
    p = result.pooled
    if model == "random":
        tau2 = float(p["tau2"])
        mu, vb = float(p["random_estimate"]), float(p["random_se"]) ** 2
        mu_d, vb_d = dele.random_estimate, dele.random_se ** 2
        tau2_d = dele.tau2
    else:
        tau2 = 0.0
        mu, vb = float(p["common_estimate"]), float(p["common_se"]) ** 2
        mu_d, vb_d = dele.common_estimate, dele.common_se ** 2
        tau2_d = np.zeros(k)
    # the deletion fits' own weights (study i left out) give the scale factor s²_w of Knapp-Hartung
    w_del = 1 / (v[None, :] + tau2_d[:, None])
    np.fill_diagonal(w_del, 0.0)
    s2w = vb_d * w_del.sum(1) if knha else np.ones(k)
    w = 1 / (v + tau2)
    hat = w / w.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        resid = y - mu_d
        resid = np.where(np.abs(resid) < 100 * np.finfo(float).eps, 0.0, resid)
        rstudent = resid / np.sqrt(v * s2w + vb_d + tau2_d * s2w)
        dffits = (mu - mu_d) / np.sqrt(s2w * hat * (tau2_d + v))
        vb_all = 1 / np.sum(1 / (v[None, :] + tau2_d[:, None]), axis=1)
        dfbetas = (mu - mu_d) / np.sqrt(s2w * vb_all)
        cook = (mu - mu_d) ** 2 / vb
        cov_r = vb_d / vb
        bx = (y - mu) ** 2 / (tau2 + v)
        by = (mu_d - mu) ** 2 / vb_d
    weight = 100 * hat
    pp = 1
    infl = ((np.abs(dffits) > 3 * np.sqrt(pp / (k - pp))) | (_dist.chi2_sf(cook, 1) < 0.5)
            | (hat > 3 * pp / k) | (np.abs(dfbetas) > 1))
    vals = {"rstudent": rstudent, "dffits": dffits, "cook_d": cook, "cov_r": cov_r, "tau2_del": tau2_d,
            "qe_del": dele.q, "hat": hat, "weight": weight, "dfbetas": dfbetas, "influential": infl,
            "baujat_x": bx, "baujat_y": by}
    return Influence(result=result, model=model, test="knha" if knha else "z",
                     studlab=np.asarray(result.studlab)[inc_idx], values=vals)


def baujat(result, *, model: str = "common"):
    """Baujat et al. (2002) coordinates as a DataFrame (x: heterogeneity contribution, y: influence).

    Baujat's plot uses the common-effect model (the default); ``model="random"`` uses the
    random-effects fit, as metafor's ``baujat()`` on a random-effects model.
    """
    return influence(result, model=model).baujat()
