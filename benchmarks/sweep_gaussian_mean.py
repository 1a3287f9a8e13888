"""How fast is a whole minibatch-SGD/Adam study of a 2-D Gaussian mean, and how fast could it be?

Question: the source notebook (seed 003, "Praxis") fits the mean of a 2-D Gaussian by gradient
ascent with PyTorch. Its natural study -- n = 10,000 points from N((1, 1), 5 I), mu0 = (0, 0),
8 learning rates ``np.logspace(-3, 0.5, 8)``, batch sizes {1, 5, 10, 100, 1000, 10000}, 4
seeds, 2,000 steps, SGD and Adam, minibatches drawn with replacement, objective the negative
*mean* log-likelihood with Sigma = 5 I known -- is 192 runs per optimiser, 384 in all, 1.42 G
gathered rows. How long does it take

(a) as a PyTorch loop, one run after another, the way the notebook does it;
(b) as a Python loop over runs of jitted JAX ``lax.scan`` programs, one compiled program per
    (optimiser, batch size), ``optax.inject_hyperparams`` so a new learning rate does not
    recompile;
(c) with ``jaxmle.sweep`` (one compiled program per study, if it exists yet);

and what is the floor (rows x bytes / measured streaming bandwidth; rows / measured gather
throughput on the cache-resident 160 KB table; rows / the cheapest measured sampling+gather)?

Also checks that (a) and (b) agree statistically (different random numbers, so not
identically): per (optimiser, batch size, lr) cell the RMS error |mu - sample mean| over seeds,
and the max over lanes of |mu_b - mu_a| at the largest batch size.

Typical output (2-core AMD EPYC, shared with other work, see README): a markdown table of
compile / steady run / end-to-end seconds per method and optimiser with speed-ups and the
bounds, a table of (b)'s time per batch size, a profile of one b = 10,000 step's pieces, and
``benchmarks/results/sweep_gaussian_mean.json``. The full study takes 10-20 minutes here,
mostly (a), whose time depends strongly on other load: with torch's default 2 threads its
b >= 1000 matmuls slow from ~0.4 to 2-40 ms per step when another process competes for the
cores (``--torch-threads 1`` avoids that; the default leaves torch's setting alone).

Run: ``python benchmarks/sweep_gaussian_mean.py [--steps 2000] [--seeds 4] [--skip-torch]
[--torch-runs N] [--out DIR]``. torch is optional (``pip install torch==2.13.0``, the CPU
wheel); without it (a) is skipped. ``--torch-runs N`` runs only the first N torch runs per
optimiser (spread over all batch sizes) and extrapolates the wall time per batch size.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import sys
import time
import traceback
import warnings


def _host_devices_from_argv() -> int:
    # XLA reads its flags when the backend starts, so this must run before JAX is used.
    for i, a in enumerate(sys.argv):
        if a.startswith("--host-devices"):
            v = a.split("=", 1)[1] if "=" in a else sys.argv[i + 1]
            return int(v)
    return 1


_HOST_DEVICES = _host_devices_from_argv()
if _HOST_DEVICES > 1:
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "")
        + f" --xla_force_host_platform_device_count={_HOST_DEVICES}"
    )

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import _baselines as bl  # noqa: E402

import jaxmle  # noqa: E402

OPTS = ("sgd", "adam")
COV = 5.0 * np.eye(2)


def run_jaxmle(x, exact, lrs, batch_sizes, seeds, steps, key) -> dict:
    """(c) ``jaxmle.sweep``: cold (compile included) and steady-state wall time."""
    try:
        sweep = jaxmle.sweep
        model = jaxmle.models.MultivariateGaussian(cov=5.0 * jnp.eye(2))
    except (AttributeError, ImportError) as err:
        print(f"jaxmle.sweep not available yet ({err}); (c) skipped")
        return {"available": False, "reason": str(err)}

    def call():
        t0 = time.perf_counter()
        study = sweep(
            model,
            {"mean": jnp.zeros(2)},
            x,
            optimizer={"sgd": optax.sgd, "adam": optax.adam},
            grid={"learning_rate": lrs, "batch_size": batch_sizes, "seed": list(range(seeds))},
            steps=steps,
            key=key,
            reference=exact,
        )
        jax.block_until_ready(jax.tree_util.tree_leaves(getattr(study, "params", study)))
        return study, time.perf_counter() - t0

    out: dict = {"available": True}
    try:
        study, out["cold_s"] = call()
        out["_timings_cold"] = getattr(study, "timings", None)
        study, out["steady_s"] = call()
    except Exception as err:  # report, keep (a)/(b)'s results
        traceback.print_exc()
        print(f"jaxmle.sweep failed: {type(err).__name__}: {err}")
        out.update(available=False, reason=f"{type(err).__name__}: {err}")
        return out
    timings = getattr(study, "timings", None)
    if isinstance(timings, dict):
        print(f"jaxmle.sweep timings (steady call): {timings}")
        out["timings_cold"] = out.pop("_timings_cold", None)
        out["timings_steady"] = timings
        for which in ("cold", "steady"):
            t = out[f"timings_{which}"]
            if not isinstance(t, dict):
                continue
            for o in OPTS:
                parts = [
                    v for k, v in t.items() if str(k).startswith(f"{o}/") and isinstance(v, dict)
                ]
                out[f"{which}_compile_s_{o}"] = sum(v.get("compile_s", 0.0) for v in parts)
                out[f"{which}_compile_wait_s_{o}"] = sum(
                    v.get("compile_wait_s", v.get("compile_s", 0.0)) for v in parts
                )
                out[f"{which}_run_s_{o}"] = sum(v.get("run_s", 0.0) for v in parts)
    out.pop("_timings_cold", None)
    meta = getattr(study, "meta", None)
    if isinstance(meta, dict):
        out["meta"] = meta
    params, axes = getattr(study, "params", None), getattr(study, "axes", None)
    if isinstance(params, dict) and "mean" in params and isinstance(axes, dict):
        try:  # to the baselines' [opt, b, lr, seed, 2] order
            names = list(axes)
            perm = [names.index(a) for a in ("optimizer", "batch_size", "learning_rate", "seed")]
            mu = np.transpose(np.asarray(params["mean"]), (*perm, len(names)))
            assert list(axes["optimizer"]) == list(OPTS) and mu.shape[-1] == 2
            out["mu"] = mu
        except (ValueError, AssertionError) as err:
            print(f"(c) params not compared: {err}")
    return out


def correctness(mu_a, mu_b, exact, lrs, batch_sizes) -> dict:
    """Statistical agreement of two methods' final mus ``[opt, b, lr, seed, 2]`` (NaN: not run).

    RMS error |mu - exact| per (opt, b, lr) cell over seeds and coordinates, their ratio, and the
    max over lanes of |mu_b - mu_a| at the largest batch size.
    """
    with warnings.catch_warnings():  # cells torch did not run (--torch-runs) are all-NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        err_a = np.sqrt(np.nanmean((mu_a - exact) ** 2, axis=(-2, -1)))  # [opt, b, lr]
    err_b = np.sqrt(np.nanmean((mu_b - exact) ** 2, axis=(-2, -1)))
    ratio = err_b / err_a
    ok = np.isfinite(ratio)
    out = {
        "rms_err_a": err_a.tolist(),
        "rms_err_b": err_b.tolist(),
        "cells_compared": int(ok.sum()),
        "geo_mean_ratio_b_over_a": float(np.exp(np.mean(np.log(ratio[ok])))) if ok.any() else None,
        "frac_cells_within_3x": float(np.mean(np.abs(np.log(ratio[ok])) < np.log(3)))
        if ok.any()
        else None,
    }
    d = np.abs(mu_b[:, -1] - mu_a[:, -1])  # largest batch size: [opt, lr, seed, 2]
    out["max_abs_diff_at_max_b"] = {
        o: (float(np.nanmax(d[i])) if np.isfinite(d[i]).any() else None) for i, o in enumerate(OPTS)
    }
    out["max_abs_diff_at_max_b_by_lr"] = {
        o: [
            float(np.nanmax(d[i, li])) if np.isfinite(d[i, li]).any() else None
            for li in range(len(lrs))
        ]
        for i, o in enumerate(OPTS)
    }
    return out


def _where_time_goes(comp: dict, res_c: dict, steps: int, lanes: int) -> list:
    """(c)'s cold wall split into compile and programs, and one b = 10,000 lane-step's pieces."""
    t = res_c.get("timings_cold")
    if not res_c.get("available") or not isinstance(t, dict):
        return []
    compile_s = sum(v.get("compile_s", 0.0) for v in t.values())
    wait_s = sum(v.get("compile_wait_s", 0.0) for v in t.values())
    run_s = sum(v.get("run_s", 0.0) for v in t.values())
    big = [v for k, v in t.items() if k.endswith("b=10000")]
    rows = [
        ("cold wall of sweep()", f"{res_c['cold_s']:.2f} s", "everything, from a cold start"),
        ("compiling (background thread)", f"{compile_s:.2f} s", f"{len(t)} programs"),
        ("waiting for compiles", f"{wait_s:.2f} s", "compile time not hidden behind runs"),
        ("running programs", f"{run_s:.2f} s", "all groups, both optimisers"),
        (
            "other (tracing, lowering, init, results)",
            f"{max(res_c['cold_s'] - wait_s - run_s, 0.0):.2f} s",
            "host-side Python",
        ),
    ]
    if big:
        b_run = sum(v["run_s"] for v in big)
        rows.append(("b = 10,000 programs", f"{b_run:.2f} s", f"{b_run / run_s:.0%} of run time"))
        per = b_run / (len(big) * steps * lanes) * 1e6
        idx = comp.get("[engine] hash sample", {}).get("us_per_step")
        gs = comp.get("[engine] hash sample+gather-sum of statistics", {}).get("us_per_step")
        grad = comp.get("[engine] hash sample+gather-sum+grad (statistics)", {}).get("us_per_step")
        rows.append(("one b = 10,000 lane-step in (c)", f"{per:.1f} µs", "run time / lane-steps"))
        if idx is not None and gs is not None and grad is not None:
            rows += [
                ("  index sampling (hash)", f"{idx:.1f} µs", "32 lanes vmapped, per lane"),
                ("  gather-sum of statistics", f"{max(gs - idx, 0.0):.1f} µs", "the rest of it"),
                ("  objective + gradient", f"{max(grad - gs, 0.0):.1f} µs", "tiny: 2 numbers"),
                (
                    "  optimiser update, bookkeeping, vmap",
                    f"{max(per - grad, 0.0):.1f} µs",
                    "the remainder",
                ),
            ]
    return rows


def fmt(v, spec=".1f"):
    return "—" if v is None else format(v, spec)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--skip-torch", action="store_true")
    ap.add_argument(
        "--torch-runs",
        type=int,
        default=0,
        help="N > 0: run only the first N torch runs per optimiser, extrapolate",
    )
    ap.add_argument(
        "--torch-threads",
        type=int,
        default=0,
        help="torch.set_num_threads for (a) (default 0: leave torch's default)",
    )
    ap.add_argument("--gather-indices", type=int, default=100_000_000)
    ap.add_argument(
        "--host-devices",
        type=int,
        default=1,
        help="expose N XLA CPU devices (one per core) so jaxmle.sweep shards lanes over them; "
        "(b) still runs on one device",
    )
    ap.add_argument("--out", default=str(pathlib.Path(__file__).parent / "results"))
    args = ap.parse_args()

    lrs = np.logspace(-3, 0.5, 8)
    batch_sizes = [1, 5, 10, 100, 1000, 10000]
    seeds = list(range(args.seeds))
    steps, n = args.steps, args.n
    load0 = os.getloadavg()

    key = jax.random.key(0)
    x = jax.random.multivariate_normal(key, jnp.ones(2), jnp.asarray(COV), (n,), dtype=jnp.float64)
    x = jax.block_until_ready(x)
    x_np = np.asarray(x)
    exact = {"mean": jnp.mean(x, axis=0)}
    exact_np = np.asarray(exact["mean"])
    print(f"data: n={n}, sample mean (exact MLE) = {exact_np}")

    # --- rooflines --------------------------------------------------------------------------
    print("measuring bandwidth, gather throughput and step components ...", flush=True)
    bw = bl.memory_bandwidth_gbs()
    gt = bl.gather_throughput(x, n_idx=args.gather_indices)
    comp = bl.profile_step_components(x, b=10_000, steps=min(steps, 300))
    gather_rate = max(
        gt["flat_rows_per_s"],
        gt["scan_b10000_rows_per_s"],
        comp["gather (pre-made idx)"]["rows_per_s"],
    )
    sample_rate = max(
        v["rows_per_s"] for k, v in comp.items() if "+gather (" in k and "grad" not in k
    )
    bound = bl.study_bound(
        batch_sizes,
        len(lrs),
        len(seeds),
        steps,
        len(OPTS),
        bandwidth_gbs=bw["gbs"],
        gather_rows_per_s=gather_rate,
        sample_rows_per_s=sample_rate,
    )

    # --- (a) torch --------------------------------------------------------------------------
    res_a = None
    if args.skip_torch:
        print("(a) torch skipped (--skip-torch)")
    else:
        try:
            print("(a) torch loop ...", flush=True)
            res_a = bl.run_torch(
                x_np,
                lrs,
                batch_sizes,
                seeds,
                steps,
                OPTS,
                cov=COV,
                max_runs=args.torch_runs or None,
                threads=args.torch_threads or None,
            )
        except ImportError:
            print("(a) skipped: torch is not installed (pip install torch==2.13.0)")

    # --- (b) jax loop -----------------------------------------------------------------------
    print("(b) Python loop of jitted JAX scans ...", flush=True)
    res_b = bl.run_jax_loop(x, lrs, batch_sizes, seeds, steps, OPTS, cov=COV)

    # --- (c) jaxmle.sweep -------------------------------------------------------------------
    print("(c) jaxmle.sweep ...", flush=True)
    res_c = run_jaxmle(x, exact, lrs, batch_sizes, len(seeds), steps, key)
    load1 = os.getloadavg()

    # --- table ------------------------------------------------------------------------------
    rows = []
    a_e2e = {o: res_a["wall_s_full"][o] for o in OPTS} if res_a else None
    for o in (*OPTS, "total"):
        if res_a:
            e2e = sum(a_e2e.values()) if o == "total" else a_e2e[o]
            note = (
                f"extrapolated from {res_a['runs_done'][OPTS[0]]}/{res_a['runs_total']} runs"
                if res_a["extrapolated"]
                else ""
            )
            rows.append(
                {
                    "method": f"(a) torch loop [{o}]",
                    "opt": o,
                    "compile_s": 0.0,
                    "run_s": e2e,
                    "e2e_s": e2e,
                    "note": note,
                }
            )
    for o in (*OPTS, "total"):
        c = sum(res_b["compile_s"].values()) if o == "total" else res_b["compile_s"][o]
        r = sum(res_b["run_s"].values()) if o == "total" else res_b["run_s"][o]
        rows.append(
            {
                "method": f"(b) jax loop of jitted scans [{o}]",
                "opt": o,
                "compile_s": c,
                "run_s": r,
                "e2e_s": c + r,
                "note": "6 programs" if o != "total" else "",
            }
        )
    if res_c.get("available"):
        if "cold_compile_s_sgd" in res_c:
            for o in OPTS:
                c, r = res_c[f"cold_compile_s_{o}"], res_c[f"steady_run_s_{o}"]
                wait = res_c[f"cold_compile_wait_s_{o}"]
                rows.append(
                    {
                        "method": f"(c) jaxmle.sweep [{o}]",
                        "opt": o,
                        "compile_s": c,
                        "run_s": r,
                        "e2e_s": wait + res_c[f"cold_run_s_{o}"],
                        "note": f"study.timings; compiles overlap runs, {wait:.2f} s waited",
                    }
                )
        c_total = sum(res_c.get(f"cold_compile_s_{o}", 0.0) for o in OPTS)
        rows.append(
            {
                "method": "(c) jaxmle.sweep [total]",
                "opt": "total",
                "compile_s": c_total or max(res_c["cold_s"] - res_c["steady_s"], 0.0),
                "run_s": res_c["steady_s"],
                "e2e_s": res_c["cold_s"],
                "note": "wall of whole sweep() calls: cold, steady"
                + ("" if c_total else "; compile = cold − steady"),
            }
        )
    by = {(r["method"][:3], r["opt"]): r for r in rows}
    for r in rows:
        a = by.get(("(a)", r["opt"]))
        b = by[("(b)", r["opt"])]
        r["x_vs_a_e2e"] = a["e2e_s"] / r["e2e_s"] if a else None
        r["x_vs_b_e2e"] = b["e2e_s"] / r["e2e_s"]
        r["x_vs_b_run"] = b["run_s"] / r["run_s"]

    cpu = platform.processor() or platform.machine()
    print(
        f"\n{len(OPTS) * len(batch_sizes) * len(lrs) * len(seeds)} runs "
        f"({len(lrs)} lr × {len(batch_sizes)} b × {len(seeds)} seeds × {len(OPTS)} opt), "
        f"{steps} steps, {bound['rows'] / 1e9:.3f} G gathered rows; {os.cpu_count()} cores, "
        f"{cpu}, jax {jax.__version__}"
        + (f", torch {res_a['torch']} ({res_a['threads']} threads)" if res_a else "")
        + f"; load average {load0[0]:.2f} at start, {load1[0]:.2f} at end"
    )
    print(
        "\n| method | compile (s) | run, steady (s) | end-to-end (s) | × vs (a) e2e "
        "| × vs (b) e2e | × vs (b) run | note |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for r in rows:
        print(
            f"| {r['method']} | {r['compile_s']:.2f} | {r['run_s']:.2f} | {r['e2e_s']:.2f} | "
            f"{fmt(r['x_vs_a_e2e'])} | {fmt(r['x_vs_b_e2e'], '.2f')} | "
            f"{fmt(r['x_vs_b_run'], '.2f')} | {r['note']} |"
        )
    bounds = [
        (
            f"bound: DRAM bandwidth ({bw['gbs']:.1f} GB/s, {bound['bytes'] / 1e9:.1f} GB)",
            bound["bandwidth_s"],
        ),
        (
            f"bound: gather throughput ({gather_rate / 1e6:.0f} M rows/s, pre-made indices)",
            bound["gather_s"],
        ),
        (
            f"bound: cheapest sampling+gather ({sample_rate / 1e6:.0f} M rows/s)",
            bound["sample_gather_s"],
        ),
    ]
    for name, s in bounds:
        xa = f"{sum(a_e2e.values()) / s:.0f}" if res_a else "—"
        xb = by[("(b)", "total")]
        print(
            f"| {name} | — | {s:.2f} | {s:.2f} | {xa} | {xb['e2e_s'] / s:.1f} | "
            f"{xb['run_s'] / s:.1f} | floor, both optimisers |"
        )
    print("\n(× columns for bound rows: how far (a)/(b) are above the bound.)")

    print(
        "\n(b) by batch size: compile and run seconds (8 lr × "
        f"{len(seeds)} seeds = {len(lrs) * len(seeds)} runs each)\n"
    )
    print(
        "| b | rows | sgd compile | sgd run | sgd M rows/s | adam compile | adam run "
        "| adam M rows/s | torch sgd s/run | torch adam s/run |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    g = {(gr["opt"], gr["b"]): gr for gr in res_b["groups"]}
    for b in batch_sizes:
        s, a = g[("sgd", b)], g[("adam", b)]
        ta = [res_a["per_b_s"][o][b] if res_a else None for o in OPTS]
        print(
            f"| {b} | {s['rows'] / 1e6:.1f} M | {s['compile_s']:.2f} | {s['run_s']:.2f} | "
            f"{s['rows'] / s['run_s'] / 1e6:.1f} | {a['compile_s']:.2f} | {a['run_s']:.2f} | "
            f"{a['rows'] / a['run_s'] / 1e6:.1f} | {fmt(ta[0], '.3f')} | {fmt(ta[1], '.3f')} |"
        )

    print(
        "\nOne step's pieces inside a jitted scan (b = 10,000 unless stated; [engine] rows: "
        "32 lanes vmapped as in (c), per lane-step, compiled with the engine's options):\n"
    )
    print("| piece | M rows/s | µs/step |")
    print("| --- | ---: | ---: |")
    for name, v in comp.items():
        print(f"| {name} | {v['rows_per_s'] / 1e6:.1f} | {v['us_per_step']:.1f} |")
    where = _where_time_goes(comp, res_c, steps, len(lrs) * len(seeds))
    if where:
        print("\nWhere (c)'s time goes (cold call; per-step pieces from the rows above):\n")
        print("| part | seconds or µs | note |")
        print("| --- | ---: | --- |")
        for name, val, note in where:
            print(f"| {name} | {val} | {note} |")
    print(
        f"\nbandwidth: numpy sum {bw['numpy_gbs']:.1f} GB/s, jax sum {bw['jax_gbs']:.1f} GB/s "
        f"({bw['mbytes']} MB float64); gather x[idx].sum(0) over {gt['n_idx'] / 1e6:.0f} M "
        f"pre-made indices: flat {gt['flat_rows_per_s'] / 1e6:.0f} M rows/s, scan of "
        f"10,000-row steps {gt['scan_b10000_rows_per_s'] / 1e6:.0f} M rows/s"
    )

    mus = {"a": res_a["mu"] if res_a else None, "b": res_b["mu"], "c": res_c.get("mu")}
    mus = {k: v for k, v in mus.items() if v is not None}
    corr = {}
    for p, q in (("a", "b"), ("a", "c"), ("b", "c")):
        if p in mus and q in mus:
            corr[f"{p}_vs_{q}"] = correctness(mus[p], mus[q], exact_np, lrs, batch_sizes)
    if corr:
        names = "/".join(mus)
        print(
            f"\nCorrectness: RMS |mu − sample mean| over seeds × coords, per lr (rows: optimiser, "
            f"b); cells {names} for ({'), ('.join(mus)})\n"
        )
        print("| opt | b | " + " | ".join(f"lr {lr:.3g}" for lr in lrs) + " |")
        print("| --- | ---: |" + " ---: |" * len(lrs))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            errs = {
                k: np.sqrt(np.nanmean((v - exact_np) ** 2, axis=(-2, -1))) for k, v in mus.items()
            }
        for oi, o in enumerate(OPTS):
            for bi, b in enumerate(batch_sizes):
                cells = " | ".join(
                    " / ".join(
                        fmt(e[oi, bi, li], ".3f") if np.isfinite(e[oi, bi, li]) else "—"
                        for e in errs.values()
                    )
                    for li in range(len(lrs))
                )
                print(f"| {o} | {b} | {cells} |")
        print()
        for pair, c in corr.items():
            p, q = pair.split("_vs_")
            print(
                f"({q}) vs ({p}): {c['cells_compared']} cells, geometric-mean RMS-error ratio "
                f"{fmt(c['geo_mean_ratio_b_over_a'], '.2f')}, within 3× in "
                f"{fmt(c['frac_cells_within_3x'], '.0%')} of cells; max over lanes "
                f"|mu_{q} − mu_{p}| at b={batch_sizes[-1]}: "
                + ", ".join(f"{o} {fmt(v, '.3g')}" for o, v in c["max_abs_diff_at_max_b"].items())
            )

    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {
        "n": n,
        "steps": steps,
        "seeds": len(seeds),
        "lrs": lrs.tolist(),
        "batch_sizes": batch_sizes,
        "optimizers": list(OPTS),
        "jax": jax.__version__,
        "optax": optax.__version__,
        "cores": os.cpu_count(),
        "cpu": cpu,
        "device": str(jax.devices()[0]),
        "loadavg_start": load0,
        "loadavg_end": load1,
        "exact_mean": exact_np.tolist(),
        "shared_machine": True,
        "host_devices": len(jax.local_devices()),
    }
    res = {
        "meta": meta,
        "rows": rows,
        "bound": bound,
        "bandwidth": bw,
        "gather": gt,
        "step_components_b10000": comp,
        "torch": None
        if res_a is None
        else {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in res_a.items()},
        "jax_loop": {
            "compile_s": res_b["compile_s"],
            "run_s": res_b["run_s"],
            "groups": res_b["groups"],
            "mu": res_b["mu"].tolist(),
        },
        "jaxmle_sweep": {
            k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in res_c.items()
        },
        "correctness": corr,
    }
    suffix = f"_{_HOST_DEVICES}dev" if _HOST_DEVICES > 1 else ""
    path = out / f"sweep_gaussian_mean{suffix}.json"
    path.write_text(json.dumps(res, indent=2, default=str))
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
