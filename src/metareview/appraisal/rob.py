"""Risk-of-bias tools as data, one engine for all of them, and the robvis table.

A tool is one TOML file under ``metareview/data/rob/`` (or any path): its domains, the
signalling questions of each domain with their allowed answers, the rules from answers to
a proposed domain judgment, and the rule from domain judgments to the overall judgment.
Adding a tool is adding a file; nothing here knows a tool by name.  The bundled tools:

* ``rob2``: RoB 2 for randomised trials (Sterne et al. 2019, BMJ 366:l4898), with the
  algorithms of its guidance document for every domain;
* ``robins-i``: ROBINS-I for non-randomised studies of interventions (Sterne et al. 2016,
  BMJ 355:i4919), domain judgments by the assessor, overall by the paper's rule;
* ``quadas-2``: QUADAS-2 for diagnostic accuracy (Whiting et al. 2011, Ann Intern Med
  155:529-536);
* ``jbi-case-series``: the JBI checklist for case series (Munn et al. 2020, JBI Evid Synth
  18:2127-2133);
* ``generic``: robvis's generic template, domains named by the table.

Rules of a domain are tried in order and the first whose conditions all hold gives the
judgment; a condition names a question and the answers that satisfy it, and a blank
answer (a conditional question not asked) satisfies none.  A domain may be judged in
parts (RoB 2's domain 2) and then takes the worst part.  Judgments carry a level (1 low,
2 some concerns or moderate, 3 high or serious, 4 critical; 0 no information, -1 not
applicable) that orders them and colours the figures.

A :class:`RobTable` holds one judgment per study and domain plus the overall judgment and
an optional weight, in the layout of robvis (McGuinness & Higgins 2021, Res Synth Methods
12:55-61): ``Study, D1, ..., Dn, Overall[, Weight]``.

>>> tool = load_tool("rob2")
>>> tool.domain_judgment("D1", {"1.1": "Y", "1.2": "Y", "1.3": "N"})
'Low'
>>> tool.overall_judgment(["Low", "Some concerns", "Low", "Low", "Low"])
'Some concerns'
"""

from __future__ import annotations

import io
import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ..base.exceptions import DataError, SettingsError

__all__ = ["Judgment", "Question", "Rule", "Domain", "Tool", "load_tool", "tool_names", "RobTable",
           "read_robvis", "EXCLUDE_ROB", "rob_exclusions", "attach_rob", "ROB_COLUMN"]

#: The column that carries each study's overall judgment into an analysis (``rob_<domain>``
#: carry the domains), so that ``subgroup(result, "rob")`` pools by judgment.
ROB_COLUMN = "rob"

#: ``--exclude-rob`` choices: which overall judgments a sensitivity analysis leaves out.
EXCLUDE_ROB = {
    "high": "studies at high, serious or critical risk of bias (level 3 or 4)",
    "some": "every study not at low risk of bias (some concerns, moderate, high, serious, critical, no information)",
}


@dataclass(frozen=True)
class Judgment:
    name: str
    level: int


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    answers: tuple[str, ...]
    conditional: bool = False


@dataclass(frozen=True)
class Rule:
    when: Mapping[str, frozenset[str]]
    judgment: str

    def matches(self, answers: Mapping[str, str | None]) -> bool:
        return all(answers.get(q) in allowed for q, allowed in self.when.items())


@dataclass(frozen=True)
class Domain:
    id: str
    name: str
    questions: tuple[Question, ...] = ()
    rules: tuple[Rule, ...] = ()
    parts: tuple[tuple[str, tuple[Rule, ...]], ...] = ()
    judged_by: str = "rules"          # "rules" or "assessor"

    @property
    def algorithmic(self) -> bool:
        return self.judged_by == "rules"


