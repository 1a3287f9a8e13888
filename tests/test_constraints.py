"""Constraints: round trips in float64 (eager and jitted), domains, stability, gradients."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmle.models import (
    Constraint,
    positive,
    positive_definite,
    real,
    simplex,
    unit_interval,
)

RTOL = 1e-12


def _spd(rng, k):
    A = rng.standard_normal((k, k))
    return A @ A.T + k * np.eye(k)


# name -> (constraint, natural sample, unconstrained sample)
def _cases(rng):
    L = np.tril(rng.standard_normal((3, 3)))  # lower triangular: the PD bijection's domain
    return {
        "real": (real, rng.standard_normal(5), rng.standard_normal(5)),
        "positive": (positive, np.exp(rng.standard_normal(5)), rng.standard_normal(5)),
        "unit_interval": (
            unit_interval,
            rng.uniform(1e-3, 1 - 1e-3, 5),
            rng.standard_normal(5) * 3,
        ),
        "positive_definite": (positive_definite, _spd(rng, 3), L),
        "simplex": (simplex, rng.dirichlet(np.ones(4)), rng.standard_normal(3)),
    }


CASES = _cases(np.random.default_rng(0))


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("jit", [False, True])
def test_round_trips(name, jit):
    c, x, u = CASES[name]
    assert isinstance(c, Constraint) and c.name == name
    fwd = jax.jit(c.to_natural) if jit else c.to_natural
    inv = jax.jit(c.to_unconstrained) if jit else c.to_unconstrained
    x, u = jnp.asarray(x), jnp.asarray(u)
    np.testing.assert_allclose(fwd(inv(x)), x, rtol=RTOL, atol=1e-14)
    np.testing.assert_allclose(inv(fwd(u)), u, rtol=RTOL, atol=1e-13)
    assert fwd(u).dtype == jnp.float64 and inv(x).dtype == jnp.float64


def test_domains():
    rng = np.random.default_rng(1)
    u = jnp.asarray(rng.standard_normal(7) * 50)
    assert jnp.all(positive.to_natural(u) > 0)
    p = unit_interval.to_natural(u)
    assert jnp.all((p >= 0) & (p <= 1))
    s = simplex.to_natural(u)
    assert s.shape == (8,) and jnp.all(s >= 0)
    np.testing.assert_allclose(jnp.sum(s), 1.0, rtol=1e-15)
    S = positive_definite.to_natural(jnp.asarray(rng.standard_normal((4, 4))))
    np.testing.assert_array_equal(S, S.T)
    assert jnp.all(jnp.linalg.eigvalsh(S) > 0)


def test_pd_ignores_upper_triangle():
    u = jnp.asarray(np.random.default_rng(2).standard_normal((3, 3)))
    S = positive_definite.to_natural(u)
    np.testing.assert_array_equal(S, positive_definite.to_natural(jnp.tril(u)))
    np.testing.assert_allclose(positive_definite.to_unconstrained(S), jnp.tril(u), rtol=RTOL)


def test_unit_interval_is_stable_at_the_ends():
    x = jnp.asarray([1e-300, 1e-20, 1 - 1e-12])
    u = unit_interval.to_unconstrained(x)
    assert jnp.all(jnp.isfinite(u))
    np.testing.assert_allclose(unit_interval.to_natural(u), x, rtol=1e-9)
    np.testing.assert_allclose(u[0], np.log(1e-300), rtol=1e-15)


@pytest.mark.parametrize("name", list(CASES))
def test_gradients_are_finite(name):
    c, x, u = CASES[name]
    g = jax.grad(lambda v: jnp.sum(c.to_natural(v) ** 2))(jnp.asarray(u))
    assert jnp.all(jnp.isfinite(g))
    g = jax.grad(lambda v: jnp.sum(c.to_unconstrained(v)))(jnp.asarray(x))
    assert jnp.all(jnp.isfinite(g))


def test_positive_definite_gradient_matches_finite_difference():
    u = jnp.asarray(np.tril(np.random.default_rng(3).standard_normal((2, 2))))

    def f(v):
        return jnp.sum(positive_definite.to_natural(v)[jnp.array([0, 1, 1]), jnp.array([0, 0, 1])])

    f = jax.jit(f)
    g = jax.jit(jax.grad(f))(u)
    h = 1e-6
    for i, j in [(0, 0), (1, 0), (1, 1)]:
        e = jnp.zeros((2, 2)).at[i, j].set(h)
        np.testing.assert_allclose(g[i, j], (f(u + e) - f(u - e)) / (2 * h), rtol=1e-7)
    assert g[0, 1] == 0.0
