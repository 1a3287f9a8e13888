"""One optimisation run: an optax optimiser driven by ``jax.grad`` inside a jitted ``lax.scan``.

The run is a pure function of (model, data, hyperparameters, key): the same key gives the
same result, and the minibatch indices of a step depend only on (seed, step), so a run can be
split into chunks of scan steps, vmapped over lanes (:func:`jaxmle.sweep`) or resumed without
changing a bit. Optimisers work on unconstrained parameters; everything reported is natural.

Structure (blackjax/optax style): a static :class:`_Config`, a carried :class:`_State`, an
outer ``lax.scan`` over trace records whose body is an inner ``lax.scan`` of ``record_every``
steps; only the records leave the loop, so the trace is bounded whatever the step count.
"""

from __future__ import annotations

import functools
import inspect
import math
import os
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax

from . import _batching, _chunks, _xla
from . import _checkpoint as _ckpt
from ._canonical import canonical
from ._errors import InputError
from ._models import Model
from ._status import Status
from ._validation import check_log_prob_shape, check_params_domain, n_rows

__all__ = ["FitResult", "Trace", "fit"]

PyTree = Any


class Trace(NamedTuple):
    """Thinned record of a run, one entry every ``record_every`` steps.

    Attributes:
        step: ``(R,)`` number of steps done when the record was taken.
        loss: ``(R,)`` objective on that step's minibatch (the full data when full batch).
        grad_norm: ``(R,)`` global norm of that step's gradient (unconstrained space).
        params: natural parameters, each leaf ``(R, ...)``.
    """

    step: jax.Array
    loss: jax.Array
    grad_norm: jax.Array
    params: PyTree


class FitResult(NamedTuple):
    """Outcome of :func:`fit` (a pytree: it vmaps, stacks and saves like any other).

    Attributes:
        params: final natural parameters (the last finite state if the run diverged).
        loss: objective at the last step (its minibatch).
        grad_norm: gradient norm at the last step (measured on its minibatch, at the params
            that step started from).
        distance: Euclidean distance of ``params`` to ``reference`` over all leaves (NaN
            without a reference).
        converged: the FINAL state meets the criterion and the run did not diverge: the final
            ``distance`` ≤ ``tol`` when a reference is given, else the final ``grad_norm`` ≤
            ``tol``. A run that passed through the tolerance and left it again (Adam
            oscillating, a too-large step) is not converged; when the tolerance first held is
            ``steps_to_tol``.
        steps_to_tol: number of steps done when the tolerance first held: the parameters
            after that many steps were within ``tol`` of the reference, or had a gradient
            norm ≤ ``tol`` (-1 if never). It may be ≥ 0 for a run that is not ``converged``.
        samples_to_tol: observations processed up to then, ``steps_to_tol × batch size``
            (-1 if never).
        diverged: the run diverged and froze at its last finite state: a loss, gradient or
            update became non-finite, or the loss exploded (``|loss| > 1e50·max(1, |loss₀|)``
            with ``loss₀`` the first step's; see ``EXPLODE_FACTOR``).
        diverged_step: the step at which that happened (-1 if never).
        status: ``int32`` :class:`jaxmle.Status` code: ``OK`` when ``converged``,
            ``NONFINITE`` when ``diverged``, ``MAX_STEPS`` otherwise (the steps ran out
            first). :func:`jaxmle.status_message` turns it into a sentence.
        trace: the thinned :class:`Trace`.
    """

    params: PyTree
    loss: jax.Array
    grad_norm: jax.Array
    distance: jax.Array
    converged: jax.Array
    steps_to_tol: jax.Array
    samples_to_tol: jax.Array
    diverged: jax.Array
    diverged_step: jax.Array
    status: jax.Array
    trace: Trace

    def __repr__(self) -> str:
        """A few lines, not the NamedTuple's every field (the trace alone is kilobytes)."""
        if any(isinstance(v, jax.core.Tracer) for v in jax.tree_util.tree_leaves(self)):
            return "FitResult(<traced>)"
        status = np.asarray(self.status)
        steps = np.shape(self.trace.step)[-1:]
        shapes = {k: np.shape(v) for k, v in _named_leaves(self.params)}
        if status.ndim:  # stacked or vmapped runs
            counts = {Status(int(c)).name.lower(): int(n)
                      for c, n in zip(*np.unique(status, return_counts=True), strict=True)}
            return (f"FitResult: {status.size} runs {status.shape} ("
                    + ", ".join(f"{k} {n}" for k, n in counts.items())
                    + f"); params {shapes}; trace of {steps[0] if steps else 0} records")
        loss, g = float(np.asarray(self.loss)), float(np.asarray(self.grad_norm))
        head = (f"FitResult(status {Status(int(status)).name}, loss {loss:.6g}, "
                f"grad_norm {g:.3g}, steps_to_tol {int(np.asarray(self.steps_to_tol))}")
        if not np.isnan(np.asarray(self.distance)):
            head += f", distance {float(np.asarray(self.distance)):.3g}"
        small = sum(math.prod(v) for v in shapes.values()) <= 8
        params = ({k: np.round(np.asarray(v), 6).tolist() for k, v in _named_leaves(self.params)}
                  if small else shapes)  # fmt: skip
        return f"{head}, params {params}, trace of {steps[0] if steps else 0} records)"


