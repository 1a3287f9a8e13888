"""Tail probabilities, quantiles and residual diagnostics on :mod:`scipy.special`.

``import scipy.stats`` costs about 1.0 s in a fresh process on a small (2-core) machine, against
0.1–0.2 s for ``import scipy.special``, and it landed on the first ``summary()``, ``pvalues`` or
``conf_int`` of every process. jaxmle needs only a few normal, t, χ² and F tail probabilities and
quantiles, and the skewness, kurtosis and D'Agostino–Pearson test of the OLS summary: these
functions reproduce ``scipy.stats``' values by calling the special functions it calls, with its
handling of the edge cases (NaN for parameters that are not > 0 and for NaN arguments, the exact
end values at the support's ends, ``q`` in ``{0, 1}`` and NaN outside ``[0, 1]`` for quantiles).
Results are float64; the diagnostics work along axis 0 and emit none of scipy's warnings.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from scipy import special as sc

__all__ = ["chi2_sf", "f_sf", "kurtosis", "norm_cdf", "norm_ppf", "norm_sf", "normaltest",
           "skew", "t_cdf", "t_ppf", "t_sf"]  # fmt: skip

_INF = np.inf


def _params_ok(args: tuple[np.ndarray, ...]) -> np.ndarray:
    ok = np.asarray(True)
    for a in args:  # scipy's default _argcheck: every shape parameter > 0 (NaN fails)
        ok = ok & (a > 0)
    return ok


def _prob(fn: Callable[..., np.ndarray], x: npt.ArrayLike, args: tuple[npt.ArrayLike, ...],
          lo: float, at_lo: float, at_inf: float) -> np.ndarray:  # fmt: skip
    """``rv_continuous.cdf``/``sf`` on the support ``(lo, ∞)``: ``fn(*args, x)`` inside it."""
    x = np.asarray(x, dtype=np.float64)
    args = tuple(np.asarray(a, dtype=np.float64) for a in args)
    out = np.where(x <= lo, at_lo, np.where(x == _INF, at_inf, fn(*args, x)))
    return np.where(_params_ok(args) & ~np.isnan(x), out, np.nan)[()]


def _quantile(fn: Callable[..., np.ndarray], q: npt.ArrayLike, args: tuple[npt.ArrayLike, ...],
              lo: float) -> np.ndarray:  # fmt: skip
    """``rv_continuous.ppf`` on the support ``(lo, ∞)``: ``fn(*args, q)`` for ``0 < q < 1``."""
    q = np.asarray(q, dtype=np.float64)
    args = tuple(np.asarray(a, dtype=np.float64) for a in args)
    out = np.where(q == 0, lo, np.where(q == 1, _INF, fn(*args, q)))
    return np.where(_params_ok(args) & (q >= 0) & (q <= 1), out, np.nan)[()]


def norm_cdf(x: npt.ArrayLike) -> np.ndarray:
    """The standard normal distribution function, as ``scipy.stats.norm.cdf``.

    Args:
        x: the arguments (any shape).

    Returns:
        ``Φ(x)``, a float64 array (a NumPy scalar for a scalar ``x``).

    Example:
        >>> float(norm_cdf(0.0))
        0.5
    """
    return _prob(sc.ndtr, x, (), -_INF, 0.0, 1.0)


def norm_sf(x: npt.ArrayLike) -> np.ndarray:
    """The standard normal survival function ``1 − Φ(x)``, as ``scipy.stats.norm.sf``.

    Args:
        x: the arguments (any shape).

    Returns:
        ``Φ(−x)``, exact in the upper tail (no cancellation).

    Example:
        >>> round(float(2 * norm_sf(1.959963984540054)), 12)
        0.05
    """
    return _prob(lambda x: sc.ndtr(-x), x, (), -_INF, 1.0, 0.0)


def norm_ppf(q: npt.ArrayLike) -> np.ndarray:
    """The standard normal quantile function, as ``scipy.stats.norm.ppf``.

    Args:
        q: lower-tail probabilities; ``±inf`` at 0 and 1, NaN outside ``[0, 1]``.

    Returns:
        ``Φ⁻¹(q)``.

    Example:
        >>> round(float(norm_ppf(0.975)), 6)
        1.959964
    """
    return _quantile(sc.ndtri, q, (), -_INF)


def t_cdf(x: npt.ArrayLike, df: npt.ArrayLike) -> np.ndarray:
    """Student's t distribution function, as ``scipy.stats.t.cdf`` (``df = inf``: the normal).

    Args:
        x: the arguments.
        df: degrees of freedom, broadcast against ``x``; NaN where ``df <= 0`` or NaN.

    Returns:
        ``P(T <= x)``.

    Example:
        >>> float(t_cdf(1.0, 1))  # Cauchy
        0.75
    """
    return _prob(sc.stdtr, x, (df,), -_INF, 0.0, 1.0)


def t_sf(x: npt.ArrayLike, df: npt.ArrayLike) -> np.ndarray:
    """Student's t survival function, as ``scipy.stats.t.sf``.

    Args:
        x: the arguments.
        df: degrees of freedom (see :func:`t_cdf`).

    Returns:
        ``P(T > x)``.

    Example:
        >>> round(float(t_sf(1.0, 1)), 12)
        0.25
    """
    return _prob(lambda df, x: sc.stdtr(df, -x), x, (df,), -_INF, 1.0, 0.0)


def t_ppf(q: npt.ArrayLike, df: npt.ArrayLike) -> np.ndarray:
    """Student's t quantile function, as ``scipy.stats.t.ppf``.

    Args:
        q: lower-tail probabilities; ``±inf`` at 0 and 1, NaN outside ``[0, 1]``.
        df: degrees of freedom (see :func:`t_cdf`).

    Returns:
        The ``q`` quantiles.

    Example:
        >>> round(float(t_ppf(0.975, 10)), 6)
        2.228139
    """
    return _quantile(sc.stdtrit, q, (df,), -_INF)


def chi2_sf(x: npt.ArrayLike, df: npt.ArrayLike) -> np.ndarray:
    """The χ² survival function, as ``scipy.stats.chi2.sf`` (1 for ``x <= 0``).

    Args:
        x: the arguments.
        df: degrees of freedom; NaN where ``df <= 0`` or NaN.

    Returns:
        ``P(χ²_df > x)``.

    Example:
        >>> round(float(chi2_sf(2.0, 2)), 12)  # exp(-x/2) for two degrees of freedom
        0.367879441171
    """
    return _prob(sc.chdtrc, x, (df,), 0.0, 1.0, 0.0)


def f_sf(x: npt.ArrayLike, dfn: npt.ArrayLike, dfd: npt.ArrayLike) -> np.ndarray:
    """The F survival function, as ``scipy.stats.f.sf`` (1 for ``x <= 0``).

    Args:
        x: the arguments.
        dfn: numerator degrees of freedom.
        dfd: denominator degrees of freedom; NaN where either is ``<= 0`` or NaN.

    Returns:
        ``P(F_{dfn, dfd} > x)``.

    Example:
        >>> float(f_sf(1.0, 4, 4))
        0.5
    """
    return _prob(sc.fdtrc, x, (dfn, dfd), 0.0, 1.0, 0.0)


def _central_moments(a: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(n, mean, m2, d)``: scipy's ``_moment`` pieces, the same operations in the same order."""
    a = np.asarray(a, dtype=np.float64)
    mean = np.mean(a, axis=0, keepdims=True)
    d = a - mean
    return np.asarray(a.shape[0], dtype=np.float64), mean[0], np.mean(d**2, axis=0), d


