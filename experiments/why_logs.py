"""Why logarithms (notebook 003): a product of 10,000 densities underflows, a sum of logs does not.

Notebook 003 asks: why apply a logarithm to the likelihood? What are the analytical and the
numerical reasons, and does it change the estimator? This study takes the notebook's data
(n = 10,000 points from N((1, 1), 5·I)), multiplies the densities p(x_i | μ, Σ) one at a time
(a sequential ``lax.scan``) in float32 and float64, and records where the running product
becomes subnormal and where it reaches exactly 0; beside it the running sum of log-densities,
its accuracy against correctly rounded sums, the gradient of each form, and the argmax of each
over a grid of μ.
Run: ``python experiments/why_logs.py`` (a few seconds).
"""

from __future__ import annotations

import functools
import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxmle.models import MultivariateGaussian
from jaxmle.report import Option, OptionError, Report, script_main

ORDER = 4
OPTIONS = [Option("n", int, 10_000, "number of points (notebook: 10,000)")]

FEW = 50  # the "few points" case (or n, if smaller): the product has not underflowed yet
GRID = (0.0, 2.0, 201)  # μ₁ grid for the argmax comparison: spacing 0.01


def check_options(n: int = 10_000) -> None:
    if n < 10:
        raise OptionError("n", n, "an integer >= 10")


# ------------------------------------------------------------------------------------------
# Data


def _model(dt):
    # numpy constants: eager jnp operations would each compile a small program
    return MultivariateGaussian(cov=5.0 * np.eye(2, dtype=dt)), np.ones(2, dt)


def draw(ctx, n: int) -> tuple[jax.Array, jax.Array]:
    """The notebook's n points from N((1, 1), 5·I) and their log-densities at the truth."""
    model, mu = _model(jnp.result_type(float))

    @jax.jit
    def draw_and_logp(key):
        x = jax.random.multivariate_normal(key, mu, model.cov, (n,))
        return x, model.log_prob({"mean": mu}, x)

    return draw_and_logp(ctx.key(1))


# ------------------------------------------------------------------------------------------
# Question 1 (numerical reason): where does the running product underflow?


@functools.partial(jax.jit, static_argnames="dtype")
def _running(logp, dtype):
    """Sequential running product of the densities and running sum of the logs, in ``dtype``."""
    logd = logp.astype(dtype)

    def step(carry, v):
        prod, total = carry[0] * v[0], carry[1] + v[1]
        return (prod, total), (prod, total)

    one = jnp.ones((), dtype)
    _, (prods, sums) = jax.lax.scan(step, (one, 0 * one), jnp.stack([jnp.exp(logd), logd], 1))
    return prods, sums


def exact_running_sums(terms: np.ndarray) -> np.ndarray:
    """Correctly rounded prefix sums of float64 terms (exact integer arithmetic).

    Every float64 is an integer times a power of two, so the prefix sums are exact integers
    at a common scale; Python's int / int is correctly rounded.
    """
    ratios = [v.as_integer_ratio() for v in np.asarray(terms, np.float64).tolist()]
    bits = max(d.bit_length() - 1 for _, d in ratios)  # denominators are powers of two
    ints = [a << (bits - d.bit_length() + 1) for a, d in ratios]
    scale = 1 << bits
    return np.asarray([s / scale for s in itertools.accumulate(ints)])


