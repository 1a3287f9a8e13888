"""JAX's persistent compilation cache, switched on the way jaxmle wants it.

A short estimation (one :func:`jaxmle.mle` on a small data set) spends most of its time
compiling XLA programs (a logistic regression on 32 rows: 8 programs, ~20 s of backend
compilation on a shared 2-core CPU). JAX's persistent compilation cache keeps compiled
programs on disk, so a later process loads them instead (~0.6 s).

``import jaxmle`` changes no JAX setting. :func:`enable_compilation_cache` is the one call
for library users; the ``jaxmle`` command and the experiment scripts make it by default
(opt out with ``--no-compilation-cache`` or ``JAXMLE_NO_COMPILATION_CACHE=1``).

Notes on JAX 0.10: the cache object is created once, lazily, at the first compilation after a
folder is set, so switching folders resets it (``reset_cache``); programs compiled before the
switch stay in memory and are not copied. Only process 0 of a multi-process job writes
entries, and programs with host callbacks are never written. JAX's
``jax_persistent_cache_enable_xla_caches`` is left at its default: on CPU it only adds the
(unused) GPU autotune-cache folder to the compile options, which makes cache keys depend on
the folder's path; on GPU that autotune cache is worth keeping.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import tempfile
import warnings

__all__ = ["compilation_cache_dir", "enable_compilation_cache"]

ENV_DIR = "JAXMLE_CACHE_DIR"
ENV_OFF = "JAXMLE_NO_COMPILATION_CACHE"

_warned: set[str] = set()  # folders already warned about (warn once each)


def default_cache_dir() -> pathlib.Path:
    """The per-user cache folder used when none is given.

    Returns:
        ``$JAXMLE_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/jaxmle/xla`` (an absolute
        ``XDG_CACHE_HOME`` only, as the XDG specification asks), else ``~/.cache/jaxmle/xla``.

    Example:
        >>> from jaxmle._cache import default_cache_dir
        >>> default_cache_dir().name
        'xla'
    """
    env = os.environ.get(ENV_DIR)
    if env:
        return pathlib.Path(env).expanduser().absolute()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = pathlib.Path(xdg) if xdg and os.path.isabs(xdg) else pathlib.Path.home() / ".cache"
    return base / "jaxmle" / "xla"


def compilation_cache_dir() -> pathlib.Path | None:
    """The folder JAX's persistent compilation cache uses in this process.

    It reflects JAX's configuration, whoever set it (:func:`enable_compilation_cache`,
    ``JAX_COMPILATION_CACHE_DIR`` or ``jax.config``).

    Returns:
        The folder, or None when the persistent cache is off.

    Example:
        >>> import jaxmle
        >>> folder = jaxmle.compilation_cache_dir()  # None unless the cache is on
    """
    import jax

    folder = jax.config.jax_compilation_cache_dir
    if not folder or not jax.config.jax_enable_compilation_cache:
        return None
    return pathlib.Path(folder)


def enable_compilation_cache(
    path: str | os.PathLike | None = None, *, min_compile_time_secs: float = 0.0
) -> pathlib.Path | None:
    """Turns on JAX's persistent compilation cache, so later processes skip compilation.

    It sets JAX's global options ``jax_compilation_cache_dir``,
    ``jax_persistent_cache_min_compile_time_secs`` and ``jax_enable_compilation_cache``, and
    ``jax_persistent_cache_min_entry_size_bytes`` to -1 (no size floor) unless it was set to
    a positive value. Call it once, early; a second call with the same folder does nothing,
    and a different folder takes over for the programs compiled from then on. The folder
    (and any missing parent) is created with mode 0o700: the cache holds executable code,
    so it must not be writable by other users. ``JAXMLE_NO_COMPILATION_CACHE`` does not
    affect this call (it only governs the default of the ``jaxmle`` command and the
    experiment scripts).

    Args:
        path: the cache folder. Default: ``$JAXMLE_CACHE_DIR``, else the folder JAX is
            already set to use (``JAX_COMPILATION_CACHE_DIR``), else
            ``$XDG_CACHE_HOME/jaxmle/xla`` or ``~/.cache/jaxmle/xla``.
        min_compile_time_secs: programs that compile faster than this are not written.
            The default 0 writes every program: an estimation compiles many small ones,
            and together they are most of its run time.

    Returns:
        The folder in use, or None when it cannot be created or written to (a
        ``RuntimeWarning`` names it, once; JAX's settings are then left as they were).

    Example:
        >>> import jaxmle
        >>> folder = jaxmle.enable_compilation_cache()  # doctest: +SKIP
        >>> jaxmle.compilation_cache_dir() == folder  # doctest: +SKIP
        True
    """
    import jax

    folder = _choose(path)
    current = jax.config.jax_compilation_cache_dir
    same = current is not None and pathlib.Path(current) == folder
    min_size = jax.config.jax_persistent_cache_min_entry_size_bytes
    if (same and jax.config.jax_enable_compilation_cache and min_size != 0
            and jax.config.jax_persistent_cache_min_compile_time_secs
            == float(min_compile_time_secs)):  # fmt: skip
        return folder
    if not _usable(folder):
        return None
    if current is not None and not same:
        from jax.experimental.compilation_cache import compilation_cache as cc

        # JAX opens the cache once, at the first compilation; a new folder needs a fresh one.
        cc.reset_cache()
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_enable_compilation_cache", True)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", float(min_compile_time_secs))
    if min_size == 0:
        # 0 lets JAX substitute a file-system-dependent floor that could skip small programs.
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    return folder


def _choose(path: str | os.PathLike | None) -> pathlib.Path:
    """The folder :func:`enable_compilation_cache` uses for ``path`` (absolute)."""
    if path is not None:
        return pathlib.Path(path).expanduser().absolute()
    if os.environ.get(ENV_DIR):
        return default_cache_dir()
    import jax

    current = jax.config.jax_compilation_cache_dir
    return pathlib.Path(current).expanduser().absolute() if current else default_cache_dir()


def _usable(folder: pathlib.Path) -> bool:
    """Creates ``folder`` (mode 0o700) and checks it is writable; warns once if not."""
    try:
        missing = []
        p = folder
        while not p.exists() and p != p.parent:
            missing.append(p)
            p = p.parent
        for d in reversed(missing):
            with contextlib.suppress(FileExistsError):  # another process made it meanwhile
                d.mkdir(mode=0o700)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".jaxmle-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        if str(folder) not in _warned:
            _warned.add(str(folder))
            warnings.warn(
                f"jaxmle: cannot use {folder} for the compilation cache "
                f"({err.strerror or err}); compiling without a persistent cache. Set "
                f"{ENV_DIR} to a writable folder (or pass one to enable_compilation_cache).",
                RuntimeWarning,
                stacklevel=3,
            )
        return False
    return True


def env_opts_out() -> bool:
    """Whether ``JAXMLE_NO_COMPILATION_CACHE`` turns the entry points' default cache off.

    Returns:
        True for a set value other than ``""``, ``0``, ``false``, ``no`` or ``off``.

    Example:
        >>> from jaxmle._cache import env_opts_out
        >>> isinstance(env_opts_out(), bool)
        True
    """
    value = os.environ.get(ENV_OFF, "").strip().lower()
    return value not in ("", "0", "false", "no", "off")


def enable_default(on: bool | None) -> pathlib.Path | None:
    """The entry points' choice (``jaxmle run``, ``python experiments/NAME.py``).

    Args:
        on: ``--compilation-cache`` (True), ``--no-compilation-cache`` (False) or neither
            (None: on unless ``JAXMLE_NO_COMPILATION_CACHE`` is set or JAX's
            ``jax_enable_compilation_cache`` was turned off).

    Returns:
        The cache folder in use, or None when the cache stays off.

    Example:
        >>> from jaxmle._cache import enable_default
        >>> enable_default(False) is None
        True
    """
    if on is None:
        import jax

        on = not env_opts_out() and bool(jax.config.jax_enable_compilation_cache)
    return enable_compilation_cache() if on else None
