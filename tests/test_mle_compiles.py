"""``jaxmle.mle`` on warm paths compiles nothing: counted, not timed.

Compilations are counted with JAX's own monitoring event (one per backend compile), so an
eager op that compiles per call (a fresh closure, a new static value) shows up here. Values
are checked against independent references (statsmodels, numpy) at the same time.
"""

import contextlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import statsmodels.api as sm
from jax import monitoring

import jaxmle

_COMPILES: list[float] = []


def _listener(event: str, duration: float, **kw) -> None:
    if event == "/jax/core/compile/backend_compile_duration":
        _COMPILES.append(duration)


monitoring.register_event_duration_secs_listener(_listener)


@contextlib.contextmanager
def count_compiles():
    """Yields a list whose length is the number of backend compiles inside the block."""
    start = len(_COMPILES)
    out: list[int] = []
    try:
        yield out
    finally:
        out.append(len(_COMPILES) - start)


RNG = np.random.default_rng(11)
N, P = 60, 3
X = RNG.normal(size=(N, P))
B = np.array([0.5, -0.3, 0.2])
Y = RNG.poisson(np.exp(0.3 + X @ B)).astype(float)
XC = np.column_stack([np.ones(N), X])


def poisson_log_prob(b, d):
    eta = d["X"] @ b
    return d["y"] * eta - jnp.exp(eta) - jax.scipy.special.gammaln(d["y"] + 1.0)


@pytest.fixture(scope="module")
def poisson_first():
    return jaxmle.mle(poisson_log_prob, {"X": XC, "y": Y}, jnp.zeros(P + 1))


def test_first_call_is_one_program_and_matches_statsmodels(poisson_first):
    ref = sm.GLM(Y, XC, family=sm.families.Poisson()).fit(tol=1e-14)
    assert poisson_first.converged
    np.testing.assert_allclose(poisson_first.params, ref.params, rtol=1e-9)
    np.testing.assert_allclose(poisson_first.stderr, ref.bse, rtol=1e-7)
    with count_compiles() as n:
        jaxmle.mle(poisson_log_prob, {"X": XC, "y": Y + 0.0}, np.zeros(P + 1))
    assert n == [0]


def test_repeated_call_and_new_values_compile_nothing(poisson_first):
    y2 = RNG.poisson(np.exp(0.1 + X @ B)).astype(float)
    with count_compiles() as n:
        again = jaxmle.mle(poisson_log_prob, {"X": XC, "y": Y}, jnp.zeros(P + 1))
        other = jaxmle.mle(poisson_log_prob, {"X": XC * 1.01, "y": y2}, np.full(P + 1, 0.1))
    assert n == [0]
    np.testing.assert_array_equal(again.params, poisson_first.params)
    ref = sm.GLM(y2, XC * 1.01, family=sm.families.Poisson()).fit(tol=1e-14)
    np.testing.assert_allclose(other.params, ref.params, rtol=1e-9)


def test_numpy_and_jax_inputs_share_a_program(poisson_first):
    on_device = {"X": jnp.asarray(XC), "y": jnp.asarray(Y)}  # (device_put compiles a copy)
    with count_compiles() as n:
        res = jaxmle.mle(poisson_log_prob, on_device, np.zeros(P + 1))
    assert n == [0]
    np.testing.assert_array_equal(res.params, poisson_first.params)


def test_model_path_warm_compiles_nothing():
    spector = sm.datasets.spector.load_pandas()
    data = {"X": spector.exog.to_numpy(float), "y": spector.endog.to_numpy(float)}
    model = jaxmle.models.LogisticRegression()
    first = jaxmle.mle(model, data)
    with count_compiles() as n:
        second = jaxmle.mle(jaxmle.models.LogisticRegression(), dict(data))
    assert n == [0]
    ref = sm.Logit(data["y"], sm.add_constant(data["X"])).fit(disp=0, tol=1e-14)
    coef = np.concatenate([[float(second.params["intercept"])], second.params["coef"]])
    np.testing.assert_allclose(coef, ref.params, rtol=1e-8)
    np.testing.assert_array_equal(first.params["coef"], second.params["coef"])


def test_a_shape_error_is_raised_when_traced_and_every_time():
    def summed(b, d):  # a summed log-likelihood: the engine must refuse it
        return jnp.sum(poisson_log_prob(b, d))

    for _ in range(2):  # (a failed trace caches nothing: the second call fails the same way)
        with pytest.raises(jaxmle.InputError, match="one log-density per observation"):
            jaxmle.mle(summed, {"X": XC, "y": Y}, jnp.zeros(P + 1))
