"""The GLM engine (jaxmle._irls.irls, jaxmle._families) against statsmodels 0.15.

Oracles are statsmodels' GLM fits on the datasets it ships, solved tightly: IRLS with
``tol=1e-15`` (its default 1e-8 on the deviance change stops with the coefficients ~1e-5 of a
standard error short). For the non-canonical links (probit, cloglog) statsmodels' IRLS still
stops ~1e-9 relative short even then (a deviance change below 1e-15 is a coefficient error of
~1e-8 standard errors): there the oracle is statsmodels' Newton fit, with its IRLS restarted at
that optimum for the expected-information standard errors, and a test shows which is the score
root. Everything is compared at 1e-8 relative.
"""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import statsmodels.api as sm
from statsmodels.discrete.discrete_model import NegativeBinomial as SMNegativeBinomial

import jaxmle
import jaxmle.families as F  # noqa: N812 - as sm.families
from _compiles import compiles
from jaxmle import InputError, Status
from jaxmle._glm_model import GLM
from jaxmle._irls import GLMFit, irls

RTOL = 1e-8
SM_TIGHT = {"tol": 1e-15, "maxiter": 300}
L = sm.families.links

pytestmark = pytest.mark.filterwarnings(
    "ignore::statsmodels.tools.sm_exceptions.DomainWarning",
    "ignore::statsmodels.tools.sm_exceptions.ConvergenceWarning",
)


def rel(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / np.abs(b)))


# --------------------------------------------------------------------------------------------
# Data, once per module.


def _np(df) -> np.ndarray:
    return np.asarray(df, dtype=float)


@pytest.fixture(scope="module")
def data():
    star = sm.datasets.star98.load_pandas()
    counts = _np(star.endog)
    trials = counts.sum(1)
    spec = sm.datasets.spector.load_pandas()
    scot = sm.datasets.scotland.load_pandas()
    rand = sm.datasets.randhie.load_pandas()
    cp = sm.datasets.cpunish.load_pandas()
    cx = cp.exog.copy()
    cx["INCOME"] = cx["INCOME"] / 1e4
    rng = np.random.default_rng(0)
    n_sp, n_sc = len(spec.endog), len(scot.endog)
    return {
        "star": (_np(sm.add_constant(star.exog)), counts[:, 0] / trials, trials, counts),
        "spector": (_np(sm.add_constant(spec.exog)), _np(spec.endog)),
        "scotland": (_np(sm.add_constant(scot.exog)), _np(scot.endog)),
        "randhie": (_np(sm.add_constant(rand.exog))[:1000], _np(rand.endog)[:1000]),
        "cpunish": (
            _np(sm.add_constant(cx.drop(columns=["VC100k96"]))),
            _np(cp.endog),
            _np(cp.exog["VC100k96"]),
        ),
        "w_sp": (rng.integers(1, 4, n_sp).astype(float), rng.uniform(0.5, 2.0, n_sp)),
        "w_sc": (rng.integers(1, 4, n_sc).astype(float), rng.uniform(0.5, 2.0, n_sc)),
    }


def _case(name, data):
    """``(jaxmle family, X, y, irls kwargs, statsmodels family, endog, GLM kwargs, canonical)``."""
    X, y = data["spector"]
    vw = data["w_sp"][1]
    Xs, ys = data["scotland"]
    fws, vws = data["w_sc"]
    Xr, yr = data["randhie"]
    Xc, yc, vc = data["cpunish"]
    Xa, pa, ta, counts = data["star"]
    expo = np.linspace(1.0, 4.0, len(yc))
    cases = {
        "star98 binomial trials": (F.Binomial(), Xa, pa, {"trials": ta}, sm.families.Binomial(),
                                   counts, {}),
        "spector logit": (F.Binomial(), X, y, {}, sm.families.Binomial(), y, {}),
        "spector probit": (F.Binomial("probit"), X, y, {}, sm.families.Binomial(L.Probit()), y,
                           {}),
        "spector probit var_weights": (F.Binomial("probit"), X, y, {"var_weights": vw},
                                       sm.families.Binomial(L.Probit()), y, {"var_weights": vw}),
        "spector cloglog": (F.Binomial(F.CLogLog()), X, y, {}, sm.families.Binomial(L.CLogLog()),
                            y, {}),
        "scotland gamma inverse": (F.Gamma(), Xs, ys, {}, sm.families.Gamma(), ys, {}),
        "scotland gamma log freq_weights": (F.Gamma("log"), Xs, ys, {"freq_weights": fws},
                                            sm.families.Gamma(L.Log()), ys,
                                            {"freq_weights": fws}),
        "scotland inverse gaussian": (F.InverseGaussian(), Xs, ys, {},
                                      sm.families.InverseGaussian(), ys, {}),
        "scotland gaussian weights": (F.Gaussian(), Xs, ys,
                                      {"freq_weights": fws, "var_weights": vws},
                                      sm.families.Gaussian(), ys,
                                      {"freq_weights": fws, "var_weights": vws}),
        "scotland gaussian log": (F.Gaussian("log"), Xs, ys, {}, sm.families.Gaussian(L.Log()),
                                  ys, {}),
        "randhie poisson": (F.Poisson(), Xr, yr, {}, sm.families.Poisson(), yr, {}),
        "randhie nb alpha=1.3": (F.NegativeBinomial(alpha=1.3), Xr, yr, {},
                                 sm.families.NegativeBinomial(alpha=1.3), yr, {}),
        "cpunish poisson exposure": (F.Poisson(), Xc, yc, {"exposure": expo},
                                     sm.families.Poisson(), yc, {"exposure": expo}),
        "cpunish poisson offset": (F.Poisson(), Xc, yc, {"offset": np.log(vc)},
                                   sm.families.Poisson(), yc, {"offset": np.log(vc)}),
    }  # fmt: skip
    return cases[name]


