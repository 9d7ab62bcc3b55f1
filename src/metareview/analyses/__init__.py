"""Analyses derived from a pooled result: meta-regression, multilevel models, subgroups, sensitivity, influence,
small-study effects, BLUPs, fail-safe N and model comparison.
"""

__all__: list[str] = []
