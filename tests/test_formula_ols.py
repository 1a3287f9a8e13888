"""``jaxmle.ols``: formulas and DataFrames in, statsmodels' OLS/WLS results out.

The oracle is statsmodels 0.15 (``statsmodels.formula.api.ols``/``wls`` and ``sm.OLS``/``WLS``)
on datasets it ships, and NIST's certified values for Longley. Tolerance: 1e-9 relative
unless a comment says why (statsmodels solves by ``pinv``; jaxmle by QR with double-double
refinement, so where the two differ by more than rounding it is statsmodels that is off: on
Longley, statsmodels is 1.2e-11 from NIST's certified coefficients and jaxmle 2.4e-15).

Compilation: one program per design shape serves every cov_type and OLS/WLS; the shapes here
are few on purpose (each new shape compiles the kernel, seconds on CPU).
"""

from __future__ import annotations

import re
import threading

import jax
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf

import jaxmle
from jaxmle._ols_results import OLSResults, ols

RTOL = 1e-9
COV_TYPES = ("nonrobust", "HC0", "HC1", "HC2", "HC3")
GRUNFELD = "invest ~ value + capital + C(firm)"
# np.log of a variable and an interaction x1:x2, on 6,366 rows, with categoricals.
FAIR = "affairs ~ rate_marriage + age + yrs_married + C(religious) + np.log(educ) + age:yrs_married"


def close(ours, theirs, rtol=RTOL):
    np.testing.assert_allclose(np.asarray(ours, float), np.asarray(theirs, float), rtol=rtol,
                               atol=0)  # fmt: skip


def close_p(ours, theirs, rtol=RTOL):
    # A tail probability p amplifies a statistic's relative error by |d log p / d log t|, which
    # grows like |log p|: Grunfeld's WLS F-test has p = 1.7e-186, where statsmodels' F (from
    # pinv, good to ~1e-12) moves p by 1.6e-9. So p-values are compared to rtol·max(1, |ln p|).
    ours, theirs = np.asarray(ours, float), np.asarray(theirs, float)
    assert np.array_equal(np.isnan(ours), np.isnan(theirs)), (ours, theirs)
    ours, theirs = ours[~np.isnan(theirs)], theirs[~np.isnan(theirs)]
    tol = rtol * np.maximum(1.0, np.abs(np.log(np.where(theirs > 0, theirs, 1.0))))
    assert np.all(np.abs(ours - theirs) <= tol * np.abs(theirs)), (ours, theirs)


# --------------------------------------------------------------------------------------------
# Data and fits, once per module.


@pytest.fixture(scope="module")
def grunfeld():
    return sm.datasets.grunfeld.load_pandas().data


@pytest.fixture(scope="module")
def fair():
    return sm.datasets.fair.load_pandas().data


@pytest.fixture(scope="module")
def longley():
    return sm.datasets.longley.load_pandas()


@pytest.fixture(scope="module")
def new_firms():
    # Levels in another order than the fit's, a subset of them, and a non-default index.
    return pd.DataFrame({"value": [1000.0, 2500.0, 60.0, 400.0],
                         "capital": [100.0, 20.0, 3.0, 250.0],
                         "firm": ["IBM", "General Motors", "Chrysler", "IBM"]},
                        index=["a", "b", "c", "d"])  # fmt: skip


def _scalars(ours, theirs, rtol=RTOL):
    close_p(ours.f_pvalue, theirs.f_pvalue, rtol)
    for name in ("rsquared", "rsquared_adj", "fvalue", "llf", "aic", "bic", "ssr",
                 "ess", "centered_tss", "uncentered_tss", "mse_model", "mse_resid", "mse_total",
                 "scale", "nobs", "df_model", "df_resid", "k_constant"):  # fmt: skip
        close(getattr(ours, name), getattr(theirs, name), rtol)
    assert ours.use_t == theirs.use_t
    assert ours.cov_type == theirs.cov_type


def _vectors(ours, theirs, rtol=RTOL):
    assert list(ours.params.index) == list(theirs.params.index)  # names in design order
    for name in ("params", "bse", "tvalues"):
        close(getattr(ours, name), getattr(theirs, name), rtol)
    close_p(ours.pvalues, theirs.pvalues, rtol)
    close(ours.conf_int(), theirs.conf_int(), rtol)
    close(ours.conf_int(0.1), theirs.conf_int(0.1), rtol)
    close(ours.cov_params(), theirs.cov_params(), rtol)


