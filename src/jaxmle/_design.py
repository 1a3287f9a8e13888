"""Design matrices for the front end: Wilkinson formulas on DataFrames (formulaic), or arrays.

A :class:`Design` holds the response, the design matrix as float64 NumPy arrays, the column
names in design order (intercept first, as formulaic and statsmodels write them), which rows
of the data survived missing-value removal, and the formula's model spec, so that
:func:`new_exog` applies exactly the same transforms (categorical levels, ``np.log(x)``,
centring by the training data's statistics) to new data for ``predict``.

This is the front-end layer's only contact with formulaic and pandas; both are imported on
first use, so ``import jaxmle`` needs neither. Why formulaic: it is the maintained successor of
patsy (statsmodels' formula engine) with the same names for encoded columns (``C(g)[T.b]``)
and a model spec that re-encodes new data; nothing here reimplements formula parsing.
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._errors import InputError

__all__ = ["Design", "align_rows", "from_arrays", "from_formula", "new_exog"]


@dataclass(frozen=True)
class Design:
    """A response and design matrix with names, ready for an estimator.

    Attributes:
        y: ``(n,)`` the response, or ``(n, 2)`` for a two-column left-hand side
            (``successes + failures ~ ...`` for a binomial count model).
        X: ``(n, p)`` float64 design matrix.
        names: the ``p`` column names, in design order.
        y_name: the response's name (``"y"`` when it has none).
        index: the kept rows' labels (a pandas Index) when the data was a DataFrame, else None.
        rows: the kept rows' positions in the data (None: all rows, in order).
        n_data: the number of rows of the data before missing values were dropped.
        spec: formulaic's model spec of the right-hand side (None for arrays).
        order: the positions of formulaic's columns in design order (None: as they are).
        formula: the formula (None for arrays).
        context: the names a formula's functions are looked up in (:func:`formula_context`),
            for ``predict`` on new data.
        pandas: whether results should be pandas objects (the input was a DataFrame or a
            formula).
    """

    y: np.ndarray
    X: np.ndarray
    names: tuple[str, ...]
    y_name: str
    index: Any = None
    rows: np.ndarray | None = None
    n_data: int = 0
    spec: Any = None
    order: np.ndarray | None = None
    formula: str | None = None
    pandas: bool = False
    context: Any = None

    @property
    def has_constant(self) -> bool:
        """Whether a column is constant and non-zero (an intercept, named or not)."""
        return _constant_column(self.X) is not None

    @property
    def k_constant(self) -> int:
        """1 with a constant column (statsmodels' ``k_constant``), else 0."""
        return int(self.has_constant)


def _require(module: str):
    try:
        return __import__(module)
    except ImportError as e:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            f"formulas need {module}: pip install 'jaxmle[formula]' (formulaic and pandas)."
        ) from e


def _as_frame(data: Any, pd: Any) -> Any:
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, Mapping):
        try:
            return pd.DataFrame({k: np.asarray(v) for k, v in data.items()})
        except ValueError as e:
            raise InputError(f"`data` could not be made a DataFrame: {e}") from e
    raise InputError(
        f"`data` must be a pandas DataFrame (or a dict of equal-length columns) for a "
        f"formula; got {type(data).__name__}."
    )


def _bools_as_categories(frame: Any, pd: Any, response: str = "") -> Any:
    """Boolean columns (outside the response) as categories ``[False, True]``, as patsy has them.

    patsy encodes a boolean as a categorical factor: ``b[T.True]`` (and ``b[False]:x``,
    ``b[True]:x`` in an interaction without its main effect); formulaic as a number, ``b``.
    A boolean response stays 0/1 (the probability of True).
    """
    lhs = set(re.findall(r"[A-Za-z_]\w*", response))
    cols = [c for c in frame.columns
            if str(c) not in lhs and (pd.api.types.is_bool_dtype(frame[c].dtype))]  # fmt: skip
    # pandas' string dtype is a categorical to patsy; formulaic tries to read it as numbers.
    strings = [c for c in frame.columns if isinstance(frame[c].dtype, pd.StringDtype)]
    if not cols and not strings:
        return frame
    out = {str(c): pd.Categorical(frame[c], categories=[False, True]) for c in cols}
    out.update({str(c): frame[c].astype(object) for c in strings})
    return frame.assign(**out)


