"""Cluster-robust and HAC covariances of ``jaxmle.ols`` and ``jaxmle.glm`` against statsmodels 0.15.

The oracle is statsmodels' ``fit(cov_type="cluster" | "HAC", cov_kwds=...)`` on datasets it
ships (grunfeld for panel clustering, macrodata for HAC, spector, cpunish and randhie for GLMs),
plus two identities that need no oracle: HAC with 0 lags is HC0, and clustering every row on its
own is HC1 (the factor ``n/(n − 1)·(n − 1)/(n − k)`` is HC1's ``n/(n − k)``). Tolerance: 1e-8
relative (statsmodels' GLMs at ``tol=0``: until the deviance repeats exactly); p-values, which
amplify a statistic's relative error by ``|log p|``, to 1e-8·max(1, |log p|).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from statsmodels.discrete import discrete_model as dm

import jaxmle
from jaxmle import _irls_groups
from jaxmle import families as F  # noqa: N812 - F for families, as sm.families

RTOL = 1e-8
TIGHT = {"tol": 0.0, "maxiter": 100}
GRUNFELD = "invest ~ value + capital"
MACRO = "np.log(realinv) ~ np.log(realgdp) + realint"
SPECTOR = "GRADE ~ GPA + TUCE + PSI"
E = jaxmle.InputError

pytestmark = pytest.mark.filterwarnings(
    "ignore::statsmodels.tools.sm_exceptions.SpecificationWarning",
    "ignore::statsmodels.tools.sm_exceptions.ValueWarning",
    "ignore::RuntimeWarning:statsmodels",  # its margins' sqrt of a negative variance
)


def close(a, b, rtol=RTOL):
    np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=rtol, atol=0)


def close_p(a, b, rtol=RTOL):
    a, b = np.asarray(a, float).ravel(), np.asarray(b, float).ravel()
    zero = b == 0.0  # underflowed (a z of 40): ours must underflow too
    assert np.all(a[zero] < 1e-300), (a, b)
    a, b = a[~zero], b[~zero]
    tol = rtol * np.maximum(1.0, np.abs(np.log(b)))
    assert np.all(np.abs(a - b) <= tol * b), (a, b)


def same_inference(ours, theirs, rtol=RTOL):
    """params, bse, p-values, intervals and the covariance, against a statsmodels result."""
    for k in ("params", "bse", "tvalues"):
        close(getattr(ours, k), getattr(theirs, k), rtol)
    close_p(ours.pvalues, theirs.pvalues, rtol)
    close(ours.conf_int(), theirs.conf_int(), rtol)
    close(ours.conf_int(0.1), theirs.conf_int(0.1), rtol)
    close(ours.cov_params(), theirs.cov_params(), rtol)
    assert ours.use_t == theirs.use_t
    df = ours.to_dataframe()
    close(df["std err"], theirs.bse, rtol)
    close(df.iloc[:, 4:], ours.conf_int(), 1e-15)


@pytest.fixture(scope="module")
def grunfeld():
    return sm.datasets.grunfeld.load_pandas().data


@pytest.fixture(scope="module")
def macro():
    return sm.datasets.macrodata.load_pandas().data


@pytest.fixture(scope="module")
def spector():
    return sm.datasets.spector.load_pandas().data


# --------------------------------------------------------------------------------------------
# OLS.


def test_ols_cluster_one_way(grunfeld):
    ours = jaxmle.ols(GRUNFELD, grunfeld, cov_type="cluster", cov_kwds={"groups": "firm"})
    theirs = smf.ols(GRUNFELD, grunfeld).fit(cov_type="cluster",
                                             cov_kwds={"groups": grunfeld.firm})  # fmt: skip
    same_inference(ours, theirs)
    assert ours.cov_type == theirs.cov_type == "cluster"
    assert ours.n_groups == 11 and ours.df_resid_inference == theirs.df_resid_inference == 10
    assert ours.df_resid == theirs.df_resid == 217  # df_resid itself is not changed
    # The F-test is the Wald test in the cluster covariance on F(2, G − 1).
    close(ours.fvalue, theirs.fvalue)
    close_p(ours.f_pvalue, theirs.f_pvalue)
    text = ours.summary().as_text()
    assert "Covariance Type:              cluster" in text
    assert theirs.cov_kwds["description"] in text and ours.cov_kwds["description"] in text
    assert "P>|z|" in text and f"{theirs.fvalue:#8.4g}".strip() in text
    # the same labels given as an array, a Series, or integer codes
    for g in (grunfeld.firm.to_numpy(), grunfeld.firm, pd.factorize(grunfeld.firm)[0]):
        close(jaxmle.ols(GRUNFELD, grunfeld, cov_type="cluster", cov_kwds={"groups": g}).bse,
              theirs.bse)  # fmt: skip


def test_ols_cluster_options_and_t(grunfeld):
    g = grunfeld.year
    for kw in ({"use_t": True}, {"use_t": True, "df_correction": False},
               {"use_correction": False}):  # fmt: skip
        ours = jaxmle.ols(GRUNFELD, grunfeld, cov_type="cluster", cov_kwds={"groups": g, **kw})
        theirs = smf.ols(GRUNFELD, grunfeld).fit(cov_type="cluster",
                                                 cov_kwds={"groups": g, **kw})  # fmt: skip
        same_inference(ours, theirs)
        close(ours.fvalue, theirs.fvalue)
        close_p(ours.f_pvalue, theirs.f_pvalue)
    # with use_t, t on G − 1 = 19 degrees of freedom: a real quantile, not the code's own
    res = jaxmle.ols(GRUNFELD, grunfeld, cov_type="cluster", cov_kwds={"groups": g,
                                                                      "use_t": True})  # fmt: skip
    ci = res.conf_int().to_numpy()
    close((ci[:, 1] - res.params) / res.bse, np.full(3, 2.0930240544083), rtol=1e-12)
    assert "P>|t|" in res.summary().as_text()


@pytest.mark.parametrize("fit", ["ols", "ols_t", "glm"])
def test_hypothesis_tests_use_the_cluster_degrees_of_freedom(grunfeld, fit):
    """t_test, f_test and wald_test under a cluster covariance: t and F on G − 1 = 10, as the
    coefficient table and statsmodels (they used n − k = 217: a t_test p-value 3000× too
    small on some data)."""
    kw = {"groups": grunfeld.firm, **({"use_t": True} if fit == "ols_t" else {})}
    est, ref = (jaxmle.glm, smf.glm) if fit == "glm" else (jaxmle.ols, smf.ols)
    ours = est(GRUNFELD, grunfeld, cov_type="cluster", cov_kwds=kw)
    theirs = ref(GRUNFELD, grunfeld).fit(cov_type="cluster", cov_kwds=kw)
    tt, st = ours.t_test("value = 0, capital = 2*value"), theirs.t_test(
        "value = 0, capital = 2*value")  # fmt: skip
    close_p(tt.pvalue, st.pvalue)
    close(tt.conf_int(), st.conf_int())
    for ft, sf in ((ours.f_test("value = 0, capital = 0"),
                    theirs.f_test("value = 0, capital = 0")),
                   (ours.wald_test("value = 0, capital = 0", use_f=True),
                    theirs.wald_test("value = 0, capital = 0", use_f=True, scalar=True))):
        assert float(ft.df_denom) == float(sf.df_denom) == 10
        close(ft.statistic, sf.statistic)
        close_p(ft.pvalue, sf.pvalue)


def test_ols_cluster_rank_deficient_f(grunfeld):
    """Firm effects clustered by firm: the F-test on the covariance's rank, as statsmodels.

    Each firm's residuals sum to zero (its dummy's normal equation), so the clusters' score
    sums vanish but for value and capital: the 12 slopes' cluster covariance has rank 2, and
    statsmodels' Wald test uses its pseudo-inverse on 2 numerator degrees of freedom.
    """
    f = "invest ~ value + capital + C(firm)"
    ours = jaxmle.ols(f, grunfeld, cov_type="cluster", cov_kwds={"groups": "firm"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels: "covariance of constraints does not..."
        theirs = smf.ols(f, grunfeld).fit(cov_type="cluster", cov_kwds={"groups": grunfeld.firm})
        fv, fp = theirs.fvalue, theirs.f_pvalue
    same_inference(ours, theirs)
    close(ours.fvalue, fv)
    close_p(ours.f_pvalue, fp)
    assert ours._f_test[1] == 2.0 and ours.df_resid_inference == 10


def test_ols_two_way_and_wls(grunfeld):
    codes = np.column_stack([pd.factorize(grunfeld.firm)[0], grunfeld.year.astype(int)])
    theirs = smf.ols(GRUNFELD, grunfeld).fit(cov_type="cluster", cov_kwds={"groups": codes})
    for g in (["firm", "year"], grunfeld[["firm", "year"]], codes, [grunfeld.firm, grunfeld.year]):
        ours = jaxmle.ols(GRUNFELD, grunfeld, cov_type="cluster", cov_kwds={"groups": g})
        same_inference(ours, theirs)
    assert ours.n_groups == (11, 20) and ours.df_resid_inference == 10
    close(ours.fvalue, theirs.fvalue)
    # weighted least squares: scores wᵢxᵢeᵢ, bread (XᵀWX)⁻¹
    w = 1.0 / (1.0 + grunfeld.capital / 100.0)
    ours = jaxmle.ols(GRUNFELD, grunfeld, weights=w, cov_type="cluster",
                      cov_kwds={"groups": "firm"})  # fmt: skip
    theirs = smf.wls(GRUNFELD, grunfeld, weights=w).fit(
        cov_type="cluster", cov_kwds={"groups": grunfeld.firm}
    )
    same_inference(ours, theirs)
    # predictions use the cluster covariance
    new = grunfeld.iloc[[3, 50, 170]]
    close(ours.get_prediction(new).summary_frame().to_numpy(),
          theirs.get_prediction(new).summary_frame().to_numpy())  # fmt: skip


def test_ols_cluster_identities(grunfeld):
    """Each row its own cluster is HC1; HAC with 0 lags is HC0 (HC1 with its correction)."""
    hc = jaxmle.ols(GRUNFELD, grunfeld, cov_type="HC1")
    own = jaxmle.ols(GRUNFELD, grunfeld, cov_type="cluster",
                     cov_kwds={"groups": np.arange(len(grunfeld))})  # fmt: skip
    close(own.cov_params(), hc.cov_params(), rtol=1e-12)
    for kw, ref in (({}, "HC0"), ({"use_correction": True}, "HC1")):
        hac = jaxmle.ols(GRUNFELD, grunfeld, cov_type="HAC", cov_kwds={"maxlags": 0, **kw})
        close(hac.cov_params(), jaxmle.ols(GRUNFELD, grunfeld, cov_type=ref).cov_params(),
              rtol=1e-12)  # fmt: skip


def test_ols_cluster_drops_missing_rows(grunfeld):
    d = grunfeld.copy()
    d.loc[[5, 77, 140], "value"] = np.nan
    kept = d.dropna()
    theirs = smf.ols(GRUNFELD, kept).fit(cov_type="cluster", cov_kwds={"groups": kept.firm})
    # a name, the full column (by label), or a full-length array (by position)
    for g in ("firm", d.firm, d.firm.to_numpy(), kept.firm):
        ours = jaxmle.ols(GRUNFELD, d, cov_type="cluster", cov_kwds={"groups": g})
        assert ours.nobs == 217
        same_inference(ours, theirs)


@pytest.mark.parametrize(
    "kw",
    [
        {"maxlags": 4},
        {"maxlags": 2, "kernel": "uniform"},
        {"maxlags": 8, "use_correction": True, "use_t": True},
    ],
)
def test_ols_hac_macrodata(macro, kw):
    ours = jaxmle.ols(MACRO, macro, cov_type="HAC", cov_kwds=kw)
    theirs = smf.ols(MACRO, macro).fit(cov_type="HAC", cov_kwds=dict(kw))
    same_inference(ours, theirs)
    close(ours.fvalue, theirs.fvalue)
    close_p(ours.f_pvalue, theirs.f_pvalue)
    assert ours.cov_type == "HAC" and ours.df_resid_inference == ours.df_resid
    text = ours.summary().as_text()
    assert theirs.cov_kwds["description"] in text
    assert "Covariance Type:                  HAC" in text


# --------------------------------------------------------------------------------------------
# GLM.


@pytest.mark.parametrize("link", ["logit", "probit"])
@pytest.mark.parametrize("cov", [("cluster", {"groups": np.arange(32) // 4}),
                                 ("cluster", {"groups": np.arange(32) // 4,
                                              "use_correction": False}),
                                 ("cluster", {"groups": np.c_[np.arange(32) // 4,
                                                              np.arange(32) % 2]}),
                                 ("HAC", {"maxlags": 2}),
                                 ("HAC", {"maxlags": 3, "use_correction": True})])  # fmt: skip
def test_glm_spector(spector, link, cov):
    cov_type, kw = cov
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        ours = jaxmle.glm(SPECTOR, spector, family=F.Binomial(link), cov_type=cov_type,
                          cov_kwds=kw)  # fmt: skip
    # this two-way covariance has positive variances but a negative eigenvalue
    two_way = np.ndim(kw.get("groups")) == 2
    assert any("not positive semi-definite" in str(w.message) for w in seen) == two_way
    fam = sm.families.Binomial(None if link == "logit" else sm.families.links.Probit())
    fit = dict(TIGHT)
    if link == "probit":
        # statsmodels' probit IRLS stops 8e-10 from the optimum (score 1.7e-8), which the
        # lower end of TUCE's interval (0.0014 = 0.052 − 0.050) amplifies to 2e-8; one IRLS
        # step from discrete.Probit's Newton optimum (score 1e-13) stays there.
        start = dm.Probit.from_formula(SPECTOR, spector).fit(
            method="newton", tol=1e-14, maxiter=100, disp=0).params  # fmt: skip
        fit = {"start_params": start, "tol": 0.0, "maxiter": 1}
    theirs = smf.glm(SPECTOR, spector, family=fam).fit(cov_type=cov_type, cov_kwds=dict(kw),
                                                       **fit)  # fmt: skip
    same_inference(ours, theirs)
    assert ours.cov_type == cov_type and not ours.use_t
    assert f"Covariance Type:{cov_type:>21}" in ours.summary().as_text()
    # marginal effects carry the chosen covariance
    m, mr = ours.get_margeff(), theirs.get_margeff()
    close(m.margeff_se, mr.margeff_se)


def test_glm_weights(spector):
    """Frequency weights: cluster scores summed as they are, HAC scores divided by √f."""
    cp = sm.datasets.cpunish.load_pandas().data
    fw = np.array([1, 2, 3, 1, 2, 1, 1, 4, 1, 2, 1, 3, 1, 2, 1, 1, 2.0])
    f = "EXECUTIONS ~ INCOME + PERPOVERTY + SOUTH"
    for cov_type, kw in (("cluster", {"groups": np.arange(17) % 5}), ("HAC", {"maxlags": 2})):
        ours = jaxmle.glm(f, cp, family=F.Poisson(), freq_weights=fw, cov_type=cov_type,
                          cov_kwds=kw)  # fmt: skip
        theirs = smf.glm(f, cp, family=sm.families.Poisson(), freq_weights=fw).fit(
            cov_type=cov_type, cov_kwds=dict(kw), **TIGHT)  # fmt: skip
        same_inference(ours, theirs)
        ours = jaxmle.glm(f, cp, family=F.Gamma("log"), var_weights=fw, cov_type=cov_type,
                          cov_kwds=kw)  # fmt: skip
        theirs = smf.glm(
            f, cp, family=sm.families.Gamma(sm.families.links.Log()), var_weights=fw
        ).fit(cov_type=cov_type, cov_kwds=dict(kw), **TIGHT)
        same_inference(ours, theirs)


def test_glm_nb_alpha_estimated():
    rh = sm.datasets.randhie.load_pandas().data.iloc[:2000]
    f = "mdvis ~ lncoins + idp + lpi + fmde + physlm + disea + hlthg + hlthf + hlthp"
    for cov_type, kw in (("cluster", {"groups": np.arange(2000) // 50}), ("HAC", {"maxlags": 4})):
        ours = jaxmle.glm(f, rh, family=F.NegativeBinomial(), cov_type=cov_type, cov_kwds=kw)
        theirs = dm.NegativeBinomial.from_formula(f, rh).fit(
            method="newton", tol=1e-14, maxiter=1000, disp=0, cov_type=cov_type,
            cov_kwds=dict(kw))  # fmt: skip
        same_inference(ours, theirs)  # α's row too: its score is part of the meat


def test_glm_cluster_on_collapsed_rows():
    """A contingency-table design fits on its distinct rows; the covariance uses every row."""
    rng = np.random.default_rng(7)
    n = 3000
    a, b = rng.choice(["u", "v", "w"], n), rng.choice(["p", "q", "r", "s"], n)
    rate = np.exp(0.3 + 0.4 * (a == "v") - 0.2 * (a == "w") + 0.1 * (b == "q") + 0.5 * (b == "s"))
    site = rng.integers(0, 40, n)
    # a shared effect per site: the cluster covariance has something to find
    y = rng.poisson(rate * np.exp(0.4 * rng.standard_normal(40))[site])
    d = pd.DataFrame({"y": y, "a": a, "b": b, "site": site})
    f = "y ~ C(a) + C(b)"
    ours = jaxmle.glm(f, d, family=F.Poisson(), cov_type="cluster", cov_kwds={"groups": "site"})
    assert _irls_groups.find(ours.design.X, None) is not None  # the collapsed path was taken
    assert ours.mu.shape == (n,)
    theirs = smf.glm(f, d, family=sm.families.Poisson()).fit(
        cov_type="cluster", cov_kwds={"groups": d.site}, **TIGHT)  # fmt: skip
    same_inference(ours, theirs)
    hac = jaxmle.glm(f, d, family=F.Poisson(), cov_type="HAC", cov_kwds={"maxlags": 3})
    same_inference(hac, smf.glm(f, d, family=sm.families.Poisson()).fit(
        cov_type="HAC", cov_kwds={"maxlags": 3}, **TIGHT))  # fmt: skip
    # the site effect moves every rate of a site together: the intercept's standard error
    assert ours.bse["Intercept"] > 1.5 * jaxmle.glm(f, d, family=F.Poisson()).bse["Intercept"]


@pytest.mark.filterwarnings("ignore:invalid value encountered in sqrt:RuntimeWarning")
def test_two_way_negative_variance_warns(spector):
    g = np.c_[np.arange(32) // 4, np.arange(32) % 3]
    with pytest.warns(RuntimeWarning, match="two-way cluster covariance has a negative"):
        res = jaxmle.glm(SPECTOR, spector, family=F.Binomial(), cov_type="cluster",
                         cov_kwds={"groups": g})  # fmt: skip
    ref = smf.glm(SPECTOR, spector, family=sm.families.Binomial()).fit(
        cov_type="cluster", cov_kwds={"groups": g}, **TIGHT)  # fmt: skip
    close(np.diag(res.cov_params()), np.diag(ref.cov_params()))  # statsmodels' matrix too
    assert np.isnan(res.bse["PSI"]) and np.isnan(ref.bse["PSI"])


# --------------------------------------------------------------------------------------------
# Bad cov_kwds.


def test_bad_cov_kwds(grunfeld, spector):
    n = len(grunfeld)
    cases = [
        ("cluster", None, r"needs `cov_kwds=\{'groups'"),
        ("cluster", {}, r"needs `cov_kwds=\{'groups'"),
        ("cluster", {"groups": np.arange(n - 1)}, r"219 labels but the model has 220 rows"),
        ("cluster", {"groups": np.r_[np.nan, np.arange(n - 1.0)]}, r"missing label.*row 0"),
        ("cluster", {"groups": grunfeld.firm.where(grunfeld.index != 9)}, r"missing.*row 9"),
        ("cluster", {"groups": np.zeros(n)}, "single cluster"),
        ("cluster", {"groups": np.zeros((n, 3))}, "3 columns"),
        ("cluster", {"groups": "plant"}, "names the column 'plant'"),
        ("cluster", {"groups": "firm", "group": 1}, r"unknown key\(s\) \['group'\]"),
        ("cluster", {"groups": "firm", "use_correction": "yes"}, "use_correction"),
        ("cluster", ["firm"], "`cov_kwds` must be a dict"),
        ("HAC", None, r"needs `cov_kwds=\{'maxlags'"),
        ("HAC", {"maxlags": -1}, "non-negative integer; got -1"),
        ("HAC", {"maxlags": 2.0}, "non-negative integer; got 2.0"),
        ("HAC", {"maxlags": True}, "non-negative integer"),
        ("HAC", {"maxlags": 2, "kernel": "parzen"}, "kernel"),
        ("HAC", {"maxlags": 2, "kernel": lambda L: np.ones(L)}, "maxlags \\+ 1 = 3"),
        ("HAC", {"maxlags": 2, "groups": "firm"}, r"unknown key\(s\) \['groups'\]"),
        ("nonrobust", {"groups": "firm"}, "only for cov_type='cluster' or 'HAC'"),
        ("HC1", {"maxlags": 2}, "only for cov_type='cluster' or 'HAC'"),
    ]
    for cov_type, kw, match in cases:
        with pytest.raises(E, match=match):
            jaxmle.ols(GRUNFELD, grunfeld, cov_type=cov_type, cov_kwds=kw)
    with pytest.raises(E, match="cov_type"):
        jaxmle.ols(GRUNFELD, grunfeld, cov_type="HAC-panel")
    y, X = grunfeld.invest.to_numpy(), sm.add_constant(grunfeld[["value"]].to_numpy())
    with pytest.raises(E, match="only with a formula"):
        jaxmle.ols(y, X, cov_type="cluster", cov_kwds={"groups": "firm"})
    # GLM: the same checks; use_t is OLS's only (statsmodels' GLM has no use_t in cov_kwds)
    for cov_type, kw, match in [
        ("cluster", None, r"needs `cov_kwds=\{'groups'"),
        ("cluster", {"groups": np.arange(31)}, "31 labels but the model has 32 rows"),
        ("HAC", {"maxlags": -2}, "non-negative integer; got -2"),
        ("HAC", {"maxlags": 1, "use_t": True}, r"unknown key\(s\) \['use_t'\]"),
        ("HC0", {"maxlags": 1}, "takes no keywords"),
    ]:
        with pytest.raises(E, match=match):
            jaxmle.glm(SPECTOR, spector, family=F.Binomial(), cov_type=cov_type, cov_kwds=kw)
    with pytest.raises(E, match="cov_type"):
        jaxmle.glm(SPECTOR, spector, cov_type="cluster-crv3")


def test_no_kwds_left_alone(grunfeld):
    # cov_kwds={} with a covariance that takes none is fine (statsmodels' default)
    res = jaxmle.ols(GRUNFELD, grunfeld, cov_type="HC1", cov_kwds={})
    assert res.cov_kwds == {"description": "Standard Errors are heteroscedasticity robust (HC1)"}
    assert res.n_groups is None and res.df_resid_inference == res.df_resid
    hac = jaxmle.ols(
        GRUNFELD, grunfeld, cov_type="hac", cov_kwds={"maxlags": 1, "weights_func": "uniform"}
    )
    assert hac.cov_type == "HAC" and hac.cov_kwds["kernel"] == "uniform"
