"""Does orbax-checkpoint serve for jaxmle's per-chunk checkpoints, or is our own ``.npz`` cheaper?

Question: a study (``sweep``, ``montecarlo``, chunked ``fit``) saves its whole state after each
chunk of steps so that a SIGKILL loses at most the chunk in flight. With ~10 checkpoints in a
program of 0.3-3 s and a budget of ≤ 5 % of run time, one save may cost about 5-15 ms. What
does a save cost with orbax-checkpoint (the JAX ecosystem's library), and with
``jaxmle._io.save_arrays`` (one ``.npz`` to a temporary file, fsynced, ``os.replace``d)?

Formats (each as it ships, fsync included: tensorstore fsyncs orbax's data files, ``_io``
fsyncs the file and its folder):

- ``jaxmle _io.save_arrays``: the pytree flattened with ``_io.tree_spec``/``spec_leaves`` into
  one ``.npz`` (leaves + JSON spec in the header), overwritten in place each chunk; restore is
  ``load_arrays`` + ``tree_from_spec``.
- ``orbax StandardCheckpointer (sync)``: ``ckptr.save(dir/step_k, state)`` then
  ``ckptr.wait_until_finished()`` (StandardCheckpointer is an AsyncCheckpointer; waiting makes
  it synchronous); restore with an abstract target (``jax.ShapeDtypeStruct`` leaves).
- ``orbax CheckpointManager (async)``: ``CheckpointManager(dir, options=
  CheckpointManagerOptions(save_interval_steps=1, max_to_keep=2))`` (async is its default),
  ``mgr.save(k, args=StandardSave(state))``; "save" is the time until ``save`` returns,
  "done" the time until ``wait_until_finished`` returns.

Payloads (numpy leaves in a nested dict, as a study's state after ``device_get``): small, a
64-lane sweep state (params, Adam moments, counters, PRNG keys, flags, ~14 arrays, ≈ 10 KB);
medium, that plus thinned traces (64, 100, 2) and a results grid (≈ 200 KB); large, 64 lanes
of a 20,000-parameter model with Adam (params + two moments ≈ 30 MB).

Measured per format and payload, each in a fresh subprocess: ``import`` of the library after
``jax`` is imported (fresh subprocess, median of 3); the first save (cold: the process's first
use of the library); the steady save (median of ``--repeats``); the restore (median of
``--restore-repeats``; restored leaves checked bit-identical, dtype included); files and
folders per checkpoint and bytes on disk; and the "in-loop" cost, what one chunk of a study
pays: the median time of the save call made right after a ~``--chunk-ms`` jitted JAX compute
chunk, plus, for the async manager, how much longer the chunk took than alone (median;
interleaved runs) where that is positive: its background write competing for the 2 cores.

Atomicity (``--kills``): a subprocess resumes from the latest checkpoint and saves the medium
payload in a loop (every leaf derived from the step, so a torn checkpoint is detectable); it
is SIGKILLed at a random moment (uniform in 0-1.5 s after its first save); then a fresh reader
restores the latest checkpoint (orbax: ``CheckpointManager.latest_step()``) and checks it
bit-identical to the state of that step. Repeated ``--kills`` times per format in one folder.

Typical output: a markdown table, an atomicity line per format, and
``benchmarks/results/checkpoint_formats.json`` (``--quick``: ``checkpoint_formats_quick.json``).
Full run ~6 min on the 2-core machine shared with others; ``--quick`` (no large payload, 5
repeats, 3 kills) ~2.5 min. Timings vary ~2-3x with the machine's load (fsync alone took
0.1-4 ms between runs); the JSON keeps p10/p90. Two full runs (orbax-checkpoint 0.12.8,
tensorstore 0.1.86, ext4), steady save small / medium / large: jaxmle 6-9 / 7-13 / 57-88 ms;
orbax StandardCheckpointer 100-107 / 119-122 / 184-296 ms; CheckpointManager 14-19 / 15-27 /
34-41 ms until ``save`` returns and 98-116 / 82-128 / 186-354 ms until written. In each run
every format restored a bit-identical latest checkpoint after each of 10 SIGKILLs. Needs
``pip install orbax-checkpoint`` (a benchmark-only dependency; not in ``pyproject.toml``).

Run: ``python benchmarks/checkpoint_formats.py [--quick] [--repeats 25] [--kills 10]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pathlib
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from importlib import metadata

import numpy as np

FORMATS = ("jaxmle", "orbax_sync", "orbax_manager")
LABELS = {
    "jaxmle": "jaxmle _io.save_arrays (.npz)",
    "orbax_sync": "orbax StandardCheckpointer (sync)",
    "orbax_manager": "orbax CheckpointManager (async)",
}
PAYLOADS = ("small", "medium", "large")
LANES = 64


# --------------------------------------------------------------------------------------------
# Payloads
# --------------------------------------------------------------------------------------------


def make_state(payload: str, step: int = 0) -> dict:
    """A study's checkpoint state; every leaf is a deterministic function of ``step``."""
    rng = np.random.default_rng(step)
    n = LANES

    def f(*shape):
        return rng.standard_normal(shape)

    state = {
        "params": {"mu": f(n, 2), "log_sigma": f(n, 2)},
        "opt_state": {
            "count": np.full(n, step, np.int32),
            "mu": {"mu": f(n, 2), "log_sigma": f(n, 2)},
            "nu": {"mu": f(n, 2) ** 2, "log_sigma": f(n, 2) ** 2},
        },
        "step": np.full(n, step, np.int32),
        "chunk": np.asarray(step, np.int64),
        "key": rng.integers(0, 2**32, (n, 2), dtype=np.uint32),
        "loss": f(n),
        "best_loss": f(n),
        "hess": f(n, 2, 2),
        "converged": rng.random(n) < 0.5,
        "learning_rate": np.logspace(-3, 0, n),
    }
    if payload in ("medium", "large"):
        state["trace"] = {"params": f(n, 100, 2), "loss": f(n, 100),
                          "step": np.arange(100, dtype=np.int32) * 10 + step}  # fmt: skip
        state["results"] = {"estimate": f(n, 2), "se": np.abs(f(n, 2)), "cov": f(n, 2, 2),
                            "loss": f(n), "n_steps": np.full(n, step, np.int32),
                            "status": rng.integers(0, 4, n, dtype=np.int32)}  # fmt: skip
    if payload == "large":
        p = 20_000
        state["params"]["w"] = f(n, p)
        state["opt_state"]["mu"]["w"] = f(n, p)
        state["opt_state"]["nu"]["w"] = f(n, p) ** 2
    return state


