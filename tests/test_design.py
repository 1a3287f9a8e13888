"""The front end's designs: formulaic formulas and arrays, named like statsmodels names them."""

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("formulaic")
patsy = pytest.importorskip("patsy")  # statsmodels' formula engine: the independent reference

from jaxmle import InputError  # noqa: E402
from jaxmle._design import align_rows, from_arrays, from_formula, new_exog  # noqa: E402


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(0)
    n = 12
    return pd.DataFrame({
        "y": rng.normal(size=n), "x": rng.uniform(1, 2, size=n),
        "g": list("abc") * 4, "z": rng.normal(size=n), "h": list("uv") * 6,
    }, index=[f"r{i}" for i in range(n)])  # fmt: skip


@pytest.mark.parametrize("formula", [
    "y ~ x + C(g)", "y ~ np.log(x) + x:z", "y ~ x - 1", "y ~ z + x:C(g) + C(h)",
    "y ~ x*C(g)", "y ~ x + z + C(g):C(h)", "y ~ x:z + z + x", "y ~ 0 + C(g)",
    "y ~ C(g) + C(h) + C(g):C(h)", "y ~ x + I(x**2)",
])  # fmt: skip
def test_formula_matches_patsy(frame, formula):
    d = from_formula(formula, frame)
    y, X = patsy.dmatrices(formula, frame, return_type="dataframe")
    assert d.names == tuple(X.columns)
    np.testing.assert_allclose(d.X, X.to_numpy(), rtol=1e-15)
    np.testing.assert_array_equal(d.y, y.to_numpy()[:, 0])
    assert d.pandas and d.y_name == "y"
    assert d.has_constant == ("Intercept" in d.names)


def test_missing_rows_are_dropped_and_extras_aligned(frame):
    f = frame.copy()
    f.loc["r3", "x"] = np.nan
    d = from_formula("y ~ x", f)
    assert d.X.shape == (11, 2) and "r3" not in d.index
    w = np.arange(12.0)
    np.testing.assert_array_equal(align_rows(d, w, "w"), np.delete(w, 3))
    s = pd.Series(w, index=f.index)[::-1]  # a Series aligns by label, in any order
    np.testing.assert_array_equal(align_rows(d, s, "w"), np.delete(w, 3))
    with pytest.raises(InputError, match=r"`w` has 5 values.*12 before rows"):
        align_rows(d, np.ones(5), "w")


def test_new_data_reuse_the_training_encoding(frame):
    d = from_formula("y ~ x + C(g)", frame)
    Xn = new_exog(d, pd.DataFrame({"x": [1.5, 1.2], "g": ["c", "a"]}))
    assert d.names == ("Intercept", "C(g)[T.b]", "C(g)[T.c]", "x")  # patsy's order
    np.testing.assert_array_equal(Xn, [[1, 0, 1, 1.5], [1, 0, 0, 1.2]])
    with pytest.raises(InputError, match="could not be encoded"):
        new_exog(d, pd.DataFrame({"x": [1.0]}))  # no column g
    with pytest.raises(InputError, match=r"not.*seen in original dataset"):
        new_exog(d, pd.DataFrame({"x": [1.0], "g": ["z"]}))  # a level the fit never saw


def test_arrays_get_statsmodels_names():
    X = np.c_[np.arange(4.0), np.ones(4), np.arange(4.0) ** 2]
    d = from_arrays(np.arange(4.0), X)
    assert d.names == ("x1", "const", "x2") and not d.pandas and d.k_constant == 1
    Xf = pd.DataFrame(X, columns=["a", "b", "c"])
    assert from_arrays(pd.Series(np.arange(4.0), name="out"), Xf).names == ("a", "b", "c")
    assert new_exog(from_arrays(np.ones(4), Xf), Xf.iloc[:2]).shape == (2, 3)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda f: from_formula("y x", f), "`formula` must be a string"),
        (lambda f: from_formula("y ~ nope", f), "could not be applied"),
        (lambda f: from_formula("y ~ x", [1, 2]), "`data` must be a pandas DataFrame"),
        (lambda f: from_arrays(np.ones(3), np.ones((4, 2))), "`y` has shape"),
        (lambda f: from_arrays(np.ones(3), np.ones((3, 0))), "`X` must be a 2-d"),
    ],
)
def test_errors_name_the_argument(frame, call, match):
    with pytest.raises(InputError, match=match):
        call(frame)
