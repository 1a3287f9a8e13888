"""Validated linear-regression estimators on the :func:`jaxmle._lstsq.lstsq` kernel.

:func:`ols`, :func:`wls`, :func:`polyfit`, :func:`ridge` and :func:`intercept_by_centring`
check their inputs on the host (microseconds), run one jitted program each (the kernel and
every derived statistic), then check the design's rank and the solve's accuracy on the host
from one small transfer. See :mod:`jaxmle._lstsq` for how the kernel solves.
"""

from __future__ import annotations

import warnings
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import _xla
from ._errors import InputError, RankDeficientError
from ._lstsq import METHODS, LstsqSolution, _design, _split, lstsq
from ._numerics import dd_powers, dd_residual, dd_sum
from ._rank import (
    _OLS_FIX,
    _rank_message,
    _rank_tol,
    check_normal_equations,
    check_rank,
    conditioning,
)
from ._rank import PATH_NAMES as PATH_NAMES  # LstsqSolution.path indices
from ._tiered import TieredJit
from ._validation import as_array, check_positive, check_same_length, warn_if_float32

__all__ = [
    "METHODS",
    "LstsqSolution",
    "OLSResult",
    "intercept_by_centring",
    "lstsq",
    "ols",
    "polyfit",
    "ridge",
    "wls",
]


# --------------------------------------------------------------------------------------------
# Public, validated estimators.


class OLSResult(NamedTuple):
    """A fitted linear regression (OLS, WLS or polynomial least squares).

    Attributes:
        params: natural parameters, the same structure as
            :class:`jaxmle.models.LinearRegression`'s: ``{"coef", "intercept"?, "variance"?}``
            (``variance`` is the MLE RSS/n, present when the noise variance was not given).
        stderr: classical standard errors ``sqrt(diag(σ²(AᵀVA)⁻¹))`` for ``coef`` and
            ``intercept``, with σ² the unbiased RSS/(n−p) (or the known noise variance).
        cov: ``(p, p)`` classical covariance, parameters ordered ``[intercept, coef]``.
        rss: weighted residual sum of squares.
        variance_mle: RSS/n.
        variance_unbiased: RSS/(n−p) (NaN when n == p).
        r2: coefficient of determination (centred about the mean with an intercept, uncentred
            without one, as NIST and statsmodels do).
        n_obs: number of observations n.
        df_resid: n − p.
        cond: 2-norm condition number of the column-scaled design.
        method: the path taken: ``"gram"``, ``"qr"``, ``"cholesky"``, ``"svd"`` or
            ``"minimum-norm"``.
    """

    params: dict
    stderr: dict
    cov: jax.Array
    rss: jax.Array
    variance_mle: jax.Array
    variance_unbiased: jax.Array
    r2: jax.Array
    n_obs: int
    df_resid: int
    cond: float
    method: str


# Warm calls run ONE jitted program per estimator (the kernel and every derived statistic)
# and read back one small vector for the host-side checks: no eager device ops, so a repeated
# call with the same shapes compiles nothing and costs a dispatch plus microseconds of Python.


def _check_xy(X, y, weight, *, x_name="X", x_ndim=2):
    # Host input stays on the host: the program moves it at its call.
    X = as_array(X, x_name, ndim=x_ndim, host=True)
    y = as_array(y, "y", ndim=1, host=True)
    arrays = {x_name: X, "y": y}
    if weight is not None:
        weight = as_array(weight, "weight", ndim=1, host=True)
        check_positive(weight, "weight", what="observation weight")
        arrays["weight"] = weight
    check_same_length(arrays)
    return X, y, weight


class _HostSol(NamedTuple):
    """The fields of a :class:`LstsqSolution` that the host-side checks of ``_rank`` read."""

    cond: float
    path: int
    coef: np.ndarray


def _packed(sol: LstsqSolution) -> jax.Array:
    # cond, path and coef in one vector: one device-to-host transfer for all host checks.
    dt = sol.coef.dtype
    return jnp.concatenate([sol.cond[None].astype(dt), sol.path[None].astype(dt), sol.coef])


def _unpack(packed) -> _HostSol:
    v = np.asarray(packed)
    return _HostSol(float(v[0]), int(v[1]), v[2:])


