"""Inference for NonlinearRegression against independent references.

NIST StRD Misra1a (certified estimates and standard deviations, hard-coded from the NIST
page), statsmodels OLS for a linear mean function, and hand-derived formulas (the observed
Hessian of a Gaussian log_prob with its residual-curvature term; the Fisher information).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxmle
from jaxmle import inference
from jaxmle.models import NonlinearRegression, Normal

sm = pytest.importorskip("statsmodels.api")

# NIST StRD Misra1a: y = b1 (1 − exp(−b2 x)); NIST lists y first (y = 10.07 at x = 77.6).
MISRA_X = np.array([77.6, 114.9, 141.1, 190.8, 239.9, 289.0, 332.8, 378.4, 434.8, 477.3,
                    536.8, 593.1, 689.1, 760.0])  # fmt: skip
MISRA_Y = np.array([10.07, 14.73, 17.94, 23.93, 29.61, 35.18, 40.02, 44.82, 50.76, 55.05,
                    61.01, 66.40, 75.47, 81.78])  # fmt: skip
MISRA_B = np.array([2.3894212918e02, 5.5015643181e-04])
MISRA_SD = np.array([2.7070075241e00, 7.2668688436e-06])
MISRA_RESID_SD = 1.0187876330e-01
MISRA_DATA = {"x": MISRA_X, "y": MISRA_Y}


def misra(theta, x):
    return theta[0] * (1.0 - jnp.exp(-theta[1] * x))


def rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / np.abs(b)))


def misra_rss(b):
    r = MISRA_Y - b[0] * (1.0 - np.exp(-b[1] * MISRA_X))
    return float(r @ r)


def misra_jacobian_and_curvature(b):
    """∂f/∂(b1, b2) and Σ_i r_i ∇²f_i of Misra1a, by hand."""
    x, e = MISRA_X, np.exp(-b[1] * MISRA_X)
    J = np.column_stack([1.0 - e, b[0] * x * e])
    r = MISRA_Y - b[0] * (1.0 - e)
    off = np.sum(r * x * e)
    return J, np.array([[0.0, off], [off, -np.sum(r * b[0] * x**2 * e)]])


def test_misra1a_data_reproduce_the_certified_residual_sd():
    # The data and the model definition are the right way round: NIST's residual SD.
    assert rel(np.sqrt(misra_rss(MISRA_B) / (14 - 2)), MISRA_RESID_SD) < 1e-9


def test_misra1a_classical_is_the_default_and_matches_nist():
    model = NonlinearRegression(misra)
    params = {"theta": MISRA_B, "variance": misra_rss(MISRA_B) / 14}  # σ² the MLE
    s = inference.summary(model, params, MISRA_DATA)  # cov_type=None: classical
    assert s.cov_type == "classical" and int(s.status) == 0
    assert s.labels == ("theta[0]", "theta[1]", "variance")
    assert rel(s.stderr[:2], MISRA_SD) < 1e-9  # certified to 11 digits
    assert s.use_t and s.df_resid == 12 and s.n_params == 2
    j = s.labels.index("variance")  # 2σ⁴/n, as for LinearRegression's classical path
    assert rel(s.stderr[j], params["variance"] * np.sqrt(2.0 / 14)) < 1e-12
    se = inference.stderr(model, params, MISRA_DATA)
    assert rel(se["theta"], MISRA_SD) < 1e-9
    assert np.max(np.abs(s.newton_step[:2])) < 1e-6  # certified values are the optimum
    # Weights: w_i = 4 everywhere scales RSS and JᵀWJ alike: the same standard errors.
    w = {**MISRA_DATA, "weight": np.full(14, 4.0)}
    sw = inference.summary(model, {"theta": MISRA_B, "variance": 1.0}, w)
    assert rel(sw.stderr[:2], MISRA_SD) < 1e-9


def test_linear_mean_matches_statsmodels_ols():
    rng = np.random.default_rng(11)
    n = 40
    X = rng.normal(size=(n, 3))
    X[:, 0] = 1.0
    y = X @ [0.5, 1.0, -2.0] + rng.normal(size=n)
    ref = sm.OLS(y, X).fit()
    model = NonlinearRegression(lambda t, x: x @ t)
    s = inference.summary(model, {"theta": ref.params, "variance": ref.ssr / n}, {"x": X, "y": y})
    assert int(s.status) == 0 and s.df_resid == ref.df_resid
    assert rel(s.stderr[:3], ref.bse) < 1e-10
    assert rel(s.pvalue[:3], ref.pvalues) < 1e-8
    assert rel(s.ci_low[:3], ref.conf_int()[:, 0]) < 1e-10
    assert rel(s.loglik, ref.llf) < 1e-12
    assert rel(s.aic, ref.aic) < 1e-12 and rel(s.bic, ref.bic) < 1e-12
    # The same fit as a plain Gaussian log_prob with df_correction: statsmodels' bse too
    # (a linear mean: the observed Hessian has no residual-curvature term).
    def log_prob(p, d):
        return jax.scipy.stats.norm.logpdf(d["y"], d["x"] @ p["theta"], jnp.sqrt(p["variance"]))

    params = {"theta": ref.params, "variance": ref.ssr / n}
    c = inference.summary(log_prob, params, {"x": X, "y": y}, df_correction=True)
    assert c.use_t and c.df_resid == ref.df_resid and int(c.status) == 0
    assert rel(c.stderr[:3], ref.bse) < 1e-10
    assert rel(c.pvalue[:3], ref.pvalues) < 1e-8
    # An explicit p gives the same; without the correction, the MLE's σ̂²(XᵀX)⁻¹.
    c3 = inference.summary(log_prob, params, {"x": X, "y": y}, df_correction=3)
    np.testing.assert_allclose(c3.stderr, c.stderr, rtol=1e-14)
    h = inference.summary(log_prob, params, {"x": X, "y": y})
    assert rel(h.stderr[:3], ref.bse * np.sqrt((n - 3) / n)) < 1e-10


def test_df_correction_on_a_nonlinear_mean_keeps_the_residual_curvature():
    """n/(n − p) × inverse observed Hessian = s² (JᵀJ − Σ r_i ∇²f_i)⁻¹ (hand-derived), which is
    not NIST's s²(JᵀJ)⁻¹ for Misra1a."""

    def log_prob(p, d):
        return jax.scipy.stats.norm.logpdf(d["y"], misra(p["theta"], d["x"]), jnp.sqrt(p["v"]))

    params = {"theta": MISRA_B, "v": misra_rss(MISRA_B) / 14}
    s = inference.summary(log_prob, params, MISRA_DATA, df_correction=True)
    J, curv = misra_jacobian_and_curvature(MISRA_B)
    want = misra_rss(MISRA_B) / 12 * np.linalg.inv(J.T @ J - curv)  # Σ r_i ∇²f_i = curv
    assert rel(s.stderr[:2], np.sqrt(np.diag(want))) < 1e-8
    assert s.df_resid == 12 and s.use_t
    assert rel(s.stderr[:2], MISRA_SD) > 1e-4  # not the regression convention


