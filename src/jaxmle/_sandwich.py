"""Cluster-robust and HAC (Newey–West) covariances for :func:`jaxmle.ols` and :func:`jaxmle.glm`.

statsmodels 0.15's conventions (``stats/sandwich_covariance.py``, ``get_robustcov_results``):

- ``cov_type="cluster"``, ``cov_kwds={"groups": g}``: CRV1,
  ``V = c · B (Σ_g s_g s_gᵀ) B`` with ``s_g`` the sum of the scores of cluster ``g`` and ``B`` the
  bread (``(XᵀWX)⁻¹`` for least squares, the inverse observed Hessian for a GLM); the
  small-sample factor ``c = G/(G − 1) · (n − 1)/(n − k)`` (``use_correction=True``, the default),
  ``n`` the rows, ``k`` the parameters. Two columns of groups give Cameron–Gelbach–Miller
  two-way clustering, ``V₀ + V₁ − V₀₁`` (``V₀₁`` clustered on the intersections), each with its
  own factor. Inference degrees of freedom (``df_correction=True``): ``G − 1`` (the smaller G of
  two-way), used by t-tests when ``use_t`` and by the OLS F-test.
- ``cov_type="HAC"``, ``cov_kwds={"maxlags": L}``: Newey–West,
  ``S = Σ_ℓ w_ℓ (Γ_ℓ + Γ_ℓᵀ)`` (``Γ₀`` once) over the rows in data order, Bartlett weights
  ``w_ℓ = 1 − ℓ/(L + 1)`` (``kernel="uniform"``: all 1); no small-sample factor by default
  (``use_correction=True``: ``n/(n − k)``).

Frequency weights (GLM): cluster scores are summed as they are (a row of weight f counts f
times within its cluster); HAC scores are divided by ``√f`` first, as statsmodels does.

This module checks ``cov_kwds`` (:func:`check_cov_kwds`, naming the argument and the fix for
each mistake) and computes meats and covariances from scores and a bread (:func:`robust_cov`).
All host-side NumPy: ``O(nk²)``, microseconds to milliseconds, nothing to compile.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, NamedTuple

import numpy as np

from ._design import Design
from ._errors import InputError

__all__ = ["CovSpec", "check_cov_kwds", "robust_cov", "warn_if_negative"]

ROBUST_KINDS = ("cluster", "HAC")

_DESCRIPTIONS = {
    "cluster": "Standard Errors are robust to cluster correlation (CRV1)",
    "HAC": "Standard Errors are heteroscedasticity and autocorrelation robust (HAC) using "
    "{maxlags} lags and {correction} small sample correction",
}
_KEYS = {"cluster": ("groups", "use_correction", "df_correction"),
         "HAC": ("maxlags", "kernel", "use_correction")}  # fmt: skip
_KERNELS = {"bartlett": lambda L: 1.0 - np.arange(L + 1) / (L + 1.0),
            "uniform": lambda L: np.ones(L + 1)}  # fmt: skip


class CovSpec(NamedTuple):
    """A checked cluster or HAC covariance request.

    Attributes:
        cov_type: ``"cluster"`` or ``"HAC"``.
        codes: ``(n, m)`` integer cluster codes ``0..G-1``, one column per way (``m`` 1 or 2),
            or None for HAC.
        n_groups: the number of clusters per way (empty for HAC).
        maxlags: the HAC lag window (None for cluster).
        kernel_weights: the ``maxlags + 1`` HAC weights (None for cluster).
        kernel: the kernel's name (``"bartlett"``, ``"uniform"``, or the callable's name).
        use_correction: whether the small-sample factor is applied.
        df_correction: (cluster) whether inference uses ``G − 1`` degrees of freedom.
        use_t: Student's t instead of the normal (OLS only; None: the default, False).
    """

    cov_type: str
    codes: np.ndarray | None
    n_groups: tuple[int, ...]
    maxlags: int | None
    kernel_weights: np.ndarray | None
    kernel: str | None
    use_correction: bool
    df_correction: bool
    use_t: bool | None

    @property
    def description(self) -> str:
        """The sentence of statsmodels' summary notes (its ``cov_kwds["description"]``)."""
        if self.cov_type == "HAC":
            return _DESCRIPTIONS["HAC"].format(
                maxlags=self.maxlags, correction="with" if self.use_correction else "without"
            )
        return _DESCRIPTIONS["cluster"]

    def df_inference(self, df_resid: float) -> float:
        """The inference degrees of freedom: ``G − 1`` (cluster, ``df_correction``), else df_resid.

        Args:
            df_resid: the model's residual degrees of freedom.

        Returns:
            statsmodels' ``df_resid_inference`` (or ``df_resid`` where it sets none).
        """
        if self.cov_type == "cluster" and self.df_correction:
            return float(min(self.n_groups) - 1)
        return float(df_resid)

    def clusters(self) -> Any:
        """The number of clusters (a pair for two-way), or None for HAC."""
        if self.cov_type != "cluster":
            return None
        return self.n_groups if len(self.n_groups) > 1 else self.n_groups[0]

    def kwds(self) -> dict[str, Any]:
        """The settings as statsmodels' ``cov_kwds`` dict (with ``description``)."""
        if self.cov_type == "HAC":
            out = {"maxlags": self.maxlags, "kernel": self.kernel,
                   "use_correction": self.use_correction}  # fmt: skip
        else:
            out = {"n_groups": self.clusters(),
                   "use_correction": self.use_correction,
                   "df_correction": self.df_correction}  # fmt: skip
        if self.use_t is not None:
            out["use_t"] = self.use_t
        out["description"] = self.description
        return out


