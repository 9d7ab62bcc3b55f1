"""Reading table cells as papers print them.

Published tables pack several numbers into one cell ("4 (12.9)", "6.6 ± 2.4",
"5.0 [3.0–7.0]", "3.1 (95% CI 2.2 to 4.0)") and mark some values with a footnote
sign ("4.1*" = an SD the authors estimated).  Which numbers a cell holds cannot be
guessed reliably from the text alone ("6.6 (2.4)" may be a mean with its SD or a
median with ... nothing), so every column's meaning is *declared*; this module reads
the cells under that declaration into numbers and keeps the printed text beside them.

A table's declarations are a :class:`TableSpec`, written by hand or read from a small
TOML sidecar (``<table>.columns.toml``, format documented in :func:`load_spec`).
"""

from __future__ import annotations

import fnmatch
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..base.exceptions import DataError

__all__ = [
    "KINDS",
    "ROLES",
    "ColumnSpec",
    "TableSpec",
    "Total",
    "CellProblem",
    "parse_number",
    "parse_cell",
    "parse_printed_table",
    "load_spec",
    "spec_from_dict",
    "as_spec",
    "infer_spec",
    "sidecar_path",
    "read_table",
]

#: What a cell can hold, and the numbers it gives (keys of :func:`parse_cell`'s result).
KINDS: dict[str, tuple[str, ...]] = {
    "number": ("value",),
    "count": ("value",),
    "count_percent": ("events", "percent"),
    "mean_sd": ("mean", "sd"),
    "median_iqr": ("median", "q1", "q3"),
    "median_range": ("median", "min", "max"),
    "estimate_ci": ("estimate", "ci_low", "ci_high"),
    "text": ("value",),
}

#: What a plain number column means, for the data checks.
ROLES = ("mean", "sd", "median", "q1", "q3", "min", "max", "events", "n", "se",
         "estimate", "ci_low", "ci_high", "percent")

# Characters papers use as footnote marks after a number.
_MARK_CHARS = "*†‡§¶#^ᵃᵇᶜᵈᵉ"
# Cells that mean "not given".
_MISSING = {"", "na", "n/a", "n.a.", "nr", "n.r.", "not reported", "-", ".", "..", "nd"}
_MINUS_LIKE = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d"
_SPACES = "\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"

_NUM = r"[-+]?(?:\d+(?:\.\d+)?|\.\d+)"
_SEP = r"\s*(?:to|-|;|,|/|\.\.)\s*"
_RE_NUMBER = re.compile(rf"^({_NUM})$")
_RE_THOUSANDS = re.compile(r"^[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_RE_COUNT_PERCENT = re.compile(
    rf"^(?P<events>{_NUM})\s*(?:/\s*(?P<total>{_NUM}))?\s*[(\[]\s*(?P<percent>{_NUM})\s*%?\s*[)\]]$")
_RE_MEAN_PM = re.compile(rf"^(?P<a>{_NUM})\s*(?:±|\+/-|\+-)\s*(?P<b>{_NUM})$")
_RE_MEAN_PAREN = re.compile(
    rf"^(?P<a>{_NUM})\s*[(\[]\s*(?:(?:sd|s\.d\.)\s*[:=]?\s*|±\s*)?(?P<b>{_NUM})\s*[)\]]$", re.I)
_RE_INTERVAL = re.compile(
    rf"^(?P<a>{_NUM})\s*[(\[]\s*(?:(?P<label>[^\d\s(\[\]\-+.][^\d\-+.]*?|(?P<level>\d+(?:\.\d+)?)\s*%\s*"
    rf"(?:ci|cl|confidence interval|cri)?)\s*[:=,]?\s*)?(?P<b>{_NUM}){_SEP}(?P<c>{_NUM})\s*[)\]]$",
    re.I)


