"""The GLM front end's input: the design and per-row arrays of a fit, checked, and the fit call.

:func:`jaxmle.glm` (in :mod:`jaxmle._glm_results`) turns a formula and DataFrame, or arrays,
into a :class:`~jaxmle._design.Design` and the fitted rows' response and weights
(:class:`_Data`, NaN rows dropped or refused), checks ``start_params``, and calls the IRLS engine
(:func:`_fit`); a rank-deficient design is named here (:func:`_check_rank`).
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from typing import Any, NamedTuple

import jax
import numpy as np

from . import _design
from ._design import Design
from ._errors import InputError, RankDeficientError
from ._families import Family
from ._irls import _offset as _irls_offset
from ._irls import irls
from ._ols_input import _dependent_columns
from ._rank import _rank_tol


def _subset(design: Design, keep: np.ndarray) -> Design:
    """The design restricted to the rows ``keep`` (a boolean mask over its rows)."""
    pos = np.flatnonzero(keep)
    rows = pos if design.rows is None else design.rows[pos]
    index = None if design.index is None else design.index[pos]
    return replace(design, y=design.y[pos], X=design.X[pos], rows=rows, index=index)


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


def _make_design(formula_or_y: Any, data: Any, missing: str) -> Design:
    """The design of a formula on a DataFrame, or of a response and a design matrix."""
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
        return design
    if data is None:
        raise InputError(
            "glm(y, X) needs the design matrix `X` as the second argument (no constant is "
            "added, as in statsmodels' GLM(y, X)); or pass a formula and a DataFrame."
        )
    return _design.from_arrays(formula_or_y, data)


def _drop_missing(design: Design, arrays: dict[str, Any],
                    missing: str) -> tuple[Design, dict[str, Any]]:  # fmt: skip
    """The design and per-row arrays without the rows that have a missing (NaN) value.

    An infinite value is refused, as :func:`jaxmle.ols` refuses it: ``np.log(0)`` in a formula
    is a transform to fix, and dropping those rows would change the sample without a word.
    """
    y2 = design.y.reshape(len(design.y), -1)
    if np.isfinite(design.X).all() and np.isfinite(y2).all() and all(
            v is None or np.isfinite(v).all() for v in arrays.values()):  # fmt: skip
        return design, arrays  # (whole-array tests: a few µs; the per-column ones below, 60)
    inf_cols = [design.names[j] for j in np.flatnonzero(np.isinf(design.X).any(axis=0))]
    inf_cols += [design.y_name] if np.isinf(y2).any() else []
    inf_cols += [f"`{k}`" for k, v in arrays.items() if v is not None and np.isinf(v).any()]
    if inf_cols:
        raise InputError(
            f"{', '.join(map(str, inf_cols))} ha{'ve' if len(inf_cols) > 1 else 's'} infinite "
            "values (e.g. np.log(0)); transform or drop those rows."
        )
    finite = np.all(np.isfinite(design.X), axis=1) & np.all(np.isfinite(y2), axis=1)
    for v in arrays.values():
        if v is not None:
            finite &= np.isfinite(v)
    if finite.all() or missing == "none":
        return design, arrays
    if missing == "raise":
        raise InputError(
            f"{int((~finite).sum())} row(s) have missing or non-finite values in the "
            f"response, the design or the weights/offset (first at row "
            f"{int(np.flatnonzero(~finite)[0])}); drop them or pass missing='drop'."
        )
    if not finite.any():
        raise InputError("every row has a missing or non-finite value; nothing to fit.")
    return _subset(design, finite), {k: None if v is None else v[finite]
                                     for k, v in arrays.items()}  # fmt: skip


def _response(design: Design, family: Family) -> tuple[np.ndarray, np.ndarray | None]:
    """The response and the trials (None but for a Binomial successes + failures response)."""
    y = design.y
    if y.ndim != 2:
        return y, None
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
    return y[:, 0] / trials, trials


def _prepare(formula_or_y, data, family, offset, exposure, freq_weights, var_weights,
             missing):  # fmt: skip
    """The design and the fitted rows' data, checked, rows with missing values dropped."""
    design = _make_design(formula_or_y, data, missing)
    frame = data if isinstance(formula_or_y, str) else None  # (columns by name)
    arrays = {name: _design.align_rows(design, v, name, frame) for name, v in
              (("offset", offset), ("exposure", exposure), ("freq_weights", freq_weights),
               ("var_weights", var_weights))}  # fmt: skip
    design, arrays = _drop_missing(design, arrays, missing)
    y, trials = _response(design, family)
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


