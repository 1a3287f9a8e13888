"""Repeated design rows collapsed before IRLS: the sufficient-statistics fast path of a GLM.

For the Poisson, Binomial and negative binomial (α fixed) families the score and the expected
information see the rows that share a design row ``x`` (and offset) only through ``Σ pw·y`` and
``Σ pw`` (``pw``: frequency × variance weights × trials). Those rows collapse into one, with
``y`` their ``pw``-weighted mean and frequency weight ``Σ pw``: the same estimating equations,
so the same coefficients and covariance. A design of categorical factors only (a contingency
table, grouped logistic regression) has a few hundred distinct rows among millions, and the
scoring loop then runs on those. What depends on each row (the deviance, Pearson's χ², the
log-likelihood, fitted values and weights) is computed on every row afterwards, in NumPy.

Not collapsed: the dispersion families (φ also comes from the spread within a group, and a
collapsed model with as many groups as coefficients would leave the loop's standard-error units
undefined), NB2 with α estimated (α's score is not linear in ``y``), traced or device arrays,
and designs where the distinct rows are over a quarter of all rows (estimated first from the
repeats in a sample of 1,024 rows, in tens of microseconds, so continuous designs pay
nothing).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ._families import Binomial, NegativeBinomial, Poisson
from ._glm_host import _Host
from ._irls_host import prior_weights

__all__ = ["collapsible", "find", "fit"]

_MIN_ROWS = 2048  # below this a loop over n rows costs about what finding the groups does
_SAMPLE = 1024  # rows probed (with replacement) before any O(n) work
_SHARE = 0.25  # collapse where the distinct rows are at most this share of all rows
_CHUNK = 65536  # rows compared at once in the exact check (bounded memory)


def collapsible(fam: Any, d: Any) -> bool:
    """Whether a fit of ``fam`` on the data ``d`` may be collapsed (see the module docstring)."""
    if not isinstance(fam, Poisson | Binomial | NegativeBinomial):
        return False
    if isinstance(fam, NegativeBinomial) and fam.alpha is None:
        return False
    arrays = [a for a in d if a is not None]
    return d.X.shape[0] >= _MIN_ROWS and all(isinstance(a, np.ndarray) for a in arrays)


@functools.lru_cache(maxsize=64)
def _weights(p: int) -> np.ndarray:
    # (A generator costs ~30 µs to make: cached, read-only.)
    r = np.random.default_rng(20261202).uniform(1.0, 2.0, p + 1)
    r.flags.writeable = False
    return r


@functools.lru_cache(maxsize=64)
def _probe_rows(n: int) -> np.ndarray:
    rows = np.unique(np.random.default_rng(0).integers(0, n, _SAMPLE))  # distinct rows
    rows.flags.writeable = False
    return rows


def _keys(X: np.ndarray, offset: Any, rows: Any = slice(None)) -> np.ndarray:
    # One number per row: a projection on fixed random positive weights (distinct rows that
    # meet are caught by the exact check in find()).
    r = _weights(X.shape[1])
    k = X[rows] @ r[:-1]
    return k if offset is None else k + r[-1] * offset[rows]


def _factorize(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(group of each row, one row of each group)``.

    pandas' hash table where pandas is installed (1,000,000 keys: ~0.03 s, where
    ``np.unique``'s sort takes ~0.28 s, measured here); the representative row is any row of
    its group (they are equal: find() checks).
    """
    try:
        import pandas as pd
    except ImportError:  # pandas is an optional extra
        _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        return inverse.ravel(), first
    inverse, uniques = pd.factorize(keys)
    first = np.empty(uniques.size, np.int64)
    first[inverse] = np.arange(keys.size)
    return inverse, first


