"""The AIC convention: −2ℓ + 2k with k the free parameters estimated, and statsmodels' count.

A two-parameter Weibull (shape, scale) fitted by :func:`jaxmle.models.custom`: jaxmle's AIC
is −2ℓ + 4 with ℓ from ``scipy.stats.weibull_min.logpdf`` summed at scipy's fit (as Akaike,
R's ``AIC(fitdistr(x, "weibull"))`` and scipy's two fitted parameters count). statsmodels'
``GenericLikelihoodModel`` (0.15), written as its documentation's examples are, counts
``df_modelwc = df_model + k_constant + k_extra`` parameters:

- no ``exog``, no ``extra_params_names``: 4. The results' ``__init__`` sets ``df_model =
  len(params) − k_constant − k_extra = 2`` while ``k_extra`` is still 0
  (``statsmodels/base/model.py``, ``GenericLikelihoodModelResults.__init__``); ``fit`` then
  names the parameters ``par0, par1`` through ``_set_extra_params_names`` (``k_miss < 0``),
  which sets ``k_extra = 2``; ``ResultMixin.df_modelwc`` adds them again.
- ``exog=np.ones((n, 1))`` with ``extra_params_names``: 3 (``df_model = rank(exog) − 1 = 0``,
  the column of ones is ``k_constant = 1``, and ``k_extra = 2``).
- ``extra_params_names`` without ``exog``: 2, jaxmle's count.
"""

import warnings

import jax.numpy as jnp
import numpy as np
import pytest
from scipy import optimize, stats

import jaxmle
from jaxmle.models import custom, positive

GenericLikelihoodModel = pytest.importorskip("statsmodels.base.model").GenericLikelihoodModel


def weibull(p, x):
    z = x / p["scale"]
    return jnp.log(p["shape"] / p["scale"]) + (p["shape"] - 1.0) * jnp.log(z) - z ** p["shape"]


class Weibull(GenericLikelihoodModel):
    """A two-parameter Weibull the way statsmodels' GenericLikelihoodModel examples write one."""

    def nloglikeobs(self, params):
        return -stats.weibull_min.logpdf(self.endog, params[0], scale=params[1])


@pytest.fixture(scope="module")
def sample():
    x = stats.weibull_min.rvs(1.7, scale=3.0, size=150, random_state=np.random.default_rng(0))

    def tight(func, x0, args=(), disp=0):
        return optimize.fmin(func, x0, args=args, xtol=1e-13, ftol=1e-15, maxiter=20_000,
                             maxfun=40_000, disp=0)  # fmt: skip

    c, _, scale = stats.weibull_min.fit(x, floc=0, optimizer=tight)
    return x, np.array([c, scale]), stats.weibull_min.logpdf(x, c, scale=scale).sum()


@pytest.fixture(scope="module")
def jaxmle_aic(sample):
    x, _, _ = sample
    model = custom(weibull, constraints={"shape": positive, "scale": positive},
                   init={"shape": 1.0, "scale": 1.0})  # fmt: skip
    res = jaxmle.mle(model, x)
    assert bool(res.converged)
    return float(res.summary.aic), res.summary


def _statsmodels(x, start, **kw):
    with warnings.catch_warnings():  # its own df mismatch warnings, for the exog case
        warnings.simplefilter("ignore")
        return Weibull(x, **kw).fit(start_params=start, method="bfgs", gtol=1e-10,
                                    maxiter=1_000, disp=0)  # fmt: skip


def test_jaxmle_counts_the_two_free_parameters(sample, jaxmle_aic):
    _, _, ll = sample
    aic, s = jaxmle_aic
    assert s.n_params == 2
    np.testing.assert_allclose(aic, -2.0 * ll + 4.0, rtol=1e-12)
    np.testing.assert_allclose(float(jaxmle.inference.aic(ll, 2)), -2.0 * ll + 4.0, rtol=1e-15)
    np.testing.assert_allclose(float(s.bic), -2.0 * ll + 2 * np.log(len(sample[0])), rtol=1e-12)


def test_statsmodels_without_exog_counts_each_parameter_twice(sample, jaxmle_aic):
    x, start, ll = sample
    res = _statsmodels(x, start)
    np.testing.assert_allclose(res.llf, ll, rtol=1e-12)  # the same maximum
    # The cause: df_model was set to len(params) before fit() made the same two parameters
    # "extra" (named par0, par1), and df_modelwc counts both.
    assert res.model.exog is None and res.model.exog_names == ["par0", "par1"]
    assert res.df_model == len(res.params) == 2 and res.model.k_extra == 2
    assert res.k_constant == 0 and res.df_modelwc == res.df_model + res.k_constant + 2 == 4
    np.testing.assert_allclose(res.aic, -2.0 * res.llf + 2.0 * 4, rtol=1e-15)
    np.testing.assert_allclose(res.aic - jaxmle_aic[0], 2.0 * 2, rtol=1e-9)  # 2 extra counted


def test_statsmodels_with_a_column_of_ones_counts_three(sample, jaxmle_aic):
    x, start, _ = sample
    res = _statsmodels(x, start, exog=np.ones((len(x), 1)), extra_params_names=["shape", "scale"])
    assert res.df_model == 0 and res.k_constant == 1 and res.model.k_extra == 2
    assert res.df_modelwc == 3
    np.testing.assert_allclose(res.aic - jaxmle_aic[0], 2.0 * 1, rtol=1e-9)


def test_statsmodels_with_extra_params_names_and_no_exog_agrees(sample, jaxmle_aic):
    x, start, _ = sample
    res = _statsmodels(x, start, extra_params_names=["shape", "scale"])
    assert res.df_model == 0 and res.k_constant == 0 and res.model.k_extra == 2
    assert res.df_modelwc == 2
    np.testing.assert_allclose(res.aic, jaxmle_aic[0], rtol=1e-12)
