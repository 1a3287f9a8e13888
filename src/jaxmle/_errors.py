"""Exceptions raised at jaxmle's public boundary."""

from __future__ import annotations


class InputError(ValueError):
    """Bad input to a public function: the message names the argument and the fix."""


class RankDeficientError(InputError):
    """A design matrix is (numerically) rank deficient, so its estimate is not unique."""
