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
import warnings
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from . import _xla
from ._covariance import _OLS_TYPES as _OLS_TYPES
from ._covariance import COV_TYPES as COV_TYPES
from ._covariance import STATIONARY_TOL as STATIONARY_TOL
from ._covariance import STATUS as STATUS
from ._covariance import _cov_kernel as _cov_kernel
from ._covariance import _expected_info as _expected_info
from ._covariance import _funcs as _funcs
from ._covariance import _has_expected as _has_expected
from ._covariance import _inv_pd as _inv_pd
from ._covariance import _key_name as _key_name
from ._covariance import _n_obs as _n_obs
from ._covariance import _neg_hessian as _neg_hessian
from ._covariance import _no_expected_msg as _no_expected_msg
from ._covariance import _packer as _packer
from ._covariance import _scores as _scores
from ._covariance import _sym_keys as _sym_keys
from ._covariance import simplex_chart
from ._custom import CustomModel
from ._errors import InputError
from ._models import Model
from ._nonlinear import NonlinearRegression
from ._settings import _Cfg as _Cfg
from ._settings import _check_cov_type as _check_cov_type
from ._settings import _check_df_correction as _check_df_correction
from ._settings import _check_symmetric as _check_symmetric
from ._settings import _default_cov_type as _default_cov_type
from ._settings import _default_use_t as _default_use_t
from ._settings import _df_resid as _df_resid
from ._settings import _hc_family as _hc_family
from ._settings import _n_scale as _n_scale
from ._settings import _settings as _settings
from ._status import Status
from ._summary import LRTest as LRTest
from ._summary import Summary as Summary
from ._summary import Wald as Wald
from ._summary import _lane_values as _lane_values
from ._summary import _require_pandas as _require_pandas
from ._summary import _status_text as _status_text
from ._validation import n_rows, warn_if_float32
from ._wald import _check_int as _check_int
from ._wald import _check_level as _check_level
from ._wald import _is_traced as _is_traced
from ._wald import _wald_kernel as _wald_kernel
from ._wald import aic as aic
from ._wald import bic as bic
from ._wald import lr_test as lr_test
from ._wald import wald as wald

__all__ = [
    "COV_TYPES",
    "STATIONARY_TOL",
    "STATUS",
    "LRTest",
    "Summary",
    "Wald",
    "aic",
    "bic",
    "covariance",
    "lr_test",
    "param_labels",
    "stderr",
    "summary",
    "sweep_summary",
    "wald",
]

PyTree = Any


# A result's estimation status as the summary's: its own code when it is an estimation outcome
# (or non-finite), else (a covariance code in a result's status) NOT_CONVERGED.
_ESTIMATION_CODES = (int(Status.NONFINITE), int(Status.MAX_STEPS), int(Status.FLAT_DIRECTION),
                     int(Status.BOUNDARY), int(Status.NOT_CONVERGED))  # fmt: skip


