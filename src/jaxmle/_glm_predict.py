"""GLM prediction: :class:`GLMPrediction` and the design and linear predictor of new data.

The machinery behind :meth:`jaxmle.GLMResults.predict` and ``get_prediction``, given the fitted
pieces it needs (the design, coefficients, covariance, offsets and the family's host functions,
:class:`jaxmle._glm_host._Host`) rather than the results object. New data are encoded like the
fitted data (:func:`jaxmle._design.new_exog`); a category the fit did not see is an error, not
the reference level. Host-side NumPy. (Marginal effects are in :mod:`jaxmle._margeff`.)
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from . import _design
from ._design import Design
from ._errors import InputError
from ._glm_host import _check_option, _Host

__all__ = ["GLMPrediction", "mean_prediction", "predict_design"]


# --------------------------------------------------------------------------------------------
# The design and linear predictor of a prediction.


def _encode_exog(design: Design, exog: Any) -> np.ndarray:
    """New data encoded like the fitted data; an unseen category or an infinity raises.

    A row with a missing value is a row of NaN, predicted NaN (statsmodels' convention).
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        X = _design.new_exog(design, exog)
    # formulaic encodes a category the fit did not see as the reference level, with a
    # DataMismatchWarning: a silently wrong prediction, so it is an error here.
    mismatch = [w for w in caught if type(w.message).__name__ == "DataMismatchWarning"]
    if mismatch or np.isinf(X).any():
        why = "; ".join(str(w.message) for w in mismatch) or "infinite values"
        raise InputError(f"the new data could not be encoded like the fitted data "
                         f"({design.formula!r}): {why}")  # fmt: skip
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return X


def _per_row(v: Any, name: str, log: bool, m: int) -> np.ndarray:
    """A given offset (or exposure) for ``m`` predicted rows, checked; a scalar is broadcast."""
    a = np.asarray(v, dtype=float)
    a = np.broadcast_to(a, (m,)) if a.ndim == 0 else a
    if a.shape != (m,):
        raise InputError(f"`{name}` must have one value per predicted row ({m}); "
                         f"got shape {a.shape}.")  # fmt: skip
    if log and np.any(~(a > 0) & ~np.isnan(a)):  # (a missing one predicts NaN, as in statsmodels)
        raise InputError("`exposure` must be positive (or NaN for a missing value).")
    return a


def _design_matrix(exog: Any, design: Design) -> np.ndarray:
    """``exog`` as the ``(m, p)`` design of predicted rows (``transform=False``), checked."""
    X = np.asarray(exog, dtype=float)
    X = X[None, :] if X.ndim == 1 else X
    if X.ndim != 2 or X.shape[1] != design.X.shape[1]:
        raise InputError(f"`exog` with transform=False must be an (m, {design.X.shape[1]}) "
                         f"design matrix; got shape {np.shape(exog)}.")  # fmt: skip
    return X


def predict_design(design: Design, coef: np.ndarray, link_name: str,
                   fitted_offset: np.ndarray | None, fitted_exposure: np.ndarray | None,
                   exog: Any, offset: Any, exposure: Any,
                   transform: bool = True) -> tuple[np.ndarray, np.ndarray, Any]:  # fmt: skip
    """The design, linear predictor and row labels of a prediction (statsmodels' conventions).

    Without ``exog`` (the fitted rows) the fit's own offset and exposure are used unless
    ``offset``/``exposure`` are given; with ``exog``, only those given.

    Args:
        design: the fitted design.
        coef: the coefficients (α excluded).
        link_name: the link's name (``exposure`` needs ``"log"``).
        fitted_offset: the fit's offset, or None.
        fitted_exposure: the fit's exposure, or None.
        exog: None, a DataFrame with the formula's columns, or an ``(m, p)`` array.
        offset: offsets for the predicted rows, or None.
        exposure: exposures for the predicted rows, or None.
        transform: False: ``exog`` is the ``(m, p)`` design matrix itself (not encoded).

    Returns:
        ``(X, η, labels)``: the ``(m, p)`` design, ``(m,)`` linear predictors and the rows'
        labels (None for arrays).
    """
    if exposure is not None and link_name != "log":
        raise InputError("`exposure` needs the log link; pass offset=np.log(exposure).")
    if exog is None:
        X, labels = design.X, design.index
        off = fitted_offset if offset is None else None
        expo = fitted_exposure if exposure is None else None
    else:
        X = _encode_exog(design, exog) if transform else _design_matrix(exog, design)
        labels, off, expo = getattr(exog, "index", None), None, None
    m = X.shape[0]
    total = np.zeros(m)
    for v, log in ((off, False), (expo, True)):
        if v is not None:
            a = np.asarray(v, dtype=float)
            total = total + (np.log(a) if log else a)
    for v, name, log in ((offset, "offset", False), (exposure, "exposure", True)):
        if v is not None:
            a = _per_row(v, name, log, m)
            total = total + (np.log(a) if log else a)
    return X, X @ coef + total, labels


# --------------------------------------------------------------------------------------------
# Predicted means.


def mean_prediction(X: np.ndarray, eta: np.ndarray, labels: Any, cov: np.ndarray,
                    host: _Host, which: str | None = None) -> GLMPrediction:  # fmt: skip
    """The predicted means (or linear predictors) with delta-method standard errors.

    Args:
        X: the ``(m, p)`` design of the predicted rows.
        eta: their ``(m,)`` linear predictors.
        labels: their row labels (or None).
        cov: the coefficients' ``(p, p)`` covariance.
        host: the family's host functions (the link's inverse and derivative).
        which: None or ``"mean"`` (the mean), ``"linear"`` (η); None names the frame's columns
            ``mean…``, the others ``predicted``, ``se``, ``ci_lower``, ``ci_upper``.

    Returns:
        A :class:`GLMPrediction`.
    """
    se_eta = np.sqrt(np.einsum("ij,jk,ik->i", X, cov, X))
    if which == "linear":
        return GLMPrediction(eta, se_eta, eta, se_eta, lambda v: v, labels, named=True)
    return GLMPrediction(host.inverse(eta), np.abs(host.dmu(eta)) * se_eta, eta, se_eta,
                         host.inverse, labels, named=which is not None)  # fmt: skip


class GLMPrediction:
    """Predicted means with standard errors and intervals (statsmodels' GLM ``get_prediction``).

    Two intervals for the mean:

    - ``method="endpoint"`` (the default, as statsmodels): the link's inverse applied to the
      Wald interval of η, ``g⁻¹(η̂ ± q·se(η̂))``. It stays inside the mean's range (a
      probability in [0, 1], a rate above 0) and is the one statsmodels' ``summary_frame``
      gives, so the defaults agree. Bounds are sorted (statsmodels leaves them reversed for a
      decreasing link such as Gamma's inverse).
    - ``method="delta"``: ``μ̂ ± q·mean_se``, symmetric, possibly outside the range.

    Attributes:
        predicted_mean: the means ``g⁻¹(η̂)``.
        se_mean: their delta-method standard errors ``|dμ/dη|·se(η̂)``.
        predicted_linear: the linear predictors ``η̂``.
        se_linear: their standard errors ``√(x V xᵀ)``.
    """

    def __init__(self, mean, se_mean, eta, se_eta, inverse, labels, named=False) -> None:
        self.predicted_mean = mean
        self.se_mean = se_mean
        self.predicted_linear = eta
        self.se_linear = se_eta
        self._inverse = inverse
        self.row_labels = labels
        self._named = named  # statsmodels' which= columns: predicted, se, ci_lower, ci_upper

    def conf_int(self, alpha: float = 0.05, method: str = "endpoint") -> np.ndarray:
        """Confidence intervals of the mean at level ``1 − alpha`` (z-based).

        Args:
            alpha: one minus the confidence level.
            method: ``"endpoint"`` or ``"delta"`` (see the class docstring).

        Returns:
            ``(m, 2)`` lower and upper bounds.
        """
        from . import _dists  # lazily: it imports scipy.special

        method = _check_option(method, "method", ("endpoint", "delta"))
        if not 0.0 < alpha < 1.0:
            raise InputError(f"`alpha` must be in (0, 1), e.g. 0.05 for 95%; got {alpha!r}.")
        q = float(_dists.norm_ppf(1 - alpha / 2))
        if method == "delta":
            lo, hi = self.predicted_mean - q * self.se_mean, self.predicted_mean + q * self.se_mean
        else:
            a = self._inverse(self.predicted_linear - q * self.se_linear)
            b = self._inverse(self.predicted_linear + q * self.se_linear)
            lo, hi = np.minimum(a, b), np.maximum(a, b)
        return np.column_stack([lo, hi])

    def summary_frame(self, alpha: float = 0.05, method: str = "endpoint") -> Any:
        """A DataFrame with statsmodels' columns: mean, mean_se, mean_ci_lower, mean_ci_upper.

        Args:
            alpha: one minus the intervals' confidence level.
            method: ``"endpoint"`` or ``"delta"`` (see the class docstring).

        Returns:
            A pandas DataFrame, one row per prediction.
        """
        import pandas as pd

        ci = self.conf_int(alpha, method)
        cols = ("predicted", "se", "ci_lower", "ci_upper") if self._named else (
            "mean", "mean_se", "mean_ci_lower", "mean_ci_upper")  # fmt: skip
        values = (self.predicted_mean, self.se_mean, ci[:, 0], ci[:, 1])
        return pd.DataFrame(dict(zip(cols, values, strict=True)), index=self.row_labels)
