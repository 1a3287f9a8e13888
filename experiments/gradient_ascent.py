"""Gaussian mean by gradient ascent (notebook 003, Tasks 1-3): step sizes, optimisers, minibatches.

Notebook 003 (Praxis) draws n = 10,000 points from N((1, 1), 5·I) and estimates μ (Σ known) by
gradient ascent on the log-likelihood from μ0 = (0, 0):

- Task 1: plain gradient ascent μ ← μ + λ ∇L(μ) on the *summed* log-likelihood L, as in the
  notebook (and on the mean, where λ_mean = n·λ_sum); how does λ affect convergence? A
  learning-rate sweep (one ``jaxmle.sweep``): which rates converge, how fast, which diverge.
- Task 2: better updates (SGD, momentum, Nesterov, RMSProp, Adagrad, Adam, L-BFGS): their
  paths over the log-likelihood heat map on [−5, 5]², steps to tolerance, and why they differ.
- Task 3: stochastic gradients on random subsets of size k ∈ {1, 5, 10, 100, 1000, 10000}
  × learning rates × seeds as one ``jaxmle.sweep``: error to the closed-form MLE, steps and
  samples to tolerance, and the log-likelihood surfaces of subsets next to the full data's.

Everything is measured against the closed-form MLE (the sample mean). Run:
``python experiments/gradient_ascent.py`` (about a minute; ``--quick``: seconds).
"""

from __future__ import annotations

import functools
import math
import warnings
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxmle
from jaxmle.models import MultivariateGaussian
from jaxmle.report import Option, OptionError, Report, fmt, script_main

ORDER = 5
OPTIONS = [
    Option("n", int, 10_000, "number of points (notebook: 10,000)"),
    Option("tasks", str, "1,2,3", "which of the notebook's tasks to run, e.g. 1,3 (default: all)"),
    Option("steps", int, None, "Task 3 steps per run (default 3000; quick 300)"),
    Option("seeds", int, None, "Task 3 seeds per grid cell (default 4; quick 2)"),
    Option("tol", float, 0.01, "Task 3 tolerance on ‖μ − μ_MLE‖ (default 0.01, half the MLE's SE)"),
]

# Optimiser factories, defined once: sweeps compile one program per factory and reuse it.
MOMENTUM = functools.partial(optax.sgd, momentum=0.9)
NESTEROV = functools.partial(optax.sgd, momentum=0.9, nesterov=True)
OPTIMISERS = {"SGD": optax.sgd, "momentum 0.9": MOMENTUM, "Nesterov 0.9": NESTEROV,
              "RMSProp": optax.rmsprop, "Adagrad": optax.adagrad, "Adam": optax.adam}  # fmt: skip
LBFGS = optax.lbfgs(linesearch=optax.scale_by_backtracking_linesearch(max_backtracking_steps=30))
VAR = 5.0  # the notebook's Σ = 5·I


def _tasks(tasks: str) -> list[int]:
    """The tasks ``--tasks`` lists (``"1,3"`` -> ``[1, 3]``)."""
    try:
        todo = sorted({int(t) for t in tasks.split(",") if t.strip()})
    except ValueError:
        todo = []
    if not todo or set(todo) - {1, 2, 3}:
        raise OptionError("tasks", tasks, "some of 1,2,3 separated by commas, e.g. 1,3")
    return todo


def check_options(n: int = 10_000, tasks: str = "1,2,3", steps: int | None = None,
                  seeds: int | None = None, tol: float = 0.01) -> None:  # fmt: skip
    _tasks(tasks)
    if n < 1000:
        raise OptionError("n", n, "an integer >= 1000 (Task 3 uses subsets up to 1000)")
    if not 0 < tol < float("inf"):
        raise OptionError("tol", tol, "a finite number > 0")
    if steps is not None and steps < 10:
        raise OptionError("steps", steps, "an integer >= 10")
    if seeds is not None and seeds < 1:
        raise OptionError("seeds", seeds, "an integer >= 1")


class Problem(NamedTuple):
    """The notebook's data and what every task measures against."""

    model: Any
    x: jax.Array
    exact: dict
    mle: np.ndarray  # the closed-form MLE (sample mean)
    mu0: dict  # the start, μ0 = (0, 0)


def run(ctx, n: int = 10_000, tasks: str = "1,2,3", steps: int | None = None,
        seeds: int | None = None, tol: float = 0.01) -> dict:  # fmt: skip
    check_options(n, tasks, steps, seeds, tol)
    todo = _tasks(tasks)
    steps = steps if steps is not None else (300 if ctx.quick else 3000)
    seeds = seeds if seeds is not None else (2 if ctx.quick else 4)
    rep = Report(ctx, "The Gaussian mean by gradient ascent: learning rates, optimisers, "
                 "minibatches", source="notebook 003, Praxis Tasks 1-3",
                 question="Estimate μ of N(μ, 5·I) from n = 10,000 points by gradient ascent "
                 "from μ0 = (0, 0). Task 1: how does the learning rate λ affect convergence? "
                 "Task 2: how and why do better optimisers (momentum, Nesterov, RMSProp, "
                 "Adagrad, Adam, L-BFGS) differ? Task 3: optimising on random subsets of size "
                 "k, how does k affect convergence, and what do the log-likelihood surfaces of "
                 "subsets show?")  # fmt: skip
    prob = problem(ctx, n)
    rep.text(data_sentence(prob, ctx.seed))
    results: dict = {"mle": prob.mle, "n": n}
    surface = None
    if 1 in todo or 2 in todo:
        ctx.log("log-likelihood surface on [-5, 5]^2")
        surface = _surface(prob.model, prob.x, check=True)
    if 1 in todo:
        results["task1"] = task1(ctx, rep, prob, surface)
    if 2 in todo:
        results["task2"] = task2(ctx, rep, prob, surface)
    if 3 in todo:
        results["task3"] = task3(ctx, rep, prob, steps, seeds, tol)
    rep.write(results, {"n": n, "tasks": tasks, "steps": steps, "seeds": seeds, "tol": tol})
    return results


def problem(ctx, n: int) -> Problem:
    """The notebook's data: n points from N((1, 1), 5·I) (key ``ctx.key(1)``), its MLE."""
    dt = jnp.result_type(float)
    cov = VAR * jnp.eye(2, dtype=dt)
    model = MultivariateGaussian(cov=cov)
    x = jax.jit(lambda k: jax.random.multivariate_normal(k, jnp.ones(2, dt), cov, (n,)))(ctx.key(1))
    exact = model.closed_form(x)
    return Problem(model, x, exact, np.asarray(exact["mean"]), {"mean": jnp.zeros(2, dt)})


def data_sentence(prob: Problem, seed: int) -> str:
    n = prob.x.shape[0]
    return (f"Data: n = {n} points from N((1, 1), 5·I) (seed {seed}). Closed-form MLE "
            f"(sample mean) μ̂ = {fmt(prob.mle, 8)}; its standard error is sqrt(5/n) = "
            f"{math.sqrt(VAR / n):.4f} per coordinate. Start μ0 = (0, 0), at distance "
            f"{float(np.linalg.norm(prob.mle)):.4f} from μ̂.")  # fmt: skip


