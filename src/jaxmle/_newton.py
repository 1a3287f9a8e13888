"""A lean damped Newton minimiser: the first attempt of :func:`jaxmle.mle`'s ``"newton"``.

optimistix has no exact-Hessian minimiser, and its quasi-Newton loop with the Hessian put in
(:class:`jaxmle._solvers._ExactNewton`, kept as the fallback) costs more than the problems it
solves here. Measured on a Poisson regression as a plain ``log_prob`` (``benchmarks/latency.py``,
2 cores): that loop compiled in 2–4 s and evaluated the Hessian at every trial point, plus once
for scaling and four times for polishing; this one compiles in a fraction of that and evaluates
the Hessian once per accepted point, the last of which is the estimate's own curvature, handed
on to the convergence test and the covariance instead of being computed again.

The method is Levenberg–Marquardt-damped, saddle-free Newton in coordinates scaled to unit
curvature at the start (Marquardt's scaling): the step solves ``(|H| + λI) δ = −g`` with ``|H|``
the Hessian with its eigenvalues made positive, so negative curvature far from the optimum
becomes descent instead of a saddle (as in the fallback). ``λ`` follows the ratio of actual to
predicted decrease (a trust region in its Levenberg form). Once the Newton decrement
``gᵀ|H|⁻¹g`` is below ``decrement_tol`` one undamped step is taken on the quadratic model's
word (the objective is flat to its rounding there) and the loop stops: that step is the
polishing step, and the curvature at its end is the one returned.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

__all__ = ["NewtonState", "hessian", "newton"]


def hessian(f: Callable[[jax.Array], jax.Array]) -> Callable[[jax.Array], jax.Array]:
    """The Hessian of a scalar ``f`` as reverse-over-reverse (``jacrev(grad(f))``).

    jax.hessian is forward-over-reverse, which pushes an identity matrix through the model
    (``X @ I`` for a linear predictor): measured 6.5 ms against 3.8 ms reverse-over-reverse
    for a 10,000 × 50 Poisson regression, and level at small sizes (``/work`` scratch
    ``hess.py``, 2 cores).
    """
    return jax.jacrev(jax.grad(f))


class NewtonState(NamedTuple):
    """The loop's state; at the end, ``f``, ``aux``, ``g`` and ``H`` are those of ``x``."""

    x: jax.Array
    f: jax.Array
    aux: Any
    g: jax.Array
    H: jax.Array
    s: jax.Array  # Marquardt's scaling, 1/√|H_ii| at the start
    lam: jax.Array  # Levenberg damping, in the scaled coordinates
    steps: jax.Array
    done: jax.Array


def _step(H, g, s, lam):
    """The damped and the undamped saddle-free steps, the decrement, the predicted decrease.

    (The decrease of the damped step; scaled coordinates inside, natural ones out.)
    """
    Hs = 0.5 * (H + H.T) * s[:, None] * s[None, :]
    w, V = jnp.linalg.eigh(Hs)
    a = jnp.abs(w)
    a = jnp.maximum(a, 1e-12 * jnp.max(a))
    c = V.T @ (g * s)
    cd = c / (a + lam)
    predicted = jnp.sum(c * cd) - 0.5 * jnp.sum(a * cd**2)
    return -s * (V @ cd), -s * (V @ (c / a)), jnp.sum(c**2 / a), predicted, jnp.max(a)


def newton(
    fun: Callable[[jax.Array], tuple[jax.Array, Any]],
    x0: jax.Array,
    *,
    max_steps: int,
    decrement_tol: float,
) -> NewtonState:
    """Minimises ``fun(x)[0]`` from ``x0``; returns the final state (a bounded loop).

    The objective, its gradient and Hessian are evaluated at one place in the program (each
    trial point, the start included; a rejected trial's curvature is discarded): the
    compiled program holds one copy of the model's derivatives, which is what its compile
    time grows with.

    Args:
        fun: ``(k,) -> (scalar, aux)``, twice differentiable in its first output; ``aux`` is
            carried along (e.g. the log-likelihood, for the caller).
        x0: the start.
        max_steps: cap on the iterations (accepted and rejected steps alike).
        decrement_tol: the decrement ``gᵀ|H|⁻¹g`` below which one undamped step finishes.

    Returns:
        A :class:`NewtonState` whose ``f``, ``aux``, ``g``, ``H`` are those at its ``x``; ``x0``
        itself with ``f = inf`` when the objective is not finite there.
    """
    value_and_grad = jax.value_and_grad(fun, has_aux=True)
    hess = hessian(lambda x: fun(x)[0])
    k = x0.shape[0]
    dt = x0.dtype
    zero = jnp.zeros((), dt)
    aux0 = jax.tree_util.tree_map(lambda a: jnp.zeros(a.shape, a.dtype),
                                  jax.eval_shape(fun, x0)[1])  # fmt: skip

    def cond(st: NewtonState):
        return ~st.done & (st.steps < max_steps)

    def body(st: NewtonState) -> NewtonState:
        fresh = ~jnp.isfinite(st.f)  # the first trial is the start itself
        damped, plain, dec, pred, amax = _step(st.H, st.g, st.s, st.lam)
        small = ~fresh & (dec <= decrement_tol)
        # The final, polishing step is undamped.
        delta = jnp.where(fresh, 0.0, jnp.where(small, plain, damped))
        x_new = st.x + delta
        (f_new, aux), g = value_and_grad(x_new)
        H = hess(x_new)
        rho = (st.f - f_new) / jnp.where(pred > 0, pred, 1.0)
        finite = jnp.isfinite(f_new) & jnp.all(jnp.isfinite(x_new))
        accept = finite & (fresh | small | ((f_new < st.f) & (rho > 1e-4)))
        d = jnp.abs(jnp.diagonal(H))
        ok = jnp.isfinite(d) & (d > 0)
        s = jnp.where(fresh, jnp.where(ok, 1.0 / jnp.sqrt(jnp.where(ok, d, 1.0)), 1.0), st.s)
        pick = lambda a, b: jnp.where(accept, a, b)  # noqa: E731
        new = NewtonState(
            pick(x_new, st.x), pick(f_new, st.f),
            jax.tree_util.tree_map(pick, aux, st.aux), pick(g, st.g), pick(H, st.H), s,
            jnp.where(fresh, zero, jnp.where(
                accept,
                jnp.where(rho > 0.75, st.lam * 0.25, jnp.where(rho < 0.25, 2.0 * st.lam, st.lam)),
                jnp.maximum(10.0 * st.lam, 1e-3 * amax))),
            st.steps, st.done,
        )  # fmt: skip
        lam = jnp.where(new.lam < 1e-12 * amax, zero, new.lam)
        # A start or a curvature that is not finite cannot be stepped from; the polishing
        # step ends the loop. (Neither it nor the start's evaluation counts as a step.)
        stuck = ~(jnp.all(jnp.isfinite(new.g)) & jnp.all(jnp.isfinite(new.H)))
        stop = (fresh & ~accept) | small | stuck
        steps = st.steps + jnp.where(fresh | small, 0, 1).astype(st.steps.dtype)
        return new._replace(lam=lam, steps=steps, done=stop)

    init = NewtonState(x0, jnp.asarray(jnp.inf, dt), aux0, jnp.zeros(k, dt),
                       jnp.eye(k, dtype=dt), jnp.ones(k, dt), zero,
                       jnp.zeros((), jnp.int32), jnp.zeros((), bool))  # fmt: skip
    return jax.lax.while_loop(cond, body, init)
