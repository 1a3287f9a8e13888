"""The GLM front end: :func:`glm` and :class:`GLMResults`, statsmodels' post-estimation.

``glm("y ~ x1 + C(g)", data=df, family=jaxmle.families.Poisson())`` encodes the formula with
formulaic (:mod:`jaxmle._design`), fits by the jitted IRLS engine (:func:`jaxmle._irls.irls`)
and returns a :class:`GLMResults` with statsmodels' names and conventions (statsmodels 0.15's
``GLMResults``; for the negative binomial with α estimated, ``discrete.NegativeBinomial``'s):
named ``params``/``bse``/``pvalues``/``conf_int``, the four residuals, ``llf``, ``llnull``,
``deviance``, ``null_deviance``, ``pearson_chi2``, ``aic``/``bic``, pseudo R², the
likelihood-ratio test against the constant-only model, ``predict`` and ``get_prediction`` on new
data, average marginal effects with delta-method standard errors (``get_margeff``), and a
``summary()`` in statsmodels' layout.

Where the work happens. The fit is one jitted program (the engine's; a warm call compiles
nothing). Everything after it is host-side NumPy on arrays of length n: residuals, the null
deviance, sandwich covariances and predictions cost microseconds and compile nothing for any
shape. The formulas are statsmodels' (and the engine's :mod:`jaxmle._families`; a test checks
the two agree). The constant-only model behind ``llnull`` is computed on first access: in closed
form (the weighted mean, as statsmodels does) without an offset or exposure, else fitted by the
same engine. Marginal effects differentiate the average effect with ``jax.jacobian`` in one
small jitted program per design shape.
"""

from __future__ import annotations

import functools
import math
import warnings
from dataclasses import replace
from functools import cached_property
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import _design
from ._design import Design
from ._errors import InputError
from ._families import Family, Gaussian, NegativeBinomial, as_family
from ._irls import irls
from ._results import RegressionResults, TextSummary, header_table, params_table
from ._status import Status, status_message
from ._validation import warn_if_float32

__all__ = ["GLMMargins", "GLMPrediction", "GLMResults", "glm"]

_COV_TYPES = ("nonrobust", "HC0", "HC1", "HC2", "HC3")
_MISSING = ("drop", "raise", "none")
_FLOAT_EPS = float(np.finfo(float).eps)

# statsmodels' class names of the links, as its summary prints them.
_LINK_TITLES = {"identity": "Identity", "log": "Log", "logit": "Logit", "probit": "Probit",
                "cloglog": "CLogLog", "inverse": "InversePower",
                "inverse_squared": "InverseSquared", "sqrt": "Sqrt"}  # fmt: skip


# --------------------------------------------------------------------------------------------
# Host-side numerics: the links' inverse and its first two derivatives, the variance function
# and its derivative, unit deviances and log-likelihoods, in NumPy (statsmodels' formulas).


def _special():
    import scipy.special

    return scipy.special


def _logit_d1(e):
    sp = _special()
    return sp.expit(e) * sp.expit(-e)


def _probit_d1(e):
    return np.exp(-0.5 * e * e) / math.sqrt(2.0 * math.pi)


def _cloglog_d1(e):
    return np.exp(e - np.exp(e))


def _link_host(link: Any) -> tuple[Any, Any, Any]:
    """``(μ(η), μ'(η), μ''(η))`` as NumPy functions for the engine's link object."""
    sp = _special()
    name = link.name
    if name == "identity":
        return (lambda e: e, np.ones_like, np.zeros_like)
    if name == "log":
        return (np.exp, np.exp, np.exp)
    if name == "logit":  # μ'' = μ'(1 − 2μ) = −μ' tanh(η/2)
        return (sp.expit, _logit_d1, lambda e: _logit_d1(e) * -np.tanh(0.5 * e))
    if name == "probit":
        return (sp.ndtr, _probit_d1, lambda e: -e * _probit_d1(e))
    if name == "cloglog":
        return (lambda e: -np.expm1(-np.exp(e)), _cloglog_d1,
                lambda e: _cloglog_d1(e) * -np.expm1(e))  # fmt: skip
    power = getattr(link, "power", None)
    if power is not None:  # μ = η^(1/p)
        r = 1.0 / float(power)
        return (lambda e: np.power(e, r), lambda e: r * np.power(e, r - 1.0),
                lambda e: r * (r - 1.0) * np.power(e, r - 2.0))  # fmt: skip
    # A link this module does not know: the engine's own (JAX) functions, eagerly.
    d2 = jax.vmap(jax.grad(link.deriv_inverse))
    return (lambda e: np.asarray(link.inverse(jnp.asarray(e, dtype=float))),
            lambda e: np.asarray(link.deriv_inverse(jnp.asarray(e, dtype=float))),
            lambda e: np.asarray(d2(jnp.asarray(e, dtype=float))))  # fmt: skip


