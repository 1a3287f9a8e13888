"""Ordinary and weighted least squares on formulas and DataFrames: :func:`ols`, :class:`OLSResults`.

``jaxmle.ols("y ~ x1 + C(g)", data=df)`` or ``jaxmle.ols(y, X)`` fits by the jitted
least-squares kernel of :func:`jaxmle.closed_form.ols` (:func:`jaxmle._lstsq.lstsq`:
Householder QR with double-double refinement, or refined normal equations for large
well-conditioned problems) and returns results in statsmodels' vocabulary and conventions
(``statsmodels.regression.linear_model.RegressionResults``): ``params``, ``bse``, ``rsquared``,
``fvalue``, ``llf``, ``predict``, ``get_prediction``, ``summary()``, named by the design's
columns.

One call runs one XLA program: the kernel, the classical covariance ``s²(XᵀWX)⁻¹``, the
residuals, the sums of squares, the singular values of the weighted design, the leverages and
White's HC0–HC3 sandwich (from the kernel's triangular factor; XᵀWX is never formed). It is
the same program for OLS and WLS and for every ``cov_type``: one compilation per design shape,
and none for a repeated call with data of the same shape. The host then makes the rank and
accuracy checks of :func:`jaxmle.closed_form.ols` on one small transfer, and everything else
(tests, intervals, tables) from NumPy scalars.

Conventions (statsmodels'): the model has a constant when a column is a non-zero constant or
the columns span one (``C(g) - 1``); without one, R² and ESS are uncentered. Weights are inverse
variances, ``y_i ~ N(x_iᵀβ, σ²/w_i)``. ``nonrobust`` tests use Student's t on ``df_resid``;
the robust covariances (HC0–HC3, cluster, HAC) use the normal (statsmodels' ``use_t=False``
default for robust covariances) and an F-statistic that is the Wald test of all slopes in that
covariance, on ``G − 1`` denominator degrees of freedom for cluster (statsmodels'
``df_resid_inference``). The cluster and HAC sandwiches are computed on the host from the
program's residuals and triangular factor (:mod:`jaxmle._sandwich`), so they add no program.

Where the code is. This module holds :func:`ols`, its jitted program and :class:`OLSResults`;
the input preparation (design, weights, missing rows, rank errors) is in
:mod:`jaxmle._ols_input`, prediction (:class:`PredictionResults`, re-exported here) in
:mod:`jaxmle._ols_predict`, and the summary's diagnostics and notes in :mod:`jaxmle._ols_summary`.
"""

from __future__ import annotations

import math
import warnings
from functools import cached_property
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.linalg import solve_triangular

from . import _outputs, _xla
from ._design import Design
from ._errors import InputError, RankDeficientError
from ._lstsq import lstsq
from ._ols import OLSResult, _finish, _packed, _unpack
from ._ols_input import _build, _rank_error
from ._ols_predict import PredictionResults, encode_exog, obs_variance, var_pred_mean
from ._ols_summary import _d_or_f, _fmt, diagnostics_block, notes_block
from ._results import RegressionResults, TextSummary, header_table
from ._sandwich import CovSpec, check_cov_kwds, robust_meat, warn_if_negative
from ._status import Status, status_message
from ._tiered import TieredJit
from ._validation import warn_if_float32

__all__ = ["COV_TYPES", "OLSResults", "PredictionResults", "ols"]

COV_TYPES = ("nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster", "HAC")
"""Covariances of :func:`ols` (statsmodels' names).

``nonrobust``: ``s²(XᵀWX)⁻¹`` with ``s² = RSS/df_resid`` (t-tests on ``df_resid``).
``HC0``: White's ``(XᵀWX)⁻¹ Xᵀ W Ω W X (XᵀWX)⁻¹`` with ``Ω = diag(e_i²)``; ``HC1`` scales it
by ``n/df_resid``; ``HC2`` divides ``e_i²`` by ``1 − h_i`` and ``HC3`` by ``(1 − h_i)²``, with
``h_i`` the leverages of the weighted design. ``cluster`` (``cov_kwds={"groups": g}``): CRV1
with statsmodels' factor ``G/(G − 1)·(n − 1)/(n − p)``, one- or two-way; ``HAC``
(``cov_kwds={"maxlags": L}``): Newey–West with Bartlett weights, no small-sample factor (see
:mod:`jaxmle._sandwich`). The robust covariances use normal (z) tests unless
``cov_kwds["use_t"]``.
"""

