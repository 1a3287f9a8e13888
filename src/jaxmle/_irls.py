"""IRLS (Fisher scoring) for GLMs, and NB2 with α estimated: one compiled program per fit.

:func:`irls` checks concrete inputs on the host, then one jitted program runs the whole fit
and every summary quantity:

- Fisher scoring in step form ``β ← β + (XᵀWX)⁻¹Xᵀu`` (``u`` the working score, so the fixed
  point is the exact score root), the first step statsmodels' regression from its starting
  mean; for a non-canonical link, Newton steps (the observed information) once the step is
  under 0.1 standard errors (scoring converges linearly there, Newton quadratically);
- ``(XᵀWX)⁻¹`` of the Jacobi-scaled matrix by the sweep operator (no LAPACK on CPU, the
  library's Cholesky elsewhere; :mod:`jaxmle._irls_eval`), one evaluation of the weights, deviance
  and score per iteration, step-halving when the deviance rises or the mean leaves the
  family's domain;
- a scale-invariant stop on the Newton decrement ``δ = sqrt(gᵀ(XᵀWX)⁻¹g / φ)``, which bounds
  every coefficient's step in its own standard errors: once ``δ ≤ 1e-9``, or ``δ ≤ 1e-5``
  falling quadratically to a predicted next ``δ ≤ 1e-18``, one more (polishing) step is taken
  (applied directly when it is under ``1e-8`` standard errors, else evaluated); the
  covariance is that at the returned coefficients (to rounding);
- status as data: ``SINGULAR``, ``NONFINITE``, ``MAX_STEPS``, ``NOT_CONVERGED`` (step-halving
  exhausted), ``FLAT_DIRECTION`` (the likelihood still rising one standard error along the
  Newton step: separation, an MLE at infinity), ``BOUNDARY`` (NB2's α → 0).

For a negative binomial with α estimated, the Poisson fit starts a Levenberg–Marquardt-damped
Newton iteration on ``(β, log α)`` of the exact NB2 log-likelihood (autodiff derivatives of the
pointwise log-likelihood in ``(η, log α)``, chained through ``X``), in the same program.

Conventions are statsmodels' (``GLM(...).fit()`` with its default ``scale="X2"``, and
``discrete.NegativeBinomial`` for α estimated): see :class:`GLMFit`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from . import _irls_groups, _irls_host, _irls_shapes, _outputs, _xla
from ._errors import InputError
from ._families import Binomial, Family, Gaussian, NegativeBinomial, as_family
from ._irls_eval import (
    _HIGHEST,
    _Data,
    _eta,
    _evaluate,
    _inverse,
    _mul,
    _phi,
    _sum,
    _where,
)
from ._irls_host import _FLAT_DROP, _VERIFY
from ._status import Status
from ._tiered import TieredJit
from ._validation import as_array, check_same_length, is_traced

__all__ = ["GLMFit", "irls"]

# Halvings of a step before giving up: 60, not 30, so that a start of valid but tiny means
# (a Poisson or logit intercept of -30: a first step of ~1e13) halves back to a finite one.
_MAX_HALVINGS = 60
_STALL = 1e-6  # a decrement this small that stops shrinking is at the rounding floor
_FINISH = 1e-8  # the last step, applied without another evaluation, in standard errors
_EXACT = 1e-10  # below this last step the weights before it give the covariance
_NEWTON_FROM = 0.1  # non-canonical links: Newton steps below this decrement

# XLA:CPU's YNNPACK library fusions and MLIR fusion emitters cost this program compile time
# and run time (see jaxmle._xla and jaxmle._mle); measured in benchmarks/glm.py.
_CPU_OPTIONS = {"xla_cpu_experimental_ynn_fusion_type": "", "xla_cpu_use_fusion_emitters": False}


class GLMFit(NamedTuple):
    """The result of :func:`irls`: a pytree (batch axes leading under ``vmap``).

    Attributes:
        coef: ``(p,)`` coefficients.
        cov: ``(k, k)`` covariance of all estimated parameters: ``scale·(XᵀWX)⁻¹`` at the final
            weights (expected information; equal to the observed one for canonical links), or, for a
            negative binomial with α estimated, the inverse observed information of
            ``(coef..., alpha)`` in natural α (``k = p + 1``).
        cov_unscaled: ``(p, p)`` ``(XᵀWX)⁻¹`` at the final weights (statsmodels'
            ``normalized_cov_params``; statsmodels takes them one step before its estimate,
            here they are those at ``coef`` or one step of under 1e-10 standard errors before).
        scale: ``()`` dispersion φ: Pearson χ²/df_resid for Gaussian, Gamma and inverse
            Gaussian, 1 otherwise.
        alpha: ``()`` the negative binomial's α (estimated or fixed); NaN for other families.
        eta: ``(n,)`` linear predictor including the offset.
        mu: ``(n,)`` fitted means.
        weights: ``(n,)`` final IRLS working weights (frequency and variance weights and
            trials included).
        deviance: ``()`` the deviance ``Σ freq·var·trials·d(y, μ)``.
        pearson_chi2: ``()`` ``Σ freq·var·trials·(y − μ)²/V(μ)``.
        llf: ``()`` the log-likelihood in statsmodels' ``GLMResults.llf`` convention (Gaussian
            with the identity link at the ML scale ``RSS/nobs``, the other dispersion families
            at ``scale``).
        nobs: ``()`` the number of observations (the sum of the frequency weights).
        df_model: ``()`` ``p − 1`` (statsmodels' ``rank − 1``, with or without a constant).
        df_resid: ``()`` ``nobs − p`` (α not counted).
        iterations: ``()`` int32, scoring (plus Newton) steps taken, the first from the
            starting mean (statsmodels' count of weighted least-squares fits).
        status: ``()`` int32 :class:`jaxmle.Status` code.
        converged: ``()`` bool, ``status == 0``.
    """

    coef: jax.Array
    cov: jax.Array
    cov_unscaled: jax.Array
    scale: jax.Array
    alpha: jax.Array
    eta: jax.Array
    mu: jax.Array
    weights: jax.Array
    deviance: jax.Array
    pearson_chi2: jax.Array
    llf: jax.Array
    nobs: jax.Array
    df_model: jax.Array
    df_resid: jax.Array
    iterations: jax.Array
    status: jax.Array
    converged: jax.Array


class _Point(NamedTuple):
    """An accepted point: its deviance, score, inverse curvature and Newton step."""

    beta: jax.Array
    dev: jax.Array  # the deviance kernel (IRLS) or the log-likelihood (NB2)
    pearson: jax.Array  # Pearson's χ² (IRLS, families with a dispersion) or minus the Hessian
    g: jax.Array
    inv: jax.Array
    singular: jax.Array
    step: jax.Array
    dec: jax.Array  # Newton decrement: |step| in standard-error units


class _State(NamedTuple):
    cand: jax.Array  # the point evaluated next
    t: jax.Array  # its fraction of the accepted point's step
    acc: _Point
    r: Any  # the start's part of η that Xβ does not explain (first evaluation only)
    polish: jax.Array  # the candidate is the last, polishing step
    newton: jax.Array  # the candidate's step uses the observed information
    fisher: jax.Array  # the observed information failed once: Fisher scoring to the end
    halvings: jax.Array
    it: jax.Array
    code: jax.Array  # -1 while running, else a Status code
    started: jax.Array  # a β has been accepted (before it, no deviance to improve on)


def _code(accept, ok, finite, done, halvings, it, max_iter) -> jax.Array:
    code = jnp.where(
        accept & ~finite, Status.SINGULAR,
        jnp.where(done, Status.OK,
        jnp.where((halvings > _MAX_HALVINGS) & ~ok, Status.NONFINITE,
        jnp.where(halvings > _MAX_HALVINGS, Status.NOT_CONVERGED,
        jnp.where(it >= max_iter, Status.MAX_STEPS, -1)))))  # fmt: skip
    return code.astype(jnp.int32)


def _small(dec: jax.Array, prev: jax.Array, tol: float) -> jax.Array:
    """Whether the step from here is the last (polishing) one.

    The decrement is below ``tol``; or it is below ``1e-5`` and falling quadratically with a
    predicted next decrement ``dec³/prev²`` below ``tol²`` (Newton's and canonical scoring's
    regime: the polished point is then at the rounding floor); or it is below ``_STALL`` and
    no longer falling (the rounding floor of an ill-conditioned problem).
    """
    quadratic = (dec <= 1e-5) & (dec**3 <= tol * tol * prev * prev)
    return (dec <= tol) | quadratic | ((dec <= _STALL) & (dec >= 0.9 * prev))


def _scoring(fam, d, start, df_resid, *, max_iter, tol) -> _State:
    """Fisher scoring with step-halving, one evaluation per iteration; the final state.

    For a non-canonical link, once the decrement is below ``_NEWTON_FROM`` the steps use the
    observed information (Newton: quadratic convergence where scoring's is linear), back to
    scoring for good where that is not positive definite.
    """
    linear = isinstance(fam, Gaussian) and fam.link.name == "identity"
    free_first = start is None  # the first step is statsmodels' regression from the start mean
    beta0, r0 = _start(fam, d, start)
    anchored = not _keeps_domain(fam)

    def body(st: _State) -> _State:
        first = st.it == 0
        # (r, the start's part of η, is a loop constant switched off after the first step:
        # no (n,) array is rewritten per iteration.)
        r = None if st.r is None else jnp.where(first, 1.0, 0.0) * st.r
        ev = _evaluate(fam, d, st.cand, r, None if fam.canonical else st.newton)
        # (The start's deviance is not one of a β when it starts from statsmodels' mean.)
        ref = jnp.where(st.started, st.acc.dev, jnp.inf)
        inv, singular = _inverse(ev.A)
        step = inv @ ev.g
        acc_beta, acc_step = st.cand, step
        if free_first and anchored:  # halving from the first regression heads to the anchor
            acc_beta = lax.cond(first, lambda: _anchor(fam, d, ev.w, st.r, inv),
                                lambda: st.cand)  # fmt: skip
            acc_step = st.cand + step - acc_beta
        finite = jnp.all(jnp.isfinite(step))
        retry = st.newton & ~finite  # observed information not PD here: scoring instead
        accept = ev.ok & ((ev.dev <= ref + 1e-10 * jnp.abs(ref)) | st.polish) & ~retry
        dec = jnp.sqrt(jnp.maximum(jnp.dot(step, ev.g), 0.0) / _phi(fam, ev.pearson, df_resid))
        small = _small(dec, st.acc.dec, tol)
        if free_first:
            small = small & ~first
        if linear:  # one regression step solves it; the second polishes
            small = small | ~first
        acc = _where(accept, _Point(acc_beta, ev.dev, ev.pearson, ev.g, inv, singular, acc_step,
                                    dec), st.acc)  # fmt: skip
        # Done: the step from here is at most _FINISH standard errors and the one after it
        # negligible (coef = β + step, the covariance from here, as statsmodels takes it from
        # the weights before its last step); or this is the polishing step's point.
        finish = accept & (st.polish | (small & (dec <= _FINISH)))
        halvings = jnp.where(accept | retry, 0, st.halvings + 1)
        t = jnp.where(accept, 1.0, jnp.where(retry, st.t, 0.5 * st.t))
        cand = jnp.where(accept, st.cand + step,
                         jnp.where(retry, st.cand, st.acc.beta + t * st.acc.step))  # fmt: skip
        it = st.it + 1
        halvings = jnp.where(first & ~accept, _MAX_HALVINGS + 1, halvings)  # a bad start
        code = _code(accept, ev.ok, finite, finish & finite, halvings, it, max_iter)
        polish = (accept & small & ~finish) | (st.polish & ~accept)
        fisher = st.fisher | retry
        newton = jnp.where(accept, ~fisher & (dec <= _NEWTON_FROM), st.newton & ~retry)
        started = st.started | (accept & (st.it >= int(free_first)))
        return _State(cand, t, acc, st.r, polish, newton, fisher, halvings, it, code, started)

    dt = d.X.dtype
    p = d.X.shape[1]
    mat, zero, false = jnp.zeros((p, p), dt), jnp.zeros((), dt), jnp.zeros((), bool)
    acc0 = _Point(beta0, zero, zero, beta0, mat, false, beta0, jnp.asarray(jnp.inf, dt))
    init = _State(beta0, jnp.ones((), dt), acc0, r0, false, false, false,
                  jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32),
                  jnp.asarray(-1, jnp.int32), false)  # fmt: skip
    return lax.while_loop(lambda st: st.code < 0, body, init)


def _keeps_domain(fam: Family) -> bool:
    """Whether the link maps every η into the family's domain (a mean cannot leave it).

    ``valid_mu`` is then statically True (a canonical or safe link).
    """
    return fam.valid_mu(jnp.zeros(())) is True


def _valid(fam: Family, d: _Data, beta: jax.Array) -> jax.Array:
    mu = fam.link.inverse(_eta(d, beta))
    dev = _sum(_mul(d.fw, d.vw, d.trials), fam.deviance_kernel(d.y, mu))
    return fam.valid_mu(mu) & jnp.isfinite(dev) & jnp.all(jnp.isfinite(beta))


def _anchor(fam: Family, d: _Data, w: jax.Array, r: jax.Array, inv: jax.Array) -> jax.Array:
    """A β whose mean is inside the family's domain, for step-halving from the first step.

    The first step is statsmodels' regression of the working response at the starting mean;
    where that regression's mean leaves the domain (a log-binomial mean above 1, an identity
    Poisson mean below 0), halving toward β = 0 cannot help (its mean, η = 0, is itself
    outside for those links). Halving heads instead to the first of: the regression of the
    start's η alone (no working residual: a smoother fit of a valid η), the regression of
    its weighted mean (a constant η, exact where the design spans a constant), or 0. The
    domain is convex in η for these links, so the halved steps from a valid anchor are valid
    near it.
    """
    pw = _mul(d.fw, d.vw, d.trials)
    ones = jnp.ones_like(r)
    eta0 = r if d.offset is None else r + d.offset
    mean = _sum(pw, eta0) / _sum(pw, ones)
    b_eta = inv @ jnp.matmul(w * r, d.X, precision=_HIGHEST)
    flat = mean - (0.0 if d.offset is None else d.offset)
    b_mean = inv @ jnp.matmul(w * flat, d.X, precision=_HIGHEST)
    zero = jnp.zeros_like(b_eta)
    return jnp.where(_valid(fam, d, b_eta), b_eta,
                     jnp.where(_valid(fam, d, b_mean), b_mean, zero))  # fmt: skip


def _start(fam: Family, d: _Data, start: Any) -> tuple[jax.Array, Any]:
    if start is not None:
        return start, None
    eta0 = fam.link.link(fam.starting_mu(d.y))
    return jnp.zeros((d.X.shape[1],), d.X.dtype), eta0 if d.offset is None else eta0 - d.offset


def _flat(q: jax.Array, drop_at: Any) -> jax.Array:
    """Whether the log-likelihood is flat one standard error along the Newton step.

    ``q = gᵀH⁻¹g`` (log-likelihood units); ``drop_at(c)`` the log-likelihood drop at ``c·δ``.
    One standard error along ``δ`` the quadratic model drops ½ nat; at separation (an MLE at
    infinity) the likelihood keeps rising there. As :func:`jaxmle._covariance._flat`.
    """
    usable = jnp.isfinite(q) & (q > 0)
    c = jnp.sqrt(1.0 / jnp.where(usable, q, 1.0))
    return usable & ~(drop_at(jnp.where(usable, c, 0.0)) >= _FLAT_DROP)


def _flat_directions(fam: Family, d: _Data, pt: Any, w: jax.Array, pw: Any,
                     phi: jax.Array) -> jax.Array:  # fmt: skip
    """Whether the likelihood is flat one standard error outward along a suspect direction.

    The directions: the Newton step (a fit still creeping off), β itself (complete
    separation: the score underflows to 0, so the step is 0 and tests nothing, while β has
    run off along the separating direction) and each coefficient's axis (quasi-complete
    separation: one coefficient runs off, the others stay finite). One standard error along
    any of them, the quadratic model drops ½ nat; at an MLE at infinity the likelihood still
    rises there, or is flat. All p + 2 deviances in one ``lax.map`` body (one copy of the
    likelihood in the program, memory O(n)); run only when some weight is extreme.
    """
    xb = jnp.matmul(d.X, pt.beta, precision=_HIGHEST)
    q = jnp.stack([pt.dec**2, _sum(w, xb * xb) / phi])  # curvatures along the step and β
    along = jnp.isfinite(q) & (q > 0)
    c = jnp.sqrt(1.0 / jnp.where(along, q, 1.0))
    se = jnp.sqrt(phi * jnp.diagonal(pt.inv))
    axis = jnp.isfinite(se) & (se > 0) & (pt.beta != 0)
    usable = jnp.concatenate([along, axis])
    V = jnp.concatenate([(c[0] * pt.step)[None], (c[1] * pt.beta)[None],
                         jnp.diag(jnp.sign(pt.beta) * jnp.where(axis, se, 0.0))])  # fmt: skip
    V = jnp.where(usable[:, None], V, 0.0)

    def drop(v):
        kernel = fam.irls_terms(d.y, _eta(d, pt.beta + v))[-1]
        return (_sum(pw, kernel) - pt.dev) / (2.0 * phi)

    drops = lax.map(drop, V)
    return jnp.any(usable & ~(drops >= _FLAT_DROP))


def _counts(d: _Data) -> tuple[jax.Array, jax.Array, jax.Array]:
    n, p = d.X.shape
    nobs = jnp.asarray(n, d.X.dtype) if d.fw is None else jnp.sum(d.fw)
    return nobs, jnp.asarray(p - 1, d.X.dtype), nobs - p


def _deviance_pearson(fam: Family, d: _Data, mu: jax.Array) -> tuple[jax.Array, jax.Array]:
    pw = _mul(d.fw, d.vw, d.trials)
    res = d.y - mu
    return _sum(pw, fam.unit_deviance(d.y, mu)), _sum(pw, res * res / fam.variance(mu))


def _llf(fam: Family, d: _Data, mu: jax.Array, scale: jax.Array, nobs: jax.Array) -> jax.Array:
    vw = 1.0 if d.vw is None else d.vw
    t = 1.0 if d.trials is None else d.trials
    if isinstance(fam, Gaussian) and fam.link.name == "identity":
        scale = _sum(_mul(d.fw, d.vw), (d.y - mu) ** 2) / nobs  # the profile (ML) scale
    return _sum(d.fw, fam.loglike_obs(d.y, mu, vw, scale, t))


def _glm_program(fam: Family, d: _Data, start: Any, max_iter: int, tol: float,
                 host: bool = False) -> Any:  # fmt: skip
    """The fit; with ``host``, ``(fit, _Finish)`` for :func:`jaxmle._irls_host.finish`."""
    nobs, df_model, df_resid = _counts(d)
    st = _scoring(fam, d, start, df_resid, max_iter=max_iter, tol=tol)
    pt = st.acc
    coef = pt.beta + jnp.where(st.code == Status.OK, pt.step, 0.0)
    eta = _eta(d, coef)
    mu, sc, wu, _ = fam.working(eta)
    pw = _mul(d.fw, d.vw, d.trials)
    w = wu if pw is None else pw * wu
    deviance, pearson = _deviance_pearson(fam, d, mu)
    phi = _phi(fam, pearson, df_resid)
    scale = pearson / df_resid if fam.has_dispersion else jnp.ones_like(pearson)
    alpha = fam.alpha if isinstance(fam, NegativeBinomial) else jnp.nan

    def result(inv, status):
        return GLMFit(
            coef=coef, cov=scale * inv, cov_unscaled=inv, scale=scale,
            alpha=jnp.asarray(alpha, mu.dtype), eta=eta, mu=mu, weights=w, deviance=deviance,
            pearson_chi2=pearson, llf=_llf(fam, d, mu, scale, nobs), nobs=nobs,
            df_model=df_model, df_resid=df_resid, iterations=st.it, status=status,
            converged=status == Status.OK,
        )  # fmt: skip

    # The covariance at the last point evaluated for a canonical link, unless the step from it
    # moves the weights by more than rounding (then XᵀWX once more, at coef); for the others
    # (whose steps ended with the observed information) the expected one at coef.
    keep = ((pt.dec <= _EXACT) | (st.code != Status.OK)) if fam.canonical else False
    if host:  # the host inverts XᵀWX at coef where needed and runs the flat test
        u = (d.y - mu) * sc
        g = jnp.matmul(u if pw is None else pw * u, d.X, precision=_HIGHEST)

        def info(_):
            return jnp.matmul((d.X * w[:, None]).T, d.X, precision=_HIGHEST)

        # (XᵀWX once more only where it is used: an n·p² product, 60 ms at 1M × 20)
        A = lax.cond(keep, lambda _: jnp.zeros_like(pt.inv), info, None)
        fin = _Finish(A, g, jnp.asarray(keep), pt.singular, phi, _extreme(wu, pw))
        return result(pt.inv, st.code), fin

    def flat_test():
        return _flat_directions(fam, d, pt, w, pw, phi)

    # An MLE at infinity (separation, a group of zero counts) drives some weights to 0: the
    # flat-direction test runs where a weight is below 1e-6 of the largest (not for the
    # dispersion families, whose MLE is finite).
    flat = False
    if not fam.has_dispersion:
        flat = lax.cond(_extreme(wu, pw), flat_test, lambda: jnp.zeros((), bool))

    def at_coef(_):
        return _inverse(jnp.matmul((d.X * w[:, None]).T, d.X, precision=_HIGHEST))

    if fam.canonical:
        inv, singular = lax.cond(keep, lambda _: (pt.inv, pt.singular), at_coef, None)
    else:
        inv, singular = at_coef(None)
    status = _final_status(st.code, singular, flat)
    return result(inv, _verified(status, _decrement(d, mu, sc, pw, inv, phi)))


def _extreme(wu: jax.Array, pw: Any) -> jax.Array:
    """Whether the flat-direction test runs: a weight extreme, among rows of prior weight > 0.

    Extreme: below 1e-6 of the largest, or every weight below 1e-10.

    (The absolute floor: a Binomial response of all ones drives every weight to ~1e-16
    together, none extreme against the others; the fit stopped "converged" at an intercept
    of 37.6 with a standard error of 3e7.)
    """
    live = wu if pw is None else jnp.where(pw > 0, wu, jnp.nan)  # (padding says nothing)
    low = jnp.nanmin(live)
    return (low <= 1e-6 * jnp.nanmax(live)) | (low <= 1e-10)


class _Finish(NamedTuple):
    """What :func:`jaxmle._irls_host.finish` needs from the program."""

    A: jax.Array  # XᵀWX at coef
    g: jax.Array  # the score at coef
    keep: jax.Array  # the last point's inverse is the covariance
    singular: jax.Array  # that inverse's singularity flag
    phi: jax.Array  # the dispersion of standard-error units
    extreme: jax.Array  # some weight extreme (see _extreme: the flat test runs)


def _decrement(d: _Data, mu: jax.Array, sc: jax.Array, pw: Any, inv: jax.Array,
               phi: jax.Array) -> jax.Array:  # fmt: skip
    """The Newton decrement at the returned coefficients: ``√(gᵀ(XᵀWX)⁻¹g/φ)``, in SEs.

    Computed afresh from the score there, not from the loop's bookkeeping: the check that the
    estimate is the score root the status claims (NaN where the information is not PD).
    """
    u = (d.y - mu) * sc
    g = jnp.matmul(u if pw is None else pw * u, d.X, precision=_HIGHEST)
    return jnp.sqrt(jnp.maximum(g @ (inv @ g), 0.0) / phi)


def _verified(status: jax.Array, dec: jax.Array) -> jax.Array:
    """``status``, with ``OK`` demoted to ``NOT_CONVERGED`` where the decrement is not small."""
    short = (status == Status.OK) & ~(dec <= _VERIFY)
    return jnp.where(short, Status.NOT_CONVERGED, status).astype(jnp.int32)


def _final_status(code: jax.Array, singular: jax.Array, flat: jax.Array,
                  boundary: Any = False) -> jax.Array:  # fmt: skip
    ok = code == Status.OK
    status = jnp.where(ok & singular, Status.SINGULAR, code)
    status = jnp.where(ok & ~singular & flat, Status.FLAT_DIRECTION, status)
    status = jnp.where(ok & ~singular & flat & boundary, Status.BOUNDARY, status)
    return status.astype(jnp.int32)


def _program(fam: Family, d: _Data, start: Any, *, max_iter: int, host: bool = False) -> Any:
    tol = 1e-9 if d.X.dtype == jnp.float64 else 1e-4
    if isinstance(fam, NegativeBinomial) and fam.alpha is None:
        from ._irls_nb import nb_program  # (it builds on this module)

        return nb_program(fam, d, start, max_iter, tol)
    return _glm_program(fam, d, start, max_iter, tol, host)


# A concrete call's GLMFit leaves the program as one vector (jaxmle._outputs).


def _program_flat(fam: Family, d: _Data, start: Any, *, max_iter: int, layout: Any) -> jax.Array:
    host = layout[3]
    out = _program(fam, d, start, max_iter=max_iter, host=host)
    return _outputs.flatten(out, layout, d.X.dtype)


_program_cpu = TieredJit(_program_flat, static_argnames=("max_iter", "layout"),
                         compiler_options=_CPU_OPTIONS)  # fmt: skip
_program_plain = _xla.jit(_program, static_argnames=("max_iter",))


def _run(fam: Family, d: _Data, start: Any, max_iter: int) -> GLMFit:
    if _traced(*d, start, fam):
        return _program_plain(fam, d, start, max_iter=max_iter)
    n = d.X.shape[0]
    rows = _irls_shapes.bucket(n, d.X.shape[1])  # (a new n in its bucket compiles nothing)
    if rows:  # (at the bucket's own size too: frequency weights in every fit of the bucket)
        return _irls_shapes.unpad(_run_concrete(fam, _irls_shapes.pad(d, rows), start,
                                                max_iter), n)  # fmt: skip
    return _run_concrete(fam, d, start, max_iter)


def _run_concrete(fam: Family, d: _Data, start: Any, max_iter: int) -> GLMFit:
    if jax.default_backend() != "cpu":
        return _program_plain(fam, d, start, max_iter=max_iter)
    nb = isinstance(fam, NegativeBinomial) and fam.alpha is None
    # The host finishes (jaxmle._irls_host) where the program gets the optimised compile (its
    # cost there: 0.5 s); small programs compile quickly anyway and finish inside (spector
    # warm 0.43 ms, against ~0.9 ms with the NumPy finish), as does NB2 with α estimated.
    host = not nb and np.size(d.X) + 2 * d.X.shape[0] > _program_cpu.quick_max
    layout = (np.shape(d.X), np.dtype(d.X.dtype), nb, bool(host))
    fit = _finish(fam, d, _program_cpu(fam, d, start, max_iter=max_iter, layout=layout), layout)
    if int(fit.status) != Status.NOT_CONVERGED or not np.all(np.isfinite(fit.coef)):
        return fit
    # Stopped short (the loop's test or the check of the returned point's score): once more
    # from there, with the optimised program (a different compilation of the same loop).
    restart = fit.coef[: d.X.shape[1]]
    again = _finish(fam, d, _program_cpu.optimised(fam, d, restart, max_iter=max_iter,
                                                   layout=layout), layout)  # fmt: skip
    return again._replace(iterations=again.iterations + fit.iterations)


def _finish(fam: Family, d: _Data, flat: jax.Array, layout: Any) -> GLMFit:
    out = _outputs.unflatten(flat, layout)
    if not layout[3]:
        return out
    fit, fin = out
    return _irls_host.finish(fam, d, fit, fin.A, fin.g, bool(fin.keep), bool(fin.singular),
                             float(fin.phi), bool(fin.extreme))  # fmt: skip


# --------------------------------------------------------------------------------------------
# The public boundary.


def _array(x: Any, name: str, ndim: int) -> Any:
    """:func:`as_array` on the host (its fast path takes float NumPy arrays of the rank)."""
    return as_array(x, name, ndim=ndim, host=True)


_Tracer = jax.core.Tracer


def _traced(*args: Any) -> bool:
    """:func:`is_traced` for arrays, None and families (a few microseconds)."""
    return any(isinstance(a, _Tracer) or (isinstance(a, Family) and is_traced(a)) for a in args)


def _optional(x: Any, name: str, n: int) -> Any:
    if x is None:
        return None
    a = _array(x, name, 1)
    check_same_length({"y": np.empty(n), name: a})
    return a


def irls(
    family: Family,
    X: Any,
    y: Any,
    *,
    offset: Any = None,
    exposure: Any = None,
    freq_weights: Any = None,
    var_weights: Any = None,
    trials: Any = None,
    start: Any = None,
    max_iter: int = 100,
) -> GLMFit:
    """Fits a GLM by Fisher scoring (IRLS), in statsmodels' conventions, in one program.

    Matches ``statsmodels.api.GLM(y, X, family, offset=, exposure=, freq_weights=,
    var_weights=).fit()`` (its default ``scale="X2"``), solved to the exact score root; a
    :class:`~jaxmle.families.NegativeBinomial` with ``alpha=None`` matches
    ``statsmodels.discrete.discrete_model.NegativeBinomial(y, X).fit()`` (NB2, α estimated).
    Works inside ``jax.jit``/``jax.vmap`` (the value checks are then skipped).

    Args:
        family: a :mod:`jaxmle.families` family, e.g. ``Poisson()`` or ``Binomial("probit")``
            (or its name, with the default link).
        X: ``(n, p)`` design (include a constant column for an intercept).
        y: ``(n,)`` response; for Binomial the proportion of successes in ``[0, 1]``.
        offset: ``(n,)`` added to the linear predictor.
        exposure: ``(n,)`` positive; ``log(exposure)`` is added to the offset (log link only).
        freq_weights: ``(n,)`` non-negative frequency weights (a row counted that many times).
        var_weights: ``(n,)`` positive variance (analytic) weights, ``Var y_i = φV(μ_i)/w_i``.
        trials: ``(n,)`` Binomial trials ``n_i`` (default 1): ``y_i n_i`` successes out of
            ``n_i``, statsmodels' two-column response.
        start: ``(p,)`` starting coefficients (default: statsmodels' starting mean).
        max_iter: the cap on scoring (plus Newton) iterations.

    Returns:
        A :class:`GLMFit` (coefficients, covariance, deviance, log-likelihood, status, ...).

    Raises:
        InputError: on a bad family, shapes, non-finite values, ``y`` outside the family's
            domain, non-positive weights or trials, exposure with a link other than log,
            or a bad ``max_iter``.

    Example:
        >>> import jax, numpy as np
        >>> jax.config.update("jax_enable_x64", True)
        >>> from jaxmle.families import Poisson
        >>> X = np.column_stack([np.ones(4), [0.0, 1.0, 2.0, 3.0]])
        >>> fit = irls(Poisson(), X, np.array([1.0, 2.0, 4.0, 9.0]))
        >>> bool(fit.converged), np.round(np.asarray(fit.coef), 6).tolist()
        (True, [-0.06051, 0.747759])
    """
    fam = as_family(family)
    if not isinstance(max_iter, int | np.integer) or isinstance(max_iter, bool) or max_iter < 1:
        raise InputError(f"`max_iter` must be a positive integer; got {max_iter!r}.")
    Xa = _array(X, "X", 2)
    n, p = Xa.shape
    if p < 1:
        raise InputError("`X` has no columns; pass an (n, p) design with p >= 1.")
    ya = _array(y, "y", 1)
    if ya.shape[0] != n:
        check_same_length({"X": Xa, "y": ya})
    traced = _traced(X, y, offset, exposure, freq_weights, var_weights, trials, start, fam)
    opt = {k: _optional(v, k, n) for k, v in (
        ("offset", offset), ("exposure", exposure), ("freq_weights", freq_weights),
        ("var_weights", var_weights), ("trials", trials))}  # fmt: skip
    if opt["exposure"] is not None and fam.link.name != "log":
        raise InputError(
            f"`exposure` needs the log link (log(exposure) is added to the linear predictor); "
            f"the family's link is {fam.link.name!r}. Pass log-scale offsets as `offset`."
        )
    if opt["trials"] is not None and not isinstance(fam, Binomial):
        raise InputError(f"`trials` is for the Binomial family only; the family is {fam.name}.")
    if start is not None:
        start = as_array(start, "start", ndim=1)
        if start.shape[0] != p:
            raise InputError(f"`start` has {start.shape[0]} entries; X has {p} columns.")
    if not traced:
        _check_values(fam, ya, opt)
    off = _offset(opt["offset"], opt["exposure"])
    d = _Data(Xa, ya, off, opt["freq_weights"], opt["var_weights"], opt["trials"])
    if not traced and _irls_groups.collapsible(fam, d):  # the sufficient-statistics path
        groups = _irls_groups.find(d.X, d.offset)
        if groups is not None:

            def run(small: _Data) -> GLMFit:
                return _run(fam, small, start, int(max_iter))

            return _at_domain_edge(fam, _irls_groups.fit(fam, d, groups, run))
    fit = _run(fam, d, start, int(max_iter))
    return fit if traced else _no_residual_df(fam, _at_domain_edge(fam, fit))


def _no_residual_df(fam: Family, fit: GLMFit) -> GLMFit:
    """``NO_RESIDUAL_DF`` for a dispersion family with as many coefficients as observations.

    Its scale (Pearson χ²/df_resid) and so its covariance are undefined, as ``jaxmle.ols``
    reports for the same design.
    """
    if not fam.has_dispersion or float(fit.df_resid) > 0 or int(fit.status) not in (
            Status.OK, Status.MAX_STEPS, Status.NOT_CONVERGED):  # fmt: skip
        return fit
    nan = np.full(np.shape(fit.cov), np.nan)
    return fit._replace(status=np.asarray(Status.NO_RESIDUAL_DF, np.int32),
                        converged=np.asarray(False), cov=nan)  # fmt: skip


_EDGE = 1e-6  # a mean this close to the domain's edge (relative to the largest, for 0)


def _at_domain_edge(fam: Family, fit: GLMFit) -> GLMFit:
    """A fit that stopped short with a mean at the edge of the domain: ``BOUNDARY``.

    With a link that does not map into the domain (log-binomial, identity Poisson) the MLE
    can be on the domain's boundary (a fitted probability of 1, a rate of 0): the iterations
    then creep toward it and run out. "Raise max_iter" would not help; the usual standard
    errors do not apply there.
    """
    if int(fit.status) not in (Status.MAX_STEPS, Status.NOT_CONVERGED):
        return fit
    if _keeps_domain(fam):
        return fit
    mu = np.asarray(fit.mu)
    if isinstance(fam, Binomial):
        edge = np.min(np.minimum(mu, 1.0 - mu)) <= _EDGE
    else:
        edge = np.min(mu) <= _EDGE * np.max(np.abs(mu))
    if not edge:
        return fit
    status = np.asarray(Status.BOUNDARY, np.int32)
    return fit._replace(status=status, converged=np.asarray(False))


def _check_values(fam: Family, y: Any, opt: dict[str, Any]) -> None:
    fam.check_y(y, "y")
    for name, strict in (("exposure", True), ("var_weights", True), ("trials", True),
                         ("freq_weights", False)):  # fmt: skip
        if opt[name] is None:
            continue
        v = np.asarray(opt[name])
        bad = ~(v > 0) if strict else ~(v >= 0)
        if bad.any():
            what = "positive" if strict else "non-negative"
            raise InputError(
                f"`{name}` must be {what}; found {v[bad].ravel()[0]!r} among "
                f"{int(bad.sum())} invalid value(s)."
            )
    if opt["freq_weights"] is not None and not np.sum(opt["freq_weights"]) > 0:
        raise InputError("`freq_weights` are all zero; give some observations positive weight.")


def _offset(offset: Any, exposure: Any) -> Any:
    if exposure is None:
        return offset
    log_e = np.log(exposure) if isinstance(exposure, np.ndarray) else jnp.log(exposure)
    return log_e if offset is None else offset + log_e