# --------------------------------------------------------------------------------------------
# Checking cov_kwds.


def _flag(kw: dict, name: str, default: bool) -> bool:
    v = kw.get(name, default)
    if not isinstance(v, bool | np.bool_):
        raise InputError(f"`cov_kwds['{name}']` must be True or False; got {v!r}.")
    return bool(v)


def _column(data: Any, name: str) -> Any:
    try:
        return data[name]
    except (KeyError, TypeError, IndexError):
        raise InputError(f"`cov_kwds['groups']` names the column {name!r}, which `data` "
                         "lacks; name one of its columns or pass an array of one label per "
                         "row.") from None  # fmt: skip


def _align(design: Design, values: Any, what: str) -> np.ndarray:
    """One column of labels restricted to the fitted rows (as the weights and offsets are)."""
    # A Series is aligned by its labels where it has every fitted row's (any order), else
    # taken by position, as the weights and offsets are (jaxmle._design.align_rows).
    if (hasattr(values, "reindex") and design.index is not None and values.index.is_unique
            and design.index.isin(values.index).all()):  # fmt: skip
        values = values.reindex(design.index)
    arr = np.asarray(values)
    n = design.X.shape[0]
    if arr.ndim != 1:
        raise InputError(f"{what} must be one label per row; got shape {arr.shape}.")
    if arr.shape[0] != n:
        if design.rows is not None and arr.shape[0] == design.n_data:
            arr = arr[design.rows]
        else:
            before = (f" ({design.n_data} before rows with missing values were dropped)"
                      if design.rows is not None else "")  # fmt: skip
            raise InputError(f"{what} has {arr.shape[0]} labels but the model has {n} rows"
                             f"{before}; give one cluster label per row.")  # fmt: skip
    return arr


def _missing(arr: np.ndarray) -> np.ndarray:
    if arr.dtype.kind in "fc":
        return np.isnan(arr)
    if arr.dtype.kind in "biu":
        return np.zeros(arr.shape, dtype=bool)
    try:
        import pandas as pd

        return np.asarray(pd.isna(arr), dtype=bool)
    except ImportError:  # pragma: no cover - pandas ships with the formula extra
        return np.array([v is None or (isinstance(v, float) and math.isnan(v)) for v in arr])


def _codes(arr: np.ndarray, what: str) -> tuple[np.ndarray, int]:
    bad = _missing(arr)
    if bad.any():
        raise InputError(f"{what} has a missing label (NaN/None) at row "
                         f"{int(np.flatnonzero(bad)[0])}; every row needs a cluster (drop or "
                         "fill those rows before fitting).")  # fmt: skip
    try:
        uniq, codes = np.unique(arr, return_inverse=True)
    except TypeError:  # labels of mixed types: pandas factorises them
        import pandas as pd

        codes, uniq = pd.factorize(arr)
    if len(uniq) < 2:
        raise InputError(f"{what} has a single cluster; a cluster-robust covariance needs at "
                         "least 2 (the small-sample factor G/(G − 1) is infinite).")  # fmt: skip
    return np.asarray(codes, dtype=np.intp).reshape(-1), len(uniq)


