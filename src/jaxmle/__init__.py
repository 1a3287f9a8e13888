"""jaxmle: maximum-likelihood and MAP estimation in JAX.

Models are pure pointwise log-likelihoods of parameter pytrees (:mod:`jaxmle.models`); exact
estimators live in :mod:`jaxmle.closed_form`. :func:`ols` and :func:`glm` are the modelling front
end: formulas on DataFrames (formulaic), GLM families (:mod:`jaxmle.families`), named results
with statsmodels' post-estimation. ``import jaxmle`` never changes JAX's global
configuration: enable float64 yourself (``jax.config.update("jax_enable_x64", True)``) where
accuracy matters, and call :func:`enable_compilation_cache` to keep compiled programs on disk
for later processes.
"""

from importlib.metadata import PackageNotFoundError, version

from . import closed_form as closed_form
from . import data as data
from . import families as families
from . import inference as inference
from . import models as models
from ._cache import compilation_cache_dir as compilation_cache_dir
from ._cache import enable_compilation_cache as enable_compilation_cache
from ._check import CheckResult as CheckResult
from ._check import check as check
from ._errors import CheckpointMismatchError as CheckpointMismatchError
from ._errors import FileFormatError as FileFormatError
from ._errors import InputError as InputError
from ._errors import PrecisionWarning as PrecisionWarning
from ._errors import RankDeficientError as RankDeficientError
from ._fit import FitResult as FitResult
from ._fit import Trace as Trace
from ._fit import fit as fit
from ._glm_results import GLMResults as GLMResults
from ._glm_results import glm as glm
from ._mle import MLEResult as MLEResult
from ._mle import mle as mle
from ._montecarlo import MonteCarloResult as MonteCarloResult
from ._montecarlo import montecarlo as montecarlo
from ._ols_results import OLSResults as OLSResults
from ._ols_results import ols as ols
from ._status import Status as Status
from ._status import status_message as status_message
from ._sweep import SweepResult as SweepResult
from ._sweep import plan_batch_groups as plan_batch_groups
from ._sweep import sweep as sweep

try:
    __version__ = version("jaxmle")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"

__all__ = [
    "CheckResult",
    "CheckpointMismatchError",
    "FileFormatError",
    "FitResult",
    "GLMResults",
    "InputError",
    "MLEResult",
    "MonteCarloResult",
    "OLSResults",
    "PrecisionWarning",
    "RankDeficientError",
    "Status",
    "SweepResult",
    "Trace",
    "__version__",
    "check",
    "closed_form",
    "compilation_cache_dir",
    "data",
    "enable_compilation_cache",
    "families",
    "fit",
    "glm",
    "inference",
    "mle",
    "models",
    "montecarlo",
    "ols",
    "plan_batch_groups",
    "status_message",
    "sweep",
]
