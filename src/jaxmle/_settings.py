"""Settings of :mod:`jaxmle.inference`: the defaults a model gets and the checks of a choice.

The summary kernel's static configuration (:class:`_Cfg`), the covariance type and Student's t
each model gets by default (statsmodels' conventions: the regression covariance ``classical``
with t-tests for linear and nonlinear regressions, the inverse observed information with
z-tests for other likelihoods), the residual degrees of freedom and the parameter count that
leaves out a regression's noise variance, and the validation of every setting.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ._covariance import _OLS_TYPES, COV_TYPES, _has_expected, _no_expected_msg
from ._errors import InputError
from ._models import LinearRegression, Model
from ._nonlinear import NonlinearRegression
from ._wald import _check_int, _check_level


class _Cfg(NamedTuple):
    """Static settings of the summary kernel.

    ``check``: run the stationarity check on estimates without a status of their own (the
    public functions do; the Monte Carlo kernel, which builds its own ``_Cfg``, does not).
    ``df_p``: the ``df_correction`` as a count of mean parameters (0: none; -1: k − 1).
    """

    cov_type: str
    level: float
    use_t: bool
    include_prior: bool
    n_params: int | None
    symmetric: tuple[str, ...]
    axes: tuple = ()
    check: bool = False
    df_p: int = 0


def _df_resid(model, n: int, k: int, df_p: int = 0) -> int:
    # statsmodels: n − p for OLS and nonlinear regression (σ² not counted), n − k for other
    # likelihood models; with a df_correction, n − p for its p.
    if df_p:
        return n - (k - 1 if df_p < 0 else df_p)
    return n - (k - _n_scale(model))


def _n_scale(model) -> int:
    """Number of noise-scale parameters that statsmodels leaves out of its parameter count."""
    regression = isinstance(model, LinearRegression | NonlinearRegression)
    return int(regression and model.noise_variance is None)


def _hc_family(cfg: _Cfg) -> tuple[_Cfg, int]:
    """HC0–HC3 run as one program (cov_type "HC") with the variant as a traced index."""
    if cfg.cov_type in ("HC0", "HC1", "HC2", "HC3"):
        return cfg._replace(cov_type="HC"), int(cfg.cov_type[2])
    return cfg, 0


def _default_cov_type(model: Any, cov_type: str | None) -> str:
    """The ``cov_type=None`` default: ``classical`` for a prior-free linear or nonlinear regression.

    That is what statsmodels' ``OLS(...).fit()``/``WLS`` report (``nonrobust``): with the noise
    variance estimated, ``s²(XᵀWX)⁻¹`` with ``s² = RSS/(n − p)`` and t-tests on ``n − p``
    degrees of freedom (``s²(JᵀWJ)⁻¹`` for a nonlinear mean, NIST's convention); with a known
    noise variance σ², ``σ²(XᵀWX)⁻¹`` with z-tests, which is also the inverse observed
    information. (The inverse observed information at the MLE ``σ̂² = RSS/n`` is smaller by
    the factor ``(n − p)/n``: 25% in the standard errors on Longley, n = 16, p = 7.) Every other
    model, and a regression with a prior (a MAP fit), gets ``hessian``, the inverse observed
    information (of the log posterior with a prior), with z-tests.
    """
    if cov_type is not None:
        return cov_type
    if isinstance(model, LinearRegression | NonlinearRegression) and not model.prior:
        return "classical"
    return "hessian"


def _check_cov_type(model, cov_type: str) -> None:
    if cov_type not in COV_TYPES:
        raise InputError(f"`cov_type` must be one of {COV_TYPES}, got {cov_type!r}.")
    if cov_type in _OLS_TYPES:
        nls = cov_type == "classical" and isinstance(model, NonlinearRegression)
        if not (isinstance(model, LinearRegression) or nls):
            got = type(model).__name__ if isinstance(model, Model) else "a plain function"
            where = "jaxmle.models.LinearRegression only"
            if cov_type == "classical":
                where = "jaxmle.models.LinearRegression and NonlinearRegression"
            raise InputError(
                f"`cov_type`={cov_type!r} is defined for {where}, got {got}; use 'sandwich' "
                "(robust) or 'hessian' for other models."
            )
        if model.prior:
            raise InputError(
                f"`cov_type`={cov_type!r} is for least-squares fits; this model has a prior "
                "(MAP/ridge fit): use cov_type='hessian' for its posterior curvature."
            )
    if cov_type == "expected" and not _has_expected(model):
        raise InputError(_no_expected_msg(model))


def _check_symmetric(symmetric: Any) -> tuple[str, ...]:
    if not isinstance(symmetric, list | tuple):
        raise InputError(f"`symmetric` must be a list of parameter names, got {symmetric!r}.")
    return tuple(symmetric)


def _default_use_t(model: Any, cov_type: str, use_t: bool | None, df_p: int = 0) -> bool:
    """The default of statsmodels: Student's t only for a regression's classical covariance.

    That is with s² (OLS, nonlinear least squares), and here also with a ``df_correction``.
    """
    if use_t is not None:
        return bool(use_t)
    if df_p:
        return True
    return (
        cov_type == "classical" and isinstance(model, LinearRegression | NonlinearRegression)
        and model.noise_variance is None
    )  # fmt: skip


def _check_df_correction(df_correction: Any, cov_type: str) -> int:
    """``df_correction`` as the kernel's static ``df_p`` (0 none, -1 for True: k − 1)."""
    if df_correction is False or df_correction is None:
        return 0
    if df_correction is True:
        p = -1
    elif isinstance(df_correction, int | np.integer) and df_correction >= 1:
        p = int(df_correction)
    else:
        raise InputError(
            "`df_correction` must be False, True (p = all parameters but one, the noise "
            f"scale) or a positive integer p (the number of mean parameters); got "
            f"{df_correction!r}."
        )
    if cov_type in _OLS_TYPES:
        raise InputError(
            f"`df_correction` rescales the likelihood covariances (hessian, expected, outer, "
            f"sandwich); cov_type={cov_type!r} already uses its own n − p convention."
        )
    return p


def _settings(model, cov_type, level, use_t, include_prior, n_params, symmetric, axes=(),
              df_correction=False):  # fmt: skip
    cov_type = _default_cov_type(model, cov_type)
    _check_cov_type(model, cov_type)
    level = _check_level(level)
    if n_params is not None:
        n_params = _check_int(n_params, "n_params", 0)
    df_p = _check_df_correction(df_correction, cov_type)
    return _Cfg(cov_type, level, _default_use_t(model, cov_type, use_t, df_p),
                bool(include_prior), n_params, _check_symmetric(symmetric), axes, True,
                df_p)  # fmt: skip
