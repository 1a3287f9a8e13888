"""Optimiser result vs closed form (or any reference): errors per leaf, pass/fail."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ._errors import InputError

__all__ = ["CheckResult", "check"]


class CheckResult(NamedTuple):
    """Per-leaf comparison of an estimate with a reference.

    Attributes:
        abs_err: per leaf, ``max |estimate − reference|`` (over the leaf's trailing axes; any
            leading batch axes, e.g. a sweep's grid, are kept).
        rel_err: per leaf, ``max |estimate − reference| / max(|reference|, tiny)``.
        passed: per leaf, ``abs_err <= atol + rtol · max|reference|`` (numpy.isclose's rule,
            taken over the whole leaf).
        ok: all leaves passed (per batch element when there are batch axes).
        rtol: the relative tolerance used.
        atol: the absolute tolerance used.
    """

    abs_err: Any
    rel_err: Any
    passed: Any
    ok: Any
    rtol: float
    atol: float

    def __str__(self) -> str:
        flat = jax.tree_util.tree_flatten_with_path(self.abs_err)[0]
        rel = jax.tree_util.tree_leaves(self.rel_err)
        ok = jax.tree_util.tree_leaves(self.passed)
        lines = [f"{'leaf':<16}{'abs err':>12}{'rel err':>12}  pass (rtol={self.rtol:g}, "
                 f"atol={self.atol:g})"]  # fmt: skip
        for (path, a), r, p in zip(flat, rel, ok, strict=True):
            name = jax.tree_util.keystr(path) or "value"
            lines.append(f"{name:<16}{np.max(a):>12.3e}{np.max(r):>12.3e}  {bool(np.all(p))}")
        return "\n".join(lines)


def check(
    estimate: Any, reference: Any, *, rtol: float = 1e-6, atol: float = 0.0, batch_dims: int = 0
) -> CheckResult:
    """Compares an estimate (e.g. ``fit(...).params``) with a reference (e.g. the closed form).

    Args:
        estimate: pytree of arrays.
        reference: pytree with the same structure; leaves broadcast against the estimate's
            (so a sweep's ``params``, with grid axes leading, checks against one reference).
        rtol: relative tolerance.
        atol: absolute tolerance.
        batch_dims: number of leading axes of ``estimate`` that index runs (a sweep's grid);
            errors are reduced over the remaining axes only.

    Returns:
        A :class:`CheckResult`; ``print`` it for a table.

    Example:
        >>> import jax.numpy as jnp, jaxmle
        >>> est, ref = {"mean": jnp.array([1.0, 2.0])}, {"mean": jnp.array([1.0, 2.0 + 1e-9])}
        >>> r = jaxmle.check(est, ref)
        >>> bool(r.ok)
        True
    """
    if jax.tree_util.tree_structure(estimate) != jax.tree_util.tree_structure(reference):
        raise InputError(
            "`estimate` and `reference` must have the same pytree structure; got "
            f"{jax.tree_util.tree_structure(estimate)} and "
            f"{jax.tree_util.tree_structure(reference)}."
        )
    if rtol < 0 or atol < 0:
        raise InputError("`rtol` and `atol` must be >= 0.")

    def reduce(x):
        x = jnp.asarray(x)
        axes = tuple(range(batch_dims, x.ndim))
        return jnp.max(x, axis=axes) if axes else x

    def leaf(e, r):
        e, r = jnp.asarray(e), jnp.asarray(r)
        diff = jnp.abs(e - r)
        scale = jnp.broadcast_to(jnp.abs(r), diff.shape)
        a = reduce(diff)
        s = reduce(scale)
        tiny = jnp.finfo(diff.dtype).tiny if jnp.issubdtype(diff.dtype, jnp.floating) else 1
        rel = a / jnp.maximum(s, tiny)
        passed = (a <= atol + rtol * s) & jnp.isfinite(a)
        return a, rel, passed

    triples = jax.tree_util.tree_map(leaf, estimate, reference)
    treedef = jax.tree_util.tree_structure(estimate)
    parts = treedef.flatten_up_to(triples)
    abs_err = treedef.unflatten([p[0] for p in parts])
    rel_err = treedef.unflatten([p[1] for p in parts])
    passed = treedef.unflatten([p[2] for p in parts])
    ok = jnp.all(jnp.stack([jnp.asarray(p[2]) for p in parts]), axis=0)
    return CheckResult(abs_err, rel_err, passed, ok, float(rtol), float(atol))
