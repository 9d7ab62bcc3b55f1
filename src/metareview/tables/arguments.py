"""Arguments that may name a column of ``data=``, as R's non-standard evaluation allows
(``metagen(TE, seTE, data = d)``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..base.exceptions import DataError, SettingsError

__all__ = ["column_argument"]


def column_argument(data, value: Any, name: str) -> Any:
    """``data[value]`` as an array when ``value`` is a column name of ``data``; any other
    value as it is.  ``name`` is the argument, named in the error when there is no such column."""
    if isinstance(value, str):
        if data is None:
            raise SettingsError(f"{name}={value!r} names a column, but no data= was given")
        if value not in data:
            raise DataError(f"column {value!r} (given as {name}) is not in the data", column=value,
                            rule="missing column")
        return np.asarray(data[value])
    return value
