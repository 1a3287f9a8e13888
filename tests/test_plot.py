"""jaxmle.plot: every figure renders to a valid, non-empty PNG; values are right; optional."""

import struct
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxmle
from jaxmle import plot
from jaxmle.models import MultivariateGaussian

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def check_png(path, min_side=150):
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width >= min_side and height >= min_side
    assert len(data) > 3_000
    assert data.rstrip(b"\x00")[-8:-4] == b"IEND"


@pytest.fixture(scope="module")
def problem():
    model = MultivariateGaussian(cov=5.0 * jnp.eye(2))
    x = 1.0 + jnp.sqrt(5.0) * jax.random.normal(jax.random.key(0), (500, 2))
    exact = model.closed_form(x)
    run = jaxmle.fit(model, {"mean": jnp.zeros(2)}, x, optimizer=optax.sgd,
                     hyperparams={"learning_rate": 1.0}, steps=20, reference=exact,
                     record_every=1)  # fmt: skip
    return model, x, exact, run


def test_import_jaxmle_does_not_import_plot_or_matplotlib():
    code = ("import sys, jaxmle; print('jaxmle.plot' in sys.modules, "
            "'matplotlib' in sys.modules, 'jaxmle.report' in sys.modules)")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True).stdout.split()  # fmt: skip
    assert out == ["False", "False", "False"]


def test_grid_values_match_direct_evaluation(problem):
    model, x, _, _ = problem
    fn = plot.loglik_fn(model, x)
    xs, ys, z = plot.grid_values(fn, (-2, 3), (-1, 4), resolution=7, batch=4)
    assert z.shape == (7, 7)
    direct = float(jnp.sum(model.log_prob({"mean": jnp.array([xs[2], ys[5]])}, x)))
    assert z[5, 2] == pytest.approx(direct, rel=1e-12)
    # The maximum on the grid is the grid point nearest the MLE (a quadratic bowl).
    _, j = np.unravel_index(np.argmax(z), z.shape)
    assert abs(xs[j] - float(x[:, 0].mean())) <= (xs[1] - xs[0])


def test_surface_with_trajectories(problem, tmp_path):
    pytest.importorskip("matplotlib")
    model, x, exact, run = problem
    fig = plot.trajectories(model, x, {"SGD λ=1": run, "array": np.zeros((3, 2))},
                            start=(0, 0), points={"MLE": exact["mean"]}, resolution=40,
                            title="t")  # fmt: skip
    check_png(plot.save(fig, tmp_path / "surface.png"))


def test_loss_curves_sampling_panels(problem, tmp_path):
    pytest.importorskip("matplotlib")
    *_, run = problem
    fig, axes = plot.panels(2, figsize=(8, 3.5))
    plot.loss_curves({"fit": run, "tuple": (np.arange(1, 4), np.array([1.0, 0.1, np.inf])),
                      "array": np.array([3.0, 2.0, 1.0])}, ax=axes[0],
                     hlines={"tol": 1e-3})  # fmt: skip
    est = np.random.default_rng(0).multivariate_normal([0, 0], [[1, 0.5], [0.5, 2]], 300)
    plot.sampling(est, truth=[0, 0], ellipses={"theory": [[1, 0.5], [0.5, 2]]}, ax=axes[1])
    check_png(plot.save(fig, tmp_path / "curves.png"))
    fig = plot.loss_curves({"a": (np.logspace(-3, 3, 7), np.arange(7.0))}, logy=False, logx=True)
    check_png(plot.save(fig, tmp_path / "logx.png"))


def test_sweep_heatmap(problem, tmp_path):
    pytest.importorskip("matplotlib")
    model, x, exact, _ = problem
    study = jaxmle.sweep(model, {"mean": jnp.zeros(2)}, x, optimizer={"sgd": optax.sgd},
                         grid={"batch_size": [5, 50], "learning_rate": [0.1, 1.0],
                               "seed": [0, 1]},
                         steps=30, key=jax.random.key(1), reference=exact, tol=0.05)  # fmt: skip
    for metric in ("distance", "steps_to_tol", "samples_to_tol"):
        fig = plot.sweep_heatmap(study, metric=metric, title=metric)
        check_png(plot.save(fig, tmp_path / f"{metric}.png"))
    fig = plot.sweep_heatmap(study, where={"seed": 0}, log=False, annotate=False)
    check_png(plot.save(fig, tmp_path / "fixed.png"))
    with pytest.raises(ValueError, match="not an axis"):
        plot.sweep_heatmap(study, x="momentum")


