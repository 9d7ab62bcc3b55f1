"""Dual data extraction with adjudication, on a form declared in TOML.

The form lists the fields to extract, each with a type, a unit, an allowed range and
whether it is required.  Two extractors enter values independently (a CSV each, or at
the terminal); a field-by-field report shows where they differ; an adjudicator
records the agreed value, who decided and why.  The adjudicated table is the analysis
CSV (one row per study, one column per field), written with a provenance table that
traces every value back to the extractors' entries and the adjudication.  Double
extraction with consensus follows the Cochrane Handbook (chapter 5.5.2), which notes
it reduces errors compared with single extraction (Buscemi et al. 2006, J Clin
Epidemiol 59:697-703).

A form file looks like::

    extractors = 2
    [[field]]
    name = "n"
    type = "integer"        # integer, number, text, choice or boolean
    unit = "patients"
    min = 1
    required = true
"""

from __future__ import annotations

import csv
import io
import math
import re
import tomllib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from ..base.exceptions import DataError, SettingsError
from ..base.outputs import spreadsheet_safe
from ._csv import dict_rows
from .project import Project
from .screening import study_labels

__all__ = ["Field", "Form", "load_form", "set_form", "get_form", "import_values", "enter_values",
           "parse_location", "check_entries", "save_entries", "discrepancies", "settle", "adjudicate", "final_table",
           "export_analysis", "analysis_columns", "template"]

TYPES = ("integer", "number", "text", "choice", "boolean")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
_TRUE = {"true", "yes", "y", "1"}
_FALSE = {"false", "no", "n", "0"}
# where in a report a value was found: "p. 4", "pages 4-5", "Table 2", "Fig. 3b", "table S1"
_LOCATION_KINDS = {"p": "page", "pp": "page", "page": "page", "pages": "page", "tab": "table", "table": "table",
                   "fig": "figure", "figure": "figure"}
_LOCATION_PART = re.compile(r"^(?P<kind>[A-Za-z]+)\.?\s*"
                            r"(?P<ref>[A-Za-z]?\d+[A-Za-z]?(?:\s*[-\u2013]\s*\d+[A-Za-z]?)?)$")


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    label: str = ""
    unit: str = ""
    min: float | None = None
    max: float | None = None
    required: bool = False
    choices: tuple[str, ...] = ()

    def parse(self, text: str | None, *, study: str | None = None) -> str | None:
        """The canonical text of a value, or ``None`` if empty; raises DataError if it breaks the form."""
        value = (text or "").strip()
        if not value:
            if self.required:
                raise DataError("a value is required", study=study, column=self.name, rule="required")
            return None
        if self.type in ("integer", "number"):
            try:
                number = float(value.replace(",", "")) if self.type == "integer" else float(value)
            except ValueError:
                raise DataError(f"{value!r} is not a number", study=study, column=self.name, rule="type") from None
            if not math.isfinite(number):
                raise DataError(f"{value!r} is not a finite number", study=study, column=self.name, rule="type")
            if self.type == "integer" and number != int(number):
                raise DataError(f"{value!r} is not a whole number", study=study, column=self.name, rule="type")
            if self.min is not None and number < self.min:
                raise DataError(f"{value} is below the minimum {self.min:g}{' ' + self.unit if self.unit else ''}",
                                study=study, column=self.name, rule="range")
            if self.max is not None and number > self.max:
                raise DataError(f"{value} is above the maximum {self.max:g}{' ' + self.unit if self.unit else ''}",
                                study=study, column=self.name, rule="range")
            return str(int(number)) if self.type == "integer" else repr(number)
        if self.type == "boolean":
            low = value.lower()
            if low in _TRUE:
                return "true"
            if low in _FALSE:
                return "false"
            raise DataError(f"{value!r} is not yes/no", study=study, column=self.name, rule="type")
        if self.type == "choice":
            for choice in self.choices:
                if choice.lower() == value.lower():
                    return choice
            raise DataError(f"{value!r} is not one of {list(self.choices)}", study=study, column=self.name,
                            rule="choice")
        return value

    def describe(self) -> str:
        bits = [self.type]
        if self.unit:
            bits.append(self.unit)
        if self.min is not None or self.max is not None:
            bits.append(f"{'' if self.min is None else f'{self.min:g}'}..{'' if self.max is None else f'{self.max:g}'}")
        if self.choices:
            bits.append("/".join(self.choices))
        if self.required:
            bits.append("required")
        return ", ".join(bits)


