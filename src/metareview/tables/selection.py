"""Which studies: their labels and the studies an ``exclude`` or ``subset`` argument names."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..base.exceptions import DataError, SettingsError

__all__ = ["study_labels", "select_studies"]


def study_labels(studlab, k: int) -> np.ndarray:
    """The study labels as text (1, 2, ... when none are given), one per study."""
    if studlab is None:
        return _numbered(k).copy()
    lab = np.array([str(s) for s in np.asarray(studlab, dtype=object).ravel()], dtype=object)
    if lab.size != k:
        raise DataError(f"{lab.size} study labels for {k} studies", column="study", rule="one label per study")
    return lab


@lru_cache(maxsize=64)
def _numbered(k: int) -> np.ndarray:
    """The labels "1", "2", ... "k", made once per k as a read-only array whose copy is the
    caller's own (copying an array of k texts costs a fraction of making one from them)."""
    labels = np.array([str(i + 1) for i in range(k)], dtype=object)
    labels.flags.writeable = False
    return labels


def select_studies(spec, labels: np.ndarray, what: str) -> np.ndarray:
    """A boolean mask from a list of study labels, a boolean sequence or indices (R meta's
    ``exclude`` and ``subset``); ``what`` names the argument in the error."""
    k = labels.size
    if spec is None:
        return np.zeros(k, dtype=bool)
    if isinstance(spec, str):
        spec = [spec]
    arr = np.asarray(spec)
    if arr.dtype == bool:
        if arr.size != k:
            raise SettingsError(f"{what}: {arr.size} logical values for {k} studies")
        return arr.copy()
    mask = np.zeros(k, dtype=bool)
    for item in spec:
        if isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            if not 0 <= int(item) < k:
                raise SettingsError(f"{what}: study index {item} is out of range (0 to {k - 1})")
            mask[int(item)] = True
            continue
        hits = labels == str(item)
        if not hits.any():
            raise SettingsError(f"{what}: no study is labelled {item!r}; studies are: {', '.join(labels)}")
        if hits.sum() > 1:
            rows = ", ".join(str(i + 1) for i in np.flatnonzero(hits))
            raise SettingsError(f"{what}: {int(hits.sum())} studies are labelled {item!r} (rows {rows} of the "
                                f"data); give them distinct labels (e.g. {item} 2019a), or in Python select by "
                                f"row index")
        mask |= hits
    return mask
