"""jaxmle.inference against independent references.

statsmodels (OLS/WLS nonrobust and HC0–HC3, Logit, Poisson GLM, robust HC0 of the MLEs, LR
tests) on its bundled datasets and on random problems, to 1e-6 relative; NIST StRD certified
standard deviations of the estimates with the coefficients' LRE bar; textbook closed forms
(Gaussian, Bernoulli, Poisson, multivariate Gaussian, conjugate posterior) otherwise.
"""

import dataclasses
import sys
import warnings
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats as scipy_stats

import jaxmle
import nist
from jaxmle import inference
from jaxmle.models import (
    Bernoulli,
    Gaussian,
    LinearRegression,
    LogisticRegression,
    MultivariateGaussian,
    Normal,
    Poisson,
)

sm = pytest.importorskip("statsmodels.api")

RTOL = 1e-6  # the bar for agreement with statsmodels


def rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / np.abs(b)))


def sm_order(s, field="stderr"):
    """A summary field in statsmodels' order: [intercept, coef...]."""
    v = np.asarray(getattr(s, field))
    lab = s.labels
    idx = [i for i, name in enumerate(lab) if name.startswith("coef")]
    if "intercept" in lab:
        idx = [lab.index("intercept"), *idx]
    return v[idx]


# --------------------------------------------------------------------------------------------
# Linear regression: statsmodels OLS / WLS.


def ols_params(res):
    """statsmodels' OLS/WLS estimate as LinearRegression params (σ² the MLE, RSS/n)."""
    return {"coef": res.params[1:], "intercept": res.params[0], "variance": res.ssr / res.nobs}


@pytest.fixture(scope="module")
def longley():
    d = sm.datasets.longley.load_pandas()
    X, y = d.exog.to_numpy(float), d.endog.to_numpy(float)
    return X, y, ols_params(sm.OLS(y, sm.add_constant(X)).fit())


@pytest.mark.parametrize(
    "cov_type, sm_type",
    [("classical", "nonrobust"), ("HC0", "HC0"), ("HC1", "HC1"), ("HC2", "HC2"), ("HC3", "HC3")],
)
def test_ols_longley_matches_statsmodels(longley, cov_type, sm_type):
    X, y, params = longley
    ref = sm.OLS(y, sm.add_constant(X)).fit(cov_type=sm_type)
    s = inference.summary(LinearRegression(), params, {"X": X, "y": y}, cov_type=cov_type)
    assert s.status == 0
    assert s.use_t == ref.use_t  # t for nonrobust, normal for HC (statsmodels' defaults)
    assert rel(sm_order(s, "stderr"), ref.bse) < RTOL
    assert rel(sm_order(s, "statistic"), ref.tvalues) < RTOL
    assert rel(sm_order(s, "pvalue"), ref.pvalues) < RTOL
    ci = ref.conf_int()
    assert rel(sm_order(s, "ci_low"), ci[:, 0]) < RTOL
    assert rel(sm_order(s, "ci_high"), ci[:, 1]) < RTOL
    assert rel(s.loglik, ref.llf) < RTOL
    assert rel(s.aic, ref.aic) < RTOL and rel(s.bic, ref.bic) < RTOL
    assert s.df_resid == ref.df_resid