def _named_leaves(tree: PyTree) -> list[tuple[str, Any]]:
    """``(path, leaf)`` pairs with readable paths (``mean``, ``b[0]``)."""
    pairs = jax.tree_util.tree_flatten_with_path(tree)[0]
    return [(jax.tree_util.keystr(path, simple=True, separator=".") or "params", leaf)
            for path, leaf in pairs]  # fmt: skip


# A finite loss this many times larger than the first step's (or than 1) is an explosion: the
# run is flagged as diverged and frozen, as for a NaN (2e199 is not a result worth reporting).
EXPLODE_FACTOR = 1e50


class _Config(NamedTuple):
    """Everything static (shape- or code-deciding) about a run; hashable."""

    log_prob: Callable | None  # a plain function; None when the model (dynamic) is used
    optimizer: Any  # a GradientTransformation, or an inject_hyperparams factory
    injected: bool
    n: int
    batch: int  # rows drawn per step (the largest batch in a masked group); n = full batch
    full_batch: bool
    replace: bool
    reduction: str
    has_reference: bool
    masked: bool
    stats: bool = False  # minibatch objectives from summed sufficient statistics


class _State(NamedTuple):
    u: PyTree
    opt_state: PyTree
    seed: jax.Array
    perm: jax.Array
    frozen: jax.Array
    diverged_step: jax.Array
    conv_step: jax.Array
    loss: jax.Array
    grad_norm: jax.Array
    loss0: jax.Array  # the first step's loss: the scale an exploding loss is measured against


class _Dynamic(NamedTuple):
    """Traced inputs: change them freely without recompiling."""

    model: Model | None
    data: PyTree
    hyper: dict
    reference: PyTree
    tol: jax.Array
    batch_size: jax.Array  # per-lane batch size (masked strategy); else == cfg.batch


def _transforms(cfg: _Config, dyn: _Dynamic):
    if dyn.model is None:
        return cfg.log_prob, (lambda p: jnp.zeros(())), (lambda u: u)
    m = dyn.model
    return m.log_prob, m.log_prior, m.to_natural


def _optimizer(cfg: _Config, dyn: _Dynamic) -> optax.GradientTransformationExtraArgs:
    opt = cfg.optimizer(**dyn.hyper) if cfg.injected else cfg.optimizer
    return optax.with_extra_args_support(opt)


def _tree_where(c, a, b):
    return jax.tree_util.tree_map(lambda x, y: jnp.where(c, x, y), a, b)


def _all_finite(tree) -> jax.Array:
    leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree_util.tree_leaves(tree)]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.asarray(True)


def _distance(a, b) -> jax.Array:
    pairs = zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True)
    return jnp.sqrt(sum(jnp.sum((x - y) ** 2) for x, y in pairs))


def _indices(cfg: _Config, state: _State, t: jax.Array):
    """This step's row indices (or None for full batch) and the updated permutation."""
    if cfg.full_batch:
        return None, state.perm
    if cfg.replace:
        return _batching.sample_with_replacement(state.seed, t, cfg.batch, cfg.n), state.perm
    per_epoch = cfg.n // cfg.batch
    epoch, pos = t // per_epoch, t % per_epoch
    # ``t`` is never batched (it comes from the scan's xs), so under vmap this stays a cond:
    # the sort runs once per epoch, not every step.
    perm = lax.cond(
        pos == 0, lambda: _batching.shuffle(state.seed, epoch, cfg.n), lambda: state.perm
    )
    return lax.dynamic_slice(perm, (pos * cfg.batch,), (cfg.batch,)), perm