def _stats(coef, b, rss, cov_unscaled, X, y, weight, noise_variance, intercept):
    """Device half of an :class:`OLSResult` (traced): params, standard errors, covariance, R²."""
    n, d = X.shape
    p = d + int(intercept)
    df = n - p
    var_unb = rss / df if df > 0 else jnp.asarray(jnp.nan, X.dtype)
    sigma2 = var_unb if noise_variance is None else jnp.asarray(noise_variance, X.dtype)
    cov = sigma2 * cov_unscaled
    se = jnp.sqrt(jnp.diag(cov))
    w = jnp.ones_like(y) if weight is None else weight
    ybar = sum(dd_sum(w * y)) / sum(dd_sum(w)) if intercept else jnp.zeros((), y.dtype)
    tss = jnp.sum(w * (y - ybar) ** 2)
    # 1 − RSS/TSS cancels when the fit explains little; then ESS/TSS, from the fitted values
    # ȳ − ŷ carried in double-double, keeps the digits (NIST's Wampler5 has R² = 0.002).
    dh, dl = dd_residual(X, coef, jnp.full_like(y, ybar) - b)
    ess = jnp.sum(w * (dh + dl) ** 2)
    r2 = jnp.where(rss > 0.5 * tss, ess / tss, 1.0 - rss / tss)
    params = {"coef": coef}
    stderr = {"coef": se[int(intercept) :]}
    if intercept:
        params["intercept"] = b
        stderr["intercept"] = se[0]
    if noise_variance is None:
        params["variance"] = rss / n
    return params, stderr, cov, rss, rss / n, var_unb, r2


def _design_of(X, degree):
    # polyfit passes x as X and builds its double-double powers inside the program.
    return (X, None) if degree is None else dd_powers(X, degree)


@partial(TieredJit, static_argnames=("intercept", "method", "degree"))
def _ols_program(X, y, weight, noise_variance, *, intercept, method, degree):
    """The kernel and every statistic of an :class:`OLSResult`, as one XLA program."""
    X, X_lo = _design_of(X, degree)
    sol = lstsq(X, y, weight, intercept=intercept, cov=True, method=method, X_lo=X_lo)
    stats = _stats(
        sol.coef, sol.intercept, sol.rss, sol.cov_unscaled, X, y, weight, noise_variance, intercept
    )
    return stats, _packed(sol)


@partial(_xla.jit, static_argnames=("intercept", "degree"))
def _min_norm_program(X, y, weight, noise_variance, *, intercept, degree):
    """The minimum-norm (SVD) solution of a rank-deficient problem and its statistics."""
    X, _ = _design_of(X, degree)
    n, d = X.shape
    p = d + int(intercept)
    A, yv = _design(X, y, None if weight is None else jnp.sqrt(weight), intercept)
    x = jnp.linalg.lstsq(A, yv, rcond=_rank_tol(n, p, X.dtype))[0]
    coef, b = _split(x, intercept, X.dtype)
    r = yv - A @ x
    nan = jnp.full((p, p), jnp.nan, X.dtype)
    return _stats(coef, b, r @ r, nan, X, y, weight, noise_variance, intercept)


def _solve(X, y, weight, intercept, noise_variance, rank_deficient, x_name, *, method, degree=None):
    """Runs the program (unless n < p: underdetermined) and checks and assembles the result.

    With ``degree``, ``X`` is the ``(n,)`` predictor of :func:`polyfit`.
    """
    n = X.shape[0]
    p = (X.shape[1] if degree is None else degree) + int(intercept)
    kw = {"intercept": intercept, "degree": degree}
    if n < p:
        stats, sol = None, _HostSol(float("inf"), PATH_NAMES.index("svd"), np.zeros(0))
    else:
        stats, packed = _ols_program(X, y, weight, noise_variance, method=method, **kw)
        sol = _unpack(packed)
    return _finish(stats, sol, X, y, weight, noise_variance, rank_deficient, x_name, n, p, kw)


