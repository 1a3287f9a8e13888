"""Wald and likelihood-ratio tests and information criteria (part of :mod:`jaxmle.inference`)."""

from __future__ import annotations

import math
import statistics
import warnings
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy import special, stats

from . import _xla
from ._errors import InputError
from ._summary import LRTest, Summary, Wald
from ._validation import is_traced as _is_traced


def _check_level(level: Any) -> float:
    try:
        level = float(level)
    except (TypeError, ValueError):
        level = math.nan
    if not 0.0 < level < 1.0:
        raise InputError(f"`level` must be a confidence level in (0, 1), e.g. 0.95; got {level}.")
    return level


def _check_int(v: Any, name: str, low: int) -> int:
    if not isinstance(v, int | np.integer) or isinstance(v, bool) or v < low:
        raise InputError(f"`{name}` must be an integer >= {low}, got {v!r}.")
    return int(v)


def _t_two_sided(stat: jax.Array, df: int) -> jax.Array:
    # P(|T| > |t|) = I_{df/(df+t²)}(df/2, 1/2), the regularised incomplete beta function.
    x = df / (df + stat**2)
    return special.betainc(0.5 * df, 0.5, x)


def _quantile(level: float, df: int | None) -> float:
    q = 0.5 + 0.5 * level
    if df is None:
        return statistics.NormalDist().inv_cdf(q)
    if df <= 0:
        return math.nan
    from . import _dists  # lazily: it imports scipy.special

    return float(_dists.t_ppf(q, df))  # the t quantile for a static df, at trace time


def _wald_kernel(est, se, level: float, df: int | None):
    stat = est / se
    if df is None:
        pval = 2.0 * stats.norm.sf(jnp.abs(stat))
    elif df > 0:
        pval = _t_two_sided(stat, df)
    else:
        pval = jnp.full_like(stat, jnp.nan)
    q = _quantile(level, df)
    return stat, pval, est - q * se, est + q * se


_wald_jit = _xla.jit(_wald_kernel, static_argnums=(2, 3))


def aic(loglik: jax.Array | float, n_params: int) -> jax.Array:
    """Akaike's information criterion ``−2ℓ + 2m``.

    m is the number of free parameters estimated, as Akaike defines it: a two-parameter
    Weibull fit has m = 2, as R's ``AIC(fitdistr(x, "weibull"))`` counts and as one counts
    the shape and scale that ``scipy.stats.weibull_min.fit(x, floc=0)`` estimates.
    :func:`jaxmle.inference.summary` counts one per entry of the flattened parameters, except
    a linear or nonlinear regression's noise variance (statsmodels' OLS convention; R's
    ``AIC(lm)`` counts it too, 2 more).

    statsmodels' ``GenericLikelihoodModel`` can count more (statsmodels 0.15,
    ``statsmodels/base/model.py``): without ``exog`` and without ``extra_params_names``, its
    results' ``__init__`` sets ``df_model = len(params) − k_constant − k_extra`` while
    ``k_extra`` is still 0, then ``fit`` names the parameters ``par0, par1, ...`` as extra
    parameters (``k_extra = len(params)``), and ``ResultMixin.df_modelwc = df_model +
    k_constant + k_extra`` counts them a second time: 4 for a Weibull's 2, an AIC 4 higher
    than this one. With ``exog=np.ones((n, 1))`` and ``extra_params_names`` it counts 3 (the
    column of ones is a "constant", ``k_constant = 1``, beside the 2 extras); with
    ``extra_params_names`` and no ``exog`` it counts 2. (Upstream: statsmodels issues #8475
    and #8481 on its parameter counts.) ``tests/test_aic_convention.py`` reproduces all three.

    Args:
        loglik: maximised log-likelihood ℓ.
        n_params: number of estimated parameters m (see :func:`summary` for the convention).

    Returns:
        AIC (smaller is better).

    Raises:
        InputError: when ``n_params`` is not a non-negative integer.

    Example:
        >>> import jaxmle
        >>> float(jaxmle.inference.aic(-284.3273, 2))  # a two-parameter Weibull
        572.6546
    """
    return -2.0 * jnp.asarray(loglik) + 2.0 * _check_int(n_params, "n_params", 0)


