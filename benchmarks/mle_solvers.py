"""How fast is ``jaxmle.mle`` warm, against scipy and statsmodels, and how accurate?

Question: on the problem table of ``tests/problems.py`` (Moré–Garbow–Hillstrom least-squares
problems from their standard starts, and four plain likelihoods), what is the warm wall time
of one ``jaxmle.mle`` call (estimate, convergence verdict and standard errors), how much does
the first call add by compiling, and how does that compare with
``scipy.optimize.least_squares(method="lm")`` and statsmodels on the same problems from the
same starts? And how many digits does each get right?

Every solver runs in this one process, side by side, on the same data and start:

- jaxmle: ``mle(NonlinearRegression(mean), data, {"theta": start})`` (Levenberg–Marquardt,
  exact Jacobian, then the regression SEs ``s²(JᵀJ)⁻¹``); likelihoods:
  ``mle(log_prob, data, params0)`` (trust-region Newton, inverse observed information). One
  model per problem, so the starts of a problem share one compilation: "compile" is the
  first call's wall time minus the warm time (the later starts of a problem show ~0).
- scipy: ``least_squares(method="lm")`` (MINPACK) with the exact Jacobian as a jitted
  ``jax.jacfwd`` (residuals jitted too, both compiled before timing), ``xtol = ftol = gtol =
  1e-15``, ``max_nfev = 10,000`` (jaxmle's step cap), ``x_scale="jac"``; the timed call also
  forms ``s²(JᵀJ)⁻¹`` by a QR of the column-scaled Jacobian, as jaxmle's does.
- statsmodels has no general nonlinear least squares, and no MGH problem is linear in θ, so
  ``OLS``/``GLM`` do not apply. The column uses ``GenericLikelihoodModel`` on the Gaussian
  profile log-likelihood ``−m/2 · log(RSS(θ)/m)`` (scale-free, unlike ``−RSS/2``) with
  ``method="bfgs"``, ``maxiter=1000`` and statsmodels' own numerical score (residuals jitted
  JAX). Measured alternatives were worse: ``method="newton"`` (numerical Hessian) took 1–5 s
  a problem, raised ``LinAlgError`` on Rosenbrock 100x0, Osborne 1 10x0 and Box 3-D, and got
  no digit right anywhere tried (Meyer, Kowalik–Osborne, Bard, Osborne 1), sometimes while
  reporting converged; with ``−RSS/2`` it also stopped at once on small-RSS problems. Its
  standard errors (inverse numerical Hessian of the profile likelihood) are not the
  regression convention, so no SE digits are reported for it. Likelihoods: ``Logit``,
  ``Poisson``, ``NegativeBinomial(loglike_method="nb2")`` and a ``GenericLikelihoodModel``
  Weibull (log-shape, log-scale), each ``.fit(disp=0)`` with statsmodels' defaults (Newton
  for Logit/Poisson, BFGS from a Poisson start for NB2, Nelder–Mead for the generic model)
  and the same start as jaxmle where statsmodels takes one; the timed call reads ``bse``.

Warm time is the best of ``--repeats`` calls after the first (``--slow-repeats`` for a call
over 1 s); jaxmle's calls end with ``jax.block_until_ready`` on the params. Accuracy: LRE
(``−log10`` of the max relative error over components, absolute where the reference is 0,
capped at 15) of the estimate and of the standard errors against the table's optimum (≥ 25
digits by mpmath for least squares; statsmodels Newton at tol 1e-14 or a profile root for
the likelihoods, so statsmodels' own LRE there says how far its defaults stop short of its
tight solve). Where no regression covariance exists (singular Jacobian, RSS = 0) the SE
column is "—". ``jaxmle/scipy`` and ``jaxmle/statsmodels`` are medians of per-case warm-time
ratios.

Typical output (2-core AMD EPYC shared with others, CPU, jax 0.10, float64): two markdown
tables and a ratio line, and ``benchmarks/results/mle_solvers.json`` (``--quick``:
``mle_solvers_quick.json``). The full run takes ~5 min, most of it compiling (6–14 s a
least-squares problem, 7–21 s a likelihood); ``--quick`` under 1 min. One full run (timings
on the shared machine vary ~2x between runs): median warm ratio jaxmle/scipy 0.6–0.8 over
the 33 least-squares cases (jaxmle has a ~5 ms floor, scipy runs small problems in 1–3 ms;
jaxmle wins where MINPACK needs hundreds of evaluations: Meyer 10x0 18 vs 390 ms); jaxmle
gets 10–15 digits where it says OK, scipy typically 7–10 (it stops on ftol/xtol); the
statsmodels column is ~8x slower and mostly wrong (0–7 digits, sometimes claiming
convergence); likelihoods jaxmle/statsmodels ~2.3 (Newton runs to its 500-step cap on
Poisson, NB2 and Weibull before polishing; statsmodels' defaults give 4–5 digits on NB2 and
Weibull).

Run: ``python benchmarks/mle_solvers.py [--quick] [--repeats 5] [--problems meyer,bard]``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pathlib
import platform
import sys
import time
import warnings

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import scipy.linalg  # noqa: E402
import scipy.optimize  # noqa: E402

import jaxmle  # noqa: E402
from jaxmle.models import NonlinearRegression  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parent.parent
QUICK_LSQ = {"rosenbrock": ["x0"], "kowalik_osborne": ["x0"], "meyer": ["x0"]}
QUICK_LIK = {"logistic_spector", "weibull"}


def load_problems():
    sys.path.insert(0, str(REPO / "tests"))
    try:
        import problems
    except Exception as e:  # any failure means there is no table to run
        print(f"cannot import the problem table tests/problems.py: {e!r}", file=sys.stderr)
        sys.exit(1)
    return problems


def timed(fn, repeats, slow_repeats):
    """(first-call seconds, best warm seconds, result of the last call)."""
    t0 = time.perf_counter()
    out = fn()
    first = time.perf_counter() - t0
    times = []
    n = repeats
    while len(times) < n:
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
        if times[0] > 1.0:
            n = min(n, slow_repeats)
    return first, min(times), out


def regression_se(J, r, m, k):
    """s²(JᵀJ)⁻¹ by QR of the column-scaled Jacobian; None when rank-deficient or RSS = 0."""
    rss = float(r @ r)
    c = np.linalg.norm(J, axis=0)
    if m <= k or rss == 0.0 or np.any(c == 0):
        return None
    R = np.linalg.qr(J / c, mode="r")
    d = np.abs(np.diag(R))
    if d.min() <= 1e3 * np.finfo(float).eps * d.max():
        return None
    Rinv = scipy.linalg.solve_triangular(R, np.eye(k))
    return np.sqrt(rss / (m - k) * np.sum(Rinv**2, axis=1)) / c


def accuracy(problems, p, start, theta, se):
    """LRE of θ (and of the SEs where a regression covariance exists) against the start's
    tabulated minimum, or an equivalent one (same RSS and kind: Osborne 1's swapped
    exponentials) when θ is closer to that; and which minimum it was."""
    want = p.minimum_for(start)
    best_key, best = p.reaches[start], problems.lre(theta, want.theta_f64)
    for key, mn in p.minima.items():
        same = abs(mn.rss_f64 - want.rss_f64) <= 1e-12 * max(want.rss_f64, 1e-300)
        if same and mn.kind == want.kind and problems.lre(theta, mn.theta_f64) > best:
            best_key, best = key, problems.lre(theta, mn.theta_f64)
    ref_se = p.minima[best_key].se_f64
    lre_se = None if ref_se is None or se is None else problems.lre(se, ref_se)
    return {"lre_theta": best, "lre_se": lre_se, "minimum": best_key,
            "other_minimum": best_key != p.reaches[start]}  # fmt: skip


def fmt_lre(v, other=False):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    return f"{v:.1f}" + ("*" if other else "")


def run_lsq(problems, names, starts_of, args):
    rows = []
    from statsmodels.base.model import GenericLikelihoodModel

    for name in names:
        p = problems.LSQ_PROBLEMS[name]
        data = p.data()
        x, y = jnp.asarray(p.x), jnp.asarray(p.y)
        m, k = p.m, p.n_params
        model = NonlinearRegression(p.mean)  # one per problem: its starts share a compile
        resid = jax.jit(lambda t, f=p.mean, x=x, y=y: y - f(t, x))
        jac = jax.jit(jax.jacfwd(resid))
        t_any = jnp.asarray(p.start(next(iter(p.starts))))
        resid(t_any).block_until_ready()
        jac(t_any).block_until_ready()

        def res_np(t, resid=resid):
            return np.asarray(resid(t))

        def jac_np(t, jac=jac):
            return np.asarray(jac(t))

        class ProfileNLS(GenericLikelihoodModel):
            def loglikeobs(self, params, res_np=res_np, m=m):
                r = res_np(params)
                return np.full(m, -0.5 * np.log(r @ r / m))

        for start in starts_of(p):
            th0 = p.start(start)
            row = {"problem": name, "start": start, "m": m, "k": k}

            def jx(th0=th0, model=model, data=data):
                r = jaxmle.mle(model, data, {"theta": jnp.asarray(th0)})
                jax.block_until_ready(r.params)
                return r

            first, warm, r = timed(jx, args.repeats, args.slow_repeats)
            se = np.asarray(r.stderr["theta"])
            row["jaxmle"] = {
                "warm_ms": warm * 1e3, "compile_s": max(first - warm, 0.0),
                "status": jaxmle.Status(int(r.status)).name, "steps": int(r.steps),
                **accuracy(problems, p, start, np.asarray(r.params["theta"]), se),
            }  # fmt: skip

            def sp(th0=th0, res_np=res_np, jac_np=jac_np, m=m, k=k):
                out = scipy.optimize.least_squares(
                    res_np, th0, jac=jac_np, method="lm", xtol=1e-15, ftol=1e-15,
                    gtol=1e-15, max_nfev=10_000, x_scale="jac",
                )  # fmt: skip
                return out, regression_se(out.jac, out.fun, m, k)

            _, warm, (out, sse) = timed(sp, args.repeats, args.slow_repeats)
            row["scipy"] = {
                "warm_ms": warm * 1e3, "status": f"{out.status}{'' if out.success else ' fail'}",
                "nfev": int(out.nfev), **accuracy(problems, p, start, out.x, sse),
            }  # fmt: skip

            def sm(th0=th0, ProfileNLS=ProfileNLS, y=p.y, m=m):
                mod = ProfileNLS(y, np.ones((m, 1)))
                return mod.fit(start_params=th0, method="bfgs", maxiter=1000, disp=0)

            try:
                _, warm, f = timed(sm, args.repeats, args.slow_repeats)
                row["statsmodels"] = {
                    "warm_ms": warm * 1e3, "status": "conv" if f.mle_retvals["converged"]
                    else "not conv", **accuracy(problems, p, start, np.asarray(f.params), None),
                }  # fmt: skip
            except Exception as e:  # record the failure, keep benchmarking
                row["statsmodels"] = {"warm_ms": float("nan"), "status": type(e).__name__,
                                      "lre_theta": 0.0, "lre_se": None,
                                      "other_minimum": False}  # fmt: skip
            rows.append(row)
            print(f"  {name} {start}: jaxmle {row['jaxmle']['warm_ms']:.1f} ms "
                  f"({row['jaxmle']['status']}), scipy {row['scipy']['warm_ms']:.1f} ms, "
                  f"statsmodels {row['statsmodels']['warm_ms']:.1f} ms", flush=True)  # fmt: skip
    return rows


def _flat(params, keys):
    return np.concatenate([np.atleast_1d(np.asarray(params[k], float)) for k in keys])


def statsmodels_fit(name, d):
    """statsmodels' own model for a likelihood problem: its fit as a callable, and a map from
    its (params, bse) to the problem's natural-scale dicts."""
    import statsmodels.api as sm
    from statsmodels.base.model import GenericLikelihoodModel

    X, y = d.get("X"), d.get("y")
    if name == "logistic_spector":
        return (lambda: sm.Logit(y, X).fit(disp=0),
                lambda p, b: ({"beta": p}, {"beta": b}))  # fmt: skip
    if name == "poisson":
        return (lambda: sm.Poisson(y, X).fit(disp=0),
                lambda p, b: ({"beta": p}, {"beta": b}))  # fmt: skip
    if name == "negbin2":
        return (
            lambda: sm.NegativeBinomial(y, X, loglike_method="nb2").fit(disp=0),
            lambda p, b: ({"beta": p[:-1], "log_alpha": np.log(p[-1])},
                          {"beta": b[:-1], "log_alpha": b[-1] / p[-1]}),
        )  # fmt: skip
    if name == "weibull":
        t = d["t"]

        class Weibull(GenericLikelihoodModel):
            def loglikeobs(self, params):
                k, lam = np.exp(params[0]), np.exp(params[1])
                z = self.endog / lam
                return np.log(k) - np.log(lam) + (k - 1) * np.log(z) - z**k

        return (
            lambda: Weibull(t, np.ones((len(t), 1))).fit(start_params=np.zeros(2), disp=0),
            lambda p, b: ({"log_k": p[0], "log_lam": p[1]}, {"log_k": b[0], "log_lam": b[1]}),
        )  # fmt: skip
    raise KeyError(name)


