"""Every experiment in quick mode: its key numbers, its report, its plots, its sentences.

Each experiment runs once per module in-process (``jaxmle.cli.load`` + ``jaxmle.report``), the
same code the ``jaxmle`` command runs; the numbers are checked against closed forms or theory.
The figures each run saved are captured, and the tests check what they show (data ranges, the
lines drawn and their styles, legends outside the data, colour bars), not only that the PNGs
are valid. The report's sentence functions are called with two sets of numbers: the sentence
must change with the numbers it cites.
"""

import itertools
import json
import math
import pathlib
import struct

import numpy as np
import pytest

from jaxmle import cli, report

try:
    import matplotlib  # noqa: F401

    HAS_MPL = True
except ImportError:  # plots are optional; the numbers are still checked
    HAS_MPL = False

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EXPERIMENTS = ["linreg-known-noise", "gaussian-mle", "linreg-offset", "why-logs",
               "gradient-ascent", "bernoulli-map"]  # fmt: skip


def check_png(path: pathlib.Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path.name} is not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width >= 200 and height >= 200, (path.name, width, height)
    assert len(data) > 5_000, f"{path.name} is suspiciously small ({len(data)} bytes)"
    assert data.rstrip(b"\x00")[-8:-4] == b"IEND"


def run_quick(name: str, tmp_path: pathlib.Path, **options) -> tuple[dict, pathlib.Path]:
    res, out, _ = run_quick_figures(name, tmp_path, **options)
    return res, out


def run_quick_figures(name: str, tmp_path: pathlib.Path, **options):
    """Runs one experiment in quick mode; returns its results, folder and the figures it saved
    (captured from ``Report.figure``, so the tests inspect exactly what went into the PNGs)."""
    module = cli.load(name)
    ctx = report.Context(out=tmp_path / name, quick=True, seed=0, plots=HAS_MPL,
                         progress=False, name=name)  # fmt: skip
    figures = {}
    original = report.Report.figure

    def capture(self, fig_name, make, caption=""):
        def made():
            figures[fig_name] = make()
            return figures[fig_name]

        return original(self, fig_name, made, caption)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(report.Report, "figure", capture)
        res = report.run_experiment(module, ctx, options)
    out = ctx.out
    # The report answers the seed's question and links every plot and data file.
    text = (out / "report.md").read_text()
    assert "**Question.**" in text and "Answer" in text
    assert "default dtype **float64**" in text
    stored = json.loads((out / "results.json").read_text(),
                        parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))  # fmt: skip
    assert stored["experiment"] == name and stored["quick"] is True
    assert stored["environment"]["dtype"] == "float64"
    assert stored["environment"]["seed"] == 0
    pngs = sorted(out.glob("*.png"))
    if HAS_MPL:
        assert pngs, f"{name} wrote no plots"
        for p in pngs:
            check_png(p)
            assert f"]({p.name})" in text, f"{p.name} is not linked from the report"
    for f in out.glob("*.csv"):
        assert f"]({f.name})" in text
    return res, out, figures


def _fixture(name):
    @pytest.fixture(scope="module")
    def run(tmp_path_factory):
        return run_quick_figures(name, tmp_path_factory.mktemp(name.replace("-", "_")))

    return run


why_logs_run = _fixture("why-logs")
gaussian_run = _fixture("gaussian-mle")
bernoulli_run = _fixture("bernoulli-map")
known_noise_run = _fixture("linreg-known-noise")
offset_run = _fixture("linreg-offset")
needs_mpl = pytest.mark.skipif(not HAS_MPL, reason="matplotlib is not installed")


def experiment(name: str):
    """The experiment's module (its sentence and figure functions)."""
    return cli.load(name)


