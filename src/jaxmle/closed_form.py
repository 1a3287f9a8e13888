"""Closed-form (exact) estimators: jitted linear algebra, no explicit inverses.

Each function validates its inputs at the boundary and returns natural parameters with the
same structure as the matching model's params (see :mod:`jaxmle.models`). The ``*_kernel``
versions in the private modules skip validation for use inside ``jit``/``vmap``.
"""

from ._estimators import BetaPosterior as BetaPosterior
from ._estimators import bernoulli_map as bernoulli_map
from ._estimators import bernoulli_mle as bernoulli_mle
from ._estimators import beta_bernoulli_posterior as beta_bernoulli_posterior
from ._estimators import gaussian_mle as gaussian_mle
from ._estimators import mvn_mle as mvn_mle
from ._estimators import poisson_mle as poisson_mle
from ._estimators import posterior_predictive as posterior_predictive
from ._estimators import sample_sd as sample_sd
from ._estimators import variance_mle as variance_mle
from ._estimators import variance_unbiased as variance_unbiased
from ._ols import LstsqSolution as LstsqSolution
from ._ols import OLSResult as OLSResult
from ._ols import intercept_by_centring as intercept_by_centring
from ._ols import lstsq as lstsq
from ._ols import ols as ols
from ._ols import polyfit as polyfit
from ._ols import ridge as ridge
from ._ols import wls as wls

__all__ = [
    "BetaPosterior",
    "LstsqSolution",
    "OLSResult",
    "bernoulli_map",
    "bernoulli_mle",
    "beta_bernoulli_posterior",
    "gaussian_mle",
    "intercept_by_centring",
    "lstsq",
    "mvn_mle",
    "ols",
    "poisson_mle",
    "polyfit",
    "posterior_predictive",
    "ridge",
    "sample_sd",
    "variance_mle",
    "variance_unbiased",
    "wls",
]