@dataclass(frozen=True)
class CellProblem:
    """A cell that could not be read as declared (``rule`` names what went wrong)."""

    row: int
    column: str
    value: str
    rule: str
    message: str
    expected: str | None = None


@dataclass(frozen=True)
class ColumnSpec:
    """The declared meaning of one column of a printed table.

    ``kind`` is one of :data:`KINDS`; ``name`` is the prefix of the numeric columns
    made from it (default: the column name without a ``_printed`` suffix); ``role``
    (for ``number``/``count`` columns) and ``group`` say which measurement a number
    belongs to, e.g. ``baseline_mean`` (role ``mean``) and ``baseline_sd`` (role ``sd``)
    in group ``baseline``; ``scale`` names an entry of :attr:`TableSpec.scales`;
    ``denominator`` is the column holding the n of a ``count_percent`` column;
    ``estimated_mark`` is the footnote sign that marks an estimated value ("*");
    ``level`` is the confidence level of ``estimate_ci`` cells that do not print one.
    """

    column: str
    kind: str = "number"
    name: str | None = None
    role: str | None = None
    group: str | None = None
    scale: str | None = None
    denominator: str | None = None
    estimated_mark: str | None = None
    level: float = 0.95
    description: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise DataError(f"unknown kind {self.kind!r}; valid kinds: {', '.join(KINDS)}",
                            column=self.column, rule="declaration")
        if self.role is not None and self.role not in ROLES:
            raise DataError(f"unknown role {self.role!r}; valid roles: {', '.join(ROLES)}",
                            column=self.column, rule="declaration")
        if not 0 < self.level < 1:
            raise DataError(f"level must lie between 0 and 1, got {self.level}",
                            column=self.column, rule="declaration")
        # options that would be ignored for this kind are refused, not dropped silently
        if self.role is not None and self.kind not in ("number", "count"):
            raise DataError(f"role applies to number and count columns, not to kind {self.kind!r} "
                            f"(its roles follow from the kind)", column=self.column, rule="declaration")
        if self.denominator is not None and self.kind != "count_percent":
            raise DataError("denominator applies to count_percent columns only", column=self.column,
                            rule="declaration")
        if self.level != 0.95 and self.kind != "estimate_ci":
            raise DataError("level applies to estimate_ci columns only", column=self.column, rule="declaration")
        if self.scale is not None and not _on_scale(self):
            raise DataError("scale applies to means, SDs, medians, quartiles and ranges (declare a role)",
                            column=self.column, rule="declaration")

    @property
    def prefix(self) -> str:
        if self.name:
            return self.name
        return self.column[:-len("_printed")] if self.column.endswith("_printed") else self.column

    def output_columns(self) -> dict[str, str]:
        """Map the keys of :func:`parse_cell` to the names of the columns they fill."""
        p = self.prefix
        if self.kind in ("number", "count", "text"):
            return {"value": p}
        if self.kind == "estimate_ci":
            return {"estimate": p, "ci_low": f"{p}_ci_low", "ci_high": f"{p}_ci_high"}
        return {key: f"{p}_{key}" for key in KINDS[self.kind]}


@dataclass(frozen=True)
class Total:
    """A total that the paper reports, to be compared with what its rows add up to.

    ``statistic`` is ``"count"`` (number of rows) or ``"sum"`` (of ``column``) over
    the rows that have a value in any of ``rows_with`` (all rows when empty).
    Column names may be printed or parsed names (``tox_g3_printed`` or ``tox_g3_events``).
    """

    label: str
    statistic: str
    reported: float
    column: str | None = None
    rows_with: tuple[str, ...] = ()
    source: str | None = None

    def __post_init__(self) -> None:
        if self.statistic not in ("count", "sum"):
            raise DataError(f"total {self.label!r}: statistic must be 'count' or 'sum', got "
                            f"{self.statistic!r}", rule="declaration")
        if self.statistic == "sum" and not self.column:
            raise DataError(f"total {self.label!r}: a 'sum' needs a column", rule="declaration")
        if self.statistic == "count" and self.column:
            raise DataError(f"total {self.label!r}: a 'count' counts rows and takes no column (use rows_with)",
                            rule="declaration")


