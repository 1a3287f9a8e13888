"""The end of a concrete IRLS fit on CPU, on the host: covariance, flat-direction test, status.

Inside the compiled program (:mod:`jaxmle._irls`) these cost more to compile than the whole
scoring loop saves: a second sweep inverse (the covariance at the final coefficients) under a
``lax.cond`` and the flat-direction test (``p + 2`` deviances under another) took a Poisson
2,000 × 20 program from 0.76 s to 1.2 s of XLA compilation and its trace from ~0.2 s to ~0.3 s
(measured side by side, 2 runs each). In NumPy they cost microseconds (a ``p × p`` Cholesky),
and the flat test runs only where a weight is extreme (separation, an MLE at infinity). Under a
user's ``jit``/``vmap`` and off CPU the program does all of it itself, with the same rules.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._glm_host import _Host
from ._status import Status

__all__ = ["finish", "inverse", "prior_weights"]

_FLAT_DROP = 0.05  # the log-likelihood drop one standard error out (else flat)
# The returned coefficients' own Newton decrement (standard errors), checked after the loop:
# the loop stops at 1e-8 or at a rounding floor below 1e-6; above this it stopped short.
_VERIFY = 1e-5


def inverse(A: np.ndarray) -> tuple[np.ndarray, bool]:
    """``(A⁻¹, singular)`` of a Jacobi-scaled ``A`` with ``jaxmle._irls._inverse``'s test.

    NaN where ``A`` is not positive definite (Cholesky fails) or not finite.
    """
    k = A.shape[0]
    diag = np.diagonal(A)
    s = 1.0 / np.sqrt(diag, where=diag > 0, out=np.ones_like(diag))
    ss = np.outer(s, s)
    C = A * ss
    try:  # (Cholesky as the positive-definiteness test, LU for the inverse: at p = 10 two
        # library calls cost ~15 µs, a factor's inverse and product twice that)
        np.linalg.cholesky(C)
        Cinv = np.linalg.inv(C)
    except np.linalg.LinAlgError:
        return np.full_like(A, np.nan), True
    norm = float(np.sqrt(np.vdot(Cinv, Cinv)))  # 1/norm: within √k of C's smallest eigenvalue
    singular = not (norm * 10.0 * k * np.finfo(A.dtype).eps < 1.0)
    inv = Cinv * ss
    return 0.5 * (inv + inv.T), singular


def prior_weights(d: Any) -> Any:
    """Frequency × variance weights × trials of ``d`` as one NumPy array (None: all 1)."""
    pw = None
    for w in (d.fw, d.vw, d.trials):
        if w is not None:
            pw = np.asarray(w) if pw is None else pw * np.asarray(w)
    return pw


def _flat(fam: Any, d: Any, fit: Any, inv: np.ndarray, g: np.ndarray, pw: Any) -> bool:
    """``jaxmle._irls._flat_directions`` at the returned coefficients, in NumPy.

    One standard error along the Newton step, along β and along each coefficient's axis the
    quadratic model drops ½ nat; at an MLE at infinity the likelihood still rises or is flat.
    """
    X, y = np.asarray(d.X), np.asarray(d.y)
    beta = np.asarray(fit.coef)
    host = _Host(fam.name, fam.link, float(getattr(fam, "alpha", None) or 0.0))
    off = 0.0 if d.offset is None else np.asarray(d.offset)
    w = np.asarray(fit.weights)
    step = inv @ g
    xb = X @ beta
    q = np.array([step @ g, np.sum(w * xb * xb)])  # curvatures along the step and β (φ = 1)
    along = np.isfinite(q) & (q > 0)
    c = np.sqrt(1.0 / np.where(along, q, 1.0))
    se = np.sqrt(np.diagonal(inv))
    axis = np.isfinite(se) & (se > 0) & (beta != 0)
    usable = np.concatenate([along, axis])
    V = np.concatenate([(c[0] * step)[None], (c[1] * beta)[None],
                        np.diag(np.sign(beta) * np.where(axis, se, 0.0))])  # fmt: skip

    def dev(b: np.ndarray) -> float:
        with np.errstate(all="ignore"):
            ud = host.unit_deviance(y, host.inverse(X @ b + off))
        return float(np.sum(ud if pw is None else pw * ud))

    base = dev(beta)
    for use, v in zip(usable, V, strict=True):
        if use and not (dev(beta + v) - base) / 2.0 >= _FLAT_DROP:
            return True
    return False


def finish(fam: Any, d: Any, fit: Any, A: np.ndarray, g: np.ndarray, keep: bool,
           singular_last: bool, phi: float, extreme: bool) -> Any:  # fmt: skip
    """The fit with its covariance, flat-direction test and status settled, as in the program.

    Args:
        fam: the family.
        d: the data (``jaxmle._irls._Data``, host arrays).
        fit: the program's ``GLMFit``; ``cov_unscaled`` holds the last evaluated point's
            inverse information, ``status`` the loop's code.
        A: ``XᵀWX`` at the returned coefficients.
        g: the score there.
        keep: whether the last point's inverse is the covariance (a canonical link and a last
            step under 1e-10 SE, or a fit that did not converge).
        singular_last: that inverse's singularity flag.
        phi: the dispersion used for standard-error units (1 without a dispersion).
        extreme: whether some weight (of a row with a positive prior weight) is below 1e-6 of
            the largest: where the flat-direction test runs.

    Returns:
        The ``GLMFit`` with ``cov``, ``cov_unscaled``, ``status`` and ``converged`` final.
    """
    inv, singular = (np.asarray(fit.cov_unscaled), bool(singular_last)) if keep else inverse(A)
    ok = int(fit.status) == Status.OK
    status = int(fit.status)
    if ok and singular:
        status = Status.SINGULAR
    elif ok and extreme and not fam.has_dispersion and _flat(fam, d, fit, inv, g,
                                                             prior_weights(d)):  # fmt: skip
        status = Status.FLAT_DIRECTION
    if status == Status.OK:
        dec = math.sqrt(max(float(g @ (inv @ g)), 0.0) / phi)
        if not dec <= _VERIFY:
            status = Status.NOT_CONVERGED
    return fit._replace(cov=fit.scale * inv, cov_unscaled=inv,
                        status=np.asarray(status, np.int32),
                        converged=np.asarray(status == Status.OK))  # fmt: skip
