"""Every experiment in quick mode: its key numbers, its report, its plots (valid PNGs).

Each test runs one experiment in-process (``jaxmle.cli.load`` + ``jaxmle.report``), the same
code the ``jaxmle`` command runs, and checks the numbers against closed forms or theory.
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
    module = cli.load(name)
    ctx = report.Context(out=tmp_path / name, quick=True, seed=0, plots=HAS_MPL,
                         progress=False, name=name)  # fmt: skip
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
    return res, out


def test_discovery_lists_the_six_studies_in_order():
    exps = cli.discover()
    assert list(exps) == EXPERIMENTS
    for info in exps.values():
        assert info.summary and len(info.summary) <= 100
        module = cli.load(info.name)
        assert all(isinstance(o, report.Option) for o in module.OPTIONS)


def test_linreg_known_noise(tmp_path):
    res, _ = run_quick("linreg-known-noise", tmp_path)
    truth = np.asarray(res["theta_true"])
    assert np.all(truth == np.round(truth)) and np.all(np.abs(truth) <= 8)  # integer θ
    assert res["rel_qr_vs_numpy"] < 1e-13
    assert res["rel_inverse_vs_numpy"] < 1e-12
    assert res["rel_optimiser_vs_qr"] < 1e-8 and res["optimiser_converged"]
    assert res["max_abs_z"] < 5  # within a few standard errors of the truth
    assert res["float32_rel_qr"] < 1e-5 and res["float32_rel_inverse"] < 1e-4


def test_gaussian_mle(tmp_path):
    res, _ = run_quick("gaussian-mle", tmp_path)
    assert res["mean_mle"] == pytest.approx(res["numpy_mean"], rel=1e-14)
    assert res["var_mle"] == pytest.approx(res["numpy_var"], rel=1e-13)
    assert res["var_unbiased"] == pytest.approx(res["var_mle"] * 1000 / 999, rel=1e-13)
    assert res["mean_optimiser"] == pytest.approx(res["mean_mle"], rel=1e-8)
    assert res["var_optimiser"] == pytest.approx(res["var_mle"], rel=1e-8)
    assert res["max_score_univariate"] < 1e-8
    np.testing.assert_allclose(res["mvn_mean_mle"], res["mvn_numpy_mean"], rtol=1e-13)
    np.testing.assert_allclose(res["mvn_cov_mle"], res["mvn_numpy_cov"], rtol=1e-12)
    assert max(res["mvn_rel_mean_variants"]) < 1e-7  # every μ variant, incl. a wrong Σ
    assert res["mvn_rel_cov_optimiser"] < 1e-7


def test_linreg_offset(tmp_path):
    res, _ = run_quick("linreg-offset", tmp_path)
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
    rss = [r["RSS"] for r in rd["ridge"]]
    assert all(b >= a - 1e-9 for a, b in itertools.pairwise(rss))  # α↑ ⇒ RSS↑


def test_why_logs(tmp_path):
    res, _ = run_quick("why-logs", tmp_path)
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
            row["theory sqrt(2·5/k)"], rel=0.2)


def test_bernoulli_map(tmp_path):
    res, _ = run_quick("bernoulli-map", tmp_path)
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
