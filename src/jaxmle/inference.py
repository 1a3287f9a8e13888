"""Inference at an estimate: ``jaxmle.inference``.

Observed and expected information, covariance estimators (inverse Hessian, inverse Fisher,
outer product of scores, sandwich, for linear regression the classical and HC0–HC3
covariances, for nonlinear regression the classical s²(JᵀWJ)⁻¹), standard errors, Wald tests
and intervals, likelihood-ratio tests, AIC/BIC and a statsmodels-style summary table, all by
autodiff of the pointwise log-likelihood and all jittable and vmappable over the lanes of a
sweep. A summary of an estimate that is not converged (a result that says so, or bare params
that fail the stationarity check, :data:`STATIONARY_TOL`) has a non-ok status and NaN
standard errors.
"""

from ._inference import COV_TYPES as COV_TYPES
from ._inference import STATIONARY_TOL as STATIONARY_TOL
from ._inference import STATUS as STATUS
from ._inference import LRTest as LRTest
from ._inference import Summary as Summary
from ._inference import Wald as Wald
from ._inference import aic as aic
from ._inference import bic as bic
from ._inference import covariance as covariance
from ._inference import lr_test as lr_test
from ._inference import param_labels as param_labels
from ._inference import stderr as stderr
from ._inference import summary as summary
from ._inference import sweep_summary as sweep_summary
from ._inference import wald as wald
from ._information import expected_information as expected_information
from ._information import loglik as loglik
from ._information import observed_information as observed_information
from ._information import scores as scores

__all__ = [
    "COV_TYPES",
    "STATIONARY_TOL",
    "STATUS",
    "LRTest",
    "Summary",
    "Wald",
    "aic",
    "bic",
    "covariance",
    "expected_information",
    "loglik",
    "lr_test",
    "observed_information",
    "param_labels",
    "scores",
    "stderr",
    "summary",
    "sweep_summary",
    "wald",
]
