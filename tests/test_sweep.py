"""``jaxmle.sweep``: every lane is the single ``fit`` it stands for; layout, tables, I/O,
sharding over simulated devices, batch-size grouping and bad input.

The oracle for a lane is ``jaxmle.fit`` with the same settings and
``key=jax.random.fold_in(key, seed)`` (tested against closed forms and numpy in
``test_fit.py``). Lanes agree with it to 1e-12: a masked group sums a minibatch with masked
zeros, so it is not bitwise identical, only equal to rounding.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxmle
from jaxmle import models

SIGMA = 5.0 * np.eye(2)
MVN = models.MultivariateGaussian(cov=jnp.asarray(SIGMA))
X = np.random.default_rng(2).multivariate_normal([1.0, 1.0], SIGMA, 20)
P0 = {"mean": jnp.zeros(2)}
REF = MVN.closed_form(X)
KEY = jax.random.key(42)
COMMON = dict(steps=24, record_every=4, reference=REF, tol=0.4)  # 6 records per lane
OPTS = {"sgd": optax.sgd, "adam": optax.adam}
GRID = {"learning_rate": [0.05, 0.3], "batch_size": [2, 7], "seed": [0, 3]}
FULL_GRID = {"learning_rate": [0.05, 0.3, 1e30], "momentum": [0.0, 0.9], "batch_size": [None]}
RTOL, ATOL = 1e-12, 1e-13


@pytest.fixture(scope="module")
def masked():
    return jaxmle.sweep(MVN, P0, X, optimizer=OPTS, grid=GRID, key=KEY, strategy="masked",
                        **COMMON)  # fmt: skip


@pytest.fixture(scope="module")
def grouped():
    return jaxmle.sweep(MVN, P0, X, optimizer={"sgd": optax.sgd}, grid=GRID, key=KEY,
                        strategy="grouped", **COMMON)  # fmt: skip


@pytest.fixture(scope="module")
def full():
    # Full batch, two swept hyperparameters; learning rate 1e30 diverges.
    return jaxmle.sweep(MVN, P0, X, optimizer=optax.sgd, grid=FULL_GRID, key=KEY, **COMMON)


def _lanes(result):
    """Every lane's coordinates, as dicts."""
    names = list(result.axes)
    return [dict(zip(names, c, strict=True)) for c in itertools.product(*result.axes.values())]


def _single_fit(coords, optimizers):
    hyper = {k: v for k, v in coords.items() if k not in ("optimizer", "batch_size", "seed")}
    return jaxmle.fit(MVN, P0, X, optimizer=optimizers[coords["optimizer"]], hyperparams=hyper,
                      batch_size=coords.get("batch_size"),
                      key=jax.random.fold_in(KEY, coords.get("seed", 0)), **COMMON)  # fmt: skip


def _assert_lane_equal(lane, single, where):
    for name in ("params", "loss", "grad_norm", "distance", "trace"):
        a, b = getattr(lane, name), getattr(single, name)
        for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True):
            np.testing.assert_allclose(x, y, rtol=RTOL, atol=ATOL, err_msg=f"{where}: {name}")
    for name in ("converged", "steps_to_tol", "samples_to_tol", "diverged", "diverged_step",
                 "status"):  # fmt: skip
        a, b = np.asarray(getattr(lane, name)), np.asarray(getattr(single, name))
        np.testing.assert_array_equal(a, b, err_msg=f"{where}: {name}")


@pytest.mark.parametrize("which", ["masked", "grouped", "full"])
def test_every_lane_equals_single_fit(which, request):
    result = request.getfixturevalue(which)
    optimizers = {"sgd": optax.sgd, "adam": optax.adam}
    for coords in _lanes(result):
        _assert_lane_equal(result.lane(**coords), _single_fit(coords, optimizers), str(coords))


def test_meta_records_batch_groups(masked, grouped, full):
    assert masked.meta["batch_groups"] == [[2, 7]]
    assert grouped.meta["batch_groups"] == [[2], [7]]
    assert full.meta["batch_groups"] == [["full"]]
    assert masked.meta["steps"] == 24 and masked.meta["record_every"] == 4
    assert set(masked.timings) == {"sgd/b=2|7", "adam/b=2|7"}


