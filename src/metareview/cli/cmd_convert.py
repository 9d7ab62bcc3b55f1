"""``metareview convert ...``: the conversions of :mod:`metareview.tables.convert` on the command line."""

from __future__ import annotations

from typing import Optional

import typer

from ._tree import SETTINGS

convert_app = typer.Typer(
    name="convert",
    help="Convert what a paper reports (CI, SE, t, p, median/IQR/range, subgroups) into means and SDs.",
    no_args_is_help=True,
    **SETTINGS,
)

_JSON = typer.Option(False, "--json", help="Print the result as JSON.")


def _emit(result: dict, as_json: bool, method: str) -> None:
    from .output import print_json

    if as_json:
        print_json({**result, "method": method})
        return
    width = max(len(k) for k in result)
    for key, value in result.items():
        shown = f"{value:.6g}" if isinstance(value, float) else str(value)
        typer.echo(f"{key.ljust(width)}  {shown}")
    typer.echo(f"method: {method}")


@convert_app.command("sd-from-ci")
def sd_from_ci_cmd(
    lower: float = typer.Option(..., "--lower", help="Lower limit of the CI of the mean."),
    upper: float = typer.Option(..., "--upper", help="Upper limit of the CI of the mean."),
    n: float = typer.Option(..., "--n", help="Sample size of the group."),
    level: float = typer.Option(0.95, "--level", help="Confidence level."),
    dist: str = typer.Option("t", "--dist", help="t (n-1 df; Cochrane Handbook 6.5.2.2) or z."),
    as_json: bool = _JSON,
) -> None:
    """SD of a group from the CI of its mean."""
    from ..tables.convert import sd_from_ci
    sd = sd_from_ci(lower, upper, n, level=level, dist=dist)
    _emit({"sd": sd}, as_json, f"sqrt(n) (upper - lower) / (2 q), q = {dist} quantile"
                               f"{' with n-1 df' if dist == 't' else ''} (Cochrane Handbook 6.5.2.2)")


@convert_app.command("sd-from-se")
def sd_from_se_cmd(se: float = typer.Option(..., "--se", help="Standard error of the mean."),
                   n: float = typer.Option(..., "--n", help="Sample size."), as_json: bool = _JSON) -> None:
    """SD of a group from the standard error of its mean."""
    from ..tables.convert import sd_from_se
    _emit({"sd": sd_from_se(se, n)}, as_json, "SE sqrt(n) (Cochrane Handbook 6.5.2.2)")


@convert_app.command("sd-from-t")
def sd_from_t_cmd(
    md: float = typer.Option(..., "--md", help="Mean difference."),
    t: float = typer.Option(..., "--t", help="t statistic of the mean difference."),
    n1: float = typer.Option(..., "--n1", help="Size of group 1 (or of the single/paired group)."),
    n2: Optional[float] = typer.Option(None, "--n2", help="Size of group 2 (omit for one group or paired)."),
    as_json: bool = _JSON,
) -> None:
    """Within-group SD from the t statistic of a mean difference."""
    from ..tables.convert import sd_from_t
    _emit({"sd": sd_from_t(md, t, n1, n2)}, as_json, "SE = MD / t; SD = SE / sqrt(1/n1 + 1/n2) "
                                                     "(Cochrane Handbook 6.5.2.3)")


@convert_app.command("sd-from-p")
def sd_from_p_cmd(
    md: float = typer.Option(..., "--md", help="Mean difference."),
    p: float = typer.Option(..., "--p", help="p-value of the t test."),
    n1: float = typer.Option(..., "--n1", help="Size of group 1 (or of the single/paired group)."),
    n2: Optional[float] = typer.Option(None, "--n2", help="Size of group 2 (omit for one group or paired)."),
    sided: int = typer.Option(2, "--sided", help="1 or 2."),
    dist: str = typer.Option("t", "--dist", help="t (n1 + n2 - 2 df) or z."),
    as_json: bool = _JSON,
) -> None:
    """Within-group SD from the p-value of a t test of a mean difference."""
    from ..tables.convert import sd_from_p
    _emit({"sd": sd_from_p(md, p, n1, n2, sided=sided, dist=dist)}, as_json,
          "t from p, SE = MD / t, SD = SE / sqrt(1/n1 + 1/n2) (Cochrane Handbook 6.5.2.3)")


