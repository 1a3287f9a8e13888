"""Linear regression with known noise (notebook 000): closed-form MLE vs optimiser vs the true θ.

Notebook 000 draws an integer design X (100 × 3, entries in [−10, 10]) and an integer θ (entries in
[−8, 8]), sets y = Xθ + ε with "noise_variance = 0.01", and computes the MLE as
``inverse(XᵀX) @ Xᵀ @ Y``. Note that its ``torch.normal(0, noise_variance)`` takes a standard
deviation, so its noise has σ = 0.01 (variance 1e-4); this study reproduces the code exactly and
uses the true σ² = 1e-4 as the known noise variance (σ² does not change θ_ML, only its
covariance σ²(XᵀX)⁻¹).

The closed form is ``jaxmle.closed_form.ols``: a Householder QR solve with refinement, never
an inverse; the notebook's explicit-inverse formula and numpy's ``lstsq`` are computed beside it,
in float64 and float32. An optimiser (``optax.lbfgs`` in ``jaxmle.fit``) reaches the same θ.
Run: ``python experiments/linreg_known_noise.py`` (a few seconds).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxmle
from jaxmle.models import LinearRegression
from jaxmle.report import Option, OptionError, Report, fmt, script_main

ORDER = 1
OPTIONS = [
    Option("n", int, 100, "observations M (notebook: 100)"),
    Option("d", int, 3, "predictors N (notebook: 3)"),
    Option("noise_sd", float, 0.01, "noise standard deviation (the notebook's code: 0.01)"),
]


def check_options(n: int = 100, d: int = 3, noise_sd: float = 0.01) -> None:
    if d < 1:
        raise OptionError("d", d, "an integer >= 1")
    if n < d:
        raise OptionError("n", n, f"an integer >= --d ({d})")
    if not 0 < noise_sd < float("inf"):
        raise OptionError("noise_sd", noise_sd, "a finite number > 0")


def draw(ctx, n: int, d: int, noise_sd: float) -> tuple[jax.Array, jax.Array, jax.Array]:
    """The notebook's integer design X, integer θ and y = Xθ + ε, ε ~ N(0, noise_sd²)."""
    dt = jnp.result_type(float)

    @jax.jit  # one program, not one per eager operation
    def sample(k1, k2, k3):
        X = jax.random.randint(k1, (n, d), -10, 11).astype(dt)
        theta = jax.random.randint(k2, (d,), -8, 9).astype(dt)
        return X, theta, X @ theta + noise_sd * jax.random.normal(k3, (n,), dt)

    return sample(ctx.key(1), ctx.key(2), ctx.key(3))


@jax.jit
def _inverse_formula(X, y):
    """The notebook's formula as written, (XᵀX)⁻¹Xᵀy with an explicit inverse (comparison only)."""
    return jnp.linalg.inv(X.T @ X) @ X.T @ y


@jax.jit
def _float32_solves(X, y):
    """A plain float32 QR solve and the float32 explicit inverse, from the float32 data."""
    X32, y32 = X.astype(jnp.float32), y.astype(jnp.float32)
    q, r = jnp.linalg.qr(X32)
    qr = jax.scipy.linalg.solve_triangular(r, q.T @ y32)
    return X32, y32, qr, jnp.linalg.inv(X32.T @ X32) @ X32.T @ y32


# ------------------------------------------------------------------------------------------
# Question 1: θ_ML three ways (QR closed form, the notebook's inverse, numpy's lstsq)


def closed_form_three_ways(X: jax.Array, y: jax.Array, s2: float) -> dict:
    """θ_ML by ``closed_form.ols`` (QR, standard errors from the known σ²), by the notebook's
    explicit inverse, and by numpy's lstsq (SVD, float64): the independent oracle."""
    cf = jaxmle.closed_form.ols(X, y, intercept=False, noise_variance=s2)
    X64, y64 = np.asarray(X, np.float64), np.asarray(y, np.float64)
    return {
        "cf": cf,
        "qr": np.asarray(cf.params["coef"]),
        "se": np.asarray(cf.stderr["coef"]),
        "inverse": np.asarray(_inverse_formula(X, y)),
        "numpy": np.linalg.lstsq(X64, y64, rcond=None)[0],
        "cond": float(np.linalg.cond(X64)),
    }