def legend_outside_axes(ax) -> None:
    """The axes' legend is drawn, and its box does not overlap the data area."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = ax.figure
    FigureCanvasAgg(fig).draw()  # lay out as the PNG was (the PNG may be drawn elsewhere)
    leg = ax.get_legend()
    assert leg is not None and leg.get_visible()
    lb, ab = leg.get_window_extent(), ax.get_window_extent()
    assert not lb.overlaps(ab), (lb, ab)
    # ... and inside the figure (not cut off)
    fb = fig.bbox
    assert lb.x0 >= fb.x0 - 1 and lb.x1 <= fb.x1 + 1 and lb.y0 >= fb.y0 - 1, (lb, fb)


def line(ax, label_start: str):
    """The one line of ``ax`` whose label starts with ``label_start``."""
    found = [ln for ln in ax.get_lines() if ln.get_label().startswith(label_start)]
    assert len(found) == 1, [ln.get_label() for ln in ax.get_lines()]
    return found[0]


def test_discovery_lists_the_six_studies_in_order():
    exps = cli.discover()
    assert list(exps) == EXPERIMENTS
    for info in exps.values():
        assert info.summary and len(info.summary) <= 100
        module = cli.load(info.name)
        assert all(isinstance(o, report.Option) for o in module.OPTIONS)


def test_linreg_known_noise(known_noise_run):
    res, _, _ = known_noise_run
    truth = np.asarray(res["theta_true"])
    assert np.all(truth == np.round(truth)) and np.all(np.abs(truth) <= 8)  # integer θ
    assert res["rel_qr_vs_numpy"] < 1e-13
    assert res["rel_inverse_vs_numpy"] < 1e-12
    assert res["rel_optimiser_vs_qr"] < 1e-8 and res["optimiser_converged"]
    assert res["max_abs_z"] < 5  # within a few standard errors of the truth
    assert res["float32_rel_qr"] < 1e-5 and res["float32_rel_inverse"] < 1e-4


def test_gaussian_mle(gaussian_run):
    res, _, _ = gaussian_run
    assert res["mean_mle"] == pytest.approx(res["numpy_mean"], rel=1e-14)
    assert res["var_mle"] == pytest.approx(res["numpy_var"], rel=1e-13)
    assert res["var_unbiased"] == pytest.approx(res["var_mle"] * 1000 / 999, rel=1e-13)
    assert res["mean_optimiser"] == pytest.approx(res["mean_mle"], rel=1e-8)
    assert res["var_optimiser"] == pytest.approx(res["var_mle"], rel=1e-8)
    assert res["max_score_univariate"] < 1e-8
    np.testing.assert_allclose(res["mvn_mean_mle"], res["mvn_numpy_mean"], rtol=1e-13)
    np.testing.assert_allclose(res["mvn_cov_mle"], res["mvn_numpy_cov"], rtol=1e-12)
    assert max(res["mvn_rel_mean_variants"]) < 1e-7  # every μ variant, incl. a wrong Σ
    assert res["mvn_rel_cov_closed_form"] < 1e-13
    # elementwise: the smallest entry of Σ (0.028) is the hardest for the optimiser
    assert res["mvn_rel_cov_optimiser"] < 1e-6


def test_linreg_offset(offset_run):
    res, _, _ = offset_run
    i = res["intercept"]
    assert i["max_abs_difference"] < 1e-10
    assert i["b_from_w"] == pytest.approx(i["augmented"], abs=1e-10)
    assert i["gradient_max_abs_difference"] < 1e-6
    assert i["variance_gradient"] == pytest.approx(i["variance_mle"], rel=1e-6)
    h = res["homoscedastic"]
    assert h["max_bias_z"] < 4.5 and h["max_cov_entry_z"] < 4.5  # theory = Monte Carlo
    for row in h["rows"]:
        assert 0.9 < row["95% coverage"] < 0.98
        assert row["sd (Monte Carlo)"] == pytest.approx(row["sd theory σ·sqrt(diag (MᵀM)⁻¹)"],
                                                        rel=0.1)  # fmt: skip
    het = res["heteroscedastic"]
    assert het["max_rel_sd_vs_sandwich"] < 0.1
    assert het["worst_coverage"]["classical"] < 0.9  # the homoscedastic formula fails
    assert het["worst_coverage"]["HC3"] > 0.92  # the sandwich repairs it
    assert het["worst_coverage"]["HC3"] >= het["worst_coverage"]["HC0"]
    rd = res["rank_deficient"]
    assert "rank deficient" in rd["raised"]
    assert any("rank" in w.lower() for w in rd["warned"])
    assert rd["rss_shifted"] == pytest.approx(rd["rss_min_norm"], rel=1e-9)
    assert rd["rss_min_norm"] == pytest.approx(rd["rss_full_rank"], rel=1e-9)
    assert rd["ridge_smallest_alpha_distance"] < 1e-6
    assert rd["skipped_alpha"] == []  # float64 resolves every α tried
    h = res["homoscedastic"]
    assert h["max_rel_var_diff_at"].startswith("Var(") and 0 < h["max_rel_var_diff"] < 0.2
    rss = [r["RSS"] for r in rd["ridge"]]
    assert all(b >= a - 1e-9 for a, b in itertools.pairwise(rss))  # α↑ ⇒ RSS↑


def test_why_logs(why_logs_run):
    res, _, _ = why_logs_run
    u = res["underflow"]
    f64, f32 = u["float64 jax"], u["float32 jax"]
    # numpy keeps subnormals: its product hits 0 where Σ log p < log(smallest subnormal / 2).
    assert abs(u["float64 numpy"]["product exactly 0 after"] - f64["predicted 0 after"]) <= 1
    assert abs(u["float32 numpy"]["product exactly 0 after"] - f32["predicted 0 after"]) <= 1
    # XLA may flush subnormals to zero: then 0 comes where Σ log p < log(smallest normal).
    for r in (f64, f32):
        z = r["product exactly 0 after"]
        gradual, flushed = r["predicted 0 after"], r["predicted < smallest normal after"]
        assert min(abs(z - gradual), abs(z - flushed)) <= 1
    assert 100 < f64["product exactly 0 after"] < 300
    assert f32["product exactly 0 after"] < 40
    assert f64["rel. error of sum"] < 1e-12 and f32["rel. error of sum"] < 1e-4
    assert res["grad_product_all"] == 0.0 and res["max_prod_all"] == 0.0
    assert abs(res["grad_log_all"]) > 1e-3
    assert res["argmax_prod_50"] == res["argmax_log_50"]
    assert res["argmax_log_all"] == pytest.approx(res["xbar1"], abs=0.01)


def test_gradient_ascent(tmp_path):
    res, _ = run_quick("gradient-ascent", tmp_path)
    t1 = res["task1"]
    rows = t1["rows"]
    assert t1["critical_lr"] == pytest.approx(1e-3)
    assert rows["0.01"]["diverged flag"]  # the known divergent rate is flagged
    assert "0.01" in [f"{v:.6g}" for v in t1["diverged_flagged"]]
    assert rows["0.0005"]["steps to 1e-6"] == 1  # λ = 5/n: one step
    assert 60 <= rows["0.0001"]["steps to 1e-6"] <= 68  # (1 − 0.2)^t · 1.42 ≤ 1e-6
    assert rows["0.001"]["verdict"].startswith("oscillates")
    assert rows["0.0012"]["verdict"].startswith("diverges")
    for r in rows.values():
        if not r["diverged flag"] and r["measured factor"] > 0:
            assert r["measured factor"] == pytest.approx(r["|1 − λn/5| theory"], rel=1e-6)
    t2 = res["task2"]
    lbfgs = t2["rows"]["L-BFGS (backtracking)"]
    assert lbfgs["final ‖μ − μ̂‖ (best λ)"] < 1e-8
    assert t2["settle"]["SGD"][3.0] is not None  # GD at λ = 3 settles (factor 0.4)
    t3 = res["task3"]
    best = t3["best"]
    assert best["10000 (all)"]["median final ‖μ − μ̂‖"] < 1e-8
    assert best["1"]["median final ‖μ − μ̂‖"] > best["1000"]["median final ‖μ − μ̂‖"]
    for row in t3["subsets"]:  # subset maximisers scatter as sqrt(2·5/k)
        assert row["RMS ‖argmax L_k − μ̂‖ (measured)"] == pytest.approx(
            row["theory sqrt(2·5/k)"], rel=0.2
        )


def test_bernoulli_map(bernoulli_run):
    res, _, _ = bernoulli_run
    assert res["mle"] == pytest.approx(3 / 7, abs=1e-15)
    assert res["map_normal_sd"] == pytest.approx(0.484363051702645, abs=1e-12)
    assert res["p_two_tails_map_normal_sd"] == pytest.approx(0.265881462449409, abs=1e-12)
    assert res["map_normal_var"] == pytest.approx(5**-0.5, abs=1e-12)
    assert res["p_two_tails_map_normal_var"] == pytest.approx(0.305572809000084, abs=1e-12)
    assert res["map_beta22"] == pytest.approx(4 / 9, abs=1e-15)
    assert res["map_beta_matched"] == pytest.approx(14 / 29, abs=1e-12)
    assert res["map_uniform"] == pytest.approx(3 / 7, abs=1e-15)
    assert res["p_head_uniform_predictive"] == pytest.approx(4 / 9, abs=1e-15)
    assert res["p_two_tails_uniform_predictive"] == pytest.approx(1 / 3, abs=1e-15)
    assert res["max_optimiser_error"] < 1e-8


def test_bad_option_value_is_an_input_error(tmp_path):
    module = cli.load("bernoulli-map")
    ctx = report.Context(out=tmp_path, quick=True, plots=False, progress=False)
    with pytest.raises(ValueError, match="0/1 digits"):
        report.run_experiment(module, ctx, {"data": "0120"})


def test_fmt_and_json_are_strict(tmp_path):
    assert report.fmt(None) == "—" and report.fmt(True) == "yes"
    assert report.fmt(float("nan")) == "nan" and report.fmt(3) == "3"
    assert report.fmt(1.5e-7) == "1.50000e-07"
    ctx = report.Context(out=tmp_path, plots=False, progress=False)
    rep = report.Report(ctx, "t", "q")
    path = rep.json("x", {"a": float("nan"), "b": np.arange(3), "c": math.inf})
    assert json.loads(path.read_text()) == {"a": None, "b": [0, 1, 2], "c": "inf"}


# ------------------------------------------------------------------------------------------
# What each plot shows (the figures the runs above saved)


@needs_mpl
def test_why_logs_plot_shows_the_reported_error(why_logs_run):
    res, _, figs = why_logs_run
    left, right = figs["underflow"].axes[:2]
    for dtype in ("float64", "float32"):
        y = line(right, f"{dtype} sum").get_ydata()
        drawn = y[np.isfinite(y)]
        assert drawn.size > 0.9 * y.size
        assert np.all(drawn > 0)  # exact zeros are gaps, never a clip floor
        # the curve ends at the error the report states
        assert drawn[-1] == pytest.approx(res["underflow"][f"{dtype} jax"]["rel. error of sum"],
                                          rel=1e-12)  # fmt: skip
    y64 = line(right, "float64 sum").get_ydata()
    assert np.nanmax(y64) < 1e-13 and np.nanmin(y64) > 1e-17  # float64: a few eps, no floor
    # two subnormal reference lines, each labelled, in different colours and styles
    sub = [ln for ln in left.get_lines() if ln.get_label().startswith("smallest subnormal")]
    assert len(sub) == 2
    assert len({ln.get_color() for ln in sub}) == 2 and len({ln.get_linestyle() for ln in sub}) == 2
    ys = sorted(float(ln.get_ydata()[0]) for ln in sub)
    assert ys == pytest.approx(
        [math.log10(4.9406564584124654e-324), math.log10(1.401298464324817e-45)]
    )
    for ax in (left, right):
        legend_outside_axes(ax)


@needs_mpl
def test_gaussian_surface_path_starts_at_the_start_marker(gaussian_run):
    res, _, figs = gaussian_run
    fig = figs["univariate_surface"]
    ax = fig.axes[0]
    start = line(ax, "start")
    path = line(ax, "L-BFGS")
    sx, sy = start.get_xdata()[0], start.get_ydata()[0]
    assert (sx, sy) == (0.0, 1.0)  # Gaussian().init: μ = 0, σ² = 1
    assert (path.get_xdata()[0], path.get_ydata()[0]) == (sx, sy)
    assert path.get_xdata()[-1] == pytest.approx(res["mean_mle"], abs=1e-6)
    assert ax.images and ax.images[0].colorbar is not None  # colour encodes log L
    assert "log L" in ax.images[0].colorbar.ax.get_ylabel()
    legend_outside_axes(ax)


@needs_mpl
def test_bernoulli_legends_leave_the_peaks_visible(bernoulli_run):
    res, _, figs = bernoulli_run
    left, right = figs["likelihood_prior_posterior"].axes[:2]
    for ax in (left, right):
        legend_outside_axes(ax)
    post = line(right, "posterior, N(0.5, σ=0.1)")
    t, d = post.get_xdata(), post.get_ydata()
    assert t[np.argmax(d)] == pytest.approx(res["map_normal_sd"], abs=2e-3)  # peak at θ_MAP


@needs_mpl
def test_monte_carlo_plot_draws_every_replicate(offset_run):
    res, _, figs = offset_run
    reps = res["homoscedastic"]["reps"]
    for ax in figs["monte_carlo"].axes[:2]:
        pts = line(ax, "estimates")
        assert len(pts.get_xdata()) == reps
        assert f"R = {reps}" in pts.get_label().replace(",", "")
        assert "shown" not in pts.get_label()  # every point is drawn
        legend_outside_axes(ax)


@needs_mpl
def test_ridge_plot_shows_the_distance_floor(offset_run):
    res, _, figs = offset_run
    rows = res["rank_deficient"]["ridge"]
    coef_ax, dist_ax = figs["ridge_path"].axes[:2]
    d = line(dist_ax, "‖w_ridge").get_ydata()
    np.testing.assert_allclose(d, [r["‖w − w_min-norm‖"] for r in rows])
    best = line(dist_ax, "closest")
    assert best.get_ydata()[0] == min(r["‖w − w_min-norm‖"] for r in rows)
    assert dist_ax.get_xscale() == "log" and dist_ax.get_yscale() == "log"
    for ax in (coef_ax, dist_ax):
        legend_outside_axes(ax)


@needs_mpl
def test_known_noise_convergence_starts_at_step_zero(known_noise_run):
    res, _, figs = known_noise_run
    ax = figs["optimiser_convergence"].axes[0]
    curve = line(ax, "L-BFGS")
    steps, dist = curve.get_xdata(), curve.get_ydata()
    assert steps[0] == 0
    assert dist[0] == pytest.approx(np.linalg.norm(res["theta_ml"]), rel=1e-12)  # from θ = 0
    assert np.all(dist[np.isfinite(dist)] > 0) and ax.get_yscale() == "log"
    legend_outside_axes(ax)


# ------------------------------------------------------------------------------------------
# Sentences follow their numbers


def test_why_logs_sentences_follow_the_numbers(why_logs_run):
    wl = experiment("why-logs")
    res, _, _ = why_logs_run
    rows = [dict(r) for r in res["underflow"].values()]
    both = wl.underflow_sentence(-4.5, rows, 10_000, -45_000.0, "cpu")
    assert "0 in both float32 and float64" in both
    only32 = wl.underflow_sentence(-4.5, [r for r in rows if r["dtype"] == "float32"], 10_000,
                                   -45_000.0, "cpu")  # fmt: skip
    assert "float64" not in only32 and "is 0 in float32" in only32
    s1 = wl.sum_sentence(rows, -4.5)
    rows[0] = dict(rows[0], **{"rel. error of sum": 3.0e-5})
    assert "3.0e-05" in wl.sum_sentence(rows, -4.5) and "3.0e-05" not in s1
    ga = {"few": {"k": 50, "grad_prod": 1e-93, "grad_log": 1.0, "argmax_prod": 1.26,
                  "argmax_log": 1.26, "max_prod": 1e-93, "xbar": 1.2573},
          "all": {"k": 10_000, "grad_prod": 0.0, "grad_log": -14.0, "argmax_prod": 0.0,
                  "argmax_log": 0.99, "max_prod": 0.0, "xbar": 0.9929}}  # fmt: skip
    same = wl.argmax_sentence(ga)
    assert "both pick the same grid point, μ₁ = 1.26" in same and "= 1.26 = 1.26" not in same
    ga["few"] = dict(ga["few"], argmax_prod=1.27)
    assert "different grid points: the product 1.2700, the log 1.2600" in wl.argmax_sentence(ga)
    assert "cannot move" in wl.gradient_sentence(ga)
    ga["all"] = dict(ga["all"], grad_prod=2.0)
    assert "cannot move" not in wl.gradient_sentence(ga)


def test_gaussian_sentences_follow_the_numbers():
    gm = experiment("gaussian-mle")
    assert gm.digits_agree(1.0, 1.0) == "exactly"
    assert gm.digits_agree(1.26, 1.2600001) == "to 7 significant digits"
    u = {"n": 1000, "unbiased": 2.0 * 1000 / 999, "rows": [
        {"quantity": "μ", "closed form": 1.0, "numpy": 1.0, "score at MLE": 1e-14,
         "score of one rounding": 1e-13},
        {"quantity": "σ²", "closed form": 2.0, "numpy": 2.0 + 1e-12, "score at MLE": 1e-14,
         "score of one rounding": 1e-13}]}  # fmt: skip
    assert "vanishes to rounding error" in gm.univariate_sentence(u)
    u["rows"][0] = dict(u["rows"][0], **{"score at MLE": 1e-6})
    assert "does NOT vanish" in gm.univariate_sentence(u)

    class Run:  # the two FitResult fields the sentence reads
        def __init__(self, k, dist):
            self.steps_to_tol, self.distance = k, dist

    rows = [{"by": "closed form" if i in (0, 3, 5) else "L-BFGS", "at": "[0,2]",
             "max elementwise rel. diff. to numpy": 1e-15 if i in (0, 3, 5) else 1e-9}
            for i in range(7)]  # fmt: skip
    m = {"rows": rows, "n": 5000, "np_mean": np.zeros(3), "np_cov": np.eye(3), "max_score": 0.0}
    s = gm.multivariate_sentence(m, 2.2e-16)
    assert "to 1.0e-15 (largest elementwise relative difference; rounding error)" in s
    rows[5] = dict(rows[5], **{"max elementwise rel. diff. to numpy": 1e-6})
    assert "to 1.0e-06 (more than rounding error)" in gm.multivariate_sentence(m, 2.2e-16)
    ok = gm.steps_sentence({"a": Run(11, 1e-12)}, 60)
    assert "a: 11" in ok and "not reached" not in ok and "ran 60 steps" in ok
    assert "a: not reached (final distance 3.0e-07)" in gm.steps_sentence({"a": Run(-1, 3e-7)},
                                                                             60)  # fmt: skip


def test_bernoulli_sentences_follow_the_numbers():
    bm = experiment("bernoulli-map")

    def rows(*th):
        return [{"prior": f"p{i}", "θ closed form": t} for i, t in enumerate(th)]

    s = bm.shrinkage_sentence(rows(3 / 7, 0.4844, 0.4472, 0.4444, 0.4828, 3 / 7), 0.5, 0.1)
    assert "narrower reading (σ = 0.1) pulls harder" in s and "a small fraction" in s
    s = bm.shrinkage_sentence(rows(3 / 7, 0.44, 0.4844, 0.4444, 0.40, 3 / 7), 0.5, 0.1)
    assert "pulls less hard" in s and "a sizeable part" in s
    pred = {"a": 4.0, "b": 5.0, "p_head": 4 / 9, "p_two_tails": 1 / 3}
    b = bm.answer_bullets(rows(3 / 7, 0.48, 0.45, 0.44, 0.48, 3 / 7), pred, 7, 3, 0.1)
    assert "above the plug-in" in b[-1] and "is the MLE 0.428571" in b[3]
    b = bm.answer_bullets(rows(3 / 7, 0.48, 0.45, 0.44, 0.48, 0.43), dict(pred, p_two_tails=0.3),
                          7, 3, 0.1)  # fmt: skip
    assert "below the plug-in" in b[-1] and "from the MLE" in b[3]


def test_known_noise_sentences_follow_the_numbers():
    kn = experiment("linreg-known-noise")
    se = np.full(3, 1.6e-4)
    s = kn.truth_test_sentence(np.array([-0.333, -0.305, 3.04]), se)  # the p = 0.024
    assert "p = 0.02" in s and ": significant at the 5% level but not at the 1% level" in s
    assert "largest |z| = 3.04 (coefficient 3)" in s and "Bonferroni" in s
    assert "no evidence" not in s
    s = kn.truth_test_sentence(np.array([0.3, -0.5, 1.0]), se)
    assert "not significant at the 5% level (no evidence against the theory)" in s
    s = kn.truth_test_sentence(np.array([4.0, 0.1, 0.1]), se)
    assert "significant at the 1% level (evidence" in s
    err = {"qr_vs_numpy": 2.5e-16, "inverse_vs_numpy": 2.5e-16, "optimiser_vs_qr": 1e-16}
    s64 = kn.conditioning_sentence(1.18, err, {"qr": 7e-8, "inverse": 9e-8}, "float64")
    assert "computes in float64" in s64 and "both are accurate" in s64
    s32 = kn.conditioning_sentence(1.18, {"qr_vs_numpy": 6e-8, "inverse_vs_numpy": 9e-8,
                                          "optimiser_vs_qr": 1e-7}, {}, "float32")  # fmt: skip
    assert "computes in float32" in s32 and "float64 (" not in s32 and "in float32 (from" not in s32
    bad = kn.conditioning_sentence(1.18, dict(err, inverse_vs_numpy=1e-9), {}, "float64")
    assert "only the QR solve is within" in bad

    class Run:  # the FitResult fields the sentence reads
        def __init__(self, k, converged, distance=0.0):
            self.steps_to_tol, self.converged, self.distance = k, converged, distance

    assert "after 7 steps and was still within it" in kn.lbfgs_sentence(Run(7, True), 40)
    assert "no longer within it" in kn.lbfgs_sentence(Run(7, False), 40)
    assert "did not come within" in kn.lbfgs_sentence(Run(-1, False, 1e-3), 40)


def test_offset_sentences_follow_the_numbers(offset_run):
    lo = experiment("linreg-offset")
    res, _, _ = offset_run
    rd = dict(res["rank_deficient"], dtype="float64")
    floor = lo.ridge_sentence(rd)  # the run's own path: smallest in the middle
    k = int(np.argmin([r["‖w − w_min-norm‖"] for r in rd["ridge"]]))
    assert k > 0, "the quick run's path reaches a floor above the smallest α"
    assert "does not converge" in floor and "floor" in floor and "converges as α → 0" not in floor
    # a path whose distance keeps falling with α: the sentence says it converges
    mono = [dict(r, **{"‖w − w_min-norm‖": 1e-3 * r["alpha"]}) for r in rd["ridge"]]
    conv = lo.ridge_sentence(dict(rd, ridge=mono))
    assert "consistent with convergence as α → 0" in conv and "does not converge" not in conv
    # float32: α the dtype cannot resolve are skipped, and the report says so
    f32 = lo.ridge_sentence(dict(rd, ridge=rd["ridge"][4:], dtype="float32",
                                 skipped_alpha=[r["alpha"] for r in rd["ridge"][:4]]))  # fmt: skip
    assert "In float32, `ridge` refuses α ≤ 1e-05 (4 of the 12 values)" in f32
    h = dict(res["homoscedastic"])
    s = lo.covariance_sentence(h, 200, 1.0)
    assert f"at {h['max_rel_var_diff_at']}" in s and "largest relative difference" not in s
    assert "**Answer: yes.**" in s
    assert "not entirely" in lo.covariance_sentence(dict(h, max_bias_z=4.0), 200, 1.0)
    het = dict(res["heteroscedastic"], noise_sd=1.0)
    assert "under-cover" in lo.sandwich_sentence(het)
    het["worst_coverage"] = dict(het["worst_coverage"], classical=0.95)
    assert "still cover" in lo.sandwich_sentence(het)
    off = dict(res["intercept"], eps=2.2e-16, rows=[{"w1": 1.5, "w2": -2.0, "b": 3.0}])
    assert "the same, to rounding error" in lo.offset_sentence(off)
    assert "differ by more than rounding" in lo.offset_sentence(dict(off, max_abs_difference=1e-6))
    rank = lo.rank_sentence(rd)
    assert "the same as the full-rank fit" in rank and "cannot tell them apart" in rank
    assert "unlike" in lo.rank_sentence(dict(rd, rss_min_norm=rd["rss_full_rank"] * 1.01))


def test_ridge_skips_alpha_the_dtype_cannot_resolve(monkeypatch):
    import jax.numpy as jnp

    import jaxmle

    lo = experiment("linreg-offset")
    real = jaxmle.closed_form.ridge

    def ridge(X, y, alpha, **kw):  # what float32 does below its resolution
        if alpha < 5e-6:  # (between the grid's 1e-6 and 1e-5)
            raise jaxmle.RankDeficientError("rank deficient at working precision")
        return real(X, y, alpha, **kw)

    monkeypatch.setattr(jaxmle.closed_form, "ridge", ridge)
    X = jnp.stack([jnp.linspace(5.0, 15.0, 40), jnp.cos(jnp.arange(40.0)) + 2.0], axis=1)
    y = X @ jnp.asarray([1.5, -2.0]) + 3.0 + 0.1 * jnp.sin(jnp.arange(40.0) * 1.7)
    rd = lo.rank_deficient_and_ridge(X, y, 1.0)
    assert rd["skipped_alpha"] == pytest.approx([1e-8, 1e-7, 1e-6])
    assert rd["ridge"][0]["alpha"] == pytest.approx(1e-5)
    assert "refuses α ≤ 1e-06 (3 of the 12 values)" in lo.ridge_sentence(rd)
