"""Inference at an estimate: information matrices, covariances, Wald and LR tests, summaries.

Everything is computed by autodiff of the pointwise log-likelihood ``log_prob(params, data)``
(a :class:`~jaxmle.models.Model` or a plain function) at the estimate, in natural parameters.
The parameter pytree is flattened to one vector with :func:`jax.flatten_util.ravel_pytree`, so
every matrix is ``(k, k)`` with one label per entry (``coef[0]``, ``intercept``, ``variance``).
A symmetric matrix parameter (a covariance with the ``positive_definite`` constraint, or a key
named in ``symmetric``) contributes its lower triangle only (vech, labels ``cov[i,j]`` with
``i >= j``): the matrix is rebuilt symmetrically from those entries, so an off-diagonal entry
moves both ``cov[i,j]`` and ``cov[j,i]``.

Kernels are pure and jittable; a data-dependent failure (an information matrix that is not
positive definite, or numerically singular; no residual degrees of freedom; a leverage of one
for HC2/HC3; any non-finite standard error) is a ``status`` code in the result, with NaN
covariances: standard errors are never NaN or inf under status 0. The public functions
validate concrete inputs, call the jitted kernels and turn a bad status into a warning;
given tracers (inside ``jit``/``vmap``) they skip both and just return the result, status
included.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from jax.scipy import special, stats
from jax.scipy.linalg import cho_solve, solve_triangular

from . import _numerics
from ._errors import InputError
from ._models import (
    Bernoulli,
    Gaussian,
    LinearRegression,
    LogisticRegression,
    Model,
    MultivariateGaussian,
    Poisson,
)
from ._ols import lstsq
from ._validation import n_rows

__all__ = [
    "COV_TYPES",
    "STATUS",
    "LRTest",
    "Summary",
    "Wald",
    "aic",
    "bic",
    "covariance",
    "expected_information",
    "loglik",
    "lr_test",
    "observed_information",
    "param_labels",
    "scores",
    "stderr",
    "summary",
    "sweep_summary",
    "wald",
]

PyTree = Any

COV_TYPES = ("hessian", "expected", "outer", "sandwich", "classical", "HC0", "HC1", "HC2", "HC3")
"""Covariance estimators.

