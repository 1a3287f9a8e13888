"""Covariance kernels: the flattened parameter vector, information matrices, covariances.

Pure, jittable pieces of :mod:`jaxmle.inference` (which validates inputs and wraps them in the
summary program): the labelled flattening of a parameter pytree (:func:`_packer`), observed and
expected information and per-observation scores by autodiff, the inversion of an information
matrix with its failure codes (:func:`_inv_pd`), the regression-convention covariances of
linear regression (classical, HC0–HC3: :func:`_ols_cov`) and of nonlinear regression
(``s²(JᵀJ)⁻¹``: :func:`_nls_cov`), and the stationarity check of an estimate
(:func:`_stationarity`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from jax.scipy.linalg import cho_solve, solve_triangular

from . import _linalg, _numerics
from ._errors import InputError
from ._gaussian_models import Gaussian, MultivariateGaussian
from ._lstsq import lstsq
from ._models import Bernoulli, LinearRegression, LogisticRegression, Model, Poisson
from ._nonlinear import NonlinearRegression
from ._status import Status

PyTree = Any

COV_TYPES = ("hessian", "expected", "outer", "sandwich", "classical", "HC0", "HC1", "HC2", "HC3")
"""Covariance estimators.

``hessian``: inverse observed information H⁻¹, H = −∇²(ℓ + log prior) at the estimate.
``expected``: inverse expected (Fisher) information (built-in models only).
``outer``: inverse outer product of the per-observation scores, B⁻¹ (OPG/BHHH).
``sandwich``: H⁻¹ B H⁻¹ (Huber/White; for linear regression its coefficient block is HC0).
``classical``: s²(XᵀWX)⁻¹ with s² = RSS/(n − p) (linear regression; statsmodels' ``nonrobust``),
and for a nonlinear regression s²(JᵀWJ)⁻¹ with J = ∂f/∂θ the Jacobian of the mean function
(NIST's and statsmodels' convention; the default covariance of
:class:`~jaxmle.models.NonlinearRegression`).
``HC0``–``HC3``: White's heteroscedasticity-consistent covariances of linear regression,
as statsmodels defines them.
"""

STATIONARY_TOL = 1e-3
"""Stationarity check of bare params: the largest Newton step ``|δ_i| / se_i`` allowed.

``δ = H⁻¹g`` with ``g`` the gradient and ``H`` the negative Hessian of the full objective (the
log-likelihood plus the log prior), ``se_i = sqrt((H⁻¹)_ii)``; for the regression conventions
(``classical``, HC0–HC3) the Gauss–Newton step of the regression coefficients in their
classical standard errors. The estimate is flagged not converged (status 9) when it is more
than 0.001 standard errors from the nearby optimum in some coordinate, beyond what rounding
alone explains (``64·eps·cond·|θ_i|``, cond the condition number of the column-scaled design,
Jacobian, or ``sqrt`` of the scaled Hessian's: it matters only for exact fits, whose standard
errors are rounding noise themselves).
"""

_OLS_TYPES = ("classical", "HC0", "HC1", "HC2", "HC3")

_ESTIMATION = (Status.MAX_STEPS, Status.FLAT_DIRECTION, Status.BOUNDARY, Status.NOT_CONVERGED)
STATUS = {
    Status.OK: "ok",
    Status.NONFINITE: "the estimate or the {what} has non-finite entries (NaN or inf): a fit "
    "that diverged, or a log-likelihood whose derivatives are not finite there (parameters "
    "outside their domain?)",
    Status.NOT_POSITIVE_DEFINITE: "the {what} is not positive definite at the estimate (its "
    "Cholesky factorisation failed): the estimate is not a strict local maximum (an optimiser "
    "that has not converged, a parameter on its boundary)",
    Status.SINGULAR: "the {what} is numerically singular at the estimate ({eig}): some "
    "parameters are not identified by the data (collinear columns, too few observations) or "
    "the model is over-parametrised",
    Status.NO_RESIDUAL_DF: "there are no residual degrees of freedom (n = {n} observations for "
    "{p} regression parameters): σ² = RSS/(n − p), HC1's n/(n − p) and Student's t need n > p",
    Status.LEVERAGE_ONE: "an observation has leverage h_i = 1 (it is fitted exactly whatever the "
    "data): HC2 and HC3 divide its squared residual by 1 − h_i; use HC0 or HC1",
    # Estimation outcomes (a result that is not converged, or bare params that fail the
    # stationarity check): the enumeration's own sentences.
    **{c: c.message for c in _ESTIMATION},
}
"""Status codes of :class:`Summary` and the reasons the warnings give.

The keys are :class:`jaxmle.Status` members (equal to their integer codes): 1–5 are covariance
failures, worded here for the matrix that failed (``{what}``); 6–9 are estimation outcomes, with
:attr:`jaxmle.Status.message` as their text. A summary of an estimate that is not converged has
one of 1 or 6–9 and NaN covariances.
"""

_WHAT = {
    "hessian": "observed information (minus the Hessian of the log-likelihood{prior})",
    "expected": "expected (Fisher) information{prior}",
    "outer": "outer product of the per-observation scores",
    "sandwich": "observed information (minus the Hessian of the log-likelihood{prior})",
    "classical": "design's cross-product XᵀWX",
    "classical_nls": "cross-product JᵀWJ of the mean function's Jacobian",
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
        if top is not None:  # a top-level key's leaves are contiguous (a nested θ too)
            slices[top] = (slices.get(top, (start, start))[0], len(labels))
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
    # Reverse over reverse: jax.hessian's forward over reverse pushes an identity through the
    # model (1.7x slower for a 10,000 x 50 GLM, measured; see jaxmle._newton.hessian).
    return -jax.jacrev(jax.grad(_objective(model, pk, data, include_prior)))(pk.vec)


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
             LogisticRegression, NonlinearRegression)  # fmt: skip
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
    elif isinstance(model, NonlinearRegression):  # Σ ∇f_i∇f_iᵀ w_i/σ² (+ n/(2σ⁴) for σ²)
        w = data.get("weight")

        def var(v):
            p = unpack(v)
            s2 = p["variance"] if model.noise_variance is None else model.noise_variance
            return jnp.ones((n,), vec.dtype) * s2 / (1.0 if w is None else w)

        info = _gauss_info(lambda v: model.mean(unpack(v)["theta"], data), var, vec)
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
        f"is known for Gaussian, MultivariateGaussian, LinearRegression, NonlinearRegression, "
        f"Bernoulli, Poisson and LogisticRegression, not for {name}; use cov_type='hessian' "
        "(observed information) or 'outer'."
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
    L = _linalg.cholesky(C)  # NaN when C is not positive definite
    chol_ok = jnp.all(jnp.isfinite(L))
    Cinv = _linalg.cho_solve(jnp.where(chol_ok, L, eye), eye)
    # An eigenvalue test without an eigendecomposition (which costs more to compile than all
    # the rest): λ_min(C) = 1/‖C⁻¹‖₂ and ‖C⁻¹‖₂ ≤ ‖C⁻¹‖_F ≤ √k ‖C⁻¹‖₂.
    lam = 1.0 / jnp.sqrt(jnp.sum(Cinv**2))
    tol = 10.0 * k * jnp.finfo(A.dtype).eps  # C's largest eigenvalue is between 1 and k
    # A singular matrix can come out slightly indefinite from rounding: it is "singular" when
    # C + tol·I still factorises, "not positive definite" when it does not.
    psd = jnp.all(jnp.isfinite(_linalg.cholesky(C + tol * eye)))
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
    if model.noise_variance is None:
        s2 = jnp.sum(rw2) / df if df > 0 else jnp.asarray(jnp.nan, dt)
    else:
        s2 = jnp.asarray(model.noise_variance, dt)
    R, S = sol.r_factor, sol.scale
    # Newton (= Gauss–Newton) step of the coefficients, δ = (AᵀWA)⁻¹AᵀWr, in classical standard
    # errors s·sqrt(diag (AᵀWA)⁻¹): both from the scaled design's R (RᵀR = S⁻¹AᵀWAS⁻¹), in
    # which the column scales S cancel from the ratio.
    As_t = ((sw[:, None] * A) / S).T
    t = solve_triangular(R, As_t @ (sw * r), trans="T", lower=False)
    Rinv = solve_triangular(R, jnp.eye(p, dtype=dt), lower=False)
    se_a = jnp.sqrt(s2 * jnp.sum(Rinv**2, axis=1))  # scaled: S cancels
    step_a = _ratio(solve_triangular(R, t, lower=False), se_a)
    slack_a = _ratio(_rounding(theta, sol.cond) * S, se_a)
    if classical:
        cov_a = s2 * sol.cov_unscaled
    else:
        # Qᵀ = R⁻ᵀ(S⁻¹AᵀW½): the leverages are its squared column norms (no inverse formed).
        Qt = solve_triangular(R, As_t, trans="T", lower=False)
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
    step = jnp.full((k,), jnp.nan, dt).at[idx].set(step_a)
    slack = jnp.zeros((k,), dt).at[idx].set(slack_a)
    return jnp.where(status == 0, cov, jnp.nan), status.astype(jnp.int32), lam, (step, slack)


def _nls_cov(model: NonlinearRegression, pk: _Packer, data):
    """Regression-convention covariance ``s²(JᵀWJ)⁻¹`` of a nonlinear regression's θ.

    ``J = ∂r/∂θ`` is the Jacobian of the weighted residuals ``r = √w (y − f(θ, x))`` (forward
    mode, one column per entry of the flattened θ), factorised as a QR of its unit-norm
    column scaling (no inverse of JᵀWJ is formed; singular past ``1/(max(n, p)·eps)`` in the
    scaled condition number). ``s² = RSS/(n − p)`` (or the known noise variance); the variance
    row gets the inverse Fisher information ``2σ⁴/n`` at the given σ², as for linear
    regression. Returns ``(cov, status, λ, step)`` like :func:`_ols_cov`, ``step`` the
    Gauss–Newton step ``−(JᵀWJ)⁻¹Jᵀr`` of θ in these standard errors (NaN for σ²).
    """
    params = pk.unpack(pk.vec)
    dt = pk.vec.dtype
    tvec, unravel = ravel_pytree(params["theta"])
    tvec = tvec.astype(dt)

    def res(t):
        return model.residuals(unravel(t), data)

    r = res(tvec)
    J = jax.jacfwd(res)(tvec)  # (n, p)
    n, p = J.shape
    norms = jnp.sqrt(jnp.sum(J**2, axis=0))
    zero_col = jnp.any(norms == 0)
    S = jnp.where(norms > 0, norms, 1.0)
    Q, R = jnp.linalg.qr(J / S)  # reduced: Q (n, p), R (p, p)
    sv = jnp.linalg.svd(R, compute_uv=False)
    cond = jnp.where(zero_col, jnp.inf, sv[0] / sv[-1])
    Rinv = solve_triangular(R, jnp.eye(p, dtype=dt), lower=False)
    cu = (Rinv @ Rinv.T) / S[:, None] / S[None, :]  # (JᵀWJ)⁻¹
    df = n - p
    if model.noise_variance is None:
        s2 = (r @ r) / df if df > 0 else jnp.asarray(jnp.nan, dt)
    else:
        s2 = jnp.asarray(model.noise_variance, dt)
    delta = -solve_triangular(R, Q.T @ r, lower=False) / S
    se_t = jnp.sqrt(s2 * jnp.diagonal(cu))
    step_t = _ratio(delta, se_t)
    eps = float(jnp.finfo(dt).eps)
    singular = ~(cond < 1.0 / (max(n, p) * eps))  # NaN cond counts as singular
    no_df = df <= 0 and model.noise_variance is None
    status = jnp.where(singular, 3, jnp.where(no_df, 4, 0))
    k = pk.vec.shape[0]
    idx = np.arange(*pk.slices["theta"])
    cov = jnp.zeros((k, k), dt).at[np.ix_(idx, idx)].set(0.5 * s2 * (cu + cu.T))
    if model.noise_variance is None:
        j = pk.slices["variance"][0]
        cov = cov.at[j, j].set(2.0 * params["variance"] ** 2 / n)
    step = jnp.full((k,), jnp.nan, dt).at[idx].set(step_t)
    slack = jnp.zeros((k,), dt).at[idx].set(_ratio(_rounding(tvec, cond), se_t))
    lam = 1.0 / cond**2
    return jnp.where(status == 0, cov, jnp.nan), status.astype(jnp.int32), lam, (step, slack)


def _rounding(theta: jax.Array, cond: jax.Array) -> jax.Array:
    """What rounding alone moves a least-squares solution by: ``64·eps·cond·|θ_i|``.

    ``cond`` is the condition number of the column-scaled design (or Jacobian); the forward
    error of a solution computed in float64 is about ``cond·eps`` relative. A Newton step
    within it is no evidence against convergence: it matters for exact fits (NIST Wampler1-2,
    RSS ≈ 0, so standard errors ≈ 0 and the step is rounding noise over rounding noise).
    """
    eps = jnp.finfo(theta.dtype).eps
    return 64.0 * eps * jnp.where(jnp.isfinite(cond), cond, 0.0) * jnp.abs(theta)


def _ratio(delta: jax.Array, se: jax.Array) -> jax.Array:
    """``δ/se`` with ``0/0 = 0`` (an exact fit), ``δ/0 = ±inf`` and NaN for a NaN ``se``."""
    safe = jnp.where(se > 0, se, 1.0)
    at_zero = jnp.where(delta == 0, 0.0, jnp.sign(delta) * jnp.inf)
    return jnp.where(se > 0, delta / safe, jnp.where(se == 0, at_zero, jnp.nan))


def _objective(model, pk: _Packer, data, include_prior: bool) -> Callable:
    log_prob, log_prior = _funcs(model)

    def total(v):
        p = pk.unpack(v)
        t = jnp.sum(log_prob(p, data))
        if include_prior and log_prior is not None:
            t = t + log_prior(p)
        return t

    return total


def simplex_chart(model: Any, pk: _Packer) -> np.ndarray | None:
    """``T`` (``k × k_free``): the packed vector's directions that keep each simplex summing to 1.

    A ``simplex``-constrained parameter's entries are not free: their natural-space inverse
    information ignores the sum (K = 3 categories: standard errors √(p/n), 12–46% above the
    multinomial √(p(1 − p)/n)). In the basis ``T`` (identity for the other parameters; for
    each simplex of K entries the first K − 1, the last one minus their sum) the covariance is
    ``T (Tᵀ H T)⁻¹ Tᵀ``, the delta method through any chart of the simplex (its constraint is
    linear, so ``Tᵀ H T`` is the Hessian along it). None without a simplex parameter.
    """
    if not isinstance(model, Model):
        return None
    keys = [k for k, c in model.constraints.items() if c.name == "simplex" and k in pk.slices]
    if not keys:
        return None
    k = pk.vec.shape[0]
    shapes = {key: jnp.shape(pk.unpack(pk.vec)[key]) for key in keys}
    last = {}  # each simplex's entries (but its last) -> its last entry
    for key in keys:
        a, b = pk.slices[key]
        size = shapes[key][-1] if shapes[key] else 1
        for g in range(a, b, size):
            last.update({i: g + size - 1 for i in range(g, g + size - 1)})
    ends = set(last.values())
    free = [i for i in range(k) if i not in ends]
    T = np.zeros((k, len(free)))
    for j, i in enumerate(free):
        T[i, j] = 1.0
        if i in last:
            T[last[i], j] = -1.0
    return T


def _cov_kernel(model, pk: _Packer, data, cov_type: str, include_prior: bool, hc=0,
                check: bool = False, neg_hess=None):  # fmt: skip
    """``(cov, status, λ, (step, slack), curvature status)`` of one covariance type.

    With ``check``, ``step`` is the Newton step to the nearby stationary point in standard
    errors, ``δ_i / se_i`` (:func:`_stationarity`; NaN where not checked), ``slack`` what
    rounding alone explains in the same units (:func:`_rounding`), and the curvature
    status says whether the negative Hessian that defines it is positive definite (0) or not
    (the code of :func:`_inv_pd`); without it, a NaN step and 0. ``neg_hess``: minus the
    Hessian of the full objective at ``pk.vec`` where the caller has it (used where
    ``include_prior`` makes it the one needed).
    """
    k = pk.vec.shape[0]
    nan_step = (jnp.full((k,), jnp.nan, pk.vec.dtype), jnp.zeros((k,), pk.vec.dtype),
                jnp.zeros((), bool))  # fmt: skip
    zero = jnp.zeros((), jnp.int32)
    if cov_type in ("classical", "HC"):
        if isinstance(model, NonlinearRegression):
            cov, status, eig, step = _nls_cov(model, pk, data)
        else:
            cov, status, eig, step = _ols_cov(model, pk, data, cov_type, hc)
        return cov, status, eig, ((*step, jnp.zeros((), bool)) if check else nan_step), zero
    has_prior = _funcs(model)[1] is not None
    T = simplex_chart(model, pk)

    def inv_pd(A):  # (A⁻¹ along the simplices, if any: T (TᵀAT)⁻¹ Tᵀ)
        if T is None:
            return _inv_pd(A)
        inv, st, lam = _inv_pd(T.T @ A @ T)
        return T @ inv @ T.T, st, lam

    Hinv = None
    if cov_type == "expected":
        cov, status, eig = inv_pd(_expected_info(model, pk, data, include_prior))
    elif cov_type == "outer":
        S = _scores(model, pk, data)
        cov, status, eig = inv_pd(S.T @ S)
    else:
        given = neg_hess is not None and (include_prior or not has_prior)
        nh = neg_hess if given else _neg_hessian(model, pk, data, include_prior)
        Hinv, status, eig = inv_pd(nh)
        cov = Hinv
        if cov_type == "sandwich":
            S = _scores(model, pk, data)
            cov = Hinv @ (S.T @ S) @ Hinv
            cov = 0.5 * (cov + cov.T)
    if not check:
        return cov, status, eig, nan_step, zero
    if Hinv is None or (has_prior and not include_prior):
        # The check is for the full objective (a MAP estimate is stationary for the posterior,
        # whatever curvature the covariance uses): its own factorisation.
        Hinv, hstatus, heig = inv_pd(_neg_hessian(model, pk, data, True))
    else:
        hstatus, heig = status, eig
    return cov, status, eig, _stationarity(model, pk, data, Hinv, heig, T), hstatus


def _stationarity(model, pk: _Packer, data, Hinv: jax.Array, lam: jax.Array, T=None):
    """Newton step of the full objective in its own standard errors, ``δ_i / se_i``.

    ``g = ∇(ℓ + log prior)``, ``δ = H⁻¹g`` with ``H = −∇²(ℓ + log prior)`` (``Hinv`` from the
    Jacobi-scaled Cholesky of :func:`_inv_pd`) and ``se_i = sqrt((H⁻¹)_ii)``. Invariant to
    rescaling any parameter; at a quadratic objective ``|δ_i|/se_i`` is how many standard
    errors the estimate is from the optimum. NaN when H is not positive definite. Returns
    ``(step, slack)``, the slack the rounding floor of :func:`_rounding` in the same units, with
    ``sqrt(k/λ)`` (λ the smallest eigenvalue of H's unit-diagonal scaling) for the condition
    number: H plays the role of JᵀWJ, whose square root's condition number that is; and
    whether the likelihood is flat along the step (:func:`_flat`). With a simplex chart ``T``
    (:func:`simplex_chart`) the gradient is taken along the simplices: at their optimum it is
    a multiple of the ones vector, whose rounding through ``T(TᵀHT)⁻¹Tᵀ`` made the step's
    predicted rise noise.
    """
    total = _objective(model, pk, data, True)
    g = jax.grad(total)(pk.vec)
    free = None
    if T is not None:
        g = jnp.asarray(T @ np.linalg.pinv(T), g.dtype) @ g  # (onto the simplices' tangents)
        # (The entries outside every simplex, which may move outward along themselves.)
        free = jnp.asarray(T @ (np.abs(T).sum(0) == 1.0), g.dtype)
    se = jnp.sqrt(jnp.diagonal(Hinv))
    k = pk.vec.shape[0]
    delta = Hinv @ g
    return (
        _ratio(delta, se),
        _ratio(_rounding(pk.vec, jnp.sqrt(k / lam)), se),
        _flat(total, pk.vec, delta, g, free),
    )


def _flat(total: Callable, vec: jax.Array, delta: jax.Array, g: jax.Array,
          free: Any = None) -> jax.Array:  # fmt: skip
    """Whether the log-likelihood is flat along the Newton direction (an MLE at infinity).

    One standard error along ``δ = H⁻¹g`` (``c δ`` with ``½ c² gᵀH⁻¹g = ½``) the quadratic
    model predicts a drop of ½ nat; at separation (a logistic regression fitted to separated
    data: ``g`` and ``H`` both vanish, the standard errors are 1e27) the log-likelihood keeps
    rising or stays put there. Flat when it drops by less than a tenth of that.

    The same one standard error outward along the estimate itself (``vec``, curvature
    ``−vecᵀ∇²ℓ vec`` by a Hessian-vector product): at complete separation the estimate runs
    off along the separating direction, which the Newton step need not point along.
    """
    base = total(vec)

    def flat_along(v, q):
        usable = jnp.isfinite(q) & (q > 0)
        c = jnp.sqrt(1.0 / jnp.where(usable, q, 1.0))
        return usable & ~(base - total(vec + jnp.where(usable, c, 0.0) * v) >= 0.05)

    out = vec if free is None else vec * free  # (a simplex cannot move along itself)
    q_out = -jnp.dot(out, jax.jvp(jax.grad(total), (vec,), (out,))[1])
    return flat_along(delta, jnp.dot(g, delta)) | flat_along(out, q_out)
