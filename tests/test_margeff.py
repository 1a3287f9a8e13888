"""``GLMResults.get_margeff``: every ``at`` × ``method``, dummy and count effects, vs statsmodels.

Oracles: statsmodels 0.15's GLM ``get_margeff`` on the same fit (the same covariance), and its
discrete ``Logit``, ``Poisson`` and ``NegativeBinomial`` (the same coefficients; for canonical
links and NB also the same covariance, so the same standard errors), on datasets it ships
(spector, randhie, cpunish). Plus identities that need no oracle: for the log link ``eydx`` is
``β`` with standard error ``bse``; a dummy's effect is the difference of two predictions.
Tolerance 1e-8 relative (effects and SEs at ``at="zero"`` with ``eyex``/``dyex`` are exactly 0).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from statsmodels.discrete import discrete_model as dm

import jaxmle
from jaxmle import families as F  # noqa: N812 - F for families, as sm.families

RTOL = 1e-8
TIGHT = {"tol": 0.0, "maxiter": 100}
NEWTON = {"method": "newton", "tol": 1e-14, "maxiter": 1000, "disp": 0}
SPECTOR = "GRADE ~ GPA + TUCE + PSI"
RANDHIE = "mdvis ~ lncoins + idp + lpi + fmde + physlm + disea + hlthg + hlthf + hlthp"
CPUNISH = "EXECUTIONS ~ INCOME + PERPOVERTY + PERBLACK + SOUTH + DEGREE"
AT = ("overall", "mean", "median", "zero")
METHODS = ("dydx", "eyex", "dyex", "eydx")

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning:statsmodels")


def close(a, b, rtol=RTOL):
    a, b = np.asarray(a, float), np.asarray(b, float)
    # (NaN where both are: a p-value of 0 ± 0; atol for entries that cross zero)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * 1e-3 * np.nanmax(np.abs(b)))


def same(m, mr, se=True):
    close(m.margeff, mr.margeff)
    if se:
        close(m.margeff_se, mr.margeff_se)
        close(m.margeff_cov, mr.margeff_cov)


@pytest.fixture(scope="module")
def spector():
    return sm.datasets.spector.load_pandas().data


@pytest.fixture(scope="module")
def randhie():
    return sm.datasets.randhie.load_pandas().data.iloc[:2000].copy()


@pytest.fixture(scope="module")
def cpunish():
    return sm.datasets.cpunish.load_pandas().data


def sm_glm(formula, data, fam, link="logit"):
    """statsmodels' GLM fit, one IRLS step from its discrete model's Newton optimum.

    statsmodels' own IRLS stops short in both links: the probit where its score is 1.7e-8 (the
    estimate 8e-10 from the optimum, 3e-8 in some margins' covariances); with statsmodels 0.15
    the logit's standard errors are 1.2e-10 relative from its discrete Logit's at the same
    coefficients (jaxmle's agree with those to 4e-15), 6.6e-10 in a confidence bound near 0.
    Started at the Newton optimum (score 1e-13, independent of jaxmle) it stays there.
    """
    model = smf.glm(formula, data, family=fam)
    discrete = dm.Logit if link == "logit" else dm.Probit
    start = discrete.from_formula(formula, data).fit(**NEWTON).params
    return model.fit(start_params=start, tol=0.0, maxiter=1)


@pytest.fixture(scope="module", params=["logit", "probit"])
def binary(request, spector):
    link = request.param
    fam = sm.families.Binomial(None if link == "logit" else sm.families.links.Probit())
    return (link, jaxmle.glm(SPECTOR, spector, family=F.Binomial(link)),
            sm_glm(SPECTOR, spector, fam, link))  # fmt: skip


@pytest.mark.parametrize("at", AT)
def test_every_at_and_method(binary, at):
    _, res, ref = binary
    for method in METHODS:
        m, mr = res.get_margeff(at, method), ref.get_margeff(at, method)
        same(m, mr)
        assert m.margeff_options == {"at": at, "method": method}
        if not (at == "zero" and method.endswith("ex")):  # 0 ± 0: no p-value
            close(m.pvalues, mr.pvalues)
            close(m.conf_int(0.1), mr.conf_int(0.1))
            sf, sfr = m.summary_frame(), mr.summary_frame()
            assert list(sf.columns) == list(sfr.columns) and list(sf.index) == list(sfr.index)
            close(sf.to_numpy(), sfr.to_numpy())
        else:
            assert np.all(m.margeff == 0) and np.all(m.margeff_se == 0)
    for method in ("dydx", "eydx"):  # discrete changes of PSI (0/1) where allowed
        if at in ("overall", "mean"):
            m, mr = res.get_margeff(at, method, dummy=True), ref.get_margeff(at, method, dummy=True)
            same(m, mr)
            assert m.dummy_idx.tolist() == [3] and m.count_idx is None


def test_discrete_models_agree(spector):
    """discrete.Logit: the same effects and standard errors; Probit: the same effects."""
    for link, model in (("logit", dm.Logit), ("probit", dm.Probit)):
        res = jaxmle.glm(SPECTOR, spector, family=F.Binomial(link))
        disc = model.from_formula(SPECTOR, spector).fit(**NEWTON)
        for at, method, dummy in (
            ("overall", "eyex", False),
            ("mean", "eydx", True),
            ("median", "dyex", False),
            ("overall", "dydx", True),
        ):
            m = res.get_margeff(at, method, dummy=dummy)
            # Probit's discrete covariance is the observed information, the GLM's the
            # expected one (3% apart here): effects only.
            same(m, disc.get_margeff(at, method, dummy=dummy), se=link == "logit")


def test_dummy_is_a_difference_of_predictions(spector):
    res = jaxmle.glm(SPECTOR, spector, family=F.Binomial())
    m = res.get_margeff(dummy=True)
    d1, d0 = spector.assign(PSI=1.0), spector.assign(PSI=0.0)
    close(m.margeff[2], np.mean(res.predict(d1) - res.predict(d0)), rtol=1e-13)
    close(m.margeff[0], res.get_margeff().margeff[0], rtol=1e-15)  # GPA stays a derivative


@pytest.mark.parametrize("dataset", ["randhie", "cpunish"])
def test_poisson_dummy_and_count(dataset, request):
    d = request.getfixturevalue(dataset)
    f = RANDHIE if dataset == "randhie" else CPUNISH
    res = jaxmle.glm(f, d, family=F.Poisson())
    ref = smf.glm(f, d, family=sm.families.Poisson()).fit(**TIGHT)
    disc = dm.Poisson.from_formula(f, d).fit(**NEWTON)
    for at in ("overall", "mean"):
        for method in ("dydx", "eydx"):
            for dummy, count in ((True, False), (False, True), (True, True)):
                m = res.get_margeff(at, method, dummy=dummy, count=count)
                same(m, ref.get_margeff(at, method, dummy=dummy, count=count))
                same(m, disc.get_margeff(at, method, dummy=dummy, count=count))
    m = res.get_margeff(dummy=True, count=True)
    if dataset == "cpunish":  # INCOME is whole dollars: a count; SOUTH is 0/1
        assert m.count_idx.tolist() == [1] and m.dummy_idx.tolist() == [4]
    else:
        assert m.count_idx is None and m.dummy_idx.tolist() == [2, 7, 8, 9]


def test_negative_binomial_alpha_estimated(randhie):
    res = jaxmle.glm(RANDHIE, randhie, family=F.NegativeBinomial())
    ref = dm.NegativeBinomial.from_formula(RANDHIE, randhie).fit(**NEWTON)
    for at, method, dummy in (
        ("overall", "dydx", True),
        ("mean", "eydx", True),
        ("overall", "eyex", False),
        ("median", "dyex", False),
    ):
        m = res.get_margeff(at, method, dummy=dummy)
        mr = ref.get_margeff(at, method, dummy=dummy)
        same(m, mr)
        assert "alpha" not in m.names and m.names == list(mr.summary_frame().index)


def test_offset_stays_in_eta(cpunish):
    """Log link: ∂log μ/∂x = β whatever the offset, so eydx is β with se bse."""
    res = jaxmle.glm(CPUNISH, cpunish, family=F.Poisson(), exposure=cpunish.VC100k96)
    for at in ("overall", "mean", "zero"):
        m = res.get_margeff(at, "eydx")
        close(m.margeff, res.params.iloc[1:], rtol=1e-13)
        close(m.margeff_se, res.bse.iloc[1:], rtol=1e-12)
    # dydx overall: mean(μᵢ)·β, μᵢ including the exposure
    close(res.get_margeff().margeff, res.mu.mean() * res.params.iloc[1:], rtol=1e-13)
    close(res.get_margeff(dummy=True, method="eydx").margeff, res.params.iloc[1:], rtol=1e-12)


def test_weights_warn_and_cov_type(cpunish):
    fw = np.arange(1.0, 18.0) % 3 + 1
    with pytest.warns(UserWarning, match="weights are not taken into account"):
        jaxmle.glm(CPUNISH, cpunish, family=F.Poisson(), freq_weights=fw).get_margeff()
    # the fit's covariance is the one propagated
    res = jaxmle.glm(CPUNISH, cpunish, family=F.Poisson(), cov_type="HC0")
    ref = smf.glm(CPUNISH, cpunish, family=sm.families.Poisson()).fit(cov_type="HC0", **TIGHT)
    same(res.get_margeff("mean", "eyex"), ref.get_margeff("mean", "eyex"))


def test_summary_is_statsmodels_layout(spector):
    res = jaxmle.glm(SPECTOR, spector, family=F.Binomial())
    ref = smf.glm(SPECTOR, spector, family=sm.families.Binomial()).fit(**TIGHT)
    for method, label in (("eyex", "d(lny)/d(lnx)"), ("dydx", "dy/dx")):
        text = res.get_margeff("overall", method).summary().as_text()
        ref_text = ref.get_margeff("overall", method).summary().as_text()
        lines = text.splitlines()
        assert lines[0].strip() == "GLM Marginal Effects"
        assert "Dep. Variable:" in text and "GRADE" in text and f"At:{'overall':>34}" in text
        head = next(ln for ln in lines if label in ln)
        assert head.split() == [label, "std", "err", "z", "P>|z|", "[0.025", "0.975]"]
        for name in ("GPA", "TUCE", "PSI"):  # the numbers as statsmodels prints them
            row = next(ln for ln in lines if ln.startswith(name + " "))
            ref_row = next(ln for ln in ref_text.splitlines() if ln.startswith(name + " "))
            assert row.split() == ref_row.split(), (row, ref_row)
        assert max(len(ln) for ln in lines) <= 78  # fits a terminal
    text = res.get_margeff(dummy=True).summary().as_text()
    assert "Discrete changes:" in text and "dummy" in text


def test_bad_arguments(spector):
    E = jaxmle.InputError
    res = jaxmle.glm(SPECTOR, spector, family=F.Binomial())
    for kw, match in (({"at": "all"}, "`at` must be one of"),
                      ({"method": "dlogy"}, "`method` must be one of"),
                      ({"method": "eyex", "dummy": True}, "method='eyex'"),
                      ({"at": "median", "count": True}, "at='median'"),
                      ({"at": "zero", "dummy": True}, "at='zero'"),
                      ({"dummy": 1}, "`dummy` must be True or False")):  # fmt: skip
        with pytest.raises(E, match=match):
            res.get_margeff(**kw)
    with pytest.raises(TypeError):
        res.get_margeff("overall", "dydx", None)  # statsmodels' atexog: not offered
    with pytest.raises(E, match="alpha"):
        res.get_margeff().conf_int(alpha=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert res.get_margeff(at="MEAN", method="EYDX").margeff_options["at"] == "mean"