``hessian``: inverse observed information H⁻¹, H = −∇²(ℓ + log prior) at the estimate.
``expected``: inverse expected (Fisher) information (built-in models only).
``outer``: inverse outer product of the per-observation scores, B⁻¹ (OPG/BHHH).
``sandwich``: H⁻¹ B H⁻¹ (Huber/White; for linear regression its coefficient block is HC0).
``classical``: σ²(XᵀWX)⁻¹ with σ² = RSS/(n − p) (linear regression; statsmodels' ``nonrobust``).
``HC0``–``HC3``: White's heteroscedasticity-consistent covariances of linear regression,
as statsmodels defines them.
"""

_OLS_TYPES = ("classical", "HC0", "HC1", "HC2", "HC3")

STATUS = {
    0: "ok",
    1: "the estimate or the {what} has non-finite entries (NaN or inf): a fit that diverged, "
    "or a log-likelihood whose derivatives are not finite there (parameters outside their "
    "domain?)",
    2: "the {what} is not positive definite at the estimate (its Cholesky factorisation "
    "failed): the estimate is not a strict local maximum (an optimiser that has not "
    "converged, a parameter on its boundary)",
    3: "the {what} is numerically singular at the estimate ({eig}): some parameters are not "
    "identified by the data (collinear columns, too few observations) or the model is "
    "over-parametrised",
    4: "there are no residual degrees of freedom (n = {n} observations for {p} regression "
    "parameters): σ² = RSS/(n − p), HC1's n/(n − p) and Student's t need n > p",
    5: "an observation has leverage h_i = 1 (it is fitted exactly whatever the data): HC2 and "
    "HC3 divide its squared residual by 1 − h_i; use HC0 or HC1",
}
"""Status codes of :class:`Summary` and the reasons the warnings give."""

_WHAT = {
    "hessian": "observed information (minus the Hessian of the log-likelihood{prior})",
    "expected": "expected (Fisher) information{prior}",
    "outer": "outer product of the per-observation scores",
    "sandwich": "observed information (minus the Hessian of the log-likelihood{prior})",
    "classical": "design's cross-product XᵀWX",
}


# --------------------------------------------------------------------------------------------
# Flattening a parameter pytree into a labelled vector.


class _Packer(NamedTuple):
    vec: jax.Array
    unpack: Callable[[jax.Array], PyTree]
    labels: tuple[str, ...]
    slices: dict[str, tuple[int, int]]  # top-level dict key -> [start, stop) in ``vec``


def _key_name(k: Any) -> str:
    for attr in ("key", "name", "idx"):
        if hasattr(k, attr):
            return str(getattr(k, attr))
    return str(k)


def _sym_keys(model: Any, symmetric: Sequence[str]) -> frozenset[str]:
    keys = set(symmetric)
    if isinstance(model, Model):
        keys |= {k for k, c in model.constraints.items() if c.name == "positive_definite"}
    return frozenset(keys)


def _vech(a: jax.Array) -> jax.Array:
    i, j = np.tril_indices(a.shape[-1])
    return a[i, j]


def _unvech(v: jax.Array, k: int) -> jax.Array:
    i, j = np.tril_indices(k)
    L = jnp.zeros((k, k), v.dtype).at[i, j].set(v)
    return L + L.T - jnp.diag(jnp.diagonal(L))


def _packer(params: PyTree, sym: frozenset[str]) -> _Packer:
    """Flattens ``params`` (symmetric leaves as vech) with ravel_pytree, plus labels."""
    is_dict = isinstance(params, Mapping)
    sym = sym if is_dict else frozenset()
    reduced = {k: (_vech(v) if k in sym else v) for k, v in params.items()} if is_dict else params
    vec, unravel = ravel_pytree(reduced)
    sizes = {k: jnp.shape(params[k])[-1] for k in sym}

    def unpack(v: jax.Array) -> PyTree:
        r = unravel(v)
        if not sym:
            return r
        return {k: (_unvech(x, sizes[k]) if k in sym else x) for k, x in r.items()}

    labels: list[str] = []
    slices: dict[str, tuple[int, int]] = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(reduced)[0]:
        name = ".".join(_key_name(p) for p in path) or "param"
        top = _key_name(path[0]) if path else None
        start = len(labels)
        if top in sym and len(path) == 1:
            i, j = np.tril_indices(sizes[top])
            labels += [f"{name}[{a},{b}]" for a, b in zip(i, j, strict=True)]
        elif jnp.ndim(leaf) == 0:
            labels.append(name)
        else:
            labels += [f"{name}[{','.join(map(str, ix))}]" for ix in np.ndindex(jnp.shape(leaf))]
        if top is not None and len(path) == 1:
            slices[top] = (start, len(labels))
    return _Packer(vec, unpack, tuple(labels), slices)


# --------------------------------------------------------------------------------------------
# Kernels (pure, jittable).


def _funcs(model: Any) -> tuple[Callable, Callable | None]:
    if isinstance(model, Model):
        return model.log_prob, (model.log_prior if model.prior else None)
    return model, None


def _n_obs(data: PyTree) -> int:
    return int(jnp.shape(jax.tree_util.tree_leaves(data)[0])[0])


def _neg_hessian(model, pk: _Packer, data, include_prior: bool) -> jax.Array:
    log_prob, log_prior = _funcs(model)

    def total(v):
        p = pk.unpack(v)
        t = jnp.sum(log_prob(p, data))
        if include_prior and log_prior is not None:
            t = t + log_prior(p)
        return t

    return -jax.hessian(total)(pk.vec)


def _scores(model, pk: _Packer, data) -> jax.Array:
    # d log p(x_i | θ) / dθ for every row i at once: jacfwd pushes the k parameter directions
    # through the pointwise log_prob (k evaluations of the model, whatever n is). It equals
    # vmap(grad) over rows for any row-separable log_prob (tested), without slicing the data.
    log_prob, _ = _funcs(model)
    return jax.jacfwd(lambda v: log_prob(pk.unpack(v), data))(pk.vec)


def _gauss_info(mean_fn, var_fn, vec) -> jax.Array:
    """Σ_i ∇μ_i∇μ_iᵀ/v_i + ∇v_i∇v_iᵀ/(2v_i²): Fisher information of independent normals."""
    Jm, Jv, v = jax.jacfwd(mean_fn)(vec), jax.jacfwd(var_fn)(vec), var_fn(vec)
    return (Jm / v[:, None]).T @ Jm + 0.5 * (Jv / v[:, None] ** 2).T @ Jv


def _has_expected(model: Any) -> bool:
    types = (Gaussian, MultivariateGaussian, LinearRegression, Bernoulli, Poisson,
             LogisticRegression)  # fmt: skip
    return isinstance(model, types)


def _expected_info(model, pk: _Packer, data, include_prior: bool) -> jax.Array:
    """Fisher information per model class, by autodiff of its moments in the packed vector."""
    vec, unpack = pk.vec, pk.unpack
    n = _n_obs(data)
    if isinstance(model, Gaussian):
        ones = jnp.ones((n,), vec.dtype)

        def var(v):
            p = unpack(v)
            return ones * (p["variance"] if model.variance is None else model.variance)

        info = _gauss_info(lambda v: ones * unpack(v)["mean"], var, vec)
    elif isinstance(model, LinearRegression):
        X, w = data["X"], data.get("weight")

        def mean(v):
            p = unpack(v)
            mu = jnp.matmul(X, p["coef"], precision=jax.lax.Precision.HIGHEST)
            return mu + p["intercept"] if model.intercept else mu

        def var(v):
            p = unpack(v)
            s2 = p["variance"] if model.noise_variance is None else model.noise_variance
            return jnp.ones((n,), vec.dtype) * s2 / (1.0 if w is None else w)

        info = _gauss_info(mean, var, vec)
    elif isinstance(model, MultivariateGaussian):
        # n [∇μᵀ Σ⁻¹ ∇μ + ½ tr(Σ⁻¹ ∂_jΣ Σ⁻¹ ∂_kΣ)], every Σ⁻¹ as a Cholesky solve.
        def cov(v):
            return unpack(v)["cov"] if model.cov is None else jnp.asarray(model.cov, vec.dtype)

        S = cov(vec)
        d = S.shape[0]
        Jm = jax.jacfwd(lambda v: unpack(v)["mean"])(vec)  # (d, k)
        JS = jax.jacfwd(cov)(vec)  # (d, d, k)
        cf = (jnp.linalg.cholesky(S), True)
        A = cho_solve(cf, JS.reshape(d, -1)).reshape(JS.shape)  # Σ⁻¹ ∂Σ
        info = n * (Jm.T @ cho_solve(cf, Jm) + 0.5 * jnp.einsum("abj,bak->jk", A, A))
    elif isinstance(model, Bernoulli):
        p = unpack(vec)["prob"]
        g = jax.grad(lambda v: unpack(v)["prob"])(vec)
        info = n * jnp.outer(g, g) / (p * (1.0 - p))
    elif isinstance(model, Poisson):
        lam = unpack(vec)["rate"]
        g = jax.grad(lambda v: unpack(v)["rate"])(vec)
        info = n * jnp.outer(g, g) / lam
    elif isinstance(model, LogisticRegression):
        X = data["X"]

        def eta(v):
            p = unpack(v)
            e = jnp.matmul(X, p["coef"], precision=jax.lax.Precision.HIGHEST)
            return e + p["intercept"] if model.intercept else e

        J = jax.jacfwd(eta)(vec)
        s = jax.nn.sigmoid(eta(vec))
        info = (J * (s * (1.0 - s))[:, None]).T @ J  # Σ p(1−p) ∇η∇ηᵀ
    else:  # the public wrapper rejects these before tracing
        raise InputError(_no_expected_msg(model))
    _, log_prior = _funcs(model)
    if include_prior and log_prior is not None:
        info = info - jax.hessian(lambda v: log_prior(unpack(v)))(vec)
    return info


def _no_expected_msg(model: Any) -> str:
    name = type(model).__name__ if isinstance(model, Model) else "a plain log_prob function"
    return (
        f"`cov_type`='expected' needs the expected (Fisher) information in closed form, which "
        f"is known for Gaussian, MultivariateGaussian, LinearRegression, Bernoulli, Poisson and "
        f"LogisticRegression, not for {name}; use cov_type='hessian' (observed information) "
        "or 'outer'."
    )


def _inv_pd(A: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Inverse of a symmetric positive-definite matrix via a Jacobi-scaled Cholesky.

    Returns ``(inverse, status, λ)`` with λ an estimate of the smallest eigenvalue of the
    unit-diagonal scaling (``1/‖C⁻¹‖_F``, within a factor √k; NaN when Cholesky fails); the
    inverse is NaN unless the matrix is finite, positive definite and not numerically singular.
    """
    k = A.shape[0]
    A = 0.5 * (A + A.T)
    finite = jnp.all(jnp.isfinite(A))
    eye = jnp.eye(k, dtype=A.dtype)
    A = jnp.where(finite, A, eye)
    d = jnp.diagonal(A)
    # Unit-diagonal scaling makes the singularity test independent of the parameters' units
    # (a variance of 1e-6 next to a coefficient of 1e3), as column scaling does for OLS.
    s = 1.0 / jnp.sqrt(jnp.where(d > 0, d, 1.0))
    C = A * s[:, None] * s[None, :]
    L = jnp.linalg.cholesky(C)  # NaN when C is not positive definite
    chol_ok = jnp.all(jnp.isfinite(L))
    Cinv = cho_solve((jnp.where(chol_ok, L, eye), True), eye)
    # An eigenvalue test without an eigendecomposition (which costs more to compile than all
    # the rest): λ_min(C) = 1/‖C⁻¹‖₂ and ‖C⁻¹‖₂ ≤ ‖C⁻¹‖_F ≤ √k ‖C⁻¹‖₂.
    lam = 1.0 / jnp.sqrt(jnp.sum(Cinv**2))
    tol = 10.0 * k * jnp.finfo(A.dtype).eps  # C's largest eigenvalue is between 1 and k
    # A singular matrix can come out slightly indefinite from rounding: it is "singular" when
    # C + tol·I still factorises, "not positive definite" when it does not.
    psd = jnp.all(jnp.isfinite(jnp.linalg.cholesky(C + tol * eye)))
    not_pd = jnp.any(d < 0) | (~chol_ok & ~psd)
    singular = ~chol_ok | ~(lam > tol)
    status = jnp.where(~finite, 1, jnp.where(not_pd, 2, jnp.where(singular, 3, 0)))
    inv = Cinv * s[:, None] * s[None, :]
    inv = jnp.where(status == 0, 0.5 * (inv + inv.T), jnp.nan)
    return inv, status.astype(jnp.int32), jnp.where(finite & chol_ok, lam, jnp.nan)


def _ols_cov(model: LinearRegression, pk: _Packer, data, cov_type: str, hc):
    """Classical σ²(XᵀWX)⁻¹ or HC0–HC3 (statsmodels' definitions), in the packed order.

    ``cov_type`` is ``"classical"`` or ``"HC"``; for the latter the (traced) index ``hc``
    picks HC0–HC3, so the four share one compiled program.
    """
    X, y, w = data["X"], data["y"], data.get("weight")
    n, d = X.shape
    p = d + int(model.intercept)
    dt = pk.vec.dtype
    params = pk.unpack(pk.vec)
    # The factor depends on X (and the weights) only: solving against y = 0 keeps it unbatched
    # when a Monte Carlo study vmaps over simulated y with a fixed design. The qr path refines
    # (XᵀWX)⁻¹ in double-double (NIST's certified standard deviations need it).
    classical = cov_type == "classical"
    sol = lstsq(X, jnp.zeros_like(y), w, intercept=model.intercept, method="qr", cov=classical)
    ones = jnp.ones((n, 1), dt)
    A = jnp.concatenate([ones, X], axis=1) if model.intercept else X
    theta = params["coef"]
    if model.intercept:
        theta = jnp.concatenate([params["intercept"][None], theta])
    # Residuals at the given estimate in double-double: exact fits (NIST Wampler1) have RSS ≈ 0.
    rh, rl = _numerics.dd_residual(A, theta, y)
    r = rh + rl
    sw = jnp.ones((n,), dt) if w is None else jnp.sqrt(w)
    rw2 = (sw * r) ** 2
    df = n - p
    if classical:
        if model.noise_variance is None:
            s2 = jnp.sum(rw2) / df if df > 0 else jnp.asarray(jnp.nan, dt)
        else:
            s2 = jnp.asarray(model.noise_variance, dt)
        cov_a = s2 * sol.cov_unscaled
    else:
        R, S = sol.r_factor, sol.scale
        # Qᵀ = R⁻ᵀ(S⁻¹AᵀW½): the leverages are its squared column norms (no inverse formed).
        Qt = solve_triangular(R, ((sw[:, None] * A) / S).T, trans="T", lower=False)
        h = jnp.sum(Qt**2, axis=0)
        factor = jnp.stack([
            jnp.ones_like(h),  # HC0: e²
            jnp.full_like(h, n / df if df > 0 else jnp.nan),  # HC1: e² n/(n − p)
            1.0 / (1.0 - h),  # HC2: e²/(1 − h)
            1.0 / (1.0 - h) ** 2,  # HC3: e²/(1 − h)²
        ])[hc]  # fmt: skip
        M = (Qt * (rw2 * factor)) @ Qt.T
        T = solve_triangular(R, M, lower=False)  # R⁻¹M
        C = solve_triangular(R, T.T, lower=False)  # R⁻¹MR⁻ᵀ (M symmetric)
        cov_a = 0.5 * (C + C.T) / S[:, None] / S[None, :]
    eps = float(jnp.finfo(dt).eps)
    singular = ~(sol.cond < 1.0 / (max(n, p) * eps))  # NaN cond counts as singular
    if classical:
        no_df = df <= 0 and model.noise_variance is None
        lev1 = False
    else:
        no_df = (df <= 0) & (hc == 1)
        # 1/(1 − h) past 1/sqrt(eps): the weight is rounding noise, not a number.
        lev1 = (hc >= 2) & jnp.any(h >= 1.0 - math.sqrt(eps))
    status = jnp.where(singular, 3, jnp.where(no_df, 4, jnp.where(lev1, 5, 0)))
    k = pk.vec.shape[0]
    idx = list(range(*pk.slices["coef"]))
    if model.intercept:
        idx = list(range(*pk.slices["intercept"])) + idx
    idx = np.asarray(idx)
    cov = jnp.zeros((k, k), dt).at[np.ix_(idx, idx)].set(cov_a)
    if model.noise_variance is None:
        # σ² is not a regression coefficient; its row gets the matching flavour: the inverse
        # Fisher information 2σ⁴/n (classical) or the sandwich from the residuals (HC).
        j = pk.slices["variance"][0]
        s2 = params["variance"]
        if classical:
            v = 2.0 * s2**2 / n
        else:
            g = rw2 / (2.0 * s2**2) - 0.5 / s2  # per-row score in σ²
            hess = jnp.sum(rw2 / s2**3 - 0.5 / s2**2)  # minus the second derivative
            v = jnp.sum(g**2) / hess**2
        cov = cov.at[j, j].set(v)
    # λ_min of the unit-diagonal XᵀWX is 1/cond² of the column-scaled design (within a factor
    # p, its largest eigenvalue): the same scale as _inv_pd's estimate.
    lam = 1.0 / sol.cond**2
    return jnp.where(status == 0, cov, jnp.nan), status.astype(jnp.int32), lam


def _cov_kernel(model, pk: _Packer, data, cov_type: str, include_prior: bool, hc=0):
    if cov_type in ("classical", "HC"):
        return _ols_cov(model, pk, data, cov_type, hc)
    if cov_type == "expected":
        return _inv_pd(_expected_info(model, pk, data, include_prior))
    if cov_type == "outer":
        S = _scores(model, pk, data)
        return _inv_pd(S.T @ S)
    H = _neg_hessian(model, pk, data, include_prior)
    Hinv, status, eig = _inv_pd(H)
    if cov_type == "hessian":
        return Hinv, status, eig
    S = _scores(model, pk, data)
    cov = Hinv @ (S.T @ S) @ Hinv
    return 0.5 * (cov + cov.T), status, eig


class _Cfg(NamedTuple):
    """Static settings of the summary kernel."""

    cov_type: str
    level: float
    use_t: bool
    include_prior: bool
    n_params: int | None
    symmetric: tuple[str, ...]
    axes: tuple = ()


def _df_resid(model, n: int, k: int) -> int:
    # statsmodels: n − p for OLS (σ² not counted), n − k for other likelihood models.
    return n - (k - _n_scale(model))


def _n_scale(model) -> int:
    """Number of noise-scale parameters that statsmodels leaves out of its parameter count."""
    return int(isinstance(model, LinearRegression) and model.noise_variance is None)


def _t_two_sided(stat: jax.Array, df: int) -> jax.Array:
    # P(|T| > |t|) = I_{df/(df+t²)}(df/2, 1/2), the regularised incomplete beta function.
    x = df / (df + stat**2)
    return special.betainc(0.5 * df, 0.5, x)


def _quantile(level: float, df: int | None) -> float:
    q = 0.5 + 0.5 * level
    if df is None:
        return statistics.NormalDist().inv_cdf(q)
    if df <= 0:
        return math.nan
    import scipy.stats  # jax's own dependency; the t quantile for a static df, at trace time

    return float(scipy.stats.t.ppf(q, df))


def _wald_kernel(est, se, level: float, df: int | None):
    stat = est / se
    if df is None:
        pval = 2.0 * stats.norm.sf(jnp.abs(stat))
    elif df > 0:
        pval = _t_two_sided(stat, df)
    else:
        pval = jnp.full_like(stat, jnp.nan)
    q = _quantile(level, df)
    return stat, pval, est - q * se, est + q * se


_wald_jit = jax.jit(_wald_kernel, static_argnums=(2, 3))


def _hc_family(cfg: _Cfg) -> tuple[_Cfg, int]:
    """HC0–HC3 run as one program (cov_type "HC") with the variant as a traced index."""
    if cfg.cov_type in ("HC0", "HC1", "HC2", "HC3"):
        return cfg._replace(cov_type="HC"), int(cfg.cov_type[2])
    return cfg, 0


def _summary_kernel(model, params, data, fn, cfg: _Cfg, hc=0) -> Summary:
    m = model if fn is None else fn
    pk = _packer(params, _sym_keys(m, cfg.symmetric))
    log_prob, _ = _funcs(m)
    n = _n_obs(data)
    k = pk.vec.shape[0]
    cov, status, eig = _cov_kernel(m, pk, data, cfg.cov_type, cfg.include_prior, hc)
    df = _df_resid(m, n, k)
    if cfg.use_t and df <= 0:  # Student's t needs residual degrees of freedom
        status = jnp.where(status == 0, 4, status)
    # Never NaN/inf standard errors (or estimates: a diverged lane of a sweep) under status
    # "ok", e.g. from a sandwich's non-finite scores.
    v = jnp.diagonal(cov)
    bad = ~(jnp.all(jnp.isfinite(v) & (v >= 0)) & jnp.all(jnp.isfinite(pk.vec)))
    status = jnp.where((status == 0) & bad, 1, status).astype(jnp.int32)
    cov = jnp.where(status == 0, cov, jnp.nan)
    se = jnp.sqrt(jnp.diagonal(cov))
    stat, pval, lo, hi = _wald_kernel(pk.vec, se, cfg.level, df if cfg.use_t else None)
    ll = jnp.sum(log_prob(pk.unpack(pk.vec), data))
    k_ic = cfg.n_params if cfg.n_params is not None else k - _n_scale(m)
    return Summary(
        estimate=pk.vec, stderr=se, statistic=stat, pvalue=pval, ci_low=lo, ci_high=hi,
        cov=cov, loglik=ll, aic=-2.0 * ll + 2.0 * k_ic, bic=-2.0 * ll + math.log(n) * k_ic,
        status=status, min_eigenvalue=eig, labels=pk.labels, cov_type=cfg.cov_type,
        use_t=cfg.use_t, level=cfg.level, n_obs=n, n_params=k_ic, df_resid=df,
        model_name=type(m).__name__ if isinstance(m, Model) else getattr(m, "__name__", "log_prob"),
        posterior=bool(cfg.include_prior and _funcs(m)[1] is not None), axes=cfg.axes,
    )  # fmt: skip


_summary_jit = jax.jit(_summary_kernel, static_argnames=("fn", "cfg"))


@partial(jax.jit, static_argnames=("fn", "cfg"))
def _summary_lanes(model, params, data, fn, cfg, hc):
    return jax.vmap(lambda p: _summary_kernel(model, p, data, fn, cfg, hc))(params)


def _run_summary(kernel, model, params, data, cfg: _Cfg) -> Summary:
    m, fn = (model, None) if isinstance(model, Model) else (None, model)
    fam, hc = _hc_family(cfg)
    out = kernel(m, params, data, fn=fn, cfg=fam, hc=jnp.asarray(hc, jnp.int32))
    return dataclasses.replace(out, cov_type=cfg.cov_type)


@partial(jax.jit, static_argnames=("fn", "what", "include_prior", "symmetric"))
def _matrix_jit(model, params, data, fn, what, include_prior, symmetric):
    m = model if fn is None else fn
    pk = _packer(params, _sym_keys(m, symmetric))
    if what == "hessian":
        return _neg_hessian(m, pk, data, include_prior)
    if what == "expected":
        return _expected_info(m, pk, data, include_prior)
    return _scores(m, pk, data)


# --------------------------------------------------------------------------------------------
# Results.


def _fmt(v: float) -> str:
    if not np.isfinite(v):
        return "nan" if np.isnan(v) else ("inf" if v > 0 else "-inf")
    a = abs(v)
    if a == 0 or 1e-4 <= a < 1e4:
        return f"{v:.4f}"
    return f"{v:.3e}"


@jax.tree_util.register_dataclass
@dataclass(frozen=True, repr=False)
class Summary:
    """Inference at an estimate: a pytree of arrays (leading axes for a batch of lanes).

    Attributes:
        estimate: ``(..., k)`` the flattened natural parameters.
        stderr: ``(..., k)`` standard errors ``sqrt(diag(cov))``.
        statistic: ``(..., k)`` Wald statistics ``estimate / stderr`` (z, or t when ``use_t``).
        pvalue: ``(..., k)`` two-sided p-values of ``parameter = 0``.
        ci_low, ci_high: ``(..., k)`` Wald confidence interval at ``level``.
        cov: ``(..., k, k)`` the covariance estimate (``cov_type``).
        loglik: ``(...)`` log-likelihood Σ log p(x_i | θ) (without the prior).
        aic, bic: ``(...)`` −2ℓ + 2m and −2ℓ + m log n with m = ``n_params``.
        status: ``(...)`` 0 when the covariance is valid, else a key of :data:`STATUS`
            (then ``cov`` and every standard error are NaN).
        min_eigenvalue: ``(...)`` estimate (within a factor √k) of the smallest eigenvalue of
            the inverted matrix scaled to unit diagonal; NaN when it is not positive definite.
            For the classical/HC types, 1/cond² of the column-scaled design (within a factor
            p).
        labels: parameter label per entry (static).
        cov_type, use_t, level: the settings (static).
        n_obs: number of observations; n_params: parameters counted by AIC/BIC; df_resid:
            residual degrees of freedom (n − p for linear regression, else n − k).
        model_name: the model's class name (or the function's name).
        posterior: True when the curvature includes a prior (MAP fit).
        axes: for a sweep, ``((axis name, coordinates), ...)`` of the leading axes.
    """

    estimate: jax.Array
    stderr: jax.Array
    statistic: jax.Array
    pvalue: jax.Array
    ci_low: jax.Array
    ci_high: jax.Array
    cov: jax.Array
    loglik: jax.Array
    aic: jax.Array
    bic: jax.Array
    status: jax.Array
    min_eigenvalue: jax.Array
    labels: tuple[str, ...] = field(metadata={"static": True})
    cov_type: str = field(metadata={"static": True})
    use_t: bool = field(metadata={"static": True})
    level: float = field(metadata={"static": True})
    n_obs: int = field(metadata={"static": True})
    n_params: int = field(metadata={"static": True})
    df_resid: int = field(metadata={"static": True})
    model_name: str = field(metadata={"static": True})
    posterior: bool = field(metadata={"static": True})
    axes: tuple = field(default=(), metadata={"static": True})

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """Shape of the leading (lane) axes; ``()`` for a single estimate."""
        return tuple(np.shape(self.estimate)[:-1])

    def lane(self, *index: int) -> Summary:
        """The summary of one lane of a batched summary (``index`` per leading axis)."""
        if len(index) != len(self.batch_shape):
            raise InputError(
                f"`index` needs {len(self.batch_shape)} integer(s), one per leading axis of "
                f"shape {self.batch_shape}; got {index}."
            )
        out = jax.tree_util.tree_map(lambda x: x[index], self)
        return Summary(**{**out.__dict__, "axes": ()})

    def _column_names(self) -> list[str]:
        s = "t" if self.use_t else "z"
        lo, hi = 0.5 - 0.5 * self.level, 0.5 + 0.5 * self.level
        return ["estimate", "std err", s, f"P>|{s}|", f"[{lo:.3g}", f"{hi:.3g}]"]

    def _rows(self) -> np.ndarray:
        cols = (self.estimate, self.stderr, self.statistic, self.pvalue, self.ci_low,
                self.ci_high)  # fmt: skip
        return np.stack([np.asarray(c, dtype=float) for c in cols], axis=-1)

    def __str__(self) -> str:
        if self.batch_shape:
            return (
                f"<Summary of {int(np.prod(self.batch_shape))} lanes, shape {self.batch_shape}, "
                f"{len(self.labels)} parameters; use .lane(...) or .to_dataframe()>"
            )
        width = 78
        names = self._column_names()
        lw = max(12, *(len(lbl) + 1 for lbl in self.labels))
        cw = 11
        width = max(width, lw + cw * 6)
        title = f"jaxmle summary: {self.model_name}"

        def pair(a: str, av: str, b: str, bv: str) -> str:
            half = width // 2
            left = f"{a:<20}{av:>{half - 22}}  "
            return left + f"{b:<20}{bv:>{width - half - 20}}"

        status = int(self.status)
        lines = [
            title.center(width),
            "=" * width,
            pair("No. observations:", str(self.n_obs), "Log-likelihood:", _fmt(float(self.loglik))),
            pair("Parameters:", str(len(self.labels)), "AIC:", _fmt(float(self.aic))),
            pair("Covariance type:", self.cov_type, "BIC:", _fmt(float(self.bic))),
            pair("Residual df:", str(self.df_resid), "Status:", STATUS[status][:2] if status == 0
                 else f"code {status}"),
            "=" * width,
            " " * lw + "".join(f"{c:>{cw}}" for c in names),
            "-" * width,
        ]  # fmt: skip
        rows = self._rows()
        for lbl, row in zip(self.labels, rows, strict=True):
            est, se, z, p, lo, hi = (float(x) for x in row)
            pv = "nan" if np.isnan(p) else f"{p:.3f}"
            cells = [_fmt(est), _fmt(se), f"{z:.3f}" if np.isfinite(z) else _fmt(z), pv,
                     _fmt(lo), _fmt(hi)]  # fmt: skip
            lines.append(f"{lbl:<{lw}}" + "".join(f"{c:>{cw}}" for c in cells))
        lines.append("=" * width)
        notes = []
        if self.posterior:
            notes.append(
                "Standard errors are from the curvature of the log posterior (MAP fit), not the "
                "sampling distribution of the MLE."
            )
        if status:
            notes.append("Covariance unavailable: " + _status_text(self, status))
        lines += [f"[{i + 1}] {t}" for i, t in enumerate(notes)]
        return "\n".join(lines)

    def __repr__(self) -> str:
        if self.batch_shape:
            return str(self)
        return f"Summary({self.model_name}, cov_type={self.cov_type!r}, k={len(self.labels)})"

    def to_dataframe(self):
        """The table as a pandas DataFrame (needs pandas: ``pip install 'jaxmle[table]'``).

        Returns:
            One row per parameter (index ``parameter``) with columns ``estimate``, ``std err``,
            ``z`` (or ``t``), ``P>|z|``, and the interval bounds; for a batch of lanes, one row
            per lane and parameter with the lane's coordinates, ``loglik``, ``aic``, ``bic``
            and ``status`` as extra columns.
        """
        pd = _require_pandas("Summary.to_dataframe")
        names = self._column_names()
        rows = self._rows()
        if not self.batch_shape:
            df = pd.DataFrame(rows, index=pd.Index(self.labels, name="parameter"), columns=names)
            return df
        shape = self.batch_shape
        axes = self.axes or tuple((f"axis{i}", tuple(range(s))) for i, s in enumerate(shape))
        records = []
        extra = {f: np.asarray(getattr(self, f)) for f in ("loglik", "aic", "bic", "status")}
        for idx in np.ndindex(shape):
            coords = {name: vals[i] for (name, vals), i in zip(axes, idx, strict=True)}
            for j, lbl in enumerate(self.labels):
                rec = {**coords, "parameter": lbl}
                rec.update({c: float(v) for c, v in zip(names, rows[idx][j], strict=True)})
                rec.update({f: v[idx].item() for f, v in extra.items()})
                records.append(rec)
        return pd.DataFrame.from_records(records)


class Wald(NamedTuple):
    """Wald statistics of ``parameter = 0`` and intervals (see :func:`wald`)."""

    statistic: jax.Array
    pvalue: jax.Array
    ci_low: jax.Array
    ci_high: jax.Array


class LRTest(NamedTuple):
    """Likelihood-ratio test of a restricted model against a full one (see :func:`lr_test`).

    Attributes:
        statistic: ``2 (ℓ_full − ℓ_restricted)``.
        df: number of restrictions (difference in free parameters).
        pvalue: ``P(χ²_df > statistic)``.
    """

    statistic: jax.Array
    df: int
    pvalue: jax.Array


# --------------------------------------------------------------------------------------------
# Public boundary: validation, jitted kernels, warnings.


def _is_traced(*trees: Any) -> bool:
    return any(isinstance(x, jax.core.Tracer) for t in trees for x in jax.tree_util.tree_leaves(t))


def _unwrap_params(params: Any) -> Any:
    # FitResult / OLSResult / anything with natural ``params``: take them (duck-typed: the
    # engine's result types live in a higher layer).
    if isinstance(params, tuple) and hasattr(params, "_fields") and "params" in params._fields:
        return params.params
    return params


def _check_model(model: Any) -> None:
    if not (isinstance(model, Model) or callable(model)):
        raise InputError(
            f"`model` must be a jaxmle Model or a function log_prob(params, data) -> (n,), "
            f"got {type(model).__name__}."
        )


def _prepare(model, params, data, symmetric, *, batch_ndim: int = 0):
    """Validates concrete inputs (skipped for tracers) and returns (params, data)."""
    _check_model(model)
    params = _unwrap_params(params)
    _check_symmetric(symmetric)
    if _is_traced(params, data, model):
        return params, data
    if isinstance(model, Model):
        data = model.validate(data)
    else:
        data = jax.tree_util.tree_map(jnp.asarray, data)
        n_rows(data)
    dt = jnp.result_type(float)
    try:
        params = jax.tree_util.tree_map(lambda x: jnp.asarray(x, dt), params)
    except (TypeError, ValueError) as err:
        raise InputError(f"`params` must be a pytree of numbers: {err}") from err
    leaves = jax.tree_util.tree_leaves(params)
    if not leaves:
        raise InputError("`params` is empty; pass the estimate (e.g. fit.params).")
    # numpy checks and shapes by eval_shape: no XLA program compiled per leaf shape. Lanes of a
    # sweep are not checked: a diverged lane gets status 1 and never spoils the others.
    for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0] if not batch_ndim else ():
        if not np.all(np.isfinite(np.asarray(leaf))):
            raise InputError(
                f"`params{jax.tree_util.keystr(path)}` has non-finite values; inference needs "
                "a finite estimate (did the fit diverge?)."
            )
    if isinstance(model, Model):
        if not isinstance(params, Mapping) or set(params) != set(model.param_names):
            got = sorted(params) if isinstance(params, Mapping) else type(params).__name__
            raise InputError(
                f"`params` must be a dict with keys {list(model.param_names)} for "
                f"{type(model).__name__}; got {got}."
            )
        ref = jax.eval_shape(model.init, data)
        for k, v in ref.items():
            want = np.shape(v)
            got = np.shape(params[k])[batch_ndim:]
            if got != want:
                raise InputError(
                    f"`params['{k}']` has shape {got} but {type(model).__name__} on this data "
                    f"needs {want}."
                )
    for k in symmetric:
        if not isinstance(params, Mapping) or k not in params:
            raise InputError(f"`symmetric` names {k!r}, which is not a key of `params`.")
        s = np.shape(params[k])[batch_ndim:]
        if len(s) != 2 or s[0] != s[1]:
            raise InputError(f"`symmetric` names {k!r}, but params[{k!r}] has shape {s}.")
    return params, data


