"""Inference for NonlinearRegression against independent references.

The exponential-rise model of NIST's Misra1a, ``y = b1 (1 − exp(−b2 x))``, on the project's
own simulated data (fixed seed; NIST's data are not copied here), with the reference estimate
and regression standard errors ``s²(JᵀJ)⁻¹`` computed independently in this file
(scipy's MINPACK Levenberg–Marquardt with the analytic Jacobian, numpy QR; checked against a
40-digit mpmath Gauss–Newton polish), statsmodels OLS for a linear mean function, and
hand-derived formulas (the observed Hessian of a Gaussian log_prob with its
residual-curvature term; the Fisher information).
"""

import jax
import jax.numpy as jnp
import mpmath
import numpy as np
import pytest
import scipy.optimize

import jaxmle
from jaxmle import inference
from jaxmle.models import NonlinearRegression, Normal

sm = pytest.importorskip("statsmodels.api")


def _simulate():
    """14 rows on an irregular grid over [70, 770], b = (240, 5.5e-4), noise SD 0.1."""
    rng = np.random.default_rng(20240611)
    x = np.round(np.linspace(80.0, 760.0, 14) + rng.uniform(-12.0, 12.0, 14), 1)
    y = 240.0 * (1.0 - np.exp(-5.5e-4 * x)) + rng.normal(0.0, 0.1, 14)
    return x, np.round(y, 3)


EXP_X, EXP_Y = _simulate()
N = len(EXP_X)
EXP_DATA = {"x": EXP_X, "y": EXP_Y}


def _exp_residuals(b):
    return EXP_Y - b[0] * (1.0 - np.exp(-b[1] * EXP_X))


def _exp_jacobian(b):
    """∂f/∂(b1, b2), by hand (the residuals' Jacobian is minus this)."""
    e = np.exp(-b[1] * EXP_X)
    return np.column_stack([1.0 - e, b[0] * EXP_X * e])


def _reference():
    """scipy LM (MINPACK, analytic Jacobian, tolerances 1e-15), then s²(JᵀJ)⁻¹ by the QR of
    the column-scaled Jacobian (numpy)."""
    fit = scipy.optimize.least_squares(
        _exp_residuals, [500.0, 1e-4], jac=lambda b: -_exp_jacobian(b), method="lm",
        xtol=1e-15, ftol=1e-15, gtol=1e-15, x_scale="jac",
    )  # fmt: skip
    assert fit.success, fit.message
    b = fit.x
    r = _exp_residuals(b)
    J = _exp_jacobian(b)
    c = np.linalg.norm(J, axis=0)
    R = np.linalg.qr(J / c, mode="r")
    Rinv = np.linalg.inv(R)
    s2 = float(r @ r) / (N - 2)
    return b, np.sqrt(s2 * np.sum(Rinv**2, axis=1)) / c, np.sqrt(s2)


REF_B, REF_SD, REF_RESID_SD = _reference()


def _mp_reference(dps=40, steps=8):
    """Gauss–Newton polished in mpmath from REF_B, and s²(JᵀJ)⁻¹ there, at ``dps`` digits."""
    with mpmath.workdps(dps):
        x = [mpmath.mpf(float(v)) for v in EXP_X]
        y = [mpmath.mpf(float(v)) for v in EXP_Y]
        b = mpmath.matrix([mpmath.mpf(float(v)) for v in REF_B])

        def parts(b):
            e = [mpmath.exp(-b[1] * xi) for xi in x]
            J = mpmath.matrix([[1 - ei, b[0] * xi * ei] for xi, ei in zip(x, e, strict=True)])
            r = mpmath.matrix([yi - b[0] * (1 - ei) for yi, ei in zip(y, e, strict=True)])
            return J, r

        for _ in range(steps):
            J, r = parts(b)
            b = b + mpmath.lu_solve(J.T * J, J.T * r)
        J, r = parts(b)
        s2 = (r.T * r)[0] / (N - 2)
        cov = s2 * mpmath.inverse(J.T * J)
        sd = [float(mpmath.sqrt(cov[i, i])) for i in range(2)]
        return np.array([float(b[0]), float(b[1])]), np.array(sd)


def exp_rise(theta, x):
    return theta[0] * (1.0 - jnp.exp(-theta[1] * x))


def rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / np.abs(b)))


def exp_rss(b):
    r = _exp_residuals(b)
    return float(r @ r)


def exp_jacobian_and_curvature(b):
    """∂f/∂(b1, b2) and Σ_i r_i ∇²f_i, by hand."""
    x, e = EXP_X, np.exp(-b[1] * EXP_X)
    J = _exp_jacobian(b)
    r = _exp_residuals(b)
    off = np.sum(r * x * e)
    return J, np.array([[0.0, off], [off, -np.sum(r * b[0] * x**2 * e)]])


def test_reference_is_the_optimum_to_high_precision():
    # The float64 scipy/numpy reference against a 40-digit Gauss–Newton polish and
    # s²(JᵀJ)⁻¹ there (measured: 1e-15 in b, 5e-14 in the standard errors), so the
    # tolerances below (1e-11 for standard errors at the same θ) are well above its error.
    mp_b, mp_sd = _mp_reference()
    assert rel(REF_B, mp_b) < 1e-12
    assert rel(REF_SD, mp_sd) < 1e-12
    # The simulation is sensible: residual SD near the noise SD 0.1, b near (240, 5.5e-4).
    assert 0.05 < REF_RESID_SD < 0.2
    assert rel(REF_B, [240.0, 5.5e-4]) < 0.05


def test_classical_is_the_default_and_matches_the_reference():
    model = NonlinearRegression(exp_rise)
    params = {"theta": REF_B, "variance": exp_rss(REF_B) / N}  # σ² the MLE
    s = inference.summary(model, params, EXP_DATA)  # cov_type=None: classical
    assert s.cov_type == "classical" and int(s.status) == 0
    assert s.labels == ("theta[0]", "theta[1]", "variance")
    assert rel(s.stderr[:2], REF_SD) < 1e-11  # the same s²(JᵀJ)⁻¹ at the same θ
    assert s.use_t and s.df_resid == N - 2 and s.n_params == 2
    j = s.labels.index("variance")  # 2σ⁴/n, as for LinearRegression's classical path
    assert rel(s.stderr[j], params["variance"] * np.sqrt(2.0 / N)) < 1e-12
    se = inference.stderr(model, params, EXP_DATA)
    assert rel(se["theta"], REF_SD) < 1e-11
    assert np.max(np.abs(s.newton_step[:2])) < 1e-6  # the reference is the optimum
    # Weights: w_i = 4 everywhere scales RSS and JᵀWJ alike: the same standard errors.
    w = {**EXP_DATA, "weight": np.full(N, 4.0)}
    sw = inference.summary(model, {"theta": REF_B, "variance": 1.0}, w)
    assert rel(sw.stderr[:2], REF_SD) < 1e-11



