"""Log-probabilities of counts, accurate to rounding at any count (used by the GLM families).

Loader's ``bd0`` (the unit deviances' kernel ``a log(a/b) − (a − b)``) and ``stirlerr``, with
them the saddle-point forms of the Poisson and NB2 log-pmf (written out, their terms of size
``y log y`` cancel: 4 digits kept near counts of e³⁰), ``log k!`` by table, and NB2's log-pmf
in the form that is cheap to differentiate twice (the NB2 Newton iteration's derivatives).
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy import special

__all__ = ["bd0", "log_factorial", "nb2_loglike", "nb2_logpmf", "poisson_logpmf", "stirlerr"]

# log k! for k = 0..255 (math.lgamma: correctly rounded to within an ulp).
_LOG_FACTORIAL = np.array([math.lgamma(k + 1.0) for k in range(256)])


def bd0(a: jax.Array, b: jax.Array, xp: Any = jnp, sp: Any = special) -> jax.Array:
    """``a log(a/b) − (a − b) ≥ 0`` (a, b ≥ 0), accurate where ``a ≈ b`` (Loader's ``bd0``).

    The unit deviances of the Poisson, binomial, Gamma and negative binomial families are sums
    of it. Computed as written it cancels where ``y ≈ μ``: a deviance residual of 1.4e-4 lost
    8 of its digits. With ``v = (a − b)/(a + b)``, ``log(a/b) = 2 artanh v``, so the value is
    ``(a − b)v + 2a(v³/3 + v⁵/5 + …)``, summed to rounding for ``|v| < 0.1`` (ten terms).

    Args:
        a: the first argument (e.g. the response).
        b: the second (e.g. the mean).
        xp: the array module (``numpy`` for the host-side statistics, ``jaxmle._glm_host``).
        sp: its special functions (``scipy.special`` with NumPy).

    Returns:
        ``a log(a/b) − (a − b)`` elementwise (``b`` where ``a = 0``).

    Example:
        >>> import jax.numpy as jnp
        >>> float(bd0(jnp.asarray(2.0), jnp.asarray(2.0)))
        0.0
    """
    a, b = xp.asarray(a), xp.asarray(b)
    # (a·log(a/b), not a log a − a log b: at a = 148, b = 192 that lost 1.5e-13 of 5.5.)
    direct = xp.where(a > 0, a * xp.log(a / xp.where(a > 0, b, 1.0)), 0.0) - (a - b)
    s = a + b
    v = xp.where(s > 0, (a - b) / xp.where(s > 0, s, 1.0), 0.0)
    v2 = v * v
    term = v * v2
    acc = term / 3.0
    for j in range(2, 11):
        term = term * v2
        acc = acc + term / (2 * j + 1)
    # (≥ 0 exactly; the direct form's rounding can dip below: a saturated fit's deviance
    # came out −1.7e-13.)
    return xp.maximum(xp.where(xp.abs(v) < 0.1, (a - b) * v + 2.0 * a * acc, direct), 0.0)


def poisson_logpmf(y: jax.Array, mu: jax.Array, xp: Any = jnp, sp: Any = special) -> jax.Array:
    """``y log μ − μ − log y!``, accurate for large counts (Loader's saddle-point form).

    Written out it cancels for large ``y`` (terms of size ``y log y``): at counts near e³⁰ the
    log-likelihood kept 4 digits. Above ``y = 15`` it is ``−stirlerr(y) − bd0(y, μ) −
    ½ log(2πy)``, with Stirling's series for ``stirlerr(y) = log y! − (y + ½) log y + y −
    ½ log 2π`` (its first omitted term is below 2e-16 there); at and below 15 the terms are
    small and the direct form is accurate.

    Args:
        y: counts (≥ 0).
        mu: means.
        xp: the array module (``numpy`` on the host).
        sp: its special functions.

    Returns:
        The log-pmf elementwise.
    """
    y, mu = xp.asarray(y), xp.asarray(mu)
    big = y > 15
    yb = xp.where(big, y, 16.0)
    loader = -_stirling(yb) - bd0(yb, mu, xp, sp) - 0.5 * xp.log(2.0 * math.pi * yb)
    lf = log_factorial(y) if xp is jnp else sp.gammaln(y + 1.0)
    return xp.where(big, loader, sp.xlogy(y, mu) - mu - lf)


def _stirling(z: Any) -> Any:
    """Stirling's series for ``stirlerr(z)``, ``z > 15`` (first omitted term below 2e-16)."""
    inv = 1.0 / z
    inv2 = inv * inv
    return inv * (1 / 12 - inv2 * (1 / 360 - inv2 * (1 / 1260 - inv2 * (1 / 1680 - inv2 / 1188))))


def stirlerr(z: Any, xp: Any = jnp, sp: Any = special) -> Any:
    """``log Γ(z + 1) − (z + ½) log z + z − ½ log 2π`` for ``z > 0``: Stirling's error term.

    Stirling's series above 15, the definition (terms below ~40) at and below.

    Args:
        z: positive values.
        xp: the array module (``numpy`` on the host).
        sp: its special functions.

    Returns:
        ``stirlerr(z)`` elementwise.

    Example:
        >>> round(float(stirlerr(jnp.asarray(1.0))), 6)  # 1 − ½ log 2π
        0.081061
    """
    z = xp.asarray(z)
    big = z > 15
    zs = xp.where(big, 1.0, z)
    direct = sp.gammaln(zs + 1.0) - (zs + 0.5) * xp.log(zs) + zs - 0.5 * math.log(2 * math.pi)
    return xp.where(big, _stirling(xp.where(big, z, 16.0)), direct)


def nb2_logpmf(y: Any, mu: Any, alpha: Any, xp: Any = jnp, sp: Any = special) -> Any:
    """The NB2 log-pmf, accurate for large counts and for α near 0 (Loader's form).

    ``log Γ(y + r) − log Γ(r) − log y! + y log(αμ) − (y + r) log(1 + αμ)`` (``r = 1/α``)
    written out cancels in its log-gamma terms: at counts near e²⁰ and α = 6e-6 it kept 3
    digits. For ``y > 0`` it is evaluated as R's ``dnbinom_mu`` does, through the binomial
    saddle point with ``n = y + r``: ``stirlerr(n) − stirlerr(r) − stirlerr(y) −
    bd0(r, n r/(r + μ)) − bd0(y, n μ/(r + μ)) + ½ log(r/(2π y n))``; ``−r log(1 + αμ)`` at
    ``y = 0``.

    Args:
        y: counts (≥ 0).
        mu: means.
        alpha: the dispersion α > 0.
        xp: the array module (``numpy`` on the host).
        sp: its special functions.

    Returns:
        The log-pmf elementwise.

    Example:
        >>> round(float(nb2_logpmf(jnp.asarray(0.0), jnp.asarray(1.0), jnp.asarray(1.0))), 4)
        -0.6931
    """
    y, mu = xp.asarray(y), xp.asarray(mu)
    r = 1.0 / alpha
    pos = y > 0
    ys = xp.where(pos, y, 1.0)
    n = ys + r
    lc = (stirlerr(n, xp, sp) - stirlerr(r, xp, sp) - stirlerr(ys, xp, sp)
          - bd0(r, n * (r / (r + mu)), xp, sp) - bd0(ys, n * (mu / (r + mu)), xp, sp))  # fmt: skip
    loader = lc + 0.5 * xp.log(r / (2.0 * math.pi * ys * n))
    return xp.where(pos, loader, -r * xp.log1p(alpha * mu))


def log_factorial(x: jax.Array) -> jax.Array:
    """``log Γ(x + 1)`` for ``x ≥ 0``: a table lookup when every ``x`` is an integer below 256.

    Counts and binary responses nearly always are; ``gammaln`` (Lanczos with its reflection
    branch) costs ~30 µs per 512 entries on CPU, a third of a warm 500 × 10 Poisson fit's
    program after its loop. Other values go to ``gammaln``; under ``vmap`` both are computed.

    Args:
        x: non-negative values.

    Returns:
        ``log x!`` elementwise.

    Example:
        >>> import jax.numpy as jnp
        >>> [round(float(v), 6) for v in log_factorial(jnp.array([0.0, 3.0, 4.5]))]
        [0.0, 1.79176, 3.957816]
    """
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(float)
    table = jnp.asarray(_LOG_FACTORIAL, x.dtype)
    small = jnp.all((x >= 0) & (x < table.shape[0]) & (x == jnp.floor(x)))
    return jax.lax.cond(small, lambda v: jnp.take(table, v.astype(jnp.int32), mode="clip"),
                        lambda v: special.gammaln(v + 1.0), x)  # fmt: skip


def nb2_loglike(y: jax.Array, log_mu: jax.Array, log_alpha: jax.Array) -> jax.Array:
    """NB2 log-pmf ``log Γ(y + r) − log Γ(r) − log y! + y log(αμ) − (y + r) log(1 + αμ)``.

    ``r = 1/α``; statsmodels' ``NegativeBinomial(loglike_method='nb2')`` convention. As
    written: cheap to differentiate twice (the NB2 Newton iteration's derivatives), but its
    log-gamma terms cancel for large counts or small α; reported values use
    :func:`nb2_logpmf`.

    Args:
        y: counts.
        log_mu: ``log μ``.
        log_alpha: ``log α``.

    Returns:
        The log-pmf of each count.

    Example:
        >>> import jax.numpy as jnp
        >>> round(float(nb2_loglike(jnp.array(0.0), jnp.array(0.0), jnp.array(0.0))), 4)
        -0.6931
    """
    alpha = jnp.exp(log_alpha)
    r = 1.0 / alpha
    log1p_am = jnp.log1p(jnp.exp(log_alpha + log_mu))
    return (special.gammaln(y + r) - special.gammaln(r) - log_factorial(y)
            + y * (log_alpha + log_mu) - (y + r) * log1p_am)  # fmt: skip
