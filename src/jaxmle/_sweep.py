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

Lanes are sharded over all local devices (``jax.sharding``; with several processes the global
devices, see :mod:`jaxmle.distributed`), padded to a multiple of the device count; lanes of a
group are processed in blocks so that one step's gathered rows stay under
``max_rows_per_step`` (bounded memory whatever the study size).

With ``checkpoint=``, each lane block's state is saved after every chunk (one file per block)
and a later call resumes every block where its file left it (:mod:`jaxmle._checkpoint`).
"""

from __future__ import annotations

import itertools
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from . import _checkpoint as _ckpt
from . import _chunks, _fit, _xla
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
    checkpoint: str | os.PathLike | None = None,
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
        devices: devices to shard lanes over (default: all local devices; with several
            processes (:mod:`jaxmle.distributed`) all global devices).
        progress: ``True`` for a tqdm bar (if installed), or ``callback(done, total)`` in
            lane-steps.
        sufficient_stats: objectives from summed sufficient statistics, as in
            :func:`jaxmle.fit` (default: when the model has them).
        checkpoint: a folder to save the study's state into after every chunk (default
            chunks: about a tenth of the steps). A later call with the same folder and
            settings resumes from the last saved chunk of each lane block, bit-identically;
            a finished study is read back without running. With several processes, process
            0 writes and all read (a shared filesystem). See :mod:`jaxmle._checkpoint`.

    Returns:
        A :class:`SweepResult` with the grid axes leading.

    Raises:
        CheckpointMismatchError: ``checkpoint`` holds the state of a different study.
        InputError: on a malformed grid or setting (named in the message).
    """
    study = _plan_study(model, params0, data, optimizer, grid, steps, key, hyperparams, replace,
                        reduction, reference, tol, record_every, strategy, chunk_records,
                        checkpoint, devices, sufficient_stats)  # fmt: skip
    jobs = _plan_jobs(study, max_rows_per_step)
    ckpt = None
    if checkpoint is not None:
        ckpt = _ckpt.Checkpointer(checkpoint, "sweep", _settings(
            study, model, params0, data, optimizer, hyperparams, reference, key,
            max_rows_per_step))  # fmt: skip
    bar = _progress_bar(progress, study.total_work)
    try:
        out, timings, host = _run_jobs(study, jobs, ckpt, bar)
    finally:
        if ckpt is not None:
            ckpt.close()
        if bar is not None and hasattr(bar, "close"):
            bar.close()
    return SweepResult(axes=study.axes, params=out["params"], trace=out["trace"],
                       meta=_meta(study, host, ckpt), timings=timings,
                       **{f: out[f] for f in _RESULT_FIELDS})  # fmt: skip


class _Study(NamedTuple):
    """Everything decided before anything runs (validated inputs, the grid, the programs)."""

    cfg0: _fit._Config
    dyn0: _fit._Dynamic
    u0: Any
    key: jax.Array
    opts: dict
    runs: dict  # optimiser name -> (optimizer, injected, fixed hyperparams, _)
    axes: dict
    shape: tuple
    hyper_axes: dict
    combos: list
    seeds: list
    groups: list
    plan: list  # (records, record_every) per compiled call
    k_rec: int
    steps: int
    tol: float
    reduction: str
    replace: bool
    strategy: str
    fixed_meta: dict
    devices: list
    mesh: Mesh | None
    total_work: int


def _parse_grid(grid, hyperparams):
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
    return grid, sizes, seeds, hyper_axes