def float32_solves(X: jax.Array, y: jax.Array) -> dict:
    """float32 QR and explicit inverse against the exact solution for the rounded data."""
    X32, y32, qr32, inv32 = _float32_solves(X, y)
    ref = np.linalg.lstsq(np.asarray(X32, np.float64), np.asarray(y32, np.float64), rcond=None)[0]
    return {"qr": _rel(qr32, ref), "inverse": _rel(inv32, ref)}


# ------------------------------------------------------------------------------------------
# Question 2: does an optimiser reach the same θ?


def optimiser_fit(X: jax.Array, y: jax.Array, s2: float, cf, steps: int):
    """L-BFGS on the negative mean log-likelihood from θ = 0, traced at every step."""
    model = LinearRegression(noise_variance=s2, intercept=False)
    data = {"X": X, "y": y}
    lbfgs = optax.lbfgs(linesearch=optax.scale_by_backtracking_linesearch(30))
    tol = 1e-9 * float(np.linalg.norm(np.asarray(cf.params["coef"])))
    run = jaxmle.fit(model, model.init(data), data, optimizer=lbfgs, steps=steps,
                     reference=cf.params, tol=tol, record_every=1)  # fmt: skip
    return run, np.asarray(model.init(data)["coef"]), tol


# ------------------------------------------------------------------------------------------
# Question 3: does θ_ML agree with the θ that generated the data?


def compare(theta: np.ndarray, three: dict, theta_opt: np.ndarray):
    """z = (θ_ML − θ)/se, the relative differences between the solutions, and the table rows."""
    theta_hat, se = three["qr"], three["se"]
    z = (theta_hat - theta) / se
    err = {
        "qr_vs_numpy": _rel(theta_hat, three["numpy"]),
        "inverse_vs_numpy": _rel(three["inverse"], three["numpy"]),
        "optimiser_vs_qr": _rel(theta_opt, theta_hat),
        "qr_vs_truth": _rel(theta_hat, theta),
    }
    rows = [{"j": j + 1, "true θ": theta[j], "θ_ML (QR)": theta_hat[j], "std. error": se[j],
             "(θ_ML − θ)/se": z[j], "notebook's inverse formula": three["inverse"][j],
             "numpy lstsq": three["numpy"][j], "L-BFGS": theta_opt[j]}
            for j in range(len(theta))]  # fmt: skip
    return z, err, rows


def _normal_sf2(z: float) -> float:
    """Two-sided normal tail probability P(|Z| > |z|)."""
    return math.erfc(abs(z) / math.sqrt(2.0))


def _level_words(p: float) -> str:
    """What a p-value says at the 5% and 1% levels."""
    if p < 0.01:
        return "significant at the 1% level"
    if p < 0.05:
        return "significant at the 5% level but not at the 1% level"
    return "not significant at the 5% level"


def truth_test_sentence(z: np.ndarray, se: np.ndarray) -> str:
    """The joint χ² test of θ_ML = θ and the individual z's, each with its own conclusion."""
    d = len(z)
    chi2 = float(np.sum(z**2))
    p = _chi2_sf(chi2, d)
    j = int(np.argmax(np.abs(z)))
    p_one = _normal_sf2(float(z[j]))
    p_bonf = min(1.0, d * p_one)
    s = (
        f"The errors in units of the standard errors σ·sqrt(diag (XᵀX)⁻¹) ≈ {fmt(se.mean(), 3)} "
        f"are z = {fmt(z, 3)}: for an unbiased estimator with covariance σ²(XᵀX)⁻¹ these are "
        f"standard normal draws. Jointly, Σz² = {chi2:.2f} is a χ²({d}) draw with upper tail "
        f"probability p = {p:.3g}: {_level_words(p)}"
        + (
            " (evidence against the theory at that level)"
            if p < 0.05
            else " (no evidence against the theory)"
        )
        + ". "
    )
    if d > 1:
        s += (
            f"Individually, the largest |z| = {abs(z[j]):.2f} (coefficient {j + 1}) has a "
            f"two-sided p = {p_one:.2g}, {p_bonf:.2g} after a Bonferroni correction for {d} "
            f"coefficients: {_level_words(p_bonf)}."
        )
    else:
        s += f"(With one coefficient the joint test is the two-sided z test, p = {p_one:.3g}.)"
    return s