def leaves_of(tree) -> list:
    import jax

    return jax.tree_util.tree_leaves(tree)


def nbytes(tree) -> int:
    return int(sum(np.asarray(x).nbytes for x in leaves_of(tree)))


def identical(a, b) -> bool:
    """Same tree structure, and every leaf equal bit for bit with the same dtype and shape."""
    import jax

    if jax.tree_util.tree_structure(a) != jax.tree_util.tree_structure(b):
        return False
    for x, y in zip(leaves_of(a), leaves_of(b), strict=True):
        x, y = np.asarray(x), np.asarray(y)
        if x.dtype != y.dtype or x.shape != y.shape or x.tobytes() != y.tobytes():
            return False
    return True


# --------------------------------------------------------------------------------------------
# The formats: save(state, step) / restore() -> state / latest() -> step or None
# --------------------------------------------------------------------------------------------


class JaxmleFormat:
    kind = "checkpoint"

    def __init__(self, root: pathlib.Path):
        from jaxmle import _io

        self.io = _io
        self.root = root
        self.path = root / "checkpoint.npz"

    def save(self, state, step):
        spec = self.io.tree_spec(state)
        leaves = self.io.spec_leaves(state)
        arrays = {f"leaf{i}": x for i, x in enumerate(leaves)}
        self.io.save_arrays(self.path, arrays, {"spec": spec, "step": step}, kind=self.kind)

    def wait(self):
        pass

    def latest(self):
        if not self.path.exists():
            return None
        header, _ = self.io.load_arrays(self.path, kind=self.kind)
        return int(header["step"])

    def restore(self, abstract=None, step=None):
        header, arrays = self.io.load_arrays(self.path, kind=self.kind)
        leaves = [arrays[f"leaf{i}"] for i in range(len(arrays))]
        return self.io.tree_from_spec(header["spec"], leaves)

    def step_dir(self, step):
        return self.path

    def close(self):
        pass