class _Host(NamedTuple):
    """A family's host-side functions (statsmodels' GLM conventions), α fixed at ``alpha``."""

    kind: str
    link: Any
    alpha: float

    def inverse(self, eta):
        return _link_host(self.link)[0](eta)

    def dmu(self, eta):
        return _link_host(self.link)[1](eta)

    def d2mu(self, eta):
        return _link_host(self.link)[2](eta)

    def variance(self, mu):
        k = self.kind
        if k == "Gaussian":
            return np.ones_like(mu)
        if k == "Binomial":
            p = np.clip(mu, _FLOAT_EPS, 1.0 - _FLOAT_EPS)
            return p * (1.0 - p)
        if k == "Poisson":
            return mu
        if k == "Gamma":
            return mu * mu
        if k == "InverseGaussian":
            return mu**3
        p = np.maximum(mu, _FLOAT_EPS)  # NegativeBinomial
        return p + self.alpha * p * p

    def dvariance(self, mu):
        k = self.kind
        if k == "Gaussian":
            return np.zeros_like(mu)
        if k == "Binomial":
            return 1.0 - 2.0 * mu
        if k == "Poisson":
            return np.ones_like(mu)
        if k == "Gamma":
            return 2.0 * mu
        if k == "InverseGaussian":
            return 3.0 * mu * mu
        return 1.0 + 2.0 * self.alpha * mu

    def unit_deviance(self, y, mu):
        """The unit deviance per trial, statsmodels' ``_resid_dev`` (Binomial: times n)."""
        sp = _special()
        k = self.kind
        if k == "Gaussian":
            return (y - mu) ** 2
        if k == "Binomial":
            return 2.0 * (sp.xlogy(y, y) - sp.xlogy(y, mu)
                          + sp.xlog1py(1.0 - y, -y) - sp.xlog1py(1.0 - y, -mu))  # fmt: skip
        if k == "Poisson":
            return 2.0 * (sp.xlogy(y, y) - sp.xlogy(y, mu) - (y - mu))
        if k == "Gamma":
            return 2.0 * ((y - mu) / mu - np.log(y / mu))
        if k == "InverseGaussian":
            return (y - mu) ** 2 / (y * mu * mu)
        r = 1.0 / self.alpha
        return 2.0 * (sp.xlogy(y, y) - sp.xlogy(y, mu) - (y + r) * np.log((y + r) / (mu + r)))

    def loglike_obs(self, y, mu, var_weights, scale, trials):
        """The pointwise log-likelihood, statsmodels' ``loglike_obs`` (no frequency weights)."""
        sp = _special()
        k, w = self.kind, var_weights
        if k == "Gaussian":
            return -0.5 * (w * (y - mu) ** 2 / scale + np.log(scale / w) + math.log(2 * math.pi))
        if k == "Binomial":
            s = y * trials
            coef = sp.gammaln(trials + 1.0) - sp.gammaln(s + 1.0) - sp.gammaln(trials - s + 1.0)
            return (coef + sp.xlogy(s, mu) + sp.xlog1py(trials - s, -mu)) * w
        if k == "Poisson":
            return w / scale * (sp.xlogy(y, mu) - mu - sp.gammaln(y + 1.0))
        if k == "Gamma":
            r = np.maximum(y / mu, _FLOAT_EPS)
            ws = w / scale
            return ws * np.log(ws * r) - ws * r - sp.gammaln(ws) - np.log(y)
        if k == "InverseGaussian":
            return -0.5 * (w * (y - mu) ** 2 / (scale * y * mu * mu)
                           + np.log(scale * y**3 / w) + math.log(2 * math.pi))  # fmt: skip
        a = self.alpha
        r = 1.0 / a
        ll = (sp.xlogy(y, a * mu) - (y + r) * np.log1p(a * mu) + sp.gammaln(y + r)
              - sp.gammaln(r) - sp.gammaln(y + 1.0))  # fmt: skip
        return w / scale * ll


# --------------------------------------------------------------------------------------------
# Input handling.


def _subset(design: Design, keep: np.ndarray) -> Design:
    """The design restricted to the rows ``keep`` (a boolean mask over its rows)."""
    pos = np.flatnonzero(keep)
    rows = pos if design.rows is None else design.rows[pos]
    index = None if design.index is None else design.index[pos]
    return replace(design, y=design.y[pos], X=design.X[pos], rows=rows, index=index)


def _check_option(value: Any, name: str, options: tuple[str, ...]) -> str:
    if isinstance(value, str):
        for o in options:
            if value.lower() == o.lower():
                return o
    raise InputError(f"`{name}` must be one of {', '.join(map(repr, options))}; got {value!r}.")


class _Data(NamedTuple):
    """The fitted rows' response and per-row arrays (None where not given)."""

    y: np.ndarray  # proportion for Binomial counts
    trials: np.ndarray | None
    offset: np.ndarray | None
    exposure: np.ndarray | None
    freq_weights: np.ndarray | None
    var_weights: np.ndarray | None


def _check_weights(v: np.ndarray | None, name: str, positive: bool = False) -> None:
    if v is None:
        return
    bad = ~(np.isfinite(v) & ((v > 0) if positive else (v >= 0)))
    if bad.any():
        rule = "positive" if positive else "non-negative"
        raise InputError(f"`{name}` must be finite and {rule}; found {v[bad][0]!r} at row "
                         f"{int(np.flatnonzero(bad)[0])}.")  # fmt: skip


def _prepare(formula_or_y, data, family, offset, exposure, freq_weights, var_weights,
             missing):  # fmt: skip
    if isinstance(formula_or_y, str):
        if data is None:
            raise InputError(
                "`data` is required with a formula: glm('y ~ x', data=df, family=...)."
            )
        design = _design.from_formula(formula_or_y, data)
        if missing == "raise" and design.rows is not None:
            raise InputError(
                f"`data` has {design.n_data - len(design.y)} row(s) with missing values in the "
                "formula's columns; drop them or pass missing='drop'."
            )
    else:
        if data is None:
            raise InputError(
                "glm(y, X) needs the design matrix `X` as the second argument (no constant is "
                "added, as in statsmodels' GLM(y, X)); or pass a formula and a DataFrame."
            )
        design = _design.from_arrays(formula_or_y, data)
    arrays = {name: _design.align_rows(design, v, name) for name, v in
              (("offset", offset), ("exposure", exposure), ("freq_weights", freq_weights),
               ("var_weights", var_weights))}  # fmt: skip
    y2 = design.y.reshape(len(design.y), -1)
    finite = np.all(np.isfinite(design.X), axis=1) & np.all(np.isfinite(y2), axis=1)
    for v in arrays.values():
        if v is not None:
            finite &= np.isfinite(v)
    if not finite.all() and missing != "none":
        if missing == "raise":
            raise InputError(
                f"{int((~finite).sum())} row(s) have missing or non-finite values in the "
                f"response, the design or the weights/offset (first at row "
                f"{int(np.flatnonzero(~finite)[0])}); drop them or pass missing='drop'."
            )
        if not finite.any():
            raise InputError("every row has a missing or non-finite value; nothing to fit.")
        design = _subset(design, finite)
        arrays = {k: None if v is None else v[finite] for k, v in arrays.items()}
    y, trials = design.y, None
    if y.ndim == 2:
        if y.shape[1] != 2 or family.name != "Binomial":
            raise InputError(
                f"a {y.shape[1]}-column response ({design.y_name}) is only for the Binomial "
                "family, as successes + failures; pass family=jaxmle.families.Binomial() or a "
                "single response column."
            )
        trials = y.sum(axis=1)
        if np.any(trials <= 0) or np.any(y < 0):
            raise InputError(
                f"the response {design.y_name} must be non-negative successes and failures "
                "with at least one trial in each row."
            )
        y = y[:, 0] / trials
    family.check_y(y, design.y_name)
    _check_weights(arrays["freq_weights"], "freq_weights")
    _check_weights(arrays["var_weights"], "var_weights", positive=True)
    if arrays["exposure"] is not None:
        if family.link.name != "log":
            raise InputError(
                f"`exposure` needs the log link (log(exposure) is added to η); the "
                f"{family.name} family here has the {family.link.name} link. Pass "
                "offset=np.log(exposure) explicitly for another link."
            )
        _check_weights(arrays["exposure"], "exposure", positive=True)
    return design, _Data(y, trials, **arrays)


