"""A run in chunks of compiled calls: progress when each has finished, checkpoints between.

A run (one :func:`jaxmle.fit`, or one lane block of :func:`jaxmle.sweep`) is a sequence of
calls of one compiled program, each advancing ``records × record_every`` steps from an
absolute step counter. Minibatch indices depend only on (seed, step), so splitting a run into
chunks never changes a bit; between chunks the full state and the trace so far can be saved
(:mod:`jaxmle._checkpoint`) and a later call resumes from them.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from . import _checkpoint as _ckpt

__all__ = ["chunk_plan", "concat_traces", "default_chunk_records", "run_chunks"]


def default_chunk_records(n_records: int, chunks: int = 10) -> int:
    """Records per chunk when checkpointing: the divisor of ``n_records`` nearest a tenth.

    A divisor keeps every chunk the same shape, so checkpointing compiles no extra program.
    """
    target = max(1, round(n_records / chunks))
    divisors = [d for d in range(1, n_records + 1) if n_records % d == 0] or [1]
    return min(divisors, key=lambda d: (abs(d - target), d))


def chunk_plan(n_full: int, tail: int, every: int, chunk_records: int | None):
    """The calls a run is split into: ``(records, record_every)`` per compiled call."""
    chunk = chunk_records or max(n_full, 1)
    plan = [(min(chunk, n_full - s), every) for s in range(0, n_full, chunk)]
    if tail:
        plan.append((1, tail))
    return plan


def concat_traces(traces: list, axis: int = 0) -> Any:
    """One trace from per-chunk traces along the record ``axis`` (host arrays)."""
    if len(traces) == 1:  # no concatenation: an eager op would compile a program
        return traces[0]
    return jax.tree_util.tree_map(lambda *xs: np.concatenate(xs, axis=axis), *traces)


def run_chunks(
    run_chunk,
    state,
    plan,
    *,
    steps_per_unit: int,
    progress,
    ckpt,
    unit: str,
    saved=None,
    trace_like=None,
    record_axis: int = 0,
    put=None,
    get=None,
):
    """Runs ``plan``'s chunks from ``state``, resuming from and saving to ``ckpt``.

    Args:
        run_chunk: ``run_chunk(state, steps_done, (records, every)) -> (state, trace)``.
        state: the initial state (also the structure a saved state is restored into).
        plan: :func:`chunk_plan`'s output.
        steps_per_unit: progress units per step (lanes, for a sweep block).
        progress: ``callback(done, total)`` or None; called when a chunk has finished.
        ckpt: a :class:`jaxmle._checkpoint.Checkpointer` or None.
        unit: the checkpoint file of this run.
        saved: what ``ckpt.read(unit)`` returned, if the caller has read it already.
        trace_like: ``trace_like() -> tree`` of a chunk's trace (shapes and dtypes; used to
            restore a saved partial trace's structure), e.g. from ``Lowered.out_info``.
        record_axis: the trace's record axis (0 for a fit, 1 for vmapped lanes).
        put: host state -> device state (default ``jnp.asarray``), e.g. sharded.
        get: device tree -> host numpy tree (default ``np.asarray``).

    Returns:
        ``(state, trace)``: the final state and the whole trace (host arrays).
    """
    get = get or (lambda t: jax.tree_util.tree_map(np.asarray, t))
    put = put or (lambda t: jax.tree_util.tree_map(jnp.asarray, t))
    total = sum(r * e for r, e in plan)
    traces, start = [], 0
    if saved is None and ckpt is not None:
        saved = ckpt.read(unit)
    if saved is not None:
        header, arrays = saved
        start = int(header["chunks_done"])
        state = put(_ckpt.unpack_leaves(arrays, state, "state", str(ckpt.dir)))
        if start:
            traces.append(_ckpt.unpack_leaves(arrays, trace_like(), "trace", str(ckpt.dir),
                                              same_shape=False))  # fmt: skip
    done = sum(r * e for r, e in plan[:start])
    if start and progress is not None:
        progress(done * steps_per_unit, total * steps_per_unit)
    for i in range(start, len(plan)):
        state, tr = run_chunk(state, done, plan[i])
        traces.append(get(tr))  # blocks until the chunk has finished
        done += plan[i][0] * plan[i][1]
        if ckpt is not None:
            trace = concat_traces(traces, record_axis)
            traces = [trace]
            arrays = {**_ckpt.pack_leaves(get(state), "state"),
                      **_ckpt.pack_leaves(trace, "trace")}  # fmt: skip
            ckpt.write(unit, arrays, {"chunks_done": i + 1, "steps_done": done})
        if progress is not None:
            progress(done * steps_per_unit, total * steps_per_unit)
    return state, concat_traces(traces, record_axis)
