"""Priors for MAP estimation: small frozen dataclasses registered as pytrees.

Each prior's ``log_prob(value)`` is elementwise (the model sums it over the parameter's
entries). Construction checks concrete values; when JAX rebuilds a prior from its leaves (inside
``jit``/``vmap``, or with placeholder leaves while flattening axes specs) the checks are skipped.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, InitVar, dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy import stats

from ._errors import InputError
from ._validation import check_positive, is_concrete

__all__ = ["Beta", "Normal", "Prior", "Uniform"]


def _is_value(x: Any) -> bool:
    """True for concrete numbers and arrays, False for tracers and JAX's placeholder leaves."""
    numeric = (bool, int, float, np.ndarray, np.generic, jax.Array, list, tuple)
    return isinstance(x, numeric) and is_concrete(x)


def _as_leaf(x: Any) -> Any:
    # Sequences become arrays so they are one pytree leaf; Python scalars stay weakly typed.
    return jnp.asarray(x) if isinstance(x, list | tuple | np.ndarray) else x


def _check_finite(x: Any, name: str) -> None:
    if _is_value(x) and not np.all(np.isfinite(np.asarray(x, dtype=float))):
        raise InputError(f"`{name}` must be finite; got {x!r}.")


def _fmt(x: Any) -> str:
    """Compact text for a prior's hyperparameter (value when concrete, shape when traced)."""
    if not _is_value(x):
        return f"<{getattr(x, 'dtype', type(x).__name__)}{list(getattr(x, 'shape', ()))}>"
    v = np.asarray(x, dtype=float)
    if v.ndim == 0:
        return f"{float(v):.6g}"
    return np.array2string(v, precision=6, separator=", ", threshold=8)


class Prior:
    """Base class of the priors: ``log_prob(value)`` is an elementwise log-density."""

    def log_prob(self, value: jax.Array) -> jax.Array:
        """Elementwise log-density of the prior.

        Args:
            value: parameter value (any shape broadcastable with the hyperparameters).

        Returns:
            The log-density at every entry of ``value``.
        """
        raise NotImplementedError


@jax.tree_util.register_dataclass
@dataclass(frozen=True, repr=False)
class Normal(Prior):
    """Gaussian prior ``N(loc, scale**2)``.

    Exactly one of ``scale`` (standard deviation σ) and ``variance`` (σ²) must be given, by
    keyword: a notation such as N(0.5, 0.1) is ambiguous, so the prior makes the caller say
    which one is meant. The standard deviation is what is stored.

    Args:
        loc: mean of the prior.
        scale: standard deviation σ > 0.
        variance: variance σ² > 0 (stored as ``scale = sqrt(variance)``).

    Example:
        >>> Normal(0.5, variance=0.01)
        Normal(loc=0.5, scale=0.1)
    """

    loc: Any
    _: KW_ONLY
    scale: Any = None
    variance: InitVar[Any] = None

    def __post_init__(self, variance: Any) -> None:
        if (self.scale is None) == (variance is None):
            got = "both" if variance is not None else "neither"
            raise InputError(
                f"Normal prior: pass exactly one of `scale` (standard deviation σ) or "
                f"`variance` (σ²), by keyword; got {got}. For example N(0.5, 0.1) is "
                "Normal(0.5, scale=0.1) if 0.1 is σ, Normal(0.5, variance=0.1) if it is σ²."
            )
        if variance is not None:
            if _is_value(variance):
                check_positive(variance, "variance", what="prior variance")
            object.__setattr__(self, "scale", jnp.sqrt(jnp.asarray(variance)))
        elif _is_value(self.scale):
            check_positive(self.scale, "scale", what="prior standard deviation")
        _check_finite(self.loc, "loc")
        object.__setattr__(self, "loc", _as_leaf(self.loc))
        object.__setattr__(self, "scale", _as_leaf(self.scale))

    def log_prob(self, value: jax.Array) -> jax.Array:
        """Elementwise log-density ``log N(value | loc, scale**2)``.

        Args:
            value: parameter value.

        Returns:
            The log-density at every entry of ``value``.
        """
        return stats.norm.logpdf(value, self.loc, self.scale)

    def __repr__(self) -> str:
        return f"Normal(loc={_fmt(self.loc)}, scale={_fmt(self.scale)})"


@jax.tree_util.register_dataclass
@dataclass(frozen=True, repr=False)
class Beta(Prior):
    """Beta prior ``Beta(a, b)`` on ``(0, 1)``, the conjugate prior of a Bernoulli probability.

    Args:
        a: first shape parameter, > 0 (prior pseudo-count of successes).
        b: second shape parameter, > 0 (prior pseudo-count of failures).

    Example:
        >>> Beta(2.0, 2.0)
        Beta(a=2, b=2)
    """

    a: Any
    b: Any

    def __post_init__(self) -> None:
        for name in ("a", "b"):
            value = getattr(self, name)
            if _is_value(value):
                check_positive(value, name, what="Beta shape parameter")
            object.__setattr__(self, name, _as_leaf(value))

    def log_prob(self, value: jax.Array) -> jax.Array:
        """Elementwise log-density of ``Beta(a, b)`` (``-inf`` outside ``[0, 1]``).

        Args:
            value: parameter value.

        Returns:
            The log-density at every entry of ``value``.
        """
        return stats.beta.logpdf(value, self.a, self.b)

    def __repr__(self) -> str:
        return f"Beta(a={_fmt(self.a)}, b={_fmt(self.b)})"


@jax.tree_util.register_dataclass
@dataclass(frozen=True, repr=False)
class Uniform(Prior):
    """Uniform prior on ``[low, high]``.

    Args:
        low: lower bound.
        high: upper bound, > ``low``.

    Example:
        >>> Uniform(0.0, 1.0)
        Uniform(low=0, high=1)
    """

    low: Any
    high: Any

    def __post_init__(self) -> None:
        _check_finite(self.low, "low")
        _check_finite(self.high, "high")
        concrete = _is_value(self.low) and _is_value(self.high)
        if concrete and not np.all(np.asarray(self.low, float) < np.asarray(self.high, float)):
            raise InputError(
                f"Uniform prior: `low` must be smaller than `high`; got low={_fmt(self.low)}, "
                f"high={_fmt(self.high)}."
            )
        object.__setattr__(self, "low", _as_leaf(self.low))
        object.__setattr__(self, "high", _as_leaf(self.high))

    def log_prob(self, value: jax.Array) -> jax.Array:
        """Elementwise log-density ``-log(high - low)`` inside the bounds, ``-inf`` outside.

        Args:
            value: parameter value.

        Returns:
            The log-density at every entry of ``value``.
        """
        return stats.uniform.logpdf(value, self.low, self.high - self.low)

    def __repr__(self) -> str:
        return f"Uniform(low={_fmt(self.low)}, high={_fmt(self.high)})"
