"""Durable files: atomic writes, and pytrees of arrays stored losslessly with their structure.

Every file jaxmle writes goes through :func:`atomic_open`: the bytes go to a temporary file in
the target's folder, are flushed and fsynced, and the temporary is renamed over the target
(``os.replace``, atomic on POSIX and Windows), then the folder is fsynced. A reader therefore
sees the old file or the new one, never a mixture, whatever moment the writer is killed at;
at worst a stray ``.NAME.tmp-*`` file is left behind (removed on the next write's clean-up).

Arrays are stored as ``.npz`` (numpy's zip of ``.npy``; no pickle) with a JSON header inside
it naming the format, the kind of object and a version. A pytree's structure is stored as
JSON (:func:`tree_spec`): dicts with their keys in order, lists, tuples, ``None`` and
namedtuples by field, so tuple and nested parameters come back as they went in.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import tempfile
from collections.abc import Iterator, Mapping
from typing import Any, BinaryIO

import numpy as np

from ._errors import FileFormatError, InputError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks (see _remove_stale_temps)
    fcntl = None

__all__ = [
    "FileFormatError",
    "atomic_open",
    "atomic_write_text",
    "load_arrays",
    "npz_path",
    "parse_header",
    "read_npz",
    "save_arrays",
    "spec_leaves",
    "tree_from_spec",
    "tree_spec",
]

FORMAT = "jaxmle"
HEADER = "__jaxmle_header__"  # the name of the JSON header's array inside every .npz
# Header entry naming the dtypes numpy's .npy cannot describe (bfloat16, float8...: ml_dtypes);
# those arrays are stored as same-width unsigned ints and viewed back on load.
_DTYPES = "__dtypes__"


def _read_umask() -> int:
    mask = os.umask(0o022)  # the only portable way to read it; set back at once (import time)
    os.umask(mask)
    return mask


# mkstemp makes 0600 files; a saved file gets the mode a plain open() would have given it.
_NEW_FILE_MODE = 0o666 & ~_read_umask()


def _fsync_dir(folder: pathlib.Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds (Windows)
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some filesystems refuse fsync on directories
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb") -> Iterator[BinaryIO]:
    """Opens ``path`` for writing so that it is replaced atomically when the block ends.

    Args:
        path: the target file (its folder is created if missing).
        mode: ``"wb"`` or ``"w"`` (text, UTF-8).

    Yields:
        A file object on a temporary file beside the target. If the block raises (or the
        process dies), the target is untouched and the temporary is removed (on an
        exception) or left as ``.NAME.tmp-*`` (on a kill). Such leftovers of the same
        target are removed by its next successful write (those older than that write's
        own temporary and not locked by a live writer).

    Example:
        >>> import pathlib, tempfile
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
        >>> with atomic_open(p, "w") as f:
        ...     _ = f.write("hello")
        >>> p.read_text()
        'hello'
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"mode must be 'wb' or 'w', got {mode!r}")
    target = pathlib.Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_tmp_prefix(target), dir=target.parent)
    try:
        # Held until the rename: another writer's clean-up then knows this temporary is live
        # (the lock dies with the process, so a killed writer's temporary is unlocked).
        if fcntl is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        born = os.fstat(fd).st_mtime_ns
        try:  # keep a replaced file's permissions, as writing over it in place would
            file_mode = target.stat().st_mode & 0o7777
        except OSError:
            file_mode = _NEW_FILE_MODE
        with contextlib.suppress(OSError):  # best effort (Windows, some network filesystems)
            os.chmod(fd if os.chmod in os.supports_fd else tmp, file_mode)
        kw = {"encoding": "utf-8"} if mode == "w" else {}
        with os.fdopen(fd, mode, closefd=False, **kw) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        if fcntl is None:  # pragma: no cover - Windows renames no open file (and has no lock)
            fd = _close(fd)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    finally:
        _close(fd)
    _fsync_dir(target.parent)
    _remove_stale_temps(target, born)


