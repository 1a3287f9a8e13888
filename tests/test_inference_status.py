"""Inference never says "ok" about an estimate that is not converged.

References: statsmodels' Logit MLE on the `fair` data (a converged fit keeps status 0 and its
p-values; an L-BFGS run stopped at 50 steps does not), and the hand-derived Newton step of a
Gaussian mean, δ/se = (x̄ − μ)√n/σ.
"""

import dataclasses
import warnings
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxmle
from jaxmle import Status, inference
from jaxmle.models import Gaussian, LinearRegression, LogisticRegression, Normal

sm = pytest.importorskip("statsmodels.api")


def status_line(s):
    return next(line for line in str(s).splitlines() if "Status:" in line).rstrip()


@pytest.fixture(scope="module")
def fair():
    d = sm.datasets.fair.load_pandas().data
    y = (d["affairs"] > 0).to_numpy(float)
    X = d.drop(columns=["affairs"]).to_numpy(float)
    ref = sm.Logit(y, sm.add_constant(X)).fit(disp=0, tol=1e-12)
    return {"X": X, "y": y}, ref


def test_lbfgs_stopped_short_is_not_converged_but_the_mle_is(fair):
    import optax

    data, ref = fair
    model = LogisticRegression()
    run = jaxmle.fit(model, model.init(data), data, optimizer=optax.lbfgs(), steps=50)
    coef = np.asarray(run.params["coef"])
    assert np.max(np.abs(coef / ref.params[1:])) > 4.0  # measured: one coefficient 4.7× off
    with pytest.warns(RuntimeWarning, match="not converged.*standard errors"):
        s = inference.summary(model, run.params, data)  # bare params: the stationarity check
    assert int(s.status) == Status.NOT_CONVERGED and not bool(s.converged)
    assert np.all(np.isnan(s.stderr)) and np.all(np.isnan(s.pvalue)) and np.all(np.isnan(s.cov))
    assert np.max(np.abs(s.newton_step)) > 1.0  # several standard errors from the MLE
    with pytest.warns(RuntimeWarning, match="not converged"):  # the FitResult itself
        r = inference.summary(model, run, data)
    # Its own code (MAX_STEPS once fit reports a status; NOT_CONVERGED from `converged`).
    assert int(r.status) in (Status.MAX_STEPS, Status.NOT_CONVERGED)
    assert int(r.fit_status) == int(r.status) and np.all(np.isnan(r.stderr))
    mle = {"coef": ref.params[1:], "intercept": ref.params[0]}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ok = inference.summary(model, mle, data)
    assert int(ok.status) == 0 and bool(ok.converged)
    assert np.max(np.abs(ok.newton_step)) < 1e-6
    np.testing.assert_allclose(np.asarray(ok.pvalue)[:8], ref.pvalues[1:], rtol=1e-6)
    assert status_line(ok).endswith(" ok") and status_line(s).endswith(" NOT_CONVERGED")


def test_newton_step_is_the_distance_in_standard_errors():
    x = np.random.default_rng(0).normal(2.0, 3.0, size=40)
    model = Gaussian(variance=9.0)
    se = 3.0 / np.sqrt(40)
    for off, code in [(0.5e-3, 0), (2e-3, 9)]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            s = inference.summary(model, {"mean": x.mean() + off * se}, x)
        np.testing.assert_allclose(s.newton_step, [-off], rtol=1e-6)  # (x̄ − μ)/se
        assert int(s.status) == code
    # Other covariance types check the same objective; a Hessian that is not positive
    # definite means no maximum here, whatever the outer product says.
    g = Gaussian()
    bad = {"mean": float(x.mean()), "variance": 10.0 * float(x.var())}
    with pytest.warns(RuntimeWarning, match="not positive definite"):
        s = inference.summary(g, bad, x, cov_type="outer")
    assert int(s.status) == Status.NOT_POSITIVE_DEFINITE and not bool(s.converged)