def test_some_lanes_converge_and_samples_count_lane_batch(masked):
    reached = masked.steps_to_tol >= 0
    assert reached.any()
    # converged is the final state: it implies having reached the tolerance, not conversely.
    assert not (masked.converged & ~reached).any()
    b = np.asarray(masked.axes["batch_size"])[None, None, :, None]
    expected = np.where(reached, masked.steps_to_tol * b, -1)
    np.testing.assert_array_equal(masked.samples_to_tol, expected)


def test_axes_layout_and_lane_selection(masked):
    assert list(masked.axes) == ["optimizer", "learning_rate", "batch_size", "seed"]
    assert masked.axes == {"optimizer": ["sgd", "adam"], **GRID}
    assert masked.shape == (2, 2, 2, 2)
    assert masked.params["mean"].shape == (2, 2, 2, 2, 2)
    for f in ("loss", "distance", "converged", "steps_to_tol", "diverged", "diverged_step"):
        assert getattr(masked, f).shape == (2, 2, 2, 2), f
    assert masked.trace.params["mean"].shape == (2, 2, 2, 2, 6, 2)
    np.testing.assert_array_equal(masked.trace.step[1, 0, 1, 1], [4, 8, 12, 16, 20, 24])
    lane = masked.lane(optimizer="adam", learning_rate=0.05, batch_size=7, seed=3)
    np.testing.assert_array_equal(lane.params["mean"], masked.params["mean"][1, 0, 1, 1])
    np.testing.assert_array_equal(lane.distance, masked.distance[1, 0, 1, 1])
    np.testing.assert_array_equal(lane.trace.loss, masked.trace.loss[1, 0, 1, 1])
    # The grid's axes really are the lanes' settings: swap two coordinates, get another lane.
    other = masked.lane(optimizer="adam", learning_rate=0.05, batch_size=2, seed=3)
    assert not np.array_equal(lane.params["mean"], other.params["mean"])
    with pytest.raises(jaxmle.InputError, match="seed"):
        masked.lane(optimizer="adam", learning_rate=0.05, batch_size=7)
    with pytest.raises(jaxmle.InputError, match="learning_rate"):
        masked.lane(optimizer="adam", learning_rate=0.5, batch_size=7, seed=3)


def test_masked_and_grouped_agree(masked, grouped):
    np.testing.assert_allclose(grouped.params["mean"], masked.params["mean"][:1], rtol=RTOL)
    np.testing.assert_array_equal(grouped.steps_to_tol, masked.steps_to_tol[:1])


def test_diverging_lane_is_flagged_alone(full):
    lr = np.asarray(full.axes["learning_rate"])
    bad = lr == 1e30
    assert full.diverged[:, bad].all()
    assert not full.diverged[:, ~bad].any()
    assert (full.diverged_step[:, bad] >= 0).all() and (full.diverged_step[:, ~bad] == -1).all()
    assert np.isfinite(full.params["mean"]).all()
    assert np.isfinite(full.trace.loss[:, ~bad]).all()
    # The sane lanes are identical to their single fits in test_every_lane_equals_single_fit;
    # here: they reached the tolerance normally; without momentum the last state is within
    # it (converged), with momentum 0.9 the iterate overshoots and is outside it at step 24.
    assert (full.steps_to_tol[:, lr == 0.3] >= 0).all()
    mom = np.asarray(full.axes["momentum"])
    assert full.converged[:, lr == 0.3][:, :, mom == 0.0].all()
    assert not full.converged[:, lr == 0.3][:, :, mom == 0.9].any()
    assert (full.distance[:, lr == 0.3][:, :, mom == 0.9] > COMMON["tol"]).all()
    # Status per lane: NONFINITE for the diverged ones, OK or MAX_STEPS (never both flags) else.
    assert full.status.dtype == np.int32
    assert (full.status[:, bad] == jaxmle.Status.NONFINITE).all()
    np.testing.assert_array_equal(
        full.status[:, ~bad], np.where(full.converged[:, ~bad], 0, int(jaxmle.Status.MAX_STEPS))
    )