def _plan_study(model, params0, data, optimizer, grid, steps, key, hyperparams, replace,
                reduction, reference, tol, record_every, strategy, chunk_records, checkpoint,
                devices, sufficient_stats) -> _Study:  # fmt: skip
    """Validates the study and decides its programs, batch groups, chunks and devices."""
    opts = _normalise_optimizers(optimizer)
    grid, sizes, seeds, hyper_axes = _parse_grid(grid, hyperparams)
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
    if chunk_records is None and checkpoint is not None:
        chunk_records = _chunks.default_chunk_records(n_full)
    axes = {"optimizer": list(opts), **{k: [_scalar(v) for v in grid[k]] for k in grid}}
    # Per optimiser: how it runs, and which fixed hyperparameters are traced per lane (numbers)
    # or bound as Python values (integer settings such as memory_size, a linesearch).
    runs = {name: _fit.factory_optimizer(f, hyperparams, swept=tuple(hyper_axes))
            for name, f in opts.items()}  # fmt: skip
    fixed_meta = {k: (float(v) if _fit._is_traceable_value(first, k, v) else repr(v))
                  for k, v in (hyperparams or {}).items()}  # fmt: skip
    combos = list(itertools.product(*(range(len(hyper_axes[h])) for h in hyper_axes)))
    lanes_per_size = len(combos) * len(seeds)
    row_cost = ROW_COST_STATS if cfg0.stats else ROW_COST
    groups = (
        plan_batch_groups(minibatch, lanes_per_size, steps, strategy, row_cost) if minibatch else []
    )
    if None in sizes:
        groups = [[None], *groups]
    devices = list(devices or (jax.devices() if jax.process_count() > 1 else jax.local_devices()))
    mesh = Mesh(np.array(devices), ("lanes",)) if len(devices) > 1 else None
    if jax.process_count() > 1:  # every input a global array: replicated over the mesh
        dyn0, u0, key = _put((dyn0, u0, key), NamedSharding(mesh, P()) if mesh else None)
    return _Study(
        cfg0=cfg0, dyn0=dyn0, u0=u0, key=key, opts=opts, runs=runs, axes=axes,
        shape=tuple(len(v) for v in axes.values()), hyper_axes=hyper_axes, combos=combos,
        seeds=seeds, groups=groups, plan=_chunks.chunk_plan(n_full, tail, k_rec, chunk_records),
        k_rec=k_rec, steps=steps, tol=tol, reduction=reduction, replace=replace,
        strategy=strategy, fixed_meta=fixed_meta, devices=devices, mesh=mesh,
        total_work=len(opts) * len(sizes) * lanes_per_size * steps,
    )  # fmt: skip


class _Job(NamedTuple):
    """One (optimiser, batch group) program and its lane blocks."""

    index: int
    opt_name: str
    cfg: _fit._Config
    label: str
    lanes: list  # (hyperparameter combo, seed, batch size) per lane
    blocks: list
    block: int  # lanes per block (padded to a multiple of the device count)
    fixed: dict


def _plan_jobs(study: _Study, max_rows_per_step: int) -> list[_Job]:
    jobs = []
    for opt_name in study.opts:
        opt, injected, fixed, _ = study.runs[opt_name]
        for group in study.groups:
            b_max = None if group == [None] else max(group)
            cfg = study.cfg0._replace(
                optimizer=opt, injected=injected,
                batch=study.cfg0.n if b_max is None else b_max, full_batch=b_max is None,
                masked=len(group) > 1,
            )  # fmt: skip
            lanes = [(c, s, b) for b in group for c in study.combos for s in study.seeds]
            rows = (cfg.batch if not cfg.full_batch else cfg.n) * len(lanes)
            n_blocks = max(1, math.ceil(rows / max_rows_per_step))
            block = math.ceil(len(lanes) / n_blocks)
            if study.mesh is not None:
                block = math.ceil(block / len(study.devices)) * len(study.devices)
            blocks = [lanes[i : i + block] for i in range(0, len(lanes), block)]
            label = f"{opt_name}/b={'full' if b_max is None else '|'.join(map(str, group))}"
            jobs.append(_Job(len(jobs), opt_name, cfg, label, lanes, blocks, block, fixed))
    return jobs


def _lane_sharding(study: _Study) -> NamedSharding | None:
    return NamedSharding(study.mesh, P("lanes")) if study.mesh is not None else None


