"""Gaussian MLE (notebook 001): univariate μ, σ² and multivariate μ, Σ; closed form vs optimiser.

Notebook 001 derives, by setting the derivative of the log-likelihood to zero, that the MLE of a
Gaussian mean is the sample mean, for the univariate N(μ, σ²) and for the multivariate
N(μ, Σ), whatever Σ is. This study checks the derivation numerically: the closed forms
(``jaxmle.closed_form.gaussian_mle`` / ``mvn_mle``, and the models' ``closed_form``) against
numpy's sample moments, the score (gradient of the log-likelihood by ``jax.grad``) at the
MLE, and ``optax.lbfgs`` runs in ``jaxmle.fit`` (unconstrained space: log σ², log-Cholesky Σ).
Run: ``python experiments/gaussian_mle.py`` (a few seconds).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxmle
from jaxmle.models import Gaussian, MultivariateGaussian
from jaxmle.report import Option, OptionError, Report, fmt, script_main

ORDER = 2
OPTIONS = [
    Option("n", int, 1000, "univariate sample size (default 1000)"),
    Option("n_mvn", int, 5000, "multivariate sample size (default 5000)"),
]

MEAN, SD = 2.0, 1.5
MVN_MEAN = [1.0, -2.0, 0.5]
MVN_COV = [[4.0, 1.2, 0.0], [1.2, 2.0, -0.6], [0.0, -0.6, 1.0]]
TOL = 1e-8  # L-BFGS: Euclidean distance to the closed form that counts as reached


def check_options(n: int = 1000, n_mvn: int = 5000) -> None:
    if n < 2:
        raise OptionError("n", n, "an integer >= 2")
    if n_mvn < 4:
        raise OptionError("n_mvn", n_mvn, "an integer >= 4")


def draw(ctx, n: int, n_mvn: int) -> tuple[jax.Array, jax.Array]:
    """n draws from N(MEAN, SD²) and n_mvn draws from N(MVN_MEAN, MVN_COV)."""
    dt = jnp.result_type(float)

    @jax.jit  # one compiled program instead of a dozen eager ops
    def sample(k1, k2):
        x = MEAN + SD * jax.random.normal(k1, (n,), dt)
        z = jax.random.multivariate_normal(k2, jnp.asarray(MVN_MEAN, dt),
                                           jnp.asarray(MVN_COV, dt), (n_mvn,))  # fmt: skip
        return x, z

    return sample(ctx.key(1), ctx.key(2))


def _fitter(steps: int):
    opt = optax.lbfgs(linesearch=optax.scale_by_backtracking_linesearch(max_backtracking_steps=30))

    def fit(model, data, exact):
        return jaxmle.fit(model, model.init(data), data, optimizer=opt, steps=steps,
                          reference=exact, tol=TOL, record_every=1)  # fmt: skip

    return fit


def rel_elementwise(a, b) -> tuple[float, int]:
    """Largest elementwise relative difference max_i |a_i − b_i| / |b_i|, and its flat index."""
    a, b = np.ravel(np.asarray(a, np.float64)), np.ravel(np.asarray(b, np.float64))
    r = np.abs(a - b) / np.maximum(np.abs(b), np.finfo(np.float64).tiny)
    i = int(np.argmax(r))
    return float(r[i]), i


def digits_agree(a: float, b: float) -> str:
    """``"exactly"`` or ``"to N significant digits"`` (N from the relative difference)."""
    if a == b:
        return "exactly"
    r = abs(a - b) / max(abs(a), abs(b))
    return f"to {max(0, math.floor(-math.log10(r)))} significant digits"


# ------------------------------------------------------------------------------------------
# Question 1: the univariate MLE of μ and σ²


def univariate_mle(x: jax.Array, fit) -> dict:
    """Closed form, numpy and L-BFGS for N(μ, σ²), and the score at the closed form."""
    g = Gaussian()
    cf = g.closed_form(x)
    run = fit(g, x, cf)
    xn = np.asarray(x, np.float64)
    # (data passed as arguments, not closed over: a closed-over array becomes a constant
    # that XLA folds into the program, which is slow to compile)
    score = jax.jit(jax.grad(lambda p, d: g.log_prob(p, d).sum()))(cf, x)
    var = float(cf["variance"])
    # One rounding of θ_j moves the score by about eps·|θ_j|·I_jj (I the information).
    info = {"mean": len(xn) / var, "variance": len(xn) / (2 * var**2)}
    eps = float(jnp.finfo(x.dtype).eps)
    rows = [
        {"quantity": "μ", "closed form": float(cf["mean"]), "numpy": float(xn.mean()),
         "L-BFGS": float(run.params["mean"]), "truth": MEAN,
         "score at MLE": float(score["mean"]),
         "score of one rounding": eps * abs(float(cf["mean"])) * info["mean"]},
        {"quantity": "σ² (MLE, divides by n)", "closed form": var, "numpy": float(xn.var()),
         "L-BFGS": float(run.params["variance"]), "truth": SD**2,
         "score at MLE": float(score["variance"]),
         "score of one rounding": eps * var * info["variance"]},
    ]  # fmt: skip
    return {"rows": rows, "fit": run, "model": g, "unbiased": float(xn.var(ddof=1)),
            "n": len(xn)}  # fmt: skip


def univariate_sentence(u: dict) -> str:
    """μ_MLE and σ²_MLE against numpy, the (n−1)/n ratio, and whether the score vanishes."""
    mu, var = u["rows"]
    n = u["n"]
    ratio = var["closed form"] / u["unbiased"]
    worst = max(u["rows"], key=lambda r: abs(r["score at MLE"]) / r["score of one rounding"])
    k = abs(worst["score at MLE"]) / worst["score of one rounding"]
    s = (
        f"Univariate (n = {n} draws from N({MEAN}, {SD}²)): μ_MLE = {mu['closed form']:.10g}, "
        f"which agrees with numpy's sample mean {digits_agree(mu['closed form'], mu['numpy'])}; "
        f"σ²_MLE = {var['closed form']:.10g} = (1/n) Σ (x_i − x̄)², agreeing with numpy's "
        f"var() {digits_agree(var['closed form'], var['numpy'])}. The unbiased estimate "
        f"divides by n − 1: {u['unbiased']:.10g}; the ratio σ²_MLE/s² = {ratio:.12g} against "
        f"(n−1)/n = {(n - 1) / n:.12g} ({digits_agree(ratio, (n - 1) / n)}). The largest score "
        f"(∂ log L) at the MLE is {abs(worst['score at MLE']):.1e} (for {worst['quantity']}), "
    )
    if k <= 100:
        s += (
            f"{k:.2g}× the change one rounding of the estimate makes "
            f"({worst['score of one rounding']:.1e}): the derivative vanishes to rounding "
            "error, as the notebook's derivation says."
        )
    else:
        s += (
            f"{k:.3g}× the change one rounding of the estimate makes: the derivative does "
            "NOT vanish to rounding error."
        )
    return s


# ------------------------------------------------------------------------------------------
# Question 2: the multivariate MLE of μ (Σ known, right or wrong) and of μ and Σ


def multivariate_mle(z: jax.Array, fit) -> dict:
    """μ with Σ known (true, and wrongly taken as I) and μ, Σ unknown: closed form, L-BFGS."""
    cov = np.asarray(MVN_COV, z.dtype)  # numpy: an eager jnp op would compile a program
    m_known, m_wrong, m_full = (MultivariateGaussian(cov=cov),
                                MultivariateGaussian(cov=np.eye(3, dtype=z.dtype)),
                                MultivariateGaussian())  # fmt: skip
    mk_cf, mf_cf = m_known.closed_form(z), m_full.closed_form(z)
    fits = {"μ, Σ known": fit(m_known, z, mk_cf),
            "μ, Σ = I": fit(m_wrong, z, m_wrong.closed_form(z)),
            "μ and Σ": fit(m_full, z, mf_cf)}  # fmt: skip
    zn = np.asarray(z, np.float64)
    np_mean, np_cov = zn.mean(0), np.cov(zn.T, bias=True)
    score = jax.jit(jax.grad(lambda p, d: m_full.log_prob(p, d).sum()))(mf_cf, z)
    rows = []
    for label, value, ref, kind in [
        ("μ (Σ known, true Σ): closed form", mk_cf["mean"], np_mean, "closed form"),
        ("μ (Σ known, true Σ): L-BFGS", fits["μ, Σ known"].params["mean"], np_mean, "L-BFGS"),
        ("μ (Σ taken as I, wrong): L-BFGS", fits["μ, Σ = I"].params["mean"], np_mean, "L-BFGS"),
        ("μ (Σ unknown): closed form", mf_cf["mean"], np_mean, "closed form"),
        ("μ (Σ unknown): L-BFGS", fits["μ and Σ"].params["mean"], np_mean, "L-BFGS"),
        ("Σ: closed form (vs numpy cov, bias=True)", mf_cf["cov"], np_cov, "closed form"),
        ("Σ: L-BFGS (log-Cholesky)", fits["μ and Σ"].params["cov"], np_cov, "L-BFGS"),
    ]:
        r, i = rel_elementwise(value, ref)
        where = f"[{i}]" if np.ndim(ref) == 1 else f"[{i // 3},{i % 3}]"
        rows.append({"estimate": label, "value": value, "by": kind,
                     "max elementwise rel. diff. to numpy": r, "at": where})  # fmt: skip
    return {"rows": rows, "fits": fits, "np_mean": np_mean, "np_cov": np_cov, "cf": mf_cf,
            "max_score": max(float(jnp.max(jnp.abs(v))) for v in score.values()),
            "n": len(zn)}  # fmt: skip


def multivariate_sentence(m: dict, eps: float) -> str:
    """μ variants and Σ against numpy: rounding-level for closed forms, tolerance for L-BFGS."""
    mu_rows, cov_rows = m["rows"][:5], m["rows"][5:]
    cf_mu = max(r["max elementwise rel. diff. to numpy"] for r in mu_rows if r["by"] != "L-BFGS")
    opt_mu = max(r["max elementwise rel. diff. to numpy"] for r in mu_rows if r["by"] == "L-BFGS")
    cf_cov, opt_cov = (r["max elementwise rel. diff. to numpy"] for r in cov_rows)
    at = cov_rows[1]["at"]
    i, j = (int(v) for v in at.strip("[]").split(","))

    def verdict(v):
        return "rounding error" if v <= 1000 * eps else "more than rounding error"

    return (
        f"Multivariate (n = {m['n']} draws from a 3-D Gaussian): the closed-form μ_MLE equals "
        f"the sample mean {fmt(m['np_mean'], 8)} to {cf_mu:.1e} (largest elementwise relative "
        f"difference; {verdict(cf_mu)}), and the L-BFGS variants reach it to {opt_mu:.1e}, "
        "including the one with a wrong Σ = I: Σ⁻¹ cancels from Σ⁻¹ Σ_i (x_i − μ) = 0. "
        f"Σ_MLE is the covariance with divisor n (numpy's `cov(bias=True)`) to {cf_cov:.1e} "
        f"({verdict(cf_cov)}); L-BFGS in log-Cholesky coordinates reaches it to "
        f"{opt_cov:.1e} (largest at Σ{at} = {m['np_cov'][i, j]:.4g}). Largest score component "
        f"at the MLE: {m['max_score']:.1e}."
    )


def steps_sentence(fits: dict, steps: int) -> str:
    """How many L-BFGS steps each fit took to come within TOL of its closed form."""
    parts = []
    for label, run in fits.items():
        k = int(run.steps_to_tol)
        parts.append(
            f"{label}: {k}"
            if k >= 0
            else f"{label}: not reached (final distance {float(run.distance):.1e})"
        )
    return (
        f"L-BFGS steps to a Euclidean distance {TOL:g} of the closed form (all parameters, "
        "natural scale): " + "; ".join(parts) + f". Each fit ran {steps} steps."
    )


# ------------------------------------------------------------------------------------------
# The figure


def surface_figure(u: dict, x: jax.Array):
    """The univariate log-likelihood surface (relative to its maximum), with the L-BFGS path
    from its start (the model's init) to the closed-form MLE."""
    from jaxmle import plot

    g, run = u["model"], u["fit"]
    fn = plot.loglik_fn(g, x, names=("mean", "variance"))
    xs, ys, zz = plot.grid_values(fn, (-0.5, 3.5), (0.5, 4.5), 120)
    zz = np.maximum(zz - zz.max(), -400.0)  # relative log-likelihood, clipped for contrast
    init = g.init(x)
    start = np.asarray([float(init["mean"]), float(init["variance"])])
    # The trace holds the parameters after each step; the path starts where the fit did.
    path = np.vstack(
        [
            start,
            np.stack(
                [np.asarray(run.trace.params["mean"]), np.asarray(run.trace.params["variance"])], 1
            ),
        ]
    )
    mu, var = u["rows"]
    fig = plot.surface(values=(xs, ys, zz), trajectories={"L-BFGS": path}, start=start,
                       points={"closed-form MLE": (mu["closed form"], var["closed form"])},
                       labels=("μ", "σ²"),
                       title=f"log L(μ, σ²) − max (clipped at −400), n = {len(x)}")  # fmt: skip
    ax = fig.axes[0]
    ax.images[0].colorbar.set_label("log L − max log L")
    # Below the axes: inside, the legend covered the start marker.
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3)
    return fig


