"""The values :mod:`jaxmle.plot` draws, computed with JAX and NumPy (no matplotlib).

A log-likelihood as a function of a 2-vector (:func:`loglik_fn`) and its values on a grid
(:func:`grid_values`, one jitted, batched map); an optimiser's path as a ``(T, 2)`` array
with the step count of each vertex (:func:`_path_steps`); and the clipping of paths and
curves to the plotted view (:func:`_until_exit`, :func:`_clip_band`). :mod:`jaxmle.plot`
re-exports the public ones.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def loglik_fn(
    model: Any, data: Any, params: Mapping[str, Any] | None = None, names: Sequence[str] | str = ()
) -> Callable[[jax.Array], jax.Array]:
    """The summed log-likelihood as a function of a 2-vector, for :func:`surface`.

    Args:
        model: a :class:`jaxmle.models.Model` (or a plain ``log_prob(params, data)``).
        data: the data.
        params: values of the other parameters (default: ``model.init(data)``).
        names: which parameters the 2-vector sets: one name of a ``(2,)`` leaf (default: the
            model's first parameter) or two names of scalar leaves.

    Returns:
        ``f(v) -> Σ_i log p(x_i | θ(v))``, a scalar.

    Example:
        >>> import jax.numpy as jnp
        >>> from jaxmle.models import MultivariateGaussian
        >>> f = loglik_fn(MultivariateGaussian(cov=jnp.eye(2)), jnp.zeros((3, 2)))
        >>> round(float(f(jnp.zeros(2))), 4)  # 3 × log N(0 | 0, I) = -3 log(2π)
        -5.5136
    """
    log_prob = model.log_prob if hasattr(model, "log_prob") else model
    base = dict(params if params is not None else model.init(data))
    names = [names] if isinstance(names, str) else list(names)
    if not names:
        names = [next(iter(base))]

    def f(v):
        p = dict(base)
        if len(names) == 1:
            p[names[0]] = v.astype(jnp.result_type(float))
        else:
            p[names[0]], p[names[1]] = v[0], v[1]
        return jnp.sum(log_prob(p, data))

    return f


def grid_values(
    fn: Callable[[jax.Array], jax.Array],
    xlim: tuple[float, float] = (-5.0, 5.0),
    ylim: tuple[float, float] = (-5.0, 5.0),
    resolution: int = 100,
    batch: int = 128,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Evaluates ``fn`` on a ``resolution × resolution`` grid (one jitted, batched map).

    Grid points are evaluated ``batch`` at a time (a ``vmap`` inside ``lax.map``), so memory
    stays bounded when ``fn`` sums over a large data set.

    Args:
        fn: scalar function of a 2-vector.
        xlim: range of the first coordinate.
        ylim: range of the second coordinate.
        resolution: points per axis.
        batch: grid points per vectorised batch.

    Returns:
        ``(xs, ys, Z)`` with ``Z[i, j] = fn([xs[j], ys[i]])``.
    """
    xs = np.linspace(*xlim, resolution)
    ys = np.linspace(*ylim, resolution)
    gx, gy = np.meshgrid(xs, ys)
    pts = jnp.stack([jnp.asarray(gx.ravel()), jnp.asarray(gy.ravel())], axis=1)
    z = jax.jit(lambda p: jax.lax.map(fn, p, batch_size=batch))(pts)
    return xs, ys, np.asarray(z).reshape(gx.shape)


def _path(t: Any) -> np.ndarray:
    """A trajectory as an ``(T, 2)`` array from an array or a FitResult/Trace."""
    return _path_steps(t)[0]


def _path_steps(t: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(path, steps)``: a ``(T, 2)`` trajectory and the step count of each vertex.

    A FitResult's (or Trace's) vertices are after ``trace.step`` steps; an array's vertex
    ``i`` is taken to be after ``i`` steps (vertex 0 is the start when it includes it).
    """
    trace = t.trace if hasattr(getattr(t, "trace", None), "params") else t
    if hasattr(trace, "params"):
        leaves = jax.tree_util.tree_leaves(trace.params)
        arr = np.asarray(leaves[0]) if len(leaves) == 1 else np.stack(
            [np.asarray(x) for x in leaves[:2]], axis=-1)  # fmt: skip
        steps = np.asarray(trace.step) if hasattr(trace, "step") else np.arange(arr.shape[0])
    else:
        arr = np.asarray(t)
        steps = np.arange(arr.shape[0]) if arr.ndim else np.zeros(0)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"a trajectory must be (T, 2) (or a FitResult of a 2-vector); got "
                         f"shape {arr.shape}.")  # fmt: skip
    return np.asarray(arr, np.float64), np.asarray(steps).reshape(-1)[: arr.shape[0]]


def _until_exit(p: np.ndarray, box: tuple[float, float, float, float]) -> tuple[np.ndarray, int]:
    """The part of a path inside ``box = (x0, x1, y0, y1)`` up to where it first leaves it.

    Returns ``(kept, k)``: ``kept`` is the vertices before the first one outside the box (or
    non-finite), plus the point where the segment to that vertex crosses the box's edge;
    ``k`` is the index of that first outside vertex (-1 when the whole path is inside).
    Cutting at the first exit keeps a diverging path (coordinates up to 1e29, which renderers
    draw as stray lines across the view) from covering the others.
    """
    x0, x1, y0, y1 = box
    with np.errstate(invalid="ignore"):
        inside = (np.isfinite(p).all(axis=1) & (p[:, 0] >= x0) & (p[:, 0] <= x1)
                  & (p[:, 1] >= y0) & (p[:, 1] <= y1))  # fmt: skip
    out = np.flatnonzero(~inside)
    if out.size == 0:
        return p, -1
    k = int(out[0])
    kept = p[:k]
    if k > 0 and np.isfinite(p[k]).all():
        a, d = p[k - 1], p[k] - p[k - 1]
        # Largest s in (0, 1] with a + s·d inside the box (Liang–Barsky on the exit side).
        s = 1.0
        for lo, hi, ai, di in ((x0, x1, a[0], d[0]), (y0, y1, a[1], d[1])):
            if di > 0:
                s = min(s, (hi - ai) / di)
            elif di < 0:
                s = min(s, (lo - ai) / di)
        kept = np.vstack([kept, a + max(s, 0.0) * d])
    return kept, k


def _clip_band(x: np.ndarray, y: np.ndarray, lo: float, hi: float) -> tuple[np.ndarray, ...]:
    """A curve clipped to ``lo <= y <= hi``, cut exactly where it crosses a bound.

    Points outside become gaps (NaN); a segment that crosses a bound ends (or starts) on it.
    ``x`` and ``y`` are in the axes' drawing coordinates (log10 for a log axis), NaN for
    points not drawn. Segments are cut in those coordinates, so a cut segment is the
    straight piece matplotlib would have drawn; nothing is drawn outside the view (a line
    through coordinates near 1e100 renders as artefacts).
    """
    with np.errstate(invalid="ignore"):
        inside = (y >= lo) & (y <= hi)
    pos = [np.arange(y.size, dtype=float)]
    xs, ys = [x], [np.where(inside, y, np.nan)]
    a, b = y[:-1], y[1:]
    ok = np.isfinite(a) & np.isfinite(b) & np.isfinite(x[:-1]) & np.isfinite(x[1:])
    for bound in (lo, hi):
        with np.errstate(invalid="ignore", divide="ignore"):
            s = (bound - a) / (b - a)
            cross = ok & (b != a) & (s > 0) & (s < 1)
        i = np.flatnonzero(cross)
        pos.append(i + s[i])
        xs.append(x[i] + s[i] * (x[i + 1] - x[i]))
        ys.append(np.full(i.size, bound))
    order = np.argsort(np.concatenate(pos), kind="stable")
    return np.concatenate(xs)[order], np.concatenate(ys)[order]
