"""IRLS's building blocks: the data a fit program sees, one evaluation, the inverse information.

:func:`_evaluate` gives everything one scoring (or Newton) step needs at a point: the mean,
working weights, deviance kernel, Pearson's χ², ``XᵀWX`` and the score; :func:`_inverse` the
inverse of that information (the sweep operator on CPU). :mod:`jaxmle._irls` (the scoring loop,
the program and the public :func:`~jaxmle._irls.irls`) and :mod:`jaxmle._irls_nb` build on
them.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from . import _linalg
from ._families import Family

_HIGHEST = lax.Precision.HIGHEST

class _Data(NamedTuple):
    X: jax.Array
    y: jax.Array
    offset: Any  # (n,) or None
    fw: Any  # frequency weights or None
    vw: Any  # variance weights or None
    trials: Any  # Binomial trials or None


def _mul(*xs: Any) -> Any:
    """Product of the non-None factors (None when all are None)."""
    out = None
    for x in xs:
        if x is not None:
            out = x if out is None else out * x
    return out


def _sum(w: Any, x: jax.Array) -> jax.Array:
    return jnp.sum(x if w is None else w * x)


class _Eval(NamedTuple):
    """Everything IRLS needs at one point: its mean, deviance, curvature and score."""

    eta: jax.Array
    mu: jax.Array
    w: jax.Array  # working weights
    dev: jax.Array  # the deviance kernel: the deviance less a constant
    pearson: jax.Array  # Pearson's χ² (families with a dispersion; else 0)
    A: jax.Array  # XᵀWX
    g: jax.Array  # Xᵀu: the score times φ
    ok: jax.Array  # finite, and the mean inside the family's domain


def _eta(d: _Data, beta: jax.Array) -> jax.Array:
    eta = jnp.matmul(d.X, beta, precision=_HIGHEST)
    return eta if d.offset is None else eta + d.offset


def _evaluate(fam: Family, d: _Data, beta: jax.Array, r: Any = None, newton: Any = None) -> _Eval:
    """IRLS's quantities at ``η = Xβ + offset + r`` (``r``: the start's unexplained part).

    ``A`` is the expected information ``XᵀWX``, or with ``newton`` (traced bool, non-canonical
    links) the observed one: ``W − diag(w (y − μ) d(μ'/V)/dη)``.
    """
    pw = _mul(d.fw, d.vw, d.trials)
    eta = _eta(d, beta)
    if r is not None:
        eta = eta + r
    if newton is None:
        mu, sc, wu, var, kernel = fam.irls_terms(d.y, eta)
    else:
        (mu, sc, wu, var), (_, dsc, _, _) = jax.jvp(fam.working, (eta,), (jnp.ones_like(eta),))
        kernel = fam.deviance_kernel(d.y, mu)
    res = d.y - mu
    w = wu if pw is None else pw * wu
    u = res * sc if pw is None else pw * (res * sc)
    if r is not None:
        u = u + w * r
    w_a = w
    if newton is not None:
        w_a = jnp.where(newton, w - (res * dsc if pw is None else pw * (res * dsc)), w)
    dev = _sum(pw, kernel)  # the deviance less a constant
    # (Pearson's χ² gives φ for the stopping test; 0 where φ = 1.)
    pearson = _sum(pw, res * res / var) if fam.has_dispersion else jnp.zeros((), res.dtype)
    A = jnp.matmul((d.X * w_a[:, None]).T, d.X, precision=_HIGHEST)
    g = jnp.matmul(u, d.X, precision=_HIGHEST)
    ok = jnp.isfinite(dev + pearson + jnp.sum(g)) & fam.valid_mu(mu)  # (a sum: one reduction)
    return _Eval(eta, mu, w, dev, pearson, A, g, ok)


def _sweep_inverse(C: jax.Array) -> jax.Array:
    """``C⁻¹`` of a symmetric positive-definite matrix by the sweep operator (NaN if not PD).

    Gauss–Jordan elimination on the symmetric matrix, one rank-one update per pivot: on CPU a
    single loop of ``k`` small steps, where a Cholesky factorisation and its two triangular
    solves (:mod:`jaxmle._linalg`) are three loops; measured 2× faster at ``k = 10`` with the
    same accuracy (Jacobi-scaled input). The pivots are Cholesky's squared pivots.
    """
    k = C.shape[0]
    idx = jnp.arange(k)

    def pivot(j, M):
        a = lax.dynamic_index_in_dim(M, j, 1, keepdims=False)
        d = lax.dynamic_index_in_dim(a, j, 0, keepdims=False)
        d = jnp.where(d > 0, d, jnp.nan)  # not positive definite
        v = a / d
        m = idx == j
        line = jnp.where(m[:, None], v[None, :], v[:, None])
        corner = m[:, None] & m[None, :]
        return jnp.where(m[:, None] | m[None, :], jnp.where(corner, -1.0 / d, line),
                         M - jnp.outer(a, v))  # fmt: skip

    return -lax.fori_loop(0, k, pivot, C)


def _inverse(A: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(A⁻¹, singular)`` of a Jacobi-scaled ``A``, with the eigenvalue test of ``_inv_pd``.

    NaN where ``A`` is not positive definite.
    """
    k = A.shape[0]
    diag = jnp.diagonal(A)
    s = 1.0 / jnp.sqrt(jnp.where(diag > 0, diag, 1.0))
    C = A * s[:, None] * s[None, :]
    if _linalg._native():  # GPU/TPU: the library's factorisation
        eye = jnp.eye(k, dtype=A.dtype)
        Cinv = _linalg.cho_solve(_linalg.cholesky(C), eye)
    else:
        Cinv = _sweep_inverse(C)
    lam = 1.0 / jnp.sqrt(jnp.sum(Cinv * Cinv))  # within √k of C's smallest eigenvalue
    singular = ~(lam > 10.0 * k * jnp.finfo(A.dtype).eps)  # also NaN: not PD or not finite
    inv = Cinv * s[:, None] * s[None, :]
    return 0.5 * (inv + inv.T), singular


def _phi(fam: Family, pearson: jax.Array, df_resid: jax.Array) -> jax.Array:
    if not fam.has_dispersion:
        return jnp.ones_like(pearson)
    phi = pearson / jnp.maximum(df_resid, 1.0)
    # (No residual degrees of freedom: an exact fit, whose Pearson χ² tends to 0; the steps
    # are measured in units of φ = 1 then, else the stopping test could never hold.)
    phi = jnp.where(df_resid > 0, phi, jnp.ones_like(phi))
    return jnp.maximum(phi, jnp.finfo(pearson.dtype).tiny)


def _where(c: jax.Array, a: Any, b: Any) -> Any:
    return jax.tree_util.tree_map(lambda x, y: jnp.where(c, x, y), a, b)
