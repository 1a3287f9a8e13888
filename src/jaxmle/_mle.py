"""One call to a converged maximum-likelihood (or MAP) estimate: :func:`jaxmle.mle`.

``mle`` answers "what is the estimate": it picks a deterministic solver from the problem's
structure (:mod:`jaxmle._solvers`), runs it to convergence in one jitted, bounded program,
then decides for itself whether the final point is an optimum. That test is scale invariant:
at the final point it takes the Newton (or Gauss–Newton) step ``δ`` to the nearby optimum and
calls the estimate converged when every ``|δ_i|`` is below ``1e-4`` of its standard error or
``1e-8`` of its value, with a positive-definite curvature. Before the test it polishes with a
few such steps (kept only when they do not increase the objective), so a converged estimate
is as accurate as the objective's rounding allows. The status says what happened otherwise.
(The test and the polishing: :mod:`jaxmle._mle_assess`.)

Optimisers work on unconstrained parameters (a Model's constraints); results are natural.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

from . import _inference, _newton, _xla
from ._errors import InputError
from ._mle_assess import _assess, _gauss_newton_step, _newton_step, _newton_step_from, _polish
from ._models import Model
from ._nonlinear import NonlinearRegression
from ._status import Status
from ._tiered import TieredJit
from ._validation import (
    check_log_prob_shape,
    check_params_domain,
    host_float,
    is_traced,
    n_rows,
    warn_if_float32,
)

__all__ = ["MLEResult", "mle"]

PyTree = Any

_METHODS = ("newton", "least_squares", "bfgs", "lbfgs")  # jaxmle._solvers.METHODS
_NEWTON_MAX_K = 200  # exact Hessians up to this many parameters, quasi-Newton beyond


@jax.tree_util.register_dataclass
@dataclass(frozen=True, repr=False)
class MLEResult:
    """Outcome of :func:`mle`: a pytree (it jits, vmaps and stacks like any result).

    Attributes:
        params: the estimate in natural parameters.
        status: ``int32`` :class:`jaxmle.Status` code; 0 (``OK``) only when the final point
            passes the convergence test (see :func:`mle`).
        converged: ``status == 0``.
        steps: iterations of the solver (polishing steps not counted).
        loglik: ``Σ_i log p(x_i | params)`` (without the prior).
        objective: the minimised objective, ``−(loglik + log prior) / n``.
        step_se: the largest remaining Newton step at the estimate in standard errors
            (``max_i |δ_i| / se_i``); NaN when the curvature is not positive definite.
        summary: a :class:`jaxmle.inference.Summary` (standard errors, tests, intervals,
            AIC/BIC) in the model's default covariance convention, or ``None`` inside
            ``jit`` (call :func:`jaxmle.inference.summary` there).
        stderr: standard errors shaped like ``params`` (NaN where unavailable; ``None``
            inside ``jit``).
        method: the solver used (static).
        closed_form: internal: a closed form's ``(params, diagnostics)`` until its host-side
            checks have run (None in a returned result).
    """

    params: PyTree
    status: jax.Array
    converged: jax.Array
    steps: jax.Array
    loglik: jax.Array
    objective: jax.Array
    step_se: jax.Array
    summary: Any = None
    stderr: PyTree = None
    closed_form: Any = None  # (params, diagnostics) of a closed form, until its host checks
    method: str = field(default="", metadata={"static": True})

    @property
    def message(self) -> str:
        """The status as a sentence (one status; see :class:`jaxmle.Status`)."""
        return Status(int(np.asarray(self.status))).message

    @property
    def cov(self) -> jax.Array:
        """The ``(k, k)`` covariance of the flattened parameters (``summary.labels`` order)."""
        if self.summary is None:
            raise InputError("this MLEResult has no summary (mle ran inside jit).")
        return self.summary.cov

    def __str__(self) -> str:
        head = f"MLEResult({self.method}, status {Status(int(np.asarray(self.status))).name}, "
        head += f"steps {int(np.asarray(self.steps))}, loglik {float(np.asarray(self.loglik)):.6g})"
        return head if self.summary is None else head + "\n" + str(self.summary)

    __repr__ = __str__


# --------------------------------------------------------------------------------------------
# The jitted solve.


class _Cfg(NamedTuple):
    log_prob: Callable | None  # a plain function (static); None when a Model is used
    method: Any  # "closed_form", a name of _METHODS, or an optax transformation
    n: int
    max_steps: int
    rtol: float
    atol: float
    fallback: bool = False  # Newton failed: BFGS, then Newton from where it stopped


def _parts(cfg: _Cfg, model: Model | None):
    if model is None:
        return cfg.log_prob, (lambda p: 0.0), (lambda u: u)
    prior = model.log_prior if model.prior else (lambda p: 0.0)
    return model.log_prob, prior, model.to_natural


def _coordinates(model: Model | None, u0: PyTree) -> tuple[np.ndarray, np.ndarray]:
    """Free coordinates of the flattened unconstrained params, and which are bounded.

    Returns ``(free, bounded)``: indices into ``ravel_pytree(u0)`` of the coordinates the
    objective depends on (a positive-definite leaf's strict upper triangle is ignored by its
    log-Cholesky map, so it is not free), and a 0/1 mask over those of the coordinates of
    constrained (non-real) parameters.
    """
    if model is None:
        k = int(sum(np.size(x) for x in jax.tree_util.tree_leaves(u0)))
        return np.arange(k), np.zeros(k)
    free, bounded = {}, {}
    for key, v in u0.items():
        c = model.constraints.get(key)
        pd = c is not None and c.name == "positive_definite"

        def leaf_free(x, pd=pd):
            shape = np.shape(x)
            return (
                np.broadcast_to(np.tril(np.ones(shape[-2:], bool)), shape)
                if pd
                else (np.ones(shape, bool))
            )

        free[key] = jax.tree_util.tree_map(leaf_free, v)
        is_bounded = c is not None and c.name != "real"
        bounded[key] = jax.tree_util.tree_map(lambda x, b=is_bounded: np.full(np.shape(x), b), v)
    # ravel_pytree's order: the dict's sorted keys, then each value's leaves.
    f = np.concatenate([np.ravel(x) for x in jax.tree_util.tree_leaves(free)])
    m = np.concatenate([np.ravel(x) for x in jax.tree_util.tree_leaves(bounded)])
    return np.flatnonzero(f), m[f].astype(float)


def _attempts(run: Callable, n_attempts: int):
    """``run(i)`` for ``i = 0, 1, …`` until one converges (a loop: ``run`` is traced once).

    ``run(i)`` returns ``(x, steps, status, step_se)``. The result is the first converged
    attempt, else the first attempt (whose status is then reported); steps add up.
    """

    def cond(c):
        i, best = c
        return (i < n_attempts) & ((i == 0) | (best[2] != Status.OK))

    def body(c):
        i, best = c
        new = run(i)
        take = (i == 0) | (new[2] == Status.OK)
        pick = jax.tree_util.tree_map(lambda a, b: jnp.where(take, a, b), new, best)
        return i + 1, (pick[0], best[1] + new[1], pick[2], pick[3])

    shapes = jax.eval_shape(run, 0)  # abstract: traces, compiles nothing
    init = jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)
    return jax.lax.while_loop(cond, body, (jnp.asarray(0), init))[1]


def _optimistix():
    """:mod:`jaxmle._solvers`, imported only where a solve needs optimistix.

    Not by ``import jaxmle`` or the lean Newton: optimistix with equinox and lineax adds 0.6 s
    to a fresh process (measured).
    """
    from . import _solvers

    return _solvers


def _pick(first, again):
    """The first attempt, or the fallback's where only it converged; steps add up."""
    take = (first[2] != Status.OK) & (again[2] == Status.OK)
    pick = jax.tree_util.tree_map(lambda a, b: jnp.where(take, a, b), again, first)
    steps = first[1] + jnp.where(first[2] == Status.OK, 0, again[1])
    return (pick[0], steps, pick[2], pick[3])


