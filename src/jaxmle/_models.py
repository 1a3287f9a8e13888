"""Models: pure pointwise log-likelihoods bundled with priors, constraints, init and closed forms.

Every model is a frozen dataclass registered as a pytree: known arrays (a known variance or
covariance, the priors' hyperparameters) are data leaves and flags (``intercept``) are static, so
a model passes through ``jax.jit``/``vmap`` like any other argument.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy import special, stats

from . import _xla
from ._constraints import Constraint, positive, real, unit_interval
from ._errors import InputError
from ._priors import Beta, Normal, Prior, Uniform, _as_leaf, _is_value
from ._validation import (
    as_array,
    check_binary,
    check_count,
    check_positive,
    check_same_length,
    is_concrete,
)

__all__ = ["Bernoulli", "LinearRegression", "LogisticRegression", "Model", "Poisson"]

Params = dict[str, jax.Array]
_HIGHEST = jax.lax.Precision.HIGHEST  # exact float32 matmuls on GPU/TPU too
_LOG_2PI = float(np.log(2.0 * np.pi))


def _dtype(x: Any) -> Any:
    """The data's floating dtype, or JAX's default float, for a model's starting values."""
    dt = getattr(x, "dtype", None)
    if dt is None or not jnp.issubdtype(dt, jnp.floating):
        return jnp.result_type(float)
    return jax.dtypes.canonicalize_dtype(dt)  # NumPy float64 data without x64: float32, no warning


def _clip_to(prior: Uniform, value: jax.Array) -> jax.Array:
    # With a log-likelihood concave in the parameter, the MAP under a uniform prior is the
    # MLE clipped to the prior's support.
    return jnp.clip(value, prior.low, prior.high)