def _groups(groups: Any, design: Design, data: Any) -> tuple[np.ndarray, tuple[int, ...]]:
    """Cluster codes ``(n, m)`` and the number of clusters per column."""
    what = "`cov_kwds['groups']`"
    if groups is None:
        raise InputError("cov_type='cluster' needs `cov_kwds={'groups': g}`: one cluster label "
                         "per row (an array, a Series, or a column name of `data`).")  # fmt: skip
    names_ok = data is not None and design.spec is not None
    if isinstance(groups, str):
        if not names_ok:
            raise InputError(f"{what} can name a column only with a formula and a DataFrame; "
                             "pass an array of one label per row.")  # fmt: skip
        cols = [_column(data, groups)]
    elif isinstance(groups, list | tuple) and len(groups) == 2 and all(
            isinstance(g, str) or (np.ndim(g) == 1 and len(g) > 2) for g in groups):  # fmt: skip
        cols = [(_column(data, g) if names_ok else _bad_name(g)) if isinstance(g, str) else g
                for g in groups]  # fmt: skip
    elif hasattr(groups, "columns"):  # a DataFrame: one column per way
        cols = [groups[c] for c in groups.columns]
    else:
        arr = groups if hasattr(groups, "reindex") else np.asarray(groups)
        if getattr(arr, "ndim", 1) == 2:
            cols = [arr[:, j] for j in range(arr.shape[1])]
        elif getattr(arr, "ndim", 1) == 1:
            cols = [arr]
        else:
            raise InputError(f"{what} must be one label per row, or two columns for two-way "
                             f"clustering; got shape {arr.shape}.")  # fmt: skip
    if len(cols) not in (1, 2):
        raise InputError(f"{what} has {len(cols)} columns; statsmodels' cluster covariance is "
                         "one-way (one column) or two-way (two columns).")  # fmt: skip
    coded = [_codes(_align(design, c, what), what) for c in cols]
    return np.column_stack([c for c, _ in coded]), tuple(g for _, g in coded)


def _bad_name(name: str) -> Any:
    raise InputError(f"`cov_kwds['groups']` names a column ({name!r}) but the fit has no "
                     "formula data; pass arrays of labels.")  # fmt: skip


def _kernel(kernel: Any, maxlags: int) -> tuple[np.ndarray, str]:
    if isinstance(kernel, str) and kernel.lower() in _KERNELS:
        return _KERNELS[kernel.lower()](maxlags), kernel.lower()
    if callable(kernel):  # statsmodels' weights_func: maxlags -> maxlags + 1 weights
        w = np.asarray(kernel(maxlags), dtype=float).reshape(-1)
        if w.shape != (maxlags + 1,) or not np.all(np.isfinite(w)):
            raise InputError(f"`cov_kwds['kernel']` must return maxlags + 1 = {maxlags + 1} "
                             f"finite weights (lag 0 first); got shape {w.shape}.")  # fmt: skip
        return w, getattr(kernel, "__name__", "custom")
    raise InputError(f"`cov_kwds['kernel']` must be 'bartlett' (Newey–West, the default), "
                     f"'uniform', or a function of maxlags; got {kernel!r}.")  # fmt: skip


