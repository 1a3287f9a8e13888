"""Sufficient statistics (``Model.suff_stats``) and the engine's summed-statistics objective.

Oracles: ``scipy.stats`` log-densities summed over the same rows (values), ``jax.grad`` of the
row-by-row log-likelihood (gradients), and ``fit``/``sweep`` with ``sufficient_stats=False``
(whole runs: the two objectives differ only by rounding, so runs agree to ~1e-12).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from scipy import stats as sps

import jaxmle
from jaxmle import models

_rng = np.random.default_rng(7)
_X1 = _rng.normal(1.5, 2.0, 64)
_COV3 = np.array([[2.0, 0.3, -0.2], [0.3, 1.0, 0.1], [-0.2, 0.1, 0.5]])
_X3 = _rng.multivariate_normal([1.0, -1.0, 0.5], _COV3, 64)
_B = _rng.binomial(1, 0.3, 64).astype(float)
_C = _rng.poisson(3.0, 64).astype(float)
_SUBSET = _rng.integers(0, 64, 40)  # rows with repeats, as a minibatch with replacement

# (model, data, params, scipy reference log-density summed over rows)
CASES = {
    "gaussian-known": (
        models.Gaussian(variance=3.0), _X1, {"mean": 0.7},
        lambda x, p: sps.norm.logpdf(x, p["mean"], np.sqrt(3.0)).sum(),
    ),
    "gaussian": (
        models.Gaussian(), _X1, {"mean": 0.7, "variance": 2.5},
        lambda x, p: sps.norm.logpdf(x, p["mean"], np.sqrt(p["variance"])).sum(),
    ),
    "mvn-known": (
        models.MultivariateGaussian(cov=_COV3), _X3, {"mean": np.array([0.5, -0.2, 0.1])},
        lambda x, p: sps.multivariate_normal(p["mean"], _COV3).logpdf(x).sum(),
    ),
    "mvn": (
        models.MultivariateGaussian(), _X3,
        {"mean": np.array([0.5, -0.2, 0.1]), "cov": _COV3 + 0.2 * np.eye(3)},
        lambda x, p: sps.multivariate_normal(p["mean"], p["cov"]).logpdf(x).sum(),
    ),
    "bernoulli": (
        models.Bernoulli(), _B, {"prob": 0.35},
        lambda x, p: sps.bernoulli.logpmf(x, p["prob"]).sum(),
    ),
    "poisson": (
        models.Poisson(), _C, {"rate": 2.5},
        lambda x, p: sps.poisson.logpmf(x, p["rate"]).sum(),
    ),
}  # fmt: skip


def _from_stats(model, data, params, rows_idx=None):
    rows, anchor = model.suff_stats(jnp.asarray(data))
    sub = rows if rows_idx is None else rows[rows_idx]
    count = jnp.asarray(float(sub.shape[0]))
    p = jax.tree_util.tree_map(jnp.asarray, params)
    return model.log_lik_from_stats(p, sub.sum(0), count, anchor)


@pytest.mark.parametrize("name", list(CASES))
def test_log_lik_from_stats_matches_scipy_on_all_rows_and_a_subset(name):
    model, data, params, ref = CASES[name]
    np.testing.assert_allclose(_from_stats(model, data, params), ref(data, params), rtol=1e-12)
    np.testing.assert_allclose(
        _from_stats(model, data, params, _SUBSET), ref(data[_SUBSET], params), rtol=1e-12
    )


@pytest.mark.parametrize("name", list(CASES))
def test_gradient_from_stats_matches_row_by_row_gradient(name):
    model, data, params, _ = CASES[name]
    p = jax.tree_util.tree_map(jnp.asarray, params)
    rows, anchor = model.suff_stats(jnp.asarray(data))
    sub = rows[_SUBSET]
    g_stats = jax.grad(lambda q: model.log_lik_from_stats(q, sub.sum(0), 40.0, anchor))(p)
    g_rows = jax.grad(lambda q: model.log_prob(q, jnp.asarray(data[_SUBSET])).sum())(p)
    for a, b in zip(jax.tree_util.tree_leaves(g_stats), jax.tree_util.tree_leaves(g_rows),
                    strict=True):  # fmt: skip
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_centring_keeps_the_loss_exact_for_data_far_from_zero():
    # NumAcc4-like data: mean 1e7, spread 0.1. Uncentred sums Σx² − 2μΣx + nμ² would lose
    # ~16 digits to cancellation; centring at the sample mean keeps them.
    x = 1e7 + _rng.normal(0.0, 0.1, 200)
    model = models.Gaussian(variance=0.01)
    for mean in (1e7 + 0.003, 1e7 - 0.5, 0.0):
        ref = sps.norm.logpdf(x, mean, 0.1).sum()
        np.testing.assert_allclose(_from_stats(model, x, {"mean": mean}), ref, rtol=1e-12)


def test_models_without_statistics():
    assert models.LogisticRegression().suff_stats({"X": jnp.ones((3, 1)), "y": jnp.ones(3)}) is None
    assert models.LinearRegression().suff_stats({"X": jnp.ones((3, 1)), "y": jnp.ones(3)}) is None
    # Unknown covariance carries k² numbers a row: beyond k = 8 the row path gathers less.
    assert models.MultivariateGaussian().suff_stats(jnp.ones((4, 9))) is None


# --------------------------------------------------------------------------------------------
# The engine: runs with and without statistics agree to rounding.

_RUNS = {
    "gaussian-minibatch": (models.Gaussian(), _X1, dict(batch_size=8)),
    "mvn-full-batch": (models.MultivariateGaussian(cov=_COV3), _X3, dict(batch_size=None)),
    "mvn-cov-epochs": (models.MultivariateGaussian(), _X3, dict(batch_size=16, replace=False)),
    "bernoulli-sum-prior": (
        models.Bernoulli(prior={"prob": models.Beta(2.0, 3.0)}), _B,
        dict(batch_size=5, reduction="sum"),
    ),
    "poisson-minibatch": (models.Poisson(), _C, dict(batch_size=10)),
}  # fmt: skip


@pytest.mark.parametrize("name", list(_RUNS))
def test_fit_with_and_without_statistics_agree(name):
    model, data, kw = _RUNS[name]
    lr = 0.002 if kw.get("reduction") == "sum" else 0.05
    common = dict(optimizer=optax.adam, hyperparams={"learning_rate": lr}, steps=60,
                  key=jax.random.key(3), **kw)  # fmt: skip
    fast = jaxmle.fit(model, model.init(data), data, sufficient_stats=True, **common)
    slow = jaxmle.fit(model, model.init(data), data, sufficient_stats=False, **common)
    for a, b in zip(jax.tree_util.tree_leaves(fast.params), jax.tree_util.tree_leaves(slow.params),
                    strict=True):  # fmt: skip
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(fast.trace.loss, slow.trace.loss, rtol=1e-11)
    np.testing.assert_allclose(fast.trace.grad_norm, slow.trace.grad_norm, rtol=1e-9, atol=1e-13)
    assert not bool(fast.diverged)


def test_masked_sweep_with_and_without_statistics_agree():
    model = models.MultivariateGaussian(cov=_COV3)
    kw = dict(optimizer={"sgd": optax.sgd}, steps=40, key=jax.random.key(5),
              grid={"learning_rate": [0.05, 0.3], "batch_size": [2, 9], "seed": [0, 1]},
              strategy="masked", reference=model.closed_form(_X3))  # fmt: skip
    fast = jaxmle.sweep(model, model.init(_X3), _X3, **kw)
    slow = jaxmle.sweep(model, model.init(_X3), _X3, sufficient_stats=False, **kw)
    assert fast.meta["sufficient_stats"] and not slow.meta["sufficient_stats"]
    np.testing.assert_allclose(fast.params["mean"], slow.params["mean"], rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(fast.distance, slow.distance, rtol=1e-9, atol=1e-13)


def test_sufficient_stats_true_needs_a_model_that_has_them():
    data = {"X": _X3, "y": (_X3[:, 0] > 1).astype(float)}
    model = models.LogisticRegression()
    with pytest.raises(jaxmle.InputError, match="sufficient_stats"):
        jaxmle.fit(model, model.init(data), data, optimizer=optax.sgd(0.1), steps=2,
                   sufficient_stats=True)  # fmt: skip
    with pytest.raises(jaxmle.InputError, match="sufficient_stats"):
        jaxmle.fit(lambda p, x: -((x - p) ** 2), 0.0, _X1, optimizer=optax.sgd(0.1), steps=2,
                   sufficient_stats=True)  # fmt: skip
    with pytest.raises(jaxmle.InputError, match="sufficient_stats"):
        jaxmle.fit(models.Poisson(), {"rate": 1.0}, _C, optimizer=optax.sgd(0.1), steps=2,
                   sufficient_stats="yes")  # fmt: skip
