"""Data input carried more exactly than float64.

Decimal data such as ``10000000.2`` have no exact binary representation: the nearest float64
is off by up to half an ulp, and on ill-conditioned data (many large values differing in the
last digits) that input error, not the estimator, limits the result. :func:`from_decimal`
reads the text exactly and returns a double-double pair ``(hi, lo)``; estimators that take an
``x_lo`` argument (e.g. :func:`jaxmle.closed_form.gaussian_mle`) then work on ``hi + lo``.
"""

from __future__ import annotations

import decimal
from collections.abc import Sequence

import numpy as np

from ._errors import InputError

__all__ = ["from_decimal"]

_MAX_EXP = 310  # |value| >= 10**310 overflows float64
_MIN_EXP = -400  # |value| < 10**-400 rounds to zero in both parts


def _parse(text: object, where: str) -> tuple[float, float]:
    if isinstance(text, bytes):
        text = text.decode("ascii", errors="replace")
    if not isinstance(text, str):
        raise InputError(
            f"`values`{where} is {text!r} ({type(text).__name__}); pass the decimal text "
            "(str), not a number that was already rounded to binary."
        )
    try:
        d = decimal.Decimal(text.strip())
    except decimal.InvalidOperation:
        d = None
    if d is None or not d.is_finite():
        raise InputError(f"`values`{where} is {text!r}, not a finite decimal number.")
    sign = -1.0 if d.is_signed() else 1.0
    if d.is_zero() or d.adjusted() < _MIN_EXP:
        return sign * 0.0, 0.0
    if d.adjusted() >= _MAX_EXP:
        raise InputError(f"`values`{where} is {text!r}, outside the float64 range.")
    num, den = d.as_integer_ratio()
    try:
        hi = num / den  # int / int is correctly rounded in Python
    except OverflowError:
        raise InputError(f"`values`{where} is {text!r}, outside the float64 range.") from None
    hn, hd = hi.as_integer_ratio()
    lo = (num * hd - hn * den) / (den * hd)  # the exact remainder, rounded once
    return hi, lo


def from_decimal(values: Sequence[str] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Parses decimal text exactly into a double-double pair of float64 arrays.

    ``hi`` is the float64 nearest to each decimal value and ``lo`` the float64 nearest to the
    exact remainder ``value - hi``, so ``hi + lo`` equals the decimal to about 1e-32 relative
    (values below ~1e-290 keep fewer digits in ``lo``, which is subnormal there).

    Args:
        values: decimal strings (``str`` or ASCII ``bytes``), any nesting or array shape,
            e.g. the lines of a data file or ``np.loadtxt(path, dtype=str)``. Surrounding
            whitespace is ignored; exponents (``"1e-3"``) are accepted.

    Returns:
        ``(hi, lo)``: two float64 arrays with the shape of ``values``.

    Raises:
        InputError: when an entry is not text, not a decimal number, infinite or NaN, or
            outside the float64 range; the message gives its index.

    Example:
        >>> from jaxmle.data import from_decimal
        >>> hi, lo = from_decimal(["0.1", "10000000.2"])
        >>> hi.tolist()
        [0.1, 10000000.2]
        >>> bool(lo[0] == -5.551115123125783e-18)  # 0.1 - float(0.1)
        True
    """
    try:
        arr = np.asarray(values, dtype=object)
    except ValueError as err:  # ragged nesting
        raise InputError(f"`values` could not be read as an array: {err}") from err
    hi = np.empty(arr.shape, dtype=np.float64)
    lo = np.empty(arr.shape, dtype=np.float64)
    for idx, text in np.ndenumerate(arr):
        where = f"[{', '.join(map(str, idx))}]" if idx else ""
        hi[idx], lo[idx] = _parse(text, where)
    return hi, lo
