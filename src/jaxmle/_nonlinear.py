"""Nonlinear regression: ``y_i = f(θ, x_i) + ε_i`` with Gaussian noise, as a model.

The mean function is the user's; the model adds the Gaussian likelihood, the residuals that
:func:`jaxmle.mle` solves by Levenberg–Marquardt, and the regression-convention covariance
``s² (JᵀJ)⁻¹`` with ``s² = RSS/(n − p)`` (NIST's and statsmodels') in :mod:`jaxmle.inference`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy import stats

from ._constraints import Constraint, positive, real
from ._errors import InputError
from ._models import Model, _check_known_positive
from ._priors import Prior
from ._validation import as_array, check_positive, check_same_length, n_rows

__all__ = ["NonlinearRegression"]

Params = dict[str, Any]


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class NonlinearRegression(Model):
    """Nonlinear regression ``y_i ~ N(f(θ, x_i), σ² / w_i)`` for a user mean function ``f``.

    Params are ``{"theta": θ, "variance": σ²}`` (``{"theta": θ}`` when ``noise_variance`` is
    known); ``θ`` is any pytree of arrays that ``mean_fn`` takes (a vector, or a dict of named
    scalars). Data is a dict ``{"x": ..., "y": (n,)}`` with an optional ``"weight": (n,)``;
    ``x`` is any pytree of arrays with leading axis ``n`` (a vector, an ``(n, d)`` matrix).

    :func:`jaxmle.mle` solves it as least squares (Levenberg–Marquardt with the exact
    Jacobian) and reports ``variance = RSS/n`` (the MLE); its covariance is by default the
    regression convention ``s²(JᵀJ)⁻¹``, ``s² = RSS/(n − p)`` (``cov_type="classical"``).

    Args:
        mean_fn: ``f(theta, x) -> (n,)``, pure and differentiable in ``theta`` (static: a new
            function object compiles anew).
        noise_variance: known noise variance σ² (> 0), or None to estimate it.
        prior: optional priors keyed by parameter name (``"theta"`` takes a prior on the
            whole pytree's leaves only when θ is an array).

    Example:
        >>> import jax.numpy as jnp
        >>> def f(theta, x):
        ...     return theta[0] * (1.0 - jnp.exp(-theta[1] * x))
        >>> NonlinearRegression(f).param_names
        ('theta', 'variance')
    """

    mean_fn: Callable = field(default=None, metadata={"static": True})
    noise_variance: Any = None
    prior: Mapping[str, Prior] | None = None

    def _check_fields(self) -> None:
        if not callable(self.mean_fn):
            raise InputError(
                "`mean_fn` must be a function f(theta, x) -> (n,) giving the regression mean; "
                f"got {type(self.mean_fn).__name__}."
            )
        nv = _check_known_positive(self.noise_variance, "noise_variance")
        object.__setattr__(self, "noise_variance", nv)

    @property
    def constraints(self) -> dict[str, Constraint]:
        """``theta``: real (every leaf); ``variance`` (when estimated): positive."""
        c = {"theta": real}
        if self.noise_variance is None:
            c["variance"] = positive
        return c

    def to_unconstrained(self, params: Params) -> Params:
        """See :meth:`Model.to_unconstrained` (θ may be a pytree: it is left as it is)."""
        out = {"theta": jax.tree_util.tree_map(jnp.asarray, params["theta"])}
        if self.noise_variance is None:
            out["variance"] = positive.to_unconstrained(params["variance"])
        return out

    def to_natural(self, uparams: Params) -> Params:
        """See :meth:`Model.to_natural`."""
        out = {"theta": uparams["theta"]}
        if self.noise_variance is None:
            out["variance"] = positive.to_natural(uparams["variance"])
        return out

    def mean(self, theta: Any, data: Mapping[str, Any]) -> jax.Array:
        """The regression mean ``f(θ, x)``, shape ``(n,)``."""
        return jnp.asarray(self.mean_fn(theta, data["x"]))

    def residuals(self, theta: Any, data: Mapping[str, Any]) -> jax.Array:
        """Weighted residuals ``√w_i (y_i − f(θ, x_i))``, shape ``(n,)``: least squares' ``r``."""
        r = data["y"] - self.mean(theta, data)
        w = data.get("weight")
        return r if w is None else jnp.sqrt(w) * r

    def log_prob(self, params: Params, data: Mapping[str, Any]) -> jax.Array:
        """Pointwise ``log N(y_i | f(θ, x_i), σ²/w_i)``, shape ``(n,)``."""
        var = params["variance"] if self.noise_variance is None else self.noise_variance
        w = data.get("weight")
        if w is not None:
            var = var / w
        return stats.norm.logpdf(data["y"], self.mean(params["theta"], data), jnp.sqrt(var))

    def init(self, data: Any) -> Params:
        """There is no generic start for a nonlinear mean: pass ``params0`` (raises)."""
        raise InputError(
            "NonlinearRegression has no default starting point: pass params0={'theta': ...} "
            "(the mean function's parameters; the variance is estimated from the residuals)."
        )

    def validate(self, data: Any) -> dict[str, Any]:
        """``data['x']`` (any pytree, leading axis n), ``data['y']`` (n,), optional weights.

        See :meth:`Model.validate`.
        """
        keys = "'x' (leading axis n) and 'y' (n,), optionally 'weight' (n,)"
        if not isinstance(data, Mapping) or not {"x", "y"} <= set(data):
            raise InputError(f"`data` must be a dict with keys {keys}.")
        extra = sorted(set(data) - {"x", "y", "weight"})
        if extra:
            raise InputError(f"`data` has unexpected key(s) {extra}; expected keys {keys}.")
        x = jax.tree_util.tree_map(lambda a: as_array(a, "data['x']"), data["x"])
        out = {"x": x, "y": as_array(data["y"], "data['y']", ndim=1)}
        if data.get("weight") is not None:
            w = as_array(data["weight"], "data['weight']", ndim=1)
            check_positive(w, "data['weight']", what="weight per observation")
            out["weight"] = w
        n = n_rows(out["x"])
        check_same_length({"data['y']": out["y"], **({"data['weight']": out["weight"]}
                                                     if "weight" in out else {})})  # fmt: skip
        if n != out["y"].shape[0]:
            raise InputError(
                f"`data['x']` has {n} rows but `data['y']` has {out['y'].shape[0]}; one row per "
                "observation."
            )
        return out

    def check_theta(self, theta: Any, data: Mapping[str, Any]) -> None:
        """Checks that ``mean_fn(theta, x)`` has shape ``(n,)`` (by tracing only).

        Raises:
            InputError: naming the shape ``mean_fn`` returned.
        """
        n = np.shape(data["y"])[0]
        try:
            out = jax.eval_shape(self.mean_fn, theta, data["x"])
        except Exception as err:
            raise InputError(f"`mean_fn(theta, x)` failed on params0['theta']: {err}") from err
        if not hasattr(out, "shape") or tuple(out.shape) != (n,):
            raise InputError(
                f"`mean_fn(theta, x)` must return one mean per observation, shape ({n},); got "
                f"{getattr(out, 'shape', type(out).__name__)}."
            )

    def _no_closed_form(self) -> str | None:
        return "a nonlinear regression has no closed form; use jaxmle.mle."
