"""The Gaussian models: univariate ``N(mean, variance)`` and multivariate ``N(mean, cov)``.

Frozen dataclasses registered as pytrees, like every :class:`~jaxmle._models.Model`: a known
variance or covariance and the priors' hyperparameters are data leaves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy import stats
from jax.scipy.linalg import solve_triangular

from ._constraints import Constraint, positive, positive_definite, real
from ._errors import InputError
from ._models import _HIGHEST, _LOG_2PI, Model, Params, _check_known_positive, _clip_to, _dtype
from ._priors import Normal, Prior, Uniform, _is_value
from ._validation import as_array

__all__ = ["Gaussian", "MultivariateGaussian"]


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class Gaussian(Model):
    """Univariate Gaussian ``x_i ~ N(mean, variance)``.

    Params are ``{"mean": ()}`` when ``variance`` is known, else ``{"mean": (), "variance": ()}``.
    Data is an array ``x`` of shape ``(n,)``.

    Args:
        variance: known variance (> 0), or None to estimate it.
        prior: optional priors keyed by parameter name. With a known variance, a Normal prior
            on ``"mean"`` has a closed-form (conjugate) MAP.

    Example:
        >>> m = Gaussian(variance=4.0)
        >>> m.param_names
        ('mean',)
    """

    variance: Any = None
    prior: Mapping[str, Prior] | None = None

    def _check_fields(self) -> None:
        object.__setattr__(self, "variance", _check_known_positive(self.variance, "variance"))

    @property
    def constraints(self) -> dict[str, Constraint]:
        """``mean``: real; ``variance`` (when estimated): positive."""
        c = {"mean": real}
        if self.variance is None:
            c["variance"] = positive
        return c

    def log_prob(self, params: Params, data: jax.Array) -> jax.Array:
        """Pointwise ``log N(x_i | mean, variance)``, shape ``(n,)``; see :meth:`Model.log_prob`."""
        var = params["variance"] if self.variance is None else self.variance
        return stats.norm.logpdf(data, params["mean"], jnp.sqrt(var))

    def suff_stats(self, data: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Rows ``(d, d²)`` with ``d = x − x̄``; anchor ``x̄``. See :meth:`Model.suff_stats`."""
        c = jnp.mean(data)
        d = data - c
        return jnp.stack([d, d * d], axis=-1), c

    def log_lik_from_stats(
        self, params: Params, total: jax.Array, count: jax.Array, anchor: jax.Array
    ) -> jax.Array:
        """``Σ log N(x_i | mean, variance)`` from ``(Σd, Σd²)``; see :meth:`Model.suff_stats`."""
        var = params["variance"] if self.variance is None else self.variance
        delta = params["mean"] - anchor
        ss = total[1] - 2.0 * delta * total[0] + count * delta**2  # Σ(x_i − mean)²
        return -0.5 * (count * (_LOG_2PI + jnp.log(var)) + ss / var)

    def init(self, data: jax.Array) -> Params:
        """``{"mean": 0.0[, "variance": 1.0]}``; see :meth:`Model.init`."""
        dt = _dtype(data)
        p = {"mean": np.zeros((), dt)}
        if self.variance is None:
            p["variance"] = np.ones((), dt)
        return p

    def validate(self, data: Any) -> jax.Array:
        """``data``: finite, non-empty, shape ``(n,)``; see :meth:`Model.validate`."""
        return as_array(data, "data", ndim=1)

    def _no_closed_form(self) -> str | None:
        prior = self.prior or {}
        if not prior:
            return None
        if self.variance is None:
            return (
                "with an unknown variance, the MAP has no closed form here; pass a known "
                "`variance` or fit it with jaxmle.fit."
            )
        if isinstance(prior["mean"], Normal | Uniform):
            return None
        return (
            f"a {type(prior['mean']).__name__} prior on 'mean' has no closed-form MAP "
            "(Normal and Uniform do); fit it with jaxmle.fit."
        )

    def _closed_form_kernel(self, x: jax.Array) -> Params:
        from ._estimators import gaussian_mle_kernel

        mle = gaussian_mle_kernel(x)
        if self.variance is None:
            return mle
        mean, prior = mle["mean"], (self.prior or {}).get("mean")
        if isinstance(prior, Normal):
            # Conjugate posterior mode: shrink the sample mean towards the prior mean by
            # σ² / (σ² + n τ²).
            s2 = self.variance
            mean = mean + (prior.loc - mean) * s2 / (s2 + x.shape[0] * prior.scale**2)
        elif isinstance(prior, Uniform):
            mean = _clip_to(prior, mean)
        return {"mean": mean}