def _check_rank(design: Design, freq_weights: Any) -> None:
    """Raises :class:`~jaxmle.RankDeficientError` naming the dependent columns (error path).

    A fit that ends ``SINGULAR`` on a design of full column rank (weights that vanish) keeps
    its status and warning instead.
    """
    X = design.X if freq_weights is None else design.X[np.asarray(freq_weights) > 0]
    n, p = X.shape
    norms = np.linalg.norm(X, axis=0)
    if n >= p and (norms > 0).all():
        s = np.linalg.svd(X / norms, compute_uv=False)
        if s[-1] > s[0] * _rank_tol(n, p, X.dtype):
            return
    what = f"the design of {design.formula!r}" if design.formula else "`X`"
    cols = list(design.names) if n < p else _dependent_columns(X, None, design.names)
    raise RankDeficientError(
        f"{what} is rank deficient ({n} rows with positive weight, {p} columns): the columns "
        f"{cols} are linearly dependent, so the coefficients are not identified. Drop or "
        "combine one of them (a full set of dummies with an intercept, a variable entered "
        "twice, a spline basis with its own constant beside the intercept)."
    )


def _start_params(start: Any, design: Design) -> np.ndarray | None:
    if start is None:
        return None
    if hasattr(start, "index") and hasattr(start, "reindex"):  # a Series: by name
        missing = [n for n in design.names if n not in start.index]
        if missing:
            raise InputError(f"`start_params` has no value for {missing}; it is indexed by "
                             f"{list(start.index)}.")  # fmt: skip
        start = start.reindex(list(design.names))
    try:
        v = np.asarray(start, dtype=float).ravel()
    except (TypeError, ValueError) as e:
        raise InputError(f"`start_params` must be numbers, one per coefficient: {e}") from e
    if v.shape[0] != len(design.names) or not np.isfinite(v).all():
        raise InputError(
            f"`start_params` must hold {len(design.names)} finite values, one per design column "
            f"{list(design.names)}; got {v.shape[0]}."
        )
    return v


def _start_inside(family: Family, design: Design, d: _Data, start: Any) -> Any:
    """``start``, or None (statsmodels' start) with a warning where its mean is not valid.

    A start whose mean leaves the family's domain (a log-binomial mean above 1, an identity
    Poisson mean below 0) or makes the deviance infinite gives the scoring loop no point to
    halve back to: it would end NONFINITE, blaming the fit for the start.
    """
    if start is None or family.valid_mu(jax.numpy.zeros(())) is True:
        return start
    off = _irls_offset(d.offset, d.exposure)
    eta = design.X @ start + (0.0 if off is None else np.asarray(off))
    mu = family.link.inverse(jax.numpy.asarray(eta))
    live = np.ones(eta.shape, bool) if d.freq_weights is None else np.asarray(d.freq_weights) > 0
    dev = np.asarray(family.deviance_kernel(jax.numpy.asarray(d.y), mu))[live]
    if bool(family.valid_mu(mu[live])) and np.isfinite(dev).all():
        return start
    warnings.warn(
        f"glm: `start_params` puts the mean outside the domain of {family.name} with the "
        f"{family.link.name} link (or makes a unit deviance infinite); starting from the "
        "default start (statsmodels' starting mean) instead.", RuntimeWarning, stacklevel=3)
    return None


def _fit(family: Family, X: np.ndarray, d: _Data, max_iter: int, start: Any = None) -> Any:
    fit = irls(family, X, d.y, offset=d.offset, exposure=d.exposure,
               freq_weights=d.freq_weights, var_weights=d.var_weights, trials=d.trials,
               max_iter=max_iter, start=start)  # fmt: skip
    # (Fits of the host-finished path are NumPy already: device_get would walk the tree.)
    return fit if isinstance(fit.coef, np.ndarray) else jax.device_get(fit)
