"""GLM families and link functions (statsmodels' conventions).

Families: :class:`Gaussian`, :class:`Binomial`, :class:`Poisson`, :class:`Gamma`,
:class:`InverseGaussian`, :class:`NegativeBinomial` (NB2; ``alpha=None`` estimates α). Links:
:class:`Identity`, :class:`Log`, :class:`Logit`, :class:`Probit`, :class:`CLogLog` and
:class:`Power` (``Power(-1)`` is the inverse link, ``Power(-2)`` inverse squared,
``Power(0.5)`` sqrt); a family also takes a link by name, e.g. ``Binomial(link="probit")``.

Example:
    >>> from jaxmle.families import Binomial, Probit
    >>> Binomial(link="probit") == Binomial(link=Probit())
    True
"""

from ._families import Binomial as Binomial
from ._families import CLogLog as CLogLog
from ._families import Family as Family
from ._families import Gamma as Gamma
from ._families import Gaussian as Gaussian
from ._families import Identity as Identity
from ._families import InverseGaussian as InverseGaussian
from ._families import Link as Link
from ._families import Log as Log
from ._families import Logit as Logit
from ._families import NegativeBinomial as NegativeBinomial
from ._families import Poisson as Poisson
from ._families import Power as Power
from ._families import Probit as Probit

__all__ = [
    "Binomial",
    "CLogLog",
    "Family",
    "Gamma",
    "Gaussian",
    "Identity",
    "InverseGaussian",
    "Link",
    "Log",
    "Logit",
    "NegativeBinomial",
    "Poisson",
    "Power",
    "Probit",
]
