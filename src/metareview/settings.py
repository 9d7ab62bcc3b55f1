"""The settings of an analysis: every statistical choice, written into every result.

Defaults are R meta's (the seed paper's software); each differs from metafor's where
``docs/conventions.md`` says so.  A result keeps its ``Settings`` so it can be refitted
(``update``), re-plotted and reported without the user repeating themselves.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from .exceptions import SettingsError
from .measures import get_measure

METHODS = ("Inverse",)


@dataclass(frozen=True)
class Settings:
    measure: str = "GEN"
    method: str = "Inverse"
    method_tau2: str = "DL"
    level: float = 0.95
    random_ci: str = "wald"
    adhoc_hakn: str = "none"
    prediction: str = "t"
    i2_method: str = "q"
    incr: float = 0.5
    method_incr: str = "only0"
    incr_style: str = "meta"
    exact_smd: bool = True
    study_ci: str = "CP"
    common: bool = True
    random: bool = True

    def __post_init__(self):
        object.__setattr__(self, "measure", get_measure(self.measure).code)
        object.__setattr__(self, "method_tau2", str(self.method_tau2).upper())
        for name in ("random_ci", "prediction", "adhoc_hakn", "i2_method", "incr_style", "method_incr"):
            object.__setattr__(self, name, str(getattr(self, name)).lower())
        if self.adhoc_hakn in ("", "false"):
            object.__setattr__(self, "adhoc_hakn", "none")
        object.__setattr__(self, "level", float(self.level))

    def replace(self, **changes) -> "Settings":
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            valid = ", ".join(f.name for f in fields(self))
            raise SettingsError(f"unknown setting(s) {', '.join(sorted(unknown))}; valid settings are: {valid}")
        return replace(self, **changes)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def split(cls, kwargs: dict) -> tuple["Settings", dict]:
        """Separate settings from other keyword arguments (unknown ones are an error)."""
        names = {f.name for f in fields(cls)}
        unknown = set(kwargs) - names
        if unknown:
            raise SettingsError(f"unknown argument(s) {', '.join(sorted(unknown))}; valid settings are: "
                                f"{', '.join(sorted(names))}")
        return cls(**kwargs), {}
