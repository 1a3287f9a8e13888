"""Error-free transformations and double-double ("float64 x 2") reductions.

Accuracy-critical closed forms (OLS refinement residuals, the Gaussian mean and variance)
need sums whose rounding error is far below the working precision's. These kernels carry a
value as an unevaluated pair ``hi + lo`` (Dekker 1971; Knuth's TwoSum), giving about twice the
working precision's digits with only adds and multiplies, so they run unchanged on CPU, GPU
and TPU and inside ``jit``/``vmap``.

References:
    T. J. Dekker, "A floating-point technique for extending the available precision",
    Numer. Math. 18 (1971). T. Ogita, S. M. Rump, S. Oishi, "Accurate sum and dot product",
    SIAM J. Sci. Comput. 26 (2005).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

from . import _tiered

__all__ = ["dd_dot_t", "dd_powers", "dd_residual", "dd_sum", "pow2_scale", "two_prod", "two_sum"]


def two_sum(a: jax.Array, b: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Knuth's TwoSum: ``s + e == a + b`` exactly, with ``s = fl(a + b)``."""
    _tiered.mark_exact()
    s = a + b
    bb = s - a
    e = (a - (s - bb)) + (b - bb)
    return s, e


def _split(a: jax.Array) -> tuple[jax.Array, jax.Array]:
    # Round to the upper half of the mantissa in the integer domain (add half of the cut-off
    # part to the bit pattern, then mask): no floating-point op is involved that a compiler
    # could contract into an FMA or reorder, which breaks Veltkamp's split. ``hi`` keeps 26 of
    # float64's 53 bits and the remainder fits in 26 bits plus a sign, so every partial product
    # in :func:`two_prod` is exact.
    itype = jnp.int64 if a.dtype.itemsize == 8 else jnp.int32
    cut = (jnp.finfo(a.dtype).nmant + 2) // 2  # 27 for float64, 12 for float32
    bits = lax.bitcast_convert_type(a, itype) + jnp.asarray(1 << (cut - 1), itype)
    hi = lax.bitcast_convert_type(bits & jnp.asarray(~((1 << cut) - 1), itype), a.dtype)
    hi = jnp.where(jnp.isfinite(hi), hi, a)  # rounding up at the top of the range overflows
    return hi, a - hi


def two_prod(a: jax.Array, b: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Dekker's TwoProduct: ``p + e == a * b`` exactly, with ``p = fl(a * b)``."""
    _tiered.mark_exact()
    p = a * b
    ah, al = _split(a)
    bh, bl = _split(b)
    e = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    return p, e


def _dd_add(ah, al, bh, bl):
    s, e = two_sum(ah, bh)
    e = e + (al + bl)
    hi = s + e
    return hi, e - (hi - s)


def dd_sum(
    hi: jax.Array, lo: jax.Array | None = None, axis: int = 0
) -> tuple[jax.Array, jax.Array]:
    """Sums a double-double array along ``axis`` with a double-double accumulator.

    One XLA reduction whose combiner is a double-double addition, so it compiles to a single
    op whatever the length (a pairwise tree written out in Python compiled ~50x slower).

    Args:
        hi: leading parts.
        lo: trailing parts (zeros when omitted: then this is an accurate sum of ``hi``).
        axis: axis to reduce.

    Returns:
        ``(s_hi, s_lo)`` whose unevaluated sum carries about 2x the working precision's digits;
        the relative error is of order ``n * eps**2 * sum(|x|) / |sum(x)|``.
    """
    if lo is None:
        lo = hi * 0  # not zeros_like: its symbolic-zero tangent breaks jax.grad of lax.reduce
    zero = jnp.zeros((), hi.dtype)

    def combine(a, b):
        return _dd_add(a[0], a[1], b[0], b[1])

    return lax.reduce((hi, lo), (zero, zero), combine, (axis % hi.ndim,))


def dd_residual(
    A: jax.Array, x: jax.Array, y: jax.Array, A_lo: jax.Array | None = None
) -> tuple[jax.Array, jax.Array]:
    """The residual ``y - (A + A_lo) @ x`` in double-double: products and sums carried exactly.

    Args:
        A: ``(n, d)`` matrix (leading parts).
        x: ``(d,)`` vector.
        y: ``(n,)`` vector.
        A_lo: optional ``(n, d)`` trailing parts of a double-double matrix.

    Returns:
        ``(r_hi, r_lo)``, each ``(n,)``.
    """
    ph, pl = two_prod(A, x[None, :])
    if A_lo is not None:
        pl = pl + A_lo * x[None, :]
    hi = jnp.concatenate([y[:, None], -ph], axis=1)
    lo = jnp.concatenate([jnp.zeros_like(y)[:, None], -pl], axis=1)
    return dd_sum(hi, lo, axis=1)


def dd_dot_t(
    A: jax.Array, r_hi: jax.Array, r_lo: jax.Array, A_lo: jax.Array | None = None
) -> jax.Array:
    """``(A + A_lo).T @ (r_hi + r_lo)`` accumulated in double-double, rounded once at the end.

    Args:
        A: ``(n, d)`` matrix (leading parts).
        r_hi: ``(n,)`` or ``(n, k)`` leading parts of the vector(s).
        r_lo: trailing parts, same shape as ``r_hi``.
        A_lo: optional ``(n, d)`` trailing parts of a double-double matrix.

    Returns:
        ``(d,)`` (or ``(d, k)``), correct up to a few units of ``eps**2`` relative to
        ``|A|.T @ |r|``.
    """
    if r_hi.ndim == 2:
        return jax.vmap(lambda h, lo: dd_dot_t(A, h, lo, A_lo), in_axes=1, out_axes=1)(r_hi, r_lo)
    ph, pl = two_prod(A, r_hi[:, None])
    pl = pl + A * r_lo[:, None]
    if A_lo is not None:
        pl = pl + A_lo * r_hi[:, None]
    s_hi, s_lo = dd_sum(ph, pl, axis=0)
    return s_hi + s_lo


def dd_powers(x: jax.Array, degree: int) -> tuple[jax.Array, jax.Array]:
    """Columns ``x**1 .. x**degree`` as double-double pairs (about 2x float64's digits).

    Repeated multiplication carried in double-double keeps each power correct to a few units
    of ``eps**2``; a float64 power is off by up to an ulp, which an ill-conditioned polynomial
    fit amplifies by its condition number.

    Args:
        x: ``(n,)`` values.
        degree: highest power (>= 1).

    Returns:
        ``(hi, lo)``, each ``(n, degree)``.
    """
    his, los = [x], [jnp.zeros_like(x)]
    for _ in range(degree - 1):
        p, e = two_prod(his[-1], x)
        e = e + los[-1] * x
        hi = p + e
        his.append(hi)
        los.append(e - (hi - p))
    return jnp.stack(his, axis=1), jnp.stack(los, axis=1)


def pow2_scale(norms: jax.Array) -> jax.Array:
    """Nearest powers of two to ``norms`` (1 where a norm is 0): scaling by them is exact."""
    safe = jnp.where(norms > 0, norms, 1.0)
    return jnp.exp2(jnp.round(jnp.log2(safe)))