class _Stats(NamedTuple):
    """A model's sufficient statistics for one compiled call (see ``Model.suff_stats``)."""

    rows: PyTree  # (n, ...) per-observation statistics
    anchor: PyTree
    full: PyTree  # their sums over all rows (the full-batch objective), else None


def _stats(cfg: _Config, dyn: _Dynamic) -> _Stats | None:
    # Once per compiled call: the data are not batched over a sweep's lanes, so neither is this.
    if not cfg.stats:
        return None
    rows, anchor = dyn.model.suff_stats(dyn.data)
    full = jax.tree_util.tree_map(lambda r: jnp.sum(r, axis=0), rows) if cfg.full_batch else None
    return _Stats(rows, anchor, full)


def _gather(a: jax.Array, idx: jax.Array) -> jax.Array:
    # Indices are in [0, n) by construction; promising it skips XLA's bounds handling
    # (measured ~1.4x faster gathers on CPU than the default mode).
    return a.at[idx].get(mode="promise_in_bounds")


def _objective(cfg: _Config, dyn: _Dynamic, idx, stats: _Stats | None = None):
    log_prob, log_prior, to_natural = _transforms(cfg, dyn)
    n = cfg.n
    b = n if idx is None else (dyn.batch_size if cfg.masked else cfg.batch)
    w = (jnp.arange(cfg.batch) < b) if cfg.masked and idx is not None else None

    if stats is not None:
        if idx is None:
            summed = stats.full
        else:

            def gather_sum(r):
                g = _gather(r, idx)
                if w is not None:
                    g = jnp.where(w.reshape((-1,) + (1,) * (g.ndim - 1)), g, 0.0)
                return jnp.sum(g, axis=0)

            summed = jax.tree_util.tree_map(gather_sum, stats.rows)
        count = jnp.asarray(b, jnp.result_type(float))

        def log_lik(p):
            return dyn.model.log_lik_from_stats(p, summed, count, stats.anchor)
    else:
        batch = dyn.data
        if idx is not None:
            batch = jax.tree_util.tree_map(lambda a: _gather(a, idx), dyn.data)

        def log_lik(p):
            lp = log_prob(p, batch)
            return jnp.sum(lp) if w is None else jnp.sum(jnp.where(w, lp, 0.0))

    def loss_fn(u):
        p = to_natural(u)
        total = log_lik(p)
        if cfg.reduction == "sum":
            return -(total + log_prior(p))
        return -(total / b + log_prior(p) / n)

    return loss_fn


def _step(cfg: _Config, dyn: _Dynamic, state: _State, t: jax.Array, stats=None) -> _State:
    idx, perm = _indices(cfg, state, t)
    loss_fn = _objective(cfg, dyn, idx, stats)
    opt = _optimizer(cfg, dyn)
    loss, g = jax.value_and_grad(loss_fn)(state.u)
    updates, opt_state = opt.update(
        g, state.opt_state, state.u, value=loss, grad=g, value_fn=loss_fn
    )
    u = optax.apply_updates(state.u, updates)
    loss0 = jnp.where(t == 0, loss, state.loss0)
    # The factor within the loss dtype's range: 1e50 overflows float32, which turned it off.
    factor = min(EXPLODE_FACTOR, float(jnp.finfo(jnp.result_type(loss)).max) / 1e8)
    exploded = jnp.abs(loss) > factor * jnp.maximum(1.0, jnp.abs(loss0))
    ok = jnp.isfinite(loss) & ~exploded & _all_finite(g) & _all_finite(u)
    frozen = state.frozen | ~ok
    u = _tree_where(frozen, state.u, u)
    opt_state = _tree_where(frozen, state.opt_state, opt_state)
    gnorm = optax.tree.norm(g)
    if cfg.has_reference:  # distance of the params after this step (t + 1 steps done)
        hit = _distance(_transforms(cfg, dyn)[2](u), dyn.reference) <= dyn.tol
        done = t + 1
    else:  # the gradient was measured at the params left by the previous t steps
        hit = gnorm <= dyn.tol
        done = t
    conv_step = jnp.where((state.conv_step < 0) & hit & ~frozen, done, state.conv_step)
    return _State(
        u=u,
        opt_state=opt_state,
        seed=state.seed,
        perm=perm,
        frozen=frozen,
        diverged_step=jnp.where(~ok & ~state.frozen, t, state.diverged_step),
        conv_step=conv_step,
        loss=jnp.where(frozen, state.loss, loss),
        grad_norm=jnp.where(frozen, state.grad_norm, gnorm),
        loss0=loss0,
    )