@dataclass(frozen=True)
class Form:
    fields: tuple[Field, ...]
    extractors: int = 2

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise DataError(f"the form has no field {name!r}; fields are {[f.name for f in self.fields]}",
                        column=name, rule="field")

    def to_dict(self) -> dict[str, Any]:
        return {"extractors": self.extractors, "field": [{**asdict(f), "choices": list(f.choices)}
                                                          for f in self.fields]}


def _form_from_dict(doc: dict[str, Any]) -> Form:
    raw_fields = doc.get("field") or doc.get("fields")
    if not isinstance(raw_fields, list) or not raw_fields:
        raise SettingsError("the form declares no fields: add [[field]] tables with name and type")
    extractors = doc.get("extractors", 2)
    if not isinstance(extractors, int) or extractors not in (1, 2):
        raise SettingsError(f"extractors must be 1 or 2, not {extractors!r}")
    fields = []
    seen = set()
    for i, item in enumerate(raw_fields, start=1):
        if not isinstance(item, dict):
            raise SettingsError(f"field {i} of the form is not a table")
        unknown = set(item) - {"name", "type", "label", "unit", "min", "max", "required", "choices"}
        if unknown:
            raise SettingsError(f"field {i} of the form has unknown key(s) {sorted(unknown)}")
        name = item.get("name")
        if not isinstance(name, str) or not _NAME.match(name) or name == "study":
            raise SettingsError(f"field {i}: name {name!r} must be an identifier (letters, digits, _ and .) "
                                f"other than 'study'")
        if name in seen:
            raise SettingsError(f"field {name!r} is declared twice")
        seen.add(name)
        kind = item.get("type", "text")
        if kind not in TYPES:
            raise SettingsError(f"field {name!r}: type {kind!r} is not one of {list(TYPES)}")
        lo, hi = item.get("min"), item.get("max")
        for bound in (lo, hi):
            if bound is not None and (isinstance(bound, bool) or not isinstance(bound, (int, float))):
                raise SettingsError(f"field {name!r}: min and max must be numbers")
        if (lo is not None or hi is not None) and kind not in ("integer", "number"):
            raise SettingsError(f"field {name!r}: min and max apply to integer and number fields only")
        if lo is not None and hi is not None and lo > hi:
            raise SettingsError(f"field {name!r}: min {lo} is greater than max {hi}")
        choices = item.get("choices", [])
        if kind == "choice" and (not isinstance(choices, list) or not choices
                                 or not all(isinstance(c, str) for c in choices)):
            raise SettingsError(f"field {name!r}: a choice field needs a list of choices")
        required = item.get("required", False)
        if not isinstance(required, bool):
            raise SettingsError(f"field {name!r}: required must be true or false")
        fields.append(Field(name=name, type=kind, label=str(item.get("label", "")), unit=str(item.get("unit", "")),
                            min=None if lo is None else float(lo), max=None if hi is None else float(hi),
                            required=required, choices=tuple(choices)))
    return Form(fields=tuple(fields), extractors=extractors)