# ------------------------------------------------------------------------------------------


def run(ctx, n: int = 1000, n_mvn: int = 5000) -> dict:
    check_options(n, n_mvn)
    rep = Report(ctx, "Gaussian maximum likelihood: the sample mean (and covariance)",
                 source="notebook 001",
                 question="What is the MLE of μ (and σ², Σ) for a univariate Gaussian "
                 "N(μ, σ²) and a multivariate Gaussian N(μ, Σ)? The notebook derives μ_MLE = "
                 "(1/N) Σ x_i in both cases.")  # fmt: skip
    x, z = draw(ctx, n, n_mvn)
    steps = 60 if ctx.quick else 150
    fit = _fitter(steps)
    uni = univariate_mle(x, fit)
    mvn = multivariate_mle(z, fit)
    eps = float(jnp.finfo(x.dtype).eps)

    rep.section("Answer")
    rep.text(univariate_sentence(uni), multivariate_sentence(mvn, eps))
    rep.section("Univariate Gaussian")
    rep.table(uni["rows"], digits=12)
    rep.section("Multivariate Gaussian")
    rep.table(mvn["rows"], digits=8)
    rep.text(
        f"True μ = {fmt(np.asarray(MVN_MEAN), 3)}, true Σ = {np.asarray(MVN_COV).tolist()}; "
        f"Σ_MLE = {np.round(np.asarray(mvn['cf']['cov']), 4).tolist()}.",
        steps_sentence({"univariate (μ, σ²)": uni["fit"], **mvn["fits"]}, steps),
    )
    rep.figure(
        "univariate_surface",
        lambda: surface_figure(uni, x),
        "Univariate log-likelihood surface and the L-BFGS path from its start.",
    )
    rep.csv("univariate", uni["rows"])
    rep.json("multivariate", {r["estimate"]: r for r in mvn["rows"]})
    mu, var = uni["rows"]
    rels = [r["max elementwise rel. diff. to numpy"] for r in mvn["rows"]]
    results = {
        "mean_mle": mu["closed form"], "var_mle": var["closed form"],
        "numpy_mean": mu["numpy"], "numpy_var": var["numpy"], "var_unbiased": uni["unbiased"],
        "mean_optimiser": mu["L-BFGS"], "var_optimiser": var["L-BFGS"],
        "max_score_univariate": max(abs(r["score at MLE"]) for r in uni["rows"]),
        "mvn_mean_mle": mvn["cf"]["mean"], "mvn_cov_mle": mvn["cf"]["cov"],
        "mvn_numpy_mean": mvn["np_mean"], "mvn_numpy_cov": mvn["np_cov"],
        "mvn_rel_mean_variants": rels[:5],
        "mvn_rel_cov_closed_form": rels[5], "mvn_rel_cov_optimiser": rels[6],
        "steps_to_tol": {k: int(v.steps_to_tol) for k, v in mvn["fits"].items()},
    }  # fmt: skip
    rep.write(results, {"n": n, "n_mvn": n_mvn})
    return results


if __name__ == "__main__":
    script_main(__name__)