@dataclass(frozen=True)
class TableSpec:
    """Declarations for a whole table: its columns, label columns, scales and reported totals.

    ``study`` holds the study label; ``author``/``year`` the first author and year
    (taken from a "Namba, 2019" label when these columns are absent); ``n`` the sample
    size used as denominator of counts; ``scales`` maps a scale name to its
    ``(low, high)`` bounds, e.g. ``{"pain": (0, 10)}``.
    """

    columns: Mapping[str, ColumnSpec] = field(default_factory=dict)
    study: str | None = "study"
    author: str | None = "author"
    year: str | None = "year"
    n: str | None = "n"
    scales: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    totals: tuple[Total, ...] = ()
    source: str | None = None

    def __post_init__(self) -> None:
        for name, bounds in self.scales.items():
            low, high = bounds
            if not (math.isfinite(low) and math.isfinite(high) and low < high):
                raise DataError(f"scale {name!r} must have finite bounds low < high, got {bounds!r}",
                                rule="declaration")
        for spec in self.columns.values():
            if spec.scale is not None and spec.scale not in self.scales:
                raise DataError(f"scale {spec.scale!r} is not declared; declared scales: "
                                f"{', '.join(self.scales) or 'none'}", column=spec.column,
                                rule="declaration")

    def with_scales(self, scales: Mapping[str, tuple[float, float]]) -> "TableSpec":
        """Add or replace scales.  A scale name that no column declares is read as a
        pattern of column names (``pain`` matches ``pain_3mo_mean``; globs allowed) and
        assigned to the matching mean/median/SD/min/max/quartile columns."""
        merged = dict(self.scales)
        merged.update({k: (float(v[0]), float(v[1])) for k, v in scales.items()})
        declared = {c.scale for c in self.columns.values() if c.scale}
        columns = dict(self.columns)
        for name in scales:
            if name in declared:
                continue
            pattern = name if any(ch in name for ch in "*?[") else name + "*"
            matched = False
            for col, spec in columns.items():
                if fnmatch.fnmatchcase(col, pattern) and _on_scale(spec):
                    columns[col] = replace(spec, scale=name)
                    matched = True
            if not matched:
                raise DataError(f"scale {name!r} matches no mean, SD, median or range column; "
                                f"columns: {', '.join(columns)}", column=name, rule="declaration")
        return replace(self, columns=columns, scales=merged)


def _on_scale(spec: ColumnSpec) -> bool:
    if spec.kind in ("mean_sd", "median_iqr", "median_range"):
        return True
    return spec.kind == "number" and spec.role in ("mean", "sd", "median", "q1", "q3", "min", "max")


# ----------------------------------------------------------------------------- cells

def _normalise(text: str) -> str:
    for ch in _SPACES:
        text = text.replace(ch, " ")
    for ch in _MINUS_LIKE:
        text = text.replace(ch, "-")
    # the Lancet's decimal point (3·1) and the typographic plus-minus variants
    text = re.sub(r"(?<=\d)[·∙](?=\d)", ".", text)
    text = text.replace("∓", "±").replace("+/−", "±")
    return " ".join(text.split())


def _decimals(token: str) -> int:
    token = token.strip().lstrip("+-")
    return len(token.split(".", 1)[1]) if "." in token else 0