def test_default_linear_regression_summary_is_statsmodels_ols(longley):
    """mle(LinearRegression()).summary is OLS(y, add_constant(X)).fit(): classical, t tests."""
    X, y, _ = longley
    ref = sm.OLS(y, sm.add_constant(X)).fit()
    s = jaxmle.mle(LinearRegression(), {"X": X, "y": y}).summary
    assert s.cov_type == "classical" and s.use_t and s.df_resid == ref.df_resid == 9
    assert int(s.status) == 0
    assert rel(sm_order(s, "stderr"), ref.bse) < 1e-9
    assert rel(sm_order(s, "statistic"), ref.tvalues) < 1e-9
    assert rel(sm_order(s, "pvalue"), ref.pvalues) < 1e-9
    # The p-values are Student's t on n − p = 9 df (the normal's would differ by ~2×).
    t = sm_order(s, "statistic")
    np.testing.assert_allclose(sm_order(s, "pvalue"), 2 * scipy_stats.t.sf(np.abs(t), 9),
                               rtol=1e-9)  # fmt: skip
    # σ² (statsmodels has no such row): the MLE RSS/n with SE σ̂²·sqrt(2/n), no test.
    j = s.labels.index("variance")
    n = X.shape[0]
    assert rel(s.estimate[j], ref.ssr / n) < 1e-10
    assert rel(s.stderr[j], ref.ssr / n * np.sqrt(2.0 / n)) < 1e-10
    assert np.isnan(s.statistic[j]) and np.isnan(s.pvalue[j]) and np.isfinite(s.ci_low[j])
    assert "no test of σ² = 0" in str(s)
    # The inverse observed information is still there, explicitly: SEs smaller by sqrt(9/16)
    # (by autodiff: longley's conditioning leaves it ~1e-8 from the QR-refined classical).
    h = inference.summary(LinearRegression(), ols_params(ref), {"X": X, "y": y},
                          cov_type="hessian")  # fmt: skip
    assert rel(sm_order(h), ref.bse * np.sqrt(9 / 16)) < RTOL and not h.use_t
    assert np.isfinite(h.statistic[j])


def test_default_with_known_noise_variance_is_classical_with_z_tests(random_ols):
    X, y, _ = random_ols
    model, data = LinearRegression(noise_variance=2.0), {"X": X, "y": y}
    res = jaxmle.mle(model, data)
    s = res.summary
    assert s.cov_type == "classical" and not s.use_t  # σ² known: z tests, as statsmodels'
    h = inference.summary(model, res, data, cov_type="hessian")
    # σ²(XᵀX)⁻¹ is the inverse observed information.
    assert rel(s.stderr, h.stderr) < 1e-9 and rel(s.pvalue, h.pvalue) < 1e-9
    np.testing.assert_allclose(s.stderr, np.sqrt(np.diag(
        2.0 * np.linalg.inv(np.column_stack([X, np.ones(len(y))]).T
                            @ np.column_stack([X, np.ones(len(y))])))), rtol=1e-9)  # fmt: skip


def test_wls_random_matches_statsmodels():
    rng = np.random.default_rng(4)
    n = 40
    X = rng.normal(size=(n, 2))
    w = rng.uniform(0.2, 3.0, n)
    y = 1.0 + X @ [0.5, -2.0] + rng.normal(size=n) / np.sqrt(w)
    data = {"X": X, "y": y, "weight": w}
    for cov_type, sm_type in [("classical", "nonrobust"), ("HC1", "HC1")]:
        ref = sm.WLS(y, sm.add_constant(X), weights=w).fit(cov_type=sm_type)
        s = inference.summary(LinearRegression(), ols_params(ref), data, cov_type=cov_type)
        assert rel(sm_order(s), ref.bse) < RTOL, cov_type
        assert rel(sm_order(s, "pvalue"), ref.pvalues) < RTOL, cov_type
    assert rel(s.loglik, ref.llf) < RTOL


@pytest.fixture(scope="module")
def random_ols():
    rng = np.random.default_rng(0)
    n = 60
    X = rng.normal(size=(n, 3))
    y = 0.3 + X @ [1.0, -1.0, 0.5] + rng.normal(size=n) * (0.5 + np.abs(X[:, 0]))
    return X, y, ols_params(sm.OLS(y, sm.add_constant(X)).fit())


def test_autodiff_sandwich_is_hc0_and_hessian_is_mle_classical(random_ols):
    """The generic H⁻¹BH⁻¹ from autodiff reproduces statsmodels' HC0 on the coefficients, and
    the inverse Hessian is the classical covariance with the MLE σ² = RSS/n."""
    X, y, params = random_ols
    data = {"X": X, "y": y}
    hc0 = sm.OLS(y, sm.add_constant(X)).fit(cov_type="HC0")
    s = inference.summary(LinearRegression(), params, data, cov_type="sandwich")
    assert rel(sm_order(s), hc0.bse) < RTOL
    ols = sm.OLS(y, sm.add_constant(X)).fit()
    n, p = X.shape[0], X.shape[1] + 1
    h = inference.summary(LinearRegression(), params, data, cov_type="hessian")
    assert rel(sm_order(h), ols.bse * np.sqrt((n - p) / n)) < RTOL
    j = h.labels.index("variance")  # Var(σ̂²) = 2σ⁴/n at the MLE
    assert rel(h.stderr[j], float(params["variance"]) * np.sqrt(2.0 / n)) < RTOL


