"""Error-free transformations and double-double kernels, checked in exact rational arithmetic."""

from fractions import Fraction

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmle import _numerics as nm


def _full_mantissa(rng, n):
    # Values with every mantissa bit set (the hardest case for a split) and spread exponents.
    m = 1.0 + (2.0**52 - 1) / 2.0**52
    return m * rng.choice([-1.0, 1.0], n) * 2.0 ** rng.integers(-40, 40, n)


@pytest.fixture(scope="module")
def operands():
    rng = np.random.default_rng(0)
    a = np.concatenate([_full_mantissa(rng, 300), rng.standard_normal(300) * 1e7])
    b = np.concatenate([_full_mantissa(rng, 300), rng.standard_normal(300) * 1e-7])
    return a, b


def test_two_prod_is_exact_under_jit(operands):
    a, b = operands
    p, e = map(np.asarray, jax.jit(nm.two_prod)(a, b))
    assert all(
        Fraction(p[i]) + Fraction(e[i]) == Fraction(a[i]) * Fraction(b[i]) for i in range(len(a))
    )


def test_two_sum_is_exact_under_jit(operands):
    a, b = operands
    s, e = map(np.asarray, jax.jit(nm.two_sum)(a, b))
    assert all(
        Fraction(s[i]) + Fraction(e[i]) == Fraction(a[i]) + Fraction(b[i]) for i in range(len(a))
    )


def test_dd_sum_cancellation():
    rng = np.random.default_rng(1)
    x = np.concatenate([[1e16, 1.0, -1e16, 3.14159e-5], rng.standard_normal(997)])
    h, lo = jax.jit(nm.dd_sum)(jnp.asarray(x))
    exact = sum(Fraction(v) for v in x)
    assert abs(float(Fraction(float(h)) + Fraction(float(lo)) - exact)) <= 1e-30 * np.abs(x).sum()
    assert abs(float(Fraction(np.sum(x)) - exact)) > 1e-3  # what float64 summation loses here


def test_dd_residual_and_transpose_product():
    rng = np.random.default_rng(2)
    A = _full_mantissa(rng, 40).reshape(8, 5)
    x = rng.standard_normal(5)
    y = A @ x  # residual is pure rounding error: the hardest case
    rh, rl = map(np.asarray, jax.jit(nm.dd_residual)(jnp.asarray(A), jnp.asarray(x), y))
    for i in range(8):
        exact = Fraction(y[i]) - sum(Fraction(A[i, j]) * Fraction(x[j]) for j in range(5))
        assert abs(Fraction(rh[i]) + Fraction(rl[i]) - exact) <= Fraction(1e-30) * sum(
            abs(Fraction(A[i, j]) * Fraction(x[j])) for j in range(5)
        )
    g = np.asarray(jax.jit(nm.dd_dot_t)(jnp.asarray(A), jnp.asarray(rh), jnp.asarray(rl)))
    for j in range(5):
        exact = sum(Fraction(A[i, j]) * (Fraction(rh[i]) + Fraction(rl[i])) for i in range(8))
        assert abs(Fraction(g[j]) - exact) <= abs(exact) * Fraction(2.3e-16) + Fraction(1e-300)


def test_dd_powers_and_pow2_scale():
    x = np.array([-8.781464495, 3.0, 0.1])
    hi, lo = map(np.asarray, nm.dd_powers(jnp.asarray(x), 10))
    for i, v in enumerate(x):
        for k in range(10):
            exact = Fraction(v) ** (k + 1)
            assert abs(Fraction(hi[i, k]) + Fraction(lo[i, k]) - exact) <= abs(exact) * Fraction(
                1e-30
            )
    s = np.asarray(nm.pow2_scale(jnp.array([3.0, 0.0, 1e-5])))
    assert np.all(np.log2(s) == np.round(np.log2(s)))
    assert s[1] == 1.0
