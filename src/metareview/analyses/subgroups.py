"""Subgroup analysis: pooled effects per subgroup and the test for subgroup differences.

Each subgroup is pooled with the settings of the overall result, all subgroups in one
batched call of the kernel.  tau² is estimated separately in each subgroup by default;
with ``tau_common=True`` (R meta's ``tau.common``) every subgroup uses the residual tau²
of the meta-regression on the subgroup factor (``rma.uni(mods = ~ subgroup)`` with the
result's estimator), as R meta does.

The test for subgroup differences is R meta's (Borenstein et al. 2009, *Introduction to
Meta-Analysis*, ch. 19): Cochran's Q of the subgroup estimates around their
inverse-variance weighted mean, Q_b = sum_g w_g (theta_g - theta_w)² with w_g = 1/se_g²,
on G - 1 degrees of freedom, computed with the common-effect subgroup estimates (common
model) and with the random-effects ones (random model, using the subgroups' random-effects
standard errors, so the Hartung-Knapp ones when the result uses Hartung-Knapp).

Studies without a value in the subgroup column (empty, NA, N/A) form the explicit subgroup
``(missing)``, with a warning and a note naming them (R meta stops instead; a published
table's "N/A" should neither vanish nor pass for a level of its own).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..base import dist as _dist
from ..base.exceptions import ConvergenceWarning, DataError, MetaReviewWarning, SmallSampleWarning
from ..base.format import Reportable, fmt as _f, fmt_peq as _peq
from ..pooling.heterogeneity import heterogeneity
from ..pooling.inverse_variance import prediction_quantile
from ..pooling.values import Estimate, Interval, Pooled
from .sensitivity import pool_masks, restrict

__all__ = ["subgroup", "SubgroupResult", "MISSING_LEVEL"]

#: the subgroup of studies without a value in the subgroup column
MISSING_LEVEL = "(missing)"


def _levels_in_order(values) -> list:
    """Levels in order of first appearance (R meta's default for a non-factor subgroup)."""
    seen, out = set(), []
    for x in values:
        key = str(x)
        if key not in seen:
            seen.add(key)
            out.append(key)
    return out


def _q_between(est, se):
    est = np.asarray(est, float)
    se = np.asarray(se, float)
    ok = np.isfinite(est) & np.isfinite(se) & (se > 0)
    g = int(ok.sum())
    if g < 2:
        return {"q": None, "df": max(g - 1, 0), "p": None}
    w = 1 / se[ok] ** 2
    mu = np.sum(w * est[ok]) / np.sum(w)
    q = float(np.sum(w * (est[ok] - mu) ** 2))
    return {"q": q, "df": g - 1, "p": float(_dist.chi2_sf(q, g - 1))}


def _random_with_tau2(result, masks, tau2: float, pooled) -> dict:
    """Random-effects quantities of each row of ``masks`` with tau² fixed (R meta's ``tau.preset``)."""
    s = result.settings
    y = np.broadcast_to(result.yi, masks.shape)
    v = np.broadcast_to(result.vi, masks.shape)
    k = masks.sum(-1)
    z = _dist.norm_ppf(1 - (1 - s.level) / 2)
    null = result.measure.null
    with np.errstate(divide="ignore", invalid="ignore"):
        ws = masks / (v + tau2)
        sws = ws.sum(-1)
        mu = (ws * y).sum(-1) / sws
        se_w = 1 / np.sqrt(sws)
        df = np.full(k.shape, np.nan)
        if s.random_ci == "hk":
            qs = (ws * (y - mu[:, None]) ** 2).sum(-1)
            se = np.sqrt(qs / ((k - 1) * sws))
            if s.adhoc_hakn == "se":
                se = np.maximum(se, se_w)
            df = k - 1
            crit = np.where(df > 0, _dist.t_ppf(1 - (1 - s.level) / 2, np.maximum(df, 1)), np.nan)
            lo, hi = mu - crit * se, mu + crit * se
            if s.adhoc_hakn == "ci":
                lo, hi = np.minimum(lo, mu - z * se_w), np.maximum(hi, mu + z * se_w)
        else:
            se = se_w
            lo, hi = mu - z * se, mu + z * se
        if null is None:
            stat = pv = np.full(k.shape, np.nan)
        else:
            stat = (mu - null) / se
            pv = (np.where(df > 0, 2 * _dist.t_sf(np.abs(stat), np.maximum(df, 1)), np.nan)
                  if s.random_ci == "hk" else 2 * _dist.norm_sf(np.abs(stat)))
        crit_p = prediction_quantile(s.prediction, k, s.level, s.random_ci)
        sp = np.sqrt(se ** 2 + tau2)
        t2 = np.full(k.shape, tau2)
        het = heterogeneity(pooled.q, k, t2, v, masks, s.level, s.i2_method,
                            (np.full(k.shape, np.nan), np.full(k.shape, np.nan)))
        wr = np.where(masks > 0, 100 * ws / sws[:, None], np.nan)
    out = {"random_estimate": mu, "random_se": se, "random_ci_low": lo, "random_ci_high": hi,
           "random_statistic": stat, "random_p": pv, "random_df": df,
           "prediction_low": mu - crit_p * sp, "prediction_high": mu + crit_p * sp,
           "tau2": t2, "tau": np.sqrt(t2), "tau2_ci_low": np.full(k.shape, np.nan),
           "tau2_ci_high": np.full(k.shape, np.nan), "weight_random": wr}
    if s.i2_method == "tau2":
        out.update(het)
    return out


def _with_common_tau2(row: Pooled, fixed: dict, i: int) -> Pooled:
    """Subgroup ``i``'s pooled values with the random-effects quantities of ``fixed`` (arrays
    over subgroups from :func:`_random_with_tau2`)."""
    def at(key):
        return float(fixed[key][i])
    level = row.random.interval.level
    het = replace(row.heterogeneity, tau2=at("tau2"), tau=at("tau"),
                  tau2_interval=Interval(at("tau2_ci_low"), at("tau2_ci_high"), level))
    if "i2" in fixed:
        het = replace(het, i2=at("i2"), i2_interval=Interval(at("i2_ci_low"), at("i2_ci_high"), level),
                      h=at("h"), h_interval=Interval(at("h_ci_low"), at("h_ci_high"), level))
    random = Estimate(at("random_estimate"), at("random_se"),
                      Interval(at("random_ci_low"), at("random_ci_high"), level),
                      at("random_statistic"), at("random_p"), at("random_df"))
    return row.replace(random=random, prediction=Interval(at("prediction_low"), at("prediction_high"), level),
                       heterogeneity=het, weight_random=fixed["weight_random"][i])


@dataclass(frozen=True)
class SubgroupResult(Reportable):
    """Pooled results per subgroup with the test for subgroup differences.

    ``overall`` is the pooled result of all studies, ``groups`` maps each level to its
    pooled result (a :class:`~metareview.api.result.MetaResult`), ``test`` holds Q between
    subgroups under the common and the random effects model, ``within`` the pooled
    within-subgroup Q (common effect).
    """

    overall: Any
    groups: dict
    test: dict
    variable: str
    tau_common: bool = False
    tau2_common: float | None = None
    within: dict = field(default_factory=dict)
    notes: tuple = ()

    @property
    def levels(self) -> list:
        return list(self.groups)

    def summary(self):
        """One row per subgroup: k, common and random estimates with CIs, tau², I², Q."""
        import pandas as pd
        rows = []
        for lv, g in self.groups.items():
            p = g.pooled
            r = {"subgroup": lv, "k": g.k}
            for key in ("common_estimate", "common_ci_low", "common_ci_high", "random_estimate",
                        "random_ci_low", "random_ci_high", "tau2", "i2", "q", "q_df", "q_p"):
                r[key] = p[key]
            if g.measure.transformed:
                for key in ("common_estimate", "common_ci_low", "common_ci_high", "random_estimate",
                            "random_ci_low", "random_ci_high"):
                    r["bt_" + key] = float(g.backtransform(p[key]))
            rows.append(r)
        return pd.DataFrame(rows).set_index("subgroup")

    def to_dict(self) -> dict:
        """The JSON ``subgroups`` block: one pooled block per level, and the tests."""
        groups = []
        for lv, g in self.groups.items():
            d = g.to_dict()
            groups.append({"level": lv, **{k: d[k] for k in ("k", "k_all", "common", "random", "prediction",
                                                             "heterogeneity", "backtransformed", "studies")}})
        return {"variable": self.variable, "tau_common": self.tau_common, "tau2_common": self.tau2_common,
                "levels": self.levels, "groups": groups, "test": self.test, "within": self.within,
                "notes": list(self.notes)}

    def report(self):
        from ..base.report import Heading, Paragraph, Report, Table
        ov = self.overall
        s = ov.settings
        m = ov.measure
        pct = int(round(s.level * 100))
        rep = Report()
        rep.add(Heading(f"Subgroup analysis by {self.variable}", 2))
        models = [mo for mo in ("common", "random") if getattr(s, mo)]
        for mo in models:
            rows = []
            for lv, g in self.groups.items():
                p = g.pooled
                bt_g = g.backtransform if m.transformed else (lambda x: x)
                # one study: τ² and I² cannot be estimated ("--", as R meta prints them)
                single = g.k <= 1
                rows.append([f"{self.variable} = {lv}", str(g.k), _f(bt_g(p[f"{mo}_estimate"])),
                             f"[{_f(bt_g(p[f'{mo}_ci_low']))}; {_f(bt_g(p[f'{mo}_ci_high']))}]",
                             "--" if single and not self.tau_common else _f(p["tau2"]),
                             "--" if single else _f(p["i2"], 1), _f(p["q"], 2)])
            title = "Results for subgroups (common effect model)" if mo == "common" else \
                "Results for subgroups (random effects model)"
            rep.add(Table(["", "k", "Estimate", f"{pct}%-CI", "τ²", "I² (%)", "Q"], rows, title=title))
        lines = ["Test for subgroup differences:"]
        for mo in models:
            t = self.test[mo]
            lines.append(f" {'Common' if mo == 'common' else 'Random'} effects model: Q = {_f(t['q'], 2)}, "
                         f"df = {t['df']}, p {_peq(t['p'])}")
        if self.within:
            w = self.within
            lines.append(f" Within subgroups (common effect): Q = {_f(w['q'], 2)}, df = {w['df']}, "
                         f"p {_peq(w['p'])}")
        rep.add(Paragraph("\n".join(lines)))
        if self.tau_common:
            rep.add(Paragraph(f"Common τ² across subgroups (residual τ² of the meta-regression on "
                              f"{self.variable}, {s.method_tau2}): {_f(self.tau2_common)}"))
        if self.notes:
            rep.add(Paragraph("Notes:\n" + "\n".join("- " + n for n in self.notes)))
        return rep

    def forest(self, ax=None, **kwargs):
        """Forest plot with subgroup diamonds and the test for subgroup differences
        (see :func:`metareview.plots.forest.forest`)."""
        from ..plots.forest import forest
        return forest(self, ax=ax, **kwargs)

    plot = forest


def subgroup(result, by, *, tau_common: bool = False) -> SubgroupResult:
    """Pool ``result`` within the levels of ``by`` and test for subgroup differences.

    ``by``: a column of ``result.covariates`` or an array with one value per study.
    ``tau_common``: one tau² for all subgroups (R meta's ``tau.common = TRUE``), the
    residual tau² of ``rma.uni(mods = ~ factor(by))`` with the result's estimator.

    >>> import metareview as mr
    >>> r = mr.metaprop([8, 26, 26, 6, 109], [10, 31, 30, 9, 140], ["A", "B", "C", "D", "E"],
    ...                 covariates={"rt": ["yes", "no", "no", "yes", "no"]})
    >>> sg = subgroup(r, "rt")
    >>> sg.levels, sg.test["common"]["df"]
    (['yes', 'no'], 1)
    """
    labels = result.studlab
    if isinstance(by, str):
        from .moderators import study_columns
        cols = study_columns(result)
        if by not in cols:
            raise DataError(f"subgroup column {by!r} is not in the data; columns are: "
                            f"{', '.join(cols) or '(none)'}", column=by, rule="missing column")
        name, values = by, cols[by]
    else:
        name = getattr(by, "name", None) or "subgroup"
        values = np.asarray(by, dtype=object).ravel()
        if values.size != result.k_all:
            raise DataError(f"{values.size} subgroup values for {result.k_all} studies", column=name,
                            rule="one value per study")
    from .moderators import is_missing
    miss = np.array([is_missing(x) for x in values])
    notes = []
    if miss.any():
        # an explicit level of its own, never a silent "N/A" or "nan" group (R meta stops)
        who = ", ".join(map(str, labels[miss]))
        msg = (f"no value in column {name!r} for {who}: pooled as the subgroup {MISSING_LEVEL}; give "
               "them a value, or leave them out of the analysis (subset), to change that")
        warnings.warn(msg, MetaReviewWarning, stacklevel=2)
        notes.append(msg)
    keys = np.array([MISSING_LEVEL if gap else str(x) for x, gap in zip(values, miss)], dtype=object)
    levels = _levels_in_order(keys)
    if len(levels) < 2:
        raise DataError(f"subgroup column {name!r} has a single level ({levels[0]}): nothing to compare",
                        column=name, rule="at least two subgroups")
    inc = result.included
    masks = np.array([(keys == lv) & inc for lv in levels], float)
    for lv, mk in zip(levels, masks):
        kk = int(mk.sum())
        if kk == 0:
            raise DataError(f"subgroup {name} = {lv} has no pooled study (all its studies are excluded)",
                            column=name, rule="studies in every subgroup")
        if kk == 1:
            study = str(labels[(keys == lv) & inc][0])
            msg = (f"subgroup {name} = {lv} has one study ({study}): its pooled estimate is that study, "
                   "and τ², Q and I² are not estimable")
            warnings.warn(msg, SmallSampleWarning, stacklevel=2)
            notes.append(msg)
    pooled = pool_masks(result, masks)
    rows = [pooled.row(i) for i in range(len(levels))]
    tau2_c = None
    if tau_common:
        from ..pooling.rma import tau2_mods
        from .moderators import design_matrix, tau2_weights
        idx = np.flatnonzero(inc)
        X = design_matrix({"subgroup": keys[idx]}, "~ factor(subgroup)", labels[idx]).X
        method = result.settings.method_tau2
        tau2_c, _, converged = tau2_mods(result.yi[idx], result.vi[idx], X, method,
                                         weights=tau2_weights(result, method, idx))
        if not converged:
            warnings.warn(f"the {method} estimator of the common tau² did not converge; the last iterate is "
                          "reported", ConvergenceWarning, stacklevel=2)
        fixed = _random_with_tau2(result, masks, tau2_c, pooled)
        rows = [_with_common_tau2(row, fixed, i) for i, row in enumerate(rows)]
    groups = {lv: restrict(result, keys == lv, rows[i], notes=[n for n in notes if f"= {lv} " in n])
              for i, lv in enumerate(levels)}
    test = {"common": _q_between([r["common_estimate"] for r in rows], [r["common_se"] for r in rows]),
            "random": _q_between([r["random_estimate"] for r in rows], [r["random_se"] for r in rows])}
    qw = float(sum(r["q"] for r in rows if np.isfinite(r["q"])))
    dfw = int(sum(max(int(r["k"]) - 1, 0) for r in rows))
    within = {"q": qw, "df": dfw, "p": float(_dist.chi2_sf(qw, dfw)) if dfw > 0 else None}
    return SubgroupResult(overall=result, groups=groups, test=test, variable=name, tau_common=tau_common,
                          tau2_common=tau2_c, within=within, notes=tuple(notes))
