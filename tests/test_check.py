"""``jaxmle.check``: per-leaf errors against hand-computed values, the tolerance boundary,
batch axes, bad input and the printed table.

The values are dyadic rationals, so every error and every tolerance product below is exact in
float64 and the boundary cases are decided exactly.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import jaxmle

EST = {"a": jnp.array([1.0, 2.5, 3.0]), "b": jnp.asarray(10.0)}
REF = {"a": jnp.array([1.0, 2.0, 4.0]), "b": jnp.asarray(8.0)}
# a: |diff| = (0, 0.5, 1) -> abs 1, max|ref| 4 -> rel 0.25;  b: abs 2, rel 0.25


def test_per_leaf_errors():
    r = jaxmle.check(EST, REF, rtol=0.5)
    assert float(r.abs_err["a"]) == 1.0
    assert float(r.abs_err["b"]) == 2.0
    assert float(r.rel_err["a"]) == 0.25
    assert float(r.rel_err["b"]) == 0.25
    assert bool(r.passed["a"]) and bool(r.passed["b"]) and bool(r.ok)
    assert r.rtol == 0.5 and r.atol == 0.0


def test_identical_passes_at_zero_tolerance():
    r = jaxmle.check(EST, EST, rtol=0.0)
    assert bool(r.ok)
    assert float(r.abs_err["a"]) == 0.0 and float(r.rel_err["b"]) == 0.0


@pytest.mark.parametrize(
    ("rtol", "atol", "passed_a"),
    [
        (0.25, 0.0, True),  # 1 <= 0.25 * 4
        (np.nextafter(0.25, 0.0), 0.0, False),
        (0.0, 1.0, True),  # 1 <= 1
        (0.0, np.nextafter(1.0, 0.0), False),
        (0.125, 0.5, True),  # 1 <= 0.5 + 0.125 * 4
        (0.124, 0.5, False),  # 1 > 0.5 + 0.496 (one ulp less would round back to 1)
    ],
)
def test_tolerance_boundary(rtol, atol, passed_a):
    r = jaxmle.check({"a": EST["a"]}, {"a": REF["a"]}, rtol=rtol, atol=atol)
    assert bool(r.passed["a"]) is passed_a
    assert bool(r.ok) is passed_a


def test_ok_needs_every_leaf():
    # rtol 0.2 alone: a fails (1 > 0.8), b fails (2 > 1.6); atol 0.25 rescues a only
    # (1 <= 1.05, 2 > 1.85).
    r = jaxmle.check(EST, REF, rtol=0.2, atol=0.25)
    assert bool(r.passed["a"]) and not bool(r.passed["b"]) and not bool(r.ok)


def test_nan_estimate_fails():
    r = jaxmle.check({"a": jnp.array([1.0, jnp.nan])}, {"a": jnp.array([1.0, 2.0])}, rtol=1e9)
    assert not bool(r.passed["a"]) and not bool(r.ok)


def test_zero_reference_relative_error_is_huge_not_nan():
    r = jaxmle.check({"a": jnp.array([1e-3])}, {"a": jnp.array([0.0])}, atol=1e-2)
    assert bool(r.ok)  # atol decides
    assert np.isfinite(r.rel_err["a"]) and float(r.rel_err["a"]) > 1e300


def test_batch_dims_sweep_shaped():
    # Three runs (a sweep's grid axis) of a 2-vector against one reference.
    est = {"mean": jnp.array([[1.0, 2.0], [1.5, 2.0], [1.0, 0.0]]), "s": jnp.array([1.0, 2.0, 4.0])}
    ref = {"mean": jnp.array([1.0, 2.0]), "s": jnp.asarray(2.0)}
    r = jaxmle.check(est, ref, rtol=0.25, batch_dims=1)
    np.testing.assert_array_equal(r.abs_err["mean"], [0.0, 0.5, 2.0])
    np.testing.assert_array_equal(r.rel_err["mean"], [0.0, 0.25, 1.0])
    np.testing.assert_array_equal(r.abs_err["s"], [1.0, 0.0, 2.0])
    np.testing.assert_array_equal(r.rel_err["s"], [0.5, 0.0, 1.0])
    np.testing.assert_array_equal(r.passed["mean"], [True, True, False])
    np.testing.assert_array_equal(r.passed["s"], [False, True, False])
    np.testing.assert_array_equal(r.ok, [False, True, False])


def test_batch_dims_two_grid_axes():
    est = jnp.arange(12.0).reshape(2, 3, 2)
    ref = jnp.array([0.0, 1.0])
    r = jaxmle.check(est, ref, rtol=0.0, batch_dims=2)
    assert r.abs_err.shape == (2, 3) and r.ok.shape == (2, 3)
    expected = np.abs(np.arange(12.0).reshape(2, 3, 2) - [0.0, 1.0]).max(-1)
    np.testing.assert_array_equal(r.abs_err, expected)
    np.testing.assert_array_equal(r.ok, expected == 0)


def test_structure_mismatch_raises():
    with pytest.raises(jaxmle.InputError, match="structure"):
        jaxmle.check({"a": 1.0}, {"b": 1.0})
    with pytest.raises(jaxmle.InputError, match="structure"):
        jaxmle.check({"a": 1.0, "b": 2.0}, {"a": 1.0})


def test_negative_tolerance_raises():
    with pytest.raises(jaxmle.InputError, match="rtol"):
        jaxmle.check(EST, REF, rtol=-1.0)
    with pytest.raises(jaxmle.InputError, match="atol"):
        jaxmle.check(EST, REF, atol=-1.0)


def test_str_prints_a_table():
    text = str(jaxmle.check(EST, REF, rtol=0.2, atol=0.25))
    lines = text.splitlines()
    assert len(lines) == 3
    assert "abs err" in lines[0] and "rel err" in lines[0] and "rtol=0.2" in lines[0]
    assert "atol=0.25" in lines[0]
    a_line, b_line = lines[1], lines[2]
    assert "a" in a_line and "1.000e+00" in a_line and "2.500e-01" in a_line
    assert a_line.rstrip().endswith("True")
    assert "b" in b_line and "2.000e+00" in b_line and b_line.rstrip().endswith("False")


def test_str_of_bare_array():
    text = str(jaxmle.check(jnp.array([1.0, 2.0]), jnp.array([1.0, 2.0])))
    assert "value" in text.splitlines()[1] and "True" in text
