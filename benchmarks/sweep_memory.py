"""Is a sweep's memory bounded? 10,000 lanes × 10,000 steps on the seed's 2-D Gaussian.

Question: does ``jaxmle.sweep`` keep memory bounded for a large study (trace thinned to at
most 100 records per lane, lanes processed in blocks when a step would gather too many rows)?
Runs 10,000 lanes (learning rates × seeds) of 10,000 SGD steps with minibatches of
``--batch-size`` rows from n = 10,000 points of N((1,1), 5·I) and reports the process's peak
resident memory (``resource.getrusage``) and the wall time. The issue's bar: under 2 GiB.

Run: ``python benchmarks/sweep_memory.py [--lanes 10000] [--steps 10000] [--batch-size 10]``.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import resource
import time

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

import jaxmle  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lanes", type=int, default=10_000)
    ap.add_argument("--steps", type=int, default=10_000)
    ap.add_argument("--batch-size", type=int, default=10)
    ap.add_argument("--out", default=str(pathlib.Path(__file__).parent / "results"))
    args = ap.parse_args()
    key = jax.random.key(0)
    x = 1.0 + jnp.sqrt(5.0) * jax.random.normal(key, (10_000, 2))
    model = jaxmle.models.MultivariateGaussian(cov=5.0 * jnp.eye(2))
    exact = model.closed_form(x)
    seeds = 100
    lrs = np.logspace(-3, 0.5, args.lanes // seeds)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    t0 = time.perf_counter()
    study = jaxmle.sweep(
        model, model.init(x), x, optimizer={"sgd": optax.sgd},
        grid={"learning_rate": lrs, "batch_size": [args.batch_size], "seed": range(seeds)},
        steps=args.steps, key=key, reference=exact,
    )  # fmt: skip
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
    trace_mb = sum(np.asarray(v).nbytes for v in jax.tree_util.tree_leaves(study.trace)) / 2**20
    res = {"lanes": int(np.prod(study.shape)), "steps": args.steps, "batch_size": args.batch_size,
           "wall_s": wall, "peak_rss_gib": peak, "rss_before_gib": rss0,
           "trace_mib": trace_mb, "timings": study.timings}  # fmt: skip
    print(json.dumps(res, indent=2))
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "sweep_memory.json").write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
