from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest

from jaxmle._errors import InputError
from jaxmle.data import from_decimal

TRICKY = [
    "0.1",
    "10000000.2",
    "-1e-300",
    "123456789.123456789",
    "3.141592653589793238462643383279",
    "-2.5",  # exact in binary: lo must be 0
    "1e22",  # exact in binary
    "1e23",  # not exact
    "  7.25e-3\r",  # whitespace as in a CRLF data file
    "1.7976931348623157e308",
]


def _nearest(q: Fraction) -> float:
    return float(q)  # Fraction -> float is correctly rounded


@pytest.mark.parametrize("text", TRICKY)
def test_pair_is_nearest_double_and_remainder(text):
    hi, lo = from_decimal([text])
    exact = Fraction(Decimal(text.strip()))
    assert hi[0] == _nearest(exact)
    assert lo[0] == _nearest(exact - Fraction(hi[0]))
    # hi + lo is the decimal to ~eps**2 relative (to half the smallest subnormal near 1e-300,
    # where lo is subnormal)
    bound = max(abs(exact) * Fraction(1, 2**104), Fraction(1, 2**1075))
    assert abs(Fraction(hi[0]) + Fraction(lo[0]) - exact) <= bound


def test_exact_binary_values_have_zero_tail():
    hi, lo = from_decimal(["-2.5", "1e22", "0", "-0", "0.5"])
    assert hi.tolist() == [-2.5, 1e22, 0.0, 0.0, 0.5]
    assert not lo.any()
    assert np.signbit(hi[3])  # "-0" keeps its sign


def test_known_tails():
    _, lo = from_decimal(["0.1", "10000000.2"])
    assert lo[0] == float(Fraction(1, 10) - Fraction(0.1))
    assert lo[1] == float(Fraction("10000000.2") - Fraction(10000000.2))
    assert lo[0] != 0 and lo[1] != 0


def test_shape_preserved_for_any_layout():
    grid = np.array([["1.1", "2.2", "3.3"], ["4.4", "5.5", "6.6"]])
    hi, lo = from_decimal(grid)
    assert hi.shape == lo.shape == (2, 3)
    assert hi.dtype == lo.dtype == np.float64
    np.testing.assert_array_equal(hi, grid.astype(float))
    hi3, _ = from_decimal([[["1"], ["2"]]])
    assert hi3.shape == (1, 2, 1)
    h0, l0 = from_decimal("0.1")
    assert h0.shape == l0.shape == ()
    he, le = from_decimal([])
    assert he.shape == le.shape == (0,)
    hb, _ = from_decimal([b"0.25", "0.5"])  # bytes, e.g. np.loadtxt(..., dtype=bytes)
    assert hb.tolist() == [0.25, 0.5]


@pytest.mark.parametrize(
    "values,match",
    [
        (["1.0", "abc"], r"`values`\[1\] is 'abc'"),
        (["nan"], "finite"),
        (["-inf"], "finite"),
        (["1e400"], "range"),
        ([["1", "2"], ["3", "1,5"]], r"`values`\[1, 1\]"),
        ([0.1, 0.2], "pass the decimal text"),  # already rounded to binary
        (["1", None], r"`values`\[1\]"),
    ],
)
def test_bad_input_names_argument(values, match):
    with pytest.raises(InputError, match=match):
        from_decimal(values)
