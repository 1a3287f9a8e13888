"""A table of hard estimation problems with known optima, for parametrised tests.

In the style of optimistix's ``tests/helpers.py``: one table of problems with their optima,
over which tests parametrise solvers and starts. No tests live here.

Least squares (``LSQ_PROBLEMS``): problems from Moré, Garbow & Hillstrom (1981), "Testing
unconstrained optimization software", ACM TOMS 7(1), 17–41, written as regressions
``y = f(θ, x) + ε`` (``mean(θ, x)``, data ``x``, ``y``; residuals ``y − mean``). Where MGH's
problem has no data (Rosenbrock, Powell singular, ...), ``y`` is zero and ``mean`` is minus
MGH's residual vector, so the sum of squares is MGH's ``f``. Each problem lists its standard
start ``x0`` (and ``10x0``/``100x0`` where a Levenberg–Marquardt solve from there reaches a
tabulated minimum) and its minima, computed to ≥ 25 digits in mpmath (Gauss–Newton / Newton
polishing at 60 digits from a float64 solution) by ``tests/_make_problems.py``, which
regenerates the ``_OPTIMA`` block below (``python tests/_make_problems.py --write``). The
regression standard errors ``s²(JᵀJ)⁻¹``, ``s² = RSS/(m − n)``, are there too where they exist
(RSS > 0, m > n, J of full rank). ``mgh_f`` is the minimum as MGH print it (6 digits), a check
on the transcription of the data.

Special cases, kept on purpose:

- Freudenstein–Roth from ``x0`` converges to the *local* minimum ``f = 48.98...`` (a genuine
  stationary point with positive-definite Hessian; the global ``f = 0`` is at (5, 4)). Its
  Jacobian is singular there (``Jᵀr = 0`` with ``r ≠ 0`` and J square), and m = n, so no
  regression covariance exists.
- Powell singular: the Jacobian is singular at the optimum (the origin), so no covariance
  exists and convergence is only linear.
- Jennrich–Sampson: the minimum has θ1 = θ2, where the two Jacobian columns coincide
  (J rank 1): the Hessian of the sum of squares is positive definite, ``s²(JᵀJ)⁻¹`` does not
  exist.
- Box 3-D: zero residual at (1, 10, 1), but also on the whole line θ1 = θ2, θ3 = 0.

Likelihood problems (``LIKELIHOOD_PROBLEMS``): plain ``log_prob(params, data) -> (n,)`` with a
reference optimum and Hessian-based standard errors computed at test time (statsmodels or
scipy, kept small): logistic regression (statsmodels' spector data), Poisson regression and
negative binomial NB2 (simulated, fixed seed), and a two-parameter Weibull.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

# --------------------------------------------------------------------------- math namespace
# Each mean function is written once against a namespace M, so that the same expression runs
# in jax.numpy (the tests) and in mpmath (tests/_make_problems.py).


class _JnpMath:
    exp = staticmethod(jnp.exp)
    sin = staticmethod(jnp.sin)
    cos = staticmethod(jnp.cos)
    sqrt = staticmethod(jnp.sqrt)
    arctan = staticmethod(jnp.arctan)
    pi = math.pi

    @staticmethod
    def stack(xs):
        return jnp.stack([jnp.asarray(v) for v in xs])

    @staticmethod
    def concat(xs):
        return jnp.concatenate([jnp.atleast_1d(jnp.asarray(v)) for v in xs])

    @staticmethod
    def where(c, a, b):
        return jnp.where(c, a, b)

    @staticmethod
    def sum(a, axis=None):
        return jnp.sum(a, axis=axis)


JNP = _JnpMath()


class _NpMath:
    exp, sin, cos, sqrt, arctan, pi = np.exp, np.sin, np.cos, np.sqrt, np.arctan, math.pi

    @staticmethod
    def stack(xs):
        return np.stack([np.asarray(v) for v in xs])

    @staticmethod
    def concat(xs):
        return np.concatenate([np.atleast_1d(np.asarray(v)) for v in xs])

    @staticmethod
    def where(c, a, b):
        return np.where(c, a, b)

    @staticmethod
    def sum(a, axis=None):
        return np.sum(a, axis=axis)


NP = _NpMath()


@dataclass(frozen=True)
class Minimum:
    """A minimum of a least-squares problem (decimal strings, ≥ 25 significant digits)."""

    theta: tuple[str, ...]
    rss: str
    se: tuple[str, ...] | None = None  # regression s²(JᵀJ)⁻¹, s² = RSS/(m − n)
    se_obs: tuple[str, ...] | None = None  # Gaussian likelihood: inverse observed information
    kind: str = "global"  # "global", "local" (a stationary point that is not global)
    singular: bool = False  # Jacobian rank-deficient there: no regression covariance

    @property
    def theta_f64(self) -> np.ndarray:
        return np.array([float(v) for v in self.theta])

    @property
    def rss_f64(self) -> float:
        return float(self.rss)

    @property
    def se_f64(self) -> np.ndarray | None:
        return None if self.se is None else np.array([float(v) for v in self.se])

    @property
    def se_obs_f64(self) -> np.ndarray | None:
        return None if self.se_obs is None else np.array([float(v) for v in self.se_obs])


@dataclass(frozen=True)
class LSQProblem:
    """``y = mean(θ, x) + ε``: data, starts, and the minimum each start reaches."""

    name: str
    mgh: int  # problem number in Moré, Garbow & Hillstrom (1981)
    _mean: Callable  # _mean(theta, x, M) -> (m,)
    x_exact: tuple  # exact data (Fractions / ints), one entry or row per residual
    y_exact: tuple
    starts: dict[str, tuple[float, ...]]
    mgh_f: float  # MGH's printed minimum for the start "x0" (6 digits)
    notes: str = ""
    minima: dict[str, Minimum] = field(default_factory=dict)  # filled from _OPTIMA
    reaches: dict[str, str] = field(default_factory=dict)  # start -> key into minima

    @property
    def x(self) -> np.ndarray:
        return np.array(self.x_exact, dtype=float)

    @property
    def y(self) -> np.ndarray:
        return np.array(self.y_exact, dtype=float)

    @property
    def m(self) -> int:
        return len(self.y_exact)

    @property
    def n_params(self) -> int:
        return len(next(iter(self.starts.values())))

    @functools.cached_property
    def mean(self) -> Callable:
        """``f(θ, x)`` in jax.numpy (one function object per problem: compiled once)."""
        fn = self._mean

        def f(theta, x):
            return fn(theta, x, JNP)

        f.__name__ = f"mean_{self.name}"
        return f

    def residual(self, theta):
        return jnp.asarray(self.y) - self.mean(jnp.asarray(theta), jnp.asarray(self.x))

    def residual_np(self, theta) -> np.ndarray:
        """The residuals in numpy float64 (no JAX dispatch: for cheap checks)."""
        return self.y - self._mean(np.asarray(theta, dtype=float), self.x, NP)

    def data(self) -> dict[str, Any]:
        return {"x": jnp.asarray(self.x), "y": jnp.asarray(self.y)}

    def start(self, key: str) -> np.ndarray:
        return np.array(self.starts[key], dtype=float)

    def minimum_for(self, start_key: str) -> Minimum:
        return self.minima[self.reaches[start_key]]

    def cases(self) -> list[tuple[str, str]]:
        """(problem name, start key) for every start with a tabulated minimum."""
        return [(self.name, s) for s in self.starts if s in self.reaches]


# --------------------------------------------------------------------------- MGH problems

def _rosenbrock(t, x, M):  # MGH 1
    return -M.stack([10 * (t[1] - t[0] ** 2), 1 - t[0]])


def _freudenstein_roth(t, x, M):  # MGH 2
    return -M.stack([
        -13 + t[0] + ((5 - t[1]) * t[1] - 2) * t[1],
        -29 + t[0] + ((t[1] + 1) * t[1] - 14) * t[1],
    ])


def _helical_valley(t, x, M):  # MGH 7
    # θ(x1, x2) = arctan(x2/x1)/(2π), plus 1/2 when x1 < 0 (MGH's branch, not arctan2's)
    ang = M.arctan(t[1] / t[0]) / (2 * M.pi) + M.where(t[0] < 0, 0.5, 0.0)
    return -M.stack([10 * (t[2] - 10 * ang), 10 * (M.sqrt(t[0] ** 2 + t[1] ** 2) - 1), t[2]])


def _bard(t, x, M):  # MGH 8; x columns: u = i, v = 16 − i, w = min(u, v)
    u, v, w = x[..., 0], x[..., 1], x[..., 2]
    return t[0] + u / (v * t[1] + w * t[2])


def _meyer(t, x, M):  # MGH 10 (NIST's MGH10): x = t_i = 45 + 5i
    return t[0] * M.exp(t[1] / (x + t[2]))


def _box3d(t, x, M):  # MGH 12: x = t_i = 0.1 i, y = 0
    return -(M.exp(-x * t[0]) - M.exp(-x * t[1]) - t[2] * (M.exp(-x) - M.exp(-10 * x)))


def _powell_singular(t, x, M):  # MGH 13
    return -M.stack([
        t[0] + 10 * t[1],
        M.sqrt(5) * (t[2] - t[3]),
        (t[1] - 2 * t[2]) ** 2,
        M.sqrt(10) * (t[0] - t[3]) ** 2,
    ])


def _kowalik_osborne(t, x, M):  # MGH 15 (NIST's MGH09)
    return t[0] * (x**2 + x * t[1]) / (x**2 + x * t[2] + t[3])


def _brown_dennis(t, x, M):  # MGH 16: x = t_i = i/5, y = 0
    return -((t[0] + x * t[1] - M.exp(x)) ** 2 + (t[2] + t[3] * M.sin(x) - M.cos(x)) ** 2)


def _biggs_exp6(t, x, M):  # MGH 18: x = t_i = 0.1 i; y_i = e^-t − 5e^-10t + 3e^-4t (in y)
    return t[2] * M.exp(-x * t[0]) - t[3] * M.exp(-x * t[1]) + t[5] * M.exp(-x * t[4])


def _osborne1(t, x, M):  # MGH 17 (NIST's MGH17): x = t_i = 10(i − 1)
    return t[0] + t[1] * M.exp(-x * t[3]) + t[2] * M.exp(-x * t[4])


def _osborne2(t, x, M):  # MGH 19: x = t_i = (i − 1)/10
    return (t[0] * M.exp(-x * t[4]) + t[1] * M.exp(-((x - t[8]) ** 2) * t[5])
            + t[2] * M.exp(-((x - t[9]) ** 2) * t[6]) + t[3] * M.exp(-((x - t[10]) ** 2) * t[7]))


def _watson(t, x, M):  # MGH 20: rows 1..29 are t_i = i/29 (y = 1); rows 30, 31 extra terms
    ti = x[:29]
    k = len(t)
    s1 = sum((j - 1) * t[j - 1] * ti ** (j - 2) for j in range(2, k + 1))
    s2 = sum(t[j - 1] * ti ** (j - 1) for j in range(1, k + 1))
    return M.concat([s1 - s2**2, t[0], t[1] - t[0] ** 2])


def _jennrich_sampson(t, x, M):  # MGH 6: x = i, y = 2 + 2i
    return M.exp(x * t[0]) + M.exp(x * t[1])


def _beale(t, x, M):  # MGH 5: x = i, y = (1.5, 2.25, 2.625)
    return t[0] * (1 - t[1] ** x)


def _gaussian(t, x, M):  # MGH 9: x = t_i = (8 − i)/2
    return t[0] * M.exp(-t[1] * (x - t[2]) ** 2 / 2)


def _scaled(x0, *factors):
    out = {"x0": tuple(float(v) for v in x0)}
    for k in factors:
        out[f"{k}x0"] = tuple(float(k * v) for v in x0)
    return out


_BARD_Y = ("0.14 0.18 0.22 0.25 0.29 0.32 0.35 0.39 0.37 0.58 0.73 0.96 1.34 2.10 4.39")
_MEYER_Y = ("34780 28610 23650 19630 16370 13720 11540 9744 8261 7030 6005 5147 4427 3820 "
            "3307 2872")
_KO_Y = "0.1957 0.1947 0.1735 0.1600 0.0844 0.0627 0.0456 0.0342 0.0323 0.0235 0.0246"
_KO_U = "4 2 1 0.5 0.25 0.167 0.125 0.1 0.0833 0.0714 0.0625"
_OSB1_Y = ("0.844 0.908 0.932 0.936 0.925 0.908 0.881 0.850 0.818 0.784 0.751 0.718 0.685 "
           "0.658 0.628 0.603 0.580 0.558 0.538 0.522 0.506 0.490 0.478 0.467 0.457 0.448 "
           "0.438 0.431 0.424 0.420 0.414 0.411 0.406")
_OSB2_Y = ("1.366 1.191 1.112 1.013 0.991 0.885 0.831 0.847 0.786 0.725 0.746 0.679 0.608 "
           "0.655 0.616 0.606 0.602 0.626 0.651 0.724 0.649 0.649 0.694 0.644 0.624 0.661 "
           "0.612 0.558 0.533 0.495 0.500 0.423 0.395 0.375 0.372 0.391 0.396 0.405 0.428 "
           "0.429 0.523 0.562 0.607 0.653 0.672 0.708 0.633 0.668 0.645 0.632 0.591 0.559 "
           "0.597 0.625 0.739 0.710 0.729 0.720 0.636 0.581 0.428 0.292 0.162 0.098 0.054")
_GAUSS_Y = ("0.0009 0.0044 0.0175 0.0540 0.1295 0.2420 0.3521 0.3989 0.3521 0.2420 0.1295 "
            "0.0540 0.0175 0.0044 0.0009")


def _fr(s: str) -> tuple[Fraction, ...]:
    return tuple(Fraction(v) for v in s.split())


def _biggs_y(ts):
    # Exact data are defined through exp; kept as the float64 value of the defining formula
    # here and recomputed in high precision by _make_problems (see _EXACT_Y there).
    return tuple(math.exp(-t) - 5 * math.exp(-10 * t) + 3 * math.exp(-4 * t)
                 for t in (float(v) for v in ts))


_T_BIGGS = tuple(Fraction(i, 10) for i in range(1, 14))

_DEFS: list[LSQProblem] = [
    LSQProblem("rosenbrock", 1, _rosenbrock, (0, 1), (0, 0), _scaled((-1.2, 1.0), 10, 100),
               0.0),
    LSQProblem("freudenstein_roth", 2, _freudenstein_roth, (0, 1), (0, 0),
               _scaled((0.5, -2.0), 10), 48.9842,
               notes="x0 reaches the local minimum f = 48.9842; global f = 0 at (5, 4)"),
    LSQProblem("helical_valley", 7, _helical_valley, (0, 1, 2), (0, 0, 0),
               _scaled((-1.0, 0.0, 0.0), 10, 100), 0.0),
    LSQProblem("bard", 8, _bard,
               tuple((i, 16 - i, min(i, 16 - i)) for i in range(1, 16)), _fr(_BARD_Y),
               _scaled((1.0, 1.0, 1.0), 10, 100), 8.21487e-3,
               notes="a second 'minimum' f = 17.4286 at (0.8406, -inf, -inf)"),
    LSQProblem("meyer", 10, _meyer, tuple(45 + 5 * i for i in range(1, 17)), _fr(_MEYER_Y),
               _scaled((0.02, 4000.0, 250.0), 10, 100), 87.9458),
    LSQProblem("box3d", 12, _box3d, tuple(Fraction(i, 10) for i in range(1, 11)), (0,) * 10,
               _scaled((0.0, 10.0, 20.0), 10, 100), 0.0,
               notes="f = 0 at (1, 10, 1), (10, 1, -1) and on the line t1 = t2, t3 = 0"),
    LSQProblem("powell_singular", 13, _powell_singular, (0, 1, 2, 3), (0, 0, 0, 0),
               _scaled((3.0, -1.0, 0.0, 1.0), 10, 100), 0.0,
               notes="singular Jacobian at the optimum (the origin)"),
    LSQProblem("kowalik_osborne", 15, _kowalik_osborne, _fr(_KO_U), _fr(_KO_Y),
               _scaled((0.25, 0.39, 0.415, 0.39), 10, 100), 3.07505e-4),
    LSQProblem("brown_dennis", 16, _brown_dennis, tuple(Fraction(i, 5) for i in range(1, 21)),
               (0,) * 20, _scaled((25.0, 5.0, -5.0, -1.0), 10, 100), 85822.2),
    LSQProblem("biggs_exp6", 18, _biggs_exp6, _T_BIGGS, _biggs_y(_T_BIGGS),
               _scaled((1.0, 2.0, 1.0, 1.0, 1.0, 1.0), 10, 100), 0.0,
               notes="f = 0 at (1, 10, 1, 5, 4, 3), which LM reaches from x0 and 10x0; MGH's "
                     "other printed value, f = 5.65565e-3 (m = 13), is a local minimum"),
    LSQProblem("osborne1", 17, _osborne1, tuple(10 * i for i in range(33)), _fr(_OSB1_Y),
               _scaled((0.5, 1.5, -1.0, 0.01, 0.02), 10, 100), 5.46489e-5,
               notes="two equivalent minima: (t2, t4) and (t3, t5) swapped; 10x0 reaches "
                     "the swapped one"),
    LSQProblem("osborne2", 19, _osborne2, tuple(Fraction(i, 10) for i in range(65)),
               _fr(_OSB2_Y),
               _scaled((1.3, 0.65, 0.65, 0.7, 0.6, 3.0, 5.0, 7.0, 2.0, 4.5, 5.5), 10, 100),
               4.01377e-2),
    LSQProblem("watson6", 20, _watson, (*(Fraction(i, 29) for i in range(1, 30)), 0, 0),
               (1,) * 29 + (0, 1), {"x0": (0.0,) * 6}, 2.28767e-3),
    LSQProblem("watson9", 20, _watson, (*(Fraction(i, 29) for i in range(1, 30)), 0, 0),
               (1,) * 29 + (0, 1), {"x0": (0.0,) * 9}, 1.39976e-6),
    LSQProblem("jennrich_sampson", 6, _jennrich_sampson, tuple(range(1, 11)),
               tuple(2 + 2 * i for i in range(1, 11)), _scaled((0.3, 0.4), 10), 124.362,
               notes="minimum at t1 = t2: rank-1 Jacobian, no regression covariance"),
    LSQProblem("beale", 5, _beale, (1, 2, 3), _fr("1.5 2.25 2.625"), _scaled((1.0, 1.0), 10),
               0.0),
    LSQProblem("gaussian", 9, _gaussian, tuple(Fraction(8 - i, 2) for i in range(1, 16)),
               _fr(_GAUSS_Y), _scaled((0.4, 1.0, 0.0), 10, 100), 1.12793e-8),
]

# ---- BEGIN GENERATED by tests/_make_problems.py (do not edit by hand) ----
# fmt: off
_OPTIMA: dict[str, dict] = {'rosenbrock': {'minima': {'min': {'theta': ('1.0', '1.0'), 'rss': '0'}},
                'reaches': {'x0': 'min', '10x0': 'min', '100x0': 'min'}},
 'freudenstein_roth': {'minima': {'min': {'theta': ('11.4127789869020939272458265153',
                                                    '-0.896805253274476518188543371181'),
                                          'rss': '48.9842536792400211999899780597',
                                          'se_obs': ('7.71200332139725710134663880536',
                                                     '0.513595203415458487915463991035'),
                                          'singular': True,
                                          'kind': 'local'}},
                       'reaches': {'x0': 'min', '10x0': 'min'}},
 'helical_valley': {'minima': {'min': {'theta': ('1.0', '0', '0'), 'rss': '0'}},
                    'reaches': {'x0': 'min', '10x0': 'min', '100x0': 'min'}},
 'bard': {'minima': {'min': {'theta': ('0.08241055974978893241404446841',
                                       '1.13303609202972156205871841853',
                                       '2.34369517864253714014174961689'),
                             'rss': '0.00821487730657897475199921169867',
                             'se': ('0.0123741630085564058597148611395',
                                    '0.307899949577688724049267501095',
                                    '0.296277901830405063138022589082'),
                             'se_obs': ('0.0111069234931340661640190883156',
                                        '0.277147194231341709124783032813',
                                        '0.266682703612497463576468139926')}},
          'reaches': {'x0': 'min'}},
 'meyer': {'minima': {'min': {'theta': ('0.00560963647102805253525472665181',
                                        '6181.34634628637227937722570774',
                                        '345.223634624136495903600746659'),
                              'rss': '87.9458551708511208972086006671',
                              'se': ('1.56878924708875314228001174823e-4',
                                     '23.3090211068792838982265364265',
                                     '0.784861035076459223616804834054'),
                              'se_obs': ('1.41400087470864128249899563961e-4',
                                         '21.0091444580832766843468024072',
                                         '0.707418518261736563213065067062')}},
           'reaches': {'x0': 'min', '10x0': 'min', '100x0': 'min'}},
 'box3d': {'minima': {'min': {'theta': ('1.0', '10.0', '1.0'), 'rss': '0'}},
           'reaches': {'x0': 'min'}},
 'powell_singular': {'minima': {'min': {'theta': ('0', '0', '0', '0'),
                                        'rss': '0',
                                        'singular': True}},
                     'reaches': {'x0': 'min', '10x0': 'min', '100x0': 'min'}},
 'kowalik_osborne': {'minima': {'min': {'theta': ('0.192806934579037854437924874458',
                                                  '0.191282328734366958640630956456',
                                                  '0.123056506926320653003556709183',
                                                  '0.13606233068379483664678085416'),
                                        'rss': '3.07505603849237427406469737377e-4',
                                        'se': ('0.0114353122265542563693818647021',
                                               '0.196332209110162462081471729262',
                                               '0.0808420312317519525917918504365',
                                               '0.0900255423082373944649202111708'),
                                        'se_obs': ('0.0081244054562398600970793189838',
                                                   '0.123533619898403442728859033914',
                                                   '0.0634902305837109758699125391415',
                                                   '0.0562861648233135146791641540475')}},
                     'reaches': {'x0': 'min', '100x0': 'min'}},
 'brown_dennis': {'minima': {'min': {'theta': ('-11.5944399047621653826142186089',
                                               '13.2036300512072038213174624775',
                                               '-0.403439488176859519644197793814',
                                               '0.236778774455736299147115577818'),
                                     'rss': '85822.2016263563446606155957383',
                                     'se': ('4.0173794209237990015181643753',
                                            '1.23083326495036929472424065591',
                                            '28.0842528994793663810568649021',
                                            '39.7899518244761977255125059908'),
                                     'se_obs': ('1.82819593525574683607412013842',
                                                '0.684191401847041256650570907675',
                                                '1.5761797901768973240699288221',
                                                '2.54921690528014491232191547686')}},
                  'reaches': {'x0': 'min', '10x0': 'min', '100x0': 'min'}},
 'biggs_exp6': {'minima': {'min': {'theta': ('1.0', '10.0', '1.0', '5.0', '4.0', '3.0'),
                                   'rss': '0'}},
                'reaches': {'x0': 'min', '10x0': 'min'}},
 'osborne1': {'minima': {'min': {'theta': ('0.375410052106952042212425523322',
                                           '1.9358469127123673620116304392',
                                           '-1.46468713661342312390053138852',
                                           '0.0128675346400572887393178900738',
                                           '0.0221226996616726110650581528828'),
                                 'rss': '5.46489469748290641592164237796e-5',
                                 'se': ('0.00207231535514785545736348067446',
                                        '0.220316692224241803879584067676',
                                        '0.221757077387441421018330292492',
                                        '4.48613581142192881667276544631e-4',
                                        '8.9471996574510548106692533474e-4'),
                                 'se_obs': ('0.00192661223988381515484238593499',
                                            '0.205746935143433189676436963575',
                                            '0.207083100430771985981661469742',
                                            '4.18647921352687123381781822329e-4',
                                            '8.36017771609385732299021598029e-4')},
                         'min2': {'theta': ('0.375410052106952042212425523322',
                                            '-1.46468713661342312390053138852',
                                            '1.9358469127123673620116304392',
                                            '0.0221226996616726110650581528828',
                                            '0.0128675346400572887393178900738'),
                                  'rss': '5.46489469748290641592164237796e-5',
                                  'se': ('0.00207231535514785545736348067446',
                                         '0.221757077387441421018330292492',
                                         '0.220316692224241803879584067676',
                                         '8.9471996574510548106692533474e-4',
                                         '4.48613581142192881667276544631e-4'),
                                  'se_obs': ('0.00192661223988381515484238593499',
                                             '0.207083100430771985981661469742',
                                             '0.205746935143433189676436963575',
                                             '8.36017771609385732299021598029e-4',
                                             '4.18647921352687123381781822329e-4')}},
              'reaches': {'x0': 'min', '10x0': 'min2', '100x0': 'min'}},
 'osborne2': {'minima': {'min': {'theta': ('1.30997715462730053453176523112',
                                           '0.431553794602988915596568404346',
                                           '0.633661698960723995615479069531',
                                           '0.599430534785916302559348878052',
                                           '0.754183226328011276969514331477',
                                           '0.90428857985963365776797231854',
                                           '1.36581183523702852046574571771',
                                           '4.82369881722715558164454166203',
                                           '2.39868486613175455128052144934',
                                           '4.56887459766767158431092735873',
                                           '5.67534147058064118354096363838'),
                                 'rss': '0.0401377362935477376334212799769',
                                 'se': ('0.0184147618356806658868232607498',
                                        '0.0234734016752489702440740138783',
                                        '0.0131204809363844052522929163936',
                                        '0.0355921523710027837882422941637',
                                        '0.0515231711126867799150636617232',
                                        '0.136771689723563512795372429357',
                                        '0.183276233247517577808132552635',
                                        '0.47094880096995532636515381409',
                                        '0.0313281344989888416438513441059',
                                        '0.0288879745116017773780177833391',
                                        '0.0163499567582456317309171586504'),
                                 'se_obs': ('0.0169756931140476031073132615813',
                                            '0.0222874273492404235888860896702',
                                            '0.0121695026666177604918817343696',
                                            '0.0322977140157390593007079359924',
                                            '0.0500409599275682124690576814658',
                                            '0.135136878084956193547911287836',
                                            '0.165075874225491205300476298154',
                                            '0.413805269019589528594970820975',
                                            '0.0283613896763400993953588624917',
                                            '0.025888922007276446378167094715',
                                            '0.0148814010708856370722868221861')}},
              'reaches': {'x0': 'min'}},
 'watson6': {'minima': {'min': {'theta': ('-0.0157250864014584567661472877576',
                                          '1.0124348693691098570805284465',
                                          '-0.232991625956737684035924835114',
                                          '1.2604300877996083382726335486',
                                          '-1.51372892272227966676658101286',
                                          '0.992996432431134521835130246428'),
                                'rss': '0.00228767005355243624184452193548',
                                'se': ('0.00903391365146972077514199484014',
                                       '0.00727492525173260877519556899065',
                                       '0.0517473539699462877361057431521',
                                       '0.154989604435732757388944012647',
                                       '0.186395677185661502272072378114',
                                       '0.0859362295241331983092951560485'),
                                'se_obs': ('0.0076518382922095149041160010755',
                                           '0.0065272758436065967309122208916',
                                           '0.046426292988711038338026927994',
                                           '0.137761708116625381975994812366',
                                           '0.164686855668990792017044653761',
                                           '0.0750159473328047238596437521985')}},
             'reaches': {'x0': 'min'}},
 'watson9': {'minima': {'min': {'theta': ('-1.53070365213943421682358112221e-5',
                                          '0.999789703931948378735622545662',
                                          '0.0147639636935569586787657656753',
                                          '0.146342328299362230063089845916',
                                          '1.00082110300470923618173974557',
                                          '-2.61773114051901514909644021145',
                                          '4.10440316447885642013827652107',
                                          '-3.1436122785564422296328275333',
                                          '1.05262640801016689515132351331'),
                                'rss': '1.3997601380990199426224410918e-6',
                                'se': ('2.5221975750905588175257868296e-4',
                                       '2.37741899798907320786085965756e-4',
                                       '0.0048420938612987309255758631802',
                                       '0.0407548180115607120122757038094',
                                       '0.164600334212857618234661593705',
                                       '0.355792884662075119492477420598',
                                       '0.42263296658465315157790872974',
                                       '0.260139586706934464848704659154',
                                       '0.0648517296923816595626204186379'),
                                'se_obs': ('2.12455982210761411266308485049e-4',
                                           '2.00279423841633130555940886279e-4',
                                           '0.00407907399620634698493504877977',
                                           '0.034332751960724544213045147126',
                                           '0.138662857174627813028687501499',
                                           '0.299727452180700139944814491068',
                                           '0.35603473666086624605475370241',
                                           '0.219146802358642905370701902574',
                                           '0.0546323363245104385643585980433')}},
             'reaches': {'x0': 'min'}},
 'jennrich_sampson': {'minima': {'min': {'theta': ('0.257825213670364076852189175725',
                                                   '0.257825213670364076852189175725'),
                                         'rss': '124.362182355614853514985516824',
                                         'se_obs': ('0.05352475349466911196223170316',
                                                    '0.05352475349466911196223170316'),
                                         'singular': True}},
                      'reaches': {'x0': 'min'}},
 'beale': {'minima': {'min': {'theta': ('3.0', '0.5'), 'rss': '0'}}, 'reaches': {'x0': 'min'}},
 'gaussian': {'minima': {'min': {'theta': ('0.398956137838756680253973966569',
                                           '1.00001908448780569649779253372',
                                           '0'),
                                 'rss': '1.12793276961864803272224926728e-8',
                                 'se': ('1.99433540128283544563958100377e-5',
                                        '1.1544775694995797827894183861e-4',
                                        '5.7721384838948224825395487135e-5'),
                                 'se_obs': ('1.78373423564066248040432757988e-5',
                                            '1.03250308781001033976874599371e-4',
                                            '5.16275761021255925192153112747e-5')}},
              'reaches': {'x0': 'min', '10x0': 'min'}}}
# fmt: on
# ---- END GENERATED ----


def _build() -> dict[str, LSQProblem]:
    out = {}
    for p in _DEFS:
        gen = _OPTIMA.get(p.name, {})
        minima = {k: Minimum(**v) for k, v in gen.get("minima", {}).items()}
        reaches = dict(gen.get("reaches", {}))
        out[p.name] = LSQProblem(p.name, p.mgh, p._mean, p.x_exact, p.y_exact, p.starts,
                                 p.mgh_f, p.notes, minima, reaches)
    return out


LSQ_PROBLEMS: dict[str, LSQProblem] = _build()
LSQ_CASES: list[tuple[str, str]] = [c for p in LSQ_PROBLEMS.values() for c in p.cases()]


# --------------------------------------------------------------------------- likelihoods

@dataclass(frozen=True)
class Reference:
    """A reference optimum: natural-scale estimates and Hessian-based standard errors."""

    params: dict[str, np.ndarray]
    stderr: dict[str, np.ndarray]
    loglik: float
    source: str


@dataclass(frozen=True)
class LikelihoodProblem:
    """A plain ``log_prob(params, data) -> (n,)`` with a reference computed at test time."""

    name: str
    log_prob: Callable
    make_data: Callable[[], dict[str, np.ndarray]]
    params0: Callable[[dict], dict[str, Any]]
    make_reference: Callable[[dict], Reference]
    notes: str = ""

    @functools.cached_property
    def data_np(self) -> dict[str, np.ndarray]:
        return self.make_data()

    def data(self) -> dict[str, Any]:
        return {k: jnp.asarray(v) for k, v in self.data_np.items()}

    @functools.cached_property
    def reference(self) -> Reference:
        return self.make_reference(self.data_np)


def _logistic_log_prob(params, data):
    eta = data["X"] @ params["beta"]
    return data["y"] * jax.nn.log_sigmoid(eta) + (1 - data["y"]) * jax.nn.log_sigmoid(-eta)


def _spector_data():
    import statsmodels.api as sm

    d = sm.datasets.spector.load_pandas()
    X = sm.add_constant(d.exog.to_numpy(dtype=float), prepend=True)
    return {"X": X, "y": d.endog.to_numpy(dtype=float)}


def _logistic_reference(data):
    import statsmodels.api as sm

    r = sm.Logit(data["y"], data["X"]).fit(method="newton", maxiter=100, tol=1e-14, disp=0)
    return Reference({"beta": np.asarray(r.params)}, {"beta": np.asarray(r.bse)},
                     float(r.llf), "statsmodels Logit (Newton)")


def _poisson_log_prob(params, data):
    eta = data["X"] @ params["beta"]
    return data["y"] * eta - jnp.exp(eta) - jax.scipy.special.gammaln(data["y"] + 1)


def _count_design(seed, n):
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.uniform(-1, 1, size=n)])
    return rng, X


def _poisson_data():
    rng, X = _count_design(20240601, 200)
    mu = np.exp(X @ np.array([0.5, 0.3, -0.4]))
    return {"X": X, "y": rng.poisson(mu).astype(float)}


def _poisson_reference(data):
    import statsmodels.api as sm

    r = sm.Poisson(data["y"], data["X"]).fit(method="newton", maxiter=100, tol=1e-14, disp=0)
    return Reference({"beta": np.asarray(r.params)}, {"beta": np.asarray(r.bse)},
                     float(r.llf), "statsmodels Poisson (Newton)")


def _nb2_log_prob(params, data):
    # NB2: Var = μ + αμ²; params: beta, log_alpha
    y = data["y"]
    mu = jnp.exp(data["X"] @ params["beta"])
    a = jnp.exp(params["log_alpha"])
    r = 1.0 / a
    gl = jax.scipy.special.gammaln
    return (gl(y + r) - gl(r) - gl(y + 1) + r * jnp.log(r / (r + mu))
            + y * jnp.log(mu / (r + mu)))


def _nb2_data():
    rng, X = _count_design(20240602, 250)
    mu = np.exp(X @ np.array([1.0, 0.4, -0.3]))
    alpha = 0.6
    lam = rng.gamma(shape=1 / alpha, scale=alpha * mu)
    return {"X": X, "y": rng.poisson(lam).astype(float)}


def _nb2_reference(data):
    import statsmodels.api as sm

    m = sm.NegativeBinomial(data["y"], data["X"], loglike_method="nb2")
    r = m.fit(method="newton", maxiter=200, tol=1e-14, disp=0)
    r = m.fit(start_params=r.params, method="newton", maxiter=50, tol=1e-14, disp=0)
    params, bse = np.asarray(r.params), np.asarray(r.bse)
    # At the optimum (zero gradient) the observed information transforms exactly with the
    # Jacobian of the reparametrisation: se(log α) = se(α) / α.
    return Reference({"beta": params[:-1], "log_alpha": np.log(params[-1])},
                     {"beta": bse[:-1], "log_alpha": np.asarray(bse[-1] / params[-1])},
                     float(r.llf), "statsmodels NegativeBinomial nb2 (Newton)")


def _weibull_log_prob(params, data):
    k, lam = jnp.exp(params["log_k"]), jnp.exp(params["log_lam"])
    z = data["t"] / lam
    return jnp.log(k) - jnp.log(lam) + (k - 1) * jnp.log(z) - z**k


def _weibull_data():
    rng = np.random.default_rng(20240603)
    return {"t": 2.0 * rng.weibull(1.5, size=150)}


def _weibull_reference(data):
    import scipy.optimize
    import scipy.stats

    t = np.asarray(data["t"], dtype=float)
    logt = np.log(t)
    c0, _, _ = scipy.stats.weibull_min.fit(t, floc=0)

    def score_k(k):  # profile score equation for the shape; λ follows in closed form
        w = t**k
        return np.sum(w * logt) / np.sum(w) - 1.0 / k - logt.mean()

    k = scipy.optimize.brentq(score_k, c0 / 2, c0 * 2, xtol=1e-15, rtol=1e-15, maxiter=500)
    lam = np.mean(t**k) ** (1.0 / k)
    # Newton polish on the two-parameter log-likelihood (log scale), exact autodiff Hessian
    p = jnp.array([np.log(k), np.log(lam)])

    def nll(v):
        return -jnp.sum(_weibull_log_prob({"log_k": v[0], "log_lam": v[1]}, {"t": t}))

    g, H = jax.grad(nll), jax.hessian(nll)
    for _ in range(3):
        p = p - jnp.linalg.solve(H(p), g(p))
    cov = np.linalg.inv(np.asarray(H(p)))
    se = np.sqrt(np.diag(cov))
    p = np.asarray(p)
    return Reference({"log_k": p[0], "log_lam": p[1]}, {"log_k": se[0], "log_lam": se[1]},
                     float(-nll(p)), "profile score root (brentq) + Newton, inverse Hessian")


LIKELIHOOD_PROBLEMS: dict[str, LikelihoodProblem] = {
    p.name: p
    for p in [
        LikelihoodProblem("logistic_spector", _logistic_log_prob, _spector_data,
                          lambda d: {"beta": jnp.zeros(d["X"].shape[1])}, _logistic_reference),
        LikelihoodProblem("poisson", _poisson_log_prob, _poisson_data,
                          lambda d: {"beta": jnp.zeros(d["X"].shape[1])}, _poisson_reference),
        LikelihoodProblem("negbin2", _nb2_log_prob, _nb2_data,
                          lambda d: {"beta": jnp.zeros(d["X"].shape[1]),
                                     "log_alpha": jnp.float64(0.0)}, _nb2_reference),
        LikelihoodProblem("weibull", _weibull_log_prob, _weibull_data,
                          lambda d: {"log_k": jnp.float64(0.0), "log_lam": jnp.float64(0.0)},
                          _weibull_reference),
    ]
}


def lre(est, ref, cap: float = 15.0) -> float:
    """Correct digits: min over components of −log10(|est − ref| / |ref|), capped."""
    est = np.atleast_1d(np.asarray(est, dtype=float))
    ref = np.atleast_1d(np.asarray(ref, dtype=float))
    if est.shape != ref.shape or not np.all(np.isfinite(est)):
        return 0.0
    scale = np.where(ref != 0, np.abs(ref), 1.0)
    err = np.abs(est - ref) / scale
    worst = float(np.max(err))
    return cap if worst == 0 else float(min(cap, max(0.0, -math.log10(worst))))