def _loglik_max(model, data) -> float:
    """L(x̄) = Σ_i log N(x_i | x̄, Σ), the maximum of the log-likelihood (numpy)."""
    x = np.asarray(data, np.float64)
    cov = np.asarray(model.cov, np.float64)
    dev = x - x.mean(axis=0)
    return float(-x.shape[0] * (np.log(2 * np.pi) + 0.5 * np.log(np.linalg.det(cov)))
                 - 0.5 * np.einsum("ij,jk,ik->", dev, np.linalg.inv(cov), dev))  # fmt: skip


def _surface(model, data, resolution=100, check=False, lim=(-5.0, 5.0)):
    """log L(μ) on lim² via the exact identity L(μ) = L(x̄) − (n/2)(μ − x̄)ᵀΣ⁻¹(μ − x̄).

    Summing n log-densities at each of the 10⁴ grid points costs 10⁸ evaluations; the
    identity (exact for a Gaussian with known Σ) needs the sufficient statistics only
    (numpy, no compilation per subset size). With ``check`` it is compared with the direct
    sum (``jaxmle.plot.loglik_fn``) at a few points.
    """
    x = np.asarray(data, np.float64)
    n = x.shape[0]
    xbar = x.mean(axis=0)
    prec = np.linalg.inv(np.asarray(model.cov, np.float64))  # 2 × 2 (notebook: sigma.inverse())
    top = _loglik_max(model, data)
    xs = ys = np.linspace(*lim, resolution)
    gx, gy = np.meshgrid(xs, ys)
    d = np.stack([gx - xbar[0], gy - xbar[1]], axis=-1)
    z = top - 0.5 * n * np.einsum("...i,ij,...j->...", d, prec, d)
    if check:
        from jaxmle import plot

        direct = jax.jit(lambda v, d: jax.vmap(plot.loglik_fn(model, d))(v))
        pts = np.asarray([[-4.0, 3.0], [0.0, 0.0], [2.5, -1.0]])
        want = np.asarray(direct(jnp.asarray(pts, data.dtype), data), np.float64)
        got = top - 0.5 * n * np.einsum("ki,ij,kj->k", pts - xbar, prec, pts - xbar)
        err = float(np.max(np.abs(got - want)) / abs(top))
        if err > 1e-4:  # pragma: no cover - would mean a wrong identity
            raise RuntimeError(f"surface identity mismatch {err:.2e}")
    return xs, ys, z


def _distances(trace_mean, mle):
    """‖μ_t − μ̂‖ along a trace, with the start (t = 0) prepended."""
    d = np.linalg.norm(np.asarray(trace_mean, np.float64) - mle, axis=-1)
    return np.concatenate([np.full((*d.shape[:-1], 1), np.linalg.norm(mle)), d], axis=-1)


def _with_start(trace_mean) -> np.ndarray:
    """A ``(..., T, 2)`` trace of μ with the start (0, 0) prepended: vertex t is after t steps."""
    tr = np.asarray(trace_mean, np.float64)
    return np.concatenate([np.zeros((*tr.shape[:-2], 1, 2)), tr], axis=-2)


def _join(values, word: str = "and") -> str:
    """``"a, b and c"`` (``"none"`` when empty)."""
    values = [str(v) for v in values]
    if not values:
        return "none"
    return values[0] if len(values) == 1 else f"{', '.join(values[:-1])} {word} {values[-1]}"


def _g(values) -> list[str]:
    return [f"{v:.3g}" for v in values]


# ------------------------------------------------------------------------------------------
# Task 1: plain gradient ascent on the summed log-likelihood.


class Task1Runs(NamedTuple):
    """The Task 1 sweep, as numpy arrays indexed by learning rate."""

    lrs: list[float]  # λ in the notebook's (summed) scaling
    crit: float  # 10/n: converges iff 0 < λ < crit
    steps: int
    tol: float
    dist: np.ndarray  # (lrs, steps + 1): ‖μ_t − μ̂‖ after t steps (t = 0: the start)
    paths: np.ndarray  # (lrs, steps + 1, 2): μ_t, from the start
    loss_step: np.ndarray  # (steps,): the step each recorded loss belongs to (trace.step)
    loss_gap: np.ndarray  # (lrs, steps): −L(μ) − (−L(μ̂)) of the recorded losses
    loss_floor: float  # float rounding of −L(μ̂): the smallest gap the losses can show
    diverged: np.ndarray  # (lrs,) the engine's flag: the loss overflowed and the run froze
    diverged_step: np.ndarray  # (lrs,) steps done when it froze (-1: never)
    converged: np.ndarray  # (lrs,) the final state is within the tolerance
    steps_to_tol: np.ndarray  # (lrs,) first step within it (-1: never)
    final: np.ndarray  # (lrs,) final ‖μ − μ̂‖
    mean_rel_diff: list  # per λ: the mean-scaled run vs the summed one (None: not run)


def task1(ctx, rep, prob: Problem, surface) -> dict:
    """Task 1: how does the learning rate λ affect plain gradient ascent?"""
    runs = task1_runs(ctx, prob)
    rows = task1_rows(runs, prob.x.shape[0])
    rep.section("Task 1: plain gradient ascent and the learning rate")
    rep.text(task1_answer(rows, runs.crit, runs.steps, ctx.quick))
    rep.table(rows, digits=4)
    zoom = _surface(prob.model, prob.x, 80, lim=task1_zoom(runs, rows))
    rep.figure("task1_curves", lambda: task1_curves_figure(runs, rows),
               "Task 1: distance to the MLE and loss per step, per λ (× where the run's loss "
               "overflowed and the engine flagged it diverged).")  # fmt: skip
    rep.figure("task1_paths", lambda: task1_paths_figure(runs, rows, prob.mle, surface, zoom),
               "Task 1: gradient-ascent paths over the log-likelihood: the converging and "
               "oscillating ones (left, zoomed) and the diverging one until it leaves the "
               "view (right).")  # fmt: skip
    rep.csv("task1_learning_rates", rows)
    div = [r["λ (sum)"] for r in rows if r["verdict"].startswith("diverges")]
    flagged = [r["λ (sum)"] for r in rows if r["diverged flag"]]
    return {"rows": {f"{r['λ (sum)']:.6g}": r for r in rows}, "critical_lr": runs.crit,
            "diverged_flagged": flagged, "diverging": div}  # fmt: skip


