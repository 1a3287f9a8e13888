"""Closed-form estimators against independent oracles (numpy, scipy root finders, formulas)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import optimize

import jaxmle._estimators as est
from jaxmle._errors import InputError
from jaxmle._priors import Beta, Normal, Uniform
from jaxmle.data import from_decimal

D = np.array([0, 0, 1, 1, 0, 0, 1])  # the seed notebook's Task 3 coin tosses


def _normal_map_oracle(k: int, n: int, loc: float, scale: float) -> float:
    """MAP under N(loc, scale²) on (0, 1) by brentq on f'(θ) (or the boundary it falls on)."""
    s2 = scale**2

    def fprime(t):
        return k / t - (n - k) / (1 - t) - (t - loc) / s2

    lo, hi = 1e-300, 1 - 2**-53
    if fprime(lo) <= 0:
        return 0.0
    if fprime(hi) >= 0:
        return 1.0
    return optimize.brentq(fprime, lo, hi, xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=500)


def _neg_log_post(t, k, n, loc, s2):
    return -(k * np.log(t) + (n - k) * np.log1p(-t) - (t - loc) ** 2 / (2 * s2))


# --------------------------------------------------------------------------------------------
# The seed's exercise (Task 3)
# --------------------------------------------------------------------------------------------


def test_seed_exercise_bernoulli():
    k, n = int(D.sum()), D.size
    mle = float(est.bernoulli_mle(D)["prob"])
    assert abs(mle - 3 / 7) <= 1e-15

    maps = {}
    for reading, prior, s2 in [
        ("scale=0.1 (σ=0.1)", Normal(0.5, scale=0.1), 0.01),
        ("variance=0.1 (σ²=0.1)", Normal(0.5, variance=0.1), 0.1),
    ]:
        theta = float(est.bernoulli_map(D, prior)["prob"])
        brent = _normal_map_oracle(k, n, 0.5, np.sqrt(s2))
        bounded = optimize.minimize_scalar(
            _neg_log_post,
            bounds=(1e-9, 1 - 1e-9),
            args=(k, n, 0.5, s2),
            method="bounded",
            options={"xatol": 1e-12},
        ).x
        assert abs(theta - brent) <= 1e-12
        assert abs(theta - bounded) <= 1e-7  # a bounded minimiser resolves only ~sqrt(eps)
        maps[reading] = theta

    # Under σ² = 0.1 the cubic factors: θ = 1/sqrt(5) exactly.
    assert abs(maps["variance=0.1 (σ²=0.1)"] - 1 / np.sqrt(5)) <= 1e-15
    pred = float(est.posterior_predictive(D, 1.0, 1.0))
    assert abs(pred - 4 / 9) <= 1e-15
    assert float(est.bernoulli_map(D, Uniform(0.0, 1.0))["prob"]) == mle

    print(f"\nSeed Task 3, D = {D.tolist()}: θ_MLE = {mle!r} (3/7)")
    for reading, theta in maps.items():
        print(
            f"  prior N(0.5, 0.1) read as {reading}: θ_MAP = {theta:.15f}, "
            f"P(x8=0, x9=0 | θ_MAP) = (1-θ_MAP)² = {(1 - theta) ** 2:.15f}"
        )
    print(f"  uniform prior: P(x8=1 | D) = (k+1)/(n+2) = {pred!r} (4/9)")


# --------------------------------------------------------------------------------------------
# Bernoulli MAP
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("a,b", [(2.0, 2.0), (0.5, 3.0), (5.0, 1.5), (1.0, 1.0)])
def test_beta_map_against_mode_and_scipy(a, b):
    k, n = int(D.sum()), D.size
    theta = float(est.bernoulli_map(D, Beta(a, b))["prob"])
    mode = (a + k - 1) / (a + b + n - 2)
    assert abs(theta - mode) <= 1e-15
    nlp = lambda t: -((a + k - 1) * np.log(t) + (b + n - k - 1) * np.log1p(-t))  # noqa: E731
    res = optimize.minimize_scalar(nlp, bounds=(1e-9, 1 - 1e-9), method="bounded")
    assert abs(theta - res.x) <= 1e-6


@pytest.mark.parametrize(
    "x,a,b,expected",
    [
        ([0, 0, 0], 1.0, 2.0, 0.0),  # α = 1, β = 5: density decreasing, mode at 0
        ([0, 0, 0], 0.5, 1.0, 0.0),  # α < 1: density unbounded at 0
        ([1, 1], 2.0, 1.0, 1.0),  # β = 1, α = 4: mode at 1
        ([1], 3.0, 0.5, 1.0),  # β < 1
        ([1, 1, 0], 1.0, 1.0, 2 / 3),  # uniform prior: MAP = MLE
    ],
)
def test_beta_map_edge_cases(x, a, b, expected):
    assert float(est.bernoulli_map(x, Beta(a, b))["prob"]) == pytest.approx(expected, abs=1e-15)


