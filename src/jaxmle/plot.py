"""Plots for studies: log-likelihood surfaces with optimiser paths, loss curves, sweep heat maps.

matplotlib is optional (``pip install 'jaxmle[plot]'``): it is imported lazily, inside the
functions, and a clear :class:`MissingMatplotlibError` error says how to install it. Figures are
``matplotlib.figure.Figure`` objects rendered by the Agg backend; pyplot (and its global
state) is never used, so plotting works headless and in threads. ``import jaxmle`` does not
import this module.

The values plotted are computed with JAX (a log-likelihood on a grid is one jitted ``vmap``);
only drawing needs matplotlib.
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "MissingMatplotlibError",
    "grid_values",
    "heatmap",
    "loglik_fn",
    "loss_curves",
    "panels",
    "sampling",
    "save",
    "surface",
    "sweep_heatmap",
    "trajectories",
]


class MissingMatplotlibError(ImportError):
    """matplotlib is not installed; ``pip install 'jaxmle[plot]'`` (or ``matplotlib``)."""


def _figure(figsize: tuple[float, float], ncols: int = 1, nrows: int = 1):
    try:
        from matplotlib.figure import Figure
    except ImportError as err:
        raise MissingMatplotlibError(
            "jaxmle.plot needs matplotlib: pip install 'jaxmle[plot]' (or pip install matplotlib)"
        ) from err
    fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def _one_axes(ax, figsize: tuple[float, float]):
    """``(figure, axes)``: the given axes and their figure, or a new single-axes figure."""
    if ax is not None:
        return ax.figure, ax
    fig, axes = _figure(figsize)
    return fig, axes[0, 0]


def panels(
    n: int, ncols: int | None = None, figsize: tuple[float, float] | None = None
) -> tuple[Any, list[Any]]:
    """A figure with ``n`` axes in a grid (for side-by-side surfaces or curves).

    Args:
        n: number of panels.
        ncols: panels per row (default: all in one row, at most 3).
        figsize: figure size in inches (default: 4.5 × 4 per panel).

    Returns:
        ``(figure, axes)`` with ``axes`` a flat list of ``n`` axes (spare ones hidden).
    """
    ncols = ncols or min(n, 3)
    nrows = -(-n // ncols)
    fig, axes = _figure(figsize or (4.5 * ncols, 4.0 * nrows), ncols=ncols, nrows=nrows)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def save(fig: Any, path: str | pathlib.Path, dpi: int = 100) -> pathlib.Path:
    """Writes a figure to a PNG (Agg backend), atomically, and returns the path.

    The image is rendered in memory and then written through :func:`jaxmle._io.atomic_open`,
    so a reader (or a killed run) never sees a half-written PNG.

    Args:
        fig: a matplotlib ``Figure`` (e.g. from :func:`surface`).
        path: file to write; parent folders are created.
        dpi: resolution.

    Returns:
        The path written.

    Example:
        >>> fig, axes = panels(1)  # doctest: +SKIP
        >>> save(fig, "out/plot.png")  # doctest: +SKIP
        PosixPath('out/plot.png')
    """
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from ._io import atomic_open

    path = pathlib.Path(path)
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, dpi=dpi, format="png")
    with atomic_open(path, "wb") as f:
        f.write(buf.getvalue())
    return path


# ------------------------------------------------------------------------------------------
# Values (JAX only)


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
    trace = t.trace if hasattr(getattr(t, "trace", None), "params") else t
    if hasattr(trace, "params"):
        leaves = jax.tree_util.tree_leaves(trace.params)
        arr = np.asarray(leaves[0]) if len(leaves) == 1 else np.stack(
            [np.asarray(x) for x in leaves[:2]], axis=-1)  # fmt: skip
    else:
        arr = np.asarray(t)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"a trajectory must be (T, 2) (or a FitResult of a 2-vector); got "
                         f"shape {arr.shape}.")  # fmt: skip
    return arr


# ------------------------------------------------------------------------------------------
# Figures


def surface(
    fn: Callable[[jax.Array], jax.Array] | None = None,
    *,
    xlim: tuple[float, float] = (-5.0, 5.0),
    ylim: tuple[float, float] = (-5.0, 5.0),
    resolution: int = 100,
    values: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    trajectories: Mapping[str, Any] | None = None,
    start: Sequence[float] | None = None,
    points: Mapping[str, Sequence[float]] | None = None,
    ax: Any = None,
    title: str | None = None,
    labels: tuple[str, str] = ("μ₁", "μ₂"),
    colorbar: bool = True,
    cmap: str = "viridis",
) -> Any:
    """Heat map of a log-likelihood over a 2-D box, with optimiser paths and marked points.

    Args:
        fn: scalar log-likelihood of a 2-vector (see :func:`loglik_fn`); or give ``values``.
        xlim: first-coordinate range.
        ylim: second-coordinate range.
        resolution: grid points per axis.
        values: precomputed ``(xs, ys, Z)`` from :func:`grid_values`.
        trajectories: ``label -> (T, 2)`` array or :class:`jaxmle.FitResult` (its trace).
        start: the common starting point, marked with a circle.
        points: ``label -> (2,)`` points to mark (e.g. the closed-form MLE).
        ax: draw into these axes (then the figure is ``ax.figure``).
        title: axes title.
        labels: axis labels.
        colorbar: add a colour bar.
        cmap: colour map.

    Returns:
        The matplotlib ``Figure``.
    """
    fig, ax = _one_axes(ax, (6.0, 5.0))
    if values is None:
        if fn is None:
            raise ValueError("surface needs `fn` (a log-likelihood of a 2-vector) or `values`.")
        values = grid_values(fn, xlim, ylim, resolution)
    xs, ys, z = (np.asarray(v) for v in values)
    # imshow (a uniform grid) renders several times faster than pcolormesh.
    mesh = ax.imshow(z, extent=(xs[0], xs[-1], ys[0], ys[-1]), origin="lower", aspect="auto",
                     cmap=cmap, interpolation="nearest")  # fmt: skip
    ax.contour(xs, ys, z, levels=10, colors="white", linewidths=0.4, alpha=0.6)
    if colorbar:
        fig.colorbar(mesh, ax=ax, label="log-likelihood")
    for i, (label, t) in enumerate((trajectories or {}).items()):
        p = _path(t)
        ax.plot(p[:, 0], p[:, 1], "-", marker=".", markersize=3, linewidth=1.2, label=label,
                color=_color(i))  # fmt: skip
    if start is not None:
        ax.plot([start[0]], [start[1]], "o", color="white", markeredgecolor="black",
                label="start")  # fmt: skip
    for j, (label, pt) in enumerate((points or {}).items()):
        ax.plot([pt[0]], [pt[1]], ["*", "X", "P", "D"][j % 4], markersize=12,
                color=["red", "white", "orange", "cyan"][j % 4], markeredgecolor="black",
                label=label)  # fmt: skip
    ax.set_xlim(xs[0], xs[-1])
    ax.set_ylim(ys[0], ys[-1])
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    if title:
        ax.set_title(title, fontsize=10)
    if trajectories or points or start is not None:
        ax.legend(fontsize=7, loc="lower left", framealpha=0.8)
    return fig


def trajectories(
    model: Any, data: Any, runs: Mapping[str, Any], *, names: Sequence[str] | str = (), **kwargs
) -> Any:
    """Optimiser paths over the model's log-likelihood surface (two parameter coordinates).

    Args:
        model: a :class:`jaxmle.models.Model` with a 2-vector parameter (or two scalars).
        data: the data.
        runs: ``label -> FitResult`` (or ``(T, 2)`` array).
        names: which parameters span the plane (see :func:`loglik_fn`).
        **kwargs: passed to :func:`surface` (``xlim``, ``ylim``, ``points``, ``title``...).

    Returns:
        The matplotlib ``Figure``.
    """
    return surface(loglik_fn(model, data, names=names), trajectories=runs, **kwargs)


def _color(i: int) -> str:
    # Visible on viridis (no yellow or green): red, orange, white, pink, black, brown, ...
    palette = ["#e41a1c", "#ff7f00", "#ffffff", "#f781bf", "#000000", "#a65628", "#984ea3",
               "#00bfff", "#999999", "#377eb8"]  # fmt: skip
    return palette[i % len(palette)]


def loss_curves(
    curves: Mapping[str, Any],
    *,
    logy: bool = True,
    logx: bool = False,
    xlabel: str = "step",
    ylabel: str = "loss",
    title: str | None = None,
    ax: Any = None,
    hlines: Mapping[str, float] | None = None,
) -> Any:
    """Curves of a per-step quantity: ``label -> (x, y)``, a ``y`` array, or a FitResult.

    A FitResult contributes its trace's loss against its step. Non-finite values end a curve
    (a diverged run's curve stops where it diverged, marked with a cross).

    Args:
        curves: the curves.
        logy: logarithmic y axis (absolute values are plotted).
        logx: logarithmic x axis.
        xlabel: x-axis label.
        ylabel: y-axis label.
        title: axes title.
        ax: draw into these axes.
        hlines: ``label -> y`` reference lines (e.g. a tolerance).

    Returns:
        The matplotlib ``Figure``.
    """
    fig, ax = _one_axes(ax, (7.0, 4.2))
    for i, (label, c) in enumerate(curves.items()):
        if hasattr(getattr(c, "trace", None), "step"):  # a FitResult (arrays have .trace())
            x, y = np.asarray(c.trace.step), np.asarray(c.trace.loss)
        elif isinstance(c, tuple) and len(c) == 2:
            x, y = np.asarray(c[0]), np.asarray(c[1])
        else:
            y = np.asarray(c)
            x = np.arange(1, y.shape[0] + 1)
        y = np.abs(y) if logy else y
        ok = np.isfinite(y) & (np.abs(y) < 1e100)  # beyond: off the chart (diverged)
        color = f"C{i % 10}"
        ax.plot(x[ok], y[ok], label=label, color=color, linewidth=1.2)
        if not ok.all() and ok.any():
            last = np.flatnonzero(ok)[-1]
            ax.plot([x[last]], [y[last]], "x", color=color, markersize=8)
    for label, yv in (hlines or {}).items():
        ax.axhline(yv, color="black", linestyle="--", linewidth=0.8, label=label)
    if logy:
        ax.set_yscale("log")
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    if curves:
        ax.legend(fontsize=7, ncol=2 if len(curves) > 6 else 1)
    ax.grid(True, alpha=0.3)
    return fig


def sampling(
    estimates: Any,
    *,
    truth: Sequence[float] | None = None,
    ellipses: Mapping[str, Any] | None = None,
    labels: tuple[str, str] = ("θ₁", "θ₂"),
    title: str | None = None,
    ax: Any = None,
    max_points: int = 4000,
) -> Any:
    """Scatter of an estimator's sampling distribution (two coordinates) with covariance ellipses.

    Each ellipse is the 95% region ``(θ − c)ᵀ C⁻¹ (θ − c) = χ²₂(0.95)`` of a 2 × 2 covariance
    ``C`` (e.g. the theoretical σ²(XᵀX)⁻¹ and the empirical covariance of the estimates),
    centred at ``truth`` (or the estimates' mean).

    Args:
        estimates: ``(R, 2)`` estimates, one row per simulated data set.
        truth: the true parameter, marked with a star.
        ellipses: ``label -> (2, 2)`` covariance matrices.
        labels: axis labels.
        title: axes title.
        ax: draw into these axes.
        max_points: plot at most this many points (the first ones).

    Returns:
        The matplotlib ``Figure``.
    """
    fig, ax = _one_axes(ax, (5.5, 5.0))
    est = np.asarray(estimates, dtype=float)
    if est.ndim != 2 or est.shape[1] != 2:
        raise ValueError(f"`estimates` must be (R, 2); got shape {est.shape}.")
    centre = np.asarray(truth if truth is not None else est.mean(0), dtype=float)
    ax.plot(est[:max_points, 0], est[:max_points, 1], ".", markersize=2, alpha=0.35,
            color="C0", label=f"estimates (R = {est.shape[0]})")  # fmt: skip
    t = np.linspace(0, 2 * np.pi, 200)
    circle = np.stack([np.cos(t), np.sin(t)])
    r = np.sqrt(5.991464547107979)  # χ²₂ 95% quantile
    for i, (label, c) in enumerate((ellipses or {}).items()):
        c = np.asarray(c, dtype=float)
        w, v = np.linalg.eigh((c + c.T) / 2)
        pts = centre[:, None] + r * (v * np.sqrt(np.clip(w, 0, None))) @ circle
        ax.plot(pts[0], pts[1], ["-", "--", "-.", ":"][i % 4], color=f"C{i + 1}", lw=1.6,
                label=f"95%: {label}")  # fmt: skip
    if truth is not None:
        ax.plot([centre[0]], [centre[1]], "*", color="red", markersize=12,
                markeredgecolor="black", label="truth")  # fmt: skip
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    if title:
        ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(True, alpha=0.3)
    return fig


def heatmap(
    values: Any,
    xticks: Sequence[Any],
    yticks: Sequence[Any],
    *,
    xlabel: str = "",
    ylabel: str = "",
    title: str | None = None,
    log: bool = True,
    annotate: bool = True,
    cbar_label: str = "",
    ax: Any = None,
    fmt: str = "{:.2g}",
) -> Any:
    """A labelled heat map of a 2-D table (rows: ``yticks``, columns: ``xticks``).

    NaN cells (e.g. "never reached the tolerance") are drawn grey and annotated "—".

    Args:
        values: ``(len(yticks), len(xticks))`` numbers.
        xticks: column labels.
        yticks: row labels.
        xlabel: x-axis label.
        ylabel: y-axis label.
        title: axes title.
        log: logarithmic colour scale (positive values).
        annotate: write each cell's value.
        cbar_label: colour-bar label.
        ax: draw into these axes.
        fmt: format of the annotations.

    Returns:
        The matplotlib ``Figure``.
    """
    from matplotlib.colors import LogNorm, Normalize

    fig, ax = _one_axes(ax, (1.2 + 0.9 * len(xticks), 1.2 + 0.5 * len(yticks) + 0.6))
    z = np.asarray(values, dtype=float)
    finite = z[np.isfinite(z)]
    pos = finite[finite > 0]
    if log and pos.size:
        norm = LogNorm(vmin=pos.min(), vmax=max(pos.max(), pos.min() * 1.0001))
        z_plot = np.where(z > 0, z, np.nan)
    else:
        lo, hi = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
        norm = Normalize(vmin=lo, vmax=hi if hi > lo else lo + 1)
        z_plot = z
    masked = np.ma.masked_invalid(z_plot)
    cmap = _cmap("viridis").with_extremes(bad="#d0d0d0")
    im = ax.imshow(masked, cmap=cmap, norm=norm, aspect="auto", origin="lower")
    ax.set_xticks(range(len(xticks)), [str(t) for t in xticks], fontsize=8)
    ax.set_yticks(range(len(yticks)), [_tick(t) for t in yticks], fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax, label=cbar_label)
    if annotate:
        for i in range(z.shape[0]):
            for j in range(z.shape[1]):
                v = z[i, j]
                txt = "—" if not np.isfinite(v) else fmt.format(v)
                ax.text(j, i, txt, ha="center", va="center", fontsize=7, color="black",
                        bbox={"boxstyle": "round,pad=0.1", "fc": "white", "alpha": 0.5,
                              "lw": 0})  # fmt: skip
    return fig


def _cmap(name: str):
    import matplotlib

    return matplotlib.colormaps[name].copy()


def _tick(t: Any) -> str:
    if isinstance(t, float):
        return f"{t:.3g}"
    return str(t)


def sweep_heatmap(
    result: Any,
    *,
    x: str = "batch_size",
    y: str = "learning_rate",
    metric: str = "distance",
    reduce: str = "median",
    where: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> Any:
    """Heat map of a :class:`jaxmle.SweepResult` metric over two of its axes.

    Other axes are fixed by ``where`` (e.g. ``{"optimizer": "sgd"}``) or reduced over
    (``"median"``, ``"mean"``, ``"min"``, ``"max"``; NaN-aware). Steps/samples to tolerance
    of lanes that never reached it (-1) count as NaN.

    Args:
        result: the sweep result.
        x: axis along the columns.
        y: axis along the rows.
        metric: a result field (``"distance"``, ``"steps_to_tol"``, ``"samples_to_tol"``,
            ``"loss"``...).
        reduce: how to combine the remaining axes.
        where: coordinates fixing other axes.
        **kwargs: passed to :func:`heatmap` (``title``, ``log``, ``annotate``...).

    Returns:
        The matplotlib ``Figure``.
    """
    names = list(result.axes)
    for a in (x, y, *(where or {})):
        if a not in names:
            raise ValueError(f"{a!r} is not an axis of this sweep; axes are {names}.")
    z = np.asarray(getattr(result, metric), dtype=float)
    if metric in ("steps_to_tol", "samples_to_tol"):
        z = np.where(z < 0, np.nan, z)
    z = np.where(np.asarray(result.diverged), np.nan, z) if metric == "distance" else z
    idx: list[Any] = []
    for a in names:
        if where and a in where:
            idx.append(result.axes[a].index(where[a]))
        else:
            idx.append(slice(None))
    z = z[tuple(idx)]
    kept = [a for a in names if not (where and a in where)]
    z = np.moveaxis(z, [kept.index(y), kept.index(x)], [0, 1])
    if z.ndim > 2:
        f = {"median": np.nanmedian, "mean": np.nanmean, "min": np.nanmin,
             "max": np.nanmax}[reduce]  # fmt: skip
        with np.errstate(all="ignore"):
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                z = f(z.reshape(z.shape[0], z.shape[1], -1), axis=2)
    kwargs.setdefault("xlabel", x)
    kwargs.setdefault("ylabel", y)
    kwargs.setdefault("cbar_label", f"{metric} ({reduce})" if z.ndim == 2 else metric)
    return heatmap(z, result.axes[x], result.axes[y], **kwargs)