# --------------------------------------------------------------------------------------------
# The public entry point.


def glm(formula_or_y: Any, data: Any = None, *, family: Any = None, offset: Any = None,
        exposure: Any = None, freq_weights: Any = None, var_weights: Any = None,
        cov_type: str = "nonrobust", max_iter: int = 100,
        missing: str = "drop") -> GLMResults:  # fmt: skip
    """Fits a generalised linear model by IRLS, from a formula on a DataFrame or from arrays.

    ``glm("y ~ x1 + C(g)", df, family=...)`` encodes the formula with formulaic (an intercept
    unless the formula removes it; ``"succ + fail ~ x"`` is a Binomial count response: the
    proportion ``succ/(succ + fail)`` out of ``succ + fail`` trials, as statsmodels does).
    ``glm(y, X, family=...)`` takes the design matrix as given, like ``sm.GLM(y, X)``: no
    constant is added. Tests and intervals are z-based (statsmodels' ``use_t=False`` for GLMs).

    Args:
        formula_or_y: a formula ``"y ~ x1 + C(g)"``, or the response (an ``(n,)`` array or
            Series; ``(n, 2)`` successes and failures for a Binomial count model).
        data: the DataFrame (or dict of columns) for a formula; the ``(n, p)`` design matrix
            (array or DataFrame) for a response.
        family: a :mod:`jaxmle.families` family (or its name, ``"poisson"``); default
            ``Gaussian()``. ``NegativeBinomial()`` (α None) estimates α with the coefficients
            and reports it as the last parameter, like statsmodels' ``NegativeBinomial``.
        offset: a known term added to the linear predictor, one value per data row (array or
            Series; rows dropped for missing values are dropped here too).
        exposure: positive exposures (log link only): ``log(exposure)`` is added to η.
        freq_weights: frequency weights (each row counts as that many observations).
        var_weights: variance (analytic) weights: ``Var yᵢ = φ V(μᵢ) / var_weightᵢ``.
        cov_type: ``"nonrobust"`` (the inverse expected information times the scale; for NB
            with α estimated, the inverse observed information), ``"HC0"`` (the sandwich
            ``H⁻¹ (Σ sᵢsᵢᵀ/fᵢ) H⁻¹`` with the observed Hessian, statsmodels' GLM HC0),
            ``"HC1"`` (HC0 × n/(n − k)), ``"HC2"``/``"HC3"`` (scores divided by
            ``(1 − hᵢ)^{1/2}``/``(1 − hᵢ)``, hᵢ the IRLS hat values). statsmodels 0.15's GLM
            returns HC0 for all four names; here HC1–HC3 are the corrected ones.
        max_iter: the IRLS iteration cap.
        missing: ``"drop"`` rows with a missing or non-finite value in the response, the
            design or the per-row arrays (statsmodels' ``missing="drop"``), ``"raise"`` an
            :class:`~jaxmle.InputError` naming how many, or ``"none"`` (no search here; the
            engine then refuses non-finite values). A formula's own columns are always
            cleaned by formulaic (``"raise"`` then reports the rows it dropped).

    Returns:
        A :class:`GLMResults`. A fit that does not converge has a non-OK ``status`` and NaN
        standard errors, and a ``RuntimeWarning`` saying why is issued.

    Raises:
        InputError: for a bad formula, data, family, option or per-row array (the message
            names the argument and the fix).

    Example:
        >>> import jax, numpy as np, pandas as pd
        >>> jax.config.update("jax_enable_x64", True)
        >>> from jaxmle.families import Poisson
        >>> df = pd.DataFrame({"y": [0, 1, 3, 2, 6, 5.0], "x": [0, 1, 2, 3, 4, 5.0]})
        >>> res = glm("y ~ x", df, family=Poisson())
        >>> res.params.round(4).tolist()
        [-0.3175, 0.4378]
    """
    warn_if_float32("jaxmle.glm", stacklevel=2)
    family = Gaussian() if family is None else as_family(family)
    cov_type = _check_option(cov_type, "cov_type", _COV_TYPES)
    missing = _check_option(missing, "missing", _MISSING)
    if isinstance(max_iter, bool) or not isinstance(max_iter, int | np.integer) or max_iter < 1:
        raise InputError(f"`max_iter` must be a positive integer; got {max_iter!r}.")
    if cov_type in ("HC2", "HC3") and isinstance(family, NegativeBinomial) \
            and family.alpha is None:  # fmt: skip
        raise InputError(
            f"`cov_type` {cov_type!r} is not available for the negative binomial with α "
            "estimated (no hat matrix for α); use 'HC0' or 'HC1', or fix alpha."
        )
    design, d = _prepare(formula_or_y, data, family, offset, exposure, freq_weights,
                         var_weights, missing)  # fmt: skip
    fit = _fit(family, design.X, d, int(max_iter))
    res = GLMResults(design, fit, family, d, cov_type=cov_type, max_iter=int(max_iter))
    if not res.converged:
        what = "covariance is not valid" if int(fit.status) == 0 else "fit is not converged"
        warnings.warn(f"glm: the {what}: {status_message(res.status)}", RuntimeWarning,
                      stacklevel=2)  # fmt: skip
    return res