def test_beta_map_kernel_undefined_mode_is_nan():
    # Only reachable by the unvalidated kernel with no data: Beta(0.5, 0.5) is U-shaped.
    assert np.isnan(est.bernoulli_map_beta_kernel(jnp.zeros(0), 0.5, 0.5)["prob"])


def test_normal_map_cubic_root_random_cases():
    rng = np.random.default_rng(1)
    kernel = jax.jit(jax.vmap(est.bernoulli_map_normal_kernel))
    for n in (1, 2, 7, 50, 299):  # one compilation per n; 16 (k, loc, scale) draws each
        k = rng.integers(0, n + 1, 16)
        loc = rng.uniform(-1.0, 2.0, 16)
        scale = 10 ** rng.uniform(-3, 1.5, 16)
        x = (np.arange(n)[None, :] < k[:, None]).astype(float)
        got = np.asarray(kernel(x, loc, scale)["prob"])
        for i in range(16):
            ref = _normal_map_oracle(int(k[i]), n, loc[i], scale[i])
            assert abs(got[i] - ref) <= 1e-13 * max(ref, 1e-3), (n, k[i], loc[i], scale[i])


@pytest.mark.parametrize(
    "k,n,loc,scale",
    [
        (0, 5, 0.5, 0.1),  # loc = 0.5 > n σ² = 0.05: interior root
        (0, 5, 0.01, 0.1),  # loc ≤ n σ²: MAP at 0
        (5, 5, 0.5, 0.1),  # interior
        (5, 5, 0.99, 0.1),  # 1 - loc ≤ n σ²: MAP at 1
        (1, 10**6, -1e3, 1e-3),  # tiny root ≈ 1e-9: bisection over bit patterns keeps digits
        (0, 0, 0.3, 1.0),  # no data: the prior's mode clipped to [0, 1]
        (0, 0, -2.0, 1.0),
    ],
)
def test_normal_map_edge_cases(k, n, loc, scale):
    x = np.r_[np.ones(k), np.zeros(n - k)]
    theta = float(est.bernoulli_map_normal_kernel(x, loc, scale)["prob"])
    ref = float(np.clip(loc, 0, 1)) if n == 0 else _normal_map_oracle(k, n, loc, scale)
    assert theta == pytest.approx(ref, rel=1e-13, abs=1e-300)


def test_normal_map_gradient_is_implicit():
    # dθ/dloc = (1/σ²) / -f''(θ) by the implicit function theorem.
    x, s2 = jnp.asarray(D, float), 0.01
    t = float(est.bernoulli_map_normal_kernel(x, 0.5, 0.1)["prob"])
    fpp = -3 / t**2 - 4 / (1 - t) ** 2 - 1 / s2
    grad = jax.grad(lambda loc: est.bernoulli_map_normal_kernel(x, loc, 0.1)["prob"])(0.5)
    assert float(grad) == pytest.approx((1 / s2) / -fpp, rel=1e-10)


def test_beta_bernoulli_predictive_is_rule_of_succession():
    rng = np.random.default_rng(2)
    for n in (1, 2, 17, 200):
        x = rng.integers(0, 2, n)
        k = int(x.sum())
        assert float(est.posterior_predictive(x)) == pytest.approx((k + 1) / (n + 2), rel=1e-15)
        post = est.beta_bernoulli_posterior(x, 2.0, 3.0)
        assert isinstance(post, est.BetaPosterior)
        assert (float(post.a), float(post.b)) == (2.0 + k, 3.0 + n - k)


# --------------------------------------------------------------------------------------------
# Gaussian, MVN, Poisson, variances
# --------------------------------------------------------------------------------------------


def test_gaussian_mle_matches_numpy():
    x = np.random.default_rng(3).normal(3.0, 2.0, 500)
    r = est.gaussian_mle(x)
    np.testing.assert_allclose(r["mean"], x.mean(), rtol=1e-13)
    np.testing.assert_allclose(r["variance"], x.var(), rtol=1e-13)  # divisor n
    np.testing.assert_allclose(est.sample_sd(x), x.std(ddof=1), rtol=1e-13)
    np.testing.assert_allclose(est.sample_sd(x, ddof=0), x.std(), rtol=1e-13)