# --------------------------------------------------------------------------------------------
# Against statsmodels' formula API.


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_grunfeld_categorical_matches_statsmodels(grunfeld, cov_type):
    ours = ols(GRUNFELD, grunfeld, cov_type=cov_type)
    theirs = smf.ols(GRUNFELD, grunfeld).fit(cov_type=cov_type)
    assert isinstance(ours, OLSResults)
    _vectors(ours, theirs)
    _scalars(ours, theirs)
    # Grunfeld's design has condition number 3e4: statsmodels' pinv is good to ~1e-12 there.
    close(ours.condition_number, theirs.condition_number, 1e-12)
    close(ours.fittedvalues, theirs.fittedvalues)
    close(ours.resid, theirs.resid, 1e-8)  # residuals cancel: 1e-9 of y's scale, not theirs
    assert ours.params.index[0] == "Intercept" and "C(firm)[T.IBM]" in ours.params.index
    assert ours.fittedvalues.index.equals(theirs.fittedvalues.index)


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC1", "HC3"])
def test_fair_log_and_interaction_wls(fair, cov_type):
    w = 1.0 / (1.0 + fair["children"])
    ours = ols(FAIR, fair, weights=w, cov_type=cov_type)
    theirs = smf.wls(FAIR, fair, weights=w).fit(cov_type=cov_type)
    assert "np.log(educ)" in ours.params.index and "age:yrs_married" in ours.params.index
    assert ours.model_name == "WLS"
    _vectors(ours, theirs)
    _scalars(ours, theirs)
    close(ours.wresid, theirs.wresid, 1e-8)
    # A column of data given by name is the same weights.
    by_name = ols(FAIR, fair.assign(w=w), weights="w", cov_type=cov_type)
    close(by_name.params, ours.params, 0)


def test_fair_ols(fair):
    ours, theirs = ols(FAIR, fair), smf.ols(FAIR, fair).fit()
    _vectors(ours, theirs)
    _scalars(ours, theirs)


def test_hc_standard_errors_of_any_fit(grunfeld):
    ours = ols(GRUNFELD, grunfeld)
    theirs = smf.ols(GRUNFELD, grunfeld).fit()
    for k in range(4):
        close(getattr(ours, f"HC{k}_se"), getattr(theirs, f"HC{k}_se"))
        close(getattr(ours, f"cov_HC{k}"), getattr(theirs, f"cov_HC{k}"))
    assert ours.cov_type == "nonrobust"  # unchanged


def test_no_intercept_uncentered_rsquared(grunfeld):
    f = "invest ~ value + capital - 1"
    ours, theirs = ols(f, grunfeld), smf.ols(f, grunfeld).fit()
    assert ours.k_constant == 0 == theirs.k_constant
    _vectors(ours, theirs)
    _scalars(ours, theirs)  # rsquared, ess, mse_total: uncentered, as statsmodels
    text = ours.summary().as_text()
    assert "R-squared (uncentered):" in text and "without centering" in text
    close(ours.rsquared, 1 - ours.ssr / ours.uncentered_tss)


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0"])
def test_implicit_constant(grunfeld, cov_type):
    # All firm dummies and no intercept: the columns span a constant (statsmodels' implicit
    # constant): centred R², df_model = p − 1, and a robust F that is NaN.
    f = "invest ~ C(firm) + value + capital - 1"
    ours, theirs = ols(f, grunfeld, cov_type=cov_type), smf.ols(f, grunfeld).fit(cov_type=cov_type)
    assert ours.k_constant == 1 == theirs.k_constant
    _vectors(ours, theirs)
    _scalars(ours, theirs)
    if cov_type != "nonrobust":
        assert np.isnan(ours.fvalue) and np.isnan(ours.f_pvalue)


# --------------------------------------------------------------------------------------------
# Arrays and pandas objects (statsmodels' OLS(y, X)).