def _zero_variance(m2: np.ndarray, mean: np.ndarray) -> np.ndarray:
    return m2 <= (np.finfo(np.float64).eps * mean) ** 2  # scipy: equal values give NaN


def skew(a: npt.ArrayLike) -> np.ndarray:
    """The biased sample skewness ``m3 / m2^1.5`` along axis 0, as ``scipy.stats.skew``.

    Args:
        a: the sample, observations along axis 0.

    Returns:
        The skewness; NaN where all values are equal.

    Example:
        >>> round(float(skew([1.0, 2.0, 3.0, 10.0])), 6)
        1.018234
    """
    _, mean, m2, d = _central_moments(a)
    m3 = np.mean(d**2 * d, axis=0)
    with np.errstate(all="ignore"):
        return np.where(_zero_variance(m2, mean), np.nan, m3 / m2**1.5)[()]


def _pearson_kurtosis(a: npt.ArrayLike) -> np.ndarray:
    _, mean, m2, d = _central_moments(a)
    m4 = np.mean((d**2) ** 2, axis=0)
    with np.errstate(all="ignore"):
        return np.where(_zero_variance(m2, mean), np.nan, m4 / m2**2.0)


def kurtosis(a: npt.ArrayLike) -> np.ndarray:
    """Fisher's (excess) biased sample kurtosis ``m4 / m2² − 3``, as ``scipy.stats.kurtosis``.

    Args:
        a: the sample, observations along axis 0.

    Returns:
        The excess kurtosis; NaN where all values are equal.

    Example:
        >>> float(kurtosis([-1.0, 1.0]))
        -2.0
    """
    return (_pearson_kurtosis(a) - 3)[()]