def _finish(stats, sol, X, y, weight, noise_variance, rank_deficient, x_name, n, p, kw):
    """Host-side checks on a kernel solution and assembly of an :class:`OLSResult`."""
    intercept = kw["intercept"]
    if n < p:
        cond, method = sol.cond, "svd"
    else:
        # A polyfit runs the qr path, whose condition number needs no design on the host.
        cond, method = conditioning(sol, X, weight, intercept)
    deficient = (not cond < 1.0 / _rank_tol(n, p, X.dtype)) or n < p
    if deficient:
        msg = _rank_message(x_name, n, p, cond, intercept)
        if rank_deficient == "raise":
            raise RankDeficientError(msg + " " + _OLS_FIX)
        warnings.warn(
            msg + " Returning the minimum-norm solution; its standard errors are NaN.",
            RuntimeWarning,
            stacklevel=4,
        )
        stats = _min_norm_program(X, y, weight, noise_variance, **kw)
        method = "minimum-norm"
    else:
        check_normal_equations(sol, cond, method, X.dtype, x_name, stacklevel=5)
    return OLSResult(*stats, n, n - p, cond, method)


@partial(_xla.jit, static_argnames=("intercept", "method"))
def _ridge_program(X, y, weight, prior_mean, alpha, *, intercept, method):
    """The ridge kernel with the prior mean's shift in and out, as one XLA program."""
    if prior_mean is not None:
        y = y - X @ prior_mean
    sol = lstsq(X, y, weight, intercept=intercept, ridge=alpha, method=method)
    coef = sol.coef if prior_mean is None else sol.coef + prior_mean
    est = {"coef": coef, "intercept": sol.intercept} if intercept else {"coef": coef}
    return est, _packed(sol)


@partial(_xla.jit, static_argnames=("method",))
def _centred_program(X, y, *, method):
    """Centring, the no-intercept kernel and the intercept ``ȳ − x̄ᵀw``, as one XLA program.

    Also returns the centred design, which :func:`conditioning` may need on the host.
    """
    xbar, ybar = X.mean(axis=0), y.mean()
    Xc = X - xbar
    sol = lstsq(Xc, y - ybar, intercept=False, method=method)
    return {"coef": sol.coef, "intercept": ybar - xbar @ sol.coef}, _packed(sol), Xc


def _check_common(method, rank_deficient, noise_variance):
    if method not in METHODS:
        raise InputError(f"`method` must be one of {METHODS}, got {method!r}.")
    if rank_deficient not in ("raise", "warn"):
        raise InputError(f"`rank_deficient` must be 'raise' or 'warn', got {rank_deficient!r}.")
    if noise_variance is not None:
        check_positive(noise_variance, "noise_variance", what="variance")


def ols(
    X: jax.Array,
    y: jax.Array,
    *,
    intercept: bool = True,
    noise_variance: float | None = None,
    method: str = "auto",
    rank_deficient: str = "raise",
) -> OLSResult:
    """Ordinary least squares: the Gaussian-noise maximum-likelihood linear regression.

    ``coef, intercept = argmin ‖y − b − Xw‖²`` solved without forming any inverse (see the
    module docs for the paths ``method`` selects); the noise-variance MLE is RSS/n.

    Args:
        X: ``(n, d)`` predictors, without a column of ones.
        y: ``(n,)`` responses.
        intercept: fit an intercept (augmented design ``[1, X]``).
        noise_variance: known σ² (the seeds' first notebook); then ``params`` has no
            ``variance`` and the standard errors use it instead of RSS/(n−p).
        method: ``"auto"`` (default), ``"gram"``, ``"qr"``, ``"cholesky"`` or ``"svd"``.
        rank_deficient: ``"raise"`` (default) raises :class:`jaxmle.RankDeficientError` when
            the column-scaled design's condition number exceeds ``1/(max(n, p)·eps)``;
            ``"warn"`` warns and returns the minimum-norm least-squares solution (SVD).

    Returns:
        An :class:`OLSResult`.

    Raises:
        RankDeficientError: on a rank-deficient design (``rank_deficient="raise"``).
        InputError: on bad inputs, or when ``method="gram"``/``"cholesky"`` breaks down (the
            Gram matrix is not numerically positive definite).

    Warns:
        RuntimeWarning: when ``method="gram"`` or ``"cholesky"`` was asked for and the
            estimated relative error of its normal-equation solve exceeds 1e-6
            (``eps·κ²`` for ``"cholesky"``, about ``eps·κ + (eps·κ²)²`` for ``"gram"``, with κ
            the column-scaled design's condition number); the message gives κ and says to use
            the QR or SVD method. ``"auto"`` makes that check itself and never warns.

    Example:
        >>> import jax, jax.numpy as jnp, jaxmle
        >>> jax.config.update("jax_enable_x64", True)
        >>> X = jnp.array([[0.0], [1.0], [2.0], [3.0]])
        >>> fit = jaxmle.closed_form.ols(X, 1.0 + 2.0 * X[:, 0])
        >>> [round(float(fit.params["intercept"]), 12), round(float(fit.params["coef"][0]), 12)]
        [1.0, 2.0]
    """
    warn_if_float32("jaxmle.closed_form.ols", stacklevel=2)
    _check_common(method, rank_deficient, noise_variance)
    X, y, _ = _check_xy(X, y, None)
    return _solve(X, y, None, intercept, noise_variance, rank_deficient, "X", method=method)


