"""``metareview pool``: one meta-analysis of a study table."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ._help import TAU2


def pool_options_to_kwargs(measure=None, method_tau2=None, random_ci=None, prediction=None, level=0.95, exclude=None,
                           adhoc_hakn="none", i2_method=None, study_ci=None, incr=0.5, method_incr="only0",
                           incr_style="meta", exact_smd=None, method="Inverse", n_agq=None, model_glmm=None, preset=None,
                           allstudies=None):
    """The settings of the API (:class:`~metareview.pooling.settings.Settings`) from the
    options of :data:`POOL_OPTIONS`; ``measure`` is passed on separately."""
    kw = {"method": method, "level": level, "adhoc_hakn": adhoc_hakn, "incr": incr, "method_incr": method_incr,
          "incr_style": incr_style}
    if exclude:
        kw["exclude"] = exclude
    # unset: the preset's or the method's defaults (DL, I² from Q; with GLMM: ML, I² from
    # tau², as meta)
    for name, value in (("method_tau2", method_tau2), ("i2_method", i2_method), ("study_ci", study_ci),
                        ("n_agq", n_agq), ("model_glmm", model_glmm), ("random_ci", random_ci), ("prediction", prediction),
                        ("exact_smd", exact_smd), ("preset", preset), ("allstudies", allstudies)):
        if value is not None:
            kw[name] = value
    return kw


def _with_rob(table: dict, columns: dict, rob: Optional[Path], rob_tool: Optional[str],
              exclude_rob: Optional[str], kwargs: dict) -> tuple[dict, list[str]]:
    """Attach the robvis table ``rob`` to the study table, and leave studies out of pooling by
    their overall judgment (``--exclude-rob``), as R meta's ``exclude`` (shown, not pooled)."""
    if rob is None and rob_tool is None and exclude_rob is None:
        return table, []  # nothing asked of the tools: their tables (TOML) are not read
    from ..appraisal.rob import EXCLUDE_ROB, ROB_COLUMN, attach_rob, load_tool, read_robvis, rob_exclusions
    from ..base.exceptions import SettingsError

    study = columns.get("study", "study")
    tool = load_tool(rob_tool or "generic")
    if rob is not None:
        table = attach_rob(table, read_robvis(rob, tool), study=study)
    elif rob_tool is not None:
        raise SettingsError("--rob-tool needs --rob FILE")
    if exclude_rob is None:
        return table, []
    if exclude_rob not in EXCLUDE_ROB:
        raise SettingsError(f"--exclude-rob takes {' or '.join(EXCLUDE_ROB)}, not {exclude_rob!r}")
    if ROB_COLUMN not in table:
        raise SettingsError("--exclude-rob needs the judgments: --rob FILE (robvis layout) or a 'rob' column "
                            "with each study's overall judgment")
    labels = [str(x).strip() for x in table[study]]
    overall = {s: tool.judgment(j, study=s, column=ROB_COLUMN) for s, j in zip(labels, table[ROB_COLUMN])}
    dropped = rob_exclusions(overall, tool, labels, exclude_rob)
    kwargs["exclude"] = list(dict.fromkeys([*(kwargs.get("exclude") or []), *dropped])) or None
    note = (f"--exclude-rob {exclude_rob}: {EXCLUDE_ROB[exclude_rob]} shown but not pooled: "
            f"{', '.join(dropped) if dropped else 'none'}")
    return table, [note]


def analyse_file(data: Path, measure: Optional[str], col: Optional[List[str]], *, rob: Optional[Path] = None,
                 rob_tool: Optional[str] = None, exclude_rob: Optional[str] = None, **kwargs):
    """Read ``data`` and pool it (shared by pool, forest and funnel commands).

    When the table has declarations (``<name>.columns.toml`` beside it), the data checks
    of ``metareview check`` run first: an error stops the analysis, warnings are kept in
    the result's notes.  Without declarations the core's own rules still apply.
    """
    from ..base.collector import lasting_imports

    with lasting_imports():  # numpy and scipy.special: much for the collector to walk, nothing to collect
        from ..api.meta import metaanalysis
    from ..tables.io import COUNT_ROLES, check_counts, parse_col_maps, read_table_file

    warnings_found: list[str] = []
    if Path(data).with_name(Path(data).stem + ".columns.toml").exists():  # parse.sidecar_path
        from ..tables.checks import check_table
        report = check_table(data).raise_for_errors()
        warnings_found = [f"data check ({f.rule}): {f.message}" for f in report.warnings]
    table = read_table_file(data)
    columns = parse_col_maps(col)
    mapped = {columns.get(role, role): role for role in COUNT_ROLES}
    check_counts({role: table.columns[name] for name, role in mapped.items() if name in table.columns},
                 table.columns.get(columns.get("study", "study")), data)
    cols, rob_notes = _with_rob(table.columns, columns, rob, rob_tool, exclude_rob, kwargs)
    warnings_found += rob_notes
    result = metaanalysis(cols, measure, columns=columns, **kwargs)
    if table.note:
        warnings_found.insert(0, table.note)
    if warnings_found:
        from dataclasses import replace
        result = replace(result, notes=tuple(result.notes) + tuple(warnings_found))
    return result


