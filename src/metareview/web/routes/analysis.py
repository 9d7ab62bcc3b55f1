"""Analysis (``/analysis``): the project's analysis plan run on the adjudicated table, with its forest plots.

The plan is the ``review.toml`` beside the project file (or the one given with
``metareview serve --plan``), run exactly as ``metareview run`` runs it
(:func:`metareview.run.run_review`).  Before each run the adjudicated analysis
table, its provenance and its column declarations (from the form's field types) are written to
``<project>.files/analysis.csv``, ``analysis.provenance.csv`` and ``analysis.columns.toml``, so that
a plan beside the project reads the team's table with ``file = "<project file name>.files/analysis.csv"``.
The output (report, figures, ``results.json``) goes to ``<project>.files/analysis/``, replaced by each run, never into
the plan's folder; the page shows each analysis's numbers and forest plot from there.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
from pathlib import Path
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ...base.exceptions import MetaReviewError, SettingsError
from ...review.accounts import User
from ...review.backends import is_url
from ...review.extraction import analysis_columns, export_analysis, get_form
from ...review.fulltext import files_folder
from ...review.project import Project
from ..permissions import allowed
from ..render import render
from ..responses import Refusal
from ..routing import page, project

_RUN_LOCK = threading.Lock()  # one run at a time: each replaces the whole output folder
_FIGURE = re.compile(r"^[A-Za-z0-9_.-]+\.(svg|png|pdf)$")
_TYPES = {"svg": "image/svg+xml", "png": "image/png", "pdf": "application/pdf"}


def plan_path(request: Request) -> Path | None:
    """The plan this server runs: the one it was given, else ``review.toml`` beside the project file."""
    given = request.app.state.plan
    if given is not None:
        return Path(given)
    if is_url(request.app.state.project_path):
        return None  # a database on a server has no folder beside it: the plan is given with --plan
    beside = Path(request.app.state.project_path).parent / "review.toml"
    return beside if beside.is_file() else None


def output_folder(proj: Project) -> Path:
    return files_folder(proj) / "analysis"


def _write_atomic(path: Path, data: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def export_table(proj: Project) -> str | None:
    """Write the adjudicated table beside the project's files; None when written, else why not."""
    try:
        get_form(proj)
    except SettingsError:
        return "the project has no extraction form, so there is no adjudicated table to write"
    try:
        table, provenance = export_analysis(proj)
    except MetaReviewError as exc:
        return f"the adjudicated table was not written: {exc}"
    folder = files_folder(proj)
    folder.mkdir(exist_ok=True)
    _write_atomic(folder / "analysis.csv", table)
    _write_atomic(folder / "analysis.provenance.csv", provenance)
    _write_atomic(folder / "analysis.columns.toml", analysis_columns(proj))
    return None


def _number(x: Any) -> str:
    if x is None:
        return ""
    if isinstance(x, float):
        return f"{x:.4f}" if abs(x) < 10 else f"{x:.2f}"
    return str(x)


def _interval(est: dict | None) -> str:
    if not est or est.get("estimate") is None:
        return ""
    return f"{_number(est['estimate'])} [{_number(est.get('ci_low'))}; {_number(est.get('ci_high'))}]"


