"""One status vocabulary for every estimate, covariance and study lane.

Results carry the status as an ``int32`` array (so it vmaps, stacks and saves); this module
turns codes into sentences. It is the lowest layer: models, inference, the estimators and the
studies all import it, it imports nothing of jaxmle's.
"""

from __future__ import annotations

import enum
from typing import Any

import numpy as np

__all__ = ["Status", "status_message"]


class Status(enum.IntEnum):
    """Outcome codes shared by :func:`jaxmle.mle`, :func:`jaxmle.fit`, sweeps and inference.

    ``OK`` (0) is the only good outcome: for an estimator, the final state meets the
    convergence criterion; for a covariance, it is finite and valid. Every other member says
    what went wrong (:attr:`message`). Codes 1–5 are the covariance failures of
    :func:`jaxmle.inference.summary`; 6–9 are estimation outcomes.

    Example:
        >>> from jaxmle import Status
        >>> Status(6).name, Status.MAX_STEPS.message[:27]
        ('MAX_STEPS', 'the iteration cap was reach')
    """

    OK = 0
    NONFINITE = 1
    NOT_POSITIVE_DEFINITE = 2
    SINGULAR = 3
    NO_RESIDUAL_DF = 4
    LEVERAGE_ONE = 5
    MAX_STEPS = 6
    FLAT_DIRECTION = 7
    BOUNDARY = 8
    NOT_CONVERGED = 9

    @property
    def message(self) -> str:
        """The outcome as a sentence (what happened and what to do)."""
        return _MESSAGES[self]


_MESSAGES = {
    Status.OK: "ok: converged (the final state meets the stopping criterion)",
    Status.NONFINITE: "the objective, its gradient or the parameters became non-finite (NaN or "
    "inf) or exploded: a diverging run, or parameters outside their domain",
    Status.NOT_POSITIVE_DEFINITE: "the Hessian of the objective is not positive definite at the "
    "final point: a saddle point or a maximum, not a minimum of the negative log-likelihood",
    Status.SINGULAR: "the curvature is numerically singular at the final point: some parameters "
    "are not identified by the data (collinear columns, too few observations)",
    Status.NO_RESIDUAL_DF: "there are no residual degrees of freedom (n <= p)",
    Status.LEVERAGE_ONE: "an observation has leverage one (HC2/HC3 are undefined)",
    Status.MAX_STEPS: "the iteration cap was reached before the stopping criterion held: the "
    "estimate is not converged (raise max_steps, or try another start or method)",
    Status.FLAT_DIRECTION: "the parameters are running off along a direction in which the "
    "log-likelihood keeps increasing ever more slowly: the MLE does not exist or is at infinity "
    "(e.g. perfect separation in a logistic regression)",
    Status.BOUNDARY: "the estimate is on the boundary of the parameter space (a variance or "
    "rate going to 0, a probability to 0 or 1): the usual standard errors do not apply",
    Status.NOT_CONVERGED: "the estimate is not converged: its gradient is not small (a fit that "
    "stopped short, or parameters that are not a stationary point)",
}


def status_message(code: Any) -> str:
    """The message of a status code (an int, a 0-d array or a :class:`Status`).

    Args:
        code: a status code.

    Returns:
        ``"NAME: message"``.

    Example:
        >>> status_message(0)
        'OK: ok: converged (the final state meets the stopping criterion)'
    """
    s = Status(int(np.asarray(code)))
    return f"{s.name}: {s.message}"
