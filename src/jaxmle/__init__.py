"""jaxmle: maximum-likelihood and MAP estimation in JAX.

Models are pure pointwise log-likelihoods of parameter pytrees (:mod:`jaxmle.models`); exact
estimators live in :mod:`jaxmle.closed_form`. ``import jaxmle`` never changes JAX's global
configuration: enable float64 yourself (``jax.config.update("jax_enable_x64", True)``) where
accuracy matters.
"""

from importlib.metadata import PackageNotFoundError, version

from . import closed_form as closed_form
from . import data as data
from . import models as models
from ._errors import InputError as InputError
from ._errors import RankDeficientError as RankDeficientError

try:
    __version__ = version("jaxmle")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"

__all__ = [
    "InputError",
    "RankDeficientError",
    "__version__",
    "closed_form",
    "data",
    "models",
]