def test_chunking_and_lane_blocks_do_not_change_results(masked):
    # chunk_records=4: records (4, 2) per call; max_rows_per_step=20: lanes drawing 7 rows
    # run in blocks of 3 (the last one padded).
    res = jaxmle.sweep(MVN, P0, X, optimizer={"sgd": optax.sgd}, grid=GRID, key=KEY,
                       strategy="masked", chunk_records=4, max_rows_per_step=20,
                       **COMMON)  # fmt: skip
    for f in ("loss", "distance", "steps_to_tol", "diverged"):
        np.testing.assert_array_equal(getattr(res, f), getattr(masked, f)[:1], err_msg=f)
    np.testing.assert_array_equal(res.params["mean"], masked.params["mean"][:1])
    np.testing.assert_array_equal(res.trace.params["mean"], masked.trace.params["mean"][:1])
    np.testing.assert_array_equal(res.trace.step, masked.trace.step[:1])


def test_to_dataframe(masked):
    pytest.importorskip("pandas")
    df = masked.to_dataframe()
    assert len(df) == 16
    expected_cols = {"optimizer", "learning_rate", "batch_size", "seed", "loss", "distance",
                     "steps_to_tol", "samples_to_tol", "diverged", "converged",
                     "param:mean[0]", "param:mean[1]"}  # fmt: skip
    assert expected_cols <= set(df.columns)
    for _, row in df.iterrows():
        coords = {k: row[k] for k in masked.axes}
        lane = masked.lane(**coords)
        assert row["loss"] == float(lane.loss)
        assert row["distance"] == float(lane.distance)
        assert row["steps_to_tol"] == int(lane.steps_to_tol)
        assert row["samples_to_tol"] == int(lane.samples_to_tol)
        assert row["diverged"] == bool(lane.diverged)
        assert row["param:mean[1]"] == float(lane.params["mean"][1])


def test_best_sorts_by_distance_with_diverged_last(full, masked):
    rows = full.best(6)
    assert [r["diverged"] for r in rows] == [False] * 4 + [True] * 2
    ok = ~full.diverged
    expected = np.sort(full.distance[ok])
    np.testing.assert_array_equal([r["distance"] for r in rows[:4]], expected)
    top = masked.best(3)
    assert len(top) == 3
    np.testing.assert_array_equal(
        [r["distance"] for r in top], np.sort(masked.distance.ravel())[:3]
    )
    best = top[0]
    lane = masked.lane(**{k: best[k] for k in masked.axes})
    assert float(lane.distance) == best["distance"] == masked.distance.min()


def test_repr_is_a_short_summary(full, masked):
    text = repr(full)
    lines = text.splitlines()
    assert str(full) == text and len(lines) <= 10 and len(text) < 1000, text
    assert lines[0] == "SweepResult: 6 lanes (1 × 3 × 2 × 1), 24 steps, tol 0.4, reduction mean"
    assert "    learning_rate    3  [0.05, 0.3, 1e+30]" in lines
    assert "    batch_size       1  [full]" in lines
    assert (f"  lanes: {int(full.converged.sum())} converged, {int(full.diverged.sum())} "
            "diverged, ") in text  # fmt: skip
    best = full.best(1)[0]  # smallest final distance among the lanes that did not diverge
    assert (f"  best:  distance {best['distance']:.4g}, loss {best['loss']:.6g} at "
            f"learning_rate={best['learning_rate']:.4g}, momentum={best['momentum']:.4g}"
            ) in lines  # fmt: skip
    assert "per lane: params mean (2,); trace of 6 records" in text
    # Long axes are abbreviated: the summary stays a few lines whatever the grid's size.
    big = dataclasses.replace(masked, axes={**masked.axes, "seed": list(range(10_000))})
    assert len(repr(big)) < 1000 and "[0, 1, 2, 3, …, 9999]" in repr(big)


def test_lane_defaults_single_valued_axes(full, masked):
    # One optimiser and one batch size in `full`: lane() does not insist on them.
    short = full.lane(learning_rate=0.3, momentum=0.9)
    long = full.lane(optimizer="sgd", learning_rate=0.3, momentum=0.9, batch_size=None)
    np.testing.assert_array_equal(short.params["mean"], long.params["mean"])
    assert float(short.distance) == float(long.distance)
    with pytest.raises(jaxmle.InputError, match=r"missing optimizer \(one of \['sgd', 'adam'\]\)"):
        masked.lane(learning_rate=0.05, batch_size=7, seed=3)  # two optimisers: must choose
    with pytest.raises(jaxmle.InputError, match=r"'lr', which is not an axis"):
        full.lane(lr=0.3, momentum=0.9)
    with pytest.raises(jaxmle.InputError, match=r"`momentum=0.5` is not on axis 'momentum'"):
        full.lane(learning_rate=0.3, momentum=0.5)


