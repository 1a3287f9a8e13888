"""GLM families: pure JAX, statsmodels' conventions (links and count pmfs in their modules).

:mod:`jaxmle._links` has the links, :mod:`jaxmle._logpmf` the count log-pmfs. A link maps
the mean ``μ`` to the linear predictor ``η = g(μ)``; a family gives the variance
function ``V(μ)``, the unit deviance, the pointwise log-likelihood, the starting mean and the
domain of the response. Both are small frozen dataclasses: links are hashable static settings
(equal settings compare and hash equal, so compiled programs are reused), families are pytrees
whose link is static and whose only leaf is the negative binomial's fixed ``alpha``.

Conventions follow ``statsmodels.genmod.families`` (statsmodels 0.15): the same variance
functions, unit deviances, log-likelihoods (Binomial with its binomial coefficient and trials,
Gaussian/Gamma/inverse Gaussian with the scale and ``var_weights``), starting means and default
links (Gamma's is the inverse link, the inverse Gaussian's the inverse squared).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy import special

from ._errors import InputError
from ._links import CLogLog, Identity, Link, Log, Logit, Power, Probit, as_link
from ._logpmf import bd0, log_factorial, nb2_logpmf, poisson_logpmf
from ._priors import _is_value

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
    "as_family",
    "as_link",
]

_LOG_2PI = math.log(2.0 * math.pi)


def _eps(x: jax.Array) -> jax.Array:
    return jnp.finfo(jnp.result_type(x, float)).eps


# --------------------------------------------------------------------------------------------
# Families.


class Family:
    """Base class of the GLM families (see the module docstring).

    Attributes:
        link: the :class:`Link` (a name is converted at construction).
    """

    link: Link
    name: ClassVar[str] = "family"
    links: ClassVar[tuple[str, ...]] = ()
    canonical_link: ClassVar[str] = ""
    has_dispersion: ClassVar[bool] = False
    """Whether the dispersion φ is estimated (Pearson χ²/df_resid); else it is 1."""
    safe_links: ClassVar[tuple[str, ...]] = ("log",)
    """Links whose inverse maps every η into the family's domain of means."""

    def __post_init__(self) -> None:
        link = self.link
        if link is None:  # statsmodels' link=None: the family's default
            link = type(self).__dataclass_fields__["link"].default
        object.__setattr__(self, "link", as_link(link, self.links, self.name))

    @property
    def canonical(self) -> bool:
        """Whether the link is the family's canonical link (observed = expected information)."""
        return self.link.name == self.canonical_link

    def variance(self, mu: jax.Array) -> jax.Array:
        """The variance function ``V(μ)`` (``Var y = φ V(μ) / var_weight``).

        Args:
            mu: the mean.

        Returns:
            ``V(μ)``, elementwise.
        """
        raise NotImplementedError

    def unit_deviance(self, y: jax.Array, mu: jax.Array) -> jax.Array:
        """Pointwise unit deviance ``d(y, μ)`` (statsmodels' ``_resid_dev``, per trial).

        Args:
            y: the response.
            mu: the mean.

        Returns:
            ``d(y, μ) ≥ 0``; the deviance is ``Σ freq·var·trials·d``.
        """
        raise NotImplementedError

    def deviance_kernel(self, y: jax.Array, mu: jax.Array) -> jax.Array:
        """The unit deviance less its part that depends on ``y`` only (cheaper to evaluate).

        Differences between two means are the unit deviance's; IRLS's step-halving compares
        these.

        Args:
            y: the response.
            mu: the mean.

        Returns:
            ``d(y, μ) − c(y)`` for some ``c``, elementwise.
        """
        return self.unit_deviance(y, mu)

    def loglike_obs(
        self,
        y: jax.Array,
        mu: jax.Array,
        var_weights: Any = 1.0,
        scale: Any = 1.0,
        trials: Any = 1.0,
    ) -> jax.Array:
        """Pointwise log-likelihood in statsmodels' GLM convention (``family.loglike_obs``).

        Args:
            y: the response (for Binomial the proportion of successes).
            mu: the mean.
            var_weights: variance (analytic) weights.
            scale: the dispersion φ.
            trials: Binomial's number of trials (ignored by the other families).

        Returns:
            The log-likelihood of each observation (not multiplied by frequency weights).
        """
        raise NotImplementedError

    def starting_mu(self, y: jax.Array) -> jax.Array:
        """The starting mean of statsmodels, ``(y + ȳ)/2`` (Binomial: ``(y + 1/2)/2``).

        Args:
            y: the response.

        Returns:
            The starting mean of each observation.
        """
        # An all-zero response (a Poisson or NB MLE at η = −∞) would start at μ = 0, η = −∞,
        # and end NONFINITE: it starts at μ = 1 and ends FLAT_DIRECTION, as Binomial's does.
        return jnp.where(jnp.all(y == 0), 1.0, 0.5 * (y + jnp.mean(y)))

    def valid_mu(self, mu: jax.Array) -> jax.Array:
        """Whether every mean is inside the family's domain (traced; used by step-halving).

        Args:
            mu: the mean.

        Returns:
            A boolean scalar (True, statically, where the link maps into the domain).
        """
        if self.link.name in self.safe_links:
            return True
        return jnp.all(mu > 0)

    def check_y(self, y: Any, name: str = "y") -> None:
        """Raises :class:`InputError` unless concrete ``y`` is in the family's domain.

        Args:
            y: the response (a concrete array; tracers are skipped by the caller).
            name: the argument's name for the message.
        """

    def working(self, eta: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
        """``(μ, μ'/V, μ'²/V, V)`` at ``η``: IRLS's mean, score factor, weight and variance.

        Args:
            eta: the linear predictor.

        Returns:
            The four arrays; the score is ``Xᵀ(w·(y − μ)·μ'/V)`` and the weights ``w·μ'²/V``
            for prior weights ``w``.
        """
        mu = self.link.inverse(eta)
        d = self.link.deriv_inverse(eta)
        v = self.variance(mu)
        s = d / v
        return mu, s, d * s, v

    def irls_terms(self, y: jax.Array, eta: jax.Array) -> tuple[jax.Array, ...]:
        """:meth:`working` and :meth:`deviance_kernel` at ``η`` in one pass (IRLS's terms).

        Families with a canonical link override it with fewer transcendental functions
        (each costs XLA:CPU compile time and, at a million rows, run time).

        Args:
            y: the response.
            eta: the linear predictor.

        Returns:
            ``(μ, μ'/V, μ'²/V, V, deviance kernel)``.
        """
        mu, s, wu, v = self.working(eta)
        return mu, s, wu, v, self.deviance_kernel(y, mu)

    def __repr__(self) -> str:
        return f"{self.name}(link={self.link.name!r})"


def _positive_y(y: Any, name: str, family: str) -> None:
    v = np.asarray(y)
    if (v > 0).all():
        return
    bad = ~(v > 0)
    if bad.any():
        raise InputError(
            f"`{name}` must be positive for the {family} family; found {v[bad].ravel()[0]!r} "
            f"among {int(bad.sum())} invalid value(s). Drop those rows or use another family."
        )


def _nonnegative_y(y: Any, name: str, family: str) -> None:
    v = np.asarray(y)
    if (v >= 0).all():
        return
    bad = ~(v >= 0)
    if bad.any():
        raise InputError(
            f"`{name}` must be non-negative counts for the {family} family; found "
            f"{v[bad].ravel()[0]!r} among {int(bad.sum())} invalid value(s)."
        )


@jax.tree_util.register_dataclass
@dataclass(frozen=True, repr=False)
class Gaussian(Family):
    """Gaussian family, ``V(μ) = 1``; links identity (default), log, inverse.

    Args:
        link: the link (name or object).

    Example:
        >>> Gaussian()
        Gaussian(link='identity')
    """

    link: Any = field(default="identity", metadata={"static": True})
    name: ClassVar[str] = "Gaussian"
    links: ClassVar[tuple[str, ...]] = ("identity", "log", "inverse")
    canonical_link: ClassVar[str] = "identity"
    has_dispersion: ClassVar[bool] = True

    def variance(self, mu: jax.Array) -> jax.Array:
        """``1``; see :meth:`Family.variance`."""
        return jnp.ones_like(mu)

    def unit_deviance(self, y: jax.Array, mu: jax.Array) -> jax.Array:
        """``(y − μ)²``; see :meth:`Family.unit_deviance`."""
        return (y - mu) ** 2

    def loglike_obs(self, y, mu, var_weights=1.0, scale=1.0, trials=1.0) -> jax.Array:
        """``−½(w(y − μ)²/φ + log(φ/w) + log 2π)``; see :meth:`Family.loglike_obs`."""
        return -0.5 * (var_weights * (y - mu) ** 2 / scale + jnp.log(scale / var_weights)
                       + _LOG_2PI)  # fmt: skip

    def valid_mu(self, mu: jax.Array) -> jax.Array:
        """Any mean (a non-finite one makes the deviance non-finite); see ``Family.valid_mu``."""
        return True

    def working(self, eta: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
        """``(μ, μ', μ'², 1)``; see :meth:`Family.working`."""
        mu = self.link.inverse(eta)
        d = self.link.deriv_inverse(eta)
        return mu, d, d * d, jnp.ones_like(mu)


@jax.tree_util.register_dataclass
@dataclass(frozen=True, repr=False)
class Binomial(Family):
    """Binomial family for proportions ``y ∈ [0, 1]`` of ``trials``; ``V(μ) = μ(1 − μ)``.

    Links logit (default), probit, cloglog, log. With trials ``n_i`` the log-likelihood,
    deviance and weights are those of ``n_i y_i`` successes in ``n_i`` trials (statsmodels'
    two-column response).

    Args:
        link: the link (name or object).

    Example:
        >>> Binomial(link="probit")
        Binomial(link='probit')
    """

    link: Any = field(default="logit", metadata={"static": True})
    name: ClassVar[str] = "Binomial"
    safe_links: ClassVar[tuple[str, ...]] = ("logit", "probit", "cloglog")
    links: ClassVar[tuple[str, ...]] = ("logit", "probit", "cloglog", "log")
    canonical_link: ClassVar[str] = "logit"

    def variance(self, mu: jax.Array) -> jax.Array:
        """``p(1 − p)`` with ``p`` clipped to ``[ε, 1 − ε]`` as statsmodels does."""
        e = _eps(mu)
        p = jnp.clip(mu, e, 1.0 - e)
        return p * (1.0 - p)

    def unit_deviance(self, y: jax.Array, mu: jax.Array) -> jax.Array:
        """``2(y log(y/μ) + (1 − y) log((1 − y)/(1 − μ)))``; see :meth:`Family.unit_deviance`."""
        return 2.0 * (bd0(y, mu) + bd0(1.0 - y, 1.0 - mu))  # (the linear parts cancel)

    def deviance_kernel(self, y: jax.Array, mu: jax.Array) -> jax.Array:
        """``−2(y log μ + (1 − y) log(1 − μ))``; see :meth:`Family.deviance_kernel`."""
        return -2.0 * (special.xlogy(y, mu) + special.xlog1py(1.0 - y, -mu))

    def loglike_obs(self, y, mu, var_weights=1.0, scale=1.0, trials=1.0) -> jax.Array:
        """``log C(n, ny) + ny log μ + n(1 − y) log(1 − μ)``, times ``var_weights``."""
        k = y * trials
        coef = log_factorial(trials) - log_factorial(k)
        coef = coef - log_factorial(trials - k)
        return (coef + special.xlogy(k, mu) + special.xlog1py(trials - k, -mu)) * var_weights

    def starting_mu(self, y: jax.Array) -> jax.Array:
        """``(y + 1/2)/2``; see :meth:`Family.starting_mu`."""
        return 0.5 * (y + 0.5)

    def valid_mu(self, mu: jax.Array) -> jax.Array:
        """``0 ≤ μ ≤ 1``; see :meth:`Family.valid_mu`."""
        if self.link.name in self.safe_links:
            return True
        return jnp.all((mu >= 0) & (mu <= 1))

    def check_y(self, y: Any, name: str = "y") -> None:
        """``y`` in ``[0, 1]`` (proportions; counts go in as ``y/trials`` with ``trials``)."""
        v = np.asarray(y)
        if v.min() >= 0 and v.max() <= 1:
            return
        bad = ~((v >= 0) & (v <= 1))
        if bad.any():
            raise InputError(
                f"`{name}` must be proportions in [0, 1] for the Binomial family; found "
                f"{v[bad].ravel()[0]!r} among {int(bad.sum())} invalid value(s). For k successes "
                "out of n trials, give successes and failures as a two-column response "
                "(jaxmle.glm('k + failures ~ x', ...), or an (n, 2) array), or, in "
                "jaxmle.irls, y=k/n with trials=n."
            )

    def working(self, eta: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
        """Exact weights for the logit link (``μ' = V``); see :meth:`Family.working`."""
        if self.link.name != "logit":
            return super().working(eta)
        mu = jax.nn.sigmoid(eta)
        d = mu * jax.nn.sigmoid(-eta)
        return mu, jnp.ones_like(mu), d, d

    def irls_terms(self, y: jax.Array, eta: jax.Array) -> tuple[jax.Array, ...]:
        """The logit link's terms from one ``exp(−|η|)``; see :meth:`Family.irls_terms`.

        ``μ = σ(η)``, ``1 − μ = σ(−η)`` and ``−log μ = log1p(e^{−|η|}) + max(−η, 0)``, so the
        kernel ``−2(y log μ + (1 − y) log(1 − μ)) = 2(log(1 + e^{−η}) + (1 − y)η)``.
        """
        if self.link.name != "logit":
            return super().irls_terms(y, eta)
        e = jnp.exp(-jnp.abs(eta))
        inv = 1.0 / (1.0 + e)
        big, small = inv, e * inv  # σ(|η|), σ(−|η|)
        pos = eta >= 0
        mu = jnp.where(pos, big, small)
        d = big * small
        kernel = 2.0 * (jnp.log1p(e) + jnp.maximum(-eta, 0.0) + (1.0 - y) * eta)
        return mu, jnp.ones_like(mu), d, d, kernel


@jax.tree_util.register_dataclass
@dataclass(frozen=True, repr=False)
class Poisson(Family):
    """Poisson family for counts ``y ≥ 0``, ``V(μ) = μ``; links log (default), identity, sqrt.

    Args:
        link: the link (name or object).

    Example:
        >>> Poisson()
        Poisson(link='log')
    """

    link: Any = field(default="log", metadata={"static": True})
    name: ClassVar[str] = "Poisson"
    links: ClassVar[tuple[str, ...]] = ("log", "identity", "sqrt")
    canonical_link: ClassVar[str] = "log"

    def variance(self, mu: jax.Array) -> jax.Array:
        """``μ``; see :meth:`Family.variance`."""
        return mu

    def unit_deviance(self, y: jax.Array, mu: jax.Array) -> jax.Array:
        """``2(y log(y/μ) − (y − μ))``; see :meth:`Family.unit_deviance`."""
        return 2.0 * bd0(y, mu)

    def deviance_kernel(self, y: jax.Array, mu: jax.Array) -> jax.Array:
        """``2(μ − y log μ)``; see :meth:`Family.deviance_kernel`."""
        return 2.0 * (mu - special.xlogy(y, mu))

    def loglike_obs(self, y, mu, var_weights=1.0, scale=1.0, trials=1.0) -> jax.Array:
        """``(w/φ)(y log μ − μ − log y!)`` by :func:`poisson_logpmf`; see ``Family.loglike_obs``."""
        return var_weights / scale * poisson_logpmf(y, mu)

    def check_y(self, y: Any, name: str = "y") -> None:
        """``y ≥ 0``; see :meth:`Family.check_y`."""
        _nonnegative_y(y, name, self.name)

    def working(self, eta: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
        """Exact weights for the log link (``μ' = V = μ``); see :meth:`Family.working`."""
        if self.link.name != "log":
            return super().working(eta)
        mu = jnp.exp(eta)
        return mu, jnp.ones_like(mu), mu, mu

    def irls_terms(self, y: jax.Array, eta: jax.Array) -> tuple[jax.Array, ...]:
        """The log link's terms, the kernel ``2(μ − yη)`` with no log; see ``irls_terms``."""
        if self.link.name != "log":
            return super().irls_terms(y, eta)
        mu = jnp.exp(eta)
        return mu, jnp.ones_like(mu), mu, mu, 2.0 * (mu - y * eta)


@jax.tree_util.register_dataclass
@dataclass(frozen=True, repr=False)
class Gamma(Family):
    """Gamma family for ``y > 0``, ``V(μ) = μ²``; links inverse (default), log, identity.

    Args:
        link: the link (name or object).

    Example:
        >>> Gamma()
        Gamma(link='inverse')
    """

    link: Any = field(default="inverse", metadata={"static": True})
    name: ClassVar[str] = "Gamma"
    links: ClassVar[tuple[str, ...]] = ("inverse", "log", "identity")
    canonical_link: ClassVar[str] = "inverse"
    has_dispersion: ClassVar[bool] = True

    def variance(self, mu: jax.Array) -> jax.Array:
        """``μ²``; see :meth:`Family.variance`."""
        return mu * mu

    def unit_deviance(self, y: jax.Array, mu: jax.Array) -> jax.Array:
        """``2((y − μ)/μ − log(y/μ))``; see :meth:`Family.unit_deviance`."""
        return 2.0 * bd0(mu, y) / mu  # = 2((y − μ)/μ − log(y/μ))

    def deviance_kernel(self, y: jax.Array, mu: jax.Array) -> jax.Array:
        """``2(y/μ + log μ)``; see :meth:`Family.deviance_kernel`."""
        return 2.0 * (y / mu + jnp.log(mu))

    def loglike_obs(self, y, mu, var_weights=1.0, scale=1.0, trials=1.0) -> jax.Array:
        """The Gamma log-density with shape ``w/φ``; see :meth:`Family.loglike_obs`."""
        r = jnp.maximum(y / mu, _eps(mu))  # statsmodels' _clean
        ws = var_weights / scale
        return ws * jnp.log(ws * r) - ws * r - special.gammaln(ws) - jnp.log(y)

    def check_y(self, y: Any, name: str = "y") -> None:
        """``y > 0``; see :meth:`Family.check_y`."""
        _positive_y(y, name, self.name)


@jax.tree_util.register_dataclass
@dataclass(frozen=True, repr=False)
class InverseGaussian(Family):
    """Inverse Gaussian family for ``y > 0``, ``V(μ) = μ³``.

    Links inverse_squared (default), inverse, log, identity.

    Args:
        link: the link (name or object).

    Example:
        >>> InverseGaussian()
        InverseGaussian(link='inverse_squared')
    """

    link: Any = field(default="inverse_squared", metadata={"static": True})
    name: ClassVar[str] = "InverseGaussian"
    links: ClassVar[tuple[str, ...]] = ("inverse_squared", "inverse", "log", "identity")
    canonical_link: ClassVar[str] = "inverse_squared"
    has_dispersion: ClassVar[bool] = True

    def variance(self, mu: jax.Array) -> jax.Array:
        """``μ³``; see :meth:`Family.variance`."""
        return mu * mu * mu

    def unit_deviance(self, y: jax.Array, mu: jax.Array) -> jax.Array:
        """``(y − μ)²/(y μ²)``; see :meth:`Family.unit_deviance`."""
        return (y - mu) ** 2 / (y * mu * mu)

    def deviance_kernel(self, y: jax.Array, mu: jax.Array) -> jax.Array:
        """``y/μ² − 2/μ``; see :meth:`Family.deviance_kernel`."""
        return (y / mu - 2.0) / mu

    def loglike_obs(self, y, mu, var_weights=1.0, scale=1.0, trials=1.0) -> jax.Array:
        """``−½(w(y − μ)²/(φyμ²) + log(φy³/w) + log 2π)``; see :meth:`Family.loglike_obs`."""
        return -0.5 * (var_weights * (y - mu) ** 2 / (scale * y * mu * mu)
                       + jnp.log(scale * y**3 / var_weights) + _LOG_2PI)  # fmt: skip

    def check_y(self, y: Any, name: str = "y") -> None:
        """``y > 0``; see :meth:`Family.check_y`."""
        _positive_y(y, name, self.name)


@jax.tree_util.register_dataclass
@dataclass(frozen=True, repr=False)
class NegativeBinomial(Family):
    """Negative binomial (NB2) family for counts, ``V(μ) = μ + αμ²``; links log, identity, sqrt.

    Args:
        link: the link (name or object).
        alpha: the dispersion α > 0, fixed as in statsmodels' GLM family; None (the default)
            estimates it jointly with the coefficients (statsmodels'
            ``discrete.NegativeBinomial``, ``loglike_method='nb2'``).

    Example:
        >>> NegativeBinomial(alpha=0.5)
        NegativeBinomial(link='log', alpha=0.5)
    """

    link: Any = field(default="log", metadata={"static": True})
    alpha: Any = None
    name: ClassVar[str] = "NegativeBinomial"
    links: ClassVar[tuple[str, ...]] = ("log", "identity", "sqrt")
    canonical_link: ClassVar[str] = "nb"  # log(αμ/(1 + αμ)), not offered: never canonical

    def __post_init__(self) -> None:
        super().__post_init__()
        a = self.alpha
        if isinstance(a, bool):
            raise InputError(f"`alpha` must be a positive number or None; got {a!r}.")
        if isinstance(a, int | np.integer | np.floating):
            a = float(a)
        if _is_value(a):
            v = np.asarray(a, dtype=float)
            if v.ndim or not np.isfinite(v) or v <= 0:
                raise InputError(
                    f"`alpha` must be a positive, finite scalar (or None to estimate it); "
                    f"got {a!r}."
                )
        object.__setattr__(self, "alpha", a)

    def variance(self, mu: jax.Array) -> jax.Array:
        """``μ + αμ²`` (μ clipped at ε as statsmodels does)."""
        p = jnp.maximum(mu, _eps(mu))
        return p + self.alpha * p * p

    def unit_deviance(self, y: jax.Array, mu: jax.Array) -> jax.Array:
        """``2(y log(y/μ) − (y + 1/α) log((y + 1/α)/(μ + 1/α)))``."""
        r = 1.0 / self.alpha
        return 2.0 * (bd0(y, mu) - bd0(y + r, mu + r))  # (the linear parts cancel)

    def deviance_kernel(self, y: jax.Array, mu: jax.Array) -> jax.Array:
        """``2((y + 1/α) log(1 + αμ) − y log μ)``; see :meth:`Family.deviance_kernel`."""
        return 2.0 * ((y + 1.0 / self.alpha) * jnp.log1p(self.alpha * mu) - special.xlogy(y, mu))

    def loglike_obs(self, y, mu, var_weights=1.0, scale=1.0, trials=1.0) -> jax.Array:
        """NB2 log-pmf (:func:`nb2_logpmf`), times ``var_weights/scale``."""
        return var_weights / scale * nb2_logpmf(y, mu, self.alpha)

    def check_y(self, y: Any, name: str = "y") -> None:
        """``y ≥ 0``; see :meth:`Family.check_y`."""
        _nonnegative_y(y, name, self.name)

    def __repr__(self) -> str:
        a = "None" if self.alpha is None else (f"{self.alpha:g}" if isinstance(
            self.alpha, float) else "<array>")  # fmt: skip
        return f"{self.name}(link={self.link.name!r}, alpha={a})"


_FAMILIES = {
    "gaussian": Gaussian,
    "binomial": Binomial,
    "poisson": Poisson,
    "gamma": Gamma,
    "inverse_gaussian": InverseGaussian,
    "negative_binomial": NegativeBinomial,
}


def as_family(family: Any, name: str = "family") -> Family:
    """A family object from a family instance or a name (``"poisson"``, default link).

    Args:
        family: a :class:`Family` or one of ``gaussian, binomial, poisson, gamma,
            inverse_gaussian, negative_binomial``.
        name: the argument's name for the message.

    Returns:
        The :class:`Family`.

    Raises:
        InputError: for anything else.

    Example:
        >>> as_family("gamma")
        Gamma(link='inverse')
    """
    if isinstance(family, Family):
        return family
    if isinstance(family, str) and family.lower() in _FAMILIES:
        return _FAMILIES[family.lower()]()
    if isinstance(family, type) and issubclass(family, Family):
        raise InputError(f"`{name}` must be a family instance; call it: {family.__name__}().")
    raise InputError(
        f"`{name}` must be a GLM family such as jaxmle.families.Poisson() or one of "
        f"{', '.join(_FAMILIES)}; got {family!r}."
    )
