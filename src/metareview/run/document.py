"""The report of a review run as a report model: sections, tables, figures, methods."""

from __future__ import annotations

import math

from ..base.report import BulletList, Figure, Heading, Paragraph, Report, Table, with_true_minus
from .compare import AGREES, DIFFERS

__all__ = ["methods_sentence", "overview_row", "summary_rows", "build_report"]


def _f(x, d=2) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    return f"{x:.{d}f}"


def _pct(x, d=1) -> str:
    return "—" if x is None else f"{100 * x:.{d}f}%"


def _verdict_class(v: str) -> str:
    return {AGREES: "agrees", DIFFERS: "differs"}.get(v, "not-recomputed")


def methods_sentence(fit, title: str) -> str:
    """One paragraph of methods from an analysis' settings (``MetaResult.methods()``)."""
    r = fit.result
    lines = r.methods()
    s = r.settings
    models = [m for m, on in (("common-effect", s.common), ("random-effects", s.random)) if on]
    text = (f"{title}: {r.measure.label}, {' and '.join(models)} model{'s' if len(models) > 1 else ''}, "
            f"{int(round(s.level * 100))}% {'Hartung-Knapp' if s.random_ci == 'hk' else 'Wald-type'} confidence "
            f"intervals; " + "; ".join(lines) + ".")
    return text


def _ci(fmt, b) -> str:
    return f"{fmt(b['estimate'])} [{fmt(b['ci_low'])}; {fmt(b['ci_high'])}]"


def overview_row(fit, label: str, percent: bool) -> list[str]:
    """One row of the overview table for a fit."""
    d = fit.result.to_dict()
    bt = d["backtransformed"]
    fmt = (lambda x: _pct(x)) if percent else (lambda x: _f(x, 2))
    n_pat = fit.result.n[fit.result.included].sum() if fit.result.n is not None else None
    kn = f"{d['k']}" + (f" / {n_pat:.0f}" if n_pat is not None else "")
    cells = []
    for model in ("common", "random"):
        cells.append(_ci(fmt, bt[model] if bt else d[model]) if d["settings"][model] else "")
    het = d["heterogeneity"]
    other = []
    for key, name in (("crude", "crude"), ("glmm", "GLMM")):
        if key in fit.additional:
            a = fit.additional[key]
            other.append(f"{name} {_pct(a['estimate'], 2)} [{_pct(a['ci_low'], 2)}; {_pct(a['ci_high'], 2)}]")
    return [label, kn, *cells, _f(het["tau2"], 4), _f(het["i2"], 1) + "%", "; ".join(other)]


def summary_rows(fit, label: str, percent: bool) -> list[list[str]]:
    """Rows of the pooled-estimates table for one fit (common, random, prediction, extras)."""
    d = fit.result.to_dict()
    bt = d["backtransformed"]
    fmt = (lambda x: _pct(x)) if percent else (lambda x: _f(x, 2))
    rows = []
    het = d["heterogeneity"]
    n_pat = fit.result.n[fit.result.included].sum() if fit.result.n is not None else None
    kn = f"{d['k']}" + (f" / {n_pat:.0f}" if n_pat is not None else "")
    for model, name in (("common", "Common effect"), ("random", "Random effects")):
        if not d["settings"][model]:
            continue
        b = bt[model] if bt else d[model]
        extra = [_f(het["tau2"], 4), _f(het["i2"], 1) + "%", _f(het["q"], 2) + f" (p {_p(het['p'])})"] \
            if model == "random" else ["", "", ""]
        rows.append([label, name, kn, f"{fmt(b['estimate'])} [{fmt(b['ci_low'])}; {fmt(b['ci_high'])}]", *extra])
    if d["settings"]["random"] and d["settings"]["prediction"] != "none":
        p = bt["prediction"] if bt else d["prediction"]
        if p["low"] is not None:
            rows.append([label, "Prediction interval", "", f"[{fmt(p['low'])}; {fmt(p['high'])}]", "", "", ""])
    for key, name in (("crude", "Crude: events / patients"), ("glmm", "GLMM (random intercept, ML)")):
        if key in fit.additional:
            a = fit.additional[key]
            k = f"{a['k']}" + (f" / {a['n']}" if "n" in a else "")
            extra = [_f(a["tau2"], 4), "", ""] if key == "glmm" else ["", "", ""]
            ev = f" ({a['events']}/{a['n']})" if key == "crude" else ""
            rows.append([label, name, k, f"{_pct(a['estimate'], 2)} [{_pct(a['ci_low'], 2)}; "
                                         f"{_pct(a['ci_high'], 2)}]{ev}", *extra])
    return rows


def _p(p) -> str:
    if p is None:
        return "—"
    return "< 0.0001" if p < 1e-4 else f"= {p:.4f}"