def _solve(cfg: _Cfg, model: Model | None, data: PyTree, u0: PyTree, stage: str = "all"):
    """The estimate: ``(MLEResult without summary, curvature)``.

    ``stage`` (Newton only): ``"first"`` runs the lean Newton of :mod:`jaxmle._newton` and
    returns its final objective Hessian (in the free unconstrained coordinates) as the
    curvature; ``"fallback"`` the fallbacks (BFGS then optimistix's trust-region Newton, then
    that Newton unscaled), the first that converges; ``"all"`` the first, then the fallbacks
    where it did not converge, in one program. The curvature is None except for ``"first"``.
    """
    log_prob, log_prior, to_natural = _parts(cfg, model)
    x_all, unravel = ravel_pytree(u0)
    free, bounded = _coordinates(model, u0)
    every = free.size == x_all.size  # (then free is 0..k-1: no gather or scatter to trace)
    x0 = x_all if every else x_all[free]
    n = cfg.n

    def natural(x):
        return to_natural(unravel(x if every else x_all.at[free].set(x)))

    def objective(x):
        p = natural(x)
        return -(jnp.sum(log_prob(p, data)) + log_prior(p)) / n

    if cfg.method == "least_squares":
        # θ by Levenberg–Marquardt on the residuals; σ² = RSS/n is then the MLE.
        t0, unravel_t = ravel_pytree(u0["theta"])

        def residuals(t):
            return model.residuals(unravel_t(t), data)

        def rss(t):
            return jnp.sum(residuals(t) ** 2)

        p_theta = t0.shape[0]
        step_fn = functools.partial(_gauss_newton_step, residuals)
        newton_fn = functools.partial(_newton_step, rss)
        eps = jnp.finfo(t0.dtype).eps
        w = data.get("weight")
        y_norm = jnp.sqrt(jnp.sum(data["y"] ** 2 * (1.0 if w is None else w)))

        def s2_of(t):
            return rss(t) / max(n - p_theta, 1)

        def attempt(i):
            # optimistix's Levenberg–Marquardt as it is (damping λI) first; from a start whose
            # parameters differ by orders of magnitude it can stall, so then once more in
            # coordinates scaled to unit Jacobian columns (Marquardt's λ diag(JᵀJ)).
            t, steps = _optimistix().run_solver("least_squares", None, residuals, t0,
                                           max_steps=cfg.max_steps, rtol=cfg.rtol,
                                           atol=cfg.atol, scale=i == 1)  # fmt: skip
            # Gauss–Newton polishing (QR: accurate when J is ill conditioned), then Newton on
            # the RSS itself (quadratic also for large residuals, e.g. MGH's Brown–Dennis,
            # and defined where J is singular but the Hessian is not: Freudenstein–Roth).
            t = _polish(rss, step_fn, t, s2_of)
            t = _polish(rss, newton_fn, t, lambda t: 2.0 * s2_of(t))
            s2 = s2_of(t)
            r = residuals(t)
            noise = 8 * eps * jnp.sqrt(jnp.sum(r**2)) * (y_norm + jnp.sqrt(jnp.sum(r**2)))
            fns = [(step_fn, s2), (newton_fn, 2.0 * s2)]
            return (t, jnp.asarray(steps, jnp.int32),
                    *_assess(rss, fns, t, s2, noise, jnp.zeros_like(t), steps,
                             cfg.max_steps))  # fmt: skip

        out = _attempts(attempt, 2)
        H = ll = obj = None
        t, steps, status, step_se = out
        params = {"theta": unravel_t(t)}
        if model.noise_variance is None:
            params["variance"] = rss(t) / n
    else:
        step_fn = functools.partial(_newton_step, objective)

        def assess(x, steps, step):
            p = natural(x)
            noise = (
                8
                * jnp.finfo(x.dtype).eps
                * (jnp.sum(jnp.abs(log_prob(p, data))) + jnp.abs(log_prior(p)))
                / n
            )
            return (x, jnp.asarray(steps, jnp.int32),
                    *_assess(objective, [(step, 1.0 / n)], x, 0.5 / n, noise, bounded,
                             steps, cfg.max_steps))  # fmt: skip

        def with_aux(x):
            p = natural(x)
            lp, pr = log_prob(p, data), log_prior(p)
            ll = jnp.sum(lp)
            return -(ll + pr) / n, (ll, jnp.sum(jnp.abs(lp)) + jnp.abs(pr))

        def lean_newton():
            # Stops once its step is under 1e-6 standard errors (nλ² ≤ 1e-12) after one more,
            # undamped step; its final value, log-likelihood and curvature serve the test,
            # the result and the covariance.
            st = _newton.newton(with_aux, x0, max_steps=cfg.max_steps, decrement_tol=1e-12 / n,
                                rtol=cfg.rtol, atol=cfg.atol)  # fmt: skip
            noise = 8 * jnp.finfo(st.x.dtype).eps * st.aux[1] / n
            out = (
                st.x,
                st.steps,
                *_assess(
                    objective,
                    [(_newton_step_from(st.g, st.H, st.x), 1.0 / n)],
                    st.x,
                    0.5 / n,
                    noise,
                    bounded,
                    st.steps,
                    cfg.max_steps,
                    f=st.f,
                ),
            )
            return out, st.H, st.aux[0], st.f  # fmt: skip

        def attempt(i):
            if cfg.method == "closed_form":
                x, steps = x0, jnp.asarray(0, jnp.int32)
            else:
                # Exact Newton can follow negative curvature into another basin from a poor
                # start (a Gaussian likelihood whose σ starts far too small); BFGS starts as
                # gradient descent. The fallbacks: BFGS from the same start, then Newton from
                # there; then Newton in the parameters' own units (the trust region's damping
                # λI then weighs them differently: NIST Roszman1 and MGH10 from start 1).
                def bfgs(_):
                    x, k = _optimistix().run_solver("bfgs", objective, None, x0,
                                               max_steps=cfg.max_steps, rtol=cfg.rtol,
                                               atol=cfg.atol)  # fmt: skip
                    return x, jnp.asarray(k, jnp.int32)

                start, s0 = jax.lax.cond(i == 1, bfgs, lambda _: (x0, jnp.asarray(0, jnp.int32)),
                                         None)  # fmt: skip
                x, steps = _optimistix().run_solver(cfg.method, objective, None, start,
                                               max_steps=cfg.max_steps, rtol=cfg.rtol,
                                               atol=cfg.atol, scale=i != 2,
                                               decrement_tol=1e-12 / n)  # fmt: skip
                steps = steps + s0
                x = _polish(objective, step_fn, x, lambda x: 1.0 / n)
            # (A closed form is the optimum to rounding: it is assessed, not polished. The
            # polishing loop was a third of the LinearRegression program's trace.)
            return assess(x, steps, step_fn)

        H = ll = obj = None
        if cfg.method != "newton":
            out = attempt(0)
        elif stage == "first":
            out, H, ll, obj = lean_newton()
        elif stage == "fallback":
            out = _attempts(lambda i: attempt(i + 1), 2)
        elif not cfg.fallback:  # a traced call with method="newton": no fallbacks
            out = lean_newton()[0]
        else:  # both, for a traced call (inside jit/vmap: no host decides)
            first = lean_newton()[0]
            again = jax.lax.cond(first[2] == Status.OK, lambda: first,
                                 lambda: _attempts(lambda i: attempt(i + 1), 2))  # fmt: skip
            out = _pick(first, again)
        x, steps, status, step_se = out
        params = natural(x)
    if ll is None:
        ll = jnp.sum(log_prob(params, data))
        obj = -(ll + log_prior(params)) / n
    return MLEResult(
        params=params, status=status, converged=status == Status.OK,
        steps=jnp.asarray(steps, jnp.int32), loglik=ll,
        objective=obj, step_se=step_se, summary=None,
        method=_method_name(cfg.method),
    ), H  # fmt: skip