def _block_inputs(study: _Study, job: _Job, chunk: list):
    """A block's traced inputs and initial states (its lanes padded to ``job.block``)."""
    chunk_p = chunk + [chunk[-1]] * (job.block - len(chunk))
    # Host arrays, moved in one transfer: eager jnp ops would each compile a program.
    fdt = jnp.result_type(float)
    hyper = {h: np.asarray([study.hyper_axes[h][c[i]] for c, _, _ in chunk_p], fdt)
             for i, h in enumerate(study.hyper_axes)}  # fmt: skip
    hyper.update({h: np.full((len(chunk_p),), float(v), fdt) for h, v in job.fixed.items()})
    seeds_b = np.asarray([s for _, s, _ in chunk_p], np.uint32)
    bs = np.asarray([job.cfg.n if b is None else b for _, _, b in chunk_p],
                    jnp.result_type(int))  # fmt: skip
    hyper, seeds_b, bs = _put((hyper, seeds_b, bs), _lane_sharding(study))
    dyn = study.dyn0._replace(hyper=hyper, batch_size=bs)
    return dyn, _v_init(_fit._init_cfg(job.cfg), dyn, study.u0, study.key, seeds_b)


def _compile_jobs(study: _Study, jobs: list[_Job], pool, skip: set[int]):
    """Lowers each job's programs and submits their compilation (in run order) to ``pool``.

    Compiling the next programs overlaps running the current ones (XLA compiles outside the
    GIL); a job whose blocks are all finished in the checkpoint (``skip``) compiles nothing.
    """
    prepared = []
    for job in jobs:
        first = _block_inputs(study, job, job.blocks[0])
        lowered = {cshape: _v_run.lower(job.cfg, first[0], first[1], jnp.asarray(0, jnp.int32),
                                        *cshape)
                   for cshape in dict.fromkeys(study.plan)}  # fmt: skip
        programs = (
            {}
            if job.index in skip
            else {cshape: pool.submit(_timed_compile, low) for cshape, low in lowered.items()}
        )
        prepared.append((first, lowered, programs))
    return prepared


def _run_jobs(study: _Study, jobs: list[_Job], ckpt, bar):
    """Runs every job's blocks (resuming from ``ckpt``) and scatters results onto the grid."""
    out: dict[str, Any] = {}
    timings: dict[str, dict] = {}
    saved = {(j.index, i): ckpt.read(_unit(j, i)) if ckpt is not None else None
             for j in jobs for i in range(len(j.blocks))}  # fmt: skip
    skip = {
        j.index
        for j in jobs
        if all(_finished(saved[j.index, i], study.plan) for i in range(len(j.blocks)))
    }
    t_start = time.perf_counter()
    done_work = [0]
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        prepared = _compile_jobs(study, jobs, pool, skip)
        t_prepared = time.perf_counter()
        for job, (first, lowered, programs) in zip(jobs, prepared, strict=True):
            clock = {"run_s": 0.0, "compile_wait_s": 0.0}
            for i, chunk in enumerate(job.blocks):
                inputs = first if i == 0 else _block_inputs(study, job, chunk)
                res = _run_block(study, job, i, inputs, lowered, programs, saved[job.index, i],
                                 ckpt, bar, done_work, clock)  # fmt: skip
                _scatter(out, res, chunk, job.opt_name, study)
            timings[job.label] = {
                "compile_s": sum(f.result()[1] for f in programs.values()),
                **clock, "lanes": len(job.lanes),
            }  # fmt: skip
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    host = {"prepare": t_prepared - t_start, "total": time.perf_counter() - t_start}
    return out, timings, host


def _unit(job: _Job, i: int) -> str:
    return f"block-{job.index}-{i}"


def _finished(saved, plan) -> bool:
    return saved is not None and int(saved[0]["chunks_done"]) == len(plan)