def _full_rank(base: type, constant: str, prefix: str) -> type:
    """``base`` with patsy's full-rank coding: a constant column, then the reduced contrasts.

    Where a term needs a full-rank coding (no intercept, or ``C(g, Sum):x`` without the main
    effect) patsy keeps the contrast (``code_with_intercept``); formulaic falls back to
    dummies, which span the same space with other coefficients.
    """
    from dataclasses import dataclass

    @dataclass
    class FullRank(base):
        @base.override
        def _get_coding_matrix(self, levels, reduced_rank=True, sparse=False):
            reduced = super()._get_coding_matrix(levels, True, False)
            if reduced_rank or sparse:
                return super()._get_coding_matrix(levels, reduced_rank, sparse)
            return np.column_stack([np.ones(len(levels)), reduced])

        @base.override
        def get_coding_column_names(self, levels, reduced_rank=True):
            names = super().get_coding_column_names(levels, True)
            if reduced_rank:
                return names
            if prefix == "D!":  # patsy names all n columns by the levels (the first: constant)
                return [f"D!{v}" for v in levels]
            return [constant, *(f"{prefix}{v}" for v in names)]

    FullRank.__name__ = FullRank.__qualname__ = base.__name__.replace("Contrasts", "")
    return FullRank


@functools.cache
def _patsy_contrasts() -> dict[str, type]:
    """Patsy-coded ``Sum(omit=None)``, ``Helmert``, ``Diff`` and ``Poly`` on formulaic's contrasts.

    The reduced codings are formulaic's (equal to patsy's); the full-rank ones are patsy's
    (:func:`_full_rank`); ``Sum`` takes patsy's ``omit`` level, which formulaic's does not:
    ``C(g, Sum('a'))`` codes ``a`` as −1 in every column and names the others (``[S.b]``,
    ``[S.c]``); without ``omit`` the last level is omitted, as in both libraries.
    """
    from dataclasses import dataclass

    from formulaic.transforms import contrasts as fc

    FullSum = _full_rank(fc.SumContrasts, "mean", "S.")

    @dataclass
    class Sum(FullSum):
        omit: Any = None

        def _omitted(self, levels: Any) -> int:
            levels = list(levels)
            if self.omit is None:
                return len(levels) - 1
            if self.omit not in levels:
                raise ValueError(f"Sum(omit={self.omit!r}): not a level of {levels}")
            return levels.index(self.omit)

        @FullSum.override
        def _get_coding_matrix(self, levels, reduced_rank=True, sparse=False):
            if sparse:
                return super()._get_coding_matrix(levels, reduced_rank, sparse)
            k, n = self._omitted(levels), len(levels)
            contr = np.delete(np.eye(n), k, axis=1)
            contr[k, :] = -1.0
            return contr if reduced_rank else np.column_stack([np.ones(n), contr])

        @FullSum.override
        def get_coding_column_names(self, levels, reduced_rank=True):
            k = self._omitted(levels)
            kept = [v for i, v in enumerate(levels) if i != k]
            return kept if reduced_rank else ["mean", *(f"S.{v}" for v in kept)]

        @FullSum.override
        def get_coefficient_row_names(self, levels, reduced_rank=True):
            if not reduced_rank:
                return levels
            k = self._omitted(levels)
            return ["avg", *(f"{v} - avg" for i, v in enumerate(levels) if i != k)]

    return {"Sum": Sum, "Helmert": _full_rank(fc.HelmertContrasts, "H.intercept", "H."),
            "Diff": _full_rank(fc.DiffContrasts, "", "D!"),
            "Poly": _full_rank(fc.PolyContrasts, ".Constant", "")}  # fmt: skip


