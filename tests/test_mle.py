"""jaxmle.mle: converged estimates in one call, and an honest status when there is none.

References are independent: sample moments and their textbook standard errors, scipy's
least_squares with the regression covariance from numpy's QR, and hand-made data whose MLE
does not exist (separation) or lies on the boundary. Functions are defined once at module
level so each compiles once for the whole file.
"""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.optimize

import jaxmle
from jaxmle import Status
from jaxmle._mle import _program_jit_for
from jaxmle.models import Bernoulli, Gaussian, LogisticRegression, NonlinearRegression

RNG = np.random.default_rng(20261201)
X_GAUSS = jnp.asarray(3.0 + 2.0 * RNG.standard_normal(40))


def gauss_log_prob(p, x):
    return jax.scipy.stats.norm.logpdf(x, p["mu"], jnp.exp(p["log_sigma"]))


P0_GAUSS = {"mu": 0.0, "log_sigma": 0.0}


def expo(theta, x):
    return theta[0] * (1.0 - jnp.exp(-theta[1] * x))


X_NLS = np.linspace(20.0, 800.0, 25)
Y_NLS = 240.0 * (1.0 - np.exp(-5.5e-4 * X_NLS)) + 0.1 * RNG.standard_normal(25)
NLS = NonlinearRegression(expo)
NLS_DATA = {"x": jnp.asarray(X_NLS), "y": jnp.asarray(Y_NLS)}

SEPARATED = {"X": jnp.arange(1.0, 7.0)[:, None], "y": jnp.array([0.0, 0, 0, 1, 1, 1])}


def rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / np.abs(b)))


def test_plain_log_prob_gives_sample_moments_and_textbook_standard_errors():
    res = jaxmle.mle(gauss_log_prob, X_GAUSS, P0_GAUSS)
    x = np.asarray(X_GAUSS)
    n, sigma = x.size, x.std()  # the MLE of σ divides by n
    assert res.method == "newton" and bool(res.converged) and int(res.status) == Status.OK
    assert rel(res.params["mu"], x.mean()) < 1e-12
    assert rel(jnp.exp(res.params["log_sigma"]), sigma) < 1e-12
    # Inverse observed information: se(μ) = σ/√n, se(log σ) = 1/√(2n).
    assert rel(res.stderr["mu"], sigma / np.sqrt(n)) < 1e-9
    assert rel(res.stderr["log_sigma"], 1.0 / np.sqrt(2 * n)) < 1e-9
    assert float(res.step_se) < 1e-4 and int(res.summary.status) == 0
    assert rel(res.loglik, n * (-0.5 * np.log(2 * np.pi * sigma**2) - 0.5)) < 1e-12


def test_a_second_call_on_new_data_compiles_nothing():
    jaxmle.mle(gauss_log_prob, X_GAUSS, P0_GAUSS)
    size = _program_jit_for(jax.default_backend())._cache_size()
    res = jaxmle.mle(gauss_log_prob, X_GAUSS + 1.0, {"mu": 1.0, "log_sigma": 0.5})
    assert _program_jit_for(jax.default_backend())._cache_size() == size
    assert rel(res.params["mu"], np.mean(np.asarray(X_GAUSS) + 1.0)) < 1e-12


def test_model_with_a_closed_form_is_solved_exactly_and_checked():
    res = jaxmle.mle(Gaussian(), X_GAUSS)
    x = np.asarray(X_GAUSS)
    assert res.method == "closed_form" and int(res.status) == Status.OK
    assert rel(res.params["variance"], x.var()) < 1e-13
    assert rel(res.stderr["mean"], np.sqrt(x.var() / x.size)) < 1e-9
    assert rel(res.stderr["variance"], x.var() * np.sqrt(2.0 / x.size)) < 1e-9
    newton = jaxmle.mle(Gaussian(), X_GAUSS, method="newton")  # constrained: log-variance
    assert int(newton.status) == Status.OK
    assert rel(newton.params["variance"], x.var()) < 1e-11


