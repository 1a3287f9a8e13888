"""The result of a hyperparameter study (:func:`jaxmle.sweep`).

Grid-shaped arrays, per-lane records and a lossless file format.
"""

from __future__ import annotations

import ast
import dataclasses
import itertools
import json
import math
import os
import pathlib
from typing import Any

import jax
import numpy as np

from . import _fit, _io
from ._errors import FileFormatError, InputError
from ._status import Status

__all__ = ["SweepResult"]

_RESULT_FIELDS = ("loss", "grad_norm", "distance", "converged", "steps_to_tol",
                  "samples_to_tol", "diverged", "diverged_step", "status")  # fmt: skip
_KIND = "SweepResult"
_VERSION = 1
_TRACE_FIELDS = ("step", "loss", "grad_norm")


@dataclasses.dataclass(repr=False)
class SweepResult:
    """Results of :func:`sweep`: arrays with the grid axes leading, in ``axes`` order.

    Attributes:
        axes: ordered mapping from axis name to its coordinate values (``optimizer`` first,
            then the grid's keys in the order given).
        params: natural parameters, each leaf ``(*grid, ...)``.
        loss, grad_norm, distance, converged, steps_to_tol, samples_to_tol, diverged,
            diverged_step, status: ``(*grid)`` arrays, as in :class:`jaxmle.FitResult`:
            ``converged`` describes each lane's final state (``steps_to_tol`` when the
            tolerance first held), ``status`` is its ``int32`` :class:`jaxmle.Status` code.
        trace: :class:`jaxmle.Trace` with leaves ``(*grid, R, ...)``.
        meta: settings of the study (steps, tolerance, batch groups, devices...).
        timings: seconds spent compiling and running each program.
    """

    axes: dict[str, list]
    params: Any
    loss: np.ndarray
    grad_norm: np.ndarray
    distance: np.ndarray
    converged: np.ndarray
    steps_to_tol: np.ndarray
    samples_to_tol: np.ndarray
    diverged: np.ndarray
    diverged_step: np.ndarray
    status: np.ndarray
    trace: _fit.Trace
    meta: dict
    timings: dict

    @property
    def shape(self) -> tuple[int, ...]:
        """The grid's shape."""
        return self.loss.shape

    def __repr__(self) -> str:
        """A few lines: the grid's axes, the lanes' outcomes, the best lane (not the arrays)."""
        return _summary(self)

    def lane(self, **coords: Any) -> _fit.FitResult:
        """The :class:`jaxmle.FitResult` of one lane, selected by coordinate values.

        Args:
            **coords: a value for each axis (``optimizer="adam", learning_rate=0.1, ...``);
                an axis with a single value (one optimiser, say) may be left out.

        Returns:
            The lane's result.

        Raises:
            InputError: an unknown axis, a missing value for an axis with several values, or
                a value that is not on its axis (the message lists the choices).

        Example:
            >>> study.lane(learning_rate=0.1, seed=0)  # doctest: +SKIP
        """
        unknown = [k for k in coords if k not in self.axes]
        if unknown:
            raise InputError(f"`lane` got {', '.join(map(repr, unknown))}, which "
                             f"{'is not an axis' if len(unknown) == 1 else 'are not axes'} of "
                             f"this study; its axes are {list(self.axes)}.")  # fmt: skip
        missing = {k: v for k, v in self.axes.items() if k not in coords and len(v) > 1}
        if missing:
            choices = "; ".join(f"{k} (one of {_abbrev(v, 6)})" for k, v in missing.items())
            raise InputError(f"`lane` needs a value for every axis with several values; "
                             f"missing {choices}.")  # fmt: skip
        idx = []
        for name, values in self.axes.items():
            if name not in coords:  # a single-valued axis
                idx.append(0)
                continue
            if coords[name] not in values:
                raise InputError(f"`{name}={coords[name]!r}` is not on axis {name!r}; choose "
                                 f"from {values}.")  # fmt: skip
            idx.append(values.index(coords[name]))
        idx = tuple(idx)

        def take(x):
            return x[idx]

        return _fit.FitResult(
            jax.tree_util.tree_map(take, self.params),
            *(take(getattr(self, f)) for f in _RESULT_FIELDS),
            jax.tree_util.tree_map(take, self.trace),
        )

    def records(self) -> list[dict]:
        """One dict per lane: coordinates, final metrics and final params (flattened)."""
        rows = []
        flat_params = {
            (jax.tree_util.keystr(path).strip("[]'\"") or "value"): leaf
            for path, leaf in jax.tree_util.tree_flatten_with_path(self.params)[0]
        }
        for idx in itertools.product(*(range(len(v)) for v in self.axes.values())):
            row = {name: vals[i] for (name, vals), i in zip(self.axes.items(), idx, strict=True)}
            for f in _RESULT_FIELDS:
                v = getattr(self, f)[idx]
                row[f] = v.item()
            for name, leaf in flat_params.items():
                v = np.asarray(leaf[idx])
                if v.ndim == 0:
                    row[f"param:{name}"] = v.item()
                else:
                    for j, x in enumerate(v.ravel()):
                        row[f"param:{name}[{j}]"] = float(x)
            rows.append(row)
        return rows

    def to_dataframe(self):
        """A pandas DataFrame, one row per lane (needs the ``table`` extra: pandas)."""
        try:
            import pandas as pd
        except ImportError as err:  # pragma: no cover - optional dependency
            raise ImportError("to_dataframe needs pandas: pip install 'jaxmle[table]'") from err
        return pd.DataFrame.from_records(self.records())

    def best(self, k: int = 1, by: str = "distance") -> list[dict]:
        """The ``k`` best lanes (smallest ``by``, diverged lanes last) as records."""
        rows = self.records()
        rows.sort(key=lambda r: (r["diverged"], _nan_last(r[by])))
        return rows[:k]

    def save(self, path: str | os.PathLike) -> pathlib.Path:
        """Saves the result to one ``.npz`` file, atomically and losslessly.

        The file is written beside the target and renamed over it, so a reader (or a job
        killed mid-save) sees the previous file or the new one, never a partial one. Arrays
        are stored bit for bit with their dtypes; ``params`` and ``trace.params`` keep their
        pytree structure (dict key order, tuples, lists, nested dicts, ``None``); ``axes``,
        ``meta`` and ``timings`` are stored as JSON.

        Args:
            path: the file; ``.npz`` is appended unless present (as :meth:`load` does).

        Returns:
            The path written.

        Raises:
            InputError: a leaf of ``params`` is not a numeric or bool array.

        Example:
            >>> path = result.save("study")  # doctest: +SKIP
            >>> path.name, jaxmle.SweepResult.load("study").shape  # doctest: +SKIP
            ('study.npz', (2, 3, 1, 2))
        """
        arrays = {f: np.asarray(getattr(self, f)) for f in _RESULT_FIELDS}
        arrays.update({f"trace_{f}": np.asarray(getattr(self.trace, f)) for f in _TRACE_FIELDS})
        for name, tree in (("params", self.params), ("trace_params", self.trace.params)):
            arrays.update({f"{name}/{i}": np.asarray(x)
                           for i, x in enumerate(_io.spec_leaves(tree))})  # fmt: skip
        header = {"axes": self.axes, "meta": self.meta, "timings": self.timings,
                  "params": _io.tree_spec(self.params),
                  "trace_params": _io.tree_spec(self.trace.params)}  # fmt: skip
        return _io.save_arrays(path, arrays, header, kind=_KIND, version=_VERSION)

    @classmethod
    def load(cls, path: str | os.PathLike) -> SweepResult:
        """Loads a result written by :meth:`save` (or by jaxmle before the current layout).

        ``params`` and ``trace.params`` come back with the structure they were saved with,
        their leaves as numpy arrays; a namedtuple comes back as a dict of its fields (its
        class is not stored), and non-string dict keys as strings. Files of the older layout
        keep the structure jax's tree flattening gave them (dict keys sorted).

        Args:
            path: the file; ``.npz`` is appended unless present (as :meth:`save` does).

        Returns:
            The :class:`SweepResult`.

        Raises:
            FileFormatError: the file is missing, truncated or damaged, not a jaxmle file,
                holds another kind of result, or was written by a newer jaxmle; the message
                names the file.

        Example:
            >>> res = jaxmle.SweepResult.load("study.npz")  # doctest: +SKIP
            >>> res.lane(optimizer="sgd", learning_rate=0.1).loss  # doctest: +SKIP
        """
        p = _io.npz_path(path)
        raw = _io.read_npz(path, kind=_KIND)
        if _io.HEADER not in raw and "header" in raw:
            return _load_legacy(cls, p, raw)
        header, z = _io.parse_header(path, raw, kind=_KIND, max_version=_VERSION)
        try:
            tparams = _tree(z, header, "trace_params")
            trace = _fit.Trace(*(z[f"trace_{f}"] for f in _TRACE_FIELDS), tparams)
            return cls(axes=header["axes"], params=_tree(z, header, "params"), trace=trace,
                       meta=header["meta"], timings=header["timings"],
                       **{f: z[f] for f in _RESULT_FIELDS})  # fmt: skip
        except (KeyError, IndexError, TypeError, ValueError) as err:
            raise FileFormatError(
                f"{p}: a damaged jaxmle SweepResult file (missing or malformed "
                f"{type(err).__name__}: {err})."
            ) from err


