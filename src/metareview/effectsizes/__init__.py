"""Effect sizes: the measures (their formulas, transformations and labels), escalc, input validation and study
confidence intervals.
"""

__all__: list[str] = []