def _close(fd: int) -> int:
    if fd >= 0:
        os.close(fd)
    return -1


def _tmp_prefix(target: pathlib.Path) -> str:
    return f".{target.name}.tmp-"


def _remove_stale_temps(target: pathlib.Path, born_ns: int) -> None:
    """Removes temporaries of ``target`` left by writers that were killed.

    A temporary is stale when it is older than this write's own and no live writer holds its
    lock (POSIX). Without advisory locks (Windows) a live writer's open temporary cannot be
    deleted anyway, so the unlink failing is the test. Best effort: errors are ignored.
    """
    prefix = _tmp_prefix(target)
    try:
        entries = [e for e in os.scandir(target.parent) if e.name.startswith(prefix)]
    except OSError:  # pragma: no cover - folder unreadable: nothing to clean
        return
    for e in entries:
        try:
            if e.stat(follow_symlinks=False).st_mtime_ns >= born_ns:
                continue  # as new as ours: possibly a writer that has not locked it yet
            if fcntl is None:  # pragma: no cover - Windows
                os.unlink(e.path)
                continue
            fd = os.open(e.path, os.O_RDWR)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises while a writer lives
                os.unlink(e.path)
            finally:
                os.close(fd)
        except OSError:
            continue


def atomic_write_text(path: str | os.PathLike, text: str) -> pathlib.Path:
    """Writes ``text`` to ``path`` atomically (see :func:`atomic_open`); returns the path."""
    with atomic_open(path, "w") as f:
        f.write(text)
    return pathlib.Path(path)


def npz_path(path: str | os.PathLike) -> pathlib.Path:
    """The file :func:`save_arrays` writes for ``path``: ``.npz`` appended unless present.

    ``save("x")`` and ``load("x")`` therefore name the same file ``x.npz``, as do
    ``save("x.npz")`` and ``load("x.npz")``.
    """
    p = pathlib.Path(path)
    return p if p.suffix == ".npz" else p.with_name(p.name + ".npz")


def save_arrays(path: str | os.PathLike, arrays: Mapping[str, Any], header: Mapping[str, Any],
                *, kind: str, version: int = 1) -> pathlib.Path:  # fmt: skip
    """Writes named arrays and a JSON header to one ``.npz``, atomically.

    Every array is stored bit for bit with its dtype, including the extension dtypes numpy's
    ``.npy`` cannot name (``bfloat16``, ``float8_*``: stored as unsigned ints of the same
    width and viewed back by :func:`load_arrays`).

    Args:
        path: target (``.npz`` is appended unless present).
        arrays: name -> array (numeric or bool; no objects).
        header: JSON-serialisable metadata.
        kind: what the file holds (checked by :func:`load_arrays`).
        version: the kind's layout version.

    Returns:
        The path written.

    Raises:
        InputError: an array holds Python objects (they would need pickle).

    Example:
        >>> import pathlib, tempfile
        >>> p = save_arrays(pathlib.Path(tempfile.mkdtemp()) / "a", {"x": np.arange(3)},
        ...                 {"note": "hi"}, kind="Demo")
        >>> p.name
        'a.npz'
        >>> header, arrays = load_arrays(p, kind="Demo")
        >>> header["note"], arrays["x"].tolist()
        ('hi', [0, 1, 2])
    """
    target = npz_path(path)
    head = {"format": FORMAT, "kind": kind, "version": version, **header}
    payload, extension = {}, {}
    for k, v in arrays.items():
        a = np.asarray(v)
        if a.dtype.hasobject:
            raise InputError(
                f"cannot save {target}: array {k!r} holds Python objects ({a.dtype}); only "
                "numeric and bool arrays are stored."
            )
        if a.dtype.kind == "V" and a.dtype.names is None and not a.dtype.name.startswith("void"):
            extension[k] = a.dtype.name  # an ml_dtypes type: .npy would write it as bare |V
            a = a.view(f"u{a.itemsize}")
        payload[k] = a
    if extension:
        head[_DTYPES] = extension
    payload[HEADER] = np.frombuffer(json.dumps(head, default=_json).encode(), np.uint8)
    with atomic_open(target, "wb") as f:
        np.savez(f, allow_pickle=False, **payload)
    return target