def where_the_product_underflows(logp: jax.Array, x64: bool) -> tuple[list[dict], dict]:
    """Running products and sums in float32 (and float64): where each becomes subnormal or 0.

    Returns:
        ``(rows, curves)``: one row per dtype and implementation (JAX/XLA and numpy's
        ``cumprod``, which keeps subnormals), ``curves[dtype] = (products, sums)`` and
        ``curves["exact"]``, the correctly rounded running sums of the log-densities.
    """
    logp64 = np.asarray(logp, np.float64)
    exact = exact_running_sums(logp64)
    cum_log = exact  # the exact running log-likelihood, for the predictions
    rows, curves = [], {"exact": exact}
    for d in [jnp.float32] + ([jnp.float64] if x64 else []):
        fi, name = jnp.finfo(d), np.dtype(d).name
        prods, sums = (np.asarray(a) for a in _running(logp, d))
        np_prods = np.cumprod(np.exp(logp64).astype(name))  # IEEE gradual underflow
        tiny, smallest = float(fi.tiny), float(fi.smallest_subnormal)
        # The product rounds to 0 once the exact Σ log p < log(smallest subnormal / 2); a
        # backend that flushes subnormals reaches 0 at log(smallest normal) already.
        pred_zero = int(np.argmax(cum_log < math.log(smallest) + math.log(0.5))) + 1
        pred_tiny = int(np.argmax(cum_log < math.log(tiny))) + 1
        for how, pr, sm in (("jax (XLA)", prods, sums), ("numpy", np_prods, None)):
            sub = np.flatnonzero((pr > 0) & (pr < tiny))
            zero = np.flatnonzero(pr == 0)
            rows.append({
                "dtype": name, "computed by": how,
                "smallest normal": tiny, "smallest subnormal": smallest,
                "product subnormal after": int(sub[0]) + 1 if sub.size else None,
                "product exactly 0 after": int(zero[0]) + 1 if zero.size else None,
                "predicted 0 after": pred_zero, "predicted < smallest normal after": pred_tiny,
                "product of all": float(pr[-1]),
                "sum of logs": float(sm[-1]) if sm is not None else None,
                "rel. error of sum": (abs(float(sm[-1]) - exact[-1]) / abs(exact[-1])
                                      if sm is not None else None),
            })  # fmt: skip
        curves[name] = (prods, sums)
    return rows, curves


def underflow_sentence(avg: float, rows: list[dict], n: int, exact_total: float,
                       backend: str) -> str:  # fmt: skip
    """The numerical reason, from the underflow table (JAX rows and numpy rows per dtype)."""
    by = {(r["dtype"], r["computed by"].split()[0]): r for r in rows}
    dts = [d for d in ("float64", "float32") if (d, "jax") in by]
    parts = [f"**Numerical reason: underflow.** The average log-density of one point is "
             f"{avg:.3f}, so the likelihood of n points is about e^({avg:.2f}·n)."]  # fmt: skip
    for d in dts:
        j, npy = by[(d, "jax")], by[(d, "numpy")]
        z, zn = j["product exactly 0 after"], npy["product exactly 0 after"]
        if z is None:
            parts.append(f"In {d} JAX's running product never reaches 0 within {n} points.")
            continue
        parts.append(f"In {d} the running product computed by JAX is exactly **0 after {z} "
                     f"points**; numpy, which keeps subnormal numbers (gradual underflow), "
                     f"reaches 0 after {zn if zn is not None else 'more than ' + str(n)} (the "
                     f"exact log-sum predicts {j['predicted 0 after']}).")  # fmt: skip
    flushed = [d for d in dts if by[(d, "jax")]["product subnormal after"] is None
               and by[(d, "jax")]["product exactly 0 after"] is not None]  # fmt: skip
    if flushed:
        parts.append(f"XLA on this backend ({backend}) flushes subnormal results to zero "
                     f"({' and '.join(flushed)}), so JAX's product drops to 0 as soon as it "
                     "would fall below the smallest normal number (the 'predicted < smallest "
                     "normal' column) instead of creeping through the subnormals.")  # fmt: skip
    zero_all = [d for d in dts if by[(d, "jax")]["product of all"] == 0.0]
    if zero_all:
        which = "both float32 and float64" if len(zero_all) == 2 else zero_all[0]
        parts.append(f"Every later factor multiplies a zero: the "
                     f"product of all {n} densities is 0 in {which}, while the true "
                     f"likelihood is e^({exact_total:.2f}) = "
                     f"10^({exact_total / math.log(10):.1f}).")  # fmt: skip
    return " ".join(parts)