def _abstract(state):
    import jax

    return jax.tree_util.tree_map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), state)


class OrbaxSyncFormat:
    def __init__(self, root: pathlib.Path):
        import orbax.checkpoint as ocp

        self.ocp = ocp
        self.root = root
        self.ckptr = ocp.StandardCheckpointer()
        self.last = None

    def save(self, state, step):
        self.ckptr.save(self.root / f"step_{step}", state)
        self.ckptr.wait_until_finished()
        # keep two, as the manager does (deletion is part of a chunk's cost)
        old = self.root / f"step_{step - 2}"
        if old.exists():
            shutil.rmtree(old)
        self.last = step

    def wait(self):
        self.ckptr.wait_until_finished()

    def latest(self):
        return self.last

    def restore(self, abstract=None, step=None):
        return self.ckptr.restore(self.root / f"step_{self.last if step is None else step}",
                                  abstract)  # fmt: skip

    def step_dir(self, step):
        return self.root / f"step_{step}"

    def close(self):
        self.ckptr.close()


class OrbaxManagerFormat:
    def __init__(self, root: pathlib.Path):
        import orbax.checkpoint as ocp

        self.ocp = ocp
        self.root = root
        options = ocp.CheckpointManagerOptions(save_interval_steps=1, max_to_keep=2)
        self.mgr = ocp.CheckpointManager(root, options=options)

    def save(self, state, step):
        self.mgr.save(step, args=self.ocp.args.StandardSave(state))

    def wait(self):
        self.mgr.wait_until_finished()

    def latest(self):
        return self.mgr.latest_step()

    def restore(self, abstract=None, step=None):
        step = self.mgr.latest_step() if step is None else step
        return self.mgr.restore(step, args=self.ocp.args.StandardRestore(abstract))

    def step_dir(self, step):
        return self.root / str(step)

    def close(self):
        self.mgr.close()


FORMAT_CLASSES = {"jaxmle": JaxmleFormat, "orbax_sync": OrbaxSyncFormat,
                  "orbax_manager": OrbaxManagerFormat}  # fmt: skip


def disk_usage(path: pathlib.Path) -> dict:
    if path.is_file():
        st = path.stat()
        return {"files": 1, "dirs": 0, "bytes": st.st_size, "disk_bytes": st.st_blocks * 512}
    files = dirs = size = blocks = 0
    for dirpath, dirnames, filenames in os.walk(path):
        dirs += len(dirnames)
        for name in filenames:
            st = os.stat(os.path.join(dirpath, name))
            files += 1
            size += st.st_size
            blocks += st.st_blocks
    return {"files": files, "dirs": dirs + 1, "bytes": size, "disk_bytes": blocks * 512}


# --------------------------------------------------------------------------------------------
# Worker: one format x payload in a fresh process
# --------------------------------------------------------------------------------------------


def _compute_chunk(chunk_ms: float):
    """A jitted JAX chunk of about ``chunk_ms`` (calibrated), standing for optimisation steps."""
    import jax
    import jax.numpy as jnp

    @jax.jit
    def work(x, n):
        return jax.lax.fori_loop(0, n, lambda i, y: jnp.tanh(y @ x) * 0.5, x)

    x = jnp.eye(128) * 0.3
    work(x, 1).block_until_ready()
    t0 = time.perf_counter()
    work(x, 200).block_until_ready()
    per = (time.perf_counter() - t0) / 200
    n = max(1, int(chunk_ms / 1e3 / per))
    return lambda: work(x, n).block_until_ready()


