"""PRISMA 2020 flow diagrams.

The layout follows the flow diagram template for new systematic reviews that searched
databases and registers, and optionally other sources, in

    Page MJ, McKenzie JE, Bossuyt PM, et al. The PRISMA 2020 statement: an updated
    guideline for reporting systematic reviews. BMJ 2021;372:n71. doi:10.1136/bmj.n71

Three phases run top to bottom (identification, screening, included), labelled on the
left.  The main column carries records from databases and registers through screening
and retrieval to eligibility, each step with its exclusions in a box to its right; an
optional second pair of columns does the same for other methods (websites, citation
searching, ...) and joins the included box.  Boxes whose counts are not given are left
out and the arrows run past them.

The counts come from a dict or a JSON/TOML file in the exchange format of
``docs/prisma-counts.md`` (:class:`PrismaCounts`), which checks that they add up.

Example
-------
>>> from metareview.plots.prisma import PrismaDiagram
>>> diagram = PrismaDiagram({"records_databases": {"PubMed": 900, "Embase": 435},
...                          "studies_included": 33})
>>> fig = diagram.plot()
>>> paths = [diagram.save(f"prisma.{ext}") for ext in ("png", "svg", "pdf")]  # doctest: +SKIP
"""

from __future__ import annotations

import difflib
import json
import math
import tomllib
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from matplotlib.font_manager import FontProperties

from ..base.exceptions import DataError, MetaReviewWarning, SettingsError
from ._labels import literal_text
from ._text import HINTING_SLACK, measure_text, wrap_text

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "PrismaCounts",
    "Inconsistency",
    "PrismaDiagram",
    "PrismaLayout",
    "BoxSpec",
    "LabelSpec",
    "ArrowSpec",
    "SAVE_FORMATS",
    "compute_layout",
    "resolve_format",
]

#: File formats :meth:`PrismaDiagram.save` writes.
SAVE_FORMATS = ("png", "svg", "pdf")

_TABLE_KEYS = ("records_databases", "records_registers", "reports_excluded",
               "other_records", "other_reports_excluded")
_COUNT_KEYS = ("duplicates_removed", "automation_removed", "other_removed",
               "records_screened", "records_excluded", "reports_sought",
               "reports_not_retrieved", "reports_assessed", "other_reports_sought",
               "other_reports_not_retrieved", "other_reports_assessed",
               "studies_included", "reports_included")
_NBSP = "\u00a0"


# --------------------------------------------------------------------------- counts

def _error(message: str, key: str, rule: str) -> DataError:
    # The message names the key itself; ``column`` is kept for structured reporting.
    exc = DataError(message, rule=rule)
    exc.column = key
    return exc


def _check_count(key: str, value: Any, where: str | None = None) -> int:
    label = key if where is None else f"{key}[{where!r}]"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _error(f"{label} must be a non-negative whole number, got {value!r}", key, "integer")
    if isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            raise _error(f"{label} must be a non-negative whole number, got {value!r}", key, "integer")
        value = int(value)
    if value < 0:
        raise _error(f"{label} must not be negative, got {value}", key, "non-negative")
    return int(value)


def _check_table(key: str, value: Any) -> dict[str, int] | None:
    if not isinstance(value, Mapping):
        raise _error(f"{key} must be a table of name -> count "
                     f"(e.g. {{\"PubMed\": 120}}), got {value!r}", key, "table")
    table: dict[str, int] = {}
    for name, count in value.items():
        if not isinstance(name, str) or not name.strip():
            raise _error(f"{key} has an empty or non-text name {name!r}", key, "table")
        table[name.strip()] = _check_count(key, count, where=name)
    return table or None


@dataclass(frozen=True)
class Inconsistency:
    """Counts of one box that do not add up with the boxes before it.

    ``relation`` is ``"="`` (the box must equal ``expected``) or ``"<="`` (at most).
    """

    box: str
    expected: int
    observed: int
    relation: str
    rule: str
    hint: str = ""

    @property
    def message(self) -> str:
        want = "expected" if self.relation == "=" else "expected at most"
        text = f"{self.box}: {want} {self.expected} ({self.rule}), got {self.observed}"
        return f"{text}; {self.hint}" if self.hint else text


