"""One report model rendered as text, HTML (notebooks, reports) and Markdown."""

from .model import BulletList, Figure, Heading, Paragraph, Report, Table

__all__ = ["BulletList", "Figure", "Heading", "Paragraph", "Report", "Table"]
