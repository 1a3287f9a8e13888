"""Checkpointed studies: interrupted anywhere, resumed bit for bit; mismatches refused.

In-process interruptions (an exception from the progress callback) check the resume logic
of fit, sweep and montecarlo cheaply; a subprocess SIGKILLed at random moments, once inside
a checkpoint write, checks that nothing a kill can do leaves an unusable checkpoint.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import textwrap
import threading
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxmle
from jaxmle import _checkpoint

X = np.random.default_rng(0).normal(1.0, 2.0, (300, 2))
MVN = jaxmle.models.MultivariateGaussian(cov=5.0 * jnp.eye(2))
P0 = {"mean": jnp.zeros(2)}
REF = {"mean": jnp.asarray(X.mean(0))}
FIT = dict(optimizer=optax.adam, hyperparams={"learning_rate": 0.05}, steps=400, batch_size=8,
           key=jax.random.key(1), reference=REF)  # fmt: skip
SWEEP = dict(optimizer={"sgd": optax.sgd, "adam": optax.adam},
             grid={"learning_rate": [0.02, 0.2], "batch_size": [4, 32], "seed": [0, 1]},
             steps=300, record_every=10, key=jax.random.key(2), reference=REF,
             max_rows_per_step=64)  # fmt: skip
LINREG = jaxmle.models.LinearRegression()
TRUTH = {"intercept": 0.5, "coef": np.array([1.0, -1.0]), "variance": 2.0}
XD = np.random.default_rng(1).normal(size=(20, 2))
MC = dict(key=jax.random.key(3), reps=200, X=XD, cov_types=("classical",), batch_size=8)


class StopError(Exception):
    pass


def _stop_after(k: int):
    calls = [0]

    def progress(done, total):
        calls[0] += 1
        if calls[0] == k:
            raise StopError

    return progress


def _leaves_equal(a, b) -> None:
    la, lb = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
    assert len(la) == len(lb)
    for u, v in zip(la, lb, strict=True):
        np.testing.assert_array_equal(np.asarray(u), np.asarray(v))


def _sweep_equal(a: jaxmle.SweepResult, b: jaxmle.SweepResult) -> None:
    for f in ("params", "loss", "grad_norm", "distance", "converged", "steps_to_tol", "status",
              "diverged", "trace"):  # fmt: skip
        _leaves_equal(getattr(a, f), getattr(b, f))


@pytest.fixture(scope="module")
def plain_fit():
    return jaxmle.fit(MVN, P0, X, **FIT)


@pytest.fixture(scope="module")
def plain_sweep():
    return jaxmle.sweep(MVN, P0, X, **SWEEP)


def test_fit_interrupted_then_resumed_is_bit_identical(tmp_path, plain_fit):
    ck = tmp_path / "fit"
    with pytest.raises(StopError):
        jaxmle.fit(MVN, P0, X, checkpoint=ck, progress=_stop_after(4), **FIT)
    seen = []
    res = jaxmle.fit(MVN, P0, X, checkpoint=ck, progress=lambda d, t: seen.append(d), **FIT)
    assert seen[0] == 160 and seen[-1] == 400  # resumed after the 4th of 10 chunks
    _leaves_equal(res, plain_fit)
    again = jaxmle.fit(MVN, P0, X, checkpoint=ck, **FIT)  # finished: read back
    _leaves_equal(again, plain_fit)


def test_sweep_interrupted_then_resumed_is_bit_identical(tmp_path, plain_sweep):
    ck = tmp_path / "sweep"
    with pytest.raises(StopError):  # stops inside the second lane block of the first program
        jaxmle.sweep(MVN, P0, X, checkpoint=ck, progress=_stop_after(14), **SWEEP)
    saved = sorted(p.name for p in ck.glob("block-*.npz"))
    assert saved and len(saved) < 8
    res = jaxmle.sweep(MVN, P0, X, checkpoint=ck, **SWEEP)
    assert res.meta["checkpoint"]["resumed"]
    _sweep_equal(res, plain_sweep)
    t0 = time.perf_counter()
    again = jaxmle.sweep(MVN, P0, X, checkpoint=ck, **SWEEP)
    _sweep_equal(again, plain_sweep)
    assert time.perf_counter() - t0 < 30  # read back, nothing re-run


def test_montecarlo_resumes_missing_chunks_bit_identically(tmp_path):
    plain = jaxmle.montecarlo(LINREG, TRUTH, **MC)
    ck = tmp_path / "mc"
    first = jaxmle.montecarlo(LINREG, TRUTH, checkpoint=ck, **MC)
    chunks = sorted(ck.glob("chunk-*.npz"))
    assert len(chunks) >= 5
    for p in chunks[0], chunks[3]:  # as if killed before these were written
        p.unlink()
    resumed = jaxmle.montecarlo(LINREG, TRUTH, checkpoint=ck, **MC)
    for r in (first, resumed):
        np.testing.assert_array_equal(r.estimates, plain.estimates)
        np.testing.assert_array_equal(r.cov_theory, plain.cov_theory)
        np.testing.assert_array_equal(r.coverage["classical"], plain.coverage["classical"])
        np.testing.assert_array_equal(r.stderr_mean["classical"], plain.stderr_mean["classical"])


@pytest.mark.parametrize(
    ("change", "named"),
    [({"steps": 200}, "steps"), ({"hyperparams": {"learning_rate": 0.01}}, "optimizer"),
     ({"key": jax.random.key(9)}, "inputs"), ({"batch_size": 16}, "batch_size")],
)  # fmt: skip
def test_fit_resume_with_other_settings_is_refused(tmp_path, change, named):
    ck = tmp_path / "fit"
    jaxmle.fit(MVN, P0, X, checkpoint=ck, **{**FIT, "steps": 40})
    with pytest.raises(jaxmle.CheckpointMismatchError, match=named):
        jaxmle.fit(MVN, P0, X, checkpoint=ck, **{**FIT, "steps": 40, **change})


def test_other_data_and_other_kind_are_refused(tmp_path):
    ck = tmp_path / "c"
    jaxmle.fit(MVN, P0, X, checkpoint=ck, **{**FIT, "steps": 40})
    with pytest.raises(jaxmle.CheckpointMismatchError, match="inputs"):
        jaxmle.fit(MVN, P0, X + 1.0, checkpoint=ck, **{**FIT, "steps": 40})
    with pytest.raises(jaxmle.CheckpointMismatchError, match="fit study, not a sweep"):
        jaxmle.sweep(MVN, P0, X, checkpoint=ck, **SWEEP)


def test_damaged_checkpoint_files_name_the_file(tmp_path):
    ck = tmp_path / "c"
    jaxmle.fit(MVN, P0, X, checkpoint=ck, **{**FIT, "steps": 40})
    (ck / "current.npz").write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(jaxmle.FileFormatError, match=r"current\.npz"):
        jaxmle.fit(MVN, P0, X, checkpoint=ck, **{**FIT, "steps": 40})
    (ck / "manifest.json").write_text("{")
    with pytest.raises(jaxmle.FileFormatError, match=r"manifest\.json"):
        jaxmle.fit(MVN, P0, X, checkpoint=ck, **{**FIT, "steps": 40})


def test_describe_tells_optimiser_settings_apart():
    d = _checkpoint.describe_digest
    assert d(optax.adam(1e-2)) != d(optax.adam(1e-3))
    assert d(optax.adam(1e-2)) == d(optax.adam(1e-2))
    assert d(optax.adam) != d(optax.sgd)
    sched = optax.exponential_decay(0.1, 100, 0.5)
    assert d(optax.adam(sched)) == d(optax.adam(optax.exponential_decay(0.1, 100, 0.5)))
    # Whatever the in-process key (jaxmle._canonical.canonical) tells apart, so does this one.
    different = [
        (optax.adam(1), optax.adam(1.0)),
        (optax.lbfgs(memory_size=5), optax.lbfgs(memory_size=6)),
        (optax.sgd(lambda c: 0.1), optax.sgd(lambda c: 0.2)),  # the same bytecode
        (optax.sgd(lambda c: jnp.sin(c)), optax.sgd(lambda c: jnp.cos(c))),  # other names
        (optax.sgd(jnp.asarray(0.1)), optax.sgd(jnp.asarray(0.2))),
        tuple(optax.sgd((lambda r: lambda c: r)(v)) for v in (0.1, 0.2)),  # closed-over values
        tuple(optax.sgd(lambda c, v=v: v) for v in (0.1, 0.2)),  # defaults
        (MVN, jaxmle.models.MultivariateGaussian(cov=4.0 * jnp.eye(2))),
    ]  # fmt: skip
    for a, b in different:
        assert d(a) != d(b)


_RATE = 0.1


def test_describe_reads_globals_and_refuses_what_it_cannot_identify(tmp_path):
    global _RATE
    d = _checkpoint.describe_digest
    a = d(optax.sgd(lambda c: _RATE))
    _RATE = 0.2  # the same function text now means another rate
    try:
        assert d(optax.sgd(lambda c: _RATE)) != a
    finally:
        _RATE = 0.1
    lock = threading.Lock()  # C-level state: no description survives into another process
    opt = optax.sgd(lambda c: 0.1 if lock.locked() else 0.2)
    assert d(opt).startswith("unidentifiable: ") and "lock" in d(opt)
    ck = tmp_path / "c"
    with pytest.raises(jaxmle.InputError, match="`optimizer` cannot be identified"):
        jaxmle.fit(MVN, P0, X, checkpoint=ck, **{**FIT, "optimizer": opt, "hyperparams": None,
                                                 "steps": 40})  # fmt: skip
    assert not (ck / "manifest.json").exists()  # refused before anything ran or was written


@pytest.mark.parametrize(
    ("then", "now", "named"),
    [({"optimizer": optax.sgd(lambda c: 0.1)}, {"optimizer": optax.sgd(lambda c: 0.2)},
      "optimizer"),
     ({"optimizer": optax.sgd(lambda c: 0.1 * jnp.sin(c + 1.0))},
      {"optimizer": optax.sgd(lambda c: 0.1 * jnp.cos(c + 1.0))}, "optimizer"),
     # Two lambdas (the same name and bytecode) that differ in one constant.
     ({"model": lambda p, x: -0.5 * jnp.sum((x - p["mean"]) ** 2, axis=-1) / 5.0},
      {"model": lambda p, x: -0.5 * jnp.sum((x - p["mean"]) ** 2, axis=-1) / 4.0}, "model")],
    ids=["schedule-constant", "sin-cos", "log_prob-constant"],
)  # fmt: skip
def test_resume_with_a_setting_that_differs_only_in_code_is_refused(tmp_path, then, now, named):
    kw = {**FIT, "hyperparams": None, "optimizer": optax.sgd(0.05), "steps": 40}
    ck = tmp_path / "c"
    then, now = dict(then), dict(now)
    jaxmle.fit(then.pop("model", MVN), P0, X, checkpoint=ck, **{**kw, **then})
    with pytest.raises(jaxmle.CheckpointMismatchError, match=f"{named}: "):
        jaxmle.fit(now.pop("model", MVN), P0, X, checkpoint=ck, **{**kw, **now})


def test_manifest_of_an_older_jaxmle_is_refused_clearly(tmp_path):
    ck = tmp_path / "c"
    jaxmle.fit(MVN, P0, X, checkpoint=ck, **{**FIT, "steps": 40})
    body = json.loads((ck / "manifest.json").read_text())
    assert body["version"] == _checkpoint.MANIFEST_VERSION
    (ck / "manifest.json").write_text(json.dumps({**body, "version": 1}))
    with pytest.raises(jaxmle.CheckpointMismatchError, match=r"older jaxmle.*delete the folder"):
        jaxmle.fit(MVN, P0, X, checkpoint=ck, **{**FIT, "steps": 40})


# A study resumed by a new process (another hash seed): the same source builds an equal
# optimiser and log_prob, whose digests must match the ones the first process wrote.
_RESUMER = textwrap.dedent(
    """
    import os, sys
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp, numpy as np, optax, jaxmle

    def log_prob(params, x):
        return -0.5 * jnp.sum((x - params["mean"]) ** 2, axis=-1) / 5.0

    class Stop(Exception):
        pass

    def progress(done, total):
        print("DONE", done, flush=True)
        if done == int(os.environ.get("STOP", "0")):
            raise Stop

    x = np.random.default_rng(0).normal(1.0, 2.0, (60, 2))
    kw = dict(optimizer=optax.sgd(lambda c: 0.05 * jnp.cos(c / 100.0)), steps=60, batch_size=8,
              key=jax.random.key(1), chunk_records=10)
    p0 = {"mean": jnp.zeros(2)}
    try:
        res = jaxmle.fit(log_prob, p0, x, checkpoint=sys.argv[1], progress=progress, **kw)
    except Stop:
        sys.exit(0)
    plain = jaxmle.fit(log_prob, p0, x, **kw)
    print("SAME", bool(np.array_equal(res.params["mean"], plain.params["mean"])), flush=True)
    """
)


def test_an_equal_study_in_a_new_process_resumes(tmp_path):
    ck = tmp_path / "ck"
    env = dict(os.environ, JAX_PLATFORMS="cpu",  # the second process compiles nothing
               JAX_COMPILATION_CACHE_DIR=str(tmp_path / "xla-cache"),
               JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0")  # fmt: skip
    cmd = [sys.executable, "-c", _RESUMER, str(ck)]
    first = subprocess.run(cmd, env={**env, "STOP": "20", "PYTHONHASHSEED": "1"},
                           capture_output=True, text=True, timeout=300)  # fmt: skip
    assert first.returncode == 0 and "DONE 20" in first.stdout, first.stderr[-3000:]
    second = subprocess.run(cmd, env={**env, "PYTHONHASHSEED": "2"}, capture_output=True,
                            text=True, timeout=300)  # fmt: skip
    assert second.returncode == 0, second.stderr[-3000:]
    done = [int(line.split()[1]) for line in second.stdout.splitlines() if line[:4] == "DONE"]
    assert done == [20, 30, 40, 50, 60]  # resumed at step 20 (a fresh start reports 10 first)
    assert "SAME True" in second.stdout


# --------------------------------------------------------------------------------------------
# SIGKILL at random moments (one inside a checkpoint write), then resume.

_CHILD = textwrap.dedent(
    """
    import contextlib, os, sys, time
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp, numpy as np, optax, jaxmle
    from jaxmle import _io
    import threading

    def say(line):  # one write per line: print's text and newline could interleave across threads
        sys.stdout.write(line + "\\n")
        sys.stdout.flush()

    slow = int(os.environ.get("SLOW_WRITE", "0"))
    wrote = threading.Event()  # a block write has finished
    if slow:  # the slow-th block write stalls halfway through its bytes
        orig, count = _io.atomic_open, [0]

        @contextlib.contextmanager
        def stalling(path, mode="wb"):
            with orig(path, mode) as f:
                if "block-" in str(path):
                    count[0] += 1
                if count[0] != slow or "block-" not in str(path):
                    yield f
                    if "block-" in str(path):
                        wrote.set()
                    return

                class W:
                    n = 0
                    def write(self, b):
                        W.n += 1
                        if W.n == 3:
                            say("IN_WRITE")
                            time.sleep(30)
                        return f.write(b)
                    def __getattr__(self, k):
                        return getattr(f, k)

                yield W()
        _io.atomic_open = stalling

    def progress(done, total):
        # A busy main thread can starve the writer until every queued write of a block has
        # been replaced by the last: with a stalled write to reach, wait for the first one.
        if slow:
            wrote.wait(60)
        say(f"CHUNK {done}")

    x = np.random.default_rng(0).normal(1.0, 2.0, (300, 2))
    model = jaxmle.models.MultivariateGaussian(cov=5.0 * jnp.eye(2))
    res = jaxmle.sweep(model, {"mean": jnp.zeros(2)}, x,
                       optimizer={"sgd": optax.sgd, "adam": optax.adam},
                       grid={"learning_rate": [0.02, 0.2], "batch_size": [4, 32], "seed": [0, 1]},
                       steps=3000, record_every=10, key=jax.random.key(2),
                       reference={"mean": jnp.asarray(x.mean(0))}, max_rows_per_step=64,
                       checkpoint=sys.argv[1], chunk_records=10,
                       progress=progress)
    res.save(sys.argv[2])
    print("DONE", flush=True)
    """
)


def _child(args, env):
    return subprocess.Popen([sys.executable, "-c", _CHILD, *map(str, args)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


def _kill_after(proc, marker: str, count: int, delay: float) -> bool:
    """SIGKILLs ``proc`` ``delay`` s after its ``count``-th ``marker`` line; False if it ended."""
    seen = 0
    for line in proc.stdout:
        if marker in line:
            seen += 1
            if seen >= count:
                time.sleep(delay)
                proc.kill()
                proc.wait()
                return True
    proc.wait()
    return False


def test_sigkill_at_random_moments_then_resume_is_bit_identical(tmp_path):
    env = dict(os.environ, JAX_PLATFORMS="cpu",
               JAX_COMPILATION_CACHE_DIR=str(tmp_path / "xla-cache"),
               JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0")  # fmt: skip
    ck, out = tmp_path / "ck", tmp_path / "result.npz"
    rng = random.Random(0)
    # A kill inside a block file's write: the previous version of that file stays whole.
    proc = _child([ck, out], {**env, "SLOW_WRITE": "2"})
    assert _kill_after(proc, "IN_WRITE", 1, 0.0)
    assert list(ck.glob(".block-*.tmp-*")), "the stalled write's temporary file"
    kills = 1
    for _ in range(3):  # then at random moments between and during chunks
        proc = _child([ck, out], env)
        if _kill_after(proc, "CHUNK", rng.randint(1, 6), rng.uniform(0.0, 0.05)):
            kills += 1
    proc = _child([ck, out], env)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0 and "DONE" in stdout, stderr[-3000:]
    assert kills >= 3
    resumed = jaxmle.SweepResult.load(out)
    assert resumed.meta["checkpoint"]["resumed"]
    plain = jaxmle.sweep(MVN, P0, X, **{**SWEEP, "steps": 3000})
    _sweep_equal(resumed, plain)


def test_progress_reports_finished_work():
    # The callback fires when a chunk's results exist, not when it was dispatched: the last
    # report comes after (nearly) all the run's time, not at its start.
    kw = {**FIT, "steps": 20_000, "batch_size": 256, "chunk_records": 25}
    jaxmle.fit(MVN, P0, X, **kw)  # compile
    calls = []
    t0 = time.perf_counter()
    res = jaxmle.fit(MVN, P0, X, progress=lambda d, t: calls.append((d, time.perf_counter())),
                     **kw)  # fmt: skip
    jax.block_until_ready(res)
    total = time.perf_counter() - t0
    assert [d for d, _ in calls] == [5000, 10000, 15000, 20000]
    assert calls[-1][1] - t0 > 0.6 * total
    assert calls[0][1] - t0 > 0.1 * total
