"""Results of :mod:`jaxmle.inference`: the :class:`Summary` table, Wald and LR tests."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import jax
import numpy as np

from ._covariance import _OLS_TYPES, _WHAT, STATIONARY_TOL, STATUS
from ._errors import InputError
from ._status import Status


def _fmt(v: float) -> str:
    if not np.isfinite(v):
        return "nan" if np.isnan(v) else ("inf" if v > 0 else "-inf")
    a = abs(v)
    # Four decimals keep at least three significant digits from 0.01 up; below that (a rate
    # of 5.5e-4 would print as 0.0005) scientific notation.
    if a == 0 or 1e-2 <= a < 1e4:
        return f"{v:.4f}"
    return f"{v:.3e}"


@jax.tree_util.register_dataclass
@dataclass(frozen=True, repr=False)
class Summary:
    """Inference at an estimate: a pytree of arrays (leading axes for a batch of lanes).

    Attributes:
        estimate: ``(..., k)`` the flattened natural parameters.
        stderr: ``(..., k)`` standard errors ``sqrt(diag(cov))``.
        statistic: ``(..., k)`` Wald statistics ``estimate / stderr`` (z, or t when ``use_t``);
            NaN for a LinearRegression's ``variance`` under ``classical``/HC (no test of
            σ² = 0).
        pvalue: ``(..., k)`` two-sided p-values of ``parameter = 0`` (NaN where statistic is).
        ci_low, ci_high: ``(..., k)`` Wald confidence interval at ``level``.
        cov: ``(..., k, k)`` the covariance estimate (``cov_type``).
        loglik: ``(...)`` log-likelihood Σ log p(x_i | θ) (without the prior).
        aic, bic: ``(...)`` −2ℓ + 2m and −2ℓ + m log n with m = ``n_params``.
        status: ``(...)`` 0 when the estimate is converged and the covariance is valid, else
            a key of :data:`STATUS` (a :class:`jaxmle.Status` code; then ``cov`` and every
            standard error are NaN).
        min_eigenvalue: ``(...)`` estimate (within a factor √k) of the smallest eigenvalue of
            the inverted matrix scaled to unit diagonal; NaN when it is not positive definite.
            For the classical/HC types, 1/cond² of the column-scaled design (within a factor
            p).
        newton_step: ``(..., k)`` the Newton step from the estimate to the nearby stationary
            point of the log-likelihood (plus log prior) in standard errors, ``δ_i / se_i``
            (see :data:`jaxmle.inference.STATIONARY_TOL`); for the regression conventions the
            Gauss–Newton step of the regression coefficients (NaN for σ²). NaN where it could
            not be computed (curvature not positive definite).
        converged: ``(...)`` whether the estimate is converged: the result's own status or
            ``converged`` flag when a result was given, else whether it passed the
            stationarity check (and, for covariances other than ``hessian``, whether minus the
            Hessian is positive definite there).
        fit_status: ``(...)`` the status code the given result carried (-1 for bare params).
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
    newton_step: jax.Array
    converged: jax.Array
    fit_status: jax.Array
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
            pair("Residual df:", str(self.df_resid), "Status:",
                 "ok" if status == 0 else Status(status).name),
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
        if (self.cov_type in _OLS_TYPES
                and self.model_name in ("LinearRegression", "NonlinearRegression")
                and "variance" in self.labels):  # fmt: skip
            notes.append(
                "variance: the noise variance as given (RSS/n for an MLE), with the inverse "
                "Fisher information's standard error σ²·sqrt(2/n) and no test of σ² = 0 (the "
                "boundary of its domain); the coefficients' standard errors use s² = RSS/(n − p)."
                if self.cov_type == "classical" else
                "variance: the noise variance as given, with a sandwich standard error and no test "
                "of σ² = 0 (the boundary of its domain)."
            )  # fmt: skip
        if status:
            head = "Covariance unavailable: " if bool(self.converged) else ""
            text = _status_text(self, status)
            notes.append(head + (text if head else text[0].upper() + text[1:]))
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


def _require_pandas(owner: str):
    try:
        import pandas as pd
    except ImportError as err:
        raise ImportError(
            f"{owner} needs pandas, an optional dependency: pip install pandas "
            "(or 'jaxmle[table]')."
        ) from err
    return pd




def _lane_values(s: Summary, index: tuple[int, ...] = ()) -> dict:
    """One lane's diagnostic fields as host values (numpy indexing: no XLA program)."""
    fields = ("status", "min_eigenvalue", "newton_step", "converged", "fit_status")
    return {f: np.asarray(getattr(s, f))[index] for f in fields}


def _status_text(s: Summary, status: int, lane: dict | None = None) -> str:
    """Why a summary (or one lane of it, ``lane`` from :func:`_lane_values`) has ``status``."""
    v = _lane_values(s) if lane is None else lane
    if not bool(v["converged"]):
        return _not_converged_text(s, status, v)
    cov_type = "classical_nls" if (s.cov_type == "classical"
                                   and s.model_name == "NonlinearRegression") else s.cov_type
    what = _WHAT.get(cov_type, _WHAT["classical"])
    what = what.format(prior=" and log prior" if s.posterior else "")
    e = float(v["min_eigenvalue"])
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


def _not_converged_text(s: Summary, status: int, v: dict) -> str:
    given = int(v["fit_status"])
    if given > 0:
        g = Status(given)
        return (
            f"the estimate is not converged (the result's status is {g.name}: {g.message}); "
            "the standard errors are NaN."
        )
    if status == Status.FLAT_DIRECTION:
        return ("the estimate is not converged: one standard error along the Newton step the "
                "log-likelihood does not fall as its curvature predicts, so "
                f"{Status(7).message}; the standard errors are NaN.")  # fmt: skip
    if status == Status.NOT_POSITIVE_DEFINITE:
        return ("the estimate is not converged: minus the Hessian of the objective (the "
                "log-likelihood plus any log prior) is not positive definite there, so it is not "
                f"a maximum ({Status(2).message}); the standard errors are NaN.")  # fmt: skip
    step = np.asarray(v["newton_step"], float)
    a = np.where(np.isnan(step), -1.0, np.abs(step))
    i = int(np.argmax(a))
    return (
        "the estimate is not converged: it is not a stationary point of the log-likelihood "
        "(plus any log prior): the Newton step H⁻¹g to the nearby optimum (g the gradient, H "
        f"minus the Hessian) moves {s.labels[i]} by {abs(step[i]):.3g} standard errors, more "
        f"than the {STATIONARY_TOL:g} allowed: a fit that stopped short (run the optimiser "
        "longer, or use jaxmle.mle); the standard errors are NaN."
    )


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