def _init_state(cfg: _Config, dyn: _Dynamic, u0: PyTree, key: jax.Array) -> _State:
    dt = jnp.result_type(float)
    return _State(
        u=u0,
        opt_state=_optimizer(cfg, dyn).init(u0),
        seed=_batching.seed_from_key(key),
        perm=jnp.zeros((0 if cfg.replace or cfg.full_batch else cfg.n,), jnp.int32),
        frozen=jnp.asarray(False),
        diverged_step=jnp.asarray(-1, jnp.int32),
        conv_step=jnp.asarray(-1, jnp.int32),
        loss=jnp.asarray(jnp.nan, dt),
        grad_norm=jnp.asarray(jnp.nan, dt),
        loss0=jnp.asarray(jnp.nan, dt),
    )


def _run_records(cfg, dyn, state, start, n_records: int, record_every: int):
    """``n_records`` records of ``record_every`` steps each, from absolute step ``start``."""
    to_natural = _transforms(cfg, dyn)[2]
    stats = _stats(cfg, dyn)

    def inner(state, t):
        return _step(cfg, dyn, state, t, stats), None

    def outer(state, r):
        ts = start + r * record_every + jnp.arange(record_every, dtype=jnp.int32)
        state, _ = lax.scan(inner, state, ts)
        rec = Trace(ts[-1] + 1, state.loss, state.grad_norm, to_natural(state.u))
        return state, rec

    return lax.scan(outer, state, jnp.arange(n_records, dtype=jnp.int32))


def _init_cfg(cfg: _Config) -> _Config:
    # Only the optimiser and the permutation's shape matter to the initial state: one
    # compilation per optimiser, not per batch size or objective.
    return cfg._replace(batch=0, masked=False, has_reference=False, reduction="mean",
                        stats=False)  # fmt: skip


def _finish_cfg(cfg: _Config) -> _Config:
    # The summary needs the parameter map and whether there is a reference: one compilation.
    return cfg._replace(optimizer=None, injected=False, batch=0, full_batch=False,
                        replace=True, reduction="mean", masked=False, stats=False)  # fmt: skip


_init_jit = _xla.jit(_init_state, static_argnums=0)
_run_jit = _xla.jit(_run_records, static_argnums=(0, 4, 5))


def _finish(cfg, dyn, state: _State, trace: Trace | None, batch_size) -> FitResult:
    to_natural = _transforms(cfg, dyn)[2]
    params = to_natural(state.u)
    dist = (
        _distance(params, dyn.reference)
        if cfg.has_reference
        else jnp.asarray(jnp.nan, jnp.result_type(float))
    )
    # Converged describes the final state: the criterion holds there and the run is sane.
    final = dist if cfg.has_reference else state.grad_norm
    conv = (final <= dyn.tol) & ~state.frozen
    status = jnp.where(
        conv, int(Status.OK), jnp.where(state.frozen, int(Status.NONFINITE), int(Status.MAX_STEPS))
    ).astype(jnp.int32)
    reached = state.conv_step >= 0
    # Steps × rows overflows int32 for long large-batch runs: widen (float without x64).
    wide = jnp.int64 if jax.config.jax_enable_x64 else jnp.result_type(float)
    samples = jnp.where(reached, state.conv_step.astype(wide) * jnp.asarray(batch_size, wide), -1)
    return FitResult(
        params, state.loss, state.grad_norm, dist, conv, state.conv_step, samples,
        state.frozen, state.diverged_step, status, trace,
    )  # fmt: skip


_finish_jit = _xla.jit(_finish, static_argnums=0)


# --------------------------------------------------------------------------------------------
# Public entry point: validation on concrete inputs, then the jitted pieces.


@functools.cache
def _injected(factory: Callable, static: tuple = (), names: tuple[str, ...] = ()) -> Callable:
    """``inject_hyperparams`` of ``factory`` with the ``static`` settings bound as Python values.

    One wrapper per (factory, static settings), so the static config is the same object on
    every call and a new learning rate never recompiles. Only ``names`` are traced (the wrapper
    takes exactly those keywords); every other argument keeps the factory's Python default
    (``optax.inject_hyperparams(optax.lbfgs)`` would trace ``memory_size=10`` and fail on its
    ``if memory_size < 1``).
    """

    def inner(**traced):
        return factory(**dict(static), **traced)

    inner.__name__ = inner.__qualname__ = getattr(factory, "__name__", "optimizer")
    kw = inspect.Parameter.KEYWORD_ONLY
    inner.__signature__ = inspect.Signature([inspect.Parameter(k, kw) for k in names])
    return optax.inject_hyperparams(inner)


