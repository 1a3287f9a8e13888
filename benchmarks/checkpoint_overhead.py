"""What does checkpointing cost a study? The seed-003 minibatch study, checkpoints on and off.

The study of ``benchmarks/sweep_gaussian_mean.py`` (c): the mean of a 2-D Gaussian,
n = 10,000, 8 learning rates x 6 batch sizes {1, 5, 10, 100, 1000, 10000} x 4 seeds x
{SGD, Adam}, 2,000 steps, one ``jaxmle.sweep`` call. Timed steady (programs compiled once
beforehand), alternating runs without a checkpoint and with ``checkpoint=`` a fresh folder
(default interval: chunks of a tenth of the steps, saved by a background thread after each),
so that both see the same machine load. Also checks that both give the same bits, and times
a resume of the finished study (read back, nothing re-run) and of a half-done one.

Run: ``python benchmarks/checkpoint_overhead.py [--repeats 5] [--steps 2000] [--quick]``;
prints a table and writes ``benchmarks/results/checkpoint_overhead.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pathlib
import platform
import shutil
import statistics
import tempfile
import time

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

import jaxmle  # noqa: E402
from jaxmle._io import atomic_write_text  # noqa: E402

COV = 5.0 * np.eye(2)


def study_call(x, exact, steps, seeds, checkpoint=None, progress=None):
    model = jaxmle.models.MultivariateGaussian(cov=jnp.asarray(COV))
    t0 = time.perf_counter()
    res = jaxmle.sweep(
        model, {"mean": jnp.zeros(2)}, x, optimizer={"sgd": optax.sgd, "adam": optax.adam},
        grid={"learning_rate": np.logspace(-3, 0.5, 8), "batch_size": [1, 5, 10, 100, 1000, 10000],
              "seed": list(range(seeds))},
        steps=steps, key=jax.random.key(0), reference=exact, checkpoint=checkpoint,
        progress=progress,
    )  # fmt: skip
    return res, time.perf_counter() - t0


def same_bits(a, b) -> bool:
    fields = ("params", "loss", "distance", "converged", "status", "trace")
    return all(
        np.array_equal(np.asarray(u), np.asarray(v), equal_nan=True)
        for f in fields
        for u, v in zip(jax.tree_util.tree_leaves(getattr(a, f)),
                        jax.tree_util.tree_leaves(getattr(b, f)), strict=True)
    )  # fmt: skip


class _StopError(Exception):
    pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--quick", action="store_true", help="200 steps, 2 repeats")
    ap.add_argument("--out", default=str(pathlib.Path(__file__).parent / "results"))
    args = ap.parse_args()
    steps, repeats = (200, 2) if args.quick else (args.steps, args.repeats)
    key = jax.random.key(0)
    x = np.asarray(jax.random.multivariate_normal(key, jnp.ones(2), jnp.asarray(COV), (10_000,),
                                                  dtype=jnp.float64))  # fmt: skip
    exact = {"mean": jnp.asarray(x.mean(axis=0))}
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="jaxmle-ckpt-bench-"))
    try:
        print("compiling (one call each way) ...", flush=True)
        _, cold_off = study_call(x, exact, steps, args.seeds)
        _, cold_on = study_call(x, exact, steps, args.seeds, checkpoint=tmp / "warm")
        off, on = [], []
        for r in range(repeats):
            ref, t = study_call(x, exact, steps, args.seeds)
            off.append(t)
            res, t = study_call(x, exact, steps, args.seeds, checkpoint=tmp / f"run{r}")
            on.append(t)
            print(f"  repeat {r}: off {off[-1]:.3f} s, on {on[-1]:.3f} s", flush=True)
        bits = same_bits(ref, res)
        n_files = len(list((tmp / "run0").glob("*.npz")))
        size = sum(p.stat().st_size for p in (tmp / "run0").glob("*.npz"))
        _, t_done = study_call(x, exact, steps, args.seeds, checkpoint=tmp / "run0")
        # Half done: stop the study at half its progress, then resume it.
        half = tmp / "half"

        def stop_half(done, total):
            if done >= total // 2:
                raise _StopError

        with contextlib.suppress(_StopError):
            study_call(x, exact, steps, args.seeds, checkpoint=half, progress=stop_half)
        resumed, t_half = study_call(x, exact, steps, args.seeds, checkpoint=half)
        bits_resumed = same_bits(ref, resumed)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    m_off, m_on = statistics.median(off), statistics.median(on)
    rows = [
        ("steady wall, no checkpoint (median)", f"{m_off:.3f} s", f"min {min(off):.3f}"),
        ("steady wall, checkpoint (median)", f"{m_on:.3f} s", f"min {min(on):.3f}"),
        ("overhead", f"{100 * (m_on / m_off - 1):+.1f} %",
         f"min-to-min {100 * (min(on) / min(off) - 1):+.1f} %"),
        ("first call (compile) off / on", f"{cold_off:.2f} / {cold_on:.2f} s", ""),
        ("checkpoint files, bytes", f"{n_files}, {size / 1e6:.2f} MB", "one per lane block"),
        ("same bits as no checkpoint", str(bits), ""),
        ("finished study read back", f"{t_done:.3f} s", "nothing re-run"),
        ("resume of a half-done study", f"{t_half:.3f} s", f"same bits: {bits_resumed}"),
    ]  # fmt: skip
    print(f"\nseed-003 study, {steps} steps, {args.seeds} seeds, {os.cpu_count()} CPUs, "
          f"jax {jax.__version__}\n")  # fmt: skip
    print("| measure | value | note |\n| --- | ---: | --- |")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} |")
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    body = {
        "steps": steps, "seeds": args.seeds, "repeats": repeats, "off_s": off, "on_s": on,
        "overhead_median": m_on / m_off - 1, "cold_off_s": cold_off, "cold_on_s": cold_on,
        "files": n_files, "bytes": size, "same_bits": bits, "read_back_s": t_done,
        "resume_half_s": t_half, "resume_same_bits": bits_resumed,
        "environment": {"jax": jax.__version__, "jaxmle": jaxmle.__version__,
                        "cpus": os.cpu_count(), "platform": platform.platform()},
    }  # fmt: skip
    name = "checkpoint_overhead_quick.json" if args.quick else "checkpoint_overhead.json"
    atomic_write_text(out / name, json.dumps(body, indent=1) + "\n")
    print(f"\nwrote {out / name}")


if __name__ == "__main__":
    main()