def test_lr_test_matches_statsmodels(random_ols):
    X, y, params = random_ols
    full = sm.OLS(y, sm.add_constant(X)).fit()
    restr = sm.OLS(y, sm.add_constant(X[:, :1])).fit()
    lr, p, df = full.compare_lr_test(restr)
    model = LinearRegression()
    s_full = inference.summary(model, params, {"X": X, "y": y})
    p_r = ols_params(restr)
    s_r = inference.summary(model, p_r, {"X": X[:, :1], "y": y})
    t = inference.lr_test(s_r, s_full)
    assert t.df == df == 2
    assert rel(t.statistic, lr) < RTOL and rel(t.pvalue, p) < RTOL
    t2 = jax.jit(lambda a, b: inference.lr_test(a, b, df=2))(s_r.loglik, s_full.loglik)
    assert rel(t2.pvalue, p) < RTOL


# --------------------------------------------------------------------------------------------
# Logit and Poisson GLM.


@pytest.fixture(scope="module")
def spector():
    d = sm.datasets.spector.load_pandas()
    X, y = d.exog.to_numpy(float), d.endog.to_numpy(float)
    ref = sm.Logit(y, sm.add_constant(X)).fit(disp=0, tol=1e-12)
    params = {"coef": ref.params[1:], "intercept": ref.params[0]}
    return X, y, params, ref


@pytest.mark.parametrize("cov_type", ["hessian", "expected"])
def test_logit_spector_matches_statsmodels(spector, cov_type):
    X, y, params, ref = spector
    s = inference.summary(LogisticRegression(), params, {"X": X, "y": y}, cov_type=cov_type)
    assert not s.use_t
    assert rel(sm_order(s), ref.bse) < RTOL
    assert rel(sm_order(s, "pvalue"), ref.pvalues) < RTOL
    assert rel(sm_order(s, "ci_low"), ref.conf_int()[:, 0]) < RTOL
    assert rel(s.loglik, ref.llf) < RTOL
    assert rel(s.aic, ref.aic) < RTOL and rel(s.bic, ref.bic) < RTOL


def test_logit_sandwich_matches_statsmodels_hc0(spector):
    X, y, params, _ = spector
    ref = sm.Logit(y, sm.add_constant(X)).fit(disp=0, tol=1e-12, cov_type="HC0")
    s = inference.summary(LogisticRegression(), params, {"X": X, "y": y}, cov_type="sandwich")
    assert rel(sm_order(s), ref.bse) < RTOL


def poisson_glm_log_prob(params, data):
    """A user's own model: Poisson regression with a log link, as a plain function."""
    eta = data["X"] @ params["coef"] + params["intercept"]
    return jax.scipy.stats.poisson.logpmf(data["y"], jnp.exp(eta))


def test_poisson_glm_plain_function_matches_statsmodels():
    d = sm.datasets.cpunish.load_pandas()
    X = d.exog.to_numpy(float)
    X[:, 3] = np.log(X[:, 3])  # statsmodels' own example logs income
    y = d.endog.to_numpy(float)
    glm = sm.GLM(y, sm.add_constant(X), family=sm.families.Poisson())
    ref = glm.fit(tol=1e-13)
    params = {"coef": ref.params[1:], "intercept": ref.params[0]}
    data = {"X": X, "y": y}
    s = inference.summary(poisson_glm_log_prob, params, data)
    assert s.labels[-1] == "intercept" and s.labels[0] == "coef[0]"
    assert rel(sm_order(s), ref.bse) < RTOL
    assert rel(sm_order(s, "pvalue"), ref.pvalues) < RTOL
    assert rel(s.loglik, ref.llf) < RTOL
    assert rel(s.aic, ref.aic) < RTOL and rel(s.bic, ref.bic_llf) < RTOL
    robust = glm.fit(tol=1e-13, cov_type="HC0")
    s = inference.summary(poisson_glm_log_prob, params, data, cov_type="sandwich")
    assert rel(sm_order(s), robust.bse) < RTOL


