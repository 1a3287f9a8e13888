"""A lean damped Newton minimiser: the first attempt of :func:`jaxmle.mle`'s ``"newton"``.

optimistix has no exact-Hessian minimiser, and its quasi-Newton loop with the Hessian put in
(:class:`jaxmle._solvers._ExactNewton`, kept as the fallback) costs more than the problems it
solves here. Measured on a Poisson regression as a plain ``log_prob`` (``benchmarks/latency.py``,
2 cores): that loop compiled in 2–4 s and evaluated the Hessian at every trial point, plus once
for scaling and four times for polishing; this one compiles in a fraction of that and evaluates
the Hessian once per accepted point, the last of which is the estimate's own curvature, handed
on to the convergence test and the covariance instead of being computed again.

The method is Levenberg–Marquardt-damped Newton in coordinates scaled to unit curvature at
the start (Marquardt's scaling): the step solves ``(H + λI) δ = −g`` by Cholesky, and ``λ``
follows the ratio of actual to predicted decrease by optimistix's trust-region rules (in their
Levenberg form, λ = 1/radius, from λ = 1); where
``H + λI`` is not positive definite (negative curvature far from the optimum) the trial is
rejected and ``λ`` raised, which turns the step towards steepest descent. Once the Newton
decrement ``gᵀH⁻¹g`` is below ``decrement_tol`` one undamped step is taken on the quadratic
model's word (the objective is flat to its rounding there) and the loop stops: that step is the
polishing step, and the curvature at its end is the one returned. The factorisations are
:mod:`jaxmle._linalg`'s (no LAPACK on CPU). Problems it does not solve (the assessment says so)
go to the fallback, whose saddle-free ``|H|`` steps solve NIST's Rat43 and ENSO from their
first starts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from . import _linalg

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
    """The damped and the undamped Newton steps, the decrement, the predicted decrease.

    In coordinates scaled by ``s``. The undamped step and the decrement ``gᵀH⁻¹g`` are NaN/inf
    where ``H`` is not positive definite; the damped step is NaN where ``H + λI`` is not (the
    trial is then rejected and ``λ`` raised).
    """
    Hs = 0.5 * (H + H.T) * s[:, None] * s[None, :]
    gs = g * s
    eye = jnp.eye(g.shape[0], dtype=g.dtype)
    L0 = _linalg.cholesky(Hs)
    z0 = _linalg.cho_solve(L0, gs)
    decrement = jnp.where(jnp.all(jnp.isfinite(L0)), jnp.dot(gs, z0), jnp.inf)
    zd = _linalg.cho_solve(_linalg.cholesky(Hs + lam * eye), gs)
    predicted = jnp.dot(gs, zd) - 0.5 * jnp.dot(zd, Hs @ zd)
    return -s * zd, -s * z0, decrement, predicted


def newton(
    fun: Callable[[jax.Array], tuple[jax.Array, Any]],
    x0: jax.Array,
    *,
    max_steps: int,
    decrement_tol: float,
    rtol: float = 1e-12,
    atol: float = 1e-14,
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
        decrement_tol: the decrement ``gᵀH⁻¹g`` below which one undamped step finishes.
        rtol: the loop also stops once a trial step is below ``rtol·|x| + atol`` in every
            coordinate (as optimistix's Cauchy test): where the curvature is singular (a
            parameter the objective ignores) the decrement is never small, and where rounding
            stalls the descent no step is accepted.
        atol: see ``rtol``.

    Returns:
        A :class:`NewtonState` whose ``f``, ``aux``, ``g``, ``H`` are those at its ``x``; ``x0``
        itself with ``f = inf`` when the objective is not finite there.
    """
    value_and_grad = jax.value_and_grad(fun, has_aux=True)
    hess = hessian(lambda x: fun(x)[0])
    k = x0.shape[0]
    dt = x0.dtype
    zero = jnp.zeros((), dt)
    one = jnp.ones((), dt)
    aux0 = jax.tree_util.tree_map(lambda a: jnp.zeros(a.shape, a.dtype),
                                  jax.eval_shape(fun, x0)[1])  # fmt: skip

    def cond(st: NewtonState):
        return ~st.done & (st.steps < max_steps)

    def body(st: NewtonState) -> NewtonState:
        fresh = ~jnp.isfinite(st.f)  # the first trial is the start itself
        damped, plain, dec, pred = _step(st.H, st.g, st.s, st.lam)
        small = ~fresh & (dec <= decrement_tol)
        # The final, polishing step is undamped.
        delta = jnp.where(fresh, 0.0, jnp.where(small, plain, damped))
        x_new = st.x + delta
        (f_new, aux), g = value_and_grad(x_new)
        H = hess(x_new)
        rho = (st.f - f_new) / jnp.where(pred > 0, pred, 1.0)
        finite = jnp.isfinite(f_new) & jnp.all(jnp.isfinite(x_new))  # (a failed factor: NaN)
        # optimistix's ClassicalTrustRegion rules in their Levenberg form (λ = 1/radius): a
        # trial is accepted at ρ ≥ 0.01; ρ > 0.99 lowers λ by 3.5, a rejection raises it by 4;
        # λ starts at 1, the scaled curvature. Measured on NIST's problems as likelihoods:
        # starting undamped (λ = 0) jumped into other basins (Lanczos2, MGH17, Eckerle4 from
        # start 1 "converged" to local optima), as the trust region did not; so did
        # switching to undamped steps within one standard error (MGH09, MGH17, Lanczos2 and
        # Lanczos3 with σ free). With these rules 51–53 of 54 NIST problem-starts as
        # likelihoods are solved (benchmarks/nist_nonlinear.py); the one "converged but
        # wrong" is Lanczos1's equivalent fit with its exponential terms swapped.
        accept = finite & (fresh | small | ((f_new <= st.f) & (rho >= 0.01)))
        d = jnp.abs(jnp.diagonal(H))
        ok = jnp.isfinite(d) & (d > 0)
        s = jnp.where(fresh, jnp.where(ok, 1.0 / jnp.sqrt(jnp.where(ok, d, 1.0)), 1.0), st.s)
        pick = lambda a, b: jnp.where(accept, a, b)  # noqa: E731
        new = NewtonState(
            pick(x_new, st.x), pick(f_new, st.f),
            jax.tree_util.tree_map(pick, aux, st.aux), pick(g, st.g), pick(H, st.H), s,
            jnp.where(fresh, one, jnp.where(accept, jnp.where(rho > 0.99, st.lam / 3.5, st.lam),
                                            4.0 * st.lam)),
            st.steps, st.done,
        )  # fmt: skip
        # A start or a curvature that is not finite cannot be stepped from; the polishing
        # step ends the loop, as does a negligible one. (Neither the polishing step nor the
        # start's evaluation counts as a step.) Measured: a Poisson regression with a
        # parameter the likelihood ignores ran all 2,000 steps without the step test.
        stuck = ~(jnp.all(jnp.isfinite(new.g)) & jnp.all(jnp.isfinite(new.H)))
        negligible = ~fresh & jnp.all(jnp.abs(delta) <= rtol * jnp.abs(st.x) + atol)
        stop = (fresh & ~accept) | small | stuck | negligible
        steps = st.steps + jnp.where(fresh | small, 0, 1).astype(st.steps.dtype)
        return new._replace(steps=steps, done=stop)

    init = NewtonState(x0, jnp.asarray(jnp.inf, dt), aux0, jnp.zeros(k, dt),
                       jnp.eye(k, dtype=dt), jnp.ones(k, dt), zero,
                       jnp.zeros((), jnp.int32), jnp.zeros((), bool))  # fmt: skip
    return jax.lax.while_loop(cond, body, init)
