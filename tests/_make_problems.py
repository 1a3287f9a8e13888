"""Regenerate the minima of ``tests/problems.py`` (the ``_OPTIMA`` block) in mpmath.

For every least-squares problem and start: a float64 Levenberg–Marquardt solve
(``scipy.optimize.least_squares``, exact Jacobian by ``jax.jacfwd``), then Newton polishing of
``f(θ) = Σ r_i(θ)²`` in mpmath at 80 digits (central differences with steps of 1e-25 and 1e-20
for the gradient and Hessian: truncation 1e-40 and below), kept when the gradient vanishes and
the Hessian is positive definite. Points within 1e-12 of one another are one minimum. The
regression covariance ``s²(JᵀJ)⁻¹``, ``s² = RSS/(m − n)``, is computed in mpmath where
RSS > 0, m > n and J has full rank, and the Gaussian-likelihood one (inverse observed
information at σ̂² = RSS/m, θ block: ``2σ̂²(∇²RSS)⁻¹``) where RSS > 0.
Values are written with 30 significant digits.

    python tests/_make_problems.py            # print the table and the checks
    python tests/_make_problems.py --write    # also rewrite the block in tests/problems.py
"""

from __future__ import annotations

import pathlib
import pprint
import re
import sys
from fractions import Fraction

import jax
import mpmath as mp
import numpy as np

jax.config.update("jax_enable_x64", True)
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import problems  # noqa: E402

DPS = 80
DIGITS = 30
GLOBAL_F = {"freudenstein_roth": 0, "biggs_exp6": 0}  # known global minima (MGH)


class _MpMath:
    @staticmethod
    def _v(fn):
        u = np.frompyfunc(fn, 1, 1)
        return lambda a: u(a) if isinstance(a, np.ndarray) else fn(a)

    def __init__(self):
        self.exp, self.sin, self.cos = self._v(mp.exp), self._v(mp.sin), self._v(mp.cos)
        self.sqrt, self.arctan = self._v(mp.sqrt), self._v(mp.atan)

    @property
    def pi(self):
        return +mp.pi

    @staticmethod
    def stack(xs):
        return np.array(list(xs), dtype=object)

    @staticmethod
    def concat(xs):
        out = []
        for v in xs:
            out.extend(list(v) if isinstance(v, np.ndarray) else [v])
        return np.array(out, dtype=object)

    @staticmethod
    def where(c, a, b):
        return a if c else b


MP = _MpMath()


def _mpf(v):
    if isinstance(v, Fraction):
        return mp.mpf(v.numerator) / v.denominator
    return mp.mpf(v)


def _exact_data(p):
    rows = p.x_exact
    if isinstance(rows[0], tuple):
        x = np.array([[_mpf(v) for v in r] for r in rows], dtype=object)
    else:
        x = np.array([_mpf(v) for v in rows], dtype=object)
    if p.name == "biggs_exp6":
        y = np.array([mp.exp(-t) - 5 * mp.exp(-10 * t) + 3 * mp.exp(-4 * t) for t in x],
                     dtype=object)
    else:
        y = np.array([_mpf(v) for v in p.y_exact], dtype=object)
    return x, y


def _float_solve(p, start):
    from scipy.optimize import least_squares

    res_fn = jax.jit(p.residual)
    jac_fn = jax.jit(jax.jacfwd(p.residual))
    r = least_squares(lambda t: np.asarray(res_fn(t)), np.asarray(start, float),
                      jac=lambda t: np.asarray(jac_fn(t)), method="lm", xtol=1e-15,
                      ftol=1e-15, gtol=1e-15, max_nfev=20000)
    return r.x


def _polish(p, theta0, x, y, iters=40):
    n = len(theta0)

    def resid(t):
        return y - p._mean(list(t), x, MP)

    def rss_of(t):
        return mp.fsum(v * v for v in resid(t))

    def jac(t):
        h = mp.mpf("1e-25")
        cols = []
        for j in range(n):
            tp, tm = list(t), list(t)
            hj = h * (1 + abs(t[j]))
            tp[j] += hj
            tm[j] -= hj
            cols.append((resid(tm) - resid(tp)) / (2 * hj))  # d mean / d t = -d r / d t
        return mp.matrix([[-c[i] for c in cols] for i in range(len(y))])

    def grad(t):
        J = jac(t)
        r = mp.matrix(list(resid(t)))
        return (J.T * r) * 2

    def hess(t):
        h = mp.mpf("1e-20")
        H = mp.matrix(n, n)
        for j in range(n):
            tp, tm = list(t), list(t)
            hj = h * (1 + abs(t[j]))
            tp[j] += hj
            tm[j] -= hj
            gp, gm = grad(tp), grad(tm)
            for i in range(n):
                H[i, j] = (gp[i] - gm[i]) / (2 * hj)
        return (H + H.T) / 2

    t = [mp.mpf(float(v)) for v in theta0]
    for _ in range(iters):
        g = grad(t)
        H = hess(t)
        try:
            step = mp.lu_solve(H, -g)
        except ZeroDivisionError:
            return None
        t = [t[i] + step[i] for i in range(n)]
        if max(abs(step[i]) / (1 + abs(t[i])) for i in range(n)) < mp.mpf(10) ** (-45):
            break
    else:
        return None
    H = hess(t)
    ev = mp.eigsy(H)[0]
    if min(ev) <= 0:
        return None
    rss = rss_of(t)
    J = jac(t)
    JtJ = J.T * J
    evj = mp.eigsy(JtJ)[0]
    singular = min(evj) <= max(evj) * mp.mpf(10) ** (-40)
    se = se_obs = None
    m = len(y)
    if not singular and m > n and rss > mp.mpf(10) ** (-40):
        cov = mp.inverse(JtJ) * (rss / (m - n))
        se = [mp.sqrt(cov[i, i]) for i in range(n)]
    if rss > mp.mpf(10) ** (-40):
        # Gaussian likelihood, σ̂² = RSS/m: the θ-block of the inverse observed information is
        # 2σ̂² (∇²RSS)⁻¹ (the θ–σ cross term vanishes at the optimum).
        cov = mp.inverse(H) * (2 * rss / m)
        se_obs = [mp.sqrt(cov[i, i]) for i in range(n)]
    return t, rss, se, se_obs, singular


