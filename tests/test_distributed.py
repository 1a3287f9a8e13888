"""jaxmle.distributed: single-process behaviour in-process, multi-process runs via launch.

Each subprocess that imports jaxmle costs a few seconds, so the multi-process checks are
bundled into a few worker scripts; workers that only test the launcher are plain Python.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import Mesh, NamedSharding, SingleDeviceSharding
from jax.sharding import PartitionSpec as P

import jaxmle
import jaxmle.distributed as dist


def _gloo_available() -> bool:
    try:
        from jax._src.lib import _jax
    except ImportError:
        return False
    return hasattr(_jax, "make_gloo_tcp_collectives")


needs_gloo = pytest.mark.skipif(
    not _gloo_available(), reason="this jaxlib has no gloo CPU collectives"
)
PY = sys.executable
L = 6  # lanes: a multiple of the two processes' one device each


# --- single process (the test process never calls initialize) --------------------------------


def test_single_process_queries():
    assert not dist.is_initialized()
    assert dist.process_count() == 1
    assert dist.process_index() == 0
    mesh = dist.global_mesh()
    if len(jax.devices()) == 1:
        assert mesh is None
    else:
        assert mesh.axis_names == ("lanes",) and mesh.devices.size == len(jax.devices())
    dist.sync("no-op with one process")


def test_put_global_to_host_round_trip():
    tree = {
        "a": np.arange(6.0).reshape(3, 2),
        "b": (np.int32(3), [np.ones(2, np.float32)]),
    }
    one = Mesh(np.array(jax.devices()[:1]), ("lanes",))
    for sharding in (
        None,
        SingleDeviceSharding(jax.devices()[0]),
        NamedSharding(one, P("lanes")),
        {"a": NamedSharding(one, P("lanes")), "b": None},  # a pytree prefix of shardings
    ):
        g = dist.put_global(tree, sharding)
        assert isinstance(g["a"], jax.Array) and isinstance(g["b"][1][0], jax.Array)
        back = dist.to_host(g)
        assert jax.tree.structure(back) == jax.tree.structure(tree)
        for got, want in zip(jax.tree.leaves(back), jax.tree.leaves(tree), strict=True):
            assert isinstance(got, np.ndarray) and got.dtype == np.asarray(want).dtype
            np.testing.assert_array_equal(got, want)
    assert dist.to_host(3.0) == np.asarray(3.0)
    np.testing.assert_array_equal(dist.to_host(jnp.arange(4)), np.arange(4))


def test_bad_arguments_name_the_argument(monkeypatch):
    for var in (dist.ENV_COORDINATOR, dist.ENV_NUM_PROCESSES, dist.ENV_PROCESS_ID):
        monkeypatch.delenv(var, raising=False)
    bad = [
        ({"coordinator_address": "nohost"}, "coordinator_address"),
        ({"coordinator_address": "h:0"}, "coordinator_address"),
        ({"coordinator_address": 1234}, "coordinator_address"),
        ({"num_processes": 0}, "num_processes"),
        ({"num_processes": True}, "num_processes"),
        ({"num_processes": "2"}, "num_processes"),
        ({"process_id": -1}, "process_id"),
        ({"num_processes": 2, "process_id": 2}, "process_id"),
        ({"cpu_collectives": "nccl"}, "cpu_collectives"),
        ({"local_device_ids": "0"}, "local_device_ids"),
        ({"local_device_ids": [-1]}, "local_device_ids"),
        ({"fail_fast": "yes"}, "fail_fast"),
    ]
    for kwargs, name in bad:
        with pytest.raises(jaxmle.InputError, match=f"`{name}`"):
            dist.initialize(**kwargs)
    monkeypatch.setenv(dist.ENV_NUM_PROCESSES, "two")
    with pytest.raises(jaxmle.InputError, match=dist.ENV_NUM_PROCESSES):
        dist.initialize()
    monkeypatch.setenv(dist.ENV_NUM_PROCESSES, "2")
    monkeypatch.setenv(dist.ENV_PROCESS_ID, "5")
    with pytest.raises(jaxmle.InputError, match=dist.ENV_PROCESS_ID):
        dist.initialize()
    monkeypatch.setenv(dist.ENV_COORDINATOR, "localhost")
    with pytest.raises(jaxmle.InputError, match=dist.ENV_COORDINATOR):
        dist.initialize()

    with pytest.raises(jaxmle.InputError, match="`axis`"):
        dist.global_mesh("")
    with pytest.raises(jaxmle.InputError, match="`sharding`"):
        dist.put_global(np.zeros(2), "lanes")
    with pytest.raises(jaxmle.InputError, match="`name`"):
        dist.sync(3)
    with pytest.raises(jaxmle.InputError, match="`code`"):
        dist.abort(300)
    with pytest.raises(SystemExit) as exc:  # one process: abort is sys.exit
        dist.abort(2)
    assert exc.value.code == 2

    for kwargs, name in [
        ({"argv": "python x.py", "processes": 2}, "argv"),
        ({"argv": [], "processes": 2}, "argv"),
        ({"argv": [PY, 3], "processes": 2}, "argv"),
        ({"argv": [PY], "processes": 0}, "processes"),
        ({"argv": [PY], "processes": 1, "port": 70000}, "port"),
        ({"argv": [PY], "processes": 1, "timeout": -1}, "timeout"),
        ({"argv": [PY], "processes": 1, "env": {"A": 1}}, "env"),
    ]:
        with pytest.raises(jaxmle.InputError, match=f"`{name}`"):
            dist.launch(**kwargs)


def test_initialize_after_computation_is_refused():
    jnp.ones(2).block_until_ready()  # the backend has certainly started
    before = jax.config.jax_cpu_collectives_implementation
    with pytest.raises(jaxmle.InputError, match="before any JAX computation"):
        dist.initialize("127.0.0.1:12345", num_processes=2, process_id=0)
    assert not dist.is_initialized()
    assert jax.config.jax_cpu_collectives_implementation == before


def test_import_has_no_side_effects_and_no_cluster_is_a_clear_error():
    # A fresh interpreter: importing jaxmle (and this module) must neither import
    # jaxmle.distributed nor start the backend; initialize() with no cluster explains itself.
    script = textwrap.dedent(
        """
        import sys
        import jaxmle
        assert "jaxmle.distributed" not in sys.modules
        import jax
        from jax._src import xla_bridge
        before = jax.config.jax_cpu_collectives_implementation
        import jaxmle.distributed as d
        assert (d.process_count(), d.process_index(), d.is_initialized()) == (1, 0, False)
        assert not xla_bridge.backends_are_initialized()
        try:
            d.initialize()
        except jaxmle.InputError as e:
            assert "No cluster detected" in str(e), e
        else:
            raise AssertionError("initialize() found a cluster")
        assert jax.config.jax_cpu_collectives_implementation == before
        print("ok")
        """
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLURM_", "OMPI_", "PMI_", "JAXMLE_", "JAX_COORDINATOR"))
    }
    env["JAX_PLATFORMS"] = "cpu"
    r = subprocess.run([PY, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"


# --- the launcher on plain Python workers (fast) ----------------------------------------------

ENV_WORKER = """
import json, os, pathlib, sys
i = os.environ["JAXMLE_PROCESS_ID"]
keys = ["JAXMLE_COORDINATOR", "JAXMLE_NUM_PROCESSES", "JAXMLE_PROCESS_ID", "JAX_PLATFORMS",
        "XLA_FLAGS", "EXTRA"]