def summaries(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per analysis of a run's ``results.json``: its estimates, heterogeneity and forest plot."""
    figures = set(results.get("figures", []))
    out = []
    for key, doc in results.items():
        if not isinstance(doc, dict) or "analysis" not in doc or "heterogeneity" not in doc:
            continue
        back = doc.get("backtransformed") or {}
        scale = back.get("scale") if back else None
        common = back.get("common") if back else doc.get("common")
        random = back.get("random") if back else doc.get("random")
        pred = (back.get("prediction") if back else doc.get("prediction")) or {}
        het = doc["heterogeneity"]
        info = doc["analysis"]
        svg = f"figures/{key}_forest.svg"
        out.append({"key": key, "title": info.get("title") or key, "outcome": info.get("outcome"),
                    "sensitivity": info.get("sensitivity"), "reason": info.get("reason"),
                    "k": doc.get("k"), "measure": doc.get("measure"),
                    "scale": "back-transformed to the natural scale" if scale else "analysis scale",
                    "common": _interval(common) if doc["settings"].get("common", True) else "",
                    "random": _interval(random) if doc["settings"].get("random", True) else "",
                    "prediction": f"[{_number(pred.get('low'))}; {_number(pred.get('high'))}]"
                    if pred.get("low") is not None else "",
                    "i2": "" if het.get("i2") is None else f"{het['i2']:.1f}", "tau2": _number(het.get("tau2")),
                    "q_p": _number(het.get("p")),
                    "method": f"{doc.get('method')}, τ² {doc.get('method_tau2')}",
                    "figure": svg if svg in figures else None})
    return out


def analysis(request: Request, user: User | None, form: FormData | None, *, error: str | None = None,
             status: int = 200) -> Response:
    assert user is not None
    proj = project(request)
    plan = plan_path(request)
    results = None
    try:
        out = output_folder(proj)
    except SettingsError as exc:  # a project on a database server started without --files
        error = error or str(exc)
        table_name = "analysis.csv"
    else:
        if (out / "results.json").is_file():
            results = json.loads((out / "results.json").read_text(encoding="utf-8"))
        table_name = (f"{proj.store.path.name}.files/analysis.csv" if proj.store.path is not None
                      else str(out.parent / "analysis.csv"))
    return render(request, "analysis.html", user=user, plan=plan, results=results,
                  rows=summaries(results) if results else [], error=error, status=status,
                  table_name=table_name, can_run=allowed(user, "adjudicate"), on_server=proj.store.path is None,
                  notice=request.session.pop("notice", None))


def run(request: Request, user: User | None, form: FormData | None) -> Response:
    from ...run import run_review

    assert user is not None
    proj = project(request)
    plan = plan_path(request)
    if plan is None:
        return analysis(request, user, None, status=409,
                        error="there is no analysis plan: put a review.toml beside the project file, or start "
                              "the server with --plan")
    with _RUN_LOCK:
        skipped = export_table(proj)
        try:
            done = run_review(plan, output_folder(proj), force=True)
        except MetaReviewError as exc:
            message = f"{exc}" + (f" ({skipped})" if skipped else "")
            return analysis(request, user, None, error=message, status=400)
    request.session["notice"] = f"the plan ran: {len(done.files)} files written" + (f"; {skipped}" if skipped else "")
    return RedirectResponse("/analysis", status_code=303)


def _output_file(request: Request, relative: str) -> Path:
    base = output_folder(project(request)).resolve()
    path = (base / relative).resolve()
    if base not in path.parents or not path.is_file():
        raise Refusal(404, "no such file in the last run's output; run the analysis first")
    return path


def report(request: Request, user: User | None, form: FormData | None) -> Response:
    path = _output_file(request, "report.html")
    return Response(path.read_bytes(), media_type="text/html; charset=utf-8")


def figure(request: Request, user: User | None, form: FormData | None) -> Response:
    name = request.path_params["name"]
    if not _FIGURE.match(name):
        raise Refusal(404, f"no figure {name!r}")
    path = _output_file(request, f"figures/{name}")
    # an SVG opened on its own runs nothing: no scripts, no outside resources
    return Response(path.read_bytes(), media_type=_TYPES[name.rsplit(".", 1)[1]],
                    headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox"})


routes = [
    page("/analysis", analysis, action="view", name="analysis"),
    page("/analysis/run", run, action="adjudicate", methods=["POST"], name="analysis_run"),
    page("/analysis/report", report, action="view", name="analysis_report"),
    page("/analysis/figures/{name}", figure, action="view", name="analysis_figure"),
]