def _s(v):
    if abs(v) < mp.mpf(10) ** (-40):  # zero by symmetry (e.g. the Gaussian's centre)
        return "0"
    return mp.nstr(v, DIGITS, min_fixed=-4, max_fixed=6)


def generate(names=None):
    table, checks = {}, []
    for p in problems._DEFS:
        if names and p.name not in names:
            continue
        with mp.workdps(DPS):
            x, y = _exact_data(p)
            minima, reaches = {}, {}
            for key, start in p.starts.items():
                if p.name == "powell_singular":  # the optimum is the origin, exactly
                    minima.setdefault("min", {"theta": ("0",) * 4, "rss": "0",
                                              "singular": True})
                    reaches[key] = "min"
                    continue
                try:
                    th = _float_solve(p, start)
                except Exception as e:
                    checks.append(f"{p.name}/{key}: float solve failed ({e})")
                    continue
                if not np.all(np.isfinite(th)) or np.max(np.abs(th)) > 1e8:
                    checks.append(f"{p.name}/{key}: float solve ran off ({th})")
                    continue
                out = _polish(p, th, x, y)
                if out is None:
                    checks.append(f"{p.name}/{key}: not a strict minimum from {th}")
                    continue
                t, rss, se, se_obs, singular = out
                name = None
                for k, v in minima.items():
                    ref = [mp.mpf(s) for s in v["theta"]]
                    tol = mp.mpf("1e-12")
                    if all(abs(a - b) <= tol * (1 + abs(b)) for a, b in zip(t, ref, strict=True)):
                        name = k
                if name is None:
                    name = "min" if not minima else f"min{len(minima) + 1}"
                    entry = {"theta": tuple(_s(v) for v in t), "rss": _s(rss)}
                    if se is not None:
                        entry["se"] = tuple(_s(v) for v in se)
                    if se_obs is not None:
                        entry["se_obs"] = tuple(_s(v) for v in se_obs)
                    if singular:
                        entry["singular"] = True
                    minima[name] = entry
                reaches[key] = name
            # kinds: local where a smaller sum of squares is known
            best = min([mp.mpf(v["rss"]) for v in minima.values()] + (
                [mp.mpf(GLOBAL_F[p.name])] if p.name in GLOBAL_F else []), default=0)
            for v in minima.values():
                if mp.mpf(v["rss"]) > best * (1 + mp.mpf("1e-10")) + mp.mpf("1e-30"):
                    v["kind"] = "local"
            if "x0" in reaches:
                f0 = float(mp.mpf(minima[reaches["x0"]]["rss"]))
                ok = (abs(f0 - p.mgh_f) <= 5e-6 * abs(p.mgh_f)) if p.mgh_f else f0 < 1e-20
                checks.append(f"{p.name}: f(x0 minimum) = {f0:.6e}, MGH {p.mgh_f:.6e}"
                              f" {'ok' if ok else 'MISMATCH'}; starts -> {reaches}")
            table[p.name] = {"minima": minima, "reaches": reaches}
    return table, checks


def write(table):
    path = pathlib.Path(problems.__file__)
    src = path.read_text()
    body = pprint.pformat(table, width=96, sort_dicts=False)
    block = ("# ---- BEGIN GENERATED by tests/_make_problems.py (do not edit by hand) ----\n"
             "# fmt: off\n"
             f"_OPTIMA: dict[str, dict] = {body}\n"
             "# fmt: on\n"
             "# ---- END GENERATED ----")
    new = re.sub(r"# ---- BEGIN GENERATED.*?# ---- END GENERATED ----", lambda _: block, src,
                 flags=re.S)
    path.write_text(new)


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    table, checks = generate(args or None)
    print("\n".join(checks))
    if "--write" in sys.argv:
        if args:
            merged = dict(problems._OPTIMA)
            merged.update(table)
            table = {p.name: merged[p.name] for p in problems._DEFS if p.name in merged}
        write(table)
    else:
        pprint.pprint(table, width=96, sort_dicts=False)