def _summary_kernel(model, params, data, fn, cfg: _Cfg, hc=0, given=-1,
                    neg_hess=None, loglik=None) -> Summary:  # fmt: skip
    """The summary program. ``given``: the estimation status a result carried (-1: none).

    ``neg_hess``: minus the Hessian of the total log-likelihood (with the prior) at
    ``params`` in the packed order, and ``loglik`` there, when the caller has them
    (:func:`jaxmle.mle`'s solver).
    """
    m = model if fn is None else fn
    sym = _sym_keys(m, cfg.symmetric)
    pk = _packer(params, sym)
    log_prob, _ = _funcs(m)
    n = _n_obs(data)
    k = pk.vec.shape[0]
    cov, status, eig, step, hstatus = _cov_kernel(m, pk, data, cfg.cov_type, cfg.include_prior,
                                                  hc, check=cfg.check,
                                                  neg_hess=neg_hess)  # fmt: skip
    df = _df_resid(m, n, k, cfg.df_p)
    if cfg.df_p:  # n/(n − p): the regression convention's s² for a Gaussian log_prob
        cov = cov * (n / df) if df > 0 else cov
        status = jnp.where(status == 0, 0 if df > 0 else 4, status)
    if cfg.use_t and df <= 0:  # Student's t needs residual degrees of freedom
        status = jnp.where(status == 0, 4, status)
    # Estimation status: the result's own, or (bare params) the stationarity check.
    given = jnp.asarray(given, jnp.int32)
    mapped = jnp.where(jnp.isin(given, jnp.asarray(_ESTIMATION_CODES)), given, 9)
    if cfg.check:
        not_max = hstatus == 2  # minus the Hessian is not positive definite: no maximum here
        step, slack, flat = step
        # NaN (not checked) compares False; slack: what rounding alone moves the estimate by.
        far = jnp.any(jnp.abs(step) > STATIONARY_TOL + slack)
        # Only where the covariance itself is fine: a failed one has its own code and reason.
        # (A result that calls itself converged is checked too: an optimiser's own test,
        # e.g. a gradient norm below 1e-6, is not scale invariant; an SGD fit 5.5 standard
        # errors short of the MLE passed it, and the summary said "ok".)
        found = (given <= 0) & (status == 0) & (not_max | far)
        status = jnp.where(found, jnp.where(not_max, 2, 9), status)
        # A flat likelihood (separation) is caught even when a result calls itself converged:
        # its gradient does vanish, at infinity.
        # (Only where the step is negligible: far from the optimum, 1 SE along the step
        # rises anyway.)
        flat = (given <= 0) & (status == 0) & flat & ~far
        status = jnp.where(flat, 7, status)
        found = found | flat
    else:
        step = step[0]
        found = jnp.zeros((), bool)
    status = jnp.where(given > 0, mapped, status)
    converged = jnp.where(given >= 0, (given == 0) & ~found, ~found)
    # Never NaN/inf standard errors (or estimates: a diverged lane of a sweep) under status
    # "ok", e.g. from a sandwich's non-finite scores.
    v = jnp.diagonal(cov)
    bad = ~(jnp.all(jnp.isfinite(v) & (v >= 0)) & jnp.all(jnp.isfinite(pk.vec)))
    status = jnp.where((status == 0) & bad, 1, status).astype(jnp.int32)
    cov = jnp.where(status == 0, cov, jnp.nan)
    se = jnp.sqrt(jnp.diagonal(cov))
    stat, pval, lo, hi = _wald_kernel(pk.vec, se, cfg.level, df if cfg.use_t else None)
    if cfg.cov_type in ("classical", "HC") and _n_scale(m):
        # A regression's σ² under its own conventions: no test of σ² = 0, the boundary of its
        # domain (statsmodels lists no σ² row; σ̂²/se = sqrt(n/2) tests nothing); its standard
        # error and interval stay.
        j = pk.slices["variance"][0]
        stat, pval = stat.at[j].set(jnp.nan), pval.at[j].set(jnp.nan)
    ll = jnp.sum(log_prob(pk.unpack(pk.vec), data)) if loglik is None else loglik
    T = simplex_chart(m, pk)  # (a simplex of K entries has K − 1 free ones)
    k_free = k if T is None else T.shape[1]
    k_ic = cfg.n_params if cfg.n_params is not None else k_free - _n_scale(m)
    return Summary(
        estimate=pk.vec, stderr=se, statistic=stat, pvalue=pval, ci_low=lo, ci_high=hi,
        cov=cov, loglik=ll, aic=-2.0 * ll + 2.0 * k_ic, bic=-2.0 * ll + math.log(n) * k_ic,
        status=status, min_eigenvalue=eig, newton_step=step, converged=converged,
        fit_status=given, labels=_labels(m, pk, sym), cov_type=cfg.cov_type,
        use_t=cfg.use_t, level=cfg.level, n_obs=n, n_params=k_ic, df_resid=df,
        model_name=_model_name(m),
        posterior=bool(cfg.include_prior and _funcs(m)[1] is not None), axes=cfg.axes,
    )  # fmt: skip


def _labels(model: Any, pk: Any, sym: frozenset[str]) -> tuple[str, ...]:
    """Row labels: ``coef[0]``, ..., or a custom model's ``names``."""
    if isinstance(model, CustomModel):
        return model._relabel(pk.labels, pk.slices, sym)
    return pk.labels