#: The estimators from the table of tau² estimators (through ``_help.TAU2``, its copy without numpy).
_TAU2_HELP = ("tau² estimator (metafor codes): "
              + ", ".join({"DL": "DL (default)", "GENQ": "GENQ (weights from --col genq_weights=COLUMN)"}.get(c, c)
                          for c in TAU2) + "; ML with GLMM.")

#: The pooling options of ``metareview pool``, shared by every command that pools a table
#: (forest, funnel): name -> (type, declaration).
POOL_OPTIONS = {
    "measure": (Optional[str], typer.Option(None, "--measure", "-m", help="Effect measure (metafor code: PLO, PR, PFT, MD, SMD, SMDH, OR, IRR, ZCOR, ...).")),
    "method": (str, typer.Option("Inverse", "--method", help="Pooling method: Inverse, GLMM (proportions, logit; rates, log; odds ratios, the model of --model-glmm), MH or Peto (two-group binary).")),
    "method_tau2": (Optional[str], typer.Option(None, "--method-tau2", help=_TAU2_HELP)),
    "n_agq": (Optional[int], typer.Option(None, "--n-agq", help="GLMM quadrature points (default 7, as rma.glmm; 1 = Laplace).")),
    "model_glmm": (Optional[str], typer.Option(None, "--model-glmm", help="GLMM of odds ratios (R meta's model.glmm): UM.FS (fixed study effects; default, as meta and rma.glmm), UM.RS (random study effects; Laplace approximation), CM.AL (conditional, approximate likelihood) or CM.EL (conditional, exact likelihood).")),
    "preset": (Optional[str], typer.Option(None, "--preset", help="R meta's settings.meta() preset: revman5, jama, meta4 or meta8 (its settings unless given here; named in the methods).")),
    "random_ci": (Optional[str], typer.Option(None, "--random-ci", help="Random-effects CI: wald (default) or hk (Hartung-Knapp).")),
    "adhoc_hakn": (str, typer.Option("none", "--adhoc-hakn", help="Hartung-Knapp ad hoc correction: none, se, ci.")),
    "prediction": (Optional[str], typer.Option(None, "--prediction", help="Prediction interval: t (k-2 df, R meta before 8; default), v (k-1 df, R meta 8), z (metafor), none.")),
    "level": (float, typer.Option(0.95, "--level", help="Confidence level.")),
    "exclude": (Optional[List[str]], typer.Option(None, "--exclude", help="Study to show but not pool (repeatable).")),
    "col": (Optional[List[str]], typer.Option(None, "--col", help="Map a column: ROLE=COLUMN (repeatable).")),
    "i2_method": (Optional[str], typer.Option(None, "--i2", help="I² and H: q (from Q, R meta; default) or tau2 (from tau², metafor; default with GLMM).")),
    "study_ci": (Optional[str], typer.Option(None, "--study-ci", help="Study CIs for proportions: CP, WS, WSCC, AC, SA, SACC, NAsm.")),
    "rob": (Optional[Path], typer.Option(None, "--rob", help="Risk-of-bias judgments in robvis's layout (Study, D1..Dn, Overall[, Weight]), matched by study: adds the column 'rob' (overall) for --subgroup rob and --exclude-rob.")),
    "rob_tool": (Optional[str], typer.Option(None, "--rob-tool", help="The tool of --rob: rob2, robins-i, quadas-2, jbi-case-series (default: generic).")),
    "exclude_rob": (Optional[str], typer.Option(None, "--exclude-rob", help="Sensitivity analysis by risk of bias: high (leave out studies at high, serious or critical risk) or some (keep only studies at low risk); shown, not pooled.")),
    "incr": (float, typer.Option(0.5, "--incr", help="Continuity correction increment.")),
    "method_incr": (str, typer.Option("only0", "--method-incr", help="Where to add it: only0, if0all, all, none.")),
    "incr_style": (str, typer.Option("meta", "--incr-style", help="Continuity convention: meta or metafor.")),
    "exact_smd": (Optional[bool], typer.Option(None, "--exact-smd/--approx-smd", help="Hedges' g correction: exact (metafor; default) or meta's approximation.")),
    "allstudies": (Optional[bool], typer.Option(None, "--allstudies/--no-allstudies", help="OR and RR: also pool studies without events (or, for OR, with only events) in both groups (R meta's allstudies; default: no).")),
}

