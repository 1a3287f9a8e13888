"""Warm paths compile nothing: repeated closed forms, new data values, equal optimisers.

Compilations are counted with JAX's monitoring events (one
``/jax/core/compile/backend_compile_duration`` event per XLA compile). Shapes here are unusual
on purpose (n = 23, 37, ...), so that no other test file in the same worker has already
compiled the same program and a "first call" really is one.
"""

from __future__ import annotations

import contextlib

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxmle

# (The compile events of the process's one listener, tests/_compiles.py.)
from _compiles import _events
from jaxmle import _canonical
from jaxmle.closed_form import intercept_by_centring, ols, polyfit, ridge, wls


class _Count:
    """Compiles seen inside a ``with compiles() as c:`` block: ``c.n`` (and seconds ``c.s``)."""

    n = 0
    s = 0.0


@pytest.fixture
def compiles():
    """A context manager counting the XLA compilations in its block."""

    @contextlib.contextmanager
    def count():
        c = _Count()
        start = len(_events)
        try:
            yield c
        finally:
            c.n = len(_events) - start
            c.s = float(sum(_events[start:]))

    return count


# --------------------------------------------------------------------------------------------
# Closed-form linear regression.


@pytest.fixture(scope="module")
def linear():
    rng = np.random.default_rng(11)
    n, d = 23, 3
    X = rng.standard_normal((n, d)) * [1.0, 5.0, 0.2] + [0.0, 3.0, -1.0]
    y = 0.7 + X @ np.array([1.0, -0.5, 2.0]) + 0.3 * rng.standard_normal(n)
    w = rng.uniform(0.5, 2.0, n)
    return X, y, w


def _lstsq_ref(X, y, w=None):
    A = np.column_stack([np.ones(len(y)), X])
    sw = np.ones(len(y)) if w is None else np.sqrt(w)
    beta = np.linalg.lstsq(A * sw[:, None], y * sw, rcond=None)[0]
    r = (y - A @ beta) * sw
    cov = (r @ r / (len(y) - A.shape[1])) * np.linalg.inv((A * sw[:, None]).T @ (A * sw[:, None]))
    return beta, np.sqrt(np.diag(cov))


def test_ols_first_call_is_one_program_and_repeats_compile_nothing(linear, compiles):
    X, y, _ = linear
    with compiles() as first:
        fit = ols(X, y)
    assert first.n <= 1  # the kernel and every statistic: one program (0 if already cached)
    with compiles() as again:
        fit2 = ols(X, y)
        jax.block_until_ready(fit2.params)
    assert again.n == 0
    beta, se = _lstsq_ref(X, y)
    np.testing.assert_allclose(fit.params["intercept"], beta[0], rtol=1e-12)
    np.testing.assert_allclose(fit.params["coef"], beta[1:], rtol=1e-12)
    np.testing.assert_allclose(fit.stderr["coef"], se[1:], rtol=1e-10)
    np.testing.assert_array_equal(fit2.params["coef"], fit.params["coef"])


def test_ols_new_values_of_the_same_shapes_compile_nothing(linear, compiles):
    X, y, _ = linear
    ols(X, y)
    rng = np.random.default_rng(12)
    X2 = X + 0.1 * rng.standard_normal(X.shape)
    y2 = y[::-1].copy()
    # (jax.device_put, not jnp.asarray: that compiles a copy program per new shape.)
    X2d, y2d = jax.device_put((X2, y2))
    with compiles() as c:
        fits = [ols(X2, y2), ols(X2d, y2d)]  # host or device inputs
    assert c.n == 0
    beta, se = _lstsq_ref(X2, y2)
    for fit in fits:
        np.testing.assert_allclose(fit.params["coef"], beta[1:], rtol=1e-12)
        np.testing.assert_allclose(fit.stderr["intercept"], se[0], rtol=1e-10)


def test_known_noise_variance_is_traced(linear, compiles):
    X, y, _ = linear
    a = ols(X, y, noise_variance=2.0)
    with compiles() as c:
        b = ols(X, y, noise_variance=0.5)
    assert c.n == 0
    np.testing.assert_allclose(b.cov, 0.25 * a.cov, rtol=1e-13)


