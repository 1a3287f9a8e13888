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
import zipfile
from collections.abc import Iterator, Mapping
from typing import Any, BinaryIO

import numpy as np

from ._errors import FileFormatError

__all__ = [
    "FileFormatError",
    "atomic_open",
    "atomic_write_text",
    "load_arrays",
    "npz_path",
    "save_arrays",
    "spec_leaves",
    "tree_from_spec",
    "tree_spec",
]

FORMAT = "jaxmle"
_HEADER = "__jaxmle_header__"


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
        exception) or left as ``.NAME.tmp-*`` (on a kill).

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
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.tmp-", dir=target.parent)
    try:
        with os.fdopen(fd, mode, **({"encoding": "utf-8"} if mode == "w" else {})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(target.parent)


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

    Args:
        path: target (``.npz`` is appended unless present).
        arrays: name -> array (numeric or bool; no objects).
        header: JSON-serialisable metadata.
        kind: what the file holds (checked by :func:`load_arrays`).
        version: the kind's layout version.

    Returns:
        The path written.
    """
    target = npz_path(path)
    head = {"format": FORMAT, "kind": kind, "version": version, **header}
    payload = {k: np.asarray(v) for k, v in arrays.items()}
    payload[_HEADER] = np.frombuffer(json.dumps(head, default=_json).encode(), np.uint8)
    with atomic_open(target, "wb") as f:
        np.savez(f, allow_pickle=False, **payload)
    return target


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
    p = npz_path(path)
    if not p.exists():
        alt = pathlib.Path(path)
        hint = f" (nor {alt})" if alt != p else ""
        raise FileFormatError(f"{p}: no such file{hint}.")
    try:
        with np.load(p, allow_pickle=False) as z:
            names = list(z.files)
            if _HEADER not in names:
                raise FileFormatError(
                    f"{p}: not a jaxmle {kind} file (an .npz without a jaxmle header)."
                )
            header = json.loads(z[_HEADER].tobytes().decode())
            arrays = {k: z[k] for k in names if k != _HEADER}
    except FileFormatError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError,
            UnicodeDecodeError) as err:  # fmt: skip
        raise FileFormatError(
            f"{p}: cannot be read as a jaxmle {kind} file; it is truncated, damaged or not "
            f"an .npz ({type(err).__name__}: {err})."
        ) from err
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise FileFormatError(f"{p}: not a jaxmle file (header {str(header)[:80]!r}).")
    if header.get("kind") != kind:
        raise FileFormatError(f"{p}: holds a jaxmle {header.get('kind')!r}, not a {kind!r}.")
    if int(header.get("version", 0)) > max_version:
        raise FileFormatError(
            f"{p}: written by a newer jaxmle ({kind} layout version {header['version']}; this "
            f"one reads up to {max_version}); upgrade jaxmle to read it."
        )
    return header, arrays


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
    return str(o)