def task1_runs(ctx, prob: Problem) -> Task1Runs:
    """The learning-rate sweep on the summed log-likelihood (and, full runs, on the mean)."""
    model, x, exact, mle = prob.model, prob.x, prob.exact, prob.mle
    n = x.shape[0]
    # λ in the notebook's (summed) scaling. ∇L = (n/5)(x̄ − μ), so μ_t − μ̂ = (1 − λn/5)^t (μ0 − μ̂):
    # it converges iff 0 < λ < 10/n, in one step at λ = 5/n.
    crit = 2 * VAR / n
    lrs = [c * crit for c in (0.01, 0.1, 0.2, 0.5, 0.8, 1.0, 1.2, 2.0, 10.0)]
    steps, tol = 200, 1e-6
    ctx.log("Task 1: learning-rate sweep (summed and mean log-likelihood)")
    common = dict(steps=steps, key=ctx.key(11), reference=exact, tol=tol, record_every=1)
    study = jaxmle.sweep(model, prob.mu0, x, optimizer={"gradient ascent": optax.sgd},
                         grid={"learning_rate": lrs}, reduction="sum",
                         checkpoint=ctx.checkpoint("task1-sum"), **common)  # fmt: skip
    # The same ascent on the mean log-likelihood needs λ_mean = n·λ_sum (a second compiled
    # program, which only confirms an identity: skipped in quick mode).
    study_mean = (
        None
        if ctx.quick
        else jaxmle.sweep(
            model,
            prob.mu0,
            x,
            optimizer={"gradient ascent": optax.sgd},
            grid={"learning_rate": [lr * n for lr in lrs]},
            reduction="mean",
            checkpoint=ctx.checkpoint("task1-mean"),
            **common,
        )
    )
    loss = np.asarray(study.trace.loss[0], np.float64)
    top = _loglik_max(model, x)  # L(μ̂), numpy
    same = []
    for i in range(len(lrs)):
        # (in float64: a float32 path compared with 1e100 would cast 1e100 to float32: inf)
        p_sum = np.asarray(study.params["mean"][0, i], np.float64)
        finite = np.all(np.isfinite(p_sum)) and np.max(np.abs(p_sum)) < 1e100
        if study_mean is None or not finite:
            same.append(None)
            continue
        p_mean = np.asarray(study_mean.params["mean"][0, i], np.float64)
        # relative to the problem's scale (an oscillating run can end next to 0)
        scale = max(float(np.max(np.abs(p_sum))), float(np.max(np.abs(mle))))
        same.append(float(np.max(np.abs(p_sum - p_mean)) / scale))
    return Task1Runs(
        lrs=lrs, crit=crit, steps=steps, tol=tol,
        dist=_distances(study.trace.params["mean"][0], mle),
        paths=_with_start(study.trace.params["mean"][0]),
        loss_step=np.asarray(study.trace.step[0, 0]), loss_gap=loss + top,
        loss_floor=float(np.finfo(np.asarray(study.trace.loss).dtype).eps * abs(top)),
        diverged=np.asarray(study.diverged[0], bool),
        diverged_step=np.asarray(study.diverged_step[0], int),
        converged=np.asarray(study.converged[0], bool),
        steps_to_tol=np.asarray(study.steps_to_tol[0], int),
        final=np.asarray(study.distance[0], np.float64), mean_rel_diff=same,
    )  # fmt: skip


def _task1_verdict(runs: Task1Runs, i: int, measured: float) -> str:
    """What run ``i`` did, from its flags and distances (the table's 'verdict')."""
    d = runs.dist[i]
    if runs.diverged[i]:
        return f"diverges: overflow at step {int(runs.diverged_step[i])} (flagged)"
    if runs.converged[i]:
        return f"converges in {int(runs.steps_to_tol[i])} steps"
    if runs.steps_to_tol[i] >= 0:
        return (f"reaches the tolerance at step {int(runs.steps_to_tol[i])} but ends "
                f"{runs.final[i]:.3g} away")  # fmt: skip
    if runs.final[i] > d[0] * 1.01:
        return f"diverges: distance ×{measured:.3g} per step"
    if abs(measured - 1) < 1e-6:
        return "oscillates: never converges"
    return f"converging, too slowly for {runs.steps} steps"


def task1_rows(runs: Task1Runs, n: int) -> list[dict]:
    """One table row per λ: theory and measured per-step factor, flags, verdict."""
    rows = []
    for i, lr in enumerate(runs.lrs):
        d = runs.dist[i]
        ok = (d[:11] > 1e-12) & np.isfinite(d[:11])
        ratios = d[1:11][ok[1:]] / d[:10][ok[1:]] if ok[1:].any() else np.asarray([0.0])
        measured = float(np.median(ratios)) if ratios.size else 0.0
        reached = int(runs.steps_to_tol[i]) >= 0
        rows.append({"λ (sum)": lr, "λ·n/10 (λ/λ_crit)": lr / runs.crit, "λ_mean = n·λ": lr * n,
                     "|1 − λn/5| theory": abs(1 - lr * n / VAR), "measured factor": measured,
                     "steps to 1e-6": int(runs.steps_to_tol[i]) if reached else None,
                     "final ‖μ − μ̂‖": float(runs.final[i]),
                     "diverged flag": bool(runs.diverged[i]),
                     "overflow step": (int(runs.diverged_step[i]) if runs.diverged[i]
                                       else None),
                     "verdict": _task1_verdict(runs, i, measured),
                     "mean-scaled run: rel. diff.": runs.mean_rel_diff[i]})  # fmt: skip
    return rows


def task1_answer(rows: list[dict], crit: float, steps: int, quick: bool = False) -> str:
    """Task 1's answer, every claim computed from the table's rows.

    Which rates converge, oscillate and diverge, whether that is what the theory predicts,
    how well the measured factor matches it, which divergences overflowed (flagged) and
    which stayed finite, and how the mean-scaled runs compare.
    """
    lam = [r["λ (sum)"] for r in rows]
    kind = {r["λ (sum)"]: r["verdict"].split(":")[0].split(" ")[0].strip(",") for r in rows}
    conv = [v for v in lam if kind[v] == "converges"]
    slow = [v for v in lam if kind[v] == "converging"]
    osc = [v for v in lam if kind[v] == "oscillates"]
    left = [v for v in lam if kind[v] == "reaches"]  # within the tolerance once, then not
    div = [v for v in lam if kind[v] == "diverges"]
    flagged = [r for r in rows if r["diverged flag"]]
    finite_div = [v for v in div if not any(r["λ (sum)"] == v for r in flagged)]
    # The theory: converging below crit, an oscillation at it, divergence above.
    as_theory = (all(v < crit * (1 - 1e-9) for v in conv + slow + left)
                 and all(abs(v / crit - 1) < 1e-9 for v in osc)
                 and all(v > crit * (1 + 1e-9) for v in div))  # fmt: skip
    best = min((r for r in rows if r["steps to 1e-6"] is not None),
               key=lambda r: r["steps to 1e-6"], default=None)  # fmt: skip
    fit = [abs(r["measured factor"] - r["|1 − λn/5| theory"]) / max(r["|1 − λn/5| theory"], 1e-300)
           for r in rows if not r["diverged flag"] and r["measured factor"] > 0]  # fmt: skip
    worst = max(fit, default=0.0)
    out = [
        "**Answer.** On the summed log-likelihood the gradient is ∇L(μ) = Σ_i Σ⁻¹(x_i − μ) = "
        "(n/5)(x̄ − μ), so each step multiplies the error μ − μ̂ by (1 − λn/5): gradient "
        f"ascent converges iff 0 < λ < 10/n = {crit:.3g}, fastest at λ = 5/n = {crit / 2:.3g}.",
        f"In the sweep ({steps} steps) λ = {_join(_g(conv))} converge"
        + (
            f" (fastest: {best['steps to 1e-6']} step(s) to 1e-6 at λ = {best['λ (sum)']:.3g})"
            if best
            else ""
        )
        + (f", λ = {_join(_g(slow))} still converging when the steps ran out" if slow else "")
        + (f", λ = {_join(_g(left))} reaching the tolerance and leaving it" if left else "")
        + (f", λ = {_join(_g(osc))} oscillate{'s' if len(osc) == 1 else ''} forever" if osc else "")
        + f" and λ = {_join(_g(div))} diverge: "
        + ("as the theory predicts." if as_theory else "not what the theory predicts."),
        "The measured per-step factor "
        + ("matches |1 − λn/5| to" if worst < 1e-3 else "differs from |1 − λn/5| by up to")
        + f" a relative {worst:.1e}.",
    ]
    if flagged:
        out.append(
            "The engine flagged the runs whose loss overflowed and froze them at their last "
            "finite state: "
            + _join(f"λ = {r['λ (sum)']:.3g} at step {r['overflow step']}" for r in flagged)
            + (f"; λ = {_join(_g(finite_div))} stayed finite within the {steps} steps and "
               "show as a growing distance." if finite_div else
               f"; every diverging run overflowed within the {steps} steps.")
        )  # fmt: skip
    elif div:
        out.append(f"No run overflowed within the {steps} steps: the diverging ones show as a "
                   "growing distance.")  # fmt: skip
    out.append(_task1_mean_sentence(rows, quick))
    return " ".join(out)