env = {k: os.environ.get(k) for k in keys}
pathlib.Path(sys.argv[1], f"env_{i}.json").write_text(json.dumps(env))
print(f"hello from {i}", flush=True)
"""


def test_launch_sets_the_environment(tmp_path, monkeypatch, capfd):
    monkeypatch.delenv("JAX_PLATFORMS", raising=False)
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_enable_fast_math=false")
    rc = dist.launch([PY, "-c", ENV_WORKER, str(tmp_path)], 2, env={"EXTRA": "x"}, timeout=60)
    assert rc == 0
    envs = [json.loads((tmp_path / f"env_{i}.json").read_text()) for i in range(2)]
    for i, e in enumerate(envs):
        assert e["JAXMLE_PROCESS_ID"] == str(i) and e["JAXMLE_NUM_PROCESSES"] == "2"
        assert e["JAX_PLATFORMS"] == "cpu" and e["EXTRA"] == "x"
        assert e["XLA_FLAGS"] == "--xla_cpu_enable_fast_math=false"
    host, port = envs[0]["JAXMLE_COORDINATOR"].rsplit(":", 1)
    assert host == "127.0.0.1" and int(port) > 0
    assert envs[1]["JAXMLE_COORDINATOR"] == envs[0]["JAXMLE_COORDINATOR"]
    # Only worker 0's stdout is kept.
    out = capfd.readouterr().out
    assert "hello from 0" in out and "hello from 1" not in out

    rc = dist.launch([PY, "-c", ENV_WORKER, str(tmp_path)], 1, port=23999,
                     env={"JAX_PLATFORMS": "cpu,cuda"})  # fmt: skip
    assert rc == 0
    e = json.loads((tmp_path / "env_0.json").read_text())
    assert e["JAXMLE_COORDINATOR"] == "127.0.0.1:23999" and e["JAX_PLATFORMS"] == "cpu,cuda"


def test_launch_returns_a_failure_and_stops_the_others():
    worker = (
        "import os, sys, time\n"
        "if os.environ['JAXMLE_PROCESS_ID'] == '1':\n"
        "    sys.exit(7)\n"
        "time.sleep(60)\n"
    )
    t0 = time.monotonic()
    assert dist.launch([PY, "-c", worker], 2, timeout=60) == 7
    assert time.monotonic() - t0 < 20
    # Killed by a signal: the shell's 128 + N.
    killed = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
    assert dist.launch([PY, "-c", killed], 1, timeout=60) == 128 + signal.SIGKILL


def test_launch_timeout():
    t0 = time.monotonic()
    with pytest.raises(TimeoutError, match=r"within 0\.5 s"):
        dist.launch([PY, "-c", "import time; time.sleep(60)"], 2, timeout=0.5)
    assert time.monotonic() - t0 < 15


def test_launch_forwards_ctrl_c(tmp_path):
    worker = textwrap.dedent(
        """
        import os, pathlib, sys, time
        d = pathlib.Path(sys.argv[1]); i = os.environ["JAXMLE_PROCESS_ID"]
        (d / f"ready_{i}").touch()
        try:
            time.sleep(60)
        except KeyboardInterrupt:
            (d / f"sigint_{i}").touch()
            sys.exit(130)
        """
    )
    parent = (
        "import sys, jaxmle.distributed as d\n"
        f"d.launch([sys.executable, '-c', {worker!r}, {str(tmp_path)!r}], 2, timeout=60)\n"
    )
    # A suite run in the background (``cmd &``) inherits SIGINT ignored, and Python then
    # installs no KeyboardInterrupt handler: the parent gets the default disposition back.
    def default_sigint():
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    p = subprocess.Popen([PY, "-c", parent], stderr=subprocess.PIPE, text=True,
                         preexec_fn=default_sigint)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not all((tmp_path / f"ready_{i}").exists() for i in range(2)):
            assert time.monotonic() < deadline and p.poll() is None, "workers never started"
            time.sleep(0.05)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=60)
    finally:
        p.kill()
    assert p.returncode != 0 and "KeyboardInterrupt" in err
    assert all((tmp_path / f"sigint_{i}").exists() for i in range(2))


# --- two JAX processes on localhost -----------------------------------------------------------


def _loglik(theta, x):
    return -0.5 * jnp.sum((x - theta) ** 2) - 0.5 * x.shape[0] * jnp.log(2 * jnp.pi)


def _inputs():
    rng = np.random.default_rng(0)
    return {"theta": rng.normal(size=L), "x": rng.normal(size=(L, 5))}


STUDY_WORKER = """
import json, os, pathlib, sys
import numpy as np
import jaxmle
import jaxmle.distributed as dist