@functools.cache
def _built(factory: Callable, settings: tuple) -> optax.GradientTransformation:
    # A factory whose hyperparameters cannot be traced, built once per value set.
    return factory(**dict(settings))


def _is_traceable_value(factory: Callable, name: str, value: Any) -> bool:
    """Whether a hyperparameter is numeric and not a shape-deciding (integer) setting.

    Integers are traced only when the factory's default for them is not an integer
    (``learning_rate=1`` is a rate; ``memory_size=5`` decides array shapes).
    """
    if isinstance(value, bool) or not isinstance(value, int | float | np.number | np.ndarray
                                                 | jax.Array):  # fmt: skip
        return False
    if np.ndim(value) != 0:
        return False
    if isinstance(value, int | np.integer) or np.issubdtype(np.asarray(value).dtype, np.integer):
        try:
            default = inspect.signature(factory).parameters[name].default
        except (KeyError, TypeError, ValueError):
            return True
        return not (isinstance(default, int) and not isinstance(default, bool))
    return True


def _hashable(name: str, value: Any) -> Any:
    if isinstance(value, np.ndarray | jax.Array) and np.ndim(value) == 0:
        value = value.item()
    try:
        hash(value)
    except TypeError as err:
        raise InputError(
            f"`hyperparams['{name}']` ({type(value).__name__}) is neither a number that can be "
            "traced nor a hashable setting; pass a number, or build the transformation yourself "
            "(optimizer=factory(...))."
        ) from err
    return value


@functools.cache
def _traces_cleanly(opt: Callable, names: tuple[str, ...]) -> bool:
    """Whether ``opt(**hyper)`` can be initialised and updated with traced ``hyper``.

    Checked once per (wrapper, names) on a tiny quadratic, abstractly (nothing compiles).
    """
    dt = jnp.result_type(float)

    def run(hyper, u):
        o = optax.with_extra_args_support(opt(**hyper))
        state = o.init(u)

        def f(v):
            return jnp.sum(v * v)

        v, g = jax.value_and_grad(f)(u)
        return o.update(g, state, u, value=v, grad=g, value_fn=f)

    hyper = {k: jax.ShapeDtypeStruct((), dt) for k in names}
    try:
        jax.eval_shape(run, hyper, jax.ShapeDtypeStruct((2,), dt))
    except (jax.errors.ConcretizationTypeError, jax.errors.TracerBoolConversionError,
            jax.errors.TracerIntegerConversionError):  # fmt: skip
        return False
    except TypeError as err:  # e.g. a misspelt hyperparameter
        name = getattr(opt, "__name__", "the optimiser factory")
        raise InputError(
            f"`hyperparams` {list(names)} do not fit {name}: {err}. Pass the factory's numeric "
            "hyperparameters by name, e.g. hyperparams={'learning_rate': 0.1}."
        ) from err
    return True


def factory_optimizer(
    factory: Callable, hyperparams: Mapping[str, Any] | None, swept: tuple[str, ...] = ()
) -> tuple[Callable | optax.GradientTransformation, bool, dict, tuple]:
    """How an optax factory runs: (optimizer, injected, traced hyperparameters, static ones).

    Numeric hyperparameters are traced through ``inject_hyperparams`` (a new value never
    recompiles; a sweep vmaps them); integer settings whose default is an integer
    (``memory_size``) and non-numeric ones (a ``linesearch``) are bound as Python values. When
    the factory uses a traced hyperparameter in Python control flow, a single run builds the
    transformation from the given values instead (a new value then compiles anew); a sweep,
    which must trace ``swept``, raises.

    Args:
        factory: an optax optimiser factory such as ``optax.adam`` or ``optax.lbfgs``.
        hyperparams: fixed hyperparameters (numbers or settings).
        swept: names a sweep will trace per lane.

    Returns:
        ``(optimizer, injected, traced, static)``: ``optimizer`` an ``inject_hyperparams``
        wrapper when ``injected`` (call it with ``traced``), else a built transformation.

    Raises:
        InputError: when a swept name is a static setting or cannot be traced.
    """
    # Canonical factory and settings: equal ones built anew (a lambda factory, a new line
    # search object) reuse the wrapper, hence the compiled program.
    factory = canonical(factory)
    traced, static = {}, []
    for k, v in (hyperparams or {}).items():
        if _is_traceable_value(factory, k, v):
            traced[k] = v
        else:
            static.append((k, _hashable(k, canonical(v))))
    static = tuple(sorted(static, key=lambda kv: kv[0]))
    fname = getattr(factory, "__name__", "the optimiser factory")
    for k in swept:
        try:
            default = inspect.signature(factory).parameters[k].default
        except (KeyError, TypeError, ValueError):
            continue
        if isinstance(default, int) and not isinstance(default, bool):
            raise InputError(
                f"`grid['{k}']`: {fname}'s `{k}` is an integer setting that decides array "
                "shapes; it cannot be vmapped. Fix it in `hyperparams` and run one sweep per value."
            )
    names = tuple(sorted({*traced, *swept}))
    opt = _injected(factory, static, names)
    if _traces_cleanly(opt, names):
        return opt, True, traced, static
    if swept:
        raise InputError(
            f"{fname} uses its hyperparameter(s) {list(names)} in Python control flow, so they "
            f"cannot be traced and swept; sweep only hyperparameters that {fname} accepts as "
            "arrays, or run jaxmle.fit once per value."
        )
    settings = tuple(sorted({**dict(static), **{k: _hashable(k, v) for k, v in traced.items()}
                             }.items()))  # fmt: skip
    return _built(factory, settings), False, {}, static