def formula_context() -> Mapping[str, Any]:
    """The names a formula's functions see: the caller's, then patsy's ``scale``, then ``np``.

    As patsy's ``eval_env=0`` (statsmodels' formulas): the variables of the first frame
    outside jaxmle, so ``"y ~ f(x)"`` finds the user's ``f``; formulaic's transforms (``C``,
    ``I``, ``center``, ``bs``, ...) and the data's columns are looked up by formulaic as
    usual. ``scale`` is patsy's (an alias of ``standardize``, ``ddof=0``), not formulaic's
    (``ddof=1``), and ``Sum``, ``Helmert``, ``Diff`` and ``Poly`` code as patsy's
    (:func:`_patsy_contrasts`): the numbers then match statsmodels' for the same formula.
    """
    from collections import ChainMap

    from formulaic.transforms import TRANSFORMS

    frame = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__", "").split(".")[0] == "jaxmle":
        frame = frame.f_back
    # (Copies: a function redefined after the fit must not change that fit's predictions.)
    user = ({}, {}) if frame is None else (dict(frame.f_locals), dict(frame.f_globals))
    ours = {"np": np, "scale": TRANSFORMS["standardize"], **_patsy_contrasts()}
    return ChainMap(user[0], user[1], ours)


def from_formula(formula: str, data: Any) -> Design:
    """Builds the design of ``formula`` on ``data``, dropping rows with missing values.

    Args:
        formula: a Wilkinson formula ``"y ~ x1 + C(g)"``; an intercept is included unless the
            formula removes it (``- 1`` or ``+ 0``). ``"s + f ~ x"`` gives a two-column
            response.
        data: a pandas DataFrame (or a dict of columns).

    Returns:
        A :class:`Design`.

    Raises:
        InputError: when the formula has no ``~``, names a column the data lacks, or leaves
            no rows.

    Example:
        >>> import pandas as pd
        >>> df = pd.DataFrame({"y": [1.0, 2.0, 4.0], "x": [0.0, 1.0, 2.0]})
        >>> from_formula("y ~ x", df).names
        ('Intercept', 'x')
    """
    if not isinstance(formula, str) or "~" not in formula:
        raise InputError(f"`formula` must be a string 'y ~ x1 + x2'; got {formula!r}.")
    pd = _require("pandas")
    formulaic = _require("formulaic")
    frame = _bools_as_categories(_as_frame(data, pd), pd, formula.split("~")[0])
    context = formula_context()
    labels = frame.index
    if not labels.is_unique:  # (rows are matched by position then; the labels are kept)
        frame = frame.reset_index(drop=True)
    try:
        mm = formulaic.model_matrix(formula, frame, context=context)
    except Exception as e:  # formulaic raises several types; name the argument either way
        raise InputError(f"`formula` {formula!r} could not be applied to `data`: {e}") from e
    lhs, rhs = mm.lhs, mm.rhs
    if len(rhs) == 0:
        raise InputError(f"`formula` {formula!r} leaves no rows of `data` without missing values.")
    y = np.asarray(lhs, dtype=float)
    y = y[:, 0] if y.shape[1] == 1 else y
    rows = frame.index.get_indexer(rhs.index)
    spec = mm.model_spec.rhs
    order = _patsy_order(formula, spec, list(rhs.columns))
    names = _patsy_names(spec, rhs, formula)
    return Design(
        y=y, X=np.asarray(rhs, dtype=float)[:, order],
        names=tuple(names[i] for i in order),
        y_name=" + ".join(str(c) for c in lhs.columns), index=labels[rows],
        rows=None if len(rows) == len(frame) else rows, n_data=len(frame),
        spec=spec, order=order, formula=formula, pandas=True, context=context,
    )  # fmt: skip


