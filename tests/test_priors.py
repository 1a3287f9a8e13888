"""Priors: densities against scipy.stats, the scale/variance ambiguity, checks, pytrees."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats as st

from jaxmle._errors import InputError
from jaxmle.models import Beta, Normal, Prior, Uniform

RTOL = 1e-12
rng = np.random.default_rng(0)


def test_normal_scale_and_variance_against_scipy():
    v = rng.standard_normal(20)
    loc, sigma = 0.5, 0.1
    want = st.norm.logpdf(v, loc, sigma)
    np.testing.assert_allclose(Normal(loc, scale=sigma).log_prob(v), want, rtol=RTOL)
    np.testing.assert_allclose(
        Normal(loc, variance=0.1).log_prob(v), st.norm.logpdf(v, loc, np.sqrt(0.1)), rtol=RTOL
    )
    # array hyperparameters broadcast elementwise
    locs, scales = rng.standard_normal(20), np.exp(rng.standard_normal(20))
    np.testing.assert_allclose(
        Normal(locs, scale=scales).log_prob(v), st.norm.logpdf(v, locs, scales), rtol=RTOL
    )


def test_beta_against_scipy():
    v = rng.uniform(0.01, 0.99, 20)
    np.testing.assert_allclose(Beta(2.5, 0.7).log_prob(v), st.beta.logpdf(v, 2.5, 0.7), rtol=RTOL)
    assert Beta(2.0, 2.0).log_prob(1.5) == -np.inf


def test_uniform_against_scipy():
    v = rng.uniform(-1.0, 3.0, 20)
    got = Uniform(-0.5, 2.0).log_prob(v)
    want = st.uniform.logpdf(v, -0.5, 2.5)
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    np.testing.assert_allclose(got, want, rtol=RTOL)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({}, "got neither"),
        ({"scale": 0.1, "variance": 0.01}, "got both"),
        ({"scale": 0.0}, "`scale` must be a positive"),
        ({"scale": -1.0}, "`scale` must be a positive"),
        ({"variance": -1.0}, "`variance` must be a positive"),
        ({"variance": np.inf}, "`variance` must be a positive"),
    ],
)
def test_normal_rejects_ambiguous_or_bad_spread(kwargs, match):
    with pytest.raises(InputError, match=match):
        Normal(0.5, **kwargs)


def test_normal_spread_is_keyword_only():
    with pytest.raises(TypeError):
        Normal(0.5, 0.1)
    with pytest.raises(InputError, match="`loc` must be finite"):
        Normal(np.nan, scale=1.0)


def test_beta_and_uniform_checks():
    with pytest.raises(InputError, match="`a` must be a positive"):
        Beta(0.0, 1.0)
    with pytest.raises(InputError, match="`b` must be a positive"):
        Beta(1.0, -2.0)
    with pytest.raises(InputError, match="`low` must be smaller than `high`"):
        Uniform(1.0, 1.0)
    with pytest.raises(InputError, match="`high` must be finite"):
        Uniform(0.0, np.inf)


def test_reprs():
    assert repr(Normal(0.5, variance=0.01)) == "Normal(loc=0.5, scale=0.1)"
    assert repr(Beta(2.0, 3.0)) == "Beta(a=2, b=3)"
    assert repr(Uniform(0, 1)) == "Uniform(low=0, high=1)"
    assert "scale=[1., 2.]" in repr(Normal(np.zeros(2), scale=[1.0, 2.0]))


@pytest.mark.parametrize(
    "prior", [Normal(0.5, scale=0.3), Beta(2.0, 3.0), Uniform(0.0, 2.0)], ids=repr
)
def test_priors_are_pytrees(prior):
    assert isinstance(prior, Prior)
    leaves, treedef = jax.tree_util.tree_flatten(prior)
    assert len(leaves) == 2
    v = jnp.asarray([0.2, 0.7])
    jitted = jax.jit(lambda p, x: p.log_prob(x))(prior, v)
    np.testing.assert_allclose(jitted, prior.log_prob(v), rtol=RTOL)
    # JAX rebuilds pytrees with placeholder leaves (vmap's axis specs): no checks may fire.
    jax.tree_util.tree_unflatten(treedef, [object()] * len(leaves))
    # A batch of priors built from traced hyperparameters under vmap.
    scales = jnp.asarray([0.5, 1.0, 2.0])
    lp = jax.vmap(lambda s: Normal(0.0, scale=s).log_prob(1.0))(scales)
    np.testing.assert_allclose(lp, st.norm.logpdf(1.0, 0.0, scales), rtol=RTOL)
