"""jaxmle.models.custom: a user's own likelihood as a Model, against independent references.

Negative binomial (NB2) regression on statsmodels' randhie data against
``statsmodels.discrete.discrete_model.NegativeBinomial`` (params and bse to 1e-8 relative);
the standard errors of a positive parameter against the delta method applied by hand to a fit
of the unconstrained log-likelihood (1e-8); a Weibull against scipy's ``weibull_min.fit``
(tightened, 1e-7) and the exact root of its profile equation (1e-12); labels from ``names``;
no recompilation for a model rebuilt from the same functions; clear errors.
"""


import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.scipy.special import gammaln
from scipy import optimize, stats

import jaxmle
from _compiles import compiles
from jaxmle import inference
from jaxmle.models import Normal, custom, positive, real

sm = pytest.importorskip("statsmodels.api")


def rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / np.abs(b)))


# --------------------------------------------------------------------------------------------
# Negative binomial (NB2) regression on randhie.


def nb2(p, d):
    """log NB2(y | μ = exp(Xβ), α): Var(y) = μ + αμ²."""
    mu = jnp.exp(d["X"] @ p["coef"])
    r = 1.0 / p["alpha"]
    y = d["y"]
    return (gammaln(y + r) - gammaln(r) - gammaln(y + 1.0) + r * jnp.log(r / (r + mu))
            + y * jnp.log(mu / (r + mu)))  # fmt: skip


def nb2_init(d):
    return {"coef": jnp.zeros(d["X"].shape[1]), "alpha": 1.0}


@pytest.fixture(scope="module")
def randhie():
    d = sm.datasets.randhie.load_pandas()
    rows = slice(0, 400)  # a subset keeps the test quick
    X = sm.add_constant(d.exog.to_numpy(float)[rows])
    y = d.endog.to_numpy(float)[rows]
    return {"X": X, "y": y}, ["const", *d.exog.columns]


def nb_model(names):
    return custom(nb2, constraints={"alpha": positive}, init=nb2_init, names={"coef": names})


@pytest.fixture(scope="module")
def nb_fit(randhie):
    data, names = randhie
    return jaxmle.mle(nb_model(names), data)


@pytest.fixture(scope="module")
def nb_ref(randhie):
    from statsmodels.discrete.discrete_model import NegativeBinomial

    data, _ = randhie
    # Newton with its analytic Hessian, to a tolerance far below the comparison's.
    return NegativeBinomial(data["y"], data["X"], loglike_method="nb2").fit(
        method="newton", tol=1e-14, maxiter=200, disp=0
    )


def test_nb2_matches_statsmodels(nb_fit, nb_ref):
    assert bool(nb_fit.converged) and nb_fit.method == "newton"
    p, se = nb_fit.params, nb_fit.stderr
    assert rel(np.append(p["coef"], p["alpha"]), nb_ref.params) < 1e-8
    assert rel(np.append(se["coef"], se["alpha"]), nb_ref.bse) < 1e-8
    assert rel(nb_fit.loglik, nb_ref.llf) < 1e-12
    assert rel(nb_fit.summary.aic, nb_ref.aic) < 1e-12  # 11 parameters counted by both


def test_names_are_the_summary_row_labels(nb_fit, randhie):
    data, names = randhie
    s = nb_fit.summary
    assert s.labels == ("alpha", *names)  # params flatten in sorted key order
    assert s.model_name == "custom(nb2)"
    text = str(s)
    for label in names:
        assert f"\n{label} " in text
    df = s.to_dataframe()
    assert list(df.index) == ["alpha", *names]
    again = inference.summary(nb_model(names), nb_fit, data)  # the public summary too
    assert again.labels == s.labels
    np.testing.assert_allclose(again.stderr, s.stderr, rtol=1e-10)
    assert inference.param_labels(nb_fit.params, nb_model(names)) == s.labels


def test_se_of_a_positive_parameter_is_the_delta_method(nb_fit, randhie):
    """SEs are for α itself: exp(u)·se(u) from a fit of the log-likelihood in u = log α."""
    data, _ = randhie

    def in_log_alpha(p, d):
        return nb2({"coef": p["coef"], "alpha": jnp.exp(p["log_alpha"])}, d)

    start = {"coef": np.zeros(data["X"].shape[1]), "log_alpha": 0.0}
    u = jaxmle.mle(in_log_alpha, data, start)
    assert bool(u.converged)
    alpha = np.exp(float(u.params["log_alpha"]))
    assert rel(nb_fit.params["alpha"], alpha) < 1e-10
    assert rel(nb_fit.stderr["alpha"], alpha * float(u.stderr["log_alpha"])) < 1e-8
    assert rel(nb_fit.stderr["coef"], u.stderr["coef"]) < 1e-8  # the β block is unchanged