def _check_cov_type(model, cov_type: str) -> None:
    if cov_type not in COV_TYPES:
        raise InputError(f"`cov_type` must be one of {COV_TYPES}, got {cov_type!r}.")
    if cov_type in _OLS_TYPES:
        if not isinstance(model, LinearRegression):
            got = type(model).__name__ if isinstance(model, Model) else "a plain function"
            raise InputError(
                f"`cov_type`={cov_type!r} is defined for jaxmle.models.LinearRegression only, "
                f"got {got}; use 'sandwich' (robust) or 'hessian' for other models."
            )
        if model.prior:
            raise InputError(
                f"`cov_type`={cov_type!r} is for least-squares fits; this model has a prior "
                "(MAP/ridge fit): use cov_type='hessian' for its posterior curvature."
            )
    if cov_type == "expected" and not _has_expected(model):
        raise InputError(_no_expected_msg(model))


def _check_level(level: Any) -> float:
    try:
        level = float(level)
    except (TypeError, ValueError):
        level = math.nan
    if not 0.0 < level < 1.0:
        raise InputError(f"`level` must be a confidence level in (0, 1), e.g. 0.95; got {level}.")
    return level


def _check_int(v: Any, name: str, low: int) -> int:
    if not isinstance(v, int | np.integer) or isinstance(v, bool) or v < low:
        raise InputError(f"`{name}` must be an integer >= {low}, got {v!r}.")
    return int(v)


