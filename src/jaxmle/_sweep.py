"""Hyperparameter studies as compiled programs: every lane is a :func:`jaxmle.fit`, vmapped.

A study is a grid over optimisers (each its own program), numeric hyperparameters (traced
through ``optax.inject_hyperparams``, vmapped), seeds (vmapped) and batch sizes (shapes).
Lane ``(…, seed=s)`` equals ``fit(..., key=jax.random.fold_in(key, s))`` with the same
settings, to rounding.

Batch sizes: a program draws a fixed number of rows per step. Sizes are grouped into programs:
a group with several sizes draws its largest size for every lane and masks the surplus
(*masked*); a group per size draws exactly (*grouped*), but compiles once per size. With
``strategy="auto"`` the sorted sizes are split into contiguous groups minimising the
estimated cost ``Σ_groups (lanes × max size × steps × row_cost + COMPILE_COST)`` (an exact
dynamic programme over the sorted sizes), with ``row_cost`` ``ROW_COST_STATS`` when the model's
sufficient statistics are used and ``ROW_COST`` otherwise; ``"masked"`` forces one group,
``"grouped"`` one per size. The constants were measured on a 2-core CPU
(``benchmarks/sweep_gaussian_mean.py``).

L-BFGS with its zoom line search (``optax.lbfgs``) under ``vmap``: the line search is a
``lax.while_loop`` bounded by ``max_linesearch_steps`` (20 in ``optax.lbfgs``'s default), and a
batched while loop runs until its slowest lane stops, so each step costs up to 20 value-and-
gradient evaluations for every lane. Measured (2-core CPU, a 2-parameter exponential-decay
regression, 4 lanes): once a lane has converged to rounding its searches need ~18 iterations
every other step (no sufficient decrease is left to find), and compiling the vmapped program
takes 11-14 s; neither is a hang. For a study, pass a smaller
``linesearch=optax.scale_by_zoom_linesearch(max_linesearch_steps=k)`` in ``hyperparams``, or
``linesearch=None`` with a ``learning_rate``.

Lanes are sharded over all local devices (``jax.sharding``), padded to a multiple of the
device count; lanes of a group are processed in blocks so that one step's gathered rows stay
under ``max_rows_per_step`` (bounded memory whatever the study size).
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from . import _fit, _xla
from ._errors import InputError
from ._sweep_result import _RESULT_FIELDS, SweepResult

__all__ = ["SweepResult", "plan_batch_groups", "sweep"]

# Measured on a 2-core CPU (jax 0.10.2, benchmarks/sweep_gaussian_mean.py), vmapped lanes of
# the 2-D Gaussian study: ~130 M rows/s through hash + gather + log-density + gradient, ~400 M
# rows/s through hash + gather-sum of sufficient statistics; ~0.5-1 s per compile.
ROW_COST = 8.0e-9  # seconds per gathered row per lane-step, row-by-row log-density
ROW_COST_STATS = 3.0e-9  # the same, summed sufficient statistics
COMPILE_COST = 0.8  # seconds to compile one (optimiser, batch group) program


def plan_batch_groups(
    sizes: Sequence[int],
    lanes_per_size: int,
    steps: int,
    strategy: str = "auto",
    row_cost: float = ROW_COST,
) -> list[list[int]]:
    """Splits batch sizes into programs (see the module docs for the cost model).

    Args:
        sizes: distinct batch sizes.
        lanes_per_size: lanes (hyperparameter × seed combinations) per size.
        steps: steps per run.
        strategy: ``"auto"``, ``"masked"`` or ``"grouped"``.
        row_cost: seconds per gathered row per lane-step (``ROW_COST``, or
            ``ROW_COST_STATS`` for models run on sufficient statistics).

    Returns:
        Groups of sizes, each compiled as one program.
    """
    s = sorted(sizes)
    if strategy == "masked":
        return [s]
    if strategy == "grouped":
        return [[b] for b in s]
    if strategy != "auto":
        raise InputError(f"`strategy` must be 'auto', 'masked' or 'grouped', got {strategy!r}.")
    k = len(s)
    best = [0.0] + [math.inf] * k  # best[j]: cost of the first j sizes
    cut = [0] * (k + 1)
    for j in range(1, k + 1):
        for i in range(j):  # group s[i:j], drawing s[j-1] rows per lane
            c = best[i] + (j - i) * lanes_per_size * s[j - 1] * steps * row_cost + COMPILE_COST
            if c < best[j]:
                best[j], cut[j] = c, i
    groups, j = [], k
    while j > 0:
        groups.append(s[cut[j] : j])
        j = cut[j]
    return groups[::-1]


# --------------------------------------------------------------------------------------------
# Vmapped, jitted pieces (cfg static; lanes on axis 0 of hyper, key and batch_size).

_LANE_AXES = _fit._Dynamic(model=None, data=None, hyper=0, reference=None, tol=None,
                           batch_size=0)  # fmt: skip


@_xla.jit(static_argnums=0)
def _v_init(cfg, dyn, u0, key, seeds):
    keys = jax.vmap(lambda s: jax.random.fold_in(key, s))(seeds)
    return jax.vmap(partial(_fit._init_state, cfg), in_axes=(_LANE_AXES, None, 0))(dyn, u0, keys)


@_xla.jit(static_argnums=(0, 4, 5), donate_argnums=(2,))
def _v_run(cfg, dyn, state, start, n_records, record_every):
    def one(d, s):
        return _fit._run_records(cfg, d, s, start, n_records, record_every)

    return jax.vmap(one, in_axes=(_LANE_AXES, 0))(dyn, state)


@_xla.jit(static_argnums=0)
def _v_finish(cfg, dyn, state, trace):
    def one(d, s, t):
        return _fit._finish(cfg, d, s, t, d.batch_size)

    return jax.vmap(one, in_axes=(_LANE_AXES, 0, 0))(dyn, state, trace)


def _normalise_optimizers(optimizer) -> dict[str, Callable]:
    if isinstance(optimizer, Mapping):
        opts = dict(optimizer)
    elif callable(optimizer):
        opts = {getattr(optimizer, "__name__", "optimizer"): optimizer}
    else:
        raise InputError("`optimizer` must be an optax factory or a dict name -> factory.")
    for name, f in opts.items():
        if not callable(f) or hasattr(f, "update"):
            raise InputError(
                f"`optimizer[{name!r}]` must be an optax factory such as optax.adam (its "
                "numeric hyperparameters are swept); got an already-built transformation."
            )
    return opts


def sweep(
    model: Any,
    params0: Any,
    data: Any,
    *,
    optimizer: Callable | Mapping[str, Callable],
    grid: Mapping[str, Sequence],
    steps: int,
    key: jax.Array,
    hyperparams: Mapping[str, float] | None = None,
    replace: bool = True,
    reduction: str = "mean",
    reference: Any = None,
    tol: float = 1e-6,
    record_every: int | None = None,
    strategy: str = "auto",
    chunk_records: int | None = None,
    max_rows_per_step: int = 1 << 22,
    devices: Sequence[jax.Device] | None = None,
    progress: Callable[[int, int], None] | bool | None = None,
    sufficient_stats: bool | None = None,
) -> SweepResult:
    """Runs a whole hyperparameter study as vmapped :func:`jaxmle.fit` lanes.

    Args:
        model: a :class:`jaxmle.models.Model` or a plain ``log_prob(params, data)``.
        params0: starting natural parameters, shared by all lanes.
        data: pytree of arrays with a shared leading axis.
        optimizer: an optax factory (e.g. ``optax.adam``) or a dict ``name -> factory``;
            each is compiled as its own program.
        grid: axes of the study. ``"batch_size"`` (ints, or ``None`` for full batch),
            ``"seed"`` (ints; lane key ``jax.random.fold_in(key, seed)``) and any numeric
            hyperparameter of the factories (e.g. ``"learning_rate"``, ``"momentum"``).
            Omitted axes: full batch, seed 0.
        steps: optimiser steps per lane.
        key: base ``jax.random`` key.
        hyperparams: fixed numeric hyperparameters shared by every lane.
        replace: minibatches with replacement (default) or reshuffled epochs.
        reduction: ``"mean"`` or ``"sum"``, as in :func:`jaxmle.fit`.
        reference: natural params to measure convergence against (e.g. the closed form).
        tol: convergence tolerance, as in :func:`jaxmle.fit`.
        record_every: steps between trace records (default: at most 100 records).
        strategy: batch-size grouping, ``"auto"``, ``"masked"`` or ``"grouped"``.
        chunk_records: records per compiled call (progress and partial results); chunking
            never changes results.
        max_rows_per_step: bound on lanes × rows gathered in one step; larger groups run in
            lane blocks (memory stays bounded).
        devices: devices to shard lanes over (default: all local devices).
        progress: ``True`` for a tqdm bar (if installed), or ``callback(done, total)`` in
            lane-steps.
        sufficient_stats: objectives from summed sufficient statistics, as in
            :func:`jaxmle.fit` (default: when the model has them).

    Returns:
        A :class:`SweepResult` with the grid axes leading.
    """
    opts = _normalise_optimizers(optimizer)
    grid = dict(grid)
    if not grid:
        raise InputError("`grid` is empty; give at least one axis, e.g. {'learning_rate': [...]}.")
    sizes = list(grid.get("batch_size", [None]))
    seeds = [int(s) for s in grid.get("seed", [0])]
    hyper_axes = {k: np.asarray(v, dtype=float) for k, v in grid.items()
                  if k not in ("batch_size", "seed")}  # fmt: skip
    for k, v in {"batch_size": sizes, "seed": seeds, **hyper_axes}.items():
        if len(v) == 0:
            raise InputError(f"`grid[{k!r}]` is empty.")
        if len(set(map(_hashable, v))) != len(v):
            raise InputError(f"`grid[{k!r}]` has repeated values: {list(v)}.")
    overlap = set(hyperparams or {}) & set(hyper_axes)
    if overlap:
        raise InputError(
            f"{sorted(overlap)} appear both in `grid` and in `hyperparams`; give each "
            "hyperparameter in one place (a swept axis or a fixed value)."
        )
    _fit._positive_or_none(chunk_records, "chunk_records")
    minibatch = [b for b in sizes if b is not None]
    first = next(iter(opts.values()))
    cfg0, dyn0, u0, key = _fit._prepare(
        model, params0, data, first, hyperparams, minibatch[0] if minibatch else None, replace,
        reduction, reference, tol, steps, key, sufficient_stats, tuple(hyper_axes),
    )  # fmt: skip
    for b in minibatch[1:]:  # validate every size against n
        _fit._prepare(model, params0, data, first, hyperparams, b, replace, reduction, None,
                      tol, steps, key, None, tuple(hyper_axes))  # fmt: skip
    if not replace and len(minibatch) > 1 and strategy != "grouped":
        strategy = "grouped"  # epoch permutations are per batch size: no masking
    k_rec, n_full, tail = _fit._record_plan(steps, record_every)
    axes = {"optimizer": list(opts), **{k: [_scalar(v) for v in grid[k]] for k in grid}}
    shape = tuple(len(v) for v in axes.values())
    order = list(axes)
    # Per optimiser: how it runs, and which fixed hyperparameters are traced per lane (numbers)
    # or bound as Python values (integer settings such as memory_size, a linesearch).
    runs = {name: _fit.factory_optimizer(f, hyperparams, swept=tuple(hyper_axes))
            for name, f in opts.items()}  # fmt: skip
    fixed_meta = {k: (float(v) if _fit._is_traceable_value(first, k, v) else repr(v))
                  for k, v in (hyperparams or {}).items()}  # fmt: skip
    hyper_names = list(hyper_axes)
    combos = list(itertools.product(*(range(len(hyper_axes[h])) for h in hyper_names)))
    lanes_per_size = len(combos) * len(seeds)
    row_cost = ROW_COST_STATS if cfg0.stats else ROW_COST
    groups = (
        plan_batch_groups(minibatch, lanes_per_size, steps, strategy, row_cost) if minibatch else []
    )
    if None in sizes:
        groups = [[None], *groups]
    devices = list(devices or jax.local_devices())
    mesh = Mesh(np.array(devices), ("lanes",)) if len(devices) > 1 else None

    out: dict[str, Any] = {}
    timings: dict[str, dict] = {}
    total_work = len(opts) * len(sizes) * lanes_per_size * steps
    done_work = 0
    bar = _progress_bar(progress, total_work)
    plan = _chunk_plan(n_full, tail, k_rec, chunk_records)
    shard = NamedSharding(mesh, P("lanes")) if mesh is not None else None

    def block_inputs(cfg, chunk_p, fixed):
        # Host arrays, moved in one device_put: eager jnp ops would each compile a program.
        fdt = jnp.result_type(float)
        hyper = {h: np.asarray([hyper_axes[h][c[i]] for c, _, _ in chunk_p], fdt)
                 for i, h in enumerate(hyper_names)}  # fmt: skip
        hyper.update({h: np.full((len(chunk_p),), float(v), fdt) for h, v in fixed.items()})
        seeds_b = np.asarray([s for _, s, _ in chunk_p], np.uint32)
        bs = np.asarray([cfg.n if b is None else b for _, _, b in chunk_p],
                        jnp.result_type(int))  # fmt: skip
        hyper, seeds_b, bs = jax.device_put((hyper, seeds_b, bs), shard)
        dyn = dyn0._replace(hyper=hyper, batch_size=bs)
        return dyn, _v_init(_fit._init_cfg(cfg), dyn, u0, key, seeds_b)

    # Every program is lowered first and compiled by a background thread in run order, so
    # compiling the next programs overlaps running the current ones (XLA compiles outside
    # the GIL). Each (optimiser, batch group) is one job: its lane blocks share its programs.
    jobs = []
    t_start = time.perf_counter()
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        for opt_name in opts:
            opt, injected, fixed, _ = runs[opt_name]
            for group in groups:
                b_max = None if group == [None] else max(group)
                cfg = cfg0._replace(
                    optimizer=opt, injected=injected,
                    batch=cfg0.n if b_max is None else b_max, full_batch=b_max is None,
                    masked=len(group) > 1,
                )  # fmt: skip
                lanes = [(c, s, b) for b in group for c in combos for s in seeds]
                rows = (cfg.batch if not cfg.full_batch else cfg.n) * len(lanes)
                n_blocks = max(1, math.ceil(rows / max_rows_per_step))
                block = math.ceil(len(lanes) / n_blocks)
                if mesh is not None:
                    block = math.ceil(block / len(devices)) * len(devices)
                blocks = [lanes[i : i + block] for i in range(0, len(lanes), block)]
                first = block_inputs(cfg, blocks[0] + [blocks[0][-1]] * (block - len(blocks[0])),
                                     fixed)  # fmt: skip
                programs = {
                    cshape: pool.submit(_timed_compile, _v_run.lower(
                        cfg, first[0], first[1], jnp.asarray(0, jnp.int32), *cshape
                    ))
                    for cshape in dict.fromkeys(plan)
                }  # fmt: skip
                label = f"{opt_name}/b={'full' if b_max is None else '|'.join(map(str, group))}"
                jobs.append((opt_name, cfg, label, lanes, blocks, block, first, programs, fixed))

        t_prepared = time.perf_counter()
        for opt_name, cfg, label, lanes, blocks, block, first, programs, fixed in jobs:
            t_run = t_wait = 0.0
            for i, chunk in enumerate(blocks):
                chunk_p = chunk + [chunk[-1]] * (block - len(chunk))
                dyn, state = first if i == 0 else block_inputs(cfg, chunk_p, fixed)
                traces, done = [], 0
                for cshape in plan:
                    t1 = time.perf_counter()
                    compiled = programs[cshape].result()[0]
                    t2 = time.perf_counter()
                    state, tr = compiled(dyn, state, jnp.asarray(done, jnp.int32))
                    jax.block_until_ready(tr.loss)
                    t_wait += t2 - t1
                    t_run += time.perf_counter() - t2
                    traces.append(tr)
                    done += cshape[0] * cshape[1]
                    done_work += len(chunk) * cshape[0] * cshape[1]
                    if bar is not None:
                        bar(done_work, total_work)
                trace = (
                    traces[0]
                    if len(traces) == 1
                    else jax.tree_util.tree_map(lambda *xs: np.concatenate(xs, axis=1), *traces)
                )
                res = _v_finish(_fit._finish_cfg(cfg), dyn, state, trace)
                n_real = len(chunk)
                res = jax.tree_util.tree_map(lambda x, n_real=n_real: np.asarray(x)[:n_real], res)
                _scatter(out, res, chunk, opt_name, axes, hyper_names, shape, order)
            timings[label] = {
                "compile_s": sum(f.result()[1] for f in programs.values()),
                "compile_wait_s": t_wait, "run_s": t_run, "lanes": len(lanes),
            }  # fmt: skip
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    if bar is not None and hasattr(bar, "close"):
        bar.close()
    meta = {"steps": steps, "tol": tol, "reduction": reduction, "replace": replace,
            "record_every": k_rec, "strategy": strategy, "sufficient_stats": cfg0.stats,
            "batch_groups": [[("full" if b is None else b) for b in g] for g in groups],
            "devices": [str(d) for d in devices], "hyperparams": fixed_meta,
            "lane_key": "jax.random.fold_in(key, seed)",
            "host_s": {"prepare": t_prepared - t_start,
                       "total": time.perf_counter() - t_start}}  # fmt: skip
    return SweepResult(axes=axes, params=out["params"], trace=out["trace"], meta=meta,
                       timings=timings, **{f: out[f] for f in _RESULT_FIELDS})  # fmt: skip


def _scalar(v):
    """Axis coordinates as plain Python scalars (JSON-safe, usable in ``lane(...)``)."""
    if v is None or isinstance(v, str):
        return v
    v = np.asarray(v).item()
    return v


def _hashable(v):
    return None if v is None else float(v)


def _timed_compile(lowered):
    t0 = time.perf_counter()
    compiled = lowered.compile()
    return compiled, time.perf_counter() - t0


def _chunk_plan(n_full: int, tail: int, every: int, chunk_records: int | None):
    chunk = chunk_records or max(n_full, 1)
    plan = [(min(chunk, n_full - s), every) for s in range(0, n_full, chunk)]
    if tail:
        plan.append((1, tail))
    return plan


def _scatter(out, res: _fit.FitResult, chunk, opt_name, axes, hyper_names, shape, order):
    """Writes per-lane results into grid-shaped arrays (allocated on first use)."""
    if not out:

        def alloc(x):
            return np.zeros(shape + x.shape[1:], x.dtype)

        out["params"] = jax.tree_util.tree_map(alloc, res.params)
        out["trace"] = jax.tree_util.tree_map(alloc, res.trace)
        for f in _RESULT_FIELDS:
            out[f] = alloc(getattr(res, f))
    o = axes["optimizer"].index(opt_name)
    for i, (c, s, b) in enumerate(chunk):
        idx = [0] * len(order)
        idx[0] = o
        for name, j in zip(hyper_names, c, strict=True):
            idx[order.index(name)] = j
        if "seed" in axes:
            idx[order.index("seed")] = axes["seed"].index(s)
        if "batch_size" in axes:
            idx[order.index("batch_size")] = axes["batch_size"].index(b)
        idx = tuple(idx)

        def put(dst, src, idx=idx, i=i):
            dst[idx] = src[i]

        jax.tree_util.tree_map(put, out["params"], res.params)
        jax.tree_util.tree_map(put, out["trace"], res.trace)
        for f in _RESULT_FIELDS:
            out[f][idx] = getattr(res, f)[i]


def _progress_bar(progress, total):
    if progress is None or progress is False:
        return None
    if callable(progress):
        return progress
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    bar = tqdm(total=total, unit="lane-step", unit_scale=True)

    def update(done, _total):
        bar.update(done - bar.n)

    update.close = bar.close
    return update
