"""metareview: systematic reviews and meta-analysis whose numbers match R meta and metafor.

>>> import metareview as mr
>>> res = mr.metaprop([8, 26, 26], [10, 31, 30], ["Namba", "Tsai", "Wang B"])
>>> res.k
3

The public names are imported on first use, so that ``import metareview`` (and the
command line's start-up) does not pay for numpy and scipy until a computation needs them.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
import warnings

from .base.version import __version__

_EXPORTS = {
    "metaprop": "api.meta", "metarate": "api.meta", "metamean": "api.meta", "metacont": "api.meta",
    "metaprepost": "api.meta", "metabin": "api.meta", "metainc": "api.meta", "metacor": "api.meta",
    "metagen": "api.meta", "metaanalysis": "api.meta", "anova": "analyses.comparison", "fsn": "analyses.failsafe",
    "escalc": "effectsizes.escalc", "pool_arrays": "pooling.inverse_variance",
    "metamv": "analyses.multilevel", "vcalc": "analyses.multilevel", "MultilevelResult": "analyses.multilevel",
    "get_measure": "effectsizes.measures", "MetaResult": "api.result", "Settings": "pooling.settings",
    "MetaReviewError": "base.exceptions", "DataError": "base.exceptions", "SettingsError": "base.exceptions",
    "MetaReviewWarning": "base.exceptions", "ConvergenceWarning": "base.exceptions",
    "SmallSampleWarning": "base.exceptions",
}

#: Modules that moved into the layer folders (old dotted path below ``metareview`` -> new one).
#: Importing an old path gives the module at its new place, with a DeprecationWarning that
#: names it, so scripts written against the earlier layout keep working.
_MOVED = {
    "_dist": "base.dist", "_format": "base.format", "batch": "api.batch", "bias": "analyses.bias",
    "blup": "analyses.blup", "checks": "tables.checks", "comparison": "analyses.comparison",
    "convert": "tables.convert", "decoding": "tables.decoding", "effects": "effectsizes.escalc",
    "examples": "run.examples", "exceptions": "base.exceptions", "failsafe": "analyses.failsafe",
    "glmm": "pooling.glmm", "grade": "appraisal.grade", "heterogeneity": "pooling.heterogeneity",
    "impute": "tables.impute", "influence": "analyses.influence", "io": "tables.io",
    "likelihood": "pooling.likelihood", "measures": "effectsizes.measures", "metareg": "analyses.metareg",
    "mh": "pooling.mh", "multilevel": "analyses.multilevel", "outputs": "base.outputs", "parse": "tables.parse",
    "peto": "pooling.peto", "plan": "run.plan", "presets": "base.presets", "rates": "effectsizes.rates",
    "report.model": "base.report", "results": "api.result", "review_run": "run", "rob": "appraisal.rob",
    "sensitivity": "analyses.sensitivity", "settings": "pooling.settings", "study_ci": "effectsizes.study_ci",
    "subgroups": "analyses.subgroups", "tau2": "pooling.tau2", "validate": "effectsizes.validate",
}


class _MovedModules:
    """Finds ``metareview.<old path>`` and hands out the module at its new path (a meta path finder
    and loader by protocol: ``importlib.abc`` would load ``importlib.resources`` at every start)."""

    @staticmethod
    def new_path(fullname: str) -> str | None:
        package, _, old = fullname.partition(".")
        if package != __name__:
            return None
        if old in _MOVED:
            return f"{__name__}.{_MOVED[old]}"
        head, _, rest = old.partition(".")
        return f"{__name__}.{_MOVED[head]}.{rest}" if rest and _MOVED.get(head) == "run" else None

    def find_spec(self, fullname, path=None, target=None):
        # a loader by protocol (create_module, exec_module), not by importlib.abc's class
        return importlib.machinery.ModuleSpec(fullname, self) if self.new_path(fullname) else None  # type: ignore[arg-type]

    def create_module(self, spec):
        new = self.new_path(spec.name)
        assert new is not None  # find_spec answers only for moved paths
        warnings.warn(f"{spec.name} has moved to {new}; import it from there", DeprecationWarning, stacklevel=2)
        module = importlib.import_module(new)
        self._specs = getattr(self, "_specs", {})
        self._specs[spec.name] = module.__spec__
        return module

    def exec_module(self, module):
        # the import system has just stamped the alias's spec on the module: give it back its own
        module.__spec__ = self._specs.pop(module.__spec__.name, module.__spec__)


sys.meta_path.insert(0, _MovedModules())

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'metareview' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