def test_map_is_stationary_for_the_posterior_whatever_include_prior():
    x = np.random.default_rng(7).normal(1.0, 2.0, size=25)
    model = Gaussian(variance=4.0, prior={"mean": Normal(0.0, scale=0.5)})
    mode = x.sum() / 4.0 / (25 / 4.0 + 1 / 0.25)  # the conjugate posterior mode
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = inference.summary(model, {"mean": mode}, x, include_prior=False)
    assert int(s.status) == 0
    assert abs(float(s.stderr[0]) - 2.0 / 5.0) < 1e-12  # the likelihood's curvature
    with pytest.warns(RuntimeWarning, match="not converged"):  # the MLE is not the MAP
        s = inference.summary(model, {"mean": x.mean()}, x, include_prior=False)
    assert int(s.status) == 9


def test_regression_conventions_check_the_coefficients_only():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(30, 2))
    y = 1.0 + X @ [2.0, -1.0] + rng.normal(size=30)
    ref = sm.OLS(y, sm.add_constant(X)).fit()
    model, data = LinearRegression(), {"X": X, "y": y}
    unbiased = {"coef": ref.params[1:], "intercept": ref.params[0], "variance": ref.scale}
    for cov_type in ("classical", "HC3"):  # σ² = RSS/(n − p) is fine for these
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            s = inference.summary(model, unbiased, data, cov_type=cov_type)
        assert int(s.status) == 0, cov_type
    with pytest.warns(RuntimeWarning, match="moves variance"):  # but not for the Hessian's MLE
        s = inference.summary(model, unbiased, data, cov_type="hessian")
    assert int(s.status) == 9
    off = {**unbiased, "coef": ref.params[1:] + ref.bse[1:] * [0.0, 0.01]}
    with pytest.warns(RuntimeWarning, match=r"moves coef\[1\] by 0.01 standard errors"):
        s = inference.summary(model, off, data, cov_type="classical")
    # s² at the moved estimate is larger by 0.01²/(n − p) relative: the step is that close.
    np.testing.assert_allclose(s.newton_step[1], -0.01, rtol=1e-4)


class Est(NamedTuple):
    params: dict
    status: jax.Array


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class MLELike:
    """Shaped like jaxmle.mle's result: a frozen registered dataclass."""

    params: dict
    status: jax.Array
    converged: jax.Array


class FitLike(NamedTuple):
    params: dict
    converged: jax.Array
    diverged: jax.Array


def test_results_carry_their_status():
    x = np.random.default_rng(1).normal(size=30)
    model = Gaussian(variance=1.0)
    p = {"mean": float(x.mean())}
    for result, code in [
        (MLELike(p, np.int32(6), np.bool_(False)), 6),  # MAX_STEPS: kept
        (MLELike(p, np.int32(7), np.bool_(False)), 7),  # FLAT_DIRECTION: kept
        (Est(p, np.int32(3)), 9),  # a covariance code from a result: NOT_CONVERGED
        (FitLike(p, np.bool_(False), np.bool_(False)), 9),
        (FitLike(p, np.bool_(False), np.bool_(True)), 1),  # diverged: NONFINITE
    ]:
        with pytest.warns(RuntimeWarning, match="not converged") as rec:
            s = inference.summary(model, result, x)
        assert int(s.status) == code and np.all(np.isnan(s.stderr))
        if code in (6, 7):
            assert Status(code).message in str(rec[0].message)
            assert Status(code).name in str(s)
    ok = MLELike(p, np.int32(0), np.bool_(True))
    assert int(inference.summary(model, ok, x).status) == 0
    np.testing.assert_allclose(inference.stderr(model, ok, x)["mean"], 1 / np.sqrt(30))
    with pytest.warns(RuntimeWarning):
        assert np.isnan(inference.covariance(model, MLELike(p, np.int32(6), False), x)).all()
    # Under jit a traced status flows through (no warning), in the same program.
    f = jax.jit(lambda r: inference.summary(model, r, jnp.asarray(x)).status)
    assert int(f(MLELike(p, jnp.int32(8), jnp.bool_(False)))) == 8
    # A result's status must match its params' lane axes.
    with pytest.raises(jaxmle.InputError, match="sweep_summary"):
        inference.summary(model, Est(p, np.zeros(2, np.int32)), x)