def test_rebuilt_model_compiles_nothing(nb_fit, randhie):
    data, names = randhie
    with compiles() as c:
        again = jaxmle.mle(nb_model(names), {"X": data["X"], "y": data["y"] + 0.0})
    assert c["n"] == 0
    np.testing.assert_array_equal(again.params["coef"], nb_fit.params["coef"])


# --------------------------------------------------------------------------------------------
# Weibull: two positive parameters.


def weibull(p, x):
    z = x / p["scale"]
    return jnp.log(p["shape"] / p["scale"]) + (p["shape"] - 1.0) * jnp.log(z) - z ** p["shape"]


WEIBULL = custom(weibull, constraints={"shape": positive, "scale": positive},
                 init={"shape": 1.0, "scale": 1.0})  # fmt: skip


@pytest.fixture(scope="module")
def weibull_sample():
    return stats.weibull_min.rvs(1.7, scale=3.0, size=150, random_state=np.random.default_rng(0))


def _tight(func, x0, args=(), disp=0):
    return optimize.fmin(func, x0, args=args, xtol=1e-13, ftol=1e-15, maxiter=20_000,
                         maxfun=40_000, disp=0)  # fmt: skip


def test_weibull_matches_scipy(weibull_sample):
    x = weibull_sample
    res = jaxmle.mle(WEIBULL, x)
    assert bool(res.converged)
    k, lam = float(res.params["shape"]), float(res.params["scale"])
    c, loc, scale = stats.weibull_min.fit(x, floc=0, optimizer=_tight)
    assert loc == 0 and rel([k, lam], [c, scale]) < 1e-7
    # The exact MLE: the root of the profile equation in the shape, then the scale.
    lx = np.log(x)
    k0 = optimize.brentq(lambda k: np.sum(x**k * lx) / np.sum(x**k) - 1 / k - lx.mean(),
                         0.1, 10.0, xtol=1e-15, rtol=1e-15)  # fmt: skip
    assert rel([k, lam], [k0, np.mean(x**k0) ** (1 / k0)]) < 1e-12
    # Standard errors: the inverse of a finite-difference Hessian of scipy's log-likelihood.
    from statsmodels.tools.numdiff import approx_hess3

    hess = approx_hess3(np.array([k, lam]), lambda t: stats.weibull_min.logpdf(
        x, t[0], scale=t[1]).sum())  # fmt: skip
    se = np.sqrt(np.diag(np.linalg.inv(-hess)))
    assert rel([res.stderr["shape"], res.stderr["scale"]], se) < 1e-6
    assert res.summary.labels == ("scale", "shape") and res.summary.n_params == 2


def test_fit_runs_a_custom_model(weibull_sample):
    run = jaxmle.fit(WEIBULL, WEIBULL.init(weibull_sample), weibull_sample,
                     optimizer=optax.adam(0.05), steps=3_000)  # fmt: skip
    best = jaxmle.mle(WEIBULL, weibull_sample).params
    assert bool(jaxmle.check(run.params, best, rtol=1e-3).ok)


def test_params0_overrides_init_and_a_prior_gives_the_map():
    x = np.array([1.0, 2.0, 3.0, 6.0])

    def normal(p, x):
        return jax.scipy.stats.norm.logpdf(x, p["mean"], 2.0)

    model = custom(normal, init={"mean": 0.0}, prior={"mean": Normal(10.0, scale=1.0)})
    with pytest.warns(UserWarning, match="curvature of the log posterior"):
        res = jaxmle.mle(model, x, params0={"mean": 5.0})
    # Conjugate: (n x̄/σ² + m/τ²)/(n/σ² + 1/τ²) = (3 + 10)/(1 + 1).
    np.testing.assert_allclose(res.params["mean"], 6.5, rtol=1e-12)


def test_callable_init_learns_the_real_parameters():
    x = np.array([1.0, 2.0, 3.0, 6.0])

    def normal(p, x):
        return jax.scipy.stats.norm.logpdf(x, p["mean"], jnp.sqrt(p["var"]))

    model = custom(normal, constraints={"var": positive},
                   init=lambda x: {"mean": jnp.mean(x), "var": jnp.var(x) + 1.0})  # fmt: skip
    assert model.param_names == ("var",)  # before it has seen data: the declared ones
    res = jaxmle.mle(model, x)
    assert model.constraints == {"var": positive, "mean": real}
    np.testing.assert_allclose([res.params["mean"], res.params["var"]], [3.0, 3.5], rtol=1e-12)
    s = inference.summary(model, res.params, x)
    assert s.labels == ("mean", "var")  # sorted keys
    np.testing.assert_allclose(s.stderr, [np.sqrt(3.5 / 4), np.sqrt(2 * 3.5**2 / 4)], rtol=1e-10)


