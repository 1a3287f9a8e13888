"""How fast and how exact is jaxmle's GLM engine against statsmodels and glmax?

Question: for Poisson (log link) and logistic (Binomial, logit) regressions of 500x10, 2,000x20,
10,000x50 and 1,000,000x20 (float64), how long does ``jaxmle._irls.irls`` take

- cold: the first call in a fresh Python process with no persistent compilation cache
  (``JAXMLE_NO_COMPILATION_CACHE=1``, no ``jax_compilation_cache_dir``); imports apart, the
  XLA compile time (``jax.monitoring`` backend-compile events) reported apart too;
- warm: the best of several calls in one process, the jaxmle and glmax rows called in turn
  round after round (so that a change of load on the shared machine hits every row alike;
  statsmodels in its own process: NumPy's BLAS threads spin after its calls and slow down
  whatever runs next);

against statsmodels 0.15 ``sm.GLM(y, X, family).fit()`` + ``.bse`` (warm; its default IRLS,
``tol=1e-8``; "cold 1st" is its first call in the warm process) and glmax 0.1.1
``glmax.fit(family, X, y)`` (cold and warm, its default ``IRLSFitter``: ``tol=1e-3`` on the
objective; and warm with ``IRLSFitter(tol=1e-10)``, "glmax tight"; "warm+SE" adds
``glmax.infer`` for its standard errors, which jaxmle's and statsmodels' calls include)? And how
exact is each: the max relative error of the coefficients, and of the standard errors, against
an optimum computed here in float64 NumPy (Newton with the analytic Hessian and step-halving,
to a step below 1e-15 relative; SEs from the inverse Hessian there).

Every library gets the same NumPy arrays (converted inside the timed call). Data: seed 0,
``X = [1, 0.3 N(0, 1)]``, ``β ~ 0.3 N(0, 1)``, ``y ~ Poisson(exp(Xβ))`` or
``Bernoulli(sigmoid(Xβ))``. jaxmle's timed call returns coefficients, covariance, deviance,
Pearson χ², log-likelihood and status (one program).

Hardware: a shared 2-core x86-64 VM with other work running (the load average is printed and
recorded): warm best-of times are good to ~10-30% at a low load and 2-3x worse under load,
cold single calls to ~30-50%. jax 0.10.2, CPU.

Typical output (full run 2026-12-02, load average 1.4 -> 1.8, 572 s with the two tables; the
full table, with iterations and compile times, in ``benchmarks/results/glm.json``). Warm, ms
(glmax: fit / fit+SE); cold first call, s; max relative coefficient error in brackets:

    case            jaxmle          glmax                  glmax tight           statsmodels
    poisson 500x10  0.98 (5e-15)    0.42/0.53 (7e-9)       0.40/0.54 (3e-15)     3.9
    logit 500x10    0.81 (4e-15)    0.62/0.78 (6e-6)       0.61/0.82 (1e-12)     2.0
    poisson 2kx20   2.09 (9e-15)    1.49/1.53 (3e-7)       1.71/1.79 (3e-14)     9.7
    logit 2kx20     1.50 (4e-15)    1.04/1.28 (1e-5)       1.30/1.63 (1e-15)     7.6
    poisson 10kx50  30.7 (1e-14)    28.5/32.9 (9e-9)       21.8/33.4 (2e-14)     204
    logit 10kx50    26.9 (1e-13)    22.9/28.3 (1e-11)      18.8/35.0 (3e-13)     111
    poisson 1Mx20   858 (3e-15)     1110/1250 (1e-14)      1100/1300 (1e-14)     10240
    logit 1Mx20     855 (5e-15)     1030/1370 (3e-12)      1420/1620 (1e-14)     9330
    tables 1Mx21    172 / 300 (every row: 1210 / 1180)   glmax tight 1210 / 1790   8360 / 10240
    cold (s)        jaxmle 1.02-1.25 (2.3-2.4 at 1M)   glmax 1.25-1.56 (2.7-3.4 at 1M)

SE errors: jaxmle 2e-16 to 8e-14; glmax tight 3e-16 to 4e-15; statsmodels 1e-13 to 2e-7.

Reading it: statsmodels is 2.5-12x slower warm, with SEs 1e-10 to 2e-7 off (its covariance
comes from the weights one IRLS step before its estimate); glmax's default stops ~1e-8 to 1e-5
relative short. With standard errors at equal accuracy (glmax tight, warm+SE) jaxmle is faster
from 10,000x50 up and at logit 2,000x20, slower at Poisson 500x10 and 2,000x20 (its covariance
and status are settled on the host after the program: ~0.1 ms). Cold, jaxmle's first call is
0.75-0.99x glmax's. On the two contingency tables (400 cells) jaxmle fits the distinct rows
(its sufficient-statistics path), 4-7x faster than on every row.

Run: ``python benchmarks/glm.py [--quick] [--sizes 500x10,2000x20 --out FILE]``; ``--quick``
is 500x10 and 2,000x20 (~1.5 min), the full run ~10 min (``--tables``: the tables only).
Worker mode, used by the parent: ``python benchmarks/glm.py --worker
cold-jaxmle|cold-glmax|warm-jax|warm-sm --data DIR``; it prints one
``GLM_JSON {...}`` line.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import platform
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
MARK = "GLM_JSON "
SIZES = ((500, 10), (2_000, 20), (10_000, 50), (1_000_000, 20))
QUICK = ((500, 10), (2_000, 20))
KINDS = ("poisson", "logistic")
# Contingency tables: 1,000,000 rows of three categorical factors (10 x 8 x 5 levels, 400
# cells; p = 21 with treatment coding), where jaxmle collapses repeated rows (its
# sufficient-statistics path); "jaxmle rows" is the same call on every row.
TABLES = (("poisson-table", 1_000_000, 21), ("logistic-table", 1_000_000, 21))
_COMPILE = "/jax/core/compile/backend_compile_duration"


# --------------------------------------------------------------------------------------------
# Worker side.


def _rounds(n: int) -> int:
    if n >= 1_000_000:
        return 2
    return 5 if n >= 10_000 else 25


def _calls(kind: str, X, y) -> dict:
    """Row -> (timed call, extract): jaxmle, glmax (and + SEs), glmax tight, statsmodels."""
    import glmax
    import jax
    import numpy as np
    import statsmodels.api as sm

    import jaxmle.families as F  # noqa: N812 - as sm.families
    from jaxmle import _irls_groups
    from jaxmle._irls import irls

    pois = kind.startswith("poisson")
    fam = F.Poisson() if pois else F.Binomial()
    gfam = glmax.Poisson() if pois else glmax.Binomial()
    smfam = sm.families.Poisson() if pois else sm.families.Binomial()
    fitters = {"glmax": glmax.IRLSFitter(), "glmax tight": glmax.IRLSFitter(tol=1e-10)}

    def jaxmle_extract(r):
        return {"coef": np.asarray(r.coef), "se": np.sqrt(np.diag(np.asarray(r.cov))),
                "iterations": int(r.iterations), "converged": bool(r.converged)}  # fmt: skip

    def glmax_extract(r):
        return {
            "coef": np.asarray(r.params.beta),
            "se": np.asarray(glmax.infer(r).se),
            "iterations": int(r.result.num_iters),
            "converged": bool(r.result.converged),
        }

    def sm_call():
        f = sm.GLM(y, X, family=smfam).fit()
        _ = f.bse
        return f

    def sm_extract(f):
        return {
            "coef": np.asarray(f.params),
            "se": np.asarray(f.bse),
            "iterations": int(f.fit_history["iteration"]),
            "converged": bool(f.converged),
        }

    calls = {"jaxmle": (lambda: jax.block_until_ready(irls(fam, X, y)), jaxmle_extract)}
    if kind.endswith("table"):
        find = _irls_groups.find

        def every_row():
            _irls_groups.find = lambda *a: None
            try:
                return jax.block_until_ready(irls(fam, X, y))
            finally:
                _irls_groups.find = find

        calls["jaxmle rows"] = (every_row, jaxmle_extract)
    for row, fitter in fitters.items():
        calls[row] = (lambda fitter=fitter: jax.block_until_ready(glmax.fit(gfam, X, y,
                                                                            fitter=fitter)),
                      glmax_extract)  # fmt: skip
        calls[row + "+SE"] = (lambda fitter=fitter: jax.block_until_ready(
            glmax.infer(glmax.fit(gfam, X, y, fitter=fitter)).se), None)  # fmt: skip
    calls["statsmodels"] = (sm_call, sm_extract)
    return calls


def worker(mode: str, data_dir: str) -> None:
    """``cold-jaxmle`` / ``cold-glmax``: the first call of a fresh process; ``warm-jax``: the
    jaxmle and glmax rows called in turn, round after round (so a change of load hits all rows
    alike), best of; ``warm-sm``: statsmodels alone, the same way."""
    t0 = time.perf_counter()
    import numpy as np

    X = np.load(os.path.join(data_dir, "X.npy"))
    y = np.load(os.path.join(data_dir, "y.npy"))
    kind = pathlib.Path(data_dir, "kind").read_text()
    import jax

    jax.config.update("jax_enable_x64", True)
    events: list[float] = []

    def on_event(name, secs, **_kw):
        if name == _COMPILE:
            events.append(secs)

    jax.monitoring.register_event_duration_secs_listener(on_event)
    if mode.startswith("cold"):
        lib = mode.split("-", 1)[1]
        if lib == "jaxmle":
            import jaxmle.families  # noqa: F401
            from jaxmle._irls import irls  # noqa: F401
        else:
            import glmax  # noqa: F401
        out = {"import_s": time.perf_counter() - t0}
        call, _ = _calls(kind, X, y)[lib]
        t = time.perf_counter()
        call()
        out.update(first_s=time.perf_counter() - t, compile_s=float(sum(events)))
        print(MARK + json.dumps(out), flush=True)
        return
    calls = _calls(kind, X, y)
    # statsmodels in a process of its own: NumPy's BLAS threads spin after each of its calls and
    # slow down whatever runs next (measured: +40% on the next 500x10 JAX fit).
    jax_rows = mode == "warm-jax"
    calls = {k: v for k, v in calls.items() if (k != "statsmodels") == jax_rows}
    out: dict = {"rows": {}}
    results = {}
    for row, (call, _) in calls.items():
        t = time.perf_counter()
        results[row] = call()
        out["rows"][row] = {"first_in_warm_process_s": time.perf_counter() - t, "warm_s": []}
    for _ in range(_rounds(X.shape[0])):
        for row, (call, _) in calls.items():
            t = time.perf_counter()
            call()
            out["rows"][row]["warm_s"].append(time.perf_counter() - t)
    for row, (_, extract) in calls.items():
        info = out["rows"][row]
        info["warm_s"] = min(info["warm_s"])
        if extract is not None:
            info.update({k: (v.tolist() if hasattr(v, "tolist") else v)
                         for k, v in extract(results[row]).items()})  # fmt: skip
    print(MARK + json.dumps(out), flush=True)


# --------------------------------------------------------------------------------------------
# Parent side: data, the float64 reference, the fresh processes, the table.


def make_data(kind: str, n: int, p: int, seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    if kind.endswith("table"):
        cols = [np.ones(n)]
        for levels in (10, 8, 5):
            f = rng.integers(0, levels, n)
            cols += [f == j for j in range(1, levels)]
        X = np.column_stack(cols).astype(float)
    else:
        X = np.column_stack([np.ones(n), 0.3 * rng.standard_normal((n, p - 1))])
    assert X.shape[1] == p
    beta = 0.3 * rng.standard_normal(p)
    eta = X @ beta
    if kind.startswith("poisson"):
        y = rng.poisson(np.exp(eta)).astype(float)
    else:
        y = (rng.uniform(size=n) < 1.0 / (1.0 + np.exp(-eta))).astype(float)
    return X, y


def reference(kind: str, X, y):
    """Newton in float64 NumPy (analytic gradient and Hessian) to a step below 1e-15 relative."""
    import numpy as np

    def parts(b):
        eta = X @ b
        if kind.startswith("poisson"):
            mu = np.exp(eta)
            return np.sum(y * eta - mu), X.T @ (y - mu), mu
        mu = 1.0 / (1.0 + np.exp(-eta))
        ll = np.sum(y * eta - np.logaddexp(0.0, eta))
        return ll, X.T @ (y - mu), mu * (1.0 - mu)

    b = np.zeros(X.shape[1])
    if kind.startswith("poisson"):
        b[0] = np.log(np.mean(y))
    ll, g, w = parts(b)
    for _ in range(100):
        H = X.T @ (X * w[:, None])
        step = np.linalg.solve(H, g)
        t = 1.0
        while True:
            ll_new, g_new, w_new = parts(b + t * step)
            if ll_new >= ll - 1e-12 * abs(ll) or t < 1e-8:
                break
            t *= 0.5
        b = b + t * step
        ll, g, w = ll_new, g_new, w_new
        if np.max(np.abs(t * step) / np.maximum(np.abs(b), 1e-300)) < 1e-15:
            break
    H = X.T @ (X * w[:, None])
    return b, np.sqrt(np.diag(np.linalg.inv(H)))


def _run_worker(mode: str, data_dir: str) -> dict:
    env = dict(os.environ, JAXMLE_NO_COMPILATION_CACHE="1")
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    cmd = [sys.executable, __file__, "--worker", mode, "--data", data_dir]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
    for line in proc.stdout.splitlines():
        if line.startswith(MARK):
            return json.loads(line[len(MARK) :])
    raise RuntimeError(f"worker {mode} failed:\n{proc.stdout}\n{proc.stderr}")


def _err(a, b) -> float:
    import numpy as np

    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / np.abs(b)))


def run_case(kind: str, n: int, p: int) -> dict:
    import numpy as np

    X, y = make_data(kind, n, p)
    t = time.perf_counter()
    b_ref, se_ref = reference(kind, X, y)
    case = {"kind": kind, "n": n, "p": p, "reference_s": time.perf_counter() - t, "rows": {}}
    with tempfile.TemporaryDirectory() as tmp:
        np.save(os.path.join(tmp, "X.npy"), X)
        np.save(os.path.join(tmp, "y.npy"), y)
        pathlib.Path(tmp, "kind").write_text(kind)
        cold = {lib: _run_worker("cold-" + lib, tmp) for lib in ("jaxmle", "glmax")}
        warm = {**_run_worker("warm-jax", tmp)["rows"], **_run_worker("warm-sm", tmp)["rows"]}
    for row, info in warm.items():
        if row.endswith("+SE"):
            continue
        r = {"warm_s": info["warm_s"], "iterations": info["iterations"],
             "converged": info["converged"], "coef_err": _err(info["coef"], b_ref),
             "se_err": _err(info["se"], se_ref)}  # fmt: skip
        if row + "+SE" in warm:
            r["warm_se_s"] = warm[row + "+SE"]["warm_s"]
        if row in cold:
            r.update(cold[row])
        elif row == "statsmodels":
            r["first_s"] = info["first_in_warm_process_s"]
        case["rows"][row] = r
    return case


def _fmt(x, unit="s") -> str:
    if x is None:
        return "—"
    if unit == "s":
        return f"{x * 1e3:.2f} ms" if x < 1.0 else f"{x:.2f} s"
    return f"{x:.1e}"


def table(cases: list[dict]) -> str:
    head = (f"{'case':22s} {'library':13s} {'warm':>10s} {'warm+SE':>10s} {'cold 1st':>10s} "
            f"{'compile':>9s} {'iters':>5s} {'coef err':>9s} {'SE err':>9s}")  # fmt: skip
    lines = [head, "-" * len(head)]
    for c in cases:
        name = f"{c['kind']} {c['n']}x{c['p']}"
        for row, r in c["rows"].items():
            lines.append(
                f"{name:22s} {row:13s} {_fmt(r['warm_s']):>10s} "
                f"{_fmt(r.get('warm_se_s', r['warm_s'])):>10s} {_fmt(r.get('first_s')):>10s} "
                f"{_fmt(r.get('compile_s')):>9s} {r['iterations']:>5d} "
                f"{_fmt(r['coef_err'], 'e'):>9s} {_fmt(r['se_err'], 'e'):>9s}"
            )
            name = ""
    return "\n".join(lines)


def _versions() -> dict:
    out = {"python": platform.python_version(), "machine": platform.machine(),
           "cpus": os.cpu_count()}  # fmt: skip
    for mod in ("jax", "jaxlib", "numpy", "statsmodels", "glmax"):
        try:
            out[mod] = __import__(mod).__version__
        except Exception:  # not installed or no version
            out[mod] = None
    return out


def _write_json(path: pathlib.Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    with open(tmp, "w") as f:
        json.dump(payload, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="500x10 and 2,000x20 only")
    ap.add_argument("--sizes", default=None, help="comma-separated NxP, e.g. 500x10,2000x20")
    ap.add_argument("--out", default=None, help="JSON path (default benchmarks/results/glm.json)")
    ap.add_argument("--tables", action="store_true",
                    help="only the two 1,000,000-row contingency tables (in the full run too)")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--data", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.data)
        return
    if args.sizes:
        sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    else:
        sizes = QUICK if args.quick else SIZES
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    todo = [(kind, n, p) for n, p in sizes for kind in KINDS]
    if args.tables:
        todo = list(TABLES)
    elif not args.quick and not args.sizes:
        todo += TABLES
    cases = []
    for kind, n, p in todo:
        cases.append(run_case(kind, n, p))
        print(table(cases[-1:]).split("\n", 2)[-1], flush=True)
    text = table(cases)
    print("\n" + text)
    meta = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "quick": args.quick,
            "sizes": [list(s) for s in sizes], "loadavg_start": load0,
            "loadavg_end": os.getloadavg(), "total_s": time.perf_counter() - t0,
            "versions": _versions()}  # fmt: skip
    print(
        f"\nload average {load0[0]:.1f} -> {meta['loadavg_end'][0]:.1f}; "
        f"{meta['total_s']:.0f} s in all"
    )
    default = ("glm_tables.json" if args.tables
               else "glm_quick.json" if args.quick and not args.sizes else "glm.json")  # fmt: skip
    path = pathlib.Path(args.out) if args.out else HERE / "results" / default
    if args.sizes and not args.out:
        print("(--sizes without --out: no JSON written)")
        return
    _write_json(path, {"meta": meta, "cases": cases, "table": text})


if __name__ == "__main__":
    main()
