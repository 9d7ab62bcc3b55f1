"""Settings presets: R meta's ``settings.meta()`` general settings.

A preset fills the settings it names (the user's own values win) and chooses how the
printout and the forest plot look.  Each entry is what meta's documentation of
``settings.meta`` (meta 8.x) lists for that setting, in metareview's names:

``revman5`` (``settings.meta("RevMan5")``, Review Manager 5)
    method.random.ci = "classic" (``random_ci="wald"``), method.tau = "DL", method.I2 = "Q",
    tau.common = FALSE, MH.exact = FALSE (the MH tables take the correction, meta's
    convention), RR.Cochrane = TRUE (``rr_cochrane=True``), Q.Cochrane = TRUE (the DL tau²
    of a Mantel-Haenszel analysis from Q about the MH estimate, which metareview always
    does), exact.smd = FALSE, prediction = FALSE (``prediction="none"``); printed with
    digits = 2, digits.tau2 = 3, digits.tau = 4, digits.I2 = 0, intervals as ``[., .]``,
    "Fixed effect model"; forest layout "RevMan5".
``jama`` (``settings.meta("JAMA")``, Journal of the American Medical Association)
    No statistical setting; printed with digits.I2 = 0, digits.pval = 3, intervals as
    ``(.-.)``, p-values without a leading zero, rounded as JAMA asks (JAMA.pval); forest
    layout "JAMA".
``meta4`` (``settings.meta("meta4")``, meta version 4 or below)
    method.tau = "DL", method.I2 = "Q", method.predict = "HTS" (``prediction="t"``, k - 2
    df), exact.smd = FALSE; "Fixed effect model".
``meta8`` (meta 8's own defaults, ``settings.meta(reset = TRUE)``, for the arguments
    that "meta4" and "meta7" set)
    method.tau = "REML", method.I2 = "Q", method.predict = "V" (``prediction="v"``, k - 1
    df), exact.smd = TRUE; "Common effect model".

Display settings that have no counterpart here (forest.tau2, test.subgroup, header.line,
colours) are not part of a preset.
"""

from __future__ import annotations

from dataclasses import dataclass

from .exceptions import SettingsError

__all__ = ["PRESETS", "Preset", "PrintStyle", "get_preset", "print_style"]


@dataclass(frozen=True)
class PrintStyle:
    """How numbers are printed: meta's digits, digits.tau2, digits.tau, digits.I2,
    digits.pval, CIbracket/CIseparator, zero.pval and JAMA.pval, text.common."""

    digits: int = 4
    digits_tau2: int = 4
    digits_tau: int = 4
    digits_i2: int = 1
    digits_pval: int = 4
    ci_open: str = "["
    ci_sep: str = "; "
    ci_close: str = "]"
    zero_pval: bool = True
    jama_pval: bool = False
    common_label: str = "Common effect model"
    forest_layout: str = "meta"

    def num(self, x, digits: int | None = None) -> str:
        from .format import fmt
        return fmt(x, self.digits if digits is None else digits)

    def ci(self, lo, hi, digits: int | None = None, unit: str = "") -> str:
        return f"{self.ci_open}{self.num(lo, digits)}{unit}{self.ci_sep}{self.num(hi, digits)}{unit}{self.ci_close}"

    def p(self, p) -> str:
        """A p-value: meta's ``formatPT`` with digits.pval, JAMA.pval and zero.pval."""
        import math

        from .format import fmt_p
        if p is None or not math.isfinite(p):
            return "--"
        if self.jama_pval:
            text = "< 0.001" if p < 0.001 else (f"{p:.3f}" if p <= 0.01 else f"{p:.2f}")
        elif self.digits_pval == 4:
            text = fmt_p(p)
        else:
            floor = 10.0 ** -self.digits_pval
            text = f"< {floor:.{self.digits_pval}f}" if p < floor else f"{p:.{self.digits_pval}f}"
        return text if self.zero_pval else text.replace("0.", ".")


@dataclass(frozen=True)
class Preset:
    """One of R meta's ``settings.meta()`` presets: its R call, the settings it fills and its printing style."""

    name: str
    r_call: str
    settings: dict
    style: PrintStyle


PRESETS = {
    "revman5": Preset("revman5", 'settings.meta("RevMan5")',
                      {"random_ci": "wald", "method_tau2": "DL", "i2_method": "q", "rr_cochrane": True,
                       "exact_smd": False, "prediction": "none"},
                      PrintStyle(digits=2, digits_tau2=3, digits_tau=4, digits_i2=0, ci_sep=", ",
                                 common_label="Fixed effect model", forest_layout="revman5")),
    "jama": Preset("jama", 'settings.meta("JAMA")', {},
                   PrintStyle(digits_i2=0, digits_pval=3, ci_open="(", ci_sep="-", ci_close=")",
                              zero_pval=False, jama_pval=True, forest_layout="jama")),
    "meta4": Preset("meta4", 'settings.meta("meta4")',
                    {"method_tau2": "DL", "i2_method": "q", "prediction": "t", "exact_smd": False},
                    PrintStyle(common_label="Fixed effect model")),
    "meta8": Preset("meta8", "settings.meta(reset = TRUE) (meta 8 defaults)",
                    {"method_tau2": "REML", "i2_method": "q", "prediction": "v", "exact_smd": True},
                    PrintStyle()),
}

_DEFAULT_STYLE = PrintStyle()


def get_preset(name: str) -> Preset:
    key = str(name).lower()
    if key not in PRESETS:
        raise SettingsError(f"unknown preset {name!r}; valid presets are: {', '.join(PRESETS)}")
    return PRESETS[key]


def print_style(preset: str | None) -> PrintStyle:
    """The printout style of a preset (R meta's defaults without one)."""
    return _DEFAULT_STYLE if preset is None else get_preset(preset).style