def _model_name(model: Any) -> str:
    if isinstance(model, CustomModel):
        return f"custom({getattr(model.fn, '__name__', 'log_prob')})"
    return type(model).__name__ if isinstance(model, Model) else getattr(model, "__name__",
                                                                           "log_prob")  # fmt: skip


_summary_jit = _xla.jit(_summary_kernel, static_argnames=("fn", "cfg"))


@partial(_xla.jit, static_argnames=("fn", "cfg"))
def _summary_lanes(model, params, data, fn, cfg, hc, given):
    return jax.vmap(lambda p, g: _summary_kernel(model, p, data, fn, cfg, hc, g))(params, given)


def _run_summary(kernel, model, params, data, cfg: _Cfg, given) -> Summary:
    m, fn = (model, None) if isinstance(model, Model) else (None, model)
    fam, hc = _hc_family(cfg)
    out = kernel(m, params, data, fn=fn, cfg=fam, hc=np.int32(hc), given=given)
    return dataclasses.replace(out, cov_type=cfg.cov_type)


def _is_result(obj: Any) -> bool:
    # FitResult / MLEResult / OLSResult / SweepResult / anything with natural ``params`` as an
    # attribute (duck-typed: the engine's result types live in a higher layer). A dict of
    # params is not a result, even with a key named "params".
    return not isinstance(obj, Mapping) and hasattr(obj, "params")


def _unwrap_params(params: Any) -> Any:
    return params.params if _is_result(params) else params


def _result_status(result: Any) -> Any:
    """The estimation status a result carries, or None for bare params (or a result with none).

    Its ``status`` (a :class:`jaxmle.Status` code) when it has one; else 0 where ``converged``
    and NOT_CONVERGED (9) where not, NONFINITE (1) where ``diverged``.
    """
    if not _is_result(result):
        return None
    status = getattr(result, "status", None)
    converged = getattr(result, "converged", None)
    if status is None and converged is None:
        return None
    xp = jnp if _is_traced(status, converged, getattr(result, "diverged", None)) else np
    if status is not None:
        return xp.asarray(status).astype(np.int32)
    code = xp.where(xp.asarray(converged), 0, int(Status.NOT_CONVERGED))
    diverged = getattr(result, "diverged", None)
    if diverged is not None:
        code = xp.where(xp.asarray(diverged), int(Status.NONFINITE), code)
    return code.astype(np.int32)


def _given(code: Any, shape: tuple[int, ...]) -> Any:
    """The kernel's ``given`` argument: the result's codes in ``shape`` (-1: none given)."""
    if code is None:
        return np.full(shape, -1, np.int32)
    if tuple(np.shape(code)) != shape:
        raise InputError(
            f"the result's `status`/`converged` has shape {np.shape(code)}, but its params "
            f"have {shape or 'no'} lane axes; pass one estimate to summary, a study to "
            "sweep_summary."
        )
    return code


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
                f"{_model_name(model)}; got {got}."
            )
        if isinstance(model, NonlinearRegression):  # no data-shaped default: check f(θ, x)
            theta = jax.tree_util.tree_map(
                lambda x: jax.ShapeDtypeStruct(np.shape(x)[batch_ndim:], x.dtype),
                params["theta"])  # fmt: skip
            model.check_theta(theta, data)
            ref = {"variance": jax.ShapeDtypeStruct((), dt)} if "variance" in params else {}
        elif isinstance(model, CustomModel) and not model.has_init:
            ref = {}  # (no default to compare shapes with: its log_prob is checked when traced)
        else:
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
        conv = np.asarray(s.converged)
        n_nc = int((~conv).sum())
        what = (f"{n_nc} not converged" if n_nc == int(bad.sum())
                else f"{n_nc} of them not converged")  # fmt: skip
        msg = (
            f"{int(bad.sum())} of {bad.size} lanes have no valid covariance ({what}; first at "
            f"index {first}): " + _status_text(s, int(status[first]), _lane_values(s, first))
        )
    warnings.warn(msg, RuntimeWarning, stacklevel=stacklevel + 1)