def test_mle_reaches_the_reference_and_reports_its_standard_errors():
    # From a start far off (b1 doubled, b2 a fifth), as NIST's start 1 for Misra1a is.
    res = jaxmle.mle(NonlinearRegression(exp_rise), EXP_DATA, {"theta": np.array([500.0, 1e-4])})
    assert int(res.status) == 0 and bool(res.converged) and res.method == "least_squares"
    assert rel(res.params["theta"], REF_B) < 1e-10  # measured 4e-15 (polished)
    assert rel(res.stderr["theta"], REF_SD) < 1e-10  # measured 1.5e-13
    assert rel(res.params["variance"], exp_rss(REF_B) / N) < 1e-9  # σ² = RSS/n

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
    not the regression convention s²(JᵀJ)⁻¹."""

    def log_prob(p, d):
        return jax.scipy.stats.norm.logpdf(d["y"], exp_rise(p["theta"], d["x"]), jnp.sqrt(p["v"]))

    params = {"theta": REF_B, "v": exp_rss(REF_B) / N}
    s = inference.summary(log_prob, params, EXP_DATA, df_correction=True)
    J, curv = exp_jacobian_and_curvature(REF_B)
    want = exp_rss(REF_B) / (N - 2) * np.linalg.inv(J.T @ J - curv)  # Σ r_i ∇²f_i = curv
    assert rel(s.stderr[:2], np.sqrt(np.diag(want))) < 1e-8
    assert s.df_resid == N - 2 and s.use_t
    assert rel(s.stderr[:2], REF_SD) > 1e-4  # not the regression convention


def test_hessian_sandwich_expected_and_pytree_theta():
    model = NonlinearRegression(lambda t, x: t["b1"] * (1.0 - jnp.exp(-t["b2"] * x)))
    v = exp_rss(REF_B) / N
    params = {"theta": {"b1": REF_B[0], "b2": REF_B[1]}, "variance": v}
    s = inference.summary(model, params, EXP_DATA, cov_type="expected")
    assert s.labels == ("theta.b1", "theta.b2", "variance") and not s.use_t
    J, curv = exp_jacobian_and_curvature(REF_B)
    assert rel(s.stderr[:2], np.sqrt(np.diag(v * np.linalg.inv(J.T @ J)))) < 1e-9  # σ̂²(JᵀJ)⁻¹
    assert rel(s.stderr[2], v * np.sqrt(2.0 / N)) < 1e-12
    for cov_type in ("hessian", "sandwich"):
        h = inference.summary(model, params, EXP_DATA, cov_type=cov_type)
        assert int(h.status) == 0 and np.all(np.isfinite(h.stderr)), cov_type
    h = inference.summary(model, params, EXP_DATA, cov_type="hessian")  # σ̂²(JᵀJ − Σr∇²f)⁻¹
    assert rel(h.stderr[:2], np.sqrt(np.diag(v * np.linalg.inv(J.T @ J - curv)))) < 1e-8


def test_known_noise_variance_and_failures():
    # Known σ²: no variance parameter, normal quantiles, df n − p, s² = the known σ².
    model = NonlinearRegression(exp_rise, noise_variance=0.01)
    s = inference.summary(model, {"theta": REF_B}, EXP_DATA)
    assert s.labels == ("theta[0]", "theta[1]") and not s.use_t and s.df_resid == N - 2
    ratio = np.asarray(s.stderr) / REF_SD
    np.testing.assert_allclose(ratio, np.sqrt(0.01 / (exp_rss(REF_B) / (N - 2))), rtol=1e-9)
    # θ not identified (b1 and b3 only as a product): singular JᵀJ, NaN and a warning.
    flat = NonlinearRegression(lambda t, x: t[0] * t[2] * (1.0 - jnp.exp(-t[1] * x)))
    p3 = {"theta": np.array([REF_B[0], REF_B[1], 1.0]), "variance": 0.01}
    with pytest.warns(RuntimeWarning, match="Jacobian is numerically singular"):
        bad = inference.summary(flat, p3, EXP_DATA)
    assert int(bad.status) == 3 and np.all(np.isnan(bad.stderr))
    # Not at the optimum: the Gauss–Newton step of θ in standard errors says so.
    off = {"theta": REF_B * np.array([1.01, 1.0]), "variance": 0.01}
    with pytest.warns(RuntimeWarning, match="not converged"):
        nc = inference.summary(NonlinearRegression(exp_rise), off, EXP_DATA)
    assert jaxmle.Status(int(nc.status)).name == "NOT_CONVERGED" and "NOT_CONVERGED" in str(nc)
    # A prior: the default is the posterior curvature; classical is for least squares only.
    pri = NonlinearRegression(exp_rise, prior={"theta": Normal(0.0, scale=1e5)})
    mle = {"theta": REF_B, "variance": exp_rss(REF_B) / N}
    assert inference.summary(pri, mle, EXP_DATA, include_prior=False).cov_type == "hessian"
    with pytest.raises(jaxmle.InputError, match="`cov_type`"):
        inference.summary(pri, {"theta": REF_B, "variance": 0.01}, EXP_DATA,
                          cov_type="classical")  # fmt: skip
    with pytest.raises(jaxmle.InputError, match="`cov_type`"):
        inference.summary(NonlinearRegression(exp_rise), off, EXP_DATA, cov_type="HC1")
    with pytest.raises(jaxmle.InputError, match="`df_correction`"):
        inference.summary(NonlinearRegression(exp_rise), off, EXP_DATA, df_correction=True)
    with pytest.raises(jaxmle.InputError, match="mean_fn"):
        inference.summary(NonlinearRegression(lambda t, x: t[0] * jnp.ones(3)),
                          {"theta": np.ones(2), "variance": 1.0}, EXP_DATA)  # fmt: skip