def test_longley_arrays_nist_and_statsmodels(longley):
    import nist

    X = sm.add_constant(longley.exog)
    ours, theirs = ols(longley.endog, X), sm.OLS(longley.endog, X).fit()
    if nist.available():
        p = nist.load_linear("Longley")
        # Longley's column-scaled condition number is 4e4 (8e9 unscaled): the QR kernel with
        # double-double refinement reaches NIST's certified coefficients to ~1e-14; the
        # standard errors, (XᵀX)⁻¹ from the triangular factor, to eps·cond ~ 2e-13 (12.7
        # digits; statsmodels 12.6).
        close(ours.params.to_numpy(), p.coef, 1e-13)
        close(ours.bse.to_numpy(), p.se, 1e-12)
        close(np.sqrt(ours.scale), p.resid_sd, 1e-13)
    # statsmodels' pinv is 1.2e-11 from NIST here: compare at 1e-9 anyway (it passes), not
    # tighter, as the difference is statsmodels' rounding.
    _vectors(ours, theirs)
    _scalars(ours, theirs)
    close(ours.condition_number, theirs.condition_number, 1e-9)  # σ_min to eps·σ_max: ~1e-6·κ


def test_series_in_series_out(longley):
    X, y = sm.add_constant(longley.exog), longley.endog
    res = ols(y, X)
    assert isinstance(res.params, pd.Series) and list(res.params.index) == list(X.columns)
    assert res.design.y_name == "TOTEMP"
    assert isinstance(res.fittedvalues, pd.Series) and res.fittedvalues.index.equals(X.index)
    assert isinstance(res.resid, pd.Series) and isinstance(res.conf_int(), pd.DataFrame)
    pred = res.predict(X.iloc[2:5])
    assert isinstance(pred, pd.Series) and pred.index.equals(X.index[2:5])
    close(pred, sm.OLS(y, X).fit().predict(X.iloc[2:5]))
    assert "TOTEMP" in res.summary().as_text()


def test_ndarray_in_ndarray_out(longley):
    X, y = sm.add_constant(longley.exog).to_numpy(), longley.endog.to_numpy()
    res, theirs = ols(y, X), sm.OLS(y, X).fit()
    for v in (res.params, res.bse, res.pvalues, res.fittedvalues, res.resid, res.conf_int(),
              res.cov_params(), res.predict(X[:3])):  # fmt: skip
        assert type(v) is np.ndarray
    assert res.param_names == ("const", "x1", "x2", "x3", "x4", "x5", "x6")
    assert res.param_names == tuple(theirs.model.exog_names)
    close(res.params, theirs.params)
    close(res.predict(X[0]), theirs.predict(X[:1]))  # one row as a 1-d array
    frame = res.get_prediction(X[:4]).summary_frame()
    # statsmodels' xᵀVx cancels on Longley (condition number 8e9): it is 3e-9 from the exact
    # standard errors (test_longley_prediction_exact), so 1e-8 here.
    close(frame, theirs.get_prediction(X[:4]).summary_frame(), 1e-8)


def test_longley_prediction_exact(longley):
    mpmath = pytest.importorskip("mpmath")
    X, y = sm.add_constant(longley.exog).to_numpy(), longley.endog.to_numpy()
    with mpmath.workdps(60):  # the exact least-squares algebra of the float64 data
        A, Y = mpmath.matrix(X.tolist()), mpmath.matrix(y.tolist())
        Ginv = (A.T * A) ** -1
        r = Y - A * (Ginv * (A.T * Y))
        s2 = (r.T * r)[0] / (len(y) - X.shape[1])
        rows = [mpmath.matrix(x.tolist()) for x in X[:4]]
        exact = [float(mpmath.sqrt(s2 * (x.T * Ginv * x)[0])) for x in rows]
    close(ols(y, X).get_prediction(X[:4]).se_mean, exact, 1e-12)


def test_wls_arrays(grunfeld):
    X = smf.ols(GRUNFELD, grunfeld).fit().model.exog  # (220, 12), as an ndarray
    y, w = grunfeld["invest"].to_numpy(), 1.0 / grunfeld["capital"].to_numpy()
    for cov_type in ("nonrobust", "HC2"):
        ours = ols(y, X, weights=w, cov_type=cov_type)
        theirs = sm.WLS(y, X, weights=w).fit(cov_type=cov_type)
        for name in ("params", "bse"):
            close(getattr(ours, name), getattr(theirs, name))
        close_p(ours.pvalues, theirs.pvalues)
        close(ours.conf_int(), theirs.conf_int())
        _scalars(ours, theirs)
        close(ours.condition_number, theirs.condition_number, 1e-12)


