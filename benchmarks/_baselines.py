"""Baselines and rooflines for hyperparameter-sweep benchmarks (used by ``sweep_gaussian_mean``).

* :func:`run_torch` -- (a) the source notebook's way: a PyTorch loop, one run after another.
* :func:`run_jax_loop` -- (b) a Python loop over runs of per-(optimizer, batch size) jitted
  ``lax.scan`` programs (``optax.inject_hyperparams`` so a new learning rate does not recompile).
* :func:`memory_bandwidth_gbs`, :func:`gather_throughput`, :func:`profile_step_components`,
  :func:`study_bound` -- what this machine could do at best, and where (b)'s time goes.

The objective everywhere is the negative *mean* log-likelihood of a minibatch drawn with
replacement under ``N(mu, Sigma)`` with ``Sigma`` known; its gradient is
``Sigma^-1 (mu - mean(x_batch))``.

Every function expects ``jax_enable_x64`` to be on (the calling script turns it on).
torch is optional: :func:`run_torch` raises ImportError when it is missing.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

OPTIMIZERS: dict[str, Callable[..., optax.GradientTransformation]] = {
    "sgd": optax.sgd,
    "adam": optax.adam,
}


# --------------------------------------------------------------------------------------------
# (a) PyTorch, the way the seed notebook does it
# --------------------------------------------------------------------------------------------


def run_torch(
    data_np: np.ndarray,
    lrs: Sequence[float],
    batch_sizes: Sequence[int],
    seeds: Sequence[int],
    steps: int,
    optimizers: Sequence[str] = ("sgd", "adam"),
    *,
    cov: np.ndarray | None = None,
    max_runs: int | None = None,
    threads: int | None = None,
    progress: bool = True,
) -> dict:
    """Runs the study with a plain PyTorch loop, one run after another.

    Per run: ``mu = zeros(2, float64, requires_grad=True)``, ``torch.optim.SGD/Adam([mu], lr)``,
    a ``torch.Generator`` seeded with the run's seed, and each step
    ``idx = randint(0, n, (b,))``, ``loss = -(mean log-likelihood of X[idx])`` (the seed's
    ``diff @ Sigma^-1 * diff`` formula plus the normalising constant), ``zero_grad``,
    ``backward``, ``step``. ``Sigma^-1`` and the constant are computed once, not per step.
    ``threads``: ``torch.set_num_threads`` for the study (default: torch's own default).

    Runs are ordered seed, lr, batch size (batch size innermost) so that a truncated run
    (``max_runs``) samples every batch size; the wall time is then extrapolated per batch size
    (mean seconds per run of that size x runs of that size), or linearly if some size was never
    reached.

    Returns:
        dict with ``mu`` (``[opt, b, lr, seed, 2]``, NaN where not run), ``last_loss`` (the last
        minibatch loss, ``[opt, b, lr, seed]``), ``wall_s`` per optimizer (measured),
        ``wall_s_full`` per optimizer (measured, or extrapolated to all runs),
        ``extrapolated`` (bool), ``runs_done`` / ``runs_total`` per optimizer, ``per_b_s``
        (measured seconds per run by batch size), ``threads``.
    """
    import torch  # optional dependency: ImportError propagates to the caller

    threads_before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        return _run_torch(
            torch, data_np, lrs, batch_sizes, seeds, steps, optimizers, cov, max_runs, progress
        )
    finally:
        torch.set_num_threads(threads_before)


def _run_torch(
    torch, data_np, lrs, batch_sizes, seeds, steps, optimizers, cov, max_runs, progress
) -> dict:
    n, k = data_np.shape
    cov = 5.0 * np.eye(k) if cov is None else np.asarray(cov)
    X = torch.tensor(data_np, dtype=torch.float64)
    sigma = torch.tensor(cov, dtype=torch.float64)
    sigma_inv = sigma.inverse()
    const = float(-0.5 * torch.logdet(sigma) - 0.5 * k * math.log(2.0 * math.pi))

    def neg_mean_loglik(Xb, mu):
        diff = Xb - mu
        z = -0.5 * diff @ sigma_inv * diff  # the seed's L(X, mu, sigma), per element
        return -(z.sum() / Xb.shape[0] + const)

    shape = (len(optimizers), len(batch_sizes), len(lrs), len(seeds))
    mus = np.full((*shape, k), np.nan)
    last_loss = np.full(shape, np.nan)
    order = [
        (si, li, bi)
        for si in range(len(seeds))
        for li in range(len(lrs))
        for bi in range(len(batch_sizes))
    ]
    total = len(order)
    todo = order if max_runs is None else order[: max(0, min(max_runs, total))]
    # untimed warm-up: torch's first autograd / optimizer calls carry one-off setup costs
    for opt_cls in (torch.optim.SGD, torch.optim.Adam):
        mu = torch.zeros(k, dtype=torch.float64, requires_grad=True)
        opt = opt_cls([mu], lr=0.1)
        for _ in range(20):
            loss = neg_mean_loglik(X[torch.randint(0, n, (10,))], mu)
            opt.zero_grad()
            loss.backward()
            opt.step()
    wall, wall_full, done, per_b = {}, {}, {}, {}
    extrapolated = False
    for oi, name in enumerate(optimizers):
        opt_cls = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}[name]
        t_by_b: dict[int, list[float]] = {b: [] for b in batch_sizes}
        t_start = time.perf_counter()
        for ri, (si, li, bi) in enumerate(todo):
            b, lr, seed = int(batch_sizes[bi]), float(lrs[li]), int(seeds[si])
            t0 = time.perf_counter()
            g = torch.Generator().manual_seed(seed)
            mu = torch.zeros(k, dtype=torch.float64, requires_grad=True)
            opt = opt_cls([mu], lr=lr)
            for _ in range(steps):
                idx = torch.randint(0, n, (b,), generator=g)
                loss = neg_mean_loglik(X[idx], mu)
                opt.zero_grad()
                loss.backward()
                opt.step()
            mus[oi, bi, li, si] = mu.detach().numpy()
            last_loss[oi, bi, li, si] = float(loss.detach())
            t_by_b[b].append(time.perf_counter() - t0)
            if progress and (ri + 1) % max(1, len(todo) // 8) == 0:
                el = time.perf_counter() - t_start
                print(f"  torch {name}: {ri + 1}/{len(todo)} runs, {el:.1f} s", flush=True)
        wall[name] = time.perf_counter() - t_start
        done[name] = len(todo)
        per_b[name] = {b: (float(np.mean(t)) if t else None) for b, t in t_by_b.items()}
        if len(todo) == total:
            wall_full[name] = wall[name]
        else:
            extrapolated = True
            runs_per_b = total // len(batch_sizes)
            if all(t_by_b[b] for b in batch_sizes):
                wall_full[name] = sum(per_b[name][b] * runs_per_b for b in batch_sizes)
            else:
                wall_full[name] = wall[name] * total / max(1, len(todo))
    return {
        "mu": mus,
        "last_loss": last_loss,
        "wall_s": wall,
        "wall_s_full": wall_full,
        "extrapolated": extrapolated,
        "runs_done": done,
        "runs_total": total,
        "per_b_s": per_b,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }


# --------------------------------------------------------------------------------------------
# (b) a Python loop of per-run jitted JAX scans
# --------------------------------------------------------------------------------------------


def neg_mean_loglik(mu: jax.Array, xb: jax.Array, cov_inv: jax.Array, const) -> jax.Array:
    """Negative mean log-likelihood of the rows ``xb`` under ``N(mu, cov)``."""
    diff = xb - mu
    return -(jnp.mean(-0.5 * jnp.sum(diff @ cov_inv * diff, axis=-1)) + const)


def make_jax_run(
    opt_fn: Callable[..., optax.GradientTransformation],
    b: int,
    steps: int,
    cov: np.ndarray,
    key_impl: str | None = None,
) -> Callable:
    """``run(data, lr, seed) -> final mu``: one optimisation as a ``lax.scan`` (not jitted)."""
    k = cov.shape[0]
    cov_inv = np.linalg.inv(cov)
    const = float(-0.5 * np.linalg.slogdet(cov)[1] - 0.5 * k * math.log(2.0 * math.pi))

    def run(data, lr, seed):
        n = data.shape[0]
        tx = optax.inject_hyperparams(opt_fn)(learning_rate=lr)
        mu0 = jnp.zeros(k, data.dtype)
        key0 = jax.random.key(seed, impl=key_impl)

        def step(carry, _):
            mu, state, key = carry
            key, sub = jax.random.split(key)
            idx = jax.random.randint(sub, (b,), 0, n)
            g = jax.grad(neg_mean_loglik)(mu, data[idx], cov_inv, const)
            updates, state = tx.update(g, state, mu)
            return (optax.apply_updates(mu, updates), state, key), None

        (mu, _, _), _ = jax.lax.scan(step, (mu0, tx.init(mu0), key0), None, length=steps)
        return mu

    return run


def run_jax_loop(
    data: jax.Array,
    lrs: Sequence[float],
    batch_sizes: Sequence[int],
    seeds: Sequence[int],
    steps: int,
    optimizers: Sequence[str] = ("sgd", "adam"),
    *,
    cov: np.ndarray | None = None,
) -> dict:
    """Runs the study as a Python loop over per-(optimizer, batch size) jitted scans.

    For each (optimizer, batch size) one ``jax.jit`` program ``run(data, lr, seed) -> mu`` is
    compiled (timed apart via ``.lower(...).compile()``); then it is called for every
    (lr, seed), with ``jax.random.key(seed)`` (so lanes with the same seed share random numbers
    across learning rates, as in :func:`run_torch`).

    Returns:
        dict with ``mu`` (``[opt, b, lr, seed, 2]``), ``compile_s`` / ``run_s`` per optimizer,
        and ``groups``: a list of ``{"opt", "b", "compile_s", "run_s", "rows"}``.
    """
    k = data.shape[1]
    cov = 5.0 * np.eye(k) if cov is None else np.asarray(cov)
    mus = np.zeros((len(optimizers), len(batch_sizes), len(lrs), len(seeds), k))
    groups = []
    compile_s = dict.fromkeys(optimizers, 0.0)
    run_s = dict.fromkeys(optimizers, 0.0)
    lr_arr = [jnp.asarray(lr, data.dtype) for lr in lrs]
    seed_arr = [jnp.asarray(s, jnp.uint32) for s in seeds]
    for oi, name in enumerate(optimizers):
        for bi, b in enumerate(batch_sizes):
            run = jax.jit(make_jax_run(OPTIMIZERS[name], int(b), steps, cov))
            t0 = time.perf_counter()
            compiled = run.lower(data, lr_arr[0], seed_arr[0]).compile()
            tc = time.perf_counter() - t0
            t0 = time.perf_counter()
            out = [[compiled(data, lr, s) for s in seed_arr] for lr in lr_arr]
            mus[oi, bi] = np.asarray(jnp.stack([jnp.stack(r) for r in out]))
            tr = time.perf_counter() - t0
            compile_s[name] += tc
            run_s[name] += tr
            rows = int(b) * steps * len(lrs) * len(seeds)
            groups.append({"opt": name, "b": int(b), "compile_s": tc, "run_s": tr, "rows": rows})
    return {"mu": mus, "compile_s": compile_s, "run_s": run_s, "groups": groups}


# --------------------------------------------------------------------------------------------
# rooflines
# --------------------------------------------------------------------------------------------


def _best(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up (and compile)
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def memory_bandwidth_gbs(mbytes: int = 512, repeats: int = 5) -> dict:
    """Streaming read bandwidth: a sum over a ``mbytes`` MB float64 array, best of ``repeats``.

    Returns ``{"numpy_gbs", "jax_gbs", "gbs"}`` where ``gbs`` is the larger of the two.
    """
    m = mbytes * 2**20 // 8
    a = np.random.default_rng(0).standard_normal(m)
    nbytes = a.nbytes
    t_np = _best(lambda: a.sum(), repeats)
    aj = jax.device_put(a)
    jsum = jax.jit(jnp.sum)
    t_jx = _best(lambda: jsum(aj).block_until_ready(), repeats)
    out = {"numpy_gbs": nbytes / t_np / 1e9, "jax_gbs": nbytes / t_jx / 1e9, "mbytes": mbytes}
    out["gbs"] = max(out["numpy_gbs"], out["jax_gbs"])
    return out


def gather_throughput(data: jax.Array, n_idx: int = 100_000_000, repeats: int = 3) -> dict:
    """Rows/s of a jitted ``x[idx].sum(0)`` over ``n_idx`` pre-made int32 indices.

    Two layouts: one flat gather over all indices, and a ``lax.scan`` over steps of 10,000
    indices each (the shape of a b = 10,000 run). The table is cache resident, so this is the
    realistic ceiling for the study's gathers, far above what DRAM bandwidth would suggest.
    """
    n = data.shape[0]
    idx = jax.device_put(np.random.default_rng(1).integers(0, n, n_idx, dtype=np.int32))
    flat = jax.jit(lambda x, i: x[i].sum(0))
    t_flat = _best(lambda: flat(data, idx).block_until_ready(), repeats)

    def scanned(x, i):
        def body(c, ii):
            return c + x[ii].sum(0), None

        return jax.lax.scan(body, jnp.zeros(x.shape[1], x.dtype), i)[0]

    b = 10_000
    idx2 = idx[: (n_idx // b) * b].reshape(-1, b)
    sj = jax.jit(scanned)
    t_scan = _best(lambda: sj(data, idx2).block_until_ready(), repeats)
    return {
        "n_idx": n_idx,
        "flat_rows_per_s": n_idx / t_flat,
        "scan_b10000_rows_per_s": (n_idx // b) * b / t_scan,
    }


ENGINE_LANES = 32
ENGINE_CASES = (
    "[engine] hash sample",
    "[engine] hash sample+gather-sum of statistics",
    "[engine] hash sample+gather-sum+grad (statistics)",
)


def profile_step_components(
    data: jax.Array, b: int = 10_000, steps: int = 2_000, repeats: int = 3
) -> dict:
    """Rows/s (and µs per step) of the pieces of one (b)-style step inside a jitted scan.

    * ``randint``: threefry ``split`` + ``randint(k, (b,))`` only (indices summed so they are
      not optimised away);
    * ``gather``: ``x[idx].sum(0)`` over pre-made indices;
    * ``randint+gather``;
    * ``rbg randint+gather`` / ``unsafe_rbg randint+gather``: the same with other
      ``jax.random`` implementations;
    * ``bits+mulshift+gather``: threefry ``bits`` (uint32) mapped to ``[0, n)`` by a
      multiply-shift ``(bits * n) >> 32`` (no rejection, bias < n / 2^32), then the gather;
    * ``full sgd step`` / ``full adam step``: the actual (b) run function.
    """
    n = data.shape[0]

    def scan_of(body, compiler_options=None):
        def f(x, xs):
            def one(c, s):
                return c + body(x, s), None

            return jax.lax.scan(one, jnp.zeros((), x.dtype), xs)[0]

        return jax.jit(f, compiler_options=compiler_options)

    def keyed(impl, idx_fn, gather):
        def body(x, s):
            k = jax.random.fold_in(jax.random.key(0, impl=impl), s)
            i = idx_fn(k)
            return x[i].sum() if gather else i.sum().astype(x.dtype)

        return body

    randint = lambda k: jax.random.randint(k, (b,), 0, n)  # noqa: E731

    def mulshift(k):
        bits = jax.random.bits(k, (b,), jnp.uint32).astype(jnp.uint64)
        return ((bits * jnp.uint64(n)) >> jnp.uint64(32)).astype(jnp.int32)

    ar = jnp.arange(steps, dtype=jnp.uint32)
    lanes: dict[str, int] = {}
    pre = jax.device_put(np.random.default_rng(2).integers(0, n, (steps, b), dtype=np.int32))
    cases = {
        "randint (threefry)": (scan_of(keyed(None, randint, False)), ar),
        "gather (pre-made idx)": (scan_of(lambda x, i: x[i].sum()), pre),
        "randint+gather (threefry)": (scan_of(keyed(None, randint, True)), ar),
        "randint+gather (rbg)": (scan_of(keyed("rbg", randint, True)), ar),
        "randint+gather (unsafe_rbg)": (scan_of(keyed("unsafe_rbg", randint, True)), ar),
        "bits+mulshift+gather (threefry)": (scan_of(keyed(None, mulshift, True)), ar),
    }
    cov = 5.0 * np.eye(data.shape[1])
    cov_inv = np.linalg.inv(cov)

    def grad_dot(x, i):  # the (b) loss: (b, k) @ (k, k) matmul, then autodiff
        return jax.grad(neg_mean_loglik)(jnp.zeros(x.shape[1], x.dtype), x[i], cov_inv, 0.0).sum()

    def grad_fused(x, i):  # the same loss with the k x k product written elementwise
        def loss(mu, xb):
            d = xb - mu
            return 0.5 * jnp.mean(jnp.sum(d[:, :, None] * cov_inv * d[:, None, :], (1, 2)))

        return jax.grad(loss)(jnp.zeros(x.shape[1], x.dtype), x[i]).sum()

    def grad_closed(x, i):  # the gradient by hand: Sigma^-1 (mu - mean(x_batch))
        return (cov_inv @ (jnp.zeros(x.shape[1], x.dtype) - x[i].mean(0))).sum()

    cases["gather+grad (pre-made idx, (b)'s loss)"] = (scan_of(grad_dot), pre)
    cases["gather+grad (pre-made idx, elementwise loss)"] = (scan_of(grad_fused), pre)
    cases["gather+grad (pre-made idx, hand-written grad)"] = (scan_of(grad_closed), pre)
    try:
        import jaxmle

        model = jaxmle.models.MultivariateGaussian(cov=cov)

        def grad_jaxmle(x, i):
            g = jax.grad(lambda p: -jnp.mean(model.log_prob(p, x[i])))(
                {"mean": jnp.zeros(x.shape[1], x.dtype)}
            )
            return g["mean"].sum()

        cases["gather+grad (pre-made idx, jaxmle MultivariateGaussian.log_prob)"] = (
            scan_of(grad_jaxmle),
            pre,
        )
    except (ImportError, AttributeError, TypeError) as err:  # pragma: no cover
        print(f"  (jaxmle log_prob grad not profiled: {err})")
    try:  # jaxmle's own counter-hash sampler (private module: may move)
        from jaxmle import _batching

        def hashed(piece):
            def body(x, s):
                i = _batching.sample_with_replacement(jnp.uint32(12345), s, b, n)
                if piece == "idx":
                    return i.sum().astype(x.dtype)
                xb = x.at[i].get(mode="promise_in_bounds")
                if piece == "gather":
                    return xb.sum()
                g = jax.grad(lambda p: -jnp.mean(model.log_prob(p, xb)))(
                    {"mean": jnp.zeros(x.shape[1], x.dtype)}
                )
                return g["mean"].sum()

            return scan_of(body)

        cases["hash sample (jaxmle._batching)"] = (hashed("idx"), ar)
        cases["hash sample+gather (jaxmle._batching, promise_in_bounds)"] = (hashed("gather"), ar)
        cases["hash sample+gather+grad (jaxmle log_prob)"] = (hashed("grad"), ar)
        # The engine's own path: its compiler options (YNNPACK fusions off on CPU) and, for
        # models with sufficient statistics, a gather-sum of the statistics instead of the
        # row-by-row log-density (jaxmle.fit(sufficient_stats=None), the default).
        from jaxmle import _xla

        eng = _xla.compiler_options()
        stats_rows, anchor = model.suff_stats(data)

        lane_seeds = jnp.arange(ENGINE_LANES, dtype=jnp.uint32) * jnp.uint32(7919)

        def engine(piece):  # vmapped over 32 lanes, as (c)'s b = 10,000 programs run
            def one(r, s, seed):
                i = _batching.sample_with_replacement(seed, s, b, n)
                if piece == "idx":
                    return i.sum().astype(r.dtype)
                tot = r.at[i].get(mode="promise_in_bounds").sum(0)
                if piece == "gather-sum":
                    return tot.sum()
                g = jax.grad(
                    lambda p: -model.log_lik_from_stats(p, tot, jnp.asarray(b, r.dtype), anchor) / b
                )({"mean": jnp.zeros(data.shape[1], r.dtype)})
                return g["mean"].sum()

            def body(r, s):
                return jax.vmap(one, (None, None, 0))(r, s, lane_seeds).sum()

            return scan_of(body, eng)

        def engine_rows(x, s):  # the row-by-row path, compiled as the engine compiles it
            i = _batching.sample_with_replacement(jnp.uint32(12345), s, b, n)
            xb = x.at[i].get(mode="promise_in_bounds")
            g = jax.grad(lambda p: -jnp.mean(model.log_prob(p, xb)))(
                {"mean": jnp.zeros(x.shape[1], x.dtype)}
            )
            return g["mean"].sum()

        cases["[engine] hash sample+gather+grad (log_prob rows)"] = (scan_of(engine_rows, eng), ar)
        lanes.update(dict.fromkeys(ENGINE_CASES, ENGINE_LANES))
        cases["[engine] hash sample"] = (engine("idx"), ar, stats_rows)
        cases["[engine] hash sample+gather-sum of statistics"] = (
            engine("gather-sum"), ar, stats_rows,
        )  # fmt: skip
        cases["[engine] hash sample+gather-sum+grad (statistics)"] = (
            engine("grad"), ar, stats_rows,
        )  # fmt: skip
    except (ImportError, AttributeError, TypeError, NameError) as err:  # pragma: no cover
        print(f"  (jaxmle hash sampler not profiled: {err})")
    out = {}
    for name, (fn, xs, *table) in cases.items():
        x = table[0] if table else data
        t = _best(lambda fn=fn, xs=xs, x=x: fn(x, xs).block_until_ready(), repeats)
        k = lanes.get(name, 1)  # per lane-step for the vmapped cases
        out[name] = {"rows_per_s": k * b * steps / t, "us_per_step": t / (k * steps) * 1e6}
    for opt in ("sgd", "adam"):
        for bb in (b, 1):
            run = jax.jit(make_jax_run(OPTIMIZERS[opt], bb, steps, cov))
            args = (data, jnp.asarray(0.1, data.dtype), jnp.asarray(0, jnp.uint32))
            t = _best(lambda run=run, args=args: run(*args).block_until_ready(), repeats)
            out[f"full {opt} step, b={bb}"] = {
                "rows_per_s": bb * steps / t,
                "us_per_step": t / steps * 1e6,
            }
    return out


def study_rows(
    batch_sizes: Sequence[int], n_lrs: int, n_seeds: int, steps: int, n_opts: int
) -> int:
    """Rows gathered by the whole study: sum over runs of ``b * steps``."""
    return int(sum(batch_sizes)) * steps * n_lrs * n_seeds * n_opts


def study_bound(
    batch_sizes: Sequence[int],
    n_lrs: int,
    n_seeds: int,
    steps: int,
    n_opts: int,
    *,
    bandwidth_gbs: float,
    gather_rows_per_s: float | None = None,
    sample_rows_per_s: float | None = None,
    k: int = 2,
    index_bytes: int = 4,
    flops_per_row: int = 6,
) -> dict:
    """The study's roofline.

    * ``bandwidth_s``: rows x (``k`` float64 + one index) bytes / streaming bandwidth -- what
      the study would cost if every row came from DRAM (it does not: the table is 160 KB and
      cache resident, so this is a loose lower bound);
    * ``gather_s``: rows / measured gather throughput (pre-made indices, cache-resident table);
    * ``sample_gather_s``: rows / measured throughput of the cheapest sampling + gather found;
    * ``flops``: ``flops_per_row`` per row (a subtract and an add per coordinate, roughly).
    """
    rows = study_rows(batch_sizes, n_lrs, n_seeds, steps, n_opts)
    nbytes = rows * (8 * k + index_bytes)
    out = {
        "rows": rows,
        "runs": len(batch_sizes) * n_lrs * n_seeds * n_opts,
        "steps_total": len(batch_sizes) * n_lrs * n_seeds * n_opts * steps,
        "bytes": nbytes,
        "bandwidth_gbs": bandwidth_gbs,
        "bandwidth_s": nbytes / (bandwidth_gbs * 1e9),
        "flops": rows * flops_per_row,
    }
    if gather_rows_per_s:
        out["gather_rows_per_s"] = gather_rows_per_s
        out["gather_s"] = rows / gather_rows_per_s
    if sample_rows_per_s:
        out["sample_rows_per_s"] = sample_rows_per_s
        out["sample_gather_s"] = rows / sample_rows_per_s
    return out