dist.initialize()
dist.initialize()  # the same settings again: a no-op
import jax
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp
from jax.sharding import NamedSharding, PartitionSpec as P

out = pathlib.Path(sys.argv[1])
me = dist.process_index()
from jax._src import xla_bridge
checks = {"count": dist.process_count(), "index": me,
          "backend_started": xla_bridge.backends_are_initialized()}
try:
    dist.initialize(process_id=1 - me)
except jaxmle.InputError as e:
    checks["reinit"] = str(e)

def _loglik(theta, x):
    return -0.5 * jnp.sum((x - theta) ** 2) - 0.5 * x.shape[0] * jnp.log(2 * jnp.pi)

rng = np.random.default_rng(0)
inputs = {"theta": rng.normal(size=L), "x": rng.normal(size=(L, 5))}
mesh = dist.global_mesh()
lanes = NamedSharding(mesh, P("lanes"))
g = dist.put_global(inputs, lanes)
value, grad = jax.jit(jax.vmap(jax.value_and_grad(_loglik)))(g["theta"], g["x"])
checks["devices"] = [[d.id, d.process_index] for d in jax.devices()]
checks["local_lanes"] = [[s.index[0].start, s.index[0].stop] for s in value.addressable_shards]
checks["fully_addressable"] = value.is_fully_addressable
try:
    dist.put_global(np.zeros(L - 1), lanes)