# --------------------------------------------------------------------------------------------
# Prediction.


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC1"])
def test_predict_new_data_with_categorical(grunfeld, new_firms, cov_type):
    ours = ols(GRUNFELD, grunfeld, cov_type=cov_type)
    theirs = smf.ols(GRUNFELD, grunfeld).fit(cov_type=cov_type)
    pred = ours.predict(new_firms)
    assert pred.index.equals(new_firms.index)
    close(pred, theirs.predict(new_firms))
    for alpha in (0.05, 0.2):
        frame = ours.get_prediction(new_firms).summary_frame(alpha)
        ref = theirs.get_prediction(new_firms).summary_frame(alpha)
        assert (
            list(frame.columns)
            == list(ref.columns)
            == ["mean", "mean_se", "mean_ci_lower", "mean_ci_upper", "obs_ci_lower", "obs_ci_upper"]
        )
        assert frame.index.equals(ref.index)
        close(frame, ref)
    close(ours.predict(), theirs.fittedvalues)
    with pytest.raises(jaxmle.InputError, match="Nope"):
        ours.predict(new_firms.assign(firm=["IBM", "Nope", "IBM", "IBM"]))


def test_wls_prediction_uses_model_weights(fair):
    w = 1.0 / (1.0 + fair["children"])
    ours, theirs = ols(FAIR, fair, weights=w), smf.wls(FAIR, fair, weights=w).fit()
    close(ours.get_prediction().summary_frame(), theirs.get_prediction().summary_frame())
    new = fair.iloc[:5]
    close(ours.get_prediction(new, weights=2.0).summary_frame(),
          theirs.get_prediction(new, weights=2.0).summary_frame())  # fmt: skip


# --------------------------------------------------------------------------------------------
# Missing values.


@pytest.fixture(scope="module")
def grunfeld_na(grunfeld):
    # Missing values in a numeric and a categorical variable (5 rows), and either 2 more
    # missing responses or 2 missing weights: 213 rows left either way (one compiled shape).
    d = grunfeld.copy()
    d.loc[[3, 50, 51], "value"] = np.nan
    d["firm"] = d["firm"].astype(object)
    d.loc[[7, 120], "firm"] = None
    w = 1.0 / d["capital"].to_numpy()
    w[[90, 200]] = np.nan
    return d, d.assign(invest=d["invest"].where(~d.index.isin([90, 200]))), w


def test_missing_rows_dropped_like_statsmodels(grunfeld_na):
    d, d_y, w = grunfeld_na
    ours, theirs = ols(GRUNFELD, d_y), smf.ols(GRUNFELD, d_y).fit()
    assert ours.nobs == theirs.nobs == 213
    _vectors(ours, theirs)
    assert ours.fittedvalues.index.equals(theirs.fittedvalues.index)
    # Weights are one per row of the data: rows dropped for missing values drop theirs too, and
    # a missing weight drops its row (statsmodels' formula API does both).
    ours, theirs = ols(GRUNFELD, d, weights=w), smf.wls(GRUNFELD, d, weights=w).fit()
    assert ours.nobs == theirs.nobs == 213
    _vectors(ours, theirs)
    _scalars(ours, theirs)
    assert ours.resid.index.equals(theirs.resid.index)
    with pytest.raises(jaxmle.InputError, match="missing='raise'"):
        ols(GRUNFELD, d, missing="raise")


def test_missing_rows_arrays(grunfeld, grunfeld_na):
    X = smf.ols(GRUNFELD, grunfeld).fit().model.exog.copy()  # (220, 12), as an ndarray
    X[[3, 50, 51, 7, 120], 4] = np.nan
    y = grunfeld["invest"].to_numpy().copy()
    y[[90, 200]] = np.nan
    ours, theirs = ols(y, X), sm.OLS(y, X, missing="drop").fit()
    assert ours.nobs == theirs.nobs == 213
    close(ours.params, theirs.params)
    close(ours.bse, theirs.bse)
    with pytest.raises(jaxmle.InputError, match="missing='none'"):
        ols(y, X, missing="none")