def check_cov_kwds(cov_type: str, cov_kwds: Any, design: Design, data: Any = None, *,
                   allow_use_t: bool = False) -> CovSpec | None:  # fmt: skip
    """Checks ``cov_kwds`` against ``cov_type`` and returns the cluster/HAC request.

    Args:
        cov_type: the checked covariance name (``"nonrobust"``, ``"HC0"``..., ``"cluster"``,
            ``"HAC"``).
        cov_kwds: None or a dict: for ``"cluster"`` ``groups`` (required), ``use_correction``,
            ``df_correction``; for ``"HAC"`` ``maxlags`` (required), ``kernel``
            (``weights_func`` is statsmodels' other name for it), ``use_correction``; and
            ``use_t`` where ``allow_use_t``.
        design: the fitted design (its kept rows align ``groups``).
        data: the formula's DataFrame, where ``groups`` may name a column.
        allow_use_t: accept ``use_t`` (statsmodels' OLS reads it from ``cov_kwds``).

    Returns:
        A :class:`CovSpec` for ``"cluster"``/``"HAC"``; None for the other covariances.

    Raises:
        InputError: for keywords with a covariance that takes none, an unknown or missing
            keyword, groups of the wrong length or with missing labels, fewer than two
            clusters, or a negative or non-integer ``maxlags``.

    Example:
        >>> import numpy as np
        >>> from jaxmle._design import from_arrays
        >>> d = from_arrays(np.arange(4.0), np.ones((4, 1)))
        >>> check_cov_kwds("cluster", {"groups": [0, 0, 1, 1]}, d).n_groups
        (2,)
    """
    if cov_kwds is not None and not isinstance(cov_kwds, dict):
        raise InputError(f"`cov_kwds` must be a dict (e.g. {{'groups': g}}); got "
                         f"{type(cov_kwds).__name__}.")  # fmt: skip
    kw = dict(cov_kwds or {})
    if cov_type not in ROBUST_KINDS:
        if kw:
            raise InputError(f"`cov_kwds` is only for cov_type='cluster' or 'HAC'; cov_type="
                             f"{cov_type!r} takes no keywords (got {sorted(kw)}).")  # fmt: skip
        return None
    if "weights_func" in kw and "kernel" not in kw:
        kw["kernel"] = kw.pop("weights_func")
    allowed = _KEYS[cov_type] + (("use_t",) if allow_use_t else ())
    unknown = sorted(set(kw) - set(allowed))
    if unknown:
        raise InputError(f"`cov_kwds` has unknown key(s) {unknown} for cov_type={cov_type!r}; "
                         f"the keys are {list(allowed)}.")  # fmt: skip
    use_t = _flag(kw, "use_t", False) if "use_t" in kw else None
    if cov_type == "HAC":
        if "maxlags" not in kw:
            raise InputError("cov_type='HAC' needs `cov_kwds={'maxlags': L}`, the number of "
                             "lags (e.g. 4 for quarterly data).")  # fmt: skip
        L = kw["maxlags"]
        if isinstance(L, bool) or not isinstance(L, int | np.integer) or L < 0:
            raise InputError(f"`cov_kwds['maxlags']` must be a non-negative integer; got {L!r}.")
        weights, name = _kernel(kw.get("kernel", "bartlett"), int(L))
        return CovSpec("HAC", None, (), int(L), weights, name,
                       _flag(kw, "use_correction", False), False, use_t)  # fmt: skip
    codes, n_groups = _groups(kw.get("groups"), design, data)
    return CovSpec("cluster", codes, n_groups, None, None, None,
                   _flag(kw, "use_correction", True), _flag(kw, "df_correction", True),
                   use_t)  # fmt: skip


# --------------------------------------------------------------------------------------------
# Meats and covariances.