# --------------------------------------------------------------------------------------------
# Errors.


def test_constraints_and_names_must_fit_the_params():
    with pytest.raises(jaxmle.InputError, match=r"`constraints` names \['sigma'\]"):
        custom(weibull, constraints={"sigma": positive}, init={"shape": 1.0, "scale": 1.0})
    with pytest.raises(jaxmle.InputError, match=r"`constraints\['shape'\]` must be a constraint"):
        custom(weibull, constraints={"shape": "positive"}, init={"shape": 1.0, "scale": 1.0})
    with pytest.raises(jaxmle.InputError, match=r"`names\['coef'\]` has 2 labels.*3 entries"):
        custom(nb2, init={"coef": np.zeros(3), "alpha": 1.0}, names={"coef": ["a", "b"]})
    with pytest.raises(jaxmle.InputError, match=r"`names\['coef'\]` must be a list"):
        custom(nb2, init={"coef": np.zeros(3), "alpha": 1.0}, names={"coef": "const"})
    with pytest.raises(jaxmle.InputError, match=r"`init\['alpha'\]` = -1.0 is outside"):
        custom(nb2, constraints={"alpha": positive}, init={"coef": np.zeros(3), "alpha": -1.0})
    with pytest.raises(jaxmle.InputError, match="has no parameters"):
        custom(nb2)


def test_errors_found_when_the_model_first_sees_data(randhie):
    data, names = randhie
    wrong = custom(nb2, constraints={"alpa": positive}, init=nb2_init)  # a typo
    with pytest.raises(jaxmle.InputError, match=r"`constraints` names \['alpa'\].*init\(data\)"):
        jaxmle.mle(wrong, data)
    short = custom(nb2, constraints={"alpha": positive}, init=nb2_init, names={"coef": names[:3]})
    with pytest.raises(jaxmle.InputError, match=r"`names\['coef'\]` has 3 labels.*10 entries"):
        jaxmle.mle(short, data)
    no_start = custom(nb2, constraints={"alpha": positive, "coef": real})
    with pytest.raises(jaxmle.InputError, match="no starting point: pass params0"):
        jaxmle.mle(no_start, data)


def test_a_summed_log_prob_is_refused(weibull_sample):
    def summed(p, x):
        return jnp.sum(weibull(p, x))

    model = custom(summed, constraints={"shape": positive, "scale": positive},
                   init={"shape": 1.0, "scale": 1.0})  # fmt: skip
    at = {"shape": 1.7, "scale": 3.2}
    for call in (lambda: jaxmle.mle(model, weibull_sample),
                 lambda: inference.summary(model, at, weibull_sample)):  # fmt: skip
        with pytest.raises(jaxmle.InputError, match=r"per observation.*got shape \(\)"):
            call()


def test_simplex_standard_errors_are_along_the_simplex():
    """Category probabilities (``simplex``): the multinomial covariance ``(diag(p) − ppᵀ)/n``.

    The natural-space inverse information ignored the sum to 1 (standard errors √(p/n),
    12–46% too large here) and AIC counted K parameters; K − 1 are free.
    """
    from jaxmle.models import simplex

    rng = np.random.default_rng(7)
    y = rng.choice(3, size=500, p=[0.2, 0.3, 0.5])
    m = custom(lambda p, y: jnp.log(p["p"])[y], constraints={"p": simplex},
               init={"p": np.ones(3) / 3})  # fmt: skip
    res = jaxmle.mle(m, y)
    phat = np.bincount(y, minlength=3) / 500
    exact = (np.diag(phat) - np.outer(phat, phat)) / 500
    assert int(res.status) == 0
    np.testing.assert_allclose(res.params["p"], phat, rtol=1e-10)
    np.testing.assert_allclose(res.stderr["p"], np.sqrt(np.diag(exact)), rtol=1e-9)
    np.testing.assert_allclose(res.summary.cov, exact, rtol=1e-8, atol=1e-15)
    ll = float(np.sum(np.bincount(y) * np.log(phat)))
    assert res.summary.n_params == 2 and abs(float(res.summary.aic) - (-2 * ll + 4)) < 1e-9
    outer = inference.summary(m, res.params, y, cov_type="outer")  # Σ sᵢsᵢᵀ: the same here
    np.testing.assert_allclose(outer.cov, exact, rtol=1e-8, atol=1e-15)
    assert int(outer.status) == 0