# --------------------------------------------------------------------------------------------
# NIST StRD: certified standard deviations of the estimates.


# Each dataset has its own shapes, hence its own compilation (~1-2 s): a spread of them runs
# here (no intercept, six predictors, the hardest polynomial, an exact fit with RSS = 0);
# tests/test_nist_linear.py covers all eleven through closed_form's own standard errors.
NIST_SUBSET = ["NoInt1", "Longley", "Filip", "Wampler1"]


@pytest.mark.skipif(not nist.available(), reason="NIST StRD files not found")
@pytest.mark.parametrize("name", NIST_SUBSET)
def test_nist_certified_standard_deviations(name):
    """Classical standard errors on the float64 design (what users pass), at the certified
    estimates, reach the LRE bar the coefficients must reach (scipy gelsy's digits,
    tests/test_nist_linear.py)."""
    from test_nist_linear import GELSY_BAR, _design

    p = nist.load_linear(name)
    A = _design(p)
    X = A[:, 1:] if p.intercept else A
    params = {"coef": p.coef[1:] if p.intercept else p.coef, "variance": 1.0}
    if p.intercept:
        params["intercept"] = p.coef[0]
    s = inference.summary(LinearRegression(intercept=p.intercept), params, {"X": X, "y": p.y},
                          cov_type="classical")  # fmt: skip
    got = nist.lre(sm_order(s), p.se).min()
    assert got >= GELSY_BAR[name], (name, got)


# --------------------------------------------------------------------------------------------
# Closed-form references for the simple models.


# One Gaussian sample shared by several tests, so they share one compiled kernel.
X_GAUSS = np.random.default_rng(1).normal(2.0, 3.0, size=50)


def test_gaussian_standard_errors_closed_form():
    x = X_GAUSS
    model = Gaussian()
    mle = {"mean": x.mean(), "variance": x.var()}
    m, v, n = float(mle["mean"]), float(mle["variance"]), x.size
    for cov_type in ("hessian", "expected"):
        se = inference.stderr(model, mle, x, cov_type=cov_type)
        assert rel([se["mean"], se["variance"]], [np.sqrt(v / n), v * np.sqrt(2.0 / n)]) < 1e-10
    # Outer product of the scores [(x−μ)/σ², ((x−μ)²/σ² − 1)/(2σ²)], inverted by numpy.
    S = np.column_stack([(x - m) / v, ((x - m) ** 2 / v - 1.0) / (2.0 * v)])
    want = np.sqrt(np.diag(np.linalg.inv(S.T @ S)))
    s = inference.summary(model, mle, x, cov_type="outer")
    assert rel(s.stderr, want) < 1e-10


@pytest.mark.parametrize("cov_type", ["hessian", "expected"])
def test_bernoulli_and_poisson_standard_errors(cov_type):
    rng = np.random.default_rng(2)
    x = (rng.uniform(size=80) < 0.3).astype(float)
    p = x.mean()
    s = inference.summary(Bernoulli(), {"prob": p}, x, cov_type=cov_type)
    assert rel(s.stderr, np.sqrt(p * (1 - p) / x.size)) < 1e-10
    c = rng.poisson(3.0, size=60).astype(float)
    s = inference.summary(Poisson(), {"rate": c.mean()}, c, cov_type=cov_type)
    assert rel(s.stderr, np.sqrt(c.mean() / c.size)) < 1e-10


def test_mvn_covariance_parameter_uses_lower_triangle():
    """Var(Σ̂_ij) = (σ_ii σ_jj + σ_ij²)/n and Cov(mean) = Σ/n at the MLE; labels are vech."""
    rng = np.random.default_rng(3)
    x = rng.multivariate_normal([1.0, -1.0], [[2.0, 0.6], [0.6, 1.0]], size=200)
    model = MultivariateGaussian()
    mle = {"mean": x.mean(axis=0), "cov": np.cov(x.T, ddof=0)}
    S, n = mle["cov"], x.shape[0]
    assert inference.param_labels(mle, model) == (
        "cov[0,0]", "cov[1,0]", "cov[1,1]", "mean[0]", "mean[1]")  # fmt: skip
    want = [np.sqrt((S[i, i] * S[j, j] + S[i, j] ** 2) / n) for i, j in [(0, 0), (1, 0), (1, 1)]]
    want += list(np.sqrt(np.diag(S) / n))
    for cov_type in ("hessian", "expected"):
        s = inference.summary(model, mle, x, cov_type=cov_type)
        assert rel(s.stderr, want) < 1e-8, cov_type
    se = inference.stderr(model, mle, x)  # back in the params' shapes: a symmetric matrix
    assert se["cov"].shape == (2, 2) and float(se["cov"][0, 1]) == float(se["cov"][1, 0])