def _check_symmetric(symmetric: Any) -> tuple[str, ...]:
    if not isinstance(symmetric, list | tuple):
        raise InputError(f"`symmetric` must be a list of parameter names, got {symmetric!r}.")
    return tuple(symmetric)


def _default_use_t(model: Any, cov_type: str, use_t: bool | None) -> bool:
    """The default of statsmodels: Student's t only for OLS's classical covariance with s²."""
    if use_t is not None:
        return bool(use_t)
    return (
        cov_type == "classical" and isinstance(model, LinearRegression)
        and model.noise_variance is None
    )  # fmt: skip


def _require_pandas(owner: str):
    try:
        import pandas as pd
    except ImportError as err:
        raise ImportError(
            f"{owner} needs pandas, an optional dependency: pip install pandas "
            "(or 'jaxmle[table]')."
        ) from err
    return pd


def _settings(model, cov_type, level, use_t, include_prior, n_params, symmetric, axes=()):
    _check_cov_type(model, cov_type)
    level = _check_level(level)
    if n_params is not None:
        n_params = _check_int(n_params, "n_params", 0)
    return _Cfg(cov_type, level, _default_use_t(model, cov_type, use_t), bool(include_prior),
                n_params, _check_symmetric(symmetric), axes)  # fmt: skip


