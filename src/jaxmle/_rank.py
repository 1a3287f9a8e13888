"""Host-side rank and conditioning checks of the closed forms: no silent wrong answers.

:func:`jaxmle.closed_form.ols`, :func:`~jaxmle.closed_form.ridge`,
:func:`~jaxmle.closed_form.mvn_mle` and the models' ``closed_form`` methods share these rules,
applied on concrete results after the jitted kernels (so they cost no compilation):

* a least-squares design is rank deficient when ``n < p`` or its column-scaled condition number
  is not below ``1/(max(n, p)·eps)`` (:func:`check_rank`);
* a normal-equation solve (``method="gram"``/``"cholesky"``) that broke down raises, and one
  whose estimated relative error exceeds ``_WARN_ERR`` warns (:func:`check_normal_equations`);
* a covariance MLE needs ``n > k`` and a non-singular correlation matrix
  (:func:`check_mvn_sample_size`, :func:`check_cov_full_rank`).
"""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np

from ._errors import InputError, RankDeficientError
from ._validation import is_concrete

__all__ = [
    "check_cov_full_rank",
    "check_mvn_sample_size",
    "check_normal_equations",
    "check_rank",
    "conditioning",
]

PATH_NAMES = ("gram", "qr", "cholesky", "svd")  # LstsqSolution.path indices (see _lstsq)


def _rank_tol(n, p, dtype):
    return max(n, p) * float(jnp.finfo(dtype).eps)


def _rank_message(x_name: str, n: int, p: int, cond: float, intercept: bool) -> str:
    return (
        f"`{x_name}` is rank deficient (n={n}, {p} parameters, condition number "
        f"{cond:.3g} of the column-scaled design{', intercept included' if intercept else ''}):"
        " the least-squares estimate is not unique."
    )


def check_rank(
    cond: float, n: int, p: int, dtype, *, x_name: str, intercept: bool, fix: str
) -> None:
    """Raises :class:`RankDeficientError` unless the design has full column rank.

    The rule of :func:`jaxmle.closed_form.ols`: rank deficient when ``n < p`` or the
    column-scaled design's condition number is not below ``1/(max(n, p)·eps)``. Host-side, on
    a concrete ``cond``.

    Args:
        cond: 2-norm condition number of the column-scaled design (``LstsqSolution.cond``).
        n: observations.
        p: parameters (columns, plus one for the intercept).
        dtype: the design's floating dtype (for ``eps``).
        x_name: the design's argument name, for the message.
        intercept: whether ``p`` counts an intercept column.
        fix: what the caller can do instead, appended to the message.

    Raises:
        RankDeficientError: when the design is rank deficient.
    """
    if n < p or not cond < 1.0 / _rank_tol(n, p, dtype):
        raise RankDeficientError(_rank_message(x_name, n, p, cond, intercept) + " " + fix)


_OLS_FIX = (
    "Drop or combine collinear columns, add a ridge penalty (jaxmle.closed_form.ridge), or pass "
    "rank_deficient='warn' for the minimum-norm solution."
)
# Largest estimated relative error of a normal-equation solve (method "gram" or "cholesky")
# returned without a warning: fewer than ~6 correct digits is worth saying.
_WARN_ERR = 1e-6


def _normal_eq_error(cond: float, path: str, eps: float) -> float:
    """Estimated relative forward error of the normal-equation paths (Higham 2002, §20.4).

    Plain normal equations (``cholesky``) lose ``eps·κ²``; one corrected semi-normal step
    (``gram``) contracts that error by the same factor (Björck 1987), leaving about
    ``eps·κ + (eps·κ²)²`` while ``eps·κ² < 1``, and nothing dependable beyond.
    """
    e = eps * cond * cond
    if path == "gram" and e < 1.0:
        return eps * cond + e * e
    return e


def _host_cond(X, weight, intercept: bool, ridge: float = 0.0) -> float:
    """The column-scaled design's 2-norm condition number from a host (numpy) SVD.

    Only called when a normal-equation path's own estimate cannot be trusted: a Cholesky
    factor of a Gram matrix with ``κ² ≳ 1/eps`` reports ``κ ≈ 1/sqrt(eps)`` whatever the truth.
    """
    A = np.asarray(X)
    dt = A.dtype
    sw = None if weight is None else np.sqrt(np.asarray(weight))
    if sw is not None:
        A = A * sw[:, None]
    if intercept:
        A = np.column_stack([np.ones(A.shape[0], dt) if sw is None else sw, A])
    if ridge:
        pen = np.concatenate(
            [np.zeros(int(intercept)), np.full(A.shape[1] - int(intercept), np.sqrt(ridge))]
        )
        A = np.vstack([A, np.diag(pen).astype(dt)])
    norms = np.linalg.norm(A, axis=0)
    if not np.all(norms > 0):
        return float("inf")
    s = np.linalg.svd(A / norms, compute_uv=False)
    return float(s[0] / s[-1]) if s[-1] > 0 else float("inf")


