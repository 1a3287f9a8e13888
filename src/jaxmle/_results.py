"""The front end's results: statsmodels' vocabulary over jaxmle's estimates.

:class:`RegressionResults` is the base of :class:`jaxmle.OLSResults` and
:class:`jaxmle.GLMResults`: ``params``, ``bse``, ``tvalues``, ``pvalues``, ``conf_int(alpha)``,
``cov_params()``, ``llf``, ``aic``/``bic``, ``summary()`` in statsmodels' layout and
``to_dataframe()``, named by the design's columns. Values are host-side NumPy (pandas Series
and DataFrames when the input was a formula or a DataFrame, as in statsmodels); the jitted
estimate underneath stays available as ``.fit_result`` (a pytree).

Status is data here too: a result that is not converged has ``converged`` False, a non-OK
``status`` and NaN covariances, standard errors, tests and intervals, and its summary says so
in its header; it is never printed as an ordinary table of standard errors.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._design import Design
from ._status import Status

__all__ = ["RegressionResults", "TextSummary", "header_table", "params_table"]

_WIDTH = 78
# Codes that say the covariance failed while the estimate itself may be fine (see Status).
_COVARIANCE_CODES = (int(Status.NOT_POSITIVE_DEFINITE), int(Status.SINGULAR),
                     int(Status.NO_RESIDUAL_DF), int(Status.LEVERAGE_ONE))  # fmt: skip


class TextSummary:
    """A printable summary (``print(res.summary())``), with ``as_text()`` as in statsmodels."""

    def __init__(self, text: str) -> None:
        self._text = text

    def as_text(self) -> str:
        """The summary as plain text."""
        return self._text

    def __str__(self) -> str:
        return self._text

    __repr__ = __str__


def _cell(v: Any) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, bool | np.bool_):
        return str(bool(v))
    if isinstance(v, int | np.integer):
        return str(int(v))
    v = float(v)
    if not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if v != 0 and (abs(v) >= 1e6 or abs(v) < 1e-3):
        return f"{v:.4g}"
    return f"{v:.4g}" if abs(v) < 1 else f"{v:.5g}"


def header_table(title: str, left: Sequence[tuple[str, Any]],
                 right: Sequence[tuple[str, Any]]) -> str:  # fmt: skip
    """The two-column model block of statsmodels: ``label: value`` pairs under a centred title.

    Args:
        title: the centred title line.
        left: ``(label, value)`` pairs for the left column.
        right: ``(label, value)`` pairs for the right column.

    Returns:
        The block's text, ``=`` rules above and below.

    Example:
        >>> print(header_table("T", [("Model:", "OLS")], [("R-squared:", 0.5)]).splitlines()[2])
        Model:                            OLS   R-squared:                      0.5000
    """
    half = (_WIDTH - 3) // 2
    lines = [title.center(_WIDTH), "=" * _WIDTH]
    for i in range(max(len(left), len(right))):
        cells = []
        for side, width in ((left, half), (right, _WIDTH - half - 3)):
            if i < len(side):
                label, v = side[i]
                v = f"{v:.4f}" if isinstance(v, float) and 0.1 <= abs(v) < 1e3 else _cell(v)
                cells.append(f"{label:<{width - len(v) - 1}} {v}" if len(label) + len(v) < width
                             else f"{label} {v}")  # fmt: skip
            else:
                cells.append("")
        lines.append(f"{cells[0]:<{half}}   {cells[1]}".rstrip())
    lines.append("=" * _WIDTH)
    return "\n".join(lines)


def _num(v: float, decimals: int) -> str:
    if not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if v != 0 and (abs(v) >= 1e7 or abs(v) < 10 ** (-decimals)):
        return f"{v:.3e}"
    return f"{v:.{decimals}f}"


def _fitted(v: float, text: str, width: int) -> str:
    """``text``, or ``v`` in e-notation when ``text`` would touch the next column.

    A cell must leave one space in its column: ``-3482258.6346`` beside ``890420.384`` read as
    one number (longley's intercept), so it becomes ``-3.482e+06``, as statsmodels prints it.
    """
    if len(text) < width or not math.isfinite(v):
        return text
    for digits in (3, 2, 1, 0):
        short = f"{v:.{digits}e}"
        if len(short) < width:
            return short
    return short


def params_table(names: Sequence[str], cols: Sequence[np.ndarray], use_t: bool,
                 alpha: float) -> str:  # fmt: skip
    """The coefficient table of statsmodels: coef, std err, t or z, P>|t|, and the interval.

    Args:
        names: one row label per parameter.
        cols: ``(params, bse, statistic, pvalue, ci_low, ci_high)``.
        use_t: label the statistic ``t`` (else ``z``).
        alpha: the interval's level is ``1 − alpha``.

    Returns:
        The table's text, with a ``-`` rule under the heading and an ``=`` rule at the end.

    Example:
        >>> import numpy as np
        >>> t = params_table(["a"], [np.array([v]) for v in (1, .5, 2, .05, 0, 2)], False, .05)
        >>> t.splitlines()[0].split()
        ['coef', 'std', 'err', 'z', 'P>|z|', '[0.025', '0.975]']
    """
    s = "t" if use_t else "z"
    w = max([len(n) for n in names] + [10])
    lo, hi = f"[{alpha / 2:.3g}", f"{1 - alpha / 2:.3g}]"
    heads = ["coef", "std err", s, f"P>|{s}|", lo, hi]
    digits = (4, 3, 3, 3, 3, 3)
    cw = 11 if w + 66 <= _WIDTH else 10  # long names: narrower columns, as statsmodels does
    rule = max(_WIDTH, w + 6 * cw)
    lines = [" " * w + "".join(f"{h:>{cw}}" for h in heads), "-" * rule]
    for i, name in enumerate(names):
        cells = [_fitted(float(c[i]), _num(float(c[i]), d), cw)
                 for c, d in zip(cols, digits, strict=True)]  # fmt: skip
        p = float(cols[3][i])
        cells[3] = f"{p:.3f}" if math.isfinite(p) else cells[3]  # statsmodels: 0.000, not 1e-06
        lines.append(f"{name:<{w}}" + "".join(f"{c:>{cw}}" for c in cells))
    lines.append("=" * rule)
    return "\n".join(lines)


class RegressionResults:
    """Named estimates, covariance and tests; the base of the front end's results.

    Subclasses set the attributes below in ``__init__`` (through :meth:`_init_base`) and add
    their model's statistics and ``summary`` block.

    Attributes:
        design: the :class:`~jaxmle._design.Design` (names, formula, response).
        fit_result: the jitted estimate underneath (a pytree).
        nobs: number of observations (the sum of frequency weights where there are some).
        df_model: model degrees of freedom (parameters less the constant, statsmodels').
        df_resid: residual degrees of freedom.
        use_t: whether tests and intervals use Student's t with ``df_resid`` degrees of freedom.
        cov_type: the covariance's name (``"nonrobust"``, ``"HC1"``, ...).
        status: the :class:`jaxmle.Status` code of the estimate (0: converged, valid cov).
    """

    def _init_base(self, design: Design, params: np.ndarray, cov: np.ndarray, *,
                   names: Sequence[str], nobs: float, df_model: float, df_resid: float,
                   use_t: bool, cov_type: str, status: int,
                   fit_result: Any = None) -> None:  # fmt: skip
        self.design = design
        self.fit_result = fit_result
        self._names = tuple(names)
        self._params = np.asarray(params, dtype=float)
        self.status = int(status)
        cov = np.asarray(cov, dtype=float)
        if self.status != 0 or not np.all(np.isfinite(np.diag(cov))):
            cov = np.full_like(cov, np.nan)  # never standard errors of an unconverged fit
            self.status = self.status or int(Status.NONFINITE)
        self._cov = cov
        self.nobs = float(nobs)
        self.df_model = float(df_model)
        self.df_resid = float(df_resid)
        self.use_t = bool(use_t)
        self.cov_type = cov_type

    # -- presentation -------------------------------------------------------------------
    def _series(self, values: np.ndarray, name: str | None = None) -> Any:
        if not self.design.pandas:
            return values
        import pandas as pd

        return pd.Series(values, index=list(self._names), name=name)

    def _rows(self, values: np.ndarray, name: str | None = None) -> Any:
        if not self.design.pandas:
            return values
        import pandas as pd

        return pd.Series(values, index=self.design.index, name=name)

    # -- the statsmodels vocabulary -------------------------------------------------------
    @property
    def converged(self) -> bool:
        """Whether the estimate converged and its covariance is valid (``status == 0``)."""
        return self.status == 0

    @property
    def message(self) -> str:
        """The status as a sentence."""
        return Status(self.status).message

    @property
    def param_names(self) -> tuple[str, ...]:
        """The parameters' names, in design order (statsmodels' ``model.exog_names``)."""
        return self._names

    @property
    def params(self) -> Any:
        """The estimates (a Series named by the design's columns for a formula/DataFrame)."""
        return self._series(self._params.copy())

    @property
    def bse(self) -> Any:
        """Standard errors ``sqrt(diag(cov_params()))`` (NaN when not converged)."""
        with np.errstate(invalid="ignore"):  # (a negative variance has warned already)
            return self._series(np.sqrt(np.diag(self._cov)))

    def _stat(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):  # an exact fit: se 0, stat inf
            return self._params / np.sqrt(np.diag(self._cov))

    @property
    def tvalues(self) -> Any:
        """Wald statistics ``params / bse`` (t or z by ``use_t``)."""
        return self._series(self._stat())

    @property
    def pvalues(self) -> Any:
        """Two-sided p-values of ``param = 0``: t on :attr:`df_resid_inference`, or the normal."""
        from . import _dists  # lazily: it imports scipy.special

        t = np.abs(self._stat())
        p = 2 * (_dists.t_sf(t, self.df_resid_inference) if self.use_t else _dists.norm_sf(t))
        return self._series(p)

    def _quantile(self, alpha: float) -> float:
        from . import _dists  # lazily: it imports scipy.special

        if not 0.0 < alpha < 1.0:
            from ._errors import InputError

            raise InputError(f"`alpha` must be in (0, 1), e.g. 0.05 for 95%; got {alpha!r}.")
        p = 1 - alpha / 2
        return float(_dists.t_ppf(p, self.df_resid_inference) if self.use_t
                     else _dists.norm_ppf(p))  # fmt: skip

    def conf_int(self, alpha: float = 0.05) -> Any:
        """Wald confidence intervals at level ``1 − alpha``.

        Args:
            alpha: one minus the confidence level.

        Returns:
            ``(k, 2)`` lower and upper bounds (a DataFrame with columns 0 and 1 for a
            formula/DataFrame, as statsmodels).
        """
        q = self._quantile(alpha)
        se = np.sqrt(np.diag(self._cov))
        ci = np.stack([self._params - q * se, self._params + q * se], axis=1)
        if not self.design.pandas:
            return ci
        import pandas as pd

        return pd.DataFrame(ci, index=list(self._names))

    def cov_params(self) -> Any:
        """The covariance of the estimates (``cov_type``), named for a formula/DataFrame."""
        if not self.design.pandas:
            return self._cov.copy()
        import pandas as pd

        return pd.DataFrame(self._cov, index=list(self._names), columns=list(self._names))

    def t_test(self, r_matrix: Any, q: Any = None) -> Any:
        """Tests of each linear constraint ``(Rβ)_j = q_j`` (statsmodels' ``t_test``).

        Args:
            r_matrix: equations in the parameter names (``"x1 = 0, x2 = 2*x3"``; a bare
                expression means ``= 0``), a ``(J, k)`` matrix ``R``, or a pair ``(R, q)``.
            q: the right-hand side for a matrix ``r_matrix`` (default 0).

        Returns:
            A :class:`~jaxmle._hypothesis.TTestResult` (``effect``, ``sd``, ``tvalue``,
            ``pvalue``, ``conf_int()``, ``summary()``): Student's t on
            :attr:`df_resid_inference` where the model's tests use t, else the normal.

        Example:
            >>> res.t_test("GNP = 0, UNEMP = 2*ARMED").pvalue  # doctest: +SKIP
            array([0.3127, 0.9114])
        """
        from ._hypothesis import constraints, t_test

        R, qv = constraints(r_matrix, self._names, q)
        df = self.df_resid_inference if self.use_t else None
        return t_test(self._params, self._cov, R, qv, df)

    def f_test(self, r_matrix: Any, q: Any = None) -> Any:
        """The joint F test of ``Rβ = q`` on ``(J, df_resid_inference)`` (statsmodels').

        Args:
            r_matrix: as :meth:`t_test`'s.
            q: as :meth:`t_test`'s.

        Returns:
            A :class:`~jaxmle._hypothesis.FTestResult` (``fvalue``, ``pvalue``, ``df_num``,
            ``df_denom``), ``F = (Rβ − q)ᵀ (R V Rᵀ)⁻¹ (Rβ − q) / J``.

        Raises:
            InputError: on constraints that are not linear in the parameters or are linearly
                dependent.
        """
        from ._hypothesis import constraints, f_test

        R, qv = constraints(r_matrix, self._names, q)
        return f_test(self._params, self._cov, R, qv, self.df_resid_inference)

    def wald_test(self, r_matrix: Any, q: Any = None, use_f: bool | None = None,
                  scalar: bool = True) -> Any:  # fmt: skip
        """The joint Wald test of ``Rβ = q``: F, or χ² on J degrees of freedom.

        Args:
            r_matrix: as :meth:`t_test`'s.
            q: as :meth:`t_test`'s.
            use_f: F (on :attr:`df_resid_inference`) or χ²; by default F where tests use t
                (OLS), χ² otherwise (GLMs), as statsmodels' ``wald_test``.
            scalar: False: ``statistic`` as a ``(1, 1)`` array (statsmodels' old default).

        Returns:
            A :class:`~jaxmle._hypothesis.FTestResult` (``statistic``, ``pvalue``, ``df_num``).
        """
        from ._hypothesis import constraints, f_test

        R, qv = constraints(r_matrix, self._names, q)
        use_f = self.use_t if use_f is None else bool(use_f)
        res = f_test(self._params, self._cov, R, qv, self.df_resid_inference if use_f else None)
        if scalar:
            return res
        import dataclasses

        return dataclasses.replace(res, statistic=np.array([[res.statistic]]))

    @property
    def n_groups(self) -> Any:
        """The number of clusters (a pair for two-way) for ``cov_type="cluster"``, else None."""
        spec = getattr(self, "_cov_spec", None)
        return None if spec is None else spec.clusters()

    @property
    def df_resid_inference(self) -> float:
        """Degrees of freedom of t-tests, t intervals and the F-test's denominator.

        statsmodels': ``G − 1`` for ``cluster`` (the smaller G of two-way) unless
        ``cov_kwds["df_correction"]`` is False; ``df_resid`` otherwise. The t distribution is
        used only when ``use_t``; F tests use it as their denominator's degrees of freedom.
        """
        spec = getattr(self, "_cov_spec", None)
        return self.df_resid if spec is None else spec.df_inference(self.df_resid)

    @property
    def k_ic(self) -> int:
        """Parameters counted by AIC/BIC: ``df_model + k_constant`` (statsmodels')."""
        return round(self.df_model) + self.design.k_constant

    @property
    def aic(self) -> float:
        """Akaike's criterion ``−2 llf + 2 k_ic``."""
        return -2.0 * self.llf + 2.0 * self.k_ic

    @property
    def bic(self) -> float:
        """Schwarz's criterion ``−2 llf + k_ic log(nobs)``."""
        return -2.0 * self.llf + self.k_ic * math.log(self.nobs)

    @property
    def llf(self) -> float:
        """The maximised log-likelihood (the subclass's convention)."""
        raise NotImplementedError

    def _coef_table(self, alpha: float = 0.05) -> str:
        stat = self._stat()
        ci = np.asarray(self.conf_int(alpha))
        cols = (self._params, np.sqrt(np.diag(self._cov)), stat, np.asarray(self.pvalues),
                ci[:, 0], ci[:, 1])  # fmt: skip
        return params_table(self._names, cols, self.use_t, alpha)

    def _status_lines(self) -> list[str]:
        if self.converged:
            return []
        why = ("the covariance is not valid" if self.status in _COVARIANCE_CODES
               else "the estimate is not converged")  # fmt: skip
        return [f"Status: {Status(self.status).name}: {self.message}",
                f"Standard errors, tests and intervals are NaN: {why}."]

    def to_dataframe(self, alpha: float = 0.05) -> Any:
        """The coefficient table as a pandas DataFrame, one row per parameter.

        Args:
            alpha: one minus the intervals' confidence level.

        Returns:
            Columns ``coef``, ``std err``, ``t`` or ``z``, ``P>|t|`` or ``P>|z|``, and the
            interval's bounds, indexed by the parameters' names.
        """
        import pandas as pd

        s = "t" if self.use_t else "z"
        ci = np.asarray(self.conf_int(alpha))
        return pd.DataFrame(
            {"coef": self._params, "std err": np.sqrt(np.diag(self._cov)),
             s: self._stat(), f"P>|{s}|": np.asarray(self.pvalues),
             f"[{alpha / 2:.3g}": ci[:, 0], f"{1 - alpha / 2:.3g}]": ci[:, 1]},
            index=list(self._names),
        )  # fmt: skip

    def __repr__(self) -> str:
        state = "converged" if self.converged else f"NOT converged ({Status(self.status).name})"
        return (f"<{type(self).__name__}: {self.design.y_name} on {len(self._names)} parameters, "
                f"nobs {self.nobs:g}, {state}>")  # fmt: skip