def _status_text(s: Summary, status: int, eig: float | None = None) -> str:
    what = _WHAT.get(s.cov_type, _WHAT["classical"])
    what = what.format(prior=" and log prior" if s.posterior else "")
    e = float(s.min_eigenvalue) if eig is None else eig
    if s.cov_type in _OLS_TYPES:  # e is 1/cond² of the column-scaled design
        cond = 1.0 / math.sqrt(e) if e > 0 else math.inf
        e_text = (f"condition number {cond:.3g} of the column-scaled design, past "
                  f"1/(max(n, p)·eps)")  # fmt: skip
    elif np.isfinite(e):
        e_text = f"smallest eigenvalue of its unit-diagonal scaling ≈ {e:.2g}"
    else:
        e_text = "smallest eigenvalue of its unit-diagonal scaling ≤ 0 within rounding"
    text = STATUS[status].format(what=what, eig=e_text, n=s.n_obs, p=s.n_obs - s.df_resid)
    return text + "; the standard errors are NaN."


def _warn_prior(model, include_prior: bool, stacklevel: int) -> None:
    if include_prior and isinstance(model, Model) and model.prior:
        warnings.warn(
            f"{type(model).__name__} has a prior: these standard errors come from the curvature "
            "of the log posterior at the MAP estimate (a Laplace approximation), not from the "
            "sampling distribution of the MLE. Pass include_prior=False for the likelihood's "
            "curvature alone.",
            UserWarning,
            stacklevel=stacklevel + 1,
        )