def _task1_mean_sentence(rows: list[dict], quick: bool) -> str:
    """How the mean-scaled runs compare with the summed ones (last column)."""
    diffs = [r["mean-scaled run: rel. diff."] for r in rows]
    shown = [d for d in diffs if d is not None]
    if shown:
        m = max(shown)
        return (
            "The usable λ scales as 1/n because the summed gradient grows with n; on the mean "
            "log-likelihood (the engine's default) the same runs use λ_mean = n·λ and "
            + (f"give the same iterates (final μ within a relative {m:.1e}; last column)."
               if m < 1e-6 else f"end up to a relative {m:.1e} apart (last column).")
        )  # fmt: skip
    return ("The usable λ scales as 1/n because the summed gradient grows with n; on the mean "
            "log-likelihood the same runs would use λ_mean = n·λ (not run "
            + ("in quick mode)." if quick else "here)."))  # fmt: skip


def _lr_label(lr: float) -> str:
    return f"λ = {lr:.2g}"


def task1_zoom(runs: Task1Runs, rows: list[dict]) -> tuple[float, float]:
    """A square view around the paths that do not diverge (both coordinates, padded)."""
    keep = [i for i, r in enumerate(rows) if not r["verdict"].startswith("diverges")]
    pts = runs.paths[keep].reshape(-1, 2)
    pts = pts[np.isfinite(pts).all(axis=1)]
    lo, hi = float(pts.min()), float(pts.max())
    pad = 0.12 * (hi - lo)
    return lo - pad, hi + pad


def task1_curves_figure(runs: Task1Runs, rows: list[dict]) -> Any:
    """Distance to the MLE and the loss gap per step, per λ; × where a run overflowed."""
    from jaxmle import plot

    labels = [_lr_label(r["λ (sum)"]) for r in rows]
    diverged = {lab: r["overflow step"] for lab, r in zip(labels, rows, strict=True)}
    fig, axes = plot.panels(2, figsize=(14, 4.8))
    # Distances: x = steps done (0: the start); a frozen run's last state is after its
    # overflow step, so its × is at the step the table reports.
    plot.loss_curves({lab: (np.arange(runs.steps + 1), runs.dist[i])
                      for i, lab in enumerate(labels)}, ax=axes[0], xlabel="step",
                     ylabel="‖μ_t − μ̂‖", hlines={"tolerance": runs.tol}, diverged=diverged,
                     title="Task 1: distance to the MLE per learning rate")  # fmt: skip
    # Losses: x = trace.step (the loss recorded with step t was measured after t − 1 steps);
    # the last finite one is recorded at the overflow step. Gaps ≤ 0 (rounding) are not
    # drawn; the dashed line is the rounding of −L(μ̂) itself.
    plot.loss_curves(
        {lab: (runs.loss_step, runs.loss_gap[i]) for i, lab in enumerate(labels)},
        ax=axes[1],
        xlabel="step",
        ylabel="−L(μ_t) − (−L(μ̂))",
        diverged=diverged,
        hlines={"rounding of −L(μ̂)": runs.loss_floor},
        title="Task 1: loss (negative summed log-likelihood) above its minimum",
    )
    return fig


def task1_paths_figure(runs: Task1Runs, rows: list[dict], mle, surface, zoom) -> Any:
    """The paths of λ/λ_crit ∈ [0.1, 1.2]: converging ones zoomed, diverging ones apart."""
    from jaxmle import plot

    show = [i for i, r in enumerate(rows) if 0.1 <= r["λ·n/10 (λ/λ_crit)"] <= 1.2]
    bad = [i for i in show if rows[i]["verdict"].startswith("diverges")]
    # All paths run along the line through μ0 and μ̂. The largest λ (the longest jumps) first:
    # drawn widest, underneath, so each narrower one on top leaves it visible as a border.
    good = sorted((i for i in show if i not in bad), key=lambda i: -runs.lrs[i])
    fig, axes = plot.panels(2, figsize=(13, 6.4))
    plot.surface(values=zoom, ax=axes[0], start=(0, 0), points={"closed-form MLE": mle},
                 trajectories={_lr_label(runs.lrs[i]): runs.paths[i] for i in good},
                 title="Task 1: converging and oscillating paths (zoom)")  # fmt: skip
    plot.surface(values=surface, ax=axes[1], start=(0, 0), points={"closed-form MLE": mle},
                 trajectories={_lr_label(runs.lrs[i]): runs.paths[i] for i in bad},
                 title="Task 1: diverging path" + ("s" if len(bad) > 1 else "")
                 + ", drawn until it leaves the view")  # fmt: skip
    return fig


# ------------------------------------------------------------------------------------------
# Task 2: optimisers.


def _settle(d, tol):
    """Steps after which ‖μ_t − μ̂‖ stays ≤ tol to the end of the run (None if it does not)."""
    out = np.flatnonzero(~(d <= tol))
    if out.size == 0:
        return 0
    return None if out[-1] == d.shape[0] - 1 else int(out[-1]) + 1


COMMON_LR = 0.3  # Task 2's side-by-side learning rate


