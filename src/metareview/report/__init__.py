"""One report model rendered as text, HTML (notebooks, reports) and Markdown."""

from .model import Heading, Paragraph, Report, Table

__all__ = ["Heading", "Paragraph", "Report", "Table"]