def _warn_status(s: Summary, stacklevel: int) -> None:
    status = np.asarray(s.status)
    bad = status != 0
    if not bad.any():
        return
    if status.ndim == 0:
        msg = _status_text(s, int(status))
    else:
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        eig = float(np.asarray(s.min_eigenvalue)[first])
        msg = (
            f"{int(bad.sum())} of {bad.size} lanes have no valid covariance (first at index "
            f"{first}): " + _status_text(s, int(status[first]), eig)
        )
    warnings.warn(msg, RuntimeWarning, stacklevel=stacklevel + 1)


def summary(
    model: Model | Callable,
    params: PyTree,
    data: PyTree,
    *,
    cov_type: str = "hessian",
    level: float = 0.95,
    use_t: bool | None = None,
    include_prior: bool = True,
    n_params: int | None = None,
    symmetric: Sequence[str] = (),
) -> Summary:
    """Standard errors, Wald tests and intervals, log-likelihood and AIC/BIC at an estimate.

    The statsmodels-style table is ``str(summary(...))``; ``.to_dataframe()`` gives it as a
    pandas DataFrame. Jittable and vmappable: given tracers, the inputs are not validated and a
    failure is only the ``status`` field (with NaN covariances); given concrete values, a bad
    status also raises a ``RuntimeWarning`` that says why.

    Conventions (statsmodels'): the p-values are two-sided; ``use_t`` (default: only for
    ``cov_type="classical"`` of a linear regression with estimated σ²) uses Student's t with
    ``df_resid = n − p`` degrees of freedom, otherwise the normal. AIC = −2ℓ + 2m and
    BIC = −2ℓ + m log n count every estimated parameter except a linear regression's noise
    variance (statsmodels' ``df_model + k_constant``); ``n_params`` overrides m. ℓ is the
    log-likelihood at ``params`` as given (for OLS, statsmodels' ℓ is at σ² = RSS/n, which is
    what :func:`jaxmle.closed_form.ols` returns).

    Args:
        model: a :class:`jaxmle.models.Model` or a plain ``log_prob(params, data) -> (n,)``.
        params: the estimate in natural parameters (a pytree; or a result with a ``params``
            field such as :class:`jaxmle.FitResult`).
        data: the observations the estimate was fitted to.
        cov_type: one of :data:`COV_TYPES` (default ``"hessian"``: inverse observed
            information).
        level: confidence level of the Wald intervals.
        use_t: Student's t instead of the normal for p-values and intervals (None: see above).
        include_prior: include the model's log prior in the curvature (a MAP fit's posterior
            curvature; warns). False gives the likelihood's curvature alone.
        n_params: parameter count for AIC/BIC (default: statsmodels' convention, above).
        symmetric: keys of a dict ``params`` holding symmetric matrices, flattened to their
            lower triangle (a Model's positive-definite parameters always are).

    Returns:
        A :class:`Summary`.

    Raises:
        InputError: on an unknown ``cov_type``, one that does not apply to the model, or
            parameters or data that do not fit the model.

    Example:
        >>> import jax, jax.numpy as jnp, jaxmle
        >>> jax.config.update("jax_enable_x64", True)
        >>> x = jnp.array([1.0, 2.0, 3.0, 6.0])
        >>> model = jaxmle.models.Gaussian()
        >>> s = jaxmle.inference.summary(model, model.closed_form(x), x)
        >>> s.labels, [round(float(v), 6) for v in s.stderr]
        (('mean', 'variance'), [0.935414, 2.474874])
    """
    cfg = _settings(model, cov_type, level, use_t, include_prior, n_params, symmetric)
    params, data = _prepare(model, params, data, cfg.symmetric)
    _warn_prior(model, cfg.include_prior, stacklevel=2)
    out = _run_summary(_summary_jit, model, params, data, cfg)
    if not _is_traced(out.status):
        _warn_status(out, stacklevel=2)
    return out


