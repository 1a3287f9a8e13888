"""Input preparation for :func:`jaxmle.ols`: the design, the weights, missing rows, rank errors.

:func:`_build` turns a formula on a DataFrame (or a response and a design matrix) and optional
WLS weights into a checked :class:`~jaxmle._design.Design` and aligned weights, dropping (or
refusing) rows with missing values as statsmodels' ``missing=`` does, and refusing infinite
values and non-positive weights with a message that names the fix. :func:`_rank_error` builds
the error for a rank-deficient design, naming the linearly dependent columns. Host-side NumPy.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ._design import Design, align_rows, from_arrays, from_formula
from ._errors import InputError, RankDeficientError
from ._rank import _rank_tol


def _keep(design: Design, keep: np.ndarray) -> Design:
    """The design restricted to the rows where ``keep`` is True (positions in the design)."""
    rows = np.arange(design.X.shape[0]) if design.rows is None else design.rows
    index = None if design.index is None else design.index[keep]
    return dataclasses.replace(design, y=design.y[keep], X=design.X[keep], index=index,
                               rows=rows[keep])  # fmt: skip


def _missing_rows(design: Design, w: np.ndarray | None) -> np.ndarray:
    bad = np.isnan(design.X).any(axis=1)
    bad |= np.isnan(design.y) if design.y.ndim == 1 else np.isnan(design.y).any(axis=1)
    if w is not None:
        bad |= np.isnan(w)
    return bad


def _encode(formula_or_y: Any, data: Any, weights: Any, missing: str) -> tuple[Design, Any]:
    """The design of a formula (or of arrays) and the weights as given."""
    if isinstance(formula_or_y, str):
        if data is None:
            raise InputError(
                "`data` is required with a formula: ols('y ~ x1 + x2', data=df) with a DataFrame "
                "(or a dict of columns) holding the formula's variables."
            )
        design = from_formula(formula_or_y, data)
        if missing != "drop" and design.rows is not None:
            raise InputError(
                f"`data` has {design.n_data - len(design.y)} row(s) with missing values in the "
                f"formula's variables and missing={missing!r}; drop them first or pass "
                "missing='drop'."
            )
        return design, weights
    if data is None:
        raise InputError(
            "ols(y, X) needs the design matrix `X` as the second argument (add a column of "
            "ones for an intercept), or give a formula string first: ols('y ~ x', data=df)."
        )
    return from_arrays(formula_or_y, data), weights


def _drop_missing(design: Design, w: np.ndarray | None,
                  missing: str) -> tuple[Design, np.ndarray | None]:  # fmt: skip
    """The design and weights without rows that have a NaN (or an error, but for ``drop``)."""
    bad = _missing_rows(design, w)
    if not bad.any():
        return design, w
    if missing != "drop":
        raise InputError(
            f"{int(bad.sum())} row(s) of the data (or of `weights`) have missing values "
            f"(NaN) and missing={missing!r}; drop them first or pass missing='drop'."
        )
    keep = ~bad
    design = _keep(design, keep)
    w = None if w is None else w[keep]
    if design.X.shape[0] == 0:
        raise InputError("no rows are left once rows with missing values (NaN) are dropped.")
    return design, w


def _check_finite(design: Design, w: np.ndarray | None) -> None:
    """Refuses infinite values in the design or the response, and bad weights."""
    inf_cols = [design.names[j] for j in np.flatnonzero(~np.isfinite(design.X).all(axis=0))]
    if inf_cols:
        raise InputError(
            f"the design column(s) {inf_cols} have infinite values (e.g. np.log(0)); transform "
            "or drop those rows."
        )
    if not np.isfinite(design.y).all():
        raise InputError(f"the response {design.y_name!r} has infinite values; drop those rows.")
    if w is not None and not (np.all(w > 0) and np.all(np.isfinite(w))):
        bad_w = w[~((w > 0) & np.isfinite(w))][:5]
        raise InputError(
            f"`weights` must be positive and finite (inverse variances, as statsmodels' WLS); "
            f"got {bad_w}. Drop rows with zero weight instead."
        )


def _build(formula_or_y: Any, data: Any, weights: Any, missing: str) -> tuple[Design, Any]:
    """The design and aligned weights, rows with missing values dropped (or raised)."""
    design, weights = _encode(formula_or_y, data, weights, missing)
    if design.y.ndim != 1:
        raise InputError(
            f"the response must be one column; got {design.y.shape[1]} "
            f"({design.y_name!r}). OLS fits one response: use a single variable left of '~'."
        )
    w = align_rows(design, weights, "weights", data if isinstance(formula_or_y, str) else None)
    design, w = _drop_missing(design, w, missing)
    _check_finite(design, w)
    return design, w


def _dependent_columns(X: np.ndarray, w: np.ndarray | None, names: tuple[str, ...]) -> list[str]:
    """The columns in the null space of the column-scaled weighted design (error path only)."""
    A = X if w is None else X * np.sqrt(w)[:, None]
    norms = np.linalg.norm(A, axis=0)
    zero = [names[j] for j in np.flatnonzero(norms == 0)]
    if zero:
        return zero
    _, s, Vt = np.linalg.svd(A / norms, full_matrices=False)
    null = Vt[s <= s[0] * _rank_tol(*A.shape, A.dtype)]
    if len(null) == 0:
        null = Vt[-1:]
    weight = np.abs(null).max(axis=0)
    return [names[j] for j in np.flatnonzero(weight > 1e-6 * weight.max())]


def _rank_error(design: Design, w: np.ndarray | None, cond: float) -> RankDeficientError:
    """The error for a design with fewer rows than columns or linearly dependent columns."""
    n, p = design.X.shape
    what = f"the design of {design.formula!r}" if design.formula else "`X`"
    if n < p:
        return RankDeficientError(
            f"{what} has {n} rows (after dropping rows with missing values) for {p} columns "
            f"{list(design.names)}: the least-squares estimate is not unique. Use fewer terms "
            "or more data."
        )
    cols = _dependent_columns(design.X, w, design.names)
    return RankDeficientError(
        f"{what} is rank deficient (n={n}, {p} columns, condition number {cond:.3g} of the "
        f"column-scaled design): the columns {cols} are linearly dependent, so the "
        "least-squares estimate is not unique. Drop or combine one of them (a full set of "
        "dummies with an intercept, a variable entered twice), or add a ridge penalty "
        "(jaxmle.closed_form.ridge)."
    )
