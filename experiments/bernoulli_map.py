"""Bernoulli MAP (notebook 003, Task 3): MLE, MAP under Gaussian and Beta priors, predictive.

Notebook 003 (theory, Task 3): a coin gives D = (0, 0, 1, 1, 0, 0, 1). With the prior
p(θ) = N(0.5, 0.1), what is θ_MAP and P(x8 = 0, x9 = 0 | θ_MAP)? With p(θ) = U(0, 1), what is
P(x8 = 1 | D)?

Every estimate is computed twice: exactly (``jaxmle.closed_form.bernoulli_map``: the root of a
cubic for the Gaussian prior, the Beta posterior mode otherwise) and by ``optax.lbfgs`` on the
log posterior in logit space (``jaxmle.fit``). N(0.5, 0.1) is ambiguous (σ = 0.1 or σ² = 0.1),
so both readings are reported. Run: ``python experiments/bernoulli_map.py`` (a few seconds).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxmle
from jaxmle.models import Bernoulli, Beta, Normal, Uniform
from jaxmle.report import Option, OptionError, Report, script_main

ORDER = 6
OPTIONS = [
    Option("data", str, "0011001", "coin tosses as 0/1 digits (default: the notebook's 0011001)"),
    Option("prior_loc", float, 0.5, "mean of the Gaussian prior (notebook: 0.5)"),
    Option("prior_spread", float, 0.1, "the notebook's 0.1: read as σ and as σ² (notebook: 0.1)"),
]


def _moment_matched_beta(mean: float, var: float) -> tuple[float, float]:
    """Beta(a, b) with the given mean and variance (the Gaussian prior's σ reading)."""
    c = mean * (1 - mean) / var - 1
    return mean * c, (1 - mean) * c


def check_options(data: str = "0011001", prior_loc: float = 0.5, prior_spread: float = 0.1):
    if not data or set(data) - {"0", "1"}:
        raise OptionError("data", data, "a string of 0/1 digits, e.g. 0011001")
    if not 0 < prior_loc < 1:
        raise OptionError("prior_loc", prior_loc, "a number in (0, 1)")
    # (the moment-matched Beta prior needs a variance below prior_loc·(1 − prior_loc))
    if not 0 < prior_spread < (prior_loc * (1 - prior_loc)) ** 0.5:
        raise OptionError("prior_spread", prior_spread, "a number in (0, "
                          f"{(prior_loc * (1 - prior_loc)) ** 0.5:.4g}), so that the "
                          "moment-matched Beta prior exists")  # fmt: skip


def _priors(prior_loc: float, prior_spread: float) -> dict:
    """The priors compared: both readings of N(loc, spread), Beta(2, 2), the moment-matched
    Beta, and U(0, 1)."""
    a_m, b_m = _moment_matched_beta(prior_loc, prior_spread**2)
    return {
        f"N({prior_loc}, σ={prior_spread})": Normal(prior_loc, scale=prior_spread),
        f"N({prior_loc}, σ²={prior_spread})": Normal(prior_loc, variance=prior_spread),
        "Beta(2, 2)": Beta(2.0, 2.0),
        f"Beta({a_m:.4g}, {b_m:.4g}) (moments of N(σ={prior_spread}))": Beta(a_m, b_m),
        "U(0, 1)": Uniform(0.0, 1.0),
    }


# ------------------------------------------------------------------------------------------
# Question 1: θ_MAP under each prior (and the MLE), closed form and optimiser


def map_under_each_prior(x: jax.Array, priors: dict, quick: bool) -> tuple[list[dict], float]:
    """θ_MLE and θ_MAP per prior, exactly and by L-BFGS in logit space.

    Returns:
        ``(rows, max |optimiser − closed form|)``; the first row is the MLE. Quick mode fits
        the Gaussian priors only (their two readings share one compiled program).
    """
    # One optimiser instance for every fit: fits of models with the same prior family then
    # share one compiled program (the prior's numbers are traced, its type is not).
    opt = optax.lbfgs(linesearch=optax.scale_by_backtracking_linesearch(max_backtracking_steps=30))

    def optimise(prior, exact):
        if quick and not isinstance(prior, Normal):
            return None
        model = Bernoulli(prior={"prob": prior})
        run = jaxmle.fit(model, {"prob": jnp.asarray(0.5, x.dtype)}, x, optimizer=opt,
                         steps=30, reference={"prob": jnp.asarray(exact, x.dtype)},
                         tol=1e-9)  # fmt: skip
        return float(run.params["prob"])

    def row(label, exact, opt_value):
        return {
            "prior": label,
            "θ closed form": exact,
            "θ optimiser": opt_value,
            "P(next two tails | θ)": (1 - exact) ** 2,
            "P(next head | θ)": exact,
        }

    mle = float(jaxmle.closed_form.bernoulli_mle(x)["prob"])
    # The MLE maximises the likelihood alone, i.e. the posterior under the flat prior U(0, 1).
    rows = [row("none (MLE)", mle, optimise(Uniform(0.0, 1.0), mle))]
    for label, prior in priors.items():
        exact = float(jaxmle.closed_form.bernoulli_map(x, prior)["prob"])
        rows.append(row(label, exact, optimise(prior, exact)))
    opt_err = max(abs(r["θ optimiser"] - r["θ closed form"]) for r in rows
                  if r["θ optimiser"] is not None)  # fmt: skip
    return rows, opt_err


# ------------------------------------------------------------------------------------------
# Question 2: the fully Bayesian predictive under the uniform prior


def uniform_predictive(x: jax.Array) -> dict:
    """Posterior Beta(1 + k, 1 + n − k) under U(0, 1) = Beta(1, 1), and its predictives."""
    post = jaxmle.closed_form.beta_bernoulli_posterior(x, 1.0, 1.0)
    a, b = float(post.a), float(post.b)
    return {"a": a, "b": b,
            "p_head": float(jaxmle.closed_form.posterior_predictive(x, 1.0, 1.0)),
            "p_two_tails": b * (b + 1) / ((a + b) * (a + b + 1))}  # fmt: skip


def answer_bullets(rows: list[dict], pred: dict, n: int, k: int, spread: float) -> list[str]:
    """The notebook's three answers and the Bayesian comparison, from the estimates."""
    mle, th_sd, th_var = (rows[i]["θ closed form"] for i in range(3))
    th_unif = rows[5]["θ closed form"]
    sd_label, var_label = rows[1]["prior"], rows[2]["prior"]
    p2 = pred["p_two_tails"]
    closer = "above" if p2 > (1 - mle) ** 2 else "below" if p2 < (1 - mle) ** 2 else "equal to"
    return [
        f"MLE: θ = k/n = {k}/{n} = **{mle:.15g}**.",
        f"Prior {sd_label} ({spread} read as the standard deviation): θ_MAP = **{th_sd:.15g}**, "
        f"so P(x{n + 1}=0, x{n + 2}=0 | θ_MAP) = (1 − θ_MAP)² = **{(1 - th_sd) ** 2:.15g}**.",
        f"Prior {var_label} ({spread} read as the variance): θ_MAP = **{th_var:.15g}**"
        + (" (= 1/√5)" if abs(th_var - 5**-0.5) < 1e-12 else "")
        + f", so P(x{n + 1}=0, x{n + 2}=0 | θ_MAP) = **{(1 - th_var) ** 2:.15g}**.",
        f"Uniform prior: the posterior is Beta({pred['a']:g}, {pred['b']:g}) and "
        f"P(x{n + 1}=1 | D) = (k+1)/(n+2) = {k + 1}/{n + 2} = **{pred['p_head']:.15g}** "
        f"(Laplace's rule of succession). The plug-in MAP under U(0,1) is "
        + (
            f"the MLE {mle:.6g}"
            if th_unif == mle
            else f"{th_unif:.15g} ({abs(th_unif - mle):.1e} from the MLE {mle:.15g})"
        )
        + ": the predictive averages over θ instead of plugging in its mode.",
        f"For comparison, the fully Bayesian P(x{n + 1}=0, x{n + 2}=0 | D) under U(0,1) is "
        f"b(b+1)/((a+b)(a+b+1)) = {p2:.15g}, {closer} the plug-in (1 − MLE)² = "
        f"{(1 - mle) ** 2:.6g} (by {abs(p2 - (1 - mle) ** 2):.3g}).",
    ]


def shrinkage_sentence(rows: list[dict], prior_loc: float, spread: float) -> str:
    """How far each Gaussian reading pulls θ from the MLE, and how close the matched Beta is."""
    mle, th_sd, th_var, _, th_beta_m = (rows[i]["θ closed form"] for i in range(5))
    pull_sd, pull_var = abs(th_sd - mle), abs(th_var - mle)
    towards = all(abs(t - prior_loc) <= abs(mle - prior_loc) for t in (th_sd, th_var))
    narrow, wide = ((f"σ = {spread}", f"σ² = {spread}") if spread**2 < spread else
                    (f"σ² = {spread}", f"σ = {spread}"))  # fmt: skip
    pull_narrow, pull_wide = (pull_sd, pull_var) if spread**2 < spread else (pull_var, pull_sd)
    s = (
        f"The Gaussian prior moves θ from the MLE {mle:.4f} "
        + (f"towards its mean {prior_loc}" if towards else "(not always towards its mean)")
        + f": by {pull_sd:.4f} when {spread} is σ and by {pull_var:.4f} when it is σ²; the "
        f"narrower reading ({narrow}) pulls "
        + (
            "harder"
            if pull_narrow > pull_wide
            else "less hard"
            if pull_narrow < pull_wide
            else "as hard"
        )
        + f" than the wider ({wide}). "
    )
    s += (
        "The Gaussian-prior MAP is the root in (0, 1) of the cubic "
        "k(1−θ)s² − (n−k)θs² − θ(1−θ)(θ−μ₀) = 0 (s² the prior variance); a Beta(a, b) prior "
        "gives the closed form (k+a−1)/(n+a+b−2). "
    )
    gap = abs(th_beta_m - th_sd)
    s += (
        f"The moment-matched Beta prior's MAP {th_beta_m:.4f} is {gap:.4f} from the σ = "
        f"{spread} Gaussian's {th_sd:.4f}, "
        + ("a small fraction" if gap < 0.25 * pull_sd else "a sizeable part")
        + f" of that prior's pull ({pull_sd:.4f}): on (0, 1) the two priors are "
        + ("nearly the same shape." if gap < 0.25 * pull_sd else "noticeably different.")
    )
    return s


# ------------------------------------------------------------------------------------------
# The figure


def posterior_figure(x: jax.Array, priors: dict, rows: list[dict], data: str):
    """Left: likelihood and priors; right: posteriors with θ_MAP (dotted). Legends below."""
    from jaxmle import plot

    @jax.jit  # one program for every curve (eager operations compile one by one)
    def curves(x):
        t = jnp.linspace(1e-3, 1 - 1e-3, 999, dtype=x.dtype)
        ll = jax.vmap(lambda p: Bernoulli().log_prob({"prob": p}, x).sum())(t)
        return t, ll, [prior.log_prob(t) for prior in priors.values()]

    t, ll, logp = jax.tree_util.tree_map(np.asarray, curves(x))
    n, k = int(x.shape[0]), int(np.asarray(x).sum())

    def normalised(logd):
        d = np.exp(np.asarray(logd, np.float64) - np.max(logd))
        return d / np.trapezoid(d, np.asarray(t, np.float64))

    fig, (left, right) = plot.panels(2, figsize=(11, 5.6))
    left.plot(t, normalised(ll), "k-", lw=2, label="likelihood (normalised)")
    for i, label in enumerate(list(priors)[:4]):
        left.plot(t, normalised(logp[i]), f"C{i}--", label=f"prior {label}")
    left.set(xlabel="θ", ylabel="density on (0, 1)", title=f"Likelihood and priors, D = {data}")
    for i, label in enumerate(priors):
        right.plot(t, normalised(ll + logp[i]), f"C{i}-", label=f"posterior, {label}")
        right.axvline(rows[i + 1]["θ closed form"], color=f"C{i}", lw=0.8, ls=":")
    right.axvline(rows[0]["θ closed form"], color="k", lw=1, ls="--", label=f"MLE {k}/{n}")
    right.set(xlabel="θ", ylabel="posterior density", title="Posteriors (dotted: θ_MAP)")
    for ax in (left, right):  # below the axes: inside, the legend covered the peaks
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2)
        ax.grid(True, alpha=0.3)
    return fig


