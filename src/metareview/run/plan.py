"""The analysis plan of a review: ``review.toml``, read and checked before anything runs.

A plan declares the data files (printed tables with their column declarations), the
analyses (which columns play which role, imputations, settings, sensitivity exclusions,
subgroups, figures), Table 1 (pooled characteristics), the numbers of a published paper
to compare with, and the results that the data cannot give.  The format is documented
in ``docs/review-plan.md``; :func:`load_plan` reads it and :class:`PlanError` says where
a plan is wrong (file, line, table and key), so that a mistake stops the run before any
output is written.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, Mapping, overload

from ..base.exceptions import MetaReviewError
from ..pooling.settings import Settings

__all__ = ["PlanError", "ReviewPlan", "DataSource", "Fill", "Analysis", "Imputation", "Sensitivity",
           "Table1Row", "Comparison", "NotReproducible", "GradeSpec", "load_plan", "find_plan", "PLAN_FILE",
           "ADDITIONAL", "FIGURES", "TABLE1_STATISTICS", "RESERVED_NAMES"]

PLAN_FILE = "review.toml"

#: Estimates an analysis can add beside its inverse-variance result (proportion designs).
ADDITIONAL = {
    "crude": "total events / total patients of the pooled studies, Clopper-Pearson CI",
    "glmm": "random-intercept logistic regression (binomial-normal GLMM, ML, 7-point adaptive quadrature)",
}
#: Figures an analysis can draw: the forest plot of the pooled result, a forest plot of each
#: of its sensitivity analyses (excluded studies shown, not pooled) and one forest plot
#: with subgroup sections per subgroup column.
FIGURES = ("forest", "sensitivity", "subgroups")
#: What a Table 1 row can compute.
TABLE1_STATISTICS = {
    "count": "number of studies (rows with a value in any of rows_with; all rows without it)",
    "sum_median_range": "sum of a column, with the median and range of its values",
    "median_range": "number of studies, median and range of a column",
    "events_percent": "number of studies, patients, events and events as % of patients",
    "not_in_data": "a characteristic the data do not give per study (shown with the paper's value)",
}
#: Top-level keys of results.json that are not analyses.
RESERVED_NAMES = ("review", "software", "checks", "table1", "comparison", "not_reproducible", "figures", "grade",
                  "risk_of_bias")
_ROLES = ("events", "n", "mean", "sd", "mean_pre", "sd_pre", "mean_post", "sd_post", "r", "mean_e", "sd_e",
          "n_e", "mean_c", "sd_c", "n_c", "events_e", "events_c", "yi", "vi", "sei")
_SETTINGS = tuple(f.name for f in fields(Settings))
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class PlanError(MetaReviewError):
    """A plan that cannot be run: the message names the file, the line and the key."""

    def __init__(self, message: str, *, path: str | Path | None = None, line: int | None = None,
                 where: str | None = None):
        loc = str(path) if path is not None else PLAN_FILE
        if line is not None:
            loc += f":{line}"
        if where:
            loc += f": {where}"
        super().__init__(f"{loc}: {message}")
        self.path, self.line, self.where = path, line, where


# ---------------------------------------------------------------------------------- objects

@dataclass(frozen=True)
class Fill:
    """A missing count that the table means as a value: e.g. a blank low-grade toxicity cell in
    a row that reports toxicity (its high-grade cell is printed) is 0 events."""

    column: str
    value: float
    rows_with: tuple[str, ...]
    reason: str = ""


@dataclass(frozen=True)
class DataSource:
    """A table of printed cells and its column declarations (``metareview.tables.parse``)."""

    name: str
    file: Path
    columns: Path | None
    check: bool = True
    title: str = ""
    fill: tuple[Fill, ...] = ()
    rob: Path | None = None          # risk-of-bias judgments in robvis's layout, matched by study
    rob_tool: str | None = None


@dataclass(frozen=True)
class Imputation:
    """One call of :func:`metareview.tables.impute.impute_sd` on the analysis' data."""

    column: str
    method: str
    source: Any = None
    value: float | None = None
    where: str | None = None
    n: str = "n"
    level: float = 0.95

    def kwargs(self) -> dict:
        return {"source": self.source, "value": self.value, "where": self.where, "n": self.n,
                "level": self.level}


