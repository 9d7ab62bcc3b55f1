"""One report model rendered as text, HTML (notebooks, reports) and Markdown."""

from ..base.report import BulletList, Figure, Heading, Paragraph, Report, Table

__all__ = ["BulletList", "Figure", "Heading", "Paragraph", "Report", "Table"]