# ------------------------------------------------------------------------------------------


def run(ctx, data: str = "0011001", prior_loc: float = 0.5, prior_spread: float = 0.1) -> dict:
    check_options(data, prior_loc, prior_spread)
    x = jnp.asarray([int(c) for c in data], dtype=jnp.result_type(float))
    n, k = int(x.shape[0]), int(sum(int(c) for c in data))
    rep = Report(ctx, "Bernoulli MLE and MAP: the notebook's coin",
                 source="notebook 003, theory Task 3",
                 question=f"D = ({', '.join(data)}). With prior p(θ) = N({prior_loc}, "
                 f"{prior_spread}), what is θ_MAP, and P(x{n + 1} = 0, x{n + 2} = 0 | θ_MAP)? "
                 f"With p(θ) = U(0, 1), what is P(x{n + 1} = 1 | D)?")  # fmt: skip
    priors = _priors(prior_loc, prior_spread)
    rows, opt_err = map_under_each_prior(x, priors, ctx.quick)
    pred = uniform_predictive(x)

    rep.section("Answers")
    rep.bullets(answer_bullets(rows, pred, n, k, prior_spread))
    rep.text(shrinkage_sentence(rows, prior_loc, prior_spread))
    rep.section("All priors: closed form vs optimiser")
    rep.table(rows, digits=12)
    rep.text(f"Largest |optimiser − closed form| over the rows fitted: {opt_err:.2e} (L-BFGS "
             "with a backtracking line search, 30 steps, on the negative log posterior in "
             "logit space" + ("; quick mode fits the Gaussian priors only" if ctx.quick else "")
             + ").")  # fmt: skip
    rep.figure(
        "likelihood_prior_posterior",
        lambda: posterior_figure(x, priors, rows, data),
        "Likelihood, priors and posteriors of θ.",
    )
    a_m, b_m = _moment_matched_beta(prior_loc, prior_spread**2)
    th = [r["θ closed form"] for r in rows]
    results = {
        "n": n, "k": k, "mle": th[0],
        "map_normal_sd": th[1], "p_two_tails_map_normal_sd": (1 - th[1]) ** 2,
        "map_normal_var": th[2], "p_two_tails_map_normal_var": (1 - th[2]) ** 2,
        "map_beta22": th[3], "map_beta_matched": th[4], "beta_matched": [a_m, b_m],
        "map_uniform": th[5],
        "p_head_uniform_predictive": pred["p_head"],
        "p_two_tails_uniform_predictive": pred["p_two_tails"],
        "max_optimiser_error": opt_err,
    }  # fmt: skip
    rep.csv("estimates", rows)
    rep.write(results, {"data": data, "prior_loc": prior_loc, "prior_spread": prior_spread})
    return results


if __name__ == "__main__":
    script_main(__name__)