def test_heatmap_with_missing_cells(tmp_path):
    pytest.importorskip("matplotlib")
    z = np.array([[1.0, np.nan], [10.0, 100.0]])
    check_png(plot.save(plot.heatmap(z, [1, 2], [0.1, 0.3]), tmp_path / "h.png"))


def test_missing_matplotlib_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # import now fails
    with pytest.raises(plot.MissingMatplotlibError, match=r"pip install 'jaxmle\[plot\]'"):
        plot.panels(2)
    assert issubclass(plot.MissingMatplotlibError, ImportError)


def test_bad_trajectory_shape(problem):
    pytest.importorskip("matplotlib")
    with pytest.raises(ValueError, match=r"\(T, 2\)"):
        plot.surface(values=(np.arange(3.0), np.arange(3.0), np.zeros((3, 3))),
                     trajectories={"bad": np.zeros((4, 3))})  # fmt: skip


# ------------------------------------------------------------------------------------------
# What the figures show (checked on the returned Figure, not only the PNG).


def drawn(fig):
    """Draws the figure (Agg) so legends, layout and colour bars have their final places."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    fig.canvas.draw()
    return fig


def data_lines(ax):
    """The curves of an axes (not the × markers, reference lines or legend proxies)."""
    return [ln for ln in ax.lines if ln.get_marker() in ("None", "", None) and
            len(ln.get_xdata()) > 2]  # fmt: skip


def x_markers(ax):
    return [(float(ln.get_xdata()[0]), float(ln.get_ydata()[0])) for ln in ax.lines
            if ln.get_marker() == "x"]  # fmt: skip


def legend_outside(ax):
    """The legend lies outside the axes' data area and inside the figure."""
    fig = ax.figure
    leg = ax.get_legend().get_window_extent()
    box = ax.get_window_extent()
    overlap = not (leg.x0 >= box.x1 or leg.x1 <= box.x0 or leg.y0 >= box.y1
                   or leg.y1 <= box.y0)  # fmt: skip
    inside_fig = (leg.x0 >= -1 and leg.y0 >= -1 and leg.x1 <= fig.bbox.x1 + 1
                  and leg.y1 <= fig.bbox.y1 + 1)  # fmt: skip
    return not overlap and inside_fig


def has_colorbar(ax):
    return bool(ax.images) and ax.images[0].colorbar is not None


def test_log_axes_never_draw_zeros_or_negatives():
    pytest.importorskip("matplotlib")
    y = np.array([1.0, 0.1, 0.0, 1e-3, -1e-4, 1e-5, np.nan, 1e-6])
    fig = plot.loss_curves({"a": (np.arange(8.0), y)})
    (line,) = data_lines(fig.axes[0])
    ys = np.asarray(line.get_ydata(), float)
    assert np.all(np.isnan(ys) | (ys > 0))  # 0 and -1e-4 are gaps, never a floor
    assert np.nanmin(ys) == pytest.approx(1e-6)
    assert np.isnan(ys[[2, 4, 6]]).all()
    # and on a log x axis: x <= 0 is a gap
    fig = plot.loss_curves({"a": (np.array([-1.0, 0.0, 1.0, 10.0]), np.arange(4.0))},
                           logy=False, logx=True)  # fmt: skip
    (line,) = [ln for ln in fig.axes[0].lines if len(ln.get_xdata())]
    xs = np.asarray(line.get_xdata(), float)
    assert np.all(np.isnan(xs) | (xs > 0))
    assert sorted(xs[np.isfinite(xs)]) == [1.0, 10.0]


