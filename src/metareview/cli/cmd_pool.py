"""``metareview pool``: one meta-analysis of a study table."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer


def pool_options_to_kwargs(measure, method_tau2, random_ci, prediction, level, exclude, adhoc_hakn,
                           i2_method, study_ci, incr, method_incr, incr_style, exact_smd,
                           method="Inverse", n_agq=None, preset=None):
    kw = {"method": method, "level": level, "exclude": exclude or None, "adhoc_hakn": adhoc_hakn,
          "incr": incr, "method_incr": method_incr, "incr_style": incr_style}
    # unset: the preset's or the method's defaults (DL, I² from Q; with GLMM: ML, I² from
    # tau², as meta)
    for name, value in (("method_tau2", method_tau2), ("i2_method", i2_method), ("study_ci", study_ci),
                        ("n_agq", n_agq), ("random_ci", random_ci), ("prediction", prediction),
                        ("exact_smd", exact_smd), ("preset", preset)):
        if value is not None:
            kw[name] = value
    return kw


def analyse_file(data: Path, measure: Optional[str], col: Optional[List[str]], **kwargs):
    """Read ``data`` and pool it (shared by pool, forest and funnel commands).

    When the table has declarations (``<name>.columns.toml`` beside it), the data checks
    of ``metareview check`` run first: an error stops the analysis, warnings are kept in
    the result's notes.  Without declarations the core's own rules still apply.
    """
    from ..api import metaanalysis
    from ..io import parse_col_maps, read_table

    warnings_found: list[str] = []
    if Path(data).with_name(Path(data).stem + ".columns.toml").exists():  # parse.sidecar_path
        from ..checks import check_table
        report = check_table(data).raise_for_errors()
        warnings_found = [f"data check ({f.rule}): {f.message}" for f in report.warnings]
    table = read_table(data)
    result = metaanalysis(table, measure, columns=parse_col_maps(col), **kwargs)
    if warnings_found:
        from dataclasses import replace
        result = replace(result, notes=tuple(result.notes) + tuple(warnings_found))
    return result


#: The pooling options of ``metareview pool``, shared by every command that pools a table
#: (forest, funnel): name -> (type, declaration).
POOL_OPTIONS = {
    "measure": (Optional[str], typer.Option(None, "--measure", "-m", help="Effect measure (metafor code: PLO, PR, PFT, MD, SMD, OR, ...).")),
    "method": (str, typer.Option("Inverse", "--method", help="Pooling method: Inverse, GLMM (proportions, logit), MH or Peto (two-group binary).")),
    "method_tau2": (Optional[str], typer.Option(None, "--method-tau2", help="tau² estimator: DL (default), PM, REML, ML, HS, SJ, HE, EB (ML with GLMM).")),
    "n_agq": (Optional[int], typer.Option(None, "--n-agq", help="GLMM quadrature points (default 7, as rma.glmm; 1 = Laplace).")),
    "preset": (Optional[str], typer.Option(None, "--preset", help="R meta's settings.meta() preset: revman5, jama, meta4 or meta8 (its settings unless given here; named in the methods).")),
    "random_ci": (Optional[str], typer.Option(None, "--random-ci", help="Random-effects CI: wald (default) or hk (Hartung-Knapp).")),
    "adhoc_hakn": (str, typer.Option("none", "--adhoc-hakn", help="Hartung-Knapp ad hoc correction: none, se, ci.")),
    "prediction": (Optional[str], typer.Option(None, "--prediction", help="Prediction interval: t (k-2 df, R meta before 8; default), v (k-1 df, R meta 8), z (metafor), none.")),
    "level": (float, typer.Option(0.95, "--level", help="Confidence level.")),
    "exclude": (Optional[List[str]], typer.Option(None, "--exclude", help="Study to show but not pool (repeatable).")),
    "col": (Optional[List[str]], typer.Option(None, "--col", help="Map a column: ROLE=COLUMN (repeatable).")),
    "i2_method": (Optional[str], typer.Option(None, "--i2", help="I² and H: q (from Q, R meta; default) or tau2 (from tau², metafor; default with GLMM).")),
    "study_ci": (Optional[str], typer.Option(None, "--study-ci", help="Study CIs for proportions: CP, WS, WSCC, AC, SA, SACC, NAsm.")),
    "incr": (float, typer.Option(0.5, "--incr", help="Continuity correction increment.")),
    "method_incr": (str, typer.Option("only0", "--method-incr", help="Where to add it: only0, if0all, all, none.")),
    "incr_style": (str, typer.Option("meta", "--incr-style", help="Continuity convention: meta or metafor.")),
    "exact_smd": (Optional[bool], typer.Option(None, "--exact-smd/--approx-smd", help="Hedges' g correction: exact (metafor; default) or meta's approximation.")),
}


def with_pool_options(command):
    """Give ``command`` the options of :data:`POOL_OPTIONS` after its arguments.

    The command receives them together as one keyword argument ``pool`` (a dict by
    option name), ready for :func:`analyse_options`.
    """
    import functools
    import inspect

    sig = inspect.signature(command, eval_str=True)
    own = [p for p in sig.parameters.values() if p.name != "pool"]
    arguments = [p for p in own if isinstance(p.default, typer.models.ArgumentInfo)]
    options = [p for p in own if p not in arguments]
    added = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=info, annotation=kind)
             for name, (kind, info) in POOL_OPTIONS.items()]
    params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in arguments] + added + \
        [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in options]

    @functools.wraps(command)
    def wrapper(**kwargs):
        pool = {name: kwargs.pop(name) for name in POOL_OPTIONS}
        return command(pool=pool, **kwargs)

    wrapper.__signature__ = sig.replace(parameters=params)
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    del wrapper.__wrapped__
    return wrapper


def analyse_options(data: Path, pool: dict):
    """Pool ``data`` with the options collected by :func:`with_pool_options`."""
    import warnings

    opts = dict(pool)
    col = opts.pop("col")
    kwargs = pool_options_to_kwargs(**opts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # warnings are kept in the result's notes
        return analyse_file(data, opts["measure"], col, **kwargs)


def further_analyses(result, *, subgroup=None, tau_common=False, leave_one_out=False, cumulative=None,
                     influence=False, metareg=None, bias=False, method_tau2=None) -> dict:
    """The analyses asked for beyond the pooled estimate, by their JSON key (in printing order)."""
    import warnings

    from ..exceptions import SettingsError

    if tau_common and not subgroup:
        raise SettingsError("--tau-common needs --subgroup COLUMN")
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the analyses keep their warnings as notes
        if subgroup:
            from ..subgroups import subgroup as run_subgroup
            out["subgroups"] = run_subgroup(result, subgroup, tau_common=tau_common)
        if leave_one_out:
            from ..sensitivity import leave1out
            out["leave_one_out"] = leave1out(result)
        if cumulative:
            from ..sensitivity import cumul
            out["cumulative"] = cumul(result, cumulative)
        if influence:
            from ..influence import influence as run_influence
            out["influence"] = run_influence(result)
        if metareg:
            from ..metareg import metareg as run_metareg
            out["metareg"] = run_metareg(result, metareg, method_tau2=method_tau2 or "REML")
        if bias:
            from ..bias import metabias
            out["bias"] = metabias(result)
    return out


def register(app: typer.Typer) -> None:
    @app.command("pool")
    @with_pool_options
    def pool(
        data: Path = typer.Argument(..., help="Study table: CSV, TSV or XLSX; design read from column names."),
        as_json: bool = typer.Option(False, "--json", help="Print the result as one JSON document."),
        subgroup: Optional[str] = typer.Option(None, "--subgroup", help="Subgroup analysis by this column, with the test for subgroup differences (JSON key subgroups)."),
        tau_common: bool = typer.Option(False, "--tau-common", help="With --subgroup: one tau² for all subgroups (R meta's tau.common)."),
        leave_one_out: bool = typer.Option(False, "--leave-one-out", help="Leave-one-out sensitivity analysis (JSON key leave_one_out)."),
        cumulative: Optional[str] = typer.Option(None, "--cumulative", help="Cumulative meta-analysis in the order of this column, e.g. year (JSON key cumulative)."),
        influence: bool = typer.Option(False, "--influence", help="Influence diagnostics as metafor's influence(), with Baujat coordinates (JSON key influence)."),
        metareg: Optional[str] = typer.Option(None, "--metareg", help="Meta-regression formula, e.g. '~ year + factor(design)'; tau² by --method-tau2 if given, else REML (JSON key metareg)."),
        bias: bool = typer.Option(False, "--bias", help="Tests for small-study effects and trim-and-fill (JSON key bias)."),
        *,
        pool: dict,
    ) -> None:
        """Pool the studies of DATA: common and random effects, heterogeneity, study table."""
        result = analyse_options(data, pool)
        extra = further_analyses(result, subgroup=subgroup, tau_common=tau_common, leave_one_out=leave_one_out,
                                 cumulative=cumulative, influence=influence, metareg=metareg, bias=bias,
                                 method_tau2=pool.get("method_tau2"))
        if as_json:
            from .output import print_json
            doc = result.to_dict()
            doc.update({key: analysis.to_dict() for key, analysis in extra.items()})
            print_json(doc)
        else:
            typer.echo(str(result), nl=False)
            for analysis in extra.values():
                typer.echo("\n" + str(analysis), nl=False)