def _fit(family: Family, X: np.ndarray, d: _Data, max_iter: int) -> Any:
    fit = irls(family, X, d.y, offset=d.offset, exposure=d.exposure,
               freq_weights=d.freq_weights, var_weights=d.var_weights, trials=d.trials,
               max_iter=max_iter)  # fmt: skip
    return jax.device_get(fit)


# --------------------------------------------------------------------------------------------
# Results.


def _g(v: float, spec: str) -> str:
    return format(float(v), spec).strip() if math.isfinite(float(v)) else str(float(v))


def _count(v: float) -> Any:
    return round(v) if float(v).is_integer() else float(v)


class GLMResults(RegressionResults):
    """A fitted GLM with statsmodels' names and conventions (``statsmodels`` 0.15 ``GLMResults``).

    Made by :func:`glm`. Values are NumPy arrays, or pandas objects named by the design's
    columns and indexed by the data's rows when the input was a formula or a DataFrame.
    Tests and intervals are z-based (``use_t`` False).

    For ``NegativeBinomial()`` with α estimated, ``alpha`` is the last parameter (its
    standard error from the joint observed information) and the criteria follow statsmodels'
    ``discrete.NegativeBinomial`` (``llnull`` refits α in the constant-only model; ``aic``
    counts α); ``deviance``, ``pearson_chi2`` and the residuals are the GLM family's at the
    estimated α.

    Attributes:
        family: the fitted family (for NB with α estimated, the family as given).
        scale: the dispersion φ: 1 for Binomial, Poisson and NB; Pearson χ²/df_resid otherwise.
        nobs: the number of rows fitted (statsmodels' GLM ``nobs``; see ``wnobs``).
        wnobs: the sum of the frequency weights (``nobs`` without them).
        df_model: ``p − 1`` (statsmodels' ``rank(X) − 1`` for a full-rank design; α not
            counted).
        df_resid: ``wnobs − p``.
        iterations: IRLS iterations used (statsmodels' ``fit_history["iteration"]``).
        method: ``"IRLS"``.
    """

    method = "IRLS"

    def __init__(self, design: Design, fit: Any, family: Family, data: _Data, *,
                 cov_type: str = "nonrobust", max_iter: int = 100) -> None:  # fmt: skip
        self.family = family
        self._data = data
        self._max_iter = max_iter
        self.alpha_estimated = isinstance(family, NegativeBinomial) and family.alpha is None
        coef = np.asarray(fit.coef, dtype=float)
        self._coef = coef
        names = design.names
        params = coef
        if self.alpha_estimated:
            names = (*names, "alpha")
            params = np.append(coef, float(fit.alpha))
        self.scale = float(fit.scale)
        self.iterations = int(fit.iterations)
        a = float(fit.alpha) if isinstance(family, NegativeBinomial) else math.nan
        self._host = _Host(family.name, family.link, a)
        self.wnobs = float(np.sum(data.freq_weights)) if data.freq_weights is not None \
            else float(len(data.y))  # fmt: skip
        status = int(fit.status)
        self._cov_status = 0
        cov = np.asarray(fit.cov, dtype=float)
        if cov_type != "nonrobust" and status == 0:
            cov = self._robust_cov(design.X, fit, cov_type, len(params))
        self._init_base(design, params, cov, names=names, nobs=len(data.y),
                        df_model=float(fit.df_model), df_resid=float(fit.df_resid),
                        use_t=False, cov_type=cov_type, status=status or self._cov_status,
                        fit_result=fit)  # fmt: skip

    # -- host-side helpers ----------------------------------------------------------------
    def _ones_or(self, v: np.ndarray | None) -> np.ndarray:
        return np.ones(len(self._data.y)) if v is None else v

    @property
    def _trials(self) -> np.ndarray:
        return self._ones_or(self._data.trials)

    @property
    def _iweights(self) -> np.ndarray:
        d = self._data
        return self._ones_or(d.freq_weights) * self._ones_or(d.var_weights)

    @property
    def _offset_total(self) -> np.ndarray | None:
        d = self._data
        if d.offset is None and d.exposure is None:
            return None
        off = np.zeros(len(d.y)) if d.offset is None else d.offset
        return off if d.exposure is None else off + np.log(d.exposure)

    def _robust_cov(self, X: np.ndarray, fit: Any, cov_type: str, k: int) -> np.ndarray:
        d, h = self._data, self._host
        eta, mu = np.asarray(fit.eta, float), np.asarray(fit.mu, float)
        fw = self._ones_or(d.freq_weights)
        w = fw * self._ones_or(d.var_weights) * self._ones_or(d.trials)
        r = d.y - mu
        d1, d2, v, dv = h.dmu(eta), h.d2mu(eta), h.variance(mu), h.dvariance(mu)
        s = w * r * d1 / v  # score factor, scale 1 (φ cancels in the sandwich)
        scores = s[:, None] * X
        if self.alpha_estimated:
            sp = _special()
            a = h.alpha
            s_alpha = w * ((np.log1p(a * mu) + sp.digamma(1 / a) - sp.digamma(d.y + 1 / a))
                           / a**2 + r / (a * (1 + a * mu)))  # fmt: skip
            scores = np.column_stack([scores, s_alpha])
            bread = np.asarray(fit.cov, dtype=float)
        else:
            obs = w * (d1 * d1 / v - r * (d2 / v - d1 * d1 * dv / (v * v)))
            bread = _inv_sym((X * obs[:, None]).T @ X)
        inv_fw = np.divide(1.0, fw, out=np.zeros_like(fw), where=fw > 0)
        factor = inv_fw
        if cov_type in ("HC2", "HC3"):
            wexp = w * d1 * d1 / v  # IRLS working weights (R's sandwich::vcovHC hat values)
            B = _inv_sym((X * wexp[:, None]).T @ X)
            lev = np.einsum("ij,jk,ik->i", X, B, X) * wexp * inv_fw  # per replicate
            if np.any(lev >= 1.0 - 1e-10):
                self._cov_status = int(Status.LEVERAGE_ONE)
                return np.full((k, k), np.nan)
            factor = inv_fw / (1.0 - lev) ** (1 if cov_type == "HC2" else 2)
        meat = (scores * factor[:, None]).T @ scores
        cov = bread @ meat @ bread
        if cov_type == "HC1":
            cov = cov * self.wnobs / (self.wnobs - k)
        return 0.5 * (cov + cov.T)

    # -- fitted values and residuals ------------------------------------------------------
    @cached_property
    def _mu(self) -> np.ndarray:
        return np.asarray(self.fit_result.mu, dtype=float)

    @property
    def mu(self) -> Any:
        """The fitted mean ``μ = g⁻¹(η)`` (for Binomial counts, the fitted proportion)."""
        return self._rows(self._mu.copy())

    @property
    def fittedvalues(self) -> Any:
        """The fitted mean (statsmodels' GLM ``fittedvalues`` is ``mu``)."""
        return self.mu

    @property
    def resid_response(self) -> Any:
        """Response residuals ``nᵢ(yᵢ − μᵢ)`` (``nᵢ`` the trials of a Binomial count, else 1)."""
        return self._rows(self._trials * (self._data.y - self._mu))

    @property
    def resid_pearson(self) -> Any:
        """Pearson residuals ``√nᵢ (yᵢ − μᵢ) √var_weightᵢ / √V(μᵢ)`` (not divided by √φ)."""
        d = self._data
        r = np.sqrt(self._trials * self._ones_or(d.var_weights) / self._host.variance(self._mu))
        return self._rows(r * (d.y - self._mu))

    @property
    def resid_working(self) -> Any:
        """Working residuals, statsmodels': ``nᵢ² (yᵢ − μᵢ) g′(μᵢ)``.

        ``g′(μ) = 1/μ′(η)``. For Binomial counts statsmodels multiplies by the trials twice;
        divide by ``nᵢ²`` for the textbook ``zᵢ − ηᵢ`` on the proportion scale.
        """
        eta = np.asarray(self.fit_result.eta, dtype=float)
        n = self._trials
        return self._rows(n * n * (self._data.y - self._mu) / self._host.dmu(eta))

    @property
    def resid_deviance(self) -> Any:
        """Deviance residuals ``sign(yᵢ − μᵢ) √(nᵢ var_weightᵢ d(yᵢ, μᵢ))`` (no freq weights)."""
        d = self._data
        dev = self._host.unit_deviance(d.y, self._mu) * self._trials * self._ones_or(
            d.var_weights)  # fmt: skip
        return self._rows(np.sign(d.y - self._mu) * np.sqrt(np.clip(dev, 0.0, None)))

    # -- likelihood, deviance and criteria ------------------------------------------------
    @property
    def llf(self) -> float:
        """The log-likelihood at the estimate (statsmodels').

        At the estimated scale; the Gaussian family with the identity link uses the
        concentrated (profile) log-likelihood, whose scale is ``Σ wᵢ(yᵢ − μᵢ)²/wnobs``.
        """
        return float(self.fit_result.llf)

    @property
    def deviance(self) -> float:
        """The deviance ``Σ fᵢ vᵢ nᵢ d(yᵢ, μᵢ)`` (unscaled)."""
        return float(self.fit_result.deviance)

    @property
    def pearson_chi2(self) -> float:
        """Pearson's χ² ``Σ fᵢ vᵢ nᵢ (yᵢ − μᵢ)²/V(μᵢ)``."""
        return float(self.fit_result.pearson_chi2)

    @cached_property
    def _null_mu(self) -> np.ndarray:
        """The constant-only model's fitted mean (for NB, α fixed at this fit's)."""
        d, h = self._data, self._host
        if self._offset_total is None:  # statsmodels: WLS on a constant, the weighted mean
            iw = self._iweights * self._trials
            return np.full(len(d.y), np.sum(iw * d.y) / np.sum(iw))
        fam = NegativeBinomial(self.family.link, alpha=h.alpha) if self.alpha_estimated \
            else self.family  # fmt: skip
        return np.asarray(self._fit_null(fam).mu, dtype=float)

    @cached_property
    def _llnull(self) -> float:
        d = self._data
        if self.alpha_estimated:  # discrete.NegativeBinomial: α refitted in the null model
            return float(self._fit_null(self.family).llf)
        ll = self._host.loglike_obs(d.y, self._null_mu, self._ones_or(d.var_weights), self.scale,
                                    self._trials)  # fmt: skip
        return float(np.sum(self._ones_or(d.freq_weights) * ll))

    def _fit_null(self, family: Family) -> Any:
        null = _fit(family, np.ones((len(self._data.y), 1)), self._data, self._max_iter)
        if int(null.status) != 0:
            msg = f"glm: the constant-only model is not converged: {status_message(null.status)}"
            warnings.warn(msg, RuntimeWarning, stacklevel=3)
        return null

    @property
    def llnull(self) -> float:
        """The log-likelihood of the constant-only model with the same offset, exposure and weights.

        statsmodels' convention: evaluated at this fit's scale (NB with α estimated: the
        constant-only NB model with its own α, as ``discrete.NegativeBinomial``). Computed on
        first access.
        """
        return self._llnull

    @property
    def null_deviance(self) -> float:
        """The deviance of the constant-only model (for NB, with α fixed at the estimate)."""
        d = self._data
        dev = self._host.unit_deviance(d.y, self._null_mu)
        return float(np.sum(self._iweights * self._trials * dev))

    def pseudo_rsquared(self, kind: str = "cs") -> float:
        """Pseudo R²: Cox–Snell ``1 − exp(2(llnull − llf)/nobs)`` or McFadden ``1 − llf/llnull``.

        Args:
            kind: ``"cs"`` (Cox–Snell, the summary's) or ``"mcf"`` (McFadden).

        Returns:
            The pseudo R².
        """
        k = str(kind).lower()
        if k.startswith("mcf"):
            return 1.0 - self.llf / self.llnull
        if k.startswith("cox") or k in ("cs", "lr"):
            return 1.0 - math.exp((self.llnull - self.llf) * 2.0 / self.nobs)
        raise InputError(f"`kind` must be 'cs' (Cox–Snell) or 'mcf' (McFadden); got {kind!r}.")

    @property
    def llr(self) -> float:
        """The likelihood-ratio statistic against the constant-only model, ``2(llf − llnull)``."""
        return 2.0 * (self.llf - self.llnull)

    @property
    def llr_pvalue(self) -> float:
        """The χ² p-value of :attr:`llr` on ``df_model`` degrees of freedom."""
        import scipy.stats

        return float(scipy.stats.chi2.sf(self.llr, self.df_model))

    @property
    def k_params(self) -> int:
        """The number of parameters counted by AIC/BIC (statsmodels' convention).

        GLM: ``df_model + 1``. NB with α estimated (``discrete.NegativeBinomial``):
        ``df_model + k_constant + 1``.
        """
        if self.alpha_estimated:
            return round(self.df_model) + self.design.k_constant + 1
        return round(self.df_model) + 1

    @property
    def k_ic(self) -> int:
        """The base's name for :attr:`k_params` (GLM counts ``df_model + 1``, constant or not)."""
        return self.k_params

    @property
    def aic(self) -> float:
        """Akaike's criterion ``−2 llf + 2 k_params``."""
        return -2.0 * self.llf + 2.0 * self.k_params

    @property
    def bic(self) -> float:
        """Schwarz's criterion from the log-likelihood: :attr:`bic_llf`.

        statsmodels 0.15's GLM ``bic`` is ``bic_llf`` (the deviance-based one, the old default,
        is :attr:`bic_deviance`).
        """
        return self.bic_llf

    @property
    def bic_llf(self) -> float:
        """``−2 llf + k_params log(wnobs)`` (``wnobs = df_model + df_resid + 1``).

        NB with α estimated: ``log(nobs)``, as ``discrete.NegativeBinomial``.
        """
        n = self.nobs if self.alpha_estimated else self.df_model + self.df_resid + 1
        return -2.0 * self.llf + self.k_params * math.log(n)

    @property
    def bic_deviance(self) -> float:
        """The deviance-based BIC ``deviance − (wnobs − df_model − 1) log(wnobs)``."""
        return self.deviance - (self.wnobs - self.df_model - 1) * math.log(self.wnobs)

    # -- prediction -----------------------------------------------------------------------
    def _predict_design(self, exog: Any, offset: Any, exposure: Any):
        d = self._data
        if exposure is not None and self.family.link.name != "log":
            raise InputError("`exposure` needs the log link; pass offset=np.log(exposure).")
        if exog is None:
            X, labels, m = self.design.X, self.design.index, len(d.y)
            off = d.offset if offset is None else None
            expo = d.exposure if exposure is None else None
        else:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                X = _design.new_exog(self.design, exog)
            # formulaic encodes a category the fit did not see as the reference level, with a
            # DataMismatchWarning: a silently wrong prediction, so it is an error here.
            mismatch = [w for w in caught if type(w.message).__name__ == "DataMismatchWarning"]
            if mismatch or not np.all(np.isfinite(X)):
                why = "; ".join(str(w.message) for w in mismatch) or "missing values"
                raise InputError(f"the new data could not be encoded like the fitted data "
                                 f"({self.design.formula!r}): {why}")  # fmt: skip
            for w in caught:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
            labels, m = getattr(exog, "index", None), X.shape[0]
            off = expo = None
        total = np.zeros(m)
        for v, name, log in ((off, "", False), (expo, "", True), (offset, "offset", False),
                             (exposure, "exposure", True)):  # fmt: skip
            if v is None:
                continue
            a = np.asarray(v, dtype=float)
            if name:
                a = np.broadcast_to(a, (m,)) if a.ndim == 0 else a
                if a.shape != (m,):
                    raise InputError(f"`{name}` must have one value per predicted row ({m}); "
                                     f"got shape {a.shape}.")  # fmt: skip
                if log and np.any(~(a > 0)):
                    raise InputError("`exposure` must be positive.")
            total = total + (np.log(a) if log else a)
        return X, X @ self._coef + total, labels

    def _out(self, values: np.ndarray, labels: Any) -> Any:
        if not self.design.pandas:
            return values
        import pandas as pd

        return pd.Series(values, index=labels)

    def predict(self, exog: Any = None, which: str = "mean", offset: Any = None,
                exposure: Any = None) -> Any:  # fmt: skip
        """Predicted means or linear predictors, on the fitted rows or on new data.

        As statsmodels' ``GLMResults.predict``: without ``exog``, the fit's own offset and
        exposure are used unless given here; with ``exog``, only those given here.

        Args:
            exog: None (the fitted rows), a DataFrame with the formula's columns (encoded as the
                fitted data were: same categories, same transforms), or an ``(m, p)`` array.
            which: ``"mean"`` (``g⁻¹(η)``) or ``"linear"`` (``η``).
            offset: offsets for the predicted rows.
            exposure: exposures for the predicted rows (log link).

        Returns:
            ``(m,)`` predictions: a Series (indexed like ``exog``) for a formula/DataFrame fit,
            else an array.
        """
        which = _check_option(which, "which", ("mean", "linear"))
        _, eta, labels = self._predict_design(exog, offset, exposure)
        return self._out(eta if which == "linear" else self._host.inverse(eta), labels)

    def get_prediction(self, exog: Any = None, exposure: Any = None,
                       offset: Any = None) -> GLMPrediction:  # fmt: skip
        """The predicted mean with delta-method standard errors and confidence intervals.

        ``se(μ̂) = |dμ/dη| · √(x V xᵀ)`` with ``V`` the coefficients' covariance
        (``cov_type``); see :class:`GLMPrediction` for the two kinds of interval.

        Args:
            exog: as :meth:`predict`.
            exposure: as :meth:`predict`.
            offset: as :meth:`predict`.

        Returns:
            A :class:`GLMPrediction`.
        """
        X, eta, labels = self._predict_design(exog, offset, exposure)
        p = len(self._coef)
        cov = self._cov[:p, :p]
        se_eta = np.sqrt(np.einsum("ij,jk,ik->i", X, cov, X))
        h = self._host
        return GLMPrediction(h.inverse(eta), np.abs(h.dmu(eta)) * se_eta, eta, se_eta,
                             h.inverse, labels)  # fmt: skip

    # -- marginal effects -----------------------------------------------------------------
    def get_margeff(self, at: str = "overall", method: str = "dydx") -> GLMMargins:
        """Average marginal effects ``dE[y]/dx`` with delta-method standard errors.

        statsmodels' discrete ``get_margeff`` conventions (``Logit``, ``Probit``, ``Poisson``,
        ``NegativeBinomial``): for each non-constant column ``j``, ``at="overall"`` averages
        ``μ′(ηᵢ) βⱼ`` over the fitted rows (unweighted, as statsmodels; the offset is part of
        ηᵢ); ``at="mean"`` evaluates it at the column means. Every column is treated as
        continuous (statsmodels' ``dummy=False``). The standard errors are ``√diag(J V Jᵀ)``
        with ``J = ∂AME/∂β`` from ``jax.jacobian`` and ``V`` the coefficients' covariance.

        Args:
            at: ``"overall"`` or ``"mean"``.
            method: ``"dydx"`` (the only one offered).

        Returns:
            A :class:`GLMMargins`.
        """
        at = _check_option(at, "at", ("overall", "mean"))
        _check_option(method, "method", ("dydx",))
        d = self._data
        if d.freq_weights is not None or d.var_weights is not None:
            warnings.warn("weights are not taken into account by margeff (statsmodels' "
                          "convention)", UserWarning, stacklevel=2)  # fmt: skip
        X = self.design.X
        keep = tuple(int(j) for j in np.flatnonzero(X.var(axis=0) != 0))
        off = self._offset_total
        off = np.zeros(len(d.y)) if off is None else off
        p = len(self._coef)
        effect, jac = _margeff_program(jnp.asarray(self._coef), jnp.asarray(X), jnp.asarray(off),
                                       keep=keep, link=self.family.link, at=at)  # fmt: skip
        effect, jac = np.asarray(effect), np.asarray(jac)
        cov = jac @ self._cov[:p, :p] @ jac.T
        names = [self.param_names[j] for j in keep]
        return GLMMargins(effect, np.sqrt(np.diag(cov)), cov, names, self.design.pandas,
                          at, method)  # fmt: skip

    # -- presentation ---------------------------------------------------------------------
    def summary(self, alpha: float = 0.05) -> TextSummary:
        """The summary in statsmodels' GLM layout: the model block and the coefficient table.

        Args:
            alpha: one minus the intervals' confidence level.

        Returns:
            A :class:`~jaxmle._results.TextSummary` (``print`` it, or ``.as_text()``).
        """
        link = self.family.link.name
        try:
            prsq = self.pseudo_rsquared("cs")
        except (ValueError, OverflowError, ZeroDivisionError):
            prsq = math.nan
        left = [("Dep. Variable:", self.design.y_name), ("Model:", "GLM"),
                ("Model Family:", self.family.name),
                ("Link Function:", _LINK_TITLES.get(link, link)),
                ("Method:", "IRLS, ML alpha" if self.alpha_estimated else "IRLS"),
                ("No. Iterations:", self.iterations), ("Covariance Type:", self.cov_type),
                ("Converged:", "yes" if self.converged else "NO")]  # fmt: skip
        right = [("No. Observations:", _count(self.nobs)),
                 ("Df Residuals:", _count(self.df_resid)), ("Df Model:", _count(self.df_model)),
                 ("Scale:", _g(self.scale, "#8.5g")), ("Log-Likelihood:", _g(self.llf, "#8.5g")),
                 ("Deviance:", _g(self.deviance, "#8.5g")),
                 ("Pearson chi2:", _g(self.pearson_chi2, "#6.3g")),
                 ("Pseudo R-squ. (CS):", _g(prsq, "#6.4g"))]  # fmt: skip
        parts = [header_table("Generalized Linear Model Regression Results", left, right)]
        parts += self._status_lines()
        parts.append(self._coef_table(alpha))
        return TextSummary("\n".join(parts))