def _scipy_reference():
    def r(t):
        return Y_NLS - t[0] * (1.0 - np.exp(-t[1] * X_NLS))

    def jac(t):
        e = np.exp(-t[1] * X_NLS)
        return -np.stack([1.0 - e, t[0] * X_NLS * e], axis=1)

    sol = scipy.optimize.least_squares(r, [500.0, 1e-4], jac=jac, method="lm", xtol=1e-15,
                                       ftol=1e-15, gtol=1e-15, max_nfev=10_000)  # fmt: skip
    resid = r(sol.x)
    s2 = resid @ resid / (X_NLS.size - 2)
    R = np.linalg.qr(jac(sol.x), mode="r")
    Rinv = np.linalg.solve(R, np.eye(2))  # 2x2 triangular: the rows of R⁻¹ give (JᵀJ)⁻¹
    se = np.sqrt(s2 * np.sum(Rinv**2, axis=1))
    return sol.x, se, resid @ resid


def test_nonlinear_regression_matches_scipy_least_squares_and_the_regression_convention():
    theta, se, rss = _scipy_reference()
    for start in ([500.0, 1e-4], [250.0, 5e-4]):
        res = jaxmle.mle(NLS, NLS_DATA, jnp.asarray(start))  # a bare θ is the mean's params
        assert res.method == "least_squares" and int(res.status) == Status.OK
        assert rel(res.params["theta"], theta) < 1e-9
        assert rel(res.stderr["theta"], se) < 1e-8  # s²(JᵀJ)⁻¹, s² = RSS/(n − p)
        assert rel(res.params["variance"], rss / X_NLS.size) < 1e-9  # σ² MLE = RSS/n
        assert res.summary.cov_type == "classical" and res.summary.use_t


def test_max_steps_too_small_is_not_converged():
    with pytest.warns(RuntimeWarning, match="not converged"):
        res = jaxmle.mle(NLS, NLS_DATA, {"theta": jnp.array([500.0, 1e-4])}, max_steps=2)
    assert not bool(res.converged)
    assert int(res.status) in (Status.MAX_STEPS, Status.NOT_CONVERGED)
    assert np.all(np.isnan(res.stderr["theta"])) and int(res.summary.status) == int(res.status)


def test_perfect_separation_is_a_flat_direction_not_a_converged_fit():
    with pytest.warns(RuntimeWarning, match="FLAT_DIRECTION"):
        res = jaxmle.mle(LogisticRegression(), SEPARATED, method="newton")
    assert int(res.status) == Status.FLAT_DIRECTION and not bool(res.converged)
    assert np.isnan(res.stderr["coef"]).all() and int(res.summary.status) == Status.FLAT_DIRECTION
    assert "FLAT_DIRECTION" in str(res.summary)
    with pytest.raises(RuntimeError, match="FLAT_DIRECTION"):
        jaxmle.mle(LogisticRegression(), SEPARATED, method="newton", throw=True)


@pytest.mark.parametrize("method", ["auto", "bfgs"])
def test_separation_of_a_plain_log_prob_is_a_flat_direction(method):
    """A separated logit written as a plain ``log_prob`` (3 columns, a near-singular curvature):
    its Newton step was the intercept's, where the objective rises, so the flat-direction probe
    passed and the fit (b ≈ (−111, 906, 251), SEs 1e11) was OK with an "ok" summary. The probe
    one standard error outward along the estimate itself finds the log-likelihood still
    rising (toward 0)."""
    rng = np.random.default_rng(1)
    X = np.column_stack([np.ones(100), rng.normal(size=100), rng.normal(size=100)])
    d = {"X": X, "y": (X[:, 1] + 0.3 * X[:, 2] > 0.1).astype(float)}

    def lp(p, d):
        eta = d["X"] @ p["b"]
        return d["y"] * eta - jnp.logaddexp(0.0, eta)

    with pytest.warns(RuntimeWarning, match="FLAT_DIRECTION"):
        res = jaxmle.mle(lp, d, {"b": np.zeros(3)}, method=method)
    assert int(res.status) == Status.FLAT_DIRECTION and not bool(res.converged)
    assert np.isnan(res.stderr["b"]).all() and "FLAT_DIRECTION" in str(res.summary)
    with pytest.warns(RuntimeWarning):
        s = jaxmle.inference.summary(lp, res.params, d)  # bare params: the summary's own check
    assert int(s.status) == Status.FLAT_DIRECTION


