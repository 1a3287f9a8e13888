"""Models, priors and parameter constraints: ``jaxmle.models``.

A model is a pure pointwise log-likelihood ``log_prob(params, data) -> Array[n]`` bundled with
optional priors, a constraint per parameter, a default ``init`` and, where one exists, an exact
``closed_form`` estimator.
"""

from ._constraints import Constraint as Constraint
from ._constraints import positive as positive
from ._constraints import positive_definite as positive_definite
from ._constraints import real as real
from ._constraints import simplex as simplex
from ._constraints import unit_interval as unit_interval
from ._custom import CustomModel as CustomModel
from ._custom import custom as custom
from ._gaussian_models import Gaussian as Gaussian
from ._gaussian_models import MultivariateGaussian as MultivariateGaussian
from ._glm_model import GLM as GLM
from ._models import Bernoulli as Bernoulli
from ._models import LinearRegression as LinearRegression
from ._models import LogisticRegression as LogisticRegression
from ._models import Model as Model
from ._models import Poisson as Poisson
from ._nonlinear import NonlinearRegression as NonlinearRegression
from ._priors import Beta as Beta
from ._priors import Normal as Normal
from ._priors import Prior as Prior
from ._priors import Uniform as Uniform

__all__ = [
    "GLM",
    "Bernoulli",
    "Beta",
    "Constraint",
    "CustomModel",
    "Gaussian",
    "LinearRegression",
    "LogisticRegression",
    "Model",
    "MultivariateGaussian",
    "NonlinearRegression",
    "Normal",
    "Poisson",
    "Prior",
    "Uniform",
    "custom",
    "positive",
    "positive_definite",
    "real",
    "simplex",
    "unit_interval",
]
