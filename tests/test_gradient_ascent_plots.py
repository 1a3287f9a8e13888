"""The gradient-ascent study's figures show what its report says, and its sentences follow
its numbers.

The figure builders of ``experiments/gradient_ascent.py`` are called directly on a small
version of the study (Task 1's real sweep at n = 1000: one small compiled program), not
through a whole run.
"""

import pathlib

import numpy as np
import pytest

from jaxmle import cli, report

pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def ga():
    return cli.load("gradient-ascent")


@pytest.fixture(scope="module")
def task1(ga):
    ctx = report.Context(out=pathlib.Path("never/written"), quick=True, progress=False,
                         name="gradient-ascent")  # fmt: skip
    prob = ga.problem(ctx, 1000)
    runs = ga.task1_runs(ctx, prob)
    rows = ga.task1_rows(runs, 1000)
    return prob, runs, rows


def x_markers(ax):
    return sorted(float(ln.get_xdata()[0]) for ln in ax.lines if ln.get_marker() == "x")


def has_colorbar(ax):
    return bool(ax.images) and ax.images[0].colorbar is not None


def test_task1_table_flags_the_overflows(task1):
    _, runs, rows = task1
    by = {round(r["λ·n/10 (λ/λ_crit)"], 6): r for r in rows}
    # λ = 1.2, 2 and 10 × λ_crit overflow the loss within the 200 steps (the engine flags a
    # loss 1e50 times its first); the factor |1 − λn/5| says how soon: 10× (19 per step) first.
    flagged = {k: r["overflow step"] for k, r in by.items() if r["diverged flag"]}
    assert set(flagged) == {1.2, 2.0, 10.0}
    assert flagged[10.0] < flagged[2.0] < flagged[1.2] < runs.steps
    assert all(r["overflow step"] is None for r in rows if not r["diverged flag"])


def test_task1_curves_mark_exactly_the_tables_overflow_steps(ga, task1):
    _, runs, rows = task1
    fig = ga.task1_curves_figure(runs, rows)
    want = sorted(float(r["overflow step"]) for r in rows if r["diverged flag"])
    for ax in fig.axes[:2]:  # the distance panel and the loss panel
        assert x_markers(ax) == want, ax.get_title()
        lo, hi = ax.get_ylim()
        # The view comes from the runs that did not diverge: the overflowing ones (up to
        # 1e26 in distance) do not squash it, and no drawn point lies outside it.
        assert hi < 1e6
        for ln in ax.lines:
            ys = np.asarray(ln.get_ydata(), float)
            ys = ys[np.isfinite(ys)]
            assert ys.size == 0 or (ys.min() >= lo * (1 - 1e-9) and ys.max() <= hi * (1 + 1e-9))
            assert (ys > 0).all()  # log axes: no zeros (the comb of exact-zero distances)


def test_task1_paths_show_the_converging_paths_and_clip_the_diverging_one(ga, task1):
    prob, runs, rows = task1
    surface = ga._surface(prob.model, prob.x, 30)
    zoom = ga._surface(prob.model, prob.x, 30, lim=ga.task1_zoom(runs, rows))
    fig = ga.task1_paths_figure(runs, rows, prob.mle, surface, zoom)
    left, right = [ax for ax in fig.axes if ax.images]  # (the others: their colour bars)
    assert has_colorbar(left) and has_colorbar(right)

    def paths(ax):
        return {ln.get_label(): np.asarray(ln.get_xydata()) for ln in ax.lines
                if ln.get_label().startswith("λ")}  # fmt: skip

    conv = paths(left)
    # λ/λ_crit = 0.1, 0.2, 0.5, 0.8 converge and 1.0 oscillates: five paths, none cut.
    assert sorted(conv) == sorted(f"λ = {lr:.2g}" for lr in runs.lrs[1:6])
    x0, x1 = left.get_xlim()
    y0, y1 = left.get_ylim()
    for label, p in conv.items():
        assert p[0].tolist() == [0.0, 0.0], label  # begins at the start marker
        assert p.shape[0] == runs.steps + 1, label  # every step drawn
        assert (p[:, 0] >= x0).all() and (p[:, 0] <= x1).all(), label
        assert (p[:, 1] >= y0).all() and (p[:, 1] <= y1).all(), label
        assert np.abs(p - prob.mle).max() > 0.9 * np.linalg.norm(prob.mle) / np.sqrt(2)
    # The diverging path (1.2 λ_crit) is alone on the right, drawn until it leaves the view.
    (label,) = paths(right)
    assert label.startswith(f"λ = {runs.lrs[6]:.2g} (leaves the view at step ")
    p = paths(right)[label]
    assert np.abs(p).max() <= 5.0 + 1e-9 and p[0].tolist() == [0.0, 0.0]
    k = int(label.rsplit(" ", 1)[1].rstrip(")"))
    assert np.abs(runs.paths[6, k]).max() > 5.0 >= np.abs(runs.paths[6, k - 1]).max()