def summary(
    model: Model | Callable,
    params: PyTree,
    data: PyTree,
    *,
    cov_type: str | None = None,
    level: float = 0.95,
    use_t: bool | None = None,
    include_prior: bool = True,
    n_params: int | None = None,
    symmetric: Sequence[str] = (),
    df_correction: bool | int = False,
) -> Summary:
    """Standard errors, Wald tests and intervals, log-likelihood and AIC/BIC at an estimate.

    The statsmodels-style table is ``str(summary(...))``; ``.to_dataframe()`` gives it as a
    pandas DataFrame. Jittable and vmappable: given tracers, the inputs are not validated and a
    failure is only the ``status`` field (with NaN covariances); given concrete values, a bad
    status also raises a ``RuntimeWarning`` that says why.

    Convergence. Standard errors only mean something at a converged estimate, so a summary
    never says "ok" about one that is not (status ≠ 0 and NaN covariances, with a warning):

    - given a result (any object with a ``params`` attribute: :class:`jaxmle.FitResult`, the
      result of :func:`jaxmle.mle`, a sweep), its ``status`` (a :class:`jaxmle.Status` code) or
      else its ``converged`` flag decides: a result that is not converged gets its own code
      when that is an estimation outcome (1, 6–9), else NOT_CONVERGED (9); one that says it
      is converged is checked as bare params are (below), since an optimiser's own stopping
      test need not be scale invariant;
    - given bare params, the same compiled program checks that they are a stationary point:
      the Newton step ``δ = H⁻¹g`` of the full objective (log-likelihood plus log prior,
      whatever ``include_prior`` says: a MAP estimate is stationary for the posterior) must be
      at most :data:`STATIONARY_TOL` = 1e-3 of a standard error ``sqrt((H⁻¹)_ii)`` in every
      coordinate (a scale-invariant test: an estimate within a thousandth of a standard error
      of the optimum is converged for inference); else status NOT_CONVERGED (9), or
      NOT_POSITIVE_DEFINITE (2) when minus the Hessian is not positive definite there. For the
      regression conventions (``classical``, HC0–HC3) the test is on the Gauss–Newton step of
      the regression coefficients in their classical standard errors (σ² is a nuisance
      parameter there: any reported σ² is accepted). ``Summary.newton_step`` has the steps.

    Conventions (statsmodels'): the p-values are two-sided; ``use_t`` (default: only for
    ``cov_type="classical"`` of a linear or nonlinear regression with estimated σ², and with a
    ``df_correction``) uses Student's t with ``df_resid = n − p`` degrees of freedom, otherwise
    the normal.

    Regressions. A :class:`~jaxmle.models.LinearRegression` or
    :class:`~jaxmle.models.NonlinearRegression` without a prior defaults to ``classical``, so
    its standard errors, t values and p-values are statsmodels' ``OLS(y, X).fit()`` (``WLS``
    with weights) ``bse``/``tvalues``/``pvalues``: ``s²(XᵀWX)⁻¹`` with ``s² = RSS/(n − p)`` and
    t on ``n − p`` degrees of freedom; with a known noise variance σ², ``σ²(XᵀWX)⁻¹`` with
    z-tests (which the inverse observed information equals). statsmodels lists no σ² row; the
    ``variance`` row here (σ² estimated) keeps the estimate as given (``RSS/n`` from
    :func:`jaxmle.mle`; statsmodels' ``scale`` is ``RSS/(n − p)``), the inverse Fisher
    information's standard error ``σ̂²·sqrt(2/n)`` (HC types: the sandwich from the
    residuals) and its Wald interval, but no test: NaN statistic and p-value, as σ² = 0 is the
    boundary of its domain (``σ̂²/se`` would be ``sqrt(n/2)``, which tests nothing); the same
    for a NonlinearRegression's ``variance`` row. ``cov_type="hessian"`` is
    the inverse observed information at the
    given σ̂² for every row, with z-tests (its coefficient standard errors are ``sqrt((n −
    p)/n)`` times statsmodels').

    Information criteria. AIC = −2ℓ + 2m and BIC = −2ℓ + m log n, with m the number of free
    parameters estimated (Akaike's definition; R's ``AIC()`` of a ``fitdistr`` fit): one per
    entry of the flattened parameters, except a linear or nonlinear regression's noise
    variance, which statsmodels' OLS does not count (``df_model + k_constant``; R's
    ``AIC(lm)`` does, 2 more). ``n_params`` overrides m. statsmodels' ``GenericLikelihoodModel``
    without ``exog`` and ``extra_params_names`` counts each parameter twice (its results set
    ``df_model = len(params)`` before ``fit`` adds the same parameters as ``k_extra``): see
    :func:`aic`. ℓ is the log-likelihood at ``params`` as given (for OLS, statsmodels' ℓ is at
    σ² = RSS/n, which is what :func:`jaxmle.closed_form.ols` returns).

    ``df_correction`` (the regression convention for a plain Gaussian ``log_prob``): the
    covariance is multiplied by ``n/(n − p)`` and ``df_resid = n − p``, which turns the inverse
    Hessian at the MLE ``σ̂² = RSS/n`` into ``s² = RSS/(n − p)`` times the inverse curvature.
    For a *linear* mean with one noise-variance parameter this is exactly OLS's classical
    ``s²(XᵀWX)⁻¹`` (and the variance's own entry becomes ``2σ̂⁴/(n − p)``). For a *nonlinear*
    mean it is not the regression convention ``s²(JᵀWJ)⁻¹``: the observed Hessian's θ block is
    ``(JᵀWJ − Σ_i w_i r_i ∇²f_i)/σ̂²``, whose residual-curvature term ``JᵀWJ`` leaves out (it
    vanishes only for an exact fit or a linear f); use
    :class:`jaxmle.models.NonlinearRegression`, whose default is the convention itself, or
    ``cov_type="expected"`` there. Nothing checks that the likelihood is Gaussian.

    Args:
        model: a :class:`jaxmle.models.Model` or a plain ``log_prob(params, data) -> (n,)``.
        params: the estimate in natural parameters (a pytree), or a result with a ``params``
            attribute (and a ``status`` or ``converged`` one: see above).
        data: the observations the estimate was fitted to.
        cov_type: one of :data:`COV_TYPES`; None (default) picks by model: ``"classical"``
            (statsmodels' OLS ``nonrobust``: ``s²(XᵀWX)⁻¹``, ``s²(JᵀWJ)⁻¹``) for a
            :class:`~jaxmle.models.LinearRegression` or
            :class:`~jaxmle.models.NonlinearRegression` without a prior, ``"hessian"``
            (inverse observed information) for every other model (see Regressions above).
        level: confidence level of the Wald intervals.
        use_t: Student's t instead of the normal for p-values and intervals (None: see above).
        include_prior: include the model's log prior in the curvature (a MAP fit's posterior
            curvature; warns). False gives the likelihood's curvature alone.
        n_params: parameter count for AIC/BIC (default: statsmodels' convention, above).
        symmetric: keys of a dict ``params`` holding symmetric matrices, flattened to their
            lower triangle (a Model's positive-definite parameters always are).
        df_correction: False (default); True to scale by ``n/(n − p)`` with p = all flattened
            parameters but one (the noise variance or scale); or the number p of mean
            parameters. Not with ``classical``/HC types, which have their own n − p.

    Returns:
        A :class:`Summary`.

    Raises:
        InputError: on an unknown ``cov_type``, one that does not apply to the model, a bad
            ``df_correction``, or parameters or data that do not fit the model.

    Warns:
        PrecisionWarning: when float64 is off (``jax_enable_x64``): the summary is float32.

    Example:
        >>> import jax, jax.numpy as jnp, jaxmle
        >>> jax.config.update("jax_enable_x64", True)
        >>> x = jnp.array([1.0, 2.0, 3.0, 6.0])
        >>> model = jaxmle.models.Gaussian()
        >>> s = jaxmle.inference.summary(model, model.closed_form(x), x)
        >>> s.labels, [round(float(v), 6) for v in s.stderr], int(s.status)
        (('mean', 'variance'), [0.935414, 2.474874], 0)
        >>> import warnings
        >>> with warnings.catch_warnings(record=True):  # one standard error from the MLE
        ...     far = jaxmle.inference.summary(model, {"mean": 3.935414, "variance": 3.5}, x)
        >>> jaxmle.Status(int(far.status)).name
        'NOT_CONVERGED'
    """
    cfg = _settings(model, cov_type, level, use_t, include_prior, n_params, symmetric, (),
                    df_correction)  # fmt: skip
    given = _given(_result_status(params), ())
    params, data = _prepare(model, params, data, cfg.symmetric)
    if not _is_traced(params, data, model):
        warn_if_float32("jaxmle.inference.summary", stacklevel=2)
    _warn_prior(model, cfg.include_prior, stacklevel=2)
    out = _run_summary(_summary_jit, model, params, data, cfg, given)
    if not _is_traced(out.status):
        _warn_status(out, stacklevel=2)
    return out