def load_form(text: str) -> Form:
    """Read a form from TOML text."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"the form is not valid TOML: {exc}") from None
    return _form_from_dict(doc)


def set_form(project: Project, form: Form) -> None:
    project.store.set_setting("extraction_form", form.to_dict())


def get_form(project: Project) -> Form:
    doc = project.store.get_setting("extraction_form")
    if doc is None:
        raise SettingsError("the project has no extraction form yet; set one with "
                            "'metareview review extract form FORM.toml'")
    return _form_from_dict(doc)


def included_studies(project: Project, what: str = "extract") -> list[str]:
    """The labels of the studies included at full text; an error if there are none yet."""
    labels = sorted(set(study_labels(project).values()))
    if not labels:
        raise DataError(f"no study is included at full text yet, so there is nothing to {what}", rule="stage")
    return labels


def parse_location(text: str | None, *, study: str | None = None, field: str | None = None) -> str | None:
    """Canonical text of where a value was found (``page 4; table 2``), or ``None`` if empty.

    Parts are separated by commas or semicolons, each a page, table or figure with its
    number (``p. 4``, ``pp 4-5``, ``Table S1``, ``Fig. 3b``).
    """
    value = (text or "").strip()
    if not value:
        return None
    parts = []
    for bit in re.split(r"[;,]", value):
        bit = bit.strip()
        if not bit:
            continue
        m = _LOCATION_PART.match(bit)
        kind = _LOCATION_KINDS.get(m.group("kind").lower()) if m else None
        if m is None or kind is None:
            raise DataError(f"location {bit!r} is not a page, table or figure with its number "
                            f"(e.g. 'p. 4', 'Table 2', 'Fig. 3')", study=study, column=field, rule="location")
        ref = re.sub(r"\s*[-\u2013]\s*", "-", m.group("ref"))
        parts.append(f"{kind} {ref}")
    return "; ".join(parts) or None


def template(project: Project) -> str:
    """An empty extraction sheet: one row per included study, one column per field."""
    form = get_form(project)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["study", *(f.name for f in form.fields)])
    for study in included_studies(project):
        writer.writerow([spreadsheet_safe(study), *([""] * len(form.fields))])
    return buf.getvalue()


def import_values(project: Project, text: str, *, extractor: str) -> int:
    """Append one extractor's values from CSV (a ``study`` column and one column per field).

    Every value is checked against the form first; the file is rejected as a whole,
    naming the study and field, if any value breaks it.  Returns how many values were logged.
    """
    extractor = (extractor or "").strip()
    if not extractor:
        raise DataError("name the extractor (--extractor)", column="extractor", rule="extractor")
    form = get_form(project)
    studies = set(included_studies(project))
    header, rows_in = dict_rows(text, "extraction file")
    if "study" not in header:
        raise DataError("the extraction file has no 'study' column", column="study", rule="columns")
    unknown = [h for h in header if h != "study" and h not in {f.name for f in form.fields}]
    if unknown:
        raise DataError(f"column(s) {unknown} are not fields of the form {[f.name for f in form.fields]}",
                        column=unknown[0], rule="columns")
    rows = []
    seen = set()
    for line, row in rows_in:
        study = (row.get("study") or "").strip()
        if not study:
            raise DataError(f"line {line}: the study is empty", column="study", rule="study")
        if study not in studies:
            raise DataError(f"line {line}: {study!r} is not an included study; included studies are "
                            f"{sorted(studies)}", study=study, column="study", rule="study")
        if study in seen:
            raise DataError(f"line {line}: the study appears twice in the file", study=study,
                            column="study", rule="study")
        seen.add(study)
        for f in form.fields:
            if f.name not in header:
                if f.required:
                    raise DataError("required field missing from the file", study=study, column=f.name,
                                    rule="required")
                continue
            rows.append((study, f.name, extractor, f.parse(row.get(f.name), study=study), "csv"))
    return project.store.add_values(rows)


def enter_values(project: Project, *, extractor: str, study: str, ask: Callable[[Field, str | None], str],
                 tell: Callable[[str], None] = lambda message: None) -> int:
    """Terminal entry: ``ask(field, previous)`` returns the text typed for each field; a value that
    breaks the form is explained through ``tell`` and asked again."""
    extractor = (extractor or "").strip()
    if not extractor:
        raise DataError("name the extractor (--extractor)", column="extractor", rule="extractor")
    form = get_form(project)
    if study not in included_studies(project):
        raise DataError(f"{study!r} is not an included study", study=study, column="study", rule="study")
    previous = {(v["field"]): v["value"] for v in project.store.current_values()
                if v["study"] == study and v["extractor"] == extractor}
    rows = []
    for f in form.fields:
        while True:
            try:
                value = f.parse(ask(f, previous.get(f.name)), study=study)
                break
            except DataError as exc:
                tell(str(exc))
        rows.append((study, f.name, extractor, value, "terminal"))
    return project.store.add_values(rows)


def settle(entered: dict[str, Any], adjudication: dict[str, Any] | None, needed: int) -> tuple[str, Any]:
    """The status and final value of one item entered by ``needed`` people independently.

    ``adjudicated`` (the adjudication's value), ``incomplete`` (fewer entries than needed),
    ``agree`` (their common value) or ``differ``.  Shared by dual extraction and dual
    risk-of-bias assessment.
    """
    if adjudication is not None:
        return "adjudicated", adjudication["value"]
    if len(entered) < needed:
        return "incomplete", None
    if len(set(entered.values())) == 1:
        return "agree", next(iter(entered.values()))
    return "differ", None


def check_entries(project: Project, *, study: str, values: dict[str, str | None],
                  locations: dict[str, str | None] | None = None) -> tuple[dict[str, tuple[str | None, str | None]],
                                                                          dict[str, DataError]]:
    """Check one study's values (and where each was found) against the form, without writing.

    Returns the canonical (value, location) of every field of the form and, for each field
    that breaks the form, the error saying why, so that a form can show every problem at once.
    """
    form = get_form(project)
    if study not in included_studies(project):
        raise DataError(f"{study!r} is not an included study", study=study, column="study", rule="study")
    unknown = sorted(set(values) - {f.name for f in form.fields})
    if unknown:
        raise DataError(f"{unknown} are not fields of the form {[f.name for f in form.fields]}", study=study,
                        column=unknown[0], rule="field")
    locations = locations or {}
    parsed: dict[str, tuple[str | None, str | None]] = {}
    errors: dict[str, DataError] = {}
    for f in form.fields:
        try:
            value = f.parse(values.get(f.name), study=study)
            where = parse_location(locations.get(f.name), study=study, field=f.name)
        except DataError as exc:
            errors[f.name] = exc
            continue
        parsed[f.name] = (value, where)
    return parsed, errors


def save_entries(project: Project, *, extractor: str, study: str, values: dict[str, str | None],
                 locations: dict[str, str | None] | None = None, via: str = "web") -> int:
    """Append one extractor's values for one study (every field of the form, in one transaction).

    Nothing is written if any value breaks the form: the first problem is raised.
    """
    extractor = (extractor or "").strip()
    if not extractor:
        raise DataError("name the extractor", column="extractor", rule="extractor")
    parsed, errors = check_entries(project, study=study, values=values, locations=locations)
    if errors:
        raise next(iter(errors.values()))
    return project.store.add_values([(study, name, extractor, value, via, where)
                                     for name, (value, where) in parsed.items()])


def discrepancies(project: Project) -> list[dict[str, Any]]:
    """One row per study and field: each extractor's value, and whether they agree.

    ``status`` is ``agree``, ``differ``, ``incomplete`` (fewer extractors than the form
    asks for) or ``adjudicated``; ``final`` is the value the analysis table will hold.
    """
    form = get_form(project)
    studies = included_studies(project)
    values: dict[tuple[str, str], dict[str, str | None]] = defaultdict(dict)
    locations: dict[tuple[str, str], dict[str, str | None]] = defaultdict(dict)
    for v in project.store.current_values():
        values[(v["study"], v["field"])][v["extractor"]] = v["value"]
        locations[(v["study"], v["field"])][v["extractor"]] = v["location"]
    adjudicated = {(a["study"], a["field"]): a for a in project.store.current_adjudications()}
    out = []
    for study in studies:
        for f in form.fields:
            entered = values.get((study, f.name), {})
            adj = adjudicated.get((study, f.name))
            status, final = settle(entered, adj, form.extractors)
            out.append({"study": study, "field": f.name, "status": status, "values": dict(sorted(entered.items())),
                        "locations": dict(sorted(locations.get((study, f.name), {}).items())), "final": final,
                        "adjudicator": adj["adjudicator"] if adj else None,
                        "reason": adj["reason"] if adj else None})
    return out


def adjudicate(project: Project, *, study: str, field: str, value: str | None, by: str, reason: str) -> str | None:
    """Record the agreed value of one field, who decided it and why; returns the canonical value."""
    if not (by or "").strip():
        raise DataError("name the adjudicator (--by)", study=study, column=field, rule="adjudicator")
    if not (reason or "").strip():
        raise DataError("say why this value was chosen (--reason)", study=study, column=field, rule="reason")
    form = get_form(project)
    if study not in included_studies(project):
        raise DataError(f"{study!r} is not an included study", study=study, column="study", rule="study")
    canonical = form.field(field).parse(value, study=study)
    project.store.add_adjudication(study, field, canonical, by.strip(), reason.strip())
    return canonical


def final_table(project: Project) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The analysis rows and the provenance rows; refuses while any value is unsettled."""
    form = get_form(project)
    report = discrepancies(project)
    open_items = [r for r in report if r["status"] in ("differ", "incomplete")]
    if open_items:
        first = open_items[0]
        n_differ = sum(r["status"] == "differ" for r in open_items)
        raise DataError(f"{len(open_items)} value(s) are not settled ({n_differ} differ, {len(open_items) - n_differ} "
                        f"incomplete); adjudicate them first", study=first["study"], column=first["field"],
                        rule="unsettled")
    for r in report:
        if r["final"] is None and form.field(r["field"]).required:
            raise DataError("a required field has no value after adjudication", study=r["study"],
                            column=r["field"], rule="required")
    labels = study_labels(project)
    reports: dict[str, list[int]] = defaultdict(list)
    for record_id, study in labels.items():
        reports[study].append(record_id)
    rows: dict[str, dict[str, Any]] = {}
    provenance = []
    for r in report:
        f = form.field(r["field"])
        row = rows.setdefault(r["study"], {"study": r["study"]})
        final = r["final"]
        if final is not None and f.type == "integer":
            row[f.name] = int(final)
        elif final is not None and f.type == "number":
            row[f.name] = float(final)
        else:
            row[f.name] = final
        provenance.append({"study": r["study"], "field": f.name, "value": final, "unit": f.unit,
                           "how": "adjudicated" if r["status"] == "adjudicated" else "agreed",
                           "extractor_values": "; ".join(f"{k}={'' if v is None else v}"
                                                         for k, v in r["values"].items()),
                           "adjudicator": r["adjudicator"] or "", "reason": r["reason"] or "",
                           "records": " ".join(str(i) for i in sorted(reports[r["study"]])),
                           "locations": " | ".join(f"{k}={v}" for k, v in r["locations"].items() if v)})
    return list(rows.values()), provenance


def export_analysis(project: Project) -> tuple[str, str]:
    """The analysis CSV and its provenance CSV, as text."""
    form = get_form(project)
    rows, provenance = final_table(project)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["study", *(f.name for f in form.fields)], lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    prov = io.StringIO()
    pw = csv.DictWriter(prov, fieldnames=["study", "field", "value", "unit", "how", "extractor_values", "adjudicator",
                                          "reason", "records", "locations"], lineterminator="\n")
    pw.writeheader()
    for row in provenance:
        pw.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return out.getvalue(), prov.getvalue()


_KINDS = {"integer": "count", "number": "number", "text": "text", "choice": "text", "boolean": "text"}


def analysis_columns(project: Project) -> str:
    """Declarations of the analysis table's columns (a ``.columns.toml`` sidecar,
    :func:`metareview.tables.parse.load_spec`), from the form's field types: integers are counts, numbers are
    numbers, the rest text.  Written beside the analysis CSV, they let an analysis plan read the table without
    declaring its columns again."""
    import json

    form = get_form(project)
    lines = ["# Declarations of the adjudicated analysis table, written from the project's extraction form.",
             "[table]", 'study = "study"', "", "[columns]"]
    for f in form.fields:
        desc = ", ".join(bit for bit in (f.label, f.unit) if bit)
        extra = f", description = {json.dumps(desc, ensure_ascii=False)}" if desc else ""
        lines.append(f"{json.dumps(f.name)} = {{ kind = \"{_KINDS[f.type]}\"{extra} }}")
    return "\n".join(lines) + "\n"