@convert_app.command("se-from-ratio-ci")
def se_ratio_cmd(lower: float = typer.Option(..., "--lower", help="Lower limit of the ratio's confidence interval."), upper: float = typer.Option(..., "--upper", help="Upper limit of the ratio's confidence interval."),
                 level: float = typer.Option(0.95, "--level", help="Confidence level of the interval."), as_json: bool = _JSON) -> None:
    """SE of log(ratio) from the CI of an odds, risk or hazard ratio."""
    import math

    from ..tables.convert import se_from_ratio_ci
    se = se_from_ratio_ci(lower, upper, level=level)
    _emit({"log_ratio": (math.log(lower) + math.log(upper)) / 2, "se": se}, as_json,
          "(ln upper - ln lower) / (2 z) (Cochrane Handbook 6.3.2)")


@convert_app.command("change-sd")
def change_sd_cmd(sd_baseline: float = typer.Option(..., "--sd-baseline", help="SD at baseline."),
                  sd_followup: float = typer.Option(..., "--sd-followup", help="SD at follow-up."),
                  r: float = typer.Option(..., "--r", help="Baseline/follow-up correlation."),
                  as_json: bool = _JSON) -> None:
    """SD of the change from baseline given a correlation."""
    from ..tables.convert import change_sd
    _emit({"sd_change": change_sd(sd_baseline, sd_followup, r)}, as_json,
          "sqrt(SDb^2 + SDf^2 - 2 r SDb SDf) (Cochrane Handbook 6.5.2.8)")


@convert_app.command("correlation")
def correlation_cmd(sd_baseline: float = typer.Option(..., "--sd-baseline", help="SD at baseline."),
                    sd_followup: float = typer.Option(..., "--sd-followup", help="SD at follow-up."),
                    sd_change: float = typer.Option(..., "--sd-change", help="SD of the change from baseline."), as_json: bool = _JSON) -> None:
    """Correlation implied by baseline, follow-up and change SDs."""
    from ..tables.convert import correlation_from_change_sd
    _emit({"r": correlation_from_change_sd(sd_baseline, sd_followup, sd_change)}, as_json,
          "(SDb^2 + SDf^2 - SDchange^2) / (2 SDb SDf) (Cochrane Handbook 6.5.2.8)")


@convert_app.command("quantiles")
def quantiles_cmd(
    n: float = typer.Option(..., "--n", help="Sample size."),
    median: float = typer.Option(..., "--median", help="Median."),
    q1: Optional[float] = typer.Option(None, "--q1", help="First quartile (lower end of the IQR)."),
    q3: Optional[float] = typer.Option(None, "--q3", help="Third quartile (upper end of the IQR)."),
    minimum: Optional[float] = typer.Option(None, "--min", help="Minimum."),
    maximum: Optional[float] = typer.Option(None, "--max", help="Maximum."),
    mean_method: str = typer.Option("luo", "--mean-method", help="luo (2018), wan (2014), hozo (2005, formulas) or hozo_by_n (2005, rules by n)."),
    sd_method: str = typer.Option("shi", "--sd-method", help="shi (2020), wan (2014), hozo (2005, formulas) or hozo_by_n (2005, rules by n)."),
    as_json: bool = _JSON,
) -> None:
    """Mean and SD from a median with IQR and/or range (scenario chosen from what is given)."""
    from ..tables.convert import mean_sd_from_quantiles
    est = mean_sd_from_quantiles(n, median, q1=q1, q3=q3, minimum=minimum, maximum=maximum,
                                 mean_method=mean_method, sd_method=sd_method)
    _emit({"mean": est.mean, "sd": est.sd, "scenario": est.scenario}, as_json,
          f"mean: {mean_method}, SD: {sd_method}")


@convert_app.command("combine")
def combine_cmd(n1: float = typer.Option(..., "--n1", help="Size of the first group."), mean1: float = typer.Option(..., "--mean1", help="Mean of the first group."),
                sd1: float = typer.Option(..., "--sd1", help="SD of the first group."), n2: float = typer.Option(..., "--n2", help="Size of the second group."),
                mean2: float = typer.Option(..., "--mean2", help="Mean of the second group."), sd2: float = typer.Option(..., "--sd2", help="SD of the second group."),
                as_json: bool = _JSON) -> None:
    """Combine two subgroups into one group."""
    from ..tables.convert import combine_groups
    g = combine_groups(n1, mean1, sd1, n2, mean2, sd2)
    _emit({"n": g.n, "mean": g.mean, "sd": g.sd}, as_json, "Cochrane Handbook Table 6.5.a")


def register(app: typer.Typer) -> None:
    app.add_typer(convert_app, name="convert")