_SPLINE = re.compile(r"^((?:bs|cr|cc|cs)\(.*\))\[(\d+)\]$")
_DIFF = re.compile(r"^(.*)\[D\.(.+)\]$")
_POLY = re.compile(r"^(.*)\[(\.L|\.Q|\.C|\.Constant|\^\d+)\]$")
_POLY_NAMES = {".L": ".Linear", ".Q": ".Quadratic", ".C": ".Cubic"}
_COMPARISON = re.compile(r"(==|!=|<=|>=|<|>)")


def _top_level_comparison(expr: str) -> bool:
    """Whether ``I(...)``'s argument is a comparison at its top level (a boolean value)."""
    if not (expr.startswith("I(") and expr.endswith(")")):
        return False
    depth, inner = 0, expr[2:-1]
    for i, ch in enumerate(inner):
        depth += {"(": 1, "[": 1, ")": -1, "]": -1}.get(ch, 0)
        if depth == 0 and _COMPARISON.match(inner, i):
            return True
    return False


def _patsy_names(spec: Any, rhs: Any, formula: str = "") -> list[str]:
    """The design's column names as patsy (statsmodels' formulas) writes them.

    The values are the same; only the labels differ: spline bases count from 0
    (``bs(x, df=4)[0]``, formulaic ``[1]`` without the basis' intercept); string literals
    keep the formula's double quotes (``C(g, Treatment(reference="b"))``, formulaic
    ``'b'``); a backward-difference contrast is labelled by its
    lower level (``C(g, Diff)[D.a]`` for b − a, formulaic ``[D.b]``); orthogonal polynomial
    contrasts are ``C(g, Poly).Linear``, ``.Quadratic``, ``.Cubic``, ``^4`` (formulaic ``[.L]``,
    ``[.Q]``, ``[.C]``, ``[^4]``); a comparison in ``I()``
    is a boolean, which patsy codes as a categorical (``I(x > 4)[T.True]``, as a main effect).
    """
    state = spec.encoder_state
    quoted = _double_quoted(formula)
    first: dict[str, int] = {}  # a spline basis' first formulaic index (0 or 1)
    for col in rhs.columns:
        for part in str(col).split(":"):
            m = _SPLINE.match(part)
            if m:
                first[m.group(1)] = min(first.get(m.group(1), 1), int(m.group(2)))
    names = []
    for st in spec.structure:
        single = len(st.term.factors) == 1
        for col in st.columns:
            parts = []
            for part in str(col).split(":"):
                m = _SPLINE.match(part)
                if m:
                    part = f"{m.group(1)}[{int(m.group(2)) - first[m.group(1)]}]"
                m = _POLY.match(part)
                if m:
                    part = m.group(1) + _POLY_NAMES.get(m.group(2), m.group(2))
                m = _DIFF.match(part)
                if m and m.group(1) in state:
                    cats = [str(c) for c in state[m.group(1)][1].get("categories", [])]
                    if m.group(2) in cats and cats.index(m.group(2)) > 0:
                        part = f"{m.group(1)}[D.{cats[cats.index(m.group(2)) - 1]}]"
                part = part.replace("[D!", "[D.")  # full-rank Diff, named as patsy's
                if single and part in state and _top_level_comparison(part):
                    part = f"{part}[T.True]"
                parts.append(part)
            name = ":".join(parts)
            for ours, theirs in quoted.items():
                name = name.replace(ours, theirs)
            names.append(name)
    if len(names) != len(rhs.columns):  # (a structure formulaic did not describe: keep its own)
        return [str(c) for c in rhs.columns]
    return names


def _double_quoted(formula: str) -> dict[str, str]:
    """``{"'b'": '"b"'}``: formulaic's rendering of each double-quoted string in ``formula``."""
    import ast
    import io
    import tokenize

    out = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(formula).readline):
            if tok.type == tokenize.STRING and tok.string.startswith('"'):
                value = ast.literal_eval(tok.string)
                if isinstance(value, str) and repr(value) != tok.string:
                    out[repr(value)] = tok.string
    except (tokenize.TokenError, SyntaxError, ValueError):
        return {}
    return out


