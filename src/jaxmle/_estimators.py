"""Exact (closed-form) estimators: Gaussian, multivariate Gaussian, Bernoulli, Poisson.

Two layers live here:

* ``*_kernel`` functions are jitted, pure ``jnp`` and unvalidated, so models and studies can
  call them inside ``jit``/``vmap``. Data-dependent edge cases (a MAP on the boundary, an
  undefined mode) are resolved with ``jnp.where``, never with Python control flow.
* the public functions validate concrete inputs (shapes, finiteness, value domains) and then
  call the kernels.

Means are summed in double-double (TwoSum-based, as in :mod:`jaxmle._numerics`) and
variances are two-pass sums of exactly-represented deviations from that mean plus the
Chan-Golub-LeVeque correction, so in float64 they are within an ulp or two of the exact
value for the stored data (the NIST StRD univariate suite is reproduced to the limit of its
float64 inputs). The Gaussian estimators also take optional trailing parts ``x_lo``: the data
are then the double-doubles ``x + x_lo`` (decimal text read exactly by
:func:`jaxmle.data.from_decimal`), carried in double-double through the mean, the centring
and the sum of squares, which removes that limit (all nine NIST datasets to >= 13 digits).

References:
    T. F. Chan, G. H. Golub, R. J. LeVeque, "Algorithms for computing the sample variance:
    analysis and recommendations", The American Statistician 37 (1983).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.typing import ArrayLike

from . import _xla
from ._errors import InputError
from ._numerics import dd_sum, two_prod, two_sum
from ._priors import Beta, Normal, Uniform
from ._rank import check_cov_full_rank, check_mvn_sample_size
from ._validation import as_array, check_binary, check_count, check_positive, is_concrete

__all__ = [
    "BetaPosterior",
    "bernoulli_map",
    "bernoulli_map_beta_kernel",
    "bernoulli_map_normal_kernel",
    "bernoulli_mle",
    "bernoulli_mle_kernel",
    "beta_bernoulli_posterior",
    "beta_bernoulli_posterior_kernel",
    "beta_bernoulli_predictive_kernel",
    "gaussian_mle",
    "gaussian_mle_kernel",
    "mvn_mle",
    "mvn_mle_kernel",
    "poisson_mle",
    "poisson_mle_kernel",
    "posterior_predictive",
    "sample_sd",
    "sample_sd_kernel",
    "variance_mle",
    "variance_mle_kernel",
    "variance_unbiased",
    "variance_unbiased_kernel",
]


# --------------------------------------------------------------------------------------------
# Accurate moments (shared by every Gaussian-type kernel)
# --------------------------------------------------------------------------------------------


def _floating(x: ArrayLike) -> jax.Array:
    # Keep a floating input's dtype (float32 stays float32); ints and bools become JAX's
    # default float so that counts and 0/1 data divide correctly.
    x = jnp.asarray(x)
    return x if jnp.issubdtype(x.dtype, jnp.inexact) else x.astype(jnp.result_type(float))


def _dd_total(hi: jax.Array, lo: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
    """Double-double sum over axis 0 (see :func:`jaxmle._numerics.dd_sum`)."""
    return dd_sum(hi, lo, axis=0)


def _accurate_mean(x: jax.Array, x_lo: jax.Array | None = None) -> jax.Array:
    """Mean over axis 0 from a double-double sum: one rounding in the sum, one in the divide."""
    hi, lo = _dd_total(x, x_lo)
    return (hi + lo) / x.shape[0]


def _pin(v: jax.Array) -> jax.Array:
    """``v`` with its last mantissa bit cleared, through an integer op the compiler can't fuse.

    XLA rewrites ``s / n`` as ``s * (1/n)`` and contracts that product into a consumer's
    subtraction (an FMA), possibly differently in each fusion that recomputes it, so
    ``x - m`` would not see one rounded double ``m`` and TwoSum's error terms would be
    garbage. The bit mask (a change of at most one ulp, harmless for a centring constant)
    makes ``v`` an opaque, rounded value that every consumer sees identically.
    """
    itype = jnp.int64 if v.dtype.itemsize == 8 else jnp.int32
    bits = lax.bitcast_convert_type(v, itype)
    return lax.bitcast_convert_type(bits & jnp.asarray(-2, itype), v.dtype)


def _square_terms(d_hi: jax.Array, d_lo: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(d_hi + d_lo)**2`` as a double-double pair, with no rounding that an FMA could alter.

    ``d_hi`` is cut by a bit mask into ``a`` (its top 26 bits; 12 in float32) and the exact
    remainder ``b = d_hi - a``, so ``a*a`` and ``2*a*b`` are exact products: contracting one
    of them into an add changes nothing, unlike Dekker's ``a*b - fl(a*b)``, which is garbage if
    a compiler fuses the product differently in two places. Only the tiny ``b*b`` and
    ``d_lo * (2 d_hi + d_lo)`` terms (below ``2**-49`` of the square, for a normalised
    pair) are rounded, to about ``2**-103`` of the square.
    """
    itype = jnp.int64 if d_hi.dtype.itemsize == 8 else jnp.int32
    cut = (jnp.finfo(d_hi.dtype).nmant + 2) // 2  # 27 for float64, 12 for float32
    bits = lax.bitcast_convert_type(d_hi, itype) & jnp.asarray(~((1 << cut) - 1), itype)
    a = lax.bitcast_convert_type(bits, d_hi.dtype)
    b = d_hi - a  # exact: the bits the mask cut off
    hi, lo = two_sum(a * a, 2 * (a * b))
    return hi, lo + (b * b + d_lo * (2 * d_hi + d_lo))


