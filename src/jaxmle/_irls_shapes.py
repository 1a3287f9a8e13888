"""Row counts in buckets: a new ``n`` in a bucket already compiled reuses its IRLS program.

A concrete fit of ``n ≥ 64`` rows (and at most 2²² design entries) runs on ``bucket(n)`` rows,
the next of ``2ᵏ·{1, 1.25, 1.5, 1.75}`` (at most 25% more rows, 12% on average), the added rows
carrying frequency weight 0:
they enter no sum (deviance, score, information, ``nobs = Σ fw``), so the fit is that of the
``n`` rows (to rounding: a longer sum is added in another order). A statistician refitting on
subsets (a new ``n`` each time) then compiles once per bucket instead of once per fit; the
price is the padded rows' share of each warm call (``benchmarks/glm_buckets.py`` measures
both). The padded rows repeat the mean response (so the starting mean ``(y + ȳ)/2`` is that
of the ``n`` rows) on a copy of the last row's design, offset, variance weight and trials: their
mean is then a real row's, inside the family's domain whenever that row's is. (A zero design
row gave η = 0 there, where the inverse link of Gamma, inverse Gaussian, identity or sqrt
links is infinite or zero: every step was refused and the fit failed for any n ≥ 64 off a
bucket size.) ``JAXMLE_BUCKETS=0`` turns it off.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

__all__ = ["bucket", "pad", "unpad"]

_FROM = 64  # smaller fits compile quickly (the quick tier) and pad by a large share
# Larger designs are not padded: there a warm call (~1 s at 1,000,000 x 20) outweighs a compile,
# and copying the design into the padded one cost 5-25% of it (0.95-1.13 s against 0.89-0.90 s,
# measured side by side).
_MAX_ELEMENTS = 1 << 22


def bucket(n: int, p: int = 1) -> int:
    """The padded row count for ``n`` rows of ``p`` columns; 0 for no padding.

    No padding below 64 rows, above 2²² design entries, or when turned off.

    Example:
        >>> bucket(1000), bucket(1024), bucket(1025), bucket(50), bucket(10**6, 20)
        (1024, 1024, 1280, 0, 0)
    """
    if n < _FROM or n * p > _MAX_ELEMENTS or os.environ.get("JAXMLE_BUCKETS", "1") == "0":
        return 0
    base = 1 << (n.bit_length() - 1)  # 2^k ≤ n < 2^(k+1)
    return next(b for b in (base, base * 5 // 4, base * 3 // 2, base * 7 // 4, 2 * base)
                if b >= n)  # fmt: skip


def _grow(a: Any, extra: int, fill: float | None = None) -> Any:
    """``a`` with ``extra`` rows more: ``fill``, or copies of its last row (None)."""
    a = np.asarray(a)
    n = a.shape[0]
    out = np.empty((n + extra, *a.shape[1:]), a.dtype)  # (one allocation, two fills)
    out[:n] = a
    out[n:] = a[-1] if fill is None else fill
    return out


def pad(d: Any, rows: int) -> Any:
    """``d`` (``jaxmle._irls._Data``) grown to ``rows`` rows of frequency weight 0."""
    n = d.X.shape[0]
    extra = rows - n
    fw = np.ones(n, d.X.dtype) if d.fw is None else d.fw
    y_fill = float(np.mean(d.y))
    return type(d)(
        _grow(d.X, extra), _grow(d.y, extra, y_fill),
        None if d.offset is None else _grow(d.offset, extra), _grow(fw, extra, 0.0),
        None if d.vw is None else _grow(d.vw, extra),
        None if d.trials is None else _grow(d.trials, extra),
    )  # fmt: skip


def unpad(fit: Any, n: int) -> Any:
    """The per-row fields of a fit on padded rows cut back to the first ``n``."""
    return fit._replace(eta=fit.eta[:n], mu=fit.mu[:n], weights=fit.weights[:n])