def test_expected_information_regression_designs():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(30, 2))
    w = rng.uniform(0.5, 2.0, 30)
    y = X @ [1.0, 2.0] + rng.normal(size=30)
    params = {"coef": np.array([0.9, 2.1]), "intercept": 0.1, "variance": 1.7}
    info = inference.expected_information(LinearRegression(), params, {"X": X, "y": y, "weight": w})
    A = np.column_stack([X, np.ones(30)])  # packed order: coef, intercept, variance
    want = np.zeros((4, 4))
    want[:3, :3] = (A * w[:, None]).T @ A / 1.7
    want[3, 3] = 30 / (2 * 1.7**2)
    np.testing.assert_allclose(info, want, rtol=1e-12, atol=1e-12)
    # Logistic: Σ p(1−p) x xᵀ, equal to the observed information (canonical link).
    yb = (rng.uniform(size=30) < 0.5).astype(float)
    lp = {"coef": np.array([0.4, -0.3]), "intercept": 0.2}
    data = {"X": X, "y": yb}
    pr = 1 / (1 + np.exp(-(A @ [0.4, -0.3, 0.2])))
    want = (A * (pr * (1 - pr))[:, None]).T @ A
    np.testing.assert_allclose(
        inference.expected_information(LogisticRegression(), lp, data), want, rtol=1e-12
    )
    np.testing.assert_allclose(
        inference.observed_information(LogisticRegression(), lp, data), want, rtol=1e-12
    )


def test_scores_equal_per_row_grad_and_closed_form(spector):
    X, y, params, _ = spector
    model = LogisticRegression()
    data = {"X": X, "y": y}
    S = np.asarray(inference.scores(model, params, data))

    def row_grad(xi, yi):  # vmap(grad) over rows, an independent route
        return jax.flatten_util.ravel_pytree(
            jax.grad(lambda p: model.log_prob(p, {"X": xi[None], "y": yi[None]})[0])(params)
        )[0]

    params = {k: jnp.asarray(v) for k, v in params.items()}
    np.testing.assert_allclose(S, jax.vmap(row_grad)(jnp.asarray(X), jnp.asarray(y)), atol=1e-12)
    A = np.column_stack([X, np.ones(len(y))])
    pr = 1 / (1 + np.exp(-(A @ np.r_[params["coef"], params["intercept"]])))
    np.testing.assert_allclose(S, (y - pr)[:, None] * A, atol=1e-12)


# --------------------------------------------------------------------------------------------
# Failure modes: singular / indefinite curvature, MAP fits, jit.


def test_singular_hessian_gives_nan_and_warns(spector):
    X, y, params, _ = spector
    X2 = np.column_stack([X, X[:, 0]])  # a duplicated column: not identified
    p2 = {"coef": np.r_[params["coef"], 0.0], "intercept": params["intercept"]}
    with pytest.warns(RuntimeWarning, match="singular"):
        s = inference.summary(LogisticRegression(), p2, {"X": X2, "y": y})
    assert int(s.status) == 3 and np.all(np.isnan(s.stderr))
    assert "singular" in str(s)


