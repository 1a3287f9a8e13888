"""Prediction from an OLS/WLS fit: :class:`PredictionResults` and the pieces it is made from.

The machinery behind :meth:`jaxmle.OLSResults.predict` and ``get_prediction``, given the fitted
pieces it needs rather than the results object: new data encoded like the fitted data (an
unseen category is an error, not the reference level), the predicted mean's variance
``xᵀVx`` through the kernel's triangular factor (for ``nonrobust``) or the sandwich's meat (for
HC0–HC3, cluster and HAC), and a new observation's variance ``scale / weight``. All host-side
NumPy/SciPy.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ._design import Design, new_exog
from ._errors import InputError

__all__ = ["PredictionResults", "encode_exog", "obs_variance", "var_pred_mean"]


def encode_exog(design: Design, exog: Any) -> tuple[np.ndarray, Any]:
    """New data as the fitted design's columns, and its row labels (None for arrays).

    Args:
        design: the fitted design (a formula's is re-applied: the same categorical levels,
            transforms and column order).
        exog: a DataFrame (or dict) of the formula's variables, else an ``(m, p)`` array or a
            DataFrame with the design's columns.

    Returns:
        ``(Xn, labels)``: the ``(m, p)`` design and the DataFrame's index (or None).
    """
    if design.spec is None:
        Xn = new_exog(design, exog)
    else:
        # formulaic only warns about levels the fit never saw and encodes those rows as the
        # reference level: a silently wrong prediction. statsmodels (patsy) raises; so here.
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            Xn = new_exog(design, exog)
        for wn in seen:
            if wn.category.__name__ == "DataMismatchWarning":
                raise InputError(
                    f"the new data could not be encoded like the fitted data "
                    f"({design.formula!r}): {wn.message}"
                )
            warnings.warn_explicit(wn.message, wn.category, wn.filename, wn.lineno)
    labels = getattr(exog, "index", None) if hasattr(exog, "columns") else None
    if labels is not None and len(labels) != Xn.shape[0]:
        labels = None
    return Xn, labels


def var_pred_mean(Xn: np.ndarray, factor: tuple, cov_type: str, scale: float,
                  meat: np.ndarray, converged: bool) -> np.ndarray:  # fmt: skip
    """``diag(Xn V Xnᵀ)`` through the kernel's factor: ``xᵀ(XᵀWX)⁻¹x = ‖R⁻ᵀS⁻¹x‖²``.

    The quadratic form in ``V`` itself cancels: on Longley (condition number 8e9) it is
    good to 3e-9, the factor's form to 1e-13 (checked against 60-digit arithmetic).

    Args:
        Xn: the ``(m, p)`` design of the predicted rows.
        factor: the kernel's ``(R, S)``, ``RᵀR = S⁻¹XᵀWXS⁻¹``.
        cov_type: the fit's covariance (``"nonrobust"``, HC0–HC3, cluster or HAC).
        scale: ``s²`` (for ``nonrobust``).
        meat: the sandwich's meat in the scaled basis (``QᵀΩQ`` for HC0–HC3; the cluster or
            HAC meat of the rows of ``Q·diag(√wᵢeᵢ)``), small-sample factor included.
        converged: whether the fit's covariance is valid (else NaN).

    Returns:
        ``(m,)`` variances of the predicted means.
    """
    import scipy.linalg

    if not converged:
        return np.full(Xn.shape[0], np.nan)
    R, S = factor
    # (check_finite off: a new row with a missing value is a row of NaN, and predicts NaN.)
    z = scipy.linalg.solve_triangular(R, (Xn / S).T, trans="T", lower=False,
                                      check_finite=False)  # (p, m)  # fmt: skip
    if cov_type == "nonrobust":
        return scale * np.sum(z * z, axis=0)
    return np.sum(z * (meat @ z), axis=0)  # zᵀ(QᵀΩQ)z: HC's xᵀVx


def obs_variance(scale: float, weights: Any, m: int) -> Any:
    """A new observation's variance around its mean: ``scale``, or ``scale / weights``.

    Args:
        scale: ``s²``.
        weights: None, or the WLS weights of the ``m`` predicted rows.
        m: the number of predicted rows.

    Returns:
        A float, or ``(m,)`` variances.
    """
    if weights is None:
        return scale
    w = np.asarray(weights, dtype=float)
    if w.ndim > 1 or (w.ndim == 1 and w.shape[0] != m):
        raise InputError(
            f"`weights` must be one value per predicted row ({m}); got shape {w.shape}."
        )
    return scale / w


class PredictionResults:
    """Predictions of the mean and of new observations, with standard errors and intervals.

    As statsmodels' ``PredictionResults``: the mean's variance is ``xᵀ V x`` with ``V`` the
    result's ``cov_params()`` (its ``cov_type``); a new observation adds ``scale / weight``.
    Intervals use Student's t on ``df_resid`` when the result's ``use_t``, else the normal.

    Attributes:
        predicted_mean: ``(m,)`` ``x_iᵀβ̂``.
        var_pred_mean: ``(m,)`` variances of the predicted means.
        var_resid: the variance of a new observation around its mean (``scale / weights``).
        df: the t distribution's degrees of freedom (``df_resid``).
        use_t: whether intervals use Student's t (else the normal).
        row_labels: the new data's index (None for arrays).
    """

    def __init__(self, predicted_mean: np.ndarray, var_pred_mean: np.ndarray, var_resid: Any,
                 df: float, use_t: bool, row_labels: Any = None) -> None:  # fmt: skip
        self.predicted_mean = predicted_mean
        self.var_pred_mean = var_pred_mean
        self.var_resid = var_resid
        self.df = df
        self.use_t = use_t
        self.row_labels = row_labels

    @property
    def se_mean(self) -> np.ndarray:
        """Standard errors of the predicted means, ``sqrt(var_pred_mean)``."""
        return np.sqrt(self.var_pred_mean)

    @property
    def se_obs(self) -> np.ndarray:
        """Standard errors of new observations, ``sqrt(var_pred_mean + var_resid)``."""
        return np.sqrt(self.var_pred_mean + self.var_resid)

    def conf_int(self, obs: bool = False, alpha: float = 0.05) -> np.ndarray:
        """Intervals for the mean (or, with ``obs``, for a new observation) at level 1 − alpha.

        Args:
            obs: prediction intervals of new observations instead of the mean's.
            alpha: one minus the confidence level.

        Returns:
            ``(m, 2)`` lower and upper bounds.
        """
        from . import _dists  # lazily: it imports scipy.special

        if not 0.0 < alpha < 1.0:
            raise InputError(f"`alpha` must be in (0, 1), e.g. 0.05 for 95%; got {alpha!r}.")
        p = 1 - alpha / 2
        q = float(_dists.t_ppf(p, self.df) if self.use_t else _dists.norm_ppf(p))
        se = self.se_obs if obs else self.se_mean
        return np.column_stack([self.predicted_mean - q * se, self.predicted_mean + q * se])

    def summary_frame(self, alpha: float = 0.05) -> Any:
        """The predictions as a DataFrame, with statsmodels' columns.

        Args:
            alpha: one minus the intervals' confidence level.

        Returns:
            Columns ``mean``, ``mean_se``, ``mean_ci_lower``, ``mean_ci_upper``,
            ``obs_ci_lower``, ``obs_ci_upper``, indexed by the new data's rows.
        """
        import pandas as pd

        ci, ci_obs = self.conf_int(False, alpha), self.conf_int(True, alpha)
        return pd.DataFrame(
            {"mean": self.predicted_mean, "mean_se": self.se_mean,
             "mean_ci_lower": ci[:, 0], "mean_ci_upper": ci[:, 1],
             "obs_ci_lower": ci_obs[:, 0], "obs_ci_upper": ci_obs[:, 1]},
            index=self.row_labels,
        )  # fmt: skip