def read_npz(path: str | os.PathLike, *, kind: str) -> dict[str, np.ndarray]:
    """Every array of an ``.npz``, read into memory, with damage reported as one error.

    Unlike :func:`load_arrays` the jaxmle header is not checked (it is returned as the
    ``HEADER`` array when present): for readers of older layouts; pass the result to
    :func:`parse_header` for the checks.

    Args:
        path: the file (``.npz`` is appended unless present).
        kind: the kind expected (for the messages).

    Returns:
        name -> array.

    Raises:
        FileFormatError: the file is missing, truncated, damaged or not an ``.npz``; the
            message names the file.
    """
    p = npz_path(path)
    if not p.exists():
        alt = pathlib.Path(path)
        hint = f" (nor {alt})" if alt != p else ""
        raise FileFormatError(f"{p}: no such file{hint}.")
    try:
        with np.load(p, allow_pickle=False) as z:
            if not isinstance(z, np.lib.npyio.NpzFile):
                raise ValueError("a single .npy array, not an .npz")
            return {k: z[k] for k in z.files}
    except MemoryError:
        raise
    except Exception as err:  # zipfile, EOF, CRC, npy header, pickle refusal: all "damaged"
        raise FileFormatError(
            f"{p}: cannot be read as a jaxmle {kind} file; it is truncated, damaged or not "
            f"an .npz ({type(err).__name__}: {err})."
        ) from err


def parse_header(path: str | os.PathLike, arrays: dict[str, np.ndarray], *, kind: str,
                 max_version: int = 1) -> tuple[dict, dict[str, np.ndarray]]:  # fmt: skip
    """Checks the jaxmle header among arrays read by :func:`read_npz` and splits it off.

    Args:
        path: the file read (for the messages).
        arrays: what :func:`read_npz` returned (not modified).
        kind: the kind expected.
        max_version: the newest layout this reader understands.

    Returns:
        ``(header, arrays)``, the header without its bookkeeping of extension dtypes and the
        arrays with those dtypes restored.

    Raises:
        FileFormatError: no or an unreadable header, not a jaxmle file, or of another kind or
            a newer version; the message names the file.
    """
    p = npz_path(path)
    if HEADER not in arrays:
        raise FileFormatError(f"{p}: not a jaxmle {kind} file (an .npz without a jaxmle header).")
    try:
        header = json.loads(arrays[HEADER].tobytes().decode())
    except (ValueError, UnicodeDecodeError) as err:
        raise FileFormatError(f"{p}: its jaxmle header is damaged ({err}).") from err
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise FileFormatError(f"{p}: not a jaxmle file (header {str(header)[:80]!r}).")
    if header.get("kind") != kind:
        raise FileFormatError(f"{p}: holds a jaxmle {header.get('kind')!r}, not a {kind!r}.")
    try:
        version = int(header.get("version", 0))
    except (TypeError, ValueError) as err:
        raise FileFormatError(f"{p}: its jaxmle header is damaged (version {err}).") from err
    if version > max_version:
        raise FileFormatError(
            f"{p}: written by a newer jaxmle ({kind} layout version {version}; this one "
            f"reads up to {max_version}); upgrade jaxmle to read it."
        )
    out = {k: v for k, v in arrays.items() if k != HEADER}
    extension = header.pop(_DTYPES, {})
    for k, name in dict(extension).items():
        try:
            out[k] = out[k].view(_extension_dtype(name))
        except (AttributeError, KeyError, TypeError, ValueError) as err:
            raise FileFormatError(
                f"{p}: cannot restore array {k!r} as dtype {name!r} ({type(err).__name__}: "
                f"{err}); the file is damaged or needs a newer ml_dtypes."
            ) from err
    return header, out