def find(X: np.ndarray, offset: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """``(first, inverse)``: each group's first row and each row's group, or None.

    None where the design is not worth collapsing (more than a quarter of its rows distinct).
    Rows are grouped exactly (equal design row and offset), whatever their order.
    """
    n = X.shape[0]
    # The number of groups from the repeated pairs in a random sample of rows (m²/2 pairs,
    # each repeated with probability ~1/G): an all-distinct sample, a continuous design,
    # costs this much only.
    probe = _probe_rows(n)
    m = probe.size
    keys = np.sort(_keys(X, offset, probe))
    same = keys[1:] == keys[:-1]
    if not same.any():  # an all-distinct sample (a continuous design): no repeats to count
        return None
    _, counts = np.unique(keys, return_counts=True)
    pairs = float(np.sum(counts * (counts - 1))) / 2.0
    if not pairs or m * (m - 1) / (2.0 * pairs) > _SHARE * n:
        return None
    inverse, first = _factorize(_keys(X, offset))
    if first.size > _SHARE * n:
        return None
    for a in range(0, n, _CHUNK):
        g = inverse[a : a + _CHUNK]
        if not np.array_equal(X[first[g]], X[a : a + _CHUNK]):
            return None  # two distinct rows with one key: no collapsing
        if offset is not None and not np.array_equal(offset[first[g]], offset[a : a + _CHUNK]):
            return None
    return first, inverse


def fit(fam: Any, d: Any, groups: tuple[np.ndarray, np.ndarray], run: Any) -> Any:
    """The fit on every row of ``d`` from the scoring loop on its collapsed rows.

    Args:
        fam: a collapsible family.
        d: the data (``jaxmle._irls._Data`` of NumPy arrays).
        groups: :func:`find`'s ``(first, inverse)``.
        run: ``run(d_collapsed) -> GLMFit``, the engine on the collapsed rows.

    Returns:
        The ``GLMFit`` of the full data: the collapsed fit's coefficients, covariance, status
        and iterations; per-row η, μ and weights; deviance, Pearson χ² and log-likelihood
        summed over every row, as the uncollapsed program computes them.
    """
    first, inverse = groups
    pw = prior_weights(d)
    pw = np.ones(d.X.shape[0]) if pw is None else pw
    sw = np.bincount(inverse, weights=pw, minlength=first.size)
    sy = np.bincount(inverse, weights=pw * d.y, minlength=first.size)
    yg = np.where(sw > 0, sy / np.where(sw > 0, sw, 1.0), 0.0)
    if isinstance(fam, Binomial):
        yg = np.clip(yg, 0.0, 1.0)  # (a mean of proportions, to rounding)
    off = None if d.offset is None else d.offset[first]
    small = type(d)(d.X[first], yg, off, sw, None, None)
    g = run(small)
    eta, mu = np.asarray(g.eta)[inverse], np.asarray(g.mu)[inverse]
    wg = np.asarray(g.weights)
    wu = np.where(sw > 0, wg / np.where(sw > 0, sw, 1.0), 0.0)[inverse]
    host = _Host(fam.name, fam.link, float(getattr(fam, "alpha", None) or 0.0))
    y = d.y
    with np.errstate(divide="ignore", invalid="ignore"):
        deviance = np.sum(pw * host.unit_deviance(y, mu))
        pearson = np.sum(pw * (y - mu) ** 2 / host.variance(mu))
        fw = 1.0 if d.fw is None else d.fw
        vw = 1.0 if d.vw is None else d.vw
        t = 1.0 if d.trials is None else d.trials
        llf = np.sum(fw * host.loglike_obs(y, mu, vw, 1.0, t))
    nobs = float(d.X.shape[0]) if d.fw is None else float(np.sum(d.fw))
    p = d.X.shape[1]
    return g._replace(eta=eta, mu=mu, weights=pw * wu, deviance=np.asarray(deviance),
                      pearson_chi2=np.asarray(pearson), llf=np.asarray(llf),
                      nobs=np.asarray(nobs), df_resid=np.asarray(nobs - p))  # fmt: skip
