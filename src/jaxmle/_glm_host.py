"""Host-side (NumPy) helpers shared by the GLM modules: family and link numerics, option checks.

:class:`_Host` holds a family's functions in statsmodels' GLM conventions: the link's inverse and
its first two derivatives, the variance function and its derivative, unit deviances and the
pointwise log-likelihood. :mod:`jaxmle._glm_results` reads them for residuals, the null model
and sandwich covariances, :mod:`jaxmle._glm_predict` for predicted means and their standard
errors. All of it is NumPy on arrays of length n: microseconds, and nothing to compile for any
shape. Also here: :func:`_inv_sym` (a symmetric positive-definite inverse), :func:`_inv_gram`
(the inverse information ``(XᵀWX)⁻¹`` accurate for ill-conditioned designs) and
:func:`_check_option` (a case-insensitive choice among named options).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ._errors import InputError

_FLOAT_EPS = float(np.finfo(float).eps)


def _check_option(value: Any, name: str, options: tuple[str, ...]) -> str:
    """``value`` spelled as in ``options`` (matched case-insensitively), else an InputError."""
    if isinstance(value, str):
        for o in options:
            if value.lower() == o.lower():
                return o
    raise InputError(f"`{name}` must be one of {', '.join(map(repr, options))}; got {value!r}.")


def _inv_sym(A: np.ndarray) -> np.ndarray:
    """The inverse of a symmetric positive-definite matrix by Cholesky (else the pseudo-inverse)."""
    try:
        c = np.linalg.cholesky(A)
    except np.linalg.LinAlgError:
        return np.linalg.pinv(A)
    ci = np.linalg.solve(c, np.eye(len(A)))
    return ci.T @ ci


# Above this estimate of the equilibrated condition number of XᵀWX, its Cholesky inverse has
# lost more than ~1e-10 relative: κ² ε of a QR's κ ε (longley: SEs 4.8e-9, HC0 5e-8 off).
_GRAM_KAPPA = 1e5


def _inv_gram(X: np.ndarray, w: np.ndarray, inv: np.ndarray | None = None) -> np.ndarray:
    """``(Xᵀ diag(w) X)⁻¹``, from the QR of ``√w X`` where the normal equations lose digits.

    Args:
        X: ``(n, p)`` design.
        w: ``(n,)`` weights (a negative one, as observed information can have, keeps the
            Cholesky inverse).
        inv: that inverse when already computed (the fit's ``cov_unscaled``).

    Returns:
        The ``(p, p)`` inverse. The cheap Cholesky one when ``p·max_j A_jj (A⁻¹)_jj`` (within a
        factor p of the equilibrated condition number) is under :data:`_GRAM_KAPPA`, else
        ``R⁻¹R⁻ᵀ`` from ``√w X = QR``, accurate to κ ε as statsmodels' pinv of the design.
    """
    diag = np.dot(w, X * X)  # (np.einsum: 9 µs at 500 × 10, this 3)
    if inv is None:
        inv = _inv_sym((X * w[:, None]).T @ X)
    kappa = len(diag) * float(np.max(diag * np.diagonal(inv), initial=0.0))
    if not (np.isfinite(kappa) and kappa > _GRAM_KAPPA) or np.any(w < 0):
        return inv
    r = np.linalg.qr(np.sqrt(w)[:, None] * X, mode="r")
    if np.any(np.abs(np.diagonal(r)) <= _FLOAT_EPS * np.max(np.abs(r))):
        return inv  # singular at working precision: keep what the fit reported
    import scipy.linalg

    ri = scipy.linalg.solve_triangular(r, np.eye(len(r)))
    return ri @ ri.T


def _leverage(X: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Hat values ``w_i x_iᵀ (XᵀWX)⁻¹ x_i``: the squared row norms of Q in ``√w X = QR``.

    Args:
        X: ``(n, p)`` design.
        w: ``(n,)`` non-negative weights (the IRLS working weights).

    Returns:
        ``(n,)`` leverages, accurate to κ ε (``X B Xᵀ`` with an explicit B loses κ² ε: longley
        HC3 1.5e-8 off).
    """
    q, r = np.linalg.qr(np.sqrt(w)[:, None] * X)
    if np.any(np.abs(np.diagonal(r)) <= _FLOAT_EPS * np.max(np.abs(r), initial=0.0)):
        return np.einsum("ij,jk,ik->i", X, _inv_gram(X, w), X) * w
    return np.einsum("ij,ij->i", q, q)


# --------------------------------------------------------------------------------------------
# Host-side numerics: the links' inverse and its first two derivatives, the variance function
# and its derivative, unit deviances and log-likelihoods, in NumPy (statsmodels' formulas).


def _special():
    import scipy.special

    return scipy.special


def bd0(a, b):
    """``a log(a/b) − (a − b)``, accurate where ``a ≈ b``: :func:`jaxmle._logpmf.bd0` in NumPy."""
    from ._logpmf import bd0 as bd0_any

    with np.errstate(all="ignore"):
        return bd0_any(np.asarray(a, dtype=float), np.asarray(b, dtype=float), np, _special())


def _logit_d1(e):
    sp = _special()
    return sp.expit(e) * sp.expit(-e)


def _probit_d1(e):
    return np.exp(-0.5 * e * e) / math.sqrt(2.0 * math.pi)


def _cloglog_d1(e):
    return np.exp(e - np.exp(e))


def _link_host(link: Any) -> tuple[Any, Any, Any]:
    """``(μ(η), μ'(η), μ''(η))`` as NumPy functions for the engine's link object."""
    sp = _special()
    name = link.name
    if name == "identity":
        return (lambda e: e, np.ones_like, np.zeros_like)
    if name == "log":
        return (np.exp, np.exp, np.exp)
    if name == "logit":  # μ'' = μ'(1 − 2μ) = −μ' tanh(η/2)
        return (sp.expit, _logit_d1, lambda e: _logit_d1(e) * -np.tanh(0.5 * e))
    if name == "probit":
        return (sp.ndtr, _probit_d1, lambda e: -e * _probit_d1(e))
    if name == "cloglog":
        return (lambda e: -np.expm1(-np.exp(e)), _cloglog_d1,
                lambda e: _cloglog_d1(e) * -np.expm1(e))  # fmt: skip
    power = getattr(link, "power", None)
    if power is not None:  # μ = η^(1/p)
        r = 1.0 / float(power)
        return (lambda e: np.power(e, r), lambda e: r * np.power(e, r - 1.0),
                lambda e: r * (r - 1.0) * np.power(e, r - 2.0))  # fmt: skip
    # A link this module does not know: the engine's own (JAX) functions, eagerly.
    d2 = jax.vmap(jax.grad(link.deriv_inverse))
    return (lambda e: np.asarray(link.inverse(jnp.asarray(e, dtype=float))),
            lambda e: np.asarray(link.deriv_inverse(jnp.asarray(e, dtype=float))),
            lambda e: np.asarray(d2(jnp.asarray(e, dtype=float))))  # fmt: skip


class _Host(NamedTuple):
    """A family's host-side functions (statsmodels' GLM conventions), α fixed at ``alpha``."""

    kind: str
    link: Any
    alpha: float

    def inverse(self, eta):
        return _link_host(self.link)[0](eta)

    def dmu(self, eta):
        return _link_host(self.link)[1](eta)

    def d2mu(self, eta):
        return _link_host(self.link)[2](eta)

    def variance(self, mu):
        k = self.kind
        if k == "Gaussian":
            return np.ones_like(mu)
        if k == "Binomial":
            p = np.clip(mu, _FLOAT_EPS, 1.0 - _FLOAT_EPS)
            return p * (1.0 - p)
        if k == "Poisson":
            return mu
        if k == "Gamma":
            return mu * mu
        if k == "InverseGaussian":
            return mu**3
        p = np.maximum(mu, _FLOAT_EPS)  # NegativeBinomial
        return p + self.alpha * p * p

    def dvariance(self, mu):
        k = self.kind
        if k == "Gaussian":
            return np.zeros_like(mu)
        if k == "Binomial":
            return 1.0 - 2.0 * mu
        if k == "Poisson":
            return np.ones_like(mu)
        if k == "Gamma":
            return 2.0 * mu
        if k == "InverseGaussian":
            return 3.0 * mu * mu
        return 1.0 + 2.0 * self.alpha * mu

    def unit_deviance(self, y, mu):
        """The unit deviance per trial, statsmodels' ``_resid_dev`` (Binomial: times n)."""
        k = self.kind
        if k == "Gaussian":
            return (y - mu) ** 2
        if k == "Binomial":
            return 2.0 * (bd0(y, mu) + bd0(1.0 - y, 1.0 - mu))
        if k == "Poisson":
            return 2.0 * bd0(y, mu)
        if k == "Gamma":
            return 2.0 * bd0(mu, y) / mu
        if k == "InverseGaussian":
            return (y - mu) ** 2 / (y * mu * mu)
        r = 1.0 / self.alpha
        return 2.0 * (bd0(y, mu) - bd0(y + r, mu + r))

    def loglike_obs(self, y, mu, var_weights, scale, trials):
        """The pointwise log-likelihood, statsmodels' ``loglike_obs`` (no frequency weights)."""
        sp = _special()
        k, w = self.kind, var_weights
        if k == "Gaussian":
            return -0.5 * (w * (y - mu) ** 2 / scale + np.log(scale / w) + math.log(2 * math.pi))
        if k == "Binomial":
            s = y * trials
            coef = sp.gammaln(trials + 1.0) - sp.gammaln(s + 1.0) - sp.gammaln(trials - s + 1.0)
            return (coef + sp.xlogy(s, mu) + sp.xlog1py(trials - s, -mu)) * w
        if k == "Poisson":
            from ._logpmf import poisson_logpmf

            with np.errstate(all="ignore"):
                return w / scale * poisson_logpmf(y, mu, np, sp)
        if k == "Gamma":
            r = np.maximum(y / mu, _FLOAT_EPS)
            ws = w / scale
            return ws * np.log(ws * r) - ws * r - sp.gammaln(ws) - np.log(y)
        if k == "InverseGaussian":
            return -0.5 * (w * (y - mu) ** 2 / (scale * y * mu * mu)
                           + np.log(scale * y**3 / w) + math.log(2 * math.pi))  # fmt: skip
        from ._logpmf import nb2_logpmf

        with np.errstate(all="ignore"):
            return w / scale * nb2_logpmf(y, mu, self.alpha, np, sp)