@dataclass(frozen=True)
class Sensitivity:
    """Studies left out of the pooled estimates (shown, not pooled: R meta's ``exclude``)."""

    name: str
    title: str
    exclude: tuple[str, ...]
    reason: str = ""
    exclude_rob: str | None = None   # "high" or "some": the studies are chosen by their judgment


@dataclass(frozen=True)
class Analysis:
    name: str
    title: str
    outcome: str
    data: str
    columns: Mapping[str, str]
    settings: Mapping[str, Any]
    impute: tuple[Imputation, ...] = ()
    sensitivity: tuple[str, ...] = ()
    subgroups: tuple[str, ...] = ()
    figures: tuple[str, ...] = ()
    additional: tuple[str, ...] = ()
    note: str = ""
    forest: Mapping[str, Any] = field(default_factory=dict)
    line: int | None = None


@dataclass(frozen=True)
class Table1Row:
    key: str
    label: str
    statistic: str
    column: str | None = None
    n: str = "n"
    rows_with: tuple[str, ...] = ()
    decimals: int = 1
    paper: str | None = None
    why: str = ""


@dataclass(frozen=True)
class Comparison:
    """One printed number of the paper and where our value comes from."""

    label: str
    paper: str
    analysis: str
    estimate: str = "random"
    sensitivity: str | None = None
    percent: bool = False
    source: str = ""
    why: str = ""


@dataclass(frozen=True)
class NotReproducible:
    label: str
    paper: str
    reason: str
    source: str = ""


