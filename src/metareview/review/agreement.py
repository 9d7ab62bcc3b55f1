"""Agreement between two screeners: percent agreement and Cohen's kappa.

Kappa corrects observed agreement for the agreement expected by chance from each
rater's marginal frequencies (Cohen 1960, "A coefficient of agreement for nominal
scales", Educ Psychol Meas 20:37-46): ``kappa = (p_o - p_e) / (1 - p_e)``.  When both
raters used a single category throughout, ``p_e = 1`` and kappa is undefined (NaN),
as in R's ``irr::kappa2``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass

__all__ = ["Agreement", "cohen_kappa"]


@dataclass(frozen=True)
class Agreement:
    rater_a: str
    rater_b: str
    n: int
    percent_agreement: float
    kappa: float
    expected_agreement: float
    table: dict[str, dict[str, int]]

    def to_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        kappa = "undefined" if math.isnan(self.kappa) else f"{self.kappa:.3f}"
        return (f"{self.rater_a} vs {self.rater_b}: n = {self.n}, agreement = {self.percent_agreement:.1f}%, "
                f"Cohen's kappa = {kappa}")


def cohen_kappa(a: Sequence[str], b: Sequence[str], *, rater_a: str = "a", rater_b: str = "b",
                categories: Sequence[str] | None = None) -> Agreement:
    """Percent agreement and Cohen's kappa for two raters' paired labels.

    >>> round(cohen_kappa(["in", "in", "out", "out"], ["in", "out", "out", "out"]).kappa, 3)
    0.5
    """
    if len(a) != len(b):
        raise ValueError(f"the raters labelled different numbers of items ({len(a)} and {len(b)})")
    n = len(a)
    cats = list(categories) if categories is not None else sorted(set(a) | set(b))
    table = {x: {y: 0 for y in cats} for x in cats}
    for x, y in zip(a, b):
        table[x][y] += 1
    if n == 0:
        return Agreement(rater_a, rater_b, 0, math.nan, math.nan, math.nan, table)
    po = sum(table[c][c] for c in cats) / n
    ca, cb = Counter(a), Counter(b)
    pe = sum(ca[c] * cb[c] for c in cats) / (n * n)
    kappa = math.nan if pe == 1 else (po - pe) / (1 - pe)
    return Agreement(rater_a, rater_b, n, 100.0 * po, kappa, pe, table)
