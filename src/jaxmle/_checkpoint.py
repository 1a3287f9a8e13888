"""Checkpoints of running studies: a folder of atomically written ``.npz`` files.

A study (:func:`jaxmle.fit`, :func:`jaxmle.sweep`, :func:`jaxmle.montecarlo`) given
``checkpoint=FOLDER`` saves its full state after every chunk: parameters, optimiser state,
step counters, sampling state and the partial trace (or, for a Monte Carlo study, the
replicates done). A later call with the same folder and the same settings starts from the
last saved chunk; the computation from there is the same compiled program on the same
inputs, so the result is bit-identical to an uninterrupted run. The folder holds:

- ``manifest.json``: the study's settings (and digests of its data, start and key); a call
  whose settings differ raises :class:`jaxmle.CheckpointMismatchError` naming what differs.
  Optimisers, schedules, models and functions enter as :func:`describe_digest`: a digest of
  their value key (:mod:`jaxmle._canonical`), equal in a new process for an equal setting and
  different for a schedule that differs in one constant; a setting that cannot be identified
  so is refused up front (see :class:`Checkpointer`);
- one ``.npz`` per finished unit (a sweep's lane block, a Monte Carlo chunk) and ``current.npz``
  for the unit in flight, each written by :func:`jaxmle._io.save_arrays` (temp file, fsync,
  rename): a kill at any moment leaves every file whole.

Why our own format, not orbax-checkpoint (0.12.8, measured with
``benchmarks/checkpoint_formats.py`` on a 2-core machine): one save of an 11 KB sweep state
costs ~110 ms with ``StandardCheckpointer``; ``CheckpointManager`` (async) returns in 14-18 ms
but finishes writing only after ~120 ms, and the next save waits for it. Checkpointing after
every chunk (ten per program of 0.3-3 s) within 5% of run time needs ≲ 15 ms a save;
:func:`jaxmle._io.save_arrays` takes 3-6 ms (31 MB: 57 ms against orbax's 184 ms), writes one
file instead of 10-12 in 4-5 folders, is as safe under SIGKILL (10 of 10 kills each restored
the latest whole checkpoint), and adds no dependency (orbax brings ~106 MB, tensorstore).
Writes run on one background thread so that the next chunk computes while
the previous one is written; consecutive writes of ``current`` that queue up are merged
(the newest wins), so a slow disk delays checkpoints but never the study. A kill therefore
loses the chunk in flight and at most one finished chunk still being written.

With several processes (:mod:`jaxmle.distributed`), process 0 writes and every process reads:
the folder must be on a filesystem they share.
"""

from __future__ import annotations

import hashlib
import json
import pathlib
import re
import threading
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np

from . import _io
from ._canonical import _is_typed_key, _OpaqueError, stable_digest, stable_key
from ._errors import CheckpointMismatchError, FileFormatError, InputError

__all__ = ["MANIFEST_VERSION", "Checkpointer", "describe", "describe_digest", "digest"]

_KIND = "jaxmle-checkpoint"
_DERIVED = {"chunks", "record_every", "batch_groups"}  # follow from others: named last
# Version 2: settings keyed by jaxmle._canonical.stable_digest (version 1 hashed bytecode
# without its constants or names, so optax.sgd(lambda c: 0.1) matched lambda c: 0.2).
MANIFEST_VERSION = 2
_UNIDENTIFIED = "unidentifiable: "
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def digest(tree: Any) -> str:
    """A SHA-256 digest of a pytree's structure, dtypes, shapes and bytes (for manifests).

    Functions among the leaves are keyed by :func:`jaxmle._canonical.stable_digest`. Returns
    an ``unidentifiable: ...`` text instead when the tree cannot be identified across
    processes (see :class:`Checkpointer`).
    """
    h = hashlib.sha256()
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    structure = str(treedef)
    if _ADDRESS.search(structure):  # an object printed by address: another one in a new process
        return f"{_UNIDENTIFIED}a pytree node printed by memory address ({structure[:80]})"
    h.update(structure.encode())
    for x in leaves:
        if callable(x) and not hasattr(x, "shape"):
            try:
                h.update(stable_digest(x).encode())
            except _OpaqueError as err:
                return f"{_UNIDENTIFIED}{err}"
            continue
        a = np.asarray(jax.random.key_data(x) if _is_typed_key(x) else x)
        h.update(f"{a.dtype}{a.shape}".encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:32]


def describe(obj: Any) -> Any:
    """The JSON-able key of a setting that decides whether a checkpoint is the same study.

    Functions by code with its constants and names, closed-over values, defaults and the
    globals they read (folded into digests); numbers by exact bits; arrays by digest; code of
    installed libraries by name and version (see :mod:`jaxmle._canonical`). Equal in any
    process for equal settings.

    Args:
        obj: an optimiser, schedule, model, function or plain value.

    Returns:
        Nested lists of strings, integers, booleans and None.

    Raises:
        InputError: ``obj`` holds something that cannot be identified across processes.

    Example:
        >>> describe(0.5)
        ['float', '0x1.0000000000000p-1']
    """
    try:
        return json.loads(stable_key(obj))
    except _OpaqueError as err:
        raise InputError(f"cannot identify this setting across processes: {err}.") from err


def describe_digest(obj: Any) -> str:
    """A digest of :func:`describe` for a manifest entry (equal across processes).

    Args:
        obj: a setting (see :func:`describe`).

    Returns:
        32 hex digits, or an ``unidentifiable: ...`` text naming what cannot be identified
        (which :class:`Checkpointer` refuses, naming the setting).

    Example:
        >>> import optax
        >>> describe_digest(optax.sgd(0.1)) == describe_digest(optax.sgd(0.1))
        True
    """
    try:
        return stable_digest(obj)
    except _OpaqueError as err:
        return f"{_UNIDENTIFIED}{err}"


def _is_writer() -> bool:
    return jax.process_index() == 0


class Checkpointer:
    """A study's checkpoint folder (see the module docs).

    Settings that cannot be identified across processes (:func:`describe_digest` gave an
    ``unidentifiable: ...`` text) are refused before anything runs, rather than written with
    a token that never matches: such a checkpoint could never be resumed, so a long study
    would run unprotected while looking protected, and the user would learn it only after
    the crash the checkpoint was meant for. Refused now, the study can be fixed in seconds.

    Args:
        path: the folder (created if missing).
        kind: what study it belongs to (``"fit"``, ``"sweep"``, ``"montecarlo"``).
        settings: JSON-able settings that must match for a resume (``x64`` is added).

    Raises:
        CheckpointMismatchError: the folder holds another study's checkpoint, or one written
            by another jaxmle manifest version.
        FileFormatError: its manifest is damaged.
        InputError: a setting cannot be identified across processes.
    """

    def __init__(self, path: str | pathlib.Path, kind: str, settings: Mapping[str, Any]):
        self.dir = pathlib.Path(path)
        self.kind = kind
        # x64 decides every dtype of the compiled study, and no other setting records it.
        settings = {**dict(settings), "x64": bool(jax.config.jax_enable_x64)}
        self.settings = json.loads(json.dumps(settings, default=str))
        _check_identified(self.settings)
        self._queue: list[tuple[str, dict, dict]] = []
        self._cond = threading.Condition()
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._inflight = False
        self.resumed = self._check_manifest()

    # -- manifest ----------------------------------------------------------------------

    def _check_manifest(self) -> bool:
        m = self.dir / "manifest.json"
        if self.dir.exists() and not self.dir.is_dir():
            raise FileFormatError(f"checkpoint {self.dir} is a file, not a folder.")
        if not m.exists():
            if _is_writer():
                body = {"format": _io.FORMAT, "kind": _KIND, "study": self.kind,
                        "version": MANIFEST_VERSION, "settings": self.settings}  # fmt: skip
                _io.atomic_write_text(m, json.dumps(body, indent=1) + "\n")
            return False
        try:
            body = json.loads(m.read_text(encoding="utf-8"))
            old = body["settings"]
            study = body["study"]
            version = body.get("version", 1)
            if not isinstance(old, dict) or not isinstance(version, int):
                raise TypeError("settings or version of the wrong type")
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
            raise FileFormatError(
                f"{m}: not a readable jaxmle checkpoint manifest ({type(err).__name__}: {err}); "
                "delete the folder to start afresh."
            ) from err
        if study != self.kind:
            raise CheckpointMismatchError(
                f"checkpoint {self.dir} belongs to a {study} study, not a {self.kind}; pass "
                "another folder or delete it."
            )
        if version != MANIFEST_VERSION:
            # Another digest scheme: the settings cannot be compared, so nothing may resume.
            age = "an older" if version < MANIFEST_VERSION else "a newer"
            raise CheckpointMismatchError(
                f"checkpoint {self.dir} was written by {age} jaxmle (manifest version "
                f"{version}; this one writes {MANIFEST_VERSION}), whose settings cannot be "
                "compared with this study's; delete the folder (or pass another) to start "
                "afresh."
            )
        diff = [k for k in sorted(set(old) | set(self.settings), key=lambda k: (k in _DERIVED, k))
                if old.get(k) != self.settings.get(k)]  # fmt: skip
        if diff:
            shown = "; ".join(f"{k}: {_short(old.get(k))} then, {_short(self.settings.get(k))} now"
                              for k in diff[:4])  # fmt: skip
            raise CheckpointMismatchError(
                f"checkpoint {self.dir} was written by a study with other settings ({shown}); "
                "resume with the same settings, or pass another folder (or delete this one) "
                "to start afresh."
            )
        return True

    # -- reading -----------------------------------------------------------------------

    def read(self, name: str) -> tuple[dict, dict[str, np.ndarray]] | None:
        """The unit ``name`` as ``(header, arrays)``, or None when it was never written."""
        p = self.dir / f"{name}.npz"
        if not p.exists():
            return None
        try:
            return _io.load_arrays(p, kind=_KIND)
        except FileFormatError as err:
            raise FileFormatError(f"{err} Delete {p} to recompute that part.") from err

    def names(self) -> set[str]:
        """The units saved so far."""
        return {p.stem for p in self.dir.glob("*.npz")}

    # -- writing (background thread) ---------------------------------------------------

    def write(self, name: str, arrays: Mapping[str, np.ndarray], header: Mapping[str, Any]):
        """Queues ``name`` for writing; a queued write of the same name is replaced."""
        if not _is_writer():
            return
        self._raise_pending()
        with self._cond:
            if self._queue and self._queue[-1][0] == name:
                self._queue[-1] = (name, dict(arrays), dict(header))
            else:
                self._queue.append((name, dict(arrays), dict(header)))
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, daemon=True,
                                                name="jaxmle-checkpoint")  # fmt: skip
                self._thread.start()
            self._cond.notify_all()

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._queue:
                    self._cond.wait()
                # Taken off the queue while written: a newer write of the same unit queues
                # behind it rather than replacing the one in flight.
                name, arrays, header = self._queue.pop(0)
                self._inflight = True
            try:
                if name is not None:
                    _io.save_arrays(self.dir / f"{name}.npz", arrays, header, kind=_KIND)
            except BaseException as err:  # surfaced on the next write or flush
                self._error = err
            with self._cond:
                self._inflight = False
                self._cond.notify_all()
                if name is None:
                    self._thread = None
                    return

    def flush(self) -> None:
        """Waits until every queued write is on disk (re-raising a write's error)."""
        with self._cond:
            while self._queue or self._inflight:
                self._cond.wait()
        self._raise_pending()

    def close(self) -> None:
        """Flushes and stops the writer thread."""
        if self._thread is not None:
            with self._cond:
                self._queue.append((None, {}, {}))
                self._cond.notify_all()
            self.flush()
        self._raise_pending()

    def _raise_pending(self) -> None:
        if self._error is not None:
            err, self._error = self._error, None
            raise OSError(f"writing a checkpoint into {self.dir} failed: {err}") from err


def _check_identified(settings: Mapping[str, Any]) -> None:
    """Raises InputError naming a setting that cannot be identified in another process."""
    for k, v in settings.items():
        text = json.dumps(v)
        if isinstance(v, str) and v.startswith(_UNIDENTIFIED):
            what = v.removeprefix(_UNIDENTIFIED)
        elif _ADDRESS.search(text):  # e.g. a setting's default=str of an unknown object
            what = f"a value printed by memory address ({_short(v)})"
        else:
            continue
        raise InputError(
            f"`checkpoint`: the study's `{k}` cannot be identified across processes ({what}), "
            "so a later run could not tell whether this checkpoint is its own. Pass plain "
            "values there (numbers, arrays, functions, dataclasses of those, optax "
            "transformations), or run without `checkpoint`."
        )


def _short(v: Any) -> str:
    s = json.dumps(v, default=str)
    return s if len(s) <= 60 else s[:57] + "..."


def pack_tree(tree: Any, prefix: str) -> tuple[dict[str, np.ndarray], Any]:
    """Host arrays of a pytree's leaves, named ``prefix/i``, and the JSON spec of its shape."""
    spec = _io.tree_spec(tree)
    leaves = _io.spec_leaves(tree)
    return {f"{prefix}/{i}": np.asarray(x) for i, x in enumerate(leaves)}, spec


def unpack_tree(arrays: Mapping[str, np.ndarray], spec: Any, prefix: str) -> Any:
    """The inverse of :func:`pack_tree`."""
    n = sum(1 for k in arrays if k.startswith(prefix + "/"))
    return _io.tree_from_spec(spec, [arrays[f"{prefix}/{i}"] for i in range(n)])


def pack_leaves(tree: Any, prefix: str) -> dict[str, np.ndarray]:
    """Host arrays of a pytree's leaves in ``jax.tree_util`` order (restore with a live tree)."""
    return {f"{prefix}/{i}": np.asarray(x) for i, x in enumerate(jax.tree_util.tree_leaves(tree))}


def unpack_leaves(arrays: Mapping[str, np.ndarray], like: Any, prefix: str, where: str,
                  same_shape: bool = True) -> Any:  # fmt: skip
    """Leaves saved by :func:`pack_leaves`, put into the structure of ``like`` (checked).

    ``like`` may hold arrays or ``jax.ShapeDtypeStruct``; with ``same_shape=False`` only the
    dtypes and ranks are checked (a partial trace is shorter than a whole one).
    """
    leaves, treedef = jax.tree_util.tree_flatten(like)
    got = [arrays.get(f"{prefix}/{i}") for i in range(len(leaves))]
    for i, (a, b) in enumerate(zip(got, leaves, strict=True)):
        shape_ok = a is not None and (
            a.shape == tuple(b.shape) if same_shape else a.ndim == len(b.shape)
        )
        if not shape_ok or a.dtype != b.dtype:
            raise CheckpointMismatchError(
                f"{where}: saved state does not fit this study (leaf {i} of {prefix}); delete "
                "the checkpoint folder to start afresh."
            )
    return jax.tree_util.tree_unflatten(treedef, got)