def _program(cfg: _Cfg, scfg: Any, model: Model | None, data: PyTree, u0: PyTree, hc,
             stage: str) -> MLEResult:  # fmt: skip
    """One compiled program: the shape check (at trace time), the solve and the summary.

    ``scfg`` is the summary kernel's static settings (None: no summary, for a traced call).
    Where the estimate's coordinates are the natural ones (no constraint but ``real``) and the
    covariance is the inverse observed information, the solver's final curvature is that
    information (``n`` times the objective's Hessian) and is not computed again.
    """
    log_prob, _, to_natural = _parts(cfg, model)
    check_log_prob_shape(log_prob, to_natural(u0), data, n=cfg.n)
    closed = None
    if cfg.method == "closed_form":
        # The closed form in the same program (its host-side checks follow the call). One on
        # the boundary (a probability of 0) maps to ±inf: it starts just inside (e⁻⁴⁰), where
        # the assessment reports BOUNDARY.
        closed = model._closed_form_diagnosed(data)
        u0 = jax.tree_util.tree_map(lambda u: jnp.where(jnp.isfinite(u), u, jnp.sign(u) * 40.0),
                                    model.to_unconstrained(closed[0]))  # fmt: skip
    res, H = _solve(cfg, model, data, u0, stage)
    if closed is not None:
        res = dataclasses.replace(res, closed_form=closed)
    if scfg is None:
        return res
    reuse = H is not None and scfg.include_prior and scfg.cov_type in ("hessian", "sandwich")
    if reuse and model is not None:
        reuse = all(c.name == "real" for c in model.constraints.values())
    m, fn = (model, None) if model is not None else (None, cfg.log_prob)
    # The summary's own stationarity check is mle's convergence test (made at this point,
    # and stricter), so it is not repeated: Summary.newton_step is NaN (not checked).
    summ = _inference._summary_kernel(m, res.params, data, fn, scfg._replace(check=False), hc,
                                      given=res.status, neg_hess=cfg.n * H if reuse else None,
                                      loglik=res.loglik)  # fmt: skip
    return dataclasses.replace(res, summary=summ)