# --------------------------------------------------------------------------------------------
# Summary and tables.


def _value_after(text, label):
    m = re.search(re.escape(label) + r"\s+(\S+)", text)
    assert m is not None, f"{label!r} not in the summary"
    return m.group(1)


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC3"])
def test_summary_matches_statsmodels(grunfeld, cov_type):
    ours = ols(GRUNFELD, grunfeld, cov_type=cov_type)
    theirs = smf.ols(GRUNFELD, grunfeld).fit(cov_type=cov_type)
    text, ref = ours.summary().as_text(), theirs.summary().as_text()
    assert text.splitlines()[0].strip() == "OLS Regression Results"
    assert "Date:" not in text and "Time:" not in text  # reproducible
    assert ours.summary().as_text() == text
    for label in ("Dep. Variable:", "Model:", "Method:", "No. Observations:", "Df Residuals:",
                  "Df Model:", "Covariance Type:", "R-squared:", "Adj. R-squared:",
                  "F-statistic:", "Prob (F-statistic):", "Log-Likelihood:", "AIC:", "BIC:",
                  "Omnibus:", "Prob(Omnibus):", "Skew:", "Kurtosis:", "Durbin-Watson:",
                  "Jarque-Bera (JB):", "Prob(JB):", "Cond. No."):  # fmt: skip
        assert _value_after(text, label) == _value_after(ref, label), label
    assert ("P>|t|" if cov_type == "nonrobust" else "P>|z|") in text  # t, or z for HC
    for name in theirs.params.index:
        row = next(ln for ln in text.splitlines() if ln.startswith(name + " "))
        ref_row = next(ln for ln in ref.splitlines() if ln.startswith(name + " "))
        assert row.split()[-6:-3] == ref_row.split()[-6:-3], name  # coef, std err, t
    assert theirs.cov_kwds["description"] in text
    assert "The condition number is large" in text


@pytest.mark.parametrize("rhs", [
    "(hs_grad + poverty) ** 2", "(hs_grad + poverty + white)**2 - hs_grad:white",
    "urban + (np.log(hs_grad) + poverty)**2", "(hs_grad + poverty + white)**3",
    "C(g)*poverty + (hs_grad + white)**2", "hs_grad:poverty + poverty",
])  # fmt: skip
def test_power_terms_in_patsys_order(rhs):
    """``(a + b)**2`` is ``a, b, a:b`` in statsmodels (formulaic's own order: ``a, a:b, b``)."""
    d = sm.datasets.statecrime.load_pandas().data.assign(g=lambda t: np.where(t.urban > 70,
                                                                              "hi", "lo"))
    ours = ols(f"violent ~ {rhs}", d)
    ref = smf.ols(f"violent ~ {rhs}", d, eval_env={"np": np}).fit()
    assert list(ours.params.index) == list(ref.params.index)
    close(ours.params.to_numpy(), ref.params.to_numpy())  # by position too


@pytest.mark.parametrize("rhs", ["b + poverty", "b:poverty", "b*poverty", "C(b)"])
def test_boolean_columns_are_categorical_as_in_patsy(rhs):
    """A boolean column is patsy's categorical ``b[T.True]`` (two columns ``b[False]:x``,
    ``b[True]:x`` in an interaction without its main effect), in the fit and in predict."""
    d = sm.datasets.statecrime.load_pandas().data.assign(b=lambda t: t.urban > 70)
    ours, ref = ols(f"violent ~ {rhs}", d), smf.ols(f"violent ~ {rhs}", d).fit()
    assert list(ours.params.index) == list(ref.params.index)
    close(ours.params.to_numpy(), ref.params.to_numpy())
    close(ours.predict(d.iloc[:7]), ref.predict(d.iloc[:7]))


def test_boolean_response_is_the_probability_of_true():
    sp = sm.datasets.spector.load_pandas().data.assign(b=lambda t: t.GRADE > 0)
    res = jaxmle.glm("b ~ GPA", sp, family=jaxmle.families.Binomial())
    ref = smf.glm("GRADE ~ GPA", sp, family=sm.families.Binomial()).fit(tol=0.0, maxiter=100)
    close(res.params.to_numpy(), ref.params.to_numpy())