CASES = [
    "star98 binomial trials", "spector logit", "spector probit", "spector probit var_weights",
    "spector cloglog", "scotland gamma inverse", "scotland gamma log freq_weights",
    "scotland inverse gaussian", "scotland gaussian weights", "scotland gaussian log",
    "randhie poisson", "randhie nb alpha=1.3", "cpunish poisson exposure",
    "cpunish poisson offset",
]  # fmt: skip


def _sm_reference(smfam, endog, X, kw, canonical: bool):
    model = sm.GLM(endog, X, family=smfam, **kw)
    if canonical:
        return model.fit(**SM_TIGHT)
    # IRLS restarted at statsmodels' own Newton optimum: the expected-information covariance
    # at the exact score root.
    newton = model.fit(method="newton", tol=1e-14, maxiter=100, disp=0)
    return model.fit(start_params=newton.params, **SM_TIGHT)


@pytest.mark.parametrize("name", CASES)
def test_against_statsmodels_glm(name, data):
    fam, X, y, kw, smfam, endog, smkw = _case(name, data)
    fit = irls(fam, X, y, **kw)
    assert isinstance(fit, GLMFit)
    assert int(fit.status) == Status.OK and bool(fit.converged)
    ref = _sm_reference(smfam, endog, X, smkw, fam.canonical)
    assert rel(fit.coef, ref.params) < RTOL
    assert rel(np.sqrt(np.diag(fit.cov)), ref.bse) < RTOL
    np.testing.assert_allclose(fit.cov_unscaled, ref.normalized_cov_params, rtol=RTOL,
                               atol=RTOL * np.max(np.abs(ref.normalized_cov_params)))  # fmt: skip
    pairs = ((fit.scale, ref.scale), (fit.llf, ref.llf), (fit.deviance, ref.deviance),
             (fit.pearson_chi2, ref.pearson_chi2))  # fmt: skip
    for ours, theirs in pairs:
        assert rel(ours, theirs) < RTOL
    assert float(fit.nobs) == ref.model.wnobs
    assert float(fit.df_resid) == ref.df_resid and float(fit.df_model) == ref.df_model
    np.testing.assert_allclose(fit.mu, ref.mu, rtol=RTOL)
    eta = ref.model.exog @ ref.params + ref.model._offset_exposure
    np.testing.assert_allclose(fit.eta, eta, rtol=RTOL, atol=RTOL * np.max(np.abs(eta)))
    assert np.isnan(float(fit.alpha)) != isinstance(fam, F.NegativeBinomial)


def _newton_step_in_se(model, params, cov) -> float:
    """The Newton step from ``params`` in standard errors (statsmodels' analytic score/Hessian)."""
    step = np.linalg.solve(-model.hessian(params), model.score(params))
    return float(np.max(np.abs(step) / np.sqrt(np.diag(cov))))


def test_noncanonical_links_ours_is_the_score_root(data):
    """Ours is the score root; statsmodels' IRLS (tol=1e-15) can stop short on probit/cloglog.

    (By ~1e-8 standard errors with scipy 1.16; with scipy 1.17 it reaches the root on one of
    the two links: the test asserts ours is at least as close, in statsmodels' own terms.)
    """
    X, y = data["spector"]
    for link, smlink in (("probit", L.Probit()), ("cloglog", L.CLogLog())):
        fit = irls(F.Binomial(link), X, y)
        model = sm.GLM(y, X, family=sm.families.Binomial(smlink))
        r = model.fit(**SM_TIGHT)
        cov = np.asarray(fit.cov)
        ours = _newton_step_in_se(model, np.asarray(fit.coef), cov)
        theirs = _newton_step_in_se(model, r.params, cov)
        assert ours < 1e-12 and ours <= theirs + 1e-13, (link, ours, theirs)
        assert rel(fit.coef, r.params) < max(1e-12, 10.0 * theirs)


# A CI run (2026-12-01, another machine, tests spread over two xdist workers) returned these
# coefficients for "scotland gaussian log" as OK after 5 iterations, 0.14 standard errors
# (RSS 310.61 against 307.30) from the optimum; not reproduced on this machine. Whatever the
# path, the returned point's own score must now vouch for the status.
_SCOTLAND_LOG_CI = np.array([
    5.65812720e+00, -2.37704061e-03, -1.00477297e-01, 4.81295588e-03,
    -6.66001412e-03, 8.17331450e-06, 2.97555513e-02, 1.17986913e-04])  # fmt: skip


