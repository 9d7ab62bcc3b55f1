"""metareview: systematic reviews and meta-analysis whose numbers match R meta and metafor.

>>> import metareview as mr
>>> res = mr.metaprop([8, 26, 26], [10, 31, 30], ["Namba", "Tsai", "Wang B"])
>>> res.k
3
"""

__version__ = "0.1.0"

from .api import metaanalysis, metabin, metacont, metagen, metamean, metaprepost, metaprop
from .effects import escalc
from .exceptions import (ConvergenceWarning, DataError, MetaReviewError, MetaReviewWarning,
                         SettingsError, SmallSampleWarning)
from .measures import get_measure
from .pooling import pool_arrays
from .results import MetaResult
from .settings import Settings

__all__ = [
    "__version__", "metaprop", "metamean", "metacont", "metaprepost", "metabin", "metagen",
    "metaanalysis", "escalc", "pool_arrays", "get_measure", "MetaResult", "Settings",
    "MetaReviewError", "DataError", "SettingsError", "MetaReviewWarning", "ConvergenceWarning",
    "SmallSampleWarning",
]
