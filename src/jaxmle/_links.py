"""GLM link functions ``η = g(μ)``: pure JAX, statsmodels' names and conventions.

Links are small frozen dataclasses and hashable static settings: equal settings compare and
hash equal, so compiled programs are reused. :mod:`jaxmle._families` builds the families on
them (and re-exports them, as :mod:`jaxmle.families` does).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
from jax.scipy import special

from ._errors import InputError

__all__ = ["CLogLog", "Identity", "Link", "Log", "Logit", "Power", "Probit", "as_link"]

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)

class Link:
    """Base class of the links ``η = g(μ)``: :meth:`link`, :meth:`inverse`, :meth:`deriv_inverse`.

    Links are frozen dataclasses: equal settings compare and hash equal.
    """

    name: ClassVar[str] = "link"

    def link(self, mu: jax.Array) -> jax.Array:
        """The linear predictor ``η = g(μ)``.

        Args:
            mu: the mean.

        Returns:
            ``g(μ)``, elementwise.
        """
        raise NotImplementedError

    def inverse(self, eta: jax.Array) -> jax.Array:
        """The mean ``μ = g⁻¹(η)``.

        Args:
            eta: the linear predictor.

        Returns:
            ``g⁻¹(η)``, elementwise.
        """
        raise NotImplementedError

    def deriv_inverse(self, eta: jax.Array) -> jax.Array:
        """``dμ/dη`` at ``η``.

        Args:
            eta: the linear predictor.

        Returns:
            ``(g⁻¹)'(η)``, elementwise.
        """
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


@dataclass(frozen=True, repr=False)
class Identity(Link):
    """``η = μ``.

    Example:
        >>> Identity().inverse(2.0)
        2.0
    """

    name: ClassVar[str] = "identity"

    def link(self, mu: jax.Array) -> jax.Array:
        """``μ``; see :meth:`Link.link`."""
        return mu

    def inverse(self, eta: jax.Array) -> jax.Array:
        """``η``; see :meth:`Link.inverse`."""
        return eta

    def deriv_inverse(self, eta: jax.Array) -> jax.Array:
        """``1``; see :meth:`Link.deriv_inverse`."""
        return jnp.ones_like(eta)


@dataclass(frozen=True, repr=False)
class Log(Link):
    """``η = log μ``.

    Example:
        >>> float(Log().inverse(0.0))
        1.0
    """

    name: ClassVar[str] = "log"

    def link(self, mu: jax.Array) -> jax.Array:
        """``log μ``; see :meth:`Link.link`."""
        return jnp.log(mu)

    def inverse(self, eta: jax.Array) -> jax.Array:
        """``exp η``; see :meth:`Link.inverse`."""
        return jnp.exp(eta)

    def deriv_inverse(self, eta: jax.Array) -> jax.Array:
        """``exp η``; see :meth:`Link.deriv_inverse`."""
        return jnp.exp(eta)


@dataclass(frozen=True, repr=False)
class Logit(Link):
    """``η = log(μ / (1 − μ))``, inverse the logistic sigmoid.

    Example:
        >>> float(Logit().inverse(0.0))
        0.5
    """

    name: ClassVar[str] = "logit"

    def link(self, mu: jax.Array) -> jax.Array:
        """``log μ − log1p(−μ)``; see :meth:`Link.link`."""
        return jnp.log(mu) - jnp.log1p(-mu)

    def inverse(self, eta: jax.Array) -> jax.Array:
        """``sigmoid(η)``; see :meth:`Link.inverse`."""
        return jax.nn.sigmoid(eta)

    def deriv_inverse(self, eta: jax.Array) -> jax.Array:
        """``sigmoid(η) sigmoid(−η)`` (no cancellation for large ``|η|``)."""
        return jax.nn.sigmoid(eta) * jax.nn.sigmoid(-eta)


@dataclass(frozen=True, repr=False)
class Probit(Link):
    """``η = Φ⁻¹(μ)``, the standard normal quantile.

    Example:
        >>> float(Probit().inverse(0.0))
        0.5
    """

    name: ClassVar[str] = "probit"

    def link(self, mu: jax.Array) -> jax.Array:
        """``Φ⁻¹(μ)``; see :meth:`Link.link`."""
        return special.ndtri(mu)

    def inverse(self, eta: jax.Array) -> jax.Array:
        """``Φ(η)``; see :meth:`Link.inverse`."""
        return special.ndtr(eta)

    def deriv_inverse(self, eta: jax.Array) -> jax.Array:
        """``φ(η)``, the standard normal density; see :meth:`Link.deriv_inverse`."""
        return _INV_SQRT_2PI * jnp.exp(-0.5 * eta * eta)


@dataclass(frozen=True, repr=False)
class CLogLog(Link):
    """``η = log(−log(1 − μ))``, the complementary log-log link.

    Example:
        >>> round(float(CLogLog().inverse(0.0)), 6)
        0.632121
    """

    name: ClassVar[str] = "cloglog"

    def link(self, mu: jax.Array) -> jax.Array:
        """``log(−log1p(−μ))``; see :meth:`Link.link`."""
        return jnp.log(-jnp.log1p(-mu))

    def inverse(self, eta: jax.Array) -> jax.Array:
        """``−expm1(−exp η)``; see :meth:`Link.inverse`."""
        return -jnp.expm1(-jnp.exp(eta))

    def deriv_inverse(self, eta: jax.Array) -> jax.Array:
        """``exp(η − exp η)``; see :meth:`Link.deriv_inverse`."""
        return jnp.exp(eta - jnp.exp(eta))


_POWER_NAMES = {-1.0: "inverse", -2.0: "inverse_squared", 0.5: "sqrt"}


@dataclass(frozen=True, repr=False)
class Power(Link):
    """``η = μ^power``: ``power=-1`` is the inverse link, ``-2`` inverse squared, ``0.5`` sqrt.

    Args:
        power: the exponent (nonzero; 1 is :class:`Identity`).

    Example:
        >>> Power(-1).name, float(Power(-1).inverse(4.0))
        ('inverse', 0.25)
    """

    power: float = 1.0

    def __post_init__(self) -> None:
        p = float(self.power)
        if not math.isfinite(p) or p == 0.0:
            raise InputError(f"`power` of a Power link must be finite and nonzero; got {p}.")
        object.__setattr__(self, "power", p)

    @property
    def name(self) -> str:  # type: ignore[override]
        """``"inverse"``, ``"inverse_squared"``, ``"sqrt"`` or ``"power(p)"``."""
        return _POWER_NAMES.get(self.power, f"power({self.power:g})")

    def link(self, mu: jax.Array) -> jax.Array:
        """``μ^power``; see :meth:`Link.link`."""
        return jnp.power(mu, self.power)

    def inverse(self, eta: jax.Array) -> jax.Array:
        """``η^(1/power)``; see :meth:`Link.inverse`."""
        if self.power == -1.0:
            return 1.0 / eta
        if self.power == 0.5:
            return eta * eta
        return jnp.power(eta, 1.0 / self.power)

    def deriv_inverse(self, eta: jax.Array) -> jax.Array:
        """``η^(1/power − 1) / power``; see :meth:`Link.deriv_inverse`."""
        if self.power == -1.0:
            return -1.0 / (eta * eta)
        if self.power == 0.5:
            return 2.0 * eta
        return jnp.power(eta, 1.0 / self.power - 1.0) / self.power

    def __repr__(self) -> str:
        return f"Power({self.power:g})"


_LINKS: dict[str, Link] = {
    "identity": Identity(),
    "log": Log(),
    "logit": Logit(),
    "probit": Probit(),
    "cloglog": CLogLog(),
    "inverse": Power(-1.0),
    "inverse_power": Power(-1.0),
    "inverse_squared": Power(-2.0),
    "sqrt": Power(0.5),
}


def as_link(link: Any, allowed: tuple[str, ...] | None = None, family: str = "") -> Link:
    """A link object from a name (``"probit"``) or a link object, checked against ``allowed``.

    Args:
        link: a name in ``identity, log, logit, probit, cloglog, inverse, inverse_squared,
            sqrt`` or a :class:`Link`.
        allowed: the names the family accepts (None: any).
        family: the family's name, for the message.

    Returns:
        The :class:`Link`.

    Raises:
        InputError: for an unknown name or a link the family does not allow.

    Example:
        >>> as_link("inverse")
        Power(-1)
    """
    names = allowed if allowed is not None else tuple(k for k in _LINKS if k != "inverse_power")
    if isinstance(link, str):
        key = link.lower().replace("-", "_")
        if key not in _LINKS:
            raise InputError(
                f"`link` {link!r} is not a known link; pass one of {', '.join(names)} "
                "(or a link object such as jaxmle.families.Log())."
            )
        link = _LINKS[key]
    if isinstance(link, Power) and link.power == 1.0:
        link = Identity()
    if not isinstance(link, Link):
        raise InputError(
            f"`link` must be a link name such as 'log' or a link object; got {type(link).__name__}."
        )
    if allowed is not None and link.name not in allowed:
        raise InputError(
            f"`link` {link.name!r} is not supported for the {family} family; pass one of "
            f"{', '.join(allowed)}."
        )
    return link


