"""Monte Carlo studies of an estimator's sampling distribution, as one compiled program.

:func:`montecarlo` simulates R datasets at known true parameters (for a regression, new
responses for a fixed design), estimates on each (closed form, an optax optimiser, or any
function), computes the chosen covariance estimates and Wald intervals per replicate, and
reports bias, empirical covariance and interval coverage next to theory, each with its Monte
Carlo standard error. Replicates are ``jax.lax.map`` over vmapped blocks of split keys: one
jitted program whatever R is, with memory bounded by the block size.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from . import _checkpoint as _ckpt
from . import _xla
from ._errors import InputError
from ._gaussian_models import Gaussian, MultivariateGaussian
from ._inference import (
    COV_TYPES,
    _Cfg,
    _check_cov_type,
    _check_int,
    _check_level,
    _check_model,
    _check_symmetric,
    _default_use_t,
    _expected_info,
    _has_expected,
    _hc_family,
    _inv_pd,
    _packer,
    _summary_kernel,
    _sym_keys,
    _warn_prior,
)
from ._mle import mle
from ._models import Bernoulli, LinearRegression, LogisticRegression, Model, Poisson
from ._montecarlo_result import MonteCarloResult
from ._status import Status
from ._validation import as_array, check_positive

__all__ = ["MonteCarloResult", "montecarlo"]

PyTree = Any
_BUILTIN = (Gaussian, MultivariateGaussian, LinearRegression, Bernoulli, Poisson,
            LogisticRegression)  # fmt: skip


# --------------------------------------------------------------------------------------------
# Simulators and estimators (traced).


def _simulate_builtin(model: Model, design: Mapping[str, jax.Array], n: int, key, params):
    """One dataset from a built-in model at ``params`` (fixed design for regressions)."""
    dt = jnp.result_type(float)
    if isinstance(model, Gaussian):
        var = params["variance"] if model.variance is None else model.variance
        return params["mean"] + jnp.sqrt(var) * jax.random.normal(key, (n,), dt)
    if isinstance(model, MultivariateGaussian):
        cov = params["cov"] if model.cov is None else jnp.asarray(model.cov, dt)
        L = jnp.linalg.cholesky(cov)
        z = jax.random.normal(key, (n, cov.shape[0]), dt)
        return params["mean"] + z @ L.T
    if isinstance(model, Bernoulli):
        return (jax.random.uniform(key, (n,), dt) < params["prob"]).astype(dt)
    if isinstance(model, Poisson):
        return jax.random.poisson(key, params["rate"], (n,)).astype(dt)
    X = design["X"]
    eta = jnp.matmul(X, params["coef"], precision=jax.lax.Precision.HIGHEST)
    if model.intercept:
        eta = eta + params["intercept"]
    if isinstance(model, LogisticRegression):
        y = (jax.random.uniform(key, (n,), dt) < jax.nn.sigmoid(eta)).astype(dt)
        return {"X": X, "y": y}
    var = params["variance"] if model.noise_variance is None else model.noise_variance
    w = design.get("weight")
    sd = jnp.sqrt(var if w is None else var / w)
    data = {"X": X, "y": eta + sd * jax.random.normal(key, (n,), dt)}
    if w is not None:
        data["weight"] = w
    return data


def _optimise(model, log_prob, opt: optax.GradientTransformation, steps: int, init, data):
    """Full-batch optax run in unconstrained space (``steps`` updates, one ``lax.scan``)."""
    if isinstance(model, Model):
        to_nat, u0 = model.to_natural, model.to_unconstrained(init)
        log_prior = model.log_prior
    else:
        u0 = init

        def to_nat(u):
            return u

        def log_prior(p):
            return 0.0

    n = jax.tree_util.tree_leaves(data)[0].shape[0]

    def loss(u):
        p = to_nat(u)
        return -(jnp.sum(log_prob(p, data)) + log_prior(p)) / n

    opt = optax.with_extra_args_support(opt)

    def step(carry, _):
        u, state = carry
        value, g = jax.value_and_grad(loss)(u)
        upd, state = opt.update(g, state, u, value=value, grad=g, value_fn=loss)
        return (optax.apply_updates(u, upd), state), None

    (u, _), _ = jax.lax.scan(step, (u0, opt.init(u0)), None, length=steps)
    return to_nat(u)


class _MCCfg(NamedTuple):
    n: int
    steps: int
    cov_types: tuple[str, ...]
    level: float
    use_t: tuple[bool, ...]
    symmetric: tuple[str, ...]
    batch_size: int
    theory: bool


@partial(_xla.jit, static_argnames=("fn", "simulate", "estimator", "cfg"))
def _mc_run(model, truth, keys, design, init, fn, simulate, estimator, cfg: _MCCfg,
            sim_tree=None):  # fmt: skip
    # ``sim_tree``: a ``jax.tree_util.Partial`` simulator, passed as data (its function is
    # part of the pytree's structure, its bound arrays are leaves), so that studies differing
    # only in those arrays share one program.
    m = model if fn is None else fn
    log_prob = m.log_prob if isinstance(m, Model) else m
    sym = _sym_keys(m, cfg.symmetric)

    def sim(key):
        if sim_tree is not None:
            return sim_tree(key, truth)
        if simulate is not None:
            return simulate(key, truth)
        return _simulate_builtin(m, design, cfg.n, key, truth)

    def one(key):
        data = sim(key)
        fit_status = None
        if estimator == "closed_form":
            est = m._closed_form_kernel(data)
        elif estimator == "mle":  # the converged one-call estimator, traced: status per replicate
            res = mle(m, data, init)
            est, fit_status = res.params, res.status
        elif isinstance(estimator, optax.GradientTransformation):
            est = _optimise(m, log_prob, estimator, cfg.steps, init, data)
        else:
            est = estimator(data)
        out = {"estimate": _packer(est, sym).vec}
        if fit_status is not None:
            out["fit_status"] = fit_status
        for ct, use_t in zip(cfg.cov_types, cfg.use_t, strict=True):
            scfg, hc = _hc_family(_Cfg(ct, cfg.level, use_t, True, None, cfg.symmetric))
            s = _summary_kernel(model, est, data, fn, scfg, hc)
            out[ct] = {"stderr": s.stderr, "ci_low": s.ci_low, "ci_high": s.ci_high,
                       "status": s.status, "cov": s.cov}  # fmt: skip
        return out

    # Blocks of equal size (keys padded up to a multiple, the extras dropped): a ragged last
    # block would compile the body a second time.
    r = keys.shape[0]
    b = cfg.batch_size
    if b >= r:
        out = jax.vmap(one)(keys)
    else:
        blocks = -(-r // b)
        pad = jnp.concatenate([keys, keys[: blocks * b - r]]) if blocks * b > r else keys
        out = jax.lax.map(jax.vmap(one), pad.reshape(blocks, b, *keys.shape[1:]))
        out = jax.tree_util.tree_map(lambda x: x.reshape(blocks * b, *x.shape[2:])[:r], out)
    theory = None
    if cfg.theory:
        pk = _packer(truth, sym)
        theory, _, _ = _inv_pd(_expected_info(m, pk, sim(keys[0]), True))
    return out, theory


# --------------------------------------------------------------------------------------------
# Replicates in chunks: checkpointed, shared out among processes.

_CHUNKS = 10  # chunks per checkpointed study


def _run_replicates(run, keys, batch_size: int, ckpt):
    """All replicates' outputs (host arrays) and the theory matrix.

    Without a checkpoint or other processes: one call of the whole program. Otherwise the
    keys are cut into equal chunks of whole blocks (the last padded with repeated keys, so
    one program serves all); the chunks not in the checkpoint are dealt out round-robin to
    the processes, computed, gathered, and written by process 0. A replicate's numbers
    depend only on its key and the block width, so any split gives the same bits (tested).
    """
    r = keys.shape[0]
    if ckpt is None and jax.process_count() == 1:
        out, theory = run(keys)
        return _host(out), None if theory is None else np.asarray(theory)
    blocks = -(-r // batch_size)
    # At least two blocks per chunk: XLA compiles a one-trip loop like a plain vmap, whose
    # rounding differs from the loop body's; one chunk is the whole, unpadded, call.
    size = max(2, -(-blocks // _CHUNKS)) * batch_size
    n_chunks = -(-r // size)
    if n_chunks == 1:
        size = r
    saved = {i: ckpt.read(f"chunk-{i}") for i in range(n_chunks)} if ckpt else {}
    todo = [i for i in range(n_chunks) if saved.get(i) is None]
    pieces = {i: _ckpt.unpack_tree(a, h["spec"], "out") for i, (h, a) in
              ((i, v) for i, v in saved.items() if v is not None)}  # fmt: skip
    theory = saved[0][1].get("theory") if saved.get(0) is not None else None
    procs, me = jax.process_count(), jax.process_index()
    for start in range(0, len(todo), procs):
        round_ = todo[start : start + procs]
        mine = round_[me] if me < len(round_) else round_[0]  # idle processes redo one
        ks = keys[mine * size : (mine + 1) * size]
        if ks.shape[0] < size:
            ks = jnp.concatenate([ks, keys[: size - ks.shape[0]]])
        out, th = run(ks)
        # Every process's chunk (and theory matrix, which only chunk 0's counts): (procs, ...).
        gathered, ths = _gather_processes((_host(out), np.asarray(np.nan if th is None else th)))
        for p, i in enumerate(round_):
            piece = jax.tree_util.tree_map(lambda x, p=p, i=i: x[p][: r - i * size], gathered)
            pieces[i] = piece
            if i == 0 and th is not None:
                theory = ths[p]
            if ckpt is not None:
                arrays, spec = _ckpt.pack_tree(piece, "out")
                if i == 0 and theory is not None:
                    arrays["theory"] = theory
                ckpt.write(f"chunk-{i}", arrays, {"spec": spec})
    out = jax.tree_util.tree_map(lambda *xs: np.concatenate(xs), *(pieces[i] for i in
                                                                   range(n_chunks)))  # fmt: skip
    return out, theory


def _host(tree):
    return jax.tree_util.tree_map(np.asarray, tree)


def _gather_processes(tree):
    """Each process's copy stacked along a new leading axis (one process: a length-1 axis)."""
    if jax.process_count() == 1:
        return jax.tree_util.tree_map(lambda x: x[None], tree)
    from jax.experimental import multihost_utils

    return jax.tree_util.tree_map(np.asarray, multihost_utils.process_allgather(tree))