def run_likelihoods(problems, names, args):
    rows = []
    for name in names:
        lp = problems.LIKELIHOOD_PROBLEMS[name]
        data, ref = lp.data(), lp.reference
        keys = sorted(ref.params)
        ref_p, ref_se = _flat(ref.params, keys), _flat(ref.stderr, keys)
        params0 = lp.params0(lp.data_np)
        row = {"problem": name, "n": len(next(iter(lp.data_np.values()))),
               "k": int(ref_p.size), "reference": ref.source}  # fmt: skip

        def jx(fn=lp.log_prob, data=data, params0=params0):
            r = jaxmle.mle(fn, data, params0)
            jax.block_until_ready(r.params)
            return r

        first, warm, r = timed(jx, args.repeats, args.slow_repeats)
        row["jaxmle"] = {
            "warm_ms": warm * 1e3, "compile_s": max(first - warm, 0.0), "method": r.method,
            "status": jaxmle.Status(int(r.status)).name, "steps": int(r.steps),
            "lre_theta": problems.lre(_flat(r.params, keys), ref_p),
            "lre_se": problems.lre(_flat(r.stderr, keys), ref_se),
        }  # fmt: skip
        fit, to_natural = statsmodels_fit(name, lp.data_np)

        def sm(fit=fit):
            f = fit()
            return f, np.asarray(f.params), np.asarray(f.bse)

        _, warm, (f, p, b) = timed(sm, args.repeats, args.slow_repeats)
        pn, bn = to_natural(p, b)
        row["statsmodels"] = {
            "warm_ms": warm * 1e3, "method": f.mle_settings.get("optimizer", "?"),
            "status": "conv" if f.mle_retvals.get("converged") else "not conv",
            "lre_theta": problems.lre(_flat(pn, keys), ref_p),
            "lre_se": problems.lre(_flat(bn, keys), ref_se),
        }  # fmt: skip
        rows.append(row)
        print(f"  {name}: jaxmle {row['jaxmle']['warm_ms']:.1f} ms, statsmodels "
              f"{row['statsmodels']['warm_ms']:.1f} ms", flush=True)  # fmt: skip
    return rows


