"""Durable result files: ``SweepResult`` / ``MonteCarloResult`` ``save``/``load`` and ``_io``.

The oracle for a round trip is the object saved: every array must come back bit for bit with
its dtype, every pytree with its structure (type and key order), every setting equal. A
damaged file of any sort must raise ``jaxmle.FileFormatError`` naming the file. The kill test
SIGKILLs a writer at random moments while it re-saves a 52 MB result over the same path and
checks after each kill that the path holds one of the complete versions (never a partial one).
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import json
import os
import pathlib
import queue
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import optax
import pytest

import jaxmle
from jaxmle import _io, models
from jaxmle._fit import Trace

FIELDS = ("loss", "grad_norm", "distance", "converged", "steps_to_tol", "samples_to_tol",
          "diverged", "diverged_step", "status")  # fmt: skip
MC_ARRAYS = ("truth", "estimates", "mean", "bias", "bias_se", "sd", "sd_se", "cov_empirical",
             "cov_empirical_se", "cov_theory")  # fmt: skip
MC_PER_COV = ("stderr_mean", "cov_mean", "coverage", "coverage_se")
Pair = collections.namedtuple("Pair", "a b")


def _made(params, grid=(2, 3), records=4, meta=None, axes=None):
    """A SweepResult built from numpy arrays (no sweep run), ``params`` leaves ``(*grid, ...)``."""
    rng = np.random.default_rng(0)
    d = len(grid)
    tparams = jax.tree_util.tree_map(
        lambda x: np.repeat(np.expand_dims(np.asarray(x), d), records, axis=d), params
    )
    return jaxmle.SweepResult(
        axes=axes or {"optimizer": ["sgd", "adam"], "learning_rate": [0.1, 1e-3, None]},
        params=params, loss=rng.normal(size=grid), grad_norm=rng.random(grid).astype(np.float32),
        distance=np.full(grid, np.nan), converged=rng.random(grid) < 0.5,
        steps_to_tol=rng.integers(-1, 9, grid), samples_to_tol=rng.integers(-1, 99, grid),
        diverged=np.zeros(grid, bool), diverged_step=np.full(grid, -1, np.int32),
        status=rng.integers(0, 7, grid).astype(np.int32),
        trace=Trace(np.broadcast_to(np.arange(records), (*grid, records)).copy(),
                    rng.normal(size=(*grid, records)), rng.random((*grid, records)), tparams),
        meta={"steps": 8, "tol": None, "devices": ["cpu:0"], **(meta or {})},
        timings={"compile": 0.5, "run": 1.25},
    )  # fmt: skip


def _leaf(shape=(2, 3), dtype=np.float64, seed=1):
    return np.random.default_rng(seed).normal(size=shape).astype(dtype)


def _assert_tree_equal(a, b, where="params"):
    """Same structure (container types, key order); leaves of equal shape, dtype and bits."""
    if isinstance(a, dict | list | tuple) or a is None:
        assert type(a) is type(b), f"{where}: {type(a)} != {type(b)}"
    if isinstance(a, dict):
        assert list(a) == list(b), f"{where}: keys {list(a)} != {list(b)}"
        for k in a:
            _assert_tree_equal(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_tree_equal(x, y, f"{where}[{i}]")
    elif a is not None:
        x, y = np.asarray(a), b
        assert isinstance(y, np.ndarray), f"{where}: {type(y)}"
        assert (x.shape, x.dtype) == (y.shape, y.dtype), f"{where}: {x.dtype} != {y.dtype}"
        assert x.tobytes() == y.tobytes(), where


def _assert_sweep_equal(a, b):
    assert a.axes == b.axes
    assert list(a.axes) == list(b.axes)
    for f in FIELDS:
        x, y = np.asarray(getattr(a, f)), np.asarray(getattr(b, f))
        assert x.dtype == y.dtype, f
        np.testing.assert_array_equal(x, y, err_msg=f)
    _assert_tree_equal(a.params, b.params, "params")
    for f in ("step", "loss", "grad_norm"):
        x, y = np.asarray(getattr(a.trace, f)), np.asarray(getattr(b.trace, f))
        assert x.dtype == y.dtype, f
        np.testing.assert_array_equal(x, y, err_msg=f"trace.{f}")
    _assert_tree_equal(a.trace.params, b.trace.params, "trace.params")
    assert b.meta == json.loads(json.dumps(a.meta, default=str))
    assert b.timings == a.timings


def _assert_mc_equal(a, b):
    for f in MC_ARRAYS:
        x, y = np.asarray(getattr(a, f)), np.asarray(getattr(b, f))
        assert x.dtype == y.dtype, f
        np.testing.assert_array_equal(x, y, err_msg=f)
    for f in MC_PER_COV:
        da, db = getattr(a, f), getattr(b, f)
        assert list(da) == list(db) == list(a.cov_types), f
        for ct in da:
            assert np.asarray(da[ct]).dtype == db[ct].dtype, (f, ct)
            np.testing.assert_array_equal(da[ct], db[ct], err_msg=f"{f}[{ct}]")
    assert b.failed == a.failed and all(type(v) is int for v in b.failed.values())
    assert b.n_valid == a.n_valid and type(b.n_valid) is int
    for f in ("labels", "cov_types", "level", "reps", "model_name"):
        assert getattr(b, f) == getattr(a, f) and type(getattr(b, f)) is type(getattr(a, f)), f


# --------------------------------------------------------------------------------------------
# Real studies (small: a few seconds of compilation each).

SIGMA = 5.0 * np.eye(2)
MVN = models.MultivariateGaussian(cov=jnp.asarray(SIGMA))
X = np.random.default_rng(2).multivariate_normal([1.0, 1.0], SIGMA, 20)


@pytest.fixture(scope="module")
def study():
    return jaxmle.sweep(MVN, {"mean": jnp.zeros(2)}, X, optimizer={"sgd": optax.sgd},
                        grid={"learning_rate": [0.05, 0.3], "seed": [0, 1], "batch_size": [3]},
                        key=jax.random.key(42), steps=8, record_every=4,
                        reference=MVN.closed_form(X), tol=0.4)  # fmt: skip


@pytest.fixture(scope="module")
def mc_study():
    return jaxmle.montecarlo(models.Gaussian(variance=1.0), {"mean": 2.0}, key=jax.random.key(5),
                             reps=50, n=5, cov_types=("sandwich", "hessian"))  # fmt: skip


def test_real_sweep_round_trip(study, tmp_path):
    path = study.save(tmp_path / "study.npz")
    assert path == tmp_path / "study.npz"
    loaded = jaxmle.SweepResult.load(path)
    _assert_sweep_equal(study, loaded)
    lane = loaded.lane(optimizer="sgd", learning_rate=0.3, seed=1, batch_size=3)
    np.testing.assert_array_equal(lane.params["mean"], study.params["mean"][0, 1, 1, 0])
    # The same study in the layout jaxmle wrote before the header (one sweep for both).
    _old_save(study, tmp_path / "old")  # np.savez appended .npz
    _assert_sweep_equal(study, jaxmle.SweepResult.load(tmp_path / "old"))


def test_real_montecarlo_round_trip(mc_study, tmp_path):
    path = mc_study.save(tmp_path / "mc")
    assert path == tmp_path / "mc.npz"
    loaded = jaxmle.MonteCarloResult.load(tmp_path / "mc")
    _assert_mc_equal(mc_study, loaded)
    assert str(loaded) == str(mc_study)


def test_montecarlo_without_covariance_types_round_trip(tmp_path):
    a = _mc_made(cov_types=())
    _assert_mc_equal(a, jaxmle.MonteCarloResult.load(a.save(tmp_path / "mc")))


def _mc_made(cov_types=("HC3", "classical")):
    k, rng = 3, np.random.default_rng(3)
    per = {ct: rng.normal(size=k) for ct in cov_types}
    return jaxmle.MonteCarloResult(
        truth=rng.normal(size=k), estimates=rng.normal(size=(7, k)), mean=rng.normal(size=k),
        bias=rng.normal(size=k), bias_se=rng.random(k), sd=rng.random(k), sd_se=rng.random(k),
        cov_empirical=np.eye(k), cov_empirical_se=np.full((k, k), 0.1),
        cov_theory=np.full((k, k), np.nan), stderr_mean=per,
        cov_mean={ct: np.eye(k) * i for i, ct in enumerate(cov_types)},
        coverage={ct: np.full(k, 0.95) for ct in cov_types},
        coverage_se={ct: np.full(k, 0.01) for ct in cov_types},
        failed={ct: i for i, ct in enumerate(cov_types)}, n_valid=7,
        labels=("coef[0]", "coef[1]", "intercept"), cov_types=cov_types, level=0.9, reps=8,
        model_name="LinearRegression",
    )  # fmt: skip


# --------------------------------------------------------------------------------------------
# Paths and structures.


def test_path_with_or_without_npz_names_the_same_file(tmp_path):
    res = _made({"mean": _leaf()})
    assert res.save(tmp_path / "x") == tmp_path / "x.npz"
    assert res.save(str(tmp_path / "y.npz")) == tmp_path / "y.npz"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npz", "y.npz"]
    for p in ("x", "x.npz", "y", "y.npz"):
        _assert_sweep_equal(res, jaxmle.SweepResult.load(tmp_path / p))
        _assert_sweep_equal(res, jaxmle.SweepResult.load(str(tmp_path / p)))


@pytest.mark.parametrize(
    "params",
    [
        (_leaf(), _leaf(seed=2)),
        [_leaf(), _leaf((2, 3, 4))],
        {"z": {"b": _leaf(), "a": (_leaf(seed=3), None)}, "a": [_leaf((2, 3, 2))], "m": None},
        {"f32": _leaf(dtype=np.float32), "i32": _leaf(dtype=np.int32), "b": _leaf() > 0,
         "bf16": _leaf(dtype=ml_dtypes.bfloat16), "c": _leaf().astype(np.complex128),
         "jax": jnp.asarray(_leaf(seed=4)), "x*y": _leaf(), "it's": _leaf()},
        _leaf(),
    ],
    ids=["tuple", "list", "nested", "dtypes", "bare-leaf"],
)  # fmt: skip
def test_params_keep_their_structure_and_dtypes(params, tmp_path):
    res = _made(params)
    _assert_sweep_equal(res, jaxmle.SweepResult.load(res.save(tmp_path / "s")))


def test_namedtuple_params_come_back_as_dicts(tmp_path):
    res = _made(Pair(_leaf(), {"c": _leaf(seed=2)}))
    loaded = jaxmle.SweepResult.load(res.save(tmp_path / "s"))
    _assert_tree_equal({"a": res.params.a, "b": res.params.b}, loaded.params)
    assert list(loaded.trace.params) == ["a", "b"]


def test_axes_meta_timings_round_trip(tmp_path):
    axes = {"optimizer": ["sgd", "adam"],
            "mixed": [np.float64(0.1), 2, None, jnp.asarray(1e-300), "x", 2.0]}  # fmt: skip
    res = _made({"m": _leaf((2, 6))}, grid=(2, 6), axes=axes,
                meta={"nested": {"x": [1, 2.5, None, "s"]}, "big": 2**60})  # fmt: skip
    loaded = jaxmle.SweepResult.load(res.save(tmp_path / "s"))
    assert loaded.axes == {"optimizer": ["sgd", "adam"], "mixed": [0.1, 2, None, 1e-300, "x", 2.0]}
    assert [type(v) for v in loaded.axes["mixed"]] == [float, int, type(None), float, str, float]
    assert loaded.meta["nested"] == {"x": [1, 2.5, None, "s"]} and loaded.meta["big"] == 2**60
    assert loaded.timings == {"compile": 0.5, "run": 1.25}


def test_object_arrays_are_refused_and_the_old_file_kept(tmp_path):
    good = _made({"m": _leaf()})
    path = good.save(tmp_path / "s")
    before = path.read_bytes()
    bad = _made({"m": np.array([[object()] * 3] * 2)})
    with pytest.raises(jaxmle.InputError, match="Python objects"):
        bad.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["s.npz"]


# --------------------------------------------------------------------------------------------
# The layout SweepResult.save wrote before the jaxmle header (its code, verbatim but for names).


def _old_json(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def _old_save(self, path, status=True):
    leaves, treedef = jax.tree_util.tree_flatten(self.params)
    tleaves, _ = jax.tree_util.tree_flatten(self.trace.params)
    keys = [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(
        self.params)[0]]  # fmt: skip
    header = {"axes": self.axes, "meta": self.meta, "timings": self.timings,
              "param_keys": keys, "treedef": str(treedef)}  # fmt: skip
    arrays = {f: getattr(self, f) for f in FIELDS if status or f != "status"}
    arrays.update({f"param_{i}": np.asarray(x) for i, x in enumerate(leaves)})
    arrays.update({f"trace_param_{i}": np.asarray(x) for i, x in enumerate(tleaves)})
    arrays.update({f"trace_{f}": np.asarray(getattr(self.trace, f))
                   for f in ("step", "loss", "grad_norm")})  # fmt: skip
    arrays["header"] = np.frombuffer(json.dumps(header, default=_old_json).encode(), np.uint8)
    np.savez(pathlib.Path(path), **arrays)


def test_old_layout_without_status_derives_it(tmp_path):
    res = _made({"mean": _leaf()})
    res.converged = np.array([[True, False, False], [False, True, False]])
    res.diverged = np.array([[False, True, False], [False, False, True]])
    _old_save(res, tmp_path / "old.npz", status=False)
    loaded = jaxmle.SweepResult.load(tmp_path / "old.npz")
    np.testing.assert_array_equal(loaded.status, [[0, 1, 6], [6, 0, 1]])
    assert loaded.status.dtype == np.int32


@pytest.mark.parametrize(
    "params, expected_keys",
    [
        ((_leaf(), _leaf(seed=2)), None),
        ({"z": _leaf(), "a": [_leaf(seed=2), None], "x*y": _leaf(), "it's": _leaf()}, None),
        (Pair(_leaf(), _leaf(seed=2)), [".a", ".b"]),  # not rebuilt: the flat dict of old
    ],
    ids=["tuple", "dict-sorted", "namedtuple-flat"],
)
def test_old_layout_structure_is_rebuilt_from_the_treedef(params, expected_keys, tmp_path):
    res = _made(params)
    _old_save(res, tmp_path / "old.npz")
    loaded = jaxmle.SweepResult.load(tmp_path / "old.npz")
    if expected_keys is None:  # jax's order: dict keys sorted
        _assert_tree_equal(_sorted_dicts(res.params), loaded.params)
        _assert_tree_equal(_sorted_dicts(res.trace.params), loaded.trace.params, "trace")
    else:
        assert list(loaded.params) == expected_keys
        for k, x in zip(expected_keys, jax.tree_util.tree_leaves(res.params), strict=True):
            np.testing.assert_array_equal(loaded.params[k], x)


def _sorted_dicts(t):
    if isinstance(t, dict):
        return {k: _sorted_dicts(t[k]) for k in sorted(t)}
    if isinstance(t, list | tuple):
        return type(t)(_sorted_dicts(v) for v in t)
    return t


# --------------------------------------------------------------------------------------------
# Damaged, foreign and missing files.


def _raises_naming(path, load, match=""):
    with pytest.raises(jaxmle.FileFormatError, match=re.escape(str(path)) + ".*" + match):
        load(path)


@pytest.fixture(scope="module")
def good_bytes(tmp_path_factory):
    p = _made({"mean": _leaf((2, 3, 50))}).save(tmp_path_factory.mktemp("g") / "good")
    return p.read_bytes()


LOADERS = [jaxmle.SweepResult.load, jaxmle.MonteCarloResult.load]


@pytest.mark.parametrize("load", LOADERS, ids=["sweep", "mc"])
def test_truncated_files(good_bytes, load, tmp_path):
    n = len(good_bytes)
    for cut in sorted({0, 1, 10, 100, n // 3, n // 2, n - 1000, n - 100, n - 22, n - 1}):
        p = tmp_path / f"cut{cut}.npz"
        p.write_bytes(good_bytes[:cut])
        _raises_naming(p, load)


@pytest.mark.parametrize("load", LOADERS, ids=["sweep", "mc"])
def test_damaged_foreign_and_missing_files(good_bytes, load, tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "random.npz").write_bytes(rng.bytes(5000))
    (tmp_path / "empty.npz").write_bytes(b"")
    np.savez(tmp_path / "foreign.npz", a=np.arange(3))
    (tmp_path / "text.npz").write_text(json.dumps({"format": "jaxmle", "kind": "SweepResult"}))
    np.save(tmp_path / "array.npy", np.arange(3))
    os.replace(tmp_path / "array.npy", tmp_path / "array.npz")
    flipped = bytearray(good_bytes)
    flipped[len(flipped) // 2] ^= 0xFF  # inside the params array: the zip CRC catches it
    (tmp_path / "flipped.npz").write_bytes(bytes(flipped))
    for name in ("random", "empty", "foreign", "text", "array", "flipped"):
        _raises_naming(tmp_path / f"{name}.npz", load)
    _raises_naming(tmp_path / "missing.npz", load, "no such file")
    _raises_naming(tmp_path / "missing", load, "no such file")
    (tmp_path / "dir.npz").mkdir()
    _raises_naming(tmp_path / "dir.npz", load)


def test_wrong_kind_and_newer_version(tmp_path):
    s = _made({"m": _leaf()}).save(tmp_path / "sweep")
    m = _mc_made().save(tmp_path / "mc")
    _raises_naming(s, jaxmle.MonteCarloResult.load, "'SweepResult', not a 'MonteCarloResult'")
    _raises_naming(m, jaxmle.SweepResult.load, "'MonteCarloResult', not a 'SweepResult'")
    newer = _io.save_arrays(tmp_path / "newer", {}, {}, kind="SweepResult", version=2)
    _raises_naming(newer, jaxmle.SweepResult.load, "newer jaxmle")
    missing_leaf = _io.save_arrays(tmp_path / "half", {}, {"axes": {}}, kind="SweepResult")
    _raises_naming(missing_leaf, jaxmle.SweepResult.load, "damaged")
    half_mc = _io.save_arrays(tmp_path / "half_mc", {}, {}, kind="MonteCarloResult")
    _raises_naming(half_mc, jaxmle.MonteCarloResult.load, "damaged")


def test_damaged_old_layout(tmp_path):
    np.savez(tmp_path / "old.npz", header=np.frombuffer(b'{"param_keys": ["x"]', np.uint8))
    _raises_naming(tmp_path / "old.npz", jaxmle.SweepResult.load, "older layout")


# --------------------------------------------------------------------------------------------
# _io units.


def test_atomic_open_leaves_the_target_untouched_when_the_block_raises(tmp_path):
    p = tmp_path / "t.txt"
    _io.atomic_write_text(p, "old")
    with pytest.raises(RuntimeError), _io.atomic_open(p, "w") as f:
        f.write("new, half")
        raise RuntimeError("boom")
    assert p.read_text() == "old"
    assert [q.name for q in tmp_path.iterdir()] == ["t.txt"]  # the temporary is gone
    with pytest.raises(KeyboardInterrupt), _io.atomic_open(tmp_path / "fresh.bin") as f:
        f.write(b"x")
        raise KeyboardInterrupt
    assert [q.name for q in tmp_path.iterdir()] == ["t.txt"]


def test_atomic_open_keeps_permissions_and_uses_the_umask(tmp_path):
    p = _io.atomic_write_text(tmp_path / "new.txt", "a")
    umask = os.umask(0o022)
    os.umask(umask)
    assert p.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600
    p.chmod(0o640)
    _io.atomic_write_text(p, "b")
    assert p.stat().st_mode & 0o777 == 0o640


def test_stale_temporaries_are_removed_live_and_newer_ones_kept(tmp_path):
    target = tmp_path / "s.npz"
    stale, live, newer = (tmp_path / f".s.npz.tmp-{n}" for n in ("dead", "live", "new"))
    other = tmp_path / ".t.npz.tmp-dead"  # another target's: not ours to remove
    for q in (stale, live, newer, other):
        q.write_bytes(b"partial")
    old = time.time() - 60
    for q in (stale, live, other):
        os.utime(q, (old, old))
    os.utime(newer, (time.time() + 60, time.time() + 60))
    fd = os.open(live, os.O_RDWR)  # a writer still at work holds its lock
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        _made({"m": _leaf()}).save(target)
    finally:
        os.close(fd)
    assert sorted(q.name for q in tmp_path.iterdir()) == sorted(
        [target.name, live.name, newer.name, other.name]
    )


def test_tree_spec_round_trips():
    tree = {"z": (1, [2, None, {"b": 3, "a": 4}]), "a": None, "n": Pair(5, (6,)), "l": []}
    spec = _io.tree_spec(tree)
    assert json.loads(json.dumps(spec)) == spec
    leaves = _io.spec_leaves(tree)
    assert leaves == [1, 2, 3, 4, 5, 6]
    back = _io.tree_from_spec(json.loads(json.dumps(spec)), leaves)
    assert back == {"z": (1, [2, None, {"b": 3, "a": 4}]), "a": None, "n": {"a": 5, "b": (6,)},
                    "l": []}  # fmt: skip
    assert list(back) == ["z", "a", "n", "l"] and list(back["z"][1][2]) == ["b", "a"]
    assert _io.tree_from_spec(_io.tree_spec(7), [7]) == 7
    assert _io.tree_from_spec(_io.tree_spec(None), []) is None


def test_save_arrays_keeps_extension_dtypes_bit_for_bit(tmp_path):
    arrays = {"bf16": np.array([1.5, -0.0, np.inf, np.nan], ml_dtypes.bfloat16),
              "f8": np.array([0.5, 2.0], ml_dtypes.float8_e4m3fn),
              "u8": np.arange(4, dtype=np.uint8), "nested/name": np.zeros(())}  # fmt: skip
    p = _io.save_arrays(tmp_path / "a", arrays, {"x": 1}, kind="Demo")
    header, back = _io.load_arrays(p, kind="Demo")
    assert header == {"format": "jaxmle", "kind": "Demo", "version": 1, "x": 1}
    assert list(back) == list(arrays)
    for k, a in arrays.items():
        assert back[k].dtype == a.dtype, k
        assert back[k].tobytes() == a.tobytes(), k


# --------------------------------------------------------------------------------------------
# SIGKILL while re-saving a 52 MB result over the same path.

BIG = 6_500_000  # float64 elements: 52 MB

_MAKE = textwrap.dedent(
    """
    import numpy as np
    import jaxmle
    from jaxmle._fit import Trace

    _BIG = {}

    def big_array(v, n):
        # Version v marks every 1000th element: cheap to make (the writer is in a save nearly
        # all the time), and a file mixing two versions' bytes would not match either.
        big = _BIG.setdefault(n, np.arange(n, dtype=np.float64))
        big[::1000] = v
        return big

    def make(v, n):
        z, r = np.zeros((1, 2)), np.zeros((1, 2, 3))
        return jaxmle.SweepResult(
            axes={"optimizer": ["sgd"], "learning_rate": [0.1, 0.2]},
            params={"big": big_array(v, n).reshape(1, 2, -1)},
            loss=z, grad_norm=z, distance=z, converged=z > 0, steps_to_tol=z.astype(int),
            samples_to_tol=z.astype(int), diverged=z > 0, diverged_step=z.astype(int),
            status=z.astype(np.int32), trace=Trace(r.astype(int), r, r, {"big": r[..., None]}),
            meta={"version": v}, timings={})
    """
)

_WRITER = _MAKE + textwrap.dedent(
    """
    import os, sys

    path, n = sys.argv[1], int(sys.argv[2])

    # A fork server: jaxmle is imported once; each round's writer is a fresh child the test
    # kills. No JAX computation runs, so forking is safe.
    for line in sys.stdin:
        k = int(line)
        pid = os.fork()
        if pid == 0:
            try:
                for j in range(1, 1000):
                    v = 1000 * k + j
                    res = make(v, n)
                    print("saving", v, flush=True)
                    res.save(path)
                    print("saved", v, flush=True)
            finally:
                os._exit(0)
        print("pid", pid, flush=True)
        os.waitpid(pid, 0)
        print("reaped", k, flush=True)
    """
)


def _check_version(path, allowed, big_array):
    res = jaxmle.SweepResult.load(path)
    v = res.meta["version"]
    assert v in allowed, (v, allowed)
    assert res.params["big"].dtype == np.float64
    assert np.array_equal(res.params["big"].ravel(), big_array(v, BIG))
    return v


def test_sigkill_during_resave_leaves_a_complete_file(tmp_path):
    path = tmp_path / "big.npz"
    ns: dict = {}
    exec(_MAKE, ns)
    ns["make"](0, BIG).save(path)  # the good file the first kill's re-save goes over
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(path), str(BIG)], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip
    lines: queue.Queue = queue.Queue()

    def read():
        for s in proc.stdout:
            lines.put(s.split())

    threading.Thread(target=read, daemon=True).start()

    def next_line(timeout=60.0):
        try:
            return lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("the writer went silent") from None

    rng = np.random.default_rng(0)
    rounds, last_saved, min_size, kills_mid_save, pid = 5, 0, None, 0, None
    try:
        for k in range(rounds):
            proc.stdin.write(f"{k}\n")
            proc.stdin.flush()
            pid, saving = None, None
            while pid is None or saving is None:  # the writer's pid and its first "saving"
                word, n = next_line()
                if word == "pid":
                    pid = int(n)
                elif word == "saving":
                    saving = int(n)
            # Stratified delays (a save takes ~0.3 s): kills land in the first re-save and in
            # later ones, in the write, the fsync, the rename and the clean-up.
            deadline = time.monotonic() + rng.uniform(k, k + 1) * 0.8 / rounds * 1.5
            while time.monotonic() < deadline:
                size = path.stat().st_size  # the target never disappears or shrinks
                min_size = size if min_size is None else min(min_size, size)
                time.sleep(0.002)
            os.kill(pid, signal.SIGKILL)
            # (A SIGKILL lands when the child's write or fsync of 52 MB returns: on a busy
            # disk that took over 60 s once in CI.)
            while (msg := next_line(timeout=300.0))[0] != "reaped":
                if msg[0] == "saved":
                    last_saved = int(msg[1])
                elif msg[0] == "saving":
                    saving = int(msg[1])
            pid = None
            kills_mid_save += last_saved != saving
            # After the kill: the version being written or the last one completed, whole.
            last_saved = _check_version(path, {saving, last_saved}, ns["big_array"])
            names = [q.name for q in tmp_path.iterdir()]
            assert "big.npz" in names
            assert all(q == "big.npz" or q.startswith(".big.npz.tmp-") for q in names), names
    finally:
        if pid is not None:  # a failed check: stop the writer still saving (if it still is)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.stdin.close()
        proc.wait(timeout=60)
    assert min_size is not None and min_size > 8 * BIG  # never a partial target
    assert kills_mid_save >= 1  # the test did interrupt saves
    # The next save clears the killed writers' temporaries.
    _made({"m": _leaf()}).save(path)
    assert [q.name for q in tmp_path.iterdir()] == ["big.npz"]