def sum_sentence(rows: list[dict], avg: float) -> str:
    """How accurate the running sum of logs is, per dtype (against a correctly rounded sum)."""
    jax_rows = [r for r in rows if r["sum of logs"] is not None][::-1]  # float64 first
    parts = []
    for r in jax_rows:
        eps = float(np.finfo(r["dtype"]).eps)
        parts.append(f"in {r['dtype']} the running sum ends at {r['sum of logs']:.10g} "
                     f"(relative error {r['rel. error of sum']:.1e} against a correctly "
                     f"rounded sum, {r['rel. error of sum'] / eps:.0f}·eps)")  # fmt: skip
    finite = all(math.isfinite(r["sum of logs"]) for r in jax_rows)
    tail = (
        f"; it is finite in every type: a sum of n terms of size ~{abs(avg):.2g} is "
        "nowhere near the range limits"
        if finite
        else "; the sum is NOT finite"
    )
    return (
        ("**The sum of logs is fine:** " if finite else "**The sum of logs:** ")
        + "; ".join(parts)
        + tail
        + "."
    )


# ------------------------------------------------------------------------------------------
# Question 2: gradients, and does the log change the estimator?


def gradients_and_argmax(x: jax.Array) -> dict:
    """∂/∂μ₁ at μ₁ = 1 and the grid argmax over μ₁ of the product and of the log.

    Returns:
        ``{"few": ..., "all": ...}``: with the first ``min(FEW, n)`` points and with all n;
        each has ``k`` (points used), ``grad_prod``, ``grad_log``, ``argmax_prod``,
        ``argmax_log``, ``max_prod`` and ``xbar`` (the mean of x₁ over those points).
    """
    n = x.shape[0]
    sizes = {"few": min(FEW, n), "all": n}
    model, mu = _model(x.dtype)
    grid = np.linspace(*GRID[:2], GRID[2]).astype(x.dtype)  # numpy: no eager compile

    def lik_prod(m, d):
        return jnp.prod(jnp.exp(model.log_prob({"mean": jnp.stack([m, mu[1]])}, d)))

    def lik_log(m, d):
        return jnp.sum(model.log_prob({"mean": jnp.stack([m, mu[1]])}, d))

    @jax.jit  # data as an argument: a closed-over array would be folded in as a constant
    def compute(data):
        g = jnp.asarray(grid)
        out = {}
        for key, k in sizes.items():
            d = data[:k]
            prod = jax.vmap(lambda m, d=d: lik_prod(m, d))(g)
            log = jax.vmap(lambda m, d=d: lik_log(m, d))(g)
            out[key] = {"grad_prod": jax.grad(lik_prod)(mu[0], d),
                      "grad_log": jax.grad(lik_log)(mu[0], d),
                      "argmax_prod": g[jnp.argmax(prod)], "argmax_log": g[jnp.argmax(log)],
                      "max_prod": jnp.max(prod)}  # fmt: skip
        return out

    out = jax.tree_util.tree_map(float, compute(x))
    xn = np.asarray(x, np.float64)[:, 0]
    for key, k in sizes.items():
        out[key].update(k=k, xbar=float(xn[:k].mean()))
    return out


def gradient_sentence(ga: dict) -> str:
    """What the gradients of the product and of the log say at μ₁ = 1."""
    n, few = ga["all"]["k"], ga["few"]["k"]
    g_all, g_few = ga["all"]["grad_prod"] + 0.0, ga["few"]["grad_prod"] + 0.0
    s = f"**Gradients:** with all {n} points ∂/∂μ₁ of the product is {g_all:.3g}"
    s += (
        " (it underflowed, so gradient ascent cannot move)"
        if g_all == 0
        else " (it has not underflowed)"
    )
    s += f", while ∂/∂μ₁ of the log-likelihood is {ga['all']['grad_log']:.6g}. "
    s += (
        f"With {few} points the product still has a (tiny) gradient {g_few:.3g}."
        if g_few
        else f"With {few} points the product's gradient is already 0."
    )
    return s