class Model:
    """Base class: a pointwise log-likelihood with priors, constraints, init and a closed form.

    Subclasses define ``constraints``, ``log_prob``, ``init``, ``validate`` and, where an exact
    estimator exists, ``_closed_form_kernel`` (traced) and ``_no_closed_form`` (why not).

    Attributes:
        prior: optional mapping from parameter name to :class:`~jaxmle.models.Prior`; the
            prior's log-density is evaluated on natural parameters.
    """

    prior: Mapping[str, Prior] | None

    def __post_init__(self) -> None:
        self._check_fields()
        self._check_prior()

    def _check_fields(self) -> None:
        """Checks and normalises the model's own fields (known variances and the like)."""

    def _check_prior(self) -> None:
        if self.prior is None:
            return
        if not isinstance(self.prior, Mapping):
            raise InputError(
                f"`prior` must be a dict from parameter name to prior, e.g. "
                f"{{'{self.param_names[0]}': Normal(0.0, scale=1.0)}}; got {type(self.prior)}."
            )
        prior = dict(self.prior)  # a plain dict is a pytree, other mappings may not be
        object.__setattr__(self, "prior", prior)
        unknown = sorted(set(prior) - set(self.param_names))
        if unknown:
            raise InputError(
                f"`prior` has key(s) {unknown} that are not parameters of "
                f"{type(self).__name__}; its parameters are {list(self.param_names)}."
            )
        for name, p in prior.items():
            if not isinstance(p, Prior):
                raise InputError(
                    f"`prior['{name}']` must be a prior such as Normal, Beta or Uniform; "
                    f"got {type(p).__name__}."
                )

    @property
    def constraints(self) -> dict[str, Constraint]:
        """The constraint of every parameter, keyed like the params dict."""
        raise NotImplementedError

    @property
    def param_names(self) -> tuple[str, ...]:
        """The parameter names, in the params dict's order."""
        return tuple(self.constraints)

    def log_prob(self, params: Params, data: Any) -> jax.Array:
        """Pointwise log-likelihood: one log-density per observation, not summed.

        Args:
            params: natural parameters, a dict keyed by ``param_names``.
            data: the observations (validated, see :meth:`validate`).

        Returns:
            Array of shape ``(n,)``.
        """
        raise NotImplementedError

    def log_prior(self, params: Params) -> jax.Array:
        """Sum of the priors' log-densities over every parameter that has a prior.

        Args:
            params: natural parameters.

        Returns:
            A scalar; ``0.0`` when the model has no prior.
        """
        total = jnp.asarray(0.0)  # weakly typed: takes the params' float dtype
        for name, p in (self.prior or {}).items():
            total = total + jnp.sum(p.log_prob(params[name]))
        return total

    def to_unconstrained(self, params: Params) -> Params:
        """Maps natural parameters to unconstrained space through :attr:`constraints`.

        Args:
            params: natural parameters.

        Returns:
            Unconstrained parameters, same keys.
        """
        return {k: c.to_unconstrained(params[k]) for k, c in self.constraints.items()}

    def to_natural(self, uparams: Params) -> Params:
        """Maps unconstrained parameters to natural space through :attr:`constraints`.

        Args:
            uparams: unconstrained parameters.

        Returns:
            Natural parameters, same keys.
        """
        return {k: c.to_natural(uparams[k]) for k, c in self.constraints.items()}

    def init(self, data: Any) -> Params:
        """A deterministic, data-shaped default starting point (natural space).

        Args:
            data: the observations; only their shape and dtype are used.

        Returns:
            Natural parameters (zeros for means and coefficients, ones for variances and
            rates, the identity for covariances, 0.5 for probabilities).
        """
        raise NotImplementedError

    def validate(self, data: Any) -> Any:
        """Checks concrete data at the public boundary and converts it to float arrays.

        Args:
            data: the observations.

        Returns:
            The data as JAX arrays, in the structure ``log_prob`` expects.

        Raises:
            InputError: on empty data, NaN/inf, a wrong rank, mismatched lengths or values
                outside the model's support; the message names the offending argument.
        """
        raise NotImplementedError

    def suff_stats(self, data: Any) -> tuple[Any, Any] | None:
        """Per-observation sufficient statistics, or None when the model has none.

        When the summed log-likelihood of any set of rows is a function of the sum of a few
        per-row statistics (exponential families), the engine gathers and sums those for a
        minibatch and differentiates a function of the sums, instead of evaluating and
        differentiating :meth:`log_prob` row by row; a full-batch objective is then O(1) per
        step. Traceable; the engine calls it once per compiled call, not per step.

        Args:
            data: the observations (validated, see :meth:`validate`).

        Returns:
            ``(rows, anchor)``: ``rows`` a pytree of ``(n, ...)`` arrays whose sums over a set
            of rows feed :meth:`log_lik_from_stats`; ``anchor`` a pytree of constants computed
            from all of the data (a centring point that keeps the sums free of cancellation).
            ``None`` (the default) when the model has no such statistics.
        """
        return None

    def log_lik_from_stats(
        self, params: Params, total: Any, count: jax.Array, anchor: Any
    ) -> jax.Array:
        """``Σ_i log p(x_i | params)`` over a set of rows, from the sums of their statistics.

        Args:
            params: natural parameters.
            total: the sum over the set of rows of :meth:`suff_stats`'s ``rows``.
            count: the number of rows in the set.
            anchor: :meth:`suff_stats`'s ``anchor``.

        Returns:
            A scalar equal (up to rounding) to ``log_prob(params, rows).sum()``.
        """
        raise NotImplementedError(f"{type(self).__name__} has no sufficient statistics.")

    def _no_closed_form(self) -> str | None:
        """Why this model (with its prior) has no closed form, or None when it has one."""
        return f"{type(self).__name__} has no closed-form estimator; fit it with jaxmle.fit."

    def _closed_form_kernel(self, data: Any) -> Params:
        raise NotImplementedError

    def _closed_form_diagnosed(self, data: Any) -> tuple[Params, Any]:
        """Traced: the closed form and what :meth:`_check_closed_form` needs (None: nothing)."""
        return self._closed_form_kernel(data), None

    def _check_closed_form_shapes(self, data: Any) -> None:
        """Host-side, before compiling: raises when the data's shapes admit no unique estimate."""

    def _check_closed_form(self, data: Any, params: Params, diagnostics: Any) -> None:
        """Host-side, after solving: raises when the estimate is not unique (rank, singular)."""

    @property
    def has_closed_form(self) -> bool:
        """Whether :meth:`closed_form` is available for this model and prior."""
        return self._no_closed_form() is None

    def closed_form(self, data: Any) -> Params:
        """The exact MLE (or MAP when the model has a prior), jitted.

        Args:
            data: the observations.

        Returns:
            Natural parameters in the same dict structure as :meth:`init`'s.

        Raises:
            NotImplementedError: when no closed form exists for this model and prior.
            InputError: when the data fail :meth:`validate`.
            RankDeficientError: when the estimate is not unique, by the rules of the matching
                :mod:`jaxmle.closed_form` function: a rank-deficient design for a linear
                regression (as :func:`jaxmle.closed_form.ols`), ``n <= k`` or collinear
                columns for a multivariate Gaussian's covariance (as
                :func:`jaxmle.closed_form.mvn_mle`).
        """
        reason = self._no_closed_form()
        if reason is not None:
            raise NotImplementedError(f"{type(self).__name__}.closed_form: {reason}")
        data = self.validate(data)
        self._check_closed_form_shapes(data)
        params, diagnostics = _closed_form(self, data)
        self._check_closed_form(data, params, diagnostics)
        return params


