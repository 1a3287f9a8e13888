"""Two compilation tiers (jaxmle._tiered): small inputs compiled quick, large ones optimised.

Which program runs must never matter for the values beyond rounding; one signature always runs
one program (a repeated call returns the same bits and compiles nothing).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import statsmodels.api as sm

import jaxmle
from _compiles import compiles
from jaxmle import _tiered
from jaxmle.families import Poisson

pytestmark = pytest.mark.skipif(jax.default_backend() != "cpu", reason="tiers are CPU-only")


def _poisson(n=150, p=5, seed=0):
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), 0.3 * rng.normal(size=(n, p - 1))])
    y = rng.poisson(np.exp(0.4 + X[:, 1:].sum(1) * 0.2)).astype(float)
    return X, y


def test_small_inputs_compile_quick_once_and_repeat_bit_for_bit():
    f = _tiered.TieredJit(lambda x, k: jnp.cumsum(jnp.sin(x)) * k, static_argnames=("k",))
    x = np.linspace(0.0, 1.0, 7)
    with compiles() as c:
        a = f(x, k=2.0)
    assert c["n"] == 1 and f.tier(x, k=2.0) == "quick"
    assert f._quick._cache_size() == 1 and f._full._cache_size() == 0
    np.testing.assert_allclose(a, 2.0 * np.cumsum(np.sin(x)), rtol=1e-15)
    with compiles() as c:  # the same call, new values, a device array: nothing compiles
        b = f(x, k=2.0)
        f(x + 1.0, k=2.0)
        f(jax.device_put(x), k=2.0)
    assert c["n"] == 0
    np.testing.assert_array_equal(a, b)


def test_large_inputs_get_the_optimised_program():
    f = _tiered.TieredJit(lambda x: jnp.sum(x**2), quick_max=100)
    small, large = np.ones(100), np.ones(101)
    f(small)
    f(large)
    assert f.tier(small) == "quick" and f.tier(large) == "optimised"
    assert f._quick._cache_size() == 1 and f._full._cache_size() == 1


def test_error_free_arithmetic_is_never_compiled_quick():
    from jaxmle._numerics import two_prod

    f = _tiered.TieredJit(lambda a, b: two_prod(a, b)[1])
    a, b = np.float64(1.0 + 2.0**-30), np.float64(1.0 - 2.0**-30)
    assert float(f(a, b)) == -(2.0**-60)  # the exact error of the rounded product
    assert f.tier(a, b) == "optimised" and f._quick._cache_size() == 0


def test_inside_jit_and_vmap_the_caller_compiles():
    f = _tiered.TieredJit(lambda x: x * 2.0)
    out = jax.jit(jax.vmap(f))(jnp.arange(3.0))
    np.testing.assert_array_equal(out, [0.0, 2.0, 4.0])
    assert not f._tier


def test_disabled_by_environment(monkeypatch):
    monkeypatch.setenv("JAXMLE_TIERED", "0")
    f = _tiered.TieredJit(lambda x: x + 1.0)
    f(np.ones(2))
    assert f._quick._cache_size() == 0 and f._full._cache_size() == 1 and not f._tier


def test_glm_quick_and_optimised_programs_agree_to_rounding(monkeypatch):
    # One Poisson fit from each program: each is the score root to rounding (checked in numpy)
    # and they agree with each other and with statsmodels.
    X, y = _poisson()
    prog = jaxmle._irls._program_cpu
    quick = jaxmle.glm(y, X, family=Poisson())
    assert any(fn is prog._quick for fn in prog._tier.values())  # 150 × 5: small
    monkeypatch.setenv("JAXMLE_TIERED", "0")  # the optimised program for the same signature
    full = jaxmle.glm(y, X, family=Poisson())
    ref = sm.GLM(y, X, family=sm.families.Poisson()).fit(tol=1e-14)
    scale = np.max(np.abs(X.T @ y))
    for res in (quick, full):
        b = np.asarray(res.params)
        assert np.max(np.abs(X.T @ (y - np.exp(X @ b)))) < 1e-12 * scale
        np.testing.assert_allclose(b, ref.params, rtol=1e-10)
    np.testing.assert_allclose(np.asarray(quick.params), np.asarray(full.params), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(quick.bse), np.asarray(full.bse), rtol=1e-12)
