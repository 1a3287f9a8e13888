"""The result of a hyperparameter study (:func:`jaxmle.sweep`).

Grid-shaped arrays, per-lane records and a lossless file format.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import pathlib
from typing import Any

import jax
import numpy as np

from . import _fit
from ._errors import InputError

__all__ = ["SweepResult"]

_RESULT_FIELDS = ("loss", "grad_norm", "distance", "converged", "steps_to_tol",
                  "samples_to_tol", "diverged", "diverged_step", "status")  # fmt: skip


@dataclasses.dataclass
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

    def lane(self, **coords: Any) -> _fit.FitResult:
        """The :class:`jaxmle.FitResult` of one lane, selected by coordinate values."""
        missing = set(self.axes) - set(coords)
        if missing:
            raise InputError(f"`lane` needs a value for every axis; missing {sorted(missing)}.")
        idx = []
        for name, values in self.axes.items():
            if coords[name] not in values:
                raise InputError(f"{coords[name]!r} is not on axis {name!r}: {values}.")
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

    def save(self, path: str | pathlib.Path) -> None:
        """Saves to ``path`` (an ``.npz`` of arrays plus a JSON header inside it), lossless."""
        leaves, treedef = jax.tree_util.tree_flatten(self.params)
        tleaves, _ = jax.tree_util.tree_flatten(self.trace.params)
        keys = [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(
            self.params)[0]]  # fmt: skip
        header = {"axes": self.axes, "meta": self.meta, "timings": self.timings,
                  "param_keys": keys, "treedef": str(treedef)}  # fmt: skip
        arrays = {f: getattr(self, f) for f in _RESULT_FIELDS}
        arrays.update({f"param_{i}": np.asarray(x) for i, x in enumerate(leaves)})
        arrays.update({f"trace_param_{i}": np.asarray(x) for i, x in enumerate(tleaves)})
        arrays.update({f"trace_{f}": np.asarray(getattr(self.trace, f))
                       for f in ("step", "loss", "grad_norm")})  # fmt: skip
        arrays["header"] = np.frombuffer(json.dumps(header, default=_json).encode(), np.uint8)
        np.savez(pathlib.Path(path), **arrays)

    @classmethod
    def load(cls, path: str | pathlib.Path) -> SweepResult:
        """Loads a result written by :meth:`save` (params come back as a flat dict by key)."""
        with np.load(pathlib.Path(path)) as z:
            header = json.loads(z["header"].tobytes().decode())
            keys = header["param_keys"]

            def unkey(k):
                return k.strip("[]'\"")

            params = {unkey(k): z[f"param_{i}"] for i, k in enumerate(keys)}
            tparams = {unkey(k): z[f"trace_param_{i}"] for i, k in enumerate(keys)}
            trace = _fit.Trace(z["trace_step"], z["trace_loss"], z["trace_grad_norm"], tparams)
            fields = {f: z[f] for f in _RESULT_FIELDS if f in z}
            if "status" not in fields:  # written before lanes carried a status
                fields["status"] = np.where(
                    fields["converged"], 0, np.where(fields["diverged"], 1, 6)
                ).astype(np.int32)

        return cls(axes=header["axes"], params=params, trace=trace, meta=header["meta"],
                   timings=header["timings"], **fields)  # fmt: skip


def _nan_last(v):
    return math.inf if v is None or (isinstance(v, float) and math.isnan(v)) else v


def _json(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)
