"""jaxmle.montecarlo: the sampling-distribution claims of seed 002 and the issue, with numbers.

Tolerances come from the Monte Carlo standard error (MC s.e.) the study reports: a quantity
that should equal its target is accepted within ``Z`` MC s.e. (Z = 4.5: a false alarm about
once in 150,000 comparisons for a normal estimate), and a claim that two quantities *differ*
needs a gap of more than ``Z`` MC s.e. The studies are seeded, so the numbers are fixed; the
tolerance says how far they may move with another seed. Every expected value is computed here
with numpy from the textbook formula, independently of the code under test.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxmle
from jaxmle.models import (
    Gaussian,
    LinearRegression,
    LogisticRegression,
    MultivariateGaussian,
    Poisson,
)

Z = 4.5
LEVEL = 0.95


def coverage_tol(reps):
    return Z * np.sqrt(LEVEL * (1 - LEVEL) / reps)


# Fixed designs (seed 002: the claims are conditional on X).
_rng = np.random.default_rng(2024)
X_OLS = _rng.uniform(-2.0, 2.0, size=(30, 2))
X_HET = np.sort(_rng.uniform(-2.0, 2.0, size=100))[:, None]
SD_HET = 0.2 + 0.8 * X_HET[:, 0] ** 2  # noise sd grows with |x|: heteroscedastic
TRUE_OLS = {"coef": np.array([1.0, -0.5]), "intercept": 2.0, "variance": 0.25}


def simulate_heteroscedastic(key, params):
    """y = b + x·w + ε with sd(ε_i) = SD_HET[i] (module level: compiled once)."""
    X = jnp.asarray(X_HET)
    eps = jnp.asarray(SD_HET) * jax.random.normal(key, (X.shape[0],))
    return {"X": X, "y": params["intercept"] + X @ params["coef"] + eps}


def variance_estimators(x):
    n = x.shape[0]
    ss = jnp.sum((x - jnp.mean(x)) ** 2)
    return {"mle": ss / n, "unbiased": ss / (n - 1)}


@pytest.fixture(scope="module")
def ols_study():
    return jaxmle.montecarlo(LinearRegression(), TRUE_OLS, key=jax.random.key(0), reps=4000,
                             X=X_OLS, cov_types=("classical", "HC3"))  # fmt: skip


def test_ols_is_unbiased_with_covariance_sigma2_xtx_inverse(ols_study):
    mc = ols_study
    A = np.column_stack([X_OLS, np.ones(len(X_OLS))])  # labels: coef[0], coef[1], intercept
    assert mc.labels[:3] == ("coef[0]", "coef[1]", "intercept")
    theory = TRUE_OLS["variance"] * np.linalg.inv(A.T @ A)  # σ²(XᵀX)⁻¹, seed 002's claim
    np.testing.assert_allclose(mc.cov_theory[:3, :3], theory, rtol=1e-10, atol=1e-14)
    assert np.all(np.abs(mc.bias[:3]) < Z * mc.bias_se[:3])  # unbiased
    gap = np.abs(mc.cov_empirical[:3, :3] - theory)
    assert np.all(gap < Z * mc.cov_empirical_se[:3, :3]), gap / mc.cov_empirical_se[:3, :3]
    # The mean classical covariance estimate is σ²(XᵀX)⁻¹ too (s² is unbiased for σ²).
    est = mc.cov_mean["classical"][:3, :3]
    assert np.all(np.abs(np.diag(est) / np.diag(theory) - 1) < 0.02)


def test_ols_classical_t_intervals_cover(ols_study):
    mc = ols_study
    cov = mc.coverage["classical"][:3]
    assert np.all(np.abs(cov - LEVEL) < coverage_tol(mc.reps)), cov
    # σ² MLE is biased by −σ²p/n (p = 3 regression parameters): E = σ²(n − p)/n.
    j = mc.labels.index("variance")
    want = -TRUE_OLS["variance"] * 3 / 30
    assert abs(mc.bias[j] - want) < Z * mc.bias_se[j]


def test_heteroscedastic_classical_is_wrong_sandwich_is_right():
    truth = {"coef": np.array([1.0]), "intercept": 0.5, "variance": 1.0}
    mc = jaxmle.montecarlo(LinearRegression(), truth, key=jax.random.key(1), reps=3000,
                           simulate=simulate_heteroscedastic,
                           cov_types=("classical", "HC3"))  # fmt: skip
    A = np.column_stack([X_HET, np.ones(len(X_HET))])
    bread = np.linalg.inv(A.T @ A)
    sandwich = bread @ (A.T * SD_HET**2) @ A @ bread  # (XᵀX)⁻¹XᵀΣX(XᵀX)⁻¹, seed 002
    j = 0  # the slope
    var_emp, var_se = mc.cov_empirical[j, j], mc.cov_empirical_se[j, j]
    assert abs(var_emp - sandwich[j, j]) < Z * var_se  # the sandwich is the truth
    classical_mean = mc.cov_mean["classical"][j, j]  # E[s²](XᵀX)⁻¹ = mean σ_i² ...
    assert var_emp - classical_mean > Z * var_se  # ... understates the slope's variance
    assert LEVEL - mc.coverage["classical"][j] > Z * mc.coverage_se["classical"][j]
    assert abs(mc.coverage["HC3"][j] - LEVEL) < coverage_tol(mc.reps)
    hc3_mean = mc.cov_mean["HC3"][j, j]
    assert abs(hc3_mean / sandwich[j, j] - 1) < 0.1  # HC3 is close (and slightly conservative)


def test_gaussian_variance_mle_biased_by_minus_sigma2_over_n():
    n, s2 = 10, 4.0
    mc = jaxmle.montecarlo(Gaussian(), {"mean": 1.0, "variance": s2}, key=jax.random.key(2),
                           reps=20000, n=n, estimator=variance_estimators,
                           target={"mle": s2, "unbiased": s2}, cov_types=())  # fmt: skip
    assert mc.labels == ("mle", "unbiased")
    assert abs(mc.bias[0] - (-s2 / n)) < Z * mc.bias_se[0]  # E[σ̂²] = σ²(n − 1)/n
    assert abs(mc.bias[0]) > 10 * mc.bias_se[0]  # and the bias is real
    assert abs(mc.bias[1]) < Z * mc.bias_se[1]  # the n − 1 version is unbiased
    # sd of the unbiased version: σ² sqrt(2/(n − 1)) (chi-square), within its MC s.e.
    assert abs(mc.sd[1] - s2 * np.sqrt(2 / (n - 1))) < Z * mc.sd_se[1]


def test_wald_coverage_with_an_optimiser_well_specified():
    """Logistic regression fitted by optax L-BFGS in every replicate: 95% Wald intervals from
    the inverse Hessian cover about 95% (n = 200). (A backtracking line search: optax's default
    zoom line search was seen to never return on some blocks of vmapped replicates.)"""
    X = np.random.default_rng(3).normal(size=(200, 2))
    truth = {"coef": np.array([1.0, -0.5]), "intercept": 0.25}
    ls = optax.scale_by_backtracking_linesearch(max_backtracking_steps=15, store_grad=True)
    mc = jaxmle.montecarlo(LogisticRegression(), truth, key=jax.random.key(3), reps=1000, X=X,
                           estimator=optax.lbfgs(linesearch=ls), steps=25,
                           cov_types=("hessian",))  # fmt: skip
    assert mc.n_valid == 1000 and mc.failed["hessian"] == 0
    cov = mc.coverage["hessian"]
    assert np.all(np.abs(cov - LEVEL) < coverage_tol(mc.reps)), cov
    assert np.all(np.abs(mc.sd / mc.sd_theory - 1) < Z * mc.sd_se / mc.sd_theory)


def test_wald_coverage_with_the_converged_mle():
    """estimator="mle": jaxmle.mle (trust-region Newton) traced in every replicate; every one
    converges and its Hessian intervals cover about 95%."""
    X = np.random.default_rng(4).normal(size=(100, 2))
    truth = {"coef": np.array([1.0, -0.5]), "intercept": 0.25}
    mc = jaxmle.montecarlo(LogisticRegression(), truth, key=jax.random.key(4), reps=200, X=X,
                           estimator="mle", cov_types=("hessian",))  # fmt: skip
    assert mc.n_valid == 200 and mc.failed["hessian"] == 0
    cov = mc.coverage["hessian"]
    assert np.all(np.abs(cov - LEVEL) < coverage_tol(mc.reps)), cov


def test_poisson_rate_coverage_and_table():
    mc = jaxmle.montecarlo(Poisson(), {"rate": 3.0}, key=jax.random.key(4), reps=4000, n=50,
                           cov_types=("expected",))  # fmt: skip
    assert abs(mc.bias[0]) < Z * mc.bias_se[0]
    assert abs(mc.sd[0] - np.sqrt(3.0 / 50)) < Z * mc.sd_se[0]  # Var(x̄) = λ/n
    assert abs(mc.coverage["expected"][0] - LEVEL) < coverage_tol(mc.reps)
    text = str(mc)
    assert "rate" in text and "se[expected]" in text and "4000 replicates" in text
    df = mc.to_dataframe()
    assert {"bias", "bias_se", "coverage[expected]", "sd_theory"} <= set(df.columns)


def test_same_key_same_study_and_bad_input():
    # The cheapest simulator to compile (Poisson's rejection sampler costs ~3 s a program).
    kw = dict(key=jax.random.key(5), reps=50, n=5, cov_types=(), theory=None)
    a = jaxmle.montecarlo(Gaussian(variance=1.0), {"mean": 2.0}, **kw)
    b = jaxmle.montecarlo(Gaussian(variance=1.0), {"mean": 2.0}, **kw)
    np.testing.assert_array_equal(a.estimates, b.estimates)
    c = jaxmle.montecarlo(Gaussian(variance=1.0), {"mean": 2.0}, **{**kw, "batch_size": 16})
    np.testing.assert_array_equal(a.estimates, c.estimates)  # 4 blocks, the last one padded
    kw = dict(key=jax.random.key(5), reps=50, n=5, cov_types=())  # errors: nothing compiles
    cases = [
        (dict(key=0), "key"),
        (dict(reps=1), "reps"),
        (dict(n=None), "n"),
        (dict(cov_types=("HC1",)), "cov_type"),
        (dict(estimator="newton"), "estimator"),
        (dict(level=95), "level"),
        (dict(target={"rate": 1.0}, cov_types=("hessian",)), "target"),
    ]
    for bad, arg in cases:
        with pytest.raises(jaxmle.InputError, match=f"`{arg}"):
            jaxmle.montecarlo(Poisson(), {"rate": 2.0}, **{**kw, **bad})
    with pytest.raises(jaxmle.InputError, match="`X`"):
        jaxmle.montecarlo(LinearRegression(), TRUE_OLS, key=jax.random.key(0), reps=10)
    with pytest.raises(jaxmle.InputError, match="`true_params`"):
        jaxmle.montecarlo(Poisson(), {"lam": 2.0}, **kw)
    for model, truth, match in [
        (Poisson(), {"rate": -2.0}, r"`true_params\['rate'\]` must be positive"),
        (Gaussian(), {"mean": 0.0, "variance": 0.0}, r"`true_params\['variance'\]`"),
        (Gaussian(), {"mean": np.zeros(2), "variance": 1.0}, "`true_params`"),
        (MultivariateGaussian(), {"mean": np.zeros(2), "cov": -np.eye(2)}, "positive-definite"),
        (MultivariateGaussian(), {"mean": np.zeros(3), "cov": np.eye(2)}, "`true_params`"),
    ]:
        with pytest.raises(jaxmle.InputError, match=match):
            jaxmle.montecarlo(model, truth, **kw)
    with pytest.raises(jaxmle.InputError, match="`estimator`"):
        jaxmle.montecarlo(LogisticRegression(), {"coef": np.ones(2), "intercept": 0.0},
                          key=jax.random.key(0), reps=10, X=X_OLS)  # fmt: skip
