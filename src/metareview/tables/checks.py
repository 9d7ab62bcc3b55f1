"""Data checks on an extraction table, before anything is pooled.

Published tables contain errors that pooling silently absorbs: a percentage that does
not match its count, a total in the text that the rows do not add up to, an SD that no
data on a 0–10 scale can have.  :func:`check_table` reads a table of printed cells
under its declarations (:mod:`metareview.tables.parse`) and lists every such problem as a
:class:`Finding`; :func:`check_arrays` runs the row-wise rules on numpy arrays and is
what analyses call before pooling (it costs a few vectorised comparisons when the data
are clean).

Severity: an ``error`` is data that cannot be right (events > n, SD <= 0, a mean outside
its scale) and stops an analysis (:meth:`CheckReport.raise_for_errors`); a ``warning`` is
an inconsistency worth reporting that does not change what can be computed (a printed
percentage that disagrees with its count, an SD impossible on a bounded scale).
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from ..base.exceptions import DataError
from ..base.format import Reportable
from .parse import ColumnSpec, TableSpec, Total, as_spec, is_missing_cell, parse_frame, parse_number

__all__ = ["RULES", "Finding", "CheckReport", "check_arrays", "check_table", "sd_upper_bound"]

#: Every rule: its severity and what it checks.
RULES: dict[str, tuple[str, str]] = {
    "not_a_number": ("error", "a cell can be read as its column's declared kind"),
    "n_positive": ("error", "sample sizes are whole numbers > 0"),
    "count_nonnegative": ("error", "counts are whole numbers >= 0"),
    "events_le_n": ("error", "events <= n"),
    "sd_positive": ("error", "SD > 0"),
    "within_scale": ("error", "means, medians, quartiles and ranges lie within the declared scale"),
    "mean_within_range": ("error", "min <= mean <= max"),
    "order": ("error", "min <= q1 <= median <= q3 <= max and ci_low <= estimate <= ci_high"),
    "percent_matches_count": ("warning", "a printed percentage equals 100 × count / n at its printed precision"),
    "total_matches_rows": ("warning", "a total the paper reports equals what its rows add up to"),
    "duplicate_cohort": ("warning", "no two rows share first author, year and n (the same cohort twice)"),
    "sd_possible_on_scale": ("warning", "SD <= sqrt(n/(n-1) (mean-low)(high-mean)), the largest SD a sample "
                                        "on a bounded scale can have"),
    "estimate_flagged": ("warning", "a value marked as estimated in the source is declared as such"),
}

_ORDER = {rule: i for i, rule in enumerate(RULES)}


@dataclass(frozen=True)
class Finding:
    """One problem found in the data.

    ``row`` is the 1-based data row (``None`` for table-wide findings such as totals);
    ``value`` is the value as seen in the data; ``expected`` what the other data imply.
    """

    study: str | None
    column: str | None
    value: str | None
    expected: str | None
    rule: str
    severity: str
    message: str
    row: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_FIELDS = ["study", "row", "column", "value", "expected", "rule", "severity", "message"]


@dataclass(frozen=True)
class CheckReport(Reportable):
    """The findings of a data check, with the vocabulary of every metareview result:
    :meth:`summary` (a DataFrame), :meth:`to_dict`, ``str()``, ``print_summary()`` and ``_repr_html_``."""

    findings: tuple[Finding, ...] = ()
    n_rows: int = 0
    source: str | None = None
    rules_checked: tuple[str, ...] = field(default_factory=tuple)

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "warning")

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return not self.errors

    def __len__(self) -> int:
        return len(self.findings)

    def __iter__(self):
        return iter(self.findings)

    def summary(self):
        """The findings as a DataFrame: study, row, column, value, expected, rule, severity, message."""
        import pandas as pd
        return pd.DataFrame([{k: getattr(f, k) for k in _FIELDS} for f in self.findings], columns=_FIELDS)

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "n_rows": self.n_rows, "errors": len(self.errors),
                "warnings": len(self.warnings), "findings": [f.to_dict() for f in self.findings]}

    def raise_for_errors(self) -> "CheckReport":
        """Raise :class:`~metareview.base.exceptions.DataError` for the first error; return self otherwise."""
        errors = self.errors
        if errors:
            first = errors[0]
            more = f" ({len(errors) - 1} more error(s); run the data check to see them all)" if len(errors) > 1 else ""
            raise DataError(first.message + more, study=first.study, column=first.column, rule=first.rule)
        return self

    def report(self):
        from ..base.report import BulletList, Paragraph, Report, Table
        rep = Report().add(Paragraph(f"Data check{' of ' + self.source if self.source else ''}: {self.n_rows} rows, "
                                     f"{len(self.errors)} error(s), {len(self.warnings)} warning(s)"))
        if not self.findings:
            return rep.add(Paragraph("No findings."))
        rows = [[f.severity, f.rule, f.study or "", f.column or "", f.value or "", f.expected or ""]
                for f in self.findings]
        rep.add(Table(["severity", "rule", "study", "column", "value", "expected"], rows, align="llllll"))
        return rep.add(BulletList([f"{f.study + ': ' if f.study else ''}{f.message}" for f in self.findings]))


def _finding(rule: str, message: str, *, study=None, column=None, value=None, expected=None,
             row=None) -> Finding:
    return Finding(study=study, column=column, value=value, expected=expected, rule=rule,
                   severity=RULES[rule][0], message=message, row=row)


def _fmt(x: float) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    return f"{float(x):.6g}"


def sd_upper_bound(mean, low: float, high: float, n=None):
    """Largest SD that values on ``[low, high]`` with this mean can have.

    All values sit at the two ends: population variance (mean-low)(high-mean); a sample
    SD (denominator n-1) can be larger by sqrt(n/(n-1)), which is used when ``n`` is
    given.  Vectorised over numpy arrays.

    >>> round(float(sd_upper_bound(6.0, 0, 10)), 4)
    4.899
    """
    mean = np.asarray(mean, dtype=float)
    var = np.clip((mean - low) * (high - mean), 0.0, None)
    if n is not None:
        n = np.asarray(n, dtype=float)
        # unknown n: the population bound; n = 1: no sample SD exists, so no bound applies
        factor = np.where(np.isnan(n), 1.0, np.where(n > 1, n / np.where(n > 1, n - 1, 1.0), np.inf))
        var = var * factor
    return np.sqrt(var)


_ROLE_ARGS = ("events", "n", "mean", "sd", "median", "q1", "q3", "minimum", "maximum")
_ROLE_OF_ARG = {"minimum": "min", "maximum": "max"}


def check_arrays(study: Sequence[Any] | None = None, *, events=None, n=None, mean=None, sd=None,
                 median=None, q1=None, q3=None, minimum=None, maximum=None,
                 scale: tuple[float, float] | None = None, columns: Mapping[str, str] | None = None,
                 decimals: Mapping[str, Any] | None = None, text: Mapping[str, Any] | None = None,
                 rows: Sequence[int] | None = None, check_n: bool = True) -> CheckReport:
    """Row-wise rules on the arrays of one measurement: what analyses call before pooling.

    Arguments are arrays over studies (NaN = not given): ``events``, ``n`` (counts),
    ``mean``, ``sd``, ``median``, ``q1``, ``q3``, ``minimum``, ``maximum``; ``scale``
    is the ``(low, high)`` of a bounded scale (pain 0–10).  ``columns`` maps a role
    (``"mean"``, ``"min"``, ...) to the column name shown in findings; ``decimals``
    gives the printed precision of a role, so that the SD bound allows for rounding
    of the printed mean and SD; ``text`` the printed text shown as the value.

    Rules: ``n_positive``, ``count_nonnegative``, ``events_le_n``, ``sd_positive``,
    ``within_scale``, ``mean_within_range``, ``order``, ``sd_possible_on_scale``
    (:data:`RULES`).  Clean data cost a handful of vectorised comparisons.

    >>> r = check_arrays(["A", "B"], events=[3, 12], n=[10, 11])
    >>> [(f.study, f.rule) for f in r.errors]
    [('B', 'events_le_n')]
    """
    given = {arg: v for arg, v in zip(_ROLE_ARGS, (events, n, mean, sd, median, q1, q3, minimum, maximum))
             if v is not None}
    arrays = {_ROLE_OF_ARG.get(k, k): np.atleast_1d(np.asarray(_float_array(v), dtype=float))
              for k, v in given.items()}
    k = max((len(a) for a in arrays.values()), default=0)
    for role, a in arrays.items():
        if len(a) != k:
            raise DataError(f"{role} has {len(a)} values, other columns have {k}", column=role,
                            rule="shape")
    if study is not None and len(study) != k:
        raise DataError(f"study has {len(study)} labels for {k} rows", column="study", rule="shape")
    names = {role: role for role in arrays}
    if columns:
        names.update(columns)
    row_ids = np.arange(k) if rows is None else np.asarray(rows)
    found: list[Finding] = []

    def add(rule, mask, role, message, expected=None):
        for i in np.flatnonzero(mask):
            label = None if study is None else str(study[i])
            shown = str(text[role][i]) if text and role in text and text[role][i] not in (None, "") \
                else _fmt(arrays[role][i])
            exp = expected(i) if callable(expected) else expected
            found.append(_finding(rule, message(i) if callable(message) else message, study=label,
                                  column=names.get(role, role), value=shown, expected=exp,
                                  row=int(row_ids[i]) + 1))

    with np.errstate(invalid="ignore"):
        if "n" in arrays and check_n:
            a = arrays["n"]
            bad = (a <= 0) | (np.isfinite(a) & (a != np.round(a)))
            add("n_positive", bad, "n", lambda i: f"n = {_fmt(arrays['n'][i])} is not a whole number > 0",
                "a whole number > 0")
        if "events" in arrays:
            a = arrays["events"]
            bad = (a < 0) | (np.isfinite(a) & (a != np.round(a)))
            add("count_nonnegative", bad, "events",
                lambda i: f"{names['events']} = {_fmt(arrays['events'][i])} is not a whole number >= 0",
                "a whole number >= 0")
            if "n" in arrays:
                over = a > arrays["n"]
                add("events_le_n", over, "events",
                    lambda i: f"{names['events']} = {_fmt(arrays['events'][i])} exceeds n = "
                              f"{_fmt(arrays['n'][i])}",
                    lambda i: f"<= {_fmt(arrays['n'][i])}")
        if "sd" in arrays:
            add("sd_positive", arrays["sd"] <= 0, "sd",
                lambda i: f"{names['sd']} = {_fmt(arrays['sd'][i])}: an SD must be > 0", "> 0")
        if scale is not None:
            low, high = float(scale[0]), float(scale[1])
            for role in ("mean", "median", "q1", "q3", "min", "max"):
                if role in arrays:
                    a = arrays[role]
                    add("within_scale", (a < low) | (a > high), role,
                        lambda i, r=role: f"{names[r]} = {_fmt(arrays[r][i])} lies outside the scale "
                                          f"{_fmt(low)}–{_fmt(high)}",
                        f"within {_fmt(low)}–{_fmt(high)}")
        if "mean" in arrays and ("min" in arrays or "max" in arrays):
            a = arrays["mean"]
            lo = arrays.get("min", np.full(k, np.nan))
            hi = arrays.get("max", np.full(k, np.nan))
            add("mean_within_range", (a < lo) | (a > hi), "mean",
                lambda i: f"{names['mean']} = {_fmt(a[i])} lies outside the reported range "
                          f"[{_fmt(lo[i])}, {_fmt(hi[i])}]",
                lambda i: f"within [{_fmt(lo[i])}, {_fmt(hi[i])}]")
        chain = [r for r in ("min", "q1", "median", "q3", "max") if r in arrays]
        for a_role, b_role in zip(chain, chain[1:]):
            add("order", arrays[a_role] > arrays[b_role], b_role,
                lambda i, a_r=a_role, b_r=b_role: f"{names[b_r]} = {_fmt(arrays[b_r][i])} is below "
                                                  f"{names[a_r]} = {_fmt(arrays[a_r][i])}",
                lambda i, a_r=a_role: f">= {_fmt(arrays[a_r][i])}")
        if scale is not None and "sd" in arrays:
            low, high = float(scale[0]), float(scale[1])
            sd = arrays["sd"]
            n_arr = arrays.get("n")
            half = {role: 0.5 * 10.0 ** (-np.asarray(_float_array(decimals[role]), dtype=float))
                    for role in ("mean", "sd") if decimals and role in decimals}
            sd_low = sd - np.nan_to_num(half.get("sd", np.zeros(k)), nan=0.0)
            if "mean" in arrays:
                m = arrays["mean"]
                hm = np.nan_to_num(half.get("mean", np.zeros(k)), nan=0.0)
                # the printed mean may be rounded: take the most favourable mean it can stand for
                centre = np.clip((low + high) / 2, m - hm, m + hm)
                bound = sd_upper_bound(np.clip(centre, low, high), low, high, n_arr)
                # without a mean, the bound is half the width of the scale
                bound = np.where(np.isnan(m), sd_upper_bound((low + high) / 2, low, high, n_arr), bound)
            else:
                bound = np.broadcast_to(sd_upper_bound((low + high) / 2, low, high, n_arr), (k,))
            bad = sd_low > bound * (1 + 1e-12)
            mean_arr = arrays.get("mean", np.full(k, np.nan))
            add("sd_possible_on_scale", bad, "sd",
                lambda i: (f"{names['sd']} = {_fmt(sd[i])} is larger than any sample"
                           f"{'' if n_arr is None or np.isnan(n_arr[i]) else ' of ' + _fmt(n_arr[i])} "
                           f"on the scale {_fmt(low)}–{_fmt(high)}"
                           f"{'' if np.isnan(mean_arr[i]) else ' with mean ' + _fmt(mean_arr[i])}"
                           f" can have (at most {bound[i]:.3g})"),
                lambda i: f"<= {bound[i]:.3g}")
    return CheckReport(findings=tuple(found), n_rows=k)


def _float_array(v):
    """Accept lists, numpy arrays and pandas (nullable) series; missing -> NaN."""
    if hasattr(v, "to_numpy"):
        try:
            return v.to_numpy(dtype=float, na_value=np.nan)
        except TypeError:
            return v.to_numpy(dtype=float)
    if isinstance(v, (list, tuple)):
        return [np.nan if x is None else x for x in v]
    return v


# ----------------------------------------------------------------------------- tables

_COMPOUND_ROLES = {
    "mean_sd": {"mean": "mean", "sd": "sd"},
    "median_iqr": {"median": "median", "q1": "q1", "q3": "q3"},
    "median_range": {"median": "median", "min": "min", "max": "max"},
    "count_percent": {"events": "events"},
}


def _decimals_of(text: Any) -> float:
    if not isinstance(text, str):
        return np.nan
    m = re.search(r"\d+(?:\.(\d+))?", text.replace("·", "."))
    if not m:
        return np.nan
    return float(len(m.group(1) or ""))


def check_table(data, spec: TableSpec | Mapping[str, Any] | str | None = None, *,
                scales: Mapping[str, tuple[float, float]] | None = None,
                totals: Iterable[Total] | None = None, source: str | None = None) -> CheckReport:
    """Check an extraction table of printed cells (or numbers) and list every finding.

    ``data`` is a DataFrame (read as text, see :func:`metareview.tables.parse.read_table`) or a
    path (its ``.columns.toml`` sidecar is used when ``spec`` is ``None``); ``spec`` the
    column declarations (:class:`~metareview.tables.parse.TableSpec`, a dict, a TOML path, or
    ``None`` to infer them from column names); ``scales`` adds scales such as
    ``{"pain": (0, 10)}`` (see :meth:`TableSpec.with_scales`); ``totals`` adds totals
    the paper reports.  All rules of :data:`RULES` are applied; nothing is raised for
    bad cells: they become findings.

    >>> import pandas as pd
    >>> t = pd.DataFrame({"study": ["A, 2020"], "n": ["10"], "tox": ["4 (12.9)"]})
    >>> r = check_table(t, {"columns": {"n": {"kind": "count"}, "tox": {"kind": "count_percent"}}})
    >>> [(f.rule, f.value, f.expected) for f in r]
    [('percent_matches_count', '12.9', '40.0')]
    """
    from pathlib import Path

    from .parse import read_table, sidecar_path

    if isinstance(data, (str, Path)):
        path = Path(data)
        source = source or str(path)
        data = read_table(path)
        if spec is None and sidecar_path(path).exists():
            spec = sidecar_path(path)
    spec = as_spec(spec, data)
    if scales:
        spec = spec.with_scales(scales)
    all_totals = tuple(spec.totals) + tuple(totals or ())
    frame, problems = parse_frame(data, spec)
    k = len(frame)
    labels = _labels(data, spec)
    found: list[Finding] = []
    for p in problems:
        found.append(_finding(p.rule, f"{p.column}: {p.message}", study=labels[p.row], column=p.column,
                              value=p.value, expected=p.expected, row=p.row + 1))

    table_n = _numeric(frame, spec.n) if spec.n and spec.n in frame.columns else None
    if table_n is not None:
        n_col = spec.columns.get(spec.n, ColumnSpec(column=spec.n, kind="count"))
        rep = check_arrays(labels, n=table_n, columns={"n": n_col.column})
        found.extend(rep.findings)

    for group in _groups(spec):
        arrays: dict[str, np.ndarray] = {}
        names: dict[str, str] = {}
        text: dict[str, Any] = {}
        decimals: dict[str, np.ndarray] = {}
        scale = None
        for cspec, role, out_col in group:
            arrays[role] = _numeric(frame, out_col)
            names[role] = cspec.column if cspec.kind in ("number", "count") else out_col
            raw = data[cspec.column].tolist()
            if cspec.kind in ("number", "count"):
                text[role] = [None if is_missing_cell(x) else str(x) for x in raw]
                decimals[role] = np.array([_decimals_of(x) for x in raw])
            if cspec.scale:
                scale = spec.scales[cspec.scale]
        if "n" not in arrays:
            n_arr = _group_n(frame, spec, group)
            if n_arr is not None:
                arrays["n"] = n_arr
        args = {("minimum" if r == "min" else "maximum" if r == "max" else r): a for r, a in arrays.items()}
        rep = check_arrays(labels, **args, scale=scale, columns=names, decimals=decimals, text=text,
                           check_n=False)
        found.extend(rep.findings)

    for col, cspec in spec.columns.items():
        if cspec.kind == "count_percent":
            found.extend(_percent_findings(data, frame, spec, cspec, labels))
        if cspec.kind == "estimate_ci":
            est, lo, hi = (_numeric(frame, c) for c in cspec.output_columns().values())
            with np.errstate(invalid="ignore"):
                bad = (lo > est) | (est > hi)
            for i in np.flatnonzero(bad):
                found.append(_finding("order", f"{col}: the estimate {_fmt(est[i])} lies outside its CI "
                                                f"[{_fmt(lo[i])}, {_fmt(hi[i])}]", study=labels[i], column=col,
                                      value=str(data[col].iloc[i]), expected="ci_low <= estimate <= ci_high",
                                      row=i + 1))
    found.extend(_duplicate_findings(data, frame, spec, labels))
    found.extend(_total_findings(data, frame, spec, all_totals))
    found = _dedupe(found)
    found.sort(key=lambda f: (f.row is None, f.row or 0, _ORDER.get(f.rule, 99)))
    return CheckReport(findings=tuple(found), n_rows=k, source=source, rules_checked=tuple(RULES))


def _dedupe(found: list[Finding]) -> list[Finding]:
    seen, out = set(), []
    for f in found:
        key = (f.row, f.column, f.rule, f.value)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def _labels(data, spec: TableSpec) -> list[str]:
    if spec.study and spec.study in data.columns:
        return [str(x) if not is_missing_cell(x) else f"row {i + 1}" for i, x in enumerate(data[spec.study])]
    return [f"row {i + 1}" for i in range(len(data))]


def _numeric(frame, column: str) -> np.ndarray:
    import pandas as pd
    s = frame[column]
    if pd.api.types.is_numeric_dtype(s):
        return np.asarray(_float_array(s), dtype=float)
    out = np.full(len(s), np.nan)
    for i, x in enumerate(s.tolist()):
        if is_missing_cell(x):
            continue
        try:
            out[i] = parse_number(x)
        except DataError:
            out[i] = np.nan
    return out


def _groups(spec: TableSpec) -> list[list[tuple[ColumnSpec, str, str]]]:
    """Collect (column spec, role, output column) per measurement."""
    groups: dict[str, list] = {}
    for cspec in spec.columns.values():
        if cspec.kind in ("number", "count") and cspec.role:
            if cspec.column == spec.n and not cspec.group:
                continue  # the table's n is checked once, on its own
            if cspec.role in ("mean", "sd", "median", "q1", "q3", "min", "max", "events", "n"):
                groups.setdefault(f"g:{cspec.group or ''}", []).append((cspec, cspec.role, cspec.prefix))
        elif cspec.kind in _COMPOUND_ROLES:
            outs = cspec.output_columns()
            groups.setdefault(f"c:{cspec.column}", []).extend(
                (cspec, role, outs[key]) for key, role in _COMPOUND_ROLES[cspec.kind].items())
    return list(groups.values())


def _group_n(frame, spec: TableSpec, group) -> np.ndarray | None:
    for cspec, _, _ in group:
        if cspec.denominator and cspec.denominator in frame.columns:
            n_col = spec.columns.get(cspec.denominator)
            return _numeric(frame, n_col.prefix if n_col else cspec.denominator)
    if spec.n and spec.n in frame.columns:
        n_col = spec.columns.get(spec.n)
        return _numeric(frame, n_col.prefix if n_col else spec.n)
    return None


def _percent_findings(data, frame, spec: TableSpec, cspec: ColumnSpec, labels) -> list[Finding]:
    outs = cspec.output_columns()
    events = _numeric(frame, outs["events"])
    percent = _numeric(frame, outs["percent"])
    total_col = f"{cspec.prefix}_total"
    denom = _group_n(frame, spec, [(cspec, "events", outs["events"])])
    if total_col in frame.columns:
        cell_total = _numeric(frame, total_col)
        denom = cell_total if denom is None else np.where(np.isnan(cell_total), denom, cell_total)
    if denom is None:
        return []
    found = []
    raw = data[cspec.column].tolist()
    for i in range(len(frame)):
        e, p, n = events[i], percent[i], denom[i]
        if any(math.isnan(x) for x in (e, p, n)) or n <= 0:
            continue
        d = int(_percent_decimals(raw[i]))
        exact = 100.0 * e / n
        if _rounds_to(exact, p, d):
            continue
        hints = []
        if (d >= 1 and _rounds_to(exact, p * 10, d - 1)) or _rounds_to(exact, p / 10, d + 1):
            hints.append("the decimal point looks misplaced")
        for j, where in ((i - 1, "above"), (i + 1, "below")):
            if 0 <= j < len(frame) and not math.isnan(denom[j]) and denom[j] > 0 \
                    and _rounds_to(100.0 * e / denom[j], p, d):
                hints.append(f"{_fmt(e)}/{_fmt(denom[j])} (the n of the row {where}, {labels[j]}) gives "
                             f"the printed value")
        hint = f" ({'; '.join(hints)})" if hints else ""
        found.append(_finding(
            "percent_matches_count",
            f"{cspec.column}: {raw[i]!s} prints {p:.{d}f}%, but {_fmt(e)}/{_fmt(n)} = {exact:.{max(d, 1)}f}%{hint}",
            study=labels[i], column=cspec.column, value=f"{p:.{d}f}", expected=f"{exact:.{d}f}", row=i + 1))
    return found


def _percent_decimals(text: Any) -> int:
    m = re.search(r"[(\[]\s*[-+]?\d*(?:[.·](\d+))?\s*%?\s*[)\]]", str(text))
    return len(m.group(1) or "") if m else 0


def _rounds_to(exact: float, printed: float, decimals: int) -> bool:
    """Is ``printed`` what ``exact`` gives when rounded (half up or half even) to ``decimals``?"""
    half = 0.5 * 10.0 ** (-decimals)
    return abs(exact - printed) <= half * (1 + 1e-9) + 1e-12


def _author_year(data, spec: TableSpec) -> tuple[list[str | None], list[str | None]]:
    k = len(data)
    authors: list[str | None] = [None] * k
    years: list[str | None] = [None] * k
    if spec.author and spec.author in data.columns:
        authors = [None if is_missing_cell(x) else str(x) for x in data[spec.author]]
    if spec.year and spec.year in data.columns:
        years = [None if is_missing_cell(x) else str(x).strip() for x in data[spec.year]]
    if spec.study and spec.study in data.columns:
        for i, label in enumerate(data[spec.study]):
            m = re.match(r"^\s*(.+?)[,\s]+((?:19|20)\d\d)[a-z]?\b", str(label))
            if m:
                authors[i] = authors[i] or m.group(1)
                years[i] = years[i] or m.group(2)
    return authors, years


def _duplicate_findings(data, frame, spec: TableSpec, labels) -> list[Finding]:
    if not (spec.n and spec.n in frame.columns):
        return []
    n_col = spec.columns.get(spec.n)
    n = _numeric(frame, n_col.prefix if n_col else spec.n)
    authors, years = _author_year(data, spec)
    first_row: dict[tuple, int] = {}
    found = []
    for i in range(len(frame)):
        if authors[i] is None or years[i] is None or math.isnan(n[i]):
            continue
        key = (re.sub(r"[^a-z]", "", authors[i].lower()), years[i], n[i])
        if key in first_row:
            j = first_row[key]
            found.append(_finding(
                "duplicate_cohort",
                f"same first author, year and n as row {j + 1} ({labels[j]}): possibly the same cohort twice",
                study=labels[i], column=spec.n, value=f"{authors[i]}, {years[i]}, n = {_fmt(n[i])}",
                expected=f"a cohort other than row {j + 1}", row=i + 1))
        else:
            first_row[key] = i
    return found


def _present(data, frame, name: str) -> np.ndarray:
    src = frame if name in frame.columns else data
    if name not in src.columns:
        raise DataError("a total refers to a column that is not in the table", column=name,
                        rule="declaration")
    return np.array([not is_missing_cell(x) for x in src[name].tolist()])


def _total_findings(data, frame, spec: TableSpec, totals: Iterable[Total]) -> list[Finding]:
    found = []
    for t in totals:
        rows = np.ones(len(frame), dtype=bool)
        if t.rows_with:
            rows = np.zeros(len(frame), dtype=bool)
            for name in t.rows_with:
                rows |= _present(data, frame, name)
        if t.statistic == "count":
            got = float(rows.sum())
        else:
            column = t.column
            cspec = spec.columns.get(column)
            if cspec is not None and cspec.kind == "count_percent":
                column = cspec.output_columns()["events"]
            elif cspec is not None:
                column = cspec.prefix
            if column not in frame.columns:
                raise DataError(f"total {t.label!r} sums a column that is not in the table", column=t.column,
                                rule="declaration")
            got = float(np.nansum(_numeric(frame, column)[rows]))
        if abs(got - t.reported) > 1e-9 * max(1.0, abs(t.reported)):
            where = f" ({t.source})" if t.source else ""
            found.append(_finding(
                "total_matches_rows",
                f"{t.label}: the paper reports {_fmt(t.reported)}{where}, the rows give {_fmt(got)}"
                f" ({int(rows.sum())} rows)",
                column=t.column or ", ".join(t.rows_with) or None, value=_fmt(t.reported), expected=_fmt(got)))
    return found