def worker(fmt: str, payload: str, repeats: int, restore_repeats: int, chunk_ms: float,
           loop_repeats: int) -> dict:  # fmt: skip
    import jax

    jax.config.update("jax_enable_x64", True)
    root = pathlib.Path(tempfile.mkdtemp(prefix=f"ckpt_{fmt}_{payload}_", dir=_scratch()))
    try:
        t0 = time.perf_counter()
        f = FORMAT_CLASSES[fmt](root)
        init_s = time.perf_counter() - t0
        state = make_state(payload, 0)
        abstract = _abstract(state)
        out: dict = {"format": fmt, "payload": payload, "payload_bytes": nbytes(state),
                     "leaves": len(leaves_of(state)), "init_ms": init_s * 1e3}  # fmt: skip

        t0 = time.perf_counter()
        f.save(state, 0)
        t1 = time.perf_counter()
        f.wait()
        t2 = time.perf_counter()
        out["cold_save_ms"], out["cold_done_ms"] = (t1 - t0) * 1e3, (t2 - t0) * 1e3

        saves, dones = [], []
        for k in range(1, repeats + 1):
            s = make_state(payload, k) if payload != "large" else state
            t0 = time.perf_counter()
            f.save(s, k)
            t1 = time.perf_counter()
            f.wait()
            t2 = time.perf_counter()
            saves.append(t1 - t0)
            dones.append(t2 - t0)
        last = repeats
        out["save_ms"] = float(np.median(saves)) * 1e3
        out["done_ms"] = float(np.median(dones)) * 1e3
        out["save_ms_p10_p90"] = [float(np.percentile(saves, q)) * 1e3 for q in (10, 90)]
        out["done_ms_p10_p90"] = [float(np.percentile(dones, q)) * 1e3 for q in (10, 90)]
        usage = disk_usage(f.step_dir(last))
        out.update({f"ckpt_{k}": v for k, v in usage.items()})
        out["root_entries_after"] = sorted(p.name for p in root.iterdir())

        expect = make_state(payload, last) if payload != "large" else state
        rts, ok = [], True
        for _ in range(restore_repeats):
            t0 = time.perf_counter()
            got = f.restore(abstract)
            rts.append(time.perf_counter() - t0)
            ok = ok and identical(got, expect)
        out["restore_ms"] = float(np.median(rts)) * 1e3
        out["restore_bit_identical"] = bool(ok)
        if not ok:
            out["restore_types"] = sorted({type(x).__name__ for x in leaves_of(got)})

        # In-loop cost: a compute chunk then a save, against the chunk alone.
        chunk = _compute_chunk(chunk_ms)
        alone, chunk_in, save_in = [], [], []
        k = last + 1
        for _ in range(loop_repeats):  # interleaved, so drift in the machine's load cancels
            t0 = time.perf_counter()
            chunk()
            alone.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            chunk()  # runs while an async save's background write of the last loop goes on
            t1 = time.perf_counter()
            f.save(state, k)
            save_in.append(time.perf_counter() - t1)
            chunk_in.append(t1 - t0)
            k += 1
        f.wait()
        out["chunk_ms"] = float(np.median(alone)) * 1e3
        out["chunk_between_saves_ms"] = float(np.median(chunk_in)) * 1e3
        out["save_in_loop_ms"] = float(np.median(save_in)) * 1e3
        out["chunk_slowdown_ms"] = out["chunk_between_saves_ms"] - out["chunk_ms"]
        # what a chunk pays: the blocking save, plus (async only: a sync save has nothing
        # running beside the next chunk) the chunk's slowdown where positive
        slow = max(0.0, out["chunk_slowdown_ms"]) if fmt == "orbax_manager" else 0.0
        out["in_loop_cost_ms"] = out["save_in_loop_ms"] + slow
        f.close()
        return out
    finally:
        shutil.rmtree(root, ignore_errors=True)


