"""``GLM(family)``: a generalised linear model as a :class:`~jaxmle.models.Model`.

The general path: ``jaxmle.mle(GLM(family), data)`` or ``jaxmle.fit`` maximise the pointwise
log-likelihood below over the coefficients and (for families with a dispersion) the maximum-
likelihood scale, and (for a negative binomial with ``alpha=None``) α. IRLS
(:func:`jaxmle._irls.irls`) solves the same problem for the coefficients; each is the other's
oracle. Note the scale: here it is the ML estimate, where IRLS reports statsmodels' Pearson
χ²/df_resid.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from . import _linalg, _xla
from ._constraints import Constraint, positive, real
from ._errors import InputError
from ._families import Binomial, Family, NegativeBinomial, as_family
from ._logpmf import nb2_loglike
from ._models import Model, Params
from ._priors import Prior
from ._validation import as_array, check_same_length, is_concrete

__all__ = ["GLM"]

_HIGHEST = jax.lax.Precision.HIGHEST
_OPTIONAL = ("offset", "freq_weights", "var_weights", "trials")


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class GLM(Model):
    """Generalised linear model ``y_i ~ family(μ_i)``, ``g(μ_i) = x_i·coef + offset_i``.

    Params are ``{"coef": (p,)}``, plus ``"scale": ()`` (the dispersion φ, positive) for
    Gaussian, Gamma and inverse Gaussian, plus ``"alpha": ()`` (positive) for a negative binomial
    with ``alpha=None``. Data is a dict ``{"X": (n, p), "y": (n,)}`` with optional ``"offset"``,
    ``"freq_weights"`` (a row's log-density is multiplied by its weight), ``"var_weights"`` and
    ``"trials"`` (Binomial: ``y`` is the proportion of ``trials``), all ``(n,)``. The
    log-density of a row is statsmodels' ``family.loglike_obs`` at the given scale.

    Args:
        family: a :mod:`jaxmle.families` family (static), e.g. ``Poisson()``.
        prior: optional priors keyed by parameter name.

    Example:
        >>> from jaxmle.families import Gamma
        >>> GLM(Gamma("log")).param_names
        ('coef', 'scale')
    """

    family: Family = field(default=None, metadata={"static": True})  # type: ignore[assignment]
    prior: Mapping[str, Prior] | None = None

    def _check_fields(self) -> None:
        if self.family is None:
            raise InputError("`family` is required, e.g. GLM(jaxmle.families.Poisson()).")
        fam = as_family(self.family)
        a = getattr(fam, "alpha", None)
        if a is not None and not isinstance(a, float):
            if not is_concrete(a):
                raise InputError(
                    "`family.alpha` must be a number for GLM (a static setting); to trace or "
                    "sweep α, use jaxmle.irls, whose family is a pytree."
                )
            fam = NegativeBinomial(fam.link, alpha=float(np.asarray(a)))
        object.__setattr__(self, "family", fam)

    @property
    def _estimates_alpha(self) -> bool:
        return isinstance(self.family, NegativeBinomial) and self.family.alpha is None

    @property
    def constraints(self) -> dict[str, Constraint]:
        """``coef``: real; ``scale`` (dispersion families), ``alpha`` (NB, estimated): positive."""
        c = {"coef": real}
        if self.family.has_dispersion:
            c["scale"] = positive
        if self._estimates_alpha:
            c["alpha"] = positive
        return c

    def log_prob(self, params: Params, data: Mapping[str, jax.Array]) -> jax.Array:
        """Pointwise log-likelihood (times the frequency weights), shape ``(n,)``."""
        fam = self.family
        eta = jnp.matmul(data["X"], params["coef"], precision=_HIGHEST)
        if data.get("offset") is not None:
            eta = eta + data["offset"]
        mu = fam.link.inverse(eta)
        vw = data.get("var_weights")
        vw = 1.0 if vw is None else vw
        if self._estimates_alpha:
            log_mu = eta if fam.link.name == "log" else jnp.log(mu)
            ll = vw * nb2_loglike(data["y"], log_mu, jnp.log(params["alpha"]))
        else:
            scale = params["scale"] if fam.has_dispersion else 1.0
            trials = data.get("trials")
            ll = fam.loglike_obs(data["y"], mu, vw, scale, 1.0 if trials is None else trials)
        fw = data.get("freq_weights")
        return ll if fw is None else fw * ll

    def init(self, data: Mapping[str, Any]) -> Params:
        """The first IRLS iterate of statsmodels (a regression of ``g(μ₀)``), and moments.

        ``coef`` regresses the link of the starting mean on ``X`` with the first IRLS weights;
        ``scale`` is the mean Pearson residual², ``alpha`` a moment estimate (≥ 0.05) there.

        Args:
            data: the observations (validated).

        Returns:
            Natural parameters.
        """
        return _init(self, dict(data))

    def validate(self, data: Any) -> dict[str, jax.Array]:
        """``X`` (n, p), ``y`` (n,) in the family's domain, optional positive weights (n,).

        See :meth:`Model.validate`.
        """
        keys = "'X' (n, p) and 'y' (n,), optionally " + ", ".join(f"'{k}'" for k in _OPTIONAL)
        if not isinstance(data, Mapping) or not {"X", "y"} <= set(data):
            raise InputError(f"`data` must be a dict with keys {keys}.")
        extra = sorted(set(data) - {"X", "y", *_OPTIONAL})
        if extra:
            raise InputError(f"`data` has unexpected key(s) {extra}; expected keys {keys}.")
        X = as_array(data["X"], "data['X']", ndim=2)
        if X.shape[1] < 1:
            raise InputError("`data['X']` has no columns; pass an (n, p) design with p >= 1.")
        out = {"X": X, "y": as_array(data["y"], "data['y']", ndim=1)}
        for k in _OPTIONAL:
            if data.get(k) is not None:
                out[k] = as_array(data[k], f"data['{k}']", ndim=1)
        check_same_length({f"data['{k}']": v for k, v in out.items()})
        if "trials" in out and not isinstance(self.family, Binomial):
            raise InputError("`data['trials']` is for the Binomial family only.")
        if is_concrete(out["y"]):
            self.family.check_y(out["y"], "data['y']")
            for k, strict in (("var_weights", True), ("trials", True), ("freq_weights", False)):
                if k in out and not np.all(np.asarray(out[k]) > 0 if strict else
                                           np.asarray(out[k]) >= 0):  # fmt: skip
                    what = "positive" if strict else "non-negative"
                    raise InputError(f"`data['{k}']` must be {what}.")
        return out

    def _no_closed_form(self) -> str | None:
        return (
            "a GLM has no closed-form estimator (except Gaussian with the identity link: "
            "use LinearRegression); use jaxmle.mle, which solves it to convergence."
        )


@_xla.jit
def _init(model: GLM, data: dict[str, jax.Array]) -> Params:
    fam = model.family
    X, y = data["X"], data["y"]
    pw = jnp.ones_like(y)
    for k in ("freq_weights", "var_weights", "trials"):
        if data.get(k) is not None:
            pw = pw * data[k]
    offset = data.get("offset")
    mu0 = fam.starting_mu(y)
    eta0 = fam.link.link(mu0)
    d = fam.link.deriv_inverse(eta0)
    var = _variance(fam, mu0, y)
    w = pw * d * d / var
    z = eta0 if offset is None else eta0 - offset
    A = jnp.matmul((X * w[:, None]).T, X, precision=_HIGHEST)
    b = jnp.matmul(w * z, X, precision=_HIGHEST)
    s = 1.0 / jnp.sqrt(jnp.diagonal(A))
    coef = s * _linalg.cho_solve(_linalg.cholesky(A * s[:, None] * s[None, :]), s * b)
    coef = jnp.where(jnp.all(jnp.isfinite(coef)), coef, jnp.zeros_like(coef))
    eta = jnp.matmul(X, coef, precision=_HIGHEST) + (0.0 if offset is None else offset)
    mu = fam.link.inverse(eta)
    mu = jnp.where(jnp.isfinite(mu) & (mu > 0), mu, mu0)
    tiny = jnp.finfo(X.dtype).tiny
    out = {"coef": coef}
    if fam.has_dispersion:
        out["scale"] = jnp.maximum(jnp.sum(pw * (y - mu) ** 2 / fam.variance(mu)) / y.shape[0],
                                   tiny)  # fmt: skip
    if model._estimates_alpha:
        a = jnp.sum(pw * ((y - mu) ** 2 / mu - 1.0) / mu) / y.shape[0]
        out["alpha"] = jnp.maximum(jnp.where(jnp.isfinite(a), a, 0.05), 0.05)
    return out


def _variance(fam: Family, mu: jax.Array, y: jax.Array) -> jax.Array:
    if isinstance(fam, NegativeBinomial) and fam.alpha is None:
        return mu + 0.1 * mu * mu  # a working α for the start only
    return fam.variance(mu)