def _group_sums(scores: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    return np.stack([np.bincount(codes, weights=scores[:, j], minlength=n_groups)
                     for j in range(scores.shape[1])], axis=1)  # fmt: skip


def cluster_meat(scores: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """``Σ_g s_g s_gᵀ`` with ``s_g`` the sum of the rows of ``scores`` in cluster ``g``.

    Args:
        scores: ``(n, k)`` per-row scores.
        codes: ``(n,)`` cluster codes ``0..n_groups-1``.
        n_groups: the number of clusters.

    Returns:
        The ``(k, k)`` meat.
    """
    s = _group_sums(scores, codes, n_groups)
    return s.T @ s


def hac_meat(scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Newey–West's ``Σ_ℓ w_ℓ (Γ_ℓ + Γ_ℓᵀ)``, ``Γ_ℓ = Σ_t s_t s_{t−ℓ}ᵀ`` (``Γ₀`` counted once).

    Args:
        scores: ``(n, k)`` per-row scores, in time order.
        weights: the ``L + 1`` kernel weights, lag 0 first.

    Returns:
        The ``(k, k)`` meat.
    """
    S = weights[0] * (scores.T @ scores)
    for lag in range(1, min(len(weights), scores.shape[0])):
        g = scores[lag:].T @ scores[:-lag]
        S += weights[lag] * (g + g.T)
    return S


def _correction(n_groups: int, n: int, k: int) -> float:
    return n_groups / (n_groups - 1.0) * (n - 1.0) / (n - k) if n > k else math.nan


def robust_meat(scores: np.ndarray, spec: CovSpec, k: int,
                hac_scale: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """The meat of ``spec``'s sandwich with its small-sample factor folded in.

    Args:
        scores: ``(n, k)`` per-row scores (for a GLM with frequency weights, weighted by them).
        spec: the checked request.
        k: the number of parameters (the factors' ``k``).
        hac_scale: per-row multipliers of the scores for HAC only (``1/√f`` for frequency
            weights, statsmodels' convention), or None.

    Returns:
        ``(k, k)`` meat ``M`` such that the covariance is ``B M Bᵀ``.
    """
    n = scores.shape[0]
    if spec.cov_type == "HAC":
        x = scores if hac_scale is None else scores * hac_scale[:, None]
        M = hac_meat(x, spec.kernel_weights)
        if spec.use_correction:
            M = M * (n / (n - k) if n > k else math.nan)
        return M

    def one(codes: np.ndarray, G: int) -> np.ndarray:
        M = cluster_meat(scores, codes, G)
        return M * _correction(G, n, k) if spec.use_correction else M

    if spec.codes.shape[1] == 1:
        return one(spec.codes[:, 0], spec.n_groups[0])
    # Two-way: V₀ + V₁ − V₀₁, the last clustered on the intersections of the two.
    _, both = np.unique(spec.codes[:, 0] * spec.n_groups[1] + spec.codes[:, 1],
                        return_inverse=True)  # fmt: skip
    both = both.reshape(-1)
    return (one(spec.codes[:, 0], spec.n_groups[0]) + one(spec.codes[:, 1], spec.n_groups[1])
            - one(both, int(both.max()) + 1))  # fmt: skip


def robust_cov(bread: np.ndarray, scores: np.ndarray, spec: CovSpec,
               hac_scale: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """The cluster or HAC sandwich ``B M B`` (symmetrised).

    Args:
        bread: ``(k, k)`` the inverse Hessian (or ``(XᵀWX)⁻¹``).
        scores: ``(n, k)`` per-row scores.
        spec: the checked request.
        hac_scale: as :func:`robust_meat`.

    Returns:
        The ``(k, k)`` covariance.

    Example:
        >>> import numpy as np
        >>> from jaxmle._design import from_arrays
        >>> spec = check_cov_kwds("HAC", {"maxlags": 0}, from_arrays(np.ones(3), np.ones((3, 1))))
        >>> float(robust_cov(np.eye(1), np.array([[1.0], [2.0], [2.0]]), spec)[0, 0])
        9.0
    """
    C = bread @ robust_meat(scores, spec, bread.shape[0], hac_scale) @ bread.T
    return 0.5 * (C + C.T)


def warn_if_negative(cov: np.ndarray, names: Any, spec: CovSpec | None, stacklevel: int) -> None:
    """Warns when a cluster/HAC covariance is not positive semi-definite.

    Two-way clustering (``V₀ + V₁ − V₀₁``) and the uniform kernel need not be; statsmodels
    returns the same matrix, with NaN standard errors where a variance is negative, silently.

    Args:
        cov: the covariance.
        names: the parameters' names.
        spec: the request (None: nothing to check).
        stacklevel: passed to :func:`warnings.warn`.
    """
    if spec is None or not np.all(np.isfinite(cov)):
        return
    d = np.diag(cov)
    what = "two-way cluster" if spec.codes is not None and spec.codes.shape[1] == 2 \
        else spec.cov_type  # fmt: skip
    bad = [str(names[j]) for j in np.flatnonzero(d < 0)]
    if bad:
        why = f"has a negative variance for {bad}: their standard errors are NaN"
    else:
        # On the correlation scale, so that a rank-deficient (e.g. fewer clusters than
        # parameters) matrix's rounding-level eigenvalues are not mistaken for negative ones.
        s = np.sqrt(np.where(d > 0, d, 1.0))
        if np.linalg.eigvalsh(cov / s[:, None] / s[None, :])[0] > -1e-8:
            return
        why = (
            "is not positive semi-definite: some combinations of the parameters (marginal "
            "effects, predictions) can have negative variances and NaN standard errors"
        )
    warnings.warn(
        f"the {what} covariance {why} (one-way clustering and the Bartlett kernel are "
        "positive semi-definite).",
        RuntimeWarning,
        stacklevel=stacklevel + 1,
    )