def separator(align):
    """A markdown header separator: ``l`` left-aligned, ``r`` right-aligned columns."""
    return "|" + "|".join(" --- " if a == "l" else " ---: " for a in align) + "|"


def median_ratio(rows, a, b):
    r = [row[a]["warm_ms"] / row[b]["warm_ms"] for row in rows
         if np.isfinite(row[b]["warm_ms"]) and row[b]["warm_ms"] > 0]  # fmt: skip
    return float(np.median(r)) if r else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    quick_help = "Rosenbrock, Kowalik–Osborne, Meyer from x0; logistic, Weibull (< 2 min)"
    ap.add_argument("--quick", action="store_true", help=quick_help)
    ap.add_argument("--problems", default="",
                    help="comma-separated names (default: all; with --quick, x0 only)")  # fmt: skip
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--slow-repeats", type=int, default=2, help="for calls slower than 1 s")
    ap.add_argument("--out", default=str(pathlib.Path(__file__).parent / "results"))
    args = ap.parse_args()
    problems = load_problems()  # nothing here is random: the table fixes its own seeds
    import statsmodels.api  # noqa: F401 - it sets its warning filters on import

    warnings.simplefilter("ignore")  # non-converged fits warn; their status is reported

    chosen = set(filter(None, args.problems.split(",")))
    lsq_names = [n for n in problems.LSQ_PROBLEMS if (not chosen or n in chosen)]
    lik_names = [n for n in problems.LIKELIHOOD_PROBLEMS if (not chosen or n in chosen)]
    if args.quick and not chosen:
        lsq_names = [n for n in lsq_names if n in QUICK_LSQ]
        lik_names = [n for n in lik_names if n in QUICK_LIK]

    def starts_of(p):
        keys = [s for _, s in p.cases()]
        return [s for s in keys if s in QUICK_LSQ.get(p.name, ["x0"])] if args.quick else keys

    t_all = time.perf_counter()
    print("least squares:", flush=True)
    lsq = run_lsq(problems, lsq_names, starts_of, args)
    print("likelihoods:", flush=True)
    lik = run_likelihoods(problems, lik_names, args)
    total = time.perf_counter() - t_all

    print(f"\njaxmle {jaxmle.__version__ if hasattr(jaxmle, '__version__') else ''} "
          f"vs scipy / statsmodels, float64; warm = best of {args.repeats} after the first "
          f"call; {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
          f"jax {jax.__version__}, device {jax.devices()[0].device_kind}")  # fmt: skip
    print("\nLeast squares (MGH). LRE = correct digits (cap 15); SE = s²(JᵀJ)⁻¹; * = against"
          " an equivalent minimum\nother than the one the table lists for the start (Osborne 1"
          " swapped); scipy status = MINPACK info (1–4 ok).\n")  # fmt: skip
    print("| problem | start | m×k | jaxmle ms | compile s | jaxmle status | steps | LRE θ "
          "| LRE SE | scipy ms | scipy status | nfev | LRE θ | LRE SE | statsmodels ms "
          "| sm status | LRE θ |")  # fmt: skip
    print(separator("lllrrlrrrrlrrrrlr"))
    for r in lsq:
        j, s, t = r["jaxmle"], r["scipy"], r["statsmodels"]
        print(f"| {r['problem']} | {r['start']} | {r['m']}×{r['k']} | {j['warm_ms']:.2f} | "
              f"{j['compile_s']:.2f} | {j['status']} | {j['steps']} | "
              f"{fmt_lre(j['lre_theta'], j['other_minimum'])} | {fmt_lre(j['lre_se'])} | "
              f"{s['warm_ms']:.2f} | {s['status']} | {s['nfev']} | "
              f"{fmt_lre(s['lre_theta'], s['other_minimum'])} | {fmt_lre(s['lre_se'])} | "
              f"{t['warm_ms']:.1f} | {t['status']} | "
              f"{fmt_lre(t['lre_theta'], t['other_minimum'])} |")  # fmt: skip
    print("\nLikelihoods (plain log_prob). SE = inverse observed information.\n")
    print("| problem | n×k | jaxmle ms | compile s | jaxmle status | steps | LRE θ | LRE SE "
          "| statsmodels ms | sm method | sm status | LRE θ | LRE SE |")  # fmt: skip
    print(separator("llrrlrrrrllrr"))
    for r in lik:
        j, t = r["jaxmle"], r["statsmodels"]
        print(f"| {r['problem']} | {r['n']}×{r['k']} | {j['warm_ms']:.2f} | "
              f"{j['compile_s']:.2f} | {j['status']} | {j['steps']} | "
              f"{fmt_lre(j['lre_theta'])} | {fmt_lre(j['lre_se'])} | {t['warm_ms']:.2f} | "
              f"{t['method']} | {t['status']} | {fmt_lre(t['lre_theta'])} | "
              f"{fmt_lre(t['lre_se'])} |")  # fmt: skip
    ratios = {
        "lsq_jaxmle_over_scipy": median_ratio(lsq, "jaxmle", "scipy"),
        "lsq_jaxmle_over_statsmodels": median_ratio(lsq, "jaxmle", "statsmodels"),
        "likelihood_jaxmle_over_statsmodels": median_ratio(lik, "jaxmle", "statsmodels"),
    }
    print(f"\nmedian warm-time ratios: least squares jaxmle/scipy "
          f"{ratios['lsq_jaxmle_over_scipy']:.2f}, jaxmle/statsmodels "
          f"{ratios['lsq_jaxmle_over_statsmodels']:.2f} ({len(lsq)} cases); likelihoods "
          f"jaxmle/statsmodels {ratios['likelihood_jaxmle_over_statsmodels']:.2f} "
          f"({len(lik)} problems); total {total:.0f} s")  # fmt: skip
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"jax": jax.__version__, "cores": os.cpu_count(), "device": str(jax.devices()[0]),
            "repeats": args.repeats, "quick": args.quick, "total_s": total}  # fmt: skip
    path = out / ("mle_solvers_quick.json" if args.quick else "mle_solvers.json")
    path.write_text(json.dumps({"meta": meta, "ratios": ratios, "least_squares": lsq,
                                "likelihoods": lik}, indent=2))  # fmt: skip
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