@functools.cache
def _program_jit_for(backend: str):
    # XLA's MLIR fusion emitters for CPU (its default) compile this program's ~100 small
    # fusions slower than the classic ones: measured 2.7–2.9 s against 4.3–5.2 s for a
    # 500 × 10 Poisson regression, in alternating fresh processes, at the same run time (also
    # at 10,000 × 50). Chosen at the first call: asking for the backend at import would start
    # it (before jaxmle.distributed.initialize could).
    if backend != "cpu":
        return _xla.jit(_program, static_argnames=("cfg", "scfg", "stage"))
    return TieredJit(_program, static_argnames=("cfg", "scfg", "stage"),
                     compiler_options={"xla_cpu_use_fusion_emitters": False,
                                       **_xla.compiler_options()})  # fmt: skip


_program_nested = jax.jit(_program, static_argnames=("cfg", "scfg", "stage"))  # (traced only)


def _program_jit(*args, **kwargs) -> MLEResult:
    if any(isinstance(x, jax.core.Tracer) for x in jax.tree_util.tree_leaves((args, kwargs))):
        # Inside the caller's jit or vmap: compiler options belong to the outer program.
        return _program_nested(*args, **kwargs)
    try:
        return _program_jit_for(jax.default_backend())(*args, **kwargs)
    except ValueError as err:  # inside a jit whose inputs are all closed over
        if "top-level" not in str(err):
            raise
        return _program_nested(*args, **kwargs)