@functools.partial(jax.jit, static_argnames=("keep", "link", "at"))
def _margeff_program(coef, X, offset, *, keep, link, at):
    idx = np.asarray(keep, dtype=int)

    def ame(b):
        if at == "mean":
            eta = jnp.mean(X, axis=0) @ b + jnp.mean(offset)
            return link.deriv_inverse(eta) * b[idx]
        return jnp.mean(link.deriv_inverse(X @ b + offset)) * b[idx]

    return ame(coef), jax.jacobian(ame)(coef)


def _inv_sym(A: np.ndarray) -> np.ndarray:
    try:
        c = np.linalg.cholesky(A)
    except np.linalg.LinAlgError:
        return np.linalg.pinv(A)
    ci = np.linalg.solve(c, np.eye(len(A)))
    return ci.T @ ci


# --------------------------------------------------------------------------------------------
# Prediction and marginal-effect results.


class GLMPrediction:
    """Predicted means with standard errors and intervals (statsmodels' GLM ``get_prediction``).

    Two intervals for the mean:

    - ``method="endpoint"`` (the default, as statsmodels): the link's inverse applied to the
      Wald interval of η, ``g⁻¹(η̂ ± q·se(η̂))``. It stays inside the mean's range (a
      probability in [0, 1], a rate above 0) and is the one statsmodels' ``summary_frame``
      gives, so the defaults agree. Bounds are sorted (statsmodels leaves them reversed for a
      decreasing link such as Gamma's inverse).
    - ``method="delta"``: ``μ̂ ± q·mean_se``, symmetric, possibly outside the range.

    Attributes:
        predicted_mean: the means ``g⁻¹(η̂)``.
        se_mean: their delta-method standard errors ``|dμ/dη|·se(η̂)``.
        predicted_linear: the linear predictors ``η̂``.
        se_linear: their standard errors ``√(x V xᵀ)``.
    """

    def __init__(self, mean, se_mean, eta, se_eta, inverse, labels) -> None:
        self.predicted_mean = mean
        self.se_mean = se_mean
        self.predicted_linear = eta
        self.se_linear = se_eta
        self._inverse = inverse
        self.row_labels = labels

    def conf_int(self, alpha: float = 0.05, method: str = "endpoint") -> np.ndarray:
        """Confidence intervals of the mean at level ``1 − alpha`` (z-based).

        Args:
            alpha: one minus the confidence level.
            method: ``"endpoint"`` or ``"delta"`` (see the class docstring).

        Returns:
            ``(m, 2)`` lower and upper bounds.
        """
        import scipy.stats

        method = _check_option(method, "method", ("endpoint", "delta"))
        if not 0.0 < alpha < 1.0:
            raise InputError(f"`alpha` must be in (0, 1), e.g. 0.05 for 95%; got {alpha!r}.")
        q = float(scipy.stats.norm.ppf(1 - alpha / 2))
        if method == "delta":
            lo, hi = self.predicted_mean - q * self.se_mean, self.predicted_mean + q * self.se_mean
        else:
            a = self._inverse(self.predicted_linear - q * self.se_linear)
            b = self._inverse(self.predicted_linear + q * self.se_linear)
            lo, hi = np.minimum(a, b), np.maximum(a, b)
        return np.column_stack([lo, hi])

    def summary_frame(self, alpha: float = 0.05, method: str = "endpoint") -> Any:
        """A DataFrame with statsmodels' columns: mean, mean_se, mean_ci_lower, mean_ci_upper.

        Args:
            alpha: one minus the intervals' confidence level.
            method: ``"endpoint"`` or ``"delta"`` (see the class docstring).

        Returns:
            A pandas DataFrame, one row per prediction.
        """
        import pandas as pd

        ci = self.conf_int(alpha, method)
        return pd.DataFrame({"mean": self.predicted_mean, "mean_se": self.se_mean,
                             "mean_ci_lower": ci[:, 0], "mean_ci_upper": ci[:, 1]},
                            index=self.row_labels)  # fmt: skip