def sweep_summary(
    model: Model | Callable,
    study: Any,
    data: PyTree,
    *,
    batch_ndim: int | None = None,
    cov_type: str = "hessian",
    level: float = 0.95,
    use_t: bool | None = None,
    include_prior: bool = True,
    n_params: int | None = None,
    symmetric: Sequence[str] = (),
) -> Summary:
    """:func:`summary` for every lane of a study, as one vmapped, jitted program.

    Args:
        model: the model the study fitted.
        study: a :class:`jaxmle.SweepResult` (its ``params`` leaves have the grid axes
            leading), or any params pytree with ``batch_ndim`` leading lane axes.
        data: the data every lane was fitted to.
        batch_ndim: number of leading lane axes (taken from the study's grid when omitted).
        cov_type: as in :func:`summary`.
        level: as in :func:`summary`.
        use_t: as in :func:`summary`.
        include_prior: as in :func:`summary`.
        n_params: as in :func:`summary`.
        symmetric: as in :func:`summary`.

    Returns:
        A :class:`Summary` whose array fields have the lane axes leading; ``.lane(i, j, ...)``
        picks one lane and ``.to_dataframe()`` lists every lane (with the grid's coordinates
        for a SweepResult). Lanes whose covariance failed are counted in one warning.

    Example:
        >>> import jax, jax.numpy as jnp, jaxmle
        >>> jax.config.update("jax_enable_x64", True)
        >>> x = jnp.array([1.0, 2.0, 3.0, 6.0])
        >>> lanes = {"mean": jnp.array([2.0, 3.0])}  # two estimates of the mean
        >>> s = jaxmle.inference.sweep_summary(jaxmle.models.Gaussian(variance=4.0), lanes, x,
        ...                                    batch_ndim=1)
        >>> s.batch_shape, [round(float(v), 3) for v in s.stderr[:, 0]]
        ((2,), [1.0, 1.0])
    """
    axes: tuple = ()
    params = study
    if hasattr(study, "params") and hasattr(study, "axes"):
        params = study.params
        axes = tuple((str(k), tuple(v)) for k, v in study.axes.items())
        if batch_ndim is None:
            batch_ndim = len(axes)
    if not isinstance(batch_ndim, int | np.integer) or batch_ndim < 1:
        raise InputError(
            f"`batch_ndim` must be a positive integer (number of leading lane axes of the "
            f"params), got {batch_ndim!r}."
        )
    try:
        cfg = _settings(model, cov_type, level, use_t, include_prior, n_params, symmetric, axes)
    except TypeError as err:  # unhashable coordinates
        raise InputError(f"the study's axes could not be used as labels: {err}") from err
    params, data = _prepare(model, params, data, cfg.symmetric, batch_ndim=int(batch_ndim))
    leaves = jax.tree_util.tree_leaves(params)
    shape = tuple(np.shape(leaves[0])[:batch_ndim])
    for x in leaves:
        if tuple(np.shape(x)[:batch_ndim]) != shape:
            raise InputError(
                f"`study` params must share their {batch_ndim} leading lane axes; got shapes "
                f"{[np.shape(v) for v in leaves]}."
            )
    if axes and tuple(len(v) for _, v in axes) != shape:
        cfg = cfg._replace(axes=())
    _warn_prior(model, cfg.include_prior, stacklevel=2)
    flat = jax.tree_util.tree_map(lambda x: jnp.reshape(x, (-1, *np.shape(x)[batch_ndim:])),
                                  params)  # fmt: skip
    out = _run_summary(_summary_lanes, model, flat, data, cfg)
    out = jax.tree_util.tree_map(lambda x: jnp.reshape(x, shape + x.shape[1:]), out)
    if not _is_traced(out.status):
        _warn_status(out, stacklevel=2)
    return out


def covariance(
    model: Model | Callable,
    params: PyTree,
    data: PyTree,
    *,
    cov_type: str = "hessian",
    include_prior: bool = True,
    symmetric: Sequence[str] = (),
) -> jax.Array:
    """The ``(k, k)`` covariance estimate of the flattened parameters (see :func:`param_labels`).

    Args:
        model: a :class:`jaxmle.models.Model` or a plain ``log_prob(params, data) -> (n,)``.
        params: the estimate (natural parameters).
        data: the observations.
        cov_type: one of :data:`COV_TYPES`.
        include_prior: include the log prior in the curvature (MAP fits; warns).
        symmetric: as in :func:`summary`.

    Returns:
        The covariance matrix; all NaN (with a warning outside ``jit``) when the matrix to
        invert is not positive definite or is singular. Use :func:`summary` for the status flag.
    """
    return summary(model, params, data, cov_type=cov_type, include_prior=include_prior,
                   symmetric=symmetric).cov  # fmt: skip


def stderr(
    model: Model | Callable,
    params: PyTree,
    data: PyTree,
    *,
    cov_type: str = "hessian",
    include_prior: bool = True,
    symmetric: Sequence[str] = (),
) -> PyTree:
    """Standard errors shaped like ``params`` (a symmetric matrix leaf gets a symmetric matrix).

    Args:
        model: a :class:`jaxmle.models.Model` or a plain ``log_prob(params, data) -> (n,)``.
        params: the estimate (natural parameters).
        data: the observations.
        cov_type: one of :data:`COV_TYPES`.
        include_prior: include the log prior in the curvature (MAP fits; warns).
        symmetric: as in :func:`summary`.

    Returns:
        A pytree like ``params`` of standard errors (NaN where the covariance failed).
    """
    s = summary(model, params, data, cov_type=cov_type, include_prior=include_prior,
                symmetric=symmetric)  # fmt: skip
    p = _unwrap_params(params)
    sym = _sym_keys(model, tuple(symmetric))
    if _is_traced(s.stderr):
        return _packer(p, sym).unpack(s.stderr)
    return _unpack_host(p, sym, np.asarray(s.stderr))


def _unpack_host(params: PyTree, sym: frozenset[str], vec: np.ndarray) -> PyTree:
    """``_packer(params, sym).unpack(vec)`` in numpy (no XLA program per leaf shape)."""
    sym = sym if isinstance(params, Mapping) else frozenset()
    flat, treedef = jax.tree_util.tree_flatten_with_path(params)
    out, i = [], 0
    for path, leaf in flat:
        shape = np.shape(leaf)
        if len(path) == 1 and _key_name(path[0]) in sym:
            d = shape[-1]
            r, c = np.tril_indices(d)
            L = np.zeros((d, d), vec.dtype)
            L[r, c] = vec[i : i + r.size]
            out.append(L + L.T - np.diag(np.diagonal(L)))
            i += r.size
        else:
            size = int(np.prod(shape))
            out.append(vec[i : i + size].reshape(shape))
            i += size
    return jax.tree_util.tree_unflatten(treedef, out)


def param_labels(
    params: PyTree, model: Model | Callable | None = None, *, symmetric: Sequence[str] = ()
) -> tuple[str, ...]:
    """Labels of the flattened parameter vector, in the order every matrix here uses.

    Args:
        params: a params pytree.
        model: the model (its positive-definite parameters flatten to their lower triangle).
        symmetric: further keys flattened to their lower triangle.

    Returns:
        One label per entry, e.g. ``("coef[0]", "coef[1]", "intercept", "variance")``.
    """
    return _packer(_unwrap_params(params), _sym_keys(model, tuple(symmetric))).labels


def _matrix(model, params, data, what, include_prior, symmetric):
    symmetric = tuple(symmetric)
    params, data = _prepare(model, params, data, symmetric)
    m, fn = (model, None) if isinstance(model, Model) else (None, model)
    return _matrix_jit(m, params, data, fn=fn, what=what, include_prior=bool(include_prior),
                       symmetric=symmetric)  # fmt: skip