def _mean_and_ss(x: jax.Array, x_lo: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
    """Accurate mean and centred sum of squares ``sum((x - mean)**2)`` over axis 0.

    With a centre ``c`` near the mean, ``x - c`` is split exactly into ``d_hi + d_lo``
    (TwoSum), each ``d**2`` exactly into two parts (TwoProd), and everything is summed in
    double-double. Then ``mean = c + sum(d) / n`` and, by Chan-Golub-LeVeque,
    ``sum((x - mean)**2) = sum(d**2) - sum(d)**2 / n`` for any ``c``: the only roundings
    left are the final ones. Trailing parts ``x_lo`` go to :func:`_mean_and_ss_dd`.
    """
    if x_lo is not None:
        return _mean_and_ss_dd(x, x_lo)
    n = x.shape[0]
    c = _pin(_accurate_mean(x))
    d_hi, d_lo = two_sum(x, -c)
    sq_hi, sq_lo = two_prod(d_hi, d_hi)
    ss_hi, ss_lo = _dd_total(sq_hi, sq_lo + d_lo * (2 * d_hi + d_lo))
    s_hi, s_lo = _dd_total(d_hi, d_lo)
    s = s_hi + s_lo
    return c + s / n, ss_hi + (ss_lo - s * s / n)


def _dd_deviations(
    x: jax.Array, x_lo: jax.Array
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """Centre ``c + c_lo`` of the double-double data ``x + x_lo`` and deviations from it.

    ``c`` is the rounded double-double mean and ``c_lo`` the rounded mean of the deviations
    from it, both pinned (:func:`_pin`). Each deviation ``((x - c) + x_lo) - c_lo`` is kept
    as a normalised pair ``d_hi + d_lo`` by TwoSums; the only roundings are in ``d_lo``, of
    order ``eps**2 |x|``. The second centre makes ``sum(d)`` negligible even when the spread
    is below ``ulp(mean)`` (e.g. 1e16 + 0.001 k, all with the same ``x``), where the
    Chan-Golub-LeVeque term ``sum(d)**2 / n`` would otherwise be as large as the result.

    Returns:
        ``(c, c_lo, d_hi, d_lo)``.
    """
    x, x_lo = two_sum(x, x_lo)  # normalise: |x_lo| <= ulp(x) / 2
    c = _pin(_accurate_mean(x, x_lo))
    d_hi, d_lo = two_sum(x, -c)
    d_hi, d_lo = two_sum(d_hi, d_lo + x_lo)
    s_hi, s_lo = _dd_total(d_hi, d_lo)
    c_lo = _pin((s_hi + s_lo) / x.shape[0])
    d_hi, e = two_sum(d_hi, -c_lo)
    d_hi, d_lo = two_sum(d_hi, e + d_lo)
    return c, c_lo, d_hi, d_lo


def _mean_and_ss_dd(x: jax.Array, x_lo: jax.Array) -> tuple[jax.Array, jax.Array]:
    """:func:`_mean_and_ss` of the double-double data ``x + x_lo``, double-double throughout.

    Deviations from a two-part centre (:func:`_dd_deviations`), squares from exact partial
    products (:func:`_square_terms`), double-double sums.
    """
    n = x.shape[0]
    c, c_lo, d_hi, d_lo = _dd_deviations(x, x_lo)
    ss_hi, ss_lo = _dd_total(*_square_terms(d_hi, d_lo))
    s_hi, s_lo = _dd_total(d_hi, d_lo)
    s = s_hi + s_lo
    # XLA divides by n as a multiply by 1/n, so for constant data (sum(d**2) == s**2 / n)
    # the difference can come out an ulp below zero: the sum of squares is never negative.
    ss = jnp.maximum(ss_hi + (ss_lo - s * s / n), 0)
    return c + (c_lo + s / n), ss


def _trailing(x_lo: ArrayLike | None, x: jax.Array) -> jax.Array | None:
    return None if x_lo is None else jnp.asarray(x_lo, x.dtype)


# --------------------------------------------------------------------------------------------
# Kernels: jitted, unvalidated, usable inside jit/vmap
# --------------------------------------------------------------------------------------------


@_xla.jit
def gaussian_mle_kernel(x: ArrayLike, x_lo: ArrayLike | None = None) -> dict[str, jax.Array]:
    """Gaussian MLE of a ``(n,)`` sample: ``{"mean": (), "variance": ()}``, variance over n.

    ``x_lo``, optional ``(n,)`` trailing parts, makes the data the double-doubles
    ``x + x_lo`` (e.g. from :func:`jaxmle.data.from_decimal`).
    """
    x = _floating(x)
    m, ss = _mean_and_ss(x, _trailing(x_lo, x))
    return {"mean": m, "variance": ss / x.shape[0]}


@_xla.jit
def mvn_mle_kernel(x: ArrayLike, x_lo: ArrayLike | None = None) -> dict[str, jax.Array]:
    """Multivariate Gaussian MLE of a ``(n, k)`` sample: ``{"mean": (k,), "cov": (k, k)}``.

    The covariance is ``xc.T @ xc / n`` with ``xc`` centred on the double-double mean (less
    the rank-one Chan-Golub-LeVeque correction); its diagonal is replaced by the accurate
    per-column variances of :func:`gaussian_mle_kernel`, and it is symmetrised exactly.

    With optional ``(n, k)`` trailing parts ``x_lo`` the data are ``x + x_lo``: the mean and
    the diagonal are carried in double-double as in :func:`gaussian_mle_kernel`; the
    off-diagonal products use the double-double deviations from the mean rounded once to
    the working precision.
    """
    x = _floating(x)
    x_lo = _trailing(x_lo, x)
    n = x.shape[0]
    m, ss = _mean_and_ss(x, x_lo)
    if x_lo is None:
        xc = x - _pin(m)
    else:
        _, _, d_hi, d_lo = _dd_deviations(x, x_lo)
        xc = d_hi + d_lo
    s = jnp.sum(xc, axis=0)
    cov = (jnp.matmul(xc.T, xc, precision=lax.Precision.HIGHEST) - jnp.outer(s, s) / n) / n
    cov = 0.5 * (cov + cov.T)  # fl(a + b) == fl(b + a): exactly symmetric
    idx = jnp.arange(x.shape[1])
    return {"mean": m, "cov": cov.at[idx, idx].set(ss / n)}


@_xla.jit
def bernoulli_mle_kernel(x: ArrayLike) -> dict[str, jax.Array]:
    """Bernoulli MLE ``k / n`` of a ``(n,)`` 0/1 sample: ``{"prob": ()}``."""
    x = _floating(x)
    return {"prob": jnp.sum(x) / x.shape[0]}  # integer sums are exact below 2**53


@_xla.jit
def bernoulli_map_beta_kernel(x: ArrayLike, a: ArrayLike, b: ArrayLike) -> dict[str, jax.Array]:
    """Bernoulli MAP under a Beta(a, b) prior: the mode of Beta(a + k, b + n - k).

    With ``α = a + k`` and ``β = b + n - k`` the mode is ``(α - 1) / (α + β - 2)`` when both
    exceed 1. Otherwise the posterior density is monotone (or unbounded) at an end:
    ``α ≤ 1 < β`` gives 0, ``β ≤ 1 < α`` gives 1. When ``α ≤ 1`` and ``β ≤ 1`` there is no
    unique mode (uniform or U-shaped) and NaN is returned; that needs ``a + b + n ≤ 2`` with
    one of ``a + k``, ``b + n - k`` at least 1 for ``n ≥ 1``, so it cannot happen for
    non-empty data and positive ``a``, ``b``.
    """
    x = _floating(x)
    n = x.shape[0]
    k = jnp.sum(x)
    alpha = jnp.asarray(a, x.dtype) + k
    beta = jnp.asarray(b, x.dtype) + (n - k)
    interior = (alpha > 1) & (beta > 1)
    denom = jnp.where(interior, alpha + beta - 2, 1.0)  # keeps gradients finite off-branch
    mode = jnp.where(
        interior,
        (alpha - 1) / denom,
        jnp.where(beta > 1, 0.0, jnp.where(alpha > 1, 1.0, jnp.nan)),
    )
    return {"prob": mode.astype(x.dtype)}


def _bisect_unit_interval(g: Any, dtype: Any) -> jax.Array:
    """Root of ``g`` in (0, 1), given ``g > 0`` near 0 and ``g <= 0`` near 1.

    Bisects over the bit patterns of the floats in [0, 1], which are ordered like the values,
    so 62 steps (float64; 30 for float32) leave two adjacent floats, whatever the root's
    magnitude (1e-300 as well as 0.5). The one with the smaller ``|g|`` is returned.
    """
    itype = jnp.int64 if jnp.dtype(dtype).itemsize == 8 else jnp.int32
    one_bits = int(np.asarray(1.0, dtype).view(np.dtype(itype)))
    to_float = lambda bits: lax.bitcast_convert_type(bits, dtype)  # noqa: E731

    def step(_, carry):
        lo, hi = carry
        mid = lo + (hi - lo) // 2
        pos = g(to_float(mid)) > 0
        return jnp.where(pos, mid, lo), jnp.where(pos, hi, mid)

    lo, hi = lax.fori_loop(
        0, one_bits.bit_length(), step, (jnp.asarray(0, itype), jnp.asarray(one_bits, itype))
    )
    t_lo, t_hi = to_float(lo), to_float(hi)
    return jnp.where(jnp.abs(g(t_lo)) < jnp.abs(g(t_hi)), t_lo, t_hi)


@_xla.jit
def bernoulli_map_normal_kernel(
    x: ArrayLike, loc: ArrayLike, scale: ArrayLike
) -> dict[str, jax.Array]:
    """Bernoulli MAP under a Gaussian prior N(loc, scale²) restricted to (0, 1).

    ``scale`` is the prior's standard deviation. The log posterior is
    ``f(θ) = k log θ + (n - k) log(1 - θ) - (θ - loc)² / (2 scale²)`` and the MAP solves

        f'(θ) = k/θ - (n-k)/(1-θ) - (θ-loc)/scale² = 0.

    Multiplying by ``θ (1 - θ) scale² > 0`` gives the cubic
    ``g(θ) = scale² (k (1-θ) - (n-k) θ) + θ (1-θ) (loc - θ)`` with the same sign as ``f'``
    on (0, 1).

    Why exactly one root: ``f''(θ) = -k/θ² - (n-k)/(1-θ)² - 1/scale² < 0``, so ``f`` is
    strictly concave and ``f'`` strictly decreasing on (0, 1). For ``0 < k < n``,
    ``f' → +∞`` at 0 and ``-∞`` at 1 (``g(0) = scale² k > 0 > g(1) = -scale² (n-k)``), so
    ``f'``, hence ``g``, has exactly one zero in (0, 1): the MAP. The cubic's other roots lie
    outside (0, 1). The likelihood term stays concave for ``k = 0`` or ``k = n``, but
    ``f'`` is then finite at one end: for ``k = 0``, ``f'(0+) = loc/scale² - n``, so the MAP
    is 0 when ``loc ≤ n scale²`` and the interior root otherwise; for ``k = n``,
    ``f'(1-) = n - (1 - loc)/scale²``, so the MAP is 1 when ``1 - loc ≤ n scale²``. (With
    ``n = 0`` both rules give ``clip(loc, 0, 1)``.)

    The interior root is found by bisection on the sign of ``g`` over the float bit patterns
    (exact to adjacent floats; ``g`` is evaluated in factored form so each term carries only
    a relative rounding error). Gradients follow the implicit function theorem through a
    zero-valued Newton step, ``θ - (g(θ) - sg(g(θ))) / sg(g'(θ))``.
    """
    x = _floating(x)
    dt = x.dtype
    n = jnp.asarray(x.shape[0], dt)
    k = jnp.sum(x)
    loc = jnp.asarray(loc, dt)
    s2 = jnp.asarray(scale, dt) ** 2

    def g(t, k, loc, s2):
        return s2 * (k * (1 - t) - (n - k) * t) + t * (1 - t) * (loc - t)

    def dg(t):
        return -s2 * n + (1 - 2 * t) * (loc - t) - t * (1 - t)

    fixed = lax.stop_gradient((k, loc, s2))
    t0 = _bisect_unit_interval(lambda t: g(t, *fixed), dt)
    g0 = g(t0, k, loc, s2)
    slope = lax.stop_gradient(dg(t0))
    slope = jnp.where(slope == 0, -1.0, slope)
    root = t0 - (g0 - lax.stop_gradient(g0)) / slope
    at_zero = (k == 0) & (loc <= n * s2)
    at_one = (k == n) & (1 - loc <= n * s2)
    prob = jnp.where(at_zero, 0.0, jnp.where(at_one, 1.0, root))
    return {"prob": prob.astype(dt)}


@_xla.jit
def poisson_mle_kernel(x: ArrayLike) -> dict[str, jax.Array]:
    """Poisson MLE of a ``(n,)`` count sample: ``{"rate": ()}``, the (accurate) mean."""
    return {"rate": _accurate_mean(_floating(x))}


@_xla.jit
def beta_bernoulli_posterior_kernel(
    x: ArrayLike, a: ArrayLike, b: ArrayLike
) -> tuple[jax.Array, jax.Array]:
    """Beta(a, b) prior + Bernoulli data ``(n,)`` -> posterior ``(a + k, b + n - k)``."""
    x = _floating(x)
    k = jnp.sum(x)
    return jnp.asarray(a, x.dtype) + k, jnp.asarray(b, x.dtype) + (x.shape[0] - k)


@_xla.jit
def beta_bernoulli_predictive_kernel(x: ArrayLike, a: ArrayLike, b: ArrayLike) -> jax.Array:
    """Posterior predictive ``P(x_next = 1 | D) = (a + k) / (a + b + n)``."""
    a_post, b_post = beta_bernoulli_posterior_kernel(x, a, b)
    return a_post / (a_post + b_post)


@_xla.jit
def variance_mle_kernel(rss: ArrayLike, n: ArrayLike) -> jax.Array:
    """Noise-variance MLE ``rss / n`` (broadcasts over arrays)."""
    rss = _floating(rss)
    return rss / jnp.asarray(n, rss.dtype)


@_xla.jit
def variance_unbiased_kernel(rss: ArrayLike, n: ArrayLike, p: ArrayLike) -> jax.Array:
    """Unbiased noise variance ``rss / (n - p)`` for ``p`` fitted coefficients."""
    rss = _floating(rss)
    return rss / (jnp.asarray(n, rss.dtype) - jnp.asarray(p, rss.dtype))


@_xla.jit
def sample_sd_kernel(x: ArrayLike, ddof: ArrayLike = 1, x_lo: ArrayLike | None = None) -> jax.Array:
    """Sample standard deviation ``sqrt(sum((x - mean)**2) / (n - ddof))`` of a ``(n,)`` sample.

    ``x_lo``, optional ``(n,)`` trailing parts, makes the data the double-doubles ``x + x_lo``.
    """
    x = _floating(x)
    _, ss = _mean_and_ss(x, _trailing(x_lo, x))
    return jnp.sqrt(ss / (x.shape[0] - jnp.asarray(ddof, x.dtype)))


# --------------------------------------------------------------------------------------------
# Public, validated functions
# --------------------------------------------------------------------------------------------


class BetaPosterior(NamedTuple):
    """Parameters of a Beta posterior distribution."""

    a: jax.Array
    b: jax.Array


def _check_int(value: Any, name: str, *, minimum: int) -> None:
    if not is_concrete(value):
        return
    v = np.asarray(value)
    if v.dtype == bool or not np.issubdtype(v.dtype, np.number):
        raise InputError(f"`{name}` must be an integer count; got {value!r}.")
    if np.any(~np.isfinite(v)) or np.any(v != np.round(v)) or np.any(v < minimum):
        raise InputError(f"`{name}` must be an integer >= {minimum}; got {value!r}.")


def _check_finite_scalar(value: Any, name: str) -> None:
    if is_concrete(value):
        try:
            v = np.asarray(value, dtype=float)
        except (TypeError, ValueError) as err:
            raise InputError(f"`{name}` must be a number; got {value!r}.") from err
        if v.shape != () or not np.isfinite(v):
            raise InputError(f"`{name}` must be a finite scalar; got {value!r}.")


def _with_trailing(
    x: ArrayLike, x_lo: ArrayLike | None, ndim: int
) -> tuple[jax.Array, jax.Array | None]:
    """Validated ``x`` and optional trailing parts ``x_lo`` (same shape, finite).

    Below float64 (``jax_enable_x64`` off) a float64 pair is re-split into a pair of the
    working dtype, ``hi = fl(x)`` and ``lo = fl((x - hi) + x_lo)``; casting each part alone
    would drop the bits of ``x`` between the two precisions.
    """
    arr = as_array(x, "x", ndim=ndim)
    if x_lo is None:
        return arr, None
    lo = as_array(x_lo, "x_lo", ndim=arr.ndim, min_size=0)
    if lo.shape != arr.shape:
        raise InputError(
            f"`x_lo` has shape {lo.shape} but `x` has shape {arr.shape}; pass one trailing part "
            "per value (e.g. both halves of jaxmle.data.from_decimal's result)."
        )
    if arr.dtype.itemsize < 8 and is_concrete(x) and is_concrete(x_lo):
        x64, lo64 = np.asarray(x, np.float64), np.asarray(x_lo, np.float64)
        hi = x64.astype(arr.dtype)
        return jnp.asarray(hi), jnp.asarray(((x64 - hi) + lo64).astype(arr.dtype))
    return arr, lo


def _bernoulli_data(x: ArrayLike, name: str = "x") -> jax.Array:
    arr = as_array(x, name, ndim=1)
    check_binary(arr, name)
    return arr


def gaussian_mle(x: ArrayLike, *, x_lo: ArrayLike | None = None) -> dict[str, jax.Array]:
    """Maximum-likelihood mean and variance of a univariate Gaussian sample.

    ``mean = Σ x / n`` and ``variance = Σ (x - mean)² / n`` (the MLE, divisor n), both
    computed with double-double sums so float64 results are accurate to an ulp or two.

    Args:
        x: ``(n,)`` sample, ``n ≥ 1``, finite.
        x_lo: optional ``(n,)`` trailing parts: the data are then the double-doubles
            ``x + x_lo``, e.g. decimal text read exactly by :func:`jaxmle.data.from_decimal`,
            and the results are accurate for those values rather than for ``x`` alone.

    Returns:
        ``{"mean": (), "variance": ()}``.

    Raises:
        InputError: when ``x`` is not a non-empty finite vector, or ``x_lo`` is not finite
            or has another shape.

    Example:
        >>> import jaxmle._estimators as est
        >>> r = est.gaussian_mle([1.0, 2.0, 3.0, 4.0])
        >>> float(r["mean"]), float(r["variance"])
        (2.5, 1.25)
    """
    return gaussian_mle_kernel(*_with_trailing(x, x_lo, ndim=1))


def mvn_mle(x: ArrayLike, *, x_lo: ArrayLike | None = None) -> dict[str, jax.Array]:
    """Maximum-likelihood mean and covariance of a multivariate Gaussian sample.

    ``mean = Σ xᵢ / n`` and ``cov = Σ (xᵢ - mean)(xᵢ - mean)ᵀ / n`` (divisor n, exactly
    symmetric).

    Args:
        x: ``(n, k)`` sample, one observation per row, with ``n > k``.
        x_lo: optional ``(n, k)`` trailing parts: the data are then ``x + x_lo`` (see
            :func:`jaxmle.data.from_decimal`); the mean and the variances are carried in
            double-double, the covariances use deviations rounded once.

    Returns:
        ``{"mean": (k,), "cov": (k, k)}``.

    Raises:
        InputError: when ``x`` is not a finite rank-2 array, or ``x_lo`` is not finite or has
            another shape.
        RankDeficientError: (an ``InputError``) when the covariance MLE is singular: ``n ≤ k``,
            or constant or collinear columns (see :func:`check_cov_full_rank`).

    Example:
        >>> import jaxmle._estimators as est
        >>> r = est.mvn_mle([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 2.0]])
        >>> r["mean"].tolist(), r["cov"].tolist()
        ([1.0, 1.0], [[1.0, 0.0], [0.0, 1.0]])
    """
    arr, lo = _with_trailing(x, x_lo, ndim=2)
    n, k = arr.shape
    if k == 0:
        raise InputError("`x` has shape (n, 0); pass at least one variable (column).")
    check_mvn_sample_size(n, k, name="x")
    out = mvn_mle_kernel(arr, lo)
    check_cov_full_rank(out["cov"], n, name="x")
    return out


def bernoulli_mle(x: ArrayLike) -> dict[str, jax.Array]:
    """Maximum-likelihood success probability ``θ = k / n`` of 0/1 data.

    Args:
        x: ``(n,)`` outcomes, each 0 or 1.

    Returns:
        ``{"prob": ()}``.

    Raises:
        InputError: when ``x`` is empty, non-finite or holds values other than 0 and 1.

    Example:
        >>> import jaxmle._estimators as est
        >>> float(est.bernoulli_mle([0, 0, 1, 1, 0, 0, 1])["prob"])  # 3/7
        0.42857142857142855
    """
    return bernoulli_mle_kernel(_bernoulli_data(x))


def _normal_scale(prior: Normal) -> Any:
    # Normal stores its spread as `scale` (the standard deviation) even when built from a
    # variance; read a `variance` attribute only as a fallback.
    scale = getattr(prior, "scale", None)
    if scale is None:
        variance = getattr(prior, "variance", None)
        if variance is None:
            raise InputError("`prior` (Normal) has neither `scale` nor `variance` set.")
        check_positive(variance, "prior.variance", what="prior variance")
        return jnp.sqrt(jnp.asarray(variance, jnp.result_type(float)))
    check_positive(scale, "prior.scale", what="prior standard deviation")
    return scale


def bernoulli_map(x: ArrayLike, prior: Beta | Normal | Uniform) -> dict[str, jax.Array]:
    """Maximum a-posteriori success probability of 0/1 data under a prior on θ.

    * ``Beta(a, b)``: the mode of Beta(a + k, b + n - k), ``(a + k - 1) / (a + b + n - 2)``
      when both posterior parameters exceed 1, else 0 or 1 (the density's maximum at an end).
    * ``Normal(loc, scale=σ)`` or ``Normal(loc, variance=σ²)``, restricted to (0, 1): the
      unique root in (0, 1) of ``k/θ - (n-k)/(1-θ) - (θ-loc)/σ² = 0`` (a cubic), or 0 / 1
      when the log posterior is monotone (possible only for k = 0 / k = n).
    * ``Uniform(low, high)``: the MLE ``k / n`` clipped to ``[low, high] ∩ [0, 1]``.

    Args:
        x: ``(n,)`` outcomes, each 0 or 1.
        prior: a ``jaxmle`` prior object: ``Beta``, ``Normal`` or ``Uniform``.

    Returns:
        ``{"prob": ()}``.

    Raises:
        InputError: on bad data, an unknown prior, non-positive ``a``, ``b``, ``scale`` or
            ``variance``, or a uniform prior that does not overlap (0, 1).

    Example:
        >>> import jaxmle._estimators as est
        >>> from jaxmle._priors import Normal
        >>> x = [0, 0, 1, 1, 0, 0, 1]
        >>> round(float(est.bernoulli_map(x, Normal(0.5, scale=0.1))["prob"]), 6)
        0.484363
    """
    arr = _bernoulli_data(x)
    if isinstance(prior, Beta):
        check_positive(prior.a, "prior.a", what="Beta shape")
        check_positive(prior.b, "prior.b", what="Beta shape")
        return bernoulli_map_beta_kernel(arr, prior.a, prior.b)
    if isinstance(prior, Normal):
        _check_finite_scalar(prior.loc, "prior.loc")
        return bernoulli_map_normal_kernel(arr, prior.loc, _normal_scale(prior))
    if not isinstance(prior, Uniform):
        raise InputError(
            "`prior` must be a jaxmle prior: Beta(a, b), Normal(loc, scale=... or "
            f"variance=...) or Uniform(low, high); got {type(prior).__name__}."
        )
    low, high = prior.low, prior.high
    _check_finite_scalar(low, "prior.low")
    _check_finite_scalar(high, "prior.high")
    lo, hi = max(float(low), 0.0), min(float(high), 1.0)
    if not lo < hi:
        raise InputError(
            f"`prior` Uniform({low}, {high}) must overlap (0, 1) in an interval of positive "
            "length; use e.g. Uniform(0, 1)."
        )
    return {"prob": jnp.clip(bernoulli_mle_kernel(arr)["prob"], lo, hi)}


def poisson_mle(x: ArrayLike) -> dict[str, jax.Array]:
    """Maximum-likelihood Poisson rate ``λ = Σ x / n``.

    Args:
        x: ``(n,)`` non-negative integer counts.

    Returns:
        ``{"rate": ()}``.

    Raises:
        InputError: when ``x`` is empty, non-finite, negative or non-integer.

    Example:
        >>> import jaxmle._estimators as est
        >>> float(est.poisson_mle([0, 2, 3, 3])["rate"])
        2.0
    """
    arr = as_array(x, "x", ndim=1)
    check_count(arr, "x")
    return poisson_mle_kernel(arr)


def beta_bernoulli_posterior(x: ArrayLike, a: float = 1.0, b: float = 1.0) -> BetaPosterior:
    """Conjugate update of a Beta(a, b) prior with 0/1 data: Beta(a + k, b + n - k).

    Args:
        x: ``(n,)`` outcomes, each 0 or 1.
        a: prior's first shape (pseudo-successes), positive.
        b: prior's second shape (pseudo-failures), positive.

    Returns:
        ``BetaPosterior(a, b)`` of the posterior.

    Raises:
        InputError: on bad data or non-positive ``a`` / ``b``.

    Example:
        >>> import jaxmle._estimators as est
        >>> post = est.beta_bernoulli_posterior([0, 0, 1, 1, 0, 0, 1])
        >>> float(post.a), float(post.b)
        (4.0, 5.0)
    """
    arr = _bernoulli_data(x)
    check_positive(a, "a", what="Beta shape")
    check_positive(b, "b", what="Beta shape")
    return BetaPosterior(*beta_bernoulli_posterior_kernel(arr, a, b))


def posterior_predictive(x: ArrayLike, a: float = 1.0, b: float = 1.0) -> jax.Array:
    """Beta-Bernoulli posterior predictive ``P(x_next = 1 | D) = (a + k) / (a + b + n)``.

    With ``a = b = 1`` (a uniform prior) this is Laplace's rule of succession
    ``(k + 1) / (n + 2)``.

    Args:
        x: ``(n,)`` outcomes, each 0 or 1.
        a: Beta prior's first shape, positive.
        b: Beta prior's second shape, positive.

    Returns:
        Scalar probability that the next outcome is 1.

    Raises:
        InputError: on bad data or non-positive ``a`` / ``b``.

    Example:
        >>> import jaxmle._estimators as est
        >>> float(est.posterior_predictive([0, 0, 1, 1, 0, 0, 1]))  # 4/9
        0.4444444444444444
    """
    arr = _bernoulli_data(x)
    check_positive(a, "a", what="Beta shape")
    check_positive(b, "b", what="Beta shape")
    return beta_bernoulli_predictive_kernel(arr, a, b)


def _rss(rss: ArrayLike) -> jax.Array:
    arr = as_array(rss, "rss", ndim=None, min_size=0)
    if is_concrete(arr) and np.any(np.asarray(arr) < 0):
        raise InputError("`rss` (a residual sum of squares) must be non-negative.")
    return arr


def variance_mle(rss: ArrayLike, n: ArrayLike) -> jax.Array:
    """Noise-variance MLE ``σ² = RSS / n``.

    Args:
        rss: residual sum(s) of squares, non-negative (any shape).
        n: number(s) of observations, positive integers (broadcast with ``rss``).

    Returns:
        ``rss / n``.

    Raises:
        InputError: on negative or non-finite ``rss`` or a non-positive / non-integer ``n``.

    Example:
        >>> import jaxmle._estimators as est
        >>> float(est.variance_mle(12.0, 8))
        1.5
    """
    arr = _rss(rss)
    _check_int(n, "n", minimum=1)
    return variance_mle_kernel(arr, n)


def variance_unbiased(rss: ArrayLike, n: ArrayLike, p: ArrayLike) -> jax.Array:
    """Unbiased noise variance ``s² = RSS / (n - p)`` for ``p`` fitted coefficients.

    Args:
        rss: residual sum(s) of squares, non-negative (any shape).
        n: number(s) of observations, positive integers.
        p: number(s) of fitted coefficients, non-negative integers with ``n - p > 0``.

    Returns:
        ``rss / (n - p)``.

    Raises:
        InputError: on bad ``rss`` / ``n`` / ``p`` or ``n - p ≤ 0`` (no residual degrees of
            freedom).

    Example:
        >>> import jaxmle._estimators as est
        >>> float(est.variance_unbiased(12.0, 8, 2))
        2.0
    """
    arr = _rss(rss)
    _check_int(n, "n", minimum=1)
    _check_int(p, "p", minimum=0)
    if is_concrete(n) and is_concrete(p) and np.any(np.asarray(n) - np.asarray(p) <= 0):
        raise InputError(
            f"`n - p` must be positive (residual degrees of freedom); got n={n}, p={p}. "
            "Fit fewer coefficients or collect more observations."
        )
    return variance_unbiased_kernel(arr, n, p)


def sample_sd(x: ArrayLike, ddof: int = 1, *, x_lo: ArrayLike | None = None) -> jax.Array:
    """Sample standard deviation ``sqrt(Σ (x - mean)² / (n - ddof))``, accurate in float64.

    Args:
        x: ``(n,)`` sample, finite.
        ddof: delta degrees of freedom (1: the usual sample SD; 0: the MLE's square root);
            an integer with ``n - ddof > 0``.
        x_lo: optional ``(n,)`` trailing parts: the data are then the double-doubles
            ``x + x_lo`` (see :func:`jaxmle.data.from_decimal`). Decimal data such as
            ``10000000.1, 10000000.3, ...`` need this for a correct SD: rounding them to
            float64 alone already changes the SD in its ninth digit.

    Returns:
        Scalar standard deviation.

    Raises:
        InputError: on bad ``x`` or ``x_lo``, a negative / non-integer ``ddof`` or
            ``n ≤ ddof``.

    Example:
        >>> import jaxmle._estimators as est
        >>> float(est.sample_sd([2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0], ddof=0))
        2.0
        >>> from jaxmle.data import from_decimal
        >>> hi, lo = from_decimal(["10000000.1", "10000000.2", "10000000.3"])
        >>> float(est.sample_sd(hi)), float(est.sample_sd(hi, x_lo=lo))
        (0.10000000055879354, 0.1)
    """
    arr, lo = _with_trailing(x, x_lo, ndim=1)
    _check_int(ddof, "ddof", minimum=0)
    if arr.shape[0] - int(ddof) <= 0:
        raise InputError(
            f"`x` has n={arr.shape[0]} values but ddof={ddof}; n - ddof must be positive. "
            "Pass more observations or a smaller ddof."
        )
    return sample_sd_kernel(arr, ddof, lo)