def test_task2_paths_have_colour_bars_and_join_the_start(ga):
    xs = ys = np.linspace(-5.0, 5.0, 20)
    z = -np.add.outer((ys - 1) ** 2, (xs - 1) ** 2)
    zoom_xs = np.linspace(-0.2, 1.6, 20)
    zoom = (zoom_xs, zoom_xs, -np.add.outer((zoom_xs - 1) ** 2, (zoom_xs - 1) ** 2))
    t = np.linspace(0.0, 1.0, 6)[:, None] * np.ones(2)
    fig = ga.task2_paths_figure((xs, ys, z), zoom, {"SGD, λ=3": t[1:]}, {"SGD": t}, np.ones(2))
    surfaces = [ax for ax in fig.axes if ax.images]
    assert len(surfaces) == 2 and all(has_colorbar(ax) for ax in surfaces)
    for ax in surfaces:
        (path,) = [ln for ln in ax.lines if ln.get_label().startswith("SGD")]
        assert path.get_xydata()[0].tolist() == [0.0, 0.0]


def test_task3_subset_surfaces_share_one_colour_bar(ga, task1):
    prob = task1[0]
    xn = np.asarray(prob.x, np.float64)
    fig = ga.task3_subset_figure(prob.model, xn, prob.mle, np.random.default_rng(0))
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == 6
    norms = {(ax.images[0].norm.vmin, ax.images[0].norm.vmax) for ax in panels}
    assert len(norms) == 1  # one colour scale ...
    bars = {id(ax.images[0].colorbar) for ax in panels if has_colorbar(ax)}
    assert len(bars) == 1  # ... and one colour bar for it
    # Flatter for small k: over the same box L_k − max L_k drops ~k/10·d², so the k = 1
    # panel spans a range about 1000 times smaller than the all-data one (k = 1000 here).
    spans = [float(-ax.images[0].get_array().min()) for ax in panels]
    assert spans == sorted(spans) and spans[-1] > 300 * spans[0]


def test_task1_answer_follows_the_numbers(ga, task1):
    _, runs, rows = task1
    text = ga.task1_answer(rows, runs.crit, runs.steps)
    assert "as the theory predicts" in text and "matches |1 − λn/5|" in text
    assert "every diverging run overflowed" in text
    sweep = text.split("In the sweep")[1].split(". The measured")[0]
    for r in rows:  # every rate is accounted for, with what it did
        assert f"{r['λ (sum)']:.3g}" in sweep
    assert f"λ = {rows[0]['λ (sum)']:.3g} still converging" in sweep
    # A run that did not overflow: the sentence names it as finite, not flagged.
    changed = [dict(r) for r in rows]
    slow = next(r for r in changed if round(r["λ·n/10 (λ/λ_crit)"], 6) == 1.2)
    slow.update({"diverged flag": False, "overflow step": None,
                 "verdict": "diverges: distance ×1.4 per step"})  # fmt: skip
    text2 = ga.task1_answer(changed, runs.crit, runs.steps)
    assert f"λ = {slow['λ (sum)']:.3g} stayed finite within the {runs.steps} steps" in text2
    assert "every diverging run overflowed" not in text2
    # A measured factor off the theory, or a converging rate above λ_crit: said so.
    changed[0]["measured factor"] *= 1.01
    assert "differs from |1 − λn/5| by up to a relative 1.0e-02" in ga.task1_answer(
        changed, runs.crit, runs.steps
    )
    changed[-1]["verdict"] = "converges in 3 steps"
    assert "not what the theory predicts" in ga.task1_answer(changed, runs.crit, runs.steps)


def test_task2_and_task3_sentences_follow_the_numbers(ga):
    assert ga._faster(11, 40) == "faster than" and ga._faster(40, 11) == "slower than"
    assert ga._faster(None, 11) == "slower than" and ga._faster(5, None) == "faster than"
    rows = [{"k": k, "RMS ‖argmax L_k − μ̂‖ (measured)": (10 / k) ** 0.5 * 1.05,
             "theory sqrt(2·5/k)": (10 / k) ** 0.5} for k in (1, 1000)]  # fmt: skip
    assert "within 5% of sqrt(2·5/k)" in ga.task3_answer2(rows)
    rows[1]["RMS ‖argmax L_k − μ̂‖ (measured)"] *= 2
    assert "up to 110% off sqrt(2·5/k)" in ga.task3_answer2(rows)