def _decrement_at(fam, X, y, coef) -> float:
    from jaxmle import _irls

    d = _irls._Data(jnp.asarray(X), jnp.asarray(y), None, None, None, None)
    mu, sc, wu, _ = fam.working(jnp.asarray(X) @ coef)
    inv, _ = _irls._inverse((X * np.asarray(wu)[:, None]).T @ X)
    phi = np.sum((y - np.asarray(mu)) ** 2) / (X.shape[0] - X.shape[1])
    dec = _irls._decrement(d, mu, sc, None, inv, jnp.asarray(phi))
    return float(dec), int(_irls._verified(jnp.asarray(0, jnp.int32), dec))


def test_ok_needs_a_small_decrement_at_the_returned_point(data):
    X, y = data["scotland"]
    fam = F.Gaussian("log")
    fit = irls(fam, X, y)
    dec_ok, status_ok = _decrement_at(fam, X, y, fit.coef)
    dec_ci, status_ci = _decrement_at(fam, X, y, _SCOTLAND_LOG_CI)
    assert dec_ok < 1e-9 and status_ok == Status.OK
    assert dec_ci > 0.1 and status_ci == Status.NOT_CONVERGED
    # From that point (where the host restarts a fit that stopped short) the fit is the optimum.
    again = irls(fam, X, y, start=_SCOTLAND_LOG_CI)
    assert int(again.status) == Status.OK and rel(again.coef, fit.coef) < 1e-10


# --------------------------------------------------------------------------------------------
# Negative binomial with α estimated.


@pytest.fixture(scope="module")
def nb(data):
    X, y = data["randhie"]
    X, y = X[:600], y[:600]
    fit = irls(F.NegativeBinomial(), X, y)
    model = SMNegativeBinomial(y, X)
    newton = model.fit(method="newton", tol=1e-14, maxiter=100, disp=0)
    bfgs = model.fit(disp=0)  # statsmodels' default (bfgs)
    return X, y, fit, model, newton, bfgs


def test_nb2_on_equidispersed_counts_is_on_the_boundary():
    # Poisson counts: the NB2 likelihood rises as α → 0 (the Poisson limit), so the MLE is on the
    # boundary α = 0. Not OK (NaN covariance), BOUNDARY rather than a bare NOT_CONVERGED, and the
    # coefficients there are the Poisson ones.
    rng = np.random.default_rng(0)
    X = np.column_stack([np.ones(400), rng.normal(size=(400, 2))])
    y = rng.poisson(np.exp(0.5 + X[:, 1:] @ [0.3, -0.2])).astype(float)
    fit = irls(F.NegativeBinomial(), X, y)
    assert int(fit.status) == Status.BOUNDARY
    assert float(fit.alpha) < 1e-3 and np.isnan(np.asarray(fit.cov)).all()
    pois = sm.GLM(y, X, family=sm.families.Poisson()).fit(tol=1e-14)
    assert rel(fit.coef, pois.params) < 1e-6


def test_nb2_alpha_estimated_matches_statsmodels_discrete(nb):
    X, y, fit, model, newton, bfgs = nb
    assert int(fit.status) == Status.OK
    theta = np.append(np.asarray(fit.coef), float(fit.alpha))
    assert rel(theta, newton.params) < 1e-10
    assert rel(np.sqrt(np.diag(fit.cov)), newton.bse) < 1e-8
    assert fit.cov.shape == (X.shape[1] + 1,) * 2
    assert rel(fit.llf, newton.llf) < 1e-12
    assert float(fit.df_resid) == newton.df_resid and float(fit.df_model) == newton.df_model
    # statsmodels' default fit is the less converged one: the same llf to ~1e-10, a larger score.
    assert np.max(np.abs(model.score(theta))) < 1e-3 * np.max(np.abs(model.score(bfgs.params)))
    assert fit.llf >= bfgs.llf - 1e-9
    # The GLM quantities are those of the NB family at α̂ (statsmodels' GLM NB(alpha=α̂)).
    glm = sm.GLM(y, X, family=sm.families.NegativeBinomial(alpha=float(fit.alpha)))
    g = glm.fit(**SM_TIGHT)
    # statsmodels' IRLS stops on the deviance's change, short of the score root (its score at
    # its own estimate is ~6e-6 here, ours ~1e-13): the coefficients are checked at the root,
    # and statsmodels' agree to its accuracy.
    assert np.max(np.abs(glm.score(np.asarray(fit.coef)))) < 1e-9
    assert rel(fit.coef, g.params) < 1e-6
    for ours, theirs in ((fit.deviance, g.deviance), (fit.pearson_chi2, g.pearson_chi2),
                         (fit.llf, g.llf), (fit.scale, 1.0)):  # fmt: skip
        assert rel(ours, theirs) < RTOL
    # (Entries near 0 relative to the matrix's scale: statsmodels' is taken at its estimate.)
    scale = np.max(np.abs(np.diag(g.normalized_cov_params)))
    np.testing.assert_allclose(fit.cov_unscaled, g.normalized_cov_params, rtol=1e-7,
                               atol=1e-8 * scale)  # fmt: skip