def _prepare(model, params0, data, optimizer, hyperparams, batch_size, replace, reduction,
             reference, tol, steps, key, sufficient_stats=None, swept=()):  # fmt: skip
    """Validates inputs and builds the static config and the traced inputs."""
    if not (isinstance(model, Model) or callable(model)):
        raise InputError(
            f"`model` must be a jaxmle Model or a function log_prob(params, data) -> (n,), "
            f"got {type(model).__name__}."
        )
    for path, leaf in jax.tree_util.tree_flatten_with_path(params0)[0]:
        if not np.all(np.isfinite(np.asarray(leaf))):
            raise InputError(
                f"`params0{jax.tree_util.keystr(path)}` is not finite; pass a finite start."
            )
    if isinstance(model, Model):
        data = model.validate(data)
        u0 = check_params_domain(model.constraints, params0, "params0")
        log_prob, dyn_model = None, model
        n = n_rows(data)
    else:
        log_prob, dyn_model = model, None
        data = jax.tree_util.tree_map(jnp.asarray, data)
        u0 = params0
        n = n_rows(data)
        # A jaxmle Model's log_prob is pointwise by construction; a user's function may not be.
        check_log_prob_shape(log_prob, params0, data, n=n)
    u0 = jax.tree_util.tree_map(lambda x: jnp.asarray(x, jnp.result_type(float)), u0)
    if not isinstance(steps, int | np.integer) or steps < 1:
        raise InputError(f"`steps` must be a positive integer, got {steps!r}.")
    if reduction not in ("mean", "sum"):
        raise InputError(f"`reduction` must be 'mean' or 'sum', got {reduction!r}.")
    if not (isinstance(tol, int | float) and tol > 0):
        raise InputError(f"`tol` must be a positive number, got {tol!r}.")
    full = batch_size is None
    if not full:
        if not isinstance(batch_size, int | np.integer) or batch_size < 1:
            raise InputError(
                f"`batch_size` must be a positive integer or None, got {batch_size!r}."
            )
        if not replace and batch_size > n:
            raise InputError(
                f"`batch_size`={batch_size} exceeds the {n} observations; sampling without "
                "replacement needs batch_size <= n (or pass replace=True)."
            )
        if key is None:
            raise InputError("`key` is required for minibatches: pass jax.random.key(seed).")
    if key is None:
        key = jax.random.key(0)  # unused by full-batch runs; keeps the state's shape fixed
    if isinstance(optimizer, optax.GradientTransformation):
        if hyperparams:
            raise InputError(
                "`hyperparams` apply only to an optimiser factory such as optax.adam; with an "
                "already-built transformation pass them to it directly."
            )
        # Canonical: an equal transformation built anew reuses the compiled program.
        opt, injected, hyper = canonical(optimizer), False, {}
    elif callable(optimizer):
        opt, injected, traced, _ = factory_optimizer(optimizer, hyperparams, swept)
        hyper = {k: jnp.asarray(v, jnp.result_type(float)) for k, v in traced.items()}
    else:
        raise InputError(
            "`optimizer` must be an optax.GradientTransformation (e.g. optax.adam(1e-2)) or an "
            f"optax factory (e.g. optax.adam, with hyperparams=...); got {type(optimizer)}."
        )
    if reference is not None:
        if jax.tree_util.tree_structure(reference) != jax.tree_util.tree_structure(params0):
            raise InputError(
                "`reference` must have the same structure as the params, e.g. the model's "
                f"closed form; got {jax.tree_util.tree_structure(reference)}."
            )
        for r, p in zip(jax.tree_util.tree_leaves(reference), jax.tree_util.tree_leaves(params0),
                        strict=True):  # fmt: skip
            if np.shape(r) != np.shape(p):
                raise InputError(
                    f"`reference` leaf has shape {np.shape(r)} but the matching parameter has "
                    f"shape {np.shape(p)}; pass the closed form (natural parameters)."
                )
        reference = jax.tree_util.tree_map(lambda x: jnp.asarray(x, jnp.result_type(float)),
                                           reference)  # fmt: skip
    if sufficient_stats not in (None, True, False):
        raise InputError(
            f"`sufficient_stats` must be None, True or False, got {sufficient_stats!r}."
        )
    # Whether the model has statistics is decided by its type and static fields: trace only.
    use_stats = (
        dyn_model is not None
        and sufficient_stats is not False
        and jax.eval_shape(dyn_model.suff_stats, data) is not None
    )
    if sufficient_stats and not use_stats:
        raise InputError(
            "`sufficient_stats=True` needs a jaxmle Model that defines suff_stats "
            f"({type(model).__name__} does not); pass None to choose automatically."
        )
    b = n if full else int(batch_size)
    cfg = _Config(log_prob, opt, injected, n, b, full, bool(replace), reduction,
                  reference is not None, False, use_stats)  # fmt: skip
    dyn = _Dynamic(dyn_model, data, hyper, reference, jnp.asarray(float(tol)), jnp.asarray(b))
    return cfg, dyn, u0, key