@functools.lru_cache(maxsize=256)
def _term_positions(formula: str) -> dict[str, int] | None:
    # Parsing costs milliseconds; a session refits the same few formulas.
    import formulaic

    try:
        terms = formulaic.Formula(_powers_as_patsy(formula), _ordering="none").rhs
        return {str(t): i for i, t in enumerate(terms)}
    except Exception:
        return None


_POWER = re.compile(r"\*\*\s*(\d+)")


def _powers_as_patsy(formula: str) -> str:
    """``(a + b)**2`` as ``((a + b) + (a + b)**2)``: the same terms, in patsy's order.

    patsy expands a power as the base's terms followed by those of the products
    (``a, b, a:b``); formulaic, unordered, as its product's pairs (``a, a:b, b``). Only term
    positions are read from the rewritten formula (nested powers are left as they are).
    """
    for m in reversed(list(_POWER.finditer(formula))):
        end = m.start()
        while end > 0 and formula[end - 1].isspace():
            end -= 1
        if end == 0 or formula[end - 1] != ")":
            continue
        depth, start = 0, end - 1
        while start >= 0:
            depth += {")": 1, "(": -1}.get(formula[start], 0)
            if depth == 0:
                break
            start -= 1
        group, k = formula[start:end], int(m.group(1))
        if start < 0 or "**" in group or k < 2:
            continue
        expanded = " + ".join([group] + [f"{group}**{j}" for j in range(2, k + 1)])
        formula = f"{formula[:start]}({expanded}){formula[m.end() :]}"
    return formula


def _patsy_order(formula: str, spec: Any, columns: list) -> np.ndarray:
    """Column positions in patsy's term order, so names line up with statsmodels' formulas.

    formulaic encodes terms by degree; patsy (statsmodels' formula engine) groups them by the
    numerical factors they contain: the group without any (intercept, categorical terms)
    first, then the groups in order of first appearance in the formula, by degree within a
    group. The encoding itself (which levels are dropped) is formulaic's and equals patsy's.
    """
    kinds = {k: v[0].value for k, v in spec.encoder_state.items()}
    first = _term_positions(formula)
    if first is None:  # an exotic formula: keep formulaic's own order
        return np.arange(len(columns))
    groups: dict[frozenset, list] = {}
    for pos, st in enumerate(spec.structure):
        # (A comparison in I() is a boolean: categorical to patsy.)
        num = frozenset(f.expr for f in st.term.factors if kinds.get(f.expr) == "numerical"
                        and not _top_level_comparison(f.expr))  # fmt: skip
        degree = 0 if str(st.term) == "1" else len(st.term.factors)
        groups.setdefault(num, []).append((degree, first.get(str(st.term), pos), st.columns))
    keys = sorted(groups, key=lambda k: (len(k) > 0, min(t[1] for t in groups[k])))
    where = {c: i for i, c in enumerate(columns)}
    names = [c for k in keys for *_, cols in sorted(groups[k], key=lambda t: t[:2]) for c in cols]
    if sorted(names) != sorted(columns):
        return np.arange(len(columns))
    return np.array([where[c] for c in names])