# --------------------------------------------------------------------------------------------
# Public entry point.


def _method_name(method: Any) -> str:
    return method if isinstance(method, str) else "optax"


def _choose_method(model, method, k: int) -> Any:
    if isinstance(method, optax.GradientTransformation):
        return method
    allowed = ("auto", "closed_form", *_METHODS)
    if not isinstance(method, str) or method not in allowed:
        raise InputError(
            f"`method` must be one of {allowed} or an optax.GradientTransformation (e.g. "
            f"optax.adam(1e-2)); got {method!r}."
        )
    is_nls = isinstance(model, NonlinearRegression)
    if method == "least_squares" and not is_nls:
        raise InputError(
            "`method`='least_squares' needs a jaxmle.models.NonlinearRegression (a mean "
            "function with Gaussian noise); use 'newton' or 'bfgs' for other likelihoods."
        )
    if method == "closed_form" and not (isinstance(model, Model) and model.has_closed_form):
        why = model._no_closed_form() if isinstance(model, Model) else "a plain log_prob"
        raise InputError(f"`method`='closed_form' is not available: {why}")
    if method != "auto":
        return method
    if isinstance(model, Model) and model.has_closed_form:
        return "closed_form"
    if is_nls and not model.prior:
        return "least_squares"
    return "newton" if k <= _NEWTON_MAX_K else "lbfgs"