class GLMMargins:
    """Average marginal effects with delta-method inference (statsmodels' ``DiscreteMargins``).

    Attributes:
        margeff: the effects, one per non-constant column.
        margeff_se: their standard errors.
        margeff_cov: their covariance ``J V Jᵀ``.
        names: the columns' names.
    """

    def __init__(self, effect, se, cov, names, pandas, at, method) -> None:
        self.margeff = effect
        self.margeff_se = se
        self.margeff_cov = cov
        self.names = list(names)
        self._pandas = pandas
        self.margeff_options = {"at": at, "method": method}

    @property
    def tvalues(self) -> np.ndarray:
        """The z statistics ``margeff / margeff_se``."""
        return self.margeff / self.margeff_se

    @property
    def pvalues(self) -> np.ndarray:
        """Two-sided normal p-values."""
        import scipy.stats

        return 2.0 * scipy.stats.norm.sf(np.abs(self.tvalues))

    def conf_int(self, alpha: float = 0.05) -> np.ndarray:
        """Wald intervals ``margeff ± q·margeff_se`` at level ``1 − alpha``.

        Args:
            alpha: one minus the confidence level.

        Returns:
            ``(k, 2)`` lower and upper bounds.
        """
        import scipy.stats

        if not 0.0 < alpha < 1.0:
            raise InputError(f"`alpha` must be in (0, 1), e.g. 0.05 for 95%; got {alpha!r}.")
        q = float(scipy.stats.norm.ppf(1 - alpha / 2))
        return np.column_stack([self.margeff - q * self.margeff_se,
                                self.margeff + q * self.margeff_se])  # fmt: skip

    def summary_frame(self, alpha: float = 0.05) -> Any:
        """The table: dy/dx, Std. Err., z, Pr(>|z|), Conf. Int. Low, Cont. Int. Hi.

        Args:
            alpha: one minus the intervals' confidence level.

        Returns:
            A pandas DataFrame indexed by the columns' names (statsmodels' column labels,
            including its ``"Cont. Int. Hi."``).
        """
        import pandas as pd

        ci = self.conf_int(alpha)
        return pd.DataFrame(
            np.column_stack([self.margeff, self.margeff_se, self.tvalues, self.pvalues, ci]),
            columns=["dy/dx", "Std. Err.", "z", "Pr(>|z|)", "Conf. Int. Low", "Cont. Int. Hi."],
            index=self.names,
        )

    def summary(self, alpha: float = 0.05) -> TextSummary:
        """A printable table of the marginal effects.

        Args:
            alpha: one minus the intervals' confidence level.

        Returns:
            A :class:`~jaxmle._results.TextSummary`.
        """
        ci = self.conf_int(alpha)
        head = (f"Average Marginal Effects (at={self.margeff_options['at']}, "
                f"method={self.margeff_options['method']})").center(78)  # fmt: skip
        cols = (self.margeff, self.margeff_se, self.tvalues, self.pvalues, ci[:, 0], ci[:, 1])
        table = params_table(self.names, cols, False, alpha)
        return TextSummary(head + "\n" + "=" * 78 + "\n" + table)