def _constant_column(X: np.ndarray) -> int | None:
    if X.shape[0] == 0:
        return None
    # Candidates from three rows, then a full test of each (a column-wise test of the whole
    # matrix is a strided reduction: ~20 µs at 500 × 10, against ~2 µs for this).
    first = X[0]
    cand = (first != 0) & (X[-1] == first) & (X[X.shape[0] // 2] == first)
    for j in np.flatnonzero(cand):
        if (X[:, j] == first[j]).all():
            return int(j)
    return None


def _array_names(X: np.ndarray) -> tuple[str, ...]:
    return _numbered_names(X.shape[1], _constant_column(X))


@functools.lru_cache(maxsize=256)
def _numbered_names(p: int, const: int | None) -> tuple[str, ...]:
    # statsmodels' names for an unnamed design: "const" for a constant column, x1, x2, ...
    # for the others, numbered in order without the constant.
    names, i = [], 0
    for j in range(p):
        if j == const:
            names.append("const")
        else:
            i += 1
            names.append(f"x{i}")
    return tuple(names)


def from_arrays(y: Any, X: Any) -> Design:
    """Builds a design from a response and a design matrix given as arrays or pandas objects.

    Like statsmodels' ``OLS(y, X)``: no intercept is added (add a column of ones for one).
    A DataFrame ``X`` names the columns; a NumPy ``X`` gets statsmodels' names (``const`` for a
    constant column, ``x1, x2, ...`` for the others).

    Args:
        y: ``(n,)`` response (a Series names it), or ``(n, 2)`` successes and failures.
        X: ``(n, p)`` design matrix (a 1-d array is one column).

    Returns:
        A :class:`Design`.

    Raises:
        InputError: on mismatched lengths, an empty design or non-numeric columns.

    Example:
        >>> import numpy as np
        >>> from_arrays(np.ones(3), np.c_[np.ones(3), np.arange(3.0)]).names
        ('const', 'x1')
    """
    named = hasattr(X, "columns")
    try:
        Xa = np.asarray(X, dtype=float)
        ya = np.asarray(y, dtype=float)
    except (TypeError, ValueError) as e:
        raise InputError(f"`X` and `y` must be numeric arrays: {e}") from e
    if Xa.ndim == 1:
        Xa = Xa[:, None]
    if Xa.ndim != 2 or Xa.shape[1] == 0:
        raise InputError(f"`X` must be a 2-d design matrix (n, p); got shape {Xa.shape}.")
    if ya.ndim == 2 and ya.shape[1] == 1:
        ya = ya[:, 0]
    if ya.shape[0] != Xa.shape[0] or ya.ndim > 2:
        raise InputError(
            f"`y` has shape {ya.shape} but `X` has {Xa.shape[0]} rows; give one response per row."
        )
    series_x = _is_pandas(X) and not named and getattr(X, "name", None) is not None
    if named:
        names = tuple(str(c) for c in X.columns)
    elif series_x:  # a Series as the one column: its name, as statsmodels
        names = (str(X.name),)
    else:
        names = _array_names(Xa)
    y_index = y.index if _is_pandas(y) else None
    x_index = X.index if _is_pandas(X) else None
    if y_index is not None and x_index is not None and not y_index.equals(x_index):
        raise InputError(
            "`y` and `X` are pandas objects whose indexes differ (other labels or another "
            "order): rows are matched by position here, as in statsmodels, which refuses "
            "them too. Align them first (e.g. y.loc[X.index]) or pass NumPy arrays."
        )
    y_name = str(getattr(y, "name", None) or "y") if _is_pandas(y) else "y"
    index = x_index if x_index is not None else y_index
    return Design(y=ya, X=Xa, names=names, y_name=y_name, index=index, n_data=Xa.shape[0],
                  pandas=index is not None)  # fmt: skip


def _is_pandas(v: Any) -> bool:
    """A pandas Series or DataFrame (a list's ``index`` is a method, not an index)."""
    return hasattr(v, "iloc") and hasattr(v, "index")


def new_exog(design: Design, new: Any) -> np.ndarray:
    """The design matrix of new data, by the same transforms as the fitted design.

    Args:
        design: the fitted :class:`Design`.
        new: for a formula design, a DataFrame (or dict) with the right-hand side's columns;
            else an ``(m, p)`` array (a DataFrame's columns must match the names).

    Returns:
        ``(m, p)`` float64 design matrix; a row with a missing value is a row of NaN (its
        prediction is NaN, as in statsmodels).

    Raises:
        InputError: when the new data lack a column, have unseen categories, or the wrong
            number of columns.

    Example:
        >>> import pandas as pd
        >>> d = from_formula("y ~ x", pd.DataFrame({"y": [1.0, 2.0, 4.0], "x": [0.0, 1.0, 2.0]}))
        >>> new_exog(d, pd.DataFrame({"x": [5.0]})).tolist()
        [[1.0, 5.0]]
    """
    if design.spec is not None:
        pd = _require("pandas")
        frame = _bools_as_categories(_as_frame(new, pd), pd, design.formula.split("~")[0])
        import warnings

        from formulaic.errors import DataMismatchWarning

        try:
            with warnings.catch_warnings():
                # formulaic encodes an unseen category as the reference level, with a warning:
                # a silently wrong prediction, so an error here.
                warnings.simplefilter("error", DataMismatchWarning)
                warnings.simplefilter("ignore", DeprecationWarning)  # pandas' note on the same
                # A row with a missing value predicts NaN, as in statsmodels: encoded
                # without it, then put back as a row of NaN (by position).
                frame = frame.reset_index(drop=True)
                mm = design.spec.get_model_matrix(frame, na_action="drop",
                                                  context=design.context)  # fmt: skip
        except Exception as e:
            raise InputError(
                f"the new data could not be encoded like the fitted data ({design.formula!r}): {e}"
            ) from e
        Xn = np.full((len(frame), mm.shape[1]), np.nan)
        Xn[np.asarray(mm.index, dtype=np.intp)] = np.asarray(mm, dtype=float)
        return Xn if design.order is None else Xn[:, design.order]
    if hasattr(new, "columns"):
        missing = [c for c in design.names if c not in new.columns]
        if missing:
            raise InputError(f"the new data lack the design's column(s) {missing}.")
        new = new[list(design.names)]
    Xn = np.asarray(new, dtype=float)
    if Xn.ndim == 1:
        Xn = Xn[None, :] if Xn.shape[0] == len(design.names) else Xn[:, None]
    if Xn.ndim != 2 or Xn.shape[1] != len(design.names):
        raise InputError(
            f"the new exog must have {len(design.names)} columns ({list(design.names)}); got "
            f"shape {Xn.shape}."
        )
    return Xn


def align_rows(design: Design, values: Any, name: str, data: Any = None) -> np.ndarray | None:
    """A per-row array given for the data (weights, offset) restricted to the kept rows.

    Args:
        design: the :class:`Design` (its ``rows`` say which data rows were kept).
        values: None, an array of one value per row of the data, a pandas Series (aligned
            by index with the kept rows), or the name of a column of ``data``.
        name: the argument's name for messages.
        data: the DataFrame (or mapping) a formula was evaluated on, for column names.

    Returns:
        A float64 ``(n,)`` array for the kept rows, or None.

    Raises:
        InputError: when the length matches neither the data nor the kept rows.

    Example:
        >>> import numpy as np
        >>> d = from_arrays(np.ones(3), np.ones((3, 1)))
        >>> align_rows(d, [1, 2, 3], "freq_weights").tolist()
        [1.0, 2.0, 3.0]
    """
    if values is None:
        return None
    if isinstance(values, str):
        if data is None:
            raise InputError(f"`{name}` can name a column only with a formula and a DataFrame.")
        if not hasattr(data, "keys") or values not in data:
            raise InputError(f"`{name}` names the column {values!r}, which `data` lacks.")
        values = data[values]
    labelled = (hasattr(values, "reindex") and design.index is not None
                and design.index.is_unique and values.index.is_unique)  # fmt: skip
    if labelled and design.index.isin(values.index).all():  # by label, in any order
        values = values.reindex(design.index)
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"`{name}` must be numbers, one per row; got {values!r:.80}.") from None
    n = design.X.shape[0]
    if arr.ndim != 1:
        raise InputError(f"`{name}` must be one value per row, got shape {arr.shape}.")
    if arr.shape[0] == n:
        return arr
    if design.rows is not None and arr.shape[0] == design.n_data:
        return arr[design.rows]
    raise InputError(
        f"`{name}` has {arr.shape[0]} values but the model has {n} rows"
        + (f" ({design.n_data} before rows with missing values were dropped)"
           if design.rows is not None else "") + "."
    )  # fmt: skip