def _check_params0(model, params0, data):
    if params0 is None:
        if not isinstance(model, Model):
            raise InputError(
                "`params0` is required with a plain log_prob: pass a starting pytree of "
                "parameters (e.g. {'mean': 0.0, 'log_sigma': 0.0})."
            )
        return model.init(data)
    if isinstance(model, NonlinearRegression) and not (
        isinstance(params0, Mapping) and "theta" in params0
    ):
        # A bare θ: the mean function's parameters (a list of numbers is a vector).
        params0 = {"theta": jnp.asarray(params0) if isinstance(params0, list | tuple) else params0}
    if isinstance(model, NonlinearRegression):
        params0 = dict(params0)
        model.check_theta(params0["theta"], data)
        if model.noise_variance is None and "variance" not in params0:
            params0["variance"] = 1.0  # unused by least squares; a start for Newton
    return params0  # its keys and domain: check_params_domain


def _to_float(tree: PyTree, name: str) -> PyTree:
    # NumPy on the host (the program's call moves it): no device round trip per leaf.
    dt = np.dtype(host_float())

    def conv(x):
        return jnp.asarray(x, dt) if isinstance(x, jax.core.Tracer) else np.asarray(x, dt)

    try:
        return jax.tree_util.tree_map(conv, tree)
    except (TypeError, ValueError) as err:
        raise InputError(f"`{name}` must be a pytree of numbers: {err}") from err


def _check_finite(tree: PyTree, name: str, hint: str) -> None:
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        if not np.all(np.isfinite(np.asarray(leaf))):
            raise InputError(f"`{name}{jax.tree_util.keystr(path)}` is not finite: {hint}")


