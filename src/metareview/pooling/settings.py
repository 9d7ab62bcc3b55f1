"""The settings of an analysis: every statistical choice, written into every result.

Defaults are R meta's (the seed paper's software); each differs from metafor's where
``docs/conventions.md`` says so.  A result keeps its ``Settings`` so it can be refitted
(``update``), re-plotted and reported without the user repeating themselves.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from functools import lru_cache

from ..base.exceptions import SettingsError
from ..effectsizes.measures import Measure, get_measure

__all__ = ["METHODS", "Settings"]

METHODS = ("Inverse", "GLMM", "MH", "Peto")  # GLMM: glmm.py; MH: mh.py; Peto: peto.py


@lru_cache(maxsize=1)
def _choices() -> dict:
    """Each validated setting: what it is called in messages and its valid values."""
    from ..effectsizes.escalc import INCR_METHODS
    from ..effectsizes.study_ci import PROPORTION_CI
    from .heterogeneity import I2_METHODS
    from .inverse_variance import ADHOC_HAKN, PREDICTION, RANDOM_CI
    from .tau2 import TAU2_METHODS

    return {"method_tau2": ("tau² estimator", TAU2_METHODS), "random_ci": ("random-effects CI", RANDOM_CI),
            "prediction": ("prediction interval", PREDICTION), "adhoc_hakn": ("ad hoc correction", ADHOC_HAKN),
            "i2_method": ("I² method", I2_METHODS), "method_incr": ("continuity rule", INCR_METHODS),
            "incr_style": ("continuity convention", ("meta", "metafor")),
            "study_ci": ("study CI", PROPORTION_CI)}


@dataclass(frozen=True)
class Settings:
    """Every statistical choice of one analysis (R meta's defaults unless said), kept in its result."""

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
    allstudies: bool = False
    study_ci: str = "CP"
    common: bool = True
    random: bool = True
    n_agq: int = 7          # quadrature points of method GLMM (1 = Laplace)
    model_glmm: str = "UM.FS"  # two-group GLMM of odds ratios (R meta's model.glmm; glmm.GLMM_OR_MODELS)
    rr_cochrane: bool = False  # RR of a zero-cell study with n + 2 incr (R meta's RR.Cochrane, RevMan)
    preset: str | None = None  # R meta's settings.meta() general setting (presets.py)

    def __post_init__(self):
        object.__setattr__(self, "measure", get_measure(self.measure).code)
        from .tau2 import TAU2_METHODS
        code = {c.upper(): c for c in TAU2_METHODS}.get(str(self.method_tau2).upper(), str(self.method_tau2).upper())
        object.__setattr__(self, "method_tau2", code)
        if str(self.study_ci).upper() in ("CP", "WS", "WSCC", "AC", "SA", "SACC"):
            object.__setattr__(self, "study_ci", str(self.study_ci).upper())
        for name in ("random_ci", "prediction", "adhoc_hakn", "i2_method", "incr_style", "method_incr"):
            object.__setattr__(self, name, str(getattr(self, name)).lower())
        if self.adhoc_hakn in ("", "false"):
            object.__setattr__(self, "adhoc_hakn", "none")
        object.__setattr__(self, "level", float(self.level))
        if self.preset is not None:
            from ..base.presets import get_preset
            object.__setattr__(self, "preset", get_preset(self.preset).name)
        object.__setattr__(self, "method", {m.lower(): m for m in METHODS}.get(
            str(self.method).lower(), self.method))
        object.__setattr__(self, "model_glmm", str(self.model_glmm).upper())
        self._check()

    def _check(self) -> None:
        choices = _choices()
        for name, (what, valid) in choices.items():
            if getattr(self, name) not in valid:
                kind = "estimators" if name == "method_tau2" else "values"
                raise SettingsError(f"unknown {what} {getattr(self, name)!r} ({name}); valid {kind} are: "
                                    f"{', '.join(valid)}")
        if not 0 < self.level < 1:
            raise SettingsError(f"the confidence level must lie between 0 and 1, not {self.level!r}")
        if self.method not in METHODS:
            raise SettingsError(f"unknown method {self.method!r}; valid methods are: {', '.join(METHODS)}")
        if self.method == "GLMM" and self.method_tau2 != "ML":
            raise SettingsError(f"method GLMM estimates tau² by maximum likelihood (method_tau2='ML'), "
                                f"not {self.method_tau2}")
        if not isinstance(self.n_agq, int) or isinstance(self.n_agq, bool) or self.n_agq < 1:
            raise SettingsError(f"n_agq must be a whole number >= 1, not {self.n_agq!r}")
        if self.n_agq != 7 and self.method != "GLMM":
            raise SettingsError("n_agq (quadrature points) applies only to method GLMM")
        if self.model_glmm != "UM.FS":  # the default needs no look at the GLMM module (start-up)
            from .glmm import GLMM_OR_MODELS
            if self.model_glmm not in GLMM_OR_MODELS:
                raise SettingsError(f"unknown GLMM model {self.model_glmm!r} (model_glmm); valid values are: "
                                    f"{', '.join(GLMM_OR_MODELS)}")
            if self.method != "GLMM" or self.measure != "OR":
                raise SettingsError("model_glmm (the two-group GLMM) applies only to method GLMM with odds "
                                    "ratios (measure OR)")
        if self.model_glmm == "CM.EL" and self.n_agq != 7:
            raise SettingsError("n_agq does not apply to model_glmm CM.EL, whose integrals are taken to full "
                                "precision, as rma.glmm's integrate()")

    def replace(self, **changes) -> "Settings":
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            valid = ", ".join(f.name for f in fields(self))
            raise SettingsError(f"unknown setting(s) {', '.join(sorted(unknown))}; valid settings are: {valid}")
        if changes.get("preset") is not None:
            changes = _with_preset(changes, self.method)
        return replace(self, **changes)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def split(cls, kwargs: dict) -> tuple["Settings", dict]:
        """Separate settings from other keyword arguments (unknown ones are an error)."""
        key = _key_of(cls, kwargs)
        made = _MADE.get(key) if key is not None else None
        if made is None:
            made = cls._from_arguments(kwargs)
            if key is not None:
                if len(_MADE) >= _MADE_MAX:
                    _MADE.clear()
                _MADE[key] = made
        return made, {}

    @classmethod
    def _from_arguments(cls, kwargs: dict) -> "Settings":
        names = {f.name for f in fields(cls)}
        if kwargs.get("preset") is not None:
            kwargs = _with_preset(kwargs, kwargs.get("method", "Inverse"))
        if str(kwargs.get("method", "")).lower() == "glmm":
            # meta's defaults for GLMMs: ML tau², I² from tau² and the typical variance
            kwargs = {**kwargs, "method_tau2": kwargs.get("method_tau2", "ML"),
                      "i2_method": kwargs.get("i2_method", "tau2")}
        unknown = set(kwargs) - names
        if unknown:
            raise SettingsError(f"unknown argument(s) {', '.join(sorted(unknown))}; valid settings are: "
                                f"{', '.join(sorted(names))}")
        return cls(**kwargs)


#: Settings already made, by the arguments they were made from: a Settings is immutable, so the
#: same arguments share one (an analysis repeated with the same settings checks them once).
_MADE: dict = {}
_MADE_MAX = 256


def _key_of(cls, kwargs: dict):
    """The arguments as a key of :data:`_MADE`, each value with its type (``incr=1`` and
    ``incr=1.0`` are equal keys, but not equal settings: ``to_dict()`` keeps the value as
    given); None when a value cannot be a key."""
    # a measure given as its registry entry is keyed by its code (which is what Settings keeps):
    # hashing and comparing the entry's every field would cost more than the rest of the key
    key = (cls, tuple(sorted((name, type(value), value.code if type(value) is Measure else value)
                             for name, value in kwargs.items())))
    try:
        hash(key)
    except TypeError:
        return None
    return key


def _with_preset(kwargs: dict, method) -> dict:
    """``kwargs`` with the settings of its preset filled in where the caller gave none
    (a GLMM keeps its maximum-likelihood tau² and I² from tau², as in R meta)."""
    from ..base.presets import get_preset
    values = dict(get_preset(kwargs["preset"]).settings)
    if str(method).lower() == "glmm":
        values.pop("method_tau2", None)
        values.pop("i2_method", None)
    return {**values, **kwargs}
