"""Pooling and heterogeneity: tau² estimators, the inverse-variance kernel, GLMM, Mantel-Haenszel, Peto, the
mixed-effects model with moderators, likelihood statistics and the settings of an analysis.
"""

__all__: list[str] = []
