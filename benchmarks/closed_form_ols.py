"""How fast is jaxmle's default OLS against the usual ways to solve least squares?

Question: for OLS with an intercept in float64 (n = 200,000 rows, d = 64 predictors), does
``jaxmle.closed_form.lstsq`` (the default ``method="auto"``: the certified-accurate solver
that passes NIST StRD) run within 2x of numpy's Cholesky normal equations, which are fast but
lose half the digits on ill-conditioned data?

Every solver runs in this one process, side by side: best of ``--repeats`` timed runs after a
warm-up; JAX compile time is measured apart (``jit(...).lower(...).compile()``). Each solver's
answer is compared with scipy's gelsy solution (max relative difference over coefficients).

Typical output (2-core AMD EPYC, see README): a markdown table and
``benchmarks/results/closed_form_ols.json``.

Run: ``python benchmarks/closed_form_ols.py [--n 200000] [--d 64] [--repeats 5]``.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import time

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import scipy.linalg as sl  # noqa: E402

from jaxmle.closed_form import lstsq  # noqa: E402


def best_of(fn, repeats):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), float(np.median(times))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--d", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--slow-repeats", type=int, default=2, help="for solvers slower than 1 s")
    ap.add_argument("--out", default=str(pathlib.Path(__file__).parent / "results"))
    args = ap.parse_args()
    n, d = args.n, args.d

    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d)) + 0.5
    y = 2.0 + X @ rng.standard_normal(d) + rng.standard_normal(n)
    A = np.hstack([np.ones((n, 1)), X])
    Xj, yj = jax.device_put(X), jax.device_put(y)
    ref = sl.lstsq(A, y, lapack_driver="gelsy")[0]

    def jax_solver(method):
        def run():
            s = lstsq(Xj, yj, method=method)
            s.coef.block_until_ready()
            return np.concatenate([[float(s.intercept)], np.asarray(s.coef)])

        return run

    def compile_time(fn, *a, **kw):
        t0 = time.perf_counter()
        jax.jit(fn, static_argnames=tuple(kw)).lower(*a, **kw).compile()
        return time.perf_counter() - t0

    def np_normal():
        A_ = np.hstack([np.ones((n, 1)), X])  # building the design is part of the cost
        c = sl.cho_factor(A_.T @ A_)
        return sl.cho_solve(c, A_.T @ y)

    def np_normal_numpy():
        A_ = np.hstack([np.ones((n, 1)), X])
        L = np.linalg.cholesky(A_.T @ A_)
        return sl.solve_triangular(L.T, sl.solve_triangular(L, A_.T @ y, lower=True))

    jqr = jax.jit(
        lambda X, y: (lambda Q, R: jax.scipy.linalg.solve_triangular(R, Q.T @ y))(
            *jnp.linalg.qr(jnp.concatenate([jnp.ones((X.shape[0], 1)), X], 1))
        )
    )
    jls = jax.jit(
        lambda X, y: jnp.linalg.lstsq(jnp.concatenate([jnp.ones((X.shape[0], 1)), X], 1), y)[0]
    )

    solvers = {
        "jaxmle lstsq (default auto)": (jax_solver("auto"), "fast"),
        "jaxmle lstsq method='gram'": (jax_solver("gram"), "fast"),
        "jaxmle lstsq method='cholesky' (plain normal eq.)": (jax_solver("cholesky"), "fast"),
        "jaxmle lstsq method='qr' (double-double refined)": (jax_solver("qr"), "slow"),
        "numpy/scipy Cholesky normal eq. (scipy cho_solve)": (np_normal, "fast"),
        "numpy Cholesky normal eq. (np.linalg.cholesky)": (np_normal_numpy, "fast"),
        "numpy lstsq (gelsd)": (lambda: np.linalg.lstsq(A, y, rcond=None)[0], "slow"),
        "scipy lstsq gelsd": (lambda: sl.lstsq(A, y, lapack_driver="gelsd")[0], "slow"),
        "scipy lstsq gelsy": (lambda: sl.lstsq(A, y, lapack_driver="gelsy")[0], "slow"),
        "JAX jnp.linalg.qr + triangular solve": (
            lambda: np.asarray(jqr(Xj, yj).block_until_ready()),
            "slow",
        ),
        "JAX jnp.linalg.lstsq": (lambda: np.asarray(jls(Xj, yj).block_until_ready()), "slow"),
    }
    try:
        import statsmodels.api as sm

        solvers["statsmodels OLS().fit() (pinv)"] = (
            lambda: sm.OLS(y, A).fit(method="pinv").params,
            "slow",
        )
        solvers["statsmodels OLS().fit(method='qr')"] = (
            lambda: sm.OLS(y, A).fit(method="qr").params,
            "slow",
        )
    except ImportError:
        print("statsmodels not installed: skipped")
    try:
        from sklearn.linear_model import LinearRegression

        def skl():
            m = LinearRegression().fit(X, y)
            return np.concatenate([[m.intercept_], m.coef_])

        solvers["scikit-learn LinearRegression"] = (skl, "slow")
    except ImportError:
        print("scikit-learn not installed: skipped")

    compile_s = {
        m: compile_time(lstsq, Xj, yj, method=m) for m in ("auto", "gram", "cholesky", "qr")
    }
    rows = []
    for name, (fn, kind) in solvers.items():
        reps = args.repeats if kind == "fast" else args.slow_repeats
        best, med = best_of(fn, reps)
        err = float(np.max(np.abs(np.asarray(fn()) - ref) / np.abs(ref)))
        rows.append({"solver": name, "best_ms": best * 1e3, "median_ms": med * 1e3,
                     "max_rel_diff_vs_gelsy": err, "repeats": reps})  # fmt: skip
    base = next(r for r in rows if r["solver"].startswith("numpy/scipy Cholesky"))["best_ms"]
    for r in rows:
        r["ratio_to_numpy_cholesky"] = r["best_ms"] / base

    path = int(lstsq(Xj, yj).path)
    print(f"\nOLS with intercept, float64, n={n}, d={d}; best of {args.repeats} (fast) / "
          f"{args.slow_repeats} (slow) after warm-up; {os.cpu_count()} cores, "
          f"{platform.processor() or platform.machine()}, jax {jax.__version__}, "
          f"device {jax.devices()[0].device_kind}")  # fmt: skip
    print(
        f"jaxmle default took the {['gram', 'qr', 'cholesky', 'svd'][path]!r} path; "
        "compile (s): " + ", ".join(f"{k} {v:.2f}" for k, v in compile_s.items())
    )
    print("\n| solver | best (ms) | median (ms) | × numpy Cholesky | max rel diff vs gelsy |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for r in rows:
        ratio, diff = r["ratio_to_numpy_cholesky"], r["max_rel_diff_vs_gelsy"]
        cells = f"{r['best_ms']:.1f} | {r['median_ms']:.1f} | {ratio:.2f} | {diff:.1e}"
        print(f"| {r['solver']} | {cells} |")
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"n": n, "d": d, "jax": jax.__version__, "cores": os.cpu_count(),
            "device": str(jax.devices()[0]), "compile_s": compile_s,
            "default_path": path}  # fmt: skip
    (out / "closed_form_ols.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    print(f"\nwrote {out / 'closed_form_ols.json'}")


if __name__ == "__main__":
    main()
