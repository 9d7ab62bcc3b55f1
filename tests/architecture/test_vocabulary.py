"""Every result speaks the same vocabulary: ``summary()`` (a DataFrame), ``str()`` and ``print_summary()``,
``to_dict()`` (JSON-safe), ``_repr_html_()`` for notebooks, and ``plot()`` where the result has a figure (the same
method as its ``forest``, ``funnel`` or ``bubble``).

The result types are the subclasses of :class:`metareview.base.format.Reportable`, found by importing the library's
modules; each is also built here from real data and used, so a new result type fails this test until it is added
to ``BUILD`` below with an example.
"""

from __future__ import annotations

import importlib
import inspect
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import metareview as mr
from metareview.analyses.sensitivity import compare_exclusion
from metareview.base.format import Reportable

from .test_layers import MODULES

ROOT = Path(__file__).resolve().parents[2]
FIGURES = ("forest", "funnel", "bubble")


def _result_types() -> dict[str, type]:
    for name in MODULES:
        if not name.startswith(("metareview.cli", "metareview.web", "metareview.__main__")):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                importlib.import_module(name)
    found: dict[str, type] = {}
    todo = list(Reportable.__subclasses__())
    while todo:
        cls = todo.pop()
        found[cls.__name__] = cls
        todo.extend(cls.__subclasses__())
    return found


TYPES = _result_types()


def test_the_result_types_are_found():
    assert {"MetaResult", "MetaRegression", "SubgroupResult", "LeaveOneOut", "Cumulative", "ExclusionComparison",
            "Influence", "BiasTest", "TrimFill", "SmallStudyEffects", "MultilevelResult", "StudyPredictions",
            "FailSafeN", "LikelihoodRatioTest", "WaldTest", "FitStats", "Tau2Interval", "CheckReport"} <= set(TYPES)


@pytest.mark.parametrize("name", sorted(TYPES))
def test_result_type_has_the_vocabulary(name):
    cls = TYPES[name]
    for member in ("report", "to_dict"):
        assert getattr(cls, member) is not getattr(Reportable, member), f"{name} does not define {member}()"
    for member in ("summary", "print_summary", "_repr_html_", "__str__"):
        assert callable(getattr(cls, member, None)), f"{name} has no {member}"
    figures = [getattr(cls, f) for f in FIGURES if hasattr(cls, f)]
    if figures:
        assert getattr(cls, "plot", None) in figures, f"{name} draws a figure but has no plot() naming it"
    else:
        assert not hasattr(cls, "plot"), f"{name}.plot draws none of {', '.join(FIGURES)}"


# --- every type built from data and used -----------------------------------------------------------------------

def _bcg():
    d = json.loads((ROOT / "tests" / "fixtures" / "analyses" / "datasets.json").read_text())["datasets"]["bcg_rr"]
    return mr.metagen(np.array(d["yi"]), vi=np.array(d["vi"]), studlab=d["study"], method_tau2="REML",
                      covariates=d["covariates"], measure="RR")


def _multilevel():
    rng = np.random.default_rng(7)
    data = pd.DataFrame({"study": np.repeat([f"S{i}" for i in range(8)], 2), "es": np.tile([1, 2], 8)})
    data["yi"] = 0.3 + np.repeat(rng.normal(0, 0.2, 8), 2) + rng.normal(0, 0.1, 16)
    data["vi"] = rng.uniform(0.01, 0.05, 16)
    return mr.metamv("yi", "vi", data=data, random="~ 1 | study/es")


def _check_report():
    from metareview.tables.checks import check_table
    return check_table(ROOT / "examples" / "mrgfus-bone-metastases" / "table2.csv")


BUILD = {
    "MetaResult": lambda r: r,
    "MetaRegression": lambda r: r.metareg("~ ablat"),
    "SubgroupResult": lambda r: r.subgroup("alloc"),
    "LeaveOneOut": lambda r: r.leave1out(),
    "Cumulative": lambda r: r.cumul("year"),
    "ExclusionComparison": lambda r: compare_exclusion(r, [str(r.studlab[0])]),
    "Influence": lambda r: r.influence(),
    "BiasTest": lambda r: r.metabias().tests["egger"],
    "TrimFill": lambda r: r.trimfill(),
    "SmallStudyEffects": lambda r: r.metabias(),
    "MultilevelResult": lambda r: _multilevel(),
    "StudyPredictions": lambda r: r.blup(),
    "FailSafeN": lambda r: r.fsn(),
    "LikelihoodRatioTest": lambda r: mr.anova(r.metareg("~ ablat", method_tau2="ML"), r.update(method_tau2="ML")),
    "WaldTest": lambda r: mr.anova(r.metareg("~ ablat + year"), btt="ablat"),
    "FitStats": lambda r: r.fitstats(),
    "Tau2Interval": lambda r: r.tau2_ci(),
    "CheckReport": lambda r: _check_report(),
}


@pytest.fixture(scope="module")
def bcg():
    return _bcg()


def test_every_result_type_has_an_example():
    assert set(BUILD) == set(TYPES)


@pytest.mark.parametrize("name", sorted(BUILD))
def test_result_speaks_the_vocabulary(name, bcg, capsys):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        obj = BUILD[name](bcg)
    assert type(obj).__name__ == name
    table = obj.summary()
    assert isinstance(table, pd.DataFrame) and len(table) >= 1 and len(table.columns) >= 2
    text = str(obj)
    assert text.strip() and text == obj.report().to_text()
    obj.print_summary()
    assert capsys.readouterr().out == text
    json.dumps(obj.to_dict(), allow_nan=False)
    html = obj._repr_html_()
    assert html.startswith("<") and html == obj.report().to_html()
    if hasattr(obj, "plot"):
        fig, ax = plt.subplots()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                obj.plot(ax=ax)
            assert ax.get_children() and (ax.lines or ax.collections or ax.patches or ax.texts)
        finally:
            plt.close("all")


def test_plot_is_the_figure_method():
    """``plot`` is the figure itself, not a second drawing routine."""
    for name, cls in TYPES.items():
        if hasattr(cls, "plot"):
            assert inspect.isfunction(cls.plot) and cls.plot.__name__ in FIGURES, name
