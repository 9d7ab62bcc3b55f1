"""Missing SDs for pre/post and follow-up data, imputed in the open.

Follow-up SDs are often not reported (the seed review's Table 2 gives none at 1 month).
The Cochrane Handbook (6.5.2.7-6.5.2.8) and Furukawa et al. (2006) describe the usual
remedies: borrow the SD of the same study at baseline or at another time point, or use
an SD from the other studies (their mean, median or, conservatively, the largest).
Every value filled here is flagged in two companion columns, so that results and
reports can say which studies were imputed and how:

- ``<column>_imputed``: bool, True where the value was imputed or converted here;
- ``<column>_imputation``: str, the method ("" where nothing was done).

Furukawa TA, Barbui C, Cipriani A, Brambilla P, Watanabe N. Imputing missing standard
deviations in meta-analyses can provide accurate results. J Clin Epidemiol 2006;59:7-10.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..base.exceptions import DataError

__all__ = ["IMPUTE_METHODS", "impute_sd", "fill_from_quantiles", "flagged_values"]

#: method -> what it does
IMPUTE_METHODS: dict[str, str] = {
    "same_study": "the same study's SD from another column (baseline or another time point)",
    "mean": "the mean of the SDs the other studies report in this column",
    "median": "the median of the SDs the other studies report in this column",
    "max": "the largest SD the other studies report in this column (conservative)",
    "value": "a fixed value",
    "ci": "converted from the CI of the mean (t with n - 1 df, Cochrane Handbook 6.5.2.2)",
}


def _values(frame, column: str) -> np.ndarray:
    import pandas as pd

    if column not in frame.columns:
        raise DataError(f"column is not in the table; columns: {', '.join(map(str, frame.columns))}",
                        column=column, rule="missing column")
    s = frame[column]
    if not pd.api.types.is_numeric_dtype(s):
        raise DataError("column must be numeric (parse printed cells first with "
                        "metareview.tables.parse.parse_printed_table)", column=column, rule="not_a_number")
    return s.to_numpy(dtype=float, na_value=np.nan)


def impute_sd(data, column: str, method: str, *, source: str | Sequence[str] | None = None,
              value: float | None = None, where: str | None = None, n: str = "n",
              level: float = 0.95, study: str = "study"):
    """Fill the missing values of the SD column ``column``; return a new DataFrame.

    ``method`` is one of :data:`IMPUTE_METHODS`:

    - ``"same_study"``: from the same row's ``source`` column (a name, or several tried in
      order), e.g. the 1-month SD from ``baseline_sd``;
    - ``"mean"``, ``"median"``, ``"max"``: from the SDs reported in ``column`` by the
      other studies (Furukawa et al. 2006; the largest is the conservative choice);
    - ``"value"``: a fixed ``value``;
    - ``"ci"``: from ``source = (lower, upper)`` CI columns of the mean and the ``n`` column.

    Only rows where ``column`` is missing are filled, and of those only rows with a value
    in ``where`` when given (e.g. ``where="pain_1mo_mean"``: rows that need the SD).  A
    row whose source is missing too stays missing and unflagged.  Flags go to
    ``<column>_imputed`` and ``<column>_imputation``; existing flags are kept, so calls
    can be chained (baseline first, then the median of the others for what is left).
    Values the source table marked as estimated (``<column>_estimated``) are not touched.

    >>> import pandas as pd
    >>> t = pd.DataFrame({"study": ["A", "B"], "sd_pre": [2.0, 1.5], "sd_1mo": [float("nan"), 1.2]})
    >>> out = impute_sd(t, "sd_1mo", "same_study", source="sd_pre")
    >>> out[["sd_1mo", "sd_1mo_imputed", "sd_1mo_imputation"]].values.tolist()
    [[2.0, True, 'same study: sd_pre'], [1.2, False, '']]
    """
    if method not in IMPUTE_METHODS:
        raise DataError(f"unknown imputation method {method!r}; valid: {', '.join(IMPUTE_METHODS)}",
                        column=column, rule="option")
    out = data.copy()
    if column not in out.columns:
        out[column] = np.nan
    target = _values(out, column)
    flag_col, how_col = f"{column}_imputed", f"{column}_imputation"
    flags = out[flag_col].to_numpy(dtype=bool) if flag_col in out.columns else np.zeros(len(out), bool)
    how = out[how_col].fillna("").astype(str).to_numpy(dtype=object) if how_col in out.columns \
        else np.full(len(out), "", dtype=object)
    todo = np.isnan(target)
    if where is not None:
        todo &= ~np.isnan(_values(out, where))

    filled = np.full(len(out), np.nan)
    label = np.full(len(out), "", dtype=object)
    if method == "same_study":
        sources = [source] if isinstance(source, str) else list(source or [])
        if not sources:
            raise DataError("method 'same_study' needs source= (e.g. 'baseline_sd')", column=column,
                            rule="option")
        for src in sources:
            vals = _values(out, src)
            take = np.isnan(filled) & ~np.isnan(vals)
            filled[take] = vals[take]
            label[take] = f"same study: {src}"
    elif method in ("mean", "median", "max"):
        if source is not None:
            raise DataError(f"method {method!r} borrows from the other studies of {column!r} and takes no "
                            f"source=", column=column, rule="option")
        observed = target[~np.isnan(target) & ~flags]
        if observed.size == 0:
            raise DataError(f"no study reports {column!r}: there is nothing to borrow from", column=column,
                            rule="imputation")
        pick = {"mean": np.mean, "median": np.median, "max": np.max}[method](observed)
        filled[:] = pick
        label[:] = f"{method} of {observed.size} reported SDs ({pick:.4g})"
    elif method == "value":
        if value is None or not np.isfinite(value) or value <= 0:
            raise DataError("method 'value' needs value= > 0", column=column, rule="option")
        filled[:] = float(value)
        label[:] = f"fixed value {value:g}"
    else:
        from .convert import sd_from_ci

        if source is None or isinstance(source, str) or len(source) != 2:
            raise DataError("method 'ci' needs source=(lower_column, upper_column)", column=column,
                            rule="option")
        lower, upper, size = _values(out, source[0]), _values(out, source[1]), _values(out, n)
        ok = todo & ~np.isnan(lower) & ~np.isnan(upper) & ~np.isnan(size)
        if np.any(ok):
            try:
                filled[ok] = sd_from_ci(lower[ok], upper[ok], size[ok], level=level)
            except DataError as exc:
                raise DataError(str(exc), column=column, rule=exc.rule) from None
        label[ok] = f"from {level:.0%} CI of the mean (t, n-1 df)"

    take = todo & ~np.isnan(filled)
    bad = take & (filled <= 0)
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        who = str(out[study].iloc[i]) if study in out.columns else f"row {i + 1}"
        raise DataError(f"the imputed SD would be {filled[i]:g}; an SD must be > 0", study=who, column=column,
                        rule="sd_positive")
    target = target.copy()
    target[take] = filled[take]
    flags = flags | take
    how[take] = label[take]
    out[column] = target
    out[flag_col] = flags
    out[how_col] = how.astype(str)
    return out


_QUANTILE_REFS = {"luo": "Luo et al. 2018", "wan": "Wan et al. 2014", "hozo": "Hozo et al. 2005",
                  "hozo_by_n": "Hozo et al. 2005 (rules by sample size)", "shi": "Shi et al. 2020"}


def fill_from_quantiles(data, *, mean: str, sd: str, n: str = "n", median: str = "median",
                        q1: str | None = None, q3: str | None = None, minimum: str | None = None,
                        maximum: str | None = None, mean_method: str = "luo", sd_method: str = "shi"):
    """Fill missing means and SDs from a reported median with IQR and/or range; return a new DataFrame.

    Rows where ``mean`` or ``sd`` is missing and ``median`` with (``q1``, ``q3``) and/or
    (``minimum``, ``maximum``) is given are converted with
    :func:`metareview.tables.convert.mean_sd_from_quantiles` (scenario chosen per row).  Filled
    values are flagged in ``<mean>_imputed``/``<mean>_imputation`` and
    ``<sd>_imputed``/``<sd>_imputation``, e.g. "Luo et al. 2018 from median, q1, q3 (S2)".
    A reported mean or SD is never replaced.
    """
    from .convert import mean_sd_from_quantiles

    out = data.copy()
    for col in (mean, sd):
        if col not in out.columns:
            out[col] = np.nan
    k = len(out)
    cols = {"q1": q1, "q3": q3, "min": minimum, "max": maximum}
    vals = {key: (_values(out, c) if c else np.full(k, np.nan)) for key, c in cols.items()}
    med, size = _values(out, median), _values(out, n)
    has_iqr = ~np.isnan(vals["q1"]) & ~np.isnan(vals["q3"])
    has_range = ~np.isnan(vals["min"]) & ~np.isnan(vals["max"])
    cur_mean, cur_sd = _values(out, mean), _values(out, sd)
    todo = (np.isnan(cur_mean) | np.isnan(cur_sd)) & ~np.isnan(med) & ~np.isnan(size) & (has_iqr | has_range)
    new_mean, new_sd = cur_mean.copy(), cur_sd.copy()
    labels = np.full(k, "", dtype=object)
    if np.any(todo):
        est = mean_sd_from_quantiles(size[todo], med[todo], q1=vals["q1"][todo], q3=vals["q3"][todo],
                                     minimum=vals["min"][todo], maximum=vals["max"][todo],
                                     mean_method=mean_method, sd_method=sd_method)
        given = {"S1": "median, min, max", "S2": "median, q1, q3", "S3": "median, q1, q3, min, max"}
        idx = np.flatnonzero(todo)
        for j, i in enumerate(idx):
            scen = str(np.atleast_1d(est.scenario)[j])
            labels[i] = f"from {given[scen]} ({scen})"
        new_mean[idx] = np.where(np.isnan(cur_mean[idx]), np.atleast_1d(est.mean), cur_mean[idx])
        new_sd[idx] = np.where(np.isnan(cur_sd[idx]), np.atleast_1d(est.sd), cur_sd[idx])
    for col, before, after, ref in ((mean, cur_mean, new_mean, _QUANTILE_REFS[mean_method]),
                                    (sd, cur_sd, new_sd, _QUANTILE_REFS[sd_method])):
        filled = np.isnan(before) & ~np.isnan(after)
        flag_col, how_col = f"{col}_imputed", f"{col}_imputation"
        flags = out[flag_col].to_numpy(dtype=bool) if flag_col in out.columns else np.zeros(k, bool)
        how = out[how_col].fillna("").astype(str).to_numpy(dtype=object) if how_col in out.columns \
            else np.full(k, "", dtype=object)
        how[filled] = [f"{ref} {labels[i]}" for i in np.flatnonzero(filled)]
        out[col] = after
        out[flag_col] = flags | filled
        out[how_col] = how.astype(str)
    return out


def flagged_values(data, study: str = "study"):
    """Every estimated or imputed value in a table, for summaries and reports.

    Looks for ``<col>_estimated`` (marked as estimated in the source, see
    :func:`metareview.tables.parse.parse_printed_table`) and ``<col>_imputed`` /
    ``<col>_imputation`` (filled by :func:`impute_sd`).  Returns a DataFrame with
    columns study, column, value, flag ("estimated in source" or "imputed") and method.
    """
    import pandas as pd

    rows = []
    labels = data[study].astype(str).tolist() if study in data.columns else \
        [f"row {i + 1}" for i in range(len(data))]
    for col in data.columns:
        name = str(col)
        for suffix, flag in (("_estimated", "estimated in source"), ("_imputed", "imputed")):
            if name.endswith(suffix) and name[:-len(suffix)] in data.columns:
                base = name[:-len(suffix)]
                marks = data[name].fillna(False).to_numpy(dtype=bool)
                methods = data[f"{base}_imputation"].astype(str).tolist() \
                    if suffix == "_imputed" and f"{base}_imputation" in data.columns else None
                for i in np.flatnonzero(marks):
                    rows.append({"study": labels[i], "column": base, "value": data[base].iloc[i], "flag": flag,
                                 "method": methods[i] if methods else "reported by the source as estimated"})
    return pd.DataFrame(rows, columns=["study", "column", "value", "flag", "method"])
