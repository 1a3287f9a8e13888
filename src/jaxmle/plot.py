"""Plots for studies: log-likelihood surfaces with optimiser paths, loss curves, sweep heat maps.

matplotlib is optional (``pip install 'jaxmle[plot]'``): it is imported lazily, inside the
functions, and a clear :class:`MissingMatplotlibError` error says how to install it. Figures are
``matplotlib.figure.Figure`` objects rendered by the Agg backend; pyplot (and its global
state) is never used, so plotting works headless and in threads. ``import jaxmle`` does not
import this module.

The values plotted are computed with JAX (a log-likelihood on a grid is one jitted ``vmap``);
only drawing needs matplotlib (the values: :mod:`jaxmle._plot_values`).
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import numpy as np

from ._plot_values import _clip_band, _path_steps, _until_exit, grid_values, loglik_fn

__all__ = [
    "MissingMatplotlibError",
    "grid_values",
    "heatmap",
    "loglik_fn",
    "loss_curves",
    "panels",
    "sampling",
    "save",
    "shared_colorbar",
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
    canvas = FigureCanvasAgg(fig)
    fig.set_dpi(dpi)
    buf = io.BytesIO()
    # print_png lays the figure out and draws it once; savefig would first draw it a second
    # time, rendering nothing, only to run the layout (~20% of the time, same pixels).
    canvas.print_png(buf)
    with atomic_open(path, "wb") as f:
        f.write(buf.getvalue())
    return path


def _legend(ax: Any, where: str | None, **kwargs: Any) -> Any:
    """A legend outside the data: right of the axes, or below the x-axis label.

    ``where`` is ``"right"``, ``"below"`` or None (no legend). Constrained layout makes room
    for it, so it never covers data and is never cut off.
    """
    if where is None:
        return None
    kwargs.setdefault("fontsize", 7)
    kwargs.setdefault("framealpha", 0.9)
    if where == "right":
        return ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0,
                         **kwargs)  # fmt: skip
    if where == "below":
        from matplotlib.transforms import ScaledTranslation

        # Anchored a fixed distance below the axes (in points, not axes fractions), so it
        # clears the tick labels and the x-axis label whatever the panel's size.
        shift = ScaledTranslation(0.0, -40 / 72, ax.figure.dpi_scale_trans)
        return ax.legend(loc="upper center", bbox_to_anchor=(0.5, 0.0),
                         bbox_transform=ax.transAxes + shift, borderaxespad=0.0,
                         **kwargs)  # fmt: skip
    raise ValueError(f"`legend` must be 'right', 'below' or None; got {where!r}.")


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
    norm: Any = None,
    cbar_label: str = "log-likelihood",
    legend: str | None = "below",
) -> Any:
    """Heat map of a log-likelihood over a 2-D box, with optimiser paths and marked points.

    The view is the box of the surface (``xlim × ylim``, or the extent of ``values``), never
    the paths' range. Each path begins at ``start`` (prepended as its first vertex unless it
    already begins there) and is drawn until it first leaves the view: the segment that
    leaves is cut at the edge and the rest is not drawn, so a diverging path cannot cover
    the others; its legend entry then says "(leaves the view at step k)". A path that
    leaves and comes back is cut too: widen the box to follow it. Overlapping paths stay
    visible: each later path is drawn thinner, on top of the earlier ones.

    Args:
        fn: scalar log-likelihood of a 2-vector (see :func:`loglik_fn`); or give ``values``.
        xlim: first-coordinate range.
        ylim: second-coordinate range.
        resolution: grid points per axis.
        values: precomputed ``(xs, ys, Z)`` from :func:`grid_values`.
        trajectories: ``label -> (T, 2)`` array or :class:`jaxmle.FitResult` (its trace). An
            array's vertex ``i`` is taken as the iterate after ``i`` steps.
        start: the common starting point, marked with a circle.
        points: ``label -> (2,)`` points to mark (e.g. the closed-form MLE).
        ax: draw into these axes (then the figure is ``ax.figure``).
        title: axes title.
        labels: axis labels.
        colorbar: add a colour bar. Pass False only for panels that share one colour scale
            (the same ``norm``) and get one bar from :func:`shared_colorbar`.
        cmap: colour map.
        norm: a ``matplotlib.colors.Normalize`` for the colours (default: the range of
            ``Z``); give several panels the same one to compare them on one colour bar.
        cbar_label: colour-bar label.
        legend: ``"below"`` (under the x-axis label), ``"right"`` or None; it is always
            outside the axes, so it never covers the surface.

    Returns:
        The matplotlib ``Figure``.

    Example:
        >>> import numpy as np
        >>> xs = ys = np.linspace(-1.0, 1.0, 5)
        >>> z = -np.add.outer(ys**2, xs**2)
        >>> fig = surface(values=(xs, ys, z), trajectories={"a": np.array([[1.0, 1.0],
        ...     [9.0, 9.0]])}, start=(0.0, 0.0))  # doctest: +SKIP
        >>> fig.axes[0].get_legend().get_texts()[0].get_text()  # doctest: +SKIP
        'a (leaves the view at step 2)'
    """
    fig, ax = _one_axes(ax, (6.0, 5.0))
    if values is None:
        if fn is None:
            raise ValueError("surface needs `fn` (a log-likelihood of a 2-vector) or `values`.")
        values = grid_values(fn, xlim, ylim, resolution)
    xs, ys, z = (np.asarray(v) for v in values)
    box = (float(xs[0]), float(xs[-1]), float(ys[0]), float(ys[-1]))
    # imshow (a uniform grid) renders several times faster than pcolormesh.
    mesh = ax.imshow(z, extent=box, origin="lower", aspect="auto", cmap=cmap, norm=norm,
                     interpolation="nearest")  # fmt: skip
    ax.contour(xs, ys, z, levels=10, colors="white", linewidths=0.4, alpha=0.6)
    if colorbar:
        fig.colorbar(mesh, ax=ax, label=cbar_label)
    runs = list((trajectories or {}).items())
    for i, (label, t) in enumerate(runs):
        p, steps = _path_steps(t)
        if start is not None and not (p.shape[0] and np.allclose(p[0], start)):
            p = np.vstack([np.asarray(start, np.float64)[None], p])
            steps = np.concatenate([[0], steps])
        kept, k = _until_exit(p, box)
        if k >= 0:
            what = "is not finite" if not np.isfinite(p[k]).all() else "leaves the view"
            label = f"{label} ({what} at step {int(steps[k])})"
        # Later paths thinner and on top: where paths overlap each one shows as a border.
        wide = (len(runs) - 1 - i) / max(len(runs) - 1, 1)  # 1 for the first path, 0 the last
        ax.plot(kept[:, 0], kept[:, 1], "-", marker=_MARKERS[i % len(_MARKERS)],
                markersize=2.0 + 3.0 * wide, linewidth=1.0 + 3.5 * wide, label=label,
                color=_color(i), markeredgewidth=0, zorder=2 + 0.01 * i)  # fmt: skip
    if start is not None:
        ax.plot([start[0]], [start[1]], "o", color="white", markeredgecolor="black",
                label="start", zorder=3)  # fmt: skip
    for j, (label, pt) in enumerate((points or {}).items()):
        ax.plot([pt[0]], [pt[1]], ["*", "X", "P", "D"][j % 4], markersize=12,
                color=["red", "white", "orange", "cyan"][j % 4], markeredgecolor="black",
                label=label, zorder=3)  # fmt: skip
    ax.set_xlim(box[0], box[1])
    ax.set_ylim(box[2], box[3])
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    if title:
        ax.set_title(title, fontsize=10)
    if runs or points or start is not None:
        n_items = len(runs) + len(points or {}) + (start is not None)
        # A grey legend: the white and yellow paths' entries stay visible.
        _legend(ax, legend, ncol=min(3, n_items) if legend == "below" else 1, facecolor="0.82")
    return fig


_MARKERS = ["o", "s", "^", "D", "v", "P", "X", "<", ">", "h"]


def shared_colorbar(fig: Any, axes: Sequence[Any], label: str = "log-likelihood") -> Any:
    """One colour bar for a group of panels that share one colour scale.

    Use it with :func:`surface` (``colorbar=False`` and the same ``norm`` on each panel): the
    bar is only true if every panel maps values to colours in the same way, so panels with
    different colour scales are an error, not a misleading bar.

    Args:
        fig: the figure holding the panels.
        axes: the panels (each with an image, e.g. drawn by :func:`surface`).
        label: colour-bar label.

    Returns:
        The matplotlib ``Colorbar``.

    Raises:
        ValueError: a panel has no image, or the panels' colour scales differ.

    Example:
        >>> from matplotlib.colors import Normalize  # doctest: +SKIP
        >>> fig, axes = panels(2)  # doctest: +SKIP
        >>> for ax in axes:  # doctest: +SKIP
        ...     surface(values=vals, ax=ax, colorbar=False, norm=Normalize(-50, 0))
        >>> shared_colorbar(fig, axes, "log L − max")  # doctest: +SKIP
    """
    images = [ax.images[0] if ax.images else None for ax in axes]
    if not images or any(im is None for im in images):
        raise ValueError("shared_colorbar: every panel in `axes` needs an image (a surface).")
    scales = {(type(im.norm).__name__, im.norm.vmin, im.norm.vmax, im.cmap.name) for im in images}
    if len(scales) > 1:
        raise ValueError(f"shared_colorbar: the panels use different colour scales {scales}; "
                         "pass the same `norm` (and `cmap`) to each surface.")  # fmt: skip
    return fig.colorbar(images[0], ax=list(axes), label=label)


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
    diverged: Mapping[str, float | None] | None = None,
    ylim: tuple[float, float] | None = None,
    marker_label: str = "× diverged: its last finite step",
    legend: str | None = "right",
) -> Any:
    """Curves of a per-step quantity: ``label -> (x, y)``, a ``y`` array, or a FitResult.

    A FitResult contributes its trace's loss against its step.

    **The × marker means one thing: the run diverged**, as the caller says in ``diverged``
    (``label -> x`` of the step where it diverged; None or missing: it did not) or, for a
    FitResult, as its ``diverged`` flag says (at ``diverged_step``: its loss after that
    many steps overflowed). Such a curve is drawn up to that step and ends there with a ×;
    what the run recorded afterwards (a diverged jaxmle run repeats its frozen last state)
    is not drawn. The × sits on the curve's value at that step; where that value is above
    the view (or not finite) it sits in a margin along the view's top edge, and where it is
    below, on the bottom edge: its x is always the step.

    **The view.** Unless ``ylim`` is given, the y range is that of the curves that did not
    diverge (and of ``hlines``), so a diverging run cannot squash the others. Every curve is
    clipped to the view: a curve that leaves it runs to the edge and stops there, with no
    marker (leaving the view is not diverging); if it comes back it is drawn again.

    **Log axes** never draw zeros or negative values: on a log y axis points with y ≤ 0 (on
    a log x axis, x ≤ 0) are gaps, like non-finite ones, never clamped to a floor.

    Args:
        curves: the curves.
        logy: logarithmic y axis.
        logx: logarithmic x axis.
        xlabel: x-axis label.
        ylabel: y-axis label.
        title: axes title.
        ax: draw into these axes.
        hlines: ``label -> y`` reference lines (e.g. a tolerance).
        diverged: ``label -> x`` where that run diverged (None: it did not). Overrides a
            FitResult's own flag.
        ylim: the y range of the view (default: from the curves that did not diverge).
        marker_label: the legend's explanation of the × (shown when a curve has one).
        legend: ``"right"`` (outside the axes, the default), ``"below"`` or None.

    Returns:
        The matplotlib ``Figure``.

    Example:
        >>> import numpy as np
        >>> x = np.arange(6)
        >>> fig = loss_curves({"ok": (x, 0.5**x), "blows up": (x, 4.0**x)},
        ...                   diverged={"blows up": 4})  # doctest: +SKIP
        >>> [ln.get_xdata()[0] for ln in fig.axes[0].lines if ln.get_marker() == "x"]
        ... # doctest: +SKIP
        [4.0]
    """
    from matplotlib.lines import Line2D

    fig, ax = _one_axes(ax, (7.0, 4.2))
    diverged = dict(diverged or {})
    parsed = []
    for label, c in curves.items():
        step = diverged.get(label)
        if hasattr(getattr(c, "trace", None), "step"):  # a FitResult (arrays have .trace())
            x, y = np.asarray(c.trace.step), np.asarray(c.trace.loss)
            if label not in diverged and bool(np.asarray(getattr(c, "diverged", False))):
                step = int(np.asarray(c.diverged_step))
        elif isinstance(c, tuple) and len(c) == 2:
            x, y = np.asarray(c[0]), np.asarray(c[1])
        else:
            y = np.asarray(c)
            x = np.arange(1, y.shape[0] + 1)
        x, y = np.asarray(x, np.float64).reshape(-1), np.asarray(y, np.float64).reshape(-1)
        if step is not None:  # after the divergence: the frozen state, not data
            keep = x <= step
            x, y = x[keep], y[keep]
        parsed.append((label, x, y, step))

    def drawn(v, log):  # drawing coordinates: log10 on a log axis; NaN where not drawn
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(np.isfinite(v) & (v > 0), np.log10(v), np.nan) if log else (
                np.where(np.isfinite(v), v, np.nan))  # fmt: skip

    lines = {k: float(v) for k, v in (hlines or {}).items() if not (logy and not v > 0)}
    if ylim is not None:
        if not ylim[0] < ylim[1] or (logy and not ylim[0] > 0):
            raise ValueError(f"`ylim` must be (low, high) with low < high (and low > 0 on a log "
                             f"axis); got {ylim!r}.")  # fmt: skip
        lo, hi = (float(v) for v in (np.log10(ylim) if logy else ylim))
    else:
        ref = [drawn(y, logy)[np.isfinite(drawn(x, logx))] for _, x, y, st in parsed
               if st is None]  # fmt: skip
        if not any(np.isfinite(r).any() for r in ref):  # every curve diverged: use them all
            ref = [drawn(y, logy) for *_, y, _ in parsed]
        ref.append(drawn(np.asarray(list(lines.values())), logy))
        vals = np.concatenate([r[np.isfinite(r)] for r in ref]) if ref else np.zeros(0)
        lo, hi = (float(vals.min()), float(vals.max())) if vals.size else (0.0, 1.0)
        pad = 0.05 * (hi - lo) if hi > lo else (0.5 if logy else max(abs(hi), 1.0) * 0.05)
        lo, hi = lo - pad, hi + pad
    edge = []  # curves whose × falls outside the view: marked on its edge
    for _, x, y, step in parsed:
        at = np.flatnonzero(x == step) if step is not None else np.zeros(0, int)
        v = drawn(y, logy)[at[-1]] if at.size else np.nan
        edge.append(step is not None and not v <= hi)  # above the view, or not finite
    if any(edge) and ylim is None:  # a margin for the edge markers, above the titles' reach
        hi = hi + 0.06 * (hi - lo)
    marked = False
    for i, (label, x, y, step) in enumerate(parsed):
        color = f"C{i % 10}"
        tx, ty = drawn(x, logx), drawn(y, logy)
        cx, cy = _clip_band(tx, ty, lo, hi)
        back = (lambda v: 10.0**v) if logy else (lambda v: v)
        xb = 10.0**cx if logx else cx
        ax.plot(xb, back(cy), label=label, color=color, linewidth=1.2)
        if step is not None:
            at = np.flatnonzero(x == step)
            v = ty[at[-1]] if at.size else np.nan
            if edge[i]:  # in the margin kept for it (at the top edge of a given ylim)
                v = hi - 0.03 * (hi - lo) if ylim is None else hi
            v = max(v, lo)  # below the view: on its bottom edge
            # Unclipped: a × on the edge of a given ``ylim`` is still visible.
            ax.plot([step], [back(v)], "x", color=color, markersize=9, markeredgewidth=2,
                    clip_on=False, zorder=4)  # fmt: skip
            marked = True
    for label, yv in lines.items():
        ax.axhline(yv, color="black", linestyle="--", linewidth=0.8, label=label)
    if logy:
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(_decades())
    if logx:
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(_decades())
    ax.set_ylim(*((10.0**lo, 10.0**hi) if logy else (lo, hi)))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    handles, names = ax.get_legend_handles_labels()
    if marked:
        handles.append(Line2D([], [], color="black", marker="x", linestyle="none",
                              markersize=8, markeredgewidth=2))  # fmt: skip
        names.append(marker_label)
    if handles:
        _legend(ax, legend, handles=handles, labels=names,
                ncol=2 if len(handles) > 12 and legend == "below" else 1)  # fmt: skip
    ax.grid(True, alpha=0.3)
    return fig


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _decades() -> Any:
    """Log-axis tick labels as plain text "10⁻¹⁶" (mathtext would cost ~0.1 s per figure)."""
    from matplotlib.ticker import FuncFormatter

    # A module-level function, not a closure, so the figure pickles for the opt-in helper
    # process that draws PNGs (jaxmle.report._PlotWorker, Context.background_plots).
    return FuncFormatter(_decade_label)


def _decade_label(v: float, _pos: Any = None) -> str:
    """``10⁻¹⁶`` for an exact power of ten, ``1`` for 10⁰, ``%g`` otherwise, "" for v <= 0."""
    if not v > 0:
        return ""
    e = float(np.log10(v))
    k = int(np.rint(e))
    if abs(e - k) < 1e-9:
        return "1" if k == 0 else "10" + str(k).translate(_SUPERSCRIPT)
    return f"{v:g}"


def sampling(
    estimates: Any,
    *,
    truth: Sequence[float] | None = None,
    ellipses: Mapping[str, Any] | None = None,
    labels: tuple[str, str] = ("θ₁", "θ₂"),
    title: str | None = None,
    ax: Any = None,
    max_points: int = 4000,
    legend: str | None = "right",
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
        max_points: plot at most this many points (the first ones); the legend says how
            many of the R are drawn.
        legend: ``"right"`` (outside the axes, the default), ``"below"`` or None.

    Returns:
        The matplotlib ``Figure``.
    """
    fig, ax = _one_axes(ax, (5.5, 5.0))
    est = np.asarray(estimates, dtype=float)
    if est.ndim != 2 or est.shape[1] != 2:
        raise ValueError(f"`estimates` must be (R, 2); got shape {est.shape}.")
    centre = np.asarray(truth if truth is not None else est.mean(0), dtype=float)
    shown = min(max_points, est.shape[0])
    what = f"R = {est.shape[0]}" if shown == est.shape[0] else f"{shown} of R = {est.shape[0]}"
    ax.plot(est[:shown, 0], est[:shown, 1], ".", markersize=2, alpha=0.35, color="C0",
            label=f"estimates ({what})")  # fmt: skip
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
    _legend(ax, legend)
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