def test_a_result_that_says_converged_is_checked_too():
    """An OK result far from the optimum is NOT_CONVERGED in its summary (it printed "ok").

    The example: SGD whose gradient-norm test (1e-6, not scale invariant) passed 5.5 standard
    errors short of the MLE of a mean of 5e5.
    """
    x = np.random.default_rng(1).normal(5e5, 2e5, 300)
    model = Gaussian(variance=4e10)
    se = 2e5 / np.sqrt(300)
    short = MLELike({"mean": float(x.mean()) - 5.5 * se}, np.int32(0), np.bool_(True))
    with pytest.warns(RuntimeWarning, match="by 5.5 standard errors"):
        s = inference.summary(model, short, x)
    assert int(s.status) == Status.NOT_CONVERGED and np.isnan(s.stderr).all()
    assert not bool(s.converged) and "NOT_CONVERGED" in str(s)
    exact = MLELike({"mean": float(x.mean())}, np.int32(0), np.bool_(True))
    assert int(inference.summary(model, exact, x).status) == Status.OK


def test_sweep_lanes_with_a_status():
    x = np.random.default_rng(2).normal(size=20)
    model = Gaussian(variance=1.0)
    lanes = Est({"mean": np.full(3, x.mean())}, np.array([0, 6, 0], np.int32))
    with pytest.warns(RuntimeWarning, match="1 of 3 lanes.*1 not converged.*MAX_STEPS"):
        s = inference.sweep_summary(model, lanes, x, batch_ndim=1)
    assert np.asarray(s.status).tolist() == [0, 6, 0]
    assert np.asarray(s.converged).tolist() == [True, False, True]


def test_status_vocabulary_is_the_enum():
    assert set(inference.STATUS) == set(range(10))
    for c in (6, 7, 8, 9):
        assert inference.STATUS[c] == Status(c).message
    assert inference.STATUS[Status.SINGULAR] is inference.STATUS[3]
    assert inference.STATIONARY_TOL == 1e-3


@pytest.mark.parametrize("name", ["Wampler2", "Filip"])
def test_nist_certified_estimates_are_stationary(name):
    """Certified values are the optimum: status 0 even for an exact fit (Wampler2, RSS ≈ 0:
    the step is rounding over rounding) and κ ≈ 5e9 (Filip: the step is 3e-8 SE)."""
    import nist

    if not nist.available():
        pytest.skip("NIST StRD files not found")
    from test_nist_linear import _design

    p = nist.load_linear(name)
    A = _design(p)
    X = A[:, 1:] if p.intercept else A
    params = {"coef": p.coef[1:] if p.intercept else p.coef, "variance": 1.0}
    if p.intercept:
        params["intercept"] = p.coef[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = inference.summary(LinearRegression(intercept=p.intercept), params, {"X": X, "y": p.y},
                              cov_type="classical")  # fmt: skip
    assert int(s.status) == 0 and bool(s.converged)


def test_separated_logistic_fit_is_a_flat_direction_not_ok():
    """A fit to perfectly separated data ends with a vanishing gradient (fit says converged)
    and standard errors of 1e27; the summary finds the flat likelihood and says so."""
    model = LogisticRegression()
    data = {"X": jnp.arange(1.0, 7.0)[:, None], "y": jnp.array([0.0, 0, 0, 1, 1, 1])}
    run = jaxmle.fit(model, model.init(data), data, optimizer=optax.lbfgs(), steps=200)
    for given in (run, run.params):
        with pytest.warns(RuntimeWarning, match="running off"):
            s = jaxmle.inference.summary(model, given, data)
        assert int(s.status) == jaxmle.Status.FLAT_DIRECTION and not bool(s.converged)
        assert np.isnan(np.asarray(s.stderr)).all() and "FLAT_DIRECTION" in str(s)