def task2(ctx, rep, prob: Problem, surface) -> dict:
    """Task 2: how and why do better gradient updates differ?"""
    study, lb, lrs, steps, tol = task2_runs(ctx, prob)
    t = task2_tables(study, lb, lrs, steps, tol, prob.mle)
    r, settle = t["by_name"], t["settle"]
    names = list(study.axes["optimizer"])
    rep.section("Task 2: better gradient updates")
    rep.text(
        f"Optimisers: {', '.join(names)} (optax), each on the negative *mean* log-likelihood "
        f"(learning rates independent of n), full batch, {steps} steps from (0, 0), learning "
        f"rates {', '.join(f'{v:g}' for v in lrs)}: one `jaxmle.sweep`, one compiled program "
        f"per optimiser" + (" (quick mode: plain GD only)" if ctx.quick else "")
        + "; L-BFGS (optax, backtracking line search) runs 30 steps. A run *settles* when "
        f"‖μ − μ̂‖ stays ≤ {tol:g} from then to the end (an oscillating run may touch the "
        "tolerance earlier and leave it again).",
        "**Answer: how and why they differ.** The mean objective here is an isotropic "
        "quadratic, f(μ) = ‖μ − μ̂‖²/(2·5) + const: its Hessian is I/5 in every direction "
        "(condition number 1), so every path heads along the diagonal towards μ̂ and the "
        "methods differ in step length, overshoot and damping:",
    )  # fmt: skip
    rep.bullets(task2_bullets(r, settle, lrs, steps))
    rep.table(t["rows"], digits=4)
    zoom = _surface(prob.model, prob.x, 80, lim=(-0.2, 1.6))
    rep.figure("task2_paths",
               lambda: task2_paths_figure(surface, zoom, t["best_paths"], t["common_paths"],
                                          prob.mle),
               "Task 2: optimiser paths over the log-likelihood heat map.")  # fmt: skip
    rep.figure(
        "task2_curves",
        lambda: task2_curves_figure(t["best_curves"], t["diverged"], tol),
        "Task 2: distance to the MLE per step.",
    )
    rep.csv("task2_optimisers", t["rows"])
    rep.csv("task2_grid", study.records())
    return {"rows": r, "settle": settle, "learning_rates": lrs, "steps": steps, "tol": tol}


def task2_runs(ctx, prob: Problem):
    """The optimiser × learning-rate sweep, and one L-BFGS run."""
    # Quick mode: plain GD only (each optimiser is its own compiled program, ~1 s to compile
    # on 2 cores), against L-BFGS, on a shorter grid.
    names = ["SGD"] if ctx.quick else list(OPTIMISERS)
    opts = {k: OPTIMISERS[k] for k in names}
    lrs = [0.1, 0.3, 1.0, 3.0] if ctx.quick else [0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 5.0]
    steps = 150 if ctx.quick else 400
    tol = 1e-4
    ctx.log(f"Task 2: {len(opts)} optimisers x {len(lrs)} learning rates, {steps} steps")
    bar = ctx.bar("Task 2 sweep", len(opts) * len(lrs) * steps, unit="lane-step")
    study = jaxmle.sweep(prob.model, prob.mu0, prob.x, optimizer=opts,
                         grid={"learning_rate": lrs}, steps=steps, key=ctx.key(21),
                         reference=prob.exact, tol=tol, record_every=1, progress=bar,
                         checkpoint=ctx.checkpoint("task2"))  # fmt: skip
    bar.close()
    lb = jaxmle.fit(prob.model, prob.mu0, prob.x, optimizer=LBFGS, steps=30,
                    reference=prob.exact, tol=tol, record_every=1)  # fmt: skip
    return study, lb, lrs, steps, tol


def task2_tables(study, lb, lrs, steps, tol, mle) -> dict:
    """Per optimiser: its best λ (settles first), the common λ, paths and curves to plot."""
    rows, best_paths, common_paths, best_curves, diverged, settle_all = [], {}, {}, {}, {}, {}
    j_common = lrs.index(COMMON_LR)
    for o, name in enumerate(study.axes["optimizer"]):
        tr = np.asarray(study.trace.params["mean"][o])  # (lrs, steps, 2)
        dists = _distances(tr, mle)  # (lrs, steps + 1)
        settle = [None if study.diverged[o, j] else _settle(dists[j], tol)
                  for j in range(len(lrs))]  # fmt: skip
        settle_all[name] = dict(zip(lrs, settle, strict=True))
        final = np.where(study.diverged[o], np.inf, study.distance[o])
        cand = [j for j in range(len(lrs)) if settle[j] is not None]
        j = (min(cand, key=lambda j: (settle[j], final[j])) if cand
             else int(np.argmin(final)))  # fmt: skip
        label = f"{name}, λ={lrs[j]:g}"
        best_paths[label] = _with_start(tr[j])
        common_paths[name] = _with_start(tr[j_common])
        best_curves[label] = (np.arange(steps + 1), dists[j])
        diverged[label] = int(study.diverged_step[o, j]) if study.diverged[o, j] else None
        rows.append({"optimiser": name, "best λ (grid)": lrs[j],
                     "settled within tol after (best λ)": settle[j],
                     "final ‖μ − μ̂‖ (best λ)": float(study.distance[o, j]),
                     f"settled after (λ={COMMON_LR})": settle[j_common],
                     f"final ‖μ − μ̂‖ (λ={COMMON_LR})": float(study.distance[o, j_common]),
                     "λ that settle": ", ".join(f"{lr:g}" for lr, v in zip(lrs, settle,
                                                                         strict=True)
                                                if v is not None) or "none",
                     "λ that diverge": ", ".join(f"{lrs[i]:g}" for i in
                                                 np.flatnonzero(study.diverged[o])) or "none",
                     })  # fmt: skip
    lb_dist = _distances(np.asarray(lb.trace.params["mean"]), mle)
    lb_settle = _settle(lb_dist, tol)
    rows.append({"optimiser": "L-BFGS (backtracking)", "best λ (grid)": None,
                 "settled within tol after (best λ)": lb_settle,
                 "final ‖μ − μ̂‖ (best λ)": float(lb.distance),
                 f"settled after (λ={COMMON_LR})": lb_settle,
                 f"final ‖μ − μ̂‖ (λ={COMMON_LR})": float(lb.distance),
                 "λ that settle": "(line search)", "λ that diverge": "none"})  # fmt: skip
    best_paths["L-BFGS"] = common_paths["L-BFGS"] = _with_start(lb.trace.params["mean"])
    best_curves["L-BFGS"] = (np.arange(lb_dist.shape[0]), lb_dist)
    diverged["L-BFGS"] = int(lb.diverged_step) if bool(lb.diverged) else None
    return {"rows": rows, "by_name": {row["optimiser"]: row for row in rows},
            "settle": settle_all, "best_paths": best_paths, "common_paths": common_paths,
            "best_curves": best_curves, "diverged": diverged}  # fmt: skip


def _settles(v, steps) -> str:
    if v is None:
        return f"has not settled after {steps} steps"
    return f"settles after {v} step{'s' if v != 1 else ''}"


def _faster(a, b) -> str:
    """How settling after ``a`` steps compares with ``b`` (None: never): a comparison word."""
    if a == b:
        return "as fast as"
    if b is None or (a is not None and a < b):
        return "faster than"
    return "slower than"


