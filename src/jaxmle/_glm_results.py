"""The GLM front end: :func:`glm` and :class:`GLMResults`, statsmodels' post-estimation.

``glm("y ~ x1 + C(g)", data=df, family=jaxmle.families.Poisson())`` encodes the formula with
formulaic (:mod:`jaxmle._design`), fits by the jitted IRLS engine (:func:`jaxmle._irls.irls`)
and returns a :class:`GLMResults` with statsmodels' names and conventions (statsmodels 0.15's
``GLMResults``; for the negative binomial with α estimated, ``discrete.NegativeBinomial``'s):
named ``params``/``bse``/``pvalues``/``conf_int``, the four residuals, ``llf``, ``llnull``,
``deviance``, ``null_deviance``, ``pearson_chi2``, ``aic``/``bic``, pseudo R², the
likelihood-ratio test against the constant-only model, ``predict`` and ``get_prediction`` on new
data, marginal effects with delta-method standard errors (``get_margeff``), and a
``summary()`` in statsmodels' layout.

Where the work happens. The fit is one jitted program (the engine's; a warm call compiles
nothing). Everything after it is host-side NumPy on arrays of length n: residuals, the null
deviance, sandwich covariances and predictions cost microseconds and compile nothing for any
shape. The formulas are statsmodels' (and the engine's :mod:`jaxmle._families`; a test checks
the two agree). The constant-only model behind ``llnull`` is computed on first access: in closed
form (the weighted mean, as statsmodels does) without an offset or exposure, else fitted by the
same engine. Cluster and HAC covariances (:mod:`jaxmle._sandwich`) and marginal effects
(:mod:`jaxmle._margeff`, closed-form Jacobians) are host-side NumPy too.

Where the code is. This module holds :func:`glm` and :class:`GLMResults`; the input
preparation (design, per-row arrays, ``start_params``) is in :mod:`jaxmle._glm_input`, the
families' host-side NumPy functions in :mod:`jaxmle._glm_host`, prediction
(:class:`GLMPrediction`) in :mod:`jaxmle._glm_predict` and marginal effects
(:class:`GLMMargins`) in :mod:`jaxmle._margeff` (both re-exported here), which
:class:`GLMResults` calls with the fitted pieces.
"""

from __future__ import annotations

import math
import warnings
from functools import cached_property
from typing import Any

import numpy as np

from ._design import Design
from ._errors import InputError
from ._families import Family, Gaussian, NegativeBinomial, as_family
from ._glm_boundary import refit_on_boundary
from ._glm_host import _check_option, _Host, _inv_gram, _leverage, _special
from ._glm_input import _check_rank, _Data, _fit, _prepare, _start_inside, _start_params
from ._glm_predict import GLMPrediction, mean_prediction, predict_design
from ._margeff import AT, METHODS, GLMMargins, marginal_effects
from ._results import RegressionResults, TextSummary, header_table
from ._sandwich import CovSpec, check_cov_kwds, robust_cov, warn_if_negative
from ._status import Status, status_message
from ._validation import warn_if_float32

__all__ = ["GLMMargins", "GLMPrediction", "GLMResults", "glm"]

_COV_TYPES = ("nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster", "HAC")
_MISSING = ("drop", "raise", "none")

# statsmodels' class names of the links, as its summary prints them.
_LINK_TITLES = {"identity": "Identity", "log": "Log", "logit": "Logit", "probit": "Probit",
                "cloglog": "CLogLog", "inverse": "InversePower",
                "inverse_squared": "InverseSquared", "sqrt": "Sqrt"}  # fmt: skip


# --------------------------------------------------------------------------------------------
# The public entry point.


