"""Main-effects moderator formulas are read without formulaic: the same model matrix, the same
coefficient names and the same predictions as formulaic's encoding, for every formula shape."""

import numpy as np
import pytest

from metareview.analyses import moderators
from metareview.base.exceptions import DataError

LABELS = [f"S{i}" for i in range(1, 9)]
COLUMNS = {
    "x": [1.5, 2.0, 3.25, 4.0, 5.0, 6.5, 7.0, 8.0],
    "g": ["b", "a", "c", "a", "b", "c", "a", "b"],
    "h": ["no", "yes", "no", "yes", "yes", "no", "no", "yes"],
    "n": [10, 20, 10, 30, 20, 30, 10, 20],                   # numbers, used as factor(n)
    "mixed": ["1.50", "b", "2", "b", "1.50", "2", "b", "2"],  # text levels that look like numbers
}

PLAIN = ["~ x", "~ g", "~ factor(n)", "~ x + g", "~ g + x", "~ 0 + g", "~ g - 1", "~ -1 + g + x",
         "~ 0 + x + g", "~ 0 + g + h", "~ g + h", "~ 1", "~ 1 + x", "~ factor(n) + g", "~ 0 + factor(n)",
         "x + g", "~x+g", "~ factor(mixed)", "~ 0 + factor(mixed) + x", "~ g + factor(n) + h + x"]


def _both(formula):
    plain = moderators.design_matrix(COLUMNS, formula, LABELS)
    reference = moderators._formulaic_design(COLUMNS, formula, LABELS)
    return plain, reference


@pytest.mark.parametrize("formula", PLAIN)
def test_main_effects_are_coded_as_formulaic_codes_them(formula):
    assert moderators._plain_terms(formula) is not None
    plain, reference = _both(formula)
    assert plain.plain is not None and plain.spec is None
    assert plain.names == reference.names
    np.testing.assert_array_equal(plain.X, reference.X)
    assert plain.intercept == reference.intercept
    assert plain.terms == reference.terms
    assert moderators.formula_variables(formula) == [t.column for t in reference.terms]


@pytest.mark.parametrize("formula", [f for f in PLAIN if f not in ("~ 1",)])
def test_predictions_use_the_same_coding(formula):
    plain, reference = _both(formula)
    new = {"x": [2.5, 9.0], "g": ["c", "a"], "h": ["yes", "no"], "n": [30, 10], "mixed": ["2", "1.50"]}
    np.testing.assert_array_equal(plain.matrix(new), reference.matrix(new))


@pytest.mark.parametrize("formula", ["~ x:g", "~ x * g", "~ I(x^2)", "~ log(x)", "~ x + x", "~ x - g",
                                     '~ relevel(factor(g), ref = "b")', "~ C(g)", "~ 0", "~ `a b`",
                                     "~ factor(g):x", "~ x + log"])
def test_anything_else_goes_to_formulaic(formula):
    assert moderators._plain_terms(formula) is None


def test_errors_are_the_same_both_ways():
    bad = dict(COLUMNS, x=["1", "2", "3", "4", "5", "6", "7", "oops"], g=["a"] * 8)
    for formula in ("~ x", "~ g"):
        with pytest.raises(DataError) as plain:
            moderators.design_matrix(bad, formula, LABELS)
        with pytest.raises(DataError) as reference:
            moderators._formulaic_design(bad, formula, LABELS)
        assert str(plain.value) == str(reference.value)


def test_an_unknown_level_of_a_numeric_factor_is_named():
    design = moderators.design_matrix(COLUMNS, "~ factor(n)", LABELS)
    with pytest.raises(DataError, match=r"unknown level 40 of moderator factor\(n\); levels are: 10, 20, 30"):
        design.matrix({"n": [40]})


def test_collinear_columns_are_named():
    cols = dict(COLUMNS, z=[2 * v for v in COLUMNS["x"]])
    design = moderators.design_matrix(cols, "~ x + z", LABELS)
    with pytest.raises(DataError, match="coefficient 'z' is collinear"):
        moderators.check_rank(design.X, design.names, len(LABELS))
