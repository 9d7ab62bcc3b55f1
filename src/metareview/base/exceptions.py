"""Errors and warnings raised by metareview.

Every error that bad input can cause is a :class:`MetaReviewError` (a ``ValueError``)
whose message names the study, the column and the rule that was broken, so that the
command line can print it without a traceback.  Degenerate but legal situations
(k = 1, tau² on its boundary, an iteration that did not converge) are warnings.
"""

from __future__ import annotations

__all__ = [
    "MetaReviewError",
    "DataError",
    "SettingsError",
    "OutputError",
    "MetaReviewWarning",
    "ConvergenceWarning",
    "SmallSampleWarning",
]


class MetaReviewError(ValueError):
    """Base class of every error metareview raises on purpose."""


class DataError(MetaReviewError):
    """Input data break a rule (events > n, a negative SD, a missing column, ...).

    ``study``, ``column`` and ``rule`` are kept as attributes so that callers (the
    data checks, the CLI's JSON output) can report them in a structured way.
    """

    def __init__(self, message: str, *, study: str | None = None,
                 column: str | None = None, rule: str | None = None):
        parts = []
        if study is not None:
            parts.append(f"study {study!r}")
        if column is not None:
            parts.append(f"column {column!r}")
        where = (", ".join(parts) + ": ") if parts else ""
        super().__init__(f"{where}{message}")
        self.study = study
        self.column = column
        self.rule = rule


class SettingsError(MetaReviewError):
    """An option has a value that is not offered (unknown measure, estimator, ...)."""


class OutputError(MetaReviewError):
    """An output cannot be written where asked: it is an input, a folder metareview did not
    make, in a missing or read-only folder, or the disk is full (see :mod:`metareview.base.outputs`)."""


class MetaReviewWarning(UserWarning):
    """Something legal but worth knowing happened (k = 1, a correction applied, ...)."""


class ConvergenceWarning(MetaReviewWarning):
    """An iterative estimator stopped before it converged."""


class SmallSampleWarning(MetaReviewWarning):
    """A method was applied to fewer studies than it is meant for."""