def conditioning(sol, X, weight, intercept: bool, ridge: float = 0.0) -> tuple[float, str]:
    """A trustworthy condition number of the solved design and the path that solved it.

    The qr and svd paths measure ``κ`` from an accurate factor; the normal-equation paths
    measure it from the Gram matrix's Cholesky factor, which saturates near ``1/sqrt(eps)``
    (or is NaN when the factorisation broke down): then it is recomputed on the host.
    """
    cond = float(sol.cond)
    path = PATH_NAMES[int(sol.path)]
    if path in ("gram", "cholesky"):
        eps = float(jnp.finfo(X.dtype).eps)
        finite = bool(np.all(np.isfinite(np.asarray(sol.coef))))
        if not (finite and np.isfinite(cond) and _normal_eq_error(cond, path, eps) <= _WARN_ERR):
            cond = _host_cond(X, weight, intercept, ridge)
    return cond, path


def check_normal_equations(sol, cond: float, path: str, dtype, x_name: str,
                            stacklevel: int) -> None:  # fmt: skip
    """Raises when a normal-equation solve broke down; warns when it lost most digits."""
    if path not in ("gram", "cholesky"):
        return
    eps = float(jnp.finfo(dtype).eps)
    err = _normal_eq_error(cond, path, eps)
    if not bool(np.all(np.isfinite(np.asarray(sol.coef)))):
        raise InputError(
            f"method={path!r} broke down on `{x_name}` (condition number {cond:.3g} of the "
            f"column-scaled design: its Gram matrix, condition number ~{cond * cond:.1g}, is not "
            "numerically positive definite). Use method='qr' or 'svd' (or the default 'auto')."
        )
    if err > _WARN_ERR:
        warnings.warn(
            f"method={path!r} solves the normal equations of `{x_name}`, whose column-scaled "
            f"design has condition number {cond:.3g}: the estimated relative error of the "
            f"coefficients is {min(err, 1.0):.1g}{' (no correct digits)' if err >= 1 else ''}. "
            "Use method='qr' or 'svd' (or the default 'auto', which checks this).",
            RuntimeWarning,
            stacklevel=stacklevel,
        )


_MVN_FIX = (
    "Collect more data, drop collinear or constant columns, or use a shrinkage estimate "
    "(e.g. Ledoit-Wolf) or a MAP estimate under a Wishart prior."
)


def check_mvn_sample_size(n: int, k: int, *, name: str) -> None:
    """Raises unless ``n > k``: with ``n ≤ k`` the covariance MLE of ``k`` variables is singular.

    Args:
        n: observations.
        k: variables (columns).
        name: the data's argument name, for the message.

    Raises:
        RankDeficientError: (an :class:`InputError`) when ``n ≤ k``.
    """
    if n <= k:
        raise RankDeficientError(
            f"`{name}` has n={n} observations of k={k} variables; the covariance MLE needs "
            f"n > k (with n ≤ k it is singular). {_MVN_FIX}"
        )


def check_cov_full_rank(cov: jax.Array, n: int, *, name: str) -> None:
    """Raises when an estimated covariance is numerically singular (host-side; skips tracers).

    The rule: the correlation matrix ``D^-½ cov D^-½`` (scale-free, like the column scaling of
    :func:`jaxmle.closed_form.ols`) has ``λ_min ≤ max(n, k)·eps·λ_max``, or a variance is 0.
    That happens for collinear or constant columns, whatever ``n``.

    Args:
        cov: ``(k, k)`` estimated covariance.
        n: observations it was estimated from.
        name: the data's argument name, for the message.

    Raises:
        RankDeficientError: when the covariance is singular.
    """
    if not is_concrete(cov):
        return
    c = np.asarray(cov)
    k = c.shape[0]
    var = np.diag(c)
    tol = max(n, k) * float(np.finfo(c.dtype).eps)
    if np.all(var > 0) and np.all(np.isfinite(c)):
        d = 1.0 / np.sqrt(var)
        lam = np.linalg.eigvalsh(c * d[:, None] * d[None, :])
        if lam[0] > tol * lam[-1]:
            return
        what = f"smallest eigenvalue of its correlation matrix {lam[0]:.3g} of {lam[-1]:.3g}"
    else:
        what = f"variance(s) {var[~(var > 0)][:5].tolist()} in column(s) " + str(
            np.flatnonzero(~(var > 0))[:5].tolist()
        )
    raise RankDeficientError(
        f"the covariance MLE of `{name}` is singular ({what}): some columns are constant or "
        f"(numerically) collinear, so the Gaussian has no density. {_MVN_FIX}"
    )
