"""metareview: systematic reviews and meta-analysis whose numbers match R meta and metafor."""

__version__ = "0.1.0"