def agreement_sentence(err: dict) -> str:
    """How closely the closed form, numpy and L-BFGS agree."""
    return (
        "The closed form agrees with numpy's lstsq to "
        f"{err['qr_vs_numpy']:.1e} and L-BFGS with the closed form to "
        f"{err['optimiser_vs_qr']:.1e} (largest relative difference, max|Δ|/max|θ|)."
    )


def conditioning_sentence(cond: float, err: dict, f32: dict, dtype: str) -> str:
    """QR vs the explicit inverse, judged against κ·eps and κ²·eps of the run's dtype."""
    eps = float(np.finfo(dtype).eps)
    bound_inv = cond**2 * eps
    acc = [name for name, v in (("the QR solve", err["qr_vs_numpy"]),
                                ("the explicit inverse", err["inverse_vs_numpy"]))
           if v <= 100 * bound_inv]  # fmt: skip
    s = (
        f"Why QR and not the inverse: the notebook's (XᵀX)⁻¹Xᵀy squares the condition number "
        f"(κ(X) = {cond:.3g}, κ(XᵀX) = {cond**2:.3g}); a QR solve's error grows like κ·eps, "
        f"the inverse's like κ²·eps. This run computes in {dtype} (eps = {eps:.1e}, κ²·eps = "
        f"{bound_inv:.1e}): against numpy's float64 lstsq the QR solve is "
        f"{err['qr_vs_numpy']:.1e} off and the inverse {err['inverse_vs_numpy']:.1e}, "
    )
    if len(acc) == 2:
        s += "both within 100·κ²·eps: on this well-conditioned design both are accurate."
    elif acc:
        s += f"and only {acc[0]} is within 100·κ²·eps."
    else:
        s += "neither within 100·κ²·eps."
    if f32:
        s += (
            f" In float32 (from the same data, rounded) a QR solve is {f32['qr']:.1e} from "
            f"the exact solution for the float32 data and the explicit inverse "
            f"{f32['inverse']:.1e}"
            + (
                " (the inverse is worse)."
                if f32["inverse"] > f32["qr"]
                else " (here no worse than QR)."
            )
        )
    return s + " The gap opens on ill-conditioned designs, where κ² approaches 1/eps."


def lbfgs_sentence(run, steps: int) -> str:
    """When L-BFGS came within the tolerance, and whether it stayed there."""
    k = int(run.steps_to_tol)
    s = (
        f"L-BFGS (optax, backtracking line search): {steps} steps from θ = 0 on the negative "
        "mean log-likelihood; "
    )
    if k < 0:
        return s + (
            f"it did not come within relative distance 1e-9 of the closed form "
            f"(final distance {float(run.distance):.1e})."
        )
    return s + (
        f"it came within relative distance 1e-9 of the closed form after {k} steps "
        + (
            "and was still within it at the last step (converged)."
            if bool(run.converged)
            else "but was no longer within it at the last step (not converged)."
        )
    )


# ------------------------------------------------------------------------------------------
# The figure


def convergence_figure(run, theta0: np.ndarray, theta_hat: np.ndarray, tol: float):
    """‖θ_t − θ_ML‖ against the step, from the start (step 0); exact zeros not drawn."""
    from jaxmle import plot

    steps = np.concatenate([[0], np.asarray(run.trace.step)])
    path = np.vstack([theta0, np.asarray(run.trace.params["coef"])])
    dist = np.linalg.norm(path - theta_hat, axis=1)
    fig, (ax,) = plot.panels(1, figsize=(7.0, 4.6))
    nz = dist > 0
    ax.semilogy(steps, np.where(nz, dist, np.nan), "-", marker=".", color="C0",
                label="L-BFGS ‖θ_t − θ_ML‖" + (f" ({int((~nz).sum())} exact 0s not drawn)"
                                               if (~nz).any() else ""))  # fmt: skip
    ax.axhline(tol, color="0.3", ls="--", lw=0.9, label=f"tolerance {tol:.1e}")
    ax.set(xlabel="L-BFGS step (0: the start θ = 0)", ylabel="distance to the closed-form MLE",
           title="Optimiser vs closed form (notebook 000 data)")  # fmt: skip
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return fig