def wls(
    X: jax.Array,
    y: jax.Array,
    weight: jax.Array,
    *,
    intercept: bool = True,
    noise_variance: float | None = None,
    method: str = "auto",
    rank_deficient: str = "raise",
) -> OLSResult:
    """Weighted least squares: the MLE when ``y_i ~ N(b + x_iᵀw, σ²/v_i)``.

    Args:
        X: ``(n, d)`` predictors.
        y: ``(n,)`` responses.
        weight: ``(n,)`` positive observation weights ``v_i`` (inverse relative variances).
        intercept: fit an intercept.
        noise_variance: known σ², as in :func:`ols`.
        method: as in :func:`ols`.
        rank_deficient: as in :func:`ols`.

    Returns:
        An :class:`OLSResult`; ``rss`` and the variances are weighted (Σ v_i r_i²).
    """
    warn_if_float32("jaxmle.closed_form.wls", stacklevel=2)
    _check_common(method, rank_deficient, noise_variance)
    X, y, weight = _check_xy(X, y, weight)
    return _solve(X, y, weight, intercept, noise_variance, rank_deficient, "X", method=method)


def polyfit(
    x: jax.Array,
    y: jax.Array,
    degree: int,
    *,
    intercept: bool = True,
    weight: jax.Array | None = None,
    rank_deficient: str = "raise",
) -> OLSResult:
    """Polynomial least squares ``y ≈ b + Σ_k w_k x^k`` (k = 1..degree) to full float64 accuracy.

    The powers are built in double-double (a float64 ``x**10`` is off by up to an ulp, which
    an ill-conditioned fit such as NIST's Filip amplifies ~1e9-fold) and solved on the
    Householder path with double-double refinement.

    Args:
        x: ``(n,)`` predictor.
        y: ``(n,)`` responses.
        degree: highest power, >= 1.
        intercept: include the constant term.
        weight: optional ``(n,)`` observation weights.
        rank_deficient: as in :func:`ols`.

    Returns:
        An :class:`OLSResult` with ``params["coef"][k-1]`` the coefficient of ``x**k``.
    """
    if not isinstance(degree, int) or degree < 1:
        raise InputError(f"`degree` must be a positive integer, got {degree!r}.")
    warn_if_float32("jaxmle.closed_form.polyfit", stacklevel=2)
    _check_common("qr", rank_deficient, None)
    x, y, weight = _check_xy(x, y, weight, x_name="x", x_ndim=1)
    return _solve(x, y, weight, intercept, None, rank_deficient, "x", method="qr", degree=degree)


