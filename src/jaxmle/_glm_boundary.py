"""GLM maximum likelihood on the domain's boundary (log-binomial, identity-Poisson).

With a link that does not map into the family's domain, the MLE can lie on its boundary: a
log-binomial with a fitted probability of exactly 1 (spector's ``GRADE ~ GPA + TUCE + PSI``),
an identity-Poisson rate of 0. Scoring cannot reach it (its weights blow up or vanish there);
the engine stops ``BOUNDARY`` or ``FLAT_DIRECTION`` short of it, more than a nat of
log-likelihood below on some samples. The log-likelihood of both is concave in η and
their domain is an interval of η, so the MLE is the maximum of a concave function over the
polyhedron ``lo ≤ Xβ + offset ≤ hi``: this module finds it by a primal active-set Newton
method (Nocedal & Wright, *Numerical Optimization*, ch. 16.5) on the host, in NumPy. It runs
only on that failure path. scipy's SLSQP would do the same job less accurately (its ``ftol``
is on the objective, and its iterates leave the domain, where the log-likelihood is NaN).

The estimate keeps status ``BOUNDARY``: the usual standard errors do not apply there (NaN).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ._glm_host import _Host
from ._irls import _EDGE, _offset  # (the engine's edge test and offset + log exposure)
from ._status import Status

__all__ = ["refit_on_boundary"]

# η's domain for each (family, link): μ = e^η ≤ 1, μ = η ≥ 0.
_BOUNDS = {
    ("Binomial", "log"): (-math.inf, 0.0),
    ("Poisson", "identity"): (0.0, math.inf),
}
_MAX_ITER = 200
# A log-binomial probability this small at the constrained "maximum": the face's maximum is at
# infinity (a group of zeros, whose probability runs to 0), which the engine's status says.
_AT_INFINITY = 1e-10


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a / b`` with 0 where ``a`` is 0 (the limits of the boundary rows' terms)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(a == 0, 0.0, a / np.where(a == 0, 1.0, b))


def _derivatives(key, y, eta, t):
    """Per row: the log-likelihood's η-dependent part and its first two η-derivatives."""
    import scipy.special as sp

    lo, hi = _BOUNDS[key]
    eta = np.clip(eta, lo, hi)  # (rounding: a row on its bound may be past it by an ulp)
    with np.errstate(divide="ignore", invalid="ignore"):
        if key == ("Binomial", "log"):
            q = -np.expm1(eta)  # 1 − μ, accurately
            mu = 1.0 - q
            ll = y * eta + sp.xlogy(1.0 - y, q)
            d1 = y - _ratio((1.0 - y) * mu, q)
            d2 = -_ratio((1.0 - y) * mu, q * q)
        else:  # Poisson, identity
            ll = sp.xlogy(y, eta) - eta
            d1 = _ratio(y, eta) - 1.0
            d2 = -_ratio(y, eta * eta)
    return t * ll, t * d1, t * d2


def _null_space(A: np.ndarray, p: int) -> np.ndarray:
    """An orthonormal basis of ``{v : A v = 0}`` (``(p, p − rank)``)."""
    if A.shape[0] == 0:
        return np.eye(p)
    _, s, vt = np.linalg.svd(A, full_matrices=True)
    rank = int(np.sum(s > s[0] * max(A.shape) * np.finfo(float).eps)) if s.size else 0
    return vt[rank:].T


def _newton_direction(g: np.ndarray, N: np.ndarray, Z: np.ndarray):
    """The Newton step of ``max f`` on the face ``Z`` (``N = −∇²f``) and its decrement²."""
    if Z.shape[1] == 0:
        return np.zeros_like(g), 0.0
    gz, Mz = Z.T @ g, Z.T @ N @ Z
    try:
        c = np.linalg.cholesky(Mz)
        pz = np.linalg.solve(c.T, np.linalg.solve(c, gz))
    except np.linalg.LinAlgError:  # flat along the face: a gradient step
        pz = gz
    return Z @ pz, float(max(gz @ pz, 0.0))


