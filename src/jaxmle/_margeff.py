"""Marginal effects of a GLM, with delta-method inference: :class:`GLMMargins`.

The machinery behind :meth:`jaxmle.GLMResults.get_margeff`, in statsmodels 0.15's conventions
(``discrete/discrete_margins.py``, the same for its GLM and its discrete ``Logit``, ``Probit``,
``Poisson`` and ``NegativeBinomial``). For each non-constant column ``j`` of the design:

- ``method``: ``"dydx"`` ``∂μ/∂xⱼ = μ′(η) βⱼ``; ``"eyex"`` the elasticity ``∂log μ/∂log xⱼ``
  ``= μ′βⱼxⱼ/μ``; ``"dyex"`` ``μ′βⱼxⱼ``; ``"eydx"`` ``μ′βⱼ/μ``. Transformations are made row
  by row, before averaging.
- ``at``: ``"overall"`` averages over the fitted rows (unweighted, as statsmodels);
  ``"mean"``/``"median"`` evaluate at the columns' means/medians; ``"zero"`` at zero (constant
  columns at 1).
- ``dummy=True``: a 0/1 column's effect is the discrete change ``μ(xⱼ = 1) − μ(xⱼ = 0)``
  (``log μ`` for ``eydx``); ``count=True``: a non-negative integer column's (0/1 columns
  excepted) is ``[μ(xⱼ + 1) − μ(xⱼ − 1)]/2``. Neither goes with ``eyex``/``dyex`` or
  ``at="median"``/``"zero"`` (statsmodels refuses them too).

Standard errors are ``√diag(J V Jᵀ)``, ``V`` the coefficients' covariance (the fit's
``cov_type``) and ``J = ∂(effects)/∂β`` in closed form (statsmodels differentiates numerically,
by complex step where it can). One difference: the offset (and log exposure) stays in
``η`` here (at ``"mean"``/``"median"`` its mean/median, at ``"zero"`` none), where statsmodels'
GLM refuses a model with an offset. Host-side NumPy, ``O(np²)``: nothing to compile.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._errors import InputError
from ._results import TextSummary, _num, header_table

__all__ = ["AT", "METHODS", "GLMMargins", "count_columns", "dummy_columns", "marginal_effects"]

AT = ("overall", "mean", "median", "zero")
METHODS = ("dydx", "eyex", "dyex", "eydx")
_LABELS = {"dydx": "dy/dx", "eyex": "d(lny)/d(lnx)", "dyex": "dy/d(lnx)", "eydx": "d(lny)/dx"}


def dummy_columns(X: np.ndarray) -> np.ndarray:
    """Columns whose values are all 0 or 1 with both present (statsmodels' ``_isdummy``).

    Args:
        X: ``(n, p)`` design.

    Returns:
        The columns' indices.

    Example:
        >>> dummy_columns(np.array([[1, 0, 2.5], [1, 1, 3.0]])).tolist()
        [1]
    """
    whole = np.all(X % 1.0 == 0, axis=0)
    return np.flatnonzero((X.min(axis=0) == 0) & (X.max(axis=0) == 1) & whole)


def count_columns(X: np.ndarray) -> np.ndarray:
    """Non-constant columns of non-negative integers that are not 0/1 (statsmodels' ``_iscount``).

    Args:
        X: ``(n, p)`` design.

    Returns:
        The columns' indices.

    Example:
        >>> count_columns(np.array([[1, 0, 2], [1, 1, 5.0]])).tolist()
        [2]
    """
    ok = np.all(X % 1.0 == 0, axis=0) & (X.var(axis=0) != 0) & np.all(X >= 0, axis=0)
    return np.setdiff1d(np.flatnonzero(ok), dummy_columns(X))


def _at_rows(X: np.ndarray, offset: np.ndarray, at: str,
             keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    if at == "overall":
        return X, offset
    if at == "mean":
        return X.mean(axis=0)[None], np.array([offset.mean()])
    if at == "median":
        return np.median(X, axis=0)[None], np.array([np.median(offset)])
    Z = np.zeros((1, X.shape[1]))
    Z[0, ~keep] = 1.0  # statsmodels: constant columns at 1, the others at 0
    return Z, np.zeros(1)


def marginal_effects(coef: np.ndarray, X: np.ndarray, offset: np.ndarray, cov: np.ndarray,
                     host: Any, at: str = "overall", method: str = "dydx",
                     dummy: bool = False,
                     count: bool = False) -> tuple[np.ndarray, np.ndarray, dict]:  # fmt: skip
    """Marginal effects of the non-constant columns and their delta-method covariance.

    Args:
        coef: the ``(p,)`` coefficients (a negative binomial's α excluded).
        X: the fitted ``(n, p)`` design.
        offset: the fitted rows' ``(n,)`` total offset (zeros without one).
        cov: the coefficients' ``(p, p)`` covariance.
        host: the family's host functions (:class:`jaxmle._glm_host._Host`: ``inverse``,
            ``dmu``, ``d2mu``).
        at: one of :data:`AT`.
        method: one of :data:`METHODS`.
        dummy: discrete changes for 0/1 columns.
        count: discrete changes for count columns.

    Returns:
        ``(effects, covariance, info)``: the ``(k,)`` effects of the ``k`` non-constant
        columns, their ``(k, k)`` covariance, and ``info`` with ``keep`` (their indices),
        ``dummy_idx`` and ``count_idx`` (indices in the design, or None).

    Example:
        >>> from jaxmle._glm_host import _Host
        >>> from jaxmle.families import Poisson
        >>> X = np.c_[np.ones(3), [0.0, 1.0, 2.0]]
        >>> e, v, _ = marginal_effects(np.array([0.0, 0.5]), X, np.zeros(3), np.eye(2),
        ...                            _Host("Poisson", Poisson().link, math.nan), "zero")
        >>> e.round(3).tolist()  # μ′(0)·β at x = 0
        [0.5]
    """
    if (dummy or count) and (method in ("eyex", "dyex") or at in ("median", "zero")):
        bad = f"method={method!r}" if method in ("eyex", "dyex") else f"at={at!r}"
        raise InputError(f"discrete effects (dummy/count=True) are not available with {bad}; "
                         "use method 'dydx' or 'eydx' and at 'overall' or 'mean'.")  # fmt: skip
    b = np.asarray(coef, dtype=float)
    keep = X.var(axis=0) != 0
    Xa, off = _at_rows(X, offset, at, keep)
    m = Xa.shape[0]
    eta = Xa @ b + off
    mu, d1, d2 = host.inverse(eta), host.dmu(eta), host.d2mu(eta)
    ey, ex = method.startswith("ey"), method.endswith("ex")
    # e_ij = a_i βⱼ c_ij with a = μ′ (or μ′/μ), c = x (or 1); da = ∂a/∂η.
    a = d1 / mu if ey else d1
    da = d2 / mu - (d1 / mu) ** 2 if ey else d2
    c = Xa if ex else np.ones_like(Xa)
    effects = np.mean(a[:, None] * c, axis=0) * b
    jac = np.diag(np.mean(a[:, None] * c, axis=0)) + b[:, None] * ((c * da[:, None]).T @ Xa) / m
    info: dict[str, Any] = {"keep": np.flatnonzero(keep), "dummy_idx": None, "count_idx": None}

    def level(e):  # the predicted quantity and its η-derivative: μ, or log μ for "ey"
        mu_e, d1_e = host.inverse(e), host.dmu(e)
        return (np.log(mu_e), d1_e / mu_e) if ey else (mu_e, d1_e)

    if count:
        idx = count_columns(X)
        info["count_idx"] = idx if idx.size else None
        for j in idx:
            (f_lo, g_lo), (f_hi, g_hi) = level(eta - b[j]), level(eta + b[j])
            effects[j] = np.mean(f_hi - f_lo) / 2
            jac[j] = ((g_hi - g_lo) @ Xa) / m / 2
            jac[j, j] += np.mean(g_hi + g_lo) / 2
    if dummy:
        idx = dummy_columns(X)
        info["dummy_idx"] = idx if idx.size else None
        for j in idx:
            e0 = eta - b[j] * Xa[:, j]
            (f0, g0), (f1, g1) = level(e0), level(e0 + b[j])
            effects[j] = np.mean(f1 - f0)
            X0 = Xa.copy()
            X0[:, j] = 0.0
            jac[j] = ((g1 - g0) @ X0) / m
            jac[j, j] = np.mean(g1)
    jac = jac[keep]
    return effects[keep], jac @ cov @ jac.T, info


class GLMMargins:
    """Marginal effects with delta-method inference (statsmodels' ``DiscreteMargins``).

    Made by :meth:`jaxmle.GLMResults.get_margeff`.

    Attributes:
        margeff: the effects, one per non-constant column.
        margeff_se: their standard errors.
        margeff_cov: their covariance ``J V Jᵀ``.
        names: the columns' names.
        margeff_options: ``{"at": ..., "method": ...}``.
        dummy_idx: the design columns given discrete 0 → 1 effects (``dummy=True``), or None.
        count_idx: the design columns given count effects (``count=True``), or None.
    """

    def __init__(self, effect, cov, names, pandas, at, method, y_name="y", info=None) -> None:
        self.margeff = np.asarray(effect, dtype=float)
        self.margeff_cov = np.asarray(cov, dtype=float)
        with np.errstate(invalid="ignore"):  # a negative variance: the fit has warned
            self.margeff_se = np.sqrt(np.diag(self.margeff_cov))
        self.names = list(names)
        self._pandas = pandas
        self._y_name = y_name
        self.margeff_options = {"at": at, "method": method}
        info = info or {}
        self.dummy_idx = info.get("dummy_idx")
        self.count_idx = info.get("count_idx")

    @property
    def tvalues(self) -> np.ndarray:
        """The z statistics ``margeff / margeff_se``."""
        with np.errstate(divide="ignore", invalid="ignore"):  # at="zero" with "ex": 0/0
            return self.margeff / self.margeff_se

    @property
    def pvalues(self) -> np.ndarray:
        """Two-sided normal p-values."""
        from . import _dists  # lazily: it imports scipy.special

        return 2.0 * _dists.norm_sf(np.abs(self.tvalues))

    def conf_int(self, alpha: float = 0.05) -> np.ndarray:
        """Wald intervals ``margeff ± q·margeff_se`` at level ``1 − alpha``.

        Args:
            alpha: one minus the confidence level.

        Returns:
            ``(k, 2)`` lower and upper bounds.
        """
        from . import _dists  # lazily: it imports scipy.special

        if not 0.0 < alpha < 1.0:
            raise InputError(f"`alpha` must be in (0, 1), e.g. 0.05 for 95%; got {alpha!r}.")
        q = float(_dists.norm_ppf(1 - alpha / 2))
        return np.column_stack([self.margeff - q * self.margeff_se,
                                self.margeff + q * self.margeff_se])  # fmt: skip

    def summary_frame(self, alpha: float = 0.05) -> Any:
        """The table as statsmodels': dy/dx (or the method's label), Std. Err., z, Pr(>|z|), CIs.

        Args:
            alpha: one minus the intervals' confidence level.

        Returns:
            A pandas DataFrame indexed by the columns' names (statsmodels' column labels,
            including its ``"Cont. Int. Hi."``).
        """
        import pandas as pd

        ci = self.conf_int(alpha)
        label = _LABELS[self.margeff_options["method"]]
        return pd.DataFrame(
            np.column_stack([self.margeff, self.margeff_se, self.tvalues, self.pvalues, ci]),
            columns=[label, "Std. Err.", "z", "Pr(>|z|)", "Conf. Int. Low", "Cont. Int. Hi."],
            index=self.names,
        )

    def summary(self, alpha: float = 0.05) -> TextSummary:
        """The summary in statsmodels' margins layout: the method block and the effects' table.

        Args:
            alpha: one minus the intervals' confidence level.

        Returns:
            A :class:`~jaxmle._results.TextSummary` (``print`` it, or ``.as_text()``).
        """
        opts = self.margeff_options
        kinds = [k for k, v in (("dummy", self.dummy_idx), ("count", self.count_idx))
                 if v is not None]  # fmt: skip
        left = [("Dep. Variable:", self._y_name), ("Method:", opts["method"]),
                ("At:", opts["at"])]  # fmt: skip
        right = [("Discrete changes:", ", ".join(kinds))] if kinds else []
        head = header_table("GLM Marginal Effects", left, right)
        ci = self.conf_int(alpha)
        cols = (self.margeff, self.margeff_se, self.tvalues, self.pvalues, ci[:, 0], ci[:, 1])
        label = _LABELS[opts["method"]]
        w = max([len(n) for n in self.names] + [10])
        # a long label ("d(lny)/d(lnx)") widens its column; the others narrow to fit 78
        widths = [max(11, len(label) + 2)] + [11 if len(label) < 10 else 10] * 5
        heads = [label, "std err", "z", "P>|z|", f"[{alpha / 2:.3g}", f"{1 - alpha / 2:.3g}]"]
        rule = max(78, w + sum(widths))
        lines = [" " * w + "".join(f"{h:>{cw}}" for h, cw in zip(heads, widths, strict=True)),
                 "-" * rule]  # fmt: skip
        for i, name in enumerate(self.names):
            cells = [_num(float(c[i]), d) for c, d in zip(cols, (4, 3, 3, 3, 3, 3), strict=True)]
            p = float(cols[3][i])
            cells[3] = f"{p:.3f}" if math.isfinite(p) else cells[3]
            lines.append(f"{name:<{w}}" + "".join(f"{s:>{cw}}" for s, cw in
                                                  zip(cells, widths, strict=True)))  # fmt: skip
        lines.append("=" * rule)
        return TextSummary(head + "\n" + "\n".join(lines))