def is_missing_cell(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    try:
        import pandas as pd
        if value is pd.NA or value is pd.NaT:
            return True
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass
    return isinstance(value, str) and _normalise(value).lower() in _MISSING


def parse_number(text: Any) -> float:
    """Read one printed number: Unicode minus signs and dashes, thin spaces, the
    Lancet's mid-dot decimal point and thousands separators ("1,082") are understood.

    >>> parse_number("−3.8"), parse_number("1,082"), parse_number("3·1")
    (-3.8, 1082.0, 3.1)

    Raises :class:`~metareview.base.exceptions.DataError` (rule ``not_a_number``) otherwise.
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value = float(text)
        if math.isnan(value):
            raise DataError("a number is required, the cell is empty", rule="not_a_number")
        return value
    if not isinstance(text, str):
        raise DataError(f"cannot read {text!r} as a number", rule="not_a_number")
    s = _normalise(text).replace(" ", "")
    if _RE_THOUSANDS.match(s):
        s = s.replace(",", "")
    if not _RE_NUMBER.match(s):
        raise DataError(f"cannot read {text!r} as a number", rule="not_a_number")
    return float(s)


def _strip_marks(text: str, mark: str | None) -> tuple[str, bool, str | None]:
    """Remove the declared estimate mark; report any other footnote sign."""
    estimated = False
    if mark:
        if mark in text:
            estimated = True
            text = text.replace(mark, "")
    found = [ch for ch in text if ch in _MARK_CHARS]
    # superscript-style letters glued to a number ("4.1a") are footnote marks too
    glued = re.search(r"(?<=\d)([a-e])(?=$|[\s)\]])", text)
    undeclared = "".join(found) or (glued.group(1) if glued else None)
    if found:
        text = "".join(ch for ch in text if ch not in _MARK_CHARS)
    elif glued:
        text = text[:glued.start(1)] + text[glued.end(1):]
    return text.strip(), estimated, undeclared


def _expected_form(kind: str) -> str:
    return {
        "number": "a number such as 6.6 or 4.1*",
        "count": "a whole number such as 26",
        "count_percent": "a count with or without its percentage such as 26 (84%), 4 (12.9) or 0",
        "mean_sd": "a mean and SD such as 6.6 ± 2.4 or 6.6 (2.4)",
        "median_iqr": "a median and quartiles such as 5.0 [3.0–7.0]",
        "median_range": "a median and range such as 5.0 (3.0–7.0)",
        "estimate_ci": "an estimate and CI such as 3.1 (95% CI 2.2 to 4.0)",
        "text": "text",
    }[kind]


def parse_cell(text: Any, kind: str, *, estimated_mark: str | None = None,
               level: float = 0.95) -> dict[str, Any]:
    """Read one printed cell whose meaning is ``kind`` (one of :data:`KINDS`).

    Returns a dict with the numbers of that kind (``None`` for an empty cell or
    "N/A"), plus ``estimated`` (the cell carried ``estimated_mark``), ``text`` (the
    cell as printed) and, for ``count_percent``, ``percent_decimals`` (the printed
    precision) and ``total`` (when printed as "26/31 (84%)"); for ``estimate_ci``,
    ``level`` (read from "95% CI" when printed, else the ``level`` argument).

    >>> parse_cell("4 (12.9)", "count_percent")["percent"]
    12.9
    >>> parse_cell("5.0 [3.0–7.0]", "median_iqr")["q3"]
    7.0
    >>> parse_cell("4.1*", "number", estimated_mark="*")["estimated"]
    True

    Raises :class:`~metareview.base.exceptions.DataError` with rule ``not_a_number`` when
    the cell does not have the declared form, and rule ``estimate_flagged`` when it
    carries a footnote mark that the declaration does not explain.
    """
    if kind not in KINDS:
        raise DataError(f"unknown kind {kind!r}; valid kinds: {', '.join(KINDS)}", rule="declaration")
    out: dict[str, Any] = {key: None for key in KINDS[kind]}
    out["estimated"] = False
    out["text"] = "" if is_missing_cell(text) and not isinstance(text, str) else str(text)
    if kind == "count_percent":
        out["percent_decimals"] = None
        out["total"] = None
    if kind == "estimate_ci":
        out["level"] = None
    if kind == "text":
        out["value"] = None if (text is None or (isinstance(text, float) and math.isnan(text))) else str(text)
        return out
    if is_missing_cell(text):
        return out
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        if kind not in ("number", "count"):
            raise DataError(f"{text!r} is a single number; expected {_expected_form(kind)}",
                            rule="not_a_number")
        out["value"] = _as_count(float(text), text) if kind == "count" else float(text)
        return out
    s, estimated, undeclared = _strip_marks(_normalise(str(text)), estimated_mark)
    if undeclared:
        raise DataError(f"{text!r} carries the mark {undeclared!r}, which the column's declaration does "
                        f"not explain; declare estimated_mark = {undeclared!r} if it marks an "
                        f"estimated value", rule="estimate_flagged")
    out["estimated"] = estimated
    try:
        if kind in ("number", "count"):
            value = parse_number(s)
            out["value"] = _as_count(value, text) if kind == "count" else value
        elif kind == "count_percent":
            m = _RE_COUNT_PERCENT.match(s)
            if not m and _RE_NUMBER.match(s):
                # a count printed without its percentage ("0" in a column of "n (%)")
                out["events"] = _as_count(float(s), text)
                return out
            if not m:
                raise ValueError
            out["events"] = _as_count(float(m["events"]), text)
            out["percent"] = float(m["percent"])
            out["percent_decimals"] = _decimals(m["percent"])
            if m["total"]:
                out["total"] = _as_count(float(m["total"]), text)
        elif kind == "mean_sd":
            m = _RE_MEAN_PM.match(s) or _RE_MEAN_PAREN.match(s)
            if not m:
                raise ValueError
            out["mean"], out["sd"] = float(m["a"]), float(m["b"])
        else:
            m = _RE_INTERVAL.match(s)
            if not m:
                raise ValueError
            label = (m["label"] or "").lower()
            wrong = {"median_iqr": ("range", "ci"), "median_range": ("iqr", "interquartile", "ci"),
                     "estimate_ci": ("iqr", "interquartile", "range", "sd")}[kind]
            if any(word in label.split() or label.startswith(word) for word in wrong):
                raise ValueError
            keys = KINDS[kind]
            out[keys[0]], out[keys[1]], out[keys[2]] = float(m["a"]), float(m["b"]), float(m["c"])
            if kind == "estimate_ci":
                out["level"] = float(m["level"]) / 100 if m["level"] else level
    except (ValueError, DataError):
        raise DataError(f"cannot read {text!r}: expected {_expected_form(kind)}",
                        rule="not_a_number") from None
    return out


def _as_count(value: float, text: Any) -> int:
    if value != int(value):
        raise DataError(f"{text!r}: a count must be a whole number", rule="not_a_number")
    return int(value)


# ----------------------------------------------------------------------------- tables

def parse_frame(data, spec: TableSpec, keep_text: bool = True):
    """Parse every declared column; return (frame, problems) without raising on bad cells."""
    import numpy as np
    import pandas as pd

    out = data.copy()
    problems: list[CellProblem] = []
    for col, cspec in spec.columns.items():
        if col not in data.columns:
            raise DataError(f"declared column is not in the table; columns: {', '.join(map(str, data.columns))}",
                            column=col, rule="declaration")
        if cspec.kind == "text":
            continue
        names = cspec.output_columns()
        values: dict[str, list[Any]] = {key: [] for key in names}
        estimated: list[bool] = []
        extra: dict[str, list[Any]] = {"total": [], "level": []}
        for i, cell in enumerate(data[col].tolist()):
            try:
                parsed = parse_cell(cell, cspec.kind, estimated_mark=cspec.estimated_mark, level=cspec.level)
            except DataError as exc:
                problems.append(CellProblem(row=i, column=col, value=str(cell), rule=exc.rule or "not_a_number",
                                            message=str(exc), expected=_expected_form(cspec.kind)))
                parsed = None
                if exc.rule == "estimate_flagged":
                    # read the number anyway (the mark is reported, the value is usable)
                    s, _, _ = _strip_marks(_normalise(str(cell)), cspec.estimated_mark)
                    stripped = "".join(ch for ch in s if ch not in _MARK_CHARS)
                    try:
                        parsed = parse_cell(stripped, cspec.kind, level=cspec.level)
                    except DataError:
                        parsed = None
            for key in names:
                values[key].append(None if parsed is None else parsed[key])
            estimated.append(bool(parsed and parsed["estimated"]))
            extra["total"].append(parsed.get("total") if parsed else None)
            extra["level"].append(parsed.get("level") if parsed else None)
        if keep_text and names.get("value", names.get("estimate")) == col:
            out[f"{col}_printed"] = data[col].astype("string")
        integer = {"count": ("value",), "count_percent": ("events",)}.get(cspec.kind, ())
        for key, name in names.items():
            if key in integer:
                out[name] = pd.array(values[key], dtype="Int64")
            else:
                out[name] = np.array([np.nan if v is None else v for v in values[key]], dtype=float)
        if cspec.kind == "count_percent" and any(v is not None for v in extra["total"]):
            out[f"{cspec.prefix}_total"] = pd.array(extra["total"], dtype="Int64")
        if cspec.kind == "estimate_ci":
            out[f"{cspec.prefix}_ci_level"] = np.array(
                [np.nan if v is None else v for v in extra["level"]], dtype=float)
        if cspec.estimated_mark:
            out[f"{cspec.prefix}_estimated"] = np.array(estimated, dtype=bool)
    return out, problems


def parse_printed_table(data, spec: TableSpec | Mapping[str, Any] | str | Path | None = None, *,
                        keep_text: bool = True):
    """Turn a table of printed cells into numeric columns, as its declarations say.

    ``data`` is a DataFrame (read every column as text: see :func:`read_table`) or a
    path; ``spec`` a :class:`TableSpec`, a dict in the sidecar's layout, a path to a
    ``.columns.toml`` sidecar, or ``None`` (use the sidecar next to ``data`` when it
    is a path, else :func:`infer_spec`).

    Each declared column gives the columns of :meth:`ColumnSpec.output_columns`,
    e.g. ``tr_printed`` (``count_percent``) gives ``tr_events`` and ``tr_percent``;
    a column with an ``estimated_mark`` also gives ``<name>_estimated`` (bool).
    Printed text is kept: a column replaced by its number is copied to
    ``<column>_printed`` (unless ``keep_text=False``).  Empty cells and "N/A" become
    missing values; any cell that is not of its declared form raises
    :class:`~metareview.base.exceptions.DataError` naming the study, column and rule (use
    :func:`metareview.tables.checks.check_table` to see every problem at once).

    >>> import pandas as pd
    >>> t = pd.DataFrame({"study": ["A"], "n": ["10"], "tr": ["8 (80)"], "sd": ["4.1*"]})
    >>> spec = {"columns": {"n": {"kind": "count"}, "tr": {"kind": "count_percent"},
    ...                     "sd": {"kind": "number", "estimated_mark": "*"}}}
    >>> out = parse_printed_table(t, spec)
    >>> int(out.tr_events[0]), float(out.tr_percent[0]), float(out.sd[0]), bool(out.sd_estimated[0])
    (8, 80.0, 4.1, True)
    """
    if isinstance(data, (str, Path)):
        path = Path(data)
        data = read_table(path)
        if spec is None and sidecar_path(path).exists():
            spec = sidecar_path(path)
    spec = as_spec(spec, data)
    frame, problems = parse_frame(data, spec, keep_text=keep_text)
    if problems:
        p = problems[0]
        study = _study_label(data, spec, p.row)
        more = f" ({len(problems) - 1} more cell problem(s))" if len(problems) > 1 else ""
        raise DataError(f"{p.message}{more}", study=study, column=p.column, rule=p.rule)
    return frame


def _study_label(data, spec: TableSpec, row: int) -> str:
    if spec.study and spec.study in data.columns:
        return str(data[spec.study].iloc[row])
    return f"row {row + 1}"


def as_spec(spec: TableSpec | Mapping[str, Any] | str | Path | None, data=None) -> TableSpec:
    """Coerce a declaration (object, dict, TOML path or ``None`` = inferred) to a :class:`TableSpec`."""
    if spec is None:
        if data is None:
            raise DataError("no column declarations and no table to infer them from", rule="declaration")
        return infer_spec(data)
    if isinstance(spec, TableSpec):
        return spec
    if isinstance(spec, (str, Path)):
        return load_spec(spec)
    return spec_from_dict(spec)


def sidecar_path(data_path: str | Path) -> Path:
    """Where the declarations of ``table2.csv`` live: ``table2.columns.toml`` beside it."""
    p = Path(data_path)
    return p.with_name(p.stem + ".columns.toml")


def load_spec(path: str | Path) -> TableSpec:
    """Read a ``.columns.toml`` sidecar.  Its layout::

        [table]                     # all keys optional
        study = "study"             # column with the study label
        author = "author"           # first author and year: the duplicate-cohort check
        year = "year"
        n = "n"                     # sample size, default denominator of counts
        estimated_mark = "*"        # default footnote sign of estimated values

        [scales]
        pain = [0, 10]              # name = [low, high]

        [columns.tr_printed]        # one table per declared column
        kind = "count_percent"      # number, count, count_percent, mean_sd, median_iqr,
                                    # median_range, estimate_ci, text
        name = "tr"                 # prefix of the numeric columns (tr_events, tr_percent)
        denominator = "n"

        [columns.baseline_sd]
        kind = "number"
        role = "sd"                 # mean, sd, median, q1, q3, min, max, events, n, ...
        group = "baseline"          # columns of one measurement share a group
        scale = "pain"

        [[totals]]                  # totals the paper reports, checked against the rows
        label = "Adverse events: patients"
        statistic = "sum"           # or "count" (number of rows)
        column = "n"
        rows_with = ["tox_g3_printed", "tox_lt3_printed"]   # rows with a value in any
        reported = 799
        source = "Results, Adverse events"

    Undeclared columns are left as they are.  Unknown keys are an error, so that a
    misspelt option is never silently ignored.
    """
    import tomllib

    path = Path(path)
    try:
        with path.open("rb") as fh:
            doc = tomllib.load(fh)
    except FileNotFoundError:
        raise DataError(f"declarations file {str(path)!r} does not exist", rule="declaration") from None
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"{path}: {exc}", rule="declaration") from None
    try:
        spec = spec_from_dict(doc)
    except DataError as exc:
        wrapped = DataError(f"{path}: {exc}", rule=exc.rule)
        wrapped.column = exc.column  # already named in the message
        raise wrapped from None
    return replace(spec, source=str(path))


_TABLE_KEYS = {"study", "author", "year", "n", "estimated_mark"}
_COLUMN_KEYS = {"kind", "name", "role", "group", "scale", "denominator", "estimated_mark", "level",
                "description"}
_TOTAL_KEYS = {"label", "statistic", "column", "rows_with", "reported", "source"}


def _check_keys(found: Iterable[str], allowed: set[str], where: str) -> None:
    unknown = sorted(set(found) - allowed)
    if unknown:
        raise DataError(f"unknown key(s) {', '.join(unknown)} in {where}; allowed: {', '.join(sorted(allowed))}",
                        rule="declaration")


def spec_from_dict(doc: Mapping[str, Any]) -> TableSpec:
    """Build a :class:`TableSpec` from a dict laid out as the TOML sidecar (see :func:`load_spec`)."""
    _check_keys(doc, {"table", "scales", "columns", "totals"}, "the declarations")
    table = dict(doc.get("table", {}))
    _check_keys(table, _TABLE_KEYS, "[table]")
    default_mark = table.pop("estimated_mark", None)
    scales = {}
    for name, bounds in dict(doc.get("scales", {})).items():
        if not (isinstance(bounds, (list, tuple)) and len(bounds) == 2):
            raise DataError(f"scale {name!r} must be [low, high], got {bounds!r}", rule="declaration")
        scales[name] = (float(bounds[0]), float(bounds[1]))
    columns = {}
    for col, decl in dict(doc.get("columns", {})).items():
        if isinstance(decl, str):
            decl = {"kind": decl}
        _check_keys(decl, _COLUMN_KEYS, f"[columns.{col}]")
        decl = dict(decl)
        if "estimated_mark" not in decl and default_mark and decl.get("kind", "number") != "text":
            decl["estimated_mark"] = default_mark
        columns[col] = ColumnSpec(column=col, **decl)
    totals = []
    for t in doc.get("totals", []):
        _check_keys(t, _TOTAL_KEYS, "[[totals]]")
        missing = {"label", "statistic", "reported"} - set(t)
        if missing:
            raise DataError(f"a total needs {', '.join(sorted(missing))}", rule="declaration")
        totals.append(Total(label=t["label"], statistic=t["statistic"], reported=float(t["reported"]),
                            column=t.get("column"), rows_with=tuple(t.get("rows_with", ())),
                            source=t.get("source")))
    kwargs = {k: table[k] for k in ("study", "author", "year", "n") if k in table}
    return TableSpec(columns=columns, scales=scales, totals=tuple(totals), **kwargs)


_ROLE_NAMES = {"mean": "mean", "sd": "sd", "median": "median", "q1": "q1", "q3": "q3", "min": "min",
               "max": "max", "se": "se", "events": "events", "event": "events", "n": "n"}


def infer_spec(data) -> TableSpec:
    """Guess declarations from column names, for tables without a sidecar.

    Role names are recognised alone (``events``, ``n``, ``mean``, ``sd``, ``median``,
    ``q1``, ``q3``, ``min``, ``max``), as suffixes (``baseline_mean``: group
    ``baseline``) and with the core's group suffixes (``mean_pre``, ``sd_e``:
    group ``pre``, ``e``); ``*_printed`` columns whose cells look like "8 (80)" are
    ``count_percent``.  Other columns are left undeclared.
    """
    columns: dict[str, ColumnSpec] = {}
    names = [str(c) for c in data.columns]
    for col in names:
        low = col.lower()
        role = group = None
        if low in _ROLE_NAMES:
            role = _ROLE_NAMES[low]
        else:
            head, _, tail = low.rpartition("_")
            if head and tail in _ROLE_NAMES:
                role, group = _ROLE_NAMES[tail], head
            elif head and head in _ROLE_NAMES:
                role, group = _ROLE_NAMES[head], tail
        if role is not None:
            kind = "count" if role in ("events", "n") else "number"
            columns[col] = ColumnSpec(column=col, kind=kind, role=role, group=group)
            continue
        if low.endswith("_printed"):
            cells = [c for c in data[col].tolist() if not is_missing_cell(c)]
            if cells and all(isinstance(c, str) and _RE_COUNT_PERCENT.match(_normalise(c)) for c in cells):
                columns[col] = ColumnSpec(column=col, kind="count_percent")
    has = set(names)
    return TableSpec(columns=columns,
                     study="study" if "study" in has else None,
                     author="author" if "author" in has else None,
                     year="year" if "year" in has else None,
                     n="n" if "n" in has else None)


def read_table(path: str | Path, *, sheet: str | int | None = None):
    """Read a CSV, TSV or XLSX extraction table with every cell as printed text
    (by :func:`metareview.tables.io.read_text_frame`, the reader every command shares)."""
    from .io import read_text_frame

    return read_text_frame(path, sheet=sheet)