def sweep_summary(
    model: Model | Callable,
    study: Any,
    data: PyTree,
    *,
    batch_ndim: int | None = None,
    cov_type: str | None = None,
    level: float = 0.95,
    use_t: bool | None = None,
    include_prior: bool = True,
    n_params: int | None = None,
    symmetric: Sequence[str] = (),
    df_correction: bool | int = False,
) -> Summary:
    """:func:`summary` for every lane of a study, as one vmapped, jitted program.

    Args:
        model: the model the study fitted.
        study: a :class:`jaxmle.SweepResult` (its ``params`` leaves have the grid axes
            leading; its per-lane ``status``, or else ``converged``/``diverged``, says which
            lanes are not converged, and a lane that says it is converged still gets
            :func:`summary`'s stationarity check), or any params pytree with ``batch_ndim``
            leading lane axes (each lane then gets that check).
        data: the data every lane was fitted to.
        batch_ndim: number of leading lane axes (taken from the study's grid when omitted).
        cov_type: as in :func:`summary`.
        level: as in :func:`summary`.
        use_t: as in :func:`summary`.
        include_prior: as in :func:`summary`.
        n_params: as in :func:`summary`.
        symmetric: as in :func:`summary`.
        df_correction: as in :func:`summary`.

    Returns:
        A :class:`Summary` whose array fields have the lane axes leading; ``.lane(i, j, ...)``
        picks one lane and ``.to_dataframe()`` lists every lane (with the grid's coordinates
        for a SweepResult). Lanes whose covariance failed are counted in one warning.

    Example:
        >>> import jax, jax.numpy as jnp, jaxmle
        >>> jax.config.update("jax_enable_x64", True)
        >>> x = jnp.array([1.0, 2.0, 3.0, 6.0])
        >>> lanes = {"mean": jnp.array([3.0, 2.0])}  # the MLE, and an estimate that is not
        >>> import warnings
        >>> with warnings.catch_warnings(record=True):  # "1 of 2 lanes ... not converged"
        ...     s = jaxmle.inference.sweep_summary(jaxmle.models.Gaussian(variance=4.0), lanes,
        ...                                        x, batch_ndim=1)
        >>> s.batch_shape, [round(float(v), 3) for v in s.stderr[:, 0]], s.status.tolist()
        ((2,), [1.0, nan], [0, 9])
    """
    axes: tuple = ()
    params = _unwrap_params(study)
    code = _result_status(study)
    if _is_result(study) and hasattr(study, "axes"):
        axes = tuple((str(k), tuple(v)) for k, v in study.axes.items())
        if batch_ndim is None:
            batch_ndim = len(axes)
    if not isinstance(batch_ndim, int | np.integer) or batch_ndim < 1:
        raise InputError(
            f"`batch_ndim` must be a positive integer (number of leading lane axes of the "
            f"params), got {batch_ndim!r}."
        )
    try:
        cfg = _settings(model, cov_type, level, use_t, include_prior, n_params, symmetric, axes,
                        df_correction)  # fmt: skip
    except TypeError as err:  # unhashable coordinates
        raise InputError(f"the study's axes could not be used as labels: {err}") from err
    params, data = _prepare(model, params, data, cfg.symmetric, batch_ndim=int(batch_ndim))
    if not _is_traced(params, data, model):
        warn_if_float32("jaxmle.inference.sweep_summary", stacklevel=2)
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
    given = _given(code, shape).reshape(-1)
    out = _run_summary(_summary_lanes, model, flat, data, cfg, given)
    out = jax.tree_util.tree_map(lambda x: jnp.reshape(x, shape + x.shape[1:]), out)
    if not _is_traced(out.status):
        _warn_status(out, stacklevel=2)
    return out


