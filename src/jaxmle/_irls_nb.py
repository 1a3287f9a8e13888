"""NB2 with α estimated: damped Newton on ``(β, log α)`` after a Poisson IRLS start.

The second half of :func:`jaxmle._irls.irls` for ``NegativeBinomial(alpha=None)``
(statsmodels' ``discrete.NegativeBinomial``): the α score is not linear in ``y``, so Fisher
scoring on β alone does not apply. It reuses the IRLS module's points, inverse, stopping test
and status rules; its covariance is the inverse observed information in natural α.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from ._families import NegativeBinomial, Poisson
from ._irls import (
    _MAX_HALVINGS,
    GLMFit,
    _counts,
    _deviance_pearson,
    _final_status,
    _flat,
    _Point,
    _scoring,
    _small,
    _verified,
)
from ._irls_eval import _HIGHEST, _Data, _eta, _evaluate, _inverse, _mul, _sum, _where
from ._logpmf import nb2_loglike as _nb2_loglike
from ._logpmf import nb2_logpmf
from ._status import Status

__all__ = ["nb_program"]


class _NBEval(NamedTuple):
    llf: jax.Array
    g: jax.Array  # gradient in (β, log α)
    H: jax.Array  # minus the Hessian
    ok: jax.Array


def _nb_log_mu(link: Any, eta: jax.Array) -> jax.Array:
    return eta if link.name == "log" else jnp.log(link.inverse(eta))


def _nb_evaluate(fam: NegativeBinomial, d: _Data, theta: jax.Array) -> _NBEval:
    """NB2 log-likelihood, gradient and minus Hessian in ``θ = (β, log α)``.

    The derivatives: autodiff of the pointwise log-likelihood as written (``nb2_loglike``) in
    ``(η_i, log α)``, chained through ``X``; the value: the accurate ``nb2_logpmf``.
    """
    pw = _mul(d.fw, d.vw)
    eta, a = _eta(d, theta[:-1]), theta[-1]

    def ll(e, a, y):
        return _nb2_loglike(y, _nb_log_mu(fam.link, e), a)

    fe, fa = jax.vmap(jax.grad(ll, (0, 1)), (0, None, 0))(eta, a, d.y)
    (fee, fea), (_, faa) = jax.vmap(jax.hessian(ll, (0, 1)), (0, None, 0))(eta, a, d.y)
    if pw is not None:
        fe, fa, fee, fea, faa = (pw * x for x in (fe, fa, fee, fea, faa))
    X = d.X
    Hbb = jnp.matmul((X * fee[:, None]).T, X, precision=_HIGHEST)
    Hba = jnp.matmul(fea, X, precision=_HIGHEST)
    H = jnp.block([[Hbb, Hba[:, None]], [Hba[None, :], jnp.sum(faa)[None, None]]])
    g = jnp.concatenate([jnp.matmul(fe, X, precision=_HIGHEST), jnp.sum(fa)[None]])
    # (The value of the form above cancels for large counts or small α: at counts near e²⁰
    # its rounding, ~1e-6, outweighed the steps' gains and the accept test stalled the fit.)
    llf = _sum(pw, nb2_logpmf(d.y, fam.link.inverse(eta), jnp.exp(a)))
    ok = jnp.isfinite(llf) & jnp.all(jnp.isfinite(g)) & jnp.all(jnp.isfinite(H))
    return _NBEval(llf, g, -H, ok)


class _NBState(NamedTuple):
    cand: jax.Array
    acc: _Point
    lam: jax.Array  # Levenberg–Marquardt damping, relative to the curvature's diagonal
    polish: jax.Array
    rejects: jax.Array
    it: jax.Array
    code: jax.Array


def _nb_newton(fam, d, theta0, *, max_iter, tol) -> _NBState:
    """Levenberg–Marquardt-damped Newton on the NB2 log-likelihood in ``(β, log α)``.

    One evaluation per iteration; the damping falls tenfold after an accepted step (to 0, plain
    Newton) and rises tenfold after a rejected one. Converged when an undamped step's Newton
    decrement is below ``tol``; one more step polishes. The accepted point's ``dev`` holds the
    log-likelihood and its ``pearson`` minus the Hessian.
    """
    dt = theta0.dtype

    def body(st: _NBState) -> _NBState:
        ev = _nb_evaluate(fam, d, st.cand)
        first = st.it == 0
        ref = jnp.where(first, -jnp.inf, st.acc.dev)
        accept = ev.ok & ((ev.llf >= ref - 1e-10 * jnp.abs(ref)) | st.polish)
        lam = jnp.where(accept, jnp.where(st.lam < 1e-3, 0.0, 0.1 * st.lam),
                        jnp.maximum(10.0 * st.lam, 1e-4))  # fmt: skip
        base, llf, H, g = _where(accept, (st.cand, ev.llf, ev.H, ev.g),
                                 (st.acc.beta, st.acc.dev, st.acc.pearson, st.acc.g))  # fmt: skip
        inv, singular = _inverse(H + lam * jnp.diag(jnp.abs(jnp.diagonal(H))))
        step = inv @ g
        finite = jnp.all(jnp.isfinite(step))
        dec = jnp.sqrt(jnp.maximum(jnp.dot(step, g), 0.0))
        small = finite & (lam == 0) & _small(dec, st.acc.dec, tol)
        acc = _Point(base, llf, H, g, inv, singular, step, dec)
        # A curvature that is not positive definite far from the optimum: raise the damping.
        lam = jnp.where(finite, lam, jnp.maximum(10.0 * lam, 1e-4))
        rejects = jnp.where(accept & finite, 0, st.rejects + 1)
        it = st.it + 1
        done = accept & st.polish
        code = jnp.where(done, Status.OK,
               jnp.where(first & ~ev.ok, Status.NONFINITE,
               jnp.where(rejects > _MAX_HALVINGS, Status.NOT_CONVERGED,
               jnp.where(it >= max_iter, Status.MAX_STEPS, -1))))  # fmt: skip
        cand = base + jnp.where(finite, step, 0.0)
        polish = (accept & small) | (st.polish & ~accept)
        return _NBState(cand, acc, lam, polish, rejects, it, code.astype(jnp.int32))

    k = theta0.shape[0]
    zero, mat = jnp.zeros((), dt), jnp.zeros((k, k), dt)
    false = jnp.zeros((), bool)
    inf = jnp.asarray(jnp.inf, dt)
    acc0 = _Point(theta0, zero, mat, theta0, mat, false, theta0, inf)
    init = _NBState(theta0, acc0, jnp.zeros((), dt), jnp.zeros((), bool),
                    jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32),
                    jnp.asarray(-1, jnp.int32))  # fmt: skip
    return lax.while_loop(lambda st: st.code < 0, body, init)


def _nb_cov(pt: _Point) -> jax.Array:
    """Inverse observed information in natural α from the one in ``log α`` (exact).

    With ``a = log α``: ``−∂²ℓ/∂α² = (−∂²ℓ/∂a² + ∂ℓ/∂a)/α²`` and ``−∂²ℓ/∂β∂α = −∂²ℓ/∂β∂a / α``,
    i.e. ``J⁻¹(H + g_a e eᵀ)J⁻¹`` with ``J = diag(1, …, 1, α)``; its inverse by Sherman–Morrison.
    """
    k = pt.inv.shape[0]
    alpha = jnp.exp(pt.beta[-1])
    c = pt.g[-1]
    col = pt.inv[:, -1]
    inv = pt.inv - c * jnp.outer(col, col) / (1.0 + c * col[-1])
    J = jnp.ones((k,), inv.dtype).at[-1].set(alpha)
    return inv * J[:, None] * J[None, :]


def nb_program(fam: NegativeBinomial, d: _Data, start: Any, max_iter: int, tol: float) -> GLMFit:
    nobs, df_model, df_resid = _counts(d)
    st = _scoring(Poisson(fam.link), d, start, df_resid, max_iter=max_iter, tol=1e-6)
    # statsmodels' start for α: the moment estimate Σ((y − μ)²/μ − 1)/μ / df_resid, ≥ 0.05.
    beta_p = st.acc.beta + jnp.where(jnp.all(jnp.isfinite(st.acc.step)), st.acc.step, 0.0)
    mu = fam.link.inverse(_eta(d, beta_p))
    a0 = _sum(_mul(d.fw, d.vw), ((d.y - mu) ** 2 / mu - 1.0) / mu) / jnp.maximum(df_resid, 1.0)
    theta0 = jnp.concatenate([beta_p, jnp.log(jnp.maximum(a0, 0.05))[None]])
    nb = _nb_newton(fam, d, theta0, max_iter=max_iter, tol=tol)
    pt = nb.acc
    beta, alpha = pt.beta[:-1], jnp.exp(pt.beta[-1])

    def drop_at(c):
        th = pt.beta + c * pt.step
        return pt.dev - _sum(_mul(d.fw, d.vw), nb2_logpmf(
            d.y, fam.link.inverse(_eta(d, th[:-1])), jnp.exp(th[-1])))  # fmt: skip

    flat = _flat(pt.dec**2, drop_at)
    nbf = NegativeBinomial(fam.link, alpha=alpha)
    glm = _evaluate(nbf, d, beta)
    deviance, pearson = _deviance_pearson(nbf, d, glm.mu)
    cov_unscaled, _ = _inverse(glm.A)
    # α running to 0 (equidispersed counts: the Poisson limit) with the log-likelihood still
    # rising toward it stops the Newton run short; the MLE is on the boundary α = 0.
    rising = pt.g[-1] <= jnp.sqrt(jnp.finfo(alpha.dtype).eps) * (1.0 + jnp.abs(pt.dev))
    code = jnp.where((nb.code != Status.OK) & (alpha < 1e-3) & rising, Status.BOUNDARY, nb.code)
    status = _final_status(code, pt.singular, flat, alpha < 1e-3)
    status = _verified(status, pt.dec)  # (the decrement at the returned point itself)
    one = jnp.ones_like(alpha)
    return GLMFit(
        coef=beta, cov=_nb_cov(pt), cov_unscaled=cov_unscaled, scale=one, alpha=alpha,
        eta=glm.eta, mu=glm.mu, weights=glm.w, deviance=deviance, pearson_chi2=pearson,
        llf=pt.dev, nobs=nobs, df_model=df_model, df_resid=df_resid,
        iterations=st.it + nb.it - 1, status=status, converged=status == Status.OK,
    )  # fmt: skip