def test_summary_columns_stay_apart_for_large_numbers(longley):
    """Longley's intercept (-3.48e6, interval -5.5e6 to -1.5e6) and a long name beside a
    five-digit coefficient: every coefficient row still reads as a name and six numbers."""
    df = longley.data
    for f in ("TOTEMP ~ GNPDEFL + GNP + UNEMP + ARMED + POP + YEAR",
              "TOTEMP ~ GNPDEFL + np.log(POP) + YEAR"):  # fmt: skip
        res = ols(f, df)
        text = res.summary().as_text().splitlines()
        head = next(i for i, ln in enumerate(text) if ln.split()[:1] == ["coef"])
        rows = text[head + 2 : head + 2 + len(res.params)]
        for name, row in zip(res.params.index, rows, strict=True):
            cells = row[len(max(res.params.index, key=len)) :].split()
            assert row.startswith(name) and len(cells) == 6, row
            assert np.isclose(float(cells[0]), res.params[name], rtol=1e-3), row
    assert "-3.482e+06" in ols(f"TOTEMP ~ {' + '.join(df.columns[1:])}", df).summary().as_text()


def test_to_dataframe_and_repr(grunfeld):
    res = ols(GRUNFELD, grunfeld)
    df = res.to_dataframe()
    assert list(df.columns) == ["coef", "std err", "t", "P>|t|", "[0.025", "0.975]"]
    close(df["coef"], res.params)
    assert "invest" in repr(res) and res.converged and res.fit_result.method in ("qr", "gram")
    assert res.fit_result.params["coef"].shape == (len(res.params),)


# --------------------------------------------------------------------------------------------
# The gram path of the kernel (large, well-conditioned): the sandwich from its Cholesky factor.


def test_large_design_gram_path():
    rng = np.random.default_rng(7)
    n = 13_201  # 13,201 x 5 > the kernel's small-problem size: the refined normal equations
    X = np.column_stack([np.ones(n), rng.standard_normal((n, 4))])
    y = X @ [1.0, 2.0, -1.0, 0.5, 0.1] + rng.standard_normal(n) * (1.0 + np.abs(X[:, 1]))
    w = rng.uniform(0.5, 2.0, n)
    for cov_type in ("nonrobust", "HC3"):
        ours = ols(y, X, weights=w, cov_type=cov_type)
        theirs = sm.WLS(y, X, weights=w).fit(cov_type=cov_type)
        assert ours.method == "gram"
        close(ours.params, theirs.params)
        close(ours.bse, theirs.bse)
        _scalars(ours, theirs)


# --------------------------------------------------------------------------------------------
# Errors.


def test_errors_name_the_argument(grunfeld):
    with pytest.raises(jaxmle.InputError, match="`formula`"):
        ols("invest value", grunfeld)
    with pytest.raises(jaxmle.InputError, match="nosuch"):
        ols("invest ~ nosuch", grunfeld)
    with pytest.raises(jaxmle.InputError, match="`data` is required"):
        ols("invest ~ value")
    with pytest.raises(jaxmle.InputError, match=r"`cov_type`.*HC4"):
        ols(GRUNFELD, grunfeld, cov_type="HC4")
    with pytest.raises(jaxmle.InputError, match="`weights` has 3 values"):
        ols(GRUNFELD, grunfeld, weights=[1.0, 2.0, 3.0])
    with pytest.raises(jaxmle.InputError, match="`weights` must be positive"):
        ols(GRUNFELD, grunfeld, weights=np.r_[-1.0, np.ones(219)])
    with pytest.raises(jaxmle.InputError, match="`weights` names the column 'nope'"):
        ols(GRUNFELD, grunfeld, weights="nope")
    with pytest.raises(jaxmle.InputError, match="`missing`"):
        ols(GRUNFELD, grunfeld, missing="skip")
    with pytest.raises(jaxmle.InputError, match="design matrix `X`"):
        ols(grunfeld["invest"])
    with pytest.raises(jaxmle.InputError, match="one column"):
        ols("invest + value ~ capital", grunfeld)
    zero = grunfeld.assign(z=np.where(grunfeld.index == 0, 0.0, grunfeld["capital"]))
    with (
        pytest.raises(jaxmle.InputError, match=r"\['np.log\(z\)'\] have infinite"),
        np.errstate(divide="ignore"),
    ):
        ols("invest ~ np.log(z)", zero)
    with pytest.raises(jaxmle.InputError, match="`alpha`"):
        ols(GRUNFELD, grunfeld).conf_int(1.5)
    assert ols(GRUNFELD, grunfeld, cov_type="hc1").cov_type == "HC1"  # statsmodels' .upper()