def fsync_probe(runs: int = 20) -> dict:
    """This disk's price of durability: a 4 KB write + fsync, and a folder fsync."""
    root = pathlib.Path(tempfile.mkdtemp(prefix="fsync_", dir=_scratch()))
    files, dirs = [], []
    try:
        for i in range(runs):
            t0 = time.perf_counter()
            with open(root / f"f{i}", "wb") as fh:
                fh.write(b"x" * 4096)
                fh.flush()
                os.fsync(fh.fileno())
            t1 = time.perf_counter()
            fd = os.open(root, os.O_RDONLY)
            os.fsync(fd)
            os.close(fd)
            files.append(t1 - t0)
            dirs.append(time.perf_counter() - t1)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return {"file_fsync_ms": float(np.median(files)) * 1e3,
            "dir_fsync_ms": float(np.median(dirs)) * 1e3}  # fmt: skip


def _scratch() -> str:
    return os.environ.get("CKPT_BENCH_DIR") or tempfile.gettempdir()


# --------------------------------------------------------------------------------------------
# Import time, atomicity
# --------------------------------------------------------------------------------------------

IMPORTS = {
    "jaxmle": "import jaxmle._io",
    "orbax_sync": "import orbax.checkpoint",
    "orbax_manager": "import orbax.checkpoint",
}


def import_ms(stmt: str, runs: int = 3) -> dict:
    code = ("import time, jax, numpy\nt = time.perf_counter()\n" + stmt +
            "\nprint(time.perf_counter() - t)")  # fmt: skip
    code_all = "import time\nt = time.perf_counter()\nimport jax, numpy\n" + stmt + \
        "\nprint(time.perf_counter() - t)"  # fmt: skip
    after, total = [], []
    for _ in range(runs):
        after.append(float(subprocess.check_output([sys.executable, "-c", code], text=True)))
        total.append(float(subprocess.check_output([sys.executable, "-c", code_all], text=True)))
    return {"after_jax_ms": float(np.median(after)) * 1e3,
            "with_jax_ms": float(np.median(total)) * 1e3}  # fmt: skip


def saver_loop(fmt: str, root: str, payload: str) -> None:
    """Resumes from the latest checkpoint in ``root`` and saves forever (until killed)."""
    import jax

    jax.config.update("jax_enable_x64", True)
    f = FORMAT_CLASSES[fmt](pathlib.Path(root))
    if fmt == "orbax_sync":  # find its own latest on disk
        steps = [int(p.name[5:]) for p in pathlib.Path(root).glob("step_*")
                 if p.name[5:].isdigit()]  # fmt: skip
        f.last = max(steps) if steps else None
    latest = f.latest()
    step = 0 if latest is None else latest + 1
    print(f"ready {step}", flush=True)
    while True:
        f.save(make_state(payload, step), step)
        print(f"saved {step}", flush=True)
        step += 1


