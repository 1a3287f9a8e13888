"""The linear least-squares kernel (OLS, WLS, ridge): certified-accurate and fast.

One jitted kernel, :func:`lstsq`, solves

    minimise_{b, w}  Σ_i v_i (y_i − b − x_iᵀw)² + λ‖w‖²

with optional intercept ``b``, observation weights ``v`` and ridge ``λ`` (the intercept is
not penalised). Columns are scaled to unit norm first (QR is column-scaling invariant in its
backward error, the normal equations are not). Two paths:

* **gram** (matmul-rich, for large well-conditioned problems): the Gram matrix AᵀA of the
  implicit design A = [1, X] (never materialised), its Cholesky factor, and one step of
  *corrected semi-normal equations* (Björck): the residual r = y − Ax is recomputed from the
  data and Aᵀr solved against the same factor. When ``eps·κ(AᵀA)`` is small this refinement
  contracts, and its fixed point has the forward-error bound of a Householder QR solve,
  ``eps·(κ(A) + κ(A)²‖r‖/(‖A‖‖x‖))``, instead of the normal equations' ``eps·κ(A)²``.
* **qr** (accurate): Householder QR of the scaled [A y] (LAPACK, no Q formed), then corrected
  semi-normal refinement with the residual r = y − Ax and the product Aᵀr carried in
  double-double (:mod:`jaxmle._numerics`). The extended-precision residual removes the
  working-precision floor, so the solution converges to (nearly) the correctly rounded one
  whenever ``eps·κ(A) < 1``; NIST's hardest problems (Filip, Wampler4/5) come out to 12+ digits.

``method="auto"`` (default) takes the gram path when the problem is large (over
``_SMALL`` design entries) *and* that path's error bound, estimated from the computed factor
and residual, is below ``_TOL_FAST`` (i.e. working precision costs no digits worth having);
otherwise the qr path. Small problems always take the qr path: it is cheap there and the most
accurate. ``method="cholesky"`` is the plain normal-equation solve (fast, loses half the digits
on ill-conditioned data); ``method="svd"`` the SVD solve of the scaled design.

References:
    Å. Björck, "Stability analysis of the method of seminormal equations for linear least
    squares problems", Linear Algebra Appl. 88/89 (1987). N. J. Higham, "Accuracy and Stability
    of Numerical Algorithms", 2nd ed., SIAM (2002), ch. 20.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax
from jax.scipy.linalg import cho_solve, solve_triangular

from . import _numerics, _xla
from ._rank import PATH_NAMES as PATH_NAMES  # LstsqSolution.path indices

__all__ = ["METHODS", "LstsqSolution", "lstsq"]

METHODS = ("auto", "gram", "qr", "cholesky", "svd")

# Below this many design entries the double-double path costs well under a millisecond.
_SMALL = 1 << 16
# Largest estimated relative forward error accepted from the working-precision gram path.
_TOL_FAST = 1e-13
_MAX_REFINE = 8


class LstsqSolution(NamedTuple):
    """Solution of a (weighted, ridge) least-squares problem.

    Attributes:
        coef: ``(d,)`` slopes.
        intercept: ``()`` intercept (0 when the problem has none).
        rss: ``()`` weighted residual sum of squares Σ v_i r_i² (without the ridge term).
        r_factor: ``(p, p)`` upper-triangular R with ``(S⁻¹AᵀAS⁻¹ + ridge) = RᵀR`` for the
            column-scaled design, parameters ordered ``[intercept, coef]``.
        scale: ``(p,)`` column scales S (column 2-norms of the weighted design).
        cond: ``()`` estimated 2-norm condition number of the column-scaled design.
        path: ``()`` int index into ``PATH_NAMES`` of the path taken.
        refinements: ``()`` number of refinement steps taken.
        cov_unscaled: ``(p, p)`` matrix ``(AᵀVA + ridge)⁻¹`` in original units, parameters
            ordered ``[intercept, coef]``, when requested (``cov=True``); else ``None``.
    """

    coef: jax.Array
    intercept: jax.Array
    rss: jax.Array
    r_factor: jax.Array
    scale: jax.Array
    cond: jax.Array
    path: jax.Array
    refinements: jax.Array
    cov_unscaled: jax.Array | None = None


def _design(X, y, sw, intercept):
    """Materialises the weighted design [sw, sw*X] and target sw*y."""
    Xv = X if sw is None else X * sw[:, None]
    yv = y if sw is None else y * sw
    if intercept:
        ones = jnp.ones_like(y) if sw is None else sw
        Xv = jnp.concatenate([ones[:, None], Xv], axis=1)
    return Xv, yv


def _ridge_diag(p, d, ridge, dtype):
    # The intercept (first column when present) is not penalised.
    pen = jnp.full((d,), ridge, dtype)
    return jnp.concatenate([jnp.zeros((p - d,), dtype), pen])


def _is_static_zero(v) -> bool:
    return isinstance(v, int | float) and v == 0


def _tri_cond(R):
    s = jnp.linalg.svd(R, compute_uv=False)
    return s[0] / s[-1], s[0]


def _split(x, intercept, dtype):
    if intercept:
        return x[1:], x[0]
    return x, jnp.zeros((), dtype)


def _xt_dot(X, v):
    # Xᵀv as a fused multiply-and-reduce over rows: one streaming pass. XLA:CPU lowers the
    # matrix-vector product X.T @ v through a transposed copy of X, ~10x slower at n = 200,000.
    return jnp.sum(X * v[:, None], axis=0)


def _gram_path(X, y, sw, intercept, ridge, refine: bool):
    """Normal equations on the column-scaled implicit design, optionally refined once."""
    n, d = X.shape
    dt = X.dtype
    Xv = X if sw is None else X * sw[:, None]
    yv = y if sw is None else y * sw
    ones = jnp.ones((n,), dt) if sw is None else sw
    G = Xv.T @ Xv
    Aty = _xt_dot(Xv, yv)
    if intercept:
        colsum = _xt_dot(Xv, ones)
        G = jnp.block([[jnp.reshape(ones @ ones, (1, 1)), colsum[None, :]], [colsum[:, None], G]])
        Aty = jnp.concatenate([jnp.reshape(ones @ yv, (1,)), Aty])
    p = G.shape[0]
    S = _numerics.pow2_scale(jnp.sqrt(jnp.diag(G)))
    Gs = G / S[:, None] / S[None, :] + jnp.diag(_ridge_diag(p, d, ridge, dt) / S**2)
    L = jnp.linalg.cholesky(Gs)
    R = L.T
    xs = cho_solve((L, True), Aty / S)

    def residual(xs):
        coef, b = _split(xs / S, intercept, dt)
        r = yv - Xv @ coef
        if intercept:
            r = r - b * ones
            g = jnp.concatenate([jnp.reshape(ones @ r, (1,)), _xt_dot(Xv, r)])
        else:
            g = _xt_dot(Xv, r)
        return r, g - _ridge_diag(p, d, ridge, dt) * (xs / S)

    r, g = residual(xs)
    rss = r @ r
    dxs = jnp.zeros_like(xs)
    if refine:
        dxs = cho_solve((L, True), g / S)
        x_old, xs = xs / S, xs + dxs
        # ‖r − A·dx‖² without another pass over X: (AᵀA + P)·dx = g = Aᵀr − P·x_old gives
        # ‖r‖² − dxᵀ(g + P(x_old + x_new)); the subtracted term is tiny once the first solve is
        # close, so the relative error stays O(eps).
        pen = _ridge_diag(p, d, ridge, dt)
        rss = rss - (dxs / S) @ (g + pen * (x_old + xs / S))
    cond, smax = _tri_cond(R)
    eps = jnp.finfo(dt).eps
    xn = jnp.linalg.norm(xs)
    # Forward-error estimate of the refined solution (Higham 2002, §20.1 and §20.5): the QR-level
    # bound plus what one more contraction of factor eps·κ(AᵀA) would still remove.
    err = (
        eps
        * (cond * (1.0 + jnp.linalg.norm(yv) / (smax * xn)) + cond**2 * jnp.sqrt(rss) / (smax * xn))
        + (p * eps * cond**2) * jnp.linalg.norm(dxs) / xn
    )
    ok = jnp.all(jnp.isfinite(xs)) & jnp.all(jnp.isfinite(R)) & (err <= _TOL_FAST)
    coef, b = _split(xs / S, intercept, dt)
    sol = LstsqSolution(
        coef, b, rss, R, S, cond, jnp.asarray(0 if refine else 2), jnp.asarray(int(refine))
    )
    return sol, ok


def _refine(correction, x0, eps):
    """Iterates x += correction(x) until the step is below eps·|x| or stops shrinking."""

    def cond_fn(state):
        x, dx, prev, k = state
        small = jnp.all(jnp.abs(dx) <= eps * jnp.abs(x))
        stalled = jnp.linalg.norm(dx) > 0.5 * prev
        return (k < _MAX_REFINE) & ~small & ~stalled & jnp.all(jnp.isfinite(dx))

    def body(state):
        x, dx, _, k = state
        x = x + dx
        return x, correction(x), jnp.linalg.norm(dx), k + 1

    inf = jnp.asarray(jnp.inf, x0.dtype)
    x, dx, _, k = lax.while_loop(cond_fn, body, (x0, correction(x0), inf, jnp.asarray(0)))
    # The last correction (small, or stalled at the noise floor) is applied when finite.
    return jnp.where(jnp.all(jnp.isfinite(dx)), x + dx, x), k + 1


def _qr_path(X, y, sw, intercept, ridge, X_lo, cov):
    """Householder QR of the scaled [A y] and double-double corrected semi-normal refinement."""
    d = X.shape[1]
    dt = X.dtype
    A, yv = _design(X, y, sw, intercept)
    A_lo = None
    if X_lo is not None:
        A_lo, _ = _design(X_lo, y, sw, False)
        if intercept:
            A_lo = jnp.concatenate([jnp.zeros_like(y)[:, None], A_lo], axis=1)
    p = A.shape[1]
    S = _numerics.pow2_scale(jnp.linalg.norm(A, axis=0))
    As, As_lo, yr = A / S, None if A_lo is None else A_lo / S, yv
    pen = _ridge_diag(p, d, ridge, dt)
    if not _is_static_zero(ridge):
        # Ridge as extra rows sqrt(λ)·S⁻¹ on the penalised columns, with zero targets.
        As = jnp.concatenate([As, jnp.diag(jnp.sqrt(pen) / S)], axis=0)
        As_lo = None if As_lo is None else jnp.concatenate([As_lo, jnp.zeros((p, p), dt)])
        yr = jnp.concatenate([yv, jnp.zeros((p,), dt)])
    Raug = jnp.linalg.qr(jnp.concatenate([As, yr[:, None]], axis=1), mode="r")
    R = Raug[:p, :p]

    def precond(g):  # (RᵀR)⁻¹ g by two triangular solves
        return solve_triangular(R, solve_triangular(R, g, trans="T", lower=False), lower=False)

    def correction(xs):
        rh, rl = _numerics.dd_residual(As, xs, yr, As_lo)
        return precond(_numerics.dd_dot_t(As, rh, rl, As_lo))

    eps = jnp.finfo(dt).eps
    xs, k = _refine(correction, solve_triangular(R, Raug[:p, p], lower=False), eps)
    rh, rl = _numerics.dd_residual(A, xs / S, yv, A_lo)
    sq_h, sq_l = _numerics.two_prod(rh, rh)
    s_h, s_l = _numerics.dd_sum(sq_h, sq_l + 2.0 * rh * rl)
    cov_unscaled = None
    if cov:
        # Z = (AsᵀAs)⁻¹ refined column by column: E = I − Asᵀ(As Z) carried in double-double.
        eye = jnp.eye(p, dtype=dt)

        def cov_correction(Z):
            zero = jnp.zeros(As.shape[0], dt)
            mh, ml = jax.vmap(
                lambda z: _numerics.dd_residual(As, z, zero, As_lo), in_axes=1, out_axes=1
            )(Z)  # −As Z
            w = _numerics.dd_dot_t(As, mh, ml, As_lo)  # −AsᵀAs Z, rounded once
            return precond(eye + w)

        Z, _ = _refine(cov_correction, precond(eye), eps)
        Z = 0.5 * (Z + Z.T)
        cov_unscaled = Z / S[:, None] / S[None, :]
    cond, _ = _tri_cond(R)
    coef, b = _split(xs / S, intercept, dt)
    return LstsqSolution(coef, b, s_h + s_l, R, S, cond, jnp.asarray(1), k, cov_unscaled)


def _svd_path(X, y, sw, intercept, ridge):
    d = X.shape[1]
    dt = X.dtype
    A, yv = _design(X, y, sw, intercept)
    p = A.shape[1]
    S = _numerics.pow2_scale(jnp.linalg.norm(A, axis=0))
    As = A / S
    pen = _ridge_diag(p, d, ridge, dt) / S**2
    U, s, Vt = jnp.linalg.svd(As, full_matrices=False)
    if _is_static_zero(ridge):
        xs = Vt.T @ ((U.T @ yv) / s)
        R = jnp.linalg.qr(s[:, None] * Vt, mode="r")
        cond = s[0] / s[-1]
    else:
        # A ridge on the scaled problem is not diagonal in the SVD basis (unless it is a
        # multiple of the identity), so the penalised system goes through the small Gram matrix;
        # its factor (and condition number) include the penalty, as on the other paths.
        L = jnp.linalg.cholesky((Vt.T * s**2) @ Vt + jnp.diag(pen))
        xs = cho_solve((L, True), As.T @ yv)
        R = L.T
        cond = _tri_cond(R)[0]
    r = yv - As @ xs
    coef, b = _split(xs / S, intercept, dt)
    return LstsqSolution(coef, b, r @ r, R, S, cond, jnp.asarray(3), jnp.asarray(0))


def _cov_from_r(R, S):
    Rinv_t = solve_triangular(R, jnp.eye(R.shape[0], dtype=R.dtype), trans="T", lower=False)
    Z = Rinv_t.T @ Rinv_t  # (RᵀR)⁻¹ = R⁻¹R⁻ᵀ from triangular solves only
    return Z / S[:, None] / S[None, :]


@partial(_xla.jit, static_argnames=("intercept", "method", "cov"))
def lstsq(
    X: jax.Array,
    y: jax.Array,
    weight: jax.Array | None = None,
    *,
    intercept: bool = True,
    ridge: float | jax.Array | None = None,
    method: str = "auto",
    X_lo: jax.Array | None = None,
    cov: bool = False,
) -> LstsqSolution:
    """Jitted weighted/ridge least-squares kernel (no input validation; see :func:`ols`).

    Solves ``min Σ_i v_i (y_i − b − x_iᵀw)² + ridge·‖w‖²``.

    Args:
        X: ``(n, d)`` predictors (no column of ones; see ``intercept``).
        y: ``(n,)`` responses.
        weight: optional ``(n,)`` positive observation weights ``v`` (WLS).
        intercept: fit an unpenalised intercept ``b``.
        ridge: non-negative ridge penalty on ``w`` (may be traced, e.g. vmapped over);
            ``None`` (default) means no penalty, decided at trace time.
        method: ``"auto"``, ``"gram"`` (refined normal equations), ``"qr"`` (Householder with
            double-double refinement), ``"cholesky"`` (plain normal equations) or ``"svd"``.
        X_lo: optional trailing parts of a double-double design ``X + X_lo`` (e.g. from
            :func:`jaxmle._numerics.dd_powers`); honoured by the ``qr`` path, which ``auto``
            then always takes; other methods use ``X`` alone.
        cov: also return ``cov_unscaled`` = (AᵀVA + ridge)⁻¹ (refined on the qr path).

    Returns:
        A :class:`LstsqSolution`.
    """
    if method not in METHODS:
        raise ValueError(f"`method` must be one of {METHODS}, got {method!r}")
    sw = None if weight is None else jnp.sqrt(weight)
    if ridge is None:
        ridge = 0.0  # a Python zero: the paths then skip the penalty rows entirely

    def qr():
        return _qr_path(X, y, sw, intercept, ridge, X_lo, cov)

    def with_cov(sol):
        return sol._replace(cov_unscaled=_cov_from_r(sol.r_factor, sol.scale)) if cov else sol

    if method == "qr":
        return qr()
    if method == "svd":
        return with_cov(_svd_path(X, y, sw, intercept, ridge))
    if method in ("cholesky", "gram"):
        return with_cov(_gram_path(X, y, sw, intercept, ridge, refine=method == "gram")[0])
    small = X.shape[0] * (X.shape[1] + intercept) <= _SMALL
    if small or X_lo is not None:
        return qr()
    sol, ok = _gram_path(X, y, sw, intercept, ridge, refine=True)
    return lax.cond(ok, lambda: with_cov(sol), qr)