@dataclass(frozen=True)
class Tool:
    """One assessment tool, read from its file by :func:`load_tool`."""

    id: str
    name: str
    title: str
    citation: str
    design: str
    answers: tuple[str, ...]
    answer_labels: tuple[str, ...]
    judgments: tuple[Judgment, ...]
    domains: tuple[Domain, ...]
    overall: str = "worst"            # "worst" or "assessor"
    no_information_below: int | None = None
    path: Path | None = field(default=None, compare=False)

    # -- vocabulary ----------------------------------------------------------------------------
    def domain(self, domain_id: str) -> Domain:
        for d in self.domains:
            if d.id.lower() == str(domain_id).lower():
                return d
        raise DataError(f"{self.name} has no domain {domain_id!r}; domains are "
                        f"{[d.id for d in self.domains]}", column=str(domain_id), rule="domain")

    def question(self, question_id: str) -> tuple[Domain, Question]:
        for d in self.domains:
            for q in d.questions:
                if q.id == str(question_id):
                    return d, q
        raise DataError(f"{self.name} has no signalling question {question_id!r}", column=str(question_id),
                        rule="question")

    def judgment(self, text: Any, *, study: str | None = None, column: str | None = None) -> str:
        """The canonical name of a judgment (matched without regard to case), or DataError."""
        value = "" if text is None or (isinstance(text, float) and math.isnan(text)) else str(text).strip()
        for j in self.judgments:
            if j.name.lower() == value.lower():
                return j.name
        raise DataError(f"{value!r} is not a {self.name} judgment; judgments are "
                        f"{[j.name for j in self.judgments]}", study=study, column=column, rule="judgment")

    def level(self, judgment: str) -> int:
        return next(j.level for j in self.judgments if j.name == self.judgment(judgment))

    def answer(self, question: Question, text: Any, *, study: str | None = None) -> str | None:
        """The canonical answer (``None`` for blank or NA), or DataError naming the question."""
        value = "" if text is None else str(text).strip()
        if not value or value.upper() == "NA":
            return None
        for a in question.answers:
            if a.lower() == value.lower():
                return a
        for a, label in zip(self.answers, self.answer_labels):
            if label.lower() == value.lower() and a in question.answers:
                return a
        raise DataError(f"{value!r} is not an answer to question {question.id}; answers are "
                        f"{list(question.answers)} (or blank when not asked)", study=study, column=question.id,
                        rule="answer")

    # -- the algorithm ----------------------------------------------------------------------------
    def domain_judgment(self, domain_id: str, answers: Mapping[str, Any], *, study: str | None = None) -> str:
        """The judgment the domain's rules propose for ``answers`` (question id -> answer).

        Raises DataError if a question that is always asked has no answer, or if no rule
        applies (a conditional question the answers lead to was left blank).
        """
        d = self.domain(domain_id)
        if not d.algorithmic:
            raise DataError(f"{self.name} gives no algorithm for {d.id}: the assessor judges it", study=study,
                            column=d.id, rule="judged by the assessor")
        canon = {q.id: self.answer(q, answers.get(q.id), study=study) for q in d.questions}
        for q in d.questions:
            if not q.conditional and canon[q.id] is None:
                raise DataError(f"question {q.id} of {d.id} needs an answer", study=study, column=q.id,
                                rule="required")
        if d.parts:
            found = [self._first(rules, canon, d, study, part) for part, rules in d.parts]
            return max(found, key=self._order)
        return self._first(d.rules, canon, d, study, None)

    def _first(self, rules, canon, d: Domain, study, part) -> str:
        for rule in rules:
            if rule.matches(canon):
                return rule.judgment
        blank = [q.id for q in d.questions if canon[q.id] is None and any(q.id in r.when for r in rules)]
        where = f"{d.id}{' ' + part if part else ''}"
        raise DataError(f"no rule of {where} applies to the answers "
                        f"{ {k: v for k, v in canon.items() if v is not None} }; answer "
                        f"{' or '.join(blank) if blank else 'the conditional questions'} as the answers lead to it",
                        study=study, column=d.id, rule="incomplete")

    def _order(self, judgment: str) -> int:
        # no information sorts below low and not applicable below that, for 'worst'
        return self.level(judgment)

    def overall_judgment(self, domain_judgments: Sequence[str], *, study: str | None = None) -> str:
        """The overall judgment from the domains' judgments by the tool's rule."""
        if self.overall != "worst":
            raise DataError(f"{self.name} has no rule for the overall judgment: the assessor gives it",
                            study=study, column="Overall", rule="judged by the assessor")
        levels = [self.level(j) for j in domain_judgments]
        informed = [lv for lv in levels if lv > 0]
        if not informed:
            return self._by_level(0 if 0 in levels else 1)
        worst = max(informed)
        if self.no_information_below is not None and 0 in levels and worst < self.no_information_below:
            return self._by_level(0)
        return self._by_level(worst)

    def _by_level(self, level: int) -> str:
        return next(j.name for j in self.judgments if j.level == level)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "title": self.title, "citation": self.citation,
                "design": self.design, "overall": self.overall,
                "judgments": [{"name": j.name, "level": j.level} for j in self.judgments],
                "domains": [{"id": d.id, "name": d.name, "judged_by": d.judged_by,
                             "questions": [{"id": q.id, "text": q.text, "answers": list(q.answers),
                                            "conditional": q.conditional} for q in d.questions]}
                            for d in self.domains]}


