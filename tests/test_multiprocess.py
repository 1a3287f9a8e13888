"""Studies on two processes (JAX's distributed runtime on localhost, gloo collectives).

A sweep's lanes are sharded over the global mesh (one CPU device per process); a Monte Carlo
study's chunks are dealt out to the processes. Both must give every process the whole result
and the same numbers as one process: bit for bit against one process with the same number of
devices (the same lane layout), and to rounding against one device.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import jaxmle.distributed as dist

# The study, defined once: run by the workers (as a script) and by the test (exec'd).
_DEFS = textwrap.dedent(
    """
    import jax, jax.numpy as jnp, numpy as np, optax, jaxmle

    def run(ckpt):
        x = np.random.default_rng(0).normal(1.0, 2.0, (200, 2))
        model = jaxmle.models.MultivariateGaussian(cov=5.0 * jnp.eye(2))
        res = jaxmle.sweep(model, {"mean": jnp.zeros(2)}, x,
                           optimizer={"sgd": optax.sgd, "adam": optax.adam},
                           grid={"learning_rate": [0.05, 0.2, 0.5], "batch_size": [4, 16]},
                           steps=60, record_every=5, key=jax.random.key(7),
                           reference={"mean": jnp.asarray(x.mean(0))}, checkpoint=ckpt)
        X = np.random.default_rng(1).normal(size=(20, 2))
        mc = jaxmle.montecarlo(jaxmle.models.LinearRegression(),
                               {"intercept": 0.5, "coef": np.array([1.0, -1.0]), "variance": 2.0},
                               key=jax.random.key(3), reps=300, X=X, cov_types=("classical",),
                               batch_size=16, checkpoint=None if ckpt is None else ckpt + "-mc")
        return res, mc
    """
)

_STUDY = textwrap.dedent(
    """
    import os, sys
    import jax
    if os.environ.get("JAXMLE_NUM_PROCESSES"):
        import jaxmle.distributed as dist
        dist.initialize()
    jax.config.update("jax_enable_x64", True)
    """
) + _DEFS + textwrap.dedent(
    """
    out, ckpt = sys.argv[1], sys.argv[2]
    res, mc = run(None if ckpt == "-" else ckpt)
    if jax.process_index() == 0:
        np.savez(out, params=res.params["mean"], loss=res.loss, status=res.status,
                 trace_loss=res.trace.loss, mc_est=mc.estimates,
                 mc_cover=mc.coverage["classical"], procs=jax.process_count(),
                 devices=len(res.meta["devices"]))
    """
)


def _env(**extra):
    env = dict(os.environ, JAX_PLATFORMS="cpu", **extra)
    env.pop("XLA_FLAGS", None)
    env.update(extra)
    return env


def _read(path):
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


@pytest.fixture(scope="module")
def two_process(tmp_path_factory):
    d = tmp_path_factory.mktemp("mp")
    script = d / "study.py"
    script.write_text(_STUDY)
    out = d / "two.npz"
    rc = dist.launch([sys.executable, str(script), str(out), str(d / "ckpt")], 2,
                     env=_env(), timeout=240)  # fmt: skip
    assert rc == 0
    return d, script, _read(out)


def test_two_processes_equal_one_process_with_two_devices(two_process):
    d, script, two = two_process
    assert int(two["procs"]) == 2 and int(two["devices"]) == 2
    out = d / "one.npz"
    proc = subprocess.run(
        [sys.executable, str(script), str(out), "-"], capture_output=True, text=True,
        env=_env(XLA_FLAGS="--xla_force_host_platform_device_count=2"), timeout=240,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    one = _read(out)
    assert int(one["procs"]) == 1 and int(one["devices"]) == 2
    for k in ("params", "loss", "status", "trace_loss", "mc_est", "mc_cover"):
        np.testing.assert_array_equal(two[k], one[k], err_msg=k)


def test_two_processes_match_one_device(two_process):
    _, _, two = two_process
    ns: dict = {}
    exec(_DEFS, ns)  # the workers' study, in this process on one device
    res, mc = ns["run"](None)
    np.testing.assert_allclose(two["params"], res.params["mean"], rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(two["status"], res.status)
    # Replicates are dealt out whole: the same program per chunk, so the same bits.
    np.testing.assert_array_equal(two["mc_est"], mc.estimates)
    np.testing.assert_array_equal(two["mc_cover"], mc.coverage["classical"])


def test_two_process_checkpoints_resume_to_the_same_result(two_process):
    # The checkpoint written by the two-process run (process 0 writes) is complete: a second
    # two-process run reads it back without computing and gives the same numbers.
    d, script, two = two_process
    out = d / "again.npz"
    rc = dist.launch([sys.executable, str(script), str(out), str(d / "ckpt")], 2,
                     env=_env(), timeout=240)  # fmt: skip
    assert rc == 0
    again = _read(out)
    for k in ("params", "loss", "trace_loss", "mc_est"):
        np.testing.assert_array_equal(again[k], two[k], err_msg=k)