# --------------------------------------------------------------------------------------------
# Public entry point.


_DOMAINS = {"positive": "positive", "unit_interval": "in (0, 1)",
            "simplex": "on the simplex (non-negative, summing to 1)",
            "positive_definite": "a symmetric positive-definite matrix"}  # fmt: skip


def _in_domain(name: str, x: np.ndarray) -> bool:
    if name == "positive":
        return bool(np.all(x > 0))
    if name == "unit_interval":
        return bool(np.all((x > 0) & (x < 1)))
    if name == "simplex":
        return bool(np.all(x >= 0) and np.allclose(np.sum(x, axis=-1), 1.0))
    if name == "positive_definite":
        if x.ndim != 2 or x.shape[0] != x.shape[1] or not np.allclose(x, x.T):
            return False
        try:
            np.linalg.cholesky(x)
        except np.linalg.LinAlgError:
            return False
    return True


def _check_truth(model: Model, truth: PyTree, design: dict, n: int, key: jax.Array) -> None:
    """True parameters of a built-in simulator: in their domains, shaped as the model needs."""
    for k, c in model.constraints.items():
        if not _in_domain(c.name, np.asarray(truth[k])):
            raise InputError(
                f"`true_params['{k}']` must be {_DOMAINS.get(c.name, c.name)} for "
                f"{type(model).__name__}; got {np.asarray(truth[k])!r}."
            )
    try:  # shapes only: tracing, no compilation
        data = jax.eval_shape(partial(_simulate_builtin, model, design, n), key, truth)
        want = jax.eval_shape(model.init, data)
    except (TypeError, ValueError) as err:
        raise InputError(f"`true_params` do not fit {type(model).__name__}: {err}") from err
    for k, v in want.items():
        if np.shape(truth[k]) != v.shape:
            raise InputError(
                f"`true_params['{k}']` has shape {np.shape(truth[k])} but "
                f"{type(model).__name__} needs {v.shape} here."
            )