def constrained_mle(key, X, y, off, t, beta0):
    """The MLE subject to ``lo ≤ Xβ + off ≤ hi``, from a feasible ``beta0``.

    Returns:
        ``(beta, n_active, iterations)``, or None where it finds no maximum (a start outside
        or at −∞, an MLE at infinity along the face, or no convergence in 200 steps).
    """
    lo, hi = _BOUNDS[key]

    def total(b):
        return float(np.sum(_derivatives(key, y, X @ b + off, t)[0]))

    beta = np.asarray(beta0, dtype=float).copy()
    eta = X @ beta + off
    tol_eta = 1e-9 * max(1.0, float(np.max(np.abs(eta))))
    if np.any(eta > hi + tol_eta) or np.any(eta < lo - tol_eta) or not math.isfinite(total(beta)):
        return None
    side = np.where(eta >= hi - tol_eta, 1, np.where(eta <= lo + tol_eta, -1, 0))
    for it in range(1, _MAX_ITER + 1):
        act = np.flatnonzero(side != 0)
        if act.size:  # the active rows exactly on their bounds (the start's are within 1e-9)
            gap = np.where(side[act] > 0, hi, lo) - (X[act] @ beta + off[act])
            beta = beta + np.linalg.lstsq(X[act], gap, rcond=None)[0]
        eta = X @ beta + off
        ll, d1, d2 = _derivatives(key, y, eta, t)
        f0 = float(np.sum(ll))
        g = X.T @ d1
        N = (X * (-d2)[:, None]).T @ X
        p, dec2 = _newton_direction(g, N, _null_space(X[act], X.shape[1]))
        if dec2 <= 1e-15 * (1.0 + abs(f0)):  # stationary on this face: the multipliers
            if act.size == 0:
                return beta, 0, it
            lam = np.linalg.lstsq(X[act].T, g, rcond=None)[0] * side[act]
            k = int(np.argmin(lam))
            if lam[k] >= -1e-8 * max(1.0, float(np.max(np.abs(g)))):
                return beta, int(act.size), it
            side[act[k]] = 0  # its constraint holds the estimate back: release it
            continue
        de = X @ p
        with np.errstate(divide="ignore", invalid="ignore"):
            room = np.where(side != 0, np.inf, np.where(
                de > 0, (hi - eta) / de, np.where(de < 0, (lo - eta) / de, np.inf)))  # fmt: skip
        block = int(np.argmin(room))
        step = min(1.0, float(room[block]))
        slope = float(g @ p)
        while total(beta + step * p) < f0 + 1e-4 * step * slope and step > 1e-12:
            step *= 0.5
        if step <= 1e-12:
            return None
        beta = beta + step * p
        if step == room[block] < 1.0:  # a new row reaches its bound
            side[block] = 1 if de[block] > 0 else -1
    return None


def refit_on_boundary(family: Any, X: np.ndarray, d: Any, fit: Any,
                      engine: Callable[[np.ndarray], Any]) -> Any:  # fmt: skip
    """``fit``, or the boundary MLE where the engine stopped short at the domain's edge.

    Args:
        family: the GLM family.
        X: ``(n, p)`` design.
        d: the fitted rows' data (``jaxmle._glm_input._Data``).
        fit: the engine's ``GLMFit`` (NumPy leaves).
        engine: the engine's fit from given starting coefficients (for an interior maximum).

    Returns:
        ``fit`` unchanged, unless the family and link are one of the two with a boundary,
        the fit is not OK, a mean is at the edge, and the constrained maximum is found: then
        the fit at that maximum, status ``BOUNDARY`` and NaN covariance; or, where that
        maximum is interior after all, the engine's fit from there if it is OK.
    """
    key = (family.name, family.link.name)
    if key not in _BOUNDS or int(fit.status) == Status.OK:
        return fit
    mu = np.asarray(fit.mu, dtype=float)
    near = mu >= 1.0 - _EDGE  # (a log-binomial probability of 1)
    if key == ("Poisson", "identity"):
        near = mu <= _EDGE * max(float(np.max(np.abs(mu))), 1.0)
    if not np.any(near):
        return fit
    n = X.shape[0]
    off = _offset(d.offset, d.exposure)
    off = np.zeros(n) if off is None else np.asarray(off, float)
    t = np.ones(n)
    for w in (d.freq_weights, d.var_weights, d.trials):
        if w is not None:
            t = t * np.asarray(w, float)
    found = constrained_mle(key, X, np.asarray(d.y, float), off, t, np.asarray(fit.coef))
    if found is None:
        return fit
    beta, n_active, iters = found
    if key == ("Binomial", "log") and np.min(np.exp(X @ beta + off)) < _AT_INFINITY:
        # Some probability heads to 0 as well: the MLE is at infinity, not on the face.
        return fit._replace(status=np.asarray(Status.FLAT_DIRECTION, np.int32))
    if n_active == 0:
        again = engine(beta)
        return again if int(again.status) == Status.OK else fit
    return _fit_at(family, X, d, fit, beta, off, t, int(fit.iterations) + iters)


def _fit_at(family, X, d, fit, beta, off, t, iterations):
    """The engine's ``GLMFit`` fields at ``beta``, with status ``BOUNDARY`` and no covariance."""
    h = _Host(family.name, family.link, math.nan)
    lo, hi = _BOUNDS[(family.name, family.link.name)]
    eta = X @ beta + off
    mu = np.clip(h.inverse(np.clip(eta, lo, hi)), 0.0, None)
    y = np.asarray(d.y, float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        var = h.variance(mu)
        dev = float(np.sum(t * h.unit_deviance(y, mu)))
        pearson = float(np.sum(t * _ratio((y - mu) ** 2, var)))
        w = t * h.dmu(np.clip(eta, lo, hi)) ** 2 / var
    ones = lambda v: np.ones(X.shape[0]) if v is None else np.asarray(v, float)  # noqa: E731
    trials = ones(d.trials)
    llf = float(np.sum(ones(d.freq_weights) * h.loglike_obs(y, mu, ones(d.var_weights), 1.0,
                                                               trials)))  # fmt: skip
    nan = np.full(np.shape(fit.cov), np.nan)
    return fit._replace(
        coef=beta, cov=nan, cov_unscaled=np.full(np.shape(fit.cov_unscaled), np.nan),
        eta=eta, mu=mu, weights=w, deviance=np.asarray(dev), pearson_chi2=np.asarray(pearson),
        llf=np.asarray(llf), iterations=np.asarray(iterations, np.int32),
        status=np.asarray(Status.BOUNDARY, np.int32), converged=np.asarray(False),
    )  # fmt: skip
