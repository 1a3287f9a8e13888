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