def argmax_sentence(ga: dict) -> str:
    """Whether the product and the log pick the same μ₁ on the grid, with few and all points."""
    spacing = (GRID[1] - GRID[0]) / (GRID[2] - 1)
    few, full = ga["few"], ga["all"]
    n = full["k"]
    s = "**Does it change the estimator?** log is strictly increasing, so argmax L = argmax log L. "
    if few["argmax_prod"] == few["argmax_log"]:
        s += (
            f"With {few['k']} points "
            + (
                f"(the product's maximum {few['max_prod']:.3g} has not underflowed) "
                if few["max_prod"] > 0
                else "(even here the product is 0 on the whole grid) "
            )
            + f"both pick the same grid point, μ₁ = {few['argmax_log']:.2f} (grid spacing "
            f"{spacing:g})"
        )
    else:
        s += (
            f"With {few['k']} points they pick different grid points: the product "
            f"{few['argmax_prod']:.4f}, the log {few['argmax_log']:.4f}"
        )
    near = abs(few["argmax_log"] - few["xbar"]) <= spacing / 2 + 1e-12
    s += f"; x̄₁ = {few['xbar']:.4f}" + (", whose nearest grid point it is. " if near else ". ")
    if full["max_prod"] == 0:
        s += (
            f"With all {n} points the product is 0 for every μ on the grid, so its 'argmax' "
            f"is just the first grid point ({full['argmax_prod']:.2f}); "
        )
    else:
        s += f"With all {n} points the product's argmax is {full['argmax_prod']:.2f}; "
    near = abs(full["argmax_log"] - full["xbar"]) <= spacing / 2 + 1e-12
    s += f"the log-likelihood's argmax is {full['argmax_log']:.2f}" + (
        f", the grid point nearest x̄₁ = {full['xbar']:.4f}."
        if near
        else f", {abs(full['argmax_log'] - full['xbar']):.3g} from x̄₁ = {full['xbar']:.4f}."
    )
    return s


ANALYTICAL = (
    "**Analytical reasons:** the log turns the product over i.i.d. points into a sum, whose "
    "derivative is a sum of per-point terms (no product rule over n factors); for the "
    "exponential family it removes the exp, leaving a quadratic in μ for the Gaussian, "
    "whose stationary point is linear in the data (μ = x̄); sums are what minibatches, "
    "averages (the engine's mean objective) and the law of large numbers work with; and "
    "the log-likelihood's curvature is the Fisher information used for standard errors."
)


# ------------------------------------------------------------------------------------------
# The figure