@dataclass(frozen=True)
class GradeSpec:
    """GRADE of one analysis' outcome (:func:`metareview.appraisal.grade.grade`): where the certainty starts,
    the reviewer's decision thresholds, and the domains the reviewer rates, with reasons."""

    analysis: str
    outcome: str
    design: str = "randomised"
    thresholds: tuple[float, ...] = ()
    threshold_reason: str = ""
    ois: float | None = None
    baseline_risk: float | None = None
    not_assessed: str = ""
    rate: Mapping[str, tuple[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class ReviewPlan:
    path: Path
    title: str
    citation: str
    data: Mapping[str, DataSource]
    analyses: tuple[Analysis, ...]
    sensitivity: Mapping[str, Sensitivity]
    table1_data: str | None = None
    table1: tuple[Table1Row, ...] = ()
    comparisons: tuple[Comparison, ...] = ()
    not_reproducible: tuple[NotReproducible, ...] = ()
    prisma: Path | None = None
    tables: tuple[str, ...] = ()
    grade: tuple[GradeSpec, ...] = ()
    dpi: int = 300                     # resolution of the PNG figures
    text: str = field(default="", repr=False)

    @property
    def root(self) -> Path:
        return self.path.parent

    def analysis(self, name: str) -> Analysis:
        for a in self.analyses:
            if a.name == name:
                return a
        raise KeyError(name)


# ---------------------------------------------------------------------------------- reading

def find_plan(target: str | Path) -> Path:
    """The plan file of ``target``: a ``review.toml`` itself or a folder holding one."""
    p = Path(target)
    if p.is_dir():
        p = p / PLAN_FILE
    if not p.exists():
        raise PlanError(f"no analysis plan here (expected {PLAN_FILE}); `metareview init DIR` writes a template",
                        path=p)
    return p


class _Reader:
    """Walks the parsed TOML and turns every problem into a PlanError with its line."""

    def __init__(self, path: Path, text: str):
        self.path, self.text = path, text
        self.lines = text.splitlines()

    # -- locating -----------------------------------------------------------------------
    def header_line(self, header: str, index: int = 0) -> int | None:
        pattern = re.compile(r"^\s*\[{1,2}\s*" + r"\s*\.\s*".join(re.escape(h) for h in header.split(".")) +
                             r"\s*\]{1,2}\s*(#.*)?$")
        seen = -1
        for i, line in enumerate(self.lines):
            if pattern.match(line):
                seen += 1
                if seen == index:
                    return i + 1
        return None

    def key_line(self, header: str | None, key: str, index: int = 0) -> int | None:
        start = 0
        if header:
            h = self.header_line(header, index)
            if h is None:
                # an inline table, e.g. analysis.x = { ... } or a dotted key
                return self._search(rf"^\s*{re.escape(header.split('.')[-1])}\s*=", 0)
            start = h
        key_re = re.compile(rf"^\s*{re.escape(key)}\s*=")
        for i in range(start, len(self.lines)):
            line = self.lines[i]
            if i > start and re.match(r"^\s*\[", line) and header:
                break
            if key_re.match(line):
                return i + 1
        return start or None

    def _search(self, regex: str, start: int) -> int | None:
        r = re.compile(regex)
        for i in range(start, len(self.lines)):
            if r.match(self.lines[i]):
                return i + 1
        return None

    def error(self, message: str, header: str | None = None, key: str | None = None, index: int = 0) -> PlanError:
        line = self.key_line(header, key, index) if key else (self.header_line(header, index) if header else None)
        where = f"[{header}]" if header else ""
        if key:
            where = f"{where} {key}".strip()
        return PlanError(message, path=self.path, line=line, where=where or None)

    # -- typed access -------------------------------------------------------------------
    def table(self, doc: Mapping, key: str, header: str | None, *, required: bool = False) -> dict:
        v = doc.get(key)
        if v is None:
            if required:
                raise self.error(f"a [{key}] table is required", header, key)
            return {}
        if not isinstance(v, dict):
            raise self.error(f"{key} must be a table", header, key)
        return v

    @overload
    def string(self, doc: Mapping, key: str, header: str | None, *, required: Literal[True],
               default: str | None = None) -> str: ...

    @overload
    def string(self, doc: Mapping, key: str, header: str | None, *, required: bool = False,
               default: str | None = None) -> str | None: ...

    def string(self, doc: Mapping, key: str, header: str | None, *, required: bool = False,
               default: str | None = None) -> str | None:
        v = doc.get(key, default)
        if v is None:
            if required:
                raise self.error(f"the key {key!r} is required", header, key)
            return None
        if not isinstance(v, str) or (required and not v.strip()):
            raise self.error(f"{key} must be a non-empty string, got {v!r}", header, key)
        return v

    def strings(self, doc: Mapping, key: str, header: str | None) -> tuple[str, ...]:
        v = doc.get(key, [])
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise self.error(f"{key} must be a list of strings, got {v!r}", header, key)
        return tuple(v)

    def keys(self, doc: Mapping, allowed: set[str], header: str | None, index: int = 0) -> None:
        unknown = sorted(set(doc) - allowed)
        if unknown:
            raise self.error(f"unknown key {unknown[0]!r}; allowed keys: {', '.join(sorted(allowed))}",
                             header, unknown[0], index)

    def file(self, value: str, header: str, key: str) -> Path:
        p = (self.path.parent / value)
        if not p.exists():
            raise self.error(f"file {value!r} does not exist (relative to {self.path.parent})", header, key)
        return p


_TOP = {"review", "data", "defaults", "sensitivity", "analysis", "table1", "compare", "not_reproducible", "grade"}
_GRADE = {"outcome", "design", "thresholds", "threshold_reason", "ois", "baseline_risk", "not_assessed", "rate"}
_REVIEW = {"title", "citation", "prisma", "tables", "dpi"}
_DATA = {"file", "columns", "check", "title", "fill", "rob", "rob_tool"}
#: PNG resolutions offered: screen (72) to print line art (1200)
DPI_RANGE = (72, 1200)
_FILL = {"column", "value", "rows_with", "reason"}
_SENS = {"title", "exclude", "exclude_rob", "reason"}
_ANALYSIS = {"title", "outcome", "data", "columns", "impute", "sensitivity", "subgroups", "figures", "additional",
             "note", "forest", *_SETTINGS}
_IMPUTE = {"column", "method", "source", "value", "where", "n", "level"}
_TABLE1 = {"data", "row"}
_T1ROW = {"key", "label", "statistic", "column", "n", "rows_with", "decimals", "paper", "why"}
_COMPARE = {"label", "paper", "analysis", "estimate", "sensitivity", "percent", "source", "why"}
_NOTREP = {"label", "paper", "reason", "source"}
_TABLES = ("table1", "table2", "checks")
ESTIMATES = ("random", "common", "crude", "glmm")


def load_plan(target: str | Path) -> ReviewPlan:
    """Read and check the plan ``target`` (a ``review.toml`` or the folder holding it).

    Every problem raises :class:`PlanError` naming the file, the line and the key;
    syntax errors carry tomllib's line and column.
    """
    path = find_plan(target)
    text = path.read_text(encoding="utf-8")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        line = int(m.group(1)) if m else None
        raise PlanError(f"TOML syntax error: {msg}" + (f" (column {m.group(2)})" if m else ""),
                        path=path, line=line) from None
    r = _Reader(path, text)
    r.keys(doc, _TOP, None)

    review = r.table(doc, "review", None)
    r.keys(review, _REVIEW, "review")
    title = r.string(review, "title", "review", default="Systematic review") or ""
    citation = r.string(review, "citation", "review", default="") or ""
    prisma = r.file(review["prisma"], "review", "prisma") if "prisma" in review else None
    tables = r.strings(review, "tables", "review")
    dpi = review.get("dpi", 300)
    if isinstance(dpi, bool) or not isinstance(dpi, int) or not DPI_RANGE[0] <= dpi <= DPI_RANGE[1]:
        raise r.error(f"dpi is the resolution of the PNG figures: a whole number from {DPI_RANGE[0]} to "
                      f"{DPI_RANGE[1]}, not {dpi!r}", "review", "dpi")
    for t in tables:
        if t not in _TABLES:
            raise r.error(f"unknown table {t!r}; valid: {', '.join(_TABLES)}", "review", "tables")

    data: dict[str, DataSource] = {}
    for name, d in r.table(doc, "data", None, required=True).items():
        h = f"data.{name}"
        if not isinstance(d, dict):
            raise r.error("each data source is a table: [data.NAME] with file = ...", h)
        r.keys(d, _DATA, h)
        f = r.file(r.string(d, "file", h, required=True), h, "file")
        cols = d.get("columns")
        cpath = r.file(cols, h, "columns") if cols else None
        if cpath is None and f.with_name(f.stem + ".columns.toml").exists():
            cpath = f.with_name(f.stem + ".columns.toml")
        check = d.get("check", True)
        if not isinstance(check, bool):
            raise r.error(f"check must be true or false, got {check!r}", h, "check")
        fills = []
        raw_fill = d.get("fill", [])
        if not isinstance(raw_fill, list):
            raise r.error("fills are [[data.NAME.fill]] tables", h, "fill")
        for i, fl in enumerate(raw_fill):
            hf = f"{h}.fill"
            if not isinstance(fl, dict):
                raise r.error("each fill is a table", hf, index=i)
            r.keys(fl, _FILL, hf, i)
            if not isinstance(fl.get("column"), str):
                raise r.error("the key 'column' is required (a string)", hf, "column", i)
            v = fl.get("value")
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise r.error(f"value must be a number, got {v!r}", hf, "value", i)
            rw = r.strings(fl, "rows_with", hf)
            if not rw:
                raise r.error("rows_with must name the columns whose printed value says the row reports the "
                              "outcome", hf, "rows_with", i)
            fills.append(Fill(column=fl["column"], value=float(v), rows_with=rw,
                              reason=r.string(fl, "reason", hf, default="") or ""))
        rob = r.file(r.string(d, "rob", h, required=True) or "", h, "rob") if "rob" in d else None
        rob_tool = r.string(d, "rob_tool", h)
        if rob_tool is not None:
            from ..appraisal.rob import tool_names
            if rob is None:
                raise r.error("rob_tool needs rob = \"judgments.csv\"", h, "rob_tool")
            if rob_tool not in tool_names() and not (r.path.parent / rob_tool).is_file():
                raise r.error(f"unknown risk-of-bias tool {rob_tool!r}; tools: {', '.join(tool_names())}", h,
                              "rob_tool")
        data[name] = DataSource(name=name, file=f, columns=cpath, check=check,
                                title=r.string(d, "title", h, default="") or "", fill=tuple(fills), rob=rob,
                                rob_tool=rob_tool)
    if not data:
        raise r.error("declare at least one data file: [data.NAME] file = \"table.csv\"", "data")

    defaults = r.table(doc, "defaults", None)
    r.keys(defaults, set(_SETTINGS), "defaults")
    _settings(r, defaults, "defaults")

    sens: dict[str, Sensitivity] = {}
    for name, s in r.table(doc, "sensitivity", None).items():
        h = f"sensitivity.{name}"
        if not isinstance(s, dict):
            raise r.error("each sensitivity analysis is a table: [sensitivity.NAME] exclude = [...]", h)
        r.keys(s, _SENS, h)
        _check_name(r, name, h)
        excl = r.strings(s, "exclude", h)
        by_rob = r.string(s, "exclude_rob", h)
        if by_rob is not None:
            from ..appraisal.rob import EXCLUDE_ROB
            if excl:
                raise r.error("give exclude (studies by name) or exclude_rob (by risk of bias), not both", h,
                              "exclude_rob")
            if by_rob not in EXCLUDE_ROB:
                raise r.error(f"exclude_rob takes {' or '.join(EXCLUDE_ROB)}, not {by_rob!r}", h, "exclude_rob")
        elif not excl:
            raise r.error("exclude must name at least one study", h, "exclude")
        sens[name] = Sensitivity(name=name, title=r.string(s, "title", h, default=name) or name, exclude=excl,
                                 reason=r.string(s, "reason", h, default="") or "", exclude_rob=by_rob)

    analyses = []
    for name, a in r.table(doc, "analysis", None, required=True).items():
        analyses.append(_analysis(r, name, a, defaults, data, sens))
    if not analyses:
        raise r.error("declare at least one analysis: [analysis.NAME]", "analysis")
    names = {a.name for a in analyses}
    for a in analyses:
        for s in a.sensitivity:
            full = f"{a.name}_{s}"
            if full in names:
                raise r.error(f"the sensitivity result {full!r} would have the name of another analysis",
                              f"analysis.{a.name}", "sensitivity")

    t1 = r.table(doc, "table1", None)
    r.keys(t1, _TABLE1, "table1")
    t1_data = r.string(t1, "data", "table1") if t1 else None
    if t1 and t1_data not in data:
        raise r.error(f"unknown data source {t1_data!r}; declared: {', '.join(data)}", "table1", "data")
    rows = []
    raw_rows = t1.get("row", [])
    if not isinstance(raw_rows, list):
        raise r.error("rows are [[table1.row]] tables", "table1", "row")
    for i, row in enumerate(raw_rows):
        rows.append(_table1_row(r, i, row))
    keys = [row.key for row in rows]
    dup = sorted({k for k in keys if keys.count(k) > 1})
    if dup:
        raise r.error(f"two Table 1 rows have the key {dup[0]!r}", "table1.row", "key", keys.index(dup[0]) + 1)

    comparisons = []
    raw_cmp = doc.get("compare", [])
    if not isinstance(raw_cmp, list):
        raise r.error("comparisons are [[compare]] tables", None, "compare")
    for i, c in enumerate(raw_cmp):
        comparisons.append(_comparison(r, i, c, analyses))

    notrep = []
    raw_nr = doc.get("not_reproducible", [])
    if not isinstance(raw_nr, list):
        raise r.error("these are [[not_reproducible]] tables", None, "not_reproducible")
    for i, c in enumerate(raw_nr):
        h = "not_reproducible"
        if not isinstance(c, dict):
            raise r.error("each entry is a [[not_reproducible]] table", h, index=i)
        r.keys(c, _NOTREP, h, i)
        for k in ("label", "paper", "reason"):
            if not isinstance(c.get(k), str) or not c[k].strip():
                raise r.error(f"the key {k!r} is required (a non-empty string)", h, k, i)
        notrep.append(NotReproducible(label=c["label"], paper=c["paper"], reason=c["reason"],
                                      source=c.get("source", "")))

    grades = tuple(_grade(r, name, g, analyses) for name, g in r.table(doc, "grade", None).items())

    return ReviewPlan(path=path, title=title, citation=citation, data=data, analyses=tuple(analyses),
                      sensitivity=sens, table1_data=t1_data, table1=tuple(rows), comparisons=tuple(comparisons),
                      not_reproducible=tuple(notrep), prisma=prisma, tables=tables, grade=grades, dpi=dpi, text=text)


def _grade(r: _Reader, name: str, g: Any, analyses) -> GradeSpec:
    """A ``[grade.ANALYSIS]`` table: checked here so that a wrong rating stops the run before it starts."""
    from ..appraisal.grade import DESIGNS, DOMAINS, RATINGS

    h = f"grade.{name}"
    if not isinstance(g, dict):
        raise r.error("each GRADE entry is a table: [grade.ANALYSIS]", h)
    r.keys(g, _GRADE, h)
    titles = {a.name: a.title for a in analyses}
    if name not in titles:
        raise r.error(f"no analysis {name!r} to grade; analyses: {', '.join(titles)}", h)
    design = r.string(g, "design", h, default="randomised")
    if design not in DESIGNS:
        raise r.error(f"design must be one of {', '.join(DESIGNS)}, not {design!r}", h, "design")
    th = g.get("thresholds", [])
    if not isinstance(th, list) or not all(isinstance(t, (int, float)) and not isinstance(t, bool) for t in th):
        raise r.error(f"thresholds must be a list of numbers, got {th!r}", h, "thresholds")
    if th and not (r.string(g, "threshold_reason", h) or "").strip():
        raise r.error("say why these thresholds (threshold_reason = \"...\")", h, "thresholds")
    numbers = {}
    for key in ("ois", "baseline_risk"):
        v = g.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0 or
                              (key == "baseline_risk" and v >= 1)):
            raise r.error(f"{key} must be a positive number{' below 1' if key == 'baseline_risk' else ''}, "
                          f"got {v!r}", h, key)
        numbers[key] = None if v is None else float(v)
    rate = {}
    raw = r.table(g, "rate", h)
    for domain, v in raw.items():
        if domain not in DOMAINS:
            raise r.error(f"unknown GRADE domain {domain!r}; domains: {', '.join(DOMAINS)}", h, "rate")
        if not isinstance(v, dict) or v.get("rating") not in RATINGS or not str(v.get("reason", "")).strip():
            raise r.error(f"rate.{domain} needs rating (one of {', '.join(RATINGS)}) and a reason", h, "rate")
        rate[domain] = (str(v["rating"]), str(v["reason"]))
    return GradeSpec(analysis=name, outcome=r.string(g, "outcome", h, default=titles[name]) or titles[name],
                     design=design, thresholds=tuple(float(t) for t in th),
                     threshold_reason=r.string(g, "threshold_reason", h, default="") or "",
                     ois=numbers["ois"], baseline_risk=numbers["baseline_risk"],
                     not_assessed=r.string(g, "not_assessed", h, default="") or "", rate=rate)


def _check_name(r: _Reader, name: str, header: str) -> None:
    if not _NAME.match(name):
        raise r.error(f"name {name!r} must start with a letter and hold only letters, digits and _", header)


def _check_figures(r: _Reader, figs, header: str) -> None:
    import importlib.util

    for f in figs:
        if f not in FIGURES:
            raise r.error(f"unknown figure {f!r}; valid: {', '.join(FIGURES)}", header, "figures")
    if figs and importlib.util.find_spec("metareview.plots.forest") is None:
        raise r.error("forest plots need metareview.plots.forest, which this installation lacks", header, "figures")


def _settings(r: _Reader, values: Mapping[str, Any], header: str) -> dict:
    kw = {k: values[k] for k in _SETTINGS if k in values}
    try:
        Settings.split(kw)
    except (MetaReviewError, TypeError, ValueError) as exc:
        msg = str(exc)
        # point at the key whose value or name the message quotes (longest names first:
        # "method_tau2" before "method")
        names = sorted(kw, key=len, reverse=True)
        key = next((k for k in names if repr(str(kw[k])) in msg), None) or \
            next((k for k in names if re.search(rf"\b{re.escape(k)}\b", msg)), None) or next(iter(kw), None)
        raise r.error(str(exc), header, key) from None
    return kw


def _analysis(r: _Reader, name: str, a: Any, defaults: Mapping, data: Mapping[str, DataSource],
              sens: Mapping[str, Sensitivity]) -> Analysis:
    h = f"analysis.{name}"
    if not isinstance(a, dict):
        raise r.error("each analysis is a table: [analysis.NAME]", h)
    _check_name(r, name, h)
    if name in RESERVED_NAMES:
        raise r.error(f"the name {name!r} is reserved for results.json; reserved: {', '.join(RESERVED_NAMES)}", h)
    r.keys(a, _ANALYSIS, h)
    src = r.string(a, "data", h, required=True)
    if src not in data:
        raise r.error(f"unknown data source {src!r}; declared: {', '.join(data)}", h, "data")
    cols = a.get("columns")
    if not isinstance(cols, dict) or not cols:
        raise r.error("columns must map roles to columns, e.g. columns = { events = \"tr_events\", n = \"n\" }",
                      h, "columns")
    for role, col in cols.items():
        if role not in _ROLES:
            raise r.error(f"unknown role {role!r}; valid roles: {', '.join(_ROLES)}", h, "columns")
        if not isinstance(col, str):
            raise r.error(f"role {role!r} must name a column, got {col!r}", h, "columns")
    settings = {**_settings(r, defaults, "defaults"), **_settings(r, a, h)}
    imps = []
    raw = a.get("impute", [])
    if not isinstance(raw, list):
        raise r.error("imputations are [[analysis.NAME.impute]] tables", h, "impute")
    for i, imp in enumerate(raw):
        hi = f"{h}.impute"
        if not isinstance(imp, dict):
            raise r.error("each imputation is a table", hi, index=i)
        r.keys(imp, _IMPUTE, hi, i)
        for k in ("column", "method"):
            if not isinstance(imp.get(k), str):
                raise r.error(f"the key {k!r} is required (a string)", hi, k, i)
        from ..tables.impute import IMPUTE_METHODS
        if imp["method"] not in IMPUTE_METHODS:
            raise r.error(f"unknown method {imp['method']!r}; valid: {', '.join(IMPUTE_METHODS)}", hi, "method", i)
        imps.append(Imputation(column=imp["column"], method=imp["method"], source=imp.get("source"),
                               value=imp.get("value"), where=imp.get("where"), n=imp.get("n", "n"),
                               level=float(imp.get("level", 0.95))))
    s_names = r.strings(a, "sensitivity", h)
    for s in s_names:
        if s not in sens:
            raise r.error(f"unknown sensitivity analysis {s!r}; declared: {', '.join(sens) or '(none)'}",
                          h, "sensitivity")
    subgroups = r.strings(a, "subgroups", h)
    if subgroups:
        try:
            from ..analyses import subgroups as _sub  # noqa: F401
        except ImportError:
            raise r.error("subgroup analyses need metareview.analyses.subgroups, which this installation lacks",
                          h, "subgroups") from None
    figs = r.strings(a, "figures", h)
    _check_figures(r, figs, h)
    if "subgroups" in figs and not subgroups:
        raise r.error("the figure 'subgroups' needs subgroups = [\"column\", ...]", h, "figures")
    if "sensitivity" in figs and not s_names:
        raise r.error("the figure 'sensitivity' needs sensitivity = [\"name\", ...]", h, "figures")
    forest = a.get("forest", {})
    if not isinstance(forest, dict):
        raise r.error("forest must be a table of forest-plot options, e.g. forest = { percent = true }", h, "forest")
    if forest:
        import inspect

        from ..plots.forest import forest as _forest
        allowed = {n for n, prm in inspect.signature(_forest).parameters.items()
                   if prm.kind == prm.KEYWORD_ONLY}
        bad = sorted(set(forest) - allowed)
        if bad:
            raise r.error(f"unknown forest-plot option {bad[0]!r}; options: {', '.join(sorted(allowed))}", h,
                          "forest")
    if forest and not figs:
        raise r.error("forest options are given but no figure is asked for: add figures = [\"forest\"]", h,
                      "forest")
    extra = r.strings(a, "additional", h)
    for e in extra:
        if e not in ADDITIONAL:
            raise r.error(f"unknown additional estimate {e!r}; valid: {', '.join(ADDITIONAL)}", h, "additional")
    if extra and not {"events", "n"} <= set(cols):
        raise r.error("additional estimates (crude, glmm) need a proportion design: columns events and n",
                      h, "additional")
    return Analysis(name=name, title=r.string(a, "title", h, default=name) or name,
                    outcome=r.string(a, "outcome", h, default="") or "", data=src, columns=dict(cols),
                    settings=settings, impute=tuple(imps), sensitivity=s_names, subgroups=subgroups,
                    figures=figs, additional=extra, note=r.string(a, "note", h, default="") or "",
                    forest=dict(forest), line=r.header_line(h))


def _table1_row(r: _Reader, i: int, row: Any) -> Table1Row:
    h = "table1.row"
    if not isinstance(row, dict):
        raise r.error("each row is a [[table1.row]] table", h, index=i)
    r.keys(row, _T1ROW, h, i)
    for k in ("key", "label", "statistic"):
        if not isinstance(row.get(k), str) or not row[k].strip():
            raise r.error(f"the key {k!r} is required (a non-empty string)", h, k, i)
    stat = row["statistic"]
    if stat not in TABLE1_STATISTICS:
        raise r.error(f"unknown statistic {stat!r}; valid: {', '.join(TABLE1_STATISTICS)}", h, "statistic", i)
    if stat in ("sum_median_range", "median_range", "events_percent") and not isinstance(row.get("column"), str):
        raise r.error(f"statistic {stat!r} needs column = \"...\"", h, "statistic", i)
    dec = row.get("decimals", 1)
    if not isinstance(dec, int) or isinstance(dec, bool) or not 0 <= dec <= 6:
        raise r.error(f"decimals must be a whole number from 0 to 6, got {dec!r}", h, "decimals", i)
    return Table1Row(key=row["key"], label=row["label"], statistic=stat, column=row.get("column"),
                     n=row.get("n", "n"), rows_with=r.strings(row, "rows_with", h), decimals=dec,
                     paper=row.get("paper"), why=row.get("why", ""))


def _comparison(r: _Reader, i: int, c: Any, analyses) -> Comparison:
    h = "compare"
    if not isinstance(c, dict):
        raise r.error("each comparison is a [[compare]] table", h, index=i)
    r.keys(c, _COMPARE, h, i)
    for k in ("label", "paper", "analysis"):
        if not isinstance(c.get(k), str) or not c[k].strip():
            raise r.error(f"the key {k!r} is required (a non-empty string)", h, k, i)
    by_name = {a.name: a for a in analyses}
    if c["analysis"] not in by_name:
        raise r.error(f"unknown analysis {c['analysis']!r}; declared: {', '.join(by_name)}", h, "analysis", i)
    a = by_name[c["analysis"]]
    est = c.get("estimate", "random")
    if est not in ESTIMATES:
        raise r.error(f"unknown estimate {est!r}; valid: {', '.join(ESTIMATES)}", h, "estimate", i)
    if est in ("crude", "glmm") and est not in a.additional:
        raise r.error(f"analysis {a.name!r} does not compute {est!r}: add it to its additional = [...]",
                      h, "estimate", i)
    sens = c.get("sensitivity")
    if sens is not None and sens not in a.sensitivity:
        raise r.error(f"analysis {a.name!r} has no sensitivity analysis {sens!r}; it has: "
                      f"{', '.join(a.sensitivity) or '(none)'}", h, "sensitivity", i)
    pct = c.get("percent", False)
    if not isinstance(pct, bool):
        raise r.error(f"percent must be true or false, got {pct!r}", h, "percent", i)
    return Comparison(label=c["label"], paper=c["paper"], analysis=a.name, estimate=est, sensitivity=sens,
                      percent=pct, source=c.get("source", ""), why=c.get("why", ""))