def ridge(
    X: jax.Array,
    y: jax.Array,
    alpha: float,
    *,
    intercept: bool = True,
    weight: jax.Array | None = None,
    prior_mean: jax.Array | None = None,
    method: str = "auto",
) -> dict:
    """Ridge regression: ``argmin Σ v_i(y_i − b − x_iᵀw)² + alpha·‖w − m‖²``.

    This is the MAP estimate of :class:`jaxmle.models.LinearRegression` with known noise
    variance σ² and a Gaussian prior ``w ~ N(m, τ²I)`` when ``alpha = σ²/τ²``; the intercept is
    not penalised. A rank-deficient design is fine for ``alpha > 0``.

    Args:
        X: ``(n, d)`` predictors.
        y: ``(n,)`` responses.
        alpha: non-negative penalty.
        intercept: fit an unpenalised intercept.
        weight: optional ``(n,)`` observation weights.
        prior_mean: optional ``(d,)`` prior mean ``m`` the weights shrink towards (default 0).
        method: as in :func:`ols`.

    Returns:
        ``{"coef": (d,), "intercept": ()}`` (no ``intercept`` key when ``intercept=False``).

    Raises:
        RankDeficientError: when the penalised problem has no unique solution: ``alpha = 0``
            (plain least squares) with collinear columns or more parameters than observations,
            or an ``alpha`` too small to matter at working precision. Pass ``alpha > 0``, or use
            :func:`ols` with ``rank_deficient="warn"`` for the minimum-norm solution.
        InputError: on bad inputs, or when ``method="gram"``/``"cholesky"`` breaks down.

    Warns:
        RuntimeWarning: as :func:`ols`, when a requested normal-equation method (``"gram"``,
            ``"cholesky"``) loses most digits on the penalised problem.
    """
    warn_if_float32("jaxmle.closed_form.ridge", stacklevel=2)
    _check_common(method, "raise", None)
    X, y, weight = _check_xy(X, y, weight)
    if not _finite_nonneg(alpha):
        raise InputError(f"`alpha` must be a finite number >= 0, got {alpha!r}.")
    n, p = X.shape[0], X.shape[1] + int(intercept)
    fix = (
        "With alpha=0 ridge is plain least squares: pass alpha > 0 (large enough to matter), "
        "drop or combine collinear columns, or use jaxmle.closed_form.ols(..., "
        "rank_deficient='warn') for the minimum-norm solution."
    )
    if float(alpha) == 0.0 and n < p:
        check_rank(float("inf"), n, p, X.dtype, x_name="X", intercept=intercept, fix=fix)
    if prior_mean is not None:
        prior_mean = as_array(prior_mean, "prior_mean", ndim=1, host=True)
        if prior_mean.shape[0] != X.shape[1]:
            raise InputError(
                f"`prior_mean` has {prior_mean.shape[0]} entries but `X` has {X.shape[1]} columns."
            )
    est, packed = _ridge_program(
        X, y, weight, prior_mean, float(alpha), intercept=intercept, method=method
    )
    sol = _unpack(packed)
    cond, path = conditioning(sol, X, weight, intercept, float(alpha))
    # A penalty adds one row per penalised coefficient: the penalised design has n + d rows.
    rows = n + X.shape[1] if float(alpha) > 0 else n
    check_rank(cond, rows, p, X.dtype, x_name="X", intercept=intercept, fix=fix)
    check_normal_equations(sol, cond, path, X.dtype, "X", stacklevel=3)
    return est


def intercept_by_centring(X: jax.Array, y: jax.Array, *, method: str = "auto") -> dict:
    """OLS with intercept by centring, as in the seed notebook: b = ȳ − x̄ᵀw.

    The slopes solve the no-intercept problem on centred data; the intercept follows from the
    first-order condition in b. In exact arithmetic this equals the augmented-matrix solution
    of :func:`ols`; both are provided so they can be compared.

    Args:
        X: ``(n, d)`` predictors.
        y: ``(n,)`` responses.
        method: as in :func:`ols`.

    Returns:
        ``{"coef": (d,), "intercept": ()}``.
    """
    warn_if_float32("jaxmle.closed_form.intercept_by_centring", stacklevel=2)
    _check_common(method, "raise", None)
    X, y, _ = _check_xy(X, y, None)
    n, p = X.shape[0], X.shape[1] + 1
    if n < p:
        check_rank(float("inf"), n, p, X.dtype, x_name="X", intercept=True, fix=_OLS_FIX)
    est, packed, Xc = _centred_program(X, y, method=method)
    sol = _unpack(packed)
    cond, path = conditioning(sol, Xc, None, False)
    check_rank(cond, n, p, X.dtype, x_name="X", intercept=True, fix=_OLS_FIX)
    check_normal_equations(sol, cond, path, X.dtype, "X", stacklevel=3)
    return est


def _finite_nonneg(v) -> bool:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return False
    return v >= 0 and v == v and v != float("inf")