def test_divergence_markers_only_where_the_caller_says():
    pytest.importorskip("matplotlib")
    x = np.arange(201.0)
    curves = {"converges": (x, 1.4 * 0.8**x), "oscillates": (x, np.full(201, 1.4)),
              "flagged": (x, 1.4 * 1.4**x), "grows, not flagged": (x, 1.4 * 1.2**x)}  # fmt: skip
    fig = drawn(plot.loss_curves(curves, diverged={"flagged": 176, "converges": None}))
    ax = fig.axes[0]
    marks = x_markers(ax)
    assert [m[0] for m in marks] == [176.0]  # one ×, at the flagged step; none for the rest
    lo, hi = ax.get_ylim()
    # The view is set by the curves that did not diverge (1.4·1.2^200 = 1.1e16 is one: it was
    # not flagged), not by the flagged one (1.4·1.4^176 = 2e26), which is clipped.
    assert 1.1e16 < hi < 1e21 and lo < 1.4 * 0.8**200  # (5% padding, a margin for the ×)
    assert lo < marks[0][1] <= hi  # the × of a run beyond the view: inside the view's top
    for ln in data_lines(ax):  # every curve is clipped to the view
        ys = np.asarray(ln.get_ydata(), float)
        assert np.nanmax(ys) <= hi * (1 + 1e-9)
    # A given ylim: everything clipped to it, the × still at its step, on the top edge.
    fig = drawn(plot.loss_curves(curves, diverged={"flagged": 176}, ylim=(1e-20, 10.0)))
    ax = fig.axes[0]
    assert ax.get_ylim() == pytest.approx((1e-20, 10.0))
    assert x_markers(ax) == [(176.0, pytest.approx(10.0))]
    assert max(np.nanmax(np.asarray(ln.get_ydata(), float)) for ln in data_lines(ax)) <= 10.0
    with pytest.raises(ValueError, match="ylim"):
        plot.loss_curves(curves, ylim=(0.0, 10.0))
    # The flagged run is drawn up to its divergence step only (its frozen state is not data).
    flagged = next(ln for ln in data_lines(ax) if ln.get_label() == "flagged")
    assert np.nanmax(flagged.get_xdata()) <= 176
    assert "× diverged" in " ".join(t.get_text() for t in ax.get_legend().get_texts())


def test_divergence_marker_on_the_curve_when_in_view_and_from_a_fitresult(problem):
    pytest.importorskip("matplotlib")
    model, x, exact, _ = problem
    # a curve that diverges inside the view: × on its value at that step
    x5 = np.arange(5.0)
    fig = plot.loss_curves({"a": (x5, x5 + 1.0), "b": (x5, np.full(5, 10.0))}, diverged={"a": 3})
    assert x_markers(fig.axes[0]) == [(3.0, pytest.approx(4.0))]
    # a FitResult's own flag: the × at its diverged_step
    bad = jaxmle.fit(model, {"mean": jnp.zeros(2)}, x, optimizer=optax.sgd,
                     hyperparams={"learning_rate": 1e4}, steps=20, reference=exact,
                     record_every=1)  # fmt: skip
    assert bool(bad.diverged)
    fig = plot.loss_curves({"too large": bad, "ok": problem[3]})
    assert [m[0] for m in x_markers(fig.axes[0])] == [float(bad.diverged_step)]


def test_legends_are_outside_the_data(problem):
    pytest.importorskip("matplotlib")
    *_, exact, run = problem
    fig, axes = plot.panels(3, figsize=(15, 4.5))
    plot.loss_curves({"fit": run, "b": np.array([3.0, 2.0, 1.0])}, ax=axes[0],
                     hlines={"tol": 1e-3})  # fmt: skip
    g = np.linspace(-1.0, 3.0, 20)  # (precomputed values: no grid program to compile)
    plot.surface(values=(g, g, -np.add.outer((g - 1) ** 2, (g - 1) ** 2)), trajectories={
        "SGD": run}, start=(0, 0), points={"MLE": exact["mean"]}, ax=axes[1])  # fmt: skip
    est = np.random.default_rng(0).normal(size=(300, 2))
    plot.sampling(est, truth=[0, 0], ellipses={"theory": np.eye(2)}, ax=axes[2])
    drawn(fig)
    for ax in axes:
        assert legend_outside(ax), ax.get_title()
    # below the surface's x-axis label, not on it
    lab = axes[1].xaxis.label.get_window_extent()
    assert axes[1].get_legend().get_window_extent().y1 <= lab.y0 + 1


