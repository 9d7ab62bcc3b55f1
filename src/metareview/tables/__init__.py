"""Data preparation: reading study tables (encodings, cells), printed-table parsing, checks, conversions and imputation.

Independent of the statistics: nothing here pools or plots.
"""

__all__: list[str] = []