def atomicity(fmt: str, kills: int, payload: str, seed: int) -> dict:
    import jax

    jax.config.update("jax_enable_x64", True)
    rnd = random.Random(seed)
    root = pathlib.Path(tempfile.mkdtemp(prefix=f"kill_{fmt}_", dir=_scratch()))
    trials = []
    try:
        for _ in range(kills):
            proc = subprocess.Popen(
                [sys.executable, __file__, "--saver", fmt, str(root), payload],
                stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
            line = proc.stdout.readline()  # "ready N"
            start = int(line.split()[1])
            line = proc.stdout.readline()  # first "saved N"
            delay = rnd.uniform(0.0, 1.5)
            time.sleep(delay)
            os.kill(proc.pid, signal.SIGKILL)
            rest = proc.stdout.read()
            proc.wait()
            printed = [int(x.split()[1]) for x in [line, *rest.splitlines()] if "saved" in x]
            last_printed = max(printed) if printed else None
            trial = {"resumed_at": start, "delay_s": round(delay, 3),
                     "last_reported_saved": last_printed}  # fmt: skip
            try:
                reader = FORMAT_CLASSES[fmt](root)
                if fmt == "orbax_sync":
                    steps = [int(p.name[5:]) for p in root.glob("step_*") if p.name[5:].isdigit()]
                    reader.last = max(steps) if steps else None
                latest = reader.latest()
                trial["latest"] = latest
                expect = make_state(payload, latest)
                got = reader.restore(_abstract(expect))
                trial["restored_ok"] = identical(got, expect)
                reader.close()
            except Exception as err:  # recorded, not raised
                trial["restored_ok"] = False
                trial["error"] = f"{type(err).__name__}: {str(err)[:300]}"
            trial["stray_tmp"] = sorted(p.name for p in root.iterdir() if "tmp" in p.name)
            trials.append(trial)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    ok = sum(t["restored_ok"] for t in trials)
    behind = [t["last_reported_saved"] - t["latest"] for t in trials
              if t.get("latest") is not None and t["last_reported_saved"] is not None]  # fmt: skip
    return {"format": fmt, "kills": kills, "restored_ok": ok, "trials": trials,
            "latest_minus_reported": behind}  # fmt: skip


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--saver":
        saver_loop(sys.argv[2], sys.argv[3], sys.argv[4])
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        print(json.dumps(worker(sys.argv[2], sys.argv[3], *map(int, sys.argv[4:6]),
                                float(sys.argv[6]), int(sys.argv[7]))))  # fmt: skip
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="small + medium only, 5 repeats, 3 kills (~1.5 min)")  # fmt: skip
    ap.add_argument("--repeats", type=int, default=25, help="steady saves (median)")
    ap.add_argument("--restore-repeats", type=int, default=10)
    ap.add_argument("--loop-repeats", type=int, default=15, help="chunks for the in-loop cost")
    ap.add_argument("--chunk-ms", type=float, default=100.0)
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--payloads", default=",".join(PAYLOADS))
    ap.add_argument("--formats", default=",".join(FORMATS))
    ap.add_argument("--dir", default=None, help="scratch folder for checkpoints (default: TMP)")
    ap.add_argument("--out", default=str(pathlib.Path(__file__).parent / "results"))
    args = ap.parse_args()
    if args.quick:
        args.repeats, args.restore_repeats, args.loop_repeats, args.kills = 5, 3, 5, 3
        args.payloads = ",".join(p for p in args.payloads.split(",") if p != "large")
    if args.dir:
        os.environ["CKPT_BENCH_DIR"] = args.dir
        pathlib.Path(args.dir).mkdir(parents=True, exist_ok=True)
    formats = args.formats.split(",")
    payloads = args.payloads.split(",")
    t_start = time.perf_counter()

    imports = {}
    for stmt in dict.fromkeys(IMPORTS[f] for f in formats):
        imports[stmt] = import_ms(stmt)
        print(f"{stmt}: {imports[stmt]['after_jax_ms']:.0f} ms after jax "
              f"({imports[stmt]['with_jax_ms']:.0f} ms with jax)", flush=True)  # fmt: skip

    fsync = fsync_probe()
    print(f"fsync on this disk: 4 KB file {fsync['file_fsync_ms']:.1f} ms, folder "
          f"{fsync['dir_fsync_ms']:.1f} ms", flush=True)  # fmt: skip

    rows = []
    for payload in payloads:
        for fmt in formats:
            cmd = [
                sys.executable,
                __file__,
                "--worker",
                fmt,
                payload,
                str(args.repeats),
                str(args.restore_repeats),
                str(args.chunk_ms),
                str(args.loop_repeats),
            ]
            res = subprocess.run(cmd, capture_output=True, text=True)
            if res.returncode != 0:
                print(res.stderr[-3000:], file=sys.stderr)
                raise SystemExit(f"worker {fmt} {payload} failed")
            row = json.loads(res.stdout.strip().splitlines()[-1])
            row["import"] = imports[IMPORTS[fmt]]
            rows.append(row)
            print(f"  {payload:6s} {fmt:14s} save {row['save_ms']:8.2f} ms  done "
                  f"{row['done_ms']:8.2f} ms  in-loop {row['in_loop_cost_ms']:8.2f} ms",
                  flush=True)  # fmt: skip

    kills = []
    if args.kills:
        for i, fmt in enumerate(formats):
            r = atomicity(fmt, args.kills, "medium", seed=i)
            kills.append(r)
            print(f"  atomicity {fmt}: {r['restored_ok']}/{r['kills']} restorable after SIGKILL",
                  flush=True)  # fmt: skip

    env = {"python": platform.python_version(), "platform": platform.platform(),
           "processor": platform.processor() or platform.machine(), "cores": os.cpu_count(),
           "jax": _version("jax"), "jaxlib": _version("jaxlib"), "numpy": np.__version__,
           "orbax-checkpoint": _version("orbax-checkpoint"),
           "tensorstore": _version("tensorstore"),
           "scratch_dir": _scratch(), **fsync}  # fmt: skip
    with contextlib.suppress(OSError, subprocess.CalledProcessError, IndexError):
        df = subprocess.check_output(["df", "-T", _scratch()], text=True)
        env["filesystem"] = df.splitlines()[-1].split()[1]

    print(f"\nCheckpoint cost per format; {env['cores']} cores, {env['processor']}, jax "
          f"{env['jax']}, orbax-checkpoint {env['orbax-checkpoint']}, tensorstore "
          f"{env['tensorstore']}, {env.get('filesystem', '?')}; median of {args.repeats} saves, "
          f"{args.restore_repeats} restores; in-loop = save after a ~{args.chunk_ms:.0f} ms JAX "
          f"chunk + the chunk's slowdown (async), medians of {args.loop_repeats}")  # fmt: skip
    print(
        "\n| payload | format | import (ms) | cold save (ms) | steady save (ms) | save done "
        "(ms) | in-loop cost (ms) | restore (ms) | files / dirs | bytes on disk |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        size = f"{r['payload_bytes'] / 1e3:.0f} KB" if r["payload_bytes"] < 1e6 else \
            f"{r['payload_bytes'] / 1e6:.1f} MB"  # fmt: skip
        ident = "" if r["restore_bit_identical"] else " (NOT bit-identical)"
        print(f"| {r['payload']} ({size}) | {LABELS[r['format']]} | "
              f"{r['import']['after_jax_ms']:.0f} | {r['cold_done_ms']:.1f} | "
              f"{r['save_ms']:.2f} | {r['done_ms']:.2f} | {r['in_loop_cost_ms']:.1f} | "
              f"{r['restore_ms']:.2f}{ident} | {r['ckpt_files']} / {r['ckpt_dirs']} | "
              f"{r['ckpt_bytes']:,} ({r['ckpt_disk_bytes']:,} alloc) |")  # fmt: skip
    for k in kills:
        print(f"\natomicity, {LABELS[k['format']]}: {k['restored_ok']}/{k['kills']} SIGKILLs "
              f"left a restorable, bit-identical latest checkpoint; latest behind the last "
              f"reported save by {k['latest_minus_reported']}; stray tmp after each: "
              f"{[len(t['stray_tmp']) for t in k['trials']]}")  # fmt: skip
        for t in k["trials"]:
            if "error" in t:
                print(f"  error: {t['error']}")

    total = time.perf_counter() - t_start
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {**env, "quick": args.quick, "repeats": args.repeats,
            "restore_repeats": args.restore_repeats, "loop_repeats": args.loop_repeats,
            "chunk_ms": args.chunk_ms, "kills": args.kills, "total_s": total}  # fmt: skip
    path = out / ("checkpoint_formats_quick.json" if args.quick else "checkpoint_formats.json")
    path.write_text(json.dumps({"meta": meta, "rows": rows, "atomicity": kills}, indent=2))
    print(f"\nwrote {path} ({total:.0f} s)")


if __name__ == "__main__":
    main()
