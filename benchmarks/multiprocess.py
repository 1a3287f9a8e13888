"""One process or two? A study on JAX's distributed runtime, timed side by side.

The seed-003 minibatch study (``benchmarks/sweep_gaussian_mean.py`` (c): 2-D Gaussian mean,
n = 10,000, 8 learning rates x 6 batch sizes x 4 seeds x {SGD, Adam}, 2,000 steps) and a
Monte Carlo study (OLS with HC3 intervals, 20,000 replicates of n = 200), each run

- in one process on one CPU device,
- in one process on two host devices (``--xla_force_host_platform_device_count=2``),
- in two localhost processes (``jaxmle.distributed.launch``; gloo collectives), one device each,

timing the first call (compile included) and a second, steady call inside each process, and
checking that the results agree (bit for bit between the two-device layouts).

On a machine with 2 cores, expect no speed-up: two processes share the same cores and add the
gathers. The point is that the same study runs unchanged on several machines (see the
``jaxmle.distributed`` docs for a cluster). Run:
``python benchmarks/multiprocess.py [--steps 2000] [--reps 20000] [--quick]``; prints a table and
writes ``benchmarks/results/multiprocess.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import textwrap

import numpy as np

WORKER = textwrap.dedent(
    """
    import json, os, sys, time
    import jax
    if os.environ.get("JAXMLE_NUM_PROCESSES"):
        import jaxmle.distributed as dist
        dist.initialize()
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp, numpy as np, optax, jaxmle
    out, steps, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    cov = 5.0 * np.eye(2)
    x = np.asarray(jax.random.multivariate_normal(jax.random.key(0), jnp.ones(2),
                                                  jnp.asarray(cov), (10_000,)))
    model = jaxmle.models.MultivariateGaussian(cov=jnp.asarray(cov))

    def study():
        return jaxmle.sweep(model, {"mean": jnp.zeros(2)}, x,
                            optimizer={"sgd": optax.sgd, "adam": optax.adam},
                            grid={"learning_rate": np.logspace(-3, 0.5, 8),
                                  "batch_size": [1, 5, 10, 100, 1000, 10000], "seed": [0, 1, 2, 3]},
                            steps=steps, key=jax.random.key(0),
                            reference={"mean": jnp.asarray(x.mean(0))})

    X = np.random.default_rng(1).normal(size=(200, 3))

    def mc():
        return jaxmle.montecarlo(jaxmle.models.LinearRegression(),
                                 {"intercept": 0.5, "coef": np.array([1.0, -1.0, 0.5]),
                                  "variance": 2.0}, key=jax.random.key(3), reps=reps, X=X,
                                 cov_types=("HC3",), batch_size=1000)

    times = {}
    for name, f in (("sweep", study), ("montecarlo", mc)):
        t0 = time.perf_counter(); f(); times[name + "_cold_s"] = time.perf_counter() - t0
        t0 = time.perf_counter(); r = f(); times[name + "_steady_s"] = time.perf_counter() - t0
        if name == "sweep":
            params = r.params["mean"]
        else:
            est = r.estimates
    if jax.process_index() == 0:
        np.savez(out, params=params, est=est)
        with open(out + ".json", "w") as fh:
            json.dump({**times, "processes": jax.process_count(),
                       "devices": len(jax.devices())}, fh)
    """
)


def _env(devices: int = 1) -> dict:
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    env.pop("XLA_FLAGS", None)
    if devices > 1:
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    return env


def run(layout: str, tmp: pathlib.Path, steps: int, reps: int) -> dict:
    script = tmp / "worker.py"
    script.write_text(WORKER)
    out = tmp / f"{layout}.npz"
    argv = [sys.executable, str(script), str(out), str(steps), str(reps)]
    if layout == "2 processes x 1 device":
        import jaxmle.distributed as dist

        rc = dist.launch(argv, 2, env=_env(1), timeout=3000)
        if rc != 0:
            raise RuntimeError(f"two-process run failed with exit code {rc}")
    else:
        devices = 2 if layout == "1 process x 2 devices" else 1
        subprocess.run(argv, env=_env(devices), check=True, timeout=3000)
    with np.load(out) as z:
        arrays = {k: z[k] for k in z.files}
    return {**json.loads(pathlib.Path(str(out) + ".json").read_text()), **arrays}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--reps", type=int, default=20_000)
    ap.add_argument("--quick", action="store_true", help="200 steps, 2,000 replicates")
    ap.add_argument("--out", default=str(pathlib.Path(__file__).parent / "results"))
    args = ap.parse_args()
    steps, reps = (200, 2000) if args.quick else (args.steps, args.reps)
    layouts = ["1 process x 1 device", "1 process x 2 devices", "2 processes x 1 device"]
    with tempfile.TemporaryDirectory() as d:
        res = {lay: run(lay, pathlib.Path(d), steps, reps) for lay in layouts}
    base = res[layouts[0]]
    print(f"\n{steps} steps, {reps} replicates, {os.cpu_count()} CPUs\n")
    print("| layout | sweep first call | sweep steady | ratio | Monte Carlo steady | ratio | "
          "same numbers |")  # fmt: skip
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    rows = {}
    for lay in layouts:
        r = res[lay]
        exact = np.array_equal(r["params"], res[layouts[1]]["params"]) and np.array_equal(
            r["est"], base["est"])
        close = np.allclose(r["params"], base["params"], rtol=1e-12, atol=1e-12)
        same = "bits (vs 2 devices)" if exact and lay != layouts[0] else (
            "to 1e-12" if close else "NO")  # fmt: skip
        if lay == layouts[0]:
            same = "reference"
        rs = r["sweep_steady_s"] / base["sweep_steady_s"]
        rm = r["montecarlo_steady_s"] / base["montecarlo_steady_s"]
        print(f"| {lay} | {r['sweep_cold_s']:.2f} s | {r['sweep_steady_s']:.2f} s | {rs:.2f} | "
              f"{r['montecarlo_steady_s']:.2f} s | {rm:.2f} | {same} |")  # fmt: skip
        rows[lay] = {k: v for k, v in r.items() if k.endswith("_s")} | {
            "sweep_ratio": rs, "montecarlo_ratio": rm, "same": same}
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = "multiprocess_quick.json" if args.quick else "multiprocess.json"
    from jaxmle._io import atomic_write_text

    atomic_write_text(out / name, json.dumps({"steps": steps, "reps": reps,
                                              "cpus": os.cpu_count(), "layouts": rows},
                                             indent=1) + "\n")  # fmt: skip
    print(f"\nwrote {out / name}")


if __name__ == "__main__":
    main()