def covariance(
    model: Model | Callable,
    params: PyTree,
    data: PyTree,
    *,
    cov_type: str | None = None,
    include_prior: bool = True,
    symmetric: Sequence[str] = (),
    df_correction: bool | int = False,
) -> jax.Array:
    """The ``(k, k)`` covariance estimate of the flattened parameters (see :func:`param_labels`).

    Args:
        model: a :class:`jaxmle.models.Model` or a plain ``log_prob(params, data) -> (n,)``.
        params: the estimate (natural parameters), or a result with a ``params`` attribute
            (see :func:`summary` for how its status, or the stationarity check, is used).
        data: the observations.
        cov_type: one of :data:`COV_TYPES`; None: the model's default (see :func:`summary`).
        include_prior: include the log prior in the curvature (MAP fits; warns).
        symmetric: as in :func:`summary`.
        df_correction: as in :func:`summary`.

    Returns:
        The covariance matrix; all NaN (with a warning outside ``jit``) when the estimate is
        not converged, or the matrix to invert is not positive definite or is singular. Use
        :func:`summary` for the status flag.

    Example:
        >>> import jax, jax.numpy as jnp, jaxmle
        >>> jax.config.update("jax_enable_x64", True)
        >>> x = jnp.array([1.0, 2.0, 3.0, 6.0])
        >>> model = jaxmle.models.Gaussian(variance=4.0)
        >>> jaxmle.inference.covariance(model, {"mean": 3.0}, x).tolist()  # σ²/n
        [[1.0]]
    """
    return summary(model, params, data, cov_type=cov_type, include_prior=include_prior,
                   symmetric=symmetric, df_correction=df_correction).cov  # fmt: skip