# ------------------------------------------------------------------------------------------


def run(ctx, n: int = 100, d: int = 3, noise_sd: float = 0.01) -> dict:
    check_options(n, d, noise_sd)
    rep = Report(ctx, "Linear regression with known noise: the MLE three ways",
                 source="notebook 000",
                 question="For y = xᵀθ + ε with ε ~ N(0, σ²) and σ² known, what is θ_ML, and "
                 "does the closed form θ = (XᵀX)⁻¹Xᵀy agree with a numerical optimiser and with "
                 "the θ that generated the data?")  # fmt: skip
    X, theta, y = draw(ctx, n, d, noise_sd)
    s2 = noise_sd**2
    three = closed_form_three_ways(X, y, s2)
    steps = 40 if ctx.quick else 100
    opt, theta0, tol = optimiser_fit(X, y, s2, three["cf"], steps)
    theta_opt = np.asarray(opt.params["coef"])
    # (jaxmle's ols computes in float64 whenever x64 is on: a plain float32 QR beside it.)
    f32 = float32_solves(X, y) if ctx.x64 else {}
    theta_n, theta_hat, se = np.asarray(theta, np.float64), three["qr"], three["se"]
    z, err, rows = compare(theta_n, three, theta_opt)
    dtype = np.dtype(X.dtype).name

    rep.section("Answer")
    rep.text(f"θ_ML = {fmt(theta_hat, 8)} for the true θ = {fmt(theta_n, 3)}. "
             + truth_test_sentence(z, se) + " " + agreement_sentence(err),
             conditioning_sentence(three["cond"], err, f32, dtype))  # fmt: skip
    rep.table(rows, digits=10)
    rep.table([{"comparison": k.replace("_", " "), "max relative difference": v}
               for k, v in err.items()] + [{"comparison": f"float32 {k} vs exact",
                                            "max relative difference": v}
                                           for k, v in f32.items()])  # fmt: skip
    rep.text(lbfgs_sentence(opt, steps))
    rep.figure(
        "optimiser_convergence",
        lambda: convergence_figure(opt, theta0, theta_hat, tol),
        "L-BFGS distance to the closed-form MLE, from the start.",
    )
    rep.csv("coefficients", rows)
    chi2 = float(np.sum(z**2))
    results = {
        "theta_true": theta_n, "theta_ml": theta_hat, "theta_inverse": three["inverse"],
        "theta_numpy": three["numpy"], "theta_optimiser": theta_opt, "stderr": se,
        "max_abs_z": float(np.max(np.abs(z))), "chi2": chi2, "chi2_p": _chi2_sf(chi2, d),
        "cond_X": three["cond"], "method": three["cf"].method,
        "optimiser_converged": bool(opt.converged), "optimiser_steps_to_tol": int(opt.steps_to_tol),
        **{f"rel_{k}": v for k, v in err.items()},
        **{f"float32_rel_{k}": v for k, v in f32.items()},
    }  # fmt: skip
    rep.write(results, {"n": n, "d": d, "noise_sd": noise_sd})
    return results


def _chi2_sf(x: float, k: int) -> float:
    """Upper tail of the χ² distribution with k degrees of freedom (series for the CDF)."""
    # P(k/2, x/2) = e^{-x/2} (x/2)^{k/2} Σ_j (x/2)^j / Γ(k/2 + j + 1)
    a, h = k / 2, x / 2
    term = math.exp(-h + a * math.log(h) - math.lgamma(a + 1)) if x > 0 else 0.0
    total, j = 0.0, 0
    while term > 1e-17 * max(total, 1e-300) and j < 10_000:
        total += term
        j += 1
        term *= h / (a + j)
    return max(0.0, 1.0 - total)


def _rel(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


if __name__ == "__main__":
    script_main(__name__)