_MISSING = ("drop", "raise", "none")
_DESCRIPTIONS = {
    "nonrobust": "Standard Errors assume that the covariance matrix of the errors is correctly "
    "specified.",
    **{h: f"Standard Errors are heteroscedasticity robust ({h})" for h in COV_TYPES[1:5]},
}
# Relative distance of the constant vector from the design's column space below which the
# columns are taken to span a constant (an "implicit" intercept, e.g. all dummies of C(g) - 1).
_CONST_TOL = 1e-8
# Leverage past 1 − sqrt(eps): HC2/HC3's 1/(1 − h) is rounding noise, not a number.
_LEVERAGE_ONE = 1.0 - math.sqrt(float(np.finfo(np.float64).eps))


# --------------------------------------------------------------------------------------------
# The one jitted program (kernel, statistics, sandwich) and its pieces.


def _factors(X, w, R, S):
    """``R⁻ᵀ`` and ``Qᵀ = R⁻ᵀ(W½X S⁻¹)ᵀ``, the weighted design's orthonormal factor (p, n).

    ``RᵀR = S⁻¹XᵀWXS⁻¹`` is the kernel's factor of the column-scaled design; one triangular
    solve against the identity gives ``R⁻ᵀ``, and everything else is matrix products (on
    XLA:CPU each further triangular solve adds compile time, not accuracy).
    """
    Rit = solve_triangular(R, jnp.eye(R.shape[0], dtype=R.dtype), trans="T", lower=False)
    return Rit, Rit @ (X * jnp.sqrt(w)[:, None] / S).T


def _sandwich(Rit, Qt, S, rw2, h, hc):
    """White's ``HC[hc]`` covariance and its meat ``QᵀΩQ`` (scaled basis)."""
    n, p = Qt.shape[1], Qt.shape[0]
    hc1 = n / (n - p) if n > p else math.nan
    # HC0: e², HC1: e²·n/(n − p), HC2: e²/(1 − h), HC3: e²/(1 − h)².
    inv = 1.0 / (1.0 - h)
    factor = jnp.where(hc == 0, 1.0, jnp.where(hc == 1, hc1, jnp.where(hc == 2, inv, inv * inv)))
    M = (Qt * (rw2 * factor)) @ Qt.T  # Qᵀ Ω Q
    C = Rit.T @ M @ Rit  # R⁻¹ M R⁻ᵀ
    return 0.5 * (C + C.T) / S[:, None] / S[None, :], M


@TieredJit
def _program(X, y, w, hc):
    """The least-squares kernel and every statistic an :class:`OLSResults` reads, as one program.

    ``X`` is the whole design (constant column included) and ``w`` the weights (ones for OLS:
    exactly the unweighted arithmetic); ``hc`` (traced) picks the HC0–HC3 sandwich. One
    compiled program per design shape serves OLS and WLS and every ``cov_type``: the sandwich
    and the leverages cost ``O(np²)``, the kernel's own order, and a compilation costs seconds.
    """
    n, p = X.shape
    sol = lstsq(X, y, w, intercept=False, method="auto")
    coef, R, S, rss = sol.coef, sol.r_factor, sol.scale, sol.rss
    Rit, Qt = _factors(X, w, R, S)
    # (XᵀWX)⁻¹ = S⁻¹R⁻¹R⁻ᵀS⁻¹, good to ~eps·cond: 12.7 digits of NIST's certified standard
    # errors on Longley (statsmodels: 12.6). The kernel's double-double refinement of the
    # inverse (cov=True: 14.9 digits) costs 3x the whole fit at 220 x 12, 17x at 6,366 x 12,
    # and doubles the compile time; the coefficients are refined either way.
    cov_unscaled = (Rit.T @ Rit) / S[:, None] / S[None, :]
    s2 = rss / (n - p) if n > p else jnp.asarray(jnp.nan, X.dtype)
    cov = s2 * cov_unscaled
    # The fields of an OLSResult after the parameters; r2 is set on the host (its convention).
    stats = ({"coef": coef, "variance": rss / n}, {"coef": jnp.sqrt(jnp.diag(cov))}, cov, rss,
             rss / n, s2, jnp.asarray(jnp.nan, X.dtype))  # fmt: skip
    fitted = jnp.matmul(X, coef, precision=jax.lax.Precision.HIGHEST)
    resid = y - fitted  # as statsmodels (the kernel's RSS is carried in double-double)
    ybar = jnp.sum(w * y) / jnp.sum(w)
    h = jnp.sum(Qt**2, axis=0)
    v = jnp.sqrt(w)  # 1 ∈ span(X)  ⇔  W½1 ∈ span(W½X): the relative gap says whether it is
    host = {
        "coef": coef,
        "cov": cov,
        "ssr": rss,
        "fitted": fitted,
        "resid": resid,
        "centered_tss": jnp.sum(w * (y - ybar) ** 2),
        "uncentered_tss": jnp.sum(w * y * y),
        # ESS from the fitted values: 1 − RSS/TSS cancels when the model explains little.
        "ess_centered": jnp.sum(w * (fitted - ybar) ** 2),
        "ess_uncentered": jnp.sum(w * fitted * fitted),
        # σ(W½X) = σ(R·S): the triangular factor carries the weighted design's spectrum.
        "singular_values": jnp.linalg.svd(R * S[None, :], compute_uv=False),
        "const_gap": jnp.linalg.norm(v - Qt.T @ (Qt @ v)) / jnp.linalg.norm(v),
        "leverage": h,
    }
    host["cov_hc"], host["meat"] = _sandwich(Rit, Qt, S, w * resid**2, h, hc)
    # The host's outputs travel as one vector (jaxmle._outputs).
    return stats, _outputs.flatten((_packed(sol), host, (R, S)), ("ols", X.shape, X.dtype), X.dtype)