# ------------------------------------------------------------------------------------ loading

def _tool_dir():
    return resources.files("metareview") / "data" / "rob"


def tool_names() -> list[str]:
    """The bundled tools, by id."""
    return sorted(p.name[:-5] for p in _tool_dir().iterdir() if p.name.endswith(".toml"))


def load_tool(name: str | Path) -> Tool:
    """A bundled tool by id (``rob2``, ``robins-i``, ``quadas-2``, ``jbi-case-series``,
    ``generic``; case-insensitive, ``_`` for ``-``) or a tool file by path."""
    key = str(name).strip().lower().replace("_", "-")
    if key in tool_names():
        res = _tool_dir() / f"{key}.toml"
        return _parse(res.read_text(encoding="utf-8"), Path(str(res)))
    path = Path(name)
    if path.suffix == ".toml" and path.is_file():
        return _parse(path.read_text(encoding="utf-8"), path)
    raise SettingsError(f"unknown risk-of-bias tool {str(name)!r}; tools are {', '.join(tool_names())} "
                        f"(or the path of a tool file)")


def _parse(text: str, path: Path) -> Tool:
    def bad(message: str) -> SettingsError:
        return SettingsError(f"{path.name}: {message}")

    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise bad(f"not valid TOML: {exc}") from None
    for key in ("id", "name", "judgment"):
        if key not in doc:
            raise bad(f"the key {key!r} is required")
    judgments = tuple(Judgment(str(j["name"]), int(j["level"])) for j in doc["judgment"])
    names = {j.name for j in judgments}
    answers = tuple(doc.get("answers", []))
    domains = []
    for d in doc.get("domain", []):
        questions = tuple(Question(id=str(q["id"]), text=str(q.get("text", "")),
                                   answers=tuple(q.get("answers", answers)), conditional=bool(q.get("conditional")))
                          for q in d.get("question", []))
        qids = {q.id for q in questions}

        def rules_of(items, where, questions=questions, qids=qids):
            out = []
            for r in items:
                if r.get("judgment") not in names:
                    raise bad(f"{where}: rule judgment {r.get('judgment')!r} is not one of {sorted(names)}")
                when = {}
                for q, allowed in r.get("when", {}).items():
                    if q not in qids:
                        raise bad(f"{where}: a rule names question {q!r}, which the domain does not ask")
                    question = next(x for x in questions if x.id == q)
                    wrong = [a for a in allowed if a not in question.answers]
                    if wrong:
                        raise bad(f"{where}: a rule accepts {wrong} for question {q}, not among its answers")
                    when[q] = frozenset(allowed)
                out.append(Rule(when=when, judgment=r["judgment"]))
            return tuple(out)

        judged_by = d.get("judged_by", "rules")
        if judged_by not in ("rules", "assessor"):
            raise bad(f"domain {d.get('id')}: judged_by must be 'rules' or 'assessor'")
        rules = rules_of(d.get("rule", []), f"domain {d['id']}")
        parts = tuple((str(p.get("name", "")), rules_of(p.get("rule", []), f"domain {d['id']} {p.get('name', '')}"))
                      for p in d.get("part", []))
        if judged_by == "rules" and not rules and not parts:
            raise bad(f"domain {d['id']} has no rules; give rules or judged_by = \"assessor\"")
        domains.append(Domain(id=str(d["id"]), name=str(d["name"]), questions=questions, rules=rules, parts=parts,
                              judged_by=judged_by))
    overall = doc.get("overall", "worst")
    if overall not in ("worst", "assessor"):
        raise bad("overall must be 'worst' or 'assessor'")
    return Tool(id=str(doc["id"]), name=str(doc["name"]), title=str(doc.get("title", doc["name"])),
                citation=str(doc.get("citation", "")), design=str(doc.get("design", "")), answers=answers,
                answer_labels=tuple(doc.get("answer_labels", answers)), judgments=judgments,
                domains=tuple(domains), overall=overall, no_information_below=doc.get("no_information_below"),
                path=path)