@_xla.jit
def _closed_form(model: Model, data: Any) -> tuple[Params, Any]:
    # One jitted entry point for every model: the model is a pytree (its static flags and
    # class are part of the cache key), so each model type compiles once per data shape.
    # The diagnostics (e.g. a condition number) come out of the same program; the host checks
    # them after it, so a rank check costs no extra compilation.
    return model._closed_form_diagnosed(data)


def _check_known_positive(value: Any, name: str) -> Any:
    if _is_value(value):
        check_positive(value, name, what="variance")
    return _as_leaf(value)


def _regression_data(data: Any, *, weight: bool) -> dict[str, jax.Array]:
    """Validates ``{"X": (n, d), "y": (n,)[, "weight": (n,)]}``."""
    keys = "'X' (n, d) and 'y' (n,)" + (", optionally 'weight' (n,)" if weight else "")
    if not isinstance(data, Mapping) or not {"X", "y"} <= set(data):
        raise InputError(f"`data` must be a dict with keys {keys}.")
    extra = sorted(set(data) - {"X", "y", *(("weight",) if weight else ())})
    if extra:
        raise InputError(f"`data` has unexpected key(s) {extra}; expected keys {keys}.")
    # (Host arrays stay on the host: the program's call moves them, cheaper than device_put.)
    X = as_array(data["X"], "data['X']", ndim=2, host=True)
    if X.shape[1] < 1:
        raise InputError("`data['X']` has no columns; pass at least one feature.")
    out = {"X": X, "y": as_array(data["y"], "data['y']", ndim=1, host=True)}
    if weight and data.get("weight") is not None:
        w = as_array(data["weight"], "data['weight']", ndim=1, host=True)
        check_positive(w, "data['weight']", what="weight per observation")
        out["weight"] = w
    check_same_length({f"data['{k}']": v for k, v in out.items()})
    return out


