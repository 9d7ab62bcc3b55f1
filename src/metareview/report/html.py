"""A report model as one self-contained HTML page (styles inline, figures as inline SVG)."""

from __future__ import annotations

from ..base.report import Heading, Report

__all__ = ["render_html"]


def render_html(report: Report, *, title: str, subtitle: str = "", footer: str = "") -> str:
    """The page for ``report``: a table of contents from its level-2 headings, then its blocks."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("metareview", "report/templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]), keep_trailing_newline=True)
    toc = [(b.anchor, b.text) for b in report.blocks if isinstance(b, Heading) and b.level == 2 and b.anchor]
    body = [b.to_html() for b in report.blocks]
    return env.get_template("report.html.j2").render(title=title, subtitle=subtitle, toc=toc, body=body,
                                                     footer=footer)