# --------------------------------------------------------------------------------------------
# The general path (jaxmle.mle on the GLM model) and IRLS are each other's oracle.


def test_mle_of_glm_model_agrees_with_irls(nb):
    X, y, fit = nb[:3]
    res = jaxmle.mle(GLM(F.NegativeBinomial()), {"X": X, "y": y})
    assert int(res.status) == Status.OK
    assert rel(res.params["coef"], fit.coef) < 1e-8
    assert rel(res.params["alpha"], fit.alpha) < 1e-8


def test_glm_model_objective_is_stationary_at_irls(data):
    """The general path's optimum in the coefficients is IRLS's, at any scale (Gamma, log)."""
    X, y = data["scotland"]
    fw = data["w_sc"][0]
    fam = F.Gamma("log")
    fit = irls(fam, X, y, freq_weights=fw)
    m = GLM(fam)
    dat = m.validate({"X": X, "y": y, "freq_weights": fw})

    @jax.jit
    def score(coef, scale):
        return jax.grad(lambda c: jnp.sum(m.log_prob({"coef": c, "scale": scale}, dat)))(coef)

    for scale in (fit.scale, 0.5 * fit.scale):
        g = score(fit.coef, scale)  # in information units: g·se ~ the step in standard errors
        assert np.max(np.abs(g * np.sqrt(np.diag(fit.cov)))) < 1e-9


def test_glm_model_log_prob_is_statsmodels_loglike(data):
    X, y = data["scotland"]
    fit = irls(F.Gamma(), X, y)
    m = GLM(F.Gamma())
    assert m.param_names == ("coef", "scale")
    ll = jax.jit(m.log_prob)({"coef": fit.coef, "scale": fit.scale}, m.validate({"X": X, "y": y}))
    assert rel(jnp.sum(ll), fit.llf) < 1e-12
    assert GLM(F.NegativeBinomial()).param_names == ("coef", "alpha")
    assert GLM(F.Poisson()).param_names == ("coef",)
    with pytest.raises(InputError, match=r"data\['y'\]"):
        m.validate({"X": X, "y": -y})


# --------------------------------------------------------------------------------------------
# Families and links.