def test_rank_deficient_names_the_columns(grunfeld):
    d = grunfeld.assign(value2=2.0 * grunfeld["value"])
    with pytest.raises(jaxmle.RankDeficientError, match=r"\['value', 'value2'\]") as e:
        ols("invest ~ value + value2 - 1", d)
    assert "capital" not in str(e.value) and "linearly dependent" in str(e.value)
    with pytest.raises(jaxmle.RankDeficientError, match="2 rows"):
        ols(GRUNFELD, grunfeld.iloc[:2])


# --------------------------------------------------------------------------------------------
# Compilation: a repeated call with new data of the same shape compiles nothing.

_COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"
_events: list[float] = []
_lock = threading.Lock()


def _on_event(name, duration, **_kw):
    if name == _COMPILE_EVENT:
        with _lock:
            _events.append(duration)


jax.monitoring.register_event_duration_secs_listener(_on_event)


def _frame(seed, n=29):  # n = 29: a shape no other test here uses
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"y": rng.standard_normal(n), "x": rng.uniform(1.0, 2.0, n),
                         "g": np.array(list("abc"))[np.arange(n) % 3]})  # fmt: skip


def test_warm_calls_compile_nothing():
    f = "y ~ np.log(x) + C(g) + x:C(g)"
    ols(f, _frame(0)).summary()
    start = len(_events)
    for seed, cov_type in ((1, "nonrobust"), (2, "HC0"), (3, "HC3")):
        res = ols(f, _frame(seed), cov_type=cov_type, weights=np.full(29, 0.5 + seed))
        res.summary()
        res.get_prediction(_frame(9).iloc[:4]).summary_frame()
        res.conf_int(), res.pvalues, res.fvalue, res.predict(_frame(8))
    ols(f, _frame(4))
    assert len(_events) == start, f"{len(_events) - start} compilations on warm calls"


def _cubed(v):
    return v**3