def test_wls_polyfit_ridge_centring_repeat_compile_nothing(linear, compiles):
    X, y, w = linear
    calls = {
        "wls": lambda s: wls(X, y * s, w),
        "polyfit": lambda s: polyfit(X[:, 0], y * s, 2),
        "ridge": lambda s: ridge(X, y * s, 0.5 * s, weight=w, prior_mean=np.ones(3)),
        "centring": lambda s: intercept_by_centring(X, y * s),
    }
    first = {k: f(1.0) for k, f in calls.items()}
    with compiles() as c:
        again = {k: f(2.0) for k, f in calls.items()}  # new values (and a new ridge penalty)
        jax.block_until_ready(again)
    assert c.n == 0
    beta, se = _lstsq_ref(X, y, w)
    np.testing.assert_allclose(first["wls"].params["coef"], beta[1:], rtol=1e-12)
    np.testing.assert_allclose(first["wls"].stderr["coef"], se[1:], rtol=1e-10)
    np.testing.assert_allclose(again["wls"].params["coef"], 2.0 * beta[1:], rtol=1e-12)
    ref = np.polynomial.polynomial.polyfit(X[:, 0], y, 2)
    np.testing.assert_allclose(first["polyfit"].params["coef"], ref[1:], rtol=1e-10)
    A = np.column_stack([np.ones(len(y)), X])
    P = 0.5 * np.diag([0.0, 1.0, 1.0, 1.0])
    m = np.array([0.0, 1.0, 1.0, 1.0])
    ref = np.linalg.solve(A.T @ (w[:, None] * A) + P, A.T @ (w * y) + P @ m)
    np.testing.assert_allclose(first["ridge"]["coef"], ref[1:], rtol=1e-11)
    np.testing.assert_allclose(first["centring"]["coef"], _lstsq_ref(X, y)[0][1:], rtol=1e-12)


# --------------------------------------------------------------------------------------------
# jaxmle.fit: equal optimisers built anew share the compiled program.

_X = np.random.default_rng(13).normal(1.5, 2.0, 37)
_MODEL = jaxmle.models.Gaussian()
_P0 = {"mean": 0.0, "variance": 1.0}  # away from the MLE, so that runs move


def _run(optimizer, steps=40, **kw):
    res = jaxmle.fit(_MODEL, _P0, _X, optimizer=optimizer, steps=steps, **kw)
    return jax.block_until_ready(res)


def _same(a, b):
    chex.assert_trees_all_equal(a, b)


def test_fresh_equal_adam_compiles_nothing(compiles):
    first = _run(optax.adam(1e-2))
    with compiles() as c:
        again = _run(optax.adam(1e-2))  # another object, equal settings
    assert c.n == 0
    _same(first, again)


def test_fresh_lbfgs_compiles_nothing_and_converges(compiles):
    first = _run(optax.lbfgs(), steps=30)
    with compiles() as c:
        again = _run(optax.lbfgs(), steps=30)
    assert c.n == 0
    _same(first, again)
    np.testing.assert_allclose(again.params["mean"], _X.mean(), rtol=1e-10)
    np.testing.assert_allclose(again.params["variance"], _X.var(), rtol=1e-10)


def test_different_adam_learning_rates_are_not_merged(compiles):
    a = _run(optax.adam(1e-2))
    with compiles() as c:
        b = _run(optax.adam(1e-3))
    assert c.n > 0  # a transformation's learning rate is a compile-time constant
    assert not np.array_equal(a.trace.params["mean"], b.trace.params["mean"])
    # The smaller rate moves the mean less in the same number of steps.
    start = _P0["mean"]
    assert abs(float(b.params["mean"]) - start) < abs(float(a.params["mean"]) - start)


