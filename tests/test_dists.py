"""jaxmle._dists against scipy.stats, and no scipy.stats import on the inference paths.

The functions call the scipy.special functions that scipy.stats itself calls (ndtr, ndtri, stdtr,
stdtrit, chdtrc, fdtrc) and repeat the float operations of its skew/kurtosis/skewtest/
kurtosistest in the same order, so today they agree bit for bit (checked: every value below is
equal). The tolerance, 1e-15 relative (≈ 4 ulp), only leaves room for a later scipy that
reorders an operation in its wrappers; the edge cases (NaN, ±inf, 0 and 1, sign of infinities)
must match exactly, which assert_allclose checks (NaN where NaN, the same infinities).
"""

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
import scipy.stats as st

from jaxmle import _dists

RTOL = 1e-15
inf, nan = np.inf, np.nan
X = np.array([-inf, -40, -38.5, -10, -3, -1, -1e-8, -0.0, 0.0, 1e-300, 1e-8, 0.5, 1, 1.96, 3,
              8.3, 10, 37.5, 40, 500, 1500, inf, nan])  # fmt: skip
Q = np.array([0, 1e-300, 1e-12, 1e-6, 0.025, 0.5, 0.975, 1 - 1e-6, 1 - 1e-12, 1, -0.1, 1.1, nan])
DF = np.array([1, 2, 3.5, 10, 1e6, inf, 0, -1, nan])  # the last three: invalid, NaN


def same(got, want, rtol=RTOL):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype == np.float64
    np.testing.assert_allclose(got, want, rtol=rtol, atol=0, equal_nan=True)


@pytest.mark.parametrize("name", ["cdf", "sf"])
def test_norm_cdf_sf(name):
    same(getattr(_dists, f"norm_{name}")(X), getattr(st.norm, name)(X))


def test_norm_ppf():
    same(_dists.norm_ppf(Q), st.norm.ppf(Q))


@pytest.mark.parametrize("name", ["cdf", "sf"])
def test_t_cdf_sf(name):
    x, df = X[:, None], DF[None, :]  # broadcast to a grid
    same(getattr(_dists, f"t_{name}")(x, df), getattr(st.t, name)(x, df))


def test_t_ppf():
    q, df = Q[:, None], DF[None, :]
    same(_dists.t_ppf(q, df), st.t.ppf(q, df))
    assert _dists.t_ppf(0.0, 3) == -inf  # scipy.special.stdtrit(3, 0) is +inf; scipy.stats fixes it


def test_t_infinite_df_is_normal():
    # scipy.stats.t with df = inf is stdtr(inf, ·) (tested above), not ndtr: another algorithm,
    # 1e-15 relative in the body, 1.4e-13 at x = 37.5 (sf 4.6e-308, near underflow)
    np.testing.assert_allclose(_dists.t_sf(X, inf), st.norm.sf(X), rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(_dists.t_ppf(Q, inf), st.norm.ppf(Q), rtol=1e-15, equal_nan=True)


def test_chi2_sf():
    x, df = X[:, None], DF[None, :]
    same(_dists.chi2_sf(x, df), st.chi2.sf(x, df))


def test_f_sf():
    x, dfn, dfd = X[:, None, None], DF[None, :, None], DF[None, None, :]
    same(_dists.f_sf(x, dfn, dfd), st.f.sf(x, dfn, dfd))


def test_scalars_and_integers():
    cases = [(_dists.norm_sf(1.5), st.norm.sf(1.5)), (_dists.norm_ppf(0.9), st.norm.ppf(0.9)),
             (_dists.t_sf(2, 7), st.t.sf(2, 7)), (_dists.t_ppf(0.975, 7), st.t.ppf(0.975, 7)),
             (_dists.chi2_sf(3, 2), st.chi2.sf(3, 2)),
             (_dists.f_sf(2, 3, 17), st.f.sf(2, 3, 17))]  # fmt: skip
    for got, want in cases:
        assert type(got) is type(want) is np.float64
        same(got, want)


def _samples():
    rng = np.random.default_rng(1)
    out = {}
    for n in (1, 2, 3, 5, 7, 8, 10, 19, 20, 25, 200):
        out[f"normal{n}"] = rng.normal(size=n)
        out[f"exponential{n}"] = rng.exponential(size=n)
        out[f"ties{n}"] = np.round(rng.normal(size=n))
        out[f"offset{n}"] = 1e6 + rng.normal(size=n)
    out |= {"constant": np.full(25, 3.7), "zeros": np.zeros(10),
            "outlier": np.r_[np.zeros(24), 1.0], "nan": np.r_[rng.normal(size=9), nan],
            "matrix": rng.standard_t(4, size=(30, 3))}  # fmt: skip
    return out


SAMPLES = _samples()


@pytest.mark.parametrize("key", SAMPLES)
def test_diagnostics(key):
    e = SAMPLES[key]
    with warnings.catch_warnings():  # scipy's precision-loss and small-sample warnings
        warnings.simplefilter("ignore")
        skew, kurt = st.skew(e), st.kurtosis(e)
        omni = tuple(st.normaltest(e))
    for got, want in [(_dists.skew(e), skew), (_dists.kurtosis(e), kurt),
                      *zip(_dists.normaltest(e), omni, strict=True)]:  # fmt: skip
        same(got, want)
    if len(e) < 8 or key in ("constant", "zeros", "nan"):
        assert np.isnan(_dists.normaltest(e)).all()


CHILD = r"""
import sys

import jax

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp
import numpy as np
import pandas as pd

import jaxmle
from jaxmle import inference

rng = np.random.default_rng(0)
n = 30
x1, x2 = rng.normal(size=n), rng.normal(size=n)
X = np.column_stack([np.ones(n), x1, x2])
y = X @ np.array([1.0, 0.5, -0.3]) + rng.normal(size=n)
for cov in ("nonrobust", "HC1"):
    r = jaxmle.ols(y, X, cov_type=cov)
    str(r.summary()), r.pvalues, r.conf_int(), r.f_pvalue, r.get_prediction().conf_int(obs=True)
df = pd.DataFrame({"y": y, "x1": x1, "x2": x2, "k": rng.poisson(np.exp(0.2 + 0.3 * x1))})
str(jaxmle.ols("y ~ x1 + x2", df).summary())
g = jaxmle.glm("k ~ x1 + x2", df, family=jaxmle.families.Poisson())
str(g.summary()), g.pvalues, g.conf_int(), g.llr_pvalue, g.get_prediction().conf_int()
m = g.get_margeff()
m.pvalues, m.conf_int(), str(m.summary())
inference.wald(jnp.array([2.5]), jnp.array([1.0]), df=7)
print(sorted(k for k in sys.modules if k.startswith("scipy.stats")))
"""


def test_no_scipy_stats_import():
    """OLS and GLM summaries, p-values and intervals in a fresh process load no scipy.stats."""
    env = {**os.environ, "JAXMLE_NO_COMPILATION_CACHE": "1"}
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True,
                         env=env, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout
