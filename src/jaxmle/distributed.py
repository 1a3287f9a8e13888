"""Multi-process studies on JAX's own distributed runtime.

JAX runs one Python process per host (or per group of accelerators); every process runs the
**same program**, and ``jax.devices()`` lists the devices of all of them. A ``jax.Array``
sharded over those global devices is split between processes; each process holds and computes
its own shards, and jitted functions run as one SPMD program across all of them. This module
is the small layer jaxmle needs on top: start the runtime, build a 1-D ``"lanes"`` mesh over
all global devices, place identical host arrays as global arrays, gather results back to every
host, and a localhost launcher. ``import jaxmle`` does not import this module and changes no
JAX setting; import it explicitly (``import jaxmle.distributed``).

Recipe
------
**Localhost** (two processes on one machine, CPU)::

    python -c 'import sys, jaxmle.distributed as d; sys.exit(d.launch(
        [sys.executable, "study.py"], processes=2))'

where ``study.py`` begins with ``jaxmle.distributed.initialize()`` *before any JAX
computation*. :func:`launch` picks a free port and sets ``JAXMLE_COORDINATOR=127.0.0.1:PORT``,
``JAXMLE_NUM_PROCESSES`` and ``JAXMLE_PROCESS_ID`` for each worker (and ``JAX_PLATFORMS=cpu``
unless set). By hand, start the same program once per process with those three variables set
(``JAXMLE_PROCESS_ID`` = 0, 1, ...); process 0 hosts the coordinator at that address.

**A SLURM cluster** (JAX detects SLURM and Open MPI itself)::

    srun --nodes=2 --ntasks-per-node=1 python study.py

where ``study.py`` calls ``jaxmle.distributed.initialize()`` first, e.g.
``python -c 'import jaxmle.distributed as d; d.initialize(); ...'``.

With no arguments and no ``JAXMLE_*`` variables, :func:`initialize` calls
``jax.distributed.initialize()`` with no arguments, which reads the scheduler's environment.

**Any other cluster**: pass the coordinator explicitly on every process, e.g.
``initialize("10.0.0.1:12345", num_processes=4, process_id=RANK)``, where ``10.0.0.1`` is the
address of process 0 reachable from all the others.

What a multi-process run needs:

* the same program, with the same arguments and data, on every process (SPMD): every
  collective (:func:`put_global` with a multi-process sharding, :func:`to_host`,
  :func:`sync`, every jitted call on global arrays) must be reached by all processes in the
  same order, or the run hangs;
* a shared filesystem for checkpoints and outputs, and **process 0 alone writes files**
  (``if jaxmle.distributed.process_index() == 0: ...``), atomically
  (:func:`jaxmle._io.atomic_write_text`), with :func:`sync` before others read them;
* on CPU, a cross-process collectives implementation (``gloo``, the default here, set by
  :func:`initialize`);
* a worker that fails alone must leave at once. At exit JAX waits at a shutdown barrier for
  every other process, which may itself be blocked in a collective waiting for the failed one:
  both hang. After :func:`initialize` (with ``fail_fast=True``) an uncaught exception ends the
  process right after its traceback is printed; to leave with a chosen status, call
  :func:`abort` rather than ``sys.exit``.

Lanes are split over ``jax.devices()``, which lists process 0's devices first, then process
1's, and so on: with a ``"lanes"``-sharded array, process 0 computes the first block of lanes.

On one 2-core machine, two processes bring **no speed-up** (they share the cores and add
communication): the localhost mode is for correctness checks and for the road to more
machines, where the same program runs unchanged.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, Sharding, SingleDeviceSharding
from jax.sharding import PartitionSpec as P

from ._errors import InputError

__all__ = [
    "ENV_COORDINATOR",
    "ENV_NUM_PROCESSES",
    "ENV_PROCESS_ID",
    "abort",
    "global_mesh",
    "initialize",
    "is_initialized",
    "launch",
    "process_count",
    "process_index",
    "put_global",
    "sync",
    "to_host",
]

ENV_COORDINATOR = "JAXMLE_COORDINATOR"
ENV_NUM_PROCESSES = "JAXMLE_NUM_PROCESSES"
ENV_PROCESS_ID = "JAXMLE_PROCESS_ID"

_CPU_COLLECTIVES = ("gloo", "mpi")
# Settings of the initialize() call that started the runtime, for the idempotency check.
_settings: dict[str, Any] | None = None


def _backends_started() -> bool:
    try:
        from jax._src import xla_bridge
    except ImportError:  # pragma: no cover - private module moved; jax's own check remains
        return False
    check = getattr(xla_bridge, "backends_are_initialized", None)
    return bool(check()) if check is not None else False


def _runtime() -> Any:
    # jax.distributed's own record of this process (id, count): reading it, unlike
    # jax.process_index(), does not start the backend, whose start is itself a cross-process
    # exchange that could block a process that is about to fail.
    try:
        from jax._src.distributed import global_state
    except ImportError:  # pragma: no cover - private module moved
        return None
    return global_state if getattr(global_state, "client", None) is not None else None


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _check_address(addr: Any, name: str) -> str:
    if not isinstance(addr, str) or not addr.strip():
        raise InputError(f"`{name}` must be a 'host:port' string, got {addr!r}.")
    host, sep, port = addr.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError(
            f"`{name}` must be 'host:port' with a port in 1..65535 (e.g. '10.0.0.1:12345'), "
            f"got {addr!r}."
        )
    return addr.strip()


def _env_int(var: str) -> int | None:
    raw = os.environ.get(var)
    if raw is None or raw.strip() == "":
        return None
    try:
        return int(raw.strip())
    except ValueError:
        raise InputError(f"Environment variable {var} must be an integer, got {raw!r}.") from None


def _resolve(coordinator_address, num_processes, process_id) -> tuple:
    # Explicit arguments are checked under their own names, environment values under the
    # variable's name, so an error says where the bad value came from.
    if coordinator_address is not None:
        coordinator_address = _check_address(coordinator_address, "coordinator_address")
    elif os.environ.get(ENV_COORDINATOR, "").strip():
        coordinator_address = _check_address(os.environ[ENV_COORDINATOR], ENV_COORDINATOR)
    n_name, i_name = "num_processes", "process_id"
    if num_processes is None and (env_n := _env_int(ENV_NUM_PROCESSES)) is not None:
        num_processes, n_name = env_n, ENV_NUM_PROCESSES
    if process_id is None and (env_i := _env_int(ENV_PROCESS_ID)) is not None:
        process_id, i_name = env_i, ENV_PROCESS_ID
    if num_processes is not None:
        if not _is_int(num_processes) or num_processes < 1:
            raise InputError(f"`{n_name}` must be an integer >= 1, got {num_processes!r}.")
        num_processes = int(num_processes)
    if process_id is not None:
        if not _is_int(process_id) or process_id < 0:
            raise InputError(f"`{i_name}` must be an integer >= 0, got {process_id!r}.")
        process_id = int(process_id)
    if num_processes is not None and process_id is not None and process_id >= num_processes:
        raise InputError(
            f"`{i_name}` must be < `{n_name}` (ids are 0..{num_processes - 1}), got {process_id}."
        )
    return coordinator_address, num_processes, process_id


def initialize(
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    *,
    local_device_ids: int | Sequence[int] | None = None,
    cpu_collectives: str = "gloo",
    fail_fast: bool = True,
) -> None:
    """Starts JAX's distributed runtime for this process; call it before any JAX computation.

    Settings come from, in order: the explicit arguments; the environment variables
    ``JAXMLE_COORDINATOR``, ``JAXMLE_NUM_PROCESSES`` and ``JAXMLE_PROCESS_ID`` (set by
    :func:`launch`); JAX's own cluster detection (SLURM, Open MPI, Cloud TPU, ...), which fills
    whatever is still unset. The CPU collectives implementation is set first, because the CPU
    backend reads it once when it starts (it does not affect GPU or TPU backends). A second call
    with the same settings (or none) is a no-op.

    Args:
        coordinator_address: ``"host:port"`` of process 0's coordinator service, reachable from
            every process.
        num_processes: Total number of processes (>= 1).
        process_id: This process's id, in ``0..num_processes - 1``.
        local_device_ids: Restricts this process to these local accelerator ids (passed to
            ``jax.distributed.initialize``); ``None`` keeps JAX's default.
        cpu_collectives: Cross-process collectives on CPU: ``"gloo"`` (bundled with jaxlib) or
            ``"mpi"`` (needs an MPI library).
        fail_fast: With more than one process, make an uncaught exception end this process
            (status 1, 130 for ``KeyboardInterrupt``) right after its traceback is printed,
            skipping JAX's shutdown barrier and other exit handlers (see :func:`abort`).

    Raises:
        InputError: A bad argument or environment variable (the message names it); the runtime
            is already initialised with different settings; a JAX computation has already
            started the backend (initialize must come first); or no cluster could be detected
            and no coordinator was given.

    Example:
        >>> import jaxmle.distributed as dist
        >>> dist.initialize()  # doctest: +SKIP
        >>> dist.process_index(), dist.process_count()  # doctest: +SKIP
        (0, 2)
    """
    global _settings
    if not isinstance(fail_fast, bool):
        raise InputError(f"`fail_fast` must be True or False, got {fail_fast!r}.")
    if cpu_collectives not in _CPU_COLLECTIVES:
        raise InputError(
            f"`cpu_collectives` must be one of {_CPU_COLLECTIVES}, got {cpu_collectives!r}."
        )
    if local_device_ids is not None:
        ids = [local_device_ids] if _is_int(local_device_ids) else local_device_ids
        if (
            isinstance(ids, (str, bytes))
            or not isinstance(ids, Sequence)
            or not all(_is_int(i) and i >= 0 for i in ids)
        ):
            raise InputError(
                "`local_device_ids` must be an integer >= 0 or a sequence of them, "
                f"got {local_device_ids!r}."
            )
        local_device_ids = [int(i) for i in ids]
    coord, n, pid = _resolve(coordinator_address, num_processes, process_id)
    wanted = {"coordinator_address": coord, "num_processes": n, "process_id": pid,
              "local_device_ids": local_device_ids, "cpu_collectives": cpu_collectives}  # fmt: skip

    if jax.distributed.is_initialized():
        # Compare with what runs (auto-detected values included), and what we were asked.
        have = {
            "cpu_collectives": jax.config.jax_cpu_collectives_implementation,
            **(_settings or {}),
            "num_processes": process_count(), "process_id": process_index(),
        }  # fmt: skip
        clash = {}
        for k, v in wanted.items():
            if v is not None and have.get(k) is not None and have[k] != v:
                clash[k] = (v, have[k])
        if clash:
            detail = ", ".join(f"{k}={v!r} (running: {h!r})" for k, (v, h) in clash.items())
            raise InputError(
                f"The distributed runtime is already initialised with other settings: {detail}. "
                "It can be initialised once per process."
            )
        return
    if _backends_started():
        raise InputError(
            "jaxmle.distributed.initialize must be called before any JAX computation: the JAX "
            "backend has already started in this process (anything that touches devices, e.g. "
            "jax.devices() or creating an array, starts it). Call initialize() first."
        )

    previous = jax.config.jax_cpu_collectives_implementation
    jax.config.update("jax_cpu_collectives_implementation", cpu_collectives)
    kwargs = {} if local_device_ids is None else {"local_device_ids": local_device_ids}
    try:
        if coord is None and n is None and pid is None:
            jax.distributed.initialize(**kwargs)  # JAX's cluster auto-detection
        else:
            jax.distributed.initialize(coord, n, pid, **kwargs)
    except (RuntimeError, ValueError, TypeError) as e:
        jax.config.update("jax_cpu_collectives_implementation", previous)
        msg = str(e)
        if "must be called before" in msg:
            raise InputError(
                f"jaxmle.distributed.initialize must be called before any JAX computation: {msg}"
            ) from e
        if "should be defined" in msg:
            raise InputError(
                f"No cluster detected and no coordinator given ({msg}). Pass "
                "coordinator_address, num_processes and process_id, set "
                f"{ENV_COORDINATOR}/{ENV_NUM_PROCESSES}/{ENV_PROCESS_ID} (jaxmle.distributed."
                "launch does), or run under a scheduler JAX detects (SLURM, Open MPI)."
            ) from e
        raise
    _settings = wanted
    if fail_fast and process_count() > 1:
        _install_fail_fast()


def _hard_exit(code: int) -> NoReturn:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    logging.shutdown()  # os._exit skips atexit, where logging would flush its handlers
    os._exit(code)


def _install_fail_fast() -> None:
    previous = sys.excepthook
    if getattr(previous, "_jaxmle_fail_fast", False):
        return

    def hook(exc_type, exc, tb):
        previous(exc_type, exc, tb)
        _hard_exit(130 if issubclass(exc_type, KeyboardInterrupt) else 1)

    hook._jaxmle_fail_fast = True  # type: ignore[attr-defined]
    sys.excepthook = hook


def abort(code: int = 1) -> NoReturn:
    """Ends this process now with exit status ``code``, without waiting for the others.

    ``sys.exit`` in a multi-process run runs JAX's exit handler, which waits at a shutdown
    barrier until every process has reached it; if the others are blocked in a collective
    waiting for this one, all hang. ``abort`` flushes stdout, stderr and logging and leaves
    with ``os._exit`` (other exit handlers are skipped), so :func:`launch` or the scheduler
    sees the failure at once and stops the rest. With one process it is ``sys.exit(code)``.

    Args:
        code: Exit status, an integer in 0..255.

    Raises:
        InputError: ``code`` is not an integer in 0..255.
        SystemExit: With one process (as ``sys.exit``).

    Example:
        >>> import jaxmle.distributed as dist
        >>> if dist.process_index() == 0 and False:  # e.g. a checkpoint cannot be written
        ...     dist.abort(3)
    """
    if not _is_int(code) or not 0 <= code <= 255:
        raise InputError(f"`code` must be an integer in 0..255, got {code!r}.")
    if process_count() > 1:
        _hard_exit(int(code))
    raise SystemExit(int(code))


def is_initialized() -> bool:
    """Whether JAX's distributed runtime has been started in this process.

    Returns:
        ``jax.distributed.is_initialized()``.

    Example:
        >>> import jaxmle.distributed as dist
        >>> dist.is_initialized()  # doctest: +SKIP
        False
    """
    return bool(jax.distributed.is_initialized())


def process_index() -> int:
    """This process's index among all processes (0 when the runtime is not initialised).

    It never starts the JAX backend itself: once the backend runs it is
    ``jax.process_index()``; before, the id the runtime was initialised with, or 0. So it is
    safe to call before :func:`initialize` and right after it.

    Returns:
        This process's index.

    Example:
        >>> import jaxmle.distributed as dist
        >>> if dist.process_index() == 0:  # only process 0 writes files
        ...     pass
    """
    if _backends_started():
        return int(jax.process_index())
    state = _runtime()
    return 0 if state is None else int(state.process_id)


def process_count() -> int:
    """The number of processes (1 when the runtime is not initialised).

    Like :func:`process_index`, it never starts the JAX backend itself.

    Returns:
        ``jax.process_count()`` once the backend runs; before, the count the runtime was
        initialised with, or 1.

    Example:
        >>> import jaxmle.distributed as dist
        >>> dist.process_count() >= 1
        True
    """
    if _backends_started():
        return int(jax.process_count())
    state = _runtime()
    return 1 if state is None else int(state.num_processes)


def global_mesh(axis: str = "lanes") -> Mesh | None:
    """A 1-D mesh over all global devices (every process's), in ``jax.devices()`` order.

    ``jax.devices()`` lists process 0's devices first, so with ``P(axis)`` sharding process 0
    holds the first block of the leading axis.

    Args:
        axis: Name of the mesh axis.

    Returns:
        ``Mesh(jax.devices(), (axis,))``, or ``None`` when there is one device in total.

    Raises:
        InputError: ``axis`` is not a non-empty string.

    Example:
        >>> import jaxmle.distributed as dist
        >>> mesh = dist.global_mesh()
        >>> mesh is None or mesh.axis_names == ("lanes",)
        True
    """
    if not isinstance(axis, str) or not axis:
        raise InputError(f"`axis` must be a non-empty string, got {axis!r}.")
    devices = jax.devices()
    return Mesh(np.array(devices), (axis,)) if len(devices) > 1 else None


def _is_sharding_leaf(s: Any) -> bool:
    return s is None or isinstance(s, Sharding)


def _default_sharding() -> Sharding:
    mesh = global_mesh()
    return SingleDeviceSharding(jax.devices()[0]) if mesh is None else NamedSharding(mesh, P())


def _place(leaf: Any, sharding: Sharding | None) -> jax.Array:
    x = np.asarray(leaf)
    # Python floats/ints come as 64-bit; JAX would narrow them anyway without x64.
    x = x.astype(jax.dtypes.canonicalize_dtype(x.dtype), copy=False)
    s = _default_sharding() if sharding is None else sharding
    try:
        s.shard_shape(x.shape)
    except ValueError as e:
        raise InputError(
            f"put_global: an array of shape {x.shape} cannot be split by {s}: each sharded "
            "axis must be a multiple of its number of devices (pad the lane axis). "
            f"Details: {e}"
        ) from e
    return jax.make_array_from_callback(x.shape, s, lambda idx: x[idx])


def put_global(x: Any, sharding: Any = None) -> Any:
    """Places a host array (or pytree) that is the same on every process as global arrays.

    Each process copies only the slices its own devices hold, so nothing crosses processes.
    Works single-process too (then it is a ``device_put``).

    Args:
        x: A NumPy array, scalar or pytree of them, identical on every process.
        sharding: A ``jax.sharding.Sharding`` for every leaf (e.g.
            ``NamedSharding(global_mesh(), P("lanes"))``), a pytree of them matching a prefix of
            ``x``, or ``None``: replicated over all global devices.

    Returns:
        The same pytree of ``jax.Array`` with that sharding.

    Raises:
        InputError: ``sharding`` is not a ``Sharding`` (or pytree of them), or an array's
            sharded axis is not a multiple of its number of devices.

    Example:
        >>> import numpy as np
        >>> import jaxmle.distributed as dist
        >>> from jax.sharding import NamedSharding, PartitionSpec as P
        >>> mesh = dist.global_mesh()
        >>> s = None if mesh is None else NamedSharding(mesh, P("lanes"))
        >>> a = dist.put_global(np.arange(4.0), s)
        >>> dist.to_host(a).tolist()
        [0.0, 1.0, 2.0, 3.0]
    """

    def sub(s, tree):
        if not _is_sharding_leaf(s):
            raise InputError(
                f"`sharding` must be a jax.sharding.Sharding, None or a pytree of them, got {s!r}."
            )
        return jax.tree.map(lambda leaf: _place(leaf, s), tree)

    try:
        return jax.tree.map(sub, sharding, x, is_leaf=_is_sharding_leaf)
    except ValueError as e:
        if isinstance(e, InputError):
            raise
        raise InputError(
            f"`sharding` must be one Sharding or a pytree prefix of `x`'s structure: {e}"
        ) from e


def to_host(tree: Any) -> Any:
    """Brings a pytree of (global) arrays to NumPy, whole, on every process.

    An array split between processes is gathered (``process_allgather(..., tiled=True)``): a
    collective, so **every process must call to_host on the same arrays in the same order**.
    Others are converted with ``np.asarray``. A lane-sharded array of global shape ``(L, ...)``
    comes back as exactly that ``(L, ...)`` array, lanes in order.

    Args:
        tree: A pytree of ``jax.Array``, NumPy arrays or scalars.

    Returns:
        The same pytree of NumPy arrays.

    Example:
        >>> import jax.numpy as jnp
        >>> import jaxmle.distributed as dist
        >>> dist.to_host({"a": jnp.ones(2)})["a"].tolist()
        [1.0, 1.0]
    """

    def one(x):
        if isinstance(x, jax.Array) and not x.is_fully_addressable:
            return np.asarray(multihost_utils.process_allgather(x, tiled=True))
        return np.asarray(x)

    return jax.tree.map(one, tree)


def sync(name: str) -> None:
    """A barrier: returns once every process has reached ``sync`` with the same ``name``.

    Use it, e.g., after process 0 writes a file that others then read. A no-op with one process.

    Args:
        name: A label for the barrier, the same on every process (a mismatch is an error).

    Raises:
        InputError: ``name`` is not a string.

    Example:
        >>> import jaxmle.distributed as dist
        >>> dist.sync("checkpoint written")
    """
    if not isinstance(name, str):
        raise InputError(f"`name` must be a string, got {name!r}.")
    if process_count() > 1:
        multihost_utils.sync_global_devices(name)


def _free_port() -> int:
    # The OS picks a free port; it is released at once for the coordinator to bind (a small
    # race with other programs, harmless on a test machine).
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _signal_all(procs: Sequence[subprocess.Popen], sig: int) -> None:
    for p in procs:
        if p.poll() is None:
            try:
                # Each worker leads its own process group: reach its children too.
                if hasattr(os, "killpg"):
                    os.killpg(p.pid, sig)
                else:  # pragma: no cover - Windows
                    p.send_signal(sig)
            except (ProcessLookupError, PermissionError):  # already gone
                pass


def _wait_all(procs: Sequence[subprocess.Popen], seconds: float) -> None:
    end = time.monotonic() + seconds
    for p in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(timeout=max(0.0, end - time.monotonic()))


def _stop(procs: Sequence[subprocess.Popen], grace: float = 1.0) -> None:
    # Short grace: a JAX distributed worker catches SIGTERM (its preemption notifier) and
    # carries on, so only SIGKILL reliably ends one.
    _signal_all(procs, signal.SIGTERM)
    _wait_all(procs, grace)
    _signal_all(procs, getattr(signal, "SIGKILL", signal.SIGTERM))
    _wait_all(procs, grace)


def _exit_status(code: int) -> int:
    # Popen reports death by signal N as -N; shells report 128 + N.
    return 128 - code if code < 0 else code


def launch(
    argv: Sequence[str],
    processes: int,
    *,
    port: int | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> int:
    """Runs ``argv`` as ``processes`` localhost workers of one distributed job and waits.

    Worker ``i`` gets ``JAXMLE_COORDINATOR=127.0.0.1:PORT``, ``JAXMLE_NUM_PROCESSES`` and
    ``JAXMLE_PROCESS_ID=i`` on top of this process's environment and ``env`` (and
    ``JAX_PLATFORMS=cpu`` unless set there; ``XLA_FLAGS`` and the rest are inherited), so the
    program only has to call :func:`initialize`. Worker 0 keeps this process's stdin and
    stdout; the others' stdout is discarded (their output would repeat worker 0's) and their
    stdin is empty. Every worker's stderr is kept, so errors from any of them are seen.

    If a worker fails, the others are terminated (SIGTERM, then SIGKILL after 1 s, since JAX
    catches SIGTERM): a worker blocked in a collective waiting for the failed one would
    otherwise hang. A worker is seen to fail only once it exits: one that leaves by
    ``sys.exit(n)`` first waits at JAX's shutdown barrier for the others, so failing workers
    should raise or call :func:`abort` (see :func:`initialize`'s ``fail_fast``). Ctrl-C
    (SIGINT) is forwarded once to every worker (each runs in its own process group), which
    get 10 s to stop before being killed; then ``KeyboardInterrupt`` is re-raised.

    Args:
        argv: The full command of a worker, e.g. ``[sys.executable, "study.py"]`` or
            ``[sys.executable, "-m", "jaxmle", "run", ...]``.
        processes: Number of workers (>= 1).
        port: Coordinator port on 127.0.0.1; ``None`` picks a free one.
        env: Extra environment variables for the workers.
        timeout: Seconds to wait for all workers; ``None`` waits forever.

    Returns:
        0 when every worker succeeds, else the exit status of the first worker that failed
        (``128 + N`` for a worker killed by signal ``N``).

    Raises:
        InputError: A bad argument.
        TimeoutError: The workers did not finish within ``timeout`` (they are terminated).
        KeyboardInterrupt: Interrupted; the workers were stopped first.

    Example:
        >>> import sys
        >>> import jaxmle.distributed as dist
        >>> dist.launch([sys.executable, "study.py"], processes=2)  # doctest: +SKIP
        0
    """
    if isinstance(argv, (str, bytes)) or not isinstance(argv, Sequence) or not argv:
        raise InputError(
            f"`argv` must be a non-empty list of strings (the full command), got {argv!r}."
        )
    if not all(isinstance(a, (str, os.PathLike)) for a in argv):
        raise InputError(f"`argv` must contain only strings, got {list(argv)!r}.")
    if not _is_int(processes) or processes < 1:
        raise InputError(f"`processes` must be an integer >= 1, got {processes!r}.")
    if port is not None and (not _is_int(port) or not 0 < port < 65536):
        raise InputError(f"`port` must be an integer in 1..65535 or None, got {port!r}.")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0
    ):
        raise InputError(f"`timeout` must be a number > 0 or None, got {timeout!r}.")
    if env is not None and (
        not isinstance(env, Mapping)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items())
    ):
        raise InputError("`env` must be a mapping of strings to strings.")

    base = {**os.environ, **(env or {})}
    base.setdefault("JAX_PLATFORMS", "cpu")
    base[ENV_COORDINATOR] = f"127.0.0.1:{_free_port() if port is None else int(port)}"
    base[ENV_NUM_PROCESSES] = str(int(processes))
    cmd = [os.fspath(a) for a in argv]
    procs: list[subprocess.Popen] = []
    try:
        for i in range(int(processes)):
            quiet = subprocess.DEVNULL if i > 0 else None
            procs.append(
                subprocess.Popen(
                    cmd,
                    env={**base, ENV_PROCESS_ID: str(i)},
                    stdin=quiet,
                    stdout=quiet,
                    start_new_session=sys.platform != "win32",
                )
            )
        deadline = None if timeout is None else time.monotonic() + float(timeout)
        while True:
            codes = [p.poll() for p in procs]
            failed = [c for c in codes if c not in (None, 0)]
            if failed:
                return _exit_status(failed[0])
            if all(c == 0 for c in codes):
                return 0
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(
                    f"launch: the {processes} workers did not finish within {timeout} s; "
                    "they were terminated."
                )
            time.sleep(0.05)
    except KeyboardInterrupt:
        _signal_all(procs, signal.SIGINT)
        _wait_all(procs, 10.0)
        raise
    finally:
        # Whatever ended the wait (a failure, a timeout, an interrupt), no worker outlives it.
        _stop(procs)