def test_equal_schedule_built_anew_traces_once(compiles):
    chex.clear_trace_counter()

    @chex.assert_max_traces(n=1)
    def schedule(count):
        return 0.05 * 0.9**count

    first = _run(optax.sgd(schedule))
    with compiles() as c:
        again = _run(optax.sgd(schedule))  # a new sgd around the same schedule
    assert c.n == 0
    _same(first, again)


def test_new_learning_rate_via_hyperparams_compiles_nothing(compiles):
    a = _run(optax.adam, hyperparams={"learning_rate": 0.1})
    with compiles() as c:
        b = _run(optax.adam, hyperparams={"learning_rate": 0.05})
    assert c.n == 0
    assert not np.array_equal(a.trace.loss, b.trace.loss)
    # The same run as the transformation built with that rate (traced vs constant: rounding).
    ref = _run(optax.adam(0.05))
    np.testing.assert_allclose(b.trace.params["mean"], ref.trace.params["mean"], rtol=1e-12)


def test_new_line_search_object_compiles_nothing(compiles):
    ls = {"linesearch": optax.scale_by_zoom_linesearch(max_linesearch_steps=4)}
    a = _run(optax.lbfgs, steps=20, hyperparams=ls)
    with compiles() as c:
        ls = {"linesearch": optax.scale_by_zoom_linesearch(max_linesearch_steps=4)}
        b = _run(optax.lbfgs, steps=20, hyperparams=ls)
    assert c.n == 0
    _same(a, b)


def test_new_steps_compiles_the_run_program_only(compiles):
    # steps fixes the number of trace records (an output shape): the scan must be recompiled,
    # but initialisation and the summary are reused.
    _run(optax.adam, steps=41, hyperparams={"learning_rate": 0.1})
    with compiles() as c:
        res = _run(optax.adam, steps=43, hyperparams={"learning_rate": 0.1})
    assert c.n == 1
    assert res.trace.step.shape == (43,)


# --------------------------------------------------------------------------------------------
# The canonical key itself (no compilation).


def test_canonical_merges_equal_and_keeps_different_settings_apart():
    can = _canonical.canonical
    assert can(optax.adam(1e-2)) is can(optax.adam(1e-2))
    assert can(optax.lbfgs()) is can(optax.lbfgs())
    sched = optax.exponential_decay(0.1, 100, 0.5)
    assert can(optax.adam(sched)) is can(optax.adam(optax.exponential_decay(0.1, 100, 0.5)))
    different = [
        (optax.adam(1e-2), optax.adam(1e-3)),
        (optax.adam(1), optax.adam(1.0)),  # an int and a float rate trace differently
        (optax.adamw(1e-2), optax.adam(1e-2)),
        (optax.lbfgs(memory_size=5), optax.lbfgs(memory_size=6)),
        (optax.adam(optax.exponential_decay(0.1, 100, 0.5)),
         optax.adam(optax.exponential_decay(0.1, 100, 0.6))),
        (optax.sgd(lambda c: 0.1), optax.sgd(lambda c: 0.2)),  # the same bytecode
        (optax.sgd(jnp.asarray(0.1)), optax.sgd(jnp.asarray(0.2))),
        tuple(optax.sgd((lambda r: lambda c: r)(v)) for v in (0.1, 0.2)),  # closed-over values
        tuple(optax.sgd(lambda c, v=v: v) for v in (0.1, 0.2)),  # defaults
    ]  # fmt: skip
    for a, b in different:
        assert can(a) is not can(b)


_RATE = 0.1


def test_canonical_reads_globals_and_keeps_opaque_values_apart():
    global _RATE
    can = _canonical.canonical
    a = can(optax.sgd(lambda c: _RATE))
    _RATE = 0.2  # the same function text now means another rate
    assert can(optax.sgd(lambda c: _RATE)) is not a

    class Unhashable:
        __hash__ = None

        def __init__(self, v):
            self.v = v

    def closing_over(obj):
        return optax.sgd(lambda c: obj.v)

    c1, c2 = closing_over(Unhashable(0.1)), closing_over(Unhashable(0.1))
    assert can(c1) is c1 and can(c2) is c2  # cannot be described: identity, as before