def test_ols_failures_are_flagged_with_the_reason(longley):
    """HC3 with a leverage-one observation, no residual df, a singular design: NaN + why."""
    X, y, _ = longley
    Xd = X.copy()
    Xd[:, 5] = np.eye(len(y))[0]  # a dummy for observation 0: h_0 = 1 (same shapes: cached)
    ref = sm.OLS(y, sm.add_constant(Xd)).fit(cov_type="HC0")
    data = {"X": Xd, "y": y}
    with pytest.warns(RuntimeWarning, match="leverage h_i = 1"):
        s = inference.summary(LinearRegression(), ols_params(ref), data, cov_type="HC3")
    assert int(s.status) == 5 and np.all(np.isnan(s.stderr)) and np.all(np.isnan(s.cov))
    s = inference.summary(LinearRegression(), ols_params(ref), data, cov_type="HC0")
    assert int(s.status) == 0 and rel(sm_order(s), ref.bse) < RTOL  # HC0 is still defined
    # n = p: σ² = RSS/(n − p) and t need residual degrees of freedom.
    X3, y3 = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 5.0]]), np.array([1.0, 2.0, 4.0])
    exact = {"coef": np.array([7.0, 1.0]) / 6.0, "intercept": 5.0 / 6.0, "variance": 1.0}
    with pytest.warns(RuntimeWarning, match="no residual degrees of freedom"):
        s = inference.summary(LinearRegression(), exact, {"X": X3, "y": y3}, cov_type="classical")
    assert int(s.status) == 4 and np.all(np.isnan(s.stderr)) and s.df_resid == 0
    collinear = np.column_stack([X3[:, 0], 2.0 * X3[:, 0]])  # same shapes: same program
    with pytest.warns(RuntimeWarning, match="singular.*condition number"):
        s = inference.summary(LinearRegression(), exact, {"X": collinear, "y": y3},
                              cov_type="classical")  # fmt: skip
    assert int(s.status) == 3 and np.all(np.isnan(s.stderr)) and "SINGULAR" in str(s)