def bic(loglik: jax.Array | float, n_params: int, n_obs: int) -> jax.Array:
    """Schwarz's Bayesian information criterion ``−2ℓ + m log n``.

    Args:
        loglik: maximised log-likelihood ℓ.
        n_params: number of estimated parameters m.
        n_obs: number of observations n.

    Returns:
        BIC (smaller is better).

    Raises:
        InputError: when ``n_params`` is negative or ``n_obs`` not positive (or not integers).
    """
    m, n = _check_int(n_params, "n_params", 0), _check_int(n_obs, "n_obs", 1)
    return -2.0 * jnp.asarray(loglik) + math.log(n) * m


def wald(
    estimate: jax.Array, stderr: jax.Array, *, level: float = 0.95, df: int | None = None
) -> Wald:
    """Wald tests of ``parameter = 0`` and confidence intervals ``estimate ± q·stderr``.

    Args:
        estimate: estimates (any shape).
        stderr: their standard errors (same shape).
        level: confidence level.
        df: degrees of freedom for Student's t; None for the normal.

    Returns:
        A :class:`Wald` of statistic, two-sided p-value and interval bounds. Jittable.

    Raises:
        InputError: on a ``level`` outside (0, 1), a ``df`` that is not a positive integer, or
            ``stderr`` of another shape than ``estimate``.
    """
    level = _check_level(level)
    if df is not None:
        df = _check_int(df, "df", 1)
    est, se = jnp.asarray(estimate), jnp.asarray(stderr)
    if est.shape != se.shape:
        raise InputError(
            f"`stderr` must have the shape of `estimate`, {est.shape}; got {se.shape}."
        )
    return Wald(*_wald_jit(est, se, level, df))


def lr_test(restricted: Summary | float, full: Summary | float, *, df: int | None = None) -> LRTest:
    """Likelihood-ratio test of nested models: ``2(ℓ_full − ℓ_restricted) ~ χ²_df``.

    Args:
        restricted: the :class:`Summary` (or maximised log-likelihood) of the restricted model.
        full: the :class:`Summary` (or maximised log-likelihood) of the model nesting it.
        df: number of restrictions; taken from the two summaries' parameter counts when
            omitted (required with plain log-likelihoods).

    Returns:
        An :class:`LRTest`. Jittable with plain log-likelihoods and an explicit ``df``.

    Raises:
        InputError: when ``df`` is missing or not positive, or the two summaries are of fits
            to different numbers of observations.
    """
    both = isinstance(restricted, Summary) and isinstance(full, Summary)
    if both and restricted.n_obs != full.n_obs:
        raise InputError(
            f"`full` was fitted to {full.n_obs} observations and `restricted` to "
            f"{restricted.n_obs}: a likelihood-ratio test compares fits to the same data."
        )
    if df is None:
        if not (isinstance(restricted, Summary) and isinstance(full, Summary)):
            raise InputError(
                "`df` (the number of restrictions) is required unless both `restricted` and "
                "`full` are Summary objects."
            )
        df = len(full.labels) - len(restricted.labels)
    if not isinstance(df, int | np.integer) or df < 1:
        raise InputError(
            f"`df` must be a positive integer (the full model needs more free parameters than "
            f"the restricted one); got {df!r}."
        )
    llr = restricted.loglik if isinstance(restricted, Summary) else jnp.asarray(restricted)
    llf = full.loglik if isinstance(full, Summary) else jnp.asarray(full)
    stat = 2.0 * (llf - llr)
    if not _is_traced(stat) and np.any(np.asarray(stat) < -1e-8 * np.abs(np.asarray(llf))):
        warnings.warn(
            "the likelihood-ratio statistic is negative: the restricted fit has the higher "
            "log-likelihood, so the models are not nested or a fit is not at its maximum.",
            RuntimeWarning,
            stacklevel=2,
        )
    return LRTest(stat, int(df), _chi2_sf(stat, int(df)))


@partial(_xla.jit, static_argnums=1)
def _chi2_sf(stat: jax.Array, df: int) -> jax.Array:
    return stats.chi2.sf(stat, df)
