"""A program's host-bound outputs as one vector: one device-to-host copy instead of one per leaf.

Fetching a result's arrays one by one costs ~20 µs each on CPU (measured: 17 of them were
~0.35 ms of a warm 1.2 ms 500 × 10 Poisson fit, 19 were 0.23 ms of a 0.73 ms longley OLS); one
vector costs a few microseconds. The layout (tree structure, shapes, dtypes) depends on the
input shapes only; :func:`flatten` records it under a caller-chosen key while the program is
traced, and :func:`unflatten` reads it back on the host.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["flatten", "unflatten"]

_LAYOUT: dict[Any, tuple] = {}


def flatten(tree: Any, key: Any, dtype: Any) -> jax.Array:
    """Inside a traced program: every leaf of ``tree`` raveled into one ``dtype`` vector.

    Integer and boolean leaves must be exact in ``dtype`` (small counts and flags are).
    """
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    specs, at = [], 0
    for x in leaves:  # (start, stop, shape, dtype or None where no cast is needed)
        size = math.prod(x.shape)
        specs.append((at, at + size, x.shape, None if x.dtype == dtype else np.dtype(x.dtype)))
        at += size
    _LAYOUT[key] = (treedef, specs)
    return jnp.concatenate([jnp.ravel(x).astype(dtype) for x in leaves])


def unflatten(flat: Any, key: Any) -> Any:
    """On the host: the tree :func:`flatten` packed under ``key``, as NumPy arrays."""
    treedef, specs = _LAYOUT[key]
    v = np.asarray(flat)
    out = [v[a:b].reshape(shape) if dt is None else v[a:b].reshape(shape).astype(dt)
           for a, b, shape, dt in specs]  # fmt: skip
    return treedef.unflatten(out)
