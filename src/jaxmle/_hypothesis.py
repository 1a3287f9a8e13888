"""Linear hypotheses ``R β = q`` on a fitted model: t, F and Wald tests (statsmodels' vocabulary).

The constraints are written as statsmodels (patsy's ``linear_constraint``) takes them: a string
of comma-separated equations in the parameter names (``"x1 = 0, x2 = 2*x3"``, ``"x1 + x2 = 1"``;
a bare expression means ``= 0``, so ``"x1, x2"`` tests both), a matrix ``R`` (``q = 0``), or a
pair ``(R, q)``. :class:`jaxmle._results.RegressionResults` exposes ``t_test``, ``f_test`` and
``wald_test``. Host-side NumPy on ``k × k`` matrices: microseconds, nothing compiled.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._errors import InputError

_NUMBER = re.compile(r"\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?")


def _tokens(text: str, names: Sequence[str]) -> list[tuple[str, Any]]:
    """``("name", index)``, ``("num", value)`` and operator tokens; names matched longest first.

    Parameter names hold brackets, dots and parentheses (``C(g)[T.b]``, ``np.log(x)``), so
    they are matched as whole strings before numbers and operators.
    """
    by_length = sorted(range(len(names)), key=lambda i: -len(names[i]))
    out, i = [], 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        hit = next((j for j in by_length if names[j] and text.startswith(names[j], i)), None)
        if hit is not None:
            out.append(("name", hit))
            i += len(names[hit])
            continue
        m = _NUMBER.match(text, i)
        if m:
            out.append(("num", float(m.group())))
            i = m.end()
            continue
        if ch in "+-*=":
            out.append((ch, None))
            i += 1
            continue
        raise InputError(
            f"`r_matrix`: cannot read {text[i:].strip()!r} in {text.strip()!r}; write equations "
            f"in the parameter names {list(names)} (e.g. '{names[-1]} = 0')."
        )
    return out


def _side(tokens: list[tuple[str, Any]], k: int, text: str) -> tuple[np.ndarray, float]:
    """Coefficients on the parameters and the constant of one side of an equation.

    A side is terms joined by ``+``/``-``; a term is a product (``*``) of numbers and at most
    one parameter.
    """
    bad = InputError(f"`r_matrix`: {text.strip()!r} is not a linear equation in the parameters.")
    coef, const, i, n = np.zeros(k), 0.0, 0, len(tokens)
    if n == 0:
        raise bad
    while i < n:
        factor, name = 1.0, None
        while i < n and tokens[i][0] in ("+", "-"):
            factor = -factor if tokens[i][0] == "-" else factor
            i += 1
        while True:
            if i >= n:
                raise bad
            kind, val = tokens[i]
            if kind == "num":
                factor *= val
            elif kind == "name" and name is None:
                name = val
            else:  # an operator out of place, or a product of two parameters
                raise bad
            i += 1
            if i < n and tokens[i][0] == "*":
                i += 1
                continue
            break
        if name is None:
            const += factor
        else:
            coef[name] += factor
        if i < n and tokens[i][0] not in ("+", "-"):
            raise bad
    return coef, const


def _from_text(text: str, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    rows, q = [], []
    for eq in text.split(","):
        sides = eq.split("=")
        if len(sides) > 2 or not eq.strip():
            raise InputError(f"`r_matrix`: {eq.strip()!r} in {text!r} is not one equation.")
        lhs = _side(_tokens(sides[0], names), len(names), eq)
        rhs = _side(_tokens(sides[1], names), len(names), eq) if len(sides) == 2 \
            else (np.zeros(len(names)), 0.0)  # fmt: skip
        row = lhs[0] - rhs[0]
        if not np.any(row):
            raise InputError(f"`r_matrix`: {eq.strip()!r} names no parameter.")
        rows.append(row)
        q.append(rhs[1] - lhs[1])
    return np.array(rows), np.array(q)


def constraints(spec: Any, names: Sequence[str], q: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """``(R, q)`` of a hypothesis ``R β = q`` written as statsmodels takes it.

    Args:
        spec: a string of equations in ``names``, a ``(J, k)`` matrix (or a length-k vector:
            one constraint), or a pair ``(R, q)``.
        names: the parameters' names, in order.
        q: the right-hand side for a matrix ``spec`` (default 0).

    Returns:
        ``R`` of shape ``(J, k)`` and ``q`` of shape ``(J,)``.

    Raises:
        InputError: on text that is not linear equations in the names, a matrix of the wrong
            width, or non-finite entries.
    """
    k = len(names)
    if isinstance(spec, str):
        if q is not None:
            raise InputError("`q` goes with a matrix `r_matrix`; write it into the equations.")
        return _from_text(spec, names)
    if isinstance(spec, tuple) and len(spec) == 2 and q is None:
        spec, q = spec
    R = np.atleast_2d(np.asarray(spec, dtype=float))
    if R.ndim != 2 or R.shape[1] != k:
        raise InputError(f"`r_matrix` must have {k} columns (one per parameter); got shape "
                         f"{np.shape(spec)}.")  # fmt: skip
    qv = np.zeros(len(R)) if q is None else np.broadcast_to(np.asarray(q, float).ravel(),
                                                           (len(R),)).copy()  # fmt: skip
    if not (np.all(np.isfinite(R)) and np.all(np.isfinite(qv))):
        raise InputError("`r_matrix` and `q` must be finite.")
    return R, qv


@dataclass(frozen=True)
class TTestResult:
    """Each constraint's estimate ``(Rβ)_j`` with its standard error and test of ``= q_j``.

    Attributes:
        effect: ``(J,)`` estimates ``Rβ`` (statsmodels' ``ContrastResults.effect``).
        sd: ``(J,)`` standard errors ``sqrt(diag(R V Rᵀ))``.
        tvalue: ``(J,)`` statistics ``(Rβ − q) / sd``.
        pvalue: ``(J,)`` two-sided p-values (Student's t on ``df_denom``, else the normal).
        df_denom: residual degrees of freedom of a t test; None for z tests.
        q: ``(J,)`` the hypothesised values.
    """

    effect: np.ndarray
    sd: np.ndarray
    tvalue: np.ndarray
    pvalue: np.ndarray
    df_denom: float | None
    q: np.ndarray

    def conf_int(self, alpha: float = 0.05) -> np.ndarray:
        """``(J, 2)`` Wald intervals for ``Rβ`` at level ``1 − alpha``."""
        from . import _dists

        if not 0.0 < alpha < 1.0:
            raise InputError(f"`alpha` must be in (0, 1), e.g. 0.05 for 95%; got {alpha!r}.")
        p = 1 - alpha / 2
        z = float(_dists.t_ppf(p, self.df_denom) if self.df_denom is not None
                  else _dists.norm_ppf(p))  # fmt: skip
        return np.stack([self.effect - z * self.sd, self.effect + z * self.sd], axis=1)

    def summary(self, alpha: float = 0.05) -> str:
        """The "Test for Constraints" table of statsmodels (rows ``c0``, ``c1``, ...)."""
        from ._results import params_table

        ci = self.conf_int(alpha)
        names = [f"c{j}" for j in range(len(self.effect))]
        cols = (self.effect, self.sd, self.tvalue, self.pvalue, ci[:, 0], ci[:, 1])
        table = params_table(names, cols, self.df_denom is not None, alpha)
        width = len(table.splitlines()[-1])
        return f"{'Test for Constraints':^{width}}\n{'=' * width}\n{table}"

    def __str__(self) -> str:
        return self.summary()


@dataclass(frozen=True)
class FTestResult:
    """A joint test of ``Rβ = q``: F on ``(df_num, df_denom)`` or χ² on ``df_num``.

    Attributes:
        statistic: F, or the Wald χ² (``df_num × F``).
        pvalue: its upper-tail probability.
        df_num: the number of constraints J.
        df_denom: residual degrees of freedom of an F test; None for χ².
        distribution: ``"F"`` or ``"chi2"``.
    """

    statistic: float
    pvalue: float
    df_num: float
    df_denom: float | None
    distribution: str

    @property
    def fvalue(self) -> float:
        """The F statistic (statsmodels' name; the χ² statistic for a χ² test)."""
        return self.statistic

    def __str__(self) -> str:
        if self.distribution == "F":
            return (f"<F test: F={self.statistic!r}, p={self.pvalue!r}, "
                    f"df_denom={self.df_denom:.0f}, df_num={self.df_num:.0f}>")  # fmt: skip
        return (f"<Wald test (chi2): statistic={self.statistic!r}, p-value={self.pvalue!r}, "
                f"df={self.df_num:.0f}>")  # fmt: skip

    __repr__ = __str__


def t_test(params: np.ndarray, cov: np.ndarray, R: np.ndarray, q: np.ndarray,
           df: float | None) -> TTestResult:  # fmt: skip
    """Per-row tests of ``Rβ = q`` (see :class:`TTestResult`); ``df`` None for z tests."""
    from . import _dists

    effect = R @ params
    with np.errstate(invalid="ignore"):
        sd = np.sqrt(np.einsum("ij,jk,ik->i", R, cov, R))
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = (effect - q) / sd
    p = 2 * (_dists.t_sf(np.abs(stat), df) if df is not None else _dists.norm_sf(np.abs(stat)))
    return TTestResult(effect, sd, stat, np.asarray(p, float), df, q)


def f_test(params: np.ndarray, cov: np.ndarray, R: np.ndarray, q: np.ndarray,
           df: float | None) -> FTestResult:  # fmt: skip
    """The joint test of ``Rβ = q``: F on ``(J, df)``, or χ²_J when ``df`` is None.

    Raises:
        InputError: when the constraints are linearly dependent (``R V Rᵀ`` singular).
    """
    from . import _dists

    J = len(R)
    d = R @ params - q
    M = R @ cov @ R.T
    if np.all(np.isfinite(M)):
        s = np.linalg.svd(M, compute_uv=False)
        if not s[-1] > s[0] * J * 1e-12:
            raise InputError(
                f"`r_matrix`: the {J} constraints are linearly dependent (R·cov·Rᵀ is singular);"
                " drop the redundant ones."
            )
        wald = float(d @ np.linalg.solve(M, d))
    else:
        wald = math.nan  # an unconverged fit's NaN covariance: NaN tests, as its bse
    if df is None:
        return FTestResult(wald, float(_dists.chi2_sf(wald, J)), float(J), None, "chi2")
    F = wald / J
    return FTestResult(F, float(_dists.f_sf(F, J, df)), float(J), float(df), "F")
