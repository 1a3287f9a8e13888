"""Parameter constraints: bijections between natural and unconstrained parameter space.

Optimisers always work on unconstrained real arrays; every result is reported in natural
parameters. A :class:`Constraint` bundles the two directions as pure, jittable functions, in the
style of optax's ``GradientTransformation(init, update)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "Constraint",
    "positive",
    "positive_definite",
    "real",
    "simplex",
    "unit_interval",
]


class Constraint(NamedTuple):
    """A parameter's domain as a pair of mutually inverse, pure functions.

    Attributes:
        name: short human-readable name of the domain (e.g. ``"positive"``).
        to_natural: maps an unconstrained array to the parameter's natural domain.
        to_unconstrained: maps a natural value to unconstrained space (inverse of
            ``to_natural``).
    """

    name: str
    to_natural: Callable[[jax.Array], jax.Array]
    to_unconstrained: Callable[[jax.Array], jax.Array]


def _identity(x: jax.Array) -> jax.Array:
    # NumPy stays NumPy: a host start value reaches the program without an eager device op.
    return x if isinstance(x, np.ndarray) else jnp.asarray(x)


def _logit(x: jax.Array) -> jax.Array:
    # log(x) - log1p(-x) keeps full relative precision near both ends of (0, 1).
    return jnp.log(x) - jnp.log1p(-x)


def _cholesky_to_natural(u: jax.Array) -> jax.Array:
    # The strict lower triangle of u and the exponentiated diagonal form a Cholesky factor L
    # with positive diagonal, so L @ L.T is symmetric positive definite. The strict upper
    # triangle of u is ignored (its gradient is zero).
    eye = jnp.broadcast_to(jnp.eye(u.shape[-1], dtype=bool), u.shape)
    L = jnp.where(eye, jnp.exp(u), jnp.tril(u, -1))
    return jnp.matmul(L, jnp.swapaxes(L, -1, -2), precision=jax.lax.Precision.HIGHEST)


def _cholesky_to_unconstrained(x: jax.Array) -> jax.Array:
    L = jnp.linalg.cholesky(x)
    eye = jnp.broadcast_to(jnp.eye(x.shape[-1], dtype=bool), x.shape)
    # The inner where keeps log away from the (zero or negative) off-diagonal entries, so
    # neither the value nor the gradient picks up NaN from the branch that is not taken.
    return jnp.where(eye, jnp.log(jnp.where(eye, L, 1.0)), jnp.tril(L, -1))


def _alr_to_natural(u: jax.Array) -> jax.Array:
    # Softmax of the k - 1 free logits with the last logit pinned at 0.
    z = jnp.concatenate([u, jnp.zeros_like(u[..., :1])], axis=-1)
    return jax.nn.softmax(z, axis=-1)


def _alr_to_unconstrained(x: jax.Array) -> jax.Array:
    logx = jnp.log(x)
    return logx[..., :-1] - logx[..., -1:]


real = Constraint("real", _identity, _identity)
"""The whole real line: the identity map."""

positive = Constraint("positive", jnp.exp, jnp.log)
"""``(0, inf)``: natural ``exp(u)``, unconstrained ``log(x)``."""

unit_interval = Constraint("unit_interval", jax.nn.sigmoid, _logit)
"""``(0, 1)``: natural ``sigmoid(u)``, unconstrained ``logit(x) = log(x) - log1p(-x)``."""

positive_definite = Constraint(
    "positive_definite", _cholesky_to_natural, _cholesky_to_unconstrained
)
"""Symmetric positive-definite ``(k, k)`` matrices via a log-Cholesky parametrisation.

The unconstrained value is a ``(k, k)`` matrix ``U``; ``L = tril(U, -1) + diag(exp(diag(U)))``
and the natural value is ``L @ L.T``. The inverse takes ``L = cholesky(S)`` and returns a
lower-triangular ``U``. It is a bijection between lower-triangular matrices and SPD matrices;
the strict upper triangle of ``U`` is ignored by ``to_natural`` and returned as zeros.
"""

simplex = Constraint("simplex", _alr_to_natural, _alr_to_unconstrained)
"""The open probability simplex of ``k`` entries, via the additive log-ratio transform.

The unconstrained value has ``k - 1`` entries: ``to_natural(u) = softmax([u, 0])`` and
``to_unconstrained(p) = log(p[:-1]) - log(p[-1])``. Pinning the last logit at 0 makes this a
true bijection between ``R^(k-1)`` and the interior of the simplex (plain softmax is not:
adding a constant to every logit gives the same point). Note the shape change ``k - 1 <-> k``.
"""


def _host_logit(x: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(x) - np.log1p(-x)


def _host_log(x: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(x)


_HOST_MAPS = ((real, np.asarray), (positive, _host_log), (unit_interval, _host_logit))


def host_to_unconstrained(c: Constraint, x: object) -> object:
    """``c.to_unconstrained(x)``, in NumPy for a NumPy ``x`` and the elementwise built-ins.

    A start value checked at the public boundary then costs no eager device op (~50–100 µs
    each, measured). Values outside the domain come back non-finite, as from JAX.
    """
    if isinstance(x, np.ndarray | np.generic | float | int):
        f = next((f for b, f in _HOST_MAPS if c is b), None)
        if f is not None:
            dt = x.dtype if isinstance(x, np.ndarray | np.generic) else None
            return np.asarray(f(np.asarray(x, dt)))
    return c.to_unconstrained(x)