def mle(
    model: Model | Callable,
    data: PyTree,
    params0: PyTree | None = None,
    *,
    method: str | optax.GradientTransformation = "auto",
    cov_type: str | None = None,
    max_steps: int | None = None,
    rtol: float = 1e-12,
    atol: float = 1e-14,
    throw: bool = False,
) -> MLEResult:
    """The maximum-likelihood (or MAP) estimate, solved to convergence in one call.

    No optimiser and no step count are needed: the method follows the problem's structure
    (``method="auto"``):

    - a model with a closed form (``Model.has_closed_form``): the closed form, checked;
    - :class:`jaxmle.models.NonlinearRegression`: Levenberg–Marquardt with the exact Jacobian
      on the residuals (``"least_squares"``), then ``σ² = RSS/n``;
    - up to 200 parameters: damped Newton with the exact autodiff Hessian (``"newton"``,
      :mod:`jaxmle._newton`); with ``"auto"``, where it does not converge, BFGS then
      optimistix's trust-region Newton with ``|H|``, in a second program;
    - more: L-BFGS (``"lbfgs"``; ``"bfgs"`` also available).

    Any ``optax.GradientTransformation`` may be given instead; it runs to the same stopping
    test. Every loop is bounded by ``max_steps``, so the call is safe under ``vmap``.

    Convergence is decided at the final point, not by the solver: the Newton (Gauss–Newton
    for least squares) step to the nearby optimum must be below ``1e-4`` standard errors or
    ``1e-8`` relative in every coordinate, with a positive-definite curvature. Otherwise the
    status says why (:class:`jaxmle.Status`: ``MAX_STEPS``, ``NOT_CONVERGED``,
    ``FLAT_DIRECTION`` for parameters running off (separation), ``BOUNDARY``,
    ``NOT_POSITIVE_DEFINITE``, ``NONFINITE``), a warning is raised (or an error with
    ``throw=True``) and the summary's standard errors are NaN.

    Args:
        model: a :class:`jaxmle.models.Model`, or a plain ``log_prob(params, data) -> (n,)``
            (then ``params0`` is required and the parameters are unconstrained).
        data: the observations (a pytree whose leaves share the leading axis ``n``).
        params0: starting natural parameters (default ``model.init(data)``); for
            ``NonlinearRegression``, ``{"theta": θ0}`` or θ0 itself.
        method: ``"auto"``, ``"closed_form"``, ``"least_squares"``, ``"newton"``, ``"bfgs"``,
            ``"lbfgs"``, or an optax transformation.
        cov_type: covariance of the summary (default: the model's convention — the
            regression ``classical`` one, statsmodels' OLS ``s²(XᵀX)⁻¹`` or ``s²(JᵀJ)⁻¹``, for
            a ``LinearRegression`` or ``NonlinearRegression`` without a prior, else the inverse
            observed information; see :func:`jaxmle.inference.summary`).
        max_steps: iteration cap per solver run (default 10,000 for least squares, whose
            steps are cheap and which NIST's MGH10 needs ~4,800 of; 2,000 otherwise: Newton
            on NIST's Bennett5 as a likelihood needs ~1,000).
        rtol: the solver's relative step/function tolerance (optimistix's Cauchy test).
        atol: the solver's absolute tolerance.
        throw: raise :class:`jaxmle.InputError`-free ``RuntimeError`` instead of warning when
            the estimate is not converged.

    Returns:
        An :class:`MLEResult` (params, status, converged, loglik, summary with standard
        errors).

    Raises:
        InputError: bad model, data, ``params0`` (wrong keys, outside the model's domain),
            method, or a ``log_prob`` that does not return shape ``(n,)``.

    Example:
        >>> import jax, jax.numpy as jnp, jaxmle
        >>> jax.config.update("jax_enable_x64", True)
        >>> x = jnp.array([1.0, 2.0, 3.0, 6.0])
        >>> def log_prob(p, x):
        ...     return jax.scipy.stats.norm.logpdf(x, p["mu"], jnp.exp(p["log_s"]))
        >>> res = jaxmle.mle(log_prob, x, {"mu": 0.0, "log_s": 0.0})
        >>> bool(res.converged), round(float(res.params["mu"]), 10)
        (True, 3.0)
    """
    if not (isinstance(model, Model) or callable(model)):
        raise InputError(
            f"`model` must be a jaxmle Model or a function log_prob(params, data) -> (n,), "
            f"got {type(model).__name__}."
        )
    if isinstance(model, Model):
        data = model.validate(data)
    else:  # (host arrays stay on the host until the program's call)
        data = jax.tree_util.tree_map(lambda x: x if isinstance(x, jax.Array) else np.asarray(x),
                                      data)  # fmt: skip
    n = n_rows(data)
    given = params0 is not None
    params0 = _to_float(_check_params0(model, params0, data), "params0")
    traced = is_traced(data, params0, model)
    if not traced:
        if given or not isinstance(model, Model):  # (a model's init is checked by its domain)
            _check_finite(params0, "params0", "pass finite starting values.")
        warn_if_float32("jaxmle.mle", stacklevel=2)
    # (log_prob's output shape is checked when the program is traced: warm calls skip it.)
    if isinstance(model, Model):
        u0 = check_params_domain(model.constraints, params0)
        log_prob = None
    else:
        u0, log_prob = params0, model
    k = int(sum(np.size(x) for x in jax.tree_util.tree_leaves(u0)))
    chosen = _choose_method(model, method, k)
    if chosen == "closed_form":
        model._check_closed_form_shapes(data)
    if max_steps is None:
        max_steps = {"least_squares": 10_000}.get(_method_name(chosen), 2000)
    if not isinstance(max_steps, int | np.integer) or isinstance(max_steps, bool) or max_steps < 1:
        raise InputError(f"`max_steps` must be a positive integer, got {max_steps!r}.")
    for name, v in (("rtol", rtol), ("atol", atol)):
        if not (isinstance(v, int | float) and v > 0 and math.isfinite(v)):
            raise InputError(f"`{name}` must be a positive number, got {v!r}.")
    cfg = _Cfg(
        log_prob,
        chosen,
        n,
        int(max_steps),
        float(rtol),
        float(atol),
        fallback=method == "auto" and chosen == "newton",
    )
    m = model if isinstance(model, Model) else None
    if traced:  # inside jit/vmap: the status is the answer; no summary, no warning
        res = _program_jit(cfg, None, m, data, u0, np.int32(0), stage="all")
        return _closed_form_at_bound(res) if chosen == "closed_form" else res
    scfg = _inference._settings(model, cov_type, 0.95, None, True, None, ())
    fam, hc = _inference._hc_family(scfg)
    res = _program_jit(cfg, fam, m, data, u0, np.int32(hc), stage="first")
    status = int(res.status)  # (one transfer, read below)
    if chosen == "closed_form":  # its host-side checks (a rank-deficient design raises)
        model._check_closed_form(data, *res.closed_form)
        if status != Status.BOUNDARY:
            res = dataclasses.replace(res, closed_form=None)
    if cfg.fallback and status != Status.OK:
        again = _program_jit(cfg, fam, m, data, u0, np.int32(hc), stage="fallback")
        steps = res.steps + again.steps
        res = dataclasses.replace(again if int(again.status) == Status.OK else res, steps=steps)
        status = int(res.status)
    if chosen == "closed_form" and status == Status.BOUNDARY:
        # The summary at the closed form's own boundary value (its SEs are NaN anyway).
        res = _closed_form_at_bound(res)
        res = dataclasses.replace(res, summary=_inference._summary_jit(
            m, res.params, data, fn=None if m is not None else model, cfg=fam,
            hc=np.int32(hc), given=res.status))  # fmt: skip
    res = dataclasses.replace(res, summary=dataclasses.replace(res.summary, cov_type=scfg.cov_type))
    return _finish(res, model, scfg, throw, status)