def test_hessian_sandwich_expected_and_pytree_theta():
    model = NonlinearRegression(lambda t, x: t["b1"] * (1.0 - jnp.exp(-t["b2"] * x)))
    v = misra_rss(MISRA_B) / 14
    params = {"theta": {"b1": MISRA_B[0], "b2": MISRA_B[1]}, "variance": v}
    s = inference.summary(model, params, MISRA_DATA, cov_type="expected")
    assert s.labels == ("theta.b1", "theta.b2", "variance") and not s.use_t
    J, curv = misra_jacobian_and_curvature(MISRA_B)
    assert rel(s.stderr[:2], np.sqrt(np.diag(v * np.linalg.inv(J.T @ J)))) < 1e-9  # σ̂²(JᵀJ)⁻¹
    assert rel(s.stderr[2], v * np.sqrt(2.0 / 14)) < 1e-12
    for cov_type in ("hessian", "sandwich"):
        h = inference.summary(model, params, MISRA_DATA, cov_type=cov_type)
        assert int(h.status) == 0 and np.all(np.isfinite(h.stderr)), cov_type
    h = inference.summary(model, params, MISRA_DATA, cov_type="hessian")  # σ̂²(JᵀJ − Σr∇²f)⁻¹
    assert rel(h.stderr[:2], np.sqrt(np.diag(v * np.linalg.inv(J.T @ J - curv)))) < 1e-8


def test_known_noise_variance_and_failures():
    # Known σ²: no variance parameter, normal quantiles, df n − p, s² = the known σ².
    model = NonlinearRegression(misra, noise_variance=0.01)
    s = inference.summary(model, {"theta": MISRA_B}, MISRA_DATA)
    assert s.labels == ("theta[0]", "theta[1]") and not s.use_t and s.df_resid == 12
    ratio = np.asarray(s.stderr) / MISRA_SD
    np.testing.assert_allclose(ratio, np.sqrt(0.01 / (misra_rss(MISRA_B) / 12)), rtol=1e-9)
    # θ not identified (b1 and b3 only as a product): singular JᵀJ, NaN and a warning.
    flat = NonlinearRegression(lambda t, x: t[0] * t[2] * (1.0 - jnp.exp(-t[1] * x)))
    p3 = {"theta": np.array([MISRA_B[0], MISRA_B[1], 1.0]), "variance": 0.01}
    with pytest.warns(RuntimeWarning, match="Jacobian is numerically singular"):
        bad = inference.summary(flat, p3, MISRA_DATA)
    assert int(bad.status) == 3 and np.all(np.isnan(bad.stderr))
    # Not at the optimum: the Gauss–Newton step of θ in standard errors says so.
    off = {"theta": MISRA_B * np.array([1.01, 1.0]), "variance": 0.01}
    with pytest.warns(RuntimeWarning, match="not converged"):
        nc = inference.summary(NonlinearRegression(misra), off, MISRA_DATA)
    assert jaxmle.Status(int(nc.status)).name == "NOT_CONVERGED" and "NOT_CONVERGED" in str(nc)
    # A prior: the default is the posterior curvature; classical is for least squares only.
    pri = NonlinearRegression(misra, prior={"theta": Normal(0.0, scale=1e5)})
    mle = {"theta": MISRA_B, "variance": misra_rss(MISRA_B) / 14}
    assert inference.summary(pri, mle, MISRA_DATA, include_prior=False).cov_type == "hessian"
    with pytest.raises(jaxmle.InputError, match="`cov_type`"):
        inference.summary(pri, {"theta": MISRA_B, "variance": 0.01}, MISRA_DATA,
                          cov_type="classical")  # fmt: skip
    with pytest.raises(jaxmle.InputError, match="`cov_type`"):
        inference.summary(NonlinearRegression(misra), off, MISRA_DATA, cov_type="HC1")
    with pytest.raises(jaxmle.InputError, match="`df_correction`"):
        inference.summary(NonlinearRegression(misra), off, MISRA_DATA, df_correction=True)
    with pytest.raises(jaxmle.InputError, match="mean_fn"):
        inference.summary(NonlinearRegression(lambda t, x: t[0] * jnp.ones(3)),
                          {"theta": np.ones(2), "variance": 1.0}, MISRA_DATA)  # fmt: skip
