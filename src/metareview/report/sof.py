"""The summary-of-findings table in GRADEpro's layout, as a report table, CSV and Word.

One row per outcome: the outcome, the number of participants (studies), the certainty of
the evidence (GRADE), the relative effect (95% CI) and the anticipated absolute effects:
the risk with the comparator and the difference with the intervention per 1,000 for ratio
measures, events per 1,000 for single-arm proportions, the pooled difference for
differences.  Footnotes (a, b, ...) explain every domain that lowers the certainty or was
not assessed.  The layout follows the GRADE guidance on summary-of-findings tables
(Guyatt et al. 2011, J Clin Epidemiol 64:383-394; Guyatt et al. 2013, J Clin Epidemiol
66:158-172).  Built from :class:`metareview.appraisal.grade.GradeAssessment`.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

from ..base.report import Table

__all__ = ["SofRow", "sof_rows", "sof_table", "sof_csv", "sof_docx", "SOF_COLUMNS", "CERTAINTY_NOTE"]

SOF_COLUMNS = ("Outcome", "No. of participants (studies)", "Certainty of the evidence (GRADE)",
               "Relative effect (95% CI)", "Risk with comparator", "Anticipated absolute effect (95% CI)")
CERTAINTY_NOTE = ("GRADE certainty: high, further research is very unlikely to change our confidence in the "
                  "estimate; moderate, likely to have an important impact on it and may change it; low, very likely "
                  "to have an important impact and likely to change it; very low, any estimate is very uncertain. "
                  "\"At most\": a domain was not assessed, so the certainty can only be this or lower.")


@dataclass(frozen=True)
class SofRow:
    outcome: str
    participants: str
    certainty: str
    relative: str
    comparator: str
    absolute: str
    footnotes: tuple[str, ...]      # letters of this row's footnotes

    def cells(self) -> list[str]:
        marks = "".join(self.footnotes)
        certainty = f"{self.certainty} ({marks})" if marks else self.certainty
        return [self.outcome, self.participants, certainty, self.relative, self.comparator, self.absolute]


def _n(x: float) -> str:
    return f"{x:,.0f}"


def _d(x: float, digits: int = 2) -> str:
    if x is None or not math.isfinite(x):
        return "NA"
    return f"{x:.{digits}f}"


def _more(x: float) -> str:
    """A difference per 1,000 in words: "40 fewer", "12 more"."""
    return f"{abs(x):,.0f} {'fewer' if x < 0 else 'more'}"


def _higher(x: float) -> str:
    """A difference in words: "4.40 lower", "0.30 higher"."""
    return f"{abs(x):.2f} {'lower' if x < 0 else 'higher'}"


def _effect_cells(effect: dict) -> tuple[str, str, str]:
    """Relative effect, risk with the comparator, absolute effect."""
    est, lo, hi = effect["estimate"], effect["ci_low"], effect["ci_high"]
    kind = effect.get("kind")
    if kind == "per_1000":
        e, a, b = effect["per_1000"]
        return "not applicable (one group)", "—", f"{_n(e)} per 1,000 ({_n(a)} to {_n(b)})"
    relative = f"{effect['measure']} {_d(est)} ({_d(lo)} to {_d(hi)})"
    if kind == "ratio":
        e, a, b = effect["difference_per_1000"]
        return (relative, f"{_n(effect['comparator_per_1000'])} per 1,000",
                f"{_more(e)} per 1,000 ({_more(a)} to {_more(b)})")
    if kind == "ratio_only":
        return relative, "—", "—"
    return "—", "—", f"{effect['measure']} {_higher(est)} ({_higher(lo)} to {_higher(hi)})"


def sof_rows(assessments: Sequence) -> tuple[list[SofRow], list[str]]:
    """The rows and the footnotes (``"a: ..."``) of the table."""
    rows: list[SofRow] = []
    notes: list[str] = []
    letters = "abcdefghijklmnopqrstuvwxyz"
    from ..appraisal.grade import DOMAIN_LABELS
    for g in assessments:
        marks = []
        for d in g.domains:
            if d.rating is None or d.downgrade:
                letter = letters[len(notes) % 26] * (1 + len(notes) // 26)
                what = "not assessed" if d.rating is None else f"rated down, {d.rating}"
                notes.append(f"{letter}. {g.outcome}, {DOMAIN_LABELS[d.domain].lower()} ({what}): {d.explanation()}.")
                marks.append(letter)
        part = f"{_n(g.participants)} ({g.k} {'study' if g.k == 1 else 'studies'})" if g.participants is not None \
            else f"({g.k} {'study' if g.k == 1 else 'studies'})"
        rel, comp, absolute = _effect_cells(g.effect)
        rows.append(SofRow(outcome=g.outcome, participants=part, certainty=g.certainty_text(), relative=rel,
                           comparator=comp, absolute=absolute, footnotes=tuple(marks)))
    return rows, notes


def sof_table(assessments: Sequence, title: str = "Summary of findings") -> Table:
    """The table as a report block (HTML, text and Markdown renderings)."""
    rows, notes = sof_rows(assessments)
    return Table(list(SOF_COLUMNS), [r.cells() for r in rows], title=title, align="llllll",
                 notes=[*notes, CERTAINTY_NOTE])


def sof_csv(assessments: Sequence) -> str:
    """One row per outcome, the columns of the table, then the footnotes of the row."""
    rows, notes = sof_rows(assessments)
    by_letter = {n.split(".", 1)[0]: n.split(". ", 1)[1] for n in notes}
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["outcome", "participants_studies", "certainty", "relative_effect", "risk_with_comparator",
                     "absolute_effect", "footnotes"])
    for r in rows:
        writer.writerow([r.outcome, r.participants, r.certainty, r.relative, r.comparator, r.absolute,
                         " | ".join(f"{m}: {by_letter[m]}" for m in r.footnotes)])
    return buf.getvalue()


def sof_docx(assessments: Sequence, title: str = "Summary of findings") -> bytes:
    """The table as a Word document (landscape A4, GRADEpro's two-row header), ready to paste."""
    from docx import Document
    from docx.enum.section import WD_ORIENT
    from docx.shared import Cm, Pt

    rows, notes = sof_rows(assessments)
    doc = Document()
    section = doc.sections[0]
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = Cm(29.7), Cm(21.0)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Cm(1.8))
    style = doc.styles["Normal"]
    style.font.name = "Calibri"
    style.font.size = Pt(9)
    doc.add_heading(title, level=2)
    table = doc.add_table(rows=2, cols=len(SOF_COLUMNS))
    table.style = "Table Grid"
    head, sub = table.rows[0].cells, table.rows[1].cells
    for j in range(4):
        head[j].merge(sub[j])
        head[j].text = SOF_COLUMNS[j]
    merged = head[4].merge(head[5])
    merged.text = "Anticipated absolute effects (95% CI)"
    sub[4].text, sub[5].text = SOF_COLUMNS[4], "Effect with the intervention"
    for cell in (*table.rows[0].cells, *table.rows[1].cells):
        for p in cell.paragraphs:
            for run in p.runs:
                run.bold = True
    for r in rows:
        cells = table.add_row().cells
        for j, text in enumerate(r.cells()):
            cells[j].text = text
    widths = (Cm(4.5), Cm(3.2), Cm(4.0), Cm(3.8), Cm(3.2), Cm(7.0))
    for row in table.rows:
        for cell, w in zip(row.cells, widths):
            cell.width = w
    for n in [*notes, CERTAINTY_NOTE]:
        para = doc.add_paragraph(n)
        para.paragraph_format.space_after = Pt(2)
    buf = io.BytesIO()
    doc.core_properties.author = "metareview"
    doc.save(buf)
    return buf.getvalue()