def _closed_form_at_bound(res: MLEResult) -> MLEResult:
    """The closed form's own value where it is on the boundary (a probability of exactly 0).

    Unconstrained space cannot hold a boundary value.
    """
    at_bound = res.status == Status.BOUNDARY
    cf = res.closed_form[0]
    params = jax.tree_util.tree_map(lambda c, p: jnp.where(at_bound, c, p), cf, res.params)
    return dataclasses.replace(res, params=params, closed_form=None)


def _finish(res: MLEResult, model, scfg, throw: bool, status: int) -> MLEResult:
    status = Status(status)
    summ = res.summary
    if status != Status.OK:
        # The summary never calls an estimate that is not one "ok": a non-ok status comes
        # with a NaN covariance. It reports the solver's own code.
        summ = dataclasses.replace(summ, status=jnp.asarray(int(status), jnp.int32))
    se = _inference._unpack_host(
        res.params, _inference._sym_keys(model, ()), np.asarray(summ.stderr)
    )
    res = dataclasses.replace(res, summary=summ, stderr=se)
    if status != Status.OK:
        msg = (
            f"jaxmle.mle ({res.method}): the estimate is not converged, status {status.name}: "
            f"{status.message}. Its standard errors are NaN."
        )
        if throw:
            raise RuntimeError(msg)
        warnings.warn(msg, RuntimeWarning, stacklevel=3)
    else:  # a converged estimate whose covariance failed (singular, ...); a MAP's SEs
        _inference._warn_prior(model, scfg.include_prior, stacklevel=3)
        _inference._warn_status(summ, stacklevel=3)
    return res