except jaxmle.InputError as e:
    checks["indivisible"] = str(e)
# A cross-process reduction, and a replicated input, gathered too.
host = dist.to_host({"value": value, "grad": grad, "total": jnp.sum(value),
                     "theta": dist.put_global(inputs["theta"])})
(out / f"checks_{me}.json").write_text(json.dumps(checks))
if me == 0:
    tmp = out / ".result.tmp.npz"
    np.savez(tmp, **host)
    os.replace(tmp, out / "result.npz")
dist.sync("written")
assert (out / "result.npz").exists()  # the barrier: every process sees process 0's file
"""


@needs_gloo
def test_two_processes_compute_what_one_does(tmp_path):
    script = tmp_path / "study.py"
    script.write_text(f"L = {L}\n" + STUDY_WORKER)
    rc = dist.launch([PY, str(script), str(tmp_path)], 2, timeout=180)
    assert rc == 0
    checks = [json.loads((tmp_path / f"checks_{i}.json").read_text()) for i in range(2)]
    for i, c in enumerate(checks):
        assert c["count"] == 2 and c["index"] == i
        assert not c["backend_started"]  # initialize and the queries leave it to the program
        assert "already initialised" in c["reinit"] and "process_id" in c["reinit"]
        assert "pad the lane axis" in c["indivisible"]
        assert not c["fully_addressable"]
        assert [p for _, p in c["devices"]] == [0, 1]  # process 0's devices first
    assert checks[0]["local_lanes"] == [[0, L // 2]]
    assert checks[1]["local_lanes"] == [[L // 2, L]]

    got = dict(np.load(tmp_path / "result.npz"))
    inputs = _inputs()
    value, grad = jax.jit(jax.vmap(jax.value_and_grad(_loglik)))(inputs["theta"], inputs["x"])
    assert got["value"].shape == (L,) and got["value"].dtype == np.float64
    np.testing.assert_array_equal(got["value"], np.asarray(value))
    np.testing.assert_array_equal(got["grad"], np.asarray(grad))
    np.testing.assert_allclose(got["total"], float(jnp.sum(value)), rtol=1e-14)
    np.testing.assert_array_equal(got["theta"], inputs["theta"])


@needs_gloo
def test_a_failing_jax_worker_does_not_hang_the_others(tmp_path):
    # Process 1 fails after initialize while process 0 waits for it in a barrier: without
    # fail-fast, process 1 would sit in JAX's shutdown barrier and process 0 in the sync.
    script = tmp_path / "fail.py"
    script.write_text(
        "import jaxmle.distributed as dist\n"
        "dist.initialize()\n"
        "if dist.process_index() == 1:\n"
        "    raise RuntimeError('worker 1 fails')\n"
        "dist.sync('never reached by process 1')\n"
    )
    t0 = time.monotonic()
    assert dist.launch([PY, str(script)], 2, timeout=120) == 1
    # Well under gloo's 30 s wait for a missing peer: the launcher saw the failure at once.
    assert time.monotonic() - t0 < 25