# ------------------------------------------------------------------------------------ robvis table

@dataclass(frozen=True)
class RobTable:
    """Judgments per study in robvis's layout: ``Study, D1..Dn, Overall[, Weight]``.

    ``domains`` are the column headers of the domains, ``names`` the domains' full names
    (from the tool when the headers are its domain ids, else the headers themselves).
    """

    tool: Tool
    studies: tuple[str, ...]
    domains: tuple[str, ...]
    names: tuple[str, ...]
    judgments: tuple[tuple[str, ...], ...]       # one row per study, one cell per domain
    overall: tuple[str, ...]
    weights: tuple[float, ...] | None = None

    def __len__(self) -> int:
        return len(self.studies)

    def overall_by_study(self) -> dict[str, str]:
        return dict(zip(self.studies, self.overall))

    def level(self, judgment: str) -> int:
        return self.tool.level(judgment)

    def to_frame(self):
        import pandas as pd
        data: dict[str, Any] = {"Study": list(self.studies)}
        for j, d in enumerate(self.domains):
            data[d] = [row[j] for row in self.judgments]
        data["Overall"] = list(self.overall)
        if self.weights is not None:
            data["Weight"] = list(self.weights)
        return pd.DataFrame(data)

    def to_csv(self) -> str:
        buf = io.StringIO()
        self.to_frame().to_csv(buf, index=False, lineterminator="\n")
        return buf.getvalue()

    def with_weights(self, weights: Mapping[str, float]) -> "RobTable":
        missing = [s for s in self.studies if s not in weights]
        if missing:
            raise DataError("no weight for this study", study=missing[0], column="Weight", rule="weight")
        return RobTable(self.tool, self.studies, self.domains, self.names, self.judgments, self.overall,
                        tuple(float(weights[s]) for s in self.studies))


