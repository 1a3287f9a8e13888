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


def run(ctx, data: str = "0011001", prior_loc: float = 0.5, prior_spread: float = 0.1) -> dict:
    check_options(data, prior_loc, prior_spread)
    x = jnp.asarray([int(c) for c in data], dtype=jnp.result_type(float))
    n, k = int(x.shape[0]), int(x.sum())
    rep = Report(ctx, "Bernoulli MLE and MAP: the notebook's coin",
                 source="notebook 003, theory Task 3",
                 question=f"D = ({', '.join(data)}). With prior p(θ) = N({prior_loc}, "
                 f"{prior_spread}), what is θ_MAP, and P(x{n + 1} = 0, x{n + 2} = 0 | θ_MAP)? "
                 f"With p(θ) = U(0, 1), what is P(x{n + 1} = 1 | D)?")  # fmt: skip

    a_m, b_m = _moment_matched_beta(prior_loc, prior_spread**2)
    priors = {
        f"N({prior_loc}, σ={prior_spread})": Normal(prior_loc, scale=prior_spread),
        f"N({prior_loc}, σ²={prior_spread})": Normal(prior_loc, variance=prior_spread),
        "Beta(2, 2)": Beta(2.0, 2.0),
        f"Beta({a_m:.4g}, {b_m:.4g}) (moments of N(σ={prior_spread}))": Beta(a_m, b_m),
        "U(0, 1)": Uniform(0.0, 1.0),
    }
    # One optimiser instance for every fit: fits of models with the same prior family then
    # share one compiled program (the prior's numbers are traced, its type is not).
    opt = optax.lbfgs(linesearch=optax.scale_by_backtracking_linesearch(max_backtracking_steps=30))
    rows, fits = [], {}
    mle = float(jaxmle.closed_form.bernoulli_mle(x)["prob"])

    def optimise(prior, exact):
        # Quick mode checks the notebook's Gaussian prior only (both readings share one program).
        if ctx.quick and not isinstance(prior, Normal):
            return None
        model = Bernoulli(prior={"prob": prior})
        return jaxmle.fit(model, {"prob": jnp.asarray(0.5)}, x, optimizer=opt, steps=30,
                          reference={"prob": jnp.asarray(exact)}, tol=1e-9)  # fmt: skip

    # The MLE maximises the likelihood alone, i.e. the posterior under the flat prior U(0, 1).
    fit0 = optimise(Uniform(0.0, 1.0), mle)
    rows.append({"prior": "none (MLE)", "θ closed form": mle,
                 "θ optimiser": None if fit0 is None else float(fit0.params["prob"]),
                 "P(next two tails | θ)": (1 - mle) ** 2, "P(next head | θ)": mle})  # fmt: skip
    for label, prior in priors.items():
        exact = float(jaxmle.closed_form.bernoulli_map(x, prior)["prob"])
        run_ = optimise(prior, exact)
        fits[label] = run_
        rows.append({"prior": label, "θ closed form": exact,
                     "θ optimiser": None if run_ is None else float(run_.params["prob"]),
                     "P(next two tails | θ)": (1 - exact) ** 2,
                     "P(next head | θ)": exact})  # fmt: skip
    opt_err = max(abs(r["θ optimiser"] - r["θ closed form"]) for r in rows
                  if r["θ optimiser"] is not None)

    # Fully Bayesian answers under the uniform prior (= Beta(1, 1)): posterior Beta(1+k, 1+n-k).
    post = jaxmle.closed_form.beta_bernoulli_posterior(x, 1.0, 1.0)
    a, b = float(post.a), float(post.b)
    p_head = float(jaxmle.closed_form.posterior_predictive(x, 1.0, 1.0))
    p_two_tails = b * (b + 1) / ((a + b) * (a + b + 1))

    sd_label, var_label = list(priors)[:2]
    th_sd = rows[1]["θ closed form"]
    th_var = rows[2]["θ closed form"]
    rep.section("Answers")
    rep.bullets([
        f"MLE: θ = k/n = {k}/{n} = **{mle:.15g}**.",
        f"Prior {sd_label} (0.1 read as the standard deviation): θ_MAP = **{th_sd:.15g}**, so "
        f"P(x{n + 1}=0, x{n + 2}=0 | θ_MAP) = (1 − θ_MAP)² = **{(1 - th_sd) ** 2:.15g}**.",
        f"Prior {var_label} (0.1 read as the variance): θ_MAP = **{th_var:.15g}**"
        + (" (= 1/√5)" if abs(th_var - 5**-0.5) < 1e-12 else "")
        + f", so P(x{n + 1}=0, x{n + 2}=0 | θ_MAP) = **{(1 - th_var) ** 2:.15g}**.",
        f"Uniform prior: the posterior is Beta({a:g}, {b:g}) and P(x{n + 1}=1 | D) = "
        f"(k+1)/(n+2) = {k + 1}/{n + 2} = **{p_head:.15g}** (Laplace's rule of succession). "
        f"The plug-in MAP under U(0,1) is the MLE {mle:.6g}: the predictive averages over θ "
        "instead of plugging in its mode.",
        f"For comparison, the fully Bayesian P(x{n + 1}=0, x{n + 2}=0 | D) under U(0,1) is "
        f"b(b+1)/((a+b)(a+b+1)) = {p_two_tails:.15g}, against (1 − MLE)² = {(1 - mle) ** 2:.6g}.",
    ])  # fmt: skip
    rep.text(
        "The Gaussian prior pulls θ from the MLE towards 0.5; the narrower reading (σ = 0.1) "
        "pulls harder. The Gaussian-prior MAP is the root in (0, 1) of the cubic "
        "k(1−θ)s² − (n−k)θs² − θ(1−θ)(θ−μ₀) = 0 (s² the prior variance); a Beta(a, b) prior "
        "gives the closed form (k+a−1)/(n+a+b−2). The moment-matched Beta prior lands close to "
        "the σ = 0.1 Gaussian: on (0, 1) the two priors are nearly the same shape."
    )
    rep.section("All priors: closed form vs optimiser")
    rep.table(rows, digits=12)
    rep.text(f"Largest |optimiser − closed form| over the rows fitted: {opt_err:.2e} (L-BFGS "
             "with a backtracking line search, 30 steps, on the negative log posterior in "
             "logit space" + ("; quick mode fits the Gaussian priors only" if ctx.quick else "")
             + ").")  # fmt: skip

    def make():
        from jaxmle import plot

        @jax.jit  # one program for every curve (eager operations compile one by one)
        def curves(x):
            t = jnp.linspace(1e-3, 1 - 1e-3, 999, dtype=x.dtype)
            ll = jax.vmap(lambda p: Bernoulli().log_prob({"prob": p}, x).sum())(t)
            return t, ll, [prior.log_prob(t) for prior in priors.values()]

        t, ll, logp = jax.tree_util.tree_map(np.asarray, curves(x))
        fig, axes = plot.panels(2, figsize=(11, 4))

        def normalised(logd):
            d = np.exp(np.asarray(logd) - np.max(np.asarray(logd)))
            return d / np.trapezoid(d, np.asarray(t))

        ax = axes[0]
        ax.plot(t, normalised(ll), "k-", lw=2, label="likelihood (normalised)")
        for i, label in enumerate(list(priors)[:4]):
            ax.plot(t, normalised(logp[i]), f"C{i}--", label=f"prior {label}")
        ax.set(xlabel="θ", ylabel="density on (0, 1)", title=f"Likelihood and priors, D = {data}")
        ax.legend(fontsize=7)
        ax = axes[1]
        for i, label in enumerate(priors):
            ax.plot(t, normalised(ll + logp[i]), f"C{i}-", label=f"posterior, {label}")
            th = rows[i + 1]["θ closed form"]
            ax.axvline(th, color=f"C{i}", lw=0.8, ls=":")
        ax.axvline(mle, color="k", lw=1, ls="--", label=f"MLE {k}/{n}")
        ax.set(xlabel="θ", ylabel="posterior density", title="Posteriors (dotted: θ_MAP)")
        ax.legend(fontsize=7)
        return fig

    rep.figure("likelihood_prior_posterior", make, "Likelihood, priors and posteriors of θ.")
    results = {
        "n": n, "k": k, "mle": mle,
        "map_normal_sd": th_sd, "p_two_tails_map_normal_sd": (1 - th_sd) ** 2,
        "map_normal_var": th_var, "p_two_tails_map_normal_var": (1 - th_var) ** 2,
        "map_beta22": rows[3]["θ closed form"],
        "map_beta_matched": rows[4]["θ closed form"], "beta_matched": [a_m, b_m],
        "map_uniform": rows[5]["θ closed form"],
        "p_head_uniform_predictive": p_head, "p_two_tails_uniform_predictive": p_two_tails,
        "max_optimiser_error": opt_err,
    }  # fmt: skip
    rep.csv("estimates", rows)
    rep.write(results, {"data": data, "prior_loc": prior_loc, "prior_spread": prior_spread})
    return results


if __name__ == "__main__":
    script_main(__name__)