_KEY_CHARS = "[]'\""  # around a key path's name: ``['mean']`` -> ``mean``


def _fmt_coord(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "full" if v is None else repr(v) if isinstance(v, str) else str(v)


def _abbrev(values: list, most: int = 6) -> str:
    """``[0.001, 0.01, …, 10]``: at most ``most`` coordinates, the first and last ones."""
    shown = [_fmt_coord(v) for v in values]
    if len(shown) > most:
        shown = [*shown[: most - 2], "…", *shown[-1:]]
    return "[" + ", ".join(shown) + "]"


def _summary(res: SweepResult) -> str:
    """The text of ``repr(study)``: what the study was and how its lanes ended, in few lines."""
    shape = tuple(int(n) for n in np.shape(res.loss))
    lanes = int(np.prod(shape)) if shape else 1
    meta = res.meta or {}
    head = f"SweepResult: {lanes} lane{'s' if lanes != 1 else ''}"
    head += f" ({' × '.join(map(str, shape))})" if len(shape) > 1 else ""
    settings = [f"{meta['steps']} steps" if "steps" in meta else None,
                f"tol {meta['tol']:g}" if isinstance(meta.get("tol"), int | float) else None,
                f"reduction {meta['reduction']}" if "reduction" in meta else None]  # fmt: skip
    head += ", " + ", ".join(x for x in settings if x) if any(settings) else ""
    width = max((len(k) for k in res.axes), default=0)
    lines = [head, "  axes:"]
    lines += [f"    {k:<{width}}  {len(v):>3}  {_abbrev(v)}" for k, v in res.axes.items()]
    conv = np.asarray(res.converged, bool)
    div = np.asarray(res.diverged, bool)
    codes, counts = np.unique(np.asarray(res.status).ravel(), return_counts=True)
    names = []
    for c, n in zip(codes.tolist(), counts.tolist(), strict=True):
        try:
            names.append(f"{Status(c).name.lower()} {n}")
        except ValueError:
            names.append(f"code {c}: {n}")
    lines.append(f"  lanes: {int(conv.sum())} converged, {int(div.sum())} diverged, "
                 f"{lanes - int((conv | div).sum())} neither (status: {', '.join(names)})")
    lines.append("  best:  " + _best_line(res, div))
    leaves = jax.tree_util.tree_flatten_with_path(res.params)[0]
    params = [f"{jax.tree_util.keystr(path).strip(_KEY_CHARS) or 'value'} "
              f"{tuple(int(d) for d in np.shape(leaf)[len(shape):])}" for path, leaf in leaves]
    if len(params) > 4:
        params = [*params[:3], f"… ({len(params)} leaves)"]
    n_rec = int(np.shape(res.trace.step)[-1]) if np.ndim(res.trace.step) else 0
    lines.append(f"  per lane: params {', '.join(params) or '(none)'}; trace of {n_rec} "
                 f"record{'s' if n_rec != 1 else ''}")  # fmt: skip
    return "\n".join(lines)


def _best_line(res: SweepResult, div: np.ndarray) -> str:
    """The best lane (smallest final distance, else loss, among lanes that did not diverge)."""
    for field in ("distance", "loss"):
        v = np.where(div, np.nan, np.asarray(getattr(res, field), np.float64))
        if np.isfinite(v).any():
            break
    else:
        return "no lane ended finite"
    idx = np.unravel_index(int(np.nanargmin(np.where(np.isfinite(v), v, np.nan))), v.shape)
    where = ", ".join(f"{k}={_fmt_coord(vals[i])}" for (k, vals), i in
                      zip(res.axes.items(), idx, strict=True) if len(vals) > 1)  # fmt: skip
    loss = float(np.asarray(res.loss)[idx])
    text = f"{field} {v[idx]:.4g}" + (f", loss {loss:.6g}" if field != "loss" else "")
    return text + (f" at {where}" if where else "")


def _tree(arrays: dict, header: dict, name: str) -> Any:
    n = sum(1 for k in arrays if k.startswith(name + "/"))
    return _io.tree_from_spec(header[name], [arrays[f"{name}/{i}"] for i in range(n)])


def _load_legacy(cls, p: pathlib.Path, z: dict[str, np.ndarray]) -> SweepResult:
    """Reads the layout :meth:`SweepResult.save` wrote before the jaxmle header.

    That layout stored the leaves in jax's flattening order with their key paths and the
    ``str`` of the treedef; the structure is rebuilt from the latter where it is made of dicts,
    lists, tuples and ``None``, otherwise params come back as a flat dict by key (as that
    layout's reader returned them).
    """
    try:
        header = json.loads(z["header"].tobytes().decode())
        keys = header["param_keys"]
        leaves = [z[f"param_{i}"] for i in range(len(keys))]
        tleaves = [z[f"trace_param_{i}"] for i in range(len(keys))]
        shape = _legacy_structure(header.get("treedef", ""))
        if shape is not None and _legacy_leaf_count(shape) == len(keys):
            params = _legacy_fill(shape, iter(leaves))
            tparams = _legacy_fill(shape, iter(tleaves))
        else:

            def unkey(k):
                return k.strip("[]'\"")

            params = {unkey(k): x for k, x in zip(keys, leaves, strict=True)}
            tparams = {unkey(k): x for k, x in zip(keys, tleaves, strict=True)}
        trace = _fit.Trace(*(z[f"trace_{f}"] for f in _TRACE_FIELDS), tparams)
        fields = {f: z[f] for f in _RESULT_FIELDS if f in z}
        if "status" not in fields:  # written before lanes carried a status
            fields["status"] = np.where(
                fields["converged"], 0, np.where(fields["diverged"], 1, 6)
            ).astype(np.int32)
        return cls(axes=header["axes"], params=params, trace=trace, meta=header["meta"],
                   timings=header["timings"], **fields)  # fmt: skip
    except (KeyError, IndexError, TypeError, ValueError, UnicodeDecodeError) as err:
        raise FileFormatError(
            f"{p}: not a readable jaxmle SweepResult file (older layout; missing or malformed "
            f"{type(err).__name__}: {err})."
        ) from err


_LEAF = ...  # stands for a leaf (``*``) in a parsed treedef string


def _legacy_structure(treedef: str) -> Any:
    """``str(treedef)`` (e.g. ``PyTreeDef({'a': (*, *)})``) as Python containers, or None."""
    if not (treedef.startswith("PyTreeDef(") and treedef.endswith(")")):
        return None
    body, out, quote, i = treedef[len("PyTreeDef(") : -1], [], None, 0
    while i < len(body):  # ``*`` outside string literals is a leaf
        c = body[i]
        if quote:
            if c == "\\":
                out.append(body[i : i + 2])
                i += 2
                continue
            if c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c == "*":
            c = "..."
        out.append(c)
        i += 1
    try:
        return ast.literal_eval("".join(out))  # custom nodes (namedtuples...) do not parse
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


def _legacy_leaf_count(t: Any) -> int:
    if t is _LEAF:
        return 1
    if isinstance(t, dict):
        return sum(_legacy_leaf_count(v) for v in t.values())
    if isinstance(t, list | tuple):
        return sum(_legacy_leaf_count(v) for v in t)
    return 0 if t is None else 10**9  # anything else: not a structure we understand


def _legacy_fill(t: Any, leaves) -> Any:
    if t is _LEAF:
        return next(leaves)
    if isinstance(t, dict):
        return {k: _legacy_fill(v, leaves) for k, v in t.items()}
    if isinstance(t, list | tuple):
        return type(t)(_legacy_fill(v, leaves) for v in t)
    return None


def _nan_last(v):
    return math.inf if v is None or (isinstance(v, float) and math.isnan(v)) else v