def test_mvn_mle_matches_numpy():
    x = np.random.default_rng(4).multivariate_normal([1.0, -2.0, 0.5], np.diag([1, 4, 9]), 400)
    r = est.mvn_mle(x)
    cov = np.asarray(r["cov"])
    np.testing.assert_allclose(r["mean"], x.mean(0), rtol=1e-13)
    np.testing.assert_allclose(cov, np.cov(x, rowvar=False, bias=True), rtol=1e-13, atol=1e-15)
    assert np.array_equal(cov, cov.T)  # exactly symmetric
    # diagonal is the univariate MLE variance, bit for bit
    assert float(cov[1, 1]) == float(est.gaussian_mle(x[:, 1])["variance"])


def test_poisson_mle_is_mean():
    x = np.random.default_rng(5).poisson(3.7, 250)
    assert float(est.poisson_mle(x)["rate"]) == pytest.approx(x.mean(), rel=1e-15)


def test_variance_estimators():
    assert float(est.variance_mle(12.0, 8)) == 1.5
    assert float(est.variance_unbiased(12.0, 8, 2)) == 2.0
    rss = np.array([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(est.variance_mle(rss, 4), rss / 4)
    np.testing.assert_array_equal(
        est.variance_unbiased(rss, 4, np.array([1, 2, 3])), rss / [3, 2, 1]
    )


# --------------------------------------------------------------------------------------------
# jit / vmap
# --------------------------------------------------------------------------------------------


def test_kernels_jit_equals_eager_and_vmap():
    rng = np.random.default_rng(6)
    xg = jnp.asarray(rng.normal(1e6, 0.1, (4, 64)))
    xb = jnp.asarray(rng.integers(0, 2, (4, 9)), float)
    xm = jnp.asarray(rng.normal(size=(4, 30, 2)))
    cases = [
        (est.gaussian_mle_kernel, xg),
        (est.mvn_mle_kernel, xm),
        (est.bernoulli_mle_kernel, xb),
        (est.poisson_mle_kernel, xg),
        (lambda x: est.bernoulli_map_beta_kernel(x, 2.0, 3.0), xb),
        (lambda x: est.bernoulli_map_normal_kernel(x, 0.5, 0.1), xb),
        (lambda x: est.beta_bernoulli_posterior_kernel(x, 1.0, 1.0), xb),
        (lambda x: est.beta_bernoulli_predictive_kernel(x, 1.0, 1.0), xb),
        (est.sample_sd_kernel, xg),
    ]
    for fn, batch in cases:
        batched = jax.vmap(fn)(batch)
        with jax.disable_jit():
            eager = fn(batch[0])
        jfn = jax.jit(fn)
        for i in range(batch.shape[0]):
            jitted = jfn(batch[i])
            # FMA contraction and matmul order may differ by an ulp, no more
            if i == 0:
                for j, e in zip(jax.tree.leaves(jitted), jax.tree.leaves(eager), strict=True):
                    np.testing.assert_allclose(j, e, rtol=1e-14)
            for b, j in zip(jax.tree.leaves(batched), jax.tree.leaves(jitted), strict=True):
                np.testing.assert_allclose(b[i], j, rtol=1e-14)


def test_vmap_over_hyperparameters():
    x = jnp.asarray(D, float)
    scales = jnp.array([0.1, 0.1**0.5, 1.0])
    got = jax.vmap(lambda s: est.bernoulli_map_normal_kernel(x, 0.5, s)["prob"])(scales)
    want = [_normal_map_oracle(3, 7, 0.5, float(s)) for s in scales]
    np.testing.assert_allclose(got, want, rtol=1e-13)


# --------------------------------------------------------------------------------------------
# Double-double data: x + x_lo
# --------------------------------------------------------------------------------------------


def _decimals(rng, base: str, n: int, digits: int) -> list[str]:
    """``n`` decimal strings ``base + k * 10**-digits`` with random ``k`` (some repeated)."""
    ks = rng.integers(0, 10**digits, n)
    return [str(Decimal(base) + Decimal(int(k)).scaleb(-digits)) for k in ks]


def _exact_moments(strs: list[str]) -> tuple[Fraction, Fraction]:
    """Mean and sum of squared deviations of the decimal values, in exact arithmetic."""
    xs = [Fraction(Decimal(s)) for s in strs]
    m = sum(xs) / len(xs)
    return m, sum((v - m) ** 2 for v in xs)


def _rel(got, exact: Fraction) -> float:
    return float(abs(Fraction(float(got)) - exact) / abs(exact))


@pytest.mark.parametrize(
    "base,digits",
    [
        ("10000000", 1),  # NumAcc4-like: every value off in binary by up to 1e-9
        ("123456789.5", 4),
        ("-0.001", 9),  # mean near zero, spread of the same order
        ("10000000000000000", 3),  # every hi equal (1e16): the spread lives in x_lo alone
    ],
)
def test_x_lo_moments_exact_for_decimal_data(base, digits):
    strs = _decimals(np.random.default_rng(digits), base, 64, digits)
    hi, lo = from_decimal(strs)
    m, ss = _exact_moments(strs)
    n = len(strs)
    r = est.gaussian_mle(hi, x_lo=lo)
    assert _rel(r["mean"], m) <= 2 * 2**-53
    assert _rel(r["variance"], ss / n) <= 4 * 2**-53
    for ddof in (0, 1):
        sd = est.sample_sd(hi, ddof, x_lo=lo)
        assert _rel(float(sd) ** 2, ss / (n - ddof)) <= 8 * 2**-53
    # float64 input alone is off for such data: the tails matter
    if base == "10000000":
        assert _rel(float(est.sample_sd(hi, 0)) ** 2, ss / n) > 1e-10


def test_x_lo_zero_or_none_matches_plain():
    x = np.random.default_rng(7).normal(1e6, 0.1, 64)
    z = np.zeros_like(x)
    plain, dd = est.gaussian_mle(x), est.gaussian_mle(x, x_lo=z)
    np.testing.assert_allclose(dd["mean"], plain["mean"], rtol=2**-52)
    np.testing.assert_allclose(dd["variance"], plain["variance"], rtol=2**-51)
    np.testing.assert_allclose(est.sample_sd(x, x_lo=z), est.sample_sd(x), rtol=2**-51)
    xm = np.c_[x, -x[::-1]]
    np.testing.assert_allclose(
        est.mvn_mle(xm, x_lo=np.zeros_like(xm))["cov"], est.mvn_mle(xm)["cov"], rtol=1e-14
    )


def test_x_lo_tail_not_normalised_is_accepted():
    # x + x_lo is what counts, even when x_lo is not a small trailing part
    hi, lo = from_decimal(_decimals(np.random.default_rng(8), "10000000", 64, 1))
    shifted = est.gaussian_mle(hi - 0.5, x_lo=lo + 0.5)
    r = est.gaussian_mle(hi, x_lo=lo)
    assert float(shifted["mean"]) == float(r["mean"])
    np.testing.assert_allclose(shifted["variance"], r["variance"], rtol=2**-51)


def test_mvn_x_lo():
    rng = np.random.default_rng(9)
    cols = [_decimals(rng, "1000000", 64, 1), _decimals(rng, "-2500000.05", 64, 2)]
    hi, lo = from_decimal(np.array(cols).T)
    r = est.mvn_mle(hi, x_lo=lo)
    cov = np.asarray(r["cov"])
    assert np.array_equal(cov, cov.T)
    xs = [[Fraction(Decimal(v)) for v in c] for c in cols]
    ms = [sum(c) / len(c) for c in xs]
    for j in range(2):
        g = est.gaussian_mle(hi[:, j], x_lo=lo[:, j])
        # mean and diagonal are the univariate double-double results, bit for bit
        assert float(r["mean"][j]) == float(g["mean"])
        assert float(cov[j, j]) == float(g["variance"])
        assert _rel(r["mean"][j], ms[j]) <= 2**-53
    c01 = sum((a - ms[0]) * (b - ms[1]) for a, b in zip(*xs, strict=True)) / len(xs[0])
    assert _rel(cov[0, 1], c01) <= 1e-14


def test_x_lo_kernels_jit_and_vmap():
    rng = np.random.default_rng(10)
    pairs = [from_decimal(_decimals(rng, "10000000", 64, 1)) for _ in range(3)]
    xh = jnp.asarray(np.stack([p[0] for p in pairs]))
    xl = jnp.asarray(np.stack([p[1] for p in pairs]))
    g = jax.vmap(est.gaussian_mle_kernel)(xh, xl)
    sd = jax.vmap(est.sample_sd_kernel, in_axes=(0, None, 0))(xh, 1, xl)
    mv = jax.vmap(est.mvn_mle_kernel)(xh[:, :, None], xl[:, :, None])
    for i in range(3):
        gi = est.gaussian_mle(xh[i], x_lo=xl[i])
        np.testing.assert_allclose(g["mean"][i], gi["mean"], rtol=2**-52)
        np.testing.assert_allclose(g["variance"][i], gi["variance"], rtol=2**-50)
        np.testing.assert_allclose(sd[i], est.sample_sd(xh[i], x_lo=xl[i]), rtol=2**-50)
        np.testing.assert_allclose(mv["cov"][i, 0, 0], gi["variance"], rtol=2**-50)


def test_gaussian_kernels_differentiable_with_and_without_x_lo():
    @jax.jit  # one compile for all three gradients
    def grads(x, lo):
        return (
            jax.grad(lambda v: est.gaussian_mle_kernel(v)["variance"])(x),
            jax.grad(lambda v: est.gaussian_mle_kernel(v, lo)["variance"])(x),
            jax.grad(lambda v: est.gaussian_mle_kernel(x, v)["mean"])(lo),
        )

    x = jnp.asarray(np.random.default_rng(11).normal(5.0, 1.0, 16))
    g_plain, g_dd, g_lo = grads(x, jnp.full_like(x, 1e-17))
    want = 2 * (x - x.mean()) / x.size  # d variance / dx
    np.testing.assert_allclose(g_plain, want, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(g_dd, want, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(g_lo, np.full(16, 1 / 16), rtol=1e-15)


def test_x_lo_float32_resplits_float64_pair():
    hi, lo = from_decimal(["10000000.1", "10000000.2", "10000000.3"])
    with jax.enable_x64(False):
        plain = est.sample_sd(hi)
        dd = est.sample_sd(hi, x_lo=lo)
        assert dd.dtype == jnp.float32
    assert float(plain) == 0.0  # float32 cannot tell the values apart
    assert float(dd) == pytest.approx(0.1, rel=1e-6)


# --------------------------------------------------------------------------------------------
# Bad inputs
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call,name",
    [
        (lambda: est.gaussian_mle([]), "`x`"),
        (lambda: est.gaussian_mle([1.0, np.nan]), "`x`"),
        (lambda: est.gaussian_mle([[1.0, 2.0]]), "`x`"),
        (lambda: est.mvn_mle([1.0, 2.0]), "`x`"),
        (lambda: est.mvn_mle(np.ones((3, 3))), "`x`"),  # n ≤ k
        (lambda: est.bernoulli_mle([0, 1, 2]), "`x`"),
        (lambda: est.bernoulli_mle([0, np.inf]), "`x`"),
        (lambda: est.bernoulli_map([0, 0.5], Beta(1.0, 1.0)), "`x`"),
        (lambda: est.bernoulli_map(D, object()), "`prior`"),
        (lambda: est.bernoulli_map(D, Uniform(2.0, 3.0)), "`prior`"),
        (lambda: est.poisson_mle([1, -1]), "`x`"),
        (lambda: est.poisson_mle([1.5]), "`x`"),
        (lambda: est.beta_bernoulli_posterior(D, a=0.0), "`a`"),
        (lambda: est.posterior_predictive(D, b=-1.0), "`b`"),
        (lambda: est.variance_mle(-1.0, 3), "`rss`"),
        (lambda: est.variance_mle(1.0, 0), "`n`"),
        (lambda: est.variance_unbiased(1.0, 3, 3), "`n - p`"),
        (lambda: est.variance_unbiased(1.0, 3, -1), "`p`"),
        (lambda: est.sample_sd([1.0]), "`x`"),  # n - ddof = 0
        (lambda: est.sample_sd([1.0, 2.0], ddof=-1), "`ddof`"),
        (lambda: est.gaussian_mle([1.0, 2.0], x_lo=[0.0]), "`x_lo`"),
        (lambda: est.gaussian_mle([1.0, 2.0], x_lo=[0.0, np.nan]), "`x_lo`"),
        (lambda: est.sample_sd([1.0, 2.0], x_lo=[[0.0, 0.0]]), "`x_lo`"),
        (lambda: est.sample_sd([1.0, 2.0], x_lo=["a", "b"]), "`x_lo`"),
        (lambda: est.mvn_mle(np.ones((3, 2)), x_lo=np.zeros((2, 3))), "`x_lo`"),
    ],
)
def test_bad_inputs_raise_input_error_naming_argument(call, name):
    with pytest.raises(InputError, match=name):
        call()


def test_mvn_n_le_k_message_suggests_fix():
    with pytest.raises(InputError, match="shrinkage"):
        est.mvn_mle(np.ones((2, 5)))


def test_bad_prior_hyperparameters():
    # The prior classes reject these at construction; the estimator names them too.
    with pytest.raises(InputError, match="scale"):
        est.bernoulli_map(D, Normal(0.5, scale=-0.1))
    with pytest.raises(InputError, match="variance"):
        est.bernoulli_map(D, Normal(0.5, variance=0.0))
    with pytest.raises(InputError, match="`a`"):
        est.bernoulli_map(D, Beta(0.0, 1.0))
