"""How accurate is ``jaxmle.mle`` on the NIST StRD nonlinear-regression suite, against scipy?

Question: on the 27 NIST StRD nonlinear least-squares problems (lower, average and higher
difficulty), each from both of NIST's starts, how many certified digits of the estimates and
of the standard errors does each solver path get, how often does it claim convergence while
wrong, and what does one warm solve cost?

Data: NIST's ``.dat`` files (``Misra1a.dat`` ... ``Bennett5.dat``), read unedited from
``--data DIR``, else ``$JAXMLE_NIST_NLS_DIR``, else ``../shared/data/nist-strd/nonlinear``
relative to the repository root. They are third-party files and are not in the repository:
get them from https://www.itl.nist.gov/div898/strd/nls/nls_main.shtml or from the
``NIST_STRD/`` folder of the lmfit source distribution on PyPI. Starts, certified values,
certified SDs, RSS, residual SD, degrees of freedom and the data are all parsed from the
files; only the 27 model formulas are written here (from each file's ``Model:`` block), once
against a math namespace so the same expression runs in ``jax.numpy``, numpy and mpmath.
Nelson is fitted on ``log(y)``, as NIST states. File erratum: Rat43.dat says 9 degrees of
freedom; n - p = 11 and its own residual SD is sqrt(RSS/11), so n - p is used.
``--verify`` checks every file (RSS at the certified b in float64 and mpmath; Gauss-Newton
polish in mpmath at 60 digits, then b, RSS and SDs against the certified figures).

Paths (jax float64, exact derivatives throughout):

- ``scipy_lm``, ``scipy_trf``: ``scipy.optimize.least_squares`` with the Jacobian by jitted
  ``jax.jacfwd``, ``xtol = ftol = gtol = 1e-15``; SE ``sqrt(diag(s²(JᵀJ)⁻¹))``,
  ``s² = RSS/(n-p)``. The solve is run once to compile, then timed.
- ``jaxmle_nlr``: ``jaxmle.mle(NonlinearRegression(f), {"x", "y"}, params0={"theta": start})``.
- ``jaxmle_lp_logsig0``: ``jaxmle.mle(log_prob, data, {"b": start, "log_sigma": 0.0})`` with a
  Gaussian ``log_prob``; ``jaxmle_lp_logsig_rss``: the same from ``log_sigma0 = log
  sqrt(RSS(start)/n)``; ``jaxmle_lp_sigma1``: sigma unconstrained in the ``log_prob``, from
  ``{"b": start, "sigma": 1.0}``; ``jaxmle_lp_sigma_rss``: the same from ``sigma0 =
  sqrt(RSS(start)/n)``. The jaxmle paths are called once (compiling), then ``--timing-reps``
  more times with the same function objects; the warm time is the best of those.

Scores: LRE = min over parameters of ``-log10(|b̂ - b| / |b|)``, capped at 11 (NIST certifies
11 digits). "False convergence" = the solver reports converged with LRE < 4. SE references:
the certified SDs for the regression paths; for the log_prob paths (a likelihood, not a
regression) the b block of the inverse observed information at the optimum with σ̂² = RSS/n,
computed in mpmath (60 digits, from the polished optimum) the first time a problem is run and
cached in ``benchmarks/results/nist_nonlinear_se_obs.json`` (keyed by the file's SHA-256;
about 1 min for all 27 problems on one core, Hahn1 ~15 s of it), and the Gauss-Newton value
``certified_sd * sqrt((n-p)/n)``; a log_prob path's SE counts as right when either reaches 6
digits. Without mpmath the observed-information reference falls back to float64 at the
certified b.

Hardware: 2-core AMD EPYC shared with others, CPU only, jax 0.10.2, float64. The full suite
(7 paths x 54 problem-starts) takes ~20 min there, most of it compiling the jaxmle paths
(plus ~1 min, once, for the mpmath SE references); ``--problems`` and ``--paths`` select a
subset.

Typical output, full suite (jaxmle at 10d8133; warm times vary ~2x between runs here)::

    path                     n  >=6 dig median LRE false conv SE>=6/solved wall/solve
    scipy_lm                54   98.1%       9.46          1    51/53          8.1ms
    scipy_trf               54  100.0%       9.13          0    52/54         13.5ms
    jaxmle_nlr              54  100.0%      10.80          0    52/54         10.4ms
    jaxmle_lp_logsig0       54   92.6%      10.72          0    48/50          5.8ms
    jaxmle_lp_logsig_rss    54   92.6%      10.80          1    48/50          4.6ms
    jaxmle_lp_sigma1        54   94.4%      10.76          0    49/51          7.3ms
    jaxmle_lp_sigma_rss     54   88.9%      10.76          1    48/48          7.0ms

then the problem-starts below 6 digits per path. scipy_lm's false convergence is
BoxBOD/start1; the log_prob paths' is ENSO/start1, a genuine local minimum (RSS 889.08 vs
certified 788.54; gradient 5e-13, Hessian positive definite; scipy LM does not move from it).
The only SE misses among solved cases are Lanczos1: its SEs depend on s = sqrt(RSS/(n-p))
with RSS ~1.4e-25, which float64 residuals cannot resolve (~3 digits for any double-precision
solver). Per-record results (estimates, SEs, status, LREs, times) go to
``benchmarks/results/nist_nonlinear.json``.

Run: ``python benchmarks/nist_nonlinear.py [--data DIR] [--paths scipy_lm,jaxmle_nlr]
[--problems Misra1a,MGH09] [--starts start1] [-v]``; ``--verify`` checks the data files.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import pathlib
import platform
import re
import subprocess
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import jaxmle  # noqa: E402
from jaxmle.models import NonlinearRegression  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
DEFAULT_DATA = REPO / ".." / "shared" / "data" / "nist-strd" / "nonlinear"
DATA_ENV = "JAXMLE_NIST_NLS_DIR"

LOWER = ["Misra1a", "Chwirut2", "Chwirut1", "Lanczos3", "Gauss1", "Gauss2", "DanWood", "Misra1b"]
AVERAGE = [
    "Kirby2",
    "Hahn1",
    "Nelson",
    "MGH17",
    "Lanczos1",
    "Lanczos2",
    "Gauss3",
    "Misra1c",
    "Misra1d",
    "Roszman1",
    "ENSO",
]
HIGHER = ["MGH09", "Thurber", "BoxBOD", "Rat42", "MGH10", "Eckerle4", "Rat43", "Bennett5"]
NAMES = LOWER + AVERAGE + HIGHER
DIFFICULTY = {
    **dict.fromkeys(LOWER, "lower"),
    **dict.fromkeys(AVERAGE, "average"),
    **dict.fromkeys(HIGHER, "higher"),
}

CAP = 11.0
SCIPY_PATHS = ["scipy_lm", "scipy_trf"]
JAXMLE_PATHS = [
    "jaxmle_nlr",
    "jaxmle_lp_logsig0",
    "jaxmle_lp_logsig_rss",
    "jaxmle_lp_sigma1",
    "jaxmle_lp_sigma_rss",
]
ALL_PATHS = SCIPY_PATHS + JAXMLE_PATHS


# --------------------------------------------------------------------------- models
# b: sequence of parameters (b[0] = NIST b1); x: (n,) array, or (n, 2) for Nelson;
# M: math namespace (jax.numpy, numpy or mpmath).


def _misra1a(b, x, M):
    return b[0] * (1 - M.exp(-b[1] * x))


def _chwirut(b, x, M):
    return M.exp(-b[0] * x) / (b[1] + b[2] * x)


def _lanczos(b, x, M):
    return b[0] * M.exp(-b[1] * x) + b[2] * M.exp(-b[3] * x) + b[4] * M.exp(-b[5] * x)


def _gauss(b, x, M):
    return (
        b[0] * M.exp(-b[1] * x)
        + b[2] * M.exp(-((x - b[3]) ** 2) / b[4] ** 2)
        + b[5] * M.exp(-((x - b[6]) ** 2) / b[7] ** 2)
    )


def _danwood(b, x, M):
    return b[0] * x ** b[1]


def _misra1b(b, x, M):
    return b[0] * (1 - (1 + b[1] * x / 2) ** (-2))


def _kirby2(b, x, M):
    return (b[0] + b[1] * x + b[2] * x**2) / (1 + b[3] * x + b[4] * x**2)


def _rat33(b, x, M):  # Hahn1, Thurber: cubic / cubic
    return (b[0] + b[1] * x + b[2] * x**2 + b[3] * x**3) / (
        1 + b[4] * x + b[5] * x**2 + b[6] * x**3
    )


def _nelson(b, x, M):  # response is log(y)
    x1, x2 = x[..., 0], x[..., 1]
    return b[0] - b[1] * x1 * M.exp(-b[2] * x2)


def _mgh17(b, x, M):
    return b[0] + b[1] * M.exp(-x * b[3]) + b[2] * M.exp(-x * b[4])


def _misra1c(b, x, M):
    return b[0] * (1 - (1 + 2 * b[1] * x) ** (-M.half))


def _misra1d(b, x, M):
    return b[0] * b[1] * x * ((1 + b[1] * x) ** (-1))


def _roszman1(b, x, M):
    return b[0] - b[1] * x - M.arctan(b[2] / (x - b[3])) / M.pi


def _enso(b, x, M):
    w = 2 * M.pi * x
    return (
        b[0]
        + b[1] * M.cos(w / 12)
        + b[2] * M.sin(w / 12)
        + b[4] * M.cos(w / b[3])
        + b[5] * M.sin(w / b[3])
        + b[7] * M.cos(w / b[6])
        + b[8] * M.sin(w / b[6])
    )


def _mgh09(b, x, M):
    return b[0] * (x**2 + x * b[1]) / (x**2 + x * b[2] + b[3])


def _rat42(b, x, M):
    return b[0] / (1 + M.exp(b[1] - b[2] * x))


def _mgh10(b, x, M):
    return b[0] * M.exp(b[1] / (x + b[2]))


def _eckerle4(b, x, M):
    return (b[0] / b[1]) * M.exp(-M.half * ((x - b[2]) / b[1]) ** 2)


def _rat43(b, x, M):
    return b[0] / ((1 + M.exp(b[1] - b[2] * x)) ** (1 / b[3]))


def _bennett5(b, x, M):
    return b[0] * (b[1] + x) ** (-1 / b[2])


MODELS: dict[str, Callable] = {
    "Misra1a": _misra1a,
    "Chwirut2": _chwirut,
    "Chwirut1": _chwirut,
    "Lanczos3": _lanczos,
    "Gauss1": _gauss,
    "Gauss2": _gauss,
    "DanWood": _danwood,
    "Misra1b": _misra1b,
    "Kirby2": _kirby2,
    "Hahn1": _rat33,
    "Nelson": _nelson,
    "MGH17": _mgh17,
    "Lanczos1": _lanczos,
    "Lanczos2": _lanczos,
    "Gauss3": _gauss,
    "Misra1c": _misra1c,
    "Misra1d": _misra1d,
    "Roszman1": _roszman1,
    "ENSO": _enso,
    "MGH09": _mgh09,
    "Thurber": _rat33,
    "BoxBOD": _misra1a,
    "Rat42": _rat42,
    "MGH10": _mgh10,
    "Eckerle4": _eckerle4,
    "Rat43": _rat43,
    "Bennett5": _bennett5,
}


class _NS:
    """Math namespace for the models."""

    def __init__(self, exp, cos, sin, arctan, log, pi, half):
        self.exp, self.cos, self.sin, self.arctan, self.log = exp, cos, sin, arctan, log
        self.pi, self.half = pi, half


NP = _NS(np.exp, np.cos, np.sin, np.arctan, np.log, np.pi, 0.5)
JNP = _NS(jnp.exp, jnp.cos, jnp.sin, jnp.arctan, jnp.log, jnp.pi, 0.5)


def _mp_ns():
    import mpmath as mp

    def v(fn):
        u = np.frompyfunc(fn, 1, 1)
        return lambda a: u(a) if isinstance(a, np.ndarray) else fn(a)

    return _NS(v(mp.exp), v(mp.cos), v(mp.sin), v(mp.atan), v(mp.log), mp.pi, mp.mpf(1) / 2)


# --------------------------------------------------------------------------- data files


def missing_data_message(data_dir: pathlib.Path, missing: list[str]) -> str:
    what = (
        f"data folder {data_dir} does not exist"
        if not data_dir.is_dir()
        else f"missing in {data_dir}: {', '.join(f'{m}.dat' for m in missing)}"
    )
    return (
        f"nist_nonlinear: {what}. This benchmark reads the NIST StRD nonlinear-regression "
        f"data files (Misra1a.dat, Chwirut2.dat, ..., Bennett5.dat: 27 plain-text files, one "
        f"per problem, each with NIST's starting values, certified parameters, SDs and "
        f"residual sum of squares, and the data), unedited as NIST distributes them. They "
        f"are third-party files and are not part of the repository: download them from "
        f"https://www.itl.nist.gov/div898/strd/nls/nls_main.shtml, or take the NIST_STRD "
        f"folder of the lmfit source distribution on PyPI (pip download lmfit --no-binary "
        f":all: --no-deps), and point to the folder with --data DIR or the environment "
        f"variable {DATA_ENV} (default: ../shared/data/nist-strd/nonlinear relative to the "
        f"repository root). Do not commit them."
    )


@dataclass
class Problem:
    name: str
    difficulty: str
    x: np.ndarray  # (n,) or (n, 2) for Nelson
    y: np.ndarray  # (n,) regression response (log(y) for Nelson)
    start1: np.ndarray
    start2: np.ndarray
    b: np.ndarray  # certified parameters
    sd: np.ndarray  # certified standard deviations
    rss: float  # certified residual sum of squares
    resid_sd: float
    dof: int
    n: int
    model: Callable  # model(b, x, M)
    sha256: str
    # decimal strings, for exact high-precision work
    x_str: list = field(default_factory=list)
    y_str: list = field(default_factory=list)
    b_str: list = field(default_factory=list)
    sd_str: list = field(default_factory=list)
    rss_str: str = ""
    errata: list = field(default_factory=list)  # inconsistencies found in the file's header

    @property
    def p(self) -> int:
        return len(self.b)

    @property
    def starts(self) -> dict[str, np.ndarray]:
        return {"start1": self.start1, "start2": self.start2}

    def f(self, b, x):
        """The mean function in jax.numpy, ``f(b, x)``."""
        return self.model(b, x, JNP)

    def f_np(self, b, x=None):
        return self.model(np.asarray(b, float), self.x if x is None else x, NP)

    def rss_np(self, b) -> float:
        r = self.y - self.f_np(b)
        return float(r @ r)

    def mp_xy(self):
        """x and y as object arrays of mpf (call inside the wanted ``mp.workdps``)."""
        import mpmath as mp

        if isinstance(self.x_str[0], list):
            x = np.array([[mp.mpf(v) for v in r] for r in self.x_str], dtype=object)
        else:
            x = np.array([mp.mpf(v) for v in self.x_str], dtype=object)
        y = np.array([mp.mpf(v) for v in self.y_str], dtype=object)
        if self.name == "Nelson":
            y = _mp_ns().log(y)
        return x, y


def _range(header: str, label: str) -> tuple[int, int]:
    m = re.search(rf"{label}\s*\(lines\s+(\d+)\s+to\s+(\d+)\)", header)
    if m is None:
        raise ValueError(f"no '{label}' line range")
    return int(m.group(1)), int(m.group(2))


_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


def load(name: str, data_dir: pathlib.Path) -> Problem:
    raw = (data_dir / f"{name}.dat").read_bytes()
    lines = raw.decode("latin-1").splitlines()
    header = "\n".join(lines[:20])
    s0, s1 = _range(header, "Starting Values")
    d0, d1 = _range(header, "Data")
    p = s1 - s0 + 1
    st1, st2, bs, sds = [], [], [], []
    for k, line in enumerate(lines[s0 - 1 : s1]):
        m = re.match(rf"\s*b(\d+)\s*=\s*({_NUM})\s+({_NUM})\s+({_NUM})\s+({_NUM})\s*$", line)
        if m is None or int(m.group(1)) != k + 1:
            raise ValueError(f"{name}: bad parameter line {line!r}")
        st1.append(m.group(2))
        st2.append(m.group(3))
        bs.append(m.group(4))
        sds.append(m.group(5))
    text = "\n".join(lines[: d0 - 1])

    def header_field(label):
        m = re.search(rf"{label}:\s*({_NUM})", text)
        if m is None:
            raise ValueError(f"{name}: no {label}")
        return m.group(1)

    rss_s = header_field("Residual Sum of Squares")
    rsd_s = header_field("Residual Standard Deviation")
    dof = int(header_field("Degrees of Freedom"))
    nobs = int(header_field("Number of Observations"))
    rows = [ln.split() for ln in lines[d0 - 1 : d1]]
    if len(rows) != nobs:
        raise ValueError(f"{name}: {len(rows)} data rows, header says {nobs}")
    for extra in lines[d1:]:
        if extra.strip():
            raise ValueError(f"{name}: text after the data block: {extra!r}")
    ncol = len(rows[0])
    if any(len(r) != ncol for r in rows):
        raise ValueError(f"{name}: ragged data")
    y_str = [r[0] for r in rows]
    x_str = [r[1:] for r in rows] if ncol > 2 else [r[1] for r in rows]
    y = np.array([float(v) for v in y_str])
    if ncol > 2:
        x = np.array([[float(v) for v in r] for r in x_str])
    else:
        x = np.array([float(v) for v in x_str])
    if name == "Nelson":
        y = np.log(y)
    errata = []
    if dof != nobs - p:
        # Rat43.dat states 9 degrees of freedom; n - p = 11, and its own residual SD is
        # sqrt(RSS / 11): the stated figure is a typo in the file.
        errata.append(f"stated degrees of freedom {dof} != n - p = {nobs - p}; using n - p")
        dof = nobs - p
    if abs(math.sqrt(float(rss_s) / dof) / float(rsd_s) - 1) > 1e-9:
        errata.append("residual SD != sqrt(RSS / dof)")
    return Problem(
        name=name,
        difficulty=DIFFICULTY[name],
        x=x,
        y=y,
        start1=np.array([float(v) for v in st1]),
        start2=np.array([float(v) for v in st2]),
        b=np.array([float(v) for v in bs]),
        sd=np.array([float(v) for v in sds]),
        rss=float(rss_s),
        resid_sd=float(rsd_s),
        dof=dof,
        n=nobs,
        model=MODELS[name],
        sha256=hashlib.sha256(raw).hexdigest(),
        x_str=x_str,
        y_str=y_str,
        b_str=bs,
        sd_str=sds,
        rss_str=rss_s,
        errata=errata,
    )


# --------------------------------------------------------------------------- LRE


def lre(est, cert, cap: float = CAP) -> float:
    """Min over components of -log10(|est - cert| / |cert|), capped; 0 for non-finite."""
    est = np.atleast_1d(np.asarray(est, float))
    cert = np.atleast_1d(np.asarray(cert, float))
    if est.shape != cert.shape or not np.all(np.isfinite(est)):
        return 0.0
    out = []
    for e, c in zip(est, cert, strict=True):
        err = abs(e - c) / abs(c) if c != 0 else abs(e - c)
        out.append(cap if err == 0 else min(cap, max(0.0, -math.log10(err))))
    return float(min(out))


# --------------------------------------------------------------------------- mpmath references


def _mp_central_jac(prob: Problem, b, x, h):
    """Central-difference Jacobian columns of the model in mpmath (list of object arrays)."""
    cols = []
    for j in range(len(b)):
        bp, bm = list(b), list(b)
        hj = h * (1 + abs(b[j]))
        bp[j] += hj
        bm[j] -= hj
        cols.append((prob.model(bp, x, _mp_ns()) - prob.model(bm, x, _mp_ns())) / (2 * hj))
    return cols


def mp_polish(prob: Problem, dps: int = 60, iters: int = 12):
    """Gauss-Newton in mpmath from the certified values; returns (b, rss, sd) as mpf lists."""
    import mpmath as mp

    with mp.workdps(dps):
        M = _mp_ns()
        x, y = prob.mp_xy()
        b = [mp.mpf(v) for v in prob.b_str]
        p, n = len(b), len(y)
        h = mp.mpf(10) ** (-(dps // 3))

        def jac(bb):
            J = mp.matrix(n, p)
            for j, col in enumerate(_mp_central_jac(prob, bb, x, h)):
                for i in range(n):
                    J[i, j] = col[i]
            return J

        for _ in range(iters):
            r = y - prob.model(b, x, M)
            step = mp.qr_solve(jac(b), mp.matrix(list(r)))[0]
            b = [b[j] + step[j] for j in range(p)]
            tiny = mp.mpf(10) ** -dps
            if max(abs(step[j]) / (abs(b[j]) + tiny) for j in range(p)) < mp.mpf(10) ** (
                -(dps // 2)
            ):
                break
        r = y - prob.model(b, x, M)
        rss = mp.fsum(ri * ri for ri in r)
        J = jac(b)
        cov = mp.inverse(J.T * J) * (rss / (n - p))
        sd = [mp.sqrt(cov[j, j]) for j in range(p)]
        return b, rss, sd


def mp_observed_se(prob: Problem, dps: int = 60) -> list[float]:
    """Gaussian-likelihood SEs of b (inverse observed information, σ̂² = RSS/n), in mpmath.

    At the polished optimum the b-σ cross term vanishes, so the b block of the inverse
    information is 2σ̂² (∇²RSS)⁻¹; ∇²RSS by central differences of the gradient -2Jᵀr.
    """
    import mpmath as mp

    b, rss, _ = mp_polish(prob, dps=dps)
    with mp.workdps(dps):
        M = _mp_ns()
        x, y = prob.mp_xy()
        p, n = len(b), len(y)

        def grad(bb):
            r = y - prob.model(bb, x, M)
            cols = _mp_central_jac(prob, bb, x, mp.mpf(10) ** (-(dps // 3)))
            return [-2 * mp.fsum(col * r) for col in cols]

        H = mp.matrix(p, p)
        h = mp.mpf(10) ** (-(dps // 4))
        for j in range(p):
            bp, bm = list(b), list(b)
            hj = h * (1 + abs(b[j]))
            bp[j] += hj
            bm[j] -= hj
            gp, gm = grad(bp), grad(bm)
            for i in range(p):
                H[i, j] = (gp[i] - gm[i]) / (2 * hj)
        H = (H + H.T) / 2
        cov = mp.inverse(H) * (2 * rss / n)
        return [float(mp.sqrt(cov[i, i])) for i in range(p)]


def f64_observed_se(prob: Problem) -> np.ndarray:
    """Fallback without mpmath: inverse observed information in float64 at the certified b."""
    x, y = jnp.asarray(prob.x), jnp.asarray(prob.y)

    def nll(z):
        b, ls = z[:-1], z[-1]
        return -jnp.sum(jax.scipy.stats.norm.logpdf(y, prob.f(b, x), jnp.exp(ls)))

    z = jnp.concatenate([jnp.asarray(prob.b), jnp.array([0.5 * math.log(prob.rss / prob.n)])])
    try:
        d = np.diag(np.linalg.inv(np.asarray(jax.hessian(nll)(z))))[:-1]
    except np.linalg.LinAlgError:
        return np.full(prob.p, np.nan)
    return np.where(d > 0, np.sqrt(np.abs(d)), np.nan)


class SEObsCache:
    """mpmath observed-information SEs, computed on demand, cached as JSON by file hash."""

    def __init__(self, path: pathlib.Path):
        self.path = path
        self.data = json.loads(path.read_text()) if path.exists() else {}
        try:
            import mpmath  # noqa: F401

            self.have_mpmath = True
        except ImportError:
            self.have_mpmath = False

    def get(self, prob: Problem) -> tuple[np.ndarray, str]:
        hit = self.data.get(prob.name)
        if hit is not None and hit.get("sha256") == prob.sha256:
            return np.asarray(hit["se"]), "mpmath"
        if not self.have_mpmath:
            return f64_observed_se(prob), "float64 at certified b"
        t0 = time.perf_counter()
        se = mp_observed_se(prob)
        self.data[prob.name] = {
            "sha256": prob.sha256,
            "se": se,
            "dps": 60,
            "seconds": round(time.perf_counter() - t0, 2),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.data, indent=1))
        return np.asarray(se), "mpmath"


# --------------------------------------------------------------------------- shared per problem


def _regression_se(J, rss, n, p):
    """sqrt(diag(s² (JᵀJ)⁻¹)) by SVD; inf where J is rank deficient."""
    _, s, vt = np.linalg.svd(J, full_matrices=False)
    if s[-1] <= s[0] * 1e-15 * max(J.shape):
        return np.full(p, np.inf)
    cov = (vt.T / s**2) @ vt * (rss / (n - p))
    return np.sqrt(np.diag(cov))


class Compiled:
    """Per-problem jitted residual/Jacobian (compiled once, reused across starts)."""

    def __init__(self, prob: Problem, se_cache: SEObsCache | None):
        self.prob = prob
        x, y = jnp.asarray(prob.x), jnp.asarray(prob.y)

        def resid(b):
            return y - prob.f(b, x)

        self.resid = jax.jit(resid)
        self.jac = jax.jit(jax.jacfwd(resid))
        self.se_obs, self.se_obs_source = (
            se_cache.get(prob) if se_cache is not None else (None, None)
        )
        self.se_gn = prob.sd * math.sqrt((prob.n - prob.p) / prob.n)

    def rss(self, b):
        r = np.asarray(self.resid(jnp.asarray(b, dtype=jnp.float64)))
        return float(r @ r)


# --------------------------------------------------------------------------- scipy


def solve_scipy(c: Compiled, start, method):
    from scipy.optimize import least_squares

    def fun(b):
        return np.asarray(c.resid(jnp.asarray(b)))

    def jac(b):
        return np.asarray(c.jac(jnp.asarray(b)))

    kw = {"xtol": 1e-15, "ftol": 1e-15, "gtol": 1e-15, "max_nfev": 100_000}
    t0 = time.perf_counter()
    res = least_squares(fun, np.asarray(start, float), jac=jac, method=method, **kw)
    wall = time.perf_counter() - t0
    rss = float(res.fun @ res.fun)
    se = _regression_se(jac(res.x), rss, c.prob.n, c.prob.p)
    return {
        "b": res.x,
        "se": se,
        "converged": bool(res.success),
        "status": int(res.status),
        "message": str(res.message),
        "nfev": int(res.nfev),
        "wall": wall,
    }


# --------------------------------------------------------------------------- jaxmle


def _leaf(tree, key):
    return np.asarray(tree[key], float)


def _result(res, key, wall):
    out = {"wall": wall, "b": _leaf(res.params, key)}
    try:
        out["se"] = _leaf(res.stderr, key)
    except Exception as e:
        out["se"] = None
        out["se_error"] = f"{type(e).__name__}: {e}"
    out["converged"] = bool(getattr(res, "converged", False))
    st = getattr(res, "status", None)
    try:
        out["status"] = int(st)
    except (TypeError, ValueError):
        out["status"] = None
    out["status_name"] = str(st)
    for k in ("message", "steps", "step_se", "nfev", "method"):
        if hasattr(res, k):
            v = getattr(res, k)
            if hasattr(v, "shape") and np.ndim(v) == 0:
                v = np.asarray(v).item()
            out[k] = v if isinstance(v, str | int | float | bool) else str(v)
    return out


class JaxmleProblem:
    """Per-problem model / log_prob objects built once (jaxmle compiles per function object)."""

    def __init__(self, c: Compiled):
        self.c = c
        f = c.prob.f
        self.data = {"x": jnp.asarray(c.prob.x), "y": jnp.asarray(c.prob.y)}
        self.model = NonlinearRegression(f)

        def log_prob_ls(params, data):
            return jax.scipy.stats.norm.logpdf(
                data["y"], f(params["b"], data["x"]), jnp.exp(params["log_sigma"])
            )

        def log_prob_s(params, data):
            return jax.scipy.stats.norm.logpdf(
                data["y"], f(params["b"], data["x"]), params["sigma"]
            )

        self.log_prob_ls, self.log_prob_s = log_prob_ls, log_prob_s

    def call(self, path, start, mle_kwargs):
        c = self.c
        start = jnp.asarray(start, dtype=jnp.float64)
        sig_rss = math.sqrt(c.rss(start) / c.prob.n)
        if not math.isfinite(sig_rss) or sig_rss <= 0:
            sig_rss = 1.0
        if path == "jaxmle_nlr":
            fn, p0, key = self.model, {"theta": start}, "theta"
        elif path == "jaxmle_lp_logsig0":
            fn, p0, key = self.log_prob_ls, {"b": start, "log_sigma": jnp.float64(0.0)}, "b"
        elif path == "jaxmle_lp_logsig_rss":
            fn, p0, key = (
                self.log_prob_ls,
                {"b": start, "log_sigma": jnp.float64(math.log(sig_rss))},
                "b",
            )
        elif path == "jaxmle_lp_sigma1":
            fn, p0, key = self.log_prob_s, {"b": start, "sigma": jnp.float64(1.0)}, "b"
        elif path == "jaxmle_lp_sigma_rss":
            fn, p0, key = self.log_prob_s, {"b": start, "sigma": jnp.float64(sig_rss)}, "b"
        else:
            raise ValueError(path)
        t0 = time.perf_counter()
        res = jaxmle.mle(fn, self.data, params0=p0, **mle_kwargs)
        jax.block_until_ready(res.params)
        return res, key, time.perf_counter() - t0


def solve_jaxmle(jp: JaxmleProblem, path, start, mle_kwargs, timing_reps=1):
    res, key, wall_first = jp.call(path, start, mle_kwargs)
    walls = [jp.call(path, start, mle_kwargs)[2] for _ in range(timing_reps)]  # warm
    out = _result(res, key, min(walls) if walls else wall_first)
    out["wall_first"] = wall_first
    return out


# --------------------------------------------------------------------------- scoring


def score(c: Compiled, out: dict, path: str) -> dict:
    prob = c.prob
    b = out.get("b")
    rec = {k: v for k, v in out.items() if k not in ("b", "se")}
    rec["b"] = None if b is None else [float(v) for v in np.atleast_1d(b)]
    rec["lre_b"] = 0.0 if b is None else lre(b, prob.b)
    rec["rss"] = None if b is None else c.rss(b)
    se = out.get("se")
    rec["se"] = None if se is None else [float(v) for v in np.atleast_1d(se)]
    if se is None or np.shape(se) != np.shape(prob.sd):
        rec["lre_se"] = 0.0
    elif path.startswith("jaxmle_lp"):
        rec["lre_se_obs"] = lre(se, c.se_obs)
        rec["lre_se_gn"] = lre(se, c.se_gn)
        rec["lre_se_reg"] = lre(se, prob.sd)
        rec["lre_se"] = max(rec["lre_se_obs"], rec["lre_se_gn"])
    else:
        rec["lre_se"] = lre(se, prob.sd)
    rec["false_convergence"] = bool(rec.get("converged")) and rec["lre_b"] < 4.0
    return rec


def summarise(recs: list[dict]) -> dict:
    lres = [r["lre_b"] for r in recs]
    solved = [r for r in recs if r["lre_b"] >= 6]
    walls = [r["wall"] for r in recs if r.get("wall") is not None]
    return {
        "n": len(recs),
        "pct_ge6": 100.0 * len(solved) / max(1, len(recs)),
        "n_ge6": len(solved),
        "median_lre": float(np.median(lres)) if lres else None,
        "n_false_convergence": sum(r["false_convergence"] for r in recs),
        "n_converged_flag": sum(bool(r.get("converged")) for r in recs),
        "n_se_ge6_among_solved": sum(r.get("lre_se", 0) >= 6 for r in solved),
        "n_solved": len(solved),
        "median_wall_s": float(np.median(walls)) if walls else None,
        "failures": [
            f"{r['problem']}/{r['start']} (LRE {r['lre_b']:.1f}, "
            f"conv={r.get('converged')}, status={r.get('status')})"
            for r in recs
            if r["lre_b"] < 6
        ],
        "errors": [f"{r['problem']}/{r['start']}: {r['error']}" for r in recs if "error" in r],
    }


# --------------------------------------------------------------------------- verification


def verify(prob: Problem) -> dict:
    """float64 RSS at the certified b; mpmath polish: b, RSS and SDs vs certified."""
    import mpmath as mp

    out = {
        "name": prob.name,
        "n": prob.n,
        "p": prob.p,
        "errata": prob.errata,
        "rss_f64_lre": lre([prob.rss_np(prob.b)], [prob.rss], cap=15),
    }
    b, rss, sd = mp_polish(prob)
    with mp.workdps(60):
        out["mp_b_lre"] = lre([float(v) for v in b], prob.b, cap=15)
        out["mp_rss_lre"] = lre([float(rss)], [prob.rss], cap=15)
        out["mp_sd_lre"] = lre([float(v) for v in sd], prob.sd, cap=15)
        x, y = prob.mp_xy()  # RSS at the certified (11-digit) b, in high precision
        r = y - prob.model([mp.mpf(v) for v in prob.b_str], x, _mp_ns())
        out["rss_mp_at_cert_lre"] = lre([float(mp.fsum(ri * ri for ri in r))], [prob.rss], cap=15)
    return out


def run_verify(names, data_dir) -> int:
    bad = []
    print(
        f"{'problem':10s} {'n':>4s} {'p':>2s} {'RSS@cert f64':>13s} {'RSS@cert mp':>12s} "
        f"{'polish b':>9s} {'polish RSS':>10s} {'polish SD':>9s}"
    )
    for name in names:
        v = verify(load(name, data_dir))
        ok = max(v["rss_f64_lre"], v["rss_mp_at_cert_lre"]) >= 9 or (
            v["mp_b_lre"] >= 9.5 and v["mp_rss_lre"] >= 9 and v["mp_sd_lre"] >= 9
        )
        if not ok:
            bad.append(name)
        erratum = f"  [file erratum: {'; '.join(v['errata'])}]" if v["errata"] else ""
        print(
            f"{name:10s} {v['n']:4d} {v['p']:2d} {v['rss_f64_lre']:13.2f} "
            f"{v['rss_mp_at_cert_lre']:12.2f} {v['mp_b_lre']:9.2f} {v['mp_rss_lre']:10.2f} "
            f"{v['mp_sd_lre']:9.2f}  {'ok' if ok else 'NOT VERIFIED'}{erratum}",
            flush=True,
        )
    print("not verified:", bad or "none")
    return 1 if bad else 0


# --------------------------------------------------------------------------- driver


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() or None


def _data_dir(arg: str | None) -> pathlib.Path:
    if arg:
        return pathlib.Path(arg).expanduser().resolve()
    if os.environ.get(DATA_ENV):
        return pathlib.Path(os.environ[DATA_ENV]).expanduser().resolve()
    return DEFAULT_DATA.resolve()


def print_table(paths, summaries) -> None:
    print(
        f"\n{'path':22s} {'n':>3s} {'>=6 dig':>8s} {'median LRE':>10s} {'false conv':>10s} "
        f"{'SE>=6/solved':>12s} {'wall/solve':>10s}"
    )
    for path in paths:
        s = summaries[path]
        w = f"{1e3 * s['median_wall_s']:8.1f}ms" if s["median_wall_s"] is not None else "-"
        print(
            f"{path:22s} {s['n']:3d} {s['pct_ge6']:7.1f}% {s['median_lre']:10.2f} "
            f"{s['n_false_convergence']:10d} "
            f"{s['n_se_ge6_among_solved']:5d}/{s['n_solved']:<6d} {w:>10s}"
        )
    for path in paths:
        s = summaries[path]
        if s["failures"]:
            print(f"\n{path} below 6 digits: {', '.join(s['failures'])}")
        if s["errors"]:
            print(f"{path} errors: " + "; ".join(s["errors"][:10]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--data",
        default=None,
        help=f"folder of the NIST .dat files (else ${DATA_ENV}, else "
        "../shared/data/nist-strd/nonlinear from the repository root)",
    )
    ap.add_argument(
        "--paths",
        default="all",
        help="comma list of paths, or 'all', 'scipy', 'jaxmle'; paths: " + ", ".join(ALL_PATHS),
    )
    ap.add_argument("--problems", default="all", help="comma list of NIST names, or 'all'")
    ap.add_argument("--starts", default="start1,start2", help="comma list of start1, start2")
    ap.add_argument("--mle-kwargs", default="{}", help="JSON dict of extra jaxmle.mle kwargs")
    ap.add_argument(
        "--timing-reps",
        type=int,
        default=1,
        help="warm jaxmle calls after the first; the best is reported",
    )
    ap.add_argument("--out", default=str(RESULTS), help="folder for the JSON results")
    ap.add_argument(
        "--verify",
        action="store_true",
        help="only verify the data files (float64 and mpmath) and exit",
    )
    ap.add_argument("--verbose", "-v", action="store_true", help="one line per solve")
    a = ap.parse_args()

    paths = {"all": ALL_PATHS, "scipy": SCIPY_PATHS, "jaxmle": JAXMLE_PATHS}.get(
        a.paths, a.paths.split(",")
    )
    names = NAMES if a.problems == "all" else a.problems.split(",")
    starts = a.starts.split(",")
    unknown = (
        [p for p in paths if p not in ALL_PATHS]
        + [n for n in names if n not in MODELS]
        + [s for s in starts if s not in ("start1", "start2")]
    )
    if unknown:
        ap.error(f"unknown path/problem/start: {', '.join(unknown)}")
    mle_kwargs = json.loads(a.mle_kwargs)

    data_dir = _data_dir(a.data)
    missing = [n for n in names if not (data_dir / f"{n}.dat").is_file()]
    if not data_dir.is_dir() or missing:
        print(missing_data_message(data_dir, missing), file=sys.stderr)
        return 2
    if a.verify:
        return run_verify(names, data_dir)

    warnings.simplefilter("ignore")  # jaxmle warns on non-converged fits; the status is kept
    outdir = pathlib.Path(a.out)
    se_cache = (
        SEObsCache(outdir / "nist_nonlinear_se_obs.json")
        if any(p.startswith("jaxmle_lp") for p in paths)
        else None
    )
    results: dict[str, list[dict]] = {p: [] for p in paths}
    se_sources = {}
    t_start = time.perf_counter()
    for name in names:
        prob = load(name, data_dir)
        c = Compiled(prob, se_cache)
        if c.se_obs_source:
            se_sources[name] = c.se_obs_source
        jp, jp_err = None, None
        if any(p.startswith("jaxmle") for p in paths):
            try:
                jp = JaxmleProblem(c)
            except Exception as e:
                jp_err = f"{type(e).__name__}: {e}"
        for path in paths:
            for st in starts:
                start = prob.starts[st]
                try:
                    if path.startswith("scipy"):
                        method = path.split("_")[1]
                        solve_scipy(c, start, method)  # warm-up (compiles)
                        out = solve_scipy(c, start, method)
                    else:
                        if jp is None:
                            raise RuntimeError(jp_err)
                        out = solve_jaxmle(jp, path, start, mle_kwargs, a.timing_reps)
                    rec = score(c, out, path)
                except Exception as e:
                    rec = {
                        "lre_b": 0.0,
                        "lre_se": 0.0,
                        "converged": None,
                        "status": None,
                        "false_convergence": False,
                        "wall": None,
                        "error": f"{type(e).__name__}: {e}".splitlines()[0][:300],
                    }
                    if a.verbose:
                        traceback.print_exc()
                rec.update(problem=name, start=st, difficulty=prob.difficulty)
                results[path].append(rec)
                if a.verbose:
                    print(
                        f"{path:22s} {name:9s} {st}  LRE b {rec['lre_b']:5.2f}  "
                        f"se {rec.get('lre_se', 0):5.2f}  conv {rec.get('converged')}  "
                        f"{rec.get('error', '')}",
                        flush=True,
                    )

    summaries = {p: summarise(recs) for p, recs in results.items()}
    print_table(paths, summaries)

    outdir.mkdir(parents=True, exist_ok=True)
    outfile = outdir / "nist_nonlinear.json"
    payload = {
        "meta": {
            "jax": jax.__version__,
            "jaxmle": jaxmle.__version__,
            "git_commit": _git_commit(),
            "platform": platform.platform(),
            "processor": platform.processor(),
            "backend": jax.default_backend(),
            "when": time.strftime("%Y-%m-%d %H:%M:%S"),
            "seconds": round(time.perf_counter() - t_start, 1),
            "lre_cap": CAP,
            "problems": names,
            "starts": starts,
            "mle_kwargs": mle_kwargs,
            "timing_reps": a.timing_reps,
            "se_obs_reference": se_sources,
            "note": "LRE = min_i -log10(|b_i - c_i|/|c_i|), capped at 11; false convergence"
            " = converged flag with LRE < 4",
        },
        "paths": {p: {"summary": summaries[p], "records": results[p]} for p in paths},
    }
    outfile.write_text(json.dumps(payload, indent=1))
    print(f"\nwrote {outfile}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