def build_report(plan, loaded, runs, table1, comparison, figures, versions, grades=()) -> Report:
    rep = Report()
    src = plan.data
    # -- summary -----------------------------------------------------------------------
    rep.add(Heading("Paper vs reproduction", 2, anchor="comparison"))
    rep.add(Paragraph("Each number the paper prints, ours written in the same form at full precision and rounded "
                      "to the paper's printed decimals, and whether the two read the same."))
    counts: dict[str, int] = {}
    for v in comparison:
        counts[v.verdict] = counts.get(v.verdict, 0) + 1
    rep.add(Paragraph("; ".join(f"{n} {k}" for k, n in counts.items()) + "."))
    rep.add(with_true_minus(Table(["Result", "Paper (source)", "Paper", "Ours, full precision",
                                   "Ours, printed precision", "Verdict", "Why"],
                                  [[v.label, v.source, v.paper, v.ours_full, v.ours_printed, v.verdict, v.why]
                                   for v in comparison],
                                  align="lllllll", row_classes=[_verdict_class(v.verdict) for v in comparison]),
                            keep_columns=(0, 1, 2, 6)))

    figs = {f.name: f for f in figures}
    if "prisma" in figs:
        f = figs["prisma"]
        rep.add(Heading("Study selection", 2, anchor="prisma"))
        rep.add(Figure(f.inline_svg(), f.title, f.caption, _links(f)))
    if "table1" in plan.tables and table1:
        rep.add(Heading("Table 1: characteristics of the pooled population", 2, anchor="table1"))
        rep.add(with_true_minus(Table(["Characteristic", "Ours (from the data)", "Paper"],
                      [[v.row.label, v.text, v.row.paper or ""] for v in table1], align="lll",
                      notes=["Medians and ranges are over the studies that give a value; percentages are events "
                             "over the patients of those studies."]), keep_columns=(2,)))

    # -- analyses ----------------------------------------------------------------------
    rep.add(Heading("Analyses", 2, anchor="analyses"))
    rows = []
    for run in runs.values():
        pct = run.main.result.measure.design == "proportion"
        for fit in run.fits():
            label = run.analysis.title if fit.sensitivity is None else f"↳ {fit.sensitivity.title}"
            rows.append(overview_row(fit, label, pct))
    rep.add(with_true_minus(Table(["Analysis", "k / N", "Common effect [95% CI]", "Random effects [95% CI]", "τ²",
                                   "I²", "Other estimates"], rows, align="lrrrrrl",
                                  notes=["Proportions on the natural scale (back-transformed from the logit "
                                         "scale); mean differences in points of the 0–10 pain scale. Crude: "
                                         "events / patients; GLMM: random-intercept logistic regression."])))
    for run in runs.values():
        a = run.analysis
        rep.add(Heading(a.title, 3, anchor=f"analysis-{a.name}"))
        if a.outcome:
            rep.add(Paragraph(f"Outcome: {a.outcome}."))
        if a.note:
            rep.add(Paragraph(a.note))
        t = run.table
        used = f"{len(t.studies)} studies of {src[a.data].file.name}"
        if t.patients is not None:
            used += f" ({t.patients:.0f} patients)"
        rep.add(Paragraph(f"Data: {used}, the rows with a value in every one of "
                          f"{', '.join(a.columns.values())}."))
        if t.left_out:
            rep.add(Paragraph(f"Not in this analysis ({len(t.left_out)} rows): " +
                              "; ".join(f"{x['study']} (no {', '.join(x['missing'])})" for x in t.left_out) + "."))
        if t.flagged:
            rep.add(Table(["Study", "Column", "Value", "Flag", "How"],
                          [[x["study"], x["column"], f"{x['value']:g}", x["flag"], x["method"]] for x in t.flagged],
                          title="Estimated and imputed values in this analysis", align="llrll"))
        fig = figs.get(f"{a.name}_forest")
        if fig is not None:
            rep.add(Figure(fig.inline_svg(), fig.title, fig.caption, _links(fig)))
        pct = run.main.result.measure.design == "proportion"
        srows = []
        for fit in run.fits():
            label = "All studies" if fit.sensitivity is None else fit.sensitivity.title
            srows.extend(summary_rows(fit, label, pct))
        rep.add(with_true_minus(Table(["", "Model", "k / N", "Estimate [95% CI]", "τ²", "I²", "Q (p)"], srows,
                                      align="lllrrrr")))
        for fit in run.sensitivity:
            s = fit.sensitivity
            rep.add(Paragraph(f"{s.title}: {', '.join(s.exclude)} shown, not pooled. {s.reason}"
                              + (" " + " ".join(fit.notes) if fit.notes else "")))
            sfig = figs.get(f"{fit.name}_forest")
            if sfig is not None:
                rep.add(Figure(sfig.inline_svg(), sfig.title, sfig.caption, _links(sfig)))
        if "glmm" in run.main.additional or "crude" in run.main.additional:
            rep.add(Paragraph("Which estimate: the crude proportion (events / patients of the studies that report "
                              "toxicity) is what the paper reports. The GLMM pools the studies' proportions "
                              "without a continuity correction and is the recommended pooled proportion for rare "
                              "events. The inverse-variance logit pooling (R meta 4.9-6's metaprop) adds 0.5 to "
                              "every study with zero events, which pulls the pooled rate upwards when most studies "
                              "have none."))
        for col, sub in run.subgroups.items():
            rep.add(Heading(f"Subgroups by {col}", 4))
            gfig = figs.get(f"{a.name}_subgroups_{col}")
            if gfig is not None:
                rep.add(Figure(gfig.inline_svg(), gfig.title, gfig.caption, _links(gfig)))
            for block in sub.report().blocks:
                if not isinstance(block, Heading):
                    rep.add(with_true_minus(block))
        rep.add(Heading("Pooled result, as R meta prints it", 4))
        blocks = run.main.result.report().blocks
        # the study table is the forest plot's and tables/<name>_studies.csv's
        for block in blocks[1:] if blocks and isinstance(blocks[0], Table) else blocks:
            rep.add(with_true_minus(block))

    # -- risk of bias and GRADE ----------------------------------------------------------
    rob_names = {f"rob_{n}_{kind}" for n, src in plan.data.items() if src.rob is not None
                 for kind in ("traffic_light", "summary")}
    rob_figs = [f for f in figures if f.name in rob_names]
    if rob_figs:
        rep.add(Heading("Risk of bias", 2, anchor="risk-of-bias"))
        for f in rob_figs:
            rep.add(Figure(f.inline_svg(), f.title, f.caption, _links(f)))
    if grades:
        from .certainty import grade_blocks
        for block in grade_blocks(plan, list(grades)):
            rep.add(block)

    # -- Table 1, data, checks ---------------------------------------------------------
    if "checks" in plan.tables:
        for name, ld in loaded.items():
            if ld.checks is None:
                continue
            c = ld.checks
            rep.add(Heading(f"Data checks: {ld.source.file.name}", 2, anchor=f"checks-{name}"))
            rep.add(Paragraph(f"{c.n_rows} rows: {len(c.errors)} error(s), {len(c.warnings)} warning(s). Warnings "
                              f"do not stop the analyses, which use the data as printed."))
            if c.findings:
                rep.add(Table(["Severity", "Rule", "Study", "Column", "Value", "Expected", "Finding"],
                              [[f.severity, f.rule, f.study or "", f.column or "", f.value or "", f.expected or "",
                                f.message] for f in c.findings], align="lllllll",
                              row_classes=[f.severity for f in c.findings]))
    if "table2" in plan.tables:
        for name, ld in loaded.items():
            rep.add(Heading(f"Data: {ld.source.file.name}", 2, anchor=f"data-{name}"))
            if ld.source.title:
                rep.add(Paragraph(ld.source.title + "."))
            cols = [str(c) for c in ld.printed.columns]
            rep.add(Table(cols, [[str(x) for x in r] for r in ld.printed.itertuples(index=False)],
                          align="l" * len(cols)))
    if plan.not_reproducible:
        rep.add(Heading("Not reproducible from the published data", 2, anchor="not-reproducible"))
        rep.add(BulletList([f"{x.label}: paper {x.paper}. {x.reason}" for x in plan.not_reproducible]))

    # -- methods -----------------------------------------------------------------------
    rep.add(Heading("Methods", 2, anchor="methods"))
    for run in runs.values():
        rep.add(with_true_minus(Paragraph(methods_sentence(run.main, run.analysis.title))))
        for imp in run.analysis.impute:
            rep.add(Paragraph(f"{run.analysis.title}: missing values of {imp.column} imputed "
                              f"({imp.method.replace('_', ' ')}"
                              f"{', from ' + str(imp.source) if imp.source else ''}); every imputed value is "
                              f"flagged in the analysis section and in results.json."))
        for fit in run.sensitivity:
            rep.add(Paragraph(f"{run.analysis.title}, sensitivity analysis \"{fit.sensitivity.title}\": "
                              f"{', '.join(fit.sensitivity.exclude)} excluded from pooling."))
        for key in run.main.additional:
            from .plan import ADDITIONAL
            rep.add(Paragraph(f"{run.analysis.title}, additional estimate {key}: {ADDITIONAL[key]}."))
    rep.add(Heading("Software", 3, anchor="software"))
    rep.add(Table(["Package", "Version"], [[k, v] for k, v in versions.items()], align="ll"))
    return rep


def _links(fig) -> tuple[str, ...]:
    return tuple(f"figures/{fig.name}.{ext}" for ext in ("png", "svg", "pdf"))