def test_a_parameter_that_is_not_identified_is_singular():
    """a and b entering only as a + b: the curvature is singular (its zero pivot gave an inf
    step, and the fit ended NOT_CONVERGED, "its gradient is not small")."""
    y = np.random.default_rng(0).normal(1.0, 1.0, 100)

    def lp(p, y):
        return jax.scipy.stats.norm.logpdf(y, p["a"] + p["b"], 1.0)

    with pytest.warns(RuntimeWarning, match="SINGULAR: .*not identified"):
        res = jaxmle.mle(lp, y, {"a": 0.3, "b": -2.0})
    assert int(res.status) == Status.SINGULAR and not bool(res.converged)
    assert abs(float(res.params["a"] + res.params["b"]) - y.mean()) < 1e-10


def test_an_mle_on_the_boundary_is_reported_as_such():
    with pytest.warns(RuntimeWarning, match="BOUNDARY"):
        res = jaxmle.mle(Bernoulli(), jnp.zeros(6))
    assert int(res.status) == Status.BOUNDARY and float(res.params["prob"]) == 0.0


def test_any_optax_transformation_runs_to_the_same_stopping_test():
    res = jaxmle.mle(gauss_log_prob, X_GAUSS, P0_GAUSS, method=optax.adam(0.05))
    assert res.method == "optax" and int(res.status) == Status.OK
    assert rel(res.params["mu"], np.mean(np.asarray(X_GAUSS))) < 1e-10


def test_mle_vmaps_over_datasets():
    Y = jnp.asarray(RNG.standard_normal((3, 40)) + np.array([[0.0], [1.0], [5.0]]))
    out = jax.vmap(lambda y: jaxmle.mle(gauss_log_prob, y, P0_GAUSS))(Y)
    assert out.summary is None and out.status.shape == (3,)
    assert np.all(np.asarray(out.status) == 0)
    np.testing.assert_allclose(out.params["mu"], np.asarray(Y).mean(axis=1), rtol=1e-11)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"model": Gaussian(), "params0": {"mean": 0.0, "variance": -1.0}}, "variance"),
        ({"model": lambda p, x: jnp.sum(x - p["m"]), "params0": {"m": 0.0}}, r"shape \(40,\)"),
        ({"model": lambda p, x: x[:, None] - p["m"] * x, "params0": {"m": 0.0}}, r"\(40, 40\)"),
        ({"model": gauss_log_prob}, "params0"),
        ({"model": gauss_log_prob, "params0": P0_GAUSS, "method": "simplex"}, "method"),
        ({"model": gauss_log_prob, "params0": P0_GAUSS, "method": "least_squares"},
         "NonlinearRegression"),
        ({"model": gauss_log_prob, "params0": P0_GAUSS, "max_steps": 0}, "max_steps"),
        ({"model": gauss_log_prob, "params0": {"mu": np.nan, "log_sigma": 0.0}}, "finite"),
        ({"model": "gaussian"}, "model"),
    ],
)
def test_bad_input_is_a_clear_error(kwargs, match):
    model = kwargs.pop("model")
    with pytest.raises(jaxmle.InputError, match=match):
        jaxmle.mle(model, X_GAUSS, **kwargs)


def test_nonlinear_regression_checks_its_mean_function_and_data():
    with pytest.raises(jaxmle.InputError, match="one mean per observation"):
        jaxmle.mle(NonlinearRegression(lambda t, x: t[0] * x[:3]), NLS_DATA, [1.0, 1.0])
    with pytest.raises(jaxmle.InputError, match="keys"):
        jaxmle.mle(NLS, {"X": NLS_DATA["x"], "y": NLS_DATA["y"]}, [1.0, 1.0])
    with pytest.raises(jaxmle.InputError, match="no default starting point"):
        jaxmle.mle(NLS, NLS_DATA)


def test_status_messages_read_as_sentences():
    assert jaxmle.status_message(Status.MAX_STEPS).startswith("MAX_STEPS: the iteration cap")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a converged fit warns about nothing
        res = jaxmle.mle(Gaussian(), X_GAUSS)
    assert res.message.startswith("ok")


def test_import_leaves_optimistix_for_the_first_solve():
    import subprocess
    import sys

    from jaxmle import _mle, _solvers

    assert _mle._METHODS == _solvers.METHODS
    code = "import sys, jaxmle; print('optimistix' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