def test_families_match_statsmodels_pointwise():
    rng = np.random.default_rng(3)
    mu = rng.uniform(0.2, 0.8, 9)
    y01 = np.round(rng.uniform(0, 1, 9), 1)
    ypos = rng.uniform(0.5, 3.0, 9)
    ycount = rng.integers(0, 6, 9).astype(float)
    vw, scale = rng.uniform(0.5, 2.0, 9), 1.7
    pairs = [
        (F.Gaussian(), sm.families.Gaussian(), ypos),
        (F.Binomial(), sm.families.Binomial(), y01),
        (F.Poisson(), sm.families.Poisson(), ycount),
        (F.Gamma(), sm.families.Gamma(), ypos),
        (F.InverseGaussian(), sm.families.InverseGaussian(), ypos),
        (F.NegativeBinomial(alpha=0.6), sm.families.NegativeBinomial(alpha=0.6), ycount),
    ]

    def one(fam, y, mu):
        kernel = fam.deviance_kernel(y, mu) - fam.deviance_kernel(y, 0.5 * mu)
        unit = fam.unit_deviance(y, mu) - fam.unit_deviance(y, 0.5 * mu)
        return (fam.variance(mu), fam.unit_deviance(y, mu), fam.loglike_obs(y, mu, vw, scale),
                fam.starting_mu(y), fam.link.link(mu), kernel - unit)  # fmt: skip

    ours = jax.jit(lambda mu: [one(fam, y, mu) for fam, _, y in pairs])(mu)  # one program
    for (_, smfam, y), (v, dev, ll, mu0, eta, kernel_minus_unit) in zip(pairs, ours, strict=True):
        np.testing.assert_allclose(v, smfam.variance(mu), rtol=1e-13)
        np.testing.assert_allclose(dev, smfam._resid_dev(y, mu), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(ll, smfam.loglike_obs(y, mu, vw, scale), rtol=1e-12)
        np.testing.assert_allclose(mu0, smfam.starting_mu(y), rtol=1e-14)
        np.testing.assert_allclose(eta, smfam.link(mu), rtol=1e-13)
        np.testing.assert_allclose(kernel_minus_unit, 0.0, atol=1e-12)


def test_links_are_stable_hashable_settings():
    assert F.Binomial("probit") == F.Binomial(F.Probit())
    assert hash(F.Binomial("probit")) == hash(F.Binomial(F.Probit()))
    assert F.Gamma().link == F.Power(-1) and F.Gamma().link.name == "inverse"
    assert F.InverseGaussian().link.name == "inverse_squared"
    assert F.NegativeBinomial(alpha=1) == F.NegativeBinomial(alpha=1.0)
    eta = jnp.array([-800.0, -30.0, 0.0, 30.0, 800.0])
    mu = F.Logit().inverse(eta)
    assert np.all(np.isfinite(np.asarray(F.Logit().deriv_inverse(eta))))
    assert float(mu[0]) == 0.0 and float(mu[-1]) == 1.0
    np.testing.assert_allclose(F.CLogLog().inverse(jnp.array(-40.0)), np.exp(-40.0), rtol=1e-14)
    links = (F.Logit(), F.Probit(), F.CLogLog(), F.Log(), F.Power(-1), F.Power(-2),
             F.Power(0.5), F.Identity())  # fmt: skip

    @jax.jit
    def roundtrip(e):
        return [(lk.link(lk.inverse(e)), lk.deriv_inverse(e), jax.vmap(jax.grad(lk.inverse))(e))
                for lk in links]  # fmt: skip

    e = jnp.array([0.3, 0.7, 1.1])
    for back, deriv, autodiff in roundtrip(e):
        np.testing.assert_allclose(back, e, rtol=1e-12)
        np.testing.assert_allclose(deriv, autodiff, rtol=1e-12)


def test_bad_links_and_families_name_the_argument():
    with pytest.raises(InputError, match="logit, probit, cloglog, log"):
        F.Binomial("sqrt")
    with pytest.raises(InputError, match=r"not a known link.*identity"):
        F.Poisson("logg")
    with pytest.raises(InputError, match="alpha"):
        F.NegativeBinomial(alpha=-1.0)
    with pytest.raises(InputError, match="family"):
        irls("tweedie", np.ones((3, 1)), np.ones(3))


# --------------------------------------------------------------------------------------------
# Boundary checks, separation, status, compilation, vmap.


def test_bad_inputs_raise_input_error_naming_the_argument(data):
    X, y = data["spector"]
    cases = [
        (lambda: irls(F.Binomial(), X, 2 * y), "`y`"),
        (lambda: irls(F.Poisson(), X, y - 1), "`y`"),
        (lambda: irls(F.Gamma(), X, y), "`y` must be positive"),
        (lambda: irls(F.Binomial(), X[:, 0], y), "`X`"),
        (lambda: irls(F.Binomial(), X, y[:-1]), "`y`"),
        (lambda: irls(F.Binomial(), np.where(X[0, 1] == X, np.nan, X), y), "`X`"),
        (lambda: irls(F.Binomial(), X, y, var_weights=-np.ones(len(y))), "`var_weights`"),
        (lambda: irls(F.Binomial(), X, y, freq_weights=np.ones(3)), "`freq_weights`"),
        (lambda: irls(F.Binomial(), X, y, exposure=np.ones(len(y))), "`exposure`"),
        (lambda: irls(F.Poisson(), X, y, trials=np.ones(len(y))), "`trials`"),
        (lambda: irls(F.Binomial(), X, y, trials=np.zeros(len(y))), "`trials`"),
        (lambda: irls(F.Binomial(), X, y, start=np.zeros(2)), "`start`"),
        (lambda: irls(F.Binomial(), X, y, max_iter=0), "`max_iter`"),
        (lambda: irls(F.Poisson(), X, y, offset=np.full(len(y), np.inf)), "`offset`"),
    ]
    for call, name in cases:
        with pytest.raises(InputError, match=name):
            call()


def test_separation_is_never_ok():
    x = np.linspace(-1.0, 1.0, 20)
    X = np.column_stack([np.ones(20), x])
    y = (x > 0).astype(float)
    fit = irls(F.Binomial(), X, y)
    assert int(fit.status) in (Status.FLAT_DIRECTION, Status.MAX_STEPS, Status.SINGULAR)
    assert not bool(fit.converged)


def test_complete_separation_with_several_regressors_is_flat():
    # GPA > median is separated by GPA itself: the score underflows to 0 (the Newton step
    # tests nothing) while β runs off; the test along β catches it. This was reported OK.
    d = sm.datasets.spector.load_pandas().data
    X = sm.add_constant(d[["GPA", "TUCE", "PSI"]]).to_numpy()
    fit = irls(F.Binomial(), X, (d.GPA.median() < d.GPA).to_numpy(float))
    assert int(fit.status) == Status.FLAT_DIRECTION


def _separated():
    """Every row with the dummy (x > 1.5) set has y = 1: quasi-complete separation."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=50)
    y = (x > 0).astype(float)
    y[:5] = rng.integers(0, 2, 5)
    y[x > 1.5] = 1.0
    return np.column_stack([np.ones(50), x, x > 1.5]), y


def test_quasi_complete_separation_is_flat():
    # That coefficient's MLE is +inf, the others are finite. Was reported OK at a coefficient
    # of 30.4 (its axis is the flat direction).
    X, y = _separated()
    fit = irls(F.Binomial(), X, y)
    assert int(fit.status) == Status.FLAT_DIRECTION
    ok = irls(F.Binomial(), X[:, :2], y)  # without the dummy: a finite MLE, converged
    assert int(ok.status) == Status.OK


def test_host_finish_is_the_programs(data):
    """A concrete CPU fit settles covariance, flat test and status on the host
    (jaxmle._irls_host); under jit the program does: the same statuses and covariances."""
    Xq, yq = _separated()
    Xs, ys = data["scotland"]
    Xp, yp = data["spector"]
    zero_group = np.column_stack([np.ones(40), np.repeat([0.0, 1.0], 20)])
    y0 = np.r_[np.zeros(20), np.arange(20) % 4].astype(float)  # a group of zero counts
    cases = [(F.Binomial(), Xq, yq, Status.FLAT_DIRECTION), (F.Binomial(), Xp, yp, Status.OK),
             (F.Binomial("probit"), Xp, yp, Status.OK), (F.Gamma(), Xs, ys, Status.OK),
             (F.Poisson(), zero_group, y0, Status.SINGULAR),  # (the group's weights underflow)
             (F.Binomial(), np.column_stack([Xp, Xp[:, 1]]), yp, Status.SINGULAR)]  # fmt: skip
    from jaxmle import _irls_host

    calls = []
    finish = _irls_host.finish
    for fam, X, y, expect in cases:
        X, y = np.tile(X, (20, 1)), np.tile(y, 20)  # (large enough for the host's finish)
        _irls_host.finish = lambda *a: (calls.append(1), finish(*a))[1]
        try:
            host = irls(fam, X, y)
        finally:
            _irls_host.finish = finish
        prog = jax.jit(lambda X, y, fam=fam: irls(fam, X, y))(X, y)
        assert int(host.status) == int(prog.status) == expect, fam
        if expect == Status.OK:  # (two factorisations: Cholesky and the sweep; scotland's
            # scaled information has condition ~1.5e5, so they agree to ~1e-10, not 1e-15)
            np.testing.assert_allclose(host.cov, prog.cov, rtol=RTOL)
            np.testing.assert_allclose(host.cov_unscaled, prog.cov_unscaled, rtol=RTOL)
    assert len(calls) == len(cases)


def test_warm_call_compiles_nothing(data):
    X, y = data["spector"]
    irls(F.Binomial(), X, y)
    y2 = y[::-1].copy()
    with compiles() as c:
        fits = [irls(F.Binomial(), X, y2), irls(F.Binomial("logit"), jax.device_put(X), y2)]
        jax.block_until_ready(fits)
    assert c["n"] == 0
    np.testing.assert_array_equal(fits[0].coef, fits[1].coef)
    # A fixed NB α is a traced leaf: a new value compiles nothing either.
    Xr, yr = data["randhie"]
    irls(F.NegativeBinomial(alpha=1.3), Xr, yr)
    with compiles() as c:
        jax.block_until_ready(irls(F.NegativeBinomial(alpha=0.4), Xr, yr))
    assert c["n"] == 0


def test_vmap_over_responses(data):
    X, y = data["spector"]
    rng = np.random.default_rng(7)
    Y = np.stack([y, (rng.uniform(size=len(y)) < 0.4).astype(float), y[::-1]])
    batched = jax.vmap(lambda yy: irls(F.Binomial(), X, yy))(jnp.asarray(Y))
    assert batched.coef.shape == (3, X.shape[1]) and batched.status.shape == (3,)
    for i in range(3):
        one = irls(F.Binomial(), X, Y[i])
        np.testing.assert_allclose(batched.coef[i], one.coef, rtol=1e-12)
        assert int(batched.status[i]) == int(one.status)


def test_start_and_max_iter(data):
    X, y = data["randhie"]
    fit = irls(F.Poisson(), X, y)
    again = irls(F.Poisson(), X, y, start=np.asarray(fit.coef), max_iter=2)
    assert int(again.status) == Status.OK and int(again.iterations) <= 2
    np.testing.assert_allclose(again.coef, fit.coef, rtol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        capped = irls(F.Poisson(), X, y, start=np.zeros(X.shape[1]), max_iter=2)
    assert int(capped.status) == Status.MAX_STEPS and not bool(capped.converged)


# --------------------------------------------------------------------------------------------
# The sufficient-statistics path: repeated design rows collapsed (jaxmle._irls_groups).


@pytest.fixture(scope="module")
def table():
    """A 3 × 4 × 2 layout of categorical factors, 3,000 rows in shuffled order (24 cells)."""
    rng = np.random.default_rng(11)
    n = 3000
    a, b, c = rng.integers(0, 3, n), rng.integers(0, 4, n), rng.integers(0, 2, n)
    X = np.column_stack([np.ones(n), a == 1, a == 2, b == 1, b == 2, b == 3, c == 1]).astype(float)
    eta = X @ np.array([0.2, 0.3, -0.4, 0.1, 0.5, -0.2, 0.25])
    cell = a * 8 + b * 2 + c
    return {"X": X, "counts": rng.poisson(np.exp(eta)).astype(float),
            "expo": rng.uniform(0.5, 2.0, 24)[cell],  # one exposure per cell
            "binary": (rng.uniform(size=n) < 1 / (1 + np.exp(-eta))).astype(float),
            "fw": rng.integers(1, 4, n).astype(float)}  # fmt: skip


def _uncollapsed(monkeypatch, *args, **kw):
    from jaxmle import _irls_groups

    with monkeypatch.context() as m:
        m.setattr(_irls_groups, "find", lambda *a: None)
        return irls(*args, **kw)


@pytest.mark.parametrize("case", ["poisson", "poisson exposure fw", "logit", "nb fixed alpha"])
def test_collapsed_rows_give_the_full_fit(table, case, monkeypatch):
    from jaxmle import _irls_groups

    X = table["X"]
    fam, y, kw, smfam, smkw = {
        "poisson": (F.Poisson(), table["counts"], {}, sm.families.Poisson(), {}),
        "poisson exposure fw": (F.Poisson(), table["counts"],
                                {"exposure": table["expo"], "freq_weights": table["fw"]},
                                sm.families.Poisson(), None),
        "logit": (F.Binomial(), table["binary"], {}, sm.families.Binomial(), {}),
        "nb fixed alpha": (F.NegativeBinomial(alpha=0.7), table["counts"], {},
                           sm.families.NegativeBinomial(alpha=0.7), {}),
    }[case]  # fmt: skip
    if smkw is None:
        smkw = dict(kw)
    groups = _irls_groups.find(X, None if "exposure" not in kw else np.log(kw["exposure"]))
    assert groups is not None and groups[0].size == 24
    fast = irls(fam, X, y, **kw)
    full = _uncollapsed(monkeypatch, fam, X, y, **kw)
    assert int(fast.status) == int(full.status) == Status.OK
    for field in ("coef", "cov", "eta", "mu", "weights", "deviance", "pearson_chi2", "llf",
                  "nobs", "df_resid"):  # fmt: skip
        a, b = np.asarray(getattr(fast, field)), np.asarray(getattr(full, field))
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12 * np.max(np.abs(b)), err_msg=field)
    ref = sm.GLM(y, X, family=smfam, **smkw).fit(**SM_TIGHT)
    assert rel(fast.coef, ref.params) < RTOL and rel(np.sqrt(np.diag(fast.cov)), ref.bse) < RTOL
    assert rel(fast.llf, ref.llf) < RTOL and rel(fast.deviance, ref.deviance) < RTOL


def test_continuous_and_small_designs_are_not_collapsed(data):
    from jaxmle import _irls_groups

    rng = np.random.default_rng(0)
    X = np.column_stack([np.ones(4000), rng.normal(size=4000)])
    assert _irls_groups.find(X, None) is None  # all rows distinct: the probe says so
    half = np.column_stack([np.ones(4000), np.r_[rng.normal(size=2000), np.zeros(2000)]])
    assert _irls_groups.find(half, None) is None  # 2,001 distinct rows of 4,000
    from jaxmle._irls import _Data

    Xs, ys = data["spector"]
    assert not _irls_groups.collapsible(F.Poisson(), _Data(Xs, ys, None, None, None, None))
    big = _Data(np.ones((5000, 1)), np.ones(5000), None, None, None, None)
    assert _irls_groups.collapsible(F.Binomial(), big)
    assert not _irls_groups.collapsible(F.Gamma(), big)  # a dispersion family
    assert not _irls_groups.collapsible(F.NegativeBinomial(), big)  # α estimated


def test_formula_glm_on_a_table_is_statsmodels(table):
    """jaxmle.glm on categorical factors takes the collapsed path; everything per row matches."""
    import pandas as pd
    import statsmodels.formula.api as smf

    X = table["X"]
    df = pd.DataFrame({"y": table["counts"], "a": X[:, 1] + 2 * X[:, 2],
                       "b": X[:, 3] + 2 * X[:, 4] + 3 * X[:, 5], "c": X[:, 6]})  # fmt: skip
    res = jaxmle.glm("y ~ C(a) + C(b) + C(c)", df, family=F.Poisson())
    ref = smf.glm("y ~ C(a) + C(b) + C(c)", df, family=sm.families.Poisson()).fit(**SM_TIGHT)
    assert rel(res.params, ref.params) < RTOL and rel(res.bse, ref.bse) < RTOL
    assert rel(res.llf, ref.llf) < RTOL and rel(res.llnull, ref.llnull) < RTOL
    np.testing.assert_allclose(res.resid_deviance, ref.resid_deviance, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(res.fittedvalues, ref.fittedvalues, rtol=1e-9)


# --------------------------------------------------------------------------------------------
# Row counts in buckets (jaxmle._irls_shapes): a new n in a compiled bucket compiles nothing.


def _poisson_rows(n, seed):
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), rng.normal(size=(n, 3))])
    return X, rng.poisson(np.exp(X @ np.array([0.3, 0.2, -0.1, 0.15]))).astype(float)


def test_a_new_n_in_a_compiled_bucket_compiles_nothing(monkeypatch):
    from jaxmle import _irls_shapes

    assert [_irls_shapes.bucket(n) for n in (63, 64, 1000, 1024, 1025, 1537)] == [
        0, 64, 1024, 1024, 1280, 1792]  # fmt: skip
    irls(F.Poisson(), *_poisson_rows(1000, 0))
    fits = {}
    with compiles() as c:
        for n in (1001, 1010, 1024):  # all in the bucket of 1,024 rows
            X, y = _poisson_rows(n, n)
            fits[n] = (irls(F.Poisson(), X, y, freq_weights=np.ones(n)),
                       irls(F.Binomial(), X, (y > 1).astype(float)))  # fmt: skip
            jax.block_until_ready(fits[n])
    assert c["n"] == 1  # the Binomial's program once (the Poisson one was compiled above)
    monkeypatch.setenv("JAXMLE_BUCKETS", "0")
    for n, pair in fits.items():
        X, y = _poisson_rows(n, n)
        exact = (irls(F.Poisson(), X, y, freq_weights=np.ones(n)),
                 irls(F.Binomial(), X, (y > 1).astype(float)))  # fmt: skip
        for a, b in zip(pair, exact, strict=True):
            assert int(a.status) == int(b.status) == Status.OK
            assert a.mu.shape == (n,) and float(a.nobs) == n == float(b.nobs)
            assert float(a.df_resid) == n - 4
            for field in ("coef", "cov", "mu", "weights", "llf", "deviance", "pearson_chi2"):
                np.testing.assert_allclose(getattr(a, field), getattr(b, field), rtol=1e-11,
                                           err_msg=field)  # fmt: skip


def test_poisson_log_likelihood_of_large_counts():
    """``y log μ − μ − log y!`` to rounding at any count, in the engine and on the host.

    Written out it cancels: at counts near e³⁰ the llf kept 4 digits (rel. error 7.7e-5; 1.1e-7
    near e²⁰). Reference: 50-digit mpmath.
    """
    mp = pytest.importorskip("mpmath")
    from jaxmle._glm_host import _Host

    mp.mp.dps = 50
    y = np.array([0.0, 1.0, 7.0, 15.0, 16.0, 17.0, 150.0, 3e4, 4.85e8, 1.07e13, 1.07e13])
    mu = np.array([0.3, 2.5, 7.2, 14.0, 16.5, 30.0, 149.0, 3.01e4, 4.851e8, 1.0700001e13, 1e13])
    exact = np.array([float(mp.mpf(a) * mp.log(mp.mpf(b)) - mp.mpf(b) - mp.loggamma(mp.mpf(a) + 1))
                      for a, b in zip(y, mu, strict=True)])  # fmt: skip
    engine = np.asarray(F.Poisson().loglike_obs(jnp.asarray(y), jnp.asarray(mu)))
    host = _Host("Poisson", F.Poisson().link, np.nan).loglike_obs(y, mu, 1.0, 1.0, 1.0)
    for got in (engine, host):
        np.testing.assert_allclose(got, exact, rtol=4e-15, atol=1e-14)


def _nb2_exact(mp, y, mu, alpha):
    y, mu, r = mp.mpf(float(y)), mp.mpf(float(mu)), 1 / mp.mpf(float(alpha))
    return (mp.loggamma(y + r) - mp.loggamma(r) - mp.loggamma(y + 1)
            + r * mp.log(r / (r + mu)) + y * mp.log(mu / (r + mu)))  # fmt: skip


def test_negative_binomial_log_likelihood_of_large_counts_and_small_alpha():
    """The NB2 log-pmf to rounding for large counts and α near 0, engine and host.

    Written out, its log-gamma terms cancel: at α = 6e-6 and counts near e²⁰ the log-pmf was
    1.8e-3 off (relative). Reference: 50-digit mpmath.
    """
    mp = pytest.importorskip("mpmath")
    from jaxmle._glm_host import _Host

    mp.mp.dps = 50
    y = np.array([0.0, 0.0, 1.0, 3.0, 148.0, 148.0, 2.2e4, 3.27e6, 4.85e8, 7.2e10, 1.07e13])
    mu = np.array([0.4, 2e3, 2.5, 0.7, 192.4, 74.0, 2.86e4, 4.25e6, 6.3e8, 9.36e10, 1.39e13])
    for alpha in (6.1e-6, 2.5e-3, 1.0, 400.0):
        exact = np.array([float(_nb2_exact(mp, a, b, alpha)) for a, b in zip(y, mu, strict=True)])
        fam = F.NegativeBinomial(alpha=alpha)
        engine = np.asarray(fam.loglike_obs(jnp.asarray(y), jnp.asarray(mu)))
        host = _Host("NegativeBinomial", fam.link, alpha).loglike_obs(y, mu, 1.0, 1.0, 1.0)
        for got in (engine, host):
            np.testing.assert_allclose(got, exact, rtol=5e-15, atol=1e-14, err_msg=str(alpha))


def test_negative_binomial_fit_reports_the_exact_log_likelihood():
    """NB2 with α estimated on counts near e²⁰: llf equals 50-digit mpmath at the estimate."""
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 50
    rng = np.random.default_rng(3)
    n = 40
    X = np.column_stack([np.ones(n), rng.standard_normal(n)])
    mu = np.exp(20.0 + 0.3 * X[:, 1])
    y = rng.negative_binomial(1 / 0.01, 1 / (1 + 0.01 * mu)).astype(float)
    fit = irls(F.NegativeBinomial(), X, y)
    assert int(fit.status) == Status.OK
    exact = mp.fsum(_nb2_exact(mp, a, b, fit.alpha) for a, b in zip(y, fit.mu, strict=True))
    assert abs(float(fit.llf) - float(exact)) <= 1e-13 * abs(float(exact))