def _extension_dtype(name: str) -> np.dtype:
    import ml_dtypes  # a dependency of jax; only needed for files that hold such dtypes

    return np.dtype(getattr(ml_dtypes, name))


def load_arrays(path: str | os.PathLike, *, kind: str,
                max_version: int = 1) -> tuple[dict, dict[str, np.ndarray]]:  # fmt: skip
    """Reads a file written by :func:`save_arrays`, checking that it is whole and of ``kind``.

    Args:
        path: the file (``.npz`` is appended unless present, as in :func:`save_arrays`).
        kind: the kind expected.
        max_version: the newest layout this reader understands.

    Returns:
        ``(header, arrays)`` with every array read into memory.

    Raises:
        FileFormatError: the file is missing, truncated or damaged, not a jaxmle file, or of
            another kind or a newer version; the message names the file.
    """
    return parse_header(path, read_npz(path, kind=kind), kind=kind, max_version=max_version)


# ------------------------------------------------------------------------------------------
# Pytree structure as JSON.


def tree_spec(tree: Any) -> Any:
    """The structure of a pytree of arrays as JSON (leaves become ``{"leaf": i}``).

    Dicts (string keys, order kept), lists, tuples, ``None`` and namedtuples are described;
    anything else is a leaf, numbered in the depth-first order of :func:`spec_leaves`.
    :func:`tree_from_spec` rebuilds the tree from the spec and those leaves.

    Args:
        tree: the pytree.

    Returns:
        The JSON-able spec.

    Example:
        >>> spec = tree_spec({"a": (1, 2), "b": None})
        >>> tree_from_spec(spec, spec_leaves({"a": (1, 2), "b": None}))
        {'a': (1, 2), 'b': None}
    """
    return _spec(tree, [0])


def _spec(t: Any, counter: list[int]) -> Any:
    if t is None:
        return {"none": True}
    if isinstance(t, dict):
        return {"dict": [[str(k), _spec(v, counter)] for k, v in t.items()]}
    if isinstance(t, tuple) and hasattr(t, "_fields"):
        return {"namedtuple": type(t).__name__,
                "fields": [[f, _spec(getattr(t, f), counter)] for f in t._fields]}  # fmt: skip
    if isinstance(t, list | tuple):
        return {"list" if isinstance(t, list) else "tuple": [_spec(v, counter) for v in t]}
    i = counter[0]
    counter[0] += 1
    return {"leaf": i}


def spec_leaves(tree: Any) -> list[Any]:
    """The leaves of ``tree`` in the order :func:`tree_spec` numbers them."""
    out: list[Any] = []

    def walk(t):
        if t is None:
            return
        if isinstance(t, dict):
            for v in t.values():
                walk(v)
        elif isinstance(t, tuple) and hasattr(t, "_fields"):
            for f in t._fields:
                walk(getattr(t, f))
        elif isinstance(t, list | tuple):
            for v in t:
                walk(v)
        else:
            out.append(t)

    walk(tree)
    return out


def tree_from_spec(spec: Any, leaves: list[Any]) -> Any:
    """Rebuilds a tree from :func:`tree_spec`'s output and its leaves.

    Namedtuples come back as plain dicts of their fields (their class is not stored).

    Args:
        spec: the JSON spec.
        leaves: leaves in :func:`spec_leaves` order.

    Returns:
        The tree.
    """
    if "leaf" in spec:
        return leaves[spec["leaf"]]
    if "none" in spec:
        return None
    if "dict" in spec:
        return {k: tree_from_spec(v, leaves) for k, v in spec["dict"]}
    if "namedtuple" in spec:
        return {k: tree_from_spec(v, leaves) for k, v in spec["fields"]}
    if "list" in spec:
        return [tree_from_spec(v, leaves) for v in spec["list"]]
    return tuple(tree_from_spec(v, leaves) for v in spec["tuple"])


def _json(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if hasattr(o, "__array__"):  # a jax array (an axis given as jnp values): numbers, not repr
        return np.asarray(o).tolist()
    return str(o)
