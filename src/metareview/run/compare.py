"""Paper vs reproduction: each printed number of a paper next to ours, and a verdict.

Our value is written into the paper's own printed form (``79% (73–83%)``) twice: at
full precision, and rounded to the decimals the paper prints for each number.  The two
agree at printed precision when the rounded form reads exactly as the paper does.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .plan import Comparison, PlanError, ReviewPlan

__all__ = ["AGREES", "DIFFERS", "NOT_RECOMPUTED", "Verdict", "printed_numbers", "round_half_up", "FULL_DIGITS",
           "verdict", "estimate_numbers", "compare_all"]

_CI_LEVEL = re.compile(r"\b\d+(?:\.\d+)?\s*%\s*CI\b")

AGREES = "agrees at printed precision"
DIFFERS = "differs"
NOT_RECOMPUTED = "cannot be recomputed"


@dataclass(frozen=True)
class Verdict:
    label: str
    source: str
    paper: str
    ours_full: str
    ours_printed: str
    verdict: str
    why: str = ""
    values: tuple[float, ...] = ()

    def to_dict(self) -> dict:
        return {"label": self.label, "source": self.source, "paper": self.paper, "ours_full": self.ours_full,
                "ours_printed": self.ours_printed, "verdict": self.verdict, "why": self.why,
                "values": list(self.values)}


def printed_numbers(text: str) -> list[tuple[int, int, float, int]]:
    """Numbers of a printed string: (start, end, value, decimals), confidence levels skipped.

    A minus (ASCII or U+2212) is a sign only where no digit precedes it: "5-140" is a range.
    """
    skip = [m.span() for m in _CI_LEVEL.finditer(text)]
    out = []
    for m in re.finditer(r"[-\u2212]?\d+(?:\.\d+)?", text):
        s, e = m.span()
        token = m.group(0)
        if token[0] in "-\u2212" and s > 0 and text[s - 1].isdigit():
            s, token = s + 1, token[1:]      # a range dash, not a sign
        if any(a <= s < b for a, b in skip):
            continue
        dec = len(token.split(".")[1]) if "." in token else 0
        out.append((s, e, float(token.replace("\u2212", "-")), dec))
    return out


def round_half_up(v: float, d: int) -> str:
    """``v`` at ``d`` decimals, halves rounded away from zero as papers print them (5.25 -> 5.3),
    not to even as Python's format does."""
    from decimal import ROUND_HALF_UP, Decimal

    return str(Decimal(repr(float(v))).quantize(Decimal(1).scaleb(-d), rounding=ROUND_HALF_UP))


#: significant digits of "ours, full precision": enough to see how a printed number rounds
FULL_DIGITS = 6


def _full(v: float, d: int) -> str:
    """``v`` with :data:`FULL_DIGITS` significant digits, and at least one decimal more than
    the paper prints (so that the rounding shows), never in exponent notation."""
    if not math.isfinite(v):
        return str(v)
    exponent = math.floor(math.log10(abs(v))) if v != 0 else 0
    decimals = max(d + 1, FULL_DIGITS - 1 - exponent)
    tok = f"{v:.{decimals}f}"
    # trailing zeros say nothing; keep one decimal more than printed
    keep = len(tok) - (decimals - (d + 1))
    return tok[:keep] + tok[keep:].rstrip("0")


def _render(text: str, spans, values, full: bool) -> str:
    """``text`` with its numbers replaced by ``values``: at the printed decimals, or with
    :data:`FULL_DIGITS` significant digits (minus signs as the paper writes them; the
    report typesets them)."""
    out, pos = [], 0
    for (s, e, _, d), v in zip(spans, values):
        out.append(text[pos:s])
        neg = text[s] == "\u2212"
        tok = _full(v, d) if full else round_half_up(v, d)
        if re.fullmatch(r"-0(\.0+)?", tok):
            tok = tok[1:]                     # "-0.0" prints as "0.0"
        if tok.startswith("-") and neg:
            tok = "\u2212" + tok[1:]
        out.append(tok)
        pos = e
    out.append(text[pos:])
    return "".join(out)


def verdict(label: str, paper: str, ours: tuple[float, ...], *, source: str = "", why: str = "",
            where: str = "", plan: ReviewPlan | None = None) -> Verdict:
    spans = printed_numbers(paper)
    if len(spans) != len(ours):
        raise PlanError(f"{label!r}: the paper's string {paper!r} holds {len(spans)} number(s); ours has "
                        f"{len(ours)}", path=plan.path if plan else None, where=where or None)
    full = _render(paper, spans, ours, True)
    printed = _render(paper, spans, ours, False)
    norm = lambda s: s.replace("\u2212", "-")  # noqa: E731
    agrees = norm(printed) == norm(paper)
    return Verdict(label=label, source=source, paper=paper, ours_full=full, ours_printed=printed,
                   verdict=AGREES if agrees else DIFFERS, why=why, values=tuple(float(x) for x in ours))


def estimate_numbers(fit, comparison: Comparison, n_printed: int) -> tuple[float, ...]:
    """(estimate, ci_low, ci_high) of a fit, natural scale, in percent if asked; or the estimate alone."""
    est = comparison.estimate
    if est in ("crude", "glmm"):
        d = fit.additional[est]
        vals = (d["estimate"], d["ci_low"], d["ci_high"])
    else:
        doc = fit.result.to_dict()
        block = doc["backtransformed"][est] if doc["backtransformed"] else doc[est]
        vals = (block["estimate"], block["ci_low"], block["ci_high"])
    if comparison.percent:
        vals = tuple(100.0 * v for v in vals)
    return vals[:1] if n_printed == 1 else vals


def compare_all(plan: ReviewPlan, runs: dict, table1: list) -> list[Verdict]:
    """The comparison table: the plan's [[compare]] entries, Table 1 rows with a paper value,
    and what the paper reports that the data cannot give."""
    rows = []
    for i, c in enumerate(plan.comparisons):
        fit = runs[c.analysis].fit(c.sensitivity)
        n = len(printed_numbers(c.paper))
        if n not in (1, 3):
            raise PlanError(f"paper = {c.paper!r} holds {n} numbers; give the estimate alone or with its CI "
                            f"(3 numbers)", path=plan.path, where=f"[[compare]] #{i + 1} paper")
        rows.append(verdict(c.label, c.paper, estimate_numbers(fit, c, n), source=c.source, why=c.why,
                            where=f"[[compare]] #{i + 1} paper", plan=plan))
    for v in table1:
        row = v.row
        if row.paper is None:
            continue
        label = f"Table 1: {row.label}"
        if row.statistic == "not_in_data":
            rows.append(Verdict(label=label, source="Table 1", paper=row.paper, ours_full="—", ours_printed="—",
                                verdict=NOT_RECOMPUTED, why=row.why))
            continue
        nums = v.numbers
        n = len(printed_numbers(row.paper))
        if row.statistic in ("median_range", "events_percent") and n == len(nums) - 1:
            nums = nums[1:] if row.statistic == "median_range" else nums
        rows.append(verdict(label, row.paper, nums, source="Table 1", why=row.why,
                            where=f"[[table1.row]] {row.key} paper", plan=plan))
    for nr in plan.not_reproducible:
        rows.append(Verdict(label=nr.label, source=nr.source, paper=nr.paper, ours_full="—", ours_printed="—",
                            verdict=NOT_RECOMPUTED, why=nr.reason))
    return rows