def _assert_results_equal(a: jaxmle.SweepResult, b: jaxmle.SweepResult, exact=True):
    assert a.axes == b.axes
    check = np.testing.assert_array_equal if exact else (
        lambda x, y, err_msg="": np.testing.assert_allclose(x, y, rtol=RTOL, atol=ATOL,
                                                            err_msg=err_msg))  # fmt: skip
    for f in ("loss", "grad_norm", "distance", "converged", "steps_to_tol", "samples_to_tol",
              "diverged", "diverged_step", "status"):  # fmt: skip
        x, y = getattr(a, f), getattr(b, f)
        assert np.asarray(x).dtype == np.asarray(y).dtype, f
        check(x, y, err_msg=f)
    check(a.params["mean"], b.params["mean"], err_msg="params")
    for f in ("step", "loss", "grad_norm"):
        check(getattr(a.trace, f), getattr(b.trace, f), err_msg=f"trace.{f}")
    check(a.trace.params["mean"], b.trace.params["mean"], err_msg="trace.params")


def test_save_load_round_trip(masked, tmp_path):
    path = tmp_path / "study.npz"
    masked.save(path)
    loaded = jaxmle.SweepResult.load(path)
    _assert_results_equal(masked, loaded)
    assert loaded.meta == json.loads(json.dumps(masked.meta))
    assert loaded.meta["batch_groups"] == [[2, 7]]
    assert loaded.timings == masked.timings
    # The loaded result is usable: lane selection by the saved coordinates.
    lane = loaded.lane(optimizer="sgd", learning_rate=0.3, batch_size=2, seed=0)
    np.testing.assert_array_equal(lane.params["mean"], masked.params["mean"][0, 1, 0, 0])


# --------------------------------------------------------------------------------------------
# A small study sharded over 4 simulated CPU devices (6 lanes: padded to 8).

SHARD_GRID = {"learning_rate": [0.05, 0.1, 0.3], "seed": [0, 1], "batch_size": [3]}

_SHARD_SCRIPT = textwrap.dedent(
    """
    import sys
    import jax, jax.numpy as jnp, numpy as np, optax, jaxmle
    assert jax.config.jax_enable_x64 and len(jax.devices()) == 4, jax.devices()
    z = np.load(sys.argv[1])
    model = jaxmle.models.MultivariateGaussian(cov=jnp.asarray(z["sigma"]))
    grid = {"learning_rate": [0.05, 0.1, 0.3], "seed": [0, 1], "batch_size": [3]}
    res = jaxmle.sweep(model, {"mean": jnp.zeros(2)}, z["x"], optimizer={"sgd": optax.sgd},
                       grid=grid, key=jax.random.key(42), steps=24, record_every=4,
                       reference={"mean": jnp.asarray(z["ref"])}, tol=0.4)
    res.save(sys.argv[2])
    """
)


def _shard_sweep(**kw):
    return jaxmle.sweep(MVN, P0, X, optimizer={"sgd": optax.sgd}, grid=kw.pop("grid", SHARD_GRID),
                        key=KEY, **COMMON, **kw)  # fmt: skip


def test_sharded_over_four_devices_equals_one_device(tmp_path):
    data = tmp_path / "data.npz"
    np.savez(data, x=X, sigma=SIGMA, ref=np.asarray(REF["mean"]))
    out = tmp_path / "sharded.npz"
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4",
               JAX_ENABLE_X64="1", JAX_PLATFORMS="cpu")  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", _SHARD_SCRIPT, str(data), str(out)], env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    sharded = jaxmle.SweepResult.load(out)
    assert len(sharded.meta["devices"]) == 4
    local = _shard_sweep()
    assert len(local.meta["devices"]) == 1
    assert sharded.shape == local.shape == (1, 3, 2, 1)
    _assert_results_equal(sharded, local, exact=False)