def task2_bullets(r: dict, settle: dict, lrs: list, steps: int) -> list[str]:
    """One bullet per optimiser family, each comparison chosen by the measured steps."""
    st = functools.partial(_settles, steps=steps)
    c = COMMON_LR
    bl = []
    sg = r["SGD"]
    sgd_best = sg["settled within tol after (best λ)"]
    newton = settle["SGD"].get(5.0)
    bl.append(
        f"**SGD** (plain gradient descent) multiplies the error by (1 − λ/5) per step: at its "
        f"best λ = {sg['best λ (grid)']:g} it {st(sgd_best)}"
        + ((f"; λ = 5 = 1/curvature is a Newton step and {st(newton)}"
            if sg["best λ (grid)"] != 5.0 else " (λ = 5 = 1/curvature: a Newton step)")
           if 5.0 in lrs else "; λ = 5 = 1/curvature would be a Newton step (one step)")
        + f"; at λ = {c} it {st(settle['SGD'][c])}. It diverges for λ > 10."
    )  # fmt: skip
    if "momentum 0.9" in r:
        bl.append(_momentum_bullet(r, settle, steps, sgd_best))
    bl += _adaptive_bullets(r, steps, sgd_best)
    lbr = r["L-BFGS (backtracking)"]
    lb_s = lbr["settled within tol after (best λ)"]
    bl.append(
        "**L-BFGS** estimates the curvature from successive gradients; on a quadratic it "
        f"becomes Newton's method after one step: it {st(lb_s)}, final error "
        f"{lbr['final ‖μ − μ̂‖ (best λ)']:.1e}, with no learning rate to tune "
        f"({_faster(lb_s, sgd_best)} plain GD at its best λ)."
    )  # fmt: skip
    bl.append(
        "With an ill-conditioned Σ the ranking would change: plain GD zig-zags across the "
        "narrow valley, momentum and the per-coordinate scaling of the adaptive methods help "
        "much more, and L-BFGS still wins on a smooth deterministic objective."
    )
    return bl


def _momentum_bullet(r: dict, settle: dict, steps: int, sgd_best) -> str:
    """Heavy-ball momentum (and Nesterov) against plain GD, from the settle counts."""
    st = functools.partial(_settles, steps=steps)
    c = COMMON_LR
    mo = r["momentum 0.9"]
    ne = r.get("Nesterov 0.9")
    beta = 0.9
    lam_crit = VAR * (1 - math.sqrt(beta)) ** 2  # heavy ball underdamped above this λ
    under = [v for lr, v in settle["momentum 0.9"].items() if lr > lam_crit]
    done = [v for v in under if v is not None]
    span = f"{min(done)}–{max(done)} steps" if done else f"more than {steps} steps"
    mo_c, sg_c = settle["momentum 0.9"][c], settle["SGD"][c]
    mo_best = mo["settled within tol after (best λ)"]
    return (
        "**Momentum** (heavy ball, β = 0.9) keeps a velocity. On a quadratic with "
        f"curvature 1/5 it is underdamped for λ > 5(1 − √β)² = {lam_crit:.3f}, and then its "
        f"error shrinks by only √β = {math.sqrt(beta):.3f} per step whatever λ is: it "
        f"settles after {span} at every such λ on the grid (best λ = "
        f"{mo['best λ (grid)']:g}: {st(mo_best)}), {_faster(mo_best, sgd_best)} plain GD "
        f"at its best λ; at λ = {c}: momentum {st(mo_c)}, SGD {st(sg_c)} (momentum "
        f"{_faster(mo_c, sg_c)} SGD). Momentum pays off when the curvature differs a lot "
        "between directions, where GD's rate 1 − λ·h_min is far worse than √β."
        + (f" **Nesterov** takes the gradient at the look-ahead point, which damps the "
           f"oscillation: at λ = {ne['best λ (grid)']:g} it "
           f"{st(ne['settled within tol after (best λ)'])} "
           f"({_faster(ne['settled within tol after (best λ)'], mo_best)} heavy-ball "
           "momentum at its best λ)." if ne else "")
    )  # fmt: skip


def _adaptive_bullets(r: dict, steps: int, sgd_best) -> list[str]:
    """RMSProp/Adam and Adagrad, each against plain GD at its best λ."""
    st = functools.partial(_settles, steps=steps)
    bl = []
    ada = [k for k in ("RMSProp", "Adam") if k in r]
    if ada:
        bl.append(
            f"**{' and '.join(ada)}** {'divide' if len(ada) > 1 else 'divides'} by a running "
            "RMS of the gradient, so each "
            "coordinate moves about λ per step whatever the gradient's size: fast far away, "
            "then an oscillation around μ̂ whose amplitude is set by λ and shrinks only as "
            "the averages decay (Adam's momentum smooths it). "
            + "; ".join(f"{k} at its best λ = {r[k]['best λ (grid)']:g} "
                        f"{st(r[k]['settled within tol after (best λ)'])} (final error "
                        f"{r[k]['final ‖μ − μ̂‖ (best λ)']:.1e}), "
                        f"{_faster(r[k]['settled within tol after (best λ)'], sgd_best)} "
                        "plain GD at its best λ" for k in ada)
            + ". Their per-coordinate scaling pays off on badly scaled problems; this one is "
            "perfectly scaled."
        )  # fmt: skip
    if "Adagrad" in r:
        ag = r["Adagrad"]
        ag_s = ag["settled within tol after (best λ)"]
        bl.append(
            "**Adagrad** divides by the root of the *sum* of squared gradients, so its steps "
            f"shrink over time, which keeps large λ stable: at λ = {ag['best λ (grid)']:g} it "
            f"{st(ag_s)} ({_faster(ag_s, sgd_best)} plain GD at its best λ)."
        )  # fmt: skip
    return bl


def task2_paths_figure(surface, zoom, best_paths: dict, common_paths: dict, mle) -> Any:
    """Paths at each optimiser's best λ (full box) and at the common λ (zoomed)."""
    from jaxmle import plot

    fig, axes = plot.panels(2, figsize=(13, 6.6))
    plot.surface(values=surface, trajectories=best_paths, start=(0, 0), points={"MLE": mle},
                 ax=axes[0], title="Task 2: paths at each optimiser's best λ")  # fmt: skip
    plot.surface(values=zoom, trajectories=common_paths, start=(0, 0), points={"MLE": mle},
                 ax=axes[1], title=f"Task 2: paths at λ = {COMMON_LR} (zoom)")  # fmt: skip
    return fig


def task2_curves_figure(best_curves: dict, diverged: dict, tol: float) -> Any:
    """Distance to the MLE per step at each optimiser's best λ."""
    from jaxmle import plot

    return plot.loss_curves(
        best_curves,
        ylabel="‖μ_t − μ̂‖",
        xlabel="step",
        hlines={"tolerance": tol},
        diverged=diverged,
        title="Task 2: distance to the MLE at each optimiser's best λ",
    )


# ------------------------------------------------------------------------------------------
# Task 3: minibatches.

SIZES = [1, 5, 10, 100, 1000, None]  # None: the full data (k = n), as in the notebook
SUBSET_KS = [1, 5, 10, 100, 1000]