def test_formula_functions_as_patsy():
    """``scale`` is patsy's (ddof 0, statsmodels' numbers); the caller's functions are found.

    formulaic's own ``scale`` divides by the ddof-1 standard deviation: the coefficient on a
    10-row sample came out √(10/9) times statsmodels'.
    """
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"x": rng.normal(size=10), "g": list("aabbccaabb")})
    df["y"] = 2.0 * df.x + rng.normal(size=10)
    x = 5.0  # noqa: F841 - a local named like a column: the column wins, as in patsy
    new = pd.DataFrame({"x": [0.5, 2.0], "g": ["a", "c"]})
    for f in ("y ~ scale(x)", "y ~ _cubed(x) + C(g)", "y ~ x"):
        res, ref = jaxmle.ols(f, df), smf.ols(f, df).fit()
        assert list(res.params.index) == list(ref.params.index)
        np.testing.assert_allclose(res.params, ref.params, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(res.bse, ref.bse, rtol=1e-12)
        np.testing.assert_allclose(res.predict(new), ref.predict(new), rtol=1e-12)


def test_intercept_only_rsquared_is_zero():
    """The constant alone explains nothing: R² is 0 exactly (was 1e-31 of rounding)."""
    df = pd.DataFrame({"y": np.random.default_rng(0).normal(size=20)})
    res, ref = jaxmle.ols("y ~ 1", df), smf.ols("y ~ 1", df).fit()
    assert res.rsquared == 0.0 == ref.rsquared
    assert res.rsquared_adj == 0.0


@pytest.mark.parametrize("formula", [
    "y ~ I(x > 4) + C(g, Diff) + bs(x, df=4)",
    "y ~ cr(x, df=4) - 1 + z",
    "y ~ I((x > 4) * 1.0) + z",  # a number, not a comparison: no [T.True]
    "y ~ bs(x, df=3):z + C(g, Diff)",
    "y ~ bs(x, df=4, include_intercept=True) - 1",  # formulaic counts from 0 here
    'y ~ x + C(g, Treatment(reference="b"))',  # patsy keeps the formula's quotes
    'y ~ I(g == "a") + C(g, levels=["c", "a", "b"]):z',
])  # fmt: skip
def test_patsy_column_names(formula):
    """Spline bases from [0], Diff contrasts by their lower level, ``I(x > c)[T.True]``.

    formulaic labels the same columns ``bs(x, df=4)[1]``, ``C(g, Diff)[D.b]``, ``I(x > 4)``;
    patsy's labels (and its term order) are what statsmodels users index by.
    """
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"x": rng.uniform(0, 10, 60), "z": rng.normal(size=60),
                       "g": rng.choice(list("abc"), 60)})  # fmt: skip
    df["y"] = 0.3 * df.x + rng.normal(size=60)
    res, ref = jaxmle.ols(formula, df), smf.ols(formula, df).fit()
    assert list(res.params.index) == list(ref.params.index)
    np.testing.assert_allclose(res.params, ref.params, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(res.bse, ref.bse, rtol=1e-9)


@pytest.mark.parametrize("formula", [
    "y ~ C(g, Poly)",
    "y ~ C(g, Sum('a')) + x",  # patsy's omit level, positional
    "y ~ C(g, Sum(omit='c'))",
    "y ~ C(g, Sum) - 1",  # full rank without an intercept: patsy keeps the contrast
    "y ~ C(g, Helmert) - 1",
    "y ~ C(g, Diff) - 1",
    "y ~ C(g, Poly) - 1",
    "y ~ C(g, Diff):x",  # full rank inside an interaction without its main effect
    "y ~ C(g, Sum('b')):x + x",
    "y ~ C(g, Sum) * C(h, Sum)",
    "y ~ C(g, Treatment('b')) - 1",
])  # fmt: skip
def test_contrasts_as_patsy_codes_them(formula):
    """Sum with ``omit``, and full-rank Sum/Helmert/Diff/Poly codings, as statsmodels' formulas.

    formulaic's Sum takes no level (a TypeError before), and where a term needs full rank it
    falls back to dummies: the same fitted values with other coefficients and names.
    """
    rng = np.random.default_rng(2)
    n = 200
    df = pd.DataFrame({"g": rng.choice(list("abcd"), n), "h": rng.choice(list("xyz"), n),
                       "x": rng.normal(size=n)})  # fmt: skip
    df["y"] = df.g.map({"a": 0.0, "b": 1.0, "c": -0.5, "d": 2.0}) * (1 + df.x) \
        + rng.normal(size=n)  # fmt: skip
    res, ref = jaxmle.ols(formula, df), smf.ols(formula, df).fit()
    assert list(res.params.index) == list(ref.params.index)
    np.testing.assert_allclose(res.params, ref.params, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(res.bse, ref.bse, rtol=1e-10)
    new = df.iloc[:7]
    np.testing.assert_allclose(res.predict(new), ref.predict(new), rtol=1e-10, atol=1e-12)


def test_sum_contrast_omit_must_be_a_level():
    df = pd.DataFrame({"g": list("abcab"), "y": [1.0, 2.0, 3.0, 1.5, 2.5]})
    with pytest.raises(jaxmle.InputError, match="omit='q'"):
        jaxmle.ols("y ~ C(g, Sum(omit='q'))", df)


def test_predict_uses_the_functions_of_the_fit():
    """A formula function rebound after the fit does not change that fit's predictions."""
    df = pd.DataFrame({"x": np.arange(1.0, 11.0)})
    df["y"] = 2.0 * np.log(df.x) + 0.1 * np.sin(df.x)

    def tr(v):
        return np.log(v)

    res = jaxmle.ols("y ~ tr(x)", df)
    new = pd.DataFrame({"x": [2.0, 5.0]})
    before = np.asarray(res.predict(new))

    def tr(v):  # noqa: F811 - rebound on purpose
        return v

    np.testing.assert_array_equal(np.asarray(res.predict(new)), before)