def test_save_load_axes_given_as_arrays(tmp_path):
    # The design's example sweeps jnp.logspace(...): array-valued axes must round-trip as
    # numbers, and lane() must accept plain floats for them.
    lrs = jnp.asarray(SHARD_GRID["learning_rate"])
    res = _shard_sweep(grid={**SHARD_GRID, "learning_rate": lrs})
    path = tmp_path / "study.npz"
    res.save(path)
    loaded = jaxmle.SweepResult.load(path)
    assert loaded.axes["learning_rate"] == pytest.approx([0.05, 0.1, 0.3], rel=1e-15)
    assert all(isinstance(v, float) for v in loaded.axes["learning_rate"])
    lane = loaded.lane(optimizer="sgd", learning_rate=0.1, seed=1, batch_size=3)
    np.testing.assert_array_equal(lane.params["mean"], res.params["mean"][0, 1, 1, 0])


# --------------------------------------------------------------------------------------------
# Batch-size grouping


def test_plan_masked_and_grouped():
    assert jaxmle.plan_batch_groups([10, 1, 5], 8, 100, "masked") == [[1, 5, 10]]
    assert jaxmle.plan_batch_groups([10, 1, 5], 8, 100, "grouped") == [[1], [5], [10]]


def test_plan_auto_separates_decades():
    # The design document's study: 8 learning rates x 4 seeds per size, 2,000 steps.
    sizes = [1, 5, 10, 100, 1_000, 10_000]
    groups = jaxmle.plan_batch_groups(sizes, 32, 2_000, "auto")
    assert sorted(itertools.chain(*groups)) == sizes
    assert all(g == sorted(g) for g in groups)
    assert not any(1 in g and 10_000 in g for g in groups)
    assert [10_000] in groups


def test_plan_auto_merges_close_sizes():
    assert jaxmle.plan_batch_groups([10, 8, 9], 4, 100, "auto") == [[8, 9, 10]]


def test_plan_auto_is_cost_optimal():
    # Brute force over every split of the sorted sizes into contiguous groups.
    from jaxmle._sweep import COMPILE_COST, ROW_COST

    sizes, lanes, steps = [1, 3, 20, 50, 400, 2_000], 16, 5_000

    def cost(groups):
        return sum(len(g) * lanes * g[-1] * steps * ROW_COST + COMPILE_COST for g in groups)

    best = None
    for cuts in itertools.product([False, True], repeat=len(sizes) - 1):
        groups, cur = [], [sizes[0]]
        for s, cut in zip(sizes[1:], cuts, strict=True):
            if cut:
                groups.append(cur)
                cur = []
            cur.append(s)
        groups.append(cur)
        if best is None or cost(groups) < cost(best):
            best = groups
    got = jaxmle.plan_batch_groups(sizes, lanes, steps, "auto")
    assert cost(got) == pytest.approx(cost(best), rel=1e-12)


def test_plan_bad_strategy():
    with pytest.raises(jaxmle.InputError, match="`strategy`"):
        jaxmle.plan_batch_groups([1, 2], 1, 1, "fastest")


# --------------------------------------------------------------------------------------------
# Bad input


def _bad(id_, match, **kwargs):
    return pytest.param(kwargs, match, id=id_)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        _bad("empty-grid", "`grid`", grid={}),
        _bad("empty-axis", "learning_rate", grid={"learning_rate": []}),
        _bad("repeated-hyper", "repeated", grid={"learning_rate": [0.1, 0.1]}),
        _bad("repeated-seed", "repeated", grid={"learning_rate": [0.1], "seed": [1, 1]}),
        _bad("repeated-batch", "repeated", grid={"learning_rate": [0.1], "batch_size": [2, 2]}),
        _bad("built-in-dict", "optimizer", optimizer={"sgd": optax.sgd(0.1)}),
        _bad("built", "optimizer", optimizer=optax.sgd(0.1)),
        _bad("not-optimizer", "optimizer", optimizer=0.1),
        _bad("batch-over-n", "`batch_size`", grid={"learning_rate": [0.1], "batch_size": [2, 21]},
             replace=False),
        _bad("batch-zero", "`batch_size`", grid={"learning_rate": [0.1], "batch_size": [0]}),
        # A swept hyperparameter that is also fixed would be silently overridden.
        _bad("swept-and-fixed", "learning_rate", grid={"learning_rate": [0.1, 0.2]},
             hyperparams={"learning_rate": 0.5}),
    ],
)  # fmt: skip
def test_bad_input(kwargs, match):
    kw = dict(optimizer=optax.sgd, grid={"learning_rate": [0.1]}, steps=3, key=KEY)
    kw.update(kwargs)
    with pytest.raises(jaxmle.InputError, match=match):
        jaxmle.sweep(MVN, P0, X, **kw)