def _positive_or_none(v, name: str) -> None:
    if v is not None and (not isinstance(v, int | np.integer) or isinstance(v, bool) or v < 1):
        raise InputError(f"`{name}` must be a positive integer or None, got {v!r}.")


def _record_plan(steps: int, record_every: int | None, max_records: int = 100):
    _positive_or_none(record_every, "record_every")
    k = int(record_every) if record_every is not None else max(1, math.ceil(steps / max_records))
    return k, steps // k, steps % k


def fit(
    model: Model | Callable,
    params0: PyTree,
    data: PyTree,
    *,
    optimizer: optax.GradientTransformation | Callable,
    steps: int,
    hyperparams: Mapping[str, float] | None = None,
    batch_size: int | None = None,
    key: jax.Array | None = None,
    replace: bool = True,
    reduction: str = "mean",
    reference: PyTree | None = None,
    tol: float = 1e-6,
    record_every: int | None = None,
    chunk_records: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    sufficient_stats: bool | None = None,
    checkpoint: str | os.PathLike | None = None,
) -> FitResult:
    """Fits a model by minimising its negative log-likelihood (or log posterior) with optax.

    The objective is ``−mean_i log p(x_i | θ) − log p(θ)/n`` over the full data or a minibatch
    (``reduction="sum"``: ``−Σ_i log p(x_i | θ) − log p(θ)``, the source notebooks' scaling),
    minimised in unconstrained space; the run is one jitted ``lax.scan``.

    Args:
        model: a :class:`jaxmle.models.Model`, or a plain ``log_prob(params, data) -> (n,)``
            (then ``params0`` is optimised as given, without constraints or prior).
        params0: starting natural parameters (e.g. ``model.init(data)``).
        data: pytree of arrays sharing the leading axis ``n``.
        optimizer: an ``optax.GradientTransformation`` (e.g. ``optax.adam(1e-2)``,
            ``optax.lbfgs()``; one built anew with equal settings reuses the compiled
            program, other settings compile anew), or an optax factory such as
            ``optax.adam`` or ``optax.lbfgs`` with ``hyperparams``: numeric ones are traced
            through ``optax.inject_hyperparams``, so changing them never recompiles; integer
            settings whose default is an integer (``memory_size``) and non-numeric ones (a
            ``linesearch``) are bound as given (a new value compiles anew). A factory that
            branches on a numeric hyperparameter in Python is built from the given values.
        steps: number of optimiser steps.
        hyperparams: hyperparameters for a factory ``optimizer``.
        batch_size: rows per step; ``None`` for full batch.
        key: ``jax.random`` key for minibatch sampling (required with ``batch_size``).
        replace: minibatches drawn with replacement each step (the seed notebook's scheme);
            ``False`` draws reshuffled epochs without replacement (``n // batch_size`` steps
            per epoch; the remainder of each permutation is skipped).
        reduction: ``"mean"`` (default; learning rates independent of n) or ``"sum"``.
        reference: natural params to measure distance to (e.g. the closed form).
        tol: convergence tolerance: distance to ``reference`` when given, else gradient norm.
            ``converged`` and ``status`` judge the final state by it; ``steps_to_tol`` records
            when it first held.
        record_every: steps between trace records (default: at most 100 records).
        chunk_records: run this many records per compiled call (progress, partial results);
            chunking never changes results.
        progress: optional ``callback(steps_done, steps)`` called when each chunk has
            finished computing.
        sufficient_stats: evaluate the objective from summed per-row sufficient statistics
            (``Model.suff_stats``: Gaussian, multivariate Gaussian, Bernoulli, Poisson)
            instead of row by row; the same objective up to rounding, several times faster
            per minibatch row and O(1) per full-batch step. ``None`` (default) uses them
            when the model has them; ``False`` never; ``True`` requires them.
        checkpoint: a folder to save the run's state into after every chunk (default chunks:
            about a tenth of the run each). A later call with the same folder and settings
            resumes from the last saved chunk, bit-identically; one that finished returns
            its result at once. See :mod:`jaxmle._checkpoint`.

    Returns:
        A :class:`FitResult` in natural parameters.

    Raises:
        CheckpointMismatchError: ``checkpoint`` holds another study's state.
        InputError: on bad settings, data outside the model's support, ``params0`` outside its
            domain (``params0['variance'] = -1``) or non-finite, a plain ``log_prob`` that
            does not return shape ``(n,)``, or hyperparameters that do not fit the factory.

    Example:
        >>> import jax, jax.numpy as jnp, optax, jaxmle
        >>> jax.config.update("jax_enable_x64", True)
        >>> model = jaxmle.models.Gaussian(variance=1.0)
        >>> x = jnp.array([1.0, 2.0, 3.0, 6.0])
        >>> run = jaxmle.fit(model, model.init(x), x, optimizer=optax.sgd,
        ...                  hyperparams={"learning_rate": 0.5}, steps=100)
        >>> round(float(run.params["mean"]), 10)
        3.0
    """
    cfg, dyn, u0, key = _prepare(model, params0, data, optimizer, hyperparams, batch_size,
                                 replace, reduction, reference, tol, steps, key,
                                 sufficient_stats)  # fmt: skip
    k, n_full, tail = _record_plan(steps, record_every)
    _positive_or_none(chunk_records, "chunk_records")
    if chunk_records is None and checkpoint is not None:
        chunk_records = _chunks.default_chunk_records(n_full)
    plan = _chunks.chunk_plan(n_full, tail, k, chunk_records)
    ckpt = None
    if checkpoint is not None:
        settings = {"steps": steps, "record_every": k, "chunks": plan, "batch_size": batch_size,
                    "replace": replace, "reduction": reduction, "tol": float(tol),
                    "sufficient_stats": cfg.stats,
                    "optimizer": _ckpt.describe_digest((optimizer, hyperparams)),
                    "model": _ckpt.describe_digest(model),
                    "inputs": _ckpt.digest((data, params0, reference, key))}  # fmt: skip
        ckpt = _ckpt.Checkpointer(checkpoint, "fit", settings)
    state = _init_jit(_init_cfg(cfg), dyn, u0, key)

    def run_chunk(state, done, shape):
        return _run_jit(cfg, dyn, state, jnp.asarray(done, jnp.int32), *shape)

    try:
        state, trace = _chunks.run_chunks(
            run_chunk, state, plan, steps_per_unit=1, progress=progress, ckpt=ckpt,
            unit="current", trace_like=lambda: _run_jit.lower(
                cfg, dyn, state, jnp.asarray(0, jnp.int32), *plan[0]).out_info[1],
        )  # fmt: skip
    finally:
        if ckpt is not None:
            ckpt.close()
    # The trace only passes through the summary: kept out of it, a new record count (a new
    # ``steps``) recompiles the run's program alone, and the trace is not copied.
    res = _finish_jit(_finish_cfg(cfg), dyn, state, None, dyn.batch_size)
    return res._replace(trace=trace)
