"""The result of a Monte Carlo study (:func:`jaxmle.montecarlo`): summaries, table, file."""

from __future__ import annotations

import os
import pathlib
from dataclasses import dataclass, field

import jax
import numpy as np

from . import _io
from ._errors import FileFormatError
from ._inference import _require_pandas

__all__ = ["MonteCarloResult"]

_KIND = "MonteCarloResult"
_VERSION = 1
_ARRAYS = ("truth", "estimates", "mean", "bias", "bias_se", "sd", "sd_se", "cov_empirical",
           "cov_empirical_se", "cov_theory")  # fmt: skip
_PER_COV = ("stderr_mean", "cov_mean", "coverage", "coverage_se")  # covariance type -> array


# --------------------------------------------------------------------------------------------
# Result.


@jax.tree_util.register_dataclass
@dataclass(frozen=True, repr=False)
class MonteCarloResult:
    """Sampling distribution of an estimator over R simulated datasets (arrays are numpy).

    Every summary is over the replicates with finite estimates (``n_valid``); each Monte
    Carlo standard error (``*_se``) is the standard deviation of the per-replicate quantity
    over ``sqrt(n_valid)`` (for coverage ``sqrt(c(1 − c)/n_valid)``).

    Attributes:
        truth: ``(k,)`` the true (target) parameters, flattened (labels: ``labels``).
        estimates: ``(R, k)`` one estimate per replicate.
        mean, bias, bias_se: ``(k,)`` mean estimate, its bias ``mean − truth`` and the bias's
            Monte Carlo standard error.
        sd, sd_se: ``(k,)`` empirical standard deviation of the estimates and its MC s.e.
        cov_empirical, cov_empirical_se: ``(k, k)`` empirical covariance (divisor R − 1) and
            the MC s.e. of each entry.
        cov_theory: ``(k, k)`` theoretical covariance: the inverse expected information at the
            true parameters (on the simulated design), a matrix you passed, or NaN.
        stderr_mean: per covariance type, ``(k,)`` mean estimated standard error.
        cov_mean: per covariance type, ``(k, k)`` mean estimated covariance.
        coverage, coverage_se: per covariance type, ``(k,)`` fraction of replicates whose Wald
            interval at ``level`` covers the truth, and its MC s.e.
        failed: per covariance type, number of replicates whose covariance failed (status ≠ 0;
            left out of that type's coverage and means).
        n_valid: replicates with finite estimates.
        labels, cov_types, level, reps, model_name: settings (static).
    """

    truth: np.ndarray
    estimates: np.ndarray
    mean: np.ndarray
    bias: np.ndarray
    bias_se: np.ndarray
    sd: np.ndarray
    sd_se: np.ndarray
    cov_empirical: np.ndarray
    cov_empirical_se: np.ndarray
    cov_theory: np.ndarray
    stderr_mean: dict
    cov_mean: dict
    coverage: dict
    coverage_se: dict
    failed: dict
    n_valid: int
    labels: tuple[str, ...] = field(metadata={"static": True})
    cov_types: tuple[str, ...] = field(metadata={"static": True})
    level: float = field(metadata={"static": True})
    reps: int = field(metadata={"static": True})
    model_name: str = field(metadata={"static": True})

    @property
    def sd_theory(self) -> np.ndarray:
        """``(k,)`` standard deviations from ``cov_theory``."""
        return np.sqrt(np.diagonal(self.cov_theory))

    def records(self) -> list[dict]:
        """One dict per parameter with the table's numbers.

        Truth, mean, bias, sd, theory and, per covariance type, the mean standard error and
        coverage (with Monte Carlo standard errors).

        Returns:
            A list of dicts, one per parameter.
        """
        rows = []
        for j, lbl in enumerate(self.labels):
            row = {
                "parameter": lbl, "truth": self.truth[j], "mean": self.mean[j],
                "bias": self.bias[j], "bias_se": self.bias_se[j], "sd": self.sd[j],
                "sd_se": self.sd_se[j], "sd_theory": self.sd_theory[j],
            }  # fmt: skip
            for ct in self.cov_types:
                row[f"stderr_mean[{ct}]"] = self.stderr_mean[ct][j]
                row[f"coverage[{ct}]"] = self.coverage[ct][j]
                row[f"coverage_se[{ct}]"] = self.coverage_se[ct][j]
            rows.append({k: (float(v) if k != "parameter" else v) for k, v in row.items()})
        return rows

    def to_dataframe(self):
        """:meth:`records` as a pandas DataFrame indexed by parameter (needs pandas)."""
        pd = _require_pandas("MonteCarloResult.to_dataframe")
        return pd.DataFrame.from_records(self.records()).set_index("parameter")

    def save(self, path: str | os.PathLike) -> pathlib.Path:
        """Saves the study to one ``.npz`` file, atomically and losslessly.

        The file is written beside the target and renamed over it, so a reader (or a job
        killed mid-save) sees the previous file or the new one, never a partial one. Arrays
        (and the per-covariance-type arrays, by type) are stored bit for bit with their
        dtypes; ``failed``, ``n_valid`` and the settings are stored as JSON.

        Args:
            path: the file; ``.npz`` is appended unless present (as :meth:`load` does).

        Returns:
            The path written.

        Example:
            >>> path = mc.save("ols_study")  # doctest: +SKIP
            >>> print(jaxmle.MonteCarloResult.load(path))  # doctest: +SKIP
        """
        arrays = {f: np.asarray(getattr(self, f)) for f in _ARRAYS}
        keys = {}
        for f in _PER_COV:
            per_type = getattr(self, f)
            keys[f] = [str(ct) for ct in per_type]
            arrays.update({f"{f}/{i}": np.asarray(v) for i, v in enumerate(per_type.values())})
        header = {
            "keys": keys, "failed": {str(ct): int(n) for ct, n in self.failed.items()},
            "n_valid": int(self.n_valid), "labels": list(self.labels),
            "cov_types": list(self.cov_types), "level": float(self.level),
            "reps": int(self.reps), "model_name": str(self.model_name),
        }  # fmt: skip
        return _io.save_arrays(path, arrays, header, kind=_KIND, version=_VERSION)

    @classmethod
    def load(cls, path: str | os.PathLike) -> MonteCarloResult:
        """Loads a study written by :meth:`save`.

        Args:
            path: the file; ``.npz`` is appended unless present (as :meth:`save` does).

        Returns:
            The :class:`MonteCarloResult`, its arrays as numpy arrays and ``labels`` and
            ``cov_types`` as tuples.

        Raises:
            FileFormatError: the file is missing, truncated or damaged, not a jaxmle file,
                holds another kind of result, or was written by a newer jaxmle; the message
                names the file.

        Example:
            >>> mc = jaxmle.MonteCarloResult.load("ols_study.npz")  # doctest: +SKIP
            >>> mc.to_dataframe()  # doctest: +SKIP
        """
        header, z = _io.load_arrays(path, kind=_KIND, max_version=_VERSION)
        try:
            per_cov = {f: {ct: z[f"{f}/{i}"] for i, ct in enumerate(header["keys"][f])}
                       for f in _PER_COV}  # fmt: skip
            return cls(
                **{f: z[f] for f in _ARRAYS}, **per_cov,
                failed={str(ct): int(n) for ct, n in header["failed"].items()},
                n_valid=int(header["n_valid"]), labels=tuple(header["labels"]),
                cov_types=tuple(header["cov_types"]), level=float(header["level"]),
                reps=int(header["reps"]), model_name=str(header["model_name"]),
            )  # fmt: skip
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise FileFormatError(
                f"{_io.npz_path(path)}: a damaged jaxmle MonteCarloResult file (missing or "
                f"malformed {type(err).__name__}: {err})."
            ) from err

    def __str__(self) -> str:
        lw = max(10, *(len(lbl) + 1 for lbl in self.labels))
        pct = f"{100 * self.level:g}%"
        head = (
            f"Monte Carlo: {self.model_name}, {self.reps} replicates ({self.n_valid} with finite "
            f"estimates), {pct} Wald intervals; ± is the Monte Carlo standard error"
        )
        lines = [head, ""]
        cols = ["truth", "mean", "bias", "± se", "sd", "± se", "sd theory"]
        lines.append(" " * lw + "".join(f"{c:>11}" for c in cols))
        for j, lbl in enumerate(self.labels):
            vals = [self.truth[j], self.mean[j], self.bias[j], self.bias_se[j], self.sd[j],
                    self.sd_se[j], self.sd_theory[j]]  # fmt: skip
            lines.append(f"{lbl:<{lw}}" + "".join(f"{v:>11.4g}" for v in vals))
        if self.cov_types:
            lines.append("")
            lines.append(
                " " * lw
                + "".join(f"{'se[' + ct + ']':>13}{'cover':>8}{'± se':>7}" for ct in self.cov_types)
            )
            for j, lbl in enumerate(self.labels):
                cells = "".join(
                    f"{self.stderr_mean[ct][j]:>13.4g}{self.coverage[ct][j]:>8.3f}"
                    f"{self.coverage_se[ct][j]:>7.3f}"
                    for ct in self.cov_types
                )
                lines.append(f"{lbl:<{lw}}" + cells)
            bad = {ct: f for ct, f in self.failed.items() if f}
            if bad:
                lines.append(f"covariance failed (excluded) in {bad} replicates")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"MonteCarloResult({self.model_name}, reps={self.reps}, k={len(self.labels)}, "
            f"cov_types={self.cov_types})"
        )
