"""The bottom layer: errors, number formatting, the report model, display presets, output files and the version.

Everything above may import from here; nothing here imports from above.
"""

__all__: list[str] = []
