"""Exceptions raised at jaxmle's public boundary."""

from __future__ import annotations


class InputError(ValueError):
    """Bad input to a public function: the message names the argument and the fix."""


class RankDeficientError(InputError):
    """A design matrix is (numerically) rank deficient, so its estimate is not unique."""


class FileFormatError(InputError):
    """A file is missing, truncated, damaged or not the kind of jaxmle file expected."""


class CheckpointMismatchError(InputError):
    """A checkpoint location holds the state of a different study than the one asked for."""


class PrecisionWarning(UserWarning):
    """A result computed in float32 (``jax_enable_x64`` off) where float64 accuracy is claimed."""