@dataclass(frozen=True)
class PrismaCounts:
    """The counts of a PRISMA 2020 flow diagram (Page et al. 2021, BMJ 372:n71).

    Every field is optional (None: the box is left out).  Tables map a database,
    register, other source or exclusion reason to a count.  The field names are the keys
    of the exchange format in ``docs/prisma-counts.md``; build instances with
    :meth:`from_dict` or :meth:`from_file`, which reject unknown keys and counts that are
    negative or not whole numbers, then call :meth:`validate` for the arithmetic.
    """

    records_databases: dict[str, int] | None = None
    records_registers: dict[str, int] | None = None
    duplicates_removed: int | None = None
    automation_removed: int | None = None
    other_removed: int | None = None
    records_screened: int | None = None
    records_excluded: int | None = None
    reports_sought: int | None = None
    reports_not_retrieved: int | None = None
    reports_assessed: int | None = None
    reports_excluded: dict[str, int] | None = None
    other_records: dict[str, int] | None = None
    other_reports_sought: int | None = None
    other_reports_not_retrieved: int | None = None
    other_reports_assessed: int | None = None
    other_reports_excluded: dict[str, int] | None = None
    studies_included: int | None = None
    reports_included: int | None = None

    # -- construction ---------------------------------------------------------
    @classmethod
    def keys(cls) -> tuple[str, ...]:
        """The keys of the exchange format, in the order of the diagram."""
        return tuple(f.name for f in fields(cls))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PrismaCounts:
        """Check keys and value types of ``data`` and build the counts.

        Raises :class:`~metareview.base.exceptions.DataError` naming the key for an unknown
        key, a negative or non-integer count, or a table that is not a table.  Empty
        tables count as not given.
        """
        if isinstance(data, PrismaCounts):
            return data
        if not isinstance(data, Mapping):
            raise DataError(f"PRISMA counts must be a table of key -> count, got {type(data).__name__}")
        known = cls.keys()
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key not in known:
                close = difflib.get_close_matches(str(key), known, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise _error(f"unknown key {key!r}{hint} Valid keys: {', '.join(known)}",
                             str(key), "known key")
            if value is None:
                continue
            values[key] = (_check_table(key, value) if key in _TABLE_KEYS
                           else _check_count(key, value))
        return cls(**values)

    @classmethod
    def from_file(cls, path: str | Path) -> PrismaCounts:
        """Read counts from a ``.json`` or ``.toml`` file (see ``docs/prisma-counts.md``)."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in (".json", ".toml"):
            raise DataError(f"{path}: PRISMA counts are read from .json or .toml files, "
                            f"not {suffix or 'a file without suffix'}", rule="file type")
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise DataError(f"{path}: cannot read the counts file ({exc.strerror})") from exc
        try:
            if suffix == ".json":
                data = json.loads(raw.decode("utf-8"))
            else:
                data = tomllib.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise DataError(f"{path}: not valid {suffix[1:].upper()}: {exc}") from exc
        try:
            return cls.from_dict(data)
        except DataError as exc:
            raise _error(f"{path}: {exc}", exc.column, exc.rule) from exc

    def to_dict(self) -> dict[str, Any]:
        """The given counts as a dict in the exchange format (keys left out when None)."""
        out: dict[str, Any] = {}
        for key in self.keys():
            value = getattr(self, key)
            if value is not None:
                out[key] = dict(value) if isinstance(value, dict) else value
        return out

    # -- derived totals -------------------------------------------------------
    @property
    def records_identified(self) -> int | None:
        """Records from databases and registers together (None if neither is given)."""
        if self.records_databases is None and self.records_registers is None:
            return None
        return sum((self.records_databases or {}).values()) + sum((self.records_registers or {}).values())

    @property
    def records_removed(self) -> int | None:
        """Records removed before screening (duplicates, automation, other reasons)."""
        parts = (self.duplicates_removed, self.automation_removed, self.other_removed)
        if all(p is None for p in parts):
            return None
        return sum(p or 0 for p in parts)

    @property
    def has_database_column(self) -> bool:
        """Whether any count of the databases-and-registers column is given."""
        return any(getattr(self, k) is not None for k in
                   ("records_databases", "records_registers", "duplicates_removed",
                    "automation_removed", "other_removed", "records_screened", "records_excluded",
                    "reports_sought", "reports_not_retrieved", "reports_assessed", "reports_excluded"))

    @property
    def has_other_methods(self) -> bool:
        """Whether any count of the "other methods" column is given."""
        return any(getattr(self, k) is not None for k in
                   ("other_records", "other_reports_sought", "other_reports_not_retrieved",
                    "other_reports_assessed", "other_reports_excluded"))

    # -- arithmetic -----------------------------------------------------------
    def inconsistencies(self) -> list[Inconsistency]:
        """Every rule of the flow that the given counts break (empty when they add up).

        Rules (checked only where both ends are given; a missing box in between counts
        as zero, because the diagram would show the numbers without it):
        screened = identified - removed; sought = screened - excluded;
        assessed = sought - not retrieved (both columns); other methods sought <= their
        records; the reports excluded with reasons <= reports assessed - reports included
        (studies included when reports are not given: each study has at least one report);
        studies included <= reports included.
        """
        found: list[Inconsistency] = []

        def missing(key: str) -> str:
            return f"{key} is not given; add it or correct the counts"

        identified, removed = self.records_identified, self.records_removed
        if identified is not None and self.records_screened is not None:
            expected = identified - (removed or 0)
            if self.records_screened != expected:
                parts = ", ".join(f"{k} {getattr(self, k)}" for k in
                                  ("duplicates_removed", "automation_removed", "other_removed")
                                  if getattr(self, k) is not None)
                found.append(Inconsistency(
                    "records_screened", expected, self.records_screened, "=",
                    f"records identified {identified} - removed before screening {removed or 0}"
                    + (f" [{parts}]" if parts else ""),
                    "" if removed is not None else
                    "no removals before screening are given; add duplicates_removed, "
                    "automation_removed or other_removed, or correct the counts"))
        chain = (("reports_sought", "records_screened", "records_excluded",
                  "records screened {a} - records excluded {b}"),
                 ("reports_assessed", "reports_sought", "reports_not_retrieved",
                  "reports sought {a} - not retrieved {b}"),
                 ("other_reports_assessed", "other_reports_sought", "other_reports_not_retrieved",
                  "other methods: reports sought {a} - not retrieved {b}"))
        for box, start, minus, rule in chain:
            got, a, b = getattr(self, box), getattr(self, start), getattr(self, minus)
            if got is not None and a is not None:
                expected = a - (b or 0)
                if got != expected:
                    found.append(Inconsistency(box, expected, got, "=",
                                               rule.format(a=a, b=b or 0),
                                               "" if b is not None else missing(minus)))
        if self.other_records is not None and self.other_reports_sought is not None:
            total = sum(self.other_records.values())
            if self.other_reports_sought > total:
                found.append(Inconsistency("other_reports_sought", total, self.other_reports_sought,
                                           "<=", f"other methods: records identified {total}"))
        # Each report excluded at eligibility is excluded once; what is left is included.
        if self.reports_included is not None:
            included, included_key = self.reports_included, "reports_included"
        else:
            included, included_key = self.studies_included, "studies_included"
        # Reports assessed in every column that is present (a column without its
        # assessed count leaves the total unknown).
        assessed_parts = []
        if self.has_database_column or not self.has_other_methods:
            assessed_parts.append(self.reports_assessed)
        if self.has_other_methods:
            assessed_parts.append(self.other_reports_assessed)
        if included is not None and assessed_parts and all(p is not None for p in assessed_parts):
            assessed = sum(assessed_parts)
            excluded = (sum((self.reports_excluded or {}).values())
                        + sum((self.other_reports_excluded or {}).values()))
            if excluded + included > assessed:
                given_reasons = self.reports_excluded is not None or self.other_reports_excluded is not None
                if given_reasons:
                    box = ("reports_excluded" if self.reports_excluded is not None
                           else "other_reports_excluded")
                    found.append(Inconsistency(
                        box, assessed - included, excluded, "<=",
                        f"reports assessed {assessed} - {included_key.replace('_', ' ')} {included}"
                        + ("; reasons of both columns together" if self.has_other_methods else "")))
                else:
                    found.append(Inconsistency(included_key, assessed, included, "<=",
                                               f"reports assessed {assessed}"))
        for box, table, limit_key in (("reports_excluded", self.reports_excluded, "reports_assessed"),
                                      ("other_reports_excluded", self.other_reports_excluded,
                                       "other_reports_assessed")):
            limit = getattr(self, limit_key)
            if table is not None and limit is not None and sum(table.values()) > limit:
                if not any(i.box == box for i in found):
                    found.append(Inconsistency(box, limit, sum(table.values()), "<=",
                                               f"{limit_key.replace('_', ' ')} {limit}"))
        if (self.studies_included is not None and self.reports_included is not None
                and self.studies_included > self.reports_included):
            found.append(Inconsistency("studies_included", self.reports_included,
                                       self.studies_included, "<=",
                                       f"reports of included studies {self.reports_included}; "
                                       "every study has at least one report"))
        return found

    def validate(self, *, strict: bool = True) -> PrismaCounts:
        """Check the arithmetic of the flow; return ``self``.

        With ``strict`` a :class:`~metareview.base.exceptions.DataError` names the first box
        that does not add up, its expected value and the rule (all problems are listed
        in the message).  Without it each problem is a
        :class:`~metareview.base.exceptions.MetaReviewWarning` and the counts are used as given.
        """
        problems = self.inconsistencies()
        if not problems:
            return self
        if strict:
            first = problems[0]
            message = "PRISMA counts do not add up: " + "; ".join(p.message for p in problems)
            message += " (use allow_inconsistent / --allow-inconsistent to draw them anyway)"
            raise _error(message, first.box, first.rule)
        for problem in problems:
            warnings.warn(f"PRISMA counts do not add up: {problem.message}",
                          MetaReviewWarning, stacklevel=3)
        return self


# --------------------------------------------------------------------------- layout

@dataclass(frozen=True)
class BoxSpec:
    """One box of the diagram, in points from the lower left corner of the figure."""

    key: str
    text: str
    x: float
    y: float
    width: float
    height: float
    align: str  # "left" or "center"
    row: str
    column: int

    @property
    def center(self) -> tuple[float, float]:
        return self.x + self.width / 2, self.y + self.height / 2


@dataclass(frozen=True)
class LabelSpec:
    """A phase label (rotated, on the left) or a column header (on top)."""

    key: str
    text: str
    x: float
    y: float
    width: float
    height: float
    rotation: float


@dataclass(frozen=True)
class ArrowSpec:
    """A connector: a polyline in points whose last point carries the arrow head."""

    start: str
    end: str
    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class PrismaLayout:
    """Everything :meth:`PrismaDiagram.plot` draws, computed once, in points."""

    width: float
    height: float
    fontsize: float
    boxes: dict[str, BoxSpec]
    arrows: tuple[ArrowSpec, ...]
    phases: tuple[LabelSpec, ...]
    headers: tuple[LabelSpec, ...]
    padding: float


_ROWS = ("identification", "screened", "sought", "assessed", "included")
_PHASES = (("identification", "Identification", ("identification",)),
           ("screening", "Screening", ("screened", "sought", "assessed")),
           ("included", "Included", ("included",)))
# box key -> (row, column); columns: 0 main, 1 its exclusions, 2 other methods, 3 theirs.
_PLACES = {
    "records_identified": ("identification", 0), "records_removed": ("identification", 1),
    "other_records": ("identification", 2),
    "records_screened": ("screened", 0), "records_excluded": ("screened", 1),
    "reports_sought": ("sought", 0), "reports_not_retrieved": ("sought", 1),
    "other_reports_sought": ("sought", 2), "other_reports_not_retrieved": ("sought", 3),
    "reports_assessed": ("assessed", 0), "reports_excluded": ("assessed", 1),
    "other_reports_assessed": ("assessed", 2), "other_reports_excluded": ("assessed", 3),
    "included": ("included", 0),
}
_CHAINS = (("records_identified", "records_screened", "reports_sought", "reports_assessed", "included"),
           ("other_records", "other_reports_sought", "other_reports_assessed", "included"))
_SIDES = {"records_removed": "records_identified", "records_excluded": "records_screened",
          "reports_not_retrieved": "reports_sought", "reports_excluded": "reports_assessed",
          "other_reports_not_retrieved": "other_reports_sought",
          "other_reports_excluded": "other_reports_assessed"}
_HEADERS = (("databases", "Identification of new studies via databases and registers", (0, 1)),
            ("other", "Identification of new studies via other methods", (2, 3)))


def _n(count: int) -> str:
    return f"(n{_NBSP}={_NBSP}{count})"


def _source_lines(kind: str, table: dict[str, int]) -> list[tuple[str, int]]:
    """Lines for one table of sources: a total with one indented line per source."""
    if len(table) == 1:
        (name, count), = table.items()
        if name.lower() == kind.lower():
            return [(f"{kind} {_n(count)}", 0)]
        return [(f"{kind}: {name} {_n(count)}", 0)]
    lines = [(f"{kind} {_n(sum(table.values()))}:", 0)]
    lines += [(f"{name} {_n(count)}", 1) for name, count in table.items()]
    return lines


def _box_contents(c: PrismaCounts) -> dict[str, tuple[list[tuple[str, int]], str]]:
    """Box key -> (lines with indent level, alignment), for the boxes whose counts are given.

    The wording is that of the boxes of the PRISMA 2020 template (Page et al. 2021).
    """
    boxes: dict[str, tuple[list[tuple[str, int]], str]] = {}

    def simple(key: str, title: str, value: int | None) -> None:
        if value is not None:
            boxes[key] = ([(title, 0), (_n(value), 0)], "center")

    if c.records_identified is not None:
        lines = [("Records identified from:", 0)]
        if c.records_databases:
            lines += _source_lines("Databases", c.records_databases)
        if c.records_registers:
            lines += _source_lines("Registers", c.records_registers)
        boxes["records_identified"] = (lines, "left")
    if c.records_removed is not None:
        lines = [("Records removed before screening:", 0)]
        for key, label in (("duplicates_removed", "Duplicate records removed"),
                           ("automation_removed", "Records marked as ineligible by automation tools"),
                           ("other_removed", "Records removed for other reasons")):
            if getattr(c, key) is not None:
                lines.append((f"{label} {_n(getattr(c, key))}", 1))
        boxes["records_removed"] = (lines, "left")
    if c.other_records is not None:
        lines = [("Records identified from:", 0)]
        lines += [(f"{name} {_n(count)}", 1) for name, count in c.other_records.items()]
        boxes["other_records"] = (lines, "left")
    simple("records_screened", "Records screened", c.records_screened)
    simple("records_excluded", "Records excluded", c.records_excluded)
    for prefix in ("", "other_"):
        simple(f"{prefix}reports_sought", "Reports sought for retrieval",
               getattr(c, f"{prefix}reports_sought"))
        simple(f"{prefix}reports_not_retrieved", "Reports not retrieved",
               getattr(c, f"{prefix}reports_not_retrieved"))
        simple(f"{prefix}reports_assessed", "Reports assessed for eligibility",
               getattr(c, f"{prefix}reports_assessed"))
        reasons = getattr(c, f"{prefix}reports_excluded")
        if reasons is not None:
            lines = [(f"Reports excluded {_n(sum(reasons.values()))}:", 0)]
            lines += [(f"{reason} {_n(count)}", 1) for reason, count in reasons.items()]
            boxes[f"{prefix}reports_excluded"] = (lines, "left")
    if c.studies_included is not None or c.reports_included is not None:
        lines = []
        if c.studies_included is not None:
            lines.append((f"Studies included in review {_n(c.studies_included)}", 0))
        if c.reports_included is not None:
            lines.append((f"Reports of included studies {_n(c.reports_included)}", 0))
        boxes["included"] = (lines, "center")
    return boxes


def _waterfill(naturals: list[float], available: float) -> float:
    """The largest cap such that sum(min(n, cap)) fits ``available``."""
    if sum(naturals) <= available:
        return max(naturals)
    lo, hi = 0.0, max(naturals)
    for _ in range(60):
        mid = (lo + hi) / 2
        if sum(min(n, mid) for n in naturals) > available:
            hi = mid
        else:
            lo = mid
    return lo


def compute_layout(counts: PrismaCounts, *, fontsize: float = 7.0, max_width: float = 7.2,
                   phase_labels: bool = True, headers: bool = True) -> PrismaLayout:
    """Place the boxes, labels and arrows of the diagram for ``counts``.

    Text is wrapped to the columns' widths and measured with matplotlib's renderer; a
    box grows to hold its text and a row to hold its phase label.  ``max_width`` (inches)
    is the width the columns share before a box has to grow past it; the figure is
    narrower when the text allows.
    """
    f = float(fontsize)
    prop = FontProperties(family="DejaVu Sans", size=f)
    bold = FontProperties(family="DejaVu Sans", size=f, weight="bold")
    pad_x, pad_y = 0.7 * f, 0.6 * f
    arrow_gap = 2.2 * f           # between a box and its exclusions
    column_gap = 2.6 * f          # between the two pairs of columns
    row_gap = 2.4 * f
    margin = 0.5 * f
    min_width = 11.0 * f
    indent = _NBSP * 2

    def measure(text: str, font: FontProperties) -> tuple[float, float]:
        # Room for Agg's hinting, which draws wider and, line by line, taller than the outlines.
        w, h = measure_text(text, font)
        return float(w) * HINTING_SLACK, float(h) * HINTING_SLACK

    contents = _box_contents(counts)
    if not contents:
        raise DataError("no PRISMA counts are given; nothing to draw")
    columns = sorted({_PLACES[k][1] for k in contents})
    rows = [r for r in _ROWS if any(_PLACES[k][0] == r for k in contents)]

    # Widths: each column asks for its longest unwrapped line; if all columns do not
    # fit in max_width, the widest are capped alike and their text is wrapped.
    def natural(key: str) -> float:
        return max(measure(indent * lvl + line, prop)[0] for line, lvl in contents[key][0])

    label_width = measure("Identification", bold)[1] + 2 * pad_y if phase_labels else 0.0
    gaps = sum(arrow_gap if col in (1, 3) else column_gap for col in columns[1:])
    fixed = 2 * margin + (label_width + arrow_gap * 0.6 if phase_labels else 0.0) + gaps
    naturals = {col: max(natural(k) for k in contents if _PLACES[k][1] == col) + 2 * pad_x
                for col in columns}
    cap = _waterfill(list(naturals.values()), max_width * 72.0 - fixed)
    cap = max(cap, min_width)

    def wrapped(key: str, width: float) -> str:
        lines, align = contents[key]
        hanging = indent if align == "left" else ""
        out: list[str] = []
        for line, lvl in lines:
            out += wrap_text(line, width - 2 * pad_x, prop, indent=indent * lvl, hanging=hanging)
        return "\n".join(out)

    texts = {key: wrapped(key, cap) for key in contents}
    sizes = {k: measure(t, prop) for k, t in texts.items()}
    col_width = {col: max(min(naturals[col], cap), min_width,
                          max(sizes[k][0] + 2 * pad_x for k in texts if _PLACES[k][1] == col))
                 for col in columns}
    # A word too long to wrap widens its column: the column's other lines may use the room.
    for key in contents:
        width = col_width[_PLACES[key][1]]
        if width > cap:
            texts[key] = wrapped(key, width)
            sizes[key] = measure(texts[key], prop)

    x = margin + (label_width + arrow_gap * 0.6 if phase_labels else 0.0)
    col_x: dict[int, float] = {}
    for i, col in enumerate(columns):
        if i:
            x += arrow_gap if col in (1, 3) else column_gap
        col_x[col] = x
        x += col_width[col]
    width = x + margin

    # Heights: a row is as tall as its tallest box, and the rows of a phase together at
    # least as tall as the phase's rotated label.
    box_h = {k: max(sizes[k][1] + 2 * pad_y, 3.4 * f) for k in texts}
    row_h = {r: max(box_h[k] for k in texts if _PLACES[k][0] == r) for r in rows}
    phases = [(key, title, [r for r in members if r in rows]) for key, title, members in _PHASES]
    phases = [p for p in phases if p[2]]
    if phase_labels:
        for _, title, members in phases:
            need = measure(title, bold)[0] + 2 * pad_x
            have = sum(row_h[r] for r in members) + row_gap * (len(members) - 1)
            if have < need:
                for r in members:
                    row_h[r] += (need - have) / len(members)

    header_specs = []
    header_h = 0.0
    if headers:
        for key, title, span in _HEADERS:
            present = [c for c in span if c in col_x]
            if not present:
                continue
            x0 = col_x[present[0]]
            x1 = col_x[present[-1]] + col_width[present[-1]]
            lines = wrap_text(title, x1 - x0 - 2 * pad_x, bold)
            text = "\n".join(lines)
            header_h = max(header_h, measure(text, bold)[1] + 2 * pad_y)
            header_specs.append((key, text, x0, x1))

    height = margin + sum(row_h.values()) + row_gap * (len(rows) - 1) + margin
    if header_specs:
        height += header_h + row_gap * 0.8
    top = height - margin
    header_list = tuple(LabelSpec(key, text, x0, top - header_h, x1 - x0, header_h, 0.0)
                        for key, text, x0, x1 in header_specs)
    if header_specs:
        top -= header_h + row_gap * 0.8
    row_top: dict[str, float] = {}
    for r in rows:
        row_top[r] = top
        top -= row_h[r] + row_gap

    boxes: dict[str, BoxSpec] = {}
    for key, text in texts.items():
        row, col = _PLACES[key]
        w, h = col_width[col], box_h[key]
        cy = row_top[row] - row_h[row] / 2
        boxes[key] = BoxSpec(key, text, col_x[col], cy - h / 2, w, h, contents[key][1], row, col)

    phase_list = []
    if phase_labels:
        for key, title, members in phases:
            y1 = row_top[members[0]]
            y0 = row_top[members[-1]] - row_h[members[-1]]
            phase_list.append(LabelSpec(key, title, margin, y0, label_width, y1 - y0, 90.0))

    arrows = _route_arrows(boxes, col_x, col_width, row_top, row_h)
    return PrismaLayout(width=width, height=height, fontsize=f, boxes=boxes, arrows=tuple(arrows),
                        phases=tuple(phase_list), headers=header_list, padding=pad_x)


def _route_arrows(boxes: dict[str, BoxSpec], col_x: dict[int, float], col_width: dict[int, float],
                  row_top: dict[str, float], row_h: dict[str, float]) -> list[ArrowSpec]:
    """Connect consecutive boxes of each column; exclusions branch off to the right.

    A missing box is skipped by the arrow between its neighbours; an exclusion box whose
    own box is missing branches off that arrow (or off the end of the column).
    """
    arrows: list[ArrowSpec] = []
    for chain in _CHAINS:
        present = [k for k in chain if k in boxes]
        for upper, lower in zip(present, present[1:]):
            a, b = boxes[upper], boxes[lower]
            if a.column == b.column:
                cx = a.x + a.width / 2
                arrows.append(ArrowSpec(upper, lower, ((cx, a.y), (cx, b.y + b.height))))
            else:  # other methods join the included box from the right
                cx = a.x + a.width / 2
                cy = b.y + b.height / 2
                arrows.append(ArrowSpec(upper, lower, ((cx, a.y), (cx, cy), (b.x + b.width, cy))))
    for side, main in _SIDES.items():
        if side not in boxes:
            continue
        s = boxes[side]
        cy = s.y + s.height / 2
        if main in boxes:
            m = boxes[main]
            arrows.append(ArrowSpec(main, side, ((m.x + m.width, cy), (s.x, cy))))
            continue
        # The exclusion's own box is missing: branch off the column's trunk.
        chain = next(c for c in _CHAINS if main in c)
        idx = chain.index(main)
        above = [k for k in chain[:idx] if k in boxes]
        below = [k for k in chain[idx + 1:] if k in boxes and boxes[k].column == _PLACES[main][1]]
        main_col = _PLACES[main][1]
        cx = col_x[main_col] + col_width[main_col] / 2
        if above and below:
            arrows.append(ArrowSpec(above[-1], side, ((cx, cy), (s.x, cy))))
        elif above:
            a = boxes[above[-1]]
            arrows.append(ArrowSpec(above[-1], side, ((cx, a.y), (cx, cy), (s.x, cy))))
    return arrows


# --------------------------------------------------------------------------- display

_STYLE = {
    "box_face": "white",
    "box_edge": "black",
    "phase_face": "#c5dcf0",
    "header_databases": "#ffd966",
    "header_other": "#d9d9d9",
    "line_width": 0.8,
}


class PrismaDiagram:
    """A PRISMA 2020 flow diagram (Page et al. 2021, BMJ 372:n71), laid out once.

    Parameters
    ----------
    counts
        :class:`PrismaCounts`, a dict in the exchange format, or the path of a
        ``.json``/``.toml`` file of counts (``docs/prisma-counts.md``).
    strict
        Raise :class:`~metareview.base.exceptions.DataError` when the counts do not add up
        (default); with False, warn (:class:`~metareview.base.exceptions.MetaReviewWarning`)
        and draw the counts as given.
    fontsize
        Font size in points (DejaVu Sans).
    max_width
        Width in inches the diagram may take before boxes grow past it (7.2 in is a
        two-column journal page; the figure is narrower when its text allows).
    phase_labels, headers
        Draw the phase labels on the left and the column headers on top.

    Attributes (after :meth:`plot`)
    ------------------------------
    figure_, ax_
        The matplotlib Figure and Axes drawn on.
    box_patches_, box_texts_
        Dicts box key -> Rectangle and -> Text (keys as in :attr:`layout`).
    arrows_
        List of FancyArrowPatch connectors.
    phase_patches_, phase_texts_, header_patches_, header_texts_
        Dicts of the phase labels and column headers.

    Example
    -------
    >>> d = PrismaDiagram({"records_databases": {"PubMed": 120}, "duplicates_removed": 20,
    ...                    "records_screened": 100, "studies_included": 5})
    >>> sorted(d.layout.boxes)
    ['included', 'records_identified', 'records_removed', 'records_screened']
    """

    def __init__(self, counts: PrismaCounts | Mapping[str, Any] | str | Path, *, strict: bool = True,
                 fontsize: float = 7.0, max_width: float = 7.2, phase_labels: bool = True,
                 headers: bool = True):
        if isinstance(counts, (str, Path)):
            counts = PrismaCounts.from_file(counts)
        elif not isinstance(counts, PrismaCounts):
            counts = PrismaCounts.from_dict(counts)
        if not (isinstance(fontsize, (int, float)) and 3 <= fontsize <= 40):
            raise SettingsError(f"fontsize must be a number of points between 3 and 40, got {fontsize!r}")
        if not (isinstance(max_width, (int, float)) and 1 <= max_width <= 40):
            raise SettingsError(f"max_width must be a width in inches between 1 and 40, got {max_width!r}")
        self.counts = counts.validate(strict=strict)
        self.strict = strict
        self.layout = compute_layout(counts, fontsize=fontsize, max_width=max_width,
                                     phase_labels=phase_labels, headers=headers)
        self.figure_: Figure | None = None
        self.ax_: Axes | None = None

    @classmethod
    def from_file(cls, path: str | Path, **kwargs: Any) -> PrismaDiagram:
        """Diagram of the counts in a ``.json`` or ``.toml`` file."""
        return cls(PrismaCounts.from_file(path), **kwargs)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], **kwargs: Any) -> PrismaDiagram:
        """Diagram of counts given as a dict in the exchange format."""
        return cls(PrismaCounts.from_dict(data), **kwargs)

    @property
    def size(self) -> tuple[float, float]:
        """Width and height of the diagram in inches."""
        return self.layout.width / 72.0, self.layout.height / 72.0

    def __repr__(self) -> str:
        w, h = self.size
        return f"<PrismaDiagram {len(self.layout.boxes)} boxes, {w:.2f} x {h:.2f} in>"

    @literal_text
    def plot(self, ax: Axes | None = None) -> Figure:
        """Draw the diagram and return its Figure.

        Without ``ax`` a new figure of exactly :attr:`size` is made.  With ``ax`` the
        diagram is drawn into it, scaled (text included) to fit the axes' current size,
        and centred; the axes' frame and ticks are switched off.
        """
        from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle
        from matplotlib.path import Path as MplPath

        lay = self.layout
        if ax is None:
            import matplotlib.pyplot as plt
            fig = plt.figure(figsize=self.size)
            ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
            scale = 1.0
            ax.set_xlim(0.0, lay.width)
            ax.set_ylim(0.0, lay.height)
        else:
            fig = ax.get_figure()
            pos = ax.get_position()
            fw, fh = fig.get_size_inches()
            aw, ah = pos.width * fw * 72.0, pos.height * fh * 72.0
            scale = min(aw / lay.width, ah / lay.height)
            view_w, view_h = aw / scale, ah / scale
            ax.set_xlim((lay.width - view_w) / 2, (lay.width + view_w) / 2)
            ax.set_ylim((lay.height - view_h) / 2, (lay.height + view_h) / 2)
        ax.set_axis_off()
        f = lay.fontsize * scale
        lw = _STYLE["line_width"] * scale
        regular = FontProperties(family="DejaVu Sans", size=f)
        bold = FontProperties(family="DejaVu Sans", size=f, weight="bold")
        rounding = 0.5 * lay.fontsize

        self.box_patches_, self.box_texts_ = {}, {}
        for key, box in lay.boxes.items():
            patch = Rectangle((box.x, box.y), box.width, box.height, facecolor=_STYLE["box_face"],
                              edgecolor=_STYLE["box_edge"], linewidth=lw, clip_on=False, zorder=2,
                              gid=f"prisma-{key}")
            ax.add_patch(patch)
            cx, cy = box.center
            if box.align == "left":
                text = ax.text(box.x + lay.padding, cy, box.text, ha="left", va="center",
                               multialignment="left", fontproperties=regular, zorder=3, clip_on=False)
            else:
                text = ax.text(cx, cy, box.text, ha="center", va="center", multialignment="center",
                               fontproperties=regular, zorder=3, clip_on=False)
            self.box_patches_[key] = patch
            self.box_texts_[key] = text

        self.phase_patches_, self.phase_texts_ = {}, {}
        for label in lay.phases:
            patch = FancyBboxPatch((label.x, label.y), label.width, label.height,
                                   boxstyle=f"round,pad=0,rounding_size={rounding}",
                                   facecolor=_STYLE["phase_face"], edgecolor="none", clip_on=False,
                                   zorder=1)
            ax.add_patch(patch)
            text = ax.text(label.x + label.width / 2, label.y + label.height / 2, label.text,
                           rotation=90, rotation_mode="anchor", ha="center", va="center",
                           fontproperties=bold, zorder=3, clip_on=False)
            self.phase_patches_[label.key] = patch
            self.phase_texts_[label.key] = text

        self.header_patches_, self.header_texts_ = {}, {}
        for label in lay.headers:
            patch = FancyBboxPatch((label.x, label.y), label.width, label.height,
                                   boxstyle=f"round,pad=0,rounding_size={rounding}",
                                   facecolor=_STYLE[f"header_{label.key}"], edgecolor="none",
                                   clip_on=False, zorder=1)
            ax.add_patch(patch)
            text = ax.text(label.x + label.width / 2, label.y + label.height / 2, label.text,
                           ha="center", va="center", multialignment="center",
                           fontproperties=bold, zorder=3, clip_on=False)
            self.header_patches_[label.key] = patch
            self.header_texts_[label.key] = text

        self.arrows_ = []
        for arrow in lay.arrows:
            patch = FancyArrowPatch(path=MplPath(arrow.points), arrowstyle="-|>",
                                    mutation_scale=1.1 * f, linewidth=lw, color=_STYLE["box_edge"],
                                    shrinkA=0, shrinkB=0, joinstyle="miter", capstyle="butt",
                                    clip_on=False, zorder=1.5)
            ax.add_patch(patch)
            self.arrows_.append(patch)

        self.figure_, self.ax_ = fig, ax
        return fig

    def save(self, path: str | Path, *, format: str | None = None, dpi: float | None = None,
             inputs: Sequence[str | Path] = ()) -> Path:
        """Write the diagram as PNG (at ``dpi``, 300 by default), SVG or PDF.

        The file is written through :func:`metareview.base.outputs.open_output` (never onto one of
        ``inputs``; whole or not at all).

        The format is taken from ``format`` or else from the file's suffix; ``dpi`` is for
        PNG only (vector formats have no resolution).  Fonts are embedded as TrueType in
        PDF, and no creation date is written, so that the same counts give the same file.
        """
        import matplotlib

        path = Path(path)
        fmt = resolve_format(path, format)
        if fmt != "png" and dpi is not None:
            raise SettingsError(f"dpi sets the resolution of PNG files; {fmt.upper()} is a vector format")
        dpi = 300 if dpi is None else dpi
        if self.figure_ is None:
            self.plot()
        from ..base.outputs import open_output
        from .forest import check_dpi, check_figure_size

        dpi = check_dpi(dpi)
        check_figure_size(self.figure_, fmt, dpi)
        metadata = {"png": {}, "svg": {"Date": None}, "pdf": {"CreationDate": None}}[fmt]
        with matplotlib.rc_context({"pdf.fonttype": 42, "svg.fonttype": "path",
                                    "svg.hashsalt": "metareview"}), \
                open_output(path, "wb", inputs=inputs) as fh:
            self.figure_.savefig(fh, format=fmt, dpi=dpi, facecolor="white", metadata=metadata)
        return path


def resolve_format(path: str | Path, format: str | None = None) -> str:
    """The file format to save ``path`` in: ``format`` if given, else the suffix.

    Raises :class:`~metareview.base.exceptions.SettingsError` for formats other than
    png, svg and pdf, or when ``format`` and the suffix disagree.
    """
    suffix = Path(path).suffix.lower().lstrip(".")
    if format is not None:
        fmt = format.lower().lstrip(".")
        if fmt not in SAVE_FORMATS:
            raise SettingsError(f"format {format!r} is not offered; use one of {', '.join(SAVE_FORMATS)}")
        if suffix and suffix != fmt:
            raise SettingsError(f"format {fmt!r} does not match the file suffix .{suffix} of {path}; "
                                "change one of them")
        return fmt
    if suffix not in SAVE_FORMATS:
        raise SettingsError(f"cannot tell the format from {str(path)!r}; name the file .png, .svg "
                            "or .pdf, or give the format")
    return suffix