def stderr(
    model: Model | Callable,
    params: PyTree,
    data: PyTree,
    *,
    cov_type: str | None = None,
    include_prior: bool = True,
    symmetric: Sequence[str] = (),
    df_correction: bool | int = False,
) -> PyTree:
    """Standard errors shaped like ``params`` (a symmetric matrix leaf gets a symmetric matrix).

    Args:
        model: a :class:`jaxmle.models.Model` or a plain ``log_prob(params, data) -> (n,)``.
        params: the estimate (natural parameters), or a result with a ``params`` attribute
            (see :func:`summary` for how its status, or the stationarity check, is used).
        data: the observations.
        cov_type: one of :data:`COV_TYPES`; None: the model's default (see :func:`summary`).
        include_prior: include the log prior in the curvature (MAP fits; warns).
        symmetric: as in :func:`summary`.
        df_correction: as in :func:`summary`.

    Returns:
        A pytree like ``params`` of standard errors (NaN where the estimate is not converged
        or the covariance failed).

    Example:
        >>> import jax, jax.numpy as jnp, jaxmle
        >>> jax.config.update("jax_enable_x64", True)
        >>> x = jnp.array([1.0, 2.0, 3.0, 6.0])
        >>> model = jaxmle.models.Gaussian(variance=4.0)
        >>> float(jaxmle.inference.stderr(model, {"mean": 3.0}, x)["mean"])  # σ/√n
        1.0
    """
    s = summary(model, params, data, cov_type=cov_type, include_prior=include_prior,
                symmetric=symmetric, df_correction=df_correction)  # fmt: skip
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
        One label per entry, e.g. ``("coef[0]", "coef[1]", "intercept", "variance")``; a
        :func:`jaxmle.models.custom` model's ``names`` replace its parameters' ``key[i]``.
    """
    sym = _sym_keys(model, tuple(symmetric))
    return _labels(model, _packer(_unwrap_params(params), sym), sym)