def test_sampling_legend_counts_the_points_drawn():
    pytest.importorskip("matplotlib")
    est = np.random.default_rng(1).normal(size=(5000, 2))
    fig = plot.sampling(est, max_points=4000)
    (pts,) = [ln for ln in fig.axes[0].lines if ln.get_marker() == "."]
    assert len(pts.get_xdata()) == 4000
    assert pts.get_label() == "estimates (4000 of R = 5000)"
    fig = plot.sampling(est[:300])
    assert fig.axes[0].lines[0].get_label() == "estimates (R = 300)"


def test_surface_paths_start_at_the_start_and_are_clipped_to_the_view(problem):
    pytest.importorskip("matplotlib")
    run = problem[3]
    xs = ys = np.linspace(-2.0, 3.0, 30)
    vals = (xs, ys, -np.add.outer((ys - 1) ** 2, (xs - 1) ** 2))
    # μ_t − μ̂ = (−1.4)^t (μ0 − μ̂): the path leaves [-2, 3]² after a few steps, out to 1e29
    t = np.arange(200)
    diverging = 1.0 + np.outer((-1.4) ** t, [-1.0, -1.0])
    fig = drawn(plot.surface(values=vals, start=(0.0, 0.0),
                             trajectories={"fit": run, "diverging": diverging}))  # fmt: skip
    ax = fig.axes[0]
    assert (ax.get_xlim(), ax.get_ylim()) == ((-2.0, 3.0), (-2.0, 3.0))  # the surface's box
    paths = {ln.get_label(): np.asarray(ln.get_xydata()) for ln in ax.lines
             if len(ln.get_xdata()) > 1}  # fmt: skip
    fit_path = paths["fit"]
    # The FitResult's trace starts after step 1: the start is prepended as vertex 0.
    assert fit_path[0].tolist() == [0.0, 0.0]
    np.testing.assert_allclose(fit_path[1:], np.asarray(run.trace.params["mean"]))
    # 1 + 1.4^t > 3 first at t = 3 (1 + 2.744): the path ends on the box's edge there.
    (label,) = [k for k in paths if k.startswith("diverging")]
    assert label == "diverging (leaves the view at step 3)"
    d = paths[label]
    assert d.shape == (4, 2) and np.abs(d).max() <= 3.0 + 1e-12
    np.testing.assert_allclose(d[-1], [3.0, 3.0])
    assert has_colorbar(ax)
    assert legend_outside(ax)


def test_shared_colorbar_needs_one_colour_scale():
    pytest.importorskip("matplotlib")
    from matplotlib.colors import Normalize

    xs = ys = np.linspace(-1.0, 1.0, 10)
    z = -np.add.outer(ys**2, xs**2)
    fig, axes = plot.panels(2)
    norm = Normalize(-2.0, 0.0)
    for ax, scale in zip(axes, (1.0, 5.0), strict=True):
        plot.surface(values=(xs, ys, scale * z), ax=ax, colorbar=False, norm=norm)
    assert not any(has_colorbar(ax) for ax in axes)
    bar = plot.shared_colorbar(fig, axes, "log L − max")
    assert bar.ax.get_ylabel() == "log L − max" and bar.norm.vmin == -2.0
    assert all(has_colorbar(ax) for ax in axes[:1])  # the first panel's image carries it
    fig, axes = plot.panels(2)
    for ax, scale in zip(axes, (1.0, 5.0), strict=True):  # each its own range: no shared bar
        plot.surface(values=(xs, ys, scale * z), ax=ax, colorbar=False)
    with pytest.raises(ValueError, match="different colour scales"):
        plot.shared_colorbar(fig, axes)


def test_heatmaps_keep_their_colour_bars():
    pytest.importorskip("matplotlib")
    z = np.array([[1.0, np.nan], [10.0, 100.0]])
    fig = plot.heatmap(z, [1, 2], [0.1, 0.3], cbar_label="steps")
    assert has_colorbar(fig.axes[0])
    assert fig.axes[0].images[0].colorbar.ax.get_ylabel() == "steps"