def observed_information(
    model: Model | Callable,
    params: PyTree,
    data: PyTree,
    *,
    include_prior: bool = True,
    symmetric: Sequence[str] = (),
) -> jax.Array:
    """Observed information ``−∇²(Σ_i log p(x_i | θ) + log p(θ))`` at ``params``, ``(k, k)``.

    Computed with ``jax.hessian`` of the total log-likelihood of the flattened natural
    parameters (order and labels: :func:`param_labels`).

    Args:
        model: a :class:`jaxmle.models.Model` or a plain ``log_prob(params, data) -> (n,)``.
        params: natural parameters.
        data: the observations.
        include_prior: add the model's log prior (MAP fits).
        symmetric: as in :func:`summary`.

    Returns:
        The ``(k, k)`` matrix.
    """
    _check_model(model)
    return _matrix(model, params, data, "hessian", include_prior, symmetric)


def expected_information(
    model: Model,
    params: PyTree,
    data: PyTree,
    *,
    include_prior: bool = True,
) -> jax.Array:
    """Expected (Fisher) information ``E[−∇² ℓ]`` at ``params``, for the built-in models.

    Known in closed form for Gaussian, MultivariateGaussian, LinearRegression (fixed design),
    Bernoulli, Poisson and LogisticRegression; computed by autodiff of each model's moments
    (``Σ_i ∇μ_iᵀ V_i⁻¹ ∇μ_i`` and the variance terms), so any parameter order works. A prior
    adds its (non-random) negative Hessian.

    Args:
        model: one of the models above.
        params: natural parameters.
        data: the observations (only the design and ``n`` matter).
        include_prior: add the log prior's negative Hessian.

    Returns:
        The ``(k, k)`` matrix.

    Raises:
        InputError: for other models and plain functions.
    """
    _check_model(model)
    if not _has_expected(model):
        raise InputError(_no_expected_msg(model))
    return _matrix(model, params, data, "expected", include_prior, ())


def scores(
    model: Model | Callable, params: PyTree, data: PyTree, *, symmetric: Sequence[str] = ()
) -> jax.Array:
    """Per-observation scores ``∇_θ log p(x_i | θ)``, ``(n, k)``.

    Args:
        model: a :class:`jaxmle.models.Model` or a plain ``log_prob(params, data) -> (n,)``.
        params: natural parameters.
        data: the observations.
        symmetric: as in :func:`summary`.

    Returns:
        One row of gradients per observation (columns: :func:`param_labels`).
    """
    _check_model(model)
    return _matrix(model, params, data, "scores", False, symmetric)


def loglik(model: Model | Callable, params: PyTree, data: PyTree) -> jax.Array:
    """Total log-likelihood ``Σ_i log p(x_i | θ)`` (no prior).

    Args:
        model: a :class:`jaxmle.models.Model` or a plain ``log_prob(params, data) -> (n,)``.
        params: natural parameters.
        data: the observations.

    Returns:
        A scalar.
    """
    params, data = _prepare(model, params, data, ())
    log_prob, _ = _funcs(model)
    return jnp.sum(log_prob(params, data))


def aic(loglik: jax.Array | float, n_params: int) -> jax.Array:
    """Akaike's information criterion ``−2ℓ + 2m``.

    Args:
        loglik: maximised log-likelihood ℓ.
        n_params: number of estimated parameters m (see :func:`summary` for the convention).

    Returns:
        AIC (smaller is better).

    Raises:
        InputError: when ``n_params`` is not a non-negative integer.
    """
    return -2.0 * jnp.asarray(loglik) + 2.0 * _check_int(n_params, "n_params", 0)


def bic(loglik: jax.Array | float, n_params: int, n_obs: int) -> jax.Array:
    """Schwarz's Bayesian information criterion ``−2ℓ + m log n``.

    Args:
        loglik: maximised log-likelihood ℓ.
        n_params: number of estimated parameters m.
        n_obs: number of observations n.

    Returns:
        BIC (smaller is better).

    Raises:
        InputError: when ``n_params`` is negative or ``n_obs`` not positive (or not integers).
    """
    m, n = _check_int(n_params, "n_params", 0), _check_int(n_obs, "n_obs", 1)
    return -2.0 * jnp.asarray(loglik) + math.log(n) * m


def wald(
    estimate: jax.Array, stderr: jax.Array, *, level: float = 0.95, df: int | None = None
) -> Wald:
    """Wald tests of ``parameter = 0`` and confidence intervals ``estimate ± q·stderr``.

    Args:
        estimate: estimates (any shape).
        stderr: their standard errors (same shape).
        level: confidence level.
        df: degrees of freedom for Student's t; None for the normal.

    Returns:
        A :class:`Wald` of statistic, two-sided p-value and interval bounds. Jittable.

    Raises:
        InputError: on a ``level`` outside (0, 1), a ``df`` that is not a positive integer, or
            ``stderr`` of another shape than ``estimate``.
    """
    level = _check_level(level)
    if df is not None:
        df = _check_int(df, "df", 1)
    est, se = jnp.asarray(estimate), jnp.asarray(stderr)
    if est.shape != se.shape:
        raise InputError(
            f"`stderr` must have the shape of `estimate`, {est.shape}; got {se.shape}."
        )
    return Wald(*_wald_jit(est, se, level, df))


def lr_test(restricted: Summary | float, full: Summary | float, *, df: int | None = None) -> LRTest:
    """Likelihood-ratio test of nested models: ``2(ℓ_full − ℓ_restricted) ~ χ²_df``.

    Args:
        restricted: the :class:`Summary` (or maximised log-likelihood) of the restricted model.
        full: the :class:`Summary` (or maximised log-likelihood) of the model nesting it.
        df: number of restrictions; taken from the two summaries' parameter counts when
            omitted (required with plain log-likelihoods).

    Returns:
        An :class:`LRTest`. Jittable with plain log-likelihoods and an explicit ``df``.

    Raises:
        InputError: when ``df`` is missing or not positive, or the two summaries are of fits
            to different numbers of observations.
    """
    both = isinstance(restricted, Summary) and isinstance(full, Summary)
    if both and restricted.n_obs != full.n_obs:
        raise InputError(
            f"`full` was fitted to {full.n_obs} observations and `restricted` to "
            f"{restricted.n_obs}: a likelihood-ratio test compares fits to the same data."
        )
    if df is None:
        if not (isinstance(restricted, Summary) and isinstance(full, Summary)):
            raise InputError(
                "`df` (the number of restrictions) is required unless both `restricted` and "
                "`full` are Summary objects."
            )
        df = len(full.labels) - len(restricted.labels)
    if not isinstance(df, int | np.integer) or df < 1:
        raise InputError(
            f"`df` must be a positive integer (the full model needs more free parameters than "
            f"the restricted one); got {df!r}."
        )
    llr = restricted.loglik if isinstance(restricted, Summary) else jnp.asarray(restricted)
    llf = full.loglik if isinstance(full, Summary) else jnp.asarray(full)
    stat = 2.0 * (llf - llr)
    if not _is_traced(stat) and np.any(np.asarray(stat) < -1e-8 * np.abs(np.asarray(llf))):
        warnings.warn(
            "the likelihood-ratio statistic is negative: the restricted fit has the higher "
            "log-likelihood, so the models are not nested or a fit is not at its maximum.",
            RuntimeWarning,
            stacklevel=2,
        )
    return LRTest(stat, int(df), _chi2_sf(stat, int(df)))


@partial(jax.jit, static_argnums=1)
def _chi2_sf(stat: jax.Array, df: int) -> jax.Array:
    return stats.chi2.sf(stat, df)