def task3(ctx, rep, prob: Problem, steps: int, seeds: int, tol: float) -> dict:
    """Task 3: how does the subset size k affect convergence; what do subset surfaces show?"""
    n = prob.x.shape[0]
    study, lrs = task3_runs(ctx, prob, steps, seeds, tol)
    label = {b: (str(b) if b is not None else f"{n} (all)") for b in SIZES}
    grid_rows, best_rows = task3_tables(study, lrs, seeds, label, n)
    xn = np.asarray(prob.x, np.float64)
    subset_rows = task3_subsets(xn, prob.mle, 400 if ctx.quick else 2000,
                                np.random.default_rng([ctx.seed, 32]))  # fmt: skip
    lanes = len(SIZES) * len(lrs) * seeds
    rep.section("Task 3: stochastic gradients on random subsets")
    rep.text(
        f"One `jaxmle.sweep`: SGD on the mean log-likelihood of a random subset of size k per "
        f"step (drawn with replacement; k = {n} is the full data), k × λ ∈ "
        f"{{{', '.join(f'{v:g}' for v in lrs)}}} × {seeds} seeds, {steps} steps each, "
        f"{lanes} runs. Tolerance ‖μ − μ̂‖ ≤ {tol:g} (the MLE's own standard error is "
        f"{math.sqrt(VAR / n):.3f} per coordinate). Steps/samples to tolerance count until "
        "the first time the iterate is within it ('reached tol'); 'final ≤ tol' counts the "
        "runs whose last iterate still is (jaxmle's `converged`): a noisy run can pass through "
        "the tolerance and leave it again.",
    )  # fmt: skip
    rep.text(task3_answer1(best_rows, grid_rows, lrs, seeds, n))
    rep.table(best_rows, digits=4)
    rep.text(task3_answer2(subset_rows))
    rep.table(subset_rows, digits=4)
    rep.text("Full grid (median over seeds):")
    rep.table(grid_rows, digits=4)
    rep.figure(
        "task3_heatmaps",
        lambda: task3_heatmap_figure(study, label, tol),
        "Task 3: the k × λ grid (median over seeds).",
    )
    rep.figure("task3_curves", lambda: task3_curves_figure(study, best_rows, lrs, label,
                                                           prob.mle, tol),
               "Task 3: distance to the MLE per step at each k's best λ.")  # fmt: skip
    rep.figure("task3_subset_surfaces",
               lambda: task3_subset_figure(prob.model, xn, prob.mle,
                                           np.random.default_rng([ctx.seed, 33])),
               "Task 3: log-likelihood surfaces of random subsets of size k and of all data, "
               "relative to each one's maximum, on one colour scale.")  # fmt: skip
    rep.csv("task3_grid", grid_rows)
    rep.csv("task3_runs", study.records())
    rep.csv("task3_subsets", subset_rows)
    return {
        "best": {r["k"]: r for r in best_rows},
        "grid": grid_rows,
        "subsets": subset_rows,
        "learning_rates": lrs,
        "steps": steps,
        "seeds": seeds,
        "tol": tol,
    }


def task3_runs(ctx, prob: Problem, steps: int, seeds: int, tol: float):
    """SGD on random subsets: k × λ × seed as one sweep."""
    lrs = [0.1, 0.3, 1.0] if ctx.quick else [0.01, 0.03, 0.1, 0.3, 1.0, 3.0]
    lanes = len(SIZES) * len(lrs) * seeds
    ctx.log(f"Task 3: {lanes} runs (k x lambda x seed) x {steps} steps, one jaxmle.sweep")
    bar = ctx.bar("Task 3 sweep", lanes * steps, unit="lane-step")
    study = jaxmle.sweep(prob.model, prob.mu0, prob.x, optimizer={"SGD": optax.sgd},
                         grid={"batch_size": SIZES, "learning_rate": lrs,
                               "seed": list(range(seeds))},
                         steps=steps, key=ctx.key(31), reference=prob.exact, tol=tol,
                         progress=bar, checkpoint=ctx.checkpoint("task3"))  # fmt: skip
    bar.close()
    return study, lrs


def _nanmedian(a):
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN cells: "never"
        return np.nanmedian(a, axis=-1)


def task3_tables(study, lrs, seeds, label, n):
    """The full k × λ grid and, per k, its best λ (smallest median final error)."""
    med = _nanmedian
    dist = np.where(study.diverged[0], np.nan, study.distance[0])  # (k, lr, seed)
    # First hitting times (steps_to_tol, -1 if never) vs `converged`: the FINAL iterate is
    # within the tolerance. A noisy small-k run can pass through the tolerance and leave it.
    reached = study.steps_to_tol[0] >= 0
    s2t = np.where(reached, study.steps_to_tol[0], np.nan).astype(float)
    samp = np.where(reached, study.samples_to_tol[0], np.nan).astype(float)
    grid_rows, best_rows = [], []
    for i, b in enumerate(SIZES):
        k = n if b is None else b
        for j, lr in enumerate(lrs):
            grid_rows.append({"k": label[b], "λ": lr,
                              "median final ‖μ − μ̂‖": float(med(dist[i, j])),
                              "SGD noise theory (RMS)": _sgd_rms(lr, k, b is None),
                              "reached tol (of seeds)": int(reached[i, j].sum()),
                              "final ≤ tol (of seeds)": int(study.converged[0, i, j].sum()),
                              "median steps to tol": float(med(s2t[i, j])),
                              "median samples to tol": float(med(samp[i, j]))})  # fmt: skip
        # Best λ for this k: the smallest final error (median over seeds): what an estimate
        # is judged by. (First hitting times of a noisy iterate are partly luck.)
        conv = study.converged[0, i].sum(-1)
        hit = reached[i].sum(-1)
        j = min(range(len(lrs)), key=lambda j: np.nan_to_num(med(dist[i, j]), nan=np.inf))
        best_rows.append({"k": label[b], "best λ (final error)": lrs[j],
                          "seeds reached tol": f"{int(hit[j])}/{seeds}",
                          "seeds final ≤ tol": f"{int(conv[j])}/{seeds}",
                          "median steps to tol": float(med(s2t[i, j])),
                          "median samples to tol": float(med(samp[i, j])),
                          "median final ‖μ − μ̂‖": float(med(dist[i, j])),
                          "final error, smallest λ": float(med(dist[i, 0])),
                          "theory RMS at smallest λ": _sgd_rms(lrs[0], k, b is None)})  # fmt: skip
    return grid_rows, best_rows


def task3_subsets(xn, mle, reps: int, rng) -> list[dict]:
    """Where the log-likelihood of a random subset of size k peaks: its mean, over ``reps``."""
    rows = []
    for k in SUBSET_KS:  # plain numpy: a few thousand small means, no compilation needed
        m = xn[rng.integers(0, xn.shape[0], (reps, k))].mean(axis=1)
        rms = float(np.sqrt(np.mean(np.sum((m - mle) ** 2, axis=1))))
        rows.append({"k": k, "RMS ‖argmax L_k − μ̂‖ (measured)": rms,
                     "theory sqrt(2·5/k)": math.sqrt(2 * VAR / k),
                     "curvature of L_k (= k/5)": k / VAR})  # fmt: skip
    return rows


