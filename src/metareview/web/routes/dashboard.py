"""The dashboard (``/``): PRISMA 2020 counts and diagram, progress per reviewer and stage, agreement."""

from __future__ import annotations

import json
import math
import warnings
from functools import lru_cache
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ...review.accounts import User
from ...review.dedupe import clusters
from ...review.prisma import prisma_counts
from ...review.project import STAGES
from ...review.screening import agreement, progress, states
from ..permissions import allowed
from ..render import render
from ..responses import wants_json
from ..routing import page, project
from ._shared import inline_svg

STAGE_LABELS = {"title_abstract": "Title and abstract", "full_text": "Full text"}


@lru_cache(maxsize=16)
def prisma_svg(counts_json: str) -> str:
    """The PRISMA 2020 diagram of these counts as an inline ``<svg>`` element (text kept as text)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from ...base.exceptions import MetaReviewWarning
    from ...plots.prisma import PrismaDiagram

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetaReviewWarning)  # partial counts during screening are expected
        diagram = PrismaDiagram(json.loads(counts_json), strict=False)
    figure = Figure(figsize=diagram.size)
    FigureCanvasAgg(figure)
    diagram.plot(ax=figure.add_axes((0.0, 0.0, 1.0, 1.0)))
    return inline_svg(figure, "PRISMA 2020 flow diagram", "prisma")


def _summary(request: Request, user: User) -> dict[str, Any]:
    """What the dashboard shows ``user``.  While screening is blinded, only those who settle conflicts see the
    states and agreement of a stage: watching them change after one's own decision would reveal the other
    reviewer's vote on that record."""
    proj = project(request)
    outcomes = not proj.blinded or allowed(user, "resolve")
    store = proj.store
    cl = clusters(store)
    runs = store.dedupe_runs()
    n_records = store.count_records()
    stale = n_records - (runs[-1]["n_records"] if runs else 0)
    counts = prisma_counts(proj, partial=True)
    stages = []
    for stage in STAGES:
        st = states(proj, stage, cl=cl)
        prog = progress(proj, stage, st=st)
        entry = {"stage": stage, "label": STAGE_LABELS[stage], **prog}
        if outcomes:
            entry["agreement"] = [_agreement(a.to_dict()) for a in agreement(proj, stage)]
        else:
            del entry["states"]
        stages.append(entry)
    return {"records": n_records, "not_deduplicated": stale, "counts": counts, "stages": stages,
            "blinded": proj.blinded}


def _agreement(row: dict[str, Any]) -> dict[str, Any]:
    """Kappa is undefined (NaN) when both reviewers used one category throughout; JSON says null."""
    return {**row, "kappa": None if math.isnan(row["kappa"]) else row["kappa"]}


def dashboard(request: Request, user: User | None, form: FormData | None) -> Response:
    assert user is not None
    summary = _summary(request, user)
    if wants_json(request):
        return JSONResponse(summary)
    svg = prisma_svg(json.dumps(summary["counts"], sort_keys=True)) if summary["records"] else None
    return render(request, "dashboard.html", user=user, svg=svg, **summary)


routes = [page("/", dashboard, action="view", name="dashboard")]
