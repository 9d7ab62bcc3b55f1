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

__version__ = "0.1.0"

_EXPORTS = {
    "metaprop": "api", "metarate": "api", "metamean": "api", "metacont": "api", "metaprepost": "api", "metabin": "api",
    "metainc": "api", "metacor": "api", "anova": "comparison", "fsn": "failsafe",
    "metagen": "api", "metaanalysis": "api", "escalc": "effects", "pool_arrays": "pooling",
    "metamv": "multilevel", "vcalc": "multilevel", "MultilevelResult": "multilevel",
    "get_measure": "measures", "MetaResult": "results", "Settings": "settings",
    "MetaReviewError": "exceptions", "DataError": "exceptions", "SettingsError": "exceptions",
    "MetaReviewWarning": "exceptions", "ConvergenceWarning": "exceptions", "SmallSampleWarning": "exceptions",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'metareview' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