@_xla.jit
def _hc_program(X, w, resid, R, S, hc):
    """HC[hc] of a fitted model (for ``HC0_se``... of a result fitted with another cov_type)."""
    Rit, Qt = _factors(X, w, R, S)
    return _sandwich(Rit, Qt, S, w * resid**2, jnp.sum(Qt**2, axis=0), hc)[0]


def _robust_host(X: np.ndarray, w: np.ndarray, resid: np.ndarray, factor: tuple,
                 spec: CovSpec) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The cluster/HAC covariance and its meat in the kernel's scaled basis, on the host.

    statsmodels' scores ``wᵢxᵢeᵢ`` and bread ``(XᵀWX)⁻¹ = S⁻¹R⁻¹R⁻ᵀS⁻¹`` are taken through
    the triangular factor, as the HC sandwich of the program is: the meat ``M`` is that of the
    rows of ``Q·diag(√wᵢeᵢ)`` (``Qᵀ = R⁻ᵀ(W½XS⁻¹)ᵀ``), so ``xᵀVx = zᵀMz`` with ``z = R⁻ᵀS⁻¹x``
    serves the predictions too, and ``(XᵀWX)⁻¹`` is never formed.
    """
    import scipy.linalg

    R, S = (np.asarray(a, dtype=float) for a in factor)
    Rit = scipy.linalg.solve_triangular(R, np.eye(R.shape[0]), trans="T", lower=False)
    sw = np.sqrt(w)
    scores = (X * sw[:, None] / S) @ Rit.T * (sw * resid)[:, None]  # rows: R⁻ᵀS⁻¹xᵢwᵢeᵢ
    M = robust_meat(scores, spec, R.shape[0])
    C = Rit.T @ M @ Rit / S[:, None] / S[None, :]
    return 0.5 * (C + C.T), M


# --------------------------------------------------------------------------------------------
# Options (the data are checked by :mod:`jaxmle._ols_input`).


def _check_cov_type(cov_type: Any) -> str:
    if isinstance(cov_type, str):
        for c in COV_TYPES:
            if cov_type.lower() == c.lower():
                return c
    raise InputError(
        f"`cov_type` must be one of {COV_TYPES}; got {cov_type!r} (cluster needs "
        "cov_kwds={'groups': g}, HAC cov_kwds={'maxlags': L})."
    )


# --------------------------------------------------------------------------------------------
# Results.


class _Host(NamedTuple):
    """The program's outputs that the host reads, as NumPy."""

    coef: np.ndarray
    cov: np.ndarray
    ssr: float
    fitted: np.ndarray
    resid: np.ndarray
    centered_tss: float
    uncentered_tss: float
    ess_centered: float
    ess_uncentered: float
    singular_values: np.ndarray
    const_gap: float
    leverage: np.ndarray
    cov_hc: np.ndarray
    meat: np.ndarray


