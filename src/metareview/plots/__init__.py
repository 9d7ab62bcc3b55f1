"""Figures for systematic reviews and meta-analyses.

Each figure lives in its own module and is imported from there, for example
``from metareview.plots.prisma import PrismaDiagram``.  Nothing is imported here, so that
``import metareview`` never pulls in matplotlib.
"""

__all__: list[str] = []
