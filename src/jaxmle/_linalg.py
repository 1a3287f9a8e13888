"""Small dense Cholesky factorisations and triangular solves, written in JAX itself on CPU.

:func:`jaxmle.mle` and the summaries factor ``k × k`` curvature matrices, with ``k`` a parameter
count (tens). On CPU, XLA's factorisations are LAPACK calls, and jaxlib initialises LAPACK at
the first such call in a process by importing ``scipy.linalg`` for its function pointers:
measured 0.35–0.45 s of a fresh process's first ``mle`` call, whose lowering and cache load
otherwise take 0.2–0.3 s with a warm compilation cache (``benchmarks/latency.py``). These
loops (the unblocked algorithms LAPACK's ``potf2``/``trsv`` use, one column or row per
iteration) need no library; elsewhere (GPU, TPU) the library routines are used.

Conventions follow ``jnp.linalg.cholesky``: a matrix that is not positive definite gives a
factor with NaNs (no exception), which the callers test with ``isfinite``.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import lax
from jax.scipy.linalg import cho_solve as _cho_solve
from jax.scipy.linalg import solve_triangular as _solve_triangular

__all__ = ["cho_solve", "cholesky", "solve_lower"]


@functools.cache
def _native() -> bool:
    """Use the library routines: decided at the first trace by the default backend."""
    return jax.default_backend() != "cpu"


def cholesky(A: jax.Array) -> jax.Array:
    """The lower Cholesky factor of a symmetric ``(k, k)`` matrix (NaNs where not PD).

    Args:
        A: symmetric matrix (only its lower triangle is read by the loop).

    Returns:
        ``L`` with ``L Lᵀ = A``.

    Example:
        >>> import jax.numpy as jnp
        >>> cholesky(jnp.array([[4.0, 2.0], [2.0, 5.0]])).tolist()
        [[2.0, 0.0], [1.0, 2.0]]
    """
    if _native():
        return jnp.linalg.cholesky(A)
    k = A.shape[0]
    idx = jnp.arange(k)

    # (lax's dynamic slices, not ``.at[]``/indexing: a scatter costs far more to trace.)
    def column(j, L):
        a = lax.dynamic_index_in_dim(A, j, 1, keepdims=False)
        v = a - L @ lax.dynamic_index_in_dim(L, j, 0, keepdims=False)  # L's columns j.. are 0
        d = jnp.sqrt(lax.dynamic_index_in_dim(v, j, 0, keepdims=False))  # NaN: not PD
        col = jnp.where(idx > j, v / d, jnp.where(idx == j, d, 0.0))
        return lax.dynamic_update_index_in_dim(L, col, j, 1)

    return lax.fori_loop(0, k, column, jnp.zeros_like(A))


def solve_lower(L: jax.Array, B: jax.Array) -> jax.Array:
    """``L⁻¹ B`` for a lower-triangular ``L`` (forward substitution).

    Args:
        L: ``(k, k)`` lower triangular, nonzero diagonal.
        B: ``(k,)`` or ``(k, m)``.

    Returns:
        ``X`` with ``L X = B``.
    """
    if _native():
        return _solve_triangular(L, B, lower=True)
    k = L.shape[0]

    def row(j, X):
        lj = lax.dynamic_index_in_dim(L, j, 0, keepdims=False)
        bj = lax.dynamic_index_in_dim(B, j, 0, keepdims=False)
        xj = (bj - lj @ X) / lax.dynamic_index_in_dim(lj, j, 0, keepdims=False)
        return lax.dynamic_update_index_in_dim(X, xj, j, 0)  # rows j.. of X were zero

    return lax.fori_loop(0, k, row, jnp.zeros_like(B))


def _solve_lower_t(L: jax.Array, B: jax.Array) -> jax.Array:
    """``L⁻ᵀ B`` (back substitution on ``Lᵀ``)."""
    k = L.shape[0]

    def row(i, X):
        j = k - 1 - i
        lj = lax.dynamic_index_in_dim(L, j, 1, keepdims=False)
        bj = lax.dynamic_index_in_dim(B, j, 0, keepdims=False)
        xj = (bj - lj @ X) / lax.dynamic_index_in_dim(lj, j, 0, keepdims=False)
        return lax.dynamic_update_index_in_dim(X, xj, j, 0)  # rows ..j of X were zero

    return lax.fori_loop(0, k, row, jnp.zeros_like(B))


def cho_solve(L: jax.Array, B: jax.Array) -> jax.Array:
    """``A⁻¹ B`` from the lower Cholesky factor ``L`` of ``A`` (two triangular solves).

    Args:
        L: the factor from :func:`cholesky`.
        B: ``(k,)`` or ``(k, m)``.

    Returns:
        ``X`` with ``L Lᵀ X = B``.

    Example:
        >>> import jax.numpy as jnp
        >>> A = jnp.array([[4.0, 2.0], [2.0, 5.0]])
        >>> cho_solve(cholesky(A), jnp.array([6.0, 7.0])).tolist()
        [1.0, 1.0]
    """
    if _native():
        return _cho_solve((L, True), B)
    return _solve_lower_t(L, solve_lower(L, B))
