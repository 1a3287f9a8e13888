"""How the engine's programs are compiled: ``jax.jit`` plus per-backend compiler options.

XLA:CPU (jaxlib 0.10) hands dots and reductions to YNNPACK library fusions by default. Inside a
fit loop those are tiny per-step ops (a 2×2 whitening matmul, a sum over a minibatch) and the
library call costs more than the op: the seed study's batch-10,000 programs ran 3× faster
without them, with bit-identical results (``benchmarks/sweep_gaussian_mean.py``). The engine
opts out for its own programs only, through ``jax.jit(compiler_options=...)``; JAX's global
configuration and the user's other programs are untouched. Other backends get no options, and
a jaxlib that no longer knows the option falls back to none (probed once).

Every jaxmle program is compiled through :func:`jit` (closed forms, ``ols``, ``glm``, ``mle``,
inference), which also keeps them clear of jaxlib 0.10.2's wrong CPU sums in those fusions
(jax-ml/jax#39103; ``tests/test_xla.py`` has the reproducer). Called inside the caller's jit a
program takes the caller's options: jax refuses options on a nested jit.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

_CPU_OPTIONS = {"xla_cpu_experimental_ynn_fusion_type": ""}


@functools.cache
def _cpu_options_supported() -> bool:
    try:
        jax.jit(lambda x: x + 1, compiler_options=_CPU_OPTIONS).lower(jnp.zeros(())).compile()
    except Exception:  # an unknown option is rejected at compile time
        return False
    return True


def _use_cpu_options() -> bool:
    return jax.default_backend() == "cpu" and _cpu_options_supported()


def compiler_options() -> dict[str, str]:
    """The compiler options the engine uses on the default backend (empty off CPU).

    Returns:
        A dict for ``jax.jit(compiler_options=...)`` or ``Lowered.compile(...)``.
    """
    return dict(_CPU_OPTIONS) if _use_cpu_options() else {}


class Jit:
    """``jax.jit(fun, **kwargs)`` compiled with :func:`compiler_options` for the default backend.

    Two jitted versions are kept (with and without the CPU options) so that switching the
    default backend at run time picks the right one; each keeps its own compilation cache.
    """

    def __init__(self, fun: Callable, **kwargs: Any) -> None:
        self._cpu = jax.jit(fun, compiler_options=_CPU_OPTIONS, **kwargs)
        self._plain = jax.jit(fun, **kwargs)
        functools.update_wrapper(self, fun)

    def _pick(self):
        return self._cpu if _use_cpu_options() else self._plain

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # Inside the caller's jit (or vmap) the outer program's options rule: jax refuses
        # compiler_options on a nested jit.
        leaves = jax.tree_util.tree_leaves((args, kwargs))
        if any(isinstance(leaf, jax.core.Tracer) for leaf in leaves):
            return self._plain(*args, **kwargs)
        try:
            return self._pick()(*args, **kwargs)
        except ValueError as err:  # inside a jit whose inputs are all closed over
            if "top-level" not in str(err):
                raise
            return self._plain(*args, **kwargs)

    def lower(self, *args: Any, **kwargs: Any) -> Any:
        """Lower for the default backend (see ``jax.jit(...).lower``)."""
        return self._pick().lower(*args, **kwargs)

    def _cache_size(self) -> int:
        return self._cpu._cache_size() + self._plain._cache_size()


def jit(fun: Callable | None = None, **kwargs: Any) -> Any:
    """Decorator form of :class:`Jit`: ``@jit(static_argnums=0)`` or ``jit(f, ...)``.

    Args:
        fun: the function to compile; omitted for use as ``@jit(...)``.
        **kwargs: arguments of ``jax.jit`` (not ``compiler_options``).

    Returns:
        A :class:`Jit`, or a decorator that makes one.
    """
    if fun is None:
        return functools.partial(Jit, **kwargs)
    return Jit(fun, **kwargs)
