"""Readers for the NIST StRD linear-regression and univariate files.

The data and the certified values are parsed from the files themselves (never copied by
hand). The files are not in the repository: the tests read ``DIR/linear/<name>.dat`` (the 11
files of :data:`LINEAR`) and ``DIR/univariate/<name>.dat`` (the 9 of :data:`UNIVARIATE`),
where DIR is ``$JAXMLE_NIST_DIR``, by default ``../shared/data/nist-strd`` beside the
repository (where this workplace keeps them). Elsewhere, download the ``.dat`` files from
NIST's StRD pages (:data:`STRD_URL`, sections "Linear Regression" and "Univariate Summary
Statistics"), unedited, into those two folders. Without them the NIST tests skip, and the
reason (:func:`skip_reason`) says all this.
"""

from __future__ import annotations

import math
import os
import pathlib
import re
from typing import NamedTuple

import numpy as np

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
ENV = "JAXMLE_NIST_DIR"
DEFAULT_DIR = REPO_ROOT.parent / "shared" / "data" / "nist-strd"
NIST_DIR = pathlib.Path(os.environ.get(ENV) or DEFAULT_DIR)
STRD_URL = "https://www.itl.nist.gov/div898/strd/"
LINEAR = [
    "Norris", "Pontius", "NoInt1", "NoInt2", "Filip", "Longley",
    "Wampler1", "Wampler2", "Wampler3", "Wampler4", "Wampler5",
]  # fmt: skip
UNIVARIATE = [
    "PiDigits", "Lottery", "Lew", "Mavro", "Michelso", "NumAcc1", "NumAcc2", "NumAcc3", "NumAcc4",
]  # fmt: skip


def _lines(path: pathlib.Path) -> list[str]:
    # Line-ending agnostic: the univariate files are CRLF, the linear ones LF.
    return path.read_text().splitlines()


def _block(header: str, name: str) -> tuple[int, int]:
    m = re.search(rf"{name}\s*\(?lines\s+(\d+)\s+to\s+(\d+)\)?", header)
    if m is None:
        m = re.search(rf"{name}\s*:\s*lines\s+(\d+)\s+to\s+(\d+)", header)
    if m is None:
        raise ValueError(f"no '{name}' line range in header")
    return int(m.group(1)), int(m.group(2))


class LinearProblem(NamedTuple):
    name: str
    X: np.ndarray  # predictors, without the intercept column
    y: np.ndarray
    intercept: bool
    coef: np.ndarray  # certified estimates, intercept first when present
    se: np.ndarray  # certified standard deviations of the estimates
    resid_sd: float
    r2: float


class UnivariateProblem(NamedTuple):
    name: str
    y: np.ndarray
    mean: float
    sd: float


def load_linear(name: str) -> LinearProblem:
    """Reads ``linear/<name>.dat``: data, design (polynomial terms expanded), certified values."""
    lines = _lines(NIST_DIR / "linear" / f"{name}.dat")
    header = "\n".join(lines[:30])
    c0, c1 = _block(header, "Certified Values")
    d0, d1 = _block(header, "Data")
    names, coef, se = [], [], []
    resid_sd = r2 = math.nan
    for line in lines[c0 - 1 : c1]:
        toks = line.split()
        if toks and re.fullmatch(r"B\d+", toks[0]):
            names.append(toks[0])
            coef.append(float(toks[1]))
            se.append(float(toks[2]))
        elif line.strip().startswith("Standard Deviation") and len(toks) >= 3:
            resid_sd = float(toks[-1])
        elif line.strip().startswith("R-Squared"):
            r2 = float(toks[-1])
    data = np.array([[float(t) for t in line.split()] for line in lines[d0 - 1 : d1]])
    y, x = data[:, 0], data[:, 1:]
    intercept = names[0] == "B0"
    n_slopes = len(names) - int(intercept)
    if x.shape[1] == n_slopes:
        X = x
    elif x.shape[1] == 1:  # polynomial model in one predictor: x, x**2, ...
        X = x[:, 0:1] ** np.arange(1, n_slopes + 1)
    else:
        raise ValueError(f"{name}: cannot map {x.shape[1]} predictors onto {names}")
    return LinearProblem(name, X, y, intercept, np.array(coef), np.array(se), resid_sd, r2)


def load_univariate(name: str) -> UnivariateProblem:
    """Reads ``univariate/<name>.dat``: the data and the certified mean and sd (n-1)."""
    lines = _lines(NIST_DIR / "univariate" / f"{name}.dat")
    header = "\n".join(lines[:40])
    c0, _ = _block(header, "Certified Values")
    d0, d1 = _block(header, "Data")

    def value(line: str) -> float:
        return float(line.split(":")[-1].split()[0])

    mean, sd = value(lines[c0 - 1]), value(lines[c0])
    y = np.array([float(line) for line in lines[d0 - 1 : d1]])
    return UnivariateProblem(name, y, mean, sd)


def lre(computed, certified) -> np.ndarray:
    """Log relative error in digits, NIST's convention: absolute error where certified is 0,
    capped at 15 (the certified values carry about 15 digits)."""
    computed = np.asarray(computed, dtype=np.float64)
    certified = np.asarray(certified, dtype=np.float64)
    err = np.abs(computed - certified)
    rel = np.where(certified == 0, err, err / np.where(certified == 0, 1.0, np.abs(certified)))
    with np.errstate(divide="ignore"):
        out = -np.log10(rel)
    return np.minimum(np.nan_to_num(out, nan=0.0, posinf=15.0), 15.0)


FILES = {"linear": LINEAR, "univariate": UNIVARIATE}
_SECTIONS = {"linear": "Linear Regression", "univariate": "Univariate Summary Statistics"}


def missing(kind: str = "linear") -> list[str]:
    """The files of ``kind`` (``"linear"`` or ``"univariate"``) that are not under NIST_DIR."""
    return [f"{n}.dat" for n in FILES[kind] if not (NIST_DIR / kind / f"{n}.dat").is_file()]


def available(kind: str = "linear") -> bool:
    """Whether every file of ``kind`` is there."""
    return not missing(kind)


def skip_reason(kind: str = "linear") -> str:
    """Why the NIST tests of ``kind`` skip: which files are missing, where they are looked
    for, and how to get them."""
    gone = missing(kind)
    where = NIST_DIR / kind
    source = (f"${ENV}={os.environ[ENV]}" if os.environ.get(ENV) else
              f"the default; set ${ENV}=DIR to read DIR/{kind}/ instead")  # fmt: skip
    return (f"NIST StRD {kind} data not found: {len(gone)} of {len(FILES[kind])} files missing "
            f"(e.g. {gone[0] if gone else '-'}) in {where} ({source}). This workplace keeps "
            f"them in ../shared/data/nist-strd/{kind}/ beside the repository; elsewhere download "
            f"the {kind} .dat files ({', '.join(FILES[kind])}) unedited from NIST StRD, "
            f"{STRD_URL} ('{_SECTIONS[kind]}'), into that folder.")