def _is_key(key: Any) -> bool:
    if not isinstance(key, jax.Array):
        return False
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        return key.shape == ()
    return key.dtype == jnp.uint32 and key.shape == (2,)


def montecarlo(
    model: Model | Callable,
    true_params: PyTree,
    *,
    key: jax.Array,
    reps: int,
    n: int | None = None,
    X: Any = None,
    weight: Any = None,
    simulate: Callable[[jax.Array, PyTree], PyTree] | None = None,
    estimator: str | optax.GradientTransformation | Callable[[PyTree], PyTree] = "closed_form",
    steps: int = 100,
    init: PyTree | None = None,
    target: PyTree | None = None,
    cov_types: Sequence[str] = ("hessian",),
    level: float = 0.95,
    use_t: bool | None = None,
    theory: str | Any | None = "expected",
    symmetric: Sequence[str] = (),
    batch_size: int | None = None,
    checkpoint: str | os.PathLike | None = None,
) -> MonteCarloResult:
    """Sampling distribution of an estimator: bias, covariance and Wald coverage by simulation.

    Simulates ``reps`` datasets at ``true_params``, estimates on each and computes, per
    covariance type, standard errors and Wald intervals at ``level``; all replicates run in
    one jitted program (``jax.lax.map`` over vmapped blocks of keys split once from ``key``).

    Args:
        model: a :class:`jaxmle.models.Model`, or a plain ``log_prob(params, data) -> (n,)``
            (then ``simulate`` and a non-closed-form ``estimator`` are required).
        true_params: the true natural parameters the data are simulated at.
        key: ``jax.random`` key; the same key gives the same study.
        reps: number of replicates R (>= 2).
        n: observations per dataset, for the built-in simulators of Gaussian, Multivariate
            Gaussian, Bernoulli and Poisson.
        X: ``(n, d)`` fixed design for LinearRegression and LogisticRegression (each replicate
            draws new responses for the same X, as in seed 002's fixed-X claims).
        weight: optional ``(n,)`` weights of a LinearRegression design (noise σ²/w_i).
        simulate: ``simulate(key, params) -> data``, used instead of the built-in simulators
            (e.g. a heteroscedastic or misspecified data-generating process). Pass a function
            defined once (module level), not a new lambda per call, or every call recompiles;
            bind arrays with ``jax.tree_util.Partial(f, *arrays)``: they are then data, and
            studies that differ only in them (e.g. the noise pattern) share one program.
        estimator: ``"closed_form"`` (the model's exact estimator, default), ``"mle"``
            (:func:`jaxmle.mle` from ``init``, traced; replicates that do not converge are
            left out with a warning), an
            ``optax.GradientTransformation`` run full batch for ``steps`` updates from ``init``,
            or any traceable ``estimator(data) -> params``. Prefer optimisers whose inner
            loops are bounded: ``optax.lbfgs()``'s default zoom line search was seen to never
            return on some blocks of vmapped replicates (optax 0.2.8), while
            ``optax.lbfgs(linesearch=optax.scale_by_backtracking_linesearch(
            max_backtracking_steps=15, store_grad=True))`` ran fine.
        steps: optimiser steps when ``estimator`` is an optax transformation.
        init: optimiser start (natural parameters); default the truth, so the study measures
            the estimator rather than the optimiser's basin of attraction.
        target: what the estimates are compared with when ``estimator`` returns something
            other than the model's params (e.g. ``{"mle": σ², "unbiased": σ²}``); then
            ``cov_types`` must be empty.
        cov_types: covariance types (:data:`jaxmle.inference.COV_TYPES`) whose Wald intervals
            are checked, e.g. ``("classical", "HC3")``; empty for none.
        level: confidence level of the intervals.
        use_t: Student's t intervals (None: as in :func:`jaxmle.inference.summary`).
        theory: ``"expected"`` (default): the inverse expected information at the truth, for
            the built-in models; a ``(k, k)`` matrix of your own; or None.
        symmetric: as in :func:`jaxmle.inference.summary`.
        batch_size: replicates vmapped at once (bounds memory); default: as many as keep a
            block near 2**22 simulated observations (with ``checkpoint``, at most a tenth of
            ``reps``). Results depend on it only through rounding.
        checkpoint: a folder to save the replicates into chunk by chunk (about a tenth of
            them each). A later call with the same folder and settings computes only the
            chunks not saved yet; the result is bit-identical to an uninterrupted run. With
            several processes (:mod:`jaxmle.distributed`) the chunks are shared out among
            them and gathered, and process 0 writes.

    Returns:
        A :class:`MonteCarloResult` (``print`` it for the table).

    Raises:
        InputError: on a missing or malformed argument (named in the message).
        CheckpointMismatchError: ``checkpoint`` holds another study's replicates.

    Example:
        >>> import jax, jax.numpy as jnp, jaxmle
        >>> jax.config.update("jax_enable_x64", True)
        >>> mc = jaxmle.montecarlo(jaxmle.models.Gaussian(), {"mean": 0.0, "variance": 1.0},
        ...                        key=jax.random.key(0), reps=2000, n=10)
        >>> bool(abs(mc.bias[1] + 0.1) < 4 * mc.bias_se[1])  # the MLE of σ² is biased by −σ²/n
        True
    """
    truth, cov_types, level = _check_inputs(model, true_params, key, reps, simulate, cov_types,
                                            level)  # fmt: skip
    design, n_static = _design(model, truth, n, X, weight, simulate, key)
    init_params, target = _check_estimator(model, estimator, steps, init, target, truth,
                                           cov_types)  # fmt: skip
    theory_matrix, want_theory = _theory(model, theory, target)
    if batch_size is None:
        # About 2**22 simulated numbers per block (tens of MB), all replicates when they fit;
        # with a checkpoint at most a tenth of them, so that there are chunks to save.
        batch_size = max(1, min(int(reps), (1 << 22) // max(n_static, 1)))
        if checkpoint is not None:
            batch_size = min(batch_size, max(1, math.ceil(reps / _CHUNKS)))
    _check_int(batch_size, "batch_size", 1)
    symmetric = _check_symmetric(symmetric)

    if cov_types:
        _warn_prior(model, True, stacklevel=2)
    use_ts = tuple(_default_use_t(model, ct, use_t) for ct in cov_types)
    cfg = _MCCfg(n_static, int(steps), cov_types, level, use_ts, symmetric,
                 int(min(batch_size, reps)), want_theory)  # fmt: skip
    keys = jax.random.split(key, int(reps))
    m, fn = (model, None) if isinstance(model, Model) else (None, model)
    tree = simulate if isinstance(simulate, jax.tree_util.Partial) else None
    run = partial(_mc_run, m, truth, design=design, init=init_params, fn=fn,
                  simulate=None if tree is not None else simulate, estimator=estimator,
                  cfg=cfg, sim_tree=tree)  # fmt: skip
    ckpt = None
    if checkpoint is not None:
        ckpt = _ckpt.Checkpointer(checkpoint, "montecarlo", {
            "reps": int(reps), "cfg": list(cfg), "model": _ckpt.describe_digest(model),
            "simulate": _ckpt.describe_digest(simulate),
            "estimator": _ckpt.describe_digest(estimator),
            "inputs": _ckpt.digest((truth, key, design, init_params, target))})  # fmt: skip
    try:
        out, theory_dev = _run_replicates(run, keys, cfg.batch_size, ckpt)
    finally:
        if ckpt is not None:
            ckpt.close()
    return _summarise(
        model, truth, target, symmetric, out, theory_dev, theory_matrix, cov_types, level, int(reps)
    )


def _check_inputs(model, true_params, key, reps, simulate, cov_types, level):
    """Validates the model, key, replicate count, covariance types and truth."""
    _check_model(model)
    if not _is_key(key):
        raise InputError(
            "`key` must be a jax.random key, e.g. jax.random.key(0) (keys are explicit: the "
            f"same key gives the same study); got {type(key).__name__}."
        )
    _check_int(reps, "reps", 2)
    if simulate is not None and not callable(simulate):
        raise InputError("`simulate` must be a function simulate(key, params) -> data.")
    if not isinstance(cov_types, list | tuple) or any(ct not in COV_TYPES for ct in cov_types):
        raise InputError(f"`cov_types` must be a list drawn from {COV_TYPES}; got {cov_types!r}.")
    cov_types = tuple(dict.fromkeys(cov_types))
    for ct in cov_types:
        _check_cov_type(model, ct)
    level = _check_level(level)
    dt = jnp.result_type(float)
    try:
        truth = jax.tree_util.tree_map(lambda x: jnp.asarray(x, dt), true_params)
    except (TypeError, ValueError) as err:
        raise InputError(f"`true_params` must be a pytree of numbers: {err}") from err
    if not all(np.all(np.isfinite(np.asarray(x))) for x in jax.tree_util.tree_leaves(truth)):
        raise InputError("`true_params` has non-finite values.")
    if isinstance(model, Model) and (
        not isinstance(truth, Mapping) or set(truth) != set(model.param_names)
    ):
        got = sorted(truth) if isinstance(truth, Mapping) else type(truth).__name__
        raise InputError(
            f"`true_params` must be a dict with keys {list(model.param_names)} for "
            f"{type(model).__name__}; got {got}."
        )
    return truth, cov_types, level


def _design(model, truth, n, X, weight, simulate, key):
    """The built-in simulator's fixed design and row count (checked)."""
    design: dict = {}
    n_static = 0
    if simulate is None:
        if not isinstance(model, _BUILTIN):
            raise InputError(
                "`simulate` is required: pass simulate(key, params) -> data (there is no "
                f"built-in simulator for {getattr(model, '__name__', type(model).__name__)})."
            )
        if isinstance(model, LinearRegression | LogisticRegression):
            if X is None:
                raise InputError(
                    f"`X` is required: {type(model).__name__} simulates new responses for a "
                    "fixed (n, d) design X."
                )
            Xa = as_array(X, "X", ndim=2)
            d = np.shape(truth["coef"])
            if d != (Xa.shape[1],):
                raise InputError(
                    f"`X` has {Xa.shape[1]} columns but true_params['coef'] has shape {d}."
                )
            design["X"] = Xa
            n_static = Xa.shape[0]
            if weight is not None:
                if not isinstance(model, LinearRegression):
                    raise InputError("`weight` applies to LinearRegression designs only.")
                w = as_array(weight, "weight", ndim=1)
                check_positive(w, "weight", what="observation weight")
                if w.shape[0] != n_static:
                    raise InputError(f"`weight` has {w.shape[0]} rows but `X` has {n_static}.")
                design["weight"] = w
        else:
            if not isinstance(n, int | np.integer) or isinstance(n, bool) or n < 1:
                raise InputError(
                    f"`n` (observations per simulated dataset) must be a positive integer for "
                    f"{type(model).__name__}; got {n!r}."
                )
            n_static = int(n)
        _check_truth(model, truth, design, n_static, key)
    return design, n_static


def _check_estimator(model, estimator, steps, init, target, truth, cov_types):
    """Checks the estimator; the optimiser start and the comparison target."""
    dt = jnp.result_type(float)
    if isinstance(estimator, str):
        if estimator not in ("closed_form", "mle"):
            raise InputError(
                f"`estimator` must be 'closed_form', 'mle', an optax GradientTransformation or "
                f"a function estimator(data) -> params; got {estimator!r}."
            )
        if estimator == "closed_form" and (not isinstance(model, Model)
                                           or not model.has_closed_form):  # fmt: skip
            raise InputError(
                "`estimator`: this model has no closed form; pass an optax transformation "
                "(e.g. estimator=optax.lbfgs(), steps=50) or a function estimator(data) -> params."
            )
    elif isinstance(estimator, optax.GradientTransformation):
        _check_int(steps, "steps", 1)
    elif not callable(estimator):
        raise InputError(
            "`estimator` must be 'closed_form', an optax GradientTransformation or a function "
            f"estimator(data) -> params; got {type(estimator).__name__}."
        )
    init_params = truth if init is None else jax.tree_util.tree_map(
        lambda x: jnp.asarray(x, dt), init)  # fmt: skip

    if target is not None:
        if cov_types:
            raise InputError(
                "`target` replaces the model's parameters as what the estimates are compared "
                "with, so no Wald intervals can be formed: pass cov_types=()."
            )
        target = jax.tree_util.tree_map(lambda x: jnp.asarray(x, dt), target)
    return init_params, target


def _theory(model, theory, target):
    """The theoretical covariance asked for: a matrix, the expected information, or none."""
    theory_matrix = None
    want_theory = False
    if isinstance(theory, str):
        if theory != "expected":
            raise InputError(
                f"`theory` must be 'expected', a (k, k) matrix or None; got {theory!r}."
            )
        want_theory = target is None and _has_expected(model)
    elif theory is not None:
        theory_matrix = as_array(theory, "theory", ndim=2)
    return theory_matrix, want_theory


def _summarise(
    model, truth, target, symmetric, out, theory_dev, theory_matrix, cov_types, level, reps
) -> MonteCarloResult:
    """Bias, covariance and coverage over the replicates with usable estimates."""
    pk = _packer(truth if target is None else target, _sym_keys(model, tuple(symmetric)))
    truth_vec = np.asarray(pk.vec, dtype=float)
    k = truth_vec.shape[0]
    est = np.asarray(out["estimate"], dtype=float)
    if est.shape[1] != k:
        raise InputError(
            f"the estimator returns {est.shape[1]} numbers per replicate but the target has {k}; "
            "pass `target` with the estimator's output structure."
        )
    if theory_matrix is not None and theory_matrix.shape != (k, k):
        raise InputError(f"`theory` must be ({k}, {k}) (labels {pk.labels}); got "
                         f"{theory_matrix.shape}.")  # fmt: skip
    valid, n_valid = _usable(est, out, reps)
    E = est[valid]
    rv = max(n_valid, 2)
    mean = E.mean(axis=0)
    D = E - mean
    sd = E.std(axis=0, ddof=1)
    U = D[:, :, None] * D[:, None, :]
    cov_emp = U.sum(axis=0) / (rv - 1)
    cov_emp_se = U.std(axis=0, ddof=1) / math.sqrt(rv)
    with np.errstate(divide="ignore", invalid="ignore"):
        sd_se = np.diagonal(cov_emp_se) / (2.0 * sd)
    if theory_matrix is not None:
        cov_theory = np.asarray(theory_matrix, dtype=float)
    elif theory_dev is not None:
        cov_theory = np.asarray(theory_dev, dtype=float)
    else:
        cov_theory = np.full((k, k), np.nan)

    se_mean, cov_mean, coverage, coverage_se, failed = _coverage(out, valid, truth_vec, cov_types)
    name = type(model).__name__ if isinstance(model, Model) else getattr(model, "__name__", "model")
    return MonteCarloResult(
        truth=truth_vec, estimates=est, mean=mean, bias=mean - truth_vec,
        bias_se=sd / math.sqrt(rv), sd=sd, sd_se=sd_se, cov_empirical=cov_emp,
        cov_empirical_se=cov_emp_se, cov_theory=cov_theory, stderr_mean=se_mean,
        cov_mean=cov_mean, coverage=coverage, coverage_se=coverage_se, failed=failed,
        n_valid=n_valid, labels=pk.labels, cov_types=cov_types, level=level, reps=int(reps),
        model_name=name,
    )  # fmt: skip


def _usable(est, out, reps):
    """Replicates with finite estimates (and a converged MLE, when there is a status)."""
    valid = np.all(np.isfinite(est), axis=1)
    if "fit_status" in out:
        # A replicate whose MLE did not converge is not an estimate: left out, and counted.
        ok = np.asarray(out["fit_status"]) == 0
        if not ok.all():
            warnings.warn(
                f"{int((~ok).sum())} of {reps} replicates' jaxmle.mle did not converge (first "
                f"status: {Status(int(np.asarray(out['fit_status'])[~ok][0])).name}); they are "
                "left out.",
                RuntimeWarning,
                stacklevel=4,
            )
        valid &= ok
    n_valid = int(valid.sum())
    if n_valid < reps:
        warnings.warn(
            f"{reps - n_valid} of {reps} replicates gave non-finite estimates and are left out.",
            RuntimeWarning,
            stacklevel=4,
        )
    return valid, n_valid


def _coverage(out, valid, truth_vec, cov_types):
    """Per covariance type: mean standard error and covariance, Wald coverage, failures."""
    k = truth_vec.shape[0]
    se_mean, cov_mean, coverage, coverage_se, failed = {}, {}, {}, {}, {}
    for ct in cov_types:
        o = {f: np.asarray(v) for f, v in out[ct].items()}
        ok = valid & (o["status"] == 0)
        failed[ct] = int(np.sum(valid & (o["status"] != 0)))
        m_ok = max(int(ok.sum()), 1)
        covered = (o["ci_low"][ok] <= truth_vec) & (truth_vec <= o["ci_high"][ok])
        c = covered.mean(axis=0) if ok.any() else np.full(k, np.nan)
        coverage[ct] = c
        coverage_se[ct] = np.sqrt(c * (1.0 - c) / m_ok)
        se_mean[ct] = o["stderr"][ok].mean(axis=0) if ok.any() else np.full(k, np.nan)
        cov_mean[ct] = o["cov"][ok].mean(axis=0) if ok.any() else np.full((k, k), np.nan)
    if failed and any(failed.values()):
        warnings.warn(
            f"the covariance failed (status != 0) in {failed} replicates; they are left out of "
            "the coverage and mean standard errors.",
            RuntimeWarning,
            stacklevel=4,
        )
    return se_mean, cov_mean, coverage, coverage_se, failed