def glm(formula_or_y: Any, data: Any = None, *, family: Any = None, offset: Any = None,
        exposure: Any = None, freq_weights: Any = None, var_weights: Any = None,
        cov_type: str = "nonrobust", cov_kwds: dict[str, Any] | None = None,
        max_iter: int = 100, missing: str = "drop",
        start_params: Any = None) -> GLMResults:  # fmt: skip
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
            Series, or with a formula the name of a column of ``data``; rows dropped for
            missing values are dropped here too). The same for the three below.
        exposure: positive exposures (log link only): ``log(exposure)`` is added to η.
        freq_weights: frequency weights (each row counts as that many observations).
        var_weights: variance (analytic) weights: ``Var yᵢ = φ V(μᵢ) / var_weightᵢ``.
        cov_type: ``"nonrobust"`` (the inverse expected information times the scale; for NB
            with α estimated, the inverse observed information), ``"HC0"`` (the sandwich
            ``H⁻¹ (Σ sᵢsᵢᵀ/fᵢ) H⁻¹`` with the observed Hessian, statsmodels' GLM HC0),
            ``"HC1"`` (HC0 × n/(n − k)), ``"HC2"``/``"HC3"`` (scores divided by
            ``(1 − hᵢ)^{1/2}``/``(1 − hᵢ)``, hᵢ the IRLS hat values). statsmodels 0.15's GLM
            returns HC0 for all four names; here HC1–HC3 are the corrected ones.
            ``"cluster"`` (CRV1, one- or two-way) and ``"HAC"`` (Newey–West): the same
            bread and scores, statsmodels' conventions (:mod:`jaxmle._sandwich`).
        cov_kwds: the settings of ``cluster``/``HAC``, as statsmodels' ``fit(cov_kwds=...)``:
            ``{"groups": g}`` (one cluster label per data row: an array, a Series, a column
            name of a formula's ``data``, or two of them for two-way; rows dropped for missing
            values are dropped from ``g`` too), ``"use_correction"`` (default True:
            ``G/(G − 1)·(n − 1)/(n − k)``), ``"df_correction"``; ``{"maxlags": L}`` with
            ``"kernel"`` (``"bartlett"``, the default, or ``"uniform"``) and
            ``"use_correction"`` (default False: none; True: ``n/(n − k)``).
        max_iter: the IRLS iteration cap.
        start_params: starting coefficients, one per design column in the design's order
            (statsmodels' ``fit(start_params=)``; default: statsmodels' starting mean).
        missing: ``"drop"`` rows with a missing value (NaN) in the response, the design or
            the per-row arrays (statsmodels' ``missing="drop"``), ``"raise"`` an
            :class:`~jaxmle.InputError` naming how many, or ``"none"`` (no search here; the
            engine then refuses non-finite values). A formula's own columns are always
            cleaned by formulaic (``"raise"`` then reports the rows it dropped). Infinite
            values are an :class:`~jaxmle.InputError` naming the column, as in :func:`ols`.

    Returns:
        A :class:`GLMResults`. A fit that does not converge has a non-OK ``status`` and NaN
        standard errors, and a ``RuntimeWarning`` saying why is issued.

    Raises:
        InputError: for a bad formula, data, family, option or per-row array (the message
            names the argument and the fix).
        RankDeficientError: for a design whose columns are linearly dependent (its message
            names them), as :func:`jaxmle.ols`.

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
    spec = check_cov_kwds(cov_type, cov_kwds, design, data)
    start = _start_inside(family, design, d, _start_params(start_params, design))
    fit = _fit(family, design.X, d, int(max_iter), start)
    fit = refit_on_boundary(family, design.X, d, fit,
                            lambda b: _fit(family, design.X, d, int(max_iter), b))  # fmt: skip
    if int(fit.status) == Status.SINGULAR:
        _check_rank(design, d.freq_weights)
        if not family.has_dispersion:
            # A full-rank design whose information is singular at the estimate: weights that
            # vanished along some direction, i.e. (quasi-)separation, an MLE at infinity.
            fit = fit._replace(status=np.asarray(Status.FLAT_DIRECTION, np.int32))
    res = GLMResults(design, fit, family, d, cov_type=cov_type, max_iter=int(max_iter),
                     cov_spec=spec)  # fmt: skip
    warn_if_negative(res._cov, res.param_names, spec, stacklevel=2)
    if not res.converged:
        cov_only = int(fit.status) in (Status.OK, Status.NO_RESIDUAL_DF)
        what = "covariance is not valid" if cov_only else "fit is not converged"
        warnings.warn(f"glm: the {what}: {status_message(res.status)}", RuntimeWarning,
                      stacklevel=2)  # fmt: skip
    return res


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
                 cov_type: str = "nonrobust", max_iter: int = 100,
                 cov_spec: CovSpec | None = None) -> None:  # fmt: skip
        self.family = family
        self._cov_spec = cov_spec
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
        if status == 0 and not self.alpha_estimated:  # the program's inverse is XᵀWX's
            cov = self.scale * _inv_gram(design.X, np.asarray(fit.weights, float),
                                         np.asarray(fit.cov_unscaled, float))  # fmt: skip
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
        """HC0–HC3, cluster or HAC: observed-Hessian bread, per-row scores at scale 1."""
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
            bread = _inv_gram(X, obs)
        inv_fw = np.divide(1.0, fw, out=np.zeros_like(fw), where=fw > 0)
        if self._cov_spec is not None:  # cluster sums scores as they are; HAC divides by √f
            return robust_cov(bread, scores, self._cov_spec, np.sqrt(inv_fw))
        factor = inv_fw
        if cov_type in ("HC2", "HC3"):
            wexp = w * d1 * d1 / v  # IRLS working weights (R's sandwich::vcovHC hat values)
            lev = _leverage(X, wexp) * inv_fw  # per replicate
            if np.any(lev >= 1.0 - 1e-10):
                self._cov_status = int(Status.LEVERAGE_ONE)
                return np.full((k, k), np.nan)
            factor = inv_fw / (1.0 - lev) ** (1 if cov_type == "HC2" else 2)
        # (B Sᵀ)(B Sᵀ)ᵀ, not B (SᵀS) B: the meat's product with an ill-conditioned bread
        # cancels (longley HC0: 1.4e-8 against 8e-13, with the same bread and residuals).
        g = bread @ (scores * np.sqrt(factor)[:, None]).T
        cov = g @ g.T
        if cov_type == "HC1":
            cov = cov * self.wnobs / (self.wnobs - k)
        return 0.5 * (cov + cov.T)

    @property
    def cov_kwds(self) -> dict[str, Any]:
        """The covariance's settings, with statsmodels' ``description`` sentence."""
        if self._cov_spec is not None:
            return self._cov_spec.kwds()
        if self.cov_type == "nonrobust":
            return {"description": "Standard Errors assume that the covariance matrix of the "
                    "errors is correctly specified."}  # fmt: skip
        return {"description": f"Standard Errors are heteroscedasticity robust ({self.cov_type})"}

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
        from . import _dists  # lazily: it imports scipy.special

        return float(_dists.chi2_sf(self.llr, self.df_model))

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
    def _predict_design(self, exog: Any, offset: Any, exposure: Any, transform: bool = True):
        d = self._data
        return predict_design(self.design, self._coef, self.family.link.name, d.offset,
                              d.exposure, exog, offset, exposure, transform)  # fmt: skip

    def _out(self, values: np.ndarray, labels: Any) -> Any:
        if not self.design.pandas:
            return values
        import pandas as pd

        return pd.Series(values, index=labels)

    def predict(self, exog: Any = None, which: str = "mean", offset: Any = None,
                exposure: Any = None, *, transform: bool = True) -> Any:  # fmt: skip
        """Predicted means or linear predictors, on the fitted rows or on new data.

        As statsmodels' ``GLMResults.predict``: without ``exog``, the fit's own offset and
        exposure are used unless given here; with ``exog``, only those given here.

        Args:
            exog: None (the fitted rows), a DataFrame with the formula's columns (encoded as the
                fitted data were: same categories, same transforms), or an ``(m, p)`` array.
            which: ``"mean"`` (``g⁻¹(η)``) or ``"linear"`` (``η``).
            offset: offsets for the predicted rows.
            exposure: exposures for the predicted rows (log link); a missing one (NaN)
                predicts NaN.
            transform: False: ``exog`` is the design matrix itself (statsmodels'
                ``transform=False``), not data to encode by the formula.

        Returns:
            ``(m,)`` predictions: a Series (indexed like ``exog``) for a formula/DataFrame fit,
            else an array.
        """
        which = _check_option(which, "which", ("mean", "linear"))
        _, eta, labels = self._predict_design(exog, offset, exposure, transform)
        return self._out(eta if which == "linear" else self._host.inverse(eta), labels)

    def get_prediction(self, exog: Any = None, exposure: Any = None,
                       offset: Any = None, transform: bool = True,
                       which: str | None = None) -> GLMPrediction:  # fmt: skip
        """The predicted mean with delta-method standard errors and confidence intervals.

        ``se(μ̂) = |dμ/dη| · √(x V xᵀ)`` with ``V`` the coefficients' covariance
        (``cov_type``); see :class:`GLMPrediction` for the two kinds of interval.

        Args:
            exog: as :meth:`predict`.
            exposure: as :meth:`predict`.
            offset: as :meth:`predict`.
            transform: as :meth:`predict`.
            which: None (the mean; ``summary_frame`` columns ``mean``, ``mean_se``,
                ``mean_ci_lower``, ``mean_ci_upper``), ``"mean"`` or ``"linear"`` (η, its
                standard error ``√(x V xᵀ)`` and Wald interval); with either name the columns
                are ``predicted``, ``se``, ``ci_lower``, ``ci_upper``, as statsmodels'.

        Returns:
            A :class:`GLMPrediction`.
        """
        if which is not None:
            which = _check_option(which, "which", ("mean", "linear"))
        X, eta, labels = self._predict_design(exog, offset, exposure, transform)
        p = len(self._coef)
        return mean_prediction(X, eta, labels, self._cov[:p, :p], self._host, which)

    # -- marginal effects -----------------------------------------------------------------
    def get_margeff(self, at: str = "overall", method: str = "dydx", *, dummy: bool = False,
                    count: bool = False) -> GLMMargins:  # fmt: skip
        """Marginal effects of the regressors with delta-method standard errors.

        statsmodels' ``get_margeff`` (its GLM's and its discrete ``Logit``, ``Probit``,
        ``Poisson`` and ``NegativeBinomial``'s, whose coefficients these are): for each
        non-constant column ``j``, ``dydx`` is ``μ′(η) βⱼ``, averaged over the fitted rows
        (``at="overall"``, unweighted) or evaluated at the columns' means, medians or zero;
        ``eyex``/``dyex``/``eydx`` are the elasticities ``∂log μ/∂log xⱼ``, ``∂μ/∂log xⱼ`` and
        ``∂log μ/∂xⱼ``, transformed row by row. ``dummy``/``count`` replace the derivative of a
        0/1 column by the change from 0 to 1, and of a count column by half the change from
        ``x − 1`` to ``x + 1``. Standard errors ``√diag(J V Jᵀ)``: ``J`` the effects' Jacobian
        in the coefficients (closed form), ``V`` their covariance (this fit's ``cov_type``).
        The offset and exposure stay in η (statsmodels' GLM refuses margins with an offset,
        and leaves an exposure out of μ: its effects are then those at exposure 1); see
        :mod:`jaxmle._margeff`.

        Args:
            at: ``"overall"``, ``"mean"``, ``"median"`` or ``"zero"``.
            method: ``"dydx"``, ``"eyex"``, ``"dyex"`` or ``"eydx"``.
            dummy: discrete changes for 0/1 columns (not with ``eyex``/``dyex`` or
                ``at="median"``/``"zero"``, as statsmodels).
            count: discrete changes for count columns (the same restrictions).

        Returns:
            A :class:`GLMMargins` (``summary()``, ``summary_frame()``, ``conf_int()``).

        Example:
            >>> import jax, numpy as np, pandas as pd
            >>> jax.config.update("jax_enable_x64", True)
            >>> df = pd.DataFrame({"y": [0, 1, 0, 1, 1, 1.0], "x": [0, 1, 2, 1, 4, 3.0]})
            >>> m = glm("y ~ x", df, family="binomial").get_margeff(method="eydx")
            >>> m.margeff.round(4).tolist()
            [0.2943]
        """
        at = _check_option(at, "at", AT)
        method = _check_option(method, "method", METHODS)
        for name, v in (("dummy", dummy), ("count", count)):
            if not isinstance(v, bool | np.bool_):
                raise InputError(f"`{name}` must be True or False; got {v!r}.")
        d = self._data
        if d.freq_weights is not None or d.var_weights is not None:
            warnings.warn("weights are not taken into account by margeff (statsmodels' "
                          "convention)", UserWarning, stacklevel=2)  # fmt: skip
        off = self._offset_total
        off = np.zeros(len(d.y)) if off is None else off
        p = len(self._coef)
        effect, cov, info = marginal_effects(self._coef, self.design.X, off, self._cov[:p, :p],
                                             self._host, at, method, bool(dummy),
                                             bool(count))  # fmt: skip
        names = [self.param_names[j] for j in info["keep"]]
        return GLMMargins(effect, cov, names, self.design.pandas, at, method,
                          self.design.y_name, info)  # fmt: skip

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