class OLSResults(RegressionResults):
    """A fitted OLS/WLS regression in statsmodels' vocabulary (``RegressionResults``).

    Made by :func:`ols`. Besides the base's ``params``, ``bse``, ``tvalues``, ``pvalues``,
    ``conf_int(alpha)``, ``cov_params()``, ``aic``, ``bic`` and ``to_dataframe()``, it has the
    statistics below. Arrays are pandas objects named by the design (parameters) or indexed by
    the data's rows (fitted values, residuals) when the input was a formula or pandas, else
    NumPy. Weighted sums (``ssr``, the TSS) use the WLS weights ``w_i``.

    Attributes:
        fit_result: the jitted estimate underneath, a :class:`jaxmle.closed_form.OLSResult`
            (pytree) of the whole design with ``intercept=False``.
        nobs: number of observations ``n`` used (after rows with missing values were dropped).
        df_model: ``p − k_constant`` (parameters less the constant).
        df_resid: ``n − p``.
        k_constant: 1 when the design has a constant column or its columns span one (statsmodels'
            implicit constant, e.g. ``C(g) - 1``), else 0.
        cov_type: ``"nonrobust"``, ``"HC0"``–``"HC3"``, ``"cluster"`` or ``"HAC"``.
        use_t: True for ``nonrobust`` (Student's t on ``df_resid``); False for the robust
            covariances (normal tests and intervals, statsmodels' default) unless
            ``cov_kwds["use_t"]`` (then t on :attr:`df_resid_inference`).
        weights: the WLS weights (inverse variances) of the rows used, or None for OLS.
        method: the kernel's path (``"qr"`` or ``"gram"``).
    """

    def __init__(self, design: Design, weights: np.ndarray | None, cov_type: str,
                 fit: OLSResult, host: _Host, factor: tuple,
                 cov_spec: CovSpec | None = None) -> None:  # fmt: skip
        n, p = design.X.shape
        self.weights = weights
        self._host = host
        self._cov_spec = cov_spec
        self._factor = factor  # the kernel's (R, S): RᵀR = S⁻¹XᵀWXS⁻¹, NumPy
        const = np.flatnonzero(np.all(design.X[:1] == design.X, axis=0) & (design.X[0] != 0))
        self._const_idx = int(const[0]) if const.size else None
        implicit = host.const_gap <= _CONST_TOL
        self.k_constant = int(self._const_idx is not None or implicit)
        self.method = fit.method
        df_resid = n - p
        status = Status.OK
        if df_resid <= 0:
            status = Status.NO_RESIDUAL_DF
        elif cov_type in ("HC2", "HC3") and np.any(host.leverage >= _LEVERAGE_ONE):
            status = Status.LEVERAGE_ONE
        cov = host.cov if cov_type == "nonrobust" else host.cov_hc
        use_t = cov_type == "nonrobust"
        if cov_spec is not None and cov_spec.use_t is not None:
            use_t = cov_spec.use_t
        self._init_base(design, host.coef, cov, names=design.names, nobs=n,
                        df_model=p - self.k_constant, df_resid=df_resid, use_t=use_t,
                        cov_type=cov_type, status=int(status), fit_result=fit)  # fmt: skip
        # The kernel's OLSResult, with R² in this result's convention (centred with a constant).
        self.fit_result = fit._replace(r2=np.float64(self.rsquared))

    # -- sums of squares and R² ------------------------------------------------------------
    @property
    def ssr(self) -> float:
        """Residual sum of squares ``Σ w_i e_i²`` (weighted for WLS)."""
        return float(self._host.ssr)

    @property
    def centered_tss(self) -> float:
        """Total sum of squares about the (weighted) mean, ``Σ w_i (y_i − ȳ_w)²``."""
        return float(self._host.centered_tss)

    @property
    def uncentered_tss(self) -> float:
        """Total sum of squares about zero, ``Σ w_i y_i²``."""
        return float(self._host.uncentered_tss)

    @property
    def _tss(self) -> float:
        return self.centered_tss if self.k_constant else self.uncentered_tss

    @property
    def ess(self) -> float:
        """Explained sum of squares: ``centered_tss − ssr`` with a constant, else uncentered.

        Computed from the fitted values, ``Σ w_i (ŷ_i − ȳ_w)²`` (or ``Σ w_i ŷ_i²`` without a
        constant), which keeps its digits when the model explains little.
        """
        return float(self._host.ess_centered if self.k_constant else self._host.ess_uncentered)

    @property
    def rsquared(self) -> float:
        """R² = ``1 − ssr/centered_tss`` with a constant, else ``1 − ssr/uncentered_tss``.

        The uncentered R² of a model without a constant is statsmodels' convention (its summary
        says "uncentered"); ``ess/tss`` is used when the model explains little.
        """
        tss = self._tss
        if self.k_constant and self.df_model == 0:
            return 0.0  # the constant alone: the fit is the mean (ess is rounding, ~1e-33)
        return _div(self.ess, tss) if self.ssr > 0.5 * tss else 1.0 - _div(self.ssr, tss)

    @property
    def rsquared_adj(self) -> float:
        """Adjusted R², ``1 − (nobs − k_constant)/df_resid · (1 − R²)``."""
        return 1.0 - _div(self.nobs - self.k_constant, self.df_resid) * (1.0 - self.rsquared)

    @property
    def scale(self) -> float:
        """The noise variance estimate ``s² = ssr/df_resid`` (the σ² of ``w_i``-scaled rows)."""
        return _div(self.ssr, self.df_resid)

    @property
    def mse_resid(self) -> float:
        """Mean squared error of the residuals, ``ssr/df_resid`` (= ``scale``)."""
        return self.scale

    @property
    def mse_model(self) -> float:
        """Mean squared error of the model, ``ess/df_model``."""
        return _div(self.ess, self.df_model)

    @property
    def mse_total(self) -> float:
        """Total mean squared error, ``tss/(df_resid + df_model)`` (centered with a constant)."""
        return _div(self._tss, self.df_resid + self.df_model)

    # -- covariance settings and inference degrees of freedom ------------------------------
    @property
    def cov_kwds(self) -> dict[str, Any]:
        """The covariance's settings and statsmodels' ``description`` sentence (its notes)."""
        if self._cov_spec is not None:
            return self._cov_spec.kwds()
        return {"description": _DESCRIPTIONS[self.cov_type]}

    # -- tests -----------------------------------------------------------------------------
    @cached_property
    def _f_test(self) -> tuple[float, float, float]:
        """(F, numerator df, p-value) of "all slopes are zero"."""
        from . import _dists  # lazily: it imports scipy.special

        if self.cov_type == "nonrobust":
            F, q = _div(self.mse_model, self.mse_resid), self.df_model
            if self.ssr == 0 and self.ess > 0 and self.df_resid > 0:
                return math.inf, float(q), 0.0  # an exact fit
        else:
            # statsmodels: the Wald test of every parameter but the constant in the robust
            # covariance, as an F(q, df_resid_inference); NaN when the constant is only
            # implicit. A cluster covariance has rank at most G − 1 (the scores sum to zero):
            # then, as statsmodels' wald_test, the pseudo-inverse and q = its rank.
            p = len(self._params)
            if self.k_constant and self._const_idx is None:
                return math.nan, math.nan, math.nan
            idx = [j for j in range(p) if j != self._const_idx]
            q = len(idx)
            if q == 0 or self.status != 0:
                return math.nan, float(q), math.nan
            b, C = self._params[idx], self._cov[np.ix_(idx, idx)]
            rank = int(np.linalg.matrix_rank(C))
            if rank < q:
                F, q = float(b @ np.linalg.pinv(C) @ b) / rank, rank
            else:
                F = float(b @ np.linalg.solve(C, b)) / q
        df = self.df_resid_inference
        if not (q > 0 and df > 0 and math.isfinite(F)):
            return F, float(q), math.nan
        return F, float(q), float(_dists.f_sf(F, q, df))

    @property
    def fvalue(self) -> float:
        """F-statistic of "all slopes are zero".

        ``mse_model/mse_resid`` for ``nonrobust``; for the robust covariances the Wald
        statistic of the non-constant parameters in that covariance over their number (over
        the covariance's rank where that is smaller, as for a cluster covariance with fewer
        clusters than slopes; NaN when the constant is only implicit), as statsmodels.
        """
        return self._f_test[0]

    @property
    def f_pvalue(self) -> float:
        """P-value of ``fvalue``: ``F(df_model, df_resid)``; robust ``F(q, df_resid_inference)``."""
        return self._f_test[2]

    @property
    def llf(self) -> float:
        """Gaussian log-likelihood at the MLE of σ²: ``−n/2·(log(2π·ssr/n) + 1) + ½Σlog w_i``."""
        n = self.nobs
        if self.ssr <= 0:
            return math.inf  # an exact fit
        llf = -0.5 * n * (math.log(2.0 * math.pi * self.ssr / n) + 1.0)
        if self.weights is not None:
            llf += 0.5 * float(np.sum(np.log(self.weights)))
        return llf

    @property
    def k_ic(self) -> int:
        """Parameters counted by AIC/BIC: ``df_model + k_constant`` (= p, statsmodels')."""
        return round(self.df_model) + self.k_constant

    # -- fitted values and residuals -------------------------------------------------------
    @property
    def fittedvalues(self) -> Any:
        """Fitted values ``Xβ̂`` (a Series indexed by the data's rows for pandas input)."""
        return self._rows(self._host.fitted.copy())

    @property
    def resid(self) -> Any:
        """Residuals ``y − Xβ̂`` (unweighted; ``ssr`` is the kernel's, summed in double-double)."""
        return self._rows(self._host.resid.copy())

    @property
    def wresid(self) -> Any:
        """Weighted residuals ``√w_i·e_i`` (= ``resid`` for OLS)."""
        r = self._host.resid if self.weights is None else self._host.resid * np.sqrt(self.weights)
        return self._rows(r)

    @property
    def condition_number(self) -> float:
        """``σ_max/σ_min`` of the weighted design ``W½X`` (unscaled, as statsmodels)."""
        s = self._host.singular_values
        return float(s[0] / s[-1]) if s[-1] > 0 else math.inf

    @property
    def eigenvals(self) -> np.ndarray:
        """Eigenvalues of ``XᵀWX`` (squared singular values of ``W½X``), largest first."""
        return self._host.singular_values**2

    def _hc(self, k: int) -> np.ndarray:
        if self.cov_type == f"HC{k}":
            return self._cov
        X = np.asarray(self.design.X, dtype=self._host.resid.dtype)
        w = np.ones_like(self._host.resid) if self.weights is None else self.weights
        cov = np.asarray(_hc_program(X, w, self._host.resid, *self._factor, np.int32(k)))
        h = self._host.leverage
        if (k == 1 and self.df_resid <= 0) or (k >= 2 and np.any(h >= _LEVERAGE_ONE)):
            cov = np.full_like(cov, np.nan)
        return cov

    @property
    def cov_HC0(self) -> np.ndarray:  # noqa: N802
        """White's HC0 covariance ``(XᵀWX)⁻¹XᵀWΩWX(XᵀWX)⁻¹``, ``Ω = diag(e_i²)``."""
        return self._hc(0)

    @property
    def cov_HC1(self) -> np.ndarray:  # noqa: N802
        """HC1: HC0 scaled by ``n/df_resid``."""
        return self._hc(1)

    @property
    def cov_HC2(self) -> np.ndarray:  # noqa: N802
        """HC2: ``e_i²/(1 − h_i)`` in place of ``e_i²`` (``h_i`` the leverages)."""
        return self._hc(2)

    @property
    def cov_HC3(self) -> np.ndarray:  # noqa: N802
        """HC3: ``e_i²/(1 − h_i)²`` in place of ``e_i²``."""
        return self._hc(3)

    @property
    def HC0_se(self) -> Any:  # noqa: N802
        """Standard errors of HC0, whatever ``cov_type`` (statsmodels' name)."""
        return self._series(np.sqrt(np.diag(self._hc(0))))

    @property
    def HC1_se(self) -> Any:  # noqa: N802
        """Standard errors of HC1."""
        return self._series(np.sqrt(np.diag(self._hc(1))))

    @property
    def HC2_se(self) -> Any:  # noqa: N802
        """Standard errors of HC2."""
        return self._series(np.sqrt(np.diag(self._hc(2))))

    @property
    def HC3_se(self) -> Any:  # noqa: N802
        """Standard errors of HC3."""
        return self._series(np.sqrt(np.diag(self._hc(3))))

    # -- prediction ------------------------------------------------------------------------
    def predict(self, exog: Any = None) -> Any:
        """Predicted means ``x_iᵀβ̂`` for new data (the fitted values without ``exog``).

        Args:
            exog: new data: for a formula, a DataFrame (or dict) with the right-hand side's
                variables, encoded by the fitted formula's spec (the same categorical levels,
                transforms and column order); else an ``(m, p)`` array or a DataFrame with the
                design's columns.

        Returns:
            ``(m,)`` predictions: a Series indexed like ``exog`` for pandas input, else NumPy.
        """
        if exog is None:
            return self.fittedvalues
        Xn, labels = encode_exog(self.design, exog)
        pred = Xn @ self._params
        if self.design.pandas or labels is not None:
            import pandas as pd

            return pd.Series(pred, index=labels)
        return pred

    def get_prediction(self, exog: Any = None, weights: Any = None) -> PredictionResults:
        """Predictions with standard errors and intervals for the mean and for new observations.

        Args:
            exog: new data as for :meth:`predict`; None: the estimation rows.
            weights: WLS weights of the new observations (their variance is ``scale/weight``);
                without ``exog`` the model's weights are used.

        Returns:
            A :class:`PredictionResults`; ``.summary_frame(alpha)`` is statsmodels' table.
        """
        if exog is None:
            Xn, labels = self.design.X, self.design.index
            if weights is None:
                weights = self.weights
        else:
            Xn, labels = encode_exog(self.design, exog)
        mean = Xn @ self._params
        var_mean = var_pred_mean(Xn, self._factor, self.cov_type, self.scale, self._host.meat,
                                 self.converged)  # fmt: skip
        var_resid = obs_variance(self.scale, weights, Xn.shape[0])
        return PredictionResults(mean, var_mean, var_resid, self.df_resid, self.use_t, labels)

    # -- presentation ----------------------------------------------------------------------
    @property
    def model_name(self) -> str:
        """``"OLS"``, or ``"WLS"`` with weights (statsmodels' model class)."""
        return "OLS" if self.weights is None else "WLS"

    def summary(self, alpha: float = 0.05) -> TextSummary:
        """The summary in statsmodels' OLS layout.

        The model block, the coefficient table, the residual diagnostics and notes. No date or
        time lines (the text is reproducible). A result whose covariance is not valid
        (``status`` not OK) says so under the model block.

        Args:
            alpha: one minus the intervals' confidence level.

        Returns:
            A :class:`~jaxmle._results.TextSummary` (``print`` it, or ``.as_text()``).
        """
        unc = "" if self.k_constant else " (uncentered)"
        left = [("Dep. Variable:", self.design.y_name), ("Model:", self.model_name),
                ("Method:", "Least Squares"), ("No. Observations:", _d_or_f(self.nobs)),
                ("Df Residuals:", _d_or_f(self.df_resid)), ("Df Model:", _d_or_f(self.df_model)),
                ("Covariance Type:", self.cov_type)]  # fmt: skip
        right = [(f"R-squared{unc}:", _fmt(self.rsquared, "#8.3f")),
                 (f"Adj. R-squared{unc}:", _fmt(self.rsquared_adj, "#8.3f")),
                 ("F-statistic:", _fmt(self.fvalue, "#8.4g")),
                 ("Prob (F-statistic):", _fmt(self.f_pvalue, "#6.3g")),
                 ("Log-Likelihood:", _fmt(self.llf, "#8.5g")), ("AIC:", _fmt(self.aic, "#8.4g")),
                 ("BIC:", _fmt(self.bic, "#8.4g"))]  # fmt: skip
        parts = [header_table(f"{self.model_name} Regression Results", left, right)]
        parts += self._status_lines()
        parts.append(self._coef_table(alpha))
        e = np.asarray(self._host.resid if self.weights is None else
                       self._host.resid * np.sqrt(self.weights))  # fmt: skip
        cond = self.condition_number
        parts.append(diagnostics_block(e, cond))
        parts.append(notes_block(self.k_constant, self.cov_kwds["description"],
                                 float(self.eigenvals[-1]), cond))  # fmt: skip
        return TextSummary("\n".join(parts))


