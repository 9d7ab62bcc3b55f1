"""The report model: headings, paragraphs and tables, rendered as text, HTML or Markdown.

Result summaries, notebook displays and the HTML report are all built from these few
blocks, so a table is laid out once and looks the same everywhere.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field, replace

__all__ = ["true_minus", "with_true_minus", "Heading", "Paragraph", "Table", "BulletList", "Figure", "Report"]

#: a hyphen-minus that is a minus sign: before a number, not inside a word, range or date
_MINUS = re.compile(r"(?<![\w.\-\u2212])-(?=\.?\d)")


def true_minus(text: str) -> str:
    """``text`` with the minus signs of its numbers as U+2212 (typeset minus), not hyphens."""
    return _MINUS.sub("\u2212", text)


def with_true_minus(block, keep_columns: tuple[int, ...] = ()):
    """A copy of a :class:`Table` or :class:`Paragraph` with true minus signs; the columns in
    ``keep_columns`` (text quoted from a source, such as a paper's numbers) stay as they are.
    Other blocks are returned unchanged."""
    if isinstance(block, Paragraph):
        return replace(block, text=true_minus(block.text))
    if isinstance(block, Table):
        rows = [[c if j in keep_columns else true_minus(str(c)) for j, c in enumerate(r)] for r in block.rows]
        return replace(block, rows=rows)
    return block


@dataclass(frozen=True)
class Heading:
    """A heading of the given level, with an HTML anchor if it is linked to."""

    text: str
    level: int = 2
    anchor: str | None = None      # HTML id, for links and a table of contents

    def to_text(self) -> str:
        return self.text if self.level > 1 else self.text + "\n" + "=" * len(self.text)

    def to_html(self) -> str:
        lv = min(max(self.level, 1), 6)
        ident = f' id="{html.escape(self.anchor)}"' if self.anchor else ""
        return f"<h{lv}{ident}>{html.escape(self.text)}</h{lv}>"

    def to_markdown(self) -> str:
        return "#" * self.level + " " + self.text


@dataclass(frozen=True)
class Paragraph:
    """A paragraph of text."""

    text: str

    def to_text(self) -> str:
        return self.text

    def to_html(self) -> str:
        return f"<p>{html.escape(self.text)}</p>"

    def to_markdown(self) -> str:
        return self.text


@dataclass(frozen=True)
class Table:
    """A table of already formatted cells; ``align`` is 'l' or 'r' per column."""

    columns: list[str]
    rows: list[list[str]]
    title: str | None = None
    align: str | None = None
    notes: list[str] = field(default_factory=list)
    row_classes: list[str] | None = None

    def _align(self) -> str:
        return self.align or ("l" + "r" * (len(self.columns) - 1))

    def to_text(self) -> str:
        cols = [str(c) for c in self.columns]
        widths = [len(c) for c in cols]
        for r in self.rows:
            for j, cell in enumerate(r):
                widths[j] = max(widths[j], len(str(cell)))
        al = self._align()

        def fmt(cells):
            out = []
            for j, cell in enumerate(cells):
                s = str(cell)
                out.append(s.ljust(widths[j]) if al[j] == "l" else s.rjust(widths[j]))
            return "  ".join(out).rstrip()

        lines = []
        if self.title:
            lines.append(self.title)
        lines.append(fmt(cols))
        lines.extend(fmt(r) for r in self.rows)
        lines.extend(self.notes)
        return "\n".join(lines)

    def to_html(self) -> str:
        al = self._align()
        style = {"l": "left", "r": "right"}
        head = "".join(f'<th style="text-align:{style[al[j]]}">{html.escape(str(c))}</th>'
                       for j, c in enumerate(self.columns))
        body = []
        for i, r in enumerate(self.rows):
            cls = f' class="{html.escape(self.row_classes[i])}"' if self.row_classes and self.row_classes[i] else ""
            cells = "".join(f'<td style="text-align:{style[al[j]]}">{html.escape(str(c))}</td>'
                            for j, c in enumerate(r))
            body.append(f"<tr{cls}>{cells}</tr>")
        cap = f"<caption>{html.escape(self.title)}</caption>" if self.title else ""
        notes = "".join(f"<p class=\"note\">{html.escape(n)}</p>" for n in self.notes)
        return (f'<table class="metareview">{cap}<thead><tr>{head}</tr></thead>'
                f"<tbody>{''.join(body)}</tbody></table>{notes}")

    def to_markdown(self) -> str:
        al = self._align()
        sep = ["---:" if a == "r" else ":---" for a in al]
        lines = ["| " + " | ".join(map(str, self.columns)) + " |", "| " + " | ".join(sep) + " |"]
        lines += ["| " + " | ".join(map(str, r)) + " |" for r in self.rows]
        if self.title:
            lines.insert(0, f"**{self.title}**\n")
        lines += [""] + list(self.notes) if self.notes else []
        return "\n".join(lines)


@dataclass(frozen=True)
class BulletList:
    """A list of short items."""

    items: list[str]

    def to_text(self) -> str:
        return "\n".join("- " + i for i in self.items)

    def to_html(self) -> str:
        return "<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in self.items) + "</ul>"

    def to_markdown(self) -> str:
        return self.to_text()


@dataclass(frozen=True)
class Figure:
    """A figure given as an inline ``<svg>`` element (trusted markup made by metareview's plots),
    with a title, a caption and the files it was also saved as (relative links)."""

    svg: str
    title: str = ""
    caption: str = ""
    files: tuple[str, ...] = ()

    def _label(self) -> str:
        return (self.title + ". " if self.title else "") + self.caption

    def to_text(self) -> str:
        files = f" ({', '.join(self.files)})" if self.files else ""
        return f"[Figure] {self._label()}{files}"

    def to_html(self) -> str:
        links = " ".join(f'<a href="{html.escape(f)}">{html.escape(f.rsplit(".", 1)[-1].upper())}</a>'
                         for f in self.files)
        title = f"<b>{html.escape(self.title)}.</b> " if self.title else ""
        cap = f"<figcaption>{title}{html.escape(self.caption)}{' ' + links if links else ''}</figcaption>"
        return f'<figure class="metareview">{self.svg}{cap}</figure>'

    def to_markdown(self) -> str:
        first = next((f for f in self.files if f.endswith(".svg") or f.endswith(".png")), None)
        img = f"![{self.title}]({first})\n\n" if first else ""
        return f"{img}*{self._label()}*"


@dataclass
class Report:
    """An ordered list of blocks."""

    blocks: list = field(default_factory=list)

    def add(self, block) -> "Report":
        self.blocks.append(block)
        return self

    def to_text(self) -> str:
        return "\n\n".join(b.to_text() for b in self.blocks) + "\n"

    def to_html(self) -> str:
        return "\n".join(b.to_html() for b in self.blocks)

    def to_markdown(self) -> str:
        return "\n\n".join(b.to_markdown() for b in self.blocks) + "\n"