def _run_block(study, job, i, inputs, lowered, programs, saved, ckpt, bar, done_work, clock):
    """One lane block: its chunks (from the checkpoint's state, if any), then its summary."""
    dyn, state = inputs
    lanes = len(job.blocks[i])

    def run_chunk(state, done, cshape):
        t1 = time.perf_counter()
        compiled = programs[cshape].result()[0]
        t2 = time.perf_counter()
        if study.mesh is not None:
            # The shardings the program was compiled for: XLA may lay out a returned (or
            # restored) state differently from the first one, e.g. replicate an empty leaf.
            state = jax.device_put(state, compiled.input_shardings[0][1])
        state, tr = compiled(dyn, state, jnp.asarray(done, jnp.int32))
        jax.block_until_ready(tr.loss)
        clock["compile_wait_s"] += t2 - t1
        clock["run_s"] += time.perf_counter() - t2
        return state, tr

    base = done_work[0]

    def progress(done, _total):
        done_work[0] = base + done
        if bar is not None:
            bar(done_work[0], study.total_work)

    shard = _lane_sharding(study)
    state, trace = _chunks.run_chunks(
        run_chunk, state, study.plan, steps_per_unit=lanes, progress=progress, ckpt=ckpt,
        unit=_unit(job, i), saved=saved, record_axis=1,
        trace_like=lambda: lowered[study.plan[0]].out_info[1],
        put=lambda t: _put(t, shard), get=_to_host,
    )  # fmt: skip
    # The trace is already on the host and the summary only passes it through: no round trip.
    res = _to_host(_v_finish(_fit._finish_cfg(job.cfg), dyn, state, None))._replace(trace=trace)
    return jax.tree_util.tree_map(lambda x: x[:lanes], res)


def _settings(study, model, params0, data, optimizer, hyperparams, reference, key, max_rows):
    """What a checkpoint must match to be resumed (see :mod:`jaxmle._checkpoint`)."""
    return {
        "axes": study.axes, "steps": study.steps, "record_every": study.k_rec,
        "chunks": study.plan, "tol": float(study.tol), "reduction": study.reduction,
        "replace": study.replace, "strategy": study.strategy,
        "batch_groups": [[("full" if b is None else b) for b in g] for g in study.groups],
        "devices": len(study.devices), "max_rows_per_step": max_rows,
        "sufficient_stats": study.cfg0.stats,
        "optimizer": _ckpt.describe_digest((optimizer, hyperparams)),
        "model": _ckpt.describe_digest(model),
        "inputs": _ckpt.digest((data, params0, reference, key)),
    }  # fmt: skip


def _meta(study: _Study, host: dict, ckpt) -> dict:
    return {"steps": study.steps, "tol": study.tol, "reduction": study.reduction,
            "replace": study.replace, "record_every": study.k_rec, "strategy": study.strategy,
            "sufficient_stats": study.cfg0.stats,
            "batch_groups": [[("full" if b is None else b) for b in g] for g in study.groups],
            "devices": [str(d) for d in study.devices], "processes": jax.process_count(),
            "hyperparams": study.fixed_meta, "lane_key": "jax.random.fold_in(key, seed)",
            "chunks": len(study.plan),
            "checkpoint": None if ckpt is None else {"path": str(ckpt.dir),
                                                     "resumed": ckpt.resumed},
            "host_s": host}  # fmt: skip


def _put(tree, sharding):
    """Host (or replicated) values as arrays with ``sharding``; global across processes."""
    if sharding is None:
        return jax.device_put(tree)
    if jax.process_count() == 1:
        return jax.device_put(tree, sharding)
    from . import distributed

    def one(x):
        if _ckpt._is_typed_key(x):
            return jax.random.wrap_key_data(one(jax.random.key_data(x)),
                                            impl=jax.random.key_impl(x))  # fmt: skip
        return distributed.put_global(distributed.to_host(x), sharding)

    return jax.tree_util.tree_map(one, tree)


def _to_host(tree):
    """Numpy copies of a tree's arrays; arrays spread over processes are gathered first."""
    from . import distributed

    return distributed.to_host(tree)


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


def _scatter(out, res: _fit.FitResult, chunk, opt_name, study: _Study):
    """Writes per-lane results into grid-shaped arrays (allocated on first use)."""
    axes, order = study.axes, list(study.axes)
    if not out:

        def alloc(x):
            return np.zeros(study.shape + x.shape[1:], x.dtype)

        out["params"] = jax.tree_util.tree_map(alloc, res.params)
        out["trace"] = jax.tree_util.tree_map(alloc, res.trace)
        for f in _RESULT_FIELDS:
            out[f] = alloc(getattr(res, f))
    o = axes["optimizer"].index(opt_name)
    for i, (c, s, b) in enumerate(chunk):
        idx = [0] * len(order)
        idx[0] = o
        for name, j in zip(study.hyper_axes, c, strict=True):
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
