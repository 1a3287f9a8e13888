"""The convergence test of :func:`jaxmle.mle`, made at the solver's final point.

At that point it takes the Newton (or Gauss–Newton, for least squares) step ``δ`` to the
nearby optimum: the estimate is converged when every ``|δ_i|`` is below ``1e-4`` of its
standard error or ``1e-8`` of its value, with a positive-definite curvature, and no flat
direction (probes one standard error along the step and outward along the estimate) is
found; otherwise the status says
why. Before the test, :func:`_polish` takes a few such steps, each kept only when it does not
increase the objective. Used by :mod:`jaxmle._mle`.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from . import _linalg, _newton
from ._status import Status

_POLISH = 4  # Newton / Gauss–Newton polishing steps after the solver
_SE_TOL = 1e-4  # converged: every remaining step below this many standard errors ...
_REL_TOL = 1e-8  # ... or below this fraction of the parameter's magnitude


class _Step(NamedTuple):
    delta: jax.Array  # the (Gauss–)Newton step to the nearby optimum
    inv_diag: jax.Array  # diag of the inverse curvature (H⁻¹, or (JᵀJ)⁻¹)
    ok: jax.Array  # the curvature is positive definite / the Jacobian has full rank
    quad: jax.Array  # the objective's predicted increase for the step, ½δᵀ∇²δ
    quad_x: jax.Array  # ... for a step of x itself (outward from 0), ½xᵀ∇²x; NaN: unknown
    singular: jax.Array  # the curvature is singular to rounding (a parameter not identified)


def _newton_step(objective, x) -> _Step:
    """Newton step −H⁻¹g by a Jacobi-scaled Cholesky (no inverse formed)."""
    return _newton_step_from(jax.grad(objective)(x), _newton.hessian(objective)(x), x)


def _newton_step_from(g, H, x=None) -> _Step:
    """:func:`_newton_step` from the gradient and Hessian at the point ``x``."""
    H = 0.5 * (H + H.T)
    d = jnp.diagonal(H)
    s = 1.0 / jnp.sqrt(jnp.where(d > 0, d, 1.0))
    L = _linalg.cholesky(H * s[:, None] * s[None, :])
    # (A zero pivot factorises, and its step was inf: a + b entering only as their sum ended
    # NOT_CONVERGED, "its gradient is not small". The pivots are the scaled matrix's.)
    k = g.shape[0]
    pivot2 = jnp.min(jnp.diagonal(L)) ** 2
    factored = jnp.all(jnp.isfinite(L)) & jnp.all(d > 0)
    singular = factored & ~(pivot2 > 10.0 * k * jnp.finfo(g.dtype).eps)
    pd = factored & ~singular
    eye = jnp.eye(g.shape[0], dtype=g.dtype)
    Lc = jnp.where(pd, L, eye)
    delta = -s * _linalg.cho_solve(Lc, s * g)
    inv_diag = s**2 * jnp.sum(_linalg.solve_lower(Lc, eye) ** 2, 0)
    quad_x = jnp.asarray(jnp.nan, g.dtype) if x is None else 0.5 * jnp.dot(x, H @ x)
    return _Step(delta, inv_diag, pd, -0.5 * jnp.dot(g, delta), quad_x, singular)


def _gauss_newton_step(residuals, x) -> _Step:
    """Gauss–Newton step by QR of the column-scaled Jacobian (objective ‖r‖²)."""
    r = residuals(x)
    J = jax.jacfwd(residuals)(x)
    c = jnp.sqrt(jnp.sum(J * J, axis=0))
    s = 1.0 / jnp.where(c > 0, c, 1.0)
    Q, R = jnp.linalg.qr(J * s[None, :])
    diag = jnp.abs(jnp.diagonal(R))
    full_rank = jnp.min(diag) > 1e3 * jnp.finfo(x.dtype).eps * jnp.max(diag)
    ok = jnp.all(c > 0) & full_rank
    eye = jnp.eye(x.shape[0], dtype=x.dtype)
    Rc = jnp.where(ok, R, eye)
    delta = -s * jax.scipy.linalg.solve_triangular(Rc, Q.T @ r, lower=False)
    Rinv = jax.scipy.linalg.solve_triangular(Rc, eye, lower=False)
    return _Step(delta, s**2 * jnp.sum(Rinv**2, axis=1), ok, jnp.sum((J @ delta) ** 2),
                 jnp.sum((J @ x) ** 2), jnp.all(c > 0) & ~full_rank)  # fmt: skip


def _polish(value, step_fn, x, se2_scale):
    """Up to ``_POLISH`` steps of ``step_fn``, each kept when ``value`` does not rise.

    Close to the optimum the objective is flat to within its own rounding (NIST Bennett5: an
    RSS of 5e-4 computed from residuals 1e-4 of the data, so it is noisy at 1e-13 relative)
    and cannot judge a step; a step under 1% of every standard error is then taken on the
    quadratic model's word. The polishing stops early after a step under 1e-6 standard errors
    (the next would move the estimate by about the square of that) or one not taken.
    """

    def body(c):
        i, x, _ = c
        st = step_fn(x)
        x_new = x + st.delta
        f, f_new = value(x), value(x_new)
        tol = 8 * jnp.finfo(x.dtype).eps * jnp.abs(f)
        se = jnp.sqrt(st.inv_diag * se2_scale(x))
        tiny = jnp.all(jnp.abs(st.delta) <= 1e-2 * se)
        better = st.ok & jnp.all(jnp.isfinite(x_new)) & ((f_new <= f + tol) | tiny)
        done = ~better | jnp.all(jnp.abs(st.delta) <= 1e-6 * se)
        return i + 1, jnp.where(better, x_new, x), done

    return jax.lax.while_loop(lambda c: (c[0] < _POLISH) & ~c[2], body,
                              (jnp.asarray(0), x, jnp.asarray(False)))[1]  # fmt: skip


def _assess(value, step_fns, x, one_se, noise, bounded, steps, max_steps, f=None):
    """``(status, step_se)`` of the final point ``x``.

    ``step_fns`` is a list of ``(step_fn, se2_scale)`` (``step_fn`` a function of ``x``, or the
    :class:`_Step` at ``x`` already computed): the point is converged when the step
    of any of them is negligible (``se2_scale`` turns its ``inv_diag`` into variances); the
    first also probes for a flat direction. ``one_se`` is the objective's rise one standard
    error from the optimum (½ nat of the total log-likelihood); ``noise`` its rounding level;
    ``f`` the value at ``x`` where the caller has it.
    """
    f = value(x) if f is None else f
    finite = jnp.isfinite(f) & jnp.all(jnp.isfinite(x))
    scale = jnp.max(jnp.abs(x))
    converged, step_se, first = jnp.asarray(False), jnp.asarray(jnp.inf, x.dtype), None
    for step_fn, se2_scale in step_fns:
        st = step_fn if isinstance(step_fn, _Step) else step_fn(x)
        first = st if first is None else first
        se = jnp.sqrt(st.inv_diag * se2_scale)
        d = jnp.abs(st.delta)
        # Below 1e-4 standard errors, or 1e-8 of the value, or rounding of the largest value
        # (a parameter whose optimum is 0 in an exact fit, where the standard errors are 0).
        small = (d <= _SE_TOL * se) | (d <= _REL_TOL * jnp.abs(x)) | (d <= 1e-12 * scale)
        converged = converged | (st.ok & jnp.all(small))
        step_se = jnp.minimum(step_se, jnp.where(st.ok, jnp.max(d / se), jnp.inf))
    st = first
    # A flat direction: one standard error along the Newton direction the quadratic model
    # predicts a rise of ``one_se``; at separation or a runaway the objective rises by far
    # less (or falls). This also catches standard errors of 1e100 that pass the step test.
    # The same one standard error outward along x itself: at complete separation the
    # estimate runs off along the separating direction, which the Newton step need not
    # point along (a separated logit with a near-singular curvature: its step was the
    # intercept's, where the objective rises, and the fit was called converged).
    # (Not where ``one_se`` is below the objective's rounding: an exact fit.)
    resolvable = one_se > 100.0 * noise
    # (The probe means something only once the step is negligible: from afar, one standard
    # error along the step heads downhill anyway.)
    near = jnp.max(jnp.abs(st.delta) / jnp.sqrt(st.inv_diag * step_fns[0][1])) <= 1e-2

    def flat_along(v, quad):
        usable = st.ok & (quad > 0) & resolvable & near
        c = jnp.sqrt(one_se / jnp.where(usable, quad, 1.0))
        return usable & ~(value(x + jnp.where(usable, c, 0.0) * v) - f >= 0.1 * one_se)

    flat_step = flat_along(st.delta, st.quad)
    flat_x = flat_along(x, st.quad_x) & ~flat_step
    flat = flat_step | flat_x
    converged = finite & converged & ~flat
    far_out = jnp.any(jnp.abs(x) * bounded > 30.0)  # natural value within e⁻³⁰ of its bound
    dirn = jnp.abs(jnp.where(flat_x, x, st.delta))
    toward_bound = flat & (jnp.max(dirn * bounded) >= jnp.max(dirn * (1 - bounded)))
    status = jnp.select(
        [~finite, converged, ~converged & (far_out | toward_bound), flat, st.singular,
         ~st.ok, steps >= max_steps],
        [Status.NONFINITE, Status.OK, Status.BOUNDARY, Status.FLAT_DIRECTION, Status.SINGULAR,
         Status.NOT_POSITIVE_DEFINITE, Status.MAX_STEPS],
        Status.NOT_CONVERGED,
    )  # fmt: skip
    step_se = jnp.where(jnp.isfinite(step_se), step_se, jnp.nan)
    return status.astype(jnp.int32), step_se