def underflow_figure(rows: list[dict], curves: dict, n: int):
    """Left: log10 of the running products against the exact Σ log p, with each dtype's
    smallest subnormal. Right: relative error of the running sums against correctly rounded
    prefix sums (exact zeros are not drawn on the log axis; the count says how many).
    """
    from jaxmle import plot

    curves = dict(curves)
    exact = curves.pop("exact")
    fig, (left, right) = plot.panels(2, figsize=(12, 5.6))
    zeros = [r["product exactly 0 after"] or 0 for r in rows]
    k_show = min(n, 2 * max(zeros) + 20)
    idx = np.arange(1, n + 1)
    left.plot(idx[:k_show], exact[:k_show] / math.log(10), color="0.3", lw=2.5, alpha=0.5,
              label="exact Σ log p / ln 10")  # fmt: skip
    styles = {"float32": ("C1", "--"), "float64": ("C0", ":")}
    for name, (prods, _) in curves.items():
        color, ls = styles[name]
        p = prods[:k_show].astype(np.float64)
        with np.errstate(divide="ignore"):
            lp = np.where(p > 0, np.log10(np.where(p > 0, p, 1.0)), np.nan)
        left.plot(idx[:k_show], lp, color=color, lw=1.4, label=f"{name} product (JAX)")
        z = np.flatnonzero(p == 0)
        if z.size and z[0] > 0:  # where the product becomes exactly 0
            left.plot(
                [idx[z[0] - 1]],
                [lp[z[0] - 1]],
                "x",
                color=color,
                ms=9,
                mew=2,
                label=f"{name}: exactly 0 after {z[0] + 1}",
            )
        sub = float(np.finfo(name).smallest_subnormal)
        left.axhline(math.log10(sub), color=color, ls=ls, lw=1.2,
                     label=f"smallest subnormal, {name} ({sub:.2g})")  # fmt: skip
    left.set(xlabel="number of points multiplied", ylabel="log10 of the running likelihood",
             title="The running product underflows to exactly 0")  # fmt: skip
    left.grid(True, alpha=0.3)
    for name, (_, sums) in curves.items():
        err = np.abs(sums.astype(np.float64) - exact) / np.abs(exact)
        nz = err > 0
        right.plot(
            idx,
            np.where(nz, err, np.nan),
            color=styles[name][0],
            lw=1.0,
            label=f"{name} sum, final {err[-1]:.2g}"
            + (f" ({int((~nz).sum())} exact 0s not drawn)" if (~nz).any() else ""),
        )
        right.axhline(float(np.finfo(name).eps), color=styles[name][0], ls=styles[name][1],
                      lw=1.0, label=f"eps, {name}")  # fmt: skip
    right.set_yscale("log")
    right.set(xlabel="number of points", ylabel="relative error of the running sum",
              title=f"Sum of logs: finite and accurate up to n = {n}")  # fmt: skip
    right.grid(True, alpha=0.3)
    for ax in (left, right):
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
    return fig


# ------------------------------------------------------------------------------------------


def run(ctx, n: int = 10_000) -> dict:
    check_options(n)
    rep = Report(ctx, "Why take the logarithm of the likelihood?", source="notebook 003, theory",
                 question="Why apply a logarithm on the likelihood? What are the analytical "
                 "reasons, what are the numerical reasons, and does it affect the "
                 "estimator?")  # fmt: skip
    x, logp = draw(ctx, n)
    logp64 = np.asarray(logp, np.float64)
    exact_total = math.fsum(logp64.tolist())
    rows, curves = where_the_product_underflows(logp, ctx.x64)
    ga = gradients_and_argmax(x)
    avg = float(np.mean(logp64))

    rep.section("Answers")
    rep.bullets([underflow_sentence(avg, rows, n, exact_total, jax.default_backend()),
                 sum_sentence(rows, avg), gradient_sentence(ga), argmax_sentence(ga),
                 ANALYTICAL])  # fmt: skip
    rep.section("Where the product underflows")
    rep.table(rows, digits=8)
    rep.text("'after k' counts factors: the running product of the first k densities. "
             "'Predicted' is where the exactly computed Σ log p first drops below log of the "
             "smallest subnormal (the product then rounds to 0) or of the smallest normal "
             "number.")  # fmt: skip
    rep.figure("underflow", lambda: underflow_figure(rows, curves, n),
               "Left: running product against the exact running log-likelihood (× where "
               "the next factor makes it exactly 0). Right: relative error of the running sum "
               "of logs against correctly rounded sums.")  # fmt: skip
    rep.csv("underflow", rows)
    results = {
        "n": n, "mean_log_density": avg, "exact_log_likelihood": exact_total,
        "underflow": {f"{r['dtype']} {r['computed by'].split()[0]}": r for r in rows},
        "grad_product_all": ga["all"]["grad_prod"], "grad_log_all": ga["all"]["grad_log"],
        "argmax_prod_50": ga["few"]["argmax_prod"], "argmax_log_50": ga["few"]["argmax_log"],
        "argmax_log_all": ga["all"]["argmax_log"], "max_prod_all": ga["all"]["max_prod"],
        "xbar1": ga["all"]["xbar"],
    }  # fmt: skip
    rep.write(results, {"n": n})
    return results


if __name__ == "__main__":
    script_main(__name__)