#: The options of :data:`POOL_OPTIONS` that ``metareview batch`` takes.  The others are not
#: offered there: batch pools every row by inverse variance (``--method``, ``--n-agq``) and
#: writes no study table (``--exclude``, ``--study-ci``, the risk-of-bias options: filter
#: the table first).
BATCH_POOL_OPTIONS = ("measure", "method_tau2", "preset", "random_ci", "adhoc_hakn", "prediction", "level", "col",
                      "i2_method", "incr", "method_incr", "incr_style", "exact_smd", "allstudies")


def with_pool_options(command=None, *, only: tuple[str, ...] | None = None):
    """Give ``command`` the options of :data:`POOL_OPTIONS` (or the ones named in ``only``)
    after its arguments: every command that pools declares them here, once, with the same
    names, help and defaults.

    The command receives them together as one keyword argument ``pool`` (a dict by
    option name), ready for :func:`analyse_options` or :func:`pool_options_to_kwargs`.
    """
    if command is None:
        return lambda cmd: with_pool_options(cmd, only=only)
    import functools
    import inspect

    table = {name: POOL_OPTIONS[name] for name in (only or POOL_OPTIONS)}

    sig = inspect.signature(command, eval_str=True)
    own = [p for p in sig.parameters.values() if p.name != "pool"]
    arguments = [p for p in own if isinstance(p.default, typer.models.ArgumentInfo)]
    options = [p for p in own if p not in arguments]
    added = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=info, annotation=kind)
             for name, (kind, info) in table.items()]
    params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in arguments] + added + \
        [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in options]

    @functools.wraps(command)
    def wrapper(**kwargs):
        pool = {name: kwargs.pop(name) for name in table}
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
    rob = {k: opts.pop(k) for k in ("rob", "rob_tool", "exclude_rob")}
    kwargs = pool_options_to_kwargs(**opts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # warnings are kept in the result's notes
        return analyse_file(data, opts["measure"], col, **rob, **kwargs)


def further_analyses(result, *, subgroup=None, tau_common=False, leave_one_out=False, cumulative=None,
                     influence=False, metareg=None, bias=False, method_tau2=None, fitstats=False, tau2_ci=None,
                     blup=False, ranef=False, fsn=None, lrt=False, btt=None) -> dict:
    """The analyses asked for beyond the pooled estimate, by their JSON key (in printing order)."""
    import warnings

    from ..base.exceptions import SettingsError

    if tau_common and not subgroup:
        raise SettingsError("--tau-common needs --subgroup COLUMN")
    if (lrt or btt) and not metareg:
        raise SettingsError("--lrt and --btt test moderators: they need --metareg FORMULA")
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the analyses keep their warnings as notes
        if fitstats:
            out["fitstats"] = result.fitstats()
        if tau2_ci:
            out["tau2_ci"] = result.tau2_ci(tau2_ci)
        if blup:
            out["blup"] = result.blup()
        if ranef:
            out["ranef"] = result.ranef()
        if fsn:
            out["fsn"] = result.fsn(fsn)
        if subgroup:
            from ..analyses.subgroups import subgroup as run_subgroup
            out["subgroups"] = run_subgroup(result, subgroup, tau_common=tau_common)
        if leave_one_out:
            from ..analyses.sensitivity import leave1out
            out["leave_one_out"] = leave1out(result)
        if cumulative:
            from ..analyses.sensitivity import cumul
            out["cumulative"] = cumul(result, cumulative)
        if influence:
            from ..analyses.influence import influence as run_influence
            out["influence"] = run_influence(result)
        if metareg:
            from ..analyses.metareg import metareg as run_metareg
            out["metareg"] = run_metareg(result, metareg, method_tau2=method_tau2 or "REML")
            if btt:
                from ..analyses.comparison import anova
                out["wald"] = anova(out["metareg"], btt=list(btt))
            if lrt:
                from ..analyses.comparison import anova
                # both models by maximum likelihood unless another likelihood is asked for
                method = method_tau2 or "ML"
                out["anova"] = anova(run_metareg(result, metareg, method_tau2=method),
                                     result.update(method_tau2=method))
        if bias:
            from ..analyses.bias import metabias
            out["bias"] = metabias(result)
    return out


def three_level(result, pool: dict, cluster, robust: bool, **others):
    """The three-level model of ``pool --cluster COL`` (one analysis of all rows, so not combined
    with the analyses that take one estimate per study)."""
    import warnings

    from ..analyses.multilevel import MV_METHODS, multilevel
    from ..base.exceptions import SettingsError

    if not cluster:
        raise SettingsError("--robust needs --cluster COLUMN (the clusters of the robust standard errors)")
    asked = [f"--{name.replace('_', '-')}" for name, value in others.items() if value]
    if asked:
        raise SettingsError(f"--cluster pools every row in one three-level model; it is not combined with "
                            f"{', '.join(asked)}")
    method = (pool.get("method_tau2") or "REML").upper()
    if method not in MV_METHODS:
        raise SettingsError(f"with --cluster, tau² is estimated by {' or '.join(MV_METHODS)}, not {method}")
    if pool.get("method", "Inverse") != "Inverse":
        raise SettingsError(f"with --cluster the rows are pooled by inverse variance; --method {pool['method']} "
                            "is not offered")
    changed = [flag for flag, key, default in (("--adhoc-hakn", "adhoc_hakn", "none"), ("--prediction", "prediction", None),
                                               ("--i2", "i2_method", None), ("--study-ci", "study_ci", None),
                                               ("--preset", "preset", None))
               if pool.get(key, default) != default]
    if changed:
        raise SettingsError(f"with --cluster, {', '.join(changed)} {'is' if len(changed) == 1 else 'are'} not "
                            "offered (the three-level model reports metafor's intervals)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # kept in the result's notes
        return multilevel(result, cluster, method=method, test="t" if pool.get("random_ci") == "hk" else "z",
                          robust=robust)


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
        fitstats: bool = typer.Option(False, "--fitstats", help="Log likelihood, deviance, AIC, BIC, AICc as metafor's fitstats() (JSON key fitstats)."),
        tau2_ci: Optional[str] = typer.Option(None, "--tau2-ci", help="Another interval for tau²: PL (profile likelihood, ML/REML fits) or Wald (JSON key tau2_ci)."),
        blup: bool = typer.Option(False, "--blup", help="Best linear unbiased predictions of the study effects (JSON key blup)."),
        ranef: bool = typer.Option(False, "--ranef", help="Predicted random effects, each study's deviation (JSON key ranef)."),
        lrt: bool = typer.Option(False, "--lrt", help="With --metareg: likelihood-ratio test against the model without moderators, both by ML unless --method-tau2 says REML (JSON key anova)."),
        btt: Optional[List[str]] = typer.Option(None, "--btt", help="With --metareg: Wald test that these coefficients (names, repeatable) are zero (JSON key wald)."),
        fsn: Optional[str] = typer.Option(None, "--fsn", help="Fail-safe N: Rosenthal, Orwin or Rosenberg, as metafor's fsn() (JSON key fsn)."),
        cluster: Optional[str] = typer.Option(None, "--cluster", help="Column grouping the rows (several estimates per study): three-level model as R meta's cluster, rma.mv(random = ~ 1 | cluster/estimate); tau² by REML (default) or ML (JSON key multilevel)."),
        robust: bool = typer.Option(False, "--robust", help="With --cluster: cluster-robust CR2 tests with Satterthwaite df (clubSandwich)."),
        *,
        pool: dict,
    ) -> None:
        """Pool the studies of DATA: common and random effects, heterogeneity, study table."""
        result = analyse_options(data, pool)
        if cluster or robust:
            multilevel = three_level(result, pool, cluster, robust, subgroup=subgroup, leave_one_out=leave_one_out,
                                      cumulative=cumulative, influence=influence, metareg=metareg, bias=bias)
            if as_json:
                from .output import print_json
                print_json({**result.to_dict(), "multilevel": multilevel.to_dict()})
            else:
                typer.echo(str(multilevel), nl=False)
            return
        extra = further_analyses(result, subgroup=subgroup, tau_common=tau_common, leave_one_out=leave_one_out,
                                 cumulative=cumulative, influence=influence, metareg=metareg, bias=bias,
                                 method_tau2=pool.get("method_tau2"), fitstats=fitstats, tau2_ci=tau2_ci,
                                 blup=blup, ranef=ranef, fsn=fsn, lrt=lrt, btt=btt)
        if as_json:
            from .output import print_json
            doc = result.to_dict()
            doc.update({key: analysis.to_dict() for key, analysis in extra.items()})
            print_json(doc)
        else:
            from .output import echo
            echo(str(result), nl=False)
            for analysis in extra.values():
                echo("\n" + str(analysis), nl=False)
