"""The text blocks of :meth:`jaxmle.OLSResults.summary` below its coefficient table.

statsmodels' OLS layout: the residual diagnostics (omnibus and Jarque–Bera normality tests,
skew, kurtosis, Durbin–Watson) with the condition number, and the numbered notes (uncentered R²,
the covariance's description, multicollinearity warnings); also the number formats that the
model block shares. Host-side NumPy/SciPy on the (weighted) residuals.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._results import header_table

__all__ = ["diagnostics_block", "notes_block", "residual_diagnostics"]


def _fmt(v: float, spec: str) -> str:
    return format(float(v), spec).strip() if math.isfinite(v) else ("nan" if v != v else str(v))


def _d_or_f(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:#8.5g}".strip()


def residual_diagnostics(e: np.ndarray) -> dict[str, float]:
    """The normality and autocorrelation statistics of the (weighted) residuals ``e``.

    Args:
        e: the ``(n,)`` residuals ``√w_i·e_i``.

    Returns:
        ``omni``/``omni_p`` (D'Agostino's omnibus test; NaN for fewer than 8 rows), ``skew``,
        ``kurtosis`` (not excess), ``dw`` (Durbin–Watson) and ``jb``/``jb_p`` (Jarque–Bera).
    """
    from . import _dists  # lazily: it imports scipy.special

    n = e.shape[0]
    if n >= 8:
        omni, omni_p = (float(v) for v in _dists.normaltest(e))
    else:
        omni = omni_p = math.nan
    skew = float(_dists.skew(e))
    kurt = 3.0 + float(_dists.kurtosis(e))
    jb = n / 6.0 * (skew**2 + 0.25 * (kurt - 3.0) ** 2)
    return {"omni": omni, "omni_p": omni_p, "skew": skew, "kurtosis": kurt,
            "dw": float(np.sum(np.diff(e) ** 2) / np.sum(e**2)) if np.any(e) else math.nan,
            "jb": jb, "jb_p": float(_dists.chi2_sf(jb, 2))}  # fmt: skip


def diagnostics_block(e: np.ndarray, cond: float) -> str:
    """The diagnostics table under the coefficient table (no title, no top rule).

    Args:
        e: the ``(n,)`` weighted residuals.
        cond: the design's condition number.

    Returns:
        The block's lines.
    """
    d = residual_diagnostics(e)
    diag_left = [("Omnibus:", _fmt(d["omni"], "#6.3f")),
                 ("Prob(Omnibus):", _fmt(d["omni_p"], "#6.3f")),
                 ("Skew:", _fmt(d["skew"], "#6.3f")),
                 ("Kurtosis:", _fmt(d["kurtosis"], "#6.3f"))]  # fmt: skip
    diag_right = [("Durbin-Watson:", _fmt(d["dw"], "#8.3f")),
                  ("Jarque-Bera (JB):", _fmt(d["jb"], "#8.3f")),
                  ("Prob(JB):", _fmt(d["jb_p"], "#8.3g")),
                  ("Cond. No.", _fmt(cond, "#8.3g"))]  # fmt: skip
    # The coefficient table ends with its own "=" rule: drop the block's title and rule.
    return "\n".join(header_table("", diag_left, diag_right).splitlines()[2:])


def notes_block(k_constant: Any, cov_note: str, smallest: float, cond: float) -> str:
    """The summary's numbered notes.

    Args:
        k_constant: whether the model has a constant (else R² is uncentered).
        cov_note: the covariance's description.
        smallest: the smallest eigenvalue of ``XᵀWX``.
        cond: the design's condition number.

    Returns:
        The notes' section (after a blank line): ``Notes:``, then one numbered note a line.
    """
    notes = []
    if not k_constant:
        notes.append("R² is computed without centering (uncentered) since the model does "
                     "not contain a constant.")  # fmt: skip
    notes.append(cov_note)
    if smallest < 1e-10:
        notes.append(f"The smallest eigenvalue is {smallest:6.3g}. This might indicate that "
                     "there are\nstrong multicollinearity problems or that the design matrix "
                     "is singular.")  # fmt: skip
    elif cond > 1000:
        notes.append(f"The condition number is large, {cond:6.3g}. This might indicate that "
                     "there are\nstrong multicollinearity or other numerical "
                     "problems.")  # fmt: skip
    return "\nNotes:\n" + "\n".join(f"[{i + 1}] {t}" for i, t in enumerate(notes))
