"""Linear hypotheses on fitted models (t_test, f_test, wald_test) against statsmodels.

References: statsmodels' ``t_test``/``f_test``/``wald_test`` on the same formulas and data;
agreement to 1e-9 relative (statsmodels' own covariance on longley is good to ~1e-12 of the
exact one, the p-values to the same relative error).
"""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf

import jaxmle
from jaxmle import families as F  # noqa: N812 - F for families, as sm.families

LONGLEY = sm.datasets.longley.load_pandas().data
F_LONGLEY = "TOTEMP ~ GNPDEFL + GNP + UNEMP + ARMED + POP + YEAR"
SCOTLAND = sm.datasets.scotland.load_pandas().data
F_SCOTLAND = "YES ~ COUTAX + UNEMPF + MOR + ACT + GDP + AGE"

CONSTRAINTS = [
    "GNP = 0, UNEMP = 2*ARMED",
    "GNP, POP",  # bare expressions: each = 0
    "UNEMP + ARMED = -1.5",
    "2*GNPDEFL - 3 = GNP*4 + 1",
    "-GNP + 0.5 * POP = 0",
]


@pytest.fixture(scope="module")
def longley():
    return jaxmle.ols(F_LONGLEY, LONGLEY), smf.ols(F_LONGLEY, LONGLEY).fit()


@pytest.fixture(scope="module")
def scotland():
    fam = F.Gamma(link="log")
    ref = smf.glm(F_SCOTLAND, SCOTLAND, family=sm.families.Gamma(sm.families.links.Log()))
    return jaxmle.glm(F_SCOTLAND, SCOTLAND, family=fam), ref.fit(tol=1e-13)


@pytest.mark.parametrize("c", CONSTRAINTS)
def test_ols_tests_match_statsmodels(longley, c):
    res, ref = longley
    t, rt = res.t_test(c), ref.t_test(c)
    np.testing.assert_allclose(t.effect, rt.effect.ravel(), rtol=1e-9)
    np.testing.assert_allclose(t.sd, rt.sd.ravel(), rtol=1e-9)
    np.testing.assert_allclose(t.tvalue, rt.tvalue.ravel(), rtol=1e-9)
    np.testing.assert_allclose(t.pvalue, rt.pvalue.ravel(), rtol=1e-9)
    np.testing.assert_allclose(t.conf_int(0.1), rt.conf_int(0.1), rtol=1e-9)
    assert t.df_denom == rt.df_denom == 9
    f, rf = res.f_test(c), ref.f_test(c)
    np.testing.assert_allclose([f.fvalue, f.pvalue], [rf.fvalue, rf.pvalue], rtol=1e-9)
    assert (f.df_num, f.df_denom) == (rf.df_num, rf.df_denom)
    w, rw = res.wald_test(c, use_f=False), ref.wald_test(c, use_f=False, scalar=True)
    np.testing.assert_allclose([w.statistic, w.pvalue], [rw.statistic, rw.pvalue], rtol=1e-9)
    assert w.distribution == "chi2" and w.df_denom is None


def test_matrix_forms(longley):
    res, ref = longley
    R = np.eye(7)[[2, 3]]
    for spec, q in [(R, None), (R, [0.1, 0.0]), ((R, [0.1, 0.0]), None), (R[0], None)]:
        got = res.f_test(spec, q) if q is not None else res.f_test(spec)
        want = ref.f_test(spec if q is None else (spec, np.asarray(q)))
        np.testing.assert_allclose([got.fvalue, got.pvalue], [want.fvalue, want.pvalue],
                                   rtol=1e-9)  # fmt: skip
    # The default wald_test of an OLS is F, as statsmodels' (use_f follows use_t).
    assert res.wald_test(R).distribution == "F"


def test_glm_tests_match_statsmodels(scotland):
    res, ref = scotland
    c = "COUTAX = 0, UNEMPF = MOR"
    w, rw = res.wald_test(c), ref.wald_test(c, scalar=True)  # χ² for a GLM
    assert w.distribution == "chi2"
    np.testing.assert_allclose([w.statistic, w.pvalue], [rw.statistic, rw.pvalue], rtol=1e-8)
    f, rf = res.f_test(c), ref.f_test(c)  # F on df_resid, as statsmodels'
    np.testing.assert_allclose([f.fvalue, f.pvalue], [rf.fvalue, rf.pvalue], rtol=1e-8)
    t, rt = res.t_test("AGE = 0.01"), ref.t_test("AGE = 0.01")
    assert t.df_denom is None  # z tests
    np.testing.assert_allclose([t.tvalue[0], t.pvalue[0]],
                               [rt.tvalue.item(), rt.pvalue.item()], rtol=1e-8)  # fmt: skip


def test_summary_text(longley):
    res, ref = longley
    text = res.t_test("GNP = 0, UNEMP = 2*ARMED").summary()
    lines = text.splitlines()
    assert lines[0].strip() == "Test for Constraints"
    assert lines[4].split()[:3] == ["c0", "-0.0358", "0.033"]  # as statsmodels prints it
    assert str(ref.t_test("GNP = 0, UNEMP = 2*ARMED")).splitlines()[4].split()[:3] == \
        lines[4].split()[:3]  # fmt: skip
    assert str(res.f_test("GNP, POP")).startswith("<F test: F=2.61283720")


@pytest.mark.parametrize("bad, match", [
    ("GNP*POP = 0", "not a linear equation"),
    ("GNP = 0 = 1", "not one equation"),
    ("foo = 0", "cannot read 'foo"),
    ("GNP +", "not a linear equation"),
    ("GNP, GNP", "linearly dependent"),
    ("3 = 1", "names no parameter"),
    (np.ones((1, 3)), "7 columns"),
    (np.array([[np.nan] * 7]), "finite"),
])  # fmt: skip
def test_bad_constraints(longley, bad, match):
    with pytest.raises(jaxmle.InputError, match=match):
        longley[0].f_test(bad)


def test_unconverged_fit_gives_nan_tests():
    # A constant Binomial response: the MLE is at infinity (FLAT_DIRECTION), NaN covariance.
    x = np.linspace(0.0, 1.0, 20)
    with pytest.warns(RuntimeWarning):
        res = jaxmle.glm(np.ones(20), np.column_stack([np.ones(20), x]), family=F.Binomial())
    assert not res.converged
    assert np.isnan(res.wald_test(np.eye(2)).statistic)
    assert np.isnan(res.t_test([0.0, 1.0]).pvalue).all()