_LINREG_FIX = (
    "Drop or combine collinear columns, give `coef` a Normal prior (a ridge MAP), or use "
    "jaxmle.closed_form.ols(X, y, rank_deficient='warn') for the minimum-norm solution."
)


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class LinearRegression(Model):
    """Linear regression with Gaussian noise, optionally weighted (WLS).

    ``y_i ~ N(x_i·coef + intercept, σ² / w_i)`` with weights ``w_i > 0`` (1 when absent).
    Params are ``{"coef": (d,)}`` plus ``"intercept": ()`` when ``intercept`` and
    ``"variance": ()`` (σ²) when ``noise_variance`` is None. Data is a dict
    ``{"X": (n, d), "y": (n,)}`` with an optional ``"weight": (n,)``.

    Args:
        noise_variance: known noise variance σ² (> 0), or None to estimate it.
        intercept: whether the model has an intercept (static).
        prior: optional priors keyed by parameter name. With a known noise variance, a Normal
            prior on ``"coef"`` with one shared scale τ has a closed-form MAP (ridge with
            penalty σ²/τ²).

    Example:
        >>> LinearRegression(noise_variance=0.01, intercept=False).param_names
        ('coef',)
    """

    noise_variance: Any = None
    intercept: bool = field(default=True, metadata={"static": True})
    prior: Mapping[str, Prior] | None = None

    def _check_fields(self) -> None:
        nv = _check_known_positive(self.noise_variance, "noise_variance")
        object.__setattr__(self, "noise_variance", nv)

    @property
    def constraints(self) -> dict[str, Constraint]:
        """``coef``, ``intercept``: real; ``variance`` (when estimated): positive."""
        c = {"coef": real}
        if self.intercept:
            c["intercept"] = real
        if self.noise_variance is None:
            c["variance"] = positive
        return c

    def log_prob(self, params: Params, data: Mapping[str, jax.Array]) -> jax.Array:
        """Pointwise ``log N(y_i | x_i·coef + b, σ²/w_i)``, shape ``(n,)``."""
        mu = jnp.matmul(data["X"], params["coef"], precision=_HIGHEST)
        if self.intercept:
            mu = mu + params["intercept"]
        var = params["variance"] if self.noise_variance is None else self.noise_variance
        if data.get("weight") is not None:
            var = var / data["weight"]
        return stats.norm.logpdf(data["y"], mu, jnp.sqrt(var))

    def init(self, data: Mapping[str, Any]) -> Params:
        """``{"coef": zeros(d)[, "intercept": 0.0][, "variance": 1.0]}``; see :meth:`Model.init`."""
        d, dt = jnp.shape(data["X"])[1], _dtype(data["X"])
        p = {"coef": np.zeros(d, dt)}
        if self.intercept:
            p["intercept"] = np.zeros((), dt)
        if self.noise_variance is None:
            p["variance"] = np.ones((), dt)
        return p

    def validate(self, data: Any) -> dict[str, jax.Array]:
        """``data['X']`` (n, d), ``data['y']`` (n,), optional positive ``data['weight']`` (n,).

        See :meth:`Model.validate`.
        """
        return _regression_data(data, weight=True)

    def _no_closed_form(self) -> str | None:
        prior = self.prior or {}
        if not prior:
            return None
        if self.noise_variance is None:
            return (
                "MAP with an unknown noise variance has no closed form here; pass a known "
                "`noise_variance` or fit it with jaxmle.fit."
            )
        if set(prior) != {"coef"}:
            return (
                f"only a Normal prior on 'coef' alone has a closed-form MAP (ridge); got priors "
                f"on {sorted(prior)}. Fit it with jaxmle.fit."
            )
        p = prior["coef"]
        if not isinstance(p, Normal):
            return f"a {type(p).__name__} prior on 'coef' has no closed-form MAP (Normal does)."
        if jnp.ndim(p.scale) != 0:
            return (
                "the closed-form ridge MAP needs one prior scale shared by all coefficients; "
                f"got a scale of shape {jnp.shape(p.scale)}."
            )
        return None

    def _closed_form_kernel(self, data: Mapping[str, jax.Array]) -> Params:
        return self._closed_form_diagnosed(data)[0]

    def _check_closed_form_shapes(self, data: Mapping[str, jax.Array]) -> None:
        from ._rank import check_rank

        n, d = data["X"].shape
        p = d + int(self.intercept)
        if not self.prior and n < p:
            check_rank(float("inf"), n, p, data["X"].dtype, x_name="data['X']",
                       intercept=self.intercept, fix=_LINREG_FIX)  # fmt: skip

    def _check_closed_form(self, data: Mapping[str, jax.Array], params: Params,
                           cond: jax.Array) -> None:  # fmt: skip
        from ._rank import check_rank

        if self.prior or not is_concrete(cond):
            return  # a ridge MAP (a Normal prior with a positive scale) is always unique
        n, d = data["X"].shape
        check_rank(float(cond), n, d + int(self.intercept), data["X"].dtype,
                   x_name="data['X']", intercept=self.intercept, fix=_LINREG_FIX)  # fmt: skip

    def _closed_form_diagnosed(self, data: Mapping[str, jax.Array]) -> tuple[Params, jax.Array]:
        from ._lstsq import lstsq

        X, y, w = data["X"], data["y"], data.get("weight")
        prior = (self.prior or {}).get("coef")
        if prior is None:
            fit = lstsq(X, y, w, intercept=self.intercept)
            coef = fit.coef
        else:
            # Normal(m, τ²) prior with known σ²: minimise Σ w r² + (σ²/τ²)‖coef − m‖², i.e. a
            # ridge regression of y − X m on X, shifted back by m.
            m = jnp.broadcast_to(jnp.asarray(prior.loc, X.dtype), (X.shape[1],))
            ridge = self.noise_variance / prior.scale**2
            y0 = y - jnp.matmul(X, m, precision=_HIGHEST)
            fit = lstsq(X, y0, w, intercept=self.intercept, ridge=ridge)
            coef = fit.coef + m
        out = {"coef": coef}
        if self.intercept:
            out["intercept"] = fit.intercept
        if self.noise_variance is None:
            out["variance"] = fit.rss / X.shape[0]  # MLE: weighted RSS over (unweighted) n
        return out, fit.cond


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class Bernoulli(Model):
    """Bernoulli ``x_i ~ Bernoulli(prob)`` with ``x_i`` in {0, 1}.

    Params are ``{"prob": ()}`` (unit-interval constraint). Data is an array of shape ``(n,)``.

    Args:
        prior: optional ``{"prob": prior}``; Beta, Normal and Uniform priors have closed-form
            MAPs.

    Example:
        >>> Bernoulli(prior={"prob": Beta(2.0, 2.0)}).has_closed_form
        True
    """

    prior: Mapping[str, Prior] | None = None

    @property
    def constraints(self) -> dict[str, Constraint]:
        """``prob``: unit interval."""
        return {"prob": unit_interval}

    def log_prob(self, params: Params, data: jax.Array) -> jax.Array:
        """Pointwise ``log Bernoulli(x_i | prob)``, shape ``(n,)``; see :meth:`Model.log_prob`."""
        return stats.bernoulli.logpmf(data, params["prob"])

    def suff_stats(self, data: jax.Array) -> tuple[jax.Array, None]:
        """Rows ``x_i`` (the sum counts the ones); no anchor. See :meth:`Model.suff_stats`."""
        return data[:, None].astype(jnp.result_type(float)), None

    def log_lik_from_stats(
        self, params: Params, total: jax.Array, count: jax.Array, anchor: None
    ) -> jax.Array:
        """``k log p + (m − k) log(1 − p)`` for ``k`` ones in ``m`` rows."""
        p = params["prob"]
        return special.xlogy(total[0], p) + special.xlog1py(count - total[0], -p)

    def init(self, data: jax.Array) -> Params:
        """``{"prob": 0.5}``; see :meth:`Model.init`."""
        return {"prob": np.full((), 0.5, _dtype(data))}

    def validate(self, data: Any) -> jax.Array:
        """``data``: shape ``(n,)``, values in {0, 1}; see :meth:`Model.validate`."""
        x = as_array(data, "data", ndim=1)
        check_binary(x, "data")
        return x

    def _no_closed_form(self) -> str | None:
        p = (self.prior or {}).get("prob")
        if p is None or isinstance(p, Beta | Normal | Uniform):
            return None
        return f"a {type(p).__name__} prior on 'prob' has no closed-form MAP; use jaxmle.fit."

    def _closed_form_kernel(self, x: jax.Array) -> Params:
        from ._estimators import (
            bernoulli_map_beta_kernel,
            bernoulli_map_normal_kernel,
            bernoulli_mle_kernel,
        )

        p = (self.prior or {}).get("prob")
        if isinstance(p, Beta):
            return bernoulli_map_beta_kernel(x, p.a, p.b)
        if isinstance(p, Normal):
            return bernoulli_map_normal_kernel(x, p.loc, p.scale)
        mle = bernoulli_mle_kernel(x)
        if isinstance(p, Uniform):  # Uniform(0, 1) leaves the MLE unchanged
            return {"prob": _clip_to(p, mle["prob"])}
        return mle


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class Poisson(Model):
    """Poisson ``x_i ~ Poisson(rate)`` for non-negative integer counts.

    Params are ``{"rate": ()}`` (positive). Data is an array of counts of shape ``(n,)``.

    Args:
        prior: optional ``{"rate": prior}``; only a Uniform prior has a closed-form MAP.

    Example:
        >>> Poisson().param_names
        ('rate',)
    """

    prior: Mapping[str, Prior] | None = None

    @property
    def constraints(self) -> dict[str, Constraint]:
        """``rate``: positive."""
        return {"rate": positive}

    def log_prob(self, params: Params, data: jax.Array) -> jax.Array:
        """Pointwise ``log Poisson(x_i | rate)``, shape ``(n,)``; see :meth:`Model.log_prob`."""
        return stats.poisson.logpmf(data, params["rate"])

    def suff_stats(self, data: jax.Array) -> tuple[jax.Array, None]:
        """Rows ``(x_i, log x_i!)``; no anchor. See :meth:`Model.suff_stats`."""
        x = data.astype(jnp.result_type(float))
        return jnp.stack([x, special.gammaln(x + 1.0)], axis=-1), None

    def log_lik_from_stats(
        self, params: Params, total: jax.Array, count: jax.Array, anchor: None
    ) -> jax.Array:
        """``Σx log λ − mλ − Σ log x!``; see :meth:`Model.suff_stats`."""
        rate = params["rate"]
        return special.xlogy(total[0], rate) - count * rate - total[1]

    def init(self, data: jax.Array) -> Params:
        """``{"rate": 1.0}``; see :meth:`Model.init`."""
        return {"rate": np.ones((), _dtype(data))}

    def validate(self, data: Any) -> jax.Array:
        """``data``: shape ``(n,)``, non-negative integer counts; see :meth:`Model.validate`."""
        x = as_array(data, "data", ndim=1)
        check_count(x, "data")
        return x

    def _no_closed_form(self) -> str | None:
        p = (self.prior or {}).get("rate")
        if p is None or isinstance(p, Uniform):
            return None
        return f"a {type(p).__name__} prior on 'rate' has no closed-form MAP; use jaxmle.fit."

    def _closed_form_kernel(self, x: jax.Array) -> Params:
        from ._estimators import poisson_mle_kernel

        mle = poisson_mle_kernel(x)
        p = (self.prior or {}).get("rate")
        return {"rate": _clip_to(p, mle["rate"])} if isinstance(p, Uniform) else mle


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class LogisticRegression(Model):
    """Logistic regression ``y_i ~ Bernoulli(sigmoid(x_i·coef + intercept))``.

    Params are ``{"coef": (d,)}`` plus ``"intercept": ()`` when ``intercept``. Data is a dict
    ``{"X": (n, d), "y": (n,)}`` with ``y`` in {0, 1}. There is no closed form.

    Args:
        intercept: whether the model has an intercept (static).
        prior: optional priors keyed by parameter name.

    Example:
        >>> LogisticRegression().param_names
        ('coef', 'intercept')
    """

    intercept: bool = field(default=True, metadata={"static": True})
    prior: Mapping[str, Prior] | None = None

    @property
    def constraints(self) -> dict[str, Constraint]:
        """``coef``, ``intercept``: real."""
        c = {"coef": real}
        if self.intercept:
            c["intercept"] = real
        return c

    def log_prob(self, params: Params, data: Mapping[str, jax.Array]) -> jax.Array:
        """Pointwise ``y log σ(η) + (1 − y) log σ(−η)``, shape ``(n,)``; see ``Model.log_prob``."""
        eta = jnp.matmul(data["X"], params["coef"], precision=_HIGHEST)
        if self.intercept:
            eta = eta + params["intercept"]
        y = data["y"]
        # log_sigmoid is stable for large |η|, where log(sigmoid(η)) underflows to -inf.
        return y * jax.nn.log_sigmoid(eta) + (1 - y) * jax.nn.log_sigmoid(-eta)

    def init(self, data: Mapping[str, Any]) -> Params:
        """``{"coef": zeros(d)[, "intercept": 0.0]}``; see :meth:`Model.init`."""
        d, dt = jnp.shape(data["X"])[1], _dtype(data["X"])
        p = {"coef": np.zeros(d, dt)}
        if self.intercept:
            p["intercept"] = np.zeros((), dt)
        return p

    def validate(self, data: Any) -> dict[str, jax.Array]:
        """``data['X']`` (n, d) and ``data['y']`` (n,) in {0, 1}; see :meth:`Model.validate`."""
        out = _regression_data(data, weight=False)
        check_binary(out["y"], "data['y']")
        return out

    def _no_closed_form(self) -> str | None:
        return (
            "logistic regression has no closed-form estimator; fit it with jaxmle.fit "
            "(e.g. optax.lbfgs())."
        )