def _skewtest_z(a: npt.ArrayLike) -> np.ndarray:
    # scipy.stats.skewtest's statistic (D'Agostino 1970), NaN for n < 8
    b2 = skew(a)
    n = _central_moments(a)[0]
    n = np.where(n < 8, np.nan, n)
    y = b2 * np.sqrt(((n + 1) * (n + 3)) / (6.0 * (n - 2)))
    beta2 = (3.0 * (n**2 + 27*n - 70) * (n+1) * (n+3) /
             ((n-2.0) * (n+5) * (n+7) * (n+9)))  # fmt: skip
    W2 = -1 + np.sqrt(2 * (beta2 - 1))
    delta = 1 / np.sqrt(0.5 * np.log(W2))
    alpha = np.sqrt(2.0 / (W2 - 1))
    y = np.where(y == 0, 1.0, y)
    return delta * np.log(y / alpha + np.sqrt((y / alpha) ** 2 + 1))


def _kurtosistest_z(a: npt.ArrayLike) -> np.ndarray:
    # scipy.stats.kurtosistest's statistic (Anscombe & Glynn 1983), NaN for n < 5 (and, without
    # scipy's warning, where the statistic's denominator is zero); scipy computes it for any
    # n >= 5 (it is meant for n >= 20), so does this
    b2 = _pearson_kurtosis(a)
    n = _central_moments(a)[0]
    n = np.where(n < 5, np.nan, n)
    E = 3.0*(n-1) / (n+1)  # fmt: skip
    varb2 = 24.0*n*(n-2)*(n-3) / ((n+1)*(n+1.)*(n+3)*(n+5))  # fmt: skip
    x = (b2-E) / varb2**0.5  # fmt: skip
    sqrtbeta1 = 6.0*(n*n-5*n+2)/((n+7)*(n+9)) * ((6.0*(n+3)*(n+5))
                                                 / (n*(n-2)*(n-3)))**0.5  # fmt: skip
    A = 6.0 + 8.0/sqrtbeta1 * (2.0/sqrtbeta1 + (1+4.0/(sqrtbeta1**2))**0.5)  # fmt: skip
    term1 = 1 - 2/(9.0*A)  # fmt: skip
    denom = 1 + x * (2/(A-4.0))**0.5  # fmt: skip
    term2 = np.sign(denom) * np.where(denom == 0.0, np.nan,
                                      ((1-2.0/A)/np.abs(denom))**(1/3))  # fmt: skip
    return (term1 - term2) / (2/(9.0*A))**0.5  # fmt: skip


def normaltest(a: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """D'Agostino and Pearson's omnibus normality test, as ``scipy.stats.normaltest``.

    Args:
        a: the sample, observations along axis 0 (at least 8, NaN otherwise).

    Returns:
        ``(statistic, pvalue)``: ``K² = z_skew² + z_kurt²`` and its χ²(2) upper-tail probability.

    Example:
        >>> k2, p = normaltest([1.0, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 9.0])
        >>> round(float(k2), 4), round(float(p), 4)
        (7.1819, 0.0276)
    """
    with np.errstate(all="ignore"):
        s, k = _skewtest_z(a), _kurtosistest_z(a)
        statistic = s * s + k * k
        return statistic[()], sc.chdtrc(2.0, statistic)[()]