def _whitener(cov: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(L⁻¹, ½ log det cov)`` with ``L`` the Cholesky factor of ``cov``."""
    # The k×k triangular inverse (one small solve) whitens by a matmul over the rows: a
    # triangular solve against all n rows is ~10x slower on CPU when vmapped over a study's
    # lanes, and the k×k solve is as accurate for a whitening.
    L = jnp.linalg.cholesky(cov)
    L_inv = solve_triangular(L, jnp.eye(L.shape[0], dtype=L.dtype), lower=True)
    return L_inv, jnp.sum(jnp.log(jnp.diagonal(L)))


def _mvn_logpdf(x: jax.Array, mean: jax.Array, cov: jax.Array) -> jax.Array:
    L_inv, half_logdet = _whitener(cov)
    # (A broadcast multiply-sum instead of the matmul was measured 2x slower under vmap+grad.)
    z = jnp.matmul(x - mean[None, :], L_inv.T, precision=_HIGHEST)
    return -0.5 * (x.shape[-1] * _LOG_2PI + jnp.sum(z**2, axis=1)) - half_logdet


# Unknown-covariance statistics carry d dᵀ (k² numbers a row); past this k the row-by-row
# path gathers less.
_MVN_STATS_MAX_K = 8


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class MultivariateGaussian(Model):
    """Multivariate Gaussian ``x_i ~ N_k(mean, cov)``.

    Params are ``{"mean": (k,)}`` when ``cov`` is known, else ``{"mean": (k,), "cov": (k, k)}``
    (``cov`` constrained positive definite via a log-Cholesky factor). Data has shape ``(n, k)``.

    Args:
        cov: known ``(k, k)`` symmetric positive-definite covariance, or None to estimate it.
        prior: optional priors keyed by parameter name (no closed-form MAP).

    Example:
        >>> import jax.numpy as jnp
        >>> MultivariateGaussian(cov=5.0 * jnp.eye(2)).param_names
        ('mean',)
    """

    cov: Any = None
    prior: Mapping[str, Prior] | None = None

    def _check_fields(self) -> None:
        if not _is_value(self.cov):
            return
        cov = as_array(self.cov, "cov")
        if cov.ndim < 2 or cov.shape[-1] != cov.shape[-2]:
            raise InputError(f"`cov` must be a square (k, k) matrix; got shape {cov.shape}.")
        c = np.asarray(cov)
        tol = 1e-12 * float(np.max(np.abs(c), initial=0.0))
        if not np.allclose(c, np.swapaxes(c, -1, -2), rtol=1e-10, atol=tol):
            raise InputError("`cov` must be symmetric; symmetrise it, e.g. (cov + cov.T) / 2.")
        try:
            np.linalg.cholesky(c)
        except np.linalg.LinAlgError as err:
            raise InputError(
                "`cov` must be positive definite (its Cholesky factorisation failed); check "
                "for linearly dependent components or add a small multiple of the identity."
            ) from err
        object.__setattr__(self, "cov", cov)

    @property
    def constraints(self) -> dict[str, Constraint]:
        """``mean``: real; ``cov`` (when estimated): positive definite."""
        c = {"mean": real}
        if self.cov is None:
            c["cov"] = positive_definite
        return c

    def log_prob(self, params: Params, data: jax.Array) -> jax.Array:
        """Pointwise ``log N_k(x_i | mean, cov)``, shape ``(n,)``; see :meth:`Model.log_prob`."""
        cov = params["cov"] if self.cov is None else self.cov
        return _mvn_logpdf(data, params["mean"], cov)

    def suff_stats(self, data: jax.Array) -> tuple[jax.Array, jax.Array] | None:
        """Rows ``(z, |z|²)``, ``z = L⁻¹(x − x̄)``, or ``(d, d dᵀ)``, ``d = x − x̄``; anchor ``x̄``.

        The first with a known ``cov``; the second (for ``k ≤ 8``) when it is estimated. See
        :meth:`Model.suff_stats`.
        """
        n, k = data.shape
        if self.cov is None and k > _MVN_STATS_MAX_K:
            return None
        c = jnp.mean(data, axis=0)
        d = data - c
        if self.cov is not None:
            z = jnp.matmul(d, _whitener(self.cov)[0].T, precision=_HIGHEST)
            return jnp.concatenate([z, jnp.sum(z * z, axis=1, keepdims=True)], axis=1), c
        return jnp.concatenate([d, (d[:, :, None] * d[:, None, :]).reshape(n, k * k)], 1), c

    def log_lik_from_stats(
        self, params: Params, total: jax.Array, count: jax.Array, anchor: jax.Array
    ) -> jax.Array:
        """``Σ log N_k(x_i | mean, cov)`` from summed statistics; see :meth:`suff_stats`."""
        k = anchor.shape[0]
        delta = params["mean"] - anchor
        if self.cov is not None:
            L_inv, half_logdet = _whitener(self.cov)
            w = jnp.matmul(L_inv, delta, precision=_HIGHEST)
            q = total[k] - 2.0 * jnp.dot(w, total[:k]) + count * jnp.dot(w, w)
        else:
            s1, s2 = total[:k], total[k:].reshape(k, k)
            M = s2 - jnp.outer(delta, s1) - jnp.outer(s1, delta) + count * jnp.outer(delta, delta)
            L = jnp.linalg.cholesky(params["cov"])
            half_logdet = jnp.sum(jnp.log(jnp.diagonal(L)))
            q = jnp.trace(jax.scipy.linalg.cho_solve((L, True), M))  # tr(cov⁻¹ Σ(x−μ)(x−μ)ᵀ)
        return -0.5 * (count * k * _LOG_2PI + q) - count * half_logdet

    def init(self, data: jax.Array) -> Params:
        """``{"mean": zeros(k)[, "cov": eye(k)]}``, ``k`` from the data; see :meth:`Model.init`."""
        k, dt = jnp.shape(data)[-1], _dtype(data)
        p = {"mean": np.zeros(k, dt)}
        if self.cov is None:
            p["cov"] = np.eye(k, dtype=dt)
        return p

    def validate(self, data: Any) -> jax.Array:
        """``data``: finite, shape ``(n, k)`` matching ``cov``; see :meth:`Model.validate`."""
        x = as_array(data, "data", ndim=2)
        if x.shape[1] < 1:
            raise InputError("`data` has no columns; pass an (n, k) array with k >= 1.")
        if self.cov is not None and jnp.shape(self.cov)[-1] != x.shape[1]:
            raise InputError(
                f"`data` has {x.shape[1]} columns but `cov` is {jnp.shape(self.cov)}; "
                "they must describe the same k components."
            )
        return x

    def _no_closed_form(self) -> str | None:
        if self.prior:
            return "a prior on a multivariate Gaussian has no closed-form MAP here; use jaxmle.fit."
        return None

    def _closed_form_kernel(self, x: jax.Array) -> Params:
        from ._estimators import mvn_mle_kernel

        mle = mvn_mle_kernel(x)
        return mle if self.cov is None else {"mean": mle["mean"]}

    def _check_closed_form_shapes(self, x: jax.Array) -> None:
        from ._rank import check_mvn_sample_size

        if self.cov is None:  # a known covariance leaves only the mean: any n >= 1 will do
            check_mvn_sample_size(*x.shape, name="data")

    def _check_closed_form(self, x: jax.Array, params: Params, diagnostics: Any) -> None:
        from ._rank import check_cov_full_rank

        if self.cov is None:
            check_cov_full_rank(params["cov"], x.shape[0], name="data")
