"""OLS / WLS / ridge / polyfit against statsmodels and scipy, every path, and bad input."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxmle
from jaxmle import InputError, RankDeficientError
from jaxmle.closed_form import intercept_by_centring, lstsq, ols, polyfit, ridge, wls

sm = pytest.importorskip("statsmodels.api")


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(0)
    n, d = 60, 4
    X = rng.standard_normal((n, d)) * [1.0, 10.0, 0.1, 3.0] + [0.0, 5.0, -1.0, 2.0]
    y = 1.5 + X @ np.array([0.5, -0.2, 3.0, 1.0]) + rng.standard_normal(n)
    w = rng.uniform(0.5, 2.0, n)
    return X, y, w


def test_ols_matches_statsmodels(problem):
    X, y, _ = problem
    fit = ols(X, y)
    ref = sm.OLS(y, sm.add_constant(X)).fit()
    np.testing.assert_allclose(fit.params["intercept"], ref.params[0], rtol=1e-12)
    np.testing.assert_allclose(fit.params["coef"], ref.params[1:], rtol=1e-12)
    np.testing.assert_allclose(fit.stderr["intercept"], ref.bse[0], rtol=1e-10)
    np.testing.assert_allclose(fit.stderr["coef"], ref.bse[1:], rtol=1e-10)
    np.testing.assert_allclose(fit.r2, ref.rsquared, rtol=1e-12)
    np.testing.assert_allclose(fit.rss, ref.ssr, rtol=1e-12)
    np.testing.assert_allclose(fit.params["variance"], ref.ssr / len(y), rtol=1e-12)
    np.testing.assert_allclose(fit.variance_unbiased, ref.scale, rtol=1e-12)
    np.testing.assert_allclose(fit.cov, ref.cov_params(), rtol=1e-10)
    assert fit.df_resid == len(y) - 5


def test_wls_matches_statsmodels(problem):
    X, y, w = problem
    fit = wls(X, y, w)
    ref = sm.WLS(y, sm.add_constant(X), weights=w).fit()
    got = np.concatenate([[fit.params["intercept"]], fit.params["coef"]])
    np.testing.assert_allclose(got, ref.params, rtol=1e-12)
    np.testing.assert_allclose(fit.stderr["coef"], ref.bse[1:], rtol=1e-10)
    np.testing.assert_allclose(fit.r2, ref.rsquared, rtol=1e-12)


def test_no_intercept_and_known_noise_variance(problem):
    X, y, _ = problem
    fit = ols(X, y, intercept=False, noise_variance=2.0)
    assert set(fit.params) == {"coef"}
    ref = sm.OLS(y, X).fit()
    np.testing.assert_allclose(fit.params["coef"], ref.params, rtol=1e-12)
    # Known σ²: the covariance is σ²(XᵀX)⁻¹ with the given σ², not the estimate.
    np.testing.assert_allclose(fit.cov, 2.0 * np.linalg.inv(X.T @ X), rtol=1e-10)
    np.testing.assert_allclose(fit.r2, ref.rsquared, rtol=1e-12)  # uncentred, as statsmodels


@pytest.mark.parametrize("method", ["gram", "qr", "cholesky", "svd"])
def test_every_path_agrees(problem, method):
    X, y, w = problem
    ref = sm.WLS(y, sm.add_constant(X), weights=w).fit().params
    s = lstsq(jnp.asarray(X), jnp.asarray(y), jnp.asarray(w), method=method, cov=True)
    np.testing.assert_allclose(np.concatenate([[s.intercept], s.coef]), ref, rtol=1e-10)
    A = sm.add_constant(X) * np.sqrt(w)[:, None]
    np.testing.assert_allclose(s.cov_unscaled, np.linalg.inv(A.T @ A), rtol=1e-9)


def test_auto_chooses_by_size_and_conditioning():
    rng = np.random.default_rng(1)
    n, d = 3000, 30  # 93,000 entries: above the small-problem cut-off
    X = rng.standard_normal((n, d))
    y = X @ rng.standard_normal(d) + 0.1 * rng.standard_normal(n)
    assert jaxmle.closed_form.ols(X, y).method == "gram"
    # Nearly collinear columns: κ(A)² eps is far too large for the normal equations.
    Xc = X.copy()
    Xc[:, 1] = Xc[:, 0] + 1e-7 * rng.standard_normal(n)
    fit = jaxmle.closed_form.ols(Xc, y)
    assert fit.method == "qr"
    ref = sm.OLS(y, sm.add_constant(Xc)).fit(method="qr").params
    np.testing.assert_allclose(fit.params["coef"], ref[1:], rtol=1e-6)


def test_intercept_by_centring_equals_augmented(problem):
    X, y, _ = problem
    a, c = ols(X, y).params, intercept_by_centring(X, y)
    np.testing.assert_allclose(c["intercept"], a["intercept"], rtol=1e-12)
    np.testing.assert_allclose(c["coef"], a["coef"], rtol=1e-12)


def test_ridge_against_penalised_normal_equations(problem):
    X, y, w = problem
    alpha, m = 3.0, np.array([0.1, 0.2, 0.3, 0.4])
    got = ridge(X, y, alpha, weight=w, prior_mean=m)
    A = sm.add_constant(X)
    P = np.diag([0.0, 1, 1, 1, 1]) * alpha
    rhs = A.T @ (w * y) + alpha * np.concatenate([[0.0], m])
    ref = np.linalg.solve(A.T @ (w[:, None] * A) + P, rhs)
    np.testing.assert_allclose(got["intercept"], ref[0], rtol=1e-11)
    np.testing.assert_allclose(got["coef"], ref[1:], rtol=1e-11)
    for method in ("gram", "svd"):
        np.testing.assert_allclose(
            ridge(X, y, alpha, weight=w, prior_mean=m, method=method)["coef"], ref[1:], rtol=1e-9
        )


def test_polyfit_matches_numpy_polyfit():
    rng = np.random.default_rng(2)
    x = rng.uniform(-1, 1, 50)
    y = 1 - 2 * x + 0.5 * x**3 + 0.01 * rng.standard_normal(50)
    fit = polyfit(x, y, 3)
    ref = np.polynomial.polynomial.polyfit(x, y, 3)
    np.testing.assert_allclose(fit.params["intercept"], ref[0], rtol=1e-10)
    np.testing.assert_allclose(fit.params["coef"], ref[1:], rtol=1e-10)


def test_seed_000_known_noise():
    """Seed 000: integer design, integer θ, σ² = 0.01 known: the MLE recovers θ."""
    key = jax.random.key(0)
    kx, kt, ke = jax.random.split(key, 3)
    X = jax.random.randint(kx, (100, 3), -10, 11).astype(jnp.float64)
    theta = jax.random.randint(kt, (3,), -8, 9).astype(jnp.float64)
    y = X @ theta + 0.1 * jax.random.normal(ke, (100,))
    fit = ols(X, y, intercept=False, noise_variance=0.01)
    np.testing.assert_allclose(fit.params["coef"], theta, atol=0.01)
    np.testing.assert_allclose(
        fit.params["coef"], np.linalg.lstsq(np.asarray(X), np.asarray(y))[0], rtol=1e-12
    )


def test_lstsq_jits_and_vmaps_over_datasets(problem):
    X, y, _ = problem
    ys = jnp.stack([jnp.asarray(y), 2.0 * jnp.asarray(y)])
    out = jax.vmap(lambda yy: lstsq(jnp.asarray(X), yy, method="gram"))(ys)
    np.testing.assert_allclose(out.coef[1], 2.0 * out.coef[0], rtol=1e-12)
    auto = jax.vmap(lambda yy: lstsq(jnp.asarray(X), yy))(ys)
    np.testing.assert_allclose(auto.coef, out.coef, rtol=1e-10)


def test_rank_deficient_raise_and_warn(problem):
    X, y, _ = problem
    Xd = np.hstack([X, X[:, :1] * 2.0])
    with pytest.raises(RankDeficientError, match="`X` is rank deficient"):
        ols(Xd, y)
    with pytest.warns(RuntimeWarning, match="minimum-norm"):
        fit = ols(Xd, y, rank_deficient="warn")
    A = sm.add_constant(Xd)
    ref = np.linalg.pinv(A) @ y
    np.testing.assert_allclose(fit.params["coef"], ref[1:], rtol=1e-8)
    assert fit.method == "minimum-norm"
    assert np.all(np.isnan(fit.stderr["coef"]))
    with pytest.raises(RankDeficientError):  # more parameters than observations
        ols(X[:3], y[:3])
    ridge(Xd, y, 1.0)  # a ridge penalty makes it well posed


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((np.array([[1.0, np.nan], [2.0, 3.0], [1.0, 1.0]]), np.ones(3)), {}, "`X` contains"),
        ((np.ones((3, 1)), np.array([1.0, np.inf, 2.0])), {}, "`y` contains"),
        ((np.ones((3, 1)), np.ones(4)), {}, "mismatched numbers of observations"),
        ((np.ones(3), np.ones(3)), {}, "`X` must have rank 2"),
        ((np.ones((0, 2)), np.ones(0)), {}, "`X` has 0 rows"),
        ((np.ones((3, 1)), np.ones(3)), {"method": "lu"}, "`method` must be one of"),
        ((np.ones((3, 1)), np.ones(3)), {"noise_variance": -1.0}, "`noise_variance` must be"),
        ((np.ones((3, 1)), np.ones(3)), {"rank_deficient": "ignore"}, "`rank_deficient`"),
    ],
)
def test_ols_bad_input(args, kwargs, match):
    with pytest.raises(InputError, match=match):
        ols(*args, **kwargs)


def test_other_bad_input(problem):
    X, y, w = problem
    with pytest.raises(InputError, match="`weight` must be a positive"):
        wls(X, y, -w)
    with pytest.raises(InputError, match="`alpha` must be"):
        ridge(X, y, -1.0)
    with pytest.raises(InputError, match="`prior_mean` has 2 entries"):
        ridge(X, y, 1.0, prior_mean=np.zeros(2))
    with pytest.raises(InputError, match="`degree` must be"):
        polyfit(X[:, 0], y, 0)


def test_normal_equations_warn_when_ill_conditioned():
    # κ ≈ 1e10: the normal equations (κ² ≈ 1e20 > 1/eps) have no correct digit. The requested
    # gram/cholesky paths warn with the design's condition number; qr/svd/auto do not.
    rng = np.random.default_rng(4)
    U, _ = np.linalg.qr(rng.standard_normal((200, 3)))
    V, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    X = U @ np.diag([1.0, 1e-5, 1e-10]) @ V.T
    y = X @ np.array([1.0, 2.0, 3.0]) + 1e-12 * rng.standard_normal(200)
    ref = ols(X, y, intercept=False, method="qr")
    assert 1e9 < ref.cond < 1e11
    for method in ("gram", "cholesky"):
        with pytest.warns(RuntimeWarning, match=r"condition number 1\.\d+e\+10.*'qr' or 'svd'"):
            fit = ols(X, y, intercept=False, method=method)
        assert 1e9 < fit.cond < 1e11  # the design's true κ, not the Gram factor's ~1e8
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for method in ("auto", "qr", "svd"):
            ols(X, y, intercept=False, method=method)
        ols(X[:, :1], y, intercept=False, method="cholesky")  # well conditioned: silent


def test_normal_equations_breakdown_raises():
    # κ ≈ 1e10 again, and here (seed 1, LAPACK on CPU) the Gram matrix's Cholesky factorisation
    # fails: NaN coefficients never come back. Whether it fails is a matter of rounding, so a
    # solve that does come back must have warned instead.
    rng = np.random.default_rng(1)
    t = np.linspace(0.0, 1.0, 50)
    X = np.c_[t, t + 1e-10 * rng.standard_normal(50)]
    y = X @ np.array([1.0, 1.0]) + 0.01 * rng.standard_normal(50)
    for method in ("gram", "cholesky"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                fit = ols(X, y, method=method)
            except InputError as err:
                assert f"method='{method}' broke down" in str(err) and "'qr' or 'svd'" in str(err)
            else:
                assert np.all(np.isfinite(fit.params["coef"]))
                assert any("condition number" in str(w.message) for w in caught)
    assert np.all(np.isfinite(ols(X, y).params["coef"]))


def test_ridge_alpha_zero_rank_deficient_raises(problem):
    X, y, _ = problem
    Xd = np.hstack([X, X[:, :1] + X[:, 1:2]])
    with pytest.raises(RankDeficientError, match=r"`X` is rank deficient.*alpha > 0"):
        ridge(Xd, y, 0.0)
    with pytest.raises(RankDeficientError, match=r"n=3, 5 parameters.*alpha > 0"):
        ridge(X[:3], y[:3], 0.0)  # p > n: was NaN
    for method in ("auto", "gram", "cholesky", "qr", "svd"):
        with pytest.raises(RankDeficientError):
            ridge(Xd, y, 0.0, method=method)
    # alpha > 0: well posed, also with p > n, on every path, matching the normal equations.
    A = sm.add_constant(X[:3])
    P = np.diag([0.0, 1, 1, 1, 1])
    ref = np.linalg.solve(A.T @ A + 0.5 * P, A.T @ y[:3])
    for method in ("auto", "gram", "cholesky", "qr", "svd"):
        got = ridge(X[:3], y[:3], 0.5, method=method)
        np.testing.assert_allclose(got["coef"], ref[1:], rtol=1e-8, err_msg=method)
    # ols and ridge(alpha=0) agree on a full-rank design.
    np.testing.assert_allclose(ridge(X, y, 0.0)["coef"], ols(X, y).params["coef"], rtol=1e-12)


def test_intercept_by_centring_rank_deficient_raises(problem):
    X, y, _ = problem
    with pytest.raises(RankDeficientError, match="rank deficient"):
        intercept_by_centring(np.hstack([X, 3.0 * X[:, :1]]), y)