def _div(a: float, b: float) -> float:
    return float(a) / float(b) if b != 0 else math.nan


# --------------------------------------------------------------------------------------------
# The public entry point.


def ols(
    formula_or_y: Any,
    data: Any = None,
    *,
    weights: Any = None,
    cov_type: str = "nonrobust",
    cov_kwds: dict[str, Any] | None = None,
    missing: str = "drop",
) -> OLSResults:
    """Ordinary (or weighted) least squares from a formula on a DataFrame, or from arrays.

    ``ols("y ~ x1 + C(g)", data=df)`` is statsmodels' ``smf.ols(...).fit()``: the formula is
    encoded by formulaic (an intercept unless ``- 1``/``+ 0``; columns named as patsy names
    them, ``Intercept``, ``C(g)[T.b]``, ``np.log(x)``, ``x1:x2``). ``ols(y, X)`` is
    ``sm.OLS(y, X).fit()``: no constant is added; names come from a DataFrame's columns or are
    ``const, x1, x2, ...``. With ``weights`` it is ``WLS(y, X, weights=w)``: the MLE when
    ``y_i ~ N(x_iᵀβ, σ²/w_i)``.

    The estimate is the jitted least-squares kernel of :func:`jaxmle.closed_form.ols` (QR with
    double-double refinement; no inverse formed), to about ``eps·cond`` relative accuracy in
    float64.

    Args:
        formula_or_y: a formula ``"y ~ x1 + x2"``, or the response ``(n,)`` (array or Series).
        data: the DataFrame (or dict of columns) of the formula, or the design matrix ``X``
            ``(n, p)`` (array or DataFrame) after a response.
        weights: optional WLS weights, one per row of the data (inverse variances, positive);
            a Series is aligned by index; with a formula, a string names a column of ``data``.
        cov_type: ``"nonrobust"`` (``s²(XᵀWX)⁻¹``, t-tests), ``"HC0"``–``"HC3"`` (White's
            heteroscedasticity-consistent covariances), ``"cluster"`` or ``"HAC"`` (normal
            tests unless ``cov_kwds["use_t"]``); see :data:`COV_TYPES`.
        cov_kwds: the settings of ``cluster``/``HAC``, as statsmodels' ``fit(cov_kwds=...)``:
            ``{"groups": g}`` (one cluster label per row of the data: an array, a Series, a
            column name of a formula's ``data``, or two of them for two-way clustering; rows
            dropped for missing values are dropped from ``g`` too), ``"use_correction"``
            (default True), ``"df_correction"`` (default True: ``G − 1`` inference degrees of
            freedom); ``{"maxlags": L}`` with ``"kernel"`` (``"bartlett"``, the default, or
            ``"uniform"``) and ``"use_correction"`` (default False); ``"use_t"`` for either.
        missing: ``"drop"`` (default) drops rows with a missing value (NaN) in the response,
            the design or the weights, as statsmodels' ``missing="drop"``; ``"raise"`` (or
            ``"none"``, statsmodels' no-check option, whose fit then fails) raises on them.

    Returns:
        An :class:`OLSResults`.

    Raises:
        InputError: on a bad formula, a column the data lacks, a bad ``cov_type``/``missing``,
            bad ``cov_kwds`` (see :func:`jaxmle._sandwich.check_cov_kwds`), weights of the
            wrong length or not positive, or infinite values.
        RankDeficientError: when the design's columns are linearly dependent (the message
            names them) or there are fewer rows than columns.

    Example:
        >>> import jax, pandas as pd, jaxmle
        >>> jax.config.update("jax_enable_x64", True)
        >>> df = pd.DataFrame({"y": [1.0, 3.0, 2.0, 5.0], "x": [0.0, 1.0, 2.0, 3.0]})
        >>> res = jaxmle.ols("y ~ x", df)
        >>> res.params.round(6).to_dict()
        {'Intercept': 1.1, 'x': 1.1}
        >>> round(res.rsquared, 6)
        0.691429
    """
    warn_if_float32("jaxmle.ols", stacklevel=2)
    cov_type = _check_cov_type(cov_type)
    if missing not in _MISSING:
        raise InputError(f"`missing` must be one of {_MISSING}; got {missing!r}.")
    design, w = _build(formula_or_y, data, weights, missing)
    spec = check_cov_kwds(cov_type, cov_kwds, design, data, allow_use_t=True)
    n, p = design.X.shape
    if n < p:
        raise _rank_error(design, w, math.inf)
    dt = jax.dtypes.canonicalize_dtype(np.float64)
    X = np.asarray(design.X, dtype=dt)
    y = np.asarray(design.y, dtype=dt)
    wd = np.ones(n, dt) if w is None else np.asarray(w, dtype=dt)
    hc = np.int32(int(cov_type[2]) if cov_type.startswith("HC") else 0)
    stats, flat = _program(X, y, wd, hc)
    packed, dev, factor = _outputs.unflatten(flat, ("ols", X.shape, X.dtype))
    sol = _unpack(packed)
    try:
        fit = _finish(stats, sol, X, y, wd, None, "raise", "X", n, p,
                      {"intercept": False, "degree": None})  # fmt: skip
    except RankDeficientError:
        from ._rank import conditioning

        raise _rank_error(design, w, conditioning(sol, X, wd, False)[0]) from None
    host = _Host(
        coef=dev["coef"], cov=dev["cov"], ssr=float(dev["ssr"]), fitted=dev["fitted"],
        resid=dev["resid"], centered_tss=float(dev["centered_tss"]),
        uncentered_tss=float(dev["uncentered_tss"]), ess_centered=float(dev["ess_centered"]),
        ess_uncentered=float(dev["ess_uncentered"]), singular_values=dev["singular_values"],
        const_gap=float(dev["const_gap"]), leverage=dev["leverage"], cov_hc=dev["cov_hc"],
        meat=dev["meat"],
    )  # fmt: skip
    if spec is not None:
        cov, meat = _robust_host(X, wd, host.resid, factor, spec)
        host = host._replace(cov_hc=cov, meat=meat)
    res = OLSResults(design, w, cov_type, fit, host, factor, spec)
    warn_if_negative(res._cov, res.param_names, spec, stacklevel=2)
    if not res.converged:  # (no residual degrees of freedom, a leverage of 1: as glm says)
        warnings.warn(f"ols: the covariance is not valid: {status_message(res.status)}",
                      RuntimeWarning, stacklevel=2)  # fmt: skip
    return res
