"""Appraisal of the evidence: risk-of-bias tools (as data) and GRADE certainty ratings.
"""

__all__: list[str] = []
