"""Does bucketing the row count pay? Refitting a GLM on subsets, with and without buckets.

Question: a statistician refits a Poisson regression (p = 10) on 12 subsets of one dataset, a
new n each time (n drawn from 1,500–2,000, or 15,000–20,000), in a fresh process with no
persistent compilation cache. How long do the 12 fits take with ``jaxmle._irls_shapes``'
buckets (one program per bucket: 2^k x {1, 1.25, 1.5, 1.75} rows, weight-0 padding) and with
``JAXMLE_BUCKETS=0`` (one program per n)? And what does the padding cost a warm call: best of 30
at n = 1,100 (padded to 1,280, the worst share of this benchmark: 16%) and n = 11,000 (12,288),
buckets on against off, in one process each?

Run: ``python benchmarks/glm_buckets.py [--out FILE]`` (~1-2 min; JSON default
``benchmarks/results/glm_buckets.json``). Worker mode: ``--worker on|off``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
MARK = "BUCKETS_JSON "
RANGES = ((1_500, 2_000), (15_000, 20_000))
WARM_N = (1_100, 11_000)
P = 10
FITS = 12


def _data(n_max: int, seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n_max), 0.3 * rng.standard_normal((n_max, P - 1))])
    y = rng.poisson(np.exp(X @ (0.3 * rng.standard_normal(P)))).astype(float)
    return X, y


def worker() -> None:
    import jax
    import numpy as np

    jax.config.update("jax_enable_x64", True)
    import jaxmle.families as F  # noqa: N812 - as sm.families
    from jaxmle._irls import irls

    events: list[float] = []
    jax.monitoring.register_event_duration_secs_listener(
        lambda name, secs, **_: events.append(secs)
        if name == "/jax/core/compile/backend_compile_duration" else None)  # fmt: skip
    out: dict = {"subsets": {}, "warm_ms": {}}
    rng = np.random.default_rng(1)
    for lo, hi in RANGES:
        X, y = _data(hi)
        ns = rng.integers(lo, hi + 1, FITS)
        before = len(events)
        t = time.perf_counter()
        for n in ns:
            rows = rng.permutation(hi)[:n]
            fit = irls(F.Poisson(), X[rows], y[rows])
            assert bool(fit.converged)
        out["subsets"][f"{lo}-{hi}"] = {"total_s": time.perf_counter() - t,
                                        "compiles": len(events) - before}  # fmt: skip
    for n in WARM_N:
        X, y = _data(n)
        jax.block_until_ready(irls(F.Poisson(), X, y))
        best = float("inf")
        for _ in range(30):
            t = time.perf_counter()
            jax.block_until_ready(irls(F.Poisson(), X, y))
            best = min(best, time.perf_counter() - t)
        out["warm_ms"][str(n)] = best * 1e3
    print(MARK + json.dumps(out), flush=True)


def _run(mode: str) -> dict:
    env = dict(os.environ, JAXMLE_NO_COMPILATION_CACHE="1", JAXMLE_BUCKETS="1" if mode == "on"
               else "0")  # fmt: skip
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, __file__, "--worker", mode], env=env,
                          capture_output=True, text=True, timeout=1800)  # fmt: skip
    for line in proc.stdout.splitlines():
        if line.startswith(MARK):
            return json.loads(line[len(MARK) :])
    raise RuntimeError(f"worker {mode} failed:\n{proc.stdout}\n{proc.stderr}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=None, help="JSON path")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker()
        return
    load0 = os.getloadavg()
    res = {mode: _run(mode) for mode in ("on", "off")}
    lines = [f"{'':28s} {'buckets on':>12s} {'buckets off':>12s}"]
    for key in res["on"]["subsets"]:
        on, off = res["on"]["subsets"][key], res["off"]["subsets"][key]
        lines.append(f"{FITS} fits, n in {key:13s} {on['total_s']:10.2f} s {off['total_s']:10.2f} s"
                     f"   ({on['compiles']} vs {off['compiles']} compiles)")  # fmt: skip
    for n in res["on"]["warm_ms"]:
        lines.append(f"warm call, n = {n:12s} {res['on']['warm_ms'][n]:9.2f} ms "
                     f"{res['off']['warm_ms'][n]:9.2f} ms")  # fmt: skip
    text = "\n".join(lines)
    print(text)
    meta = {"date": datetime.datetime.now().isoformat(timespec="seconds"),
            "loadavg_start": load0, "loadavg_end": os.getloadavg()}  # fmt: skip
    print(f"load average {load0[0]:.1f} -> {meta['loadavg_end'][0]:.1f}")
    path = pathlib.Path(args.out) if args.out else HERE / "results" / "glm_buckets.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"meta": meta, "results": res, "table": text}, indent=1))
    os.replace(tmp, path)


if __name__ == "__main__":
    main()