def task3_answer1(best_rows, grid_rows, lrs, seeds, n) -> str:
    """Answer 1 (how k affects convergence), its comparisons chosen by the measured numbers."""
    b1, bfull = best_rows[0], best_rows[-1]
    e1, efull = b1["final error, smallest λ"], bfull["final error, smallest λ"]
    t1 = b1["theory RMS at smallest λ"]
    # Cheapest cell in samples among those where every seed reached the tolerance.
    sure = [g for g in grid_rows if g["reached tol (of seeds)"] == seeds]
    cheap = min(sure, key=lambda g: g["median samples to tol"]) if sure else None
    cheap_s = (f"fewest samples where every seed got there: k = {cheap['k']}, λ = "
               f"{cheap['λ']:g}, {fmt(cheap['median samples to tol'], 3)} samples in "
               f"{fmt(cheap['median steps to tol'], 3)} steps" if cheap else
               "no cell had every seed within the tolerance")  # fmt: skip
    ratio = e1 / efull if efull > 0 else math.inf
    steps_k = [(r["k"], r["median steps to tol"]) for r in best_rows]
    fin = [(k, s) for k, s in steps_k if np.isfinite(s)]
    per_step = ("fewest steps to the tolerance at k = " + min(fin, key=lambda t: t[1])[0]
                if fin else "no k reached the tolerance")  # fmt: skip
    return (
        "**Answer 1: how does k affect convergence?** A subset's gradient is an unbiased but "
        "noisy estimate of the full gradient (variance ∝ 1/k). SGD therefore does not settle "
        "at μ̂ but fluctuates around it with RMS error ≈ sqrt(2λ / (k(2 − λ/5))) (the "
        "'theory' columns), so small k needs a small λ and many steps to get within the "
        f"tolerance, and its final error stays large: at the smallest λ = {lrs[0]:g} the "
        f"median final error is {e1:.3g} for k = 1 (theory {t1:.3g}: "
        f"{'within a factor 2 of' if 0.5 <= e1 / t1 <= 2 else 'not within a factor 2 of'} "
        f"it), {ratio:.3g}× the full data's {efull:.2g}. With all {n} points the iteration is "
        f"deterministic gradient descent: its best final error is "
        f"{bfull['median final ‖μ − μ̂‖']:.1e}. Per step ({per_step}); per sample processed "
        f"({cheap_s}); small k cannot reach a tight tolerance without decaying λ. The "
        "notebook's own runs (steps until it stopped: k = 1000: 180, 100: 600, 10: 6000, 5: "
        "4000, 1: 10000; final μ off by up to 0.14 at k = 1) show the same trend."
    )  # fmt: skip


def task3_answer2(subset_rows) -> str:
    """Answer 2 (the subset surfaces), with the measured scatter against sqrt(10/k)."""
    dev = max(abs(r["RMS ‖argmax L_k − μ̂‖ (measured)"] / r["theory sqrt(2·5/k)"] - 1)
              for r in subset_rows)  # fmt: skip
    lo, hi = subset_rows[0], subset_rows[-1]
    return (
        "**Answer 2: what do the subset surfaces show?** Each subset's log-likelihood L_k(μ) "
        "is the same isotropic bowl, with curvature k/5 (flatter for small k: on the shared "
        "colour scale of the plot, L_k − max L_k stays near 0 over the whole box for k = 1 and "
        "drops by 10⁴ for all data), centred at the subset's mean, not at μ̂. Over random "
        "subsets the centres scatter around μ̂ with RMS distance "
        f"{lo['RMS ‖argmax L_k − μ̂‖ (measured)']:.3g} at k = {lo['k']} down to "
        f"{hi['RMS ‖argmax L_k − μ̂‖ (measured)']:.3g} at k = {hi['k']}, "
        + (f"within {dev:.0%} of sqrt(2·5/k) for every k" if dev <= 0.2 else
           f"up to {dev:.0%} off sqrt(2·5/k)")
        + ": a gradient step on L_k points towards the wrong centre, by a lot for small k and "
        "hardly at all for large k. Their average is the full-data gradient, which is why SGD "
        "still finds μ̂ on average and why averaging iterates or decaying λ removes the "
        "remaining noise."
    )  # fmt: skip


def task3_heatmap_figure(study, label, tol) -> Any:
    """Final error and steps to tolerance over the k × λ grid (median over seeds)."""
    from jaxmle import plot

    fig, axes = plot.panels(2, figsize=(13, 4.6))
    plot.sweep_heatmap(
        study,
        x="batch_size",
        y="learning_rate",
        metric="distance",
        ax=axes[0],
        title="final ‖μ − μ̂‖ (median over seeds)",
    )
    plot.sweep_heatmap(
        study,
        x="batch_size",
        y="learning_rate",
        metric="steps_to_tol",
        ax=axes[1],
        title=f"steps to ‖μ − μ̂‖ ≤ {tol:g} (median; — never)",
    )
    for ax in axes:
        ax.set_xticks(range(len(SIZES)), [label[b] for b in SIZES], fontsize=8)
        ax.set_xlabel("subset size k")
    return fig


def task3_curves_figure(study, best_rows, lrs, label, mle, tol) -> Any:
    """Distance to the MLE per step (seed 0) at each k's best λ; × if a run diverged."""
    from jaxmle import plot

    curves, diverged = {}, {}
    step_axis = np.asarray(study.trace.step[0, 0, 0, 0])
    for i, b in enumerate(SIZES):
        j = lrs.index(best_rows[i]["best λ (final error)"])
        d = np.linalg.norm(np.asarray(study.trace.params["mean"][0, i, j, 0]) - mle, axis=-1)
        name = f"k = {label[b]}, λ = {lrs[j]:g}"
        curves[name] = (step_axis, d)
        diverged[name] = (int(study.diverged_step[0, i, j, 0]) if study.diverged[0, i, j, 0]
                          else None)  # fmt: skip
    return plot.loss_curves(
        curves,
        xlabel="step",
        ylabel="‖μ_t − μ̂‖ (seed 0)",
        hlines={"tolerance": tol},
        diverged=diverged,
        title="Task 3: distance to the MLE at each k's best λ",
    )


def task3_subset_figure(model, xn, mle, rng) -> Any:
    """L_k − max L_k for random subsets of size k and all data, on one colour scale.

    One (symmetric-log) colour scale and one colour bar for all six panels, so how fast each
    surface drops from its maximum (its curvature k/5) can be compared across k.
    """
    from matplotlib.colors import SymLogNorm

    from jaxmle import plot

    n = xn.shape[0]
    surfaces, centres = [], []
    for k in [*SUBSET_KS, n]:
        sub = xn[rng.choice(n, k, replace=False)]
        xs, ys, z = _surface(model, sub, 80)
        surfaces.append((k, (xs, ys, z - _loglik_max(model, sub))))
        centres.append(sub.mean(axis=0))
    low = min(float(v[2].min()) for _, v in surfaces)
    norm = SymLogNorm(linthresh=1.0, vmin=low, vmax=0.0)
    fig, axes = plot.panels(6, ncols=3, figsize=(14, 10.5))
    for a, ((k, vals), centre) in enumerate(zip(surfaces, centres, strict=True)):
        plot.surface(
            values=vals,
            ax=axes[a],
            colorbar=False,
            norm=norm,
            points={"subset max": centre, "full-data MLE": mle},
            title=f"log L of {'all ' if k == n else 'a random subset, '}k = {k}",
        )
    plot.shared_colorbar(fig, axes, "log L_k(μ) − max L_k (symmetric-log scale)")
    return fig


def _sgd_rms(lr: float, k: int, full: bool) -> float:
    """Stationary RMS error of SGD with batch k (with replacement) on this problem.

    Per coordinate, e ← (1 − λ/5) e + λ ξ with Var ξ = Var(x)/(25 k) = 1/(5k): the stationary
    variance is λ / (k (2 − λ/5)); two coordinates double it. Full batch: no noise.
    """
    if full or lr >= 2 * VAR:
        return 0.0 if full else math.inf
    return math.sqrt(2 * lr / (k * (2 - lr / VAR)))


if __name__ == "__main__":
    script_main(__name__)