def read_robvis(data, tool: str | Tool | None = None) -> RobTable:
    """A robvis table from a file (CSV, TSV, XLSX) or a DataFrame, checked cell by cell.

    Columns are read by position, as robvis does: the first is the study, then the
    domains, then ``Overall``, then optionally a numeric ``Weight``.  With a tool, the
    number of domains must be the tool's and every cell one of its judgments; without one
    (``generic``), any of robvis's judgments.
    """
    import pandas as pd

    from ..tables.io import read_table

    t = tool if isinstance(tool, Tool) else load_tool(tool or "generic")
    frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(read_table(data))
    cols = [str(c).strip() for c in frame.columns]
    if len(cols) < 3:
        raise DataError(f"a risk-of-bias table has the columns Study, D1..Dn, Overall[, Weight]; got {cols}",
                        rule="robvis columns")
    has_weight = cols[-1].lower() == "weight"
    domain_cols = cols[1:-2] if has_weight else cols[1:-1]
    overall_col = cols[-2] if has_weight else cols[-1]
    if overall_col.lower() != "overall":
        raise DataError(f"the column after the domains must be 'Overall', not {overall_col!r} (robvis layout: "
                        f"Study, D1..Dn, Overall[, Weight])", column=overall_col, rule="robvis columns")
    if t.domains and len(domain_cols) != len(t.domains):
        raise DataError(f"{t.name} has {len(t.domains)} domains ({', '.join(d.id for d in t.domains)}) but the "
                        f"table has {len(domain_cols)} domain columns {domain_cols}", rule="robvis columns")
    names = tuple(t.domains[i].name if t.domains else c for i, c in enumerate(domain_cols))
    studies, rows, overall, weights = [], [], [], []
    seen = set()
    for _, r in frame.iterrows():
        values = list(r.values)
        study = "" if values[0] is None or (isinstance(values[0], float) and math.isnan(values[0])) \
            else str(values[0]).strip()
        if not study:
            raise DataError("a row has no study label", column=cols[0], rule="study")
        if study in seen:
            raise DataError("the study appears twice", study=study, column=cols[0], rule="study")
        seen.add(study)
        studies.append(study)
        rows.append(tuple(t.judgment(values[1 + j], study=study, column=c) for j, c in enumerate(domain_cols)))
        overall.append(t.judgment(values[1 + len(domain_cols)], study=study, column=overall_col))
        if has_weight:
            w = float(pd.to_numeric(pd.Series([values[-1]]), errors="coerce").iloc[0])
            if not math.isfinite(w) or w < 0:
                raise DataError(f"{values[-1]!r} is not a non-negative number", study=study, column=cols[-1],
                                rule="weight")
            weights.append(float(w))
    if not studies:
        raise DataError("the risk-of-bias table has no rows", rule="robvis rows")
    return RobTable(tool=t, studies=tuple(studies), domains=tuple(domain_cols), names=names,
                    judgments=tuple(rows), overall=tuple(overall), weights=tuple(weights) if has_weight else None)


def rob_exclusions(overall: Mapping[str, str], tool: Tool, studies: Sequence[str], which: str) -> list[str]:
    """The studies a sensitivity analysis ``--exclude-rob which`` leaves out (see :data:`EXCLUDE_ROB`).

    Every study of the analysis needs a judgment; a study without one is an error.
    """
    if which not in EXCLUDE_ROB:
        raise SettingsError(f"--exclude-rob takes {' or '.join(EXCLUDE_ROB)}, not {which!r}")
    out = []
    for s in studies:
        if s not in overall:
            raise DataError("no overall risk-of-bias judgment for this study", study=s, column="Overall",
                            rule="risk of bias")
        level = tool.level(overall[s])
        if (which == "high" and level >= 3) or (which == "some" and level != 1):
            out.append(s)
    return out


def attach_rob(table: Mapping[str, Sequence[Any]], rob: RobTable, *, study: str = "study") -> dict[str, list]:
    """``table`` (columns by name) with the overall judgment of each study in :data:`ROB_COLUMN` and
    each domain's in ``rob_<domain>``, matched by study label; every study needs a judgment."""
    if study not in table:
        raise DataError(f"the data have no {study!r} column to match the risk-of-bias table by", column=study,
                        rule="study labels")
    clash = [c for c in [ROB_COLUMN, *(f"rob_{d}" for d in rob.domains)] if c in table]
    if clash:
        raise DataError(f"the data already have a column {clash[0]!r}; rename it to attach the risk-of-bias table",
                        column=clash[0], rule="columns")
    index = {s: i for i, s in enumerate(rob.studies)}
    labels = [str(x).strip() for x in table[study]]
    missing = [s for s in labels if s not in index]
    if missing:
        raise DataError(f"no row in the risk-of-bias table (its studies: {', '.join(rob.studies)})",
                        study=missing[0], column=study, rule="risk of bias")
    out = {k: list(v) for k, v in table.items()}
    out[ROB_COLUMN] = [rob.overall[index[s]] for s in labels]
    for j, d in enumerate(rob.domains):
        out[f"rob_{d}"] = [rob.judgments[index[s]][j] for s in labels]
    return out