def test_indefinite_hessian_gives_nan_and_warns_but_only_flags_under_jit():
    x = X_GAUSS
    model = Gaussian()
    bad = {"mean": float(x.mean()), "variance": 10.0 * float(x.var())}  # curvature < 0 in σ²
    with pytest.warns(RuntimeWarning, match="not positive definite"):
        s = inference.summary(model, bad, x)
    assert int(s.status) == 2 and np.all(np.isnan(s.stderr))
    f = jax.jit(lambda p: inference.summary(model, p, jnp.asarray(x)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = f({k: jnp.asarray(v) for k, v in bad.items()})
    assert int(s.status) == 2 and np.all(np.isnan(s.stderr))


def test_map_standard_errors_warn_and_equal_posterior_sd():
    x = np.random.default_rng(7).normal(1.0, 2.0, size=25)
    model = Gaussian(variance=4.0, prior={"mean": Normal(0.0, scale=0.5)})
    est = {"mean": x.sum() / 4.0 / (25 / 4.0 + 1 / 0.25)}  # the conjugate posterior mode
    with pytest.warns(UserWarning, match="posterior"):
        s = inference.summary(model, est, x)
    assert s.posterior and "posterior" in str(s)
    assert rel(s.stderr, (25 / 4.0 + 1 / 0.25) ** -0.5) < 1e-12  # conjugate posterior sd
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = inference.summary(model, est, x, include_prior=False)
    assert rel(s.stderr, 2.0 / 5.0) < 1e-12


# --------------------------------------------------------------------------------------------
# jit, vmap and sweeps.


class Est(NamedTuple):
    """A minimal result: params and a status (what summary reads from FitResult/MLEResult)."""

    params: dict
    status: jax.Array


def test_vmap_over_lanes_and_no_recompile():
    x = X_GAUSS
    model = Gaussian()
    lanes = {"mean": jnp.array([0.0, 0.1, 0.2]), "variance": jnp.array([0.8, 1.0, 1.2])}
    # Results that say they are converged are checked as bare params are: these lanes are far
    # from the MLE (NOT_CONVERGED), the MLE's lanes are fine, traced or not.
    far = jax.vmap(lambda r: inference.summary(model, r, jnp.asarray(x)).status)(
        Est(lanes, jnp.zeros(3, jnp.int32)))  # fmt: skip
    assert np.asarray(far).tolist() == [9, 9, 9]
    mle = {"mean": float(np.mean(x)), "variance": float(np.var(x))}
    at = Est({k: jnp.full(3, v) for k, v in mle.items()}, jnp.zeros(3, jnp.int32))
    se = jax.vmap(lambda r: inference.summary(model, r, jnp.asarray(x)).stderr)(at)
    one = inference.summary(model, Est(mle, 0), x)
    assert int(one.status) == 0 and np.all(np.isfinite(one.stderr))
    for i in range(3):
        np.testing.assert_allclose(se[i], one.stderr, rtol=1e-13)
    # Bare params get the stationarity check, traced or not: these are far from the MLE.
    f = jax.vmap(lambda p: inference.summary(model, p, jnp.asarray(x)))
    steps = f(lanes)
    assert np.asarray(steps.status).tolist() == [9, 9, 9]
    size = jaxmle._inference._summary_jit._cache_size()
    with pytest.warns(RuntimeWarning, match="not converged"):
        one = inference.summary(model, {k: v[0] for k, v in lanes.items()}, x)
    np.testing.assert_allclose(one.newton_step, steps.newton_step[0], rtol=1e-12)
    with pytest.warns(RuntimeWarning, match="not converged"):
        inference.summary(model, {"mean": 0.3, "variance": 2.0}, x)
    with pytest.warns(RuntimeWarning, match="not converged"):  # result or bare: the same
        inference.summary(model, Est({"mean": 0.3, "variance": 2.0}, 0), x)
    assert jaxmle._inference._summary_jit._cache_size() == size


def test_sweep_summary_per_lane():
    import optax

    x = np.random.default_rng(9).normal(1.0, 1.0, size=50)
    model = Gaussian(variance=1.0)
    study = jaxmle.sweep(model, model.init(x), x, optimizer={"sgd": optax.sgd},
                         grid={"learning_rate": [0.1, 0.5], "seed": [0]}, steps=30,
                         key=jax.random.key(0))  # fmt: skip
    # 30 steps at learning rate 0.1 stop short (the study's own `converged` says so).
    assert np.asarray(study.converged).ravel().tolist() == [False, True]
    with pytest.warns(RuntimeWarning, match="1 of 2 lanes.*1 not converged"):
        s = inference.sweep_summary(model, study, x)
    assert s.batch_shape == study.shape
    first, second = np.asarray(s.status).ravel().tolist()
    assert first in (6, 9) and second == 0  # the study's own code (MAX_STEPS) or NOT_CONVERGED
    assert np.isnan(s.lane(0, 0, 0).stderr).all()
    lane = s.lane(0, 1, 0)
    ref = inference.summary(model, study.lane(optimizer="sgd", learning_rate=0.5, seed=0).params, x)
    np.testing.assert_allclose(lane.estimate, ref.estimate, rtol=1e-13)
    np.testing.assert_allclose(lane.stderr, 1.0 / np.sqrt(50), rtol=1e-12)
    df = s.to_dataframe()
    assert {"optimizer", "learning_rate", "seed", "parameter", "std err"} <= set(df.columns)
    assert len(df) == 2
    # The same lanes as bare params: the stationarity check finds the same lane.
    with pytest.warns(RuntimeWarning, match="1 of 2 lanes"):
        bare = inference.sweep_summary(model, study.params, x, batch_ndim=3)
    assert np.asarray(bare.status).ravel().tolist() == [9, 0]
    # A diverged lane (NaN estimate) is that lane's status, counted in one warning; the other
    # lane is untouched (the design's "one diverging run never spoils the others").
    mean = np.array([[[x.mean()], [np.nan]]])
    with pytest.warns(RuntimeWarning, match="1 of 2 lanes"):
        ok = {"converged": np.ones((1, 2, 1), bool)}
        if hasattr(study, "status"):  # a study's status, when it has one, is what counts
            ok["status"] = np.zeros((1, 2, 1), np.int32)
        bad = inference.sweep_summary(
            model, dataclasses.replace(study, params={"mean": mean}, **ok), x
        )
    assert np.asarray(bad.status).ravel().tolist() == [0, 1]
    assert np.isnan(bad.lane(0, 1, 0).stderr).all()
    np.testing.assert_allclose(bad.lane(0, 0, 0).stderr, 1.0 / np.sqrt(50), rtol=1e-12)


# --------------------------------------------------------------------------------------------
# Tables, helpers, errors.


def test_summary_text_and_dataframe(longley):
    X, y, params = longley
    s = inference.summary(LinearRegression(), params, {"X": X, "y": y}, cov_type="classical")
    text = str(s)
    for token in ("coef[5]", "intercept", "variance", "P>|t|", "[0.025", "0.975]", "AIC:"):
        assert token in text
    df = s.to_dataframe()
    assert list(df.columns) == ["estimate", "std err", "t", "P>|t|", "[0.025", "0.975]"]
    assert df.index.name == "parameter" and df.loc["intercept", "std err"] == s.stderr[6]


def test_every_public_name_imports():
    assert inference.__all__ and jaxmle.montecarlo and jaxmle.MonteCarloResult
    for name in inference.__all__:
        assert getattr(inference, name) is not None, name
    assert set(inference.COV_TYPES) >= {"hessian", "sandwich", "HC3", "classical"}


def test_to_dataframe_without_pandas(monkeypatch):
    s = inference.summary(Gaussian(variance=1.0), {"mean": 0.0}, np.array([0.1, -0.2, 0.1]))
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match="pip install pandas"):
        s.to_dataframe()


def test_wald_aic_bic_helpers():
    import scipy.stats

    w = inference.wald(jnp.array([1.0, -3.0]), jnp.array([0.5, 1.0]), level=0.9)
    np.testing.assert_allclose(w.pvalue, 2 * scipy.stats.norm.sf([2.0, 3.0]), rtol=1e-12)
    np.testing.assert_allclose(w.ci_high, [1.0, -3.0] + scipy.stats.norm.ppf(0.95) * np.array(
        [0.5, 1.0]), rtol=1e-12)  # fmt: skip
    wt = inference.wald(jnp.array([2.5]), jnp.array([1.0]), df=7)
    np.testing.assert_allclose(wt.pvalue, 2 * scipy.stats.t.sf(2.5, 7), rtol=1e-10)
    assert float(inference.aic(-10.0, 3)) == 26.0
    assert rel(inference.bic(-10.0, 3, 100), 20.0 + 3 * np.log(100)) < 1e-15


def test_bad_input_names_the_argument(spector):
    X, y, params, _ = spector
    data = {"X": X, "y": y}
    logit = LogisticRegression()
    cases = [
        (dict(model=logit, params=params, data=data, cov_type="HC9"), "cov_type"),
        (dict(model=logit, params=params, data=data, cov_type="HC1"), "cov_type"),
        (dict(model=logit, params=params, data=data, level=1.5), "level"),
        (dict(model=logit, params={"coef": params["coef"]}, data=data), "params"),
        (dict(model=logit, params={**params, "coef": params["coef"][:2]}, data=data), "params"),
        (dict(model=logit, params={**params, "intercept": np.nan}, data=data), "params"),
        (dict(model=logit, params=params, data={"X": X, "y": y[:-1]}), "data"),
        (dict(model=poisson_glm_log_prob, params=params, data=data, cov_type="expected"),
         "cov_type"),
        (dict(model="logit", params=params, data=data), "model"),
        (dict(model=logit, params=params, data=data, n_params=-1), "n_params"),
    ]  # fmt: skip
    for kwargs, arg in cases:
        with pytest.raises(jaxmle.InputError, match=f"`{arg}"):
            inference.summary(**kwargs)
    with pytest.raises(jaxmle.InputError, match="`df`"):
        inference.lr_test(-3.0, -1.0)
    s = inference.summary(logit, params, data)
    with pytest.raises(jaxmle.InputError, match=r"`full`.*same data"):
        inference.lr_test(dataclasses.replace(s, n_obs=10), s, df=1)
    helpers = [
        (lambda: inference.wald(jnp.ones(3), jnp.ones(2)), "stderr"),
        (lambda: inference.wald(jnp.ones(2), jnp.ones(2), df=0), "df"),
        (lambda: inference.wald(jnp.ones(2), jnp.ones(2), level=95), "level"),
        (lambda: inference.aic(-1.0, -2), "n_params"),
        (lambda: inference.bic(-1.0, 2, 0), "n_obs"),
        (lambda: inference.summary(logit, params, data, symmetric="coef"), "symmetric"),
    ]
    for call, arg in helpers:
        with pytest.raises(jaxmle.InputError, match=f"`{arg}"):
            call()
    with pytest.raises(jaxmle.InputError, match="`batch_ndim`"):
        inference.sweep_summary(logit, params, data)
